using Microsoft.Win32.SafeHandles;
using Sandbox2.Tests.ForkServerLayer;

namespace Sandbox2.Tests.Monitoring;

/// <summary>The monitor through the public API: <see cref="Sandbox"/> results (violation, stack traces on violation,
/// timeout and kill) and the <see cref="Notify"/> hooks.</summary>
public class SandboxApiMonitorTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static Executor Exec(string[] args, SafeFileHandle? stdout = null, TimeSpan? wall = null) =>
        new(NotifyChild.TestcasePath("mon_notifychild-static"), args)
        {
            Stdout = stdout,
            Stderr = stdout,
            Limits = new Limits { WallTime = wall ?? TimeSpan.FromSeconds(30) },
        };

    [Fact]
    public async Task Violation_IsReportedWithSyscallPidAndStackTrace()
    {
        await Monitor.WarmUpStackTraces().WaitAsync(Timeout);
        await using var sandbox = new Sandbox(Exec(["stack", "="]), SandboxMonitorTests.BasePolicy().Build());
        var result = await sandbox.RunAsync().WaitAsync(Timeout);
        Assert.Equal(SandboxStatus.Violation, result.Status);
        Assert.NotNull(result.Violation);
        Assert.Equal("ptrace", result.Violation.SyscallName);
        Assert.Equal(101, result.Violation.Number);
        Assert.Equal(2, result.Violation.Pid);
        Assert.StartsWith("[X86-64] ptrace(", result.Violation.Description, StringComparison.Ordinal);
        Assert.NotNull(result.StackTrace); // on by default, as in Sandbox2
        if (Symbolization.Unsymbolized(result.StackTrace)) return;
        Assert.Contains(result.StackTrace, f => f.Contains(" mon_violate_in_function+", StringComparison.Ordinal));
        Assert.Contains(result.StackTrace, f => f.Contains(" main+", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Timeout_WithStackTraces_ShowsWhereTheSandboxeeWas()
    {
        var policy = SandboxMonitorTests.BasePolicy().CollectStacktracesOnTimeout(true).Build();
        await using var sandbox = new Sandbox(Exec(["sleep", "=", "20000"]), policy);
        var run = sandbox.RunAsync();
        // The state the test needs: the sandboxee is in main's nanosleep. Only then does the wall-time limit run out.
        await UntilSleeping(sandbox);
        sandbox.SetWallTimeLimit(TimeSpan.FromMilliseconds(1));
        var result = await run.WaitAsync(Timeout);
        Assert.Equal(SandboxStatus.Timeout, result.Status);
        Assert.NotNull(result.StackTrace);
        if (Symbolization.Unsymbolized(result.StackTrace)) return;
        Assert.True(result.StackTrace[0].Contains("nanosleep", StringComparison.Ordinal), string.Join('\n', result.StackTrace));
        Assert.Contains(result.StackTrace, f => f.Contains(" main+", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Kill_WithoutStackTraces_HasNone_WithThem_HasOne()
    {
        await using (var plain = new Sandbox(Exec(["sleep", "=", "20000"]), SandboxMonitorTests.BasePolicy().Build()))
        {
            var run = plain.RunAsync();
            await UntilSleeping(plain);
            plain.Kill();
            var r = await run.WaitAsync(Timeout);
            Assert.Equal(SandboxStatus.ExternalKill, r.Status);
            Assert.Null(r.StackTrace);
        }
        var policy = SandboxMonitorTests.BasePolicy().CollectStacktracesOnKill(true).Build();
        await using var traced = new Sandbox(Exec(["sleep", "=", "20000"]), policy);
        var running = traced.RunAsync();
        await UntilSleeping(traced);
        traced.Kill();
        var result = await running.WaitAsync(Timeout);
        Assert.Equal(SandboxStatus.ExternalKill, result.Status);
        Assert.True(result.StackTrace is not null, result.Reason);
        if (Symbolization.Unsymbolized(result.StackTrace)) return;
        Assert.Contains(result.StackTrace, f => f.Contains(" main+", StringComparison.Ordinal));
    }

    /// <summary>Until the sandboxee (PID 2) sleeps in nanosleep (called from main), so a kill or timeout finds it there,
    /// and the tracer's code is compiled (the JIT alone can outlast a trace's budget on an overloaded machine).
    /// Polls the state; the deadline is only a safety net.</summary>
    private static async Task UntilSleeping(Sandbox sandbox)
    {
        await Monitor.WarmUpStackTraces().WaitAsync(Timeout);
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (sandbox.InitPid is int init && StackTrace.FindSandboxee(init) is int pid
                    && File.ReadAllText($"/proc/{pid}/wchan").Contains("nanosleep", StringComparison.Ordinal)) return;
            }
            catch (IOException) { } // between exec and the first look, the pid may come and go
            await Task.Delay(10);
        }
        throw new TimeoutException("the sandboxee did not start sleeping");
    }

    private sealed class Hooks : Notify
    {
        public int StartedPid;
        public SandboxResult? Finished;
        public readonly List<string> Traced = [];
        public override ValueTask<bool> EventStartedAsync(int pid, CancellationToken cancellationToken)
        {
            StartedPid = pid;
            return ValueTask.FromResult(true);
        }
        public override ValueTask EventFinishedAsync(SandboxResult result, CancellationToken cancellationToken)
        {
            Finished = result;
            return ValueTask.CompletedTask;
        }
        public override async ValueTask<TraceAction> EventSyscallTraceAsync(Syscall syscall, CancellationToken cancellationToken)
        {
            lock (Traced) Traced.Add(syscall.Name);
            await Task.Delay(1, cancellationToken);
            return syscall.Name == "personality" ? TraceAction.Errno(1) : TraceAction.Deny;
        }
    }

    [Fact]
    public async Task NotifyHooks_StartedTraceFinished_PersonalityAnsweredWithErrno_GetuidDenied()
    {
        var (read, write) = FsPlans.Pipe();
        using var readEnd = read;
        var stdout = new SafeFileHandle(write.DangerousGetHandle(), ownsHandle: false);
        var hooks = new Hooks();
        var policy = SandboxMonitorTests.BasePolicy().TraceSyscall("personality").TraceSyscall("getuid").Build();
        SandboxResult result;
        await using (var sandbox = new Sandbox(Exec(["trace", "="], stdout), policy, hooks))
        {
            result = await sandbox.RunAsync().WaitAsync(Timeout); // our write end is closed only after the run
        }
        write.Dispose();
        string output = await FsPlans.ReadAll(readEnd).WaitAsync(Timeout);
        Assert.Contains("personality=-1/1", output);
        Assert.DoesNotContain("getuid=", output);
        Assert.Equal(SandboxStatus.Violation, result.Status);
        Assert.Equal("getuid", result.Violation?.SyscallName);
        Assert.Equal(["personality", "getuid"], hooks.Traced);
        Assert.True(hooks.StartedPid > 0);
        Assert.Same(result, hooks.Finished);
    }
}
