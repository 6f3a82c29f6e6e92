namespace Sandbox2;

/// <summary>
/// The native setup steps, by the number native/ reports (<c>enum step</c> in native/sandbox2.h; keep both in sync, a test
/// checks every value). Each maps to a <see cref="ReasonCode"/>, the text of the failure and the kernel feature it needs.
/// </summary>
internal enum SetupStep
{
    // Forkserver (in its reply to a request).
    Request = 1, Pipe = 2, Clone = 3, SetGroups = 4, UidMap = 5, GidMap = 6, ReleaseInit = 7, CgroupClone = 8, CgroupProcs = 9,
    // Init (PID 1).
    SetResGid = 10, SetResUid = 11, InitParentDeathSignal = 12, Hostname = 13, Loopback = 14, CgroupNamespace = 15,
    RootPrivate = 20, Scratch = 21, PivotScratch = 22, RootTmpfs = 23, MakeDirectory = 24, CreateFile = 25,
    Symlink = 26, MountTarget = 27, Bind = 28, MountFlags = 29, Tmpfs = 30, Proc = 31,
    DetachOldRoot = 32, PivotRoot = 33, RemountReadOnly = 34, MountKind = 35,
    Fork = 40, InitFds = 41, Subreaper = 42,
    // The sandboxee (PID 2) before exec.
    ParentDeathSignal = 50, SetSid = 51, SignalMask = 52, Dup = 53, Dup2 = 54, CloseRange = 55, Rlimit = 56,
    Chdir = 57, Capabilities = 58, NoNewPrivs = 59, Seccomp = 60, SeccompListener = 61, SendListener = 62,
    Exec = 63, Landlock = 64, LandlockRule = 65, LandlockRestrict = 66,
    // Host paths the executor opened, opened again without following symlinks and checked to be the same file.
    BindSource = 70, BindSourceChanged = 71, LandlockPathChanged = 72,
    Keyring = 74,
    // Forkserver: UseForkServerSharedNetNs (made on first use, entered around the clone).
    SharedNetNs = 78,
    Nice = 82,
    Trace = 83,
}

/// <summary>What a setup step is, for reporting.</summary>
/// <param name="Text">What the step does, as the start of the failure message ("bind ", "setrlimit ").</param>
/// <param name="Code">The reason code of a failure of this step.</param>
/// <param name="Feature">The kernel feature the step depends on.</param>
internal readonly record struct SetupStepInfo(string Text, ReasonCode Code, KernelFeature Feature);

/// <summary>A failed setup step: what failed in words ("bind /x -> /data"), its errno (0 = none), the reason code, the
/// kernel feature it needs, and the native step when the native side reported it.</summary>
internal sealed record SetupFailure(string What, int Errno, ReasonCode Code, KernelFeature Feature = KernelFeature.None, SetupStep? Step = null)
{
    /// <summary>The errno says the step's kernel feature is missing here (decided from the errno, in C#).</summary>
    public bool FeatureMissing => KernelFeatures.IsMissing(Feature, Errno, Step);

    /// <summary>A failure the native side reported as a step number, errno and detail.</summary>
    public static SetupFailure FromNative(SetupStep step, int errno, string detail)
    {
        var info = SetupSteps.Describe(step);
        string what = detail.Length == 0 ? info.Text.TrimEnd(' ', ':') : info.Text + detail;
        // Steps that allocate (processes, descriptors, memory) fail for want of a resource, not a feature.
        if ((step is SetupStep.Clone or SetupStep.Fork or SetupStep.Pipe or SetupStep.Dup or SetupStep.Dup2 or SetupStep.Tmpfs
            or SetupStep.RootTmpfs or SetupStep.Scratch or SetupStep.ReleaseInit) && HostResources.IsExhaustion(errno))
            return new SetupFailure($"{what}: {HostResources.Describe(errno)}", 0, ReasonCode.FailedResources, KernelFeature.None, step);
        return new SetupFailure(what, errno, info.Code, info.Feature, step);
    }
}

