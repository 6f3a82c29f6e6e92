namespace Sandbox2;

/// <summary>A kernel feature a setup step depends on (what <c>sandbox2 doctor</c> checks).</summary>
public enum KernelFeature
{
    /// <summary>Nothing beyond what every supported kernel has.</summary>
    None,
    /// <summary>Unprivileged user namespaces (<c>kernel.unprivileged_userns_clone</c>, <c>user.max_user_namespaces</c>,
    /// AppArmor's <c>apparmor_restrict_unprivileged_userns</c>, a container's seccomp profile).</summary>
    UserNamespaces,
    /// <summary>Mount namespaces and the mount API used to build the root.</summary>
    MountNamespaces,
    /// <summary>Network namespaces.</summary>
    NetworkNamespaces,
    /// <summary>UTS namespaces (hostname).</summary>
    UtsNamespaces,
    /// <summary><c>clone3(2)</c> (Linux 5.3).</summary>
    Clone3,
    /// <summary><c>openat2(2)</c> (Linux 5.6).</summary>
    Openat2,
    /// <summary><c>mount_setattr(2)</c> (Linux 5.12).</summary>
    MountSetattr,
    /// <summary><c>close_range(2)</c> (Linux 5.9).</summary>
    CloseRange,
    /// <summary>seccomp-bpf filters (<c>CONFIG_SECCOMP_FILTER</c>).</summary>
    Seccomp,
    /// <summary>seccomp user notification (<c>SECCOMP_FILTER_FLAG_NEW_LISTENER</c>, Linux 5.0).</summary>
    SeccompUserNotification,
    /// <summary><c>SECCOMP_FILTER_FLAG_TSYNC</c> (Linux 3.17).</summary>
    SeccompTsync,
    /// <summary>pidfd (<c>pidfd_open</c>, <c>CLONE_PIDFD</c>, Linux 5.3).</summary>
    Pidfd,
    /// <summary>Landlock (Linux 5.13).</summary>
    Landlock,
    /// <summary>Control groups (v2 unified hierarchy or v1 controllers).</summary>
    Cgroups,
}

/// <summary>What each <see cref="KernelFeature"/> is called, which kernel has it, what breaks without it and what to do;
/// and how an errno tells that a feature is missing (rather than a step failing for another reason).</summary>
internal static class KernelFeatures
{
    /// <summary>A feature in words.</summary>
    /// <param name="Name">Its name ("user namespaces").</param>
    /// <param name="Since">The first kernel that has it ("Linux 5.3").</param>
    /// <param name="Fix">What to do when it is missing.</param>
    internal readonly record struct Info(string Name, string Since, string Fix);

    private const int EPERM = 1, ENOENT = 2, EACCES = 13, EINVAL = 22, ENOSPC = 28, ENOSYS = 38, EOPNOTSUPP = 95;

