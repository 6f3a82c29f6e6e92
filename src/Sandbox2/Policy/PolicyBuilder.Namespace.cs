namespace Sandbox2;

// The namespace half of PolicyBuilder (Sandbox2 keeps mounts, hostname and network on the policy builder):
// it delegates to Mounts, which validates each call at once and throws PolicyException naming the problem.
public sealed partial class PolicyBuilder
{
    private readonly Mounts _mounts = new();
    private string _hostname = "sandbox2";
    private NetworkMode _network = NetworkMode.None;
    private IsolationLevel _isolation = IsolationLevel.Namespaces;
    private LandlockMode _landlock = LandlockMode.BestEffort;
    private ulong _rootWritableSize;
    private bool _sharedIpc;
    private bool _sharedNetNs;

    /// <summary>The size of the root tmpfs <see cref="SetRootWritable"/> gives by default (64 MiB).</summary>
    public const ulong DefaultWritableRootSize = 64UL << 20;

    /// <summary>Sandbox2's <c>DisableNamespaces()</c>: run without user, pid, mount, network, ipc, uts and cgroup
    /// namespaces, for places where they cannot be made (an unprivileged Docker or Kubernetes container). The policy's
    /// seccomp filter, rlimits and no_new_privs stay; the filesystem is confined by Landlock (required: the sandbox fails
    /// where the kernel lacks it) to exactly the mounts, at their host paths (a bind must be at the same path inside and
    /// out; a <c>/tmp</c> tmpfs becomes a private directory the executor creates and removes, given as <c>TMPDIR</c>), and
    /// with network mode none TCP bind/connect are denied (Landlock ABI 4+). Weaker than namespaces: the program sees
    /// the host's processes, /proc, hostname and (Landlock ABI &lt; 4, UDP) network, and the result says
    /// <see cref="IsolationLevel.NoNamespaces"/>. CLI: <c>--isolation no-namespaces</c>.</summary>
    public PolicyBuilder DisableNamespaces() { _isolation = IsolationLevel.NoNamespaces; return this; }

    /// <summary>Fail (SETUP_ERROR naming Landlock) rather than run where the kernel has no Landlock; by default Landlock is
    /// applied where available as a second wall inside the namespaces.</summary>
    public PolicyBuilder RequireLandlock() { _landlock = LandlockMode.Required; return this; }

    /// <summary>No Landlock rules (namespaces only; not allowed with <see cref="DisableNamespaces"/>).</summary>
    public PolicyBuilder DisableLandlock() { _landlock = LandlockMode.Off; return this; }

    /// <summary>Bind a host file at the same path (read-only unless <paramref name="writable"/>).</summary>
    public PolicyBuilder AddFile(string path, bool writable = false) { _mounts.AddFile(path, writable); return this; }

    /// <summary>Bind host file <paramref name="outside"/> at <paramref name="inside"/>.</summary>
    public PolicyBuilder AddFileAt(string outside, string inside, bool writable = false) { _mounts.AddFileAt(outside, inside, writable); return this; }

    /// <summary>Sandbox2's <c>AddFileIfExists</c>: <see cref="AddFile"/> when <paramref name="path"/> is an existing
    /// file; nothing when it does not exist or is a directory (other mistakes, such as a relative path, still throw).</summary>
    public PolicyBuilder AddFileIfExists(string path, bool writable = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        Mounts.ValidateInside(path);
        if (File.Exists(path) && !Directory.Exists(path)) _mounts.AddFile(path, writable);
        return this;
    }

    /// <summary>Sandbox2's <c>AddDirectoryIfExists</c>: <see cref="AddDirectory"/> when <paramref name="path"/> is an
    /// existing directory; nothing when it does not exist or is a file.</summary>
    public PolicyBuilder AddDirectoryIfExists(string path, bool writable = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        Mounts.ValidateInside(path);
        if (Directory.Exists(path)) _mounts.AddDirectory(path, writable);
        return this;
    }

