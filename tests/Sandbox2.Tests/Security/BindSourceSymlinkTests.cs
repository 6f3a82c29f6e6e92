using Sandbox2.Tests.Cli;
using Sandbox2.Tests.Execution;
using Sandbox2.Tests.ForkServerLayer;

namespace Sandbox2.Tests.Security;

/// <summary>Issue 9, item 3: bind sources are not resolved through symlinks a sandbox planted. A first sandbox with a
/// read-write bind of <c>work/</c> plants links in it; a later run that names them as bind sources must not bind what
/// they point at (the host's <c>/</c>, <c>/etc</c>). The native side opens each source again under the host root
/// without following any symlink and binds it only if it is the file the executor opened.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BindSourceSymlinkTests : IDisposable
{
    private readonly string _dir, _work;

    public BindSourceSymlinkTests()
    {
        _dir = Directory.CreateTempSubdirectory("sandbox2-bindsrc-").FullName;
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);
        _work = Path.Combine(_dir, "work");
        Directory.CreateDirectory(_work);
        File.SetUnixFileMode(_work, (UnixFileMode)0b111_111_111); // the sandbox user (65534 when root) writes here
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Sandbox 1: <c>ln -s TARGET /work/NAME</c> inside a read-write bind of work/.</summary>
    private async Task Plant(string target, string name)
    {
        var plant = await CliRunner.RunAsync("run", "--bind", _work + ":/work", "--", "/bin/ln", "-s", target, "/work/" + name);
        Assert.True(plant.ExitCode == 0, plant.ToString());
        Assert.Equal(target, new FileInfo(Path.Combine(_work, name)).LinkTarget);
    }

    [Fact]
    public async Task PlantedDotDotLink_AsBindSource_IsRefused_CliAndLibrary()
    {
        await Plant("../../..", "dotdot"); // work/dotdot -> / (the temp dir is /tmp/NAME)
        Assert.Equal("/", Mounts.ResolveLinks(Path.Combine(_work, "dotdot"))); // the attack is real: following it gives /

        var run = await CliRunner.RunAsync("run", "--ro-bind", Path.Combine(_work, "dotdot") + ":/up", "--", "/bin/ls", "/up");
        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.DoesNotContain("etc", run.Stdout, StringComparison.Ordinal); // the host's / was not listed
        Assert.Contains(run.ToolLines, l => l.Contains("dotdot is a symbolic link owned by uid", StringComparison.Ordinal) && l.Contains("-> ../../..", StringComparison.Ordinal));

        var e = Assert.Throws<PolicyException>(() => new PolicyBuilder().AddDirectoryAt(Path.Combine(_work, "dotdot"), "/up"));
        Assert.Contains("symbolic link", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PlantedDotDotLink_AsBindSource_IsRefused_ForAnUnprivilegedExecutorToo()
    {
        // Unprivileged, the sandbox's link is owned by the caller itself: still not followed.
        if (!AsNobody.Available) return;
        var plant = await AsNobody.RunAsync("run", "--bind", _work + ":/work", "--", "/bin/ln", "-s", "../../..", "/work/dotdot");
        Assert.True(plant.ExitCode == 0, plant.ToString());
        var run = await AsNobody.RunAsync("run", "--ro-bind", Path.Combine(_work, "dotdot") + ":/up", "--", "/bin/ls", "/up");
        Assert.True(run.ExitCode != 0 && !run.Stdout.Contains("etc", StringComparison.Ordinal), run.ToString());
        Assert.Contains(run.ToolLines, l => l.Contains("dotdot is a symbolic link owned by uid 65534", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PlantedLinkInAnIntermediateComponent_IsRefused()
    {
        await Plant("/etc", "sub"); // work/sub -> /etc; then --ro-bind work/sub/hostname would be the host's /etc/hostname
        var run = await CliRunner.RunAsync("run", "--ro-bind", Path.Combine(_work, "sub", "hostname") + ":/h", "--", "/bin/cat", "/h");
        Assert.True(run.ExitCode != 0 && run.Stdout == "", run.ToString());
        Assert.Contains(run.ToolLines, l => l.Contains("/work/sub is a symbolic link owned by uid", StringComparison.Ordinal));
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AddFileAt(Path.Combine(_work, "sub", "hostname"), "/h"));
    }

    [Fact]
    public async Task ASourceSwappedForALinkAfterThePolicyWasBuilt_IsRefusedAtRunTime()
    {
        string real = Path.Combine(_work, "real");
        Directory.CreateDirectory(real);
        File.SetUnixFileMode(real, (UnixFileMode)0b111_111_111);
        var policy = Sandboxes.Policy("/bin/ls").AddDirectoryAt(real, "/r").Build();
        // A sandbox that can write work/ replaces the directory by a link to / (here: the test does it, between build and run).
        Directory.Delete(real);
        File.CreateSymbolicLink(real, "/");
        var outcome = await Sandboxes.Async(new Executor("/bin/ls", ["/r"]), policy);
        Assert.True(outcome.Result.Status == SandboxStatus.SetupError, outcome.ToString());
        Assert.Contains(real, outcome.Result.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("etc", outcome.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheForkServerNeverFollowsALinkInABindSource()
    {
        // The mount step itself: a source path with a symlink in it (even one the executor would have accepted) is not
        // resolved at mount time; the plan's path must be canonical.
        string real = Path.Combine(_dir, "real");
        Directory.CreateDirectory(real);
        File.CreateSymbolicLink(Path.Combine(_dir, "link"), real);
        var (report, _) = await FsPlans.Run(ForkServer.Global, o => FsPlans.Probe(o, [], extraMounts:
            [new(MountOpKind.MakeDirectory, "/data"), new(MountOpKind.Bind, "/data", Path.Combine(_dir, "link"), MountFlags.ReadOnly)]));
        Assert.Equal(40, report.SetupErrno); // ELOOP
        Assert.Contains(Path.Combine(_dir, "link") + " -> /data", report.SetupFailedStep, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABindSourceThatIsNoLongerTheExecutorsFile_IsRefusedByTheForkServer()
    {
        // What a swap between the executor's open and the mount looks like to the forkserver: the file at the path is
        // another one than the executor opened (BIND_ID). Simulated with a wrong identity: the bind must not happen.
        string real = Path.Combine(_dir, "real");
        Directory.CreateDirectory(real);
        using var resolved = HostPath.Open(real, "test");
        var bind = new MountOp(MountOpKind.Bind, "/data", real, MountFlags.ReadOnly) { SourceIdentity = (resolved.Stat.Dev, resolved.Stat.Ino + 1) };
        var (report, _) = await FsPlans.Run(ForkServer.Global, o => FsPlans.Probe(o, [], extraMounts: [new(MountOpKind.MakeDirectory, "/data"), bind]));
        Assert.Equal(116, report.SetupErrno); // ESTALE
        Assert.Contains("no longer the file the executor opened", report.SetupFailedStep, StringComparison.Ordinal);

        // The right identity binds it.
        var good = bind with { SourceIdentity = (resolved.Stat.Dev, resolved.Stat.Ino) };
        var (ok, output) = await FsPlans.Run(ForkServer.Global, o => FsPlans.Probe(o, ["exit", "0"], extraMounts: [new(MountOpKind.MakeDirectory, "/data"), good]));
        Assert.True(ok.ExitCode == 0, $"{ok.SetupFailedStep} {output}");
    }

    [Fact]
    public async Task RootsOwnLinksAreFollowed()
    {
        // The system's links (/bin -> usr/bin, /lib64 -> usr/lib64 on merged-/usr hosts) are root's: binds through them work.
        var run = await CliRunner.RunAsync("run", "--ro-bind", "/etc/hostname:/h", "--", "/bin/cat", "/h");
        Assert.True(run.ExitCode == 0 && run.Stdout == await File.ReadAllTextAsync("/etc/hostname"), run.ToString());
        if (Interop.GetEUid() != 0) return;
        string real = Path.Combine(_dir, "rootreal");
        Directory.CreateDirectory(real);
        File.SetUnixFileMode(real, (UnixFileMode)0b111_101_101);
        await File.WriteAllTextAsync(Path.Combine(real, "f"), "via root's link\n");
        File.SetUnixFileMode(Path.Combine(real, "f"), (UnixFileMode)0b110_100_100);
        File.CreateSymbolicLink(Path.Combine(_dir, "rootlink"), real); // made by root: followed
        var viaLink = await CliRunner.RunAsync("run", "--ro-bind", Path.Combine(_dir, "rootlink") + ":/r", "--", "/bin/cat", "/r/f");
        Assert.True(viaLink.ExitCode == 0 && viaLink.Stdout == "via root's link\n", viaLink.ToString());
    }
}
