using System.Runtime.InteropServices;

namespace Sandbox2;

// timerfd: the monitor's timers (wall-time limits), in its own epoll set.
internal static partial class Interop
{
    internal const int CLOCK_MONOTONIC = 1;
    internal const int TFD_CLOEXEC = 0x80000, TFD_NONBLOCK = 0x800;

    /// <summary>struct itimerspec (two struct timespec).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct ITimerSpec
    {
        public long IntervalSeconds, IntervalNanoseconds, ValueSeconds, ValueNanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "timerfd_create", SetLastError = true)]
    internal static partial int TimerFdCreate(int clockId, int flags);

    [LibraryImport("libc", EntryPoint = "timerfd_settime", SetLastError = true)]
    internal static partial int TimerFdSetTime(SafeHandle fd, int flags, ref ITimerSpec newValue, nint oldValue);
}