internal static class SetupSteps
{
    /// <summary>The table: every step's text, reason code and kernel feature.</summary>
    public static SetupStepInfo Describe(SetupStep step) => step switch
    {
        SetupStep.Request => new("forkserver rejected the request: ", ReasonCode.FailedSubprocess, KernelFeature.None),
        SetupStep.Pipe => new("pipe2", ReasonCode.FailedSubprocess, KernelFeature.None),
        SetupStep.Clone => new("create the namespaces with ", ReasonCode.FailedNamespaces, KernelFeature.UserNamespaces),
        SetupStep.SetGroups => new("write setgroups deny ", ReasonCode.FailedNamespaces, KernelFeature.UserNamespaces),
        SetupStep.UidMap => new("write uid_map ", ReasonCode.FailedNamespaces, KernelFeature.UserNamespaces),
        SetupStep.GidMap => new("write gid_map ", ReasonCode.FailedNamespaces, KernelFeature.UserNamespaces),
        SetupStep.ReleaseInit => new("release init", ReasonCode.FailedSubprocess, KernelFeature.None),
        SetupStep.CgroupClone => new("clone3 into the sandbox's cgroup (CLONE_INTO_CGROUP)", ReasonCode.FailedLimits, KernelFeature.Cgroups),
        SetupStep.CgroupProcs => new("move init into the sandbox's cgroup (cgroup.procs)", ReasonCode.FailedLimits, KernelFeature.Cgroups),
        SetupStep.CgroupNamespace => new("unshare the cgroup namespace", ReasonCode.FailedNamespaces, KernelFeature.Cgroups),
        SetupStep.SetResGid => new("setresgid", ReasonCode.FailedNamespaces, KernelFeature.UserNamespaces),
        SetupStep.SetResUid => new("setresuid", ReasonCode.FailedNamespaces, KernelFeature.UserNamespaces),
        SetupStep.InitParentDeathSignal => new("prctl PDEATHSIG (init)", ReasonCode.FailedSubprocess, KernelFeature.None),
        SetupStep.Hostname => new("sethostname ", ReasonCode.FailedNamespaces, KernelFeature.UtsNamespaces),
        SetupStep.Loopback => new("bring lo up: ", ReasonCode.FailedNamespaces, KernelFeature.NetworkNamespaces),
        SetupStep.RootPrivate => new("make / private", ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces),
        SetupStep.Scratch => new("prepare the scratch root: ", ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces),
        SetupStep.PivotScratch => new("pivot_root to scratch", ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces),
        SetupStep.RootTmpfs => new("mount root tmpfs ", ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces),
        SetupStep.MakeDirectory => new("mkdir ", ReasonCode.FailedNamespaces, KernelFeature.Openat2),
        SetupStep.CreateFile => new("create file ", ReasonCode.FailedNamespaces, KernelFeature.Openat2),
        SetupStep.Symlink => new("symlink ", ReasonCode.FailedNamespaces, KernelFeature.Openat2),
        SetupStep.MountTarget => new("mount target ", ReasonCode.FailedNamespaces, KernelFeature.Openat2),
        SetupStep.Bind => new("bind ", ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces),
        SetupStep.MountFlags => new("set mount flags on ", ReasonCode.FailedNamespaces, KernelFeature.MountSetattr),
        SetupStep.Tmpfs => new("mount tmpfs ", ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces),
        SetupStep.Proc => new("mount proc ", ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces),
        SetupStep.DetachOldRoot => new("detach the host root: ", ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces),
        SetupStep.PivotRoot => new("pivot_root to the new root: ", ReasonCode.FailedNamespaces, KernelFeature.MountNamespaces),
        SetupStep.RemountReadOnly => new("remount read-only ", ReasonCode.FailedNamespaces, KernelFeature.MountSetattr),
        SetupStep.MountKind => new("unknown mount kind at ", ReasonCode.FailedNamespaces, KernelFeature.None),
        SetupStep.Fork => new("fork sandboxee", ReasonCode.FailedSubprocess, KernelFeature.None),
        SetupStep.InitFds => new("init descriptors: ", ReasonCode.FailedIpc, KernelFeature.None),
        SetupStep.Subreaper => new("prctl CHILD_SUBREAPER (init)", ReasonCode.FailedSubprocess, KernelFeature.None),
        SetupStep.ParentDeathSignal => new("prctl PDEATHSIG", ReasonCode.FailedSubprocess, KernelFeature.None),
        SetupStep.SetSid => new("setsid", ReasonCode.FailedSubprocess, KernelFeature.None),
        SetupStep.SignalMask => new("unblock signals", ReasonCode.FailedSubprocess, KernelFeature.None),
        SetupStep.Dup => new("dup ", ReasonCode.FailedIpc, KernelFeature.None),
        SetupStep.Dup2 => new("dup2 to fd ", ReasonCode.FailedIpc, KernelFeature.None),
        SetupStep.CloseRange => new("close_range", ReasonCode.FailedIpc, KernelFeature.CloseRange),
        SetupStep.Rlimit => new("setrlimit ", ReasonCode.FailedLimits, KernelFeature.None),
        SetupStep.Chdir => new("chdir ", ReasonCode.FailedCwd, KernelFeature.None),
        SetupStep.Capabilities => new("drop capabilities: ", ReasonCode.FailedNamespaces, KernelFeature.None),
        SetupStep.NoNewPrivs => new("prctl NO_NEW_PRIVS", ReasonCode.FailedPolicy, KernelFeature.Seccomp),
        SetupStep.Seccomp => new("install seccomp filter", ReasonCode.FailedPolicy, KernelFeature.Seccomp),
        SetupStep.SeccompListener => new("install seccomp filter with a listener", ReasonCode.FailedPolicy, KernelFeature.SeccompUserNotification),
        SetupStep.SendListener => new("send seccomp listener", ReasonCode.FailedMonitor, KernelFeature.None),
        SetupStep.Exec => new("execveat ", ReasonCode.FailedSubprocess, KernelFeature.None),
        SetupStep.SharedNetNs => new("make or enter the forkserver's shared network namespace (UseForkServerSharedNetNs needs a forkserver with CAP_SYS_ADMIN)", ReasonCode.FailedNamespaces, KernelFeature.None),
        SetupStep.Landlock => new("create the Landlock ruleset", ReasonCode.FailedPolicy, KernelFeature.Landlock),
        SetupStep.LandlockRule => new("Landlock rule for ", ReasonCode.FailedPolicy, KernelFeature.Landlock),
        SetupStep.LandlockRestrict => new("enforce the Landlock ruleset", ReasonCode.FailedPolicy, KernelFeature.Landlock),
        SetupStep.BindSource => new("bind (its source opened under the host root, no symlink followed) ", ReasonCode.FailedNamespaces, KernelFeature.Openat2),
        SetupStep.BindSourceChanged => new("bind (its source is no longer the file the executor opened) ", ReasonCode.FailedNamespaces, KernelFeature.None),
        SetupStep.LandlockPathChanged => new("Landlock rule (its path is no longer the file the executor opened) for ", ReasonCode.FailedPolicy, KernelFeature.None),
        SetupStep.Keyring => new("join a fresh session keyring", ReasonCode.FailedSubprocess, KernelFeature.None),
        SetupStep.Nice => new("setpriority ", ReasonCode.FailedLimits, KernelFeature.None),
        SetupStep.Trace => new("let init trace the sandboxee (stack traces on a signal or an exit) ", ReasonCode.FailedSubprocess, KernelFeature.None),
        _ => new(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"setup step {(int)step} "), ReasonCode.FailedSubprocess, KernelFeature.None),
    };
}
