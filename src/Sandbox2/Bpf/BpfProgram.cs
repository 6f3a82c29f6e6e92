using System.Buffers.Binary;

namespace Sandbox2.Bpf;

/// <summary>A classic seccomp-bpf program (struct sock_filter[]).</summary>
public sealed class BpfProgram
{
    private readonly BpfInstruction[] _instructions;

    public BpfProgram(IEnumerable<BpfInstruction> instructions)
    {
        ArgumentNullException.ThrowIfNull(instructions);
        _instructions = instructions.ToArray();
    }

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

    /// <summary>Runs the program on <paramref name="data"/> and returns the filter's return value.</summary>
    public uint Run(in SeccompData data) => BpfInterpreter.Run(this, data);

    /// <summary>The program as readable assembly, one instruction per line.</summary>
    public string Disassemble() => BpfDisassembler.Disassemble(this);

    public override string ToString() => $"BpfProgram({Length} instructions)";
}
