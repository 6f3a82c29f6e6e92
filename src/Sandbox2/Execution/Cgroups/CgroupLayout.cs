using System.Globalization;

namespace Sandbox2;

/// <summary>Which cgroup hierarchy held a sandbox (<c>isolation.cgroup</c> in the result).</summary>
public enum CgroupVersion
{
    /// <summary>cgroup v1 controller hierarchies (memory, pids, cpuacct, freezer).</summary>
    V1 = 1,
    /// <summary>The cgroup v2 unified hierarchy.</summary>
    V2 = 2,
}

/// <summary>
/// Where this process can make per-sandbox cgroups (nsjail's <c>cgroup2::detectCgroupv2</c> and <c>cgroup.cc</c>): read
/// from <c>/proc/self/mountinfo</c> and <c>/proc/self/cgroup</c>, once per process. Sandbox cgroups are made below the
/// executor's own cgroup (so a limit set on the executor still holds for its sandboxes).
/// <list type="bullet">
/// <item>v2 when the unified hierarchy is writable and the memory and pids controllers are (or can be) enabled for
/// children of the executor's cgroup (root, or a delegated subtree);</item>
/// <item>else v1 when the memory and pids controller hierarchies are mounted and writable;</item>
/// <item>else v2 without those controllers when only the unified hierarchy is writable (the sandbox is placed, counted
/// and killed as one; memory and processes are bounded by rlimits);</item>
/// <item>else none: rlimits only (a container with a read-only cgroup tree, an unprivileged user without delegation).</item>
/// </list>
/// </summary>
internal sealed class CgroupLayout
{
    private static readonly Lazy<CgroupLayout> s_current = new(() => Detect(
        ReadProc("/proc/self/mountinfo"), ReadProc("/proc/self/cgroup")));

    /// <summary>The layout of this process (detected on first use).</summary>
    public static CgroupLayout Current => s_current.Value;

    /// <summary>The hierarchy sandboxes get, or null (rlimits only).</summary>
    public CgroupVersion? Version { get; private init; }
    /// <summary>v2: the executor's cgroup directory (sandbox cgroups are made in it).</summary>
    public string? V2Parent { get; private init; }
    /// <summary>v2: memory and pids are enabled for the children of <see cref="V2Parent"/>.</summary>
    public bool V2Controllers { get; private init; }
    /// <summary>v1: controller name → the executor's cgroup directory in that controller's hierarchy.</summary>
    public IReadOnlyDictionary<string, string> V1Parents { get; private init; } = new Dictionary<string, string>();
    /// <summary>Why no cgroup (or only a partial one) is used, for <c>doctor</c> and the docs.</summary>
    public string Why { get; private init; } = "";

    /// <summary>Controllers a v1 sandbox cgroup uses, if mounted (memory and pids are required for v1).</summary>
    private static readonly string[] V2Wanted = ["memory", "pids", "cpu"];

    internal static readonly string[] V1Controllers = ["memory", "pids", "cpuacct", "freezer"];

    /// <summary>Decides from the text of <c>/proc/self/mountinfo</c> and <c>/proc/self/cgroup</c>; probes write access.</summary>
    internal static CgroupLayout Detect(string mountinfo, string selfCgroup)
    {
        string? v2Mount = null, v2Root = null;
        var v1 = new Dictionary<string, (string Mount, string Root)>(StringComparer.Ordinal);
        foreach (var line in mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            int dash = line.IndexOf(" - ", StringComparison.Ordinal);
            if (dash < 0) continue;
            string[] left = line[..dash].Split(' ');
            string[] right = line[(dash + 3)..].Split(' ');
            if (left.Length < 6 || right.Length < 3) continue;
            string root = Unescape(left[3]), mountPoint = Unescape(left[4]);
            if (right[0] == "cgroup2")
            {
                if (v2Mount is null || mountPoint == "/sys/fs/cgroup") (v2Mount, v2Root) = (mountPoint, root);
            }
            else if (right[0] == "cgroup")
            {
                foreach (var opt in right[2].Split(','))
                    if (Array.IndexOf(V1Controllers, opt) >= 0) v1.TryAdd(opt, (mountPoint, root));
            }
        }

        string? v2Path = null;
        var v1Paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in selfCgroup.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split(':', 3);
            if (f.Length != 3) continue;
            if (f[0] == "0" && f[1].Length == 0) v2Path = f[2];
            else foreach (var c in f[1].Split(',')) v1Paths[c] = f[2];
        }

