using System.Buffers.Binary;

namespace Sandbox2;

/// <summary>
/// x86-64 call-frame information from an ELF file's <c>.eh_frame</c> (DWARF CFI, as gcc emits by default): for a
/// pc, how to find the caller's frame — CFA = rsp|rbp + offset, return address and saved rbp at CFA + offset.
/// Enough to unwind through code without frame pointers (libc). Expressions (def_cfa_expression, used by PLT
/// stubs and stack realignment) are not evaluated: such rows report "unknown" and the caller falls back.
/// </summary>
internal sealed class EhFrame
{
    private const int RegRbp = 6, RegRsp = 7, RegRa = 16;

    private readonly byte[] _data;
    private readonly ulong _address;
    /// <summary>FDEs sorted by start: (pc begin, pc end, offset of the FDE's instructions, their end, CIE offset).</summary>
    private readonly (ulong Begin, ulong End, int Instructions, int InstructionsEnd, int Cie)[] _fdes;
    private readonly Dictionary<int, Cie?> _cies = [];

    /// <summary>The rule set at one pc: CFA = (rsp or rbp) + CfaOffset; saved rbp / return address at CFA + offset.</summary>
    internal readonly record struct Row(int CfaRegister, long CfaOffset, long? RbpOffset, long? RaOffset, bool RaUndefined);

    private sealed record Cie(ulong CodeAlign, long DataAlign, int RaRegister, byte FdeEncoding, bool HasAugmentationData,
        int Instructions, int InstructionsEnd);

    private EhFrame(byte[] data, ulong address, List<(ulong, ulong, int, int, int)> fdes)
    {
        _data = data;
        _address = address;
        fdes.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        _fdes = [.. fdes];
    }

    public int Count => _fdes.Length;

    /// <summary>At most this many FDEs are kept (a 16 MiB section of minimal FDEs would hold ~1M).</summary>
    public const int MaxFdes = 1 << 20;

    /// <summary>Most CFA instructions run for one row (real FDEs: tens).</summary>
    private const int MaxSteps = 100_000;

    /// <summary>Estimated bytes held.</summary>
    public long Cost => _data.Length + _fdes.Length * 32L + _cies.Count * 64L;

