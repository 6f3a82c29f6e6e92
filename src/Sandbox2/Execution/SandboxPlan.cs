using System.Runtime.InteropServices;

namespace Sandbox2;

// The setup plan: everything the native pre-exec stage (native/) must do to start one sandbox,
// computed and validated in C#. The native side carries it out step by step and decides nothing.
// Owners: the execution work fills it (Executor/Mounts/Limits -> plan); the forkserver work
// serialises it and carries it out (ForkServer.cs + native/).

/// <summary>Namespaces to create (the clone flags).</summary>
[Flags]
internal enum PlanNamespaces
{
    None = 0,
    User = 1 << 0,
    Pid = 1 << 1,
    Mount = 1 << 2,
    Net = 1 << 3,
    Ipc = 1 << 4,
    Uts = 1 << 5,
    Cgroup = 1 << 6,
    All = User | Pid | Mount | Net | Ipc | Uts | Cgroup,
}

internal enum MountOpKind
{
    /// <summary>mkdir -p Target (mode 0755) inside the new root.</summary>
    MakeDirectory,
    /// <summary>Create an empty regular file at Target (mount point for a file bind); parents must exist.</summary>
    CreateFile,
    /// <summary>Bind-mount host path Source onto Target (MS_BIND|MS_REC), then remount with Flags.</summary>
    Bind,
    /// <summary>Mount a fresh tmpfs at Target with Options (e.g. "size=16m,mode=1777") and Flags.</summary>
    Tmpfs,
    /// <summary>Mount a fresh procfs of the sandbox's pid namespace at Target (nosuid,nodev,noexec).</summary>
    Proc,
    /// <summary>Create a symlink at Target pointing to Source.</summary>
    Symlink,
}

[Flags]
internal enum MountFlags
{
    None = 0,
    ReadOnly = 1 << 0,
    NoSuid = 1 << 1,
    NoDev = 1 << 2,
    NoExec = 1 << 3,
}

/// <summary>One mount-tree operation. Target is an absolute path inside the sandbox; Source a host path (Bind) or link text (Symlink).</summary>
internal sealed record MountOp(MountOpKind Kind, string Target, string? Source = null, MountFlags Flags = MountFlags.None, string? Options = null)
{
    /// <summary>Bind: (st_dev, st_ino) of Source as the executor opened it; native/mounts.c binds Source only if the
    /// file it finds there (under the host root, no symlink followed) is this one. Null: no identity check.</summary>
    public (ulong Dev, ulong Ino)? SourceIdentity { get; init; }

    /// <summary>Bind: the executor's <c>O_PATH</c> descriptor of Source, held until the sandbox has started (so that
    /// the inode cannot be freed and its number reused). Disposed by the sandbox.</summary>
    public SafeHandle? SourceHandle { get; init; }
}

/// <summary>setrlimit(Resource, Soft, Hard) in the sandboxee before exec. Values are raw (ulong.MaxValue = RLIM_INFINITY).</summary>
internal readonly record struct RlimitOp(int Resource, ulong Soft, ulong Hard);

/// <summary>Put Source at descriptor number TargetFd in the sandboxee (0, 1, 2, 1023, ...). Every other fd is closed.</summary>
internal sealed record FdMapping(int TargetFd, SafeHandle Source);

