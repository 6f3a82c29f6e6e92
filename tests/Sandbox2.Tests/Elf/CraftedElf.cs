using System.Buffers.Binary;
using System.Text;

namespace Sandbox2.Tests.Elf;

/// <summary>Hand-made ELF files for the hostile-input tests.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class CraftedElf
{
    /// <summary>A minimal x86-64 ELF shared object: one PT_LOAD over the whole file at vaddr 0 and a .symtab with one
    /// function <paramref name="symbol"/> covering [1, 0x10000) — any small file offset symbolizes as it.</summary>
    public static byte[] WithOneSymbol(string symbol)
    {
        var f = new byte[0x200 + 4 * 64];
        var s = f.AsSpan();
        "\u007fELF"u8.CopyTo(s);
        f[4] = 2; f[5] = 1; f[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 3);      // ET_DYN
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], 62);     // x86-64
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], 64);     // phoff
        BinaryPrimitives.WriteUInt64LittleEndian(s[40..], 0x200);  // shoff
        BinaryPrimitives.WriteUInt16LittleEndian(s[52..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(s[54..], 56);
        BinaryPrimitives.WriteUInt16LittleEndian(s[56..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(s[58..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(s[60..], 4);
        BinaryPrimitives.WriteUInt16LittleEndian(s[62..], 3);      // shstrndx
        var ph = s[64..];
        BinaryPrimitives.WriteUInt32LittleEndian(ph, 1);           // PT_LOAD
        BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], 5);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], (ulong)f.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], (ulong)f.Length);
        var sym = s[(0x100 + 24)..];                               // symbol 1 (0 is the null symbol)
        BinaryPrimitives.WriteUInt32LittleEndian(sym, 1);
        sym[4] = 0x12;                                             // GLOBAL FUNC
        BinaryPrimitives.WriteUInt16LittleEndian(sym[6..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(sym[8..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(sym[16..], 0x10000);
        byte[] strtab = Encoding.ASCII.GetBytes("\0" + symbol + "\0");
        strtab.CopyTo(s[0x140..]);
        byte[] shstrtab = "\0.symtab\0.strtab\0.shstrtab\0"u8.ToArray();
        shstrtab.CopyTo(s[0x1a0..]);
        Section(s, 1, 1, 2, 0x100, 48, link: 2, entsize: 24);
        Section(s, 2, 9, 3, 0x140, (ulong)strtab.Length, 0, 0);
        Section(s, 3, 17, 3, 0x1a0, (ulong)shstrtab.Length, 0, 0);
        return f;
    }

    private static void Section(Span<byte> f, int index, uint name, uint type, ulong offset, ulong size, uint link, ulong entsize)
    {
        var h = f[(0x200 + index * 64)..];
        BinaryPrimitives.WriteUInt32LittleEndian(h, name);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], type);
        BinaryPrimitives.WriteUInt64LittleEndian(h[24..], offset);
        BinaryPrimitives.WriteUInt64LittleEndian(h[32..], size);
        BinaryPrimitives.WriteUInt32LittleEndian(h[40..], link);
        BinaryPrimitives.WriteUInt64LittleEndian(h[56..], entsize);
    }

    /// <summary>A copy of the ELF executable <paramref name="source"/> whose .symtab is replaced by
    /// <paramref name="count"/> function symbols <c>fNNNNNNN</c> spread over its .text (the program still runs: the
    /// loader does not read section headers). Written to <paramref name="path"/>, mode 0755.</summary>
    public static void WithManySymbols(string source, string path, int count)
    {
        byte[] orig = File.ReadAllBytes(source);
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(orig.AsSpan(40));
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(orig.AsSpan(60)), shstrndx = BinaryPrimitives.ReadUInt16LittleEndian(orig.AsSpan(62));
        var sh = orig.AsSpan((int)shoff, shnum * 64).ToArray();
        ulong U64(int i, int at) => BinaryPrimitives.ReadUInt64LittleEndian(sh.AsSpan(i * 64 + at));
        uint U32(int i, int at) => BinaryPrimitives.ReadUInt32LittleEndian(sh.AsSpan(i * 64 + at));
        var names = orig.AsSpan((int)U64(shstrndx, 24), (int)U64(shstrndx, 32)).ToArray();
        int Find(string n)
        {
            for (int i = 0; i < shnum; i++)
                if (names.AsSpan((int)U32(i, 0)).StartsWith(Encoding.ASCII.GetBytes(n + "\0"))) return i;
            throw new InvalidOperationException(n + " not found in " + source);
        }
        int text = Find(".text"), symtab = Find(".symtab"), strtab = (int)U32(symtab, 40);
        ulong textAddr = U64(text, 16), textSize = U64(text, 32);

        using var output = new FileStream(path, FileMode.Create, FileAccess.Write);
        output.Write(orig);
        long symOff = Align(output);
        var entry = new byte[24];
        output.Write(entry); // the null symbol
        var strings = new MemoryStream();
        strings.WriteByte(0);
        for (int i = 0; i < count; i++)
        {
            Array.Clear(entry);
            BinaryPrimitives.WriteUInt32LittleEndian(entry, (uint)strings.Length);
            entry[4] = 0x12;
            BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(6), (ushort)text);
            BinaryPrimitives.WriteUInt64LittleEndian(entry.AsSpan(8), textAddr + (ulong)i * textSize / (ulong)count);
            BinaryPrimitives.WriteUInt64LittleEndian(entry.AsSpan(16), Math.Max(1, textSize / (ulong)count));
            output.Write(entry);
            strings.Write(Encoding.ASCII.GetBytes($"f{i:D7}\0"));
        }
        long strOff = Align(output);
        strings.Position = 0;
        strings.CopyTo(output);
        void Patch(int i, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(sh.AsSpan(i * 64 + at), v);
        Patch(symtab, 24, (ulong)symOff);
        Patch(symtab, 32, (ulong)(count + 1) * 24);
        Patch(strtab, 24, (ulong)strOff);
        Patch(strtab, 32, (ulong)strings.Length);
        long newShoff = Align(output);
        output.Write(sh);
        output.Position = 40;
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)newShoff);
        output.Write(b);
        output.Dispose();
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
    }

    private static long Align(FileStream s)
    {
        while (s.Position % 8 != 0) s.WriteByte(0);
        return s.Position;
    }
}
