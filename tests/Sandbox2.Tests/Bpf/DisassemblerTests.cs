using Sandbox2.Bpf;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Bpf;

public class DisassemblerTests(ITestOutputHelper output)
{
    [Fact]
    public void PrintsOneLinePerInstructionWithNamedFieldsAndActions()
    {
        var policy = new PolicyBuilder()
            .AllowSyscalls("read", "write")
            .AddPolicyOnSyscall("getppid", Arg.Of(0).Equal(0x1_0000_0001), SyscallAction.Errno(7))
            .Build();
        var p = policy.Compile(new PolicyCompileOptions());
        string text = p.Disassemble();
        output.WriteLine(text);
        var lines = text.TrimEnd('\n').Split('\n');
        Assert.Equal(p.Length, lines.Length);
        Assert.StartsWith("0000: ld [4]  ; arch", lines[0]);
        Assert.Contains("jeq #0xc000003e, 0002,", lines[1]);
        Assert.Contains(lines, l => l.Contains("; args[0] (high)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.EndsWith("ret ERRNO(7)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.EndsWith("ret KILL_PROCESS", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.EndsWith("ret ALLOW", StringComparison.Ordinal));
    }

    [Fact]
    public void RoundTripsThroughKernelBytes()
    {
        var p = BuiltinPolicies.CreateDefault().Build().Compile(new PolicyCompileOptions(true, 42));
        var bytes = p.ToBytes();
        Assert.Equal(p.Length * 8, bytes.Length);
        var back = BpfProgram.FromBytes(bytes);
        Assert.Equal(p.Instructions, back.Instructions);
        Assert.Equal(0x20, bytes[0]);           // BPF_LD|BPF_W|BPF_ABS, little-endian
        Assert.Equal(4, bytes[4]);              // k = offsetof(seccomp_data, arch)
    }
}