    public static Info Describe(KernelFeature feature) => feature switch
    {
        KernelFeature.UserNamespaces => new("user namespaces", "Linux 3.8",
            "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces>0, an AppArmor profile where kernel.apparmor_restrict_unprivileged_userns=1; in a container: a seccomp profile that allows clone/unshare with namespace flags)"),
        KernelFeature.MountNamespaces => new("mount namespaces", "Linux 3.8", "allow mounts in an unprivileged user namespace (AppArmor: kernel.apparmor_restrict_unprivileged_userns)"),
        KernelFeature.NetworkNamespaces => new("network namespaces", "Linux 3.8", "a kernel with CONFIG_NET_NS"),
        KernelFeature.UtsNamespaces => new("UTS namespaces", "Linux 3.8", "a kernel with CONFIG_UTS_NS"),
        KernelFeature.Clone3 => new("clone3", "Linux 5.3", "none needed: clone with CLONE_PIDFD is used instead"),
        KernelFeature.Openat2 => new("openat2", "Linux 5.6", "none needed: a component-by-component walk that follows no symlink is used instead"),
        KernelFeature.MountSetattr => new("mount_setattr", "Linux 5.12", "none needed: each mount is remounted instead"),
        KernelFeature.CloseRange => new("close_range", "Linux 5.9", "none needed: descriptors are closed one by one instead"),
        KernelFeature.Seccomp => new("seccomp-bpf filters", "Linux 3.5", "a kernel with CONFIG_SECCOMP_FILTER, and a container profile that allows seccomp(2)"),
        KernelFeature.SeccompUserNotification => new("seccomp user notification", "Linux 5.0, FLAG_CONTINUE 5.5",
            "Linux 5.5 or newer; in a container, a seccomp profile that allows seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER)"),
        KernelFeature.SeccompTsync => new("seccomp TSYNC (SECCOMP_FILTER_FLAG_TSYNC)", "Linux 3.17, TSYNC_ESRCH 5.7",
            "Linux 5.7 or newer; or call SandboxMeHere before the process starts a second thread"),
        KernelFeature.Pidfd => new("pidfd", "Linux 5.3", "Linux 5.3 or newer"),
        KernelFeature.Landlock => new("Landlock", "Linux 5.13, TCP rules 6.7, scopes 6.12",
            "a kernel with CONFIG_SECURITY_LANDLOCK and landlock in its lsm= list; in a container, a seccomp profile that allows the landlock_* calls"),
        KernelFeature.Cgroups => new("cgroups", "Linux 4.5 (v2)", "a delegated, writable cgroup v2 subtree"),
        _ => new("", "", ""),
    };

    /// <summary>Whether <paramref name="errno"/> from <paramref name="step"/> means its feature is missing here (not
    /// compiled in, blocked by a sysctl, an LSM or a container's seccomp profile), rather than another failure.</summary>
    public static bool IsMissing(KernelFeature feature, int errno, SetupStep? step = null)
    {
        if (feature == KernelFeature.None || errno == 0) return false;
        if (errno == ENOSYS) return true; // not in this kernel, or answered so by a seccomp profile (Docker: clone3)
        return feature switch
        {
            // clone: EPERM (sysctl, container profile), ENOSPC (max_user_namespaces = 0), EINVAL (a flag the kernel
            // lacks); the maps and setres*id: EPERM/EACCES (AppArmor's restriction).
            KernelFeature.UserNamespaces => errno is EPERM or EACCES or ENOSPC or EINVAL,
            // The first mounts in the new namespace: EPERM/EACCES means mounting is forbidden there (AppArmor).
            KernelFeature.MountNamespaces => step is SetupStep.RootPrivate or SetupStep.Scratch or SetupStep.PivotScratch or SetupStep.RootTmpfs
                && errno is EPERM or EACCES,
            KernelFeature.NetworkNamespaces or KernelFeature.UtsNamespaces => errno is EINVAL,
            // An unknown filter flag is EINVAL (the kernel predates it).
            KernelFeature.Seccomp or KernelFeature.SeccompUserNotification or KernelFeature.SeccompTsync => errno is EINVAL,
            // Landlock disabled at boot: EOPNOTSUPP; a right this kernel does not know: EINVAL.
            KernelFeature.Landlock => errno is EOPNOTSUPP or EINVAL,
            KernelFeature.Cgroups => errno is ENOENT or EOPNOTSUPP,
            _ => false,
        };
    }

    /// <summary>Namespace features: without them <c>DisableNamespaces()</c> / <c>--isolation no-namespaces</c> still runs.</summary>
    public static bool IsNamespaceFeature(KernelFeature feature) =>
        feature is KernelFeature.UserNamespaces or KernelFeature.MountNamespaces or KernelFeature.NetworkNamespaces or KernelFeature.UtsNamespaces;

    /// <summary>The end of a failure message for a missing feature: what it is, which kernel has it, doctor, and the
    /// way around it where there is one.</summary>
    public static string MissingHint(KernelFeature feature)
    {
        var info = Describe(feature);
        string around = IsNamespaceFeature(feature)
            ? "; without namespaces, PolicyBuilder.DisableNamespaces() (sandbox2 run --isolation no-namespaces) runs with weaker isolation (seccomp + Landlock)"
            : "";
        return $" - {info.Name} ({info.Since}): not available here; see 'sandbox2 doctor'{around}";
    }
}
