namespace Sandbox2.Diagnostics;

/// <summary>Landlock: the ABI the kernel offers, and a ruleset really enforced on a child.</summary>
internal sealed class LandlockCheck : DoctorCheck
{
    public const string Name = "Landlock";

    public override IEnumerable<CheckResult> Run(Probes probes)
    {
        int abiErr = probes.Errno("landlock", "abi");
        var info = KernelFeatures.Describe(KernelFeature.Landlock);
        if (abiErr != 0)
        {
            yield return new CheckResult(Name, CheckState.Missing, $"landlock_create_ruleset failed: {Doctor.ErrnoName(abiErr)} ({info.Since})",
                "--isolation no-namespaces (Landlock is its filesystem wall) and the second wall inside the namespaces", info.Fix);
            yield break;
        }
        string abi = probes.Detail("landlock", "abi");
        int restrict = probes.Errno("landlock", "restrict_self"), enforced = probes.Errno("landlock", "enforced");
        if (restrict != 0 || enforced != 0)
        {
            yield return new CheckResult(Name, CheckState.Missing, $"ABI {abi}, but enforcing a ruleset failed: {Doctor.ErrnoName(restrict != 0 ? restrict : enforced)}",
                "--isolation no-namespaces and the second wall inside the namespaces", info.Fix);
            yield break;
        }
        int n = int.TryParse(abi, out int v) ? v : 0;
        string parts = "filesystem" + (n >= 2 ? ", refer" : "") + (n >= 3 ? ", truncate" : "") + (n >= 4 ? ", TCP bind/connect" : " (no TCP rules: ABI 4, Linux 6.7)")
            + (n >= 5 ? ", device ioctl" : "") + (n >= 6 ? ", scopes (abstract unix sockets, signals)" : "") + (n >= 8 ? ", all-thread enforcement" : "");
        yield return new CheckResult(Name, CheckState.Ok, $"ABI {abi} enforced on a child: {parts}");
    }
}
