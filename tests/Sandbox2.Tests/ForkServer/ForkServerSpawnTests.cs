using System.Runtime.InteropServices;

namespace Sandbox2.Tests.ForkServerLayer;

/// <summary>Real sandboxes through the global forkserver (root executor: inside 1000 -> outside 65534).</summary>
public class ForkServerSpawnTests
{
    private static ForkServer Server => ForkServer.Global;

    [Fact]
    public async Task StaticHelloRunsAndOutputIsCaptured()
    {
        var (report, output) = await FsPlans.Run(Server, o => FsPlans.Probe(o, ["world"], program: "hello-static"));
        Assert.Null(report.SetupFailedStep);
        Assert.Equal(0, report.ExitCode);
        Assert.Null(report.Signal);
        Assert.Equal("hello world\n", output);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(255)]
    public async Task ExitCodesPassThrough(int code)
    {
        var (report, _) = await FsPlans.Run(Server, o => FsPlans.Probe(o, ["exit", code.ToString()]));
        Assert.Null(report.SetupFailedStep);
        Assert.Equal(code, report.ExitCode);
    }

    [Theory]
    [InlineData(15)]
    [InlineData(11)]
    public async Task SignalDeathsAreReported(int signal)
    {
        var (report, _) = await FsPlans.Run(Server, o => FsPlans.Probe(o, ["signal", signal.ToString()]));
        Assert.Null(report.SetupFailedStep);
        Assert.Null(report.ExitCode);
        Assert.Equal(signal, report.Signal);
    }

    [Fact]
    public async Task FilterThatKillsGetpidGivesSigsys()
    {
        var (report, output) = await FsPlans.Run(Server, o => FsPlans.Probe(o, ["getpid"], bpf: FsPlans.Bpf(39)));
        Assert.Null(report.SetupFailedStep);
        Assert.Equal(31, report.Signal);
        Assert.Equal("", output);
    }

    [Fact]
    public async Task AllowAllFilterStillRuns()
    {
        var (report, output) = await FsPlans.Run(Server, o => FsPlans.Probe(o, ["getpid"], bpf: FsPlans.Bpf(null)));
        Assert.Equal(0, report.ExitCode);
        Assert.Equal("pid 2\n", output);
    }

