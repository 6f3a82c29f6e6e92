using System.Runtime.InteropServices;

namespace Sandbox2;

// getrandom(2): the per-sandbox exec nonce. Straight from the kernel's CSPRNG: RandomNumberGenerator would load
// libssl/libcrypto and read openssl.cnf (several ms at the start of a short-lived NativeAOT `sandbox2 run`).
internal static partial class Interop
{
    [LibraryImport("libc", EntryPoint = "getrandom", SetLastError = true)]
    private static unsafe partial nint GetRandomRaw(void* buffer, nuint length, uint flags);

    /// <summary>A random 64-bit value from the kernel's CSPRNG (blocks only before the pool is initialised at boot).</summary>
    internal static unsafe ulong GetRandomUInt64()
    {
        ulong value;
        nint n;
        do n = GetRandomRaw(&value, sizeof(ulong), 0);
        while (n < 0 && Marshal.GetLastPInvokeError() == 4 /* EINTR */);
        if (n != sizeof(ulong)) throw new IOException($"getrandom failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return value;
    }
}
