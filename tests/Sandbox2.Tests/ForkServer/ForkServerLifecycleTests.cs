using System.Runtime.InteropServices;

namespace Sandbox2.Tests.ForkServerLayer;

/// <summary>Private forkservers: death of the forkserver or of its executor ends every sandbox; no zombies; unprivileged mode.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public partial class ForkServerLifecycleTests
{
    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int kill(int pid, int signal);

    private static readonly string[] Unprivileged = Security.AsCaller.Unprivileged; // setpriv as root, nothing when already unprivileged

    private static async Task<(SpawnedSandbox Sandbox, SafeFdHandle Output)> StartSleeper(ForkServer server)
    {
        var (read, write) = FsPlans.Pipe();
        var plan = FsPlans.Probe(write, ["sleep", "100"]);
        var sandbox = await server.SpawnAsync(plan);
        write.Dispose();
        plan.ProgramFd.Dispose();
        // Wait until the sandboxee runs (it prints "sleeping").
        var buffer = new byte[16];
        using var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(read.DangerousGetHandle(), false), FileAccess.Read, 1);
        int n = await Task.Run(() => stream.Read(buffer)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("sleeping\n", System.Text.Encoding.ASCII.GetString(buffer, 0, n));
        return (sandbox, read);
    }

    private static async Task AssertSandboxGone(SpawnedSandbox sandbox, SafeFdHandle output)
    {
        var report = await sandbox.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(report.SetupFailedStep); // no report: init was killed
        Assert.Contains("without a report", report.SetupFailedStep, StringComparison.Ordinal);
        // The sandboxee held the pipe's write end: EOF proves every process of the sandbox is gone.
        string rest = await FsPlans.ReadAll(output).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("", rest);
        output.Dispose();
    }

    [Fact]
    public async Task ClosingTheControlSocketKillsRunningSandboxes()
    {
        var server = ForkServer.Start();
        var (sandbox, output) = await StartSleeper(server);
        int fsPid = server.ProcessId;
        server.Dispose(); // what the kernel does when the executor dies: our end of the socket closes
        await AssertSandboxGone(sandbox, output);
        Assert.False(Directory.Exists($"/proc/{fsPid}"));
        sandbox.Dispose();
    }

    [Fact]
    public async Task KillingTheForkServerKillsRunningSandboxes()
    {
        var server = ForkServer.Start();
        var (sandbox, output) = await StartSleeper(server);
        Assert.Equal(0, kill(server.ProcessId, 9));
        await AssertSandboxGone(sandbox, output);
        Assert.False(server.IsAlive);
        await Assert.ThrowsAsync<ForkServerException>(() => StartSleeper(server));
        server.Dispose();
        sandbox.Dispose();
    }

    [Fact]
    public async Task NoZombiesAfterTwentySpawns()
    {
        using var server = ForkServer.Start();
        for (int i = 0; i < 20; i++)
        {
            var (report, _) = await FsPlans.Run(server, o => FsPlans.Probe(o, ["exit", "0"]));
            Assert.Equal(0, report.ExitCode);
        }
        var deadline = DateTime.UtcNow.AddSeconds(5);
        List<int> zombies;
        while ((zombies = ZombieChildren(server.ProcessId)).Count > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Empty(zombies);
        Assert.True(server.IsAlive);
    }

    private static List<int> ZombieChildren(int parent)
    {
        var result = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (f[0] == "Z" && int.Parse(f[1]) == parent) result.Add(pid);
            }
            catch (IOException)
            {
            }
        }
        return result;
    }

    [Fact]
    public async Task UnprivilegedForkServerRunsSandboxes()
    {
        using var server = ForkServer.Start(Unprivileged);
        var (report, output) = await FsPlans.Run(server, o => FsPlans.Probe(o, ["status"], unprivileged: true, bpf: FsPlans.Bpf(null)));
        Assert.Null(report.SetupFailedStep);
        Assert.Equal(0, report.ExitCode);
        ForkServerSpawnTests.AssertIdentity(output);
        var (report2, _) = await FsPlans.Run(server, o => FsPlans.Probe(o, ["getpid"], unprivileged: true, bpf: FsPlans.Bpf(39)));
        Assert.Equal(31, report2.Signal);
        var (report3, _) = await FsPlans.Run(server, o => FsPlans.Probe(o, ["exit", "42"], unprivileged: true));
        Assert.Equal(42, report3.ExitCode);
        MountOp[] usr =
        [
            new(MountOpKind.MakeDirectory, "/usr"), new(MountOpKind.Bind, "/usr", "/usr", MountFlags.ReadOnly | MountFlags.NoSuid),
            new(MountOpKind.Symlink, "/lib", "usr/lib"), new(MountOpKind.Symlink, "/lib64", "usr/lib64"), new(MountOpKind.Symlink, "/bin", "usr/bin"),
        ];
        var (report4, output4) = await FsPlans.Run(server, o => FsPlans.Probe(o, ["dynamic"], unprivileged: true, extraMounts: usr, program: "/bin/echo"));
        Assert.Equal(0, report4.ExitCode);
        Assert.Equal("dynamic\n", output4);
    }

    [Fact]
    public async Task UnprivilegedForkServerCannotMapAnotherUid()
    {
        using var server = ForkServer.Start(Unprivileged);
        var (_, write) = FsPlans.Pipe();
        var p = FsPlans.Probe(write, ["exit", "0"]);
        var ex = await Assert.ThrowsAsync<ForkServerException>(() => server.SpawnAsync(new SandboxPlan
        {
            OutsideUid = 4242, OutsideGid = 4242, Argv = ["x"], ProgramFd = p.ProgramFd, Fds = p.Fds, Mounts = p.Mounts,
        }));
        Assert.Contains("uid_map", ex.Message, StringComparison.Ordinal);
        Assert.True(server.IsAlive);
        write.Dispose();
        p.ProgramFd.Dispose();
    }

    [Fact]
    public async Task ADeadForkServerIsRestarted()
    {
        ForkServer? slot = null;
        var first = ForkServer.AliveOrRestarted(ref slot, () => ForkServer.Start());
        Assert.Same(first, ForkServer.AliveOrRestarted(ref slot, () => throw new InvalidOperationException("must not restart")));
        Assert.Equal(0, kill(first.ProcessId, 9));
        for (int i = 0; i < 200 && first.IsAlive; i++) await Task.Delay(10);
        var second = ForkServer.AliveOrRestarted(ref slot, () => ForkServer.Start());
        Assert.NotSame(first, second);
        Assert.False(Directory.Exists($"/proc/{first.ProcessId}")); // reaped, not a zombie
        var (report, _) = await FsPlans.Run(second, o => FsPlans.Probe(o, ["exit", "5"]));
        Assert.Equal(5, report.ExitCode);
        second.Dispose();
    }

    [Fact]
    public void GlobalIsStartedOnce()
    {
        var first = ForkServer.Global;
        Assert.Same(first, ForkServer.Global);
        Assert.True(first.IsAlive);
    }
}
