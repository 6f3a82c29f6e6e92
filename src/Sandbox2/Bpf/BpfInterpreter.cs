namespace Sandbox2.Bpf;

/// <summary>Runs a classic BPF program on a <see cref="SeccompData"/>, with the kernel's seccomp semantics
/// (loads only from seccomp_data, 16 scratch words, forward jumps only; a division or modulo by a zero X ends
/// the program with 0). The program is first checked as the kernel checks it (<see cref="BpfProgram.Validate"/>).</summary>
public static class BpfInterpreter
{
    /// <summary>Returns the filter's return value (SECCOMP_RET_*). Throws <see cref="PolicyException"/> for a program
    /// the kernel would reject or that runs off its end.</summary>
    public static uint Run(BpfProgram program, in SeccompData data)
    {
        ArgumentNullException.ThrowIfNull(program);
        program.Validate();
        var insns = program.Instructions;
        uint a = 0, x = 0;
        Span<uint> mem = stackalloc uint[16];
        int pc = 0;
        while (true)
        {
            if ((uint)pc >= (uint)insns.Count) throw new PolicyException($"BPF program runs off its end (pc {pc})");
            var i = insns[pc];
            ushort code = i.Code;
            switch (i.Class)
            {
                case BpfInstruction.Ld:
                    a = Load(code, i.K, x, mem, data, pc);
                    break;
                case BpfInstruction.Ldx:
                    x = (code & 0xe0) switch
                    {
                        BpfInstruction.Imm => i.K,
                        BpfInstruction.Mem => Scratch(mem, i.K, pc),
                        BpfInstruction.Len => SeccompData.Size,
                        _ => throw Bad(pc, code),
                    };
                    break;
                case BpfInstruction.St:
                    mem[(int)CheckScratch(i.K, pc)] = a;
                    break;
                case BpfInstruction.Stx:
                    mem[(int)CheckScratch(i.K, pc)] = x;
                    break;
                case BpfInstruction.Alu:
                    // The kernel turns a division or modulo by a zero X into "return 0" (classic BPF semantics).
                    if ((code & BpfInstruction.X_) != 0 && x == 0 && (code & 0xf0) is BpfInstruction.Div or BpfInstruction.Mod) return 0;
                    a = Alu(code, a, (code & BpfInstruction.X_) != 0 ? x : i.K, pc);
                    break;
                case BpfInstruction.Jmp:
                    pc = Jump(i, a, x, pc, insns.Count);
                    continue;
                case BpfInstruction.Ret:
                    return (code & 0x18) switch
                    {
                        BpfInstruction.K_ => i.K,
                        BpfInstruction.A_ => a,
                        _ => throw Bad(pc, code),
                    };
                case BpfInstruction.Misc:
                    if ((code & 0xf8) == BpfInstruction.Tax) x = a;
                    else if ((code & 0xf8) == BpfInstruction.Txa) a = x;
                    else throw Bad(pc, code);
                    break;
            }
            pc++;
        }
    }

    private static uint Load(ushort code, uint k, uint x, Span<uint> mem, in SeccompData data, int pc)
    {
        switch (code & 0xe0)
        {
            case BpfInstruction.Imm: return k;
            case BpfInstruction.Mem: return Scratch(mem, k, pc);
            case BpfInstruction.Len: return SeccompData.Size;
            case BpfInstruction.Abs:
                if ((code & 0x18) != BpfInstruction.W) throw new PolicyException($"insn {pc}: seccomp allows only 32-bit loads");
                if (!data.TryLoadWord(k, out uint v)) throw new PolicyException($"insn {pc}: load from offset {k} outside seccomp_data or unaligned");
                return v;
            default: throw Bad(pc, code);
        }
    }

    private static uint Scratch(Span<uint> mem, uint k, int pc) => mem[(int)CheckScratch(k, pc)];

    private static uint CheckScratch(uint k, int pc) =>
        k < 16 ? k : throw new PolicyException($"insn {pc}: scratch slot {k} out of range 0..15");

    private static uint Alu(ushort code, uint a, uint operand, int pc) => (code & 0xf0) switch
    {
        BpfInstruction.Add => a + operand,
        BpfInstruction.Sub => a - operand,
        BpfInstruction.Mul => a * operand,
        BpfInstruction.Div => operand == 0 ? 0 : a / operand,
        BpfInstruction.Mod => operand == 0 ? 0 : a % operand,
        BpfInstruction.Or => a | operand,
        BpfInstruction.And => a & operand,
        BpfInstruction.Xor => a ^ operand,
        BpfInstruction.Lsh => a << (int)(operand & 31),   // as the kernel's eBPF interpreter and x86 JIT do
        BpfInstruction.Rsh => a >> (int)(operand & 31),
        BpfInstruction.Neg => unchecked(0 - a),
        _ => throw Bad(pc, code),
    };

    private static int Jump(BpfInstruction i, uint a, uint x, int pc, int count)
    {
        int op = i.Code & 0xf0;
        long target;
        if (op == BpfInstruction.Ja)
        {
            target = pc + 1L + i.K;
        }
        else
        {
            uint operand = (i.Code & BpfInstruction.X_) != 0 ? x : i.K;
            bool taken = op switch
            {
                BpfInstruction.Jeq => a == operand,
                BpfInstruction.Jgt => a > operand,
                BpfInstruction.Jge => a >= operand,
                BpfInstruction.Jset => (a & operand) != 0,
                _ => throw Bad(pc, i.Code),
            };
            target = pc + 1L + (taken ? i.JumpTrue : i.JumpFalse);
        }
        if (target >= count) throw new PolicyException($"insn {pc}: jump to {target} is past the end of the program ({count} instructions)");
        return (int)target;
    }

    private static PolicyException Bad(int pc, ushort code) => new($"insn {pc}: opcode 0x{code:x4} is not valid in a seccomp filter");
}
