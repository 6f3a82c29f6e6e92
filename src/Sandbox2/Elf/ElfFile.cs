using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

/// <summary>The file is not an ELF file we can read, or breaks one of the reader's caps (the message says which).</summary>
internal sealed class ElfFormatException(string message) : Exception(message);

/// <summary>
/// The one ELF reader (Sandbox2's <c>util/elf_parser.cc</c>): ELF64 little-endian files, read for the library
/// resolver (<see cref="ElfDependencies"/>: PT_INTERP, the dynamic section) and the stack-trace symbolizer
/// (<see cref="ElfSymbolTable"/>: PT_LOAD, symbols, <c>.eh_frame</c>). Every file is hostile: each read is
/// bounds-checked against the file's length, every count and size taken from the file is checked against a cap
/// before anything is allocated for it, and a violation is an <see cref="ElfFormatException"/> naming the field.
/// It reads on demand (headers first, then only what the caller asks for), never the whole file.
/// </summary>
/// <remarks>Why our own and not ELFSharp 2.17 / LibObjectFile 2.3 (both on NuGet here): both materialise whole
/// tables from header counts (sections, symbols, strings) with no caps, which is what a hostile file exploits,
/// and neither is annotated trim/NativeAOT-compatible; what we need is ~300 lines.</remarks>
internal sealed class ElfFile
{
    public const ushort MachineX86_64 = 62;
    public const ushort TypeExecutable = 2, TypeSharedObject = 3;
    public const uint PtLoad = 1, PtDynamic = 2, PtInterp = 3;

    /// <summary>Caps for the header tables (real files: tens of program headers, ~30-70 sections; -ffunction-sections
    /// objects can have thousands).</summary>
    public const int MaxProgramHeaders = 512, MaxSections = 32768, MaxSectionNamesBytes = 1 << 20;
    public const int MaxInterpreterBytes = 4096, MaxDynamicEntries = 8192, MaxDynamicStringBytes = 1 << 20;

    private readonly SafeFileHandle _handle;
    private SectionHeader[]? _sections;
    private byte[]? _sectionNames;

    /// <summary>One program header.</summary>
    internal readonly record struct ProgramHeader(uint Type, uint Flags, ulong Offset, ulong VAddr, ulong FileSize, ulong MemSize);

    /// <summary>One section header.</summary>
    internal readonly record struct SectionHeader(uint NameOffset, uint Type, ulong Address, ulong Offset, ulong Size, uint Link, ulong EntrySize);

    /// <summary>What the dynamic loader reads: DT_NEEDED, DT_RPATH, DT_RUNPATH (strings as in the file).</summary>
    internal sealed record DynamicInfo(IReadOnlyList<string> Needed, IReadOnlyList<string> RPath, IReadOnlyList<string> RunPath);

    private ElfFile(SafeFileHandle handle, long length, string name, ushort type, ushort machine,
        ProgramHeader[] programHeaders, ulong shoff, int shnum, int shstrndx)
    {
        _handle = handle;
        Length = length;
        Name = name;
        Type = type;
        Machine = machine;
        ProgramHeaders = programHeaders;
        _shoff = shoff;
        _shnum = shnum;
        _shstrndx = shstrndx;
    }

    private readonly ulong _shoff;
    private readonly int _shnum, _shstrndx;

    /// <summary>The name used in messages.</summary>
    public string Name { get; }
    public long Length { get; }
    /// <summary>e_type: <see cref="TypeExecutable"/>, <see cref="TypeSharedObject"/>, ...</summary>
    public ushort Type { get; }
    /// <summary>e_machine (<see cref="MachineX86_64"/> = 62).</summary>
    public ushort Machine { get; }
    public IReadOnlyList<ProgramHeader> ProgramHeaders { get; }

    /// <summary>True when <paramref name="head"/> starts with the ELF magic.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> head) => head.Length >= 4 && head[..4].SequenceEqual("\u007fELF"u8);

