namespace Sandbox2;

/// <summary>What a policy decides for a syscall.</summary>
public enum SyscallActionKind
{
    /// <summary>The policy forbids it: the sandbox is killed (or, with a monitor, the monitor reports a violation).
    /// The policy language's <c>KILL</c> and <c>DENY</c>.</summary>
    Violation = 0,
    /// <summary>Run the syscall.</summary>
    Allow,
    /// <summary>Do not run it; it fails with an errno.</summary>
    Errno,
    /// <summary>Ask the monitor (SECCOMP_RET_USER_NOTIF); Sandbox2's SANDBOX2_TRACE / TraceAllSyscalls, and the policy
    /// language's <c>TRACE(n)</c> (the value is kept in <see cref="SyscallAction.Value"/>; there is no ptrace tracer:
    /// the monitor is the tracer).</summary>
    Trace,
    /// <summary>Run the syscall and have the kernel log it (SECCOMP_RET_LOG); the policy language's <c>LOG</c>.</summary>
    Log,
    /// <summary>Do not run it; the kernel sends SIGSYS to the caller with the value in <c>si_errno</c>
    /// (SECCOMP_RET_TRAP); the policy language's <c>TRAP(n)</c>.</summary>
    Trap,
    /// <summary>A violation spelt <c>KILL_PROCESS</c>: the same outcome as <see cref="Violation"/> (reported by the monitor).</summary>
    KillProcess,
    /// <summary>A violation spelt <c>KILL_THREAD</c>: the same outcome as <see cref="Violation"/> (the whole sandbox stops, as for any violation).</summary>
    KillThread,
    /// <summary>Ask the monitor (SECCOMP_RET_USER_NOTIF), spelt <c>USER_NOTIF</c>: the same path as <see cref="Trace"/>.</summary>
    UserNotif,
}

/// <summary>A policy decision: allow, log, errno n, trap n, trace, user notification or violation.</summary>
/// <param name="Kind">The decision.</param>
/// <param name="ErrnoValue">The errno for <see cref="SyscallActionKind.Errno"/>, the value of TRAP(n) and TRACE(n), else 0.</param>
public readonly record struct SyscallAction(SyscallActionKind Kind, int ErrnoValue = 0)
{
    /// <summary>The largest errno a seccomp filter can return (MAX_ERRNO).</summary>
    public const int MaxErrno = 4095;

    /// <summary>The largest value of TRAP(n) and TRACE(n) (SECCOMP_RET_DATA).</summary>
    public const int MaxData = 0xffff;

    /// <summary>Run the syscall.</summary>
    public static SyscallAction Allow => new(SyscallActionKind.Allow);
    /// <summary>Send it to the monitor (Sandbox2's trace).</summary>
    public static SyscallAction Trace => new(SyscallActionKind.Trace);
    /// <summary>A policy violation.</summary>
    public static SyscallAction Violation => new(SyscallActionKind.Violation);
    /// <summary>Run it and log it (SECCOMP_RET_LOG).</summary>
    public static SyscallAction Log => new(SyscallActionKind.Log);
    /// <summary>A violation spelt KILL_PROCESS.</summary>
    public static SyscallAction KillProcess => new(SyscallActionKind.KillProcess);
    /// <summary>A violation spelt KILL_THREAD.</summary>
    public static SyscallAction KillThread => new(SyscallActionKind.KillThread);
    /// <summary>Send it to the monitor, spelt USER_NOTIF.</summary>
    public static SyscallAction UserNotif => new(SyscallActionKind.UserNotif);

    /// <summary>The value of TRAP(n) or TRACE(n) (the same field as <see cref="ErrnoValue"/>).</summary>
    public int Value => ErrnoValue;

    /// <summary>True for every spelling of a violation (KILL, DENY, KILL_PROCESS, KILL_THREAD).</summary>
    public bool IsViolation => Kind is SyscallActionKind.Violation or SyscallActionKind.KillProcess or SyscallActionKind.KillThread;

    /// <summary>True when the monitor decides (TRACE(n), USER_NOTIF, Sandbox2's trace).</summary>
    public bool IsTraced => Kind is SyscallActionKind.Trace or SyscallActionKind.UserNotif;

    /// <summary>Fail the syscall with <paramref name="errno"/> (0..4095) without running it.</summary>
    public static SyscallAction Errno(int errno) =>
        errno is >= 0 and <= MaxErrno
            ? new SyscallAction(SyscallActionKind.Errno, errno)
            : throw new PolicyException($"errno {errno} is out of range 0..{MaxErrno}");

    /// <summary>SIGSYS to the caller with <paramref name="value"/> (0..65535) in si_errno, without running the syscall.</summary>
    public static SyscallAction Trap(int value) =>
        value is >= 0 and <= MaxData
            ? new SyscallAction(SyscallActionKind.Trap, value)
            : throw new PolicyException($"trap value {value} is out of range 0..{MaxData}");

    /// <summary>The policy language's TRACE(<paramref name="value"/>): the monitor decides (the value is kept for display).</summary>
    public static SyscallAction TraceWithValue(int value) =>
        value is >= 0 and <= MaxData
            ? new SyscallAction(SyscallActionKind.Trace, value)
            : throw new PolicyException($"trace value {value} is out of range 0..{MaxData}");

    /// <summary>The policy language's (and <c>sandbox2 policy test</c>'s) word: <c>ALLOW</c>, <c>KILL</c>, <c>KILL_PROCESS</c>,
    /// <c>KILL_THREAD</c>, <c>ERRNO(n)</c>, <c>TRAP(n)</c>, <c>TRACE(n)</c>, <c>LOG</c>, <c>USER_NOTIF</c>.</summary>
    public string ToPolicyWord() => Kind switch
    {
        SyscallActionKind.Allow => "ALLOW",
        SyscallActionKind.Errno => $"ERRNO({ErrnoValue})",
        SyscallActionKind.Trace => $"TRACE({ErrnoValue})",
        SyscallActionKind.Log => "LOG",
        SyscallActionKind.Trap => $"TRAP({ErrnoValue})",
        SyscallActionKind.KillProcess => "KILL_PROCESS",
        SyscallActionKind.KillThread => "KILL_THREAD",
        SyscallActionKind.UserNotif => "USER_NOTIF",
        _ => "KILL",
    };

    /// <summary>Readable form: <c>allow</c>, <c>errno 1</c>, <c>trace</c>, <c>violation</c>, ...</summary>
    public override string ToString() => Kind switch
    {
        SyscallActionKind.Allow => "allow",
        SyscallActionKind.Errno => $"errno {ErrnoValue}",
        SyscallActionKind.Trace => ErrnoValue == 0 ? "trace" : $"trace {ErrnoValue}",
        SyscallActionKind.Log => "log",
        SyscallActionKind.Trap => $"trap {ErrnoValue}",
        SyscallActionKind.KillProcess => "violation (KILL_PROCESS)",
        SyscallActionKind.KillThread => "violation (KILL_THREAD)",
        SyscallActionKind.UserNotif => "trace (USER_NOTIF)",
        _ => "violation",
    };
}