        string why = "", v2Why = "";
        string? v2Dir = v2Mount is not null && v2Path is not null ? Join(v2Mount, v2Root!, v2Path) : null;
        bool v2Writable = v2Dir is not null && Writable(v2Dir);
        if (v2Writable && EnableV2Controllers(v2Dir!, out v2Why))
            return new CgroupLayout { Version = CgroupVersion.V2, V2Parent = v2Dir, V2Controllers = true };
        else if (v2Dir is null) why = "no cgroup2 hierarchy mounted";
        else if (!v2Writable) why = $"{v2Dir} is not writable (not delegated, or a read-only cgroup tree)";
        else why = v2Why;

        var parents = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var c in V1Controllers)
            if (v1.TryGetValue(c, out var m) && v1Paths.TryGetValue(c, out var p) && Join(m.Mount, m.Root, p) is { } dir && Writable(dir))
                parents[c] = dir;
        if (parents.ContainsKey("memory") && parents.ContainsKey("pids"))
            return new CgroupLayout { Version = CgroupVersion.V1, V1Parents = parents, Why = "v2: " + why };
        string v1Why = v1.Count == 0 ? "no cgroup v1 controllers mounted" : "the v1 memory and pids hierarchies are not both mounted and writable";

        if (v2Writable)
            return new CgroupLayout { Version = CgroupVersion.V2, V2Parent = v2Dir, Why = $"v2 without memory/pids controllers ({why}); {v1Why}: memory and processes are bounded by rlimits" };
        return new CgroupLayout { Why = $"{why}; {v1Why}: rlimits only" };
    }

    /// <summary>The directory of cgroup <paramref name="path"/> (from /proc/self/cgroup) under a mount of <paramref name="root"/>.</summary>
    private static string? Join(string mountPoint, string root, string path)
    {
        if (root != "/" && !(path == root || path.StartsWith(root + "/", StringComparison.Ordinal)))
            return path == "/" ? mountPoint : null; // our cgroup is outside what is mounted (a cgroup namespace shows "/")
        string rel = root == "/" ? path : path[root.Length..];
        rel = rel.Trim('/');
        return rel.Length == 0 ? mountPoint : mountPoint.TrimEnd('/') + "/" + rel;
    }

    private static string ReadProc(string path)
    {
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
    }

    private static bool Writable(string dir) => Interop.Access(dir, Interop.W_OK) == 0;

    /// <summary>Makes memory and pids available to children of <paramref name="dir"/> (cgroup.subtree_control).</summary>
    private static bool EnableV2Controllers(string dir, out string why)
    {
        string available = Interop.ReadSmallFile(dir + "/cgroup.controllers") ?? "";
        var have = available.Split(' ', '\n', StringSplitOptions.RemoveEmptyEntries);
        if (!have.Contains("memory") || !have.Contains("pids"))
        {
            why = $"the memory and pids controllers are not available in {dir} (cgroup.controllers: '{available.Trim()}')";
            return false;
        }
        string enabled = Interop.ReadSmallFile(dir + "/cgroup.subtree_control") ?? "";
        var on = enabled.Split(' ', '\n', StringSplitOptions.RemoveEmptyEntries);
        string want = string.Join(' ', V2Wanted.Where(c => have.Contains(c) && !on.Contains(c)).Select(c => "+" + c));
        if (want.Length > 0 && Interop.WriteFile(dir + "/cgroup.subtree_control", want) is int e and not 0)
        {
            why = e == Interop.EBUSY
                ? $"cannot enable controllers in {dir}: it holds processes (cgroup v2's no-internal-processes rule; run the executor in a leaf of a delegated subtree)"
                : $"cannot enable controllers in {dir}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(e)}";
            return false;
        }
        why = "";
        return true;
    }

    private static string Unescape(string s) => s.Contains('\\', StringComparison.Ordinal)
        ? System.Text.RegularExpressions.Regex.Replace(s, @"\\([0-7]{3})", m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString())
        : s;

    /// <summary>Half of the host's memory (MemTotal in /proc/meminfo), the CLI's default memory limit.</summary>
    public static ulong HalfOfHostMemory()
    {
        string? info = Interop.ReadSmallFile("/proc/meminfo");
        foreach (var line in (info ?? "").Split('\n'))
        {
            if (!line.StartsWith("MemTotal:", StringComparison.Ordinal)) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong kb)) return kb * 1024 / 2;
        }
        return 4UL << 30;
    }
}
