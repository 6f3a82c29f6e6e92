using System.Runtime.InteropServices;

namespace Sandbox2;

/// <summary>The file status flags (O_NONBLOCK, O_APPEND, ...) of the open file descriptions a sandbox shares with its
/// caller as stdin/stdout/stderr, found before it starts and put back when it has ended. A sandboxee can
/// <c>fcntl(F_SETFL)</c> them — the flags belong to the open file description, shared with the caller's terminal or
/// pipe — and a terminal left O_NONBLOCK breaks the shell's next read.</summary>
internal sealed class StdioFlags
{
    private readonly List<(SafeHandle Handle, int Flags)> _found = [];

    /// <summary>Records the flags of <paramref name="handles"/> (those that have any: a closed descriptor is skipped).</summary>
    public static StdioFlags Capture(IEnumerable<SafeHandle> handles)
    {
        var flags = new StdioFlags();
        foreach (var h in handles)
        {
            if (h.IsInvalid || h.IsClosed) continue;
            int f = Interop.Fcntl(h, Interop.F_GETFL, 0);
            if (f >= 0) flags._found.Add((h, f));
        }
        return flags;
    }

    /// <summary>Puts back every flag that changed. Returns how many descriptions were restored.</summary>
    public int Restore()
    {
        int restored = 0;
        foreach (var (h, f) in _found)
        {
            try
            {
                if (h.IsClosed) continue;
                int now = Interop.Fcntl(h, Interop.F_GETFL, 0);
                if (now >= 0 && now != f && Interop.Fcntl(h, Interop.F_SETFL, f) == 0) restored++;
            }
            catch (ObjectDisposedException) { } // the caller disposed its handle meanwhile
        }
        return restored;
    }
}
