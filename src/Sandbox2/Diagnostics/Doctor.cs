namespace Sandbox2.Diagnostics;

/// <summary>How a check came out.</summary>
public enum CheckState
{
    /// <summary>The feature works.</summary>
    Ok,
    /// <summary>Missing, but something as safe is used instead (a fallback), or only an optional part needs it.</summary>
    Fallback,
    /// <summary>Missing: <see cref="CheckResult.Breaks"/> says what does not work.</summary>
    Missing,
    /// <summary>A fact about the machine, not a pass or a fail.</summary>
    Info,
}

/// <summary>One line of <c>sandbox2 doctor</c>.</summary>
/// <param name="Feature">What was checked ("user namespaces").</param>
/// <param name="State">ok / fallback / missing / info.</param>
/// <param name="Detail">What was found (the call and its errno, the sysctl's value).</param>
/// <param name="Breaks">Without it: what does not work (null when ok).</param>
/// <param name="Fix">What to do (null when ok).</param>
/// <param name="Required">The full sandbox needs it: missing means doctor exits 1.</param>
public sealed record CheckResult(string Feature, CheckState State, string Detail, string? Breaks = null, string? Fix = null, bool Required = false);

/// <summary>One of doctor's checks: tries one feature (through <see cref="Probes"/>, in a child process) and says what it found.</summary>
internal abstract class DoctorCheck
{
    public abstract IEnumerable<CheckResult> Run(Probes probes);
}

/// <summary><c>sandbox2 doctor</c>: every check, in order. The full sandbox can run when no required feature is missing.</summary>
public static class Doctor
{
    internal static IReadOnlyList<DoctorCheck> Checks { get; } =
    [
        new KernelCheck(), new ContainerCheck(), new UserNamespaceCheck(), new NamespaceKindsCheck(), new SeccompCheck(),
        new TsyncCheck(), new UserNotificationCheck(), new PidfdCheck(), new SyscallFallbackCheck(), new CgroupCheck(),
        new LandlockCheck(), new Ia32Check(), new YamaCheck(),
    ];

    /// <summary>Runs every check, each feature tried for real in a child process of the native helper (nothing leaks).</summary>
    public static IReadOnlyList<CheckResult> Run()
    {
        var location = ForkServerLocator.Locate();
        if (location.Error is { } notFound) throw new InvalidOperationException(notFound);
        // The probes are the native helper's --probe modes: from its file, or from the copy embedded in this assembly.
        using SafeFdHandle? embedded = location.Embedded && location.Path is null ? ForkServerLocator.OpenEmbedded() : null;
        return Run(new Probes(location.Path ?? $"/proc/self/fd/{embedded!.Fd}"));
    }

    internal static List<CheckResult> Run(Probes probes)
    {
        var results = new List<CheckResult>();
        foreach (var check in Checks)
        {
            try
            {
                results.AddRange(check.Run(probes));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                results.Add(new CheckResult(check.GetType().Name, CheckState.Missing, $"the check failed: {e.Message}", Required: true));
            }
        }
        return results;
    }

    /// <summary>The full sandbox can run: no required feature is missing.</summary>
    public static bool FullSandboxReady(IEnumerable<CheckResult> results) => !results.Any(r => r.Required && r.State == CheckState.Missing);

    /// <summary>No-namespaces isolation can run: seccomp (filter, user notification) and Landlock work.</summary>
    public static bool NoNamespacesReady(IEnumerable<CheckResult> results)
    {
        var list = results.ToList();
        bool landlock = list.Any(r => r.Feature == LandlockCheck.Name && r.State == CheckState.Ok);
        bool seccomp = !list.Any(r => r.State == CheckState.Missing && r.Feature.StartsWith("seccomp", StringComparison.Ordinal));
        bool pidfd = !list.Any(r => r.State == CheckState.Missing && r.Feature == PidfdCheck.Name);
        return landlock && seccomp && pidfd;
    }

    internal static string ErrnoName(int errno) => errno switch
    {
        0 => "ok",
        1 => "EPERM",
        2 => "ENOENT",
        13 => "EACCES",
        14 => "EFAULT",
        22 => "EINVAL",
        28 => "ENOSPC",
        38 => "ENOSYS",
        95 => "EOPNOTSUPP",
        _ => "errno " + errno.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Reads a /proc or /sys file, trimmed; null when absent or unreadable.</summary>
    internal static string? ReadFile(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
