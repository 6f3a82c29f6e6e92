using System.Runtime.InteropServices;

namespace Sandbox2;

// landlock_create_ruleset(2) with LANDLOCK_CREATE_RULESET_VERSION: the ABI this kernel offers (changes nothing).
internal static partial class Interop
{
    internal const long SYS_landlock_create_ruleset = 444;
    internal const uint LANDLOCK_CREATE_RULESET_VERSION = 1;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall3(long number, nint arg1, nint arg2, nint arg3);

    /// <summary>The Landlock ABI version, or -errno (ENOSYS: not built in or blocked; EOPNOTSUPP: disabled at boot).</summary>
    internal static int LandlockAbiVersion()
    {
        long r = Syscall3(SYS_landlock_create_ruleset, 0, 0, (nint)LANDLOCK_CREATE_RULESET_VERSION);
        return r < 0 ? -Marshal.GetLastPInvokeError() : (int)r;
    }
}
