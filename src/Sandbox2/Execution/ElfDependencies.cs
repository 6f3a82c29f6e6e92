namespace Sandbox2;

/// <summary>
/// Reads what the dynamic loader needs from an x86-64 ELF program (PT_INTERP, DT_NEEDED, DT_RPATH, DT_RUNPATH,
/// through <see cref="ElfFile"/>) and resolves its libraries the way ld.so does, recursively. Used by
/// <see cref="PolicyBuilder.AddLibrariesForBinary"/>, whose result is bind-mounted into the sandbox: the program's
/// headers are untrusted input that must not choose host files. So:
/// <list type="bullet">
/// <item>exactly one PT_INTERP (the kernel uses the first; a second could name any host file);</item>
/// <item>the interpreter and every library must be a regular file (opened <c>O_PATH</c> first: a FIFO or device is
/// never opened, so nothing can block), an ELF shared object for x86-64, whose real location lies in a trusted
/// directory: the loader's system directories and those of <c>/etc/ld.so.conf</c> (with its includes), or one the
/// caller trusts explicitly (directories the user bound, <c>trustedDirectories</c>, <c>ldLibraryPath</c>);</item>
/// <item>a DT_NEEDED naming a path, or an RPATH/RUNPATH entry (after <c>$ORIGIN</c> expansion), outside those
/// directories is refused with a <see cref="PolicyException"/> naming it.</item>
/// </list>
/// </summary>
internal sealed class ElfDependencies
{
    /// <summary>ld.so's built-in search path on x86-64 (Debian multiarch first), plus the /lib64 pair other
    /// distributions use.</summary>
    internal static readonly string[] LoaderDirectories =
        ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];

    /// <summary>Most objects resolved for one program (libLLVM-based tools need ~100).</summary>
    public const int MaxLibraries = 1024;

    private static readonly Lazy<string[]> s_systemDirectories = new(() => [.. LoaderDirectories, .. LdSoConf.Directories("/etc/ld.so.conf")]);

    /// <summary>The directories ld.so searches by default: <see cref="LoaderDirectories"/> then /etc/ld.so.conf's.</summary>
    internal static IReadOnlyList<string> SystemDirectories => s_systemDirectories.Value;

    public string? Interpreter { get; private init; }
    public IReadOnlyList<string> Needed { get; private init; } = [];
    public IReadOnlyList<string> RPath { get; private init; } = [];
    public IReadOnlyList<string> RunPath { get; private init; } = [];
    /// <summary>e_type (<see cref="ElfFile.TypeExecutable"/>, <see cref="ElfFile.TypeSharedObject"/>).</summary>
    public ushort Type { get; private init; }
    /// <summary>Where the kernel says the file is (symlinks resolved).</summary>
    public string CanonicalPath { get; private init; } = "";

    /// <summary>Parses <paramref name="path"/>, reading only the headers, the dynamic segment and its string table.
    /// Throws <see cref="PolicyException"/> for a file that is not a regular 64-bit x86-64 ELF file or has more than
    /// one PT_INTERP.</summary>
    public static ElfDependencies Read(string path)
    {
        using var file = RegularFile.TryOpen(path, followLast: true, out string? error)
            ?? throw new PolicyException($"cannot read {path}: {error}");
        try
        {
            var elf = ElfFile.Read(file.Handle, file.Stat.Size, path);
            if (elf.Machine != ElfFile.MachineX86_64) throw new PolicyException($"{path} is not an x86-64 ELF file (e_machine {elf.Machine})");
            var interpreters = elf.Interpreters();
            if (interpreters.Count > 1)
                throw new PolicyException($"{path} has {interpreters.Count} PT_INTERP program headers ({string.Join(", ", interpreters)}); a program has at most one");
            var dynamic = elf.ReadDynamic();
            return new ElfDependencies
            {
                Interpreter = interpreters.Count == 1 ? interpreters[0] : null,
                Needed = dynamic.Needed,
                RPath = dynamic.RPath,
                RunPath = dynamic.RunPath,
                Type = elf.Type,
                CanonicalPath = file.CanonicalPath,
            };
        }
        catch (ElfFormatException e)
        {
            throw new PolicyException(e.Message == "not an ELF file" ? $"{path} is not an ELF file" : $"{path}: {e.Message}");
        }
        catch (IOException e) { throw new PolicyException($"cannot read {path}: {e.Message}"); }
    }

    /// <summary>
    /// Every file ld.so would load for <paramref name="program"/>: its interpreter and the transitive closure of
    /// DT_NEEDED, resolved like ld.so (DT_RPATH when there is no DT_RUNPATH, then <paramref name="ldLibraryPath"/>,
    /// then DT_RUNPATH, then the system directories; <c>$ORIGIN</c> expanded), each checked as the class summary says.
    /// Paths are as ld.so would open them (symlinks not resolved), so mounting each file at its path makes the program
    /// load inside the sandbox.
    /// </summary>
    /// <param name="program">The program (untrusted content; the path itself is the caller's).</param>
    /// <param name="ldLibraryPath">Colon-separated directories searched like LD_LIBRARY_PATH; trusted.</param>
    /// <param name="trustedDirectories">Further directories whose files may be used (e.g. the directories the user
    /// bound into the sandbox, or an explicit opt-in for a program's private library directory).</param>
    public static IReadOnlyList<string> ResolveLibraries(string program, string? ldLibraryPath = null, IEnumerable<string>? trustedDirectories = null)
    {
        string[] extra = ldLibraryPath?.Split(':', StringSplitOptions.RemoveEmptyEntries) ?? [];
        var trust = new Trust([.. SystemDirectories, .. extra, .. trustedDirectories ?? []]);
        var root = Read(program);
        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        if (root.Interpreter is { } interp)
        {
            if (!interp.StartsWith('/'))
                throw new PolicyException($"{program}: PT_INTERP '{interp}' is not an absolute path");
            var elf = CheckObject(interp, trust, $"{program}: its interpreter (PT_INTERP)");
            _ = elf;
            result.Add(interp);
            seen.Add(Path.GetFileName(interp));
        }
        var queue = new Queue<(string Path, ElfDependencies Elf)>();
        queue.Enqueue((program, root));
        while (queue.Count > 0)
        {
            var (path, elf) = queue.Dequeue();
            // $ORIGIN is where the object really is (the kernel's view), as ld.so takes it.
            string origin = Path.GetDirectoryName(elf.CanonicalPath) ?? "/";
            var searchDirs = SearchDirectories(elf, extra, origin, trust, path);
            foreach (var name in elf.Needed)
            {
                if (!seen.Add(name)) continue;
                string found;
                if (name.Contains('/', StringComparison.Ordinal))
                {
                    if (!name.StartsWith('/'))
                        throw new PolicyException($"{path}: DT_NEEDED '{name}' is a relative path (resolved against the working directory): refused");
                    found = name;
                }
                else found = Search(name, searchDirs, trust) ?? throw new PolicyException($"{program}: cannot find library {name} (needed by {path}) in a trusted library directory");
                // "$ORIGIN/../lib" gives ".." in the path: mount points must be canonical, and inside the sandbox the
                // directories are plain ones created for the mounts, so the lexical form is where ld.so will look.
                found = Path.GetFullPath(found);
                var lib = CheckObject(found, trust, $"{path}: DT_NEEDED '{name}'");
                result.Add(found);
                if (result.Count > MaxLibraries) throw new PolicyException($"{program}: more than {MaxLibraries} libraries");
                queue.Enqueue((found, lib));
            }
        }
        return result;
    }

    /// <summary>Reads <paramref name="path"/> and checks it is an x86-64 ELF shared object in a trusted directory.</summary>
    private static ElfDependencies CheckObject(string path, Trust trust, string what)
    {
        ElfDependencies elf;
        try { elf = Read(path); }
        catch (PolicyException e) { throw new PolicyException($"{what}: {e.Message}"); }
        if (elf.Type != ElfFile.TypeSharedObject) throw new PolicyException($"{what}: {path} is not an ELF shared object");
        if (!trust.Contains(elf.CanonicalPath))
            throw new PolicyException($"{what}: {path} (really {elf.CanonicalPath}) is outside the system library directories and every directory bound or trusted explicitly");
        return elf;
    }

    /// <summary>RPATH (without RUNPATH), LD_LIBRARY_PATH, RUNPATH, system directories; each RPATH/RUNPATH entry must be
    /// trusted (after $ORIGIN expansion), or the program is refused naming it.</summary>
    private static List<string> SearchDirectories(ElfDependencies elf, string[] ldLibraryPath, string origin, Trust trust, string path)
    {
        var dirs = new List<string>();
        void AddPaths(IReadOnlyList<string> entries, string tag)
        {
            foreach (var entry in entries)
            {
                string dir = entry.Replace("${ORIGIN}", origin, StringComparison.Ordinal).Replace("$ORIGIN", origin, StringComparison.Ordinal);
                if (!dir.StartsWith('/'))
                    throw new PolicyException($"{path}: {tag} entry '{entry}' is not an absolute directory: refused");
                if (!trust.ContainsDirectory(dir))
                    throw new PolicyException($"{path}: {tag} entry '{entry}' ({dir}) is outside the system library directories and every directory bound or trusted explicitly: refused (bind it, or pass it as a trusted directory, to allow it)");
                dirs.Add(dir);
            }
        }
        if (elf.RunPath.Count == 0) AddPaths(elf.RPath, "DT_RPATH");
        dirs.AddRange(ldLibraryPath);
        AddPaths(elf.RunPath, "DT_RUNPATH");
        dirs.AddRange(SystemDirectories);
        return dirs;
    }

    private static string? Search(string name, List<string> dirs, Trust trust)
    {
        foreach (var dir in dirs)
        {
            string candidate = Path.Combine(dir, name);
            // Like ld.so, skip what is not a usable x86-64 object (and, unlike it, anything that is not a regular
            // file, so a planted FIFO cannot block us).
            using var file = RegularFile.TryOpen(candidate, followLast: true, out _);
            if (file is null || !trust.Contains(file.CanonicalPath)) continue;
            try
            {
                var elf = ElfFile.Read(file.Handle, file.Stat.Size, candidate);
                if (elf.Machine == ElfFile.MachineX86_64 && elf.Type == ElfFile.TypeSharedObject) return candidate;
            }
            catch (ElfFormatException) { }
            catch (IOException) { }
        }
        return null;
    }

    /// <summary>Directories (canonical, symlinks resolved) whose subtrees may provide the interpreter and libraries.</summary>
    private sealed class Trust
    {
        private readonly List<string> _roots = [];

        public Trust(IEnumerable<string> directories)
        {
            foreach (var d in directories)
                if (Canonical(d) is { } c && !_roots.Contains(c)) _roots.Add(c);
        }

        public bool Contains(string canonicalFile) =>
            _roots.Exists(r => canonicalFile.StartsWith(r == "/" ? "/" : r + "/", StringComparison.Ordinal));

        public bool ContainsDirectory(string dir) =>
            Canonical(dir) is { } c && _roots.Exists(r => c == r || c.StartsWith(r == "/" ? "/" : r + "/", StringComparison.Ordinal));

        /// <summary>The real path of a directory (the kernel's, through an O_PATH descriptor), or, for one that does not
        /// exist, its lexical full path.</summary>
        private static string? Canonical(string dir)
        {
            if (!dir.StartsWith('/')) return null;
            if (RegularFile.CanonicalDirectory(dir) is { } real) return real;
            string full = Path.GetFullPath(dir).TrimEnd('/');
            return full.Length > 0 ? full : "/";
        }
    }

    /// <summary>/etc/ld.so.conf: one directory per line, <c>include GLOB</c> lines, <c>#</c> comments.</summary>
    internal static class LdSoConf
    {
        private const int MaxBytes = 64 * 1024, MaxDepth = 4, MaxFiles = 256;

        public static List<string> Directories(string path)
        {
            var dirs = new List<string>();
            int files = 0;
            Read(path, 0, dirs, ref files);
            return dirs;
        }

        private static void Read(string path, int depth, List<string> dirs, ref int files)
        {
            if (depth > MaxDepth || ++files > MaxFiles) return;
            string text;
            using (var file = RegularFile.TryOpen(path, followLast: true, out _))
            {
                if (file is null || file.Stat.Size > MaxBytes) return;
                var buffer = new byte[file.Stat.Size];
                int n = RandomAccess.Read(file.Handle, buffer, 0);
                text = System.Text.Encoding.UTF8.GetString(buffer, 0, Math.Max(n, 0));
            }
            foreach (var raw in text.Split('\n'))
            {
                string line = raw.Split('#')[0].Trim();
                if (line.Length == 0) continue;
                if (line.StartsWith("include", StringComparison.Ordinal) && line.Length > 7 && char.IsWhiteSpace(line[7]))
                {
                    string glob = line[8..].Trim();
                    if (!glob.StartsWith('/')) glob = Path.Combine(Path.GetDirectoryName(path) ?? "/", glob);
                    string? dir = Path.GetDirectoryName(glob);
                    if (dir is null || !Directory.Exists(dir)) continue;
                    string[] matches;
                    try { matches = Directory.GetFiles(dir, Path.GetFileName(glob)); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
                    Array.Sort(matches, StringComparer.Ordinal);
                    foreach (var m in matches) Read(m, depth + 1, dirs, ref files);
                }
                else if (line.StartsWith('/')) dirs.Add(line.Split('=')[0].TrimEnd('/') is { Length: > 0 } d ? d : "/");
            }
        }
    }
}
