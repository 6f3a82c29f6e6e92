using System.Runtime.InteropServices;

namespace Sandbox2;

// seccomp user notification (SECCOMP_RET_USER_NOTIF): ioctls on the listener fd.
// Layouts measured with SECCOMP_GET_NOTIF_SIZES on this kernel: seccomp_notif 80, seccomp_data 64, resp 24.
internal static partial class Interop
{
    internal const uint SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100;
    internal const uint SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101;
    internal const uint SECCOMP_IOCTL_NOTIF_ID_VALID = 0x40082102;
    /// <summary>Let the kernel run the syscall (kernel ≥ 5.5).</summary>
    internal const uint SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;

    /// <summary>SECCOMP_IOW(4, __u64): listener flags (kernel ≥ 6.6); the argument is the flags value itself.</summary>
    internal const uint SECCOMP_IOCTL_NOTIF_SET_FLAGS = 0x40082104;
    /// <summary>Wake the monitor on the notifying thread's CPU and switch to it (and back on the reply): a
    /// notification round trip without two cross-CPU wake-ups (kernel ≥ 6.6).</summary>
    internal const ulong SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = 1;

    internal const uint AUDIT_ARCH_X86_64 = 0xC000003E;
    internal const uint AUDIT_ARCH_I386 = 0x40000003;
    internal const int X32_SYSCALL_BIT = 0x40000000;

    /// <summary>struct seccomp_notif (with its struct seccomp_data inlined).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct SeccompNotif
    {
        public ulong Id;
        public uint Pid;
        public uint Flags;
        public int Nr;
        public uint Arch;
        public ulong InstructionPointer;
        public fixed ulong Args[6];
    }

    /// <summary>struct seccomp_notif_resp.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SeccompNotifResp
    {
        public ulong Id;
        public long Val;
        public int Error;
        public uint Flags;
    }

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int SeccompNotifRecv(SafeHandle listener, nuint request, ref SeccompNotif notif);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int SeccompNotifSend(SafeHandle listener, nuint request, ref SeccompNotifResp resp);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int SeccompNotifSetFlags(SafeHandle listener, nuint request, ulong flags);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int SeccompNotifIdValid(SafeHandle listener, nuint request, ref ulong id);
}
