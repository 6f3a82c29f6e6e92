namespace Sandbox2;

/// <summary>Whether the sandbox applies Landlock rules (Linux 5.13+) derived from its mounts.</summary>
public enum LandlockMode
{
    /// <summary>Where the kernel has Landlock (the default): a second wall inside the namespaces; with
    /// <see cref="IsolationLevel.NoNamespaces"/> it is required.</summary>
    BestEffort,
    /// <summary>Always: the sandbox fails (SETUP_ERROR naming Landlock) where the kernel does not have it.</summary>
    Required,
    /// <summary>Never (only with namespaces: without them Landlock is the filesystem wall).</summary>
    Off,
}

/// <summary>One Landlock path-beneath rule: the rights allowed at and below <paramref name="Path"/>. With
/// <paramref name="Identity"/> (host paths, no namespaces) native/landlock.c opens the path without following any
/// symlink and adds the rule only if it is the file the executor opened (st_dev, st_ino).</summary>
internal readonly record struct LandlockRule(ulong Access, string Path, (ulong Dev, ulong Ino)? Identity = null);

/// <summary>A Landlock ruleset for native/landlock.c: the rights handled (everything the ABI knows) and the rules.</summary>
internal sealed record LandlockPlan(int Abi, ulong HandledFs, ulong HandledNet, ulong Scoped, IReadOnlyList<LandlockRule> Rules);

/// <summary>
/// Landlock (the kernel's <c>landlock.h</c>): which ABI this kernel offers, and the rules that confine a sandbox to
/// exactly what its mounts give it — read-only binds readable and executable, read-write binds writable but not
/// executable (they are noexec), tmpfs fully usable, device nodes readable and writable, /proc readable. Every right the
/// ABI knows is handled, so anything not granted is denied; with network mode none, TCP bind and connect are handled with
/// no rule (denied, ABI 4+); abstract unix sockets and signals are scoped to the sandbox (ABI 6+).
/// </summary>
internal static class Landlock
{
    internal const ulong Execute = 1 << 0, WriteFile = 1 << 1, ReadFile = 1 << 2, ReadDir = 1 << 3, RemoveDir = 1 << 4,
        RemoveFile = 1 << 5, MakeChar = 1 << 6, MakeDir = 1 << 7, MakeReg = 1 << 8, MakeSock = 1 << 9, MakeFifo = 1 << 10,
        MakeBlock = 1 << 11, MakeSym = 1 << 12, Refer = 1 << 13, Truncate = 1 << 14, IoctlDev = 1 << 15;
    internal const ulong BindTcp = 1, ConnectTcp = 2;
    internal const ulong ScopeAbstractUnixSocket = 1, ScopeSignal = 2;

    private static readonly Lazy<int> s_abi = new(() => Math.Max(0, Interop.LandlockAbiVersion()));

    /// <summary>The Landlock ABI of this kernel (0 = none: not built in, disabled, or blocked by a seccomp profile).</summary>
    public static int Abi => s_abi.Value;

    /// <summary>The filesystem rights ABI <paramref name="abi"/> knows.</summary>
    internal static ulong HandledFs(int abi) =>
        abi <= 0 ? 0 : (0x1FFFUL) | (abi >= 2 ? Refer : 0) | (abi >= 3 ? Truncate : 0) | (abi >= 5 ? IoctlDev : 0);

    /// <summary>The rights on the program's own file (executed from its descriptor, not mounted): execute, and read for
    /// ld.so and /proc/self/exe.</summary>
    internal static ulong ProgramAccess(int abi) => (Execute | ReadFile) & HandledFs(abi);

    /// <summary><see cref="ProgramAccess(int)"/> for the program open at <paramref name="programFd"/>: 0 (no rule) where the
    /// kernel refuses a rule on that file with EBADFD — a memfd or other file of an internal mount, which Landlock does
    /// not restrict either (it never checks files of SB_NOUSER/private mounts), so nothing is widened; a rule otherwise.</summary>
    internal static ulong ProgramAccess(int abi, System.Runtime.InteropServices.SafeHandle programFd)
    {
        ulong access = ProgramAccess(abi);
        const int EBADFD = 77;
        return access != 0 && Interop.LandlockTryPathRule(programFd, access) == EBADFD ? 0 : access;
    }

    /// <summary>The rules for <paramref name="mounts"/> at ABI <paramref name="abi"/>.</summary>
    /// <param name="mounts">The sandbox's mounts (with its program added).</param>
    /// <param name="abi">The ABI to use (1 or more).</param>
    /// <param name="insidePaths">Rules at the paths inside the namespaces (the full sandbox); false: at the host paths (no
    /// namespaces), where a tmpfs is <paramref name="privateTmp"/>.</param>
    /// <param name="network">The network mode: none denies TCP bind/connect (ABI 4+).</param>
    /// <param name="privateTmp">No namespaces: the private directory that stands for the <c>/tmp</c> tmpfs.</param>
    /// <param name="identities">No namespaces: the identity of each bind source (by host path) as the executor opened
    /// it (<see cref="MountOp.SourceIdentity"/>), checked again where the rule is added.</param>
    /// <param name="rootWritable">SetRootWritable: the root may be written (not executed) too.</param>
    public static LandlockPlan For(Mounts mounts, int abi, bool insidePaths, NetworkMode network, string? privateTmp = null,
        IReadOnlyDictionary<string, (ulong Dev, ulong Ino)>? identities = null, bool rootWritable = false)
    {
        ulong fs = HandledFs(abi);
        const ulong fileRights = Execute | WriteFile | ReadFile | Truncate | IoctlDev;
        const ulong readOnly = Execute | ReadFile | ReadDir;
        const ulong readWrite = WriteFile | ReadFile | ReadDir | RemoveDir | RemoveFile | MakeDir | MakeReg | MakeSock | MakeFifo | MakeSym | Refer | Truncate;
        var rules = new List<LandlockRule>();
        // The root is an empty tmpfs holding only mount points: read-only, or writable (noexec) with SetRootWritable.
        if (insidePaths) rules.Add(new((rootWritable ? readWrite : ReadDir) & fs, "/"));
        foreach (var e in mounts.Entries)
        {
            string path = insidePaths ? e.Inside : e.Outside ?? e.Inside;
            (ulong access, bool isFile) = e.Kind switch
            {
                Mounts.EntryKind.Directory => (e.Writable ? readWrite : readOnly, false),
                Mounts.EntryKind.File => (e.Writable ? WriteFile | ReadFile | Truncate : Execute | ReadFile, true),
                Mounts.EntryKind.Device => (ReadFile | WriteFile | Truncate | IoctlDev, true),
                Mounts.EntryKind.Tmpfs => (readWrite | Execute, false),
                Mounts.EntryKind.Proc => (ReadFile | ReadDir | WriteFile, false),
                _ => (0UL, true), // symlinks: what they lead to has its own rule
            };
            if (e.Kind == Mounts.EntryKind.Tmpfs && !insidePaths) path = privateTmp ?? throw new InvalidOperationException("no private directory for the tmpfs " + e.Inside);
            access &= fs & (isFile ? fileRights : ulong.MaxValue);
            if (access != 0) rules.Add(new(access, path, !insidePaths && identities is not null && identities.TryGetValue(path, out var id) ? id : null));
        }
        ulong net = abi >= 4 && network is NetworkMode.None or NetworkMode.ForkServerShared ? BindTcp | ConnectTcp : 0;
        ulong scoped = abi >= 6 ? ScopeAbstractUnixSocket | ScopeSignal : 0;
        return new LandlockPlan(abi, fs, net, scoped, rules);
    }
}
