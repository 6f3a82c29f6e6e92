using System.Runtime.InteropServices;

// Shared as source (dotnet/runtime's Common/src/Interop pattern): compiled into Sandbox2 and Sandbox2.Client, each
// into its own Interop class; neither assembly reaches into the other's internals for it.
#if SANDBOX2_CLIENT
namespace Sandbox2.Client;
#else
namespace Sandbox2;
#endif

/// <summary>socketpair, sendmsg/recvmsg (ancillary data: SCM_RIGHTS, SCM_CREDENTIALS), poll, socket options.</summary>
internal static unsafe partial class Interop
{
    internal const int AF_UNIX = 1;
    internal const int SOCK_STREAM = 1;
    internal const int SOCK_SEQPACKET = 5;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int SOL_SOCKET = 1;
    internal const int SCM_RIGHTS = 1;
    internal const int SCM_CREDENTIALS = 2;
    internal const int SO_SNDBUF = 7;
    internal const int SO_PASSCRED = 16;
    internal const int SO_PEERCRED = 17;
    internal const int SO_RCVTIMEO = 20;
    internal const int SO_SNDTIMEO = 21;
    internal const int MSG_PEEK = 0x2;
    internal const int MSG_CTRUNC = 0x8;
    internal const int MSG_TRUNC = 0x20;
    internal const int MSG_DONTWAIT = 0x40;
    internal const int MSG_NOSIGNAL = 0x4000;
    internal const int MSG_CMSG_CLOEXEC = 0x40000000;
    internal const short POLLIN = 0x1;
    internal const short POLLOUT = 0x4;

    /// <summary>struct iovec (x86-64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr (x86-64, 56 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct cmsghdr header (x86-64, 16 bytes; data follows, 8-byte aligned).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct CmsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    /// <summary>struct ucred.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    internal static int CmsgAlign(int n) => (n + 7) & ~7;
    internal static int CmsgSpace(int n) => sizeof(CmsgHdr) + CmsgAlign(n);
    internal static int CmsgLen(int n) => sizeof(CmsgHdr) + n;

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    internal static partial int SocketPair(int domain, int type, int protocol, int* sv);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    internal static partial nint SendMsg(SafeHandle fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    internal static partial nint RecvMsg(SafeHandle fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollFd* fds, nuint nfds, int timeout);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    internal static partial int SetSockOpt(SafeHandle fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    internal static partial int GetSockOpt(SafeHandle fd, int level, int name, void* value, uint* length);
}