    /// <summary>Reads the ELF header and program headers of an open regular file. The handle stays the caller's and
    /// must outlive this object.</summary>
    public static ElfFile Read(SafeFileHandle handle, long length, string name)
    {
        if (length < 64) throw new ElfFormatException(length >= 4 && HasMagic(Head(handle)) ? "truncated ELF header" : "not an ELF file");
        var h = new byte[64];
        ReadExactly(handle, h, 0, name);
        if (!HasMagic(h)) throw new ElfFormatException("not an ELF file");
        if (h[4] != 2 || h[5] != 1) throw new ElfFormatException("not a 64-bit little-endian ELF file");
        ushort type = U16(h, 16), machine = U16(h, 18);
        ulong phoff = U64(h, 32), shoff = U64(h, 40);
        int phentsize = U16(h, 54), phnum = U16(h, 56), shentsize = U16(h, 58), shnum = U16(h, 60), shstrndx = U16(h, 62);
        if (phnum > MaxProgramHeaders) throw new ElfFormatException($"{phnum} program headers (at most {MaxProgramHeaders})");
        var phs = new ProgramHeader[phnum];
        if (phnum > 0)
        {
            if (phentsize != 56) throw new ElfFormatException($"program header size {phentsize} (expected 56)");
            byte[] ph = ReadChecked(handle, length, phoff, (ulong)phnum * 56, int.MaxValue, "program headers", name);
            for (int i = 0; i < phnum; i++)
            {
                var p = ph.AsSpan(i * 56);
                phs[i] = new ProgramHeader(U32(p, 0), U32(p, 4), U64(p, 8), U64(p, 16), U64(p, 32), U64(p, 40));
            }
        }
        if (shnum > 0 && shentsize != 64) shnum = 0; // sections are optional (stripped of headers): ignore a bad table
        if (shnum > MaxSections) throw new ElfFormatException($"{shnum} sections (at most {MaxSections})");
        return new ElfFile(handle, length, name, type, machine, phs, shoff, shnum, shstrndx);
    }

    private static byte[] Head(SafeFileHandle handle)
    {
        var b = new byte[4];
        try { return RandomAccess.Read(handle, b, 0) == 4 ? b : []; }
        catch (IOException) { return []; }
    }

    /// <summary><paramref name="count"/> bytes at <paramref name="offset"/>, refused beyond the file or <paramref name="cap"/>.</summary>
    public byte[] ReadAt(ulong offset, ulong count, int cap, string what) => ReadChecked(_handle, Length, offset, count, cap, what, Name);

    private static byte[] ReadChecked(SafeFileHandle handle, long length, ulong offset, ulong count, int cap, string what, string name)
    {
        if (count > (ulong)cap) throw new ElfFormatException($"{what}: {count} bytes (at most {cap})");
        if (offset > (ulong)length || count > (ulong)length - offset) throw new ElfFormatException($"{what} lies outside the file (truncated or corrupt)");
        var buffer = new byte[count];
        ReadExactly(handle, buffer, (long)offset, name);
        return buffer;
    }

