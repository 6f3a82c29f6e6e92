using System.Runtime.InteropServices;

namespace Sandbox2;

// open(2): the program is opened O_PATH|O_CLOEXEC before anything else and executed with execveat.
internal static partial class Interop
{
    internal const int O_RDONLY = 0, O_CLOEXEC = 0x80000, O_PATH = 0x200000, O_NOFOLLOW = 0x20000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags, int mode);

    /// <summary>open(path, O_PATH|O_CLOEXEC) as an owned handle; throws IOException naming the path and errno text.</summary>
    internal static SafeFdHandle OpenPath(string path)
    {
        int fd = Open(path, O_PATH | O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (HostResources.IsExhaustion(errno)) throw new ResourceExhaustedException(HostResources.Exhausted($"opening {path}", errno));
            throw new IOException($"cannot open {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        return new SafeFdHandle(fd);
    }
}
