namespace Sandbox2.Diagnostics;

/// <summary>Each namespace kind the sandbox creates, tried alone with a user namespace (unshare in a child).</summary>
internal sealed class NamespaceKindsCheck : DoctorCheck
{
    public override IEnumerable<CheckResult> Run(Probes probes)
    {
        foreach (var (key, name, used) in new[]
        {
            ("ns_mount", "mount namespace", true), ("ns_pid", "pid namespace", true), ("ns_net", "network namespace", true),
            ("ns_ipc", "ipc namespace", true), ("ns_uts", "uts namespace", true), ("ns_cgroup", "cgroup namespace", true),
            ("ns_time", "time namespace", false),
        })
        {
            int e = probes.Errno("userns", key);
            if (e == 0) { yield return new CheckResult(name, CheckState.Ok, "unshare(CLONE_NEWUSER|" + key[3..].ToUpperInvariant() + ") works", Required: used); continue; }
            if (!used) { yield return new CheckResult(name, CheckState.Info, $"unshare failed: {Doctor.ErrnoName(e)} (not used)"); continue; }
            yield return new CheckResult(name, CheckState.Missing, $"unshare(CLONE_NEWUSER|{key[3..].ToUpperInvariant()}) failed: {Doctor.ErrnoName(e)}",
                "the full sandbox (run fails with FAILED_NAMESPACES)", "a kernel with the namespace configured and user namespaces allowed (see above), or --isolation no-namespaces", Required: true);
        }
        int mount = probes.Errno("userns", "mount"), setattr = probes.Errno("userns", "mount_setattr");
        if (mount == 0 && setattr != 0)
            yield return new CheckResult("mount_setattr in a user namespace", CheckState.Fallback, $"failed: {Doctor.ErrnoName(setattr)}; each mount is remounted instead");
    }
}
