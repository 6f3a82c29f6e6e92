using System.Runtime.InteropServices;

namespace Sandbox2;

// getrlimit(2): the executor's own limits bound what a sandboxee can be given (it inherits them through the forkserver).
internal static partial class Interop
{
    internal const int RLIMIT_STACK = 3, RLIMIT_NOFILE = 7;

    [StructLayout(LayoutKind.Sequential)]
    internal struct Rlimit
    {
        public ulong Current;
        public ulong Max;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    internal static partial int GetRlimit(int resource, out Rlimit limit);
}
