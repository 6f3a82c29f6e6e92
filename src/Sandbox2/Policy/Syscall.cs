using System.Globalization;
using System.Text;
using Sandbox2.Bpf;

namespace Sandbox2;

/// <summary>The ABI a syscall was made with.</summary>
public enum SyscallArch
{
    /// <summary>An AUDIT_ARCH value the sandbox does not know.</summary>
    Unknown = 0,
    /// <summary>x86-64 (AUDIT_ARCH_X86_64, the native ABI).</summary>
    X86_64,
    /// <summary>32-bit x86 (<c>int 0x80</c>, AUDIT_ARCH_I386): always a violation.</summary>
    X86_32,
    /// <summary>The x32 ABI (x86-64 numbers with bit 30 set): always a violation.</summary>
    X32,
}

/// <summary>The one home of the architecture's spellings.</summary>
public static class SyscallArchNames
{
    /// <summary>Sandbox2's label in descriptions: <c>X86-64</c>, <c>X86-32</c>, <c>X32</c> (<c>UNKNOWN</c>).</summary>
    public static string ToLabel(this SyscallArch arch) => arch switch
    {
        SyscallArch.X86_64 => "X86-64",
        SyscallArch.X86_32 => "X86-32",
        SyscallArch.X32 => "X32",
        _ => "UNKNOWN",
    };

    /// <summary>The contract's spelling (result JSON, <c>policy test --arch</c>): <c>x86-64</c>, <c>x86-32</c>, <c>x32</c> (<c>unknown</c>).</summary>
    public static string ToContractName(this SyscallArch arch) => arch == SyscallArch.Unknown ? "unknown" : arch.ToLabel().ToLowerInvariant();
}

/// <summary>One syscall as seen by seccomp: ABI, number, six arguments, and the pid and instruction pointer
/// of the caller. For x32 the number is given without the x32 bit (0x40000000).</summary>
public sealed class Syscall
{
    private readonly ulong[] _args = new ulong[6];

    /// <summary>A syscall of ABI <paramref name="arch"/>, number <paramref name="number"/> in that ABI's table, up to six <paramref name="args"/>, made by host thread <paramref name="pid"/>.</summary>
    public Syscall(SyscallArch arch, int number, ReadOnlySpan<ulong> args, int pid = 0, ulong instructionPointer = 0)
    {
        if (args.Length > 6) throw new ArgumentException("a syscall has at most 6 arguments", nameof(args));
        Arch = arch;
        Number = number;
        args.CopyTo(_args);
        Pid = pid;
        InstructionPointer = instructionPointer;
        RawArch = arch switch
        {
            SyscallArch.X86_64 or SyscallArch.X32 => SeccompReturn.AuditArchX86_64,
            SyscallArch.X86_32 => SeccompReturn.AuditArchI386,
            _ => 0,
        };
    }

    /// <summary>From what seccomp saw (<c>seccomp_data</c> / a USER_NOTIF notification).</summary>
    public static Syscall FromSeccompData(uint auditArch, int nr, ReadOnlySpan<ulong> args, int pid = 0, ulong instructionPointer = 0)
    {
        SyscallArch arch = auditArch switch
        {
            SeccompReturn.AuditArchX86_64 when (nr & SeccompReturn.X32SyscallBit) != 0 => SyscallArch.X32,
            SeccompReturn.AuditArchX86_64 => SyscallArch.X86_64,
            SeccompReturn.AuditArchI386 => SyscallArch.X86_32,
            _ => SyscallArch.Unknown,
        };
        int number = arch == SyscallArch.X32 ? nr & ~(int)SeccompReturn.X32SyscallBit : nr;
        return new Syscall(arch, number, args, pid, instructionPointer) { RawArch = auditArch };
    }

    /// <summary>From a <see cref="SeccompData"/> as the filter sees it.</summary>
    public static Syscall FromSeccompData(in SeccompData data, int pid = 0) =>
        FromSeccompData(data.Arch, data.Nr, data.Args, pid, data.InstructionPointer);

    /// <summary>The ABI the syscall was made in (x86-64, x86-32 or x32).</summary>
    public SyscallArch Arch { get; }

    /// <summary>The AUDIT_ARCH_* value seccomp reported (kept for unknown architectures).</summary>
    public uint RawArch { get; private init; }

    /// <summary>The syscall number in <see cref="Arch"/>'s table (for x32, without the x32 bit).</summary>
    public int Number { get; }

    /// <summary>The six arguments.</summary>
    public IReadOnlyList<ulong> Args => _args;
    /// <summary>The thread that made the call (host tid), 0 when unknown.</summary>
    public int Pid { get; }
    /// <summary>The instruction pointer at the call.</summary>
    public ulong InstructionPointer { get; }

    /// <summary>The syscall's name, or <c>UNKNOWN[n]</c>.</summary>
    public string Name => SyscallTable.GetName(Arch, Number) ?? $"UNKNOWN[{Number}/0x{Number:x}]";

    /// <summary>The seccomp view of this syscall (for <see cref="BpfInterpreter"/> and <see cref="Policy.Evaluate(Syscall, PolicyCompileOptions)"/>).</summary>
    public SeccompData ToSeccompData() =>
        new(Arch == SyscallArch.X32 ? Number | (int)SeccompReturn.X32SyscallBit : Number, RawArch, _args, InstructionPointer);

    /// <summary>The ABI's label: <c>X86-64</c>, <c>X86-32</c>, <c>X32</c> or <c>UNKNOWN_ARCH:0x…</c>.</summary>
    public string ArchName => Arch == SyscallArch.Unknown ? $"UNKNOWN_ARCH:0x{RawArch:x}" : Arch.ToLabel();

    /// <summary>Sandbox2's description, e.g. <c>[X86-64] read(0x1, 0x7ffd1234, 0x5)</c>. Known x86-64 syscalls show
    /// their argument count; other ABIs and unknown numbers show all six arguments.</summary>
    public string GetDescription()
    {
        var sb = new StringBuilder();
        sb.Append('[').Append(ArchName).Append("] ").Append(Name).Append('(');
        int count = Arch == SyscallArch.X86_64 && SyscallTable.Find(Number) is { } info ? info.ArgCount : 6;
        for (int i = 0; i < count; i++)
        {
            if (i > 0) sb.Append(", ");
            // printf("%#x"): 0 for zero, 0x… otherwise (as Sandbox2 prints them)
            sb.Append(_args[i] == 0 ? "0" : "0x" + _args[i].ToString("x", CultureInfo.InvariantCulture));
        }
        sb.Append(')');
        return sb.ToString();
    }

    /// <see cref="GetDescription"/>.
    public override string ToString() => GetDescription();
}