    private static void ReadExactly(SafeFileHandle handle, byte[] buffer, long offset, string name)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(done), offset + done);
            if (n <= 0) throw new ElfFormatException("truncated file (it shrank while being read?)");
            done += n;
        }
        _ = name;
    }

    /// <summary>The strings of every PT_INTERP, in file order (the kernel uses the first).</summary>
    public IReadOnlyList<string> Interpreters()
    {
        var list = new List<string>();
        foreach (var p in ProgramHeaders)
            if (p.Type == PtInterp)
                list.Add(CString(ReadAt(p.Offset, p.FileSize, MaxInterpreterBytes, "PT_INTERP"), 0));
        return list;
    }

    /// <summary>The virtual address of file offset <paramref name="fileOffset"/> (through the PT_LOAD that maps it).</summary>
    public ulong? FileOffsetToVAddr(ulong fileOffset)
    {
        foreach (var p in ProgramHeaders)
            if (p.Type == PtLoad && fileOffset >= p.Offset && fileOffset - p.Offset < p.FileSize) return fileOffset - p.Offset + p.VAddr;
        return null;
    }

    /// <summary>The file offset of virtual address <paramref name="vaddr"/>, with how many file bytes follow it in its segment.</summary>
    public (ulong Offset, ulong Available)? VAddrToFileOffset(ulong vaddr)
    {
        foreach (var p in ProgramHeaders)
            if (p.Type == PtLoad && vaddr >= p.VAddr && vaddr - p.VAddr < p.FileSize) return (vaddr - p.VAddr + p.Offset, p.FileSize - (vaddr - p.VAddr));
        return null;
    }

    /// <summary>DT_NEEDED, DT_RPATH and DT_RUNPATH from PT_DYNAMIC (strings through DT_STRTAB/DT_STRSZ); empty for a static file.</summary>
    public DynamicInfo ReadDynamic()
    {
        var dynamics = ProgramHeaders.Where(p => p.Type == PtDynamic).ToList();
        if (dynamics.Count == 0) return new DynamicInfo([], [], []);
        if (dynamics.Count > 1) throw new ElfFormatException($"{dynamics.Count} PT_DYNAMIC segments");
        var dyn = dynamics[0];
        ulong entries = Math.Min(dyn.FileSize / 16, MaxDynamicEntries + 1UL);
        if (entries > MaxDynamicEntries) throw new ElfFormatException($"PT_DYNAMIC has more than {MaxDynamicEntries} entries");
        byte[] d = ReadAt(dyn.Offset, entries * 16, MaxDynamicEntries * 16, "PT_DYNAMIC");
        var needed = new List<ulong>();
        ulong strtab = 0, strsz = 0, rpath = ulong.MaxValue, runpath = ulong.MaxValue;
        bool haveStrtab = false;
        for (int o = 0; o + 16 <= d.Length; o += 16)
        {
            long tag = (long)U64(d, o);
            ulong val = U64(d, o + 8);
            if (tag == 0) break;                                    // DT_NULL
            switch (tag)
            {
                case 1: needed.Add(val); break;                      // DT_NEEDED
                case 5: strtab = val; haveStrtab = true; break;      // DT_STRTAB (a virtual address)
                case 10: strsz = val; break;                         // DT_STRSZ
                case 15: rpath = val; break;                         // DT_RPATH
                case 29: runpath = val; break;                       // DT_RUNPATH
            }
        }
        if (needed.Count == 0 && rpath == ulong.MaxValue && runpath == ulong.MaxValue) return new DynamicInfo([], [], []);
        if (!haveStrtab || VAddrToFileOffset(strtab) is not var (strOff, available))
            throw new ElfFormatException("DT_STRTAB is outside every PT_LOAD segment");
        if (strsz > available) throw new ElfFormatException("DT_STRSZ runs past its segment");
        byte[] strings = ReadAt(strOff, strsz, MaxDynamicStringBytes, "DT_STRTAB");
        string Str(ulong index) => index < (ulong)strings.Length ? CString(strings, (int)index) : throw new ElfFormatException($"string index {index} outside DT_STRTAB");
        string[] Split(ulong index) => index == ulong.MaxValue ? [] : Str(index).Split(':', StringSplitOptions.RemoveEmptyEntries);
        return new DynamicInfo(needed.Select(Str).ToList(), Split(rpath), Split(runpath));
    }

    /// <summary>The section headers (read once; empty when the file has none or a malformed table).</summary>
    public IReadOnlyList<SectionHeader> Sections
    {
        get
        {
            if (_sections is not null) return _sections;
            var list = new SectionHeader[_shnum];
            if (_shnum > 0)
            {
                byte[] sh = ReadAt(_shoff, (ulong)_shnum * 64, MaxSections * 64, "section headers");
                for (int i = 0; i < _shnum; i++)
                {
                    var s = sh.AsSpan(i * 64);
                    list[i] = new SectionHeader(U32(s, 0), U32(s, 4), U64(s, 16), U64(s, 24), U64(s, 32), U32(s, 40), U64(s, 56));
                }
            }
            return _sections = list;
        }
    }

    /// <summary>The first section called <paramref name="name"/>, or null.</summary>
    public SectionHeader? FindSection(string name)
    {
        var sections = Sections;
        if (_shstrndx >= sections.Count) return null;
        if (_sectionNames is null)
        {
            var names = sections[_shstrndx];
            _sectionNames = ReadAt(names.Offset, names.Size, MaxSectionNamesBytes, "section names");
        }
        byte[] wanted = Encoding.ASCII.GetBytes(name + "\0");
        foreach (var s in sections)
            if (s.NameOffset < (uint)_sectionNames.Length && _sectionNames.AsSpan((int)s.NameOffset).StartsWith(wanted)) return s;
        return null;
    }

    /// <summary>The first section of type <paramref name="type"/> (SHT_SYMTAB = 2, SHT_DYNSYM = 11), or null.</summary>
    public SectionHeader? FindSection(uint type)
    {
        foreach (var s in Sections)
            if (s.Type == type) return s;
        return null;
    }

    internal static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
    internal static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
    internal static ulong U64(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b[at..]);

    /// <summary>The NUL-terminated string at <paramref name="at"/> (to the end of the buffer if unterminated).</summary>
    internal static string CString(ReadOnlySpan<byte> b, int at)
    {
        var rest = b[at..];
        int end = rest.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
    }
}
