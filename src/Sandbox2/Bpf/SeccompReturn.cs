namespace Sandbox2.Bpf;

/// <summary>seccomp filter return values (linux/seccomp.h) and the ABI constants the filter checks.</summary>
public static class SeccompReturn
{
    /// <summary>SECCOMP_RET_KILL_PROCESS: kill the whole process.</summary>
    public const uint KillProcess = 0x80000000;
    /// <summary>SECCOMP_RET_KILL_THREAD: kill the calling thread.</summary>
    public const uint KillThread = 0x00000000;
    /// <summary>SECCOMP_RET_TRAP: send SIGSYS.</summary>
    public const uint Trap = 0x00030000;
    /// <summary>SECCOMP_RET_ERRNO: fail with the errno in the data bits.</summary>
    public const uint Errno = 0x00050000;
    /// <summary>SECCOMP_RET_USER_NOTIF: ask the user-notification listener (the monitor).</summary>
    public const uint UserNotif = 0x7fc00000;
    /// <summary>SECCOMP_RET_TRACE: notify a ptrace tracer.</summary>
    public const uint Trace = 0x7ff00000;
    /// <summary>SECCOMP_RET_LOG: allow and log.</summary>
    public const uint Log = 0x7ffc0000;
    /// <summary>SECCOMP_RET_ALLOW: run the syscall.</summary>
    public const uint Allow = 0x7fff0000;
    /// <summary>SECCOMP_RET_ACTION_FULL: the action bits of a return value.</summary>
    public const uint ActionFullMask = 0xffff0000;
    /// <summary>SECCOMP_RET_DATA: the data bits (errno, trap or trace value).</summary>
    public const uint DataMask = 0x0000ffff;

    /// <summary>AUDIT_ARCH_X86_64 (also reported for x32 calls).</summary>
    public const uint AuditArchX86_64 = 0xC000003E;
    /// <summary>AUDIT_ARCH_I386 (32-bit x86, <c>int 0x80</c>).</summary>
    public const uint AuditArchI386 = 0x40000003;
    /// <summary>__X32_SYSCALL_BIT: set in the number of an x32 syscall.</summary>
    public const uint X32SyscallBit = 0x40000000;

    /// <summary>The filter return value for a model decision.</summary>
    public static uint For(SyscallAction action, bool monitorAttached) => action.Kind switch
    {
        SyscallActionKind.Allow => Allow,
        SyscallActionKind.Errno => Errno | (uint)action.ErrnoValue,
        SyscallActionKind.Trace or SyscallActionKind.UserNotif => UserNotif,
        SyscallActionKind.Log => Log,
        SyscallActionKind.Trap => Trap | ((uint)action.ErrnoValue & DataMask),
        _ => monitorAttached ? UserNotif : KillProcess,   // every spelling of a violation
    };

    /// <summary>Readable name of a filter return value, e.g. <c>ERRNO(1)</c>.</summary>
    public static string Describe(uint ret) => (ret & ActionFullMask) switch
    {
        KillProcess => "KILL_PROCESS",
        KillThread => "KILL_THREAD",
        Trap => $"TRAP({ret & DataMask})",
        Errno => $"ERRNO({ret & DataMask})",
        UserNotif => "USER_NOTIF",
        Trace => $"TRACE({ret & DataMask})",
        Log => "LOG",
        Allow => "ALLOW",
        _ => $"0x{ret:x8}",
    };
}