internal sealed class SandboxPlan
{
    public PlanNamespaces Namespaces { get; init; } = PlanNamespaces.All;
    /// <summary>uid/gid of the sandboxee inside its user namespace (Sandbox2: 1000).</summary>
    public uint InsideUid { get; init; } = 1000;
    public uint InsideGid { get; init; } = 1000;
    /// <summary>Host uid/gid that InsideUid/InsideGid map to: the executor's own ids, or (a root executor) the sandbox's own from the HostIds range.</summary>
    public uint OutsideUid { get; init; }
    public uint OutsideGid { get; init; }
    public string Hostname { get; init; } = "sandbox2";
    /// <summary>Bring up <c>lo</c> in the new network namespace.</summary>
    public bool LoopbackUp { get; init; }
    /// <summary>Mount operations, in order, building the new root (an empty tmpfs). After the last one the root is remounted read-only.</summary>
    public IReadOnlyList<MountOp> Mounts { get; init; } = [];
    public IReadOnlyList<RlimitOp> Rlimits { get; init; } = [];
    /// <summary>The sandboxee's niceness (setpriority in PID 2 before exec; init keeps the executor's); null = inherited.</summary>
    public int? Nice { get; init; }
    /// <summary>init traces PID 2 and holds it for the executor's stack trace when it exits by one of these signals
    /// (or at all); null = not traced.</summary>
    public TracePlan? Trace { get; init; }
    /// <summary>Working directory inside the sandbox.</summary>
    public string Cwd { get; init; } = "/";
    /// <summary>argv as the program sees it (argv[0] first).</summary>
    public IReadOnlyList<string> Argv { get; init; } = [];
    /// <summary>"NAME=VALUE" entries; nothing from the host environment is passed unless listed.</summary>
    public IReadOnlyList<string> Environment { get; init; } = [];
    /// <summary>The program, opened (O_PATH|O_CLOEXEC) in the executor before anything else; executed with execveat(fd, "", AT_EMPTY_PATH).</summary>
    public required SafeHandle ProgramFd { get; init; }
    /// <summary>Descriptors the sandboxee gets (0/1/2 and possibly 1023 for Comms). Everything else is closed.</summary>
    public IReadOnlyList<FdMapping> Fds { get; init; } = [];
    /// <summary>Compiled seccomp-bpf program (8 bytes per instruction), installed right before execveat. Empty = no filter.</summary>
    public byte[] Bpf { get; init; } = [];
    /// <summary>The per-sandbox random tag compiled into <see cref="Bpf"/> (PolicyCompileOptions.ExecNonce): passed as args[5] of the final execveat.</summary>
    public ulong ExecNonce { get; init; }
    /// <summary>Install the filter with SECCOMP_FILTER_FLAG_NEW_LISTENER and send the listener to the executor (monitor, issue 4).</summary>
    public bool NotifyListener { get; init; }
    /// <summary>false = SandboxMeHere mode: exec unfiltered (the program installs its policy itself).</summary>
    public bool SandboxBeforeExec { get; init; } = true;
    /// <summary>A Landlock ruleset applied in the sandboxee after no_new_privs, before the seccomp filter (also in
    /// SandboxMeHere mode: the whole process inherits it, every thread); null = none.</summary>
    public LandlockPlan? Landlock { get; init; }
    /// <summary>Where init goes: the sandbox's cgroup (clone3 CLONE_INTO_CGROUP, or v1 cgroup.procs); empty = none.</summary>
    public IReadOnlyList<CgroupPlacement> Cgroups { get; init; } = [];
    /// <summary>init unshares its cgroup namespace once placed (v1, where it is placed after clone; then the clone
    /// flags carry no CLONE_NEWCGROUP).</summary>
    public bool UnshareCgroupNamespace { get; init; }
    /// <summary>Non-zero: the root tmpfs stays writable (noexec, of this many bytes) instead of being remounted read-only.</summary>
    public ulong WritableRootSize { get; init; }
    /// <summary>Install the filter with SECCOMP_FILTER_FLAG_SPEC_ALLOW (Allow(SeccompSpeculation)).</summary>
    public bool SpeculationAllowed { get; init; }
    /// <summary>Non-zero (with <see cref="Landlock"/>): a Landlock rule with these rights on <see cref="ProgramFd"/>'s file,
    /// which is executed from its descriptor and not mounted.</summary>
    public ulong LandlockProgramAccess { get; init; }
    /// <summary>Clone the sandbox inside the forkserver's one shared network namespace (no CLONE_NEWNET then).</summary>
    public bool SharedNetworkNamespace { get; init; }
}

/// <summary>What init's tracing of PID 2 holds (native/trace.c): <paramref name="Signals"/> is a mask (bit N = signal N)
/// of the deaths held for a stack trace, <paramref name="OnExit"/> holds a normal exit too, and a held thread is let go
/// after <paramref name="HoldMilliseconds"/> whatever the executor does.</summary>
internal sealed record TracePlan(ulong Signals, bool OnExit, int HoldMilliseconds);

