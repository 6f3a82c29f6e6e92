namespace Sandbox2;

// The namespace half of PolicyBuilder (Sandbox2 keeps mounts, hostname and network on the policy builder):
// it delegates to Mounts, which validates each call at once and throws PolicyException naming the problem.
public sealed partial class PolicyBuilder
{
    private readonly Mounts _mounts = new();
    private string _hostname = "sandbox2";
    private NetworkMode _network = NetworkMode.None;

    /// <summary>Bind a host file at the same path (read-only unless <paramref name="writable"/>).</summary>
    public PolicyBuilder AddFile(string path, bool writable = false) { _mounts.AddFile(path, writable); return this; }

    /// <summary>Bind host file <paramref name="outside"/> at <paramref name="inside"/>.</summary>
    public PolicyBuilder AddFileAt(string outside, string inside, bool writable = false) { _mounts.AddFileAt(outside, inside, writable); return this; }

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
    /// visible through another mount are not mounted twice.</summary>
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

    /// <summary>Network isolation: <see cref="NetworkMode.None"/> (default), <see cref="NetworkMode.Loopback"/> or <see cref="NetworkMode.Host"/>.</summary>
    public PolicyBuilder SetNetwork(NetworkMode mode)
    {
        if (!Enum.IsDefined(mode)) throw new PolicyException($"unknown network mode {mode}");
        _network = mode;
        return this;
    }

    private Namespace BuildNamespace() => new(_mounts, _hostname, _network);
}
