using System.Runtime.InteropServices;

namespace Sandbox2;

// geteuid(2)/getegid(2): whose ids the sandbox's uid/gid 1000 map to.
internal static partial class Interop
{
    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEUid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    internal static partial uint GetEGid();
}
