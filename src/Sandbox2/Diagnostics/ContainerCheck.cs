namespace Sandbox2.Diagnostics;

/// <summary>Is this process already under a seccomp filter (a container's profile) and no_new_privs? (/proc/self/status)</summary>
internal sealed class ContainerCheck : DoctorCheck
{
    public static bool UnderSeccompFilter()
    {
        var status = Doctor.ReadFile("/proc/self/status") ?? "";
        return Field(status, "Seccomp") == "2";
    }

    internal static string? Field(string status, string name)
    {
        foreach (var line in status.Split('\n'))
            if (line.StartsWith(name + ":", StringComparison.Ordinal)) return line[(name.Length + 1)..].Trim();
        return null;
    }

    public override IEnumerable<CheckResult> Run(Probes probes)
    {
        var status = Doctor.ReadFile("/proc/self/status") ?? "";
        string mode = Field(status, "Seccomp") ?? "?";
        string filters = Field(status, "Seccomp_filters") ?? "?";
        string detail = mode switch
        {
            "0" => "this process runs under no seccomp filter",
            "2" => $"this process already runs under {filters} seccomp filter(s): a container's or a launcher's profile decides which calls work (e.g. Docker's answers clone3 with ENOSYS and namespace-creating calls with EPERM)",
            _ => $"seccomp mode {mode}",
        };
        bool inContainer = File.Exists("/.dockerenv") || File.Exists("/run/.containerenv") || Doctor.ReadFile("/proc/1/cgroup") is { } c && (c.Contains("docker", StringComparison.Ordinal) || c.Contains("kubepods", StringComparison.Ordinal));
        yield return new CheckResult("container seccomp profile", CheckState.Info, detail + (inContainer ? "; a container was detected" : ""));
    }
}
