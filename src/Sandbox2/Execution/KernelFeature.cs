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
