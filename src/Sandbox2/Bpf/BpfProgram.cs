using System.Buffers.Binary;

namespace Sandbox2.Bpf;

/// <summary>A classic seccomp-bpf program (struct sock_filter[]).</summary>
public sealed class BpfProgram
{
    private readonly BpfInstruction[] _instructions;

    /// <summary>A program of <paramref name="instructions"/> (copied).</summary>
    public BpfProgram(IEnumerable<BpfInstruction> instructions)
    {
        ArgumentNullException.ThrowIfNull(instructions);
        _instructions = instructions.ToArray();
    }

    /// <summary>The instructions, in order.</summary>
    public IReadOnlyList<BpfInstruction> Instructions => _instructions;

    /// <summary>Number of instructions.</summary>
    public int Length => _instructions.Length;

    /// <summary>The program as the kernel takes it: 8 bytes per instruction, little-endian.</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[_instructions.Length * 8];
        for (int i = 0; i < _instructions.Length; i++)
        {
            var insn = _instructions[i];
            var slot = bytes.AsSpan(i * 8, 8);
            BinaryPrimitives.WriteUInt16LittleEndian(slot, insn.Code);
            slot[2] = insn.JumpTrue;
            slot[3] = insn.JumpFalse;
            BinaryPrimitives.WriteUInt32LittleEndian(slot[4..], insn.K);
        }
        return bytes;
    }

    /// <summary>Reads a program in the kernel layout (8 bytes per instruction).</summary>
    public static BpfProgram FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0 || bytes.Length % 8 != 0)
            throw new PolicyException($"a BPF program is a non-empty multiple of 8 bytes, got {bytes.Length} bytes");
        var insns = new BpfInstruction[bytes.Length / 8];
        for (int i = 0; i < insns.Length; i++)
        {
            var slot = bytes.Slice(i * 8, 8);
            insns[i] = new BpfInstruction(BinaryPrimitives.ReadUInt16LittleEndian(slot), slot[2], slot[3],
                BinaryPrimitives.ReadUInt32LittleEndian(slot[4..]));
        }
        return new BpfProgram(insns);
    }

    private bool _validated;

    /// <summary>Checks the program as the kernel does when it is installed (bpf_check_classic and
    /// seccomp_check_filter): 1..4096 instructions, only opcodes seccomp accepts (no mod, no byte/half/indirect loads), 32-bit aligned loads inside
    /// seccomp_data, scratch slots 0..15, no division or modulo by a constant 0, constant shifts below 32, every
    /// jump inside the program, a return as the last instruction. Throws <see cref="PolicyException"/> naming the
    /// first problem. (The kernel also rejects reading a scratch slot before writing it; that is not checked.)</summary>
    public void Validate()
    {
        if (_validated) return;
        int n = _instructions.Length;
        if (n == 0 || n > BpfInstruction.MaxInstructions)
            throw new PolicyException($"BPF program has {n} instructions; the kernel accepts 1..{BpfInstruction.MaxInstructions}");
        for (int pc = 0; pc < n; pc++)
        {
            var i = _instructions[pc];
            string? problem = Check(i, pc, n);
            if (problem is not null) throw new PolicyException($"BPF insn {pc} ({BpfDisassembler.Format(i, pc)}): {problem}");
        }
        if (_instructions[^1].Class != BpfInstruction.Ret)
            throw new PolicyException($"BPF program must end with a return, ends with {BpfDisassembler.Format(_instructions[^1], n - 1)}");
        _validated = true;
    }

    private static string? Check(BpfInstruction i, int pc, int n)
    {
        ushort code = i.Code;
        switch (i.Class)
        {
            case BpfInstruction.Ld:
                switch (code)
                {
                    case BpfInstruction.Ld | BpfInstruction.W | BpfInstruction.Abs:
                        return i.K % 4 != 0 || i.K > SeccompData.Size - 4 ? $"load from offset {i.K} outside seccomp_data or unaligned" : null;
                    case BpfInstruction.Ld | BpfInstruction.Imm:
                    case BpfInstruction.Ld | BpfInstruction.W | BpfInstruction.Len:
                        return null;
                    case BpfInstruction.Ld | BpfInstruction.Mem:
                        return i.K < 16 ? null : $"scratch slot {i.K} out of range 0..15";
                    default:
                        return "seccomp allows only 32-bit absolute loads from seccomp_data";
                }
            case BpfInstruction.Ldx:
                return code switch
                {
                    BpfInstruction.Ldx | BpfInstruction.Imm or BpfInstruction.Ldx | BpfInstruction.W | BpfInstruction.Len => null,
                    BpfInstruction.Ldx | BpfInstruction.Mem => i.K < 16 ? null : $"scratch slot {i.K} out of range 0..15",
                    _ => $"opcode 0x{code:x4} is not valid in a seccomp filter",
                };
            case BpfInstruction.St:
            case BpfInstruction.Stx:
                return code is BpfInstruction.St or BpfInstruction.Stx ? (i.K < 16 ? null : $"scratch slot {i.K} out of range 0..15") : $"opcode 0x{code:x4} is not valid";
            case BpfInstruction.Alu:
                int op = code & 0xf0;
                bool byX = (code & BpfInstruction.X_) != 0;
                if ((code & ~0xf8) != BpfInstruction.Alu || op > BpfInstruction.Xor) return $"opcode 0x{code:x4} is not valid";
                if (op == BpfInstruction.Mod) return "seccomp does not accept mod";
                if (!byX && op is BpfInstruction.Div or BpfInstruction.Mod && i.K == 0) return "division by a constant 0";
                if (!byX && op is BpfInstruction.Lsh or BpfInstruction.Rsh && i.K >= 32) return $"shift by {i.K}";
                return null;
            case BpfInstruction.Jmp:
                int jop = code & 0xf0;
                if ((code & ~0xf8) != BpfInstruction.Jmp || jop > BpfInstruction.Jset) return $"opcode 0x{code:x4} is not valid";
                if (jop == BpfInstruction.Ja)
                    return (code & BpfInstruction.X_) != 0 ? "ja takes no register" : pc + 1L + i.K >= n ? $"jump to {pc + 1L + i.K} past the end ({n} instructions)" : null;
                int far = Math.Max(i.JumpTrue, i.JumpFalse);
                return pc + 1 + far >= n ? $"jump to {pc + 1 + far} past the end ({n} instructions)" : null;
            case BpfInstruction.Ret:
                return code is (BpfInstruction.Ret | BpfInstruction.K_) or (BpfInstruction.Ret | BpfInstruction.A_) ? null : $"opcode 0x{code:x4} is not valid";
            default:
                return code is (BpfInstruction.Misc | BpfInstruction.Tax) or (BpfInstruction.Misc | BpfInstruction.Txa) ? null : $"opcode 0x{code:x4} is not valid";
        }
    }

    /// <summary>Runs the program on <paramref name="data"/> and returns the filter's return value.</summary>
    public uint Run(in SeccompData data) => BpfInterpreter.Run(this, data);

    /// <summary>The program as readable assembly, one instruction per line.</summary>
    public string Disassemble() => BpfDisassembler.Disassemble(this);

    /// <summary>A short description (the instruction count).</summary>
    public override string ToString() => $"BpfProgram({Length} instructions)";
}
