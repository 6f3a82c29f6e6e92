using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

/// <summary>
/// The function symbols of one ELF64 file (.symtab, else .dynsym) and its PT_LOAD segments, for symbolizing
/// stack frames: a file offset (from /proc/pid/maps) → virtual address → <c>name+0xoff</c>.
/// </summary>
internal sealed class ElfSymbolTable
{
    private const int MaxCached = 64;
    private static readonly ConcurrentDictionary<string, ElfSymbolTable?> s_cache = new();

    private readonly (ulong Value, ulong Size, string Name)[] _symbols;
    private readonly (ulong Offset, ulong VAddr, ulong FileSize)[] _loads;

    private ElfSymbolTable((ulong, ulong, string)[] symbols, (ulong, ulong, ulong)[] loads, EhFrame? ehFrame)
    {
        _symbols = symbols;
        _loads = loads;
        EhFrame = ehFrame;
    }

    /// <summary>The call-frame information (.eh_frame) for unwinding, if the file has it.</summary>
    public EhFrame? EhFrame { get; }

    public int Count => _symbols.Length;

    /// <summary>Loads (and caches under <paramref name="cacheKey"/>) the table of the first openable path; null if none is an ELF64 file.</summary>
    public static ElfSymbolTable? Load(string cacheKey, IEnumerable<string> candidatePaths)
    {
        if (s_cache.TryGetValue(cacheKey, out var cached)) return cached;
        ElfSymbolTable? table = null;
        foreach (var path in candidatePaths)
        {
            try
            {
                using var fh = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
                table = Read(fh);
                break;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            catch (InvalidDataException) { break; }
        }
        if (s_cache.Count >= MaxCached) s_cache.Clear();
        s_cache[cacheKey] = table;
        return table;
    }

    /// <summary>The virtual address (in the file's own address space) of file offset <paramref name="fileOffset"/>.</summary>
    public ulong? FileOffsetToVAddr(ulong fileOffset)
    {
        foreach (var (off, vaddr, size) in _loads)
            if (fileOffset >= off && fileOffset < off + size) return fileOffset - off + vaddr;
        return null;
    }

    /// <summary>The function containing <paramref name="vaddr"/>, with the offset into it.</summary>
    public (string Name, ulong Offset)? Lookup(ulong vaddr)
    {
        int lo = 0, hi = _symbols.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_symbols[mid].Value <= vaddr) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        if (found < 0) return null;
        var (value, size, name) = _symbols[found];
        // Unsized symbols (hand-written assembly) cover up to the next symbol.
        if (size != 0 && vaddr >= value + size) return null;
        return (name, vaddr - value);
    }

