using System.Runtime.InteropServices;

namespace Sandbox2;

// pidfd_open(2), pidfd_send_signal(2), waitid(P_PIDFD) and poll(2) on a pidfd.
internal static partial class Interop
{
    internal const int P_PIDFD = 3;
    internal const int WaitExited = 4; // WEXITED
    internal const int SignalKill = 9; // SIGKILL

    [LibraryImport("libc", EntryPoint = "pidfd_open", SetLastError = true)]
    internal static partial int PidfdOpen(int pid, uint flags);

    [LibraryImport("libc", EntryPoint = "pidfd_send_signal", SetLastError = true)]
    internal static partial int PidfdSendSignal(SafeHandle pidfd, int signal, nint info, uint flags);

    /// <summary>waitid(P_PIDFD, pidfd, infop, options); infop points to a 128-byte siginfo_t.</summary>
    [LibraryImport("libc", EntryPoint = "waitid", SetLastError = true)]
    internal static unsafe partial int WaitIdPidfd(int idType, SafeHandle pidfd, byte* siginfo, int options);

}
