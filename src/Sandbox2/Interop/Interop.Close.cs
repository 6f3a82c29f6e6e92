using System.Runtime.InteropServices;

namespace Sandbox2;

// close(2): releases SafeFdHandle.
internal static partial class Interop
{
    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);
}
