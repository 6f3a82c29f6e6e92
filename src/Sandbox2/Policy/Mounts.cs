namespace Sandbox2;

/// <summary>
/// The sandbox's mount tree, as Sandbox2's <c>Mounts</c>: an empty read-only root holding only what is added.
/// Paths inside the sandbox must be absolute and canonical; host paths must exist and be of the right kind.
/// Invalid input throws <see cref="PolicyException"/> naming the path and the problem, at the call.
/// </summary>
public sealed class Mounts
{
    /// <summary>What an entry mounts.</summary>
    public enum EntryKind
    {
        /// <summary>A host file bound at a path (Sandbox2's <c>AddFile</c>).</summary>
        File,
        /// <summary>A host directory bound at a path (<c>AddDirectory</c>).</summary>
        Directory,
        /// <summary>A new tmpfs (<c>AddTmpfs</c>).</summary>
        Tmpfs,
        /// <summary>The sandbox's own procfs at /proc.</summary>
        Proc,
        /// <summary>A device node bound from the host (/dev/null, /dev/zero, /dev/urandom, ...).</summary>
        Device,
        /// <summary>A symbolic link created inside the sandbox.</summary>
        Symlink,
    }

    /// <summary>One mount: <paramref name="Inside"/> path in the sandbox, <paramref name="Outside"/> canonical host path (binds).</summary>
    public sealed record Entry(EntryKind Kind, string Inside, string? Outside, bool Writable, ulong TmpfsSize = 0);

