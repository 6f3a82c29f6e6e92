using System.Collections.Frozen;

namespace Sandbox2;

/// <summary>Kernel constants the policy language knows by name (beyond Kafel, which knows none): O_*, PROT_*, MAP_*,
/// AF_*, SOCK_*, CLONE_*, F_*, AT_*, ioctl requests (TCGETS, ...), errno names (EPERM, ...) and more; x86-64 values
/// generated from the C headers (KernelConstants.gen.py). A <c>#define</c> of the same name wins.</summary>
internal static partial class KernelConstants
{
    private static class Index
    {
        internal static readonly FrozenDictionary<string, ulong> ByName = Data.ToFrozenDictionary(d => d.Name, d => d.Value, StringComparer.Ordinal);
    }
    private static FrozenDictionary<string, ulong> ByName => Index.ByName;

    /// <summary>The value of constant <paramref name="name"/>.</summary>
    public static bool TryGet(string name, out ulong value) => ByName.TryGetValue(name, out value);

    /// <summary>All names (for suggestions).</summary>
    public static IEnumerable<string> Names => ByName.Keys;

    /// <summary>How many constants there are.</summary>
    public static int Count => ByName.Count;
}
