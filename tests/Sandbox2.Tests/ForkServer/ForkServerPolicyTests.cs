namespace Sandbox2.Tests.ForkServerLayer;

/// <summary>Compiled policies (the policy compiler) through the native stage: the exec nonce gate works end to end.</summary>
public class ForkServerPolicyTests
{
    private const ulong Nonce = 0x0123_4567_89ab_cdef;

    /// <summary>Exactly what a static glibc hello needs (explicit, independent of the presets).</summary>
    private static PolicyBuilder StaticHello() => new PolicyBuilder().AllowSyscalls("brk", "arch_prctl", "set_tid_address", "set_robust_list",
        "rseq", "prlimit64", "readlink", "getrandom", "mprotect", "newfstatat", "fstat", "write", "exit_group", "uname", "rt_sigprocmask");

    private static byte[] Compile(PolicyBuilder builder) => builder.Build().Compile(new PolicyCompileOptions(ExecNonce: Nonce)).ToBytes();

    private static Task<(NativeExitReport Report, string Output)> Run(byte[] bpf, ulong nonce, string[] args, string program = "fs_probe-static") =>
        FsPlans.Run(ForkServer.Global, o =>
        {
            var p = FsPlans.Probe(o, args, bpf: bpf, program: program);
            return new SandboxPlan
            {
                OutsideUid = p.OutsideUid, OutsideGid = p.OutsideGid, Mounts = p.Mounts, Argv = p.Argv, ProgramFd = p.ProgramFd,
                Fds = p.Fds, Bpf = p.Bpf, ExecNonce = nonce,
            };
        });

    [Fact]
    public async Task CompiledPolicyRunsStaticHelloWithTheRightNonce()
    {
        var (report, output) = await Run(Compile(StaticHello()), Nonce, ["world"], "hello-static");
        Assert.Null(report.SetupFailedStep);
        Assert.Equal(0, report.ExitCode);
        Assert.Equal("hello world\n", output);
    }

    [Fact]
    public async Task WrongNonceCannotExec()
    {
        var (report, output) = await Run(Compile(StaticHello()), Nonce ^ 1, ["world"], "hello-static");
        Assert.Equal(31, report.Signal); // execveat without the nonce: SECCOMP_RET_KILL_PROCESS
        Assert.Equal("", output);
    }

    [Fact]
    public async Task PolicyRulesApplyToTheProgram()
    {
        var (report, output) = await Run(Compile(StaticHello().BlockSyscallWithErrno("getpid", 1)), Nonce, ["getpid"]);
        Assert.Equal(0, report.ExitCode);
        Assert.Equal("pid -1\n", output);
    }
}

