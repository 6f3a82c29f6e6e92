using System.Runtime.InteropServices;

namespace Sandbox2.Client;

/// <summary>prctl(PR_SET_NO_NEW_PRIVS) and seccomp(SECCOMP_SET_MODE_FILTER) via syscall(2).</summary>
internal static unsafe partial class Interop
{
    internal const int PR_SET_NO_NEW_PRIVS = 38;
    internal const long SYS_seccomp = 317;
    internal const uint SECCOMP_SET_MODE_FILTER = 1;
    internal const uint SECCOMP_FILTER_FLAG_TSYNC = 1u << 0;
    internal const uint SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1u << 2;
    internal const uint SECCOMP_FILTER_FLAG_NEW_LISTENER = 1u << 3;
    internal const uint SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 1u << 4;

    /// <summary>struct sock_fprog (x86-64, 16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SockFprog
    {
        public ushort Length;
        public void* Filter;
    }

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    internal static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall3(long number, nuint arg1, nuint arg2, void* arg3);
}
