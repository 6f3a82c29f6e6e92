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

    /// <summary>Collect the main thread's stack trace when the sandboxee dies by a signal (SIGSEGV, SIGABRT, ...: any
    /// but SIGKILL), taken while the dying thread is held by the sandbox's init (Sandbox2's default: on). The result is
    /// SIGNALED with <see cref="SandboxResult.StackTrace"/>.</summary>
    public PolicyBuilder CollectStacktracesOnSignal(bool enable)
    {
        _stackTraces = _stackTraces with { OnSignal = enable };
        return this;
    }

    /// <summary>Collect the main thread's stack trace when the sandboxee exits normally (at its exit call). Sandbox2's
    /// default: off.</summary>
    public PolicyBuilder CollectStacktracesOnExit(bool enable)
    {
        _stackTraces = _stackTraces with { OnExit = enable };
        return this;
    }

    /// <summary>Every stack trace covers all threads of the sandboxee's main process (the thread the trace is for
    /// first, then the others, each under a <c>Thread TID (comm):</c> line). Sandbox2's default: off.</summary>
    public PolicyBuilder CollectAllThreadsStacktrace(bool enable)
    {
        _stackTraces = _stackTraces with { AllThreads = enable };
        return this;
    }
}

/// <summary>When the monitor collects stack traces. Traces on a signal or an exit come from the sandbox's init, which
/// traces the sandboxee's main thread (a seccomp user-notification monitor alone hears of a death only when the
/// process is gone; Sandbox2 catches it with its ptrace monitor).</summary>
/// <param name="OnViolation">On a policy violation (the violating thread). Default on.</param>
/// <param name="OnTimeout">When the wall-time limit ends the sandbox (the main thread). Default on, as in Sandbox2.</param>
/// <param name="OnKill">On <see cref="Sandbox.Kill"/> (the main thread). Default off, as in Sandbox2.</param>
/// <param name="OnSignal">When the sandboxee dies by a signal other than SIGKILL (the main thread). Default on, as in Sandbox2.</param>
/// <param name="OnExit">When the sandboxee exits normally (the main thread). Default off, as in Sandbox2.</param>
/// <param name="AllThreads">Every trace covers all threads of the main process. Default off, as in Sandbox2.</param>
public sealed record StackTraceOptions(bool OnViolation, bool OnTimeout = true, bool OnKill = false, bool OnSignal = true, bool OnExit = false, bool AllThreads = false)
{
    /// <summary>Sandbox2's defaults: on violation and on timeout.</summary>
    public static StackTraceOptions Default { get; } = new(OnViolation: true);
}
