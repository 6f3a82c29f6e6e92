namespace Sandbox2.Tests.Cli;

/// <summary>A fact about cgroup accounting and limits (a sum over every process, a memory peak, an OOM kill): it needs
/// the tool to get a cgroup, which it does as root or with a delegated, writable cgroup v2 subtree. Without one the
/// tool falls back to per-process rlimits and says so (<c>isolation.cgroup</c> null), which
/// <c>UnprivilegedWithoutDelegationFallsBackToRlimitsAndSaysSo</c> and <c>ReadOnlyCgroupTreeFallsBackToRlimits</c>
/// test; the fact is skipped with that reason.</summary>
public sealed class CgroupFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> s_skip = new(Probe);

    /// <summary>Whether the tool gets a cgroup here (root, or a delegated writable cgroup v2 subtree).</summary>
    internal static bool CgroupAvailable => s_skip.Value is null;

    /// <summary>Skips the fact, with the reason, where the tool gets no cgroup.</summary>
    public CgroupFactAttribute()
    {
        if (s_skip.Value is { } reason) Skip = reason;
    }

    private static string? Probe()
    {
        if (Interop.GetEUid() == 0) return null;
        // cgroup v2 delegation: the caller's own cgroup directory is writable by it.
        foreach (string line in File.ReadLines("/proc/self/cgroup"))
        {
            if (!line.StartsWith("0::", StringComparison.Ordinal)) continue;
            string dir = "/sys/fs/cgroup" + line[3..];
            foreach (string root in (string[])[dir, "/sys/fs/cgroup/unified" + line[3..]])
                if (Directory.Exists(root) && Interop.Access(root, 2) == 0) return null;
        }
        return "no cgroup for an unprivileged user without a delegated cgroup v2 subtree: the tool falls back to rlimits " +
               "(tested by UnprivilegedWithoutDelegationFallsBackToRlimitsAndSaysSo)";
    }
}
