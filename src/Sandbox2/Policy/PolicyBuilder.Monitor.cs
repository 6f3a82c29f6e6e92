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

    /// <summary>Collect the sandboxee's main-thread stack trace when the wall-time limit kills it (before the kill).</summary>
    public PolicyBuilder CollectStacktracesOnTimeout(bool enable)
    {
        _stackTraces = _stackTraces with { OnTimeout = enable };
        return this;
    }

    /// <summary>Collect the sandboxee's main-thread stack trace on <see cref="Sandbox.Kill"/> (before the kill).</summary>
    public PolicyBuilder CollectStacktracesOnKill(bool enable)
    {
        _stackTraces = _stackTraces with { OnKill = enable };
        return this;
    }
}

/// <summary>When the monitor collects stack traces. On signal (and on exit) is not possible with a seccomp
/// user-notification monitor, as in Sandbox2: the process is gone before the executor hears of it.</summary>
public sealed record StackTraceOptions(bool OnViolation, bool OnTimeout = false, bool OnKill = false)
{
    /// <summary>Stack traces on violations only (Sandbox2's default).</summary>
    public static StackTraceOptions Default { get; } = new(OnViolation: true);
}
