using System.Text;

namespace Sandbox2.Bpf;

/// <summary>Prints classic seccomp-bpf as readable assembly, one instruction per line, e.g.
/// <c>0003: jeq #0x3b, 0004, 0009</c> with absolute jump targets.</summary>
public static class BpfDisassembler
{
    /// <summary>The program as text, one numbered instruction a line (as <c>seccomp-tools</c>/<c>bpf_dbg</c> print it).</summary>
    public static string Disassemble(BpfProgram program)
    {
        ArgumentNullException.ThrowIfNull(program);
        var sb = new StringBuilder();
        for (int pc = 0; pc < program.Length; pc++)
            sb.Append(pc.ToString("D4")).Append(": ").Append(Format(program.Instructions[pc], pc)).Append('\n');
        return sb.ToString();
    }

    /// <summary>One instruction at position <paramref name="pc"/> (jump targets are printed as absolute positions).</summary>
    public static string Format(BpfInstruction i, int pc)
    {
        ushort code = i.Code;
        string src = (code & BpfInstruction.X_) != 0 ? "x" : $"#0x{i.K:x}";
        switch (i.Class)
        {
            case BpfInstruction.Ld:
                return (code & 0xe0) switch
                {
                    BpfInstruction.Imm => $"ld #0x{i.K:x}",
                    BpfInstruction.Abs => $"ld [{i.K}]{Field(i.K)}",
                    BpfInstruction.Mem => $"ld M[{i.K}]",
                    BpfInstruction.Len => "ld #len",
                    _ => Unknown(i),
                };
            case BpfInstruction.Ldx:
                return (code & 0xe0) switch
                {
                    BpfInstruction.Imm => $"ldx #0x{i.K:x}",
                    BpfInstruction.Mem => $"ldx M[{i.K}]",
                    BpfInstruction.Len => "ldx #len",
                    _ => Unknown(i),
                };
            case BpfInstruction.St: return $"st M[{i.K}]";
            case BpfInstruction.Stx: return $"stx M[{i.K}]";
            case BpfInstruction.Alu:
                string? alu = (code & 0xf0) switch
                {
                    BpfInstruction.Add => "add", BpfInstruction.Sub => "sub", BpfInstruction.Mul => "mul",
                    BpfInstruction.Div => "div", BpfInstruction.Mod => "mod", BpfInstruction.Or => "or",
                    BpfInstruction.And => "and", BpfInstruction.Xor => "xor", BpfInstruction.Lsh => "lsh",
                    BpfInstruction.Rsh => "rsh", BpfInstruction.Neg => "neg", _ => null,
                };
                return alu is null ? Unknown(i) : alu == "neg" ? "neg" : $"{alu} {src}";
            case BpfInstruction.Jmp:
                string? jmp = (code & 0xf0) switch
                {
                    BpfInstruction.Ja => "ja", BpfInstruction.Jeq => "jeq", BpfInstruction.Jgt => "jgt",
                    BpfInstruction.Jge => "jge", BpfInstruction.Jset => "jset", _ => null,
                };
                if (jmp is null) return Unknown(i);
                if (jmp == "ja") return $"ja {pc + 1 + (long)i.K:D4}";
                return $"{jmp} {src}, {pc + 1 + i.JumpTrue:D4}, {pc + 1 + i.JumpFalse:D4}";
            case BpfInstruction.Ret:
                return (code & 0x18) == BpfInstruction.A_ ? "ret a" : $"ret {SeccompReturn.Describe(i.K)}";
            case BpfInstruction.Misc:
                return (code & 0xf8) == BpfInstruction.Txa ? "txa" : "tax";
            default:
                return Unknown(i);
        }
    }

    private static string Field(uint offset) => offset switch
    {
        SeccompData.NrOffset => "  ; nr",
        SeccompData.ArchOffset => "  ; arch",
        SeccompData.InstructionPointerOffset => "  ; ip (low)",
        SeccompData.InstructionPointerOffset + 4 => "  ; ip (high)",
        >= SeccompData.ArgsOffset and < SeccompData.Size =>
            $"  ; args[{(offset - SeccompData.ArgsOffset) / 8}] ({((offset - SeccompData.ArgsOffset) % 8 == 0 ? "low" : "high")})",
        _ => "",
    };

    private static string Unknown(BpfInstruction i) => $".insn 0x{i.Code:x4}, {i.JumpTrue}, {i.JumpFalse}, 0x{i.K:x}";
}
