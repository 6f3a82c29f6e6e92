namespace Sandbox2.Tests.Monitoring;

/// <summary>Policy → seccomp-bpf (MonitorAttached) → kernel → notification → monitor → Policy.Evaluate: the whole chain
/// on a real process, without namespaces (the testcase installs the compiled program itself).</summary>
public class PolicyMonitorTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly PolicyCompileOptions Options = new(MonitorAttached: true);

    private static PolicyBuilder Base() => new PolicyBuilder()
        .AllowSyscalls("sendmsg", "close", "write", "exit_group", "exit");

    private static async Task<(MonitoredSandbox Target, (int? ExitCode, int? Signal) Exit, string Output)> Run(
        Sandbox2.Policy policy, string mode, Notify? notify = null)
    {
        string bpf = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(bpf, policy.Compile(Options).ToBytes());
            using var child = NotifyChild.Start(mode, "@" + bpf);
            var target = new MonitoredSandbox(policy, Options, notify, stackTraceOnViolation: false, child.KillGroup);
            using var reg = Monitor.Shared.Register(child.Listener, target);
            var exit = await child.WaitAsync(Monitor.Shared).WaitAsync(Timeout);
            return (target, exit, await child.Output.WaitAsync(Timeout));
        }
        finally { File.Delete(bpf); }
    }

    private sealed class PersonalityErrno : Notify
    {
        public override ValueTask<TraceAction> EventSyscallTraceAsync(Syscall syscall, CancellationToken cancellationToken) =>
            ValueTask.FromResult(syscall.Name switch
            {
                "personality" => TraceAction.Errno(22),
                "uname" => TraceAction.Allow,
                _ => TraceAction.Deny,
            });
    }

    [Fact]
    public async Task TraceRules_GoToTheHandler_OtherSyscallsAreViolations()
    {
        var policy = Base().AllowSyscall("getppid").TraceSyscall("uname").TraceSyscall("personality").Build();
        var (target, exit, output) = await Run(policy, "trace", new PersonalityErrno());
        Assert.Contains($"getppid={Environment.ProcessId}/0", output); // allowed by the filter itself
        Assert.Contains("uname=0/0", output);                           // trace -> allow
        Assert.Contains("personality=-1/22", output);                   // trace -> errno EINVAL
        Assert.DoesNotContain("getuid=", output);                       // not in the policy -> violation
        Assert.Equal(9, exit.Signal);
        var v = target.Violation;
        Assert.NotNull(v);
        Assert.Equal("getuid", v.Syscall.Name);
        Assert.Equal("[X86-64] getuid() is not allowed by the policy", v.Description);
    }

    [Fact]
    public async Task AlwaysOnPtraceRule_IsAViolation()
    {
        var (target, exit, output) = await Run(Base().Build(), "ptrace");
        Assert.Equal(9, exit.Signal);
        Assert.DoesNotContain("survived", output);
        Assert.Equal(101, target.Violation?.Syscall.Number);
        Assert.StartsWith("[X86-64] ptrace(", target.Violation!.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task X32Call_IsAViolationWhateverThePolicy()
    {
        // Even a policy that allows getpid does not allow the x32 getpid.
        var (target, exit, _) = await Run(Base().AllowSyscall("getpid").Build(), "x32");
        Assert.Equal(9, exit.Signal);
        Assert.Equal(SyscallArch.X32, target.Violation?.Syscall.Arch);
        Assert.Equal(ViolationType.ArchitectureSwitch, target.Violation!.Type);
        Assert.StartsWith("[X32] getpid(", target.Violation.Description, StringComparison.Ordinal);
    }
}
