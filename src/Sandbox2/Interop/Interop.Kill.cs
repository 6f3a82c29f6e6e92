using System.Runtime.InteropServices;

namespace Sandbox2;

// kill(2): only for a child of the forkserver whose pidfd could not be received (no pidfd to signal through).
internal static partial class Interop
{
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);
}