    /// <summary>Parse the section's bytes; <paramref name="address"/> is its sh_addr (pc-relative pointers are relative to it).</summary>
    public static EhFrame? Parse(byte[] data, ulong address, long deadline = long.MaxValue)
    {
        var fdes = new List<(ulong, ulong, int, int, int)>();
        var frame = new EhFrame(data, address, []);
        int pos = 0;
        try
        {
            while (pos + 8 <= data.Length)
            {
                uint length = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(pos));
                if (length == 0) break; // terminator
                if (length == 0xffffffff) return null; // 64-bit DWARF: not emitted for x86-64 .eh_frame
                if (length < 4 || length > (uint)(data.Length - pos - 4)) break; // every record moves forward, within the data
                int end = pos + 4 + (int)length;
                if ((fdes.Count & 0xfff) == 0) ElfSymbolTable.CheckDeadline(deadline);
                if (fdes.Count >= MaxFdes) break;
                int idPos = pos + 4;
                uint id = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(idPos));
                if (id != 0)
                {
                    if (id > (uint)idPos) { pos = end; continue; }
                    int ciePos = idPos - (int)id;
                    var cie = frame.GetCie(ciePos);
                    if (cie is not null)
                    {
                        int p = idPos + 4;
                        ulong begin = frame.ReadEncoded(ref p, cie.FdeEncoding);
                        ulong range = frame.ReadEncoded(ref p, (byte)(cie.FdeEncoding & 0x0f));
                        if (cie.HasAugmentationData) { ulong augLen = ReadUleb(data, ref p); p = augLen > (ulong)(end - p) ? end + 1 : p + (int)augLen; }
                        if (begin != 0 && p <= end) fdes.Add((begin, begin + range, p, end, ciePos));
                    }
                }
                pos = end;
            }
        }
        catch (IndexOutOfRangeException) { }
        catch (ArgumentOutOfRangeException) { }
        var result = new EhFrame(data, address, fdes);
        foreach (var kv in frame._cies) result._cies[kv.Key] = kv.Value;
        return result;
    }

    /// <summary>The unwind row for <paramref name="vaddr"/> (in the file's address space), or null if unknown.</summary>
    public Row? Find(ulong vaddr)
    {
        int lo = 0, hi = _fdes.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_fdes[mid].Begin <= vaddr) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        if (found < 0) return null;
        var fde = _fdes[found];
        if (vaddr >= fde.End) return null;
        var cie = GetCie(fde.Cie);
        if (cie is null) return null;
        try
        {
            var state = new State { CfaRegister = RegRsp, CfaOffset = 8 };
            if (!Execute(cie, cie.Instructions, cie.InstructionsEnd, ulong.MaxValue, fde.Begin, ref state, null)) return null;
            var initial = state;
            if (!Execute(cie, fde.Instructions, fde.InstructionsEnd, vaddr, fde.Begin, ref state, initial)) return null;
            if (state.CfaRegister is not (RegRsp or RegRbp) || state.Unsupported) return null;
            return new Row(state.CfaRegister, state.CfaOffset, state.Rbp, state.Ra, state.RaUndefined);
        }
        catch (IndexOutOfRangeException) { return null; }
        catch (ArgumentOutOfRangeException) { return null; }
    }

    private struct State
    {
        public int CfaRegister;
        public long CfaOffset;
        public long? Rbp, Ra;
        public bool RaUndefined, Unsupported;
    }

    /// <summary>Run CFA instructions until the location passes <paramref name="target"/>.</summary>
    private bool Execute(Cie cie, int pos, int end, ulong target, ulong loc, ref State s, State? initial)
    {
        var stack = new Stack<State>();
        int steps = 0;
        if (end > _data.Length) return false;
        while (pos < end)
        {
            if (++steps > MaxSteps || stack.Count > 64) return false;
            byte op = _data[pos++];
            int high = op & 0xc0, low = op & 0x3f;
            ulong advance = 0;
            if (high == 0x40) advance = (ulong)low * cie.CodeAlign;
            else if (high == 0x80) { SetOffset(ref s, low, (long)ReadUleb(_data, ref pos) * cie.DataAlign); continue; }
            else if (high == 0xc0) { Restore(ref s, low, initial); continue; }
            else
            {
                switch (op)
                {
                    case 0x00: continue; // nop
                    case 0x01: loc = ReadEncoded(ref pos, cie.FdeEncoding); if (loc > target) return true; continue; // set_loc
                    case 0x02: advance = (ulong)_data[pos++] * cie.CodeAlign; break;
                    case 0x03: advance = BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(pos)) * cie.CodeAlign; pos += 2; break;
                    case 0x04: advance = BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(pos)) * cie.CodeAlign; pos += 4; break;
                    case 0x05: { int r = (int)ReadUleb(_data, ref pos); SetOffset(ref s, r, (long)ReadUleb(_data, ref pos) * cie.DataAlign); continue; }
                    case 0x06: Restore(ref s, (int)ReadUleb(_data, ref pos), initial); continue;
                    case 0x07: { int r = (int)ReadUleb(_data, ref pos); if (r == RegRa) s.RaUndefined = true; else if (r == RegRbp) s.Rbp = null; continue; }
                    case 0x08: { int r = (int)ReadUleb(_data, ref pos); if (r == RegRbp) s.Rbp = null; continue; } // same_value
                    case 0x09: { int r = (int)ReadUleb(_data, ref pos); ReadUleb(_data, ref pos); if (r is RegRbp or RegRa) s.Unsupported = true; continue; }
                    case 0x0a: stack.Push(s); continue;
                    case 0x0b: if (stack.Count > 0) s = stack.Pop(); continue;
                    case 0x0c: s.CfaRegister = (int)ReadUleb(_data, ref pos); s.CfaOffset = (long)ReadUleb(_data, ref pos); continue;
                    case 0x0d: s.CfaRegister = (int)ReadUleb(_data, ref pos); continue;
                    case 0x0e: s.CfaOffset = (long)ReadUleb(_data, ref pos); continue;
                    case 0x0f: { ulong len = ReadUleb(_data, ref pos); if (len > (ulong)(end - pos)) return false; pos += (int)len; s.CfaRegister = -1; continue; } // def_cfa_expression
                    case 0x10: case 0x16:
                        {
                            int r = (int)ReadUleb(_data, ref pos); ulong len = ReadUleb(_data, ref pos);
                            if (len > (ulong)(end - pos)) return false;
                            pos += (int)len;
                            if (r is RegRbp or RegRa) s.Unsupported = true;
                            continue;
                        }
                    case 0x11: { int r = (int)ReadUleb(_data, ref pos); SetOffset(ref s, r, ReadSleb(_data, ref pos) * cie.DataAlign); continue; }
                    case 0x12: s.CfaRegister = (int)ReadUleb(_data, ref pos); s.CfaOffset = ReadSleb(_data, ref pos) * cie.DataAlign; continue;
                    case 0x13: s.CfaOffset = ReadSleb(_data, ref pos) * cie.DataAlign; continue;
                    case 0x14: case 0x15:
                        {
                            int r = (int)ReadUleb(_data, ref pos);
                            _ = op == 0x14 ? (long)ReadUleb(_data, ref pos) : ReadSleb(_data, ref pos);
                            if (r is RegRbp or RegRa) s.Unsupported = true;
                            continue;
                        }
                    case 0x2e: ReadUleb(_data, ref pos); continue; // GNU_args_size
                    case 0x2f: { int r = (int)ReadUleb(_data, ref pos); SetOffset(ref s, r, -(long)ReadUleb(_data, ref pos) * cie.DataAlign); continue; }
                    default: return false;
                }
            }
            loc += advance;
            if (loc > target) return true;
        }
        return true;
    }

    private static void SetOffset(ref State s, int reg, long offset)
    {
        if (reg == RegRbp) s.Rbp = offset;
        else if (reg == RegRa) { s.Ra = offset; s.RaUndefined = false; }
    }

    private static void Restore(ref State s, int reg, State? initial)
    {
        if (reg == RegRbp) s.Rbp = initial?.Rbp;
        else if (reg == RegRa) s.Ra = initial?.Ra;
    }

    private Cie? GetCie(int pos)
    {
        lock (_cies)
            if (_cies.TryGetValue(pos, out var cached)) return cached;
        Cie? cie = null;
        try
        {
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(pos));
            if (length < 4 || length > (uint)(_data.Length - pos - 4)) throw new ArgumentOutOfRangeException(nameof(pos));
            int end = pos + 4 + (int)length;
            int p = pos + 8;
            byte version = _data[p++];
            int augStart = p;
            while (_data[p] != 0) { if (++p - augStart > 16) throw new ArgumentOutOfRangeException(nameof(pos)); }
            string aug = System.Text.Encoding.ASCII.GetString(_data, augStart, p - augStart);
            p++;
            if (aug.Contains("eh", StringComparison.Ordinal)) p += 8;
            ulong codeAlign = ReadUleb(_data, ref p);
            long dataAlign = ReadSleb(_data, ref p);
            int ra = version == 1 ? _data[p++] : (int)ReadUleb(_data, ref p);
            byte fdeEncoding = 0;
            bool hasAug = aug.StartsWith('z');
            if (hasAug)
            {
                ulong augLen = ReadUleb(_data, ref p);
                if (augLen > (ulong)(end - p)) throw new ArgumentOutOfRangeException(nameof(pos));
                int augEnd = p + (int)augLen;
                for (int i = 1; i < aug.Length && p < augEnd; i++)
                {
                    switch (aug[i])
                    {
                        case 'R': fdeEncoding = _data[p++]; break;
                        case 'L': p++; break;
                        case 'P': { byte enc = _data[p++]; ReadEncoded(ref p, (byte)(enc & 0x7f)); break; }
                        default: break; // 'S', 'B', 'G': no data
                    }
                }
                p = augEnd;
            }
            if (ra == RegRa) cie = new Cie(codeAlign, dataAlign, ra, fdeEncoding, hasAug, p, end);
        }
        catch (IndexOutOfRangeException) { }
        catch (ArgumentOutOfRangeException) { }
        lock (_cies) _cies[pos] = cie; // tables are cached and shared by tracer threads
        return cie;
    }

    /// <summary>A DW_EH_PE-encoded pointer at <paramref name="pos"/>; pc-relative ones are resolved against the section address.</summary>
    private ulong ReadEncoded(ref int pos, byte encoding)
    {
        if (encoding == 0xff) return 0;
        ulong fieldAddress = _address + (ulong)pos;
        ulong value;
        switch (encoding & 0x0f)
        {
            case 0x00: value = BinaryPrimitives.ReadUInt64LittleEndian(_data.AsSpan(pos)); pos += 8; break;
            case 0x01: value = ReadUleb(_data, ref pos); break;
            case 0x02: value = BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(pos)); pos += 2; break;
            case 0x03: value = BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(pos)); pos += 4; break;
            case 0x04: value = BinaryPrimitives.ReadUInt64LittleEndian(_data.AsSpan(pos)); pos += 8; break;
            case 0x09: value = (ulong)ReadSleb(_data, ref pos); break;
            case 0x0a: value = (ulong)(long)BinaryPrimitives.ReadInt16LittleEndian(_data.AsSpan(pos)); pos += 2; break;
            case 0x0b: value = (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(_data.AsSpan(pos)); pos += 4; break;
            case 0x0c: value = BinaryPrimitives.ReadUInt64LittleEndian(_data.AsSpan(pos)); pos += 8; break;
            default: throw new ArgumentOutOfRangeException(nameof(encoding));
        }
        if ((encoding & 0x70) == 0x10) value += fieldAddress; // DW_EH_PE_pcrel
        return value;
    }

    private static ulong ReadUleb(byte[] d, ref int pos)
    {
        ulong result = 0;
        int shift = 0;
        byte b;
        do
        {
            b = d[pos++];
            if (shift < 64) result |= (ulong)(b & 0x7f) << shift;
            shift += 7;
            if (shift > 70) throw new ArgumentOutOfRangeException(nameof(pos)); // at most 10 bytes
        } while ((b & 0x80) != 0);
        return result;
    }

    private static long ReadSleb(byte[] d, ref int pos)
    {
        long result = 0;
        int shift = 0;
        byte b;
        do
        {
            b = d[pos++];
            if (shift < 64) result |= (long)(b & 0x7f) << shift;
            shift += 7;
            if (shift > 70) throw new ArgumentOutOfRangeException(nameof(pos));
        } while ((b & 0x80) != 0);
        if (shift < 64 && (b & 0x40) != 0) result |= -1L << shift;
        return result;
    }
}
