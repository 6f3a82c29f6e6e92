using System.Runtime.InteropServices;

namespace Sandbox2;

// getpriority(2): the executor's niceness, from which the sandboxee's is computed.
internal static partial class Interop
{
    /// <summary>The raw syscall returns 20 - nice (1..40), so no errno ambiguity.</summary>
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long SyscallGetPriority(long nr, int which, int who);

    private const long SYS_getpriority = 140;

    /// <summary>This process's niceness (-20..19); 0 if it cannot be read.</summary>
    internal static int GetNice()
    {
        long r = SyscallGetPriority(SYS_getpriority, 0 /* PRIO_PROCESS */, 0);
        return r is >= 1 and <= 40 ? 20 - (int)r : 0;
    }
}
