using System.Runtime.InteropServices;

namespace Sandbox2;

// fstat(2) and the open flags for reading files a sandbox (or an untrusted program) controls: opened without
// following a final symlink, without blocking, checked to be a regular file before a byte is read.
internal static partial class Interop
{
    internal const int O_NONBLOCK = 0x800;
    internal const uint S_IFMT = 0xF000, S_IFREG = 0x8000;

    /// <summary>struct stat (x86-64), 144 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Stat
    {
        public ulong Dev, Ino, Nlink;
        public uint Mode, Uid, Gid, Pad0;
        public ulong Rdev;
        public long Size, BlkSize, Blocks;
        public long ATime, ATimeNsec, MTime, MTimeNsec, CTime, CTimeNsec;
        public long Reserved0, Reserved1, Reserved2;

        public readonly bool IsRegular => (Mode & S_IFMT) == S_IFREG;
    }

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    internal static partial int FStat(SafeHandle fd, out Stat stat);
}
