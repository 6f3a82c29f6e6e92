using System.Text.RegularExpressions;

namespace Sandbox2.Tests.Monitoring;

/// <summary>Whether stack frames get symbols on this machine, and the documented form of a trace when they cannot: the
/// kernel hands out <c>/proc/PID/map_files</c> only to a process with CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE) in the
/// initial user namespace, so an unprivileged executor writes addresses without symbols and a last line saying why.</summary>
internal static class Symbolization
{
    private static readonly Lazy<bool> s_available = new(Probe);

    /// <summary>Whether this process may open its own <c>/proc/self/map_files</c> entries (then the executor may too).</summary>
    public static bool Available => s_available.Value;

    /// <summary>When symbols are unavailable here, asserts the documented unsymbolized form of <paramref name="trace"/>
    /// (every frame an address, then the line naming why) and returns true: the caller's symbol checks do not apply.
    /// Returns false when symbols are available.</summary>
    public static bool Unsymbolized(IReadOnlyList<string>? trace)
    {
        if (Available) return false;
        Assert.NotNull(trace);
        string all = string.Join('\n', trace);
        Assert.True(trace.Count >= 2, all);
        Assert.StartsWith("(no symbols: the kernel refuses /proc/PID/map_files", trace[^1], StringComparison.Ordinal);
        Assert.All(trace.Take(trace.Count - 1), f => Assert.Matches(@"^#\d+ 0x[0-9a-f]{16} ", f));
        Assert.Matches(@"^#0 0x[0-9a-f]{16} \?\?", trace[0]);
        return true;
    }

    private static bool Probe()
    {
        // The first mapping of this process: its map_files link opens only with the capability.
        string first = File.ReadLines("/proc/self/maps").First();
        string range = first[..first.IndexOf(' ', StringComparison.Ordinal)];
        try
        {
            using var f = File.OpenHandle("/proc/self/map_files/" + range, FileMode.Open, FileAccess.Read);
            return true;
        }
        catch (UnauthorizedAccessException) { return false; }
        catch (IOException) { return false; }
    }
}
