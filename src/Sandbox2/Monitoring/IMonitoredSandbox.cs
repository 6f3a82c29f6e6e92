namespace Sandbox2;

/// <summary>What the <see cref="Monitor"/> needs from one monitored sandbox. Called from the monitor's loop
/// thread (<see cref="IsTraced"/>, <see cref="OnViolation"/>, <see cref="Kill"/>) or the thread pool: keep them short.</summary>
internal interface IMonitoredSandbox
{
    /// <summary>The policy's decision for a notified x86-64 syscall: true = <i>trace</i> (ask <see cref="Notify"/>),
    /// false = violation. Foreign-ABI syscalls are violations without asking.</summary>
    bool IsTraced(Syscall syscall);

    /// <summary>Learn mode's fast path, called on the loop thread for every notified x86-64 syscall before anything else:
    /// true = recorded, the monitor lets it run (SECCOMP_USER_NOTIF_FLAG_CONTINUE) at once; false = the usual path.
    /// Must be O(1), bounded in memory, and never block.</summary>
    bool TryRecordAndAllow(int nr, ReadOnlySpan<ulong> args, int pid) => false;

    /// <summary>The user's hooks, or null (trace rules are then denied, as by Sandbox2's default Notify).</summary>
    Notify? Notify { get; }

    /// <summary>Collect the violating thread's stack trace (while it is held) before the kill.</summary>
    bool StackTraceOnViolation { get; }

    /// <summary>The stack trace of <paramref name="tid"/> (held at a violation), within <paramref name="budget"/>; never throws.</summary>
    Task<IReadOnlyList<string>> CollectStackTraceAsync(int tid, TimeSpan budget) => StackTrace.CollectAsync(tid, budget);

    /// <summary>Cancelled when the sandbox ends; passed to the hooks.</summary>
    CancellationToken Cancellation { get; }

    /// <summary>The violation, reported once, before <see cref="Kill"/>.</summary>
    void OnViolation(MonitorViolation violation);

    /// <summary>Kill the whole sandbox (every process). Must be idempotent and must not block.</summary>
    void Kill();
}

/// <summary>A violation as the monitor saw it.</summary>
/// <param name="Syscall">The syscall; <see cref="Syscall.Pid"/> is the host tid of the violating thread.</param>
/// <param name="Type">Why the syscall is a violation.</param>
/// <param name="NamespacePid">The thread's pid inside the sandbox's pid namespace (innermost NSpid), or the host tid if unknown.</param>
/// <param name="ThreadName">/proc/tid/comm of the violating thread, if it could be read.</param>
/// <param name="StackTrace">Symbolized frames (<c>#0 0x… main+0x16 (/path)</c>) when requested.</param>
/// <param name="ReceivedTimestamp">Stopwatch timestamp when the notification was received (for latency measurement).</param>
internal sealed record MonitorViolation(
    Syscall Syscall,
    ViolationType Type,
    int NamespacePid,
    string? ThreadName,
    IReadOnlyList<string>? StackTrace,
    long ReceivedTimestamp)
{
    /// <summary>Sandbox2's description with the reason, e.g. <c>[X86-64] ptrace(0, 0, 0, 0) is not allowed by the policy</c>.</summary>
    public string Description => Type == ViolationType.ArchitectureSwitch
        ? $"{Syscall.GetDescription()} uses a foreign syscall ABI ({ArchLabel}), which is never allowed"
        : $"{Syscall.GetDescription()} is not allowed by the policy";

    /// <summary>x86-64 / x86-32 / x32 (the result JSON's spelling).</summary>
    public string ArchLabel => Syscall.Arch.ToContractName();
}
