using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

/// <summary>
/// The function symbols of one mapped ELF file (.symtab, else .dynsym), its PT_LOAD segments and its
/// <c>.eh_frame</c>, for symbolizing and unwinding stack frames: a file offset (from /proc/pid/maps) → virtual
/// address → <c>name+0xoff</c>. The file is the sandboxee's and hostile: it is read through <see cref="ElfFile"/>
/// within the caps below (a file past a cap gives no symbols / no CFI, never a large allocation), parsing stops at
/// the trace's deadline, and tables are cached by file identity within a byte budget.
/// </summary>
internal sealed class ElfSymbolTable
{
    /// <summary>Caps per file. Real libraries: libc ~3,000 dynamic symbols, libLLVM ~100,000; .eh_frame of libc ~
    /// 250 KiB. A larger file gives a frame as <c>?? (path+0xoff)</c>.</summary>
    public const int MaxSymbols = 200_000, MaxStringBytes = 8 << 20, MaxEhFrameBytes = 16 << 20, MaxNameBytes = 512;

    /// <summary>What all cached tables may hold together (estimated bytes).</summary>
    public const long CacheBudgetBytes = 64L << 20;

    private readonly ulong[] _values;
    private readonly uint[] _sizes;
    private readonly int[] _nameStart;
    private readonly byte[] _names;
    private readonly ElfFile.ProgramHeader[] _loads;

    private ElfSymbolTable(ulong[] values, uint[] sizes, int[] nameStart, byte[] names, ElfFile.ProgramHeader[] loads, EhFrame? ehFrame)
    {
        _values = values;
        _sizes = sizes;
        _nameStart = nameStart;
        _names = names;
        _loads = loads;
        EhFrame = ehFrame;
    }

    /// <summary>The call-frame information (.eh_frame) for unwinding, if the file has it within the cap.</summary>
    public EhFrame? EhFrame { get; }

    public int Count => _values.Length;

    /// <summary>Estimated bytes held (for the cache budget).</summary>
    public long Cost => 64 + _values.Length * 16L + _names.Length + _loads.Length * 48L + (EhFrame?.Cost ?? 0);

    /// <summary>The virtual address (in the file's own address space) of file offset <paramref name="fileOffset"/>.</summary>
    public ulong? FileOffsetToVAddr(ulong fileOffset)
    {
        foreach (var p in _loads)
            if (fileOffset >= p.Offset && fileOffset - p.Offset < p.FileSize) return fileOffset - p.Offset + p.VAddr;
        return null;
    }

