using System.Runtime.InteropServices;

namespace Sandbox2;

// getrandom(2): the kernel's CSPRNG directly (RandomNumberGenerator would load OpenSSL, ~ms at start-up).
internal static partial class Interop
{
    [LibraryImport("libc", EntryPoint = "getrandom", SetLastError = true)]
    private static unsafe partial nint GetRandomRaw(void* buffer, nuint length, uint flags);

    /// <summary>64 random bits from the kernel (blocks only before the pool is initialised at boot).</summary>
    internal static unsafe ulong GetRandomUInt64()
    {
        ulong value;
        nint n;
        do n = GetRandomRaw(&value, sizeof(ulong), 0);
        while (n < 0 && Marshal.GetLastPInvokeError() == 4 /* EINTR */);
        if (n != sizeof(ulong)) throw new IOException("getrandom failed: " + Marshal.GetLastPInvokeErrorMessage());
        return value;
    }
}
