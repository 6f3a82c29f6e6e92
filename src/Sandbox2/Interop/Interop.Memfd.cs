using System.Runtime.InteropServices;

namespace Sandbox2;

// memfd_create(2) + sealing: the forkserver embedded in this assembly is started from an anonymous, sealed file.
internal static partial class Interop
{
    internal const uint MFD_CLOEXEC = 0x1, MFD_ALLOW_SEALING = 0x2, MFD_EXEC = 0x10;
    internal const int F_ADD_SEALS = 1033;
    internal const int F_SEAL_SEAL = 0x1, F_SEAL_SHRINK = 0x2, F_SEAL_GROW = 0x4, F_SEAL_WRITE = 0x8;

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int FcntlInt(int fd, int cmd, int arg);
}
