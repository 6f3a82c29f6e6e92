using System.Text.RegularExpressions;
using Sandbox2.Tests.ForkServerLayer;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Monitoring;

/// <summary>The monitor on real sandboxes (forkserver, namespaces, pid 1 init): the policy compiled with MonitorAttached
/// and the exec nonce, the listener sent back by the sandboxee before exec, violations killing the whole sandbox.</summary>
public class SandboxMonitorTests(ITestOutputHelper log)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private const ulong Nonce = 0x1234_5678_9abc_def0; // FsPlans.Probe's

    /// <summary>What mon_notifychild-static needs inside a sandbox (static startup, output, threads, fork).</summary>
    internal static PolicyBuilder BasePolicy(bool allowGetppid = true)
    {
        var b = BasePolicyWithoutGetppid();
        return allowGetppid ? b.AllowSyscall("getppid") : b;
    }

    private static PolicyBuilder BasePolicyWithoutGetppid() => new PolicyBuilder()
        .AllowStaticStartup().AllowWrite().AllowExit().AllowSleep().AllowFork().AllowWait().AllowFutex()
        .AllowSystemMalloc().AllowMmapWithoutExec().AllowMprotectWithoutExec().AllowRestartableSequences()
        .AllowSyscalls("brk", "set_tid_address", "set_robust_list", "rseq", "arch_prctl", "rt_sigprocmask", "prctl", "madvise", "munmap", "mremap", "exit", "exit_group", "write", "clone", "wait4", "clock_nanosleep", "nanosleep", "getpid", "gettid", "futex", "mmap", "pause");
    // ^ explicit: main's nested preset helpers (AllowStaticStartup...) are skipped by a once-guard (fixed in the policy branch)

    internal sealed record Run(NativeExitReport Report, MonitoredSandbox Target, string Output);

    internal static async Task<Run> RunInSandbox(Sandbox2.Policy policy, string[] args, Notify? notify = null, bool stackTrace = false)
    {
        var options = new PolicyCompileOptions(MonitorAttached: true, ExecNonce: Nonce);
        byte[] bpf = policy.Compile(options).ToBytes();
        var (read, write) = FsPlans.Pipe();
        using (read)
        {
            var plan = FsPlans.Probe(write, args, bpf: bpf, program: "mon_notifychild-static", notify: true);
            SpawnedSandbox spawned;
            try { spawned = await ForkServer.Global.SpawnAsync(plan); }
            finally { write.Dispose(); plan.ProgramFd.Dispose(); }
            using (spawned)
            {
                var target = new MonitoredSandbox(policy, options, notify, stackTrace, spawned.Kill);
                using var attachment = await target.AttachAsync(spawned).WaitAsync(Timeout);
                var output = FsPlans.ReadAll(read);
                var report = await spawned.Completion.WaitAsync(Timeout);
                return new Run(report, target, await output.WaitAsync(Timeout));
            }
        }
    }

    [Fact]
    public async Task Ptrace_KillsTheSandbox_ReportNamesPtrace()
    {
        var run = await RunInSandbox(BasePolicy().Build(), ["ptrace", "="]);
        log.WriteLine(run.Output);
        var v = run.Target.Violation;
        Assert.NotNull(v);
        Assert.Equal("ptrace", v.Syscall.Name);
        Assert.Equal(2, v.NamespacePid); // the sandboxee is pid 2 inside
        Assert.StartsWith("[X86-64] ptrace(", v.Description, StringComparison.Ordinal);
        Assert.True(run.Report.Killed);
        Assert.Equal(9, run.Report.Signal);
        Assert.DoesNotContain("ptrace=", run.Output);
    }

    [Fact]
    public async Task X32_IsAViolationInASandbox()
    {
        var run = await RunInSandbox(BasePolicy().Build(), ["x32", "="]);
        Assert.Equal(SyscallArch.X32, run.Target.Violation?.Syscall.Arch);
        Assert.StartsWith("[X32] getpid(", run.Target.Violation!.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EighthThread_AndGrandchild_AreReported()
    {
        var t = await RunInSandbox(BasePolicy().Build(), ["thread8", "="]);
        Assert.True(t.Target.Violation?.ThreadName == "worker8", t.Target.Violation?.Description);
        Assert.Matches(@"tid8=\d+", t.Output);
        Assert.Equal(int.Parse(Regex.Match(t.Output, @"tid8=(\d+)").Groups[1].Value), t.Target.Violation!.NamespacePid);

        var g = await RunInSandbox(BasePolicy().Build(), ["grandchild", "="]);
        Assert.True(g.Target.Violation?.ThreadName == "grandchild", g.Target.Violation?.Description);
        Assert.Equal(int.Parse(Regex.Match(g.Output, @"grandchild=(\d+)").Groups[1].Value), g.Target.Violation!.NamespacePid);
        Assert.Equal(9, g.Report.Signal);
    }

    private sealed class PersonalityErrno : Notify
    {
        public override ValueTask<TraceAction> EventSyscallTraceAsync(Syscall syscall, CancellationToken cancellationToken) =>
            ValueTask.FromResult(syscall.Name == "personality" ? TraceAction.Errno(1) : TraceAction.Allow);
    }

    [Fact]
    public async Task TraceHandler_AnswersPersonalityWithAnErrno()
    {
        var policy = BasePolicy().TraceSyscall("personality").AllowSyscall("getuid").Build();
        var run = await RunInSandbox(policy, ["trace", "="], new PersonalityErrno());
        log.WriteLine(run.Output);
        Assert.Null(run.Target.Violation);
        Assert.Equal(0, run.Report.ExitCode);
        Assert.Contains("getppid=1/0", run.Output); // pid 2's parent is the sandbox's init
        Assert.Contains("uname=0/0", run.Output);
        Assert.Contains("personality=-1/1", run.Output);
        Assert.Contains("getuid=1000/0", run.Output);
    }

    [Fact]
    public async Task StackTrace_FromInsideTheSandbox_NamesMainAndTheFunction()
    {
        var run = await RunInSandbox(BasePolicy().Build(), ["stack", "="], stackTrace: true);
        var frames = run.Target.Violation?.StackTrace;
        Assert.NotNull(frames);
        foreach (var f in frames) log.WriteLine(f);
        if (Symbolization.Unsymbolized(frames)) return;
        Assert.Contains(frames, f => Regex.IsMatch(f, @"^#\d+ 0x[0-9a-f]{16} mon_violate_in_function\+0x[0-9a-f]+ \(/"));
        Assert.Contains(frames, f => Regex.IsMatch(f, @"^#\d+ 0x[0-9a-f]{16} main\+0x[0-9a-f]+ \(/"));
    }
}

/// <summary>"If the monitor dies, the sandboxee must not run free": what happens to a sandboxee held in a notified
/// syscall when nobody answers, when the listener closes, and when the executor (forkserver control socket) goes.</summary>
public class MonitorGoneTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static async Task<(ForkServer Server, SpawnedSandbox Sandbox, SafeFdHandle Listener, SafeFdHandle Output)> StartHeld()
    {
        var policy = SandboxMonitorTests.BasePolicy(allowGetppid: false).Build(); // getppid: a violation
        var options = new PolicyCompileOptions(MonitorAttached: true, ExecNonce: 0x1234_5678_9abc_def0);
        var server = ForkServer.Start();
        var (read, write) = FsPlans.Pipe();
        var plan = FsPlans.Probe(write, ["block", "="], bpf: policy.Compile(options).ToBytes(), program: "mon_notifychild-static", notify: true);
        SpawnedSandbox sandbox;
        try { sandbox = await server.SpawnAsync(plan); }
        finally { write.Dispose(); plan.ProgramFd.Dispose(); }
        var listener = await sandbox.SeccompListener.WaitAsync(Timeout);
        Assert.NotNull(listener);
        await Monitor.Shared.WaitReadableAsync(listener).WaitAsync(Timeout); // held in the notified syscall
        return (server, sandbox, listener, read);
    }

    [Fact]
    public async Task ExecutorGone_HeldSandboxIsKilled_SyscallNeverReturns()
    {
        var (server, sandbox, listener, output) = await StartHeld();
        using (sandbox)
        using (listener)
        using (output)
        {
            server.Dispose(); // the executor's end of the control socket closes: forkserver exits, init gets PDEATHSIG
            var report = await sandbox.Completion.WaitAsync(Timeout);
            Assert.Null(report.ExitCode);
            string rest = await FsPlans.ReadAll(output).WaitAsync(Timeout); // EOF: every process of the sandbox is gone
            Assert.DoesNotContain("getppid=", rest);
        }
    }

    [Fact]
    public async Task ListenerClosed_HeldSyscallFailsWithEnosys_NeverRuns()
    {
        var (server, sandbox, listener, output) = await StartHeld();
        using (server)
        using (sandbox)
        using (output)
        {
            listener.Dispose(); // the monitor is gone but the executor lives
            var report = await sandbox.Completion.WaitAsync(Timeout);
            string text = await FsPlans.ReadAll(output).WaitAsync(Timeout);
            Assert.Contains("getppid=-1/38", text); // ENOSYS: the forbidden syscall did not run
            Assert.Equal(0, report.ExitCode);
        }
    }
}
