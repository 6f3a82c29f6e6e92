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

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    internal static unsafe partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    internal static unsafe partial nint SendMsg(SafeHandle socket, Client.Interop.MsgHdr* msg, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    internal static unsafe partial nint RecvMsg(SafeHandle socket, Client.Interop.MsgHdr* msg, int flags);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    internal static unsafe partial int SetSockOpt(SafeHandle socket, int level, int name, void* value, uint length);
}
