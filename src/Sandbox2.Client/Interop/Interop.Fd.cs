using System.Runtime.InteropServices;

namespace Sandbox2.Client;

/// <summary>Plain descriptor calls: close, dup3, fstat (mode and size), chdir, getpid/gettid/getuid/getgid.</summary>
internal static unsafe partial class Interop
{
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int EBADF = 9;
    internal const int EINVAL = 22;
    internal const int ESRCH = 3;
    internal const int EPIPE = 32;
    internal const int ECONNRESET = 104;
    internal const uint S_IFMT = 0xF000;
    internal const uint S_IFSOCK = 0xC000;

    /// <summary>struct stat (x86-64, 144 bytes); only the fields we read are named.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 144)]
    internal struct Stat
    {
        [FieldOffset(0)] public ulong Dev;
        [FieldOffset(8)] public ulong Ino;
        [FieldOffset(24)] public uint Mode;
        [FieldOffset(48)] public long Size;
    }

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "dup3", SetLastError = true)]
    internal static partial int Dup3(int oldFd, int newFd, int flags);

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    internal static partial int FStat(int fd, Stat* buf);

    [LibraryImport("libc", EntryPoint = "chdir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int ChDir(string path);

    [LibraryImport("libc", EntryPoint = "getpid")]
    internal static partial int GetPid();

    [LibraryImport("libc", EntryPoint = "gettid")]
    internal static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "getuid")]
    internal static partial uint GetUid();

    [LibraryImport("libc", EntryPoint = "getgid")]
    internal static partial uint GetGid();

    internal static string StrError(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
