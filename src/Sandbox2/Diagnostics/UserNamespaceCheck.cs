namespace Sandbox2.Diagnostics;

/// <summary>
/// Unprivileged user namespaces, tried as the forkserver makes them (clone3 — or clone — with every namespace flag, the
/// id maps written from outside, a mount inside), and what restricts them: <c>kernel.unprivileged_userns_clone</c>,
/// <c>user.max_user_namespaces</c>, AppArmor's <c>kernel.apparmor_restrict_unprivileged_userns</c>, a container's
/// seccomp profile.
/// </summary>
internal sealed class UserNamespaceCheck : DoctorCheck
{
    public const string Name = "user namespaces";
    private const string Breaks = "the full sandbox: run fails with FAILED_NAMESPACES (--isolation no-namespaces still runs, weaker)";

    public override IEnumerable<CheckResult> Run(Probes probes)
    {
        string? clone = Doctor.ReadFile("/proc/sys/kernel/unprivileged_userns_clone");
        string? max = Doctor.ReadFile("/proc/sys/user/max_user_namespaces");
        string? apparmor = Doctor.ReadFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
        if (clone is not null)
            yield return Sysctl("kernel.unprivileged_userns_clone", clone, clone != "0", "sysctl -w kernel.unprivileged_userns_clone=1 (and in /etc/sysctl.d/ to keep it)");
        if (max is not null)
            yield return Sysctl("user.max_user_namespaces", max, max != "0", "sysctl -w user.max_user_namespaces=15000");
        if (apparmor is not null)
            yield return Sysctl("kernel.apparmor_restrict_unprivileged_userns", apparmor, apparmor == "0", "install the AppArmor profile printed below");

        int cloneErr = probes.Errno("userns", "clone"), maps = probes.Errno("userns", "id_maps"), mount = probes.Errno("userns", "mount");
        string call = probes.Detail("userns", "clone");
        if (cloneErr == 0 && maps == 0 && mount == 0)
        {
            yield return new CheckResult(Name, CheckState.Ok, $"{call} with every namespace flag, id maps and a mount inside work", Required: true);
            yield break;
        }
        string detail = cloneErr != 0 ? $"{call} with CLONE_NEWUSER and the other namespace flags failed: {Doctor.ErrnoName(cloneErr)}"
            : maps != 0 ? $"writing the id maps failed: {Doctor.ErrnoName(maps)}"
            : $"mounting inside the new namespaces failed: {Doctor.ErrnoName(mount)} (the namespace is created but has no capabilities: AppArmor?)";
        string fix = clone == "0" ? "sysctl -w kernel.unprivileged_userns_clone=1"
            : max == "0" ? "sysctl -w user.max_user_namespaces=15000"
            : apparmor == "1" ? "install this AppArmor profile for the forkserver, then run it again:\n" + AppArmorProfile(probes.Program)
            : ContainerCheck.UnderSeccompFilter() ? "in a container: run it with a seccomp profile that allows clone/unshare with namespace flags (and clone3), or use 'sandbox2 run --isolation no-namespaces'"
            : KernelFeatures.Describe(KernelFeature.UserNamespaces).Fix;
        yield return new CheckResult(Name, CheckState.Missing, detail, Breaks, fix, Required: true);
    }

    private static CheckResult Sysctl(string name, string value, bool ok, string fix) => ok
        ? new CheckResult(name, CheckState.Info, $"= {value}")
        : new CheckResult(name, CheckState.Info, $"= {value}: restricts unprivileged user namespaces", Breaks, fix);

    /// <summary>A ready AppArmor profile letting our forkserver create user namespaces (Ubuntu 23.10+).</summary>
    internal static string AppArmorProfile(string program) =>
        $$"""
        # /etc/apparmor.d/sandbox2-forkserver  (then: apparmor_parser -r /etc/apparmor.d/sandbox2-forkserver)
        abi <abi/4.0>,
        include <tunables/global>

        profile sandbox2-forkserver {{program}} flags=(unconfined) {
          userns,
          include if exists <local/sandbox2-forkserver>
        }
        """;
}
