using System.Runtime.InteropServices;

namespace Sandbox2;

// socketpair(2), sendmsg(2)/recvmsg(2) with SCM_RIGHTS, setsockopt(2): the forkserver's control
// socket and the per-sandbox status channels (AF_UNIX SOCK_SEQPACKET).
internal static partial class Interop
{
    internal const int AF_UNIX = 1;
    internal const int SOCK_SEQPACKET = 5;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int SOL_SOCKET = 1;
    internal const int SCM_RIGHTS = 1;
    internal const int SO_SNDBUF = 7, SO_RCVTIMEO = 20, SO_SNDTIMEO = 21;
    internal const int MSG_DONTWAIT = 0x40, MSG_TRUNC = 0x20, MSG_CTRUNC = 0x8, MSG_NOSIGNAL = 0x4000, MSG_CMSG_CLOEXEC = 0x40000000;

    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr (x86-64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct cmsghdr header (16 bytes on x86-64); data follows at offset 16.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct CmsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    internal static unsafe partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    internal static unsafe partial nint SendMsg(SafeHandle socket, MsgHdr* msg, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    internal static unsafe partial nint RecvMsg(SafeHandle socket, MsgHdr* msg, int flags);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    internal static unsafe partial int SetSockOpt(SafeHandle socket, int level, int name, void* value, uint length);
}