    internal static ElfSymbolTable Read(SafeFileHandle fh)
    {
        Span<byte> eh = stackalloc byte[64];
        if (RandomAccess.Read(fh, eh, 0) < 64 || !eh[..4].SequenceEqual(Magic)
            || eh[4] != 2 /* ELFCLASS64 */ || eh[5] != 1 /* little endian */)
            throw new InvalidDataException("not an ELF64 little-endian file");
        ulong phoff = U64(eh, 0x20), shoff = U64(eh, 0x28);
        int phentsize = U16(eh, 0x36), phnum = U16(eh, 0x38), shentsize = U16(eh, 0x3A), shnum = U16(eh, 0x3C), shstrndx = U16(eh, 0x3E);
        EhFrame? ehFrame = null;

        var loads = new List<(ulong, ulong, ulong)>();
        if (phnum > 0 && phentsize >= 56 && phnum < 4096)
        {
            var ph = new byte[phnum * phentsize];
            RandomAccess.Read(fh, ph, (long)phoff);
            for (int i = 0; i < phnum; i++)
            {
                var p = ph.AsSpan(i * phentsize);
                if (BinaryPrimitives.ReadUInt32LittleEndian(p) == 1 /* PT_LOAD */)
                    loads.Add((U64(p, 8), U64(p, 16), U64(p, 32)));
            }
        }

        var symbols = new List<(ulong, ulong, string)>();
        if (shnum > 0 && shentsize >= 64 && shnum < 65536)
        {
            var sh = new byte[shnum * shentsize];
            RandomAccess.Read(fh, sh, (long)shoff);
            int symtab = -1, dynsym = -1;
            for (int i = 0; i < shnum; i++)
            {
                uint type = BinaryPrimitives.ReadUInt32LittleEndian(sh.AsSpan(i * shentsize + 4));
                if (type == 2) symtab = i;
                else if (type == 11) dynsym = i;
            }
            if (shstrndx < shnum)
            {
                var namesHdr = sh.AsSpan(shstrndx * shentsize);
                ulong namesSize = U64(namesHdr, 32);
                if (namesSize < 1 << 20)
                {
                    var names = new byte[namesSize];
                    RandomAccess.Read(fh, names, (long)U64(namesHdr, 24));
                    for (int i = 0; i < shnum; i++)
                    {
                        var h = sh.AsSpan(i * shentsize);
                        int nameOff = (int)BinaryPrimitives.ReadUInt32LittleEndian(h);
                        if (nameOff >= names.Length || !names.AsSpan(nameOff).StartsWith(".eh_frame\0"u8)) continue;
                        ulong size = U64(h, 32);
                        if (BinaryPrimitives.ReadUInt32LittleEndian(h[4..]) != 1 /* PROGBITS */ || size > 64 << 20) break;
                        var data = new byte[size];
                        RandomAccess.Read(fh, data, (long)U64(h, 24));
                        ehFrame = EhFrame.Parse(data, U64(h, 16));
                        break;
                    }
                }
            }
            int use = symtab >= 0 ? symtab : dynsym;
            if (use >= 0)
            {
                var s = sh.AsSpan(use * shentsize);
                ulong off = U64(s, 24), size = U64(s, 32);
                int link = (int)BinaryPrimitives.ReadUInt32LittleEndian(s[40..]);
                if (link < shnum && size < 256 << 20)
                {
                    var strHdr = sh.AsSpan(link * shentsize);
                    ulong strOff = U64(strHdr, 24), strSize = U64(strHdr, 32);
                    var syms = new byte[size];
                    var strs = new byte[Math.Min(strSize, 256UL << 20)];
                    RandomAccess.Read(fh, syms, (long)off);
                    RandomAccess.Read(fh, strs, (long)strOff);
                    for (int i = 0; i + 24 <= syms.Length; i += 24)
                    {
                        var e = syms.AsSpan(i, 24);
                        int kind = e[4] & 0xf;
                        ushort shndx = BinaryPrimitives.ReadUInt16LittleEndian(e[6..]);
                        ulong value = U64(e, 8);
                        if ((kind != 2 /* FUNC */ && kind != 10 /* IFUNC */) || shndx == 0 || value == 0) continue;
                        uint nameOff = BinaryPrimitives.ReadUInt32LittleEndian(e);
                        if (nameOff >= strs.Length) continue;
                        int end = Array.IndexOf(strs, (byte)0, (int)nameOff);
                        if (end < 0) end = strs.Length;
                        symbols.Add((value, U64(e, 16), Encoding.UTF8.GetString(strs, (int)nameOff, end - (int)nameOff)));
                    }
                }
            }
        }
        // Sort by address; for aliases at one address keep the first sized one.
        symbols.Sort((a, b) => a.Item1 != b.Item1 ? a.Item1.CompareTo(b.Item1) : b.Item2.CompareTo(a.Item2));
        var dedup = new List<(ulong, ulong, string)>(symbols.Count);
        foreach (var s in symbols)
            if (dedup.Count == 0 || dedup[^1].Item1 != s.Item1) dedup.Add(s);
        return new ElfSymbolTable([.. dedup], [.. loads], ehFrame);
    }

    private static ReadOnlySpan<byte> Magic => [0x7f, (byte)'E', (byte)'L', (byte)'F'];

    private static ulong U64(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b[at..]);
    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
}
