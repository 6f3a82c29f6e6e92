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

    /// <summary>Collect the sandboxee's main-thread stack trace when the wall-time limit kills it (before the kill; at
    /// most <see cref="Monitor.StackTraceBudget"/> later). Sandbox2's default: on.</summary>
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

/// <summary>When the monitor collects stack traces. On signal and on exit are not built yet: the process is gone
/// before a seccomp user-notification monitor hears of it (Sandbox2 catches it with its ptrace monitor).</summary>
/// <param name="OnViolation">On a policy violation (the violating thread). Default on.</param>
/// <param name="OnTimeout">When the wall-time limit ends the sandbox (the main thread). Default on, as in Sandbox2.</param>
/// <param name="OnKill">On <see cref="Sandbox.Kill"/> (the main thread). Default off, as in Sandbox2.</param>
public sealed record StackTraceOptions(bool OnViolation, bool OnTimeout = true, bool OnKill = false)
{
    /// <summary>Sandbox2's defaults: on violation and on timeout.</summary>
    public static StackTraceOptions Default { get; } = new(OnViolation: true);
}
