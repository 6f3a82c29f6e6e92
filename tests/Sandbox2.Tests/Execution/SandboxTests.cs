using System.Diagnostics;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Execution;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
/// <summary>Issue 3's "must show", through the library API: real programs in real sandboxes.</summary>
public class SandboxTests(ITestOutputHelper log)
{
    private static readonly string Probe = Run.Testcase("ex_probe");
    private static readonly string ProbeStatic = Run.Testcase("ex_probe-static");
    private static readonly string FsProbe = Run.Testcase("fs_probe");

    [Theory]
    [InlineData("hello")]
    [InlineData("hello-static")]
    public async Task HelloWorldStaticAndDynamic(string testcase)
    {
        var o = await Run.Async(Run.Testcase(testcase), "world");
        Assert.True(o.Result.Status == SandboxStatus.Ok, o.ToString());
        Assert.Equal(0, o.Result.ExitCode);
        Assert.Equal("hello world\n", o.Stdout);
        Assert.Equal("OK - Exit code: 0", o.Result.ToString());
        Assert.True(o.Result.Usage.WallTime > TimeSpan.Zero);
        Assert.True(o.Result.Usage.MaxRssKb > 0, o.Result.Usage.ToString());
    }

    [Fact]
    public async Task BinLsListsOnlyWhatWasMounted()
    {
        var o = await Run.Async("/bin/ls", "-1", "/");
        Assert.True(o.Result.Status == SandboxStatus.Ok && o.Result.ExitCode == 0, o.ToString());
        var entries = o.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // ls itself (/bin), its libraries (/lib, /lib64 as requested by ld.so), /proc, /dev, /tmp: nothing else of the host.
        Assert.Contains("proc", entries);
        Assert.Contains("tmp", entries);
        Assert.Contains("dev", entries);
        Assert.Contains("lib64", entries);
        Assert.DoesNotContain("etc", entries);
        Assert.DoesNotContain("home", entries);
        Assert.DoesNotContain("root", entries);
    }

    [Theory]
    [InlineData("fs_probe", "0")]
    [InlineData("fs_probe", "3")]
    [InlineData("fs_probe-static", "42")]
    [InlineData("fs_probe", "255")]
    public async Task ExitCodesPassThrough(string testcase, string code)
    {
        var o = await Run.Async(Run.Testcase(testcase), "exit", code);
        Assert.True(o.Result.Status == SandboxStatus.Ok, o.ToString());
        Assert.Equal(int.Parse(code, System.Globalization.CultureInfo.InvariantCulture), o.Result.ExitCode);
    }

    [Fact]
    public async Task AFileNotMountedIsInvisible()
    {
        Assert.True(File.Exists("/etc/passwd"));
        var o = await Run.Async(Probe, "read", "/etc/passwd");
        Assert.True(o.Result.Status == SandboxStatus.Ok && o.Result.ExitCode == 1, o.ToString());
        Assert.Equal("/etc/passwd: No such file or directory\n", o.Stdout);
    }

