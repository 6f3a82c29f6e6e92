using Sandbox2.Tests.Cli;

namespace Sandbox2.Tests.Diagnostics;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
/// <summary>Each kernel fallback, tested by making the newer call fail with ENOSYS (as on an older kernel or under a
/// container's profile): the sandbox still starts and still holds.</summary>
public class FallbackTests
{
    [Fact]
    public async Task WithoutClone3TheSandboxStartsWithClone()
    {
        var r = await DeniedCalls.RunCliAsync("clone3=ENOSYS", "run", "--", "/bin/echo", "started");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("started\n", r.Stdout);
    }

    [Fact]
    public async Task WithoutCloseRangeOnlyTheStandardDescriptorsAreOpen()
    {
        var r = await DeniedCalls.RunCliAsync("close_range=ENOSYS", "run", "--", "/bin/ls", "/proc/self/fd");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["0", "1", "2", "3"], r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // 3: ls's own directory
    }

    [Fact]
    public async Task WithoutOpenat2AndMountSetattrTheTreeIsBuiltAndReadOnly()
    {
        string dir = Directory.CreateTempSubdirectory("s2-fallback-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "f"), "x");
            Chmod(dir);
            var r = await DeniedCalls.RunCliAsync("openat2=ENOSYS,mount_setattr=ENOSYS", "run", "--ro-bind", dir + ":/data", "--", "/bin/ls", "/data");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("f\n", r.Stdout);
            var ro = await DeniedCalls.RunCliAsync("openat2=ENOSYS,mount_setattr=ENOSYS", "run", "--ro-bind", dir + ":/data", "--", "/usr/bin/touch", "/data/new", "/new");
            Assert.True(ro.ExitCode == 1, ro.ToString());
            Assert.Contains("/data/new': Read-only file system", ro.Stderr);
            Assert.Contains("/new': Read-only file system", ro.Stderr);
        }
        finally { Directory.Delete(dir, true); }
    }

    internal static void Chmod(string dir)
    {
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        foreach (var f in Directory.EnumerateFiles(dir)) File.SetUnixFileMode(f, (UnixFileMode)0b110_100_100);
    }
}