    /// <summary>Sandbox2's <c>SetRootWritable()</c>: the sandbox's root (an empty tmpfs holding the mount points) stays
    /// writable instead of being remounted read-only: the program can create files anywhere that is not another mount.
    /// It is noexec and of at most <paramref name="sizeBytes"/> (Sandbox2 leaves it unbounded; here it is bounded like
    /// every tmpfs). Needs a mount namespace (not with <see cref="DisableNamespaces"/>).</summary>
    public PolicyBuilder SetRootWritable(ulong sizeBytes = DefaultWritableRootSize)
    {
        if (sizeBytes == 0) throw new PolicyException("SetRootWritable: size must be greater than 0");
        _rootWritableSize = sizeBytes;
        return this;
    }

    /// <summary>Sandbox2's <c>UseSharedIpcNs()</c>: the sandbox shares the executor's IPC namespace (System V shared
    /// memory, semaphores, message queues; POSIX message queues) instead of a new, empty one. Weaker: the program can
    /// reach the host's IPC objects its uid may use. The policy must still allow the syscalls.</summary>
    public PolicyBuilder UseSharedIpcNs()
    {
        _sharedIpc = true;
        return this;
    }

    /// <summary>Sandbox2's <c>UseForkServerSharedNetNs()</c>: network mode <see cref="NetworkMode.ForkServerShared"/>,
    /// one empty network namespace shared by every sandbox of the forkserver that asks for it. Incompatible with
    /// <see cref="NetworkMode.Host"/> (unrestricted networking): <see cref="Build"/> refuses the pair.</summary>
    public PolicyBuilder UseForkServerSharedNetNs()
    {
        _sharedNetNs = true;
        return this;
    }

    /// <summary>Bind a host directory at the same path (read-only unless <paramref name="writable"/>; writable binds are noexec).</summary>
    public PolicyBuilder AddDirectory(string path, bool writable = false) { _mounts.AddDirectory(path, writable); return this; }

    /// <summary>Bind host directory <paramref name="outside"/> at <paramref name="inside"/>.</summary>
    public PolicyBuilder AddDirectoryAt(string outside, string inside, bool writable = false) { _mounts.AddDirectoryAt(outside, inside, writable); return this; }

    /// <summary>A fresh tmpfs of at most <paramref name="sizeBytes"/> at <paramref name="inside"/>.</summary>
    public PolicyBuilder AddTmpfs(string inside, ulong sizeBytes) { _mounts.AddTmpfs(inside, sizeBytes); return this; }

    /// <summary>A fresh <c>/proc</c> of the sandbox's own pid namespace.</summary>
    public PolicyBuilder AddProc() { _mounts.AddProc(); return this; }

    /// <summary>A minimal <c>/dev</c>: null, zero, full, random, urandom, and fd/stdin/stdout/stderr links.</summary>
    public PolicyBuilder AddMinimalDev() { _mounts.AddMinimalDev(); return this; }

    /// <summary>Mount the ELF interpreter and every shared library <paramref name="path"/> needs (read from its ELF
    /// headers, resolved like ld.so, recursively), each read-only at the path ld.so will look for it. Files already
    /// visible through another mount are not mounted twice. The program itself is not mounted (it runs from its
    /// descriptor), unless its RPATH/RUNPATH uses <c>$ORIGIN</c>, which ld.so expands from the program's path.</summary>
    /// <remarks>The program's headers are untrusted: it may have one PT_INTERP only, and the interpreter and every
    /// library must be a regular x86-64 ELF shared object in the system library directories (ld.so's and
    /// /etc/ld.so.conf's), in a directory already bound with <see cref="AddDirectory"/>/<see cref="AddDirectoryAt"/>,
    /// in <paramref name="ldLibraryPath"/> or in <paramref name="trustedDirectories"/>; a DT_NEEDED path or an
    /// RPATH/RUNPATH elsewhere is a <see cref="PolicyException"/> naming it.</remarks>
    /// <param name="path">The program.</param>
    /// <param name="ldLibraryPath">Colon-separated directories searched as LD_LIBRARY_PATH (trusted).</param>
    /// <param name="trustedDirectories">Further directories the program's libraries may come from (an explicit
    /// opt-in, e.g. for a private RPATH directory).</param>
    public PolicyBuilder AddLibrariesForBinary(string path, string? ldLibraryPath = null, IEnumerable<string>? trustedDirectories = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var bound = _mounts.Entries.Where(e => e.Kind == Mounts.EntryKind.Directory && e.Outside is not null).Select(e => e.Outside!);
        foreach (var lib in ElfDependencies.ResolveLibraries(path, ldLibraryPath, [.. bound, .. trustedDirectories ?? []]))
            if (!_mounts.Covers(lib, lib)) _mounts.AddFileAt(lib, lib);
        // The program itself runs from its descriptor and is not mounted, except when ld.so needs its path: $ORIGIN in
        // its RPATH/RUNPATH is expanded from the program's path (/proc/self/exe), so that path must lead somewhere.
        var elf = ElfDependencies.Read(path);
        if (elf.RPath.Concat(elf.RunPath).Any(p => p.Contains("$ORIGIN", StringComparison.Ordinal) || p.Contains("${ORIGIN}", StringComparison.Ordinal))
            && !_mounts.Covers(elf.CanonicalPath, elf.CanonicalPath))
            _mounts.AddFileAt(elf.CanonicalPath, elf.CanonicalPath);
        return this;
    }

