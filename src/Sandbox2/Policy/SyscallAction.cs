namespace Sandbox2;

/// <summary>What a policy decides for a syscall.</summary>
public enum SyscallActionKind
{
    /// <summary>The policy forbids it: the sandbox is killed (or, with a monitor, the monitor reports a violation).</summary>
    Violation = 0,
    /// <summary>Run the syscall.</summary>
    Allow,
    /// <summary>Do not run it; it fails with an errno.</summary>
    Errno,
    /// <summary>Ask the monitor (SECCOMP_RET_USER_NOTIF); Sandbox2's SANDBOX2_TRACE / TraceAllSyscalls.</summary>
    Trace,
}

/// <summary>A policy decision: allow, errno n, trace or violation.</summary>
public readonly record struct SyscallAction(SyscallActionKind Kind, int ErrnoValue = 0)
{
    /// <summary>The largest errno a seccomp filter can return (MAX_ERRNO).</summary>
    public const int MaxErrno = 4095;

    /// <summary>Run the syscall.</summary>
    public static SyscallAction Allow => new(SyscallActionKind.Allow);
    /// <summary>Ask the monitor (Sandbox2's SANDBOX2_TRACE).</summary>
    public static SyscallAction Trace => new(SyscallActionKind.Trace);
    /// <summary>A violation: the sandbox is stopped and the syscall reported.</summary>
    public static SyscallAction Violation => new(SyscallActionKind.Violation);

    /// <summary>Fail the syscall with <paramref name="errno"/> (0..4095) without running it.</summary>
    public static SyscallAction Errno(int errno) =>
        errno is >= 0 and <= MaxErrno
            ? new SyscallAction(SyscallActionKind.Errno, errno)
            : throw new PolicyException($"errno {errno} is out of range 0..{MaxErrno}");

    /// <c>allow</c>, <c>errno N</c>, <c>trace</c> or <c>violation</c>.
    public override string ToString() => Kind switch
    {
        SyscallActionKind.Allow => "allow",
        SyscallActionKind.Errno => $"errno {ErrnoValue}",
        SyscallActionKind.Trace => "trace",
        _ => "violation",
    };
}
