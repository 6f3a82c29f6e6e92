namespace Sandbox2.Diagnostics;

/// <summary>seccomp-bpf: installing a filter, and which return actions the kernel has (SECCOMP_GET_ACTION_AVAIL).</summary>
internal sealed class SeccompCheck : DoctorCheck
{
    private static readonly string[] Required = ["kill_process", "errno", "user_notif", "allow"];
    private static readonly string[] Actions = ["kill_process", "kill_thread", "trap", "errno", "user_notif", "trace", "log", "allow"];

    public override IEnumerable<CheckResult> Run(Probes probes)
    {
        int filter = probes.Errno("seccomp", "filter");
        yield return filter == 0
            ? new CheckResult("seccomp filter", CheckState.Ok, "an allow-all filter installs", Required: true)
            : new CheckResult("seccomp filter", CheckState.Missing, $"seccomp(SECCOMP_SET_MODE_FILTER) failed: {Doctor.ErrnoName(filter)}",
                "every sandbox: the policy cannot be installed", KernelFeatures.Describe(KernelFeature.Seccomp).Fix, Required: true);
        var have = new List<string>();
        var lack = new List<string>();
        foreach (var a in Actions)
            (probes.Errno("seccomp", "action_" + a) == 0 ? have : lack).Add(a.ToUpperInvariant());
        var lackRequired = lack.Where(a => Required.Contains(a.ToLowerInvariant())).ToList();
        yield return lackRequired.Count == 0
            ? new CheckResult("seccomp actions", CheckState.Ok, "SECCOMP_GET_ACTION_AVAIL: " + string.Join(", ", have) + (lack.Count > 0 ? "; not: " + string.Join(", ", lack) : ""), Required: true)
            : new CheckResult("seccomp actions", CheckState.Missing, "missing " + string.Join(", ", lackRequired),
                "policies that use them, and violation reports (USER_NOTIF)", "Linux 5.5 or newer", Required: true);
    }
}
