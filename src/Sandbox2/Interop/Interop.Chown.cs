using System.Runtime.InteropServices;

namespace Sandbox2;

// lchown(2): the private /tmp directory of a sandbox without namespaces belongs to the sandbox's user.
internal static partial class Interop
{
    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Chown(string path, uint uid, uint gid);
}
