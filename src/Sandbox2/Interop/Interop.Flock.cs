using System.Runtime.InteropServices;

namespace Sandbox2;

// flock(2) and lstat(2) for the host-id lock files (HostIds): an id is in use while its lock file is flocked.
internal static partial class Interop
{

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    internal static partial int Flock(SafeHandle fd, int operation);

    /// <summary>lstat(2): the path itself, a final symlink not followed.</summary>
    [LibraryImport("libc", EntryPoint = "lstat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int StatNoFollow(string path, out Stat stat);
}
