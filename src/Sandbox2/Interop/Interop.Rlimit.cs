using System.Runtime.InteropServices;

namespace Sandbox2;

// getrlimit(2)/setrlimit(2): the executor's own descriptor limit.
internal static partial class Interop
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    internal static partial int GetRLimit(int resource, ref RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    internal static partial int SetRLimit(int resource, ref RLimit limit);
}
