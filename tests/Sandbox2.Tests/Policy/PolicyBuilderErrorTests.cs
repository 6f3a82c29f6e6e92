namespace Sandbox2.Tests.Policy;

/// <summary>Bad input gives a <see cref="PolicyException"/> whose message names the problem.</summary>
public class PolicyBuilderErrorTests
{
    private static void Fails(Action build, params string[] mentions)
    {
        var e = Assert.Throws<PolicyException>(build);
        foreach (var m in mentions) Assert.Contains(m, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void UnknownSyscallNameIsNamed()
    {
        Fails(() => new PolicyBuilder().AllowSyscalls("read", "raed"), "raed");
        Fails(() => new PolicyBuilder().AllowSyscall("fstat64"), "fstat64");
        Fails(() => new PolicyBuilder().BlockSyscallWithErrno("nope", 1), "nope");
        Fails(() => new PolicyBuilder().AllowSyscall(""), "empty syscall name");
    }

    [Fact]
    public void UnknownNameAddsNothing()
    {
        var b = new PolicyBuilder();
        Assert.Throws<PolicyException>(() => b.AllowSyscalls("read", "raed"));
        Assert.Equal(SyscallAction.Violation, b.Build().Evaluate(new Syscall(SyscallArch.X86_64, 0, [])));
    }

    [Fact]
    public void EmptyListsAreRejected()
    {
        Fails(() => new PolicyBuilder().AllowSyscalls(Array.Empty<string>()), "empty syscall list");
        Fails(() => new PolicyBuilder().AllowSyscalls(Array.Empty<int>()), "empty syscall list");
        Fails(() => new PolicyBuilder().BlockSyscallsWithErrno(Array.Empty<string>(), 1), "empty syscall list");
        Fails(() => new PolicyBuilder().AddPolicyOnSyscalls(Array.Empty<string>(), ArgCondition.True, SyscallAction.Allow), "empty syscall list");
    }

    [Fact]
    public void ConflictingRulesAreRejected()
    {
        Fails(() => new PolicyBuilder().AllowSyscall("openat").BlockSyscallWithErrno("openat", 2).Build(), "conflicting rules for openat", "errno 2");
        Fails(() => new PolicyBuilder().BlockSyscallWithErrno("read", 1).AddPolicyOnSyscall("read", Arg.Of(0).Equal(0), SyscallAction.Allow).Build(), "conflicting rules for read");
        // repeats and earlier conditional rules are fine
        new PolicyBuilder().AllowSyscall("read").AllowSyscall("read").AllowRead().Build();
        new PolicyBuilder().AddPolicyOnSyscall("read", Arg.Of(0).Equal(0), SyscallAction.Errno(1)).AllowSyscall("read").Build();
    }

    [Fact]
    public void PtraceAndBpfCanOnlyBeBlockedWithErrno()
    {
        Fails(() => new PolicyBuilder().AllowSyscall("ptrace"), "ptrace", "errno");
        Fails(() => new PolicyBuilder().AddPolicyOnSyscall("bpf", Arg.Of(0).Equal(1), SyscallAction.Errno(1)), "bpf");
        Fails(() => new PolicyBuilder().DefaultAction(SyscallAction.Allow).TraceSyscall("ptrace"), "ptrace");
        var p = new PolicyBuilder().BlockSyscallWithErrno("ptrace", 1).Build();
        Assert.Equal(SyscallAction.Errno(1), p.Evaluate(new Syscall(SyscallArch.X86_64, 101, [])));
        Assert.Equal(SyscallAction.Violation, p.Evaluate(new Syscall(SyscallArch.X86_64, 321, [])));
    }

    [Fact]
    public void OutOfRangeValuesAreRejected()
    {
        Fails(() => SyscallAction.Errno(4096), "errno 4096");
        Fails(() => SyscallAction.Errno(-1), "errno -1");
        Fails(() => Arg.Of(6), "argument index 6");
        Fails(() => Arg.Low32(0).Equal(0x1_0000_0000), "32-bit");
        Fails(() => new PolicyBuilder().AllowSyscall(0x40000001), "out of range");
        Fails(() => new PolicyBuilder().AllowSyscall(-1), "out of range");
    }

    [Fact]
    public void OversizedProgramIsRejectedWithItsSize()
    {
        var b = new PolicyBuilder();
        for (int nr = 0; nr < 400; nr++)
        {
            if (nr is 101 or 321) continue;
            for (ulong k = 0; k < 3; k++) b.AddPolicyOnSyscall(nr, Arg.Of((int)k).Greater((k << 40) + (uint)nr), SyscallAction.Errno((int)k + 1));
        }
        Fails(() => b.Build(), "BPF instructions", "4096");
    }

    [Fact]
    public void UnknownPresetIsNamed()
    {
        Fails(() => new PolicyBuilder().Use("allow_evrything"), "allow_evrything", "allow_static_startup");
        Assert.True(BuiltinPolicies.Presets.ContainsKey("allow_dotnet_runtime"));
        Assert.True(BuiltinPolicies.Presets.ContainsKey("default"));
    }

    [Fact]
    public void BadProgramBytesAreRejected()
    {
        Fails(() => Sandbox2.Bpf.BpfProgram.FromBytes(new byte[7]), "multiple of 8");
        var runsOff = new Sandbox2.Bpf.BpfProgram([Sandbox2.Bpf.BpfInstruction.LoadAbsolute(0)]);
        Fails(() => runsOff.Run(new Sandbox2.Bpf.SeccompData(0, 0, [])), "must end with a return");
        var badLoad = new Sandbox2.Bpf.BpfProgram([Sandbox2.Bpf.BpfInstruction.LoadAbsolute(64), Sandbox2.Bpf.BpfInstruction.Return(0)]);
        Fails(() => badLoad.Run(new Sandbox2.Bpf.SeccompData(0, 0, [])), "offset 64");
    }
}
