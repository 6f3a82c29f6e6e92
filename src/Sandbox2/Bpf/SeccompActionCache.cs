namespace Sandbox2.Bpf;

/// <summary>Which syscalls the kernel's seccomp action cache will allow without running the filter: the emulation the
/// kernel does when a filter is installed (<c>seccomp_cache_prepare_bitmap</c> / <c>seccomp_is_const_allow</c> in
/// kernel/seccomp.c). For each syscall number of the native ABI the filter is run on a <c>seccomp_data</c> of which only
/// <c>nr</c> and <c>arch</c> are known: a load of anything else (an argument, the instruction pointer) or an instruction
/// other than <c>ld</c>, <c>ja</c>, <c>jeq/jge/jgt/jset K</c>, <c>and K</c> and <c>ret K</c> makes the result depend on more
/// than the number, and the syscall is not cached; reaching <c>ret ALLOW</c> caches it. A cached syscall costs no BPF run.</summary>
public static class SeccompActionCache
{
    /// <summary>The number of x86-64 syscall numbers the kernel's cache covers (its bitmap is NR_syscalls long; numbers
    /// above the syscall table always run the filter).</summary>
    public static int NativeSyscallCount => SyscallTable.X86_64.Max(s => s.Number) + 1;

    /// <summary>Whether <paramref name="program"/> allows syscall <paramref name="nr"/> of <paramref name="arch"/> whatever its
    /// arguments, as far as the kernel's emulation can tell (the kernel then never runs the filter for it).</summary>
    public static bool IsConstantAllow(BpfProgram program, int nr, uint arch = SeccompReturn.AuditArchX86_64)
    {
        ArgumentNullException.ThrowIfNull(program);
        program.Validate();
        var insns = program.Instructions;
        uint a = 0;
        for (int pc = 0; pc < insns.Count; pc++)
        {
            var i = insns[pc];
            switch (i.Code)
            {
                case BpfInstruction.Ld | BpfInstruction.W | BpfInstruction.Abs:
                    if (i.K == SeccompData.NrOffset) a = unchecked((uint)nr);
                    else if (i.K == SeccompData.ArchOffset) a = arch;
                    else return false;
                    break;
                case BpfInstruction.Ret | BpfInstruction.K_:
                    return i.K == SeccompReturn.Allow;
                case BpfInstruction.Jmp | BpfInstruction.Ja:
                    pc += (int)i.K;
                    break;
                case BpfInstruction.Jmp | BpfInstruction.Jeq | BpfInstruction.K_:
                case BpfInstruction.Jmp | BpfInstruction.Jge | BpfInstruction.K_:
                case BpfInstruction.Jmp | BpfInstruction.Jgt | BpfInstruction.K_:
                case BpfInstruction.Jmp | BpfInstruction.Jset | BpfInstruction.K_:
                    bool taken = (i.Code & 0xf0) switch
                    {
                        BpfInstruction.Jeq => a == i.K,
                        BpfInstruction.Jge => a >= i.K,
                        BpfInstruction.Jgt => a > i.K,
                        _ => (a & i.K) != 0,
                    };
                    pc += taken ? i.JumpTrue : i.JumpFalse;
                    break;
                case BpfInstruction.Alu | BpfInstruction.And | BpfInstruction.K_:
                    a &= i.K;
                    break;
                default:
                    return false;
            }
        }
        return false;   // ran off the end (a validated program cannot)
    }

    /// <summary>The x86-64 syscall numbers (0 .. <see cref="NativeSyscallCount"/>−1) the kernel caches as allowed for <paramref name="program"/>.</summary>
    public static IReadOnlyList<int> CachedSyscalls(BpfProgram program) =>
        Enumerable.Range(0, NativeSyscallCount).Where(nr => IsConstantAllow(program, nr)).ToArray();
}
