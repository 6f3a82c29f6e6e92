namespace Sandbox2;

/// <summary>The ABI a syscall was made with.</summary>
public enum SyscallArch
{
    Unknown = 0,
    X86_64,
    X86_32,
    X32,
}

// STUB (owned by the policy-core work): replaced by the real Syscall type.
/// <summary>One syscall as seen by seccomp: number, ABI and six arguments.</summary>
public sealed class Syscall
{
    public Syscall(SyscallArch arch, int number, ReadOnlySpan<ulong> args, int pid = 0, ulong instructionPointer = 0)
    {
        Arch = arch; Number = number; Args = args.ToArray(); Pid = pid; InstructionPointer = instructionPointer;
    }
    public SyscallArch Arch { get; }
    public int Number { get; }
    public IReadOnlyList<ulong> Args { get; }
    public int Pid { get; }
    public ulong InstructionPointer { get; }
    public string Name => Number.ToString(System.Globalization.CultureInfo.InvariantCulture);
    public string GetDescription() => Name;
}
