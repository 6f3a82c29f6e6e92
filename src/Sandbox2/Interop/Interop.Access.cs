using System.Runtime.InteropServices;

namespace Sandbox2;

// access(2): is the program executable by us?
internal static partial class Interop
{
    internal const int X_OK = 1, W_OK = 2;

    [LibraryImport("libc", EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Access(string path, int mode);
}
