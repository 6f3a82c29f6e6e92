using System.Text.RegularExpressions;

namespace Sandbox2.Tests.Policy;

public partial class SyscallTests
{
    [GeneratedRegex(@"^#define __NR_(\w+) (\d+)$", RegexOptions.Multiline)]
    private static partial Regex Define();

    private static Dictionary<string, int> Header(string file) =>
        Define().Matches(File.ReadAllText($"/usr/include/x86_64-linux-gnu/asm/{file}"))
            .ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void X86_64TableAgreesWithTheKernelHeaders()
    {
        var header = Header("unistd_64.h");
        Assert.True(header.Count > 300);
        foreach (var (name, nr) in header)
        {
            Assert.Equal(nr, SyscallTable.GetNumber(name));
            Assert.Equal(name, SyscallTable.Find(nr)!.Name);
        }
        Assert.Equal(3, SyscallTable.Find("read")!.ArgCount);
        Assert.Equal(["fd", "buf", "count"], SyscallTable.Find("read")!.ArgNames);
        Assert.Equal(6, SyscallTable.Find("mmap")!.ArgCount);
        Assert.Equal(0, SyscallTable.Find("getpid")!.ArgCount);
    }

    [Fact]
    public void I386NamesAgreeWithTheKernelHeaders()
    {
        foreach (var (name, nr) in Header("unistd_32.h"))
            Assert.Equal(name, SyscallTable.GetName(SyscallArch.X86_32, nr));
    }

    [Fact]
    public void DescriptionsUseSandbox2Format()
    {
        Assert.Equal("[X86-64] read(0x1, 0x7ffd1234, 0x5)", new Syscall(SyscallArch.X86_64, 0, [1, 0x7ffd1234, 5]).GetDescription());
        Assert.Equal("[X86-64] getpid()", new Syscall(SyscallArch.X86_64, 39, [7]).GetDescription());
        Assert.Equal("[X86-64] ptrace(0, 0, 0, 0)", new Syscall(SyscallArch.X86_64, 101, []).GetDescription());
        Assert.Equal("[X86-32] getpid(0, 0, 0, 0, 0, 0)", new Syscall(SyscallArch.X86_32, 20, []).GetDescription());
        Assert.Equal("[X86-32] exit(0x1, 0, 0, 0, 0, 0)", new Syscall(SyscallArch.X86_32, 1, [1]).GetDescription());
        Assert.StartsWith("[X86-64] UNKNOWN[1000/0x3e8](", new Syscall(SyscallArch.X86_64, 1000, []).GetDescription(), StringComparison.Ordinal);
        Assert.Equal("UNKNOWN[1000/0x3e8]", new Syscall(SyscallArch.X86_64, 1000, []).Name);
    }

    [Fact]
    public void FromSeccompDataRecognisesTheAbi()
    {
        var x32 = Syscall.FromSeccompData(Sandbox2.Bpf.SeccompReturn.AuditArchX86_64, 0x40000000 | 39, [], 5, 0x401000);
        Assert.Equal(SyscallArch.X32, x32.Arch);
        Assert.Equal(39, x32.Number);
        Assert.Equal("[X32] getpid(0, 0, 0, 0, 0, 0)", x32.GetDescription());
        Assert.Equal(0x40000000 | 39, x32.ToSeccompData().Nr);
        Assert.Equal("execve", Syscall.FromSeccompData(Sandbox2.Bpf.SeccompReturn.AuditArchX86_64, 0x40000000 | 520, []).Name);
        Assert.Equal(SyscallArch.X86_32, Syscall.FromSeccompData(Sandbox2.Bpf.SeccompReturn.AuditArchI386, 1, []).Arch);
        var odd = Syscall.FromSeccompData(0xdeadbeef, 1, []);
        Assert.Equal(SyscallArch.Unknown, odd.Arch);
        Assert.StartsWith("[UNKNOWN_ARCH:0xdeadbeef] ", odd.GetDescription(), StringComparison.Ordinal);
        Assert.Equal(0xdeadbeefu, odd.ToSeccompData().Arch);
    }

    [Fact]
    public void EvaluateTellsTraceFromViolation()
    {
        var policy = new PolicyBuilder()
            .AllowSyscall("read")
            .TraceSyscall("openat")
            .DefaultAction(SyscallAction.Violation)
            .Build();
        Assert.Equal(SyscallAction.Allow, policy.Evaluate(new Syscall(SyscallArch.X86_64, 0, [])));
        Assert.Equal(SyscallAction.Trace, policy.Evaluate(new Syscall(SyscallArch.X86_64, 257, [])));
        Assert.Equal(SyscallAction.Violation, policy.Evaluate(new Syscall(SyscallArch.X86_64, 1, [])));
        Assert.Equal(SyscallAction.Violation, policy.Evaluate(new Syscall(SyscallArch.X86_32, 3, [])));
        Assert.Equal(SyscallAction.Trace, new PolicyBuilder().DefaultAction(SyscallAction.Trace).Build().Evaluate(new Syscall(SyscallArch.X86_64, 1, [])));
        Assert.Contains("ptrace", policy.Explain(new Syscall(SyscallArch.X86_64, 101, [])), StringComparison.Ordinal);
    }
}
