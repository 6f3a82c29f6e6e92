using System.Runtime.InteropServices;

namespace Sandbox2;

// kill(2): a child of the forkserver whose pidfd could not be received; the tasks left in a sandbox cgroup.
internal static partial class Interop
{
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);
}