    [Fact]
    public async Task ReadOnlyBindIsReadableButRefusesWrites()
    {
        string file = Path.Combine(Path.GetTempPath(), $"sandbox2-ex-ro-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(file, "host content\n");
        File.SetUnixFileMode(file, (UnixFileMode)0b110_110_110); // even world-writable on the host
        try
        {
            var read = await Run.Async(new Executor(Probe, ["read", "/data"]), Run.Policy(Probe).AddFileAt(file, "/data").Build());
            Assert.True(read.Result.ExitCode == 0, read.ToString());
            Assert.Equal("host content\n", read.Stdout);

            var write = await Run.Async(new Executor(Probe, ["write", "/data"]), Run.Policy(Probe).AddFileAt(file, "/data").Build());
            Assert.True(write.Result.ExitCode == 1, write.ToString());
            Assert.Equal("write /data: Read-only file system\n", write.Stdout);
            Assert.Equal("host content\n", await File.ReadAllTextAsync(file));

            var rw = await Run.Async(new Executor(Probe, ["write", "/data"]), Run.Policy(Probe).AddFileAt(file, "/data", writable: true).Build());
            Assert.True(rw.Result.ExitCode == 0, rw.ToString());
            Assert.Equal("sandboxed\n", await File.ReadAllTextAsync(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task RootIsReadOnlyAndTmpWritesDoNotReachTheHost()
    {
        string name = $"sandbox2-ex-tmp-{Guid.NewGuid():N}";
        var o = await Run.Async(Probe, "write", "/tmp/" + name);
        Assert.True(o.Result.ExitCode == 0, o.ToString());
        Assert.False(File.Exists("/tmp/" + name));

        var root = await Run.Async(Probe, "write", "/" + name);
        Assert.True(root.Result.ExitCode == 1, root.ToString());
        Assert.Equal($"write /{name}: Read-only file system\n", root.Stdout);
    }

    [Fact]
    public async Task IdentityAsSeenFromInside()
    {
        var o = await Run.Async(FsProbe, "status");
        Assert.True(o.Result.Status == SandboxStatus.Ok, o.ToString());
        log.WriteLine(o.Stdout);
        var lines = o.Stdout.Split('\n');
        Assert.Contains("pid 2", lines);
        Assert.Contains("ppid 1", lines);
        Assert.Contains("hostname sandbox2", lines);
        Assert.Contains("Uid:\t1000\t1000\t1000\t1000", lines);
        Assert.Contains("Gid:\t1000\t1000\t1000\t1000", lines);
        Assert.Contains("CapEff:\t0000000000000000", lines);
        Assert.Contains("NoNewPrivs:\t1", lines);
        Assert.Contains("Seccomp:\t2", lines);
    }

    [Fact]
    public async Task HostnameAndNetworkModes()
    {
        var named = await Run.Async(new Executor(FsProbe, ["status"]), Run.Policy(FsProbe).SetHostname("configured").Build());
        Assert.Contains("hostname configured\n", named.Stdout, StringComparison.Ordinal);

        var none = await Run.Async(new Executor(FsProbe, ["lo"]), Run.Policy(FsProbe).AllowSyscalls("socket", "ioctl").Build());
        Assert.True(none.Stdout == "lo down\n", none.ToString());
        var loopback = await Run.Async(new Executor(FsProbe, ["lo"]), Run.Policy(FsProbe).AllowSyscalls("socket", "ioctl").SetNetwork(NetworkMode.Loopback).Build());
        Assert.True(loopback.Stdout == "lo up\n", loopback.ToString());
    }

    [Fact]
    public async Task OnlyFds012AreOpen()
    {
        // Open a few inheritable-looking descriptors in the executor: none may reach the sandboxee.
        using var extra = File.OpenHandle("/etc/hostname");
        var o = await Run.Async(FsProbe, "fds");
        Assert.True(o.Result.ExitCode == 0, o.ToString());
        Assert.Equal("0\n1\n2\n", o.Stdout);
    }

    [Fact]
    public async Task HostEnvironmentIsNotLeaked()
    {
        Environment.SetEnvironmentVariable("SANDBOX2_EX_HOST_SECRET", "leaked");
        var defaults = await Run.Async(FsProbe, "env");
        Assert.Equal("PATH=" + Executor.DefaultPath + "\n", defaults.Stdout);

        var given = await Run.Async(new Executor(FsProbe, ["env"], new Dictionary<string, string> { ["A"] = "b c", ["LANG"] = "C" }), Run.Policy(FsProbe).Build());
        Assert.Equal(["A=b c", "LANG=C"], given.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ArgvAndCwdAreAsGiven()
    {
        string[] args = ["argv", "two words", "ünïcode", "", "--flag=x"];
        var o = await Run.Async(new Executor(Probe, args) { Cwd = "/tmp" }, Run.Policy(Probe).Build());
        Assert.Equal(string.Join('\n', [Probe, .. args]) + "\n", o.Stdout);
        var cwd = await Run.Async(new Executor(FsProbe, ["cwd"]) { Cwd = "/tmp" }, Run.Policy(FsProbe).Build());
        Assert.Equal("cwd /tmp\n", cwd.Stdout);
    }

    [Fact]
    public async Task ProgramFromAnOpenDescriptor()
    {
        var executor = new Executor(Run.OpenRead(ProbeStatic), "my-name", ["argv", "x"]);
        Assert.StartsWith("fd:", executor.ProgramPath, StringComparison.Ordinal);
        var o = await Run.Async(executor, BuiltinPolicies.CreateDefault().Build());
        Assert.True(o.Result.Status == SandboxStatus.Ok, o.ToString());
        Assert.Equal("my-name\nargv\nx\n", o.Stdout);
    }

    [Fact]
    public async Task WallTimeLimitGivesTimeout()
    {
        var clock = Stopwatch.StartNew();
        var o = await Run.Async(new Executor(Probe, ["sleep", "60"]) { Limits = { WallTime = TimeSpan.FromSeconds(1) } }, Run.Policy(Probe).Build());
        Assert.True(o.Result.Status == SandboxStatus.Timeout, o.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), clock.Elapsed.ToString());
        Assert.True(o.Result.Usage.WallTime >= TimeSpan.FromSeconds(0.9), o.Result.Usage.ToString());
        Assert.StartsWith("Process TIMEOUT", o.Result.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WallTimeLimitCanBeReArmedAndDisarmedWhileRunning()
    {
        var o = await Run.Async(new Executor(Probe, ["sleep", "60"]) { Limits = { WallTime = TimeSpan.FromSeconds(1) } }, Run.Policy(Probe).Build(),
            async (sandbox, outFile) =>
            {
                sandbox.SetWallTimeLimit(null); // disarmed: the 1 s limit must not fire
                await Run.WaitForOutput(outFile, "sleeping");
                await Task.Delay(1500);
                await Assert.ThrowsAsync<TimeoutException>(() => sandbox.AwaitResultAsync(TimeSpan.FromMilliseconds(50)));
                sandbox.SetWallTimeLimit(TimeSpan.FromMilliseconds(200));
            });
        Assert.True(o.Result.Status == SandboxStatus.Timeout, o.ToString());
    }

    [Fact]
    public async Task CpuLimitKillsWithASignal()
    {
        var o = await Run.Async(new Executor(ProbeStatic, ["spin"]) { Limits = { CpuTime = TimeSpan.FromSeconds(1) } }, Run.Policy(ProbeStatic).Build());
        Assert.True(o.Result.Status == SandboxStatus.Signaled, o.ToString());
        Assert.Contains(o.Result.Signal, new int?[] { 24 /*SIGXCPU*/, 9 /*SIGKILL*/ });
        Assert.True(o.Result.Usage.CpuTime >= TimeSpan.FromSeconds(0.5), o.Result.Usage.ToString()); // it spun until the limit
    }

    [Fact]
    public async Task AddressSpaceLimitRefusesA4GiBAllocation()
    {
        var limited = await Run.Async(new Executor(ProbeStatic, ["alloc", "4096"]) { Limits = { AddressSpace = 1UL << 30 } }, Run.Policy(ProbeStatic).Build());
        Assert.True(limited.Result.Status == SandboxStatus.Ok && limited.Result.ExitCode == 3, limited.ToString());
        Assert.Equal("alloc refused\n", limited.Stdout);
        // The same allocation without the limit succeeds (overcommit; only two pages are touched).
        var free = await Run.Async(new Executor(ProbeStatic, ["alloc", "4096"]), Run.Policy(ProbeStatic).Build());
        Assert.True(free.Result.ExitCode == 0, free.ToString());
    }

    [Theory]
    [InlineData("/definitely/not/here/prog")]
    [InlineData("no-such-program-sandbox2-ex")]
    public async Task MissingProgramIsProgramNotFound(string program)
    {
        await using var sandbox = new Sandbox(new Executor(program), BuiltinPolicies.CreateDefault().Build());
        var r = await sandbox.RunAsync().WaitAsync(Run.Timeout);
        Assert.Equal(SandboxStatus.SetupError, r.Status);
        Assert.Equal("PROGRAM_NOT_FOUND", r.ReasonCode);
        Assert.Contains(program, r.Reason, StringComparison.Ordinal);
        Assert.Null(sandbox.InitPid);
    }

    [Fact]
    public async Task NonExecutableProgramIsProgramNotExecutable()
    {
        string file = Path.Combine(Path.GetTempPath(), $"sandbox2-ex-noexec-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(file, "#!/bin/sh\necho no\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            foreach (var program in new[] { file, Path.GetTempPath().TrimEnd('/') })
            {
                await using var sandbox = new Sandbox(new Executor(program), BuiltinPolicies.CreateDefault().Build());
                var r = await sandbox.RunAsync().WaitAsync(Run.Timeout);
                Assert.True(r.ReasonCode == "PROGRAM_NOT_EXECUTABLE", r.ToString());
                Assert.Equal(SandboxStatus.SetupError, r.Status);
                Assert.Contains(program, r.Reason, StringComparison.Ordinal);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void ProgramPathIsResolvedOnTheHostPath()
    {
        var ls = new Executor("ls");
        Assert.True(Path.IsPathRooted(ls.ProgramPath) && ls.ProgramPath.EndsWith("/ls", StringComparison.Ordinal) && File.Exists(ls.ProgramPath), ls.ProgramPath);
        Assert.Equal("ls", ls.Argv0);
        Assert.Equal("/bin/ls", new Executor("/bin/ls").ProgramPath);
        Assert.Equal("no-such-program-sandbox2-ex", new Executor("no-such-program-sandbox2-ex").ProgramPath);
    }

    [Fact]
    public async Task BadExecutorSettingsAreSetupErrorsNamingTheProblem()
    {
        var env = await Run.Async(new Executor(Probe, ["argv"], new Dictionary<string, string> { ["A=B"] = "x" }), Run.Policy(Probe).Build());
        Assert.True(env.Result.Status == SandboxStatus.SetupError && env.Result.ReasonCode == "FAILED_CONFIG", env.ToString());
        Assert.Contains("A=B", env.Result.Reason, StringComparison.Ordinal);

        var relative = await Run.Async(new Executor(Probe, ["argv"]) { Cwd = "tmp" }, Run.Policy(Probe).Build());
        Assert.True(relative.Result.Status == SandboxStatus.SetupError, relative.ToString());
        Assert.Contains("tmp is not absolute", relative.Result.Reason, StringComparison.Ordinal);

        var missing = await Run.Async(new Executor(Probe, ["argv"]) { Cwd = "/no/such/dir" }, Run.Policy(Probe).Build());
        Assert.True(missing.Result.Status == SandboxStatus.SetupError && missing.Result.ReasonCode == "FAILED_CWD", missing.ToString());
        Assert.Contains("/no/such/dir", missing.Result.Reason, StringComparison.Ordinal);
        Assert.Equal("", missing.Stdout);
    }

    [Fact]
    public async Task ABrokenBindIsAClearSetupError()
    {
        string dir = Directory.CreateTempSubdirectory("sandbox2-ex-gone-").FullName;
        var policy = Run.Policy(Probe).AddDirectoryAt(dir, "/data").Build();
        Directory.Delete(dir); // valid when the policy was built, gone when the sandbox starts
        var o = await Run.Async(new Executor(Probe, ["read", "/data/x"]), policy);
        Assert.True(o.Result.Status == SandboxStatus.SetupError, o.ToString());
        Assert.Equal("FAILED_NAMESPACES", o.Result.ReasonCode);
        Assert.Contains(dir, o.Result.Reason, StringComparison.Ordinal);
        Assert.Contains("No such file or directory", o.Result.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', o.Result.Reason);
        Assert.Equal("", o.Stdout);
    }

    [Fact]
    public async Task ABindTheSandboxCannotReachSaysWhy()
    {
        if (Environment.UserName != "root") return; // the hint is about the root executor's unprivileged mapping (65534)
        string parent = Directory.CreateTempSubdirectory("sandbox2-ex-private-").FullName; // 0700, owned by root
        string dir = Directory.CreateDirectory(Path.Combine(parent, "inner")).FullName;
        try
        {
            var o = await Run.Async(new Executor(Probe, ["read", "/data/x"]), Run.Policy(Probe).AddDirectoryAt(dir, "/data").Build());
            Assert.True(o.Result.Status == SandboxStatus.SetupError, o.ToString());
            Assert.Contains(dir, o.Result.Reason, StringComparison.Ordinal);
            Assert.Contains("Permission denied (the sandbox's mounts are made as host uid 65534", o.Result.Reason, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
    }

    [Fact]
    public async Task KillEndsTheWholeSandboxFast()
    {
        int? init = null;
        TimeSpan killToResult = default, killToGone = default;
        var o = await Run.Async(new Executor(Probe, ["sleep", "60"]), Run.Policy(Probe).Build(), async (sandbox, outFile) =>
        {
            await Run.WaitForOutput(outFile, "sleeping");
            init = sandbox.InitPid;
            Assert.True(init is not null && Run.ProcessExists(init.Value));
            var clock = Stopwatch.StartNew();
            sandbox.Kill();
            await sandbox.AwaitResultAsync(TimeSpan.FromSeconds(5));
            killToResult = clock.Elapsed;
            // The result can arrive while init is still tearing its pid namespace down (its status channel closes
            // first): Sandbox2's promise is that everything is gone within 200 ms of Kill().
            while (Run.ProcessExists(init!.Value) && clock.Elapsed < TimeSpan.FromSeconds(1)) await Task.Delay(1);
            killToGone = clock.Elapsed;
        });
        log.WriteLine($"Kill() -> result: {killToResult.TotalMilliseconds:0.0} ms, -> init gone: {killToGone.TotalMilliseconds:0.0} ms");
        Assert.True(o.Result.Status == SandboxStatus.ExternalKill, o.ToString());
        Assert.False(Run.ProcessExists(init!.Value), Run.ProcessState(init!.Value));
        Assert.True(killToGone < TimeSpan.FromMilliseconds(500), killToGone.ToString()); // Sandbox2: < 200 ms; slack for a loaded 2-core CI
        Assert.StartsWith("Process killed by user", o.Result.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CancellationKillsTheSandbox()
    {
        using var cts = new CancellationTokenSource();
        var o = await Run.Async(new Executor(Probe, ["sleep", "60"]), Run.Policy(Probe).Build(), async (_, outFile) =>
        {
            await Run.WaitForOutput(outFile, "sleeping");
            await cts.CancelAsync();
        }, cts.Token);
        Assert.True(o.Result.Status == SandboxStatus.ExternalKill, o.ToString());
    }

    [Fact]
    public async Task DisposingARunningSandboxKillsIt()
    {
        string outFile = Path.Combine(Path.GetTempPath(), $"sandbox2-ex-{Guid.NewGuid():N}.out");
        try
        {
            int init;
            Task<SandboxResult> run;
            using (var stdout = File.OpenHandle(outFile, FileMode.CreateNew, FileAccess.Write))
            {
                var sandbox = new Sandbox(new Executor(Probe, ["sleep", "60"]) { Stdout = stdout }, Run.Policy(Probe).Build());
                run = sandbox.RunAsync();
                await Run.WaitForOutput(outFile, "sleeping");
                init = sandbox.InitPid!.Value;
                await sandbox.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            }
            Assert.True(run.IsCompleted);
            Assert.Equal(SandboxStatus.ExternalKill, (await run).Status);
            await Run.WaitGone(init, TimeSpan.FromMilliseconds(500));
        }
        finally
        {
            File.Delete(outFile);
        }
    }

    [Fact]
    public async Task AnExecutorRunsOnce()
    {
        var executor = new Executor(Run.Testcase("hello-static"));
        var policy = Run.Policy(Run.Testcase("hello-static")).Build();
        await using (var first = new Sandbox(executor, policy))
            Assert.Equal(SandboxStatus.Ok, (await first.RunAsync().WaitAsync(Run.Timeout)).Status);
        await using var second = new Sandbox(executor, policy);
        Assert.Throws<InvalidOperationException>(() => { _ = second.RunAsync(); });
    }

    [Fact]
    public async Task FiftySandboxesInParallelAllSucceed()
    {
        string hello = Run.Testcase("hello");
        var policy = Run.Policy(hello).Build(); // one policy shared by every sandbox
        var clock = Stopwatch.StartNew();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            Run.Async(new Executor(hello, [i.ToString(System.Globalization.CultureInfo.InvariantCulture)]), policy)));
        log.WriteLine($"50 parallel sandboxes: {clock.ElapsedMilliseconds} ms");
        for (int i = 0; i < outcomes.Length; i++)
        {
            Assert.True(outcomes[i].Result.Status == SandboxStatus.Ok, outcomes[i].ToString());
            Assert.Equal($"hello {i}\n", outcomes[i].Stdout);
        }
    }
}