    private readonly SortedDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>A copy (the sandbox adds its program to a copy, never to the policy's own tree).</summary>
    internal Mounts Clone()
    {
        var copy = new Mounts();
        foreach (var (k, v) in _entries) copy._entries[k] = v;
        return copy;
    }

    /// <summary>Every mount, by inside path (parents before children).</summary>
    public IReadOnlyCollection<Entry> Entries => _entries.Values;

    /// <summary>Binds host file <paramref name="path"/> at the same path inside (Sandbox2's <c>AddFile</c>); read-only unless <paramref name="writable"/>.</summary>
    public void AddFile(string path, bool writable = false) => AddFileAt(path, path, writable);

    /// <summary>Binds host file <paramref name="outside"/> at <paramref name="inside"/> (Sandbox2's <c>AddFileAt</c>); read-only unless <paramref name="writable"/>.</summary>
    public void AddFileAt(string outside, string inside, bool writable = false)
    {
        ValidateInside(inside);
        if (inside == "/") throw new PolicyException("cannot mount a file at /");
        string real = ResolveOutside(outside);
        if (Directory.Exists(real)) throw new PolicyException($"{outside} is a directory; use AddDirectory for it");
        Add(new Entry(EntryKind.File, inside, real, writable));
    }

    /// <summary>Binds host directory <paramref name="path"/> at the same path inside (Sandbox2's <c>AddDirectory</c>); read-only unless <paramref name="writable"/>.</summary>
    public void AddDirectory(string path, bool writable = false) => AddDirectoryAt(path, path, writable);

    /// <summary>Binds host directory <paramref name="outside"/> at <paramref name="inside"/> (Sandbox2's <c>AddDirectoryAt</c>); read-only unless <paramref name="writable"/>.</summary>
    public void AddDirectoryAt(string outside, string inside, bool writable = false)
    {
        ValidateInside(inside);
        if (inside == "/") throw new PolicyException("cannot bind a directory over / (the sandbox root is an empty tmpfs; add what it needs)");
        string real = ResolveOutside(outside);
        if (!Directory.Exists(real)) throw new PolicyException($"{outside} is not a directory; use AddFile for it");
        Add(new Entry(EntryKind.Directory, inside, real, writable));
    }

    /// <summary>Mounts a new tmpfs of at most <paramref name="sizeBytes"/> bytes at <paramref name="inside"/> (Sandbox2's <c>AddTmpfs</c>).</summary>
    public void AddTmpfs(string inside, ulong sizeBytes)
    {
        ValidateInside(inside);
        if (inside == "/") throw new PolicyException("cannot mount a tmpfs at / (the root already is one)");
        if (sizeBytes == 0) throw new PolicyException($"tmpfs {inside}: size must be greater than 0");
        Add(new Entry(EntryKind.Tmpfs, inside, null, true, sizeBytes));
    }

    /// <summary>A fresh procfs of the sandbox's own pid namespace at <c>/proc</c>.</summary>
    public void AddProc() => Add(new Entry(EntryKind.Proc, "/proc", null, false));

    /// <summary>A minimal <c>/dev</c>: null, zero, full, random and urandom (bound from the host; user namespaces
    /// cannot create device nodes) and the fd, stdin, stdout, stderr links into <c>/proc/self/fd</c>.</summary>
    public void AddMinimalDev()
    {
        foreach (var dev in (ReadOnlySpan<string>)["null", "zero", "full", "random", "urandom"])
            Add(new Entry(EntryKind.Device, "/dev/" + dev, "/dev/" + dev, true));
        Add(new Entry(EntryKind.Symlink, "/dev/fd", "/proc/self/fd", false));
        Add(new Entry(EntryKind.Symlink, "/dev/stdin", "/proc/self/fd/0", false));
        Add(new Entry(EntryKind.Symlink, "/dev/stdout", "/proc/self/fd/1", false));
        Add(new Entry(EntryKind.Symlink, "/dev/stderr", "/proc/self/fd/2", false));
    }

    /// <summary>True when <paramref name="inside"/> is already visible in the sandbox with the same host file
    /// (mounted itself, or inside a mounted directory at the same relative place).</summary>
    public bool Covers(string inside, string outside)
    {
        string real;
        try { real = Path.GetFullPath(ResolveLinks(outside)); } catch (IOException) { return false; }
        for (string? p = inside; p is not null && p != "/"; p = ParentOf(p))
        {
            if (!_entries.TryGetValue(p, out var e)) continue;
            if (e.Kind == EntryKind.File) return p == inside && e.Outside == real;
            if (e.Kind == EntryKind.Directory)
            {
                string candidate = e.Outside + inside[p.Length..];
                try { return Path.GetFullPath(ResolveLinks(candidate)) == real; } catch (IOException) { return false; }
            }
            return false; // tmpfs/proc: not the host file
        }
        return false;
    }

    private void Add(Entry entry)
    {
        if (_entries.TryGetValue(entry.Inside, out var existing))
        {
            if (existing.Kind != entry.Kind || existing.Outside != entry.Outside || existing.TmpfsSize != entry.TmpfsSize)
                throw new PolicyException($"conflicting mounts at {entry.Inside}: {Describe(existing)} and {Describe(entry)}");
            if (entry.Writable && !existing.Writable) _entries[entry.Inside] = entry; // RO → RW upgrade
            return;
        }
        // A file cannot be the parent of another mount, nor can a new file sit above existing mounts.
        for (string? p = ParentOf(entry.Inside); p is not null && p != "/"; p = ParentOf(p))
            if (_entries.TryGetValue(p, out var parent) && parent.Kind is EntryKind.File or EntryKind.Device or EntryKind.Symlink)
                throw new PolicyException($"cannot mount {entry.Inside}: {p} is a file mount");
        if (entry.Kind is EntryKind.File or EntryKind.Device or EntryKind.Symlink)
        {
            string prefix = entry.Inside + "/";
            foreach (var key in _entries.Keys)
                if (key.StartsWith(prefix, StringComparison.Ordinal))
                    throw new PolicyException($"cannot mount file {entry.Inside}: {key} is mounted below it");
        }
        _entries[entry.Inside] = entry;
    }

    private static string Describe(Entry e) => e.Kind switch
    {
        EntryKind.Tmpfs => $"tmpfs (size {e.TmpfsSize})",
        EntryKind.Proc => "proc",
        _ => $"{(e.Writable ? "rw" : "ro")} {e.Kind.ToString().ToLowerInvariant()} {e.Outside}",
    };

    /// <summary>Sandbox2's rule for paths inside the sandbox: absolute and canonical (no ".", "..", "//",
    /// trailing "/", NUL or empty).</summary>
    internal static void ValidateInside(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0) throw new PolicyException("mount path is empty");
        if (path.Contains('\0', StringComparison.Ordinal)) throw new PolicyException($"mount path {path.Replace("\0", "\\0", StringComparison.Ordinal)} contains a NUL byte");
        if (path[0] != '/') throw new PolicyException($"mount path {path} is not absolute");
        if (path == "/") return;
        if (path.EndsWith('/')) throw new PolicyException($"mount path {path} is not canonical (trailing /)");
        foreach (var part in path[1..].Split('/'))
        {
            if (part.Length == 0) throw new PolicyException($"mount path {path} is not canonical (//)");
            if (part is "." or "..") throw new PolicyException($"mount path {path} is not canonical ({part})");
        }
    }

    /// <summary>Host path → canonical path of an existing file or directory, resolved by <see cref="HostPath"/>: a
    /// symbolic link not owned by root (one a sandbox could have planted in a directory it can write) is refused, in
    /// any component, the last one too.</summary>
    private static string ResolveOutside(string outside)
    {
        ArgumentNullException.ThrowIfNull(outside);
        if (outside.Length == 0) throw new PolicyException("host path is empty");
        if (outside.Contains('\0', StringComparison.Ordinal)) throw new PolicyException("host path contains a NUL byte");
        if (outside[0] != '/') throw new PolicyException($"host path {outside} is not absolute");
        using var resolved = HostPath.TryOpen(outside, out string? error);
        if (resolved is null)
            throw new PolicyException(error is not null && error.EndsWith("No such file or directory", StringComparison.Ordinal)
                ? $"host path {outside} does not exist ({error})" : $"host path {outside}: {error}");
        return resolved.CanonicalPath;
    }