    [Fact]
    public async Task BadBindSourceNamesThePathAndErrno()
    {
        var (report, _) = await FsPlans.Run(Server, o => FsPlans.Probe(o, [], extraMounts:
            [new(MountOpKind.MakeDirectory, "/data"), new(MountOpKind.Bind, "/data", "/nonexistent/fs-test-source", MountFlags.ReadOnly)]));
        Assert.Equal(2, report.SetupErrno); // ENOENT
        Assert.StartsWith("bind (", report.SetupFailedStep, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/fs-test-source -> /data", report.SetupFailedStep, StringComparison.Ordinal);
        Assert.Null(report.ExitCode);
    }

    [Fact]
    public async Task NonExecutableProgramFailsAtExecveat()
    {
        var (report, _) = await FsPlans.Run(Server, o => FsPlans.Probe(o, [], program: "../../tests/testcases/fs_probe.c"));
        Assert.Equal(13, report.SetupErrno); // EACCES
        Assert.StartsWith("execveat fs_probe", report.SetupFailedStep, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IdentityInside()
    {
        var (report, output) = await FsPlans.Run(Server, o => FsPlans.Probe(o, ["status"], bpf: FsPlans.Bpf(null)));
        Assert.Equal(0, report.ExitCode);
        AssertIdentity(output);
    }

    internal static void AssertIdentity(string output)
    {
        Assert.Contains("pid 2\n", output, StringComparison.Ordinal);
        Assert.Contains("ppid 1\n", output, StringComparison.Ordinal);
        Assert.Contains("hostname sandbox2\n", output, StringComparison.Ordinal);
        Assert.Contains("Uid:\t1000\t1000\t1000\t1000\n", output, StringComparison.Ordinal);
        Assert.Contains("Gid:\t1000\t1000\t1000\t1000\n", output, StringComparison.Ordinal);
        Assert.Contains("CapEff:\t0000000000000000\n", output, StringComparison.Ordinal);
        Assert.Contains("CapBnd:\t0000000000000000\n", output, StringComparison.Ordinal);
        Assert.Contains("NoNewPrivs:\t1\n", output, StringComparison.Ordinal);
        Assert.Contains("Seccomp:\t2\n", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnlyPlannedFdsAreOpen()
    {
        var (r2, w2) = FsPlans.Pipe();
        using (r2)
        using (w2)
        {
            var (report, output) = await FsPlans.Run(Server, o => FsPlans.Probe(o, ["fds"], fds:
                [new FdMapping(1, o), new FdMapping(2, o), new FdMapping(7, w2)]));
            Assert.Equal(0, report.ExitCode);
            var fds = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).Order();
            Assert.Equal([1, 2, 7], fds);
        }
    }

    [Fact]
    public async Task RootIsReadOnlyAndBindIsMounted()
    {
        string dir = Path.GetDirectoryName(FsPlans.Testcase("hello-static"))!;
        var (report, output) = await FsPlans.Run(Server, o => FsPlans.Probe(o, ["write", "/newfile"], extraMounts:
            [new(MountOpKind.MakeDirectory, "/tc"), new(MountOpKind.Bind, "/tc", dir, MountFlags.ReadOnly | MountFlags.NoSuid)]));
        Assert.Equal(1, report.ExitCode);
        Assert.Equal("open /newfile: -1\n", output);
        var (report2, output2) = await FsPlans.Run(Server, o => FsPlans.Probe(o, ["write", "/tc/x"], extraMounts:
            [new(MountOpKind.MakeDirectory, "/tc"), new(MountOpKind.Bind, "/tc", dir, MountFlags.ReadOnly)]));
        Assert.Equal(1, report2.ExitCode);
        Assert.Equal("open /tc/x: -1\n", output2);
        var (report3, output3) = await FsPlans.Run(Server, o => FsPlans.Probe(o, ["write", "/tmp/x"], extraMounts:
            [new(MountOpKind.MakeDirectory, "/tmp"), new(MountOpKind.Tmpfs, "/tmp", Options: "size=1m,mode=1777")]));
        Assert.Equal(0, report3.ExitCode);
        Assert.Equal("open /tmp/x: 0\n", output3);
    }

    [Fact]
    public async Task ProcessesLeftBehindAreKilledWhenTheMainProcessEnds()
    {
        var started = DateTime.UtcNow;
        var (report, output) = await FsPlans.Run(Server, o => FsPlans.Probe(o, ["orphan"]));
        Assert.Equal(0, report.ExitCode);
        Assert.Equal("parent exits\n", output); // EOF: the orphan holding stdout is gone
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task KillEndsASleepingSandbox()
    {
        var (read, write) = FsPlans.Pipe();
        using (read)
        {
            var plan = FsPlans.Probe(write, ["sleep", "100"]);
            using var sandbox = await Server.SpawnAsync(plan);
            write.Dispose();
            plan.ProgramFd.Dispose();
            sandbox.Kill();
            var report = await sandbox.Completion.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(report.Killed);
            Assert.Equal(9, report.Signal);
            Assert.False(Directory.Exists($"/proc/{sandbox.InitPid}/task") && !IsZombie(sandbox.InitPid));
        }
    }

    [Fact]
    public async Task SeccompListenerIsSentToTheExecutor()
    {
        var (read, write) = FsPlans.Pipe();
        using (read)
        {
            var plan = FsPlans.Probe(write, ["exit", "0"], bpf: FsPlans.Bpf(null), notify: true);
            using var sandbox = await Server.SpawnAsync(plan);
            write.Dispose();
            plan.ProgramFd.Dispose();
            using var listener = await sandbox.SeccompListener.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.NotNull(listener);
            Assert.Equal("anon_inode:seccomp notify", Readlink(listener.Fd));
            Assert.Equal(0, (await sandbox.Completion.WaitAsync(TimeSpan.FromSeconds(10))).ExitCode);
        }
    }

    private static string Readlink(int fd) => new FileInfo($"/proc/self/fd/{fd}").LinkTarget ?? "";

    [Fact]
    public async Task FiftyConcurrentSpawnsSucceed()
    {
        var runs = Enumerable.Range(0, 50).Select(i => FsPlans.Run(Server, o => FsPlans.Probe(o, ["exit", (i % 7).ToString()])));
        var results = await Task.WhenAll(runs);
        for (int i = 0; i < 50; i++)
        {
            Assert.Null(results[i].Report.SetupFailedStep);
            Assert.Equal(i % 7, results[i].Report.ExitCode);
        }
    }

    [Fact]
    public void InvalidPlanIsRejectedBeforeSending()
    {
        using var prog = Interop.OpenPath(FsPlans.Testcase("hello-static"));
        var ex = Assert.Throws<ArgumentException>(() => ForkServerProtocol.Serialize(new SandboxPlan { ProgramFd = prog }));
        Assert.Contains("argv", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => ForkServerProtocol.Serialize(new SandboxPlan { ProgramFd = prog, Argv = ["a\0b"] }));
        Assert.Contains("NUL", ex.Message, StringComparison.Ordinal);
    }

    internal static bool IsZombie(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return false;
        }
    }
}

/// <summary>Each plan field reaches the sandboxee.</summary>
public class ForkServerPlanTests
{
    private static ForkServer Server => ForkServer.Global;

    private static async Task<string> Output(string[] args, Func<SandboxPlan, SandboxPlan>? edit = null, IReadOnlyList<MountOp>? mounts = null)
    {
        var (report, output) = await FsPlans.Run(Server, o =>
        {
            var p = FsPlans.Probe(o, args, extraMounts: mounts);
            return edit is null ? p : edit(p);
        });
        Assert.Null(report.SetupFailedStep);
        Assert.Equal(0, report.ExitCode);
        return output;
    }

    private static SandboxPlan With(SandboxPlan p, IReadOnlyList<RlimitOp>? rlimits = null, string? cwd = null, IReadOnlyList<string>? env = null, bool loopback = false, PlanNamespaces? ns = null) => new()
    {
        Namespaces = ns ?? p.Namespaces,
        OutsideUid = p.OutsideUid,
        OutsideGid = p.OutsideGid,
        Mounts = p.Mounts,
        Argv = p.Argv,
        Environment = env ?? p.Environment,
        ProgramFd = p.ProgramFd,
        Fds = p.Fds,
        Rlimits = rlimits ?? p.Rlimits,
        Cwd = cwd ?? p.Cwd,
        LoopbackUp = loopback,
    };

    [Fact]
    public async Task RlimitsAreApplied()
    {
        string o = await Output(["rlimit"], p => With(p, rlimits: [new RlimitOp(7, 20, 30), new RlimitOp(1, 4096, 8192)]));
        Assert.Equal("nofile 20 30\nfsize 4096 8192\n", o);
    }

    [Fact]
    public async Task CwdAndEnvironmentAreApplied()
    {
        Assert.Equal("cwd /proc\n", await Output(["cwd"], p => With(p, cwd: "/proc")));
        Assert.Equal("A=1\nB=two words\n", await Output(["env"], p => With(p, env: ["A=1", "B=two words"])));
    }

    [Fact]
    public async Task LoopbackIsUpOnlyWhenPlanned()
    {
        Assert.Equal("lo up\n", await Output(["lo"], p => With(p, loopback: true)));
        Assert.Equal("lo down\n", await Output(["lo"]));
    }

    [Fact]
    public async Task FileBindSymlinkAndDirectories()
    {
        string hello = FsPlans.Testcase("hello-static");
        MountOp[] mounts =
        [
            new(MountOpKind.MakeDirectory, "/a/b/c"),
            new(MountOpKind.CreateFile, "/a/hello"),
            new(MountOpKind.Bind, "/a/hello", hello, MountFlags.ReadOnly),
            new(MountOpKind.Symlink, "/link", "a/hello"),
        ];
        Assert.Equal("/a/b/c dir\n", await Output(["lstat", "/a/b/c"], mounts: mounts));
        Assert.Equal("/link link -> a/hello\n", await Output(["lstat", "/link"], mounts: mounts));
        Assert.Equal("/a/hello file\n", await Output(["lstat", "/a/hello"], mounts: mounts));
        Assert.Equal("/etc missing\n", await Output(["lstat", "/etc"], mounts: mounts));
    }

    [Fact]
    public async Task MountTargetsResolveInsideTheNewRoot()
    {
        string dir = Path.GetDirectoryName(FsPlans.Testcase("hello-static"))!;
        // An absolute symlink in the tree resolves inside the sandbox, as the sandboxee would see it.
        MountOp[] mounts =
        [
            new(MountOpKind.MakeDirectory, "/real"),
            new(MountOpKind.Symlink, "/abs", "/real"),
            new(MountOpKind.Bind, "/abs", dir, MountFlags.ReadOnly),
        ];
        Assert.Equal("/real/hello-static file\n", await Output(["lstat", "/real/hello-static"], mounts: mounts));
        // A relative symlink cannot lead out of the new root (to the host root at /oldroot during setup).
        string escape = $"sandbox2-escape-{Environment.ProcessId}";
        var (report, _) = await FsPlans.Run(Server, o => FsPlans.Probe(o, [], extraMounts:
            [new(MountOpKind.Symlink, "/esc", "../../../oldroot/var/tmp"), new(MountOpKind.MakeDirectory, $"/esc/{escape}")]));
        Assert.StartsWith($"mkdir /esc/{escape}", report.SetupFailedStep, StringComparison.Ordinal);
        Assert.Equal(2, report.SetupErrno); // ENOENT: /oldroot does not exist inside the new root
        Assert.False(Directory.Exists($"/var/tmp/{escape}"));
    }

    [Fact]
    public async Task MinimalDevFromHostBindsWorks()
    {
        MountOp[] mounts =
        [
            new(MountOpKind.MakeDirectory, "/dev"),
            new(MountOpKind.CreateFile, "/dev/null"),
            new(MountOpKind.Bind, "/dev/null", "/dev/null", MountFlags.NoSuid | MountFlags.NoExec),
            new(MountOpKind.CreateFile, "/dev/urandom"),
            new(MountOpKind.Bind, "/dev/urandom", "/dev/urandom", MountFlags.ReadOnly | MountFlags.NoSuid | MountFlags.NoExec),
            new(MountOpKind.Symlink, "/dev/fd", "/proc/self/fd"),
        ];
        Assert.Equal("open /dev/null: 0\n", await Output(["write", "/dev/null"], mounts: mounts));
        Assert.Equal("/dev/urandom other\n", await Output(["lstat", "/dev/urandom"], mounts: mounts));
        Assert.Equal("/dev/fd link -> /proc/self/fd\n", await Output(["lstat", "/dev/fd"], mounts: mounts));
    }

    [Fact]
    public async Task SetupErrorInTheSandboxeeIsReported()
    {
        var (report, _) = await FsPlans.Run(Server, o => With(FsPlans.Probe(o, ["exit", "0"]), cwd: "/does-not-exist"));
        Assert.Equal("chdir /does-not-exist", report.SetupFailedStep);
        Assert.Equal(2, report.SetupErrno);
        Assert.Null(report.ExitCode);
    }
}