    /// <summary>The function containing <paramref name="vaddr"/>, with the offset into it.</summary>
    public (string Name, ulong Offset)? Lookup(ulong vaddr)
    {
        int lo = 0, hi = _values.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_values[mid] <= vaddr) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        if (found < 0) return null;
        ulong value = _values[found], size = _sizes[found];
        // Unsized symbols (hand-written assembly) cover up to the next symbol.
        if (size != 0 && vaddr - value >= size) return null;
        int start = _nameStart[found];
        int end = found + 1 < _nameStart.Length ? _nameStart[found + 1] : _names.Length;
        return (Encoding.UTF8.GetString(_names, start, end - start), vaddr - value);
    }

    /// <summary>Identity of a file's contents for the cache: the same (device, inode, size, mtime) is the same file.</summary>
    internal readonly record struct FileKey(ulong Dev, ulong Ino, long Size, long MTime, long MTimeNsec)
    {
        public static FileKey Of(in Interop.Stat st) => new(st.Dev, st.Ino, st.Size, st.MTime, st.MTimeNsec);
    }

    private static readonly object s_lock = new();
    private static readonly Dictionary<FileKey, LinkedListNode<(FileKey Key, ElfSymbolTable? Table, long Cost)>> s_cache = [];
    private static readonly LinkedList<(FileKey Key, ElfSymbolTable? Table, long Cost)> s_lru = new();
    private static long s_cachedBytes;

    /// <summary>Bytes held by the cache now (tests, benchmarks).</summary>
    internal static long CachedBytes { get { lock (s_lock) return s_cachedBytes; } }

    /// <summary>Drops every cached table (tests).</summary>
    internal static void ClearCache()
    {
        lock (s_lock)
        {
            s_cache.Clear();
            s_lru.Clear();
            s_cachedBytes = 0;
        }
    }

    /// <summary>The table of an open regular file, from the cache or parsed (before <paramref name="deadline"/>,
    /// a <see cref="Environment.TickCount64"/> value); null when the file is not a usable ELF64 x86-64 file.
    /// Throws <see cref="TimeoutException"/> when the deadline passes while parsing.</summary>
    public static ElfSymbolTable? Get(SafeFileHandle handle, in Interop.Stat stat, long deadline)
    {
        var key = FileKey.Of(stat);
        lock (s_lock)
        {
            if (s_cache.TryGetValue(key, out var node))
            {
                s_lru.Remove(node);
                s_lru.AddFirst(node);
                return node.Value.Table;
            }
        }
        ElfSymbolTable? table;
        try { table = Read(handle, stat.Size, deadline); }
        catch (ElfFormatException) { table = null; }
        catch (IOException) { table = null; }
        long cost = table?.Cost ?? 64;
        lock (s_lock)
        {
            if (cost > CacheBudgetBytes || s_cache.ContainsKey(key)) return table;
            while (s_cachedBytes + cost > CacheBudgetBytes && s_lru.Last is { } oldest)
            {
                s_lru.RemoveLast();
                s_cache.Remove(oldest.Value.Key);
                s_cachedBytes -= oldest.Value.Cost;
            }
            s_cache[key] = s_lru.AddFirst((key, table, cost));
            s_cachedBytes += cost;
        }
        return table;
    }

    internal static ElfSymbolTable Read(SafeFileHandle handle, long length, long deadline)
    {
        var elf = ElfFile.Read(handle, length, "mapped file");
        if (elf.Machine != ElfFile.MachineX86_64) throw new ElfFormatException("not an x86-64 file");
        var loads = elf.ProgramHeaders.Where(p => p.Type == ElfFile.PtLoad).ToArray();

        EhFrame? ehFrame = null;
        if (elf.FindSection(".eh_frame") is { Type: 1 /* PROGBITS */ } eh && eh.Size <= MaxEhFrameBytes)
        {
            try { ehFrame = EhFrame.Parse(elf.ReadAt(eh.Offset, eh.Size, MaxEhFrameBytes, ".eh_frame"), eh.Address, deadline); }
            catch (ElfFormatException) { }
        }
        CheckDeadline(deadline);

        var symtab = elf.FindSection(2u /* SHT_SYMTAB */) ?? elf.FindSection(11u /* SHT_DYNSYM */);
        if (symtab is not { } s || s.EntrySize != 24 || s.Size / 24 > MaxSymbols || s.Link >= elf.Sections.Count)
            return new ElfSymbolTable([], [], [], [], loads, ehFrame);
        var strHdr = elf.Sections[(int)s.Link];
        byte[] syms = elf.ReadAt(s.Offset, s.Size / 24 * 24, MaxSymbols * 24, "symbol table");
        byte[] strs = elf.ReadAt(strHdr.Offset, strHdr.Size, MaxStringBytes, "symbol names");
        int total = syms.Length / 24, n = 0;
        var values = new ulong[total];
        var index = new int[total];
        for (int i = 0; i < total; i++)
        {
            if ((i & 0xffff) == 0) CheckDeadline(deadline);
            var e = syms.AsSpan(i * 24, 24);
            int kind = e[4] & 0xf;
            ulong value = ElfFile.U64(e, 8);
            if ((kind != 2 /* FUNC */ && kind != 10 /* IFUNC */) || ElfFile.U16(e, 6) == 0 || value == 0 || ElfFile.U32(e, 0) >= (uint)strs.Length) continue;
            values[n] = value;
            index[n++] = i;
        }
        Array.Sort(values, index, 0, n); // primitive keys: an introsort without a comparer
        CheckDeadline(deadline);
        // One symbol per address: of aliases, the largest.
        var keptValues = new ulong[n];
        var keptSizes = new uint[n];
        var starts = new int[n];
        var blob = new MemoryStream();
        int kept = 0;
        for (int i = 0; i < n;)
        {
            int best = i;
            ulong bestSize = ElfFile.U64(syms, index[i] * 24 + 16);
            int j = i + 1;
            for (; j < n && values[j] == values[i]; j++)
            {
                ulong size = ElfFile.U64(syms, index[j] * 24 + 16);
                if (size > bestSize) { best = j; bestSize = size; }
            }
            int nameOff = (int)ElfFile.U32(syms, index[best] * 24);
            var name = strs.AsSpan(nameOff);
            int len = name.IndexOf((byte)0);
            len = Math.Min(len < 0 ? name.Length : len, MaxNameBytes);
            keptValues[kept] = values[i];
            keptSizes[kept] = (uint)Math.Min(bestSize, uint.MaxValue);
            starts[kept++] = (int)blob.Length;
            // Many symbols may share one long name: the copy is capped as the string table is.
            if (blob.Length + len <= MaxStringBytes) blob.Write(name[..len]);
            i = j;
        }
        return new ElfSymbolTable(keptValues[..kept], keptSizes[..kept], starts[..kept], blob.ToArray(), loads, ehFrame);
    }

    internal static void CheckDeadline(long deadline)
    {
        if (Environment.TickCount64 > deadline) throw new TimeoutException("the time budget ran out while reading symbols");
    }
}
