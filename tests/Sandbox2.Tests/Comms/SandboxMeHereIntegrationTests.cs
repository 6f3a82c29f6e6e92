using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using Sandbox2.Client;
using Sandbox2.Tests.Execution;
using Xunit.Abstractions;

namespace Sandbox2.Tests;

/// <summary>
/// SandboxMeHere through the library (issue 5): <c>Executor.EnableSandboxBeforeExec = false</c> starts a real program in
/// a real sandbox unfiltered with Comms at fd 1023; <see cref="Sandbox"/> runs the handshake, sends the compiled policy
/// and attaches the monitor to the listener the program sends back. Also the Comms channel and Ipc in the default
/// (before exec) mode.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SandboxMeHereIntegrationTests(ITestOutputHelper output)
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    const int Getppid = 110, Getpgrp = 111;

    /// <summary>Answers traced syscalls with errno 1234 and remembers which thread made each.</summary>
    sealed class TracingNotify : Notify
    {
        public readonly ConcurrentBag<int> Pids = [];
        public override ValueTask<TraceAction> EventSyscallTraceAsync(Syscall syscall, CancellationToken cancellationToken)
        {
            Pids.Add(syscall.Pid);
            return ValueTask.FromResult(TraceAction.Errno(TestBpf.TestErrno));
        }
    }

    /// <summary>The default tools' policy plus threads; <paramref name="getppid"/> (the C sandboxee's probe) decides getppid
    /// first (null: allowed like the other pid calls).</summary>
    static PolicyBuilder ForC(string program, SyscallAction? getppid)
    {
        var b = new PolicyBuilder();
        if (getppid is { } action) b.AddPolicyOnSyscall(Getppid, Arg.Of(0).GreaterOrEqual(0), action);
        return b.AllowDefaultTools().AllowSyscalls("set_robust_list", "rseq", "munmap", "mprotect", "rt_sigprocmask", "gettid")
            .AddLibrariesForBinary(program).AddProc().AddMinimalDev().AddTmpfs("/tmp", 16 << 20);
    }

    static string DotNetRuntimeDir => Path.GetDirectoryName(typeof(object).Assembly.Location)!;
    static string DotNetRoot => Path.GetFullPath(Path.Combine(DotNetRuntimeDir, "../../.."));

    /// <summary>What a framework-dependent .NET app needs inside: the runtime, its app directory, the native libraries'
    /// dependencies, /proc, /tmp. It starts unfiltered, so the policy only has to cover what runs after SandboxMeHere.</summary>
    static PolicyBuilder ForDotNet(string apphost)
    {
        var b = new PolicyBuilder().AddDirectory(DotNetRoot).AddDirectory(Path.GetDirectoryName(apphost)!)
            .AddLibrariesForBinary(apphost);
        foreach (var so in (string[])["libcoreclr.so", "libclrjit.so", "libSystem.Native.so", "libhostpolicy.so"])
            b.AddLibrariesForBinary(Path.Combine(DotNetRuntimeDir, so));
        return b.AddProc().AddMinimalDev().AddTmpfs("/tmp", 64 << 20);
    }

    static Dictionary<string, string> DotNetEnv(params (string, string)[] extra)
    {
        var env = new Dictionary<string, string>
        {
            ["PATH"] = Executor.DefaultPath, ["DOTNET_ROOT"] = DotNetRoot, ["HOME"] = "/tmp",
            ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1", ["DOTNET_EnableDiagnostics"] = "0", ["DOTNET_gcServer"] = "0",
        };
        foreach (var (k, v) in extra) env[k] = v;
        return env;
    }

    static Executor MeHere(string program, string[] args, IReadOnlyDictionary<string, string>? env = null, TimeSpan? wall = null)
    {
        var e = new Executor(program, args, env) { EnableSandboxBeforeExec = false };
        e.Limits.WallTime = wall ?? TimeSpan.FromSeconds(30);
        e.Limits.AddressSpace = null;
        return e;
    }

    /// <summary>The handshake finished (the program's own Comms messages follow); else fail with the result.</summary>
    static async Task AssertReadyAsync(Sandbox sandbox, Task<SandboxResult> run)
    {
        if (!await sandbox.Ready.WaitAsync(Timeout)) Assert.Fail("not sandboxed: " + await run.WaitAsync(Timeout));
    }

    static async Task<int[]> ReadThreadReportAsync(Comms comms, CancellationToken ct)
    {
        int tasks = await comms.ReceiveInt32Async(ct);
        int filtered = await comms.ReceiveInt32Async(ct);
        Assert.True(tasks == filtered, $"{filtered} of {tasks} tasks show Seccomp: 2");
        int count = await comms.ReceiveInt32Async(ct);
        var results = new int[count];
        for (int i = 0; i < count; i++) results[i] = await comms.ReceiveInt32Async(ct);
        return [tasks, .. results];
    }

    // ------------------------------------------------------------------ C client

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CClientPthreadsAreAllFilteredAndMonitored(bool isStatic)
    {
        string program = TestPaths.Testcase(isStatic ? "comms_sandbox-static" : "comms_sandbox");
        var notify = new TracingNotify();
        await using var sandbox = new Sandbox(MeHere(program, ["threads"]), ForC(program, SyscallAction.Trace).Build(), notify);
        using var cts = new CancellationTokenSource(Timeout);
        var run = sandbox.RunAsync(cts.Token);
        Assert.Throws<InvalidOperationException>(() => sandbox.Comms); // the handshake's until Ready
        await AssertReadyAsync(sandbox, run);
        Assert.NotNull(sandbox.Comms);
        int[] report = await ReadThreadReportAsync(sandbox.Comms, cts.Token);
        var result = await run.WaitAsync(Timeout);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
        Assert.True(report[0] >= 4, $"only {report[0]} tasks were alive");
        // main, 3 pthreads started before SandboxMeHere and one after: each one's getppid went to the monitor.
        Assert.Equal(Enumerable.Repeat(TestBpf.TestErrno, 5), report[1..]);
        Assert.Equal(5, notify.Pids.Distinct().Count());
    }

    [Fact]
    public async Task CClientForbiddenSyscallOnAPthreadIsAViolation()
    {
        string program = TestPaths.Testcase("comms_sandbox");
        await using var sandbox = new Sandbox(MeHere(program, ["kill"]), ForC(program, SyscallAction.Violation).Build());
        var result = await sandbox.RunAsync().WaitAsync(Timeout);
        Assert.True(result.Status == SandboxStatus.Violation, result.ToString());
        Assert.Equal("getppid", result.Violation?.SyscallName);
        Assert.NotEqual(2, result.Violation!.Pid); // a worker thread, not the main thread (PID 2)
    }

    [Fact]
    public async Task CClientWithoutTsyncRefusesAndTheResultSaysWhy()
    {
        string program = TestPaths.Testcase("comms_sandbox");
        var env = new Dictionary<string, string> { [SandboxClient.NoTsyncTestVariable] = "1" };
        await using var sandbox = new Sandbox(MeHere(program, ["no-tsync"], env), ForC(program, SyscallAction.Trace).Build());
        var result = await sandbox.RunAsync().WaitAsync(Timeout);
        Assert.True(result.Status == SandboxStatus.SetupError, result.ToString());
        Assert.Equal(ReasonCode.FailedSandboxMeHere, result.ReasonCode);
        Assert.Matches("EINVAL.*2 threads; thread [0-9]+ \"worker\" could not be synchronised", result.Reason);
    }

    [Fact]
    public async Task MappedDescriptorsCwdAndCommsTrafficArrive()
    {
        string program = TestPaths.Testcase("comms_sandbox");
        var executor = MeHere(program, ["mapped"]);
        executor.Cwd = "/tmp";
        var (r1, w1) = CommsTests.Pipe();
        var (r2, w2) = CommsTests.Pipe();
        using (var s = new FileStream(w1, FileAccess.Write, 1)) s.Write("by name"u8);
        using (var s = new FileStream(w2, FileAccess.Write, 1)) s.Write("by number"u8);
        executor.Ipc.MapFd(r1, "input");
        executor.Ipc.MapFd(r2, 100);
        await using var sandbox = new Sandbox(executor, ForC(program, SyscallAction.Trace).Build());
        using var cts = new CancellationTokenSource(Timeout);
        var run = sandbox.RunAsync(cts.Token);
        await AssertReadyAsync(sandbox, run);
        var comms = sandbox.Comms!;
        Assert.Equal("by name"u8.ToArray(), await comms.ReceiveBytesAsync(cts.Token));
        Assert.Equal("by number"u8.ToArray(), await comms.ReceiveBytesAsync(cts.Token));
        Assert.Equal(-1, await comms.ReceiveInt32Async(cts.Token));
        Assert.Equal("/tmp", await comms.ReceiveStringAsync(cts.Token));
        var result = await run.WaitAsync(Timeout);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task Crc4ExampleSandboxesItselfAndComputesOverComms()
    {
        string program = TestPaths.Example("crc4_sandboxee");
        var policy = new PolicyBuilder().AllowDynamicStartup().AllowSystemMalloc().AllowExit()
            .AllowSyscalls("recvmsg", "sendmsg", "write", "shutdown").AddLibrariesForBinary(program).Build();
        var executor = MeHere(program, ["--sandbox-me-here"]);
        var (errRead, errWrite) = CommsTests.Pipe();
        executor.Stderr = errWrite;
        await using var sandbox = new Sandbox(executor, policy);
        using var cts = new CancellationTokenSource(Timeout);
        var run = sandbox.RunAsync(cts.Token);
        await AssertReadyAsync(sandbox, run);
        var comms = sandbox.Comms!;
        try
        {
            foreach (byte[] data in (byte[][])[[1, 2, 3, 4, 5], new byte[100_000], "crc4 over Comms"u8.ToArray()])
            {
                await comms.SendBytesAsync(data, cts.Token);
                Assert.Equal(CommsCrossProcessTests.Crc4(data), await comms.ReceiveUint32Async(cts.Token));
            }
        }
        catch (CommsException e)
        {
            var r = await run.WaitAsync(Timeout);
            errWrite.Dispose();
            using var fs = new FileStream(errRead, FileAccess.Read, 1);
            Assert.Fail($"{e.Message}; {r}; stderr: {new StreamReader(fs).ReadToEnd()}");
        }
        comms.Dispose(); // hang up: crc4 exits 0
        var result = await run.WaitAsync(Timeout);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task Crc4RunsSandboxedBeforeExecWithACommsChannel()
    {
        string program = TestPaths.Example("crc4_sandboxee-static");
        var policy = new PolicyBuilder().AllowStaticStartup().AllowSystemMalloc().AllowExit()
            .AllowSyscalls("recvmsg", "sendmsg", "write", "shutdown").AddLibrariesForBinary(program).Build();
        var executor = new Executor(program) { EnableComms = true };
        await using var sandbox = new Sandbox(executor, policy);
        using var cts = new CancellationTokenSource(Timeout);
        var run = sandbox.RunAsync(cts.Token);
        await sandbox.Comms!.SendBytesAsync(new byte[] { 9, 8, 7 }, cts.Token);
        Assert.Equal(CommsCrossProcessTests.Crc4([9, 8, 7]), await sandbox.Comms.ReceiveUint32Async(cts.Token));
        sandbox.Comms.Dispose();
        var result = await run.WaitAsync(Timeout);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task IpcMapFdBeforeExecPutsTheDescriptorAtItsNumber()
    {
        const string bash = "/bin/bash";
        var (r, w) = CommsTests.Pipe();
        using (var s = new FileStream(w, FileAccess.Write, 1)) s.Write("mapped line\n"u8);
        var o = await SandboxTests.Run(bash, ["-c", "read -r line <&5 && echo \"got: $line\""],
            policy: b => b.AllowSyscalls("getpeername"), configure: e => e.Ipc.MapFd(r, 5));
        Assert.True(o.Result.Status == SandboxStatus.Ok && o.Result.ExitCode == 0, o.ToString());
        Assert.Equal("got: mapped line\n", o.Stdout);
    }

    [Fact]
    public async Task IpcMapFdByNameWorksBeforeExecToo()
    {
        // Issue 14: a name reaches a program sandboxed before exec in SANDBOX2_FD_MAPPINGS (Sandbox2Port/IpcTests
        // exercise the descriptor itself); here the environment shows the number it got.
        var (r, w) = CommsTests.Pipe();
        w.Dispose();
        var o = await SandboxTests.Run("/usr/bin/env", [], configure: e => e.Ipc.MapFd(r, "input"));
        Assert.True(o.Result.Status == SandboxStatus.Ok && o.Result.ExitCode == 0, o.ToString());
        Assert.Contains("SANDBOX2_FD_MAPPINGS=input:1023", o.Stdout);
    }

    // ------------------------------------------------------------------ AllowSeccompSpeculation (both clients)

    // The flags the client passes in SandboxMeHere mode (a Sandbox always takes the listener): TSYNC | NEW_LISTENER |
    // TSYNC_ESRCH, and SPEC_ALLOW when the policy allows speculation.
    const uint FlagsByDefault = 0x1 | 0x8 | 0x10, FlagsWithSpeculation = FlagsByDefault | 0x4;

    static readonly string SsbMode = File.ReadAllText("/sys/devices/system/cpu/vulnerabilities/spec_store_bypass").Trim();

    /// <summary>What every thread's <c>Speculation_Store_Bypass:</c> in /proc/self/status says after the client installed
    /// the filter. Only where the kernel's mitigation mode is <c>seccomp</c> does a filter change it: installed without
    /// SECCOMP_FILTER_FLAG_SPEC_ALLOW the kernel force-disables speculative store bypass ("thread force mitigated"), with it
    /// the thread stays prctl-controlled and enabled ("thread vulnerable"). In every other mode the kernel ignores seccomp
    /// here and says the same either way: this machine's mode is "Vulnerable" (no mitigation at all), which makes it
    /// "vulnerable"; "Not affected" CPUs say "not vulnerable", a prctl-only mitigation "thread vulnerable" (nothing asked
    /// for it), the global one "globally mitigated". The flags themselves are checked by the kernel too, on any CPU: see
    /// <see cref="AssertSpeculationAsync"/>.</summary>
    static string ExpectedSsb(bool speculationAllowed) => SsbMode switch
    {
        _ when SsbMode.Contains("seccomp", StringComparison.Ordinal) => speculationAllowed ? "thread vulnerable" : "thread force mitigated",
        "Vulnerable" => "vulnerable",
        "Not affected" => "not vulnerable",
        _ when SsbMode.EndsWith("via prctl", StringComparison.Ordinal) => "thread vulnerable",
        "Mitigation: Speculative Store Bypass disabled" => "globally mitigated",
        _ => throw new InvalidOperationException($"unknown spec_store_bypass mode \"{SsbMode}\""),
    };

    /// <summary>Runs the "speculation" mode of a client program and returns the Speculation_Store_Bypass values it saw, or the
    /// result when the handshake did not finish.</summary>
    static async Task<(string? Ssb, SandboxResult Result)> SpeculationAsync(Executor executor, Sandbox2.Policy policy)
    {
        await using var sandbox = new Sandbox(executor, policy);
        using var cts = new CancellationTokenSource(Timeout);
        var run = sandbox.RunAsync(cts.Token);
        if (!await sandbox.Ready.WaitAsync(Timeout)) return (null, await run.WaitAsync(Timeout));
        string ssb = await sandbox.Comms!.ReceiveStringAsync(cts.Token);
        return (ssb, await run.WaitAsync(Timeout));
    }

    /// <summary>For a client program (<paramref name="executor"/>(args) makes one): the value every thread reports after
    /// SandboxMeHere is <see cref="ExpectedSsb"/>; and under a filter installed first that lets the client's seccomp() through
    /// only with exactly the flags expected (else EXDEV), the client gets through with <paramref name="speculationAllowed"/>'s
    /// flags and is refused with the other ones — so the flag is proven on the real kernel whatever the CPU's mode.</summary>
    static async Task AssertSpeculationAsync(Func<string[], Executor> executor, PolicyBuilder policy, bool speculationAllowed)
    {
        if (speculationAllowed) policy.AllowSeccompSpeculation();
        var built = policy.Build();
        var (ssb, result) = await SpeculationAsync(executor(["speculation"]), built);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
        Assert.Equal(ExpectedSsb(speculationAllowed), ssb);

        uint right = speculationAllowed ? FlagsWithSpeculation : FlagsByDefault, wrong = right ^ 0x4;
        (ssb, result) = await SpeculationAsync(executor(["speculation", right.ToString("x", System.Globalization.CultureInfo.InvariantCulture)]), built);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
        Assert.Equal(ExpectedSsb(speculationAllowed), ssb);

        (ssb, result) = await SpeculationAsync(executor(["speculation", wrong.ToString("x", System.Globalization.CultureInfo.InvariantCulture)]), built);
        Assert.Null(ssb);
        Assert.True(result.Status == SandboxStatus.SetupError && result.ReasonCode == ReasonCode.FailedSandboxMeHere, result.ToString());
        Assert.Contains("seccomp(SECCOMP_SET_MODE_FILTER): Invalid cross-device link", result.Reason); // EXDEV: the flags differed
    }

    [Fact]
    public Task CClientSpeculationAllowed()
    {
        string program = TestPaths.Testcase("comms_sandbox");
        return AssertSpeculationAsync(args => MeHere(program, args), ForC(program, null), speculationAllowed: true);
    }

    [Fact]
    public Task CClientSpeculationBlockedByDefault()
    {
        string program = TestPaths.Testcase("comms_sandbox");
        return AssertSpeculationAsync(args => MeHere(program, args), ForC(program, null), speculationAllowed: false);
    }

    [Fact]
    public Task CSharpSandboxeeSpeculationAllowed()
    {
        string apphost = TestPaths.CSharpSandboxee;
        return AssertSpeculationAsync(args => MeHere(apphost, args, DotNetEnv()), ForDotNet(apphost).AllowDotNetRuntime(), speculationAllowed: true);
    }

    [Fact]
    public Task CSharpSandboxeeSpeculationBlockedByDefault()
    {
        string apphost = TestPaths.CSharpSandboxee;
        return AssertSpeculationAsync(args => MeHere(apphost, args, DotNetEnv()), ForDotNet(apphost).AllowDotNetRuntime(), speculationAllowed: false);
    }

    // ------------------------------------------------------------------ programs that do not play along

    [Fact]
    public async Task AProgramThatNeverCallsSandboxMeHereIsBoundedByTheWallTime()
    {
        const string program = "/bin/sleep";
        var policy = ForC(program, null).Build();
        await using var sandbox = new Sandbox(MeHere(program, ["30"], wall: TimeSpan.FromMilliseconds(500)), policy);
        var result = await sandbox.RunAsync().WaitAsync(Timeout);
        Assert.True(result.Status == SandboxStatus.Timeout, result.ToString());
    }

    [Fact]
    public async Task AProgramThatClosesItsCommsChannelAndRunsOnIsStopped()
    {
        const string bash = "/bin/bash";
        var (stdinRead, stdinWrite) = CommsTests.Pipe(); // never written: `read` waits
        using (stdinWrite)
        {
            var executor = MeHere(bash, ["-c", "exec 1023>&-; read -r -t 20 line; exit 7"]);
            executor.Stdin = stdinRead;
            await using var sandbox = new Sandbox(executor, ForC(bash, null).Build());
            var clock = Stopwatch.StartNew();
            var result = await sandbox.RunAsync().WaitAsync(Timeout);
            Assert.True(result.Status == SandboxStatus.SetupError, result.ToString());
            Assert.Equal(ReasonCode.FailedSandboxMeHere, result.ReasonCode);
            Assert.Contains("closed its Comms channel", result.Reason);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), clock.Elapsed.ToString());
        }
    }

    [Fact]
    public async Task AProgramThatExitsWithoutSandboxMeHereReportsItsExit()
    {
        const string bash = "/bin/bash";
        await using var sandbox = new Sandbox(MeHere(bash, ["-c", "exit 7"]), ForC(bash, null).Build());
        var result = await sandbox.RunAsync().WaitAsync(Timeout);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 7, result.ToString());
    }

    [Fact]
    public async Task APolicyThatForbidsTheHandshakesSendmsgIsRefused()
    {
        string program = TestPaths.Testcase("comms_sandbox");
        var policy = new PolicyBuilder().AddPolicyOnSyscall("sendmsg", Arg.Of(0).GreaterOrEqual(0), SyscallAction.Violation)
            .AllowDefaultTools().AddLibrariesForBinary(program).Build();
        await using var sandbox = new Sandbox(MeHere(program, ["single"]), policy);
        var result = await sandbox.RunAsync().WaitAsync(Timeout);
        Assert.True(result.Status == SandboxStatus.SetupError, result.ToString());
        Assert.Equal(ReasonCode.FailedPolicy, result.ReasonCode);
        Assert.Contains("SandboxMeHere needs sendmsg", result.Reason);
    }

    // ------------------------------------------------------------------ the CLI

    [Fact]
    public async Task CliSandboxAfterStartRunsAClientProgram()
    {
        var r = await Cli.CliRunner.RunAsync("run", "--sandbox-after-start", "--time-limit", "30", "--", TestPaths.Testcase("comms_sandbox"), "single");
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    [Fact]
    public async Task CliSandboxAfterStartReportsARefusingClient()
    {
        var r = await Cli.CliRunner.RunAsync("run", "--sandbox-after-start", "--env", SandboxClient.NoTsyncTestVariable + "=1", "--result", "-",
            "--", TestPaths.Testcase("comms_sandbox"), "no-tsync");
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains("SETUP_ERROR", r.Stderr);
        Assert.Contains("could not be synchronised", r.Stderr);
    }

    // ------------------------------------------------------------------ C# client (framework-dependent .NET inside)

    [Fact]
    public async Task CSharpSandboxeeReceivesOverCommsAfterSandboxMeHereWithAllowDotNetRuntimeAlone()
    {
        string apphost = TestPaths.CSharpSandboxee;
        var policy = ForDotNet(apphost).AllowDotNetRuntime().Build();
        await using var sandbox = new Sandbox(MeHere(apphost, ["echo"], DotNetEnv()), policy);
        using var cts = new CancellationTokenSource(Timeout);
        var run = sandbox.RunAsync(cts.Token);
        await AssertReadyAsync(sandbox, run);
        await sandbox.Comms!.SendStringAsync("hello over comms", cts.Token);
        Assert.Equal("HELLO OVER COMMS", await sandbox.Comms.ReceiveStringAsync(cts.Token));
        var result = await run.WaitAsync(Timeout);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task CSharpSandboxeeEveryThreadIsFilteredAndMonitored()
    {
        string apphost = TestPaths.CSharpSandboxee;
        var notify = new TracingNotify();
        var policy = ForDotNet(apphost).AddPolicyOnSyscall(Getpgrp, Arg.Of(0).GreaterOrEqual(0), SyscallAction.Trace).AllowDotNetRuntime().Build();
        var env = DotNetEnv(("SANDBOX2_TEST_PROBE_NR", Getpgrp.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await using var sandbox = new Sandbox(MeHere(apphost, ["threads"], env), policy, notify);
        using var cts = new CancellationTokenSource(Timeout);
        var clock = Stopwatch.StartNew();
        var run = sandbox.RunAsync(cts.Token);
        while (sandbox.InitPid is null && !run.IsCompleted) await Task.Delay(1);
        var spawned = clock.Elapsed;
        await AssertReadyAsync(sandbox, run);
        var ready = clock.Elapsed;
        int[] report = await ReadThreadReportAsync(sandbox.Comms!, cts.Token);
        var reported = clock.Elapsed;
        var result = await run.WaitAsync(Timeout);
        output.WriteLine($"C# SandboxMeHere sandboxee: spawned after {spawned.TotalMilliseconds:0} ms, ready after {ready.TotalMilliseconds:0} ms, report after {reported.TotalMilliseconds:0} ms, result after {clock.Elapsed.TotalMilliseconds:0} ms: {result}");
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
        Assert.True(report[0] >= 5, $"only {report[0]} threads were alive");
        // main, the plain Thread, the Task loop, a Task.Run and a Thread started afterwards: all went to the monitor.
        Assert.Equal(Enumerable.Repeat(TestBpf.TestErrno, 5), report[1..]);
        // The plain Thread, the late Thread and at least one pool thread are distinct (code after an await, the Task loop
        // and Task.Run may share pool threads).
        Assert.True(notify.Pids.Distinct().Count() >= 3, $"traced from threads {string.Join(",", notify.Pids)}");
    }

    [Fact]
    public async Task CSharpSandboxeeForbiddenSyscallOnAPoolThreadIsAViolation()
    {
        string apphost = TestPaths.CSharpSandboxee;
        var policy = ForDotNet(apphost).AllowDotNetRuntime().Build();
        var env = DotNetEnv(("SANDBOX2_TEST_PROBE_NR", Getpgrp.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await using var sandbox = new Sandbox(MeHere(apphost, ["kill"], env), policy);
        var result = await sandbox.RunAsync().WaitAsync(Timeout);
        Assert.True(result.Status == SandboxStatus.Violation, result.ToString());
        Assert.Equal("getpgrp", result.Violation?.SyscallName);
        Assert.NotEqual(2, result.Violation!.Pid);
    }

    [Fact]
    public async Task CSharpSandboxeeWithoutTsyncRefusesAndTheResultNamesTheThread()
    {
        string apphost = TestPaths.CSharpSandboxee;
        var policy = ForDotNet(apphost).AllowDotNetRuntime().Build();
        await using var sandbox = new Sandbox(MeHere(apphost, ["no-tsync"], DotNetEnv((SandboxClient.NoTsyncTestVariable, "1"))), policy);
        var result = await sandbox.RunAsync().WaitAsync(Timeout);
        Assert.True(result.Status == SandboxStatus.SetupError, result.ToString());
        Assert.Equal(ReasonCode.FailedSandboxMeHere, result.ReasonCode);
        Assert.Matches("EINVAL.*threads; thread [0-9]+ \".*\".* could not be synchronised", result.Reason);
    }

    [Fact]
    public async Task CSharpExampleWorksOnItsInputAndIsStoppedWhenItOpensAnotherFile()
    {
        string apphost = TestPaths.Bin("SandboxMeHere", "Sandbox2.Examples.SandboxMeHere");
        string input = Path.Combine(Path.GetTempPath(), $"s2-example-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(input, "one two three\nfour five\n");
        try
        {
            // Once sandboxed the example may read what it holds, but opening anything is a violation.
            var policy = ForDotNet(apphost).AddFile(input).AddFile("/etc/hostname")
                .AddPolicyOnSyscalls(["open", "openat"], Arg.Of(0).GreaterOrEqual(0), SyscallAction.Violation)
                .AllowDotNetRuntime().Build();
            await using var sandbox = new Sandbox(MeHere(apphost, [input, "--then-open", "/etc/hostname"], DotNetEnv()), policy);
            using var cts = new CancellationTokenSource(Timeout);
            var run = sandbox.RunAsync(cts.Token);
            await AssertReadyAsync(sandbox, run);
            Assert.Equal(5L, await sandbox.Comms!.ReceiveInt64Async(cts.Token));
            Assert.Equal(2L, await sandbox.Comms.ReceiveInt64Async(cts.Token));
            var result = await run.WaitAsync(Timeout);
            Assert.True(result.Status == SandboxStatus.Violation, result.ToString());
            Assert.Equal("openat", result.Violation?.SyscallName);
        }
        finally
        {
            File.Delete(input);
        }
    }
}
