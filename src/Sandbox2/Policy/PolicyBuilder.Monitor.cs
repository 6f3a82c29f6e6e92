namespace Sandbox2;

// What the monitor does besides judging syscalls (Sandbox2 keeps these switches on the policy builder).
public sealed partial class PolicyBuilder
{
    private StackTraceOptions _stackTraces = StackTraceOptions.Default;

    /// <summary>Collect the violating thread's stack trace on a violation (Sandbox2's default: on).</summary>
    public PolicyBuilder CollectStacktracesOnViolation(bool enable)
    {
        _stackTraces = _stackTraces with { OnViolation = enable };
        return this;
    }
}

/// <summary>When the monitor collects stack traces.</summary>
public sealed record StackTraceOptions(bool OnViolation)
{
    public static StackTraceOptions Default { get; } = new(OnViolation: true);
}
