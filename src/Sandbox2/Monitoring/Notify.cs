namespace Sandbox2;

/// <summary>How the monitor answers a syscall the policy marks <i>trace</i> (Sandbox2's <c>TraceAction</c>).</summary>
public enum TraceActionKind
{
    /// <summary>Run the syscall (SECCOMP_USER_NOTIF_FLAG_CONTINUE).</summary>
    Allow,
    /// <summary>A violation: the sandbox is killed and the syscall reported.</summary>
    Deny,
    /// <summary>Do not run the syscall; it returns -errno.</summary>
    Errno,
}

/// <summary>The answer of <see cref="Notify.EventSyscallTraceAsync"/>: allow, deny (violation) or errno(n).</summary>
public readonly record struct TraceAction
{
    private TraceAction(TraceActionKind kind, int errno) { Kind = kind; ErrnoValue = errno; }

    /// <summary>Allow, deny or errno.</summary>
    public TraceActionKind Kind { get; }
    /// <summary>The errno the syscall fails with (for <see cref="TraceActionKind.Errno"/>).</summary>
    public int ErrnoValue { get; }

    /// <summary>Run the syscall.</summary>
    public static TraceAction Allow => new(TraceActionKind.Allow, 0);
    /// <summary>A violation: the sandbox is killed and the syscall reported.</summary>
    public static TraceAction Deny => new(TraceActionKind.Deny, 0);

    /// <summary>Skip the syscall; it fails with <paramref name="errno"/> (1..4095).</summary>
    public static TraceAction Errno(int errno) =>
        errno is >= 1 and <= 4095
            ? new TraceAction(TraceActionKind.Errno, errno)
            : throw new ArgumentOutOfRangeException(nameof(errno), errno, "errno must be in 1..4095");

    /// <c>allow</c>, <c>deny</c> or <c>errno N</c>.
    public override string ToString() => Kind switch
    {
        TraceActionKind.Allow => "allow",
        TraceActionKind.Errno => $"errno {ErrnoValue}",
        _ => "deny",
    };
}

/// <summary>Why a syscall is a violation.</summary>
public enum ViolationType
{
    /// <summary>The policy does not allow the syscall (or a trace handler denied it).</summary>
    Syscall,
    /// <summary>The syscall was made with another ABI (x86-32 <c>int 0x80</c>, x32): always a violation.</summary>
    ArchitectureSwitch,
}

/// <summary>
/// Hooks into a sandbox's life (Sandbox2's <c>Notify</c>): derive, override what you need and pass an instance
/// to the sandbox. The syscall hooks run on the thread pool, never on the monitor's event loop, while the
/// syscall's thread is held in the kernel; they may await.
/// </summary>
public class Notify
{
    /// <summary>The sandboxee was started (<paramref name="pid"/> = its host pid). Returning false ends the sandbox with SETUP_ERROR.</summary>
    public virtual ValueTask<bool> EventStartedAsync(int pid, CancellationToken cancellationToken) => ValueTask.FromResult(true);

    /// <summary>The sandboxee was started, with the executor's end of its Comms channel (Sandbox2's
    /// <c>EventStarted(pid, comms)</c>; null without one). In SandboxMeHere mode it runs before the handshake, while the
    /// program runs unfiltered: it may read what the program sends before calling SandboxMeHere (the handshake begins with
    /// the client's first handshake message, after those). The default calls <see cref="EventStartedAsync(int, CancellationToken)"/>.</summary>
    public virtual ValueTask<bool> EventStartedAsync(int pid, Comms? comms, CancellationToken cancellationToken) => EventStartedAsync(pid, cancellationToken);

    /// <summary>Once, when the sandbox has ended.</summary>
    public virtual ValueTask EventFinishedAsync(SandboxResult result, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>A violation, before the sandbox is killed (the violating thread is still held; its memory can be inspected).</summary>
    public virtual ValueTask EventSyscallViolationAsync(Syscall syscall, ViolationType type, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>A syscall the policy marks <i>trace</i>: allow it, deny it (violation), or fail it with an errno.
    /// The default denies, as Sandbox2's does.</summary>
    public virtual ValueTask<TraceAction> EventSyscallTraceAsync(Syscall syscall, CancellationToken cancellationToken) => ValueTask.FromResult(TraceAction.Deny);
}
