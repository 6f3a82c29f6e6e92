namespace Sandbox2.Bpf;

/// <summary>What a seccomp filter sees (<c>struct seccomp_data</c>, 64 bytes): nr@0, arch@4, ip@8, args@16.</summary>
public readonly struct SeccompData
{
    /// <summary>Size of <c>struct seccomp_data</c> in bytes.</summary>
    public const int Size = 64;
    /// <summary>Byte offsets of the fields in <c>struct seccomp_data</c>.</summary>
    public const uint NrOffset = 0, ArchOffset = 4, InstructionPointerOffset = 8, ArgsOffset = 16;

    private readonly ulong[] _args;

    /// <summary>What the filter sees for syscall <paramref name="nr"/> of AUDIT_ARCH <paramref name="arch"/> with up to six <paramref name="args"/>.</summary>
    public SeccompData(int nr, uint arch, ReadOnlySpan<ulong> args, ulong instructionPointer = 0)
    {
        if (args.Length > 6) throw new ArgumentException("a syscall has at most 6 arguments", nameof(args));
        Nr = nr;
        Arch = arch;
        InstructionPointer = instructionPointer;
        _args = new ulong[6];
        args.CopyTo(_args);
    }

    /// <summary>The syscall number (with the x32 bit for x32 calls).</summary>
    public int Nr { get; }
    /// <summary>The AUDIT_ARCH_* value.</summary>
    public uint Arch { get; }
    /// <summary>The instruction pointer at the syscall.</summary>
    public ulong InstructionPointer { get; }
    /// <summary>The six arguments.</summary>
    public ReadOnlySpan<ulong> Args => _args ?? new ulong[6];

    /// <summary>Reads the 32-bit word at <paramref name="offset"/> (little-endian), as BPF_LD|BPF_W|BPF_ABS does.</summary>
    public bool TryLoadWord(uint offset, out uint value)
    {
        value = 0;
        if (offset % 4 != 0 || offset > Size - 4) return false;
        switch (offset)
        {
            case NrOffset: value = unchecked((uint)Nr); return true;
            case ArchOffset: value = Arch; return true;
            case InstructionPointerOffset: value = (uint)InstructionPointer; return true;
            case InstructionPointerOffset + 4: value = (uint)(InstructionPointer >> 32); return true;
        }
        ulong arg = Args[(int)(offset - ArgsOffset) / 8];
        value = (offset - ArgsOffset) % 8 == 0 ? (uint)arg : (uint)(arg >> 32);
        return true;
    }

    /// <summary>The fields as text.</summary>
    public override string ToString() =>
        $"nr={Nr} arch=0x{Arch:x8} args=[{string.Join(", ", Args.ToArray().Select(a => "0x" + a.ToString("x")))}]";
}
