using Sandbox2.Tests.Execution;

namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>What the ports of Sandbox2's tests share: the testcases (our C rewrites of Sandbox2's
/// <c>sandbox2/testcases/*.cc</c>, built from tests/testcases as <c>s2_*</c>) and Sandbox2's test policies.</summary>
internal static class Port
{
    /// <summary>A testcase program; <paramref name="name"/> without the <c>s2_</c> prefix.</summary>
    public static string Testcase(string name) => Sandboxes.Testcase("s2_" + name);

    /// <summary>Sandbox2's <c>CreateDefaultPermissiveTestPolicy(path)</c>: every syscall allowed, PROT_EXEC mappings too
    /// (the always-on rules still apply: ptrace, bpf, namespace-making clone/unshare, ...), the program's libraries mounted.</summary>
    public static PolicyBuilder Permissive(string path) =>
        new PolicyBuilder().DefaultAction(SyscallAction.Allow).AllowMapExec().AddLibrariesForBinary(path);

    /// <summary>Runs <paramref name="path"/> with <paramref name="args"/> (after argv[0]) under <paramref name="policy"/>.</summary>
    public static Task<Sandboxes.Outcome> Run(string path, Sandbox2.Policy policy, params string[] args) =>
        Sandboxes.Async(new Executor(path, args), policy);

    /// <summary>Sandbox2's namespace_test <c>RunSandboxeeWithArgsAndPolicy</c>: runs the namespace testcase, asserts it
    /// ended OK with exit 0 and returns what it reported (our testcase prints one entry per line).</summary>
    public static async Task<string[]> Entries(string path, Sandbox2.Policy policy, params string[] args)
    {
        var o = await Run(path, policy, args);
        Assert.True(o.Result.Status == SandboxStatus.Ok && o.Result.ExitCode == 0, o.ToString());
        return o.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Asserts a violation of syscall <paramref name="number"/>.</summary>
    public static void AssertViolation(Sandboxes.Outcome o, int number, SyscallArch arch = SyscallArch.X86_64)
    {
        Assert.True(o.Result.Status == SandboxStatus.Violation, o.ToString());
        Assert.NotNull(o.Result.Violation);
        Assert.Equal(number, o.Result.Violation!.Number);
        Assert.Equal(arch, o.Result.Violation.Arch);
    }

    /// <summary>Whether 32-bit syscalls (int 0x80) reach this kernel at all (IA-32 emulation; the doctor's probe).</summary>
    public static bool Ia32Emulation { get; } =
        new Sandbox2.Diagnostics.Probes(ForkServerLocator.Locate().Path!).Errno("ia32", "int80") == 0;

    /// <summary>Asserts a normal exit with <paramref name="code"/>.</summary>
    public static void AssertExit(Sandboxes.Outcome o, int code) =>
        Assert.True(o.Result.Status == SandboxStatus.Ok && o.Result.ExitCode == code, $"expected exit {code}: {o}");
}
