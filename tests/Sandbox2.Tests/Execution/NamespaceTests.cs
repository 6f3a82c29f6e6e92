namespace Sandbox2.Tests.Execution;

/// <summary>The namespace half of a policy on real sandboxes: network modes, and binds the sandbox cannot reach.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class NamespaceTests
{
    private static readonly string FsProbe = Sandboxes.Testcase("fs_probe");

    [Fact]
    public async Task NetworkNoneHasLoDownLoopbackHasLoUp()
    {
        // fs_probe "lo" asks SIOCGIFFLAGS on a UDP socket: allow exactly that on top of the default policy.
        var none = await Sandboxes.Async(new Executor(FsProbe, ["lo"]), Sandboxes.Policy(FsProbe).AllowSyscalls("socket", "ioctl").Build());
        Assert.True(none.Stdout == "lo down\n", none.ToString());
        var loopback = await Sandboxes.Async(new Executor(FsProbe, ["lo"]), Sandboxes.Policy(FsProbe).AllowSyscalls("socket", "ioctl").SetNetwork(NetworkMode.Loopback).Build());
        Assert.True(loopback.Stdout == "lo up\n", loopback.ToString());
    }

    [Fact]
    public async Task ABindTheSandboxCannotReachSaysWhy()
    {
        if (Environment.UserName != "root") return; // about the root executor's unprivileged mapping (a host uid of its own)
        string parent = Directory.CreateTempSubdirectory("sandbox2-ex-private-").FullName; // 0700, owned by root
        string dir = Directory.CreateDirectory(Path.Combine(parent, "inner")).FullName;
        try
        {
            var o = await Sandboxes.Async(new Executor(FsProbe, ["lstat", "/data"]), Sandboxes.Policy(FsProbe).AddDirectoryAt(dir, "/data").Build());
            Assert.True(o.Result.Status == SandboxStatus.SetupError, o.ToString());
            Assert.Contains(dir, o.Result.Reason, StringComparison.Ordinal);
            Assert.Contains("Permission denied (the sandbox's mounts are made as its own unprivileged host uid, from 2000000000-2000065535", o.Result.Reason, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
    }
}
