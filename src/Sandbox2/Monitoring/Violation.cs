namespace Sandbox2;

/// <summary>The syscall that broke the policy, as reported in <see cref="SandboxResult.Violation"/>.</summary>
public sealed class Violation
{
    internal Violation(Syscall syscall, ViolationType type, int pid, string description)
    {
        Syscall = syscall; Type = type; Pid = pid; Description = description;
    }

    /// <summary>The syscall as the monitor saw it (number, ABI, arguments, instruction pointer; host tid in <see cref="Syscall.Pid"/>).</summary>
    public Syscall Syscall { get; }
    /// <summary>Why the syscall is a violation (a forbidden syscall or a forbidden architecture).</summary>
    public ViolationType Type { get; }
    /// <summary>Name of the syscall in its ABI's table (<c>UNKNOWN[n]</c> if none).</summary>
    public string SyscallName => Syscall.Name;
    /// <summary>The syscall number in <see cref="Arch"/>'s table.</summary>
    public int Number => Syscall.Number;
    /// <summary>The ABI the syscall was made in.</summary>
    public SyscallArch Arch => Syscall.Arch;
    /// <summary>The six arguments.</summary>
    public IReadOnlyList<ulong> Args => Syscall.Args;
    /// <summary>Pid of the violating thread inside the sandbox's pid namespace.</summary>
    public int Pid { get; }
    /// <summary>Sandbox2's description, starting with <c>[X86-64]</c>, <c>[X86-32]</c> or <c>[X32]</c>.</summary>
    public string Description { get; }

    /// <summary>x86-64 / x86-32 / x32, as in the result JSON.</summary>
    public string ArchLabel => Arch.ToContractName();

    internal static Violation From(MonitorViolation v) => new(v.Syscall, v.Type, v.NamespacePid, v.Description);

    /// <see cref="Description"/>.
    public override string ToString() => Description;
}