    /// <summary>Hostname inside the sandbox (default <c>sandbox2</c>).</summary>
    public PolicyBuilder SetHostname(string hostname)
    {
        ArgumentNullException.ThrowIfNull(hostname);
        if (hostname.Length is 0 or > 64 || hostname.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_')))
            throw new PolicyException($"invalid hostname '{hostname}' (1-64 characters: letters, digits, '-', '.', '_')");
        _hostname = hostname;
        return this;
    }

    /// <summary>Network isolation: <see cref="NetworkMode.None"/> (default), <see cref="NetworkMode.Loopback"/>,
    /// <see cref="NetworkMode.Host"/> or <see cref="NetworkMode.ForkServerShared"/> (= <see cref="UseForkServerSharedNetNs"/>).</summary>
    public PolicyBuilder SetNetwork(NetworkMode mode)
    {
        if (!Enum.IsDefined(mode)) throw new PolicyException($"unknown network mode {mode}");
        if (mode == NetworkMode.ForkServerShared) return UseForkServerSharedNetNs();
        _network = mode;
        return this;
    }

    private Namespace BuildNamespace()
    {
        if (_sharedNetNs)
        {
            if (_network is NetworkMode.Host or NetworkMode.Loopback)
                throw new PolicyException($"UseForkServerSharedNetNs() with network mode {(_network == NetworkMode.Host ? "host (unrestricted networking)" : "loopback")}: a sandbox shares the forkserver's one empty network namespace, or has {(_network == NetworkMode.Host ? "the host's" : "its own")}; not both");
            _network = NetworkMode.ForkServerShared;
        }
        if (_isolation == IsolationLevel.NoNamespaces)
        {
            if (_landlock == LandlockMode.Off)
                throw new PolicyException("DisableNamespaces() with DisableLandlock(): without namespaces Landlock is what confines the filesystem");
            if (_network is NetworkMode.Loopback or NetworkMode.ForkServerShared)
                throw new PolicyException($"network mode {(_network == NetworkMode.Loopback ? "loopback" : "forkserver-shared (UseForkServerSharedNetNs)")} needs a network namespace (not available with DisableNamespaces(); use none or host)");
            if (_rootWritableSize != 0)
                throw new PolicyException("SetRootWritable() needs a mount namespace (not available with DisableNamespaces())");
            if (_sharedIpc)
                throw new PolicyException("UseSharedIpcNs() with DisableNamespaces(): without namespaces the IPC namespace is already the host's");
            foreach (var e in _mounts.Entries)
            {
                if (e.Kind is Mounts.EntryKind.File or Mounts.EntryKind.Directory && !Mounts.IsSameHostPath(e))
                    throw new PolicyException($"{e.Outside} at {e.Inside}: without namespaces a path can only be granted where it is (needs a mount namespace)");
                if (e.Kind == Mounts.EntryKind.Tmpfs && e.Inside != "/tmp")
                    throw new PolicyException($"tmpfs at {e.Inside}: without namespaces only /tmp can be given (as a private directory)");
            }
        }
        return new(_mounts, _hostname, _network, _isolation, _isolation == IsolationLevel.NoNamespaces ? LandlockMode.Required : _landlock)
        {
            RootWritable = _rootWritableSize != 0,
            RootSizeBytes = _rootWritableSize,
            SharedIpc = _sharedIpc,
        };
    }
}
