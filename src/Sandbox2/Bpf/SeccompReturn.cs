namespace Sandbox2.Bpf;

/// <summary>seccomp filter return values (linux/seccomp.h) and the ABI constants the filter checks.</summary>
public static class SeccompReturn
{
    public const uint KillProcess = 0x80000000;
    public const uint KillThread = 0x00000000;
    public const uint Trap = 0x00030000;
    public const uint Errno = 0x00050000;
    public const uint UserNotif = 0x7fc00000;
    public const uint Trace = 0x7ff00000;
    public const uint Log = 0x7ffc0000;
    public const uint Allow = 0x7fff0000;
    public const uint ActionFullMask = 0xffff0000;
    public const uint DataMask = 0x0000ffff;

    public const uint AuditArchX86_64 = 0xC000003E;
    public const uint AuditArchI386 = 0x40000003;
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
