using System.Runtime.InteropServices;

namespace Sandbox2;

// landlock_create_ruleset(2) with LANDLOCK_CREATE_RULESET_VERSION: the ABI this kernel offers (changes nothing);
// landlock_add_rule(2) on a ruleset that is never enforced: whether the kernel takes a path-beneath rule on a file.
internal static partial class Interop
{
    internal const long SYS_landlock_create_ruleset = 444, SYS_landlock_add_rule = 445;
    internal const int LANDLOCK_RULE_PATH_BENEATH = 1;
    internal const uint LANDLOCK_CREATE_RULESET_VERSION = 1;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall3(long number, nint arg1, nint arg2, nint arg3);

    /// <summary>The Landlock ABI version, or -errno (ENOSYS: not built in or blocked; EOPNOTSUPP: disabled at boot).</summary>
    internal static int LandlockAbiVersion()
    {
        long r = Syscall3(SYS_landlock_create_ruleset, 0, 0, (nint)LANDLOCK_CREATE_RULESET_VERSION);
        return r < 0 ? -Marshal.GetLastPInvokeError() : (int)r;
    }

    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private struct LandlockPathBeneathAttr { public ulong AllowedAccess; public int ParentFd; }

    /// <summary>Whether landlock_add_rule takes a path-beneath rule allowing <paramref name="access"/> on <paramref name="fd"/>'s
    /// file, tried on a throwaway ruleset handling exactly that (never enforced): 0, or the errno (EBADFD: the file is on
    /// an internal mount, a memfd or shared anonymous memory, which Landlock neither takes rules on nor restricts).</summary>
    internal static unsafe int LandlockTryPathRule(SafeHandle fd, ulong access)
    {
        ulong handled = access;
        long rs = Syscall3(SYS_landlock_create_ruleset, (nint)(&handled), sizeof(ulong), 0);
        if (rs < 0) return Marshal.GetLastPInvokeError();
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            var attr = new LandlockPathBeneathAttr { AllowedAccess = access, ParentFd = (int)fd.DangerousGetHandle() };
            long r = Syscall4(SYS_landlock_add_rule, (nint)rs, LANDLOCK_RULE_PATH_BENEATH, (nint)(&attr), 0);
            return r < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
        finally
        {
            if (added) fd.DangerousRelease();
            _ = Close((int)rs);
        }
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall4(long number, nint arg1, nint arg2, nint arg3, nint arg4);
}
