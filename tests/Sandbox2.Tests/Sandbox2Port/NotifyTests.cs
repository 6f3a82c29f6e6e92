namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>Port of Sandbox2's <c>notify_test.cc</c> (testcases <c>s2_personality.c</c> and <c>s2c_pidcomms.c</c>). Its
/// <c>InspectAfterSyscall</c> needs a ptrace monitor (syscall-exit stops) and does not apply.</summary>
public class NotifyTests
{
    /// <summary>Sandbox2's PersonalityNotify: checks the traced call's number and six arguments, then allows or denies.</summary>
    private sealed class PersonalityNotify(bool allow) : Notify
    {
        public int Traced;
        public override ValueTask<TraceAction> EventSyscallTraceAsync(Syscall syscall, CancellationToken cancellationToken)
        {
            if (syscall.Name != "personality") return ValueTask.FromResult(TraceAction.Deny);
            Interlocked.Increment(ref Traced);
            bool argsOk = syscall.Args.SequenceEqual(new ulong[] { 1, 2, 3, 4, 5, 6 });
            return ValueTask.FromResult(allow && argsOk ? TraceAction.Allow : TraceAction.Deny);
        }
    }

    private static Sandbox2.Policy PersonalityPolicy(string path) => Execution.Sandboxes.Policy(path).TraceSyscall("personality").Build();

    [Fact]
    public async Task NotifyTest_AllowPersonality()
    {
        string path = Port.Testcase("s2_personality");
        var notify = new PersonalityNotify(allow: true);
        var result = await Port.Run(new Executor(path, []), PersonalityPolicy(path), notify);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
        Assert.Equal(1, notify.Traced);
    }

    [Fact]
    public async Task NotifyTest_DisallowPersonality()
    {
        string path = Port.Testcase("s2_personality");
        var result = await Port.Run(new Executor(path, []), PersonalityPolicy(path), new PersonalityNotify(allow: false));
        Assert.True(result.Status == SandboxStatus.Violation, result.ToString());
        Assert.Equal("personality", result.Violation!.SyscallName);
    }

    /// <summary>SandboxMeHere mode: the program sends a bool before sandboxing itself; EventStarted reads it over Comms.</summary>
    [Fact]
    public async Task NotifyTest_PrintPidAndComms()
    {
        string path = Port.Testcase("s2c_pidcomms");
        var notify = new PidCommsNotify();
        var executor = new Executor(path, []) { EnableSandboxBeforeExec = false };
        var result = await Port.Run(executor, Port.AllowAll(path).Build(), notify);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 33, result.ToString());
        Assert.True(notify.Received);
        Assert.True(notify.Pid > 0);
    }

    private sealed class PidCommsNotify : Notify
    {
        public bool Received;
        public int Pid;
        public override async ValueTask<bool> EventStartedAsync(int pid, Comms? comms, CancellationToken cancellationToken)
        {
            Pid = pid;
            Received = await comms!.ReceiveBoolAsync(cancellationToken).AsTask().WaitAsync(Port.Timeout, cancellationToken);
            return true;
        }
    }

    [Fact]
    public async Task NotifyTest_EventFinished()
    {
        string path = Port.Testcase("s2_personality");
        var notify = new FinishedNotify();
        var result = await Port.Run(new Executor(path, []), PersonalityPolicy(path), notify);
        Assert.Equal(1, notify.Finished);
        Assert.Same(result, notify.Result);
    }

    private sealed class FinishedNotify : Notify
    {
        public int Finished;
        public SandboxResult? Result;
        public override ValueTask<TraceAction> EventSyscallTraceAsync(Syscall syscall, CancellationToken cancellationToken) => ValueTask.FromResult(TraceAction.Allow);
        public override ValueTask EventFinishedAsync(SandboxResult result, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Finished);
            Result = result;
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Every syscall traced (the default action), all allowed by the hook: the program runs to its end.</summary>
    [Fact]
    public async Task NotifyTest_TraceAllAllowPersonality()
    {
        string path = Port.Testcase("s2_personality");
        var policy = new PolicyBuilder().AllowDynamicStartup().AddLibrariesForBinary(path).AddProc().AddMinimalDev().DefaultAction(SyscallAction.Trace).Build();
        var notify = new AllowAllNotify();
        var result = await Port.Run(new Executor(path, []), policy, notify);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
        Assert.Contains("personality", notify.Seen);
    }

    private sealed class AllowAllNotify : Notify
    {
        public readonly HashSet<string> Seen = [];
        public override ValueTask<TraceAction> EventSyscallTraceAsync(Syscall syscall, CancellationToken cancellationToken)
        {
            lock (Seen) Seen.Add(syscall.Name);
            return ValueTask.FromResult(TraceAction.Allow);
        }
    }

    [Fact]
    public async Task NotifyTest_TraceActionErrno()
    {
        string path = Port.Testcase("s2_personality");
        var result = await Port.Run(new Executor(path, []), PersonalityPolicy(path), new ErrnoNotify());
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 38 /* ENOSYS */, result.ToString());
    }

    private sealed class ErrnoNotify : Notify
    {
        public override ValueTask<TraceAction> EventSyscallTraceAsync(Syscall syscall, CancellationToken cancellationToken) =>
            ValueTask.FromResult(syscall.Name == "personality" ? TraceAction.Errno(38) : TraceAction.Deny);
    }
}
