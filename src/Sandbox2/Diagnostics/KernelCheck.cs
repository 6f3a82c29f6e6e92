namespace Sandbox2.Diagnostics;

/// <summary>The kernel's version against the oldest one the full sandbox supports (docs/DESIGN.md, "Kernels").</summary>
internal sealed class KernelCheck : DoctorCheck
{
    /// <summary>The oldest kernel supported: RHEL 9 (5.14) and Ubuntu 22.04 (5.15) are above it; what the sandbox needs
    /// without a fallback is all in 5.7 (TSYNC_ESRCH) and older, 5.10 is the LTS line that has it.</summary>
    public static readonly Version Oldest = new(5, 10);

    public override IEnumerable<CheckResult> Run(Probes probes)
    {
        string release = Doctor.ReadFile("/proc/sys/kernel/osrelease") ?? "unknown";
        var digits = release.Split('.', '-');
        Version? version = digits.Length >= 2 && int.TryParse(digits[0], System.Globalization.CultureInfo.InvariantCulture, out int major)
            && int.TryParse(digits[1], System.Globalization.CultureInfo.InvariantCulture, out int minor) ? new Version(major, minor) : null;
        if (version is null || version >= Oldest)
            yield return new CheckResult("kernel", CheckState.Info, $"Linux {release} (oldest supported: {Oldest})");
        else
            yield return new CheckResult("kernel", CheckState.Info, $"Linux {release} is older than {Oldest}, the oldest supported",
                "features newer than it are checked one by one below", $"a kernel {Oldest} or newer (RHEL 9: 5.14, Ubuntu 22.04: 5.15, Debian 12: 6.1)");
    }
}
