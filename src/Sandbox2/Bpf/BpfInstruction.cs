using System.Runtime.InteropServices;

namespace Sandbox2.Bpf;

/// <summary>One classic BPF instruction (<c>struct sock_filter</c>: code, jt, jf, k; 8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct BpfInstruction(ushort Code, byte JumpTrue, byte JumpFalse, uint K)
{
    // Instruction classes and fields (linux/bpf_common.h).
    /// <summary>Instruction classes (BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_ALU, BPF_JMP, BPF_RET, BPF_MISC).</summary>
    public const ushort Ld = 0x00, Ldx = 0x01, St = 0x02, Stx = 0x03, Alu = 0x04, Jmp = 0x05, Ret = 0x06, Misc = 0x07;
    /// <summary>Load sizes (BPF_W 32-bit, BPF_H 16-bit, BPF_B 8-bit).</summary>
    public const ushort W = 0x00, H = 0x08, B = 0x10;
    /// <summary>Load modes (BPF_IMM, BPF_ABS, BPF_IND, BPF_MEM, BPF_LEN, BPF_MSH).</summary>
    public const ushort Imm = 0x00, Abs = 0x20, Ind = 0x40, Mem = 0x60, Len = 0x80, Msh = 0xa0;
    /// <summary>ALU operations (BPF_ADD ... BPF_XOR).</summary>
    public const ushort Add = 0x00, Sub = 0x10, Mul = 0x20, Div = 0x30, Or = 0x40, And = 0x50, Lsh = 0x60, Rsh = 0x70,
        Neg = 0x80, Mod = 0x90, Xor = 0xa0;
    /// <summary>Jump operations (BPF_JA, BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET).</summary>
    public const ushort Ja = 0x00, Jeq = 0x10, Jgt = 0x20, Jge = 0x30, Jset = 0x40;
    /// <summary>Operand sources: BPF_K (the constant <c>k</c>), BPF_X (register X), BPF_A (for BPF_RET: the accumulator).</summary>
    public const ushort K_ = 0x00, X_ = 0x08, A_ = 0x10;
    /// <summary>BPF_MISC operations (BPF_TAX, BPF_TXA).</summary>
    public const ushort Tax = 0x00, Txa = 0x80;

    /// <summary>The kernel's limit on a classic BPF program (BPF_MAXINSNS).</summary>
    public const int MaxInstructions = Interop.BpfMaxInstructions;

    /// <summary>The instruction class (the low three bits of <see cref="Code"/>).</summary>
    public ushort Class => (ushort)(Code & 0x07);

    /// <summary><c>ld [offset]</c> (32-bit load from seccomp_data).</summary>
    public static BpfInstruction LoadAbsolute(uint offset) => new(Ld | W | Abs, 0, 0, offset);
    /// <c>jOP #k, jt, jf</c>: a conditional jump comparing the accumulator with <paramref name="k"/>.
    public static BpfInstruction Jump(ushort op, uint k, byte jt, byte jf) => new((ushort)(Jmp | op | K_), jt, jf, k);
    /// <c>ja +offset</c>: an unconditional jump.
    public static BpfInstruction JumpAlways(uint offset) => new(Jmp | Ja, 0, 0, offset);
    /// <c>and #k</c>: the accumulator ANDed with <paramref name="k"/>.
    public static BpfInstruction AluAnd(uint k) => new(Alu | And | K_, 0, 0, k);
    /// <c>ret #action</c>: the filter's decision (a <see cref="SeccompReturn"/> value).
    public static BpfInstruction Return(uint action) => new(Ret | K_, 0, 0, action);

    /// <summary>The instruction disassembled.</summary>
    public override string ToString() => BpfDisassembler.Format(this, 0);
}
