using Sandbox2.Bpf;

namespace Sandbox2.Tests.Policy;

public class PolicyCompileTests
{
    private static readonly PolicyCompileOptions Kill = new(MonitorAttached: false);
    private static readonly PolicyCompileOptions Notif = new(MonitorAttached: true);

    private static uint Run(BpfProgram p, string name, params ulong[] args) =>
        p.Run(new SeccompData(SyscallTable.GetNumber(name), SeccompReturn.AuditArchX86_64, args));

    [Fact]
    public void AllowListAllowsListedAndKillsTheRest()
    {
        var policy = new PolicyBuilder().AllowSyscalls("read", "write", "exit_group").Build();
        var p = policy.Compile(Kill);
        Assert.Equal(SeccompReturn.Allow, Run(p, "read"));
        Assert.Equal(SeccompReturn.Allow, Run(p, "exit_group"));
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "openat"));
        Assert.Equal(SeccompReturn.UserNotif, Run(policy.Compile(Notif), "openat"));
    }

    [Fact]
    public void ArchAndX32AreViolationsInBothModes()
    {
        var policy = new PolicyBuilder().DefaultAction(SyscallAction.Allow).Build();
        foreach (var (opts, expected) in new[] { (Kill, SeccompReturn.KillProcess), (Notif, SeccompReturn.UserNotif) })
        {
            var p = policy.Compile(opts);
            Assert.Equal(SeccompReturn.Allow, p.Run(new SeccompData(0, SeccompReturn.AuditArchX86_64, [])));
            Assert.Equal(expected, p.Run(new SeccompData(1, SeccompReturn.AuditArchI386, [])));
            Assert.Equal(expected, p.Run(new SeccompData(0, 0xdeadbeef, [])));
            Assert.Equal(expected, p.Run(new SeccompData(0x40000000 | 1, SeccompReturn.AuditArchX86_64, [])));
            Assert.Equal(SyscallAction.Violation, policy.Evaluate(new Syscall(SyscallArch.X32, 1, [])));
            Assert.Equal(SyscallAction.Violation, policy.Evaluate(new Syscall(SyscallArch.X86_32, 1, [])));
        }
    }

    [Fact]
    public void AlwaysOnRulesApplyEvenWithAllowAll()
    {
        var policy = new PolicyBuilder().DefaultAction(SyscallAction.Allow).Build();
        var p = policy.Compile(Kill);
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "ptrace"));
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "bpf"));
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "clone", 0x10000000 /*NEWUSER*/));
        Assert.Equal(SeccompReturn.Allow, Run(p, "clone", 0x3d0f00 /*pthread flags*/));
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "unshare", 0x80 /*NEWTIME*/));
        Assert.Equal(SeccompReturn.Errno | 38, Run(p, "clone3"));
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "mmap", 0, 4096, 5, 0x22));
        Assert.Equal(SeccompReturn.Allow, Run(p, "mmap", 0, 4096, 3, 0x22));
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "mprotect", 0, 4096, 4));
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "pkey_mprotect", 0, 4096, 7, 0));
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "seccomp", 1, 8, 0));
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "seccomp", 1, 1, 0));   // a further filter (AllowNestedSeccompFilters)
        Assert.Equal(SeccompReturn.Allow, Run(p, "seccomp", 2, 0, 0));         // SECCOMP_GET_ACTION_AVAIL
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "prctl", 22, 2, 0));    // PR_SET_SECCOMP
        Assert.Equal(SeccompReturn.Errno | 1, Run(p, "chmod", 0, 0x800));      // S_ISUID
        Assert.Equal(SeccompReturn.Errno | 38, Run(p, "openat2", 0, 0, 0, 24));
        Assert.Equal(SeccompReturn.Errno | 38, Run(p, "io_uring_setup", 8, 0)); // allow-all does not open io_uring
        Assert.Equal(SeccompReturn.Errno | 4059, p.Run(new SeccompData(Sandbox2.Policy.MagicSyscall, SeccompReturn.AuditArchX86_64, [])));
    }

    [Fact]
    public void ExecNonceAllowsOnlyTheTaggedExecveat()
    {
        const ulong nonce = 0xfedcba9876543210;
        var policy = new PolicyBuilder().AllowSyscall("read").Build();
        var p = policy.Compile(new PolicyCompileOptions(false, nonce));
        Assert.Equal(SeccompReturn.Allow, Run(p, "execveat", 3, 0, 0, 0, 0x1000, nonce));
        Assert.Equal(SeccompReturn.Allow, Run(p, "sendmsg", 3, 0, 0, 0, 0, nonce));
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "execveat", 3, 0, 0, 0, 0x1000, nonce ^ 1UL << 63));
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "execveat", 3, 0, 0, 0, 0x1000, nonce & 0xffffffff));
        Assert.Equal(SeccompReturn.KillProcess, Run(p, "execve", 0, 0, 0, 0, 0, nonce));
        Assert.Equal(SeccompReturn.KillProcess, Run(policy.Compile(Kill), "execveat", 3, 0, 0, 0, 0x1000, nonce));
    }

    [Fact]
    public void AllowedSyscallPathLoadsOnlyArchAndNr()
    {
        var policy = BuiltinPolicies.CreateDefault().Build();
        var p = policy.Compile(Kill);
        // (open, openat, creat and the chmod family check their mode argument: no set-id bits, always on.)
        foreach (var name in new[] { "read", "write", "fstat", "exit_group", "close", "getdents64" })
        {
            var offsets = LoadedOffsets(p, new SeccompData(SyscallTable.GetNumber(name), SeccompReturn.AuditArchX86_64, []));
            Assert.True(offsets.All(o => o is 0 or 4), $"{name} loads {string.Join(",", offsets)}");
        }
        var mmap = LoadedOffsets(p, new SeccompData(SyscallTable.GetNumber("ioctl"), SeccompReturn.AuditArchX86_64, [1, 0x5401]));
        Assert.Contains(mmap, o => o >= 16);
    }

    /// <summary>Offsets loaded on the path taken for <paramref name="data"/> (a tracing re-run of the interpreter's rules).</summary>
    internal static List<uint> LoadedOffsets(BpfProgram p, SeccompData data)
    {
        var offsets = new List<uint>();
        uint a = 0;
        for (int pc = 0; ;)
        {
            var i = p.Instructions[pc];
            switch (i.Class)
            {
                case BpfInstruction.Ld: offsets.Add(i.K); data.TryLoadWord(i.K, out a); pc++; break;
                case BpfInstruction.Alu: a &= i.K; pc++; break;
                case BpfInstruction.Ret: return offsets;
                case BpfInstruction.Jmp:
                    int op = i.Code & 0xf0;
                    if (op == BpfInstruction.Ja) { pc += 1 + (int)i.K; break; }
                    bool t = op switch { BpfInstruction.Jeq => a == i.K, BpfInstruction.Jgt => a > i.K, BpfInstruction.Jge => a >= i.K, _ => (a & i.K) != 0 };
                    pc += 1 + (t ? i.JumpTrue : i.JumpFalse);
                    break;
                default: throw new InvalidOperationException(i.ToString());
            }
        }
    }
}