    /// <summary>Whether a bind shows its host path where it is on the host (the inside path leads to the same file), as
    /// it must without a mount namespace.</summary>
    internal static bool IsSameHostPath(Entry e)
    {
        if (e.Outside == e.Inside) return true;
        try { return Path.GetFullPath(ResolveLinks(e.Inside)) == e.Outside; }
        catch (IOException) { return false; }
    }

    /// <summary>realpath(3) in managed code: follows every symlink component.</summary>
    internal static string ResolveLinks(string path)
    {
        string result = "/";
        var pending = new Stack<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        int hops = 0;
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (part == ".") continue;
            if (part == "..") { result = ParentOf(result) ?? "/"; continue; }
            string next = result == "/" ? "/" + part : result + "/" + part;
            var info = new FileInfo(next);
            if (info.LinkTarget is { } target)
            {
                if (++hops > 40) throw new IOException($"too many levels of symbolic links in {path}");
                foreach (var t in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse()) pending.Push(t);
                if (target.StartsWith('/')) result = "/";
                continue;
            }
            result = next;
        }
        return result;
    }

    internal static string? ParentOf(string path)
    {
        if (path == "/") return null;
        int i = path.LastIndexOf('/');
        return i <= 0 ? "/" : path[..i];
    }

    /// <summary>The plan's mount operations: parents first; directories and files created as mount points;
    /// read-only binds nosuid+nodev, writable binds nosuid+nodev+noexec (Sandbox2's flags).</summary>
    /// <remarks>Each bind source is opened here, once per sandbox, by <see cref="HostPath"/> (no planted link
    /// followed) and must still be the canonical path the policy recorded; its identity (st_dev, st_ino) goes into the
    /// plan and its <c>O_PATH</c> descriptor stays open (the inode cannot be reused) until the sandbox has started.
    /// native/mounts.c opens the same path under the host root without following any symlink and binds it only if it
    /// is that same file. Throws <see cref="MountSourceException"/> naming a source that is gone or changed.</remarks>
    internal List<MountOp> ToMountOps()
    {
        var ops = new List<MountOp>();
        try
        {
            AddMountOps(ops);
        }
        catch
        {
            foreach (var op in ops) op.SourceHandle?.Dispose();
            throw;
        }
        return ops;
    }

    /// <summary>The bind of host path <paramref name="source"/> (canonical) at <paramref name="target"/>, pinned: its
    /// identity taken now, its descriptor held by the first op that binds it (<paramref name="pinned"/>: one descriptor
    /// per source, however often it is bound).</summary>
    private static MountOp PinnedBind(string target, string source, MountFlags flags, bool directory, Dictionary<string, (ulong Dev, ulong Ino)> pinned)
    {
        if (pinned.TryGetValue(source, out var known))
            return new MountOp(MountOpKind.Bind, target, source, flags) { SourceIdentity = known };
        var resolved = HostPath.TryOpen(source, out string? error, out int errno)
            ?? throw new MountSourceException($"bind {source} -> {target}: {error}", errno);
        if (resolved.CanonicalPath != source || resolved.IsDirectory != directory)
        {
            resolved.Dispose();
            throw new MountSourceException($"bind {source} -> {target}: the source changed since the policy was built (it is now {(resolved.IsDirectory ? "the directory" : "the file")} {resolved.CanonicalPath})", 116); // ESTALE
        }
        pinned[source] = (resolved.Stat.Dev, resolved.Stat.Ino);
        return new MountOp(MountOpKind.Bind, target, source, flags) { SourceIdentity = pinned[source], SourceHandle = resolved.Fd };
    }

    /// <summary>A bind source that cannot be opened as the policy recorded it (gone, changed, a symlink now): the
    /// sandbox fails with SETUP_ERROR naming it and the errno.</summary>
    internal sealed class MountSourceException(string what, int errno) : IOException(what)
    {
        /// <summary>What failed and why ("bind SRC -&gt; DST: why").</summary>
        public string What { get; } = what;

        /// <summary>The errno (ENOENT, ELOOP, ESTALE for a changed source, ...).</summary>
        public int Errno { get; } = errno;
    }

    private void AddMountOps(List<MountOp> ops)
    {
        var pinned = new Dictionary<string, (ulong Dev, ulong Ino)>(StringComparer.Ordinal);
        foreach (var e in _entries.Values)
        {
            switch (e.Kind)
            {
                case EntryKind.Directory:
                    ops.Add(new MountOp(MountOpKind.MakeDirectory, e.Inside));
                    ops.Add(PinnedBind(e.Inside, e.Outside!, BindFlags(e.Writable), directory: true, pinned));
                    break;
                case EntryKind.File:
                    ops.Add(new MountOp(MountOpKind.MakeDirectory, ParentOf(e.Inside)!));
                    ops.Add(new MountOp(MountOpKind.CreateFile, e.Inside));
                    ops.Add(PinnedBind(e.Inside, e.Outside!, BindFlags(e.Writable), directory: false, pinned));
                    break;
                case EntryKind.Tmpfs:
                    ops.Add(new MountOp(MountOpKind.MakeDirectory, e.Inside));
                    ops.Add(new MountOp(MountOpKind.Tmpfs, e.Inside, null, MountFlags.NoSuid | MountFlags.NoDev,
                        FormattableString.Invariant($"size={e.TmpfsSize},mode=1777")));
                    break;
                case EntryKind.Proc:
                    ops.Add(new MountOp(MountOpKind.MakeDirectory, e.Inside));
                    ops.Add(new MountOp(MountOpKind.Proc, e.Inside));
                    AddProcMasks(ops, e.Inside, pinned);
                    break;
                case EntryKind.Device: // device nodes must stay usable: no nodev
                    ops.Add(new MountOp(MountOpKind.MakeDirectory, ParentOf(e.Inside)!));
                    ops.Add(new MountOp(MountOpKind.CreateFile, e.Inside));
                    ops.Add(PinnedBind(e.Inside, e.Outside!, MountFlags.NoSuid | MountFlags.NoExec, directory: false, pinned));
                    break;
                case EntryKind.Symlink:
                    ops.Add(new MountOp(MountOpKind.MakeDirectory, ParentOf(e.Inside)!));
                    ops.Add(new MountOp(MountOpKind.Symlink, e.Inside, e.Outside));
                    break;
            }
        }
        if (_entries.TryGetValue("/sys", out var sys) && sys.Kind == EntryKind.Directory && sys.Outside == "/sys")
            foreach (var dir in (ReadOnlySpan<string>)["firmware", "devices/virtual/powercap"])
                if (Directory.Exists("/sys/" + dir) && !_entries.ContainsKey("/sys/" + dir))
                    ops.Add(MaskDirectory("/sys/" + dir));
    }

    /// <summary>What a fresh procfs shows of the host and container runtimes mask (runc's and Docker's
    /// <c>maskedPaths</c>, and more): files read as empty (<c>/dev/null</c> bound read-only over them), directories
    /// as empty read-only tmpfs. <c>/proc/cmdline</c> (the host's boot line), <c>/proc/loadavg</c> (the host's task
    /// count and load), <c>/proc/sys/kernel</c> (host identifiers such as <c>random/boot_id</c>, <c>hostname</c>,
    /// <c>osrelease</c>, and tunables), interrupt counters, kernel memory and log, keys, timers and scheduler internals, ACPI, sound and SCSI.</summary>
    internal static readonly string[] MaskedProcFiles =
        ["cmdline", "loadavg", "interrupts", "kcore", "keys", "key-users", "latency_stats", "timer_list", "timer_stats", "sched_debug", "sysrq-trigger", "kmsg", "config.gz"];

    /// <inheritdoc cref="MaskedProcFiles"/>
    internal static readonly string[] MaskedProcDirectories = ["sys/kernel", "acpi", "asound", "scsi"];

    /// <summary>Masks for the procfs at <paramref name="proc"/>: each of <see cref="MaskedProcFiles"/> and
    /// <see cref="MaskedProcDirectories"/> that this kernel's procfs has (the host's <c>/proc</c> is the same kernel's:
    /// a mask on a path that does not exist would fail the mount).</summary>
    private static void AddProcMasks(List<MountOp> ops, string proc, Dictionary<string, (ulong Dev, ulong Ino)> pinned)
    {
        foreach (var f in MaskedProcFiles)
            if (File.Exists("/proc/" + f))
                ops.Add(PinnedBind(proc + "/" + f, "/dev/null", MountFlags.ReadOnly | MountFlags.NoSuid | MountFlags.NoExec, directory: false, pinned));
        foreach (var d in MaskedProcDirectories)
            if (Directory.Exists("/proc/" + d))
                ops.Add(MaskDirectory(proc + "/" + d));
    }

    private static MountOp MaskDirectory(string target) =>
        new(MountOpKind.Tmpfs, target, null, MountFlags.ReadOnly | MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec, "size=4k,nr_inodes=1,mode=0555");

    private static MountFlags BindFlags(bool writable) =>
        writable ? MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec : MountFlags.ReadOnly | MountFlags.NoSuid | MountFlags.NoDev;
}
