using System.Runtime.InteropServices;

namespace Sandbox2;

// epoll and eventfd: the monitor's one event loop.
internal static partial class Interop
{
    internal const int EPOLL_CLOEXEC = 0x80000;
    internal const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
    internal const uint EPOLLIN = 0x001, EPOLLERR = 0x008, EPOLLHUP = 0x010, EPOLLONESHOT = 1u << 30;
    internal const int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;

    /// <summary>struct epoll_event (packed on x86-64: 12 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    internal struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    internal static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    internal static partial int EpollCtl(SafeHandle epfd, int op, SafeHandle fd, ref EpollEvent ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    internal static unsafe partial int EpollWait(SafeHandle epfd, EpollEvent* events, int maxEvents, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int EventFd(uint initval, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    internal static partial nint EventFdWrite(SafeHandle fd, ref ulong value, nint count);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    internal static partial nint EventFdRead(SafeHandle fd, ref ulong value, nint count);
}
