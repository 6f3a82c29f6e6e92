using System.Runtime.InteropServices;

namespace Sandbox2;

// openat(2), readlinkat(2), renameat(2), unlinkat(2): walking and writing host paths one component at a time from an
// open directory (HostPath), so that no symlink is followed unless it was looked at first.
internal static partial class Interop
{
    internal const int O_CREAT = 0x40, O_EXCL = 0x80; // O_WRONLY, O_DIRECTORY: Interop.FileIo.cs
    internal const uint S_IFDIR = 0x4000, S_IFLNK = 0xA000;

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int OpenAt(SafeHandle dirFd, string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint ReadLinkAt(SafeHandle dirFd, string path, Span<byte> buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "renameat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RenameAt(SafeHandle oldDirFd, string oldPath, SafeHandle newDirFd, string newPath);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int UnlinkAt(SafeHandle dirFd, string path, int flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    internal static partial int FTruncate(SafeHandle fd, long length);
}
