namespace Sandbox2.Diagnostics;

/// <summary>cgroup v2 (read-only look): the unified hierarchy, this process's cgroup, whether it is delegated (writable).</summary>
internal sealed class CgroupCheck : DoctorCheck
{
    public override IEnumerable<CheckResult> Run(Probes probes)
    {
        const string Breaks = "whole-sandbox memory and process limits (--memory-limit falls back to RLIMIT_AS per process, --process-limit to RLIMIT_NPROC)";
        string? root = (Doctor.ReadFile("/proc/self/mounts") ?? "").Split('\n').Select(l => l.Split(' '))
            .FirstOrDefault(f => f.Length > 2 && f[2] == "cgroup2")?[1];
        string? controllers = root is null ? null : Doctor.ReadFile(root + "/cgroup.controllers");
        if (root is null || controllers is null)
        {
            yield return new CheckResult("cgroup v2", CheckState.Fallback, "no cgroup v2 hierarchy is mounted", Breaks, "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2)");
            yield break;
        }
        string own = (Doctor.ReadFile("/proc/self/cgroup") ?? "").Split('\n').FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal))?[3..] ?? "/";
        string dir = root + (own == "/" ? "" : own);
        bool writable = Interop.Access(dir, 2 /* W_OK */) == 0 && Interop.Access(Path.Combine(dir, "cgroup.procs"), 2) == 0;
        string have = Doctor.ReadFile(Path.Combine(dir, "cgroup.controllers")) ?? controllers;
        yield return writable
            ? new CheckResult("cgroup v2", have.Contains("memory", StringComparison.Ordinal) ? CheckState.Ok : CheckState.Fallback,
                $"{dir} is writable (delegated); controllers: {(have.Length > 0 ? have : "none (they are in v1 hierarchies)")}",
                have.Contains("memory", StringComparison.Ordinal) ? null : Breaks, have.Contains("memory", StringComparison.Ordinal) ? null : "a cgroup v2 hierarchy with the memory and pids controllers")
            : new CheckResult("cgroup v2", CheckState.Fallback, $"{dir} is not writable by this user (not delegated); controllers: {have}", Breaks,
                "delegate a subtree (systemd: Delegate=yes, or systemd-run --user --scope -p Delegate=yes; Docker: --cgroupns=private with a writable cgroup)");
    }
}
