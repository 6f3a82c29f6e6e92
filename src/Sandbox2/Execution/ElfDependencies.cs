using System.Buffers.Binary;
using System.Text;

namespace Sandbox2;

/// <summary>
/// Reads what the dynamic loader needs from an x86-64 ELF file (PT_INTERP, DT_NEEDED, DT_RPATH, DT_RUNPATH)
/// and resolves a program's libraries the way ld.so does, recursively. Used by
/// <see cref="PolicyBuilder.AddLibrariesForBinary"/>.
/// </summary>
internal sealed class ElfDependencies
{
    /// <summary>Directories ld.so searches after RPATH/LD_LIBRARY_PATH/RUNPATH (Debian multiarch first).</summary>
    internal static readonly string[] SystemDirectories =
        ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];

    public string? Interpreter { get; private init; }
    public IReadOnlyList<string> Needed { get; private init; } = [];
    public IReadOnlyList<string> RPath { get; private init; } = [];
    public IReadOnlyList<string> RunPath { get; private init; } = [];

    /// <summary>Parses <paramref name="path"/>, reading only the headers, the dynamic segment and its string
    /// table (not the whole file). Throws <see cref="PolicyException"/> for a file that is not a 64-bit x86-64 ELF.</summary>
    public static ElfDependencies Read(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path);
            long length = RandomAccess.GetLength(handle);
            return Parse(new FileWindow(handle, length), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new PolicyException($"cannot read {path}: {e.Message}"); }
    }

    /// <summary>Random access to a file in bounds-checked pieces.</summary>
    private sealed class FileWindow(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long length)
    {
        public long Length { get; } = length;

        public byte[] Read(ulong offset, ulong count, string path)
        {
            if (count > int.MaxValue || offset > (ulong)Length || count > (ulong)Length - offset)
                throw new PolicyException($"{path}: truncated or corrupt ELF file");
            var buffer = new byte[count];
            int done = 0;
            while (done < buffer.Length)
            {
                int n = RandomAccess.Read(handle, buffer.AsSpan(done), (long)offset + done);
                if (n <= 0) throw new PolicyException($"{path}: truncated ELF file");
                done += n;
            }
            return buffer;
        }
    }

    private static ElfDependencies Parse(FileWindow file, string path)
    {
        byte[] h = file.Read(0, Math.Min(64UL, (ulong)file.Length), path);
        if (h.Length < 64 || h[0] != 0x7f || h[1] != (byte)'E' || h[2] != (byte)'L' || h[3] != (byte)'F')
            throw new PolicyException($"{path} is not an ELF file");
        if (h[4] != 2 || h[5] != 1) throw new PolicyException($"{path} is not a 64-bit little-endian ELF file (only x86-64 programs are supported)");
        if (U16(h, 18) != 62) throw new PolicyException($"{path} is not an x86-64 ELF file (e_machine {U16(h, 18)})");
        ulong phoff = U64(h, 32);
        int phentsize = U16(h, 54), phnum = U16(h, 56);
        if (phentsize < 56) throw new PolicyException($"{path}: corrupt ELF program header size {phentsize}");
        byte[] ph = file.Read(phoff, (ulong)(phentsize * phnum), path);
        var loads = new List<(ulong Vaddr, ulong Offset, ulong Filesz)>();
        string? interp = null;
        byte[]? dynamic = null;
        for (int i = 0; i < phnum; i++)
        {
            int at = i * phentsize;
            uint type = U32(ph, at);
            ulong offset = U64(ph, at + 8), vaddr = U64(ph, at + 16), filesz = U64(ph, at + 32);
            switch (type)
            {
                case 1: loads.Add((vaddr, offset, filesz)); break;                                   // PT_LOAD
                case 2: dynamic = file.Read(offset, Math.Min(filesz, 1UL << 20), path); break;      // PT_DYNAMIC
                case 3: interp = CString(file.Read(offset, Math.Min(filesz, 4096), path), 0); break; // PT_INTERP
            }
        }
        var needed = new List<ulong>();
        ulong strtab = 0, strsz = 0, rpath = ulong.MaxValue, runpath = ulong.MaxValue;
        if (dynamic is not null)
        {
            for (int o = 0; o + 16 <= dynamic.Length; o += 16)
            {
                long tag = (long)U64(dynamic, o);
                ulong val = U64(dynamic, o + 8);
                if (tag == 0) break;                                   // DT_NULL
                switch (tag)
                {
                    case 1: needed.Add(val); break;                     // DT_NEEDED
                    case 5: strtab = val; break;                        // DT_STRTAB (a virtual address)
                    case 10: strsz = val; break;                        // DT_STRSZ
                    case 15: rpath = val; break;                        // DT_RPATH
                    case 29: runpath = val; break;                      // DT_RUNPATH
                }
            }
        }
        byte[] strings = [];
        if (needed.Count > 0 || rpath != ulong.MaxValue || runpath != ulong.MaxValue)
        {
            var segment = loads.FirstOrDefault(l => strtab >= l.Vaddr && strtab < l.Vaddr + l.Filesz);
            if (segment.Filesz == 0) throw new PolicyException($"{path}: DT_STRTAB is outside every PT_LOAD segment");
            strings = file.Read(strtab - segment.Vaddr + segment.Offset, strsz, path);
        }
        string Str(ulong index) => index < (ulong)strings.Length ? CString(strings, (int)index) : throw new PolicyException($"{path}: string index {index} outside DT_STRTAB");
        string[] Split(ulong index) => index == ulong.MaxValue ? [] : Str(index).Split(':', StringSplitOptions.RemoveEmptyEntries);
        return new ElfDependencies
        {
            Interpreter = interp,
            Needed = needed.Select(Str).ToList(),
            RPath = Split(rpath),
            RunPath = Split(runpath),
        };
    }

    /// <summary>
    /// Every file ld.so would load for <paramref name="program"/>: its interpreter and the transitive closure of
    /// DT_NEEDED, resolved like ld.so (DT_RPATH when there is no DT_RUNPATH, then <paramref name="ldLibraryPath"/>,
    /// then DT_RUNPATH, then the system directories; <c>$ORIGIN</c> expanded). Paths are as ld.so would open them
    /// (symlinks not resolved), so mounting each file at its path makes the program load inside the sandbox.
    /// </summary>
    public static IReadOnlyList<string> ResolveLibraries(string program, string? ldLibraryPath = null)
    {
        var root = Read(program);
        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        if (root.Interpreter is { } interp) { result.Add(interp); seen.Add(Path.GetFileName(interp)); }
        string[] extra = ldLibraryPath?.Split(':', StringSplitOptions.RemoveEmptyEntries) ?? [];
        var queue = new Queue<(string Path, ElfDependencies Elf)>();
        queue.Enqueue((program, root));
        while (queue.Count > 0)
        {
            var (path, elf) = queue.Dequeue();
            string origin = Path.GetDirectoryName(path) ?? "/";
            foreach (var name in elf.Needed)
            {
                if (!seen.Add(name)) continue;
                string? found = name.Contains('/', StringComparison.Ordinal) ? (File.Exists(name) ? name : null) : Search(name, elf, extra, origin);
                if (found is null) throw new PolicyException($"{program}: cannot find library {name} (needed by {path})");
                // "$ORIGIN/../lib" gives ".." in the path: mount points must be canonical, and inside the sandbox the
                // directories are plain ones created for the mounts, so the lexical form is where ld.so will look.
                found = Path.GetFullPath(found);
                result.Add(found);
                queue.Enqueue((found, Read(found)));
            }
        }
        return result;
    }

    private static string? Search(string name, ElfDependencies elf, string[] ldLibraryPath, string origin)
    {
        IEnumerable<string> dirs = elf.RunPath.Count == 0 ? elf.RPath : [];
        dirs = dirs.Concat(ldLibraryPath).Concat(elf.RunPath).Select(d => d.Replace("$ORIGIN", origin, StringComparison.Ordinal).Replace("${ORIGIN}", origin, StringComparison.Ordinal))
            .Concat(SystemDirectories);
        foreach (var dir in dirs)
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate) && IsX86_64Elf(candidate)) return candidate;
        }
        return null;
    }

    private static bool IsX86_64Elf(string path)
    {
        Span<byte> head = stackalloc byte[20];
        try
        {
            using var fs = File.OpenRead(path);
            if (fs.ReadAtLeast(head, 20, throwOnEndOfStream: false) < 20) return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
        return head[0] == 0x7f && head[1] == (byte)'E' && head[4] == 2 && U16(head, 18) == 62;
    }

    private static ushort U16(ReadOnlySpan<byte> f, int at) => BinaryPrimitives.ReadUInt16LittleEndian(f[at..]);
    private static uint U32(ReadOnlySpan<byte> f, int at) => BinaryPrimitives.ReadUInt32LittleEndian(f[at..]);
    private static ulong U64(ReadOnlySpan<byte> f, int at) => BinaryPrimitives.ReadUInt64LittleEndian(f[at..]);

    private static string CString(ReadOnlySpan<byte> f, int at)
    {
        var rest = f[at..];
        int end = rest.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
    }
}
