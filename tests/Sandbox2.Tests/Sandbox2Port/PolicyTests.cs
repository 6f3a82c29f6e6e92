namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>Port of Sandbox2's <c>policy_test.cc</c> (with <c>testcases/policy.cc</c> rewritten as s2_policy.c):
/// one test per Sandbox2 test, named after it. See docs/sandbox2-test-map.md.</summary>
public sealed class PolicyTests
{
    private const int NrPtrace = 101, NrClone = 56, NrBpf = 321, NrUmask = 95, NrExecveat = 322, Eperm = 1, Ebadf = 9, Enoent = 2;
    private static readonly string PolicyBin = Port.Testcase("policy-static");

    /// <summary>Sandbox2's <c>CreatePolicyTestPolicyBuilder()</c>: no namespaces, static startup, exit, read, write, close,
    /// getppid, TCGETS; open/openat/access/faccessat fail with ENOENT, prlimit64 with EPERM.</summary>
    private static PolicyBuilder PolicyTestPolicy() => new PolicyBuilder()
        .DisableNamespaces()
        .AllowStaticStartup().AllowExit().AllowRead().AllowWrite().AllowSyscalls("close", "getppid").AllowTCGETS()
        .BlockSyscallsWithErrno(["open", "openat", "access", "faccessat"], Enoent)
        .BlockSyscallWithErrno("prlimit64", Eperm);

    private static Task<Execution.Sandboxes.Outcome> RunPolicy(Sandbox2.Policy policy, params string[] args) => Port.Run(PolicyBin, policy, args);

    /// <summary>A 32-bit syscall is a violation naming the 32-bit number; where the kernel has no IA-32 emulation it
    /// never gets that far (the CPU faults: SIGSEGV), and the call still did not happen.</summary>
    private static void AssertSyscall32Refused(Execution.Sandboxes.Outcome o, int number)
    {
        if (Port.Ia32Emulation) Port.AssertViolation(o, number, SyscallArch.X86_32);
        else Assert.True(o.Result.Status == SandboxStatus.Signaled && o.Result.Signal == 11, o.ToString());
    }

    [Fact]
    public async Task PolicyTest_AMD64Syscall32PolicyAllowed() =>
        AssertSyscall32Refused(await RunPolicy(PolicyTestPolicy().Build(), "1"), 1); // __NR_exit in 32-bit

    [Fact]
    public async Task PolicyTest_AMD64Syscall32FsAllowed() =>
        AssertSyscall32Refused(await RunPolicy(PolicyTestPolicy().Build(), "2"), 33); // __NR_access in 32-bit

    [Fact]
    public async Task PolicyTest_PtraceDisallowed() =>
        Port.AssertViolation(await RunPolicy(PolicyTestPolicy().Build(), "3"), NrPtrace);

    [Fact]
    public async Task PolicyTest_PtraceBlocked() =>
        Port.AssertExit(await RunPolicy(PolicyTestPolicy().BlockSyscallWithErrno("ptrace", Eperm).Build(), "8"), 0);

    [Fact]
    public async Task PolicyTest_CloneUntracedDisallowed() =>
        Port.AssertViolation(await RunPolicy(PolicyTestPolicy().Build(), "4"), NrClone);

    [Fact]
    public async Task PolicyTest_BpfDisallowed() =>
        Port.AssertViolation(await RunPolicy(PolicyTestPolicy().Build(), "5"), NrBpf);

    [Fact]
    public async Task PolicyTest_BpfPermissionDenied() =>
        Port.AssertExit(await RunPolicy(PolicyTestPolicy().BlockSyscallWithErrno("bpf", Eperm).Build(), "7"), Eperm);

    [Fact]
    public async Task PolicyTest_BpfPtracePermissionDenied()
    {
        var policy = PolicyTestPolicy().BlockSyscallsWithErrno(["ptrace", "bpf"], Eperm).Build();
        Port.AssertExit(await RunPolicy(policy, "7"), Eperm);
        Port.AssertExit(await RunPolicy(policy, "8"), 0);
    }

    [Fact]
    public async Task PolicyTest_BpfAllowSafe()
    {
        var policy = PolicyTestPolicy().AllowSafeBpf().Build();
        // A map lookup reaches the kernel (which answers EBADF for fd -1); creating a map or loading a program is a violation.
        Port.AssertExit(await RunPolicy(policy, "9"), Ebadf);
        Port.AssertViolation(await RunPolicy(policy, "5"), NrBpf);
        Port.AssertViolation(await RunPolicy(policy, "10"), NrBpf);
    }

    [Fact]
    public async Task PolicyTest_BpfAllowSafeButBlock()
    {
        var policy = PolicyTestPolicy().AllowSafeBpf().BlockSyscallWithErrno("bpf", Eperm).Build();
        Port.AssertExit(await RunPolicy(policy, "9"), Ebadf);  // safe: still reaches the kernel
        Port.AssertExit(await RunPolicy(policy, "7"), Eperm);  // the block decides everything else
        Port.AssertExit(await RunPolicy(policy, "10"), Eperm); // a program load never gets through
        // And AllowSafeBpf opens no way around "bpf is only ever blocked": a rule allowing bpf is still refused.
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AllowSafeBpf().AddPolicyOnSyscall("bpf", ArgCondition.True, SyscallAction.Allow));
        Assert.Throws<PolicyException>(() => new PolicyBuilder().AllowSafeBpf().AllowSyscall("bpf"));
    }

    [Fact]
    public async Task PolicyTest_IsattyAllowed() =>
        Port.AssertExit(await RunPolicy(PolicyTestPolicy().Build(), "6"), 0);

    // PR_GET_SPECULATION_CTRL(PR_SPEC_STORE_BYPASS): PR_SPEC_PRCTL 1, ENABLE 2, DISABLE 4, FORCE_DISABLE 8.
    private const int SpecForceDisable = 8;
    private static readonly string SsbMode = File.ReadAllText("/sys/devices/system/cpu/vulnerabilities/spec_store_bypass").Trim();
    private static bool SeccompMitigates => SsbMode.Contains("seccomp", StringComparison.Ordinal);

    private static async Task<int> Speculation(Sandbox2.Policy policy)
    {
        var o = await RunPolicy(policy, "11");
        Port.AssertExit(o, 0);
        return int.Parse(o.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task PolicyTest_SpeculationAllowed()
    {
        int allowed = await Speculation(PolicyTestPolicy().AllowSyscall("prctl").AllowSeccompSpeculation().Build());
        // With SPEC_ALLOW the kernel never force-disables it, whatever its mode.
        Assert.True((allowed & SpecForceDisable) == 0, $"{allowed} (spec_store_bypass: {SsbMode})");
        if (!SeccompMitigates) Assert.Equal(await Speculation(PolicyTestPolicy().AllowSyscall("prctl").Build()), allowed); // nothing for seccomp to change here
    }

    [Fact]
    public async Task PolicyTest_SpeculationBlockedByDefault()
    {
        int byDefault = await Speculation(PolicyTestPolicy().AllowSyscall("prctl").Build());
        if (SeccompMitigates) Assert.True((byDefault & SpecForceDisable) != 0, $"{byDefault} (spec_store_bypass: {SsbMode})");
        else Assert.Equal(await Speculation(PolicyTestPolicy().AllowSyscall("prctl").AllowSeccompSpeculation().Build()), byDefault);
        Assert.False(PolicyTestPolicy().Build().AllowsSpeculation);
        Assert.True(PolicyTestPolicy().AllowSeccompSpeculation().Build().AllowsSpeculation);
    }

    [Fact]
    public async Task PolicyTest_DetectSandboxSyscall() =>
        Port.AssertExit(await RunPolicy(PolicyTestPolicy().Build(), "12"), 0); // errno 4059 inside (the always-on rule)

    [Fact]
    public async Task PolicyTest_ExecveatNotAllowedByDefault()
    {
        // Sandbox2's: started unfiltered, the program applies its policy with the (C) client, then calls execveat. There is
        // no exec tag in SandboxMeHere mode, so the policy decides: blocked with EPERM (Sandbox2's assertion: exit 0) ...
        string path = Port.Testcase("s2c_execveat-static");
        Port.AssertExit(await RunSandboxMeHere(path, Port.Permissive(path).BlockSyscallWithErrno("execveat", Eperm).Build(), "1"), 0);
        // ... and with no rule for it (the policy test policy) a violation of execveat.
        Port.AssertViolation(await RunSandboxMeHere(path, PolicyTestPolicy().Build(), "1"), NrExecveat);
    }

    private static Task<Execution.Sandboxes.Outcome> RunSandboxMeHere(string path, Sandbox2.Policy policy, params string[] args) =>
        Execution.Sandboxes.Async(new Executor(path, args) { EnableSandboxBeforeExec = false }, policy);

    [Fact]
    public async Task PolicyTest_SecondExecveatNotAllowedByDefault()
    {
        // The sandbox's own execveat carried the nonce; a second one without it gets the policy's answer.
        Port.AssertExit(await RunPolicy(PolicyTestPolicy().BlockSyscallWithErrno("execveat", Eperm).Build(), "13"), Eperm);
        Port.AssertViolation(await RunPolicy(PolicyTestPolicy().Build(), "13"), NrExecveat);
    }

    /// <summary>Sandbox2's OverridableBlockSyscallWithErrnoWorks: a user rule on syscall 1337 (arg 1 → errno 1) wins over
    /// the overridable block (errno 2), which still answers what the user's rule does not decide.</summary>
    [Fact]
    public async Task PolicyTest_OverridableBlockSyscallWithErrnoWorks()
    {
        var builder = PolicyTestPolicy().OverridableBlockSyscallWithErrno(1337, 2)
            .AddPolicyOnSyscall(1337, Arg.Of(0).Equal(1), SyscallAction.Errno(1));
        var policy = builder.Build();
        Port.AssertExit(await RunPolicy(policy, "15", "1337", "1", "1"), 0);
        Port.AssertExit(await RunPolicy(policy, "15", "1337", "2", "2"), 0);
    }

    /// <summary>Sandbox2's OverridablePolicyOnSyscallsWorks: overridable arg 1 → errno 1, arg 2 → errno 3; the user's arg 2 →
    /// errno 2 wins.</summary>
    [Fact]
    public async Task PolicyTest_OverridablePolicyOnSyscallsWorks()
    {
        var builder = PolicyTestPolicy()
            .OverridablePolicyOnSyscalls([1337], (Arg.Of(0).Equal(1), SyscallAction.Errno(1)), (Arg.Of(0).Equal(2), SyscallAction.Errno(3)))
            .AddPolicyOnSyscall(1337, Arg.Of(0).Equal(2), SyscallAction.Errno(2));
        var policy = builder.Build();
        Port.AssertExit(await RunPolicy(policy, "15", "1337", "1", "1"), 0);
        Port.AssertExit(await RunPolicy(policy, "15", "1337", "2", "2"), 0);
    }

    [Fact]
    public async Task PolicyTest_MmapWithExecNotAllowedByDefault()
    {
        // Sandbox2 has this one DISABLED_; here W^X is always on: an exec mapping is a violation unless AllowMapExec.
        Port.AssertViolation(await RunPolicy(PolicyTestPolicy().AllowMmapWithoutExec().Build(), "14"), 9);
        Port.AssertExit(await RunPolicy(PolicyTestPolicy().AllowMmap().Build(), "14"), 0);
    }

    /// <summary>Sandbox2's <c>PosixTimersPolicyBuilder()</c> for the posix_timers testcase (dynamic): its "features used by
    /// the binary" and the timers themselves. Its "required by google infra / logging" part (getcwd, mlock, mkdir, the
    /// id getters) is for absl's logging, which our C rewrite does not have.</summary>
    private static PolicyBuilder PosixTimersPolicy()
    {
        string path = Port.Testcase("posix_timers");
        return new PolicyBuilder().AddLibrariesForBinary(path)
            .AllowDynamicStartup().AllowWrite().AllowMmapWithoutExec().AllowExit()
            .AllowRestartableSequences().AllowSyscall("rt_sigtimedwait")
            .AllowHandleSignals().AllowGetPids().AllowTime().AllowSleep().AllowAlarm()
            .AllowPosixTimers();
    }

    private static Task<Execution.Sandboxes.Outcome> RunPosixTimers(PolicyBuilder policy, string kind) =>
        Port.Run(Port.Testcase("posix_timers"), policy.Build(), kind);

    [Theory]
    [InlineData("SIGEV_NONE")]
    [InlineData("SIGEV_SIGNAL")]
    [InlineData("SIGEV_THREAD_ID")]
    [InlineData("syscall(SIGEV_THREAD)")]
    public async Task PolicyTest_PosixTimersWorkIfAllowed(string kind) =>
        Port.AssertExit(await RunPosixTimers(PosixTimersPolicy(), kind), 0);

    [Fact]
    public async Task PolicyTest_PosixTimersCannotCreateThreadsIfThreadsAreProhibited()
    {
        // glibc's SIGEV_THREAD starts a helper thread: clone3 gets ENOSYS (always-on), then clone is not allowed.
        Port.AssertViolation(await RunPosixTimers(PosixTimersPolicy(), "SIGEV_THREAD"), NrClone);
    }

    [Fact]
    public async Task PolicyTest_PosixTimersCanCreateThreadsIfThreadsAreAllowed() =>
        // As Sandbox2: AllowFork() and madvise (Sandbox2 says "for Arm"; here a notification thread that ends before the
        // program does gives its stack back with madvise(MADV_DONTNEED): a race, so it is allowed).
        Port.AssertExit(await RunPosixTimers(PosixTimersPolicy().AllowFork().AllowSyscall("madvise"), "SIGEV_THREAD"), 0);

    /// <summary>Sandbox2's <c>MinimalTestcasePolicy()</c>.</summary>
    private static Sandbox2.Policy MinimalTestcasePolicy() => new PolicyBuilder()
        .AllowStaticStartup().BlockSyscallWithErrno("prlimit64", Eperm).BlockSyscallWithErrno("access", Enoent).AllowExit().Build();

    [Fact]
    public async Task MinimalTest_MinimalBinaryWorks() =>
        Port.AssertExit(await Port.Run(Port.Testcase("minimal-static"), MinimalTestcasePolicy()), 0);

    [Fact]
    public async Task MinimalTest_MinimalSharedBinaryWorks()
    {
        string path = Port.Testcase("minimal");
        var policy = new PolicyBuilder().AddLibrariesForBinary(path)
            .AllowDynamicStartup().AllowOpen().AllowExit().AllowMmap()
            .BlockSyscallWithErrno("prlimit64", Eperm).Build(); // (AllowDynamicStartup allows access here: no ENOENT block)
        Port.AssertExit(await Port.Run(path, policy), 0);
    }

    [Fact]
    public async Task MallocTest_SystemMallocWorks()
    {
        var policy = new PolicyBuilder().AllowStaticStartup().AllowSystemMalloc()
            .BlockSyscallWithErrno("prlimit64", Eperm).BlockSyscallWithErrno("access", Enoent).AllowExit().Build();
        Port.AssertExit(await Port.Run(Port.Testcase("malloc-static"), policy), 0);
    }

    [Fact]
    public async Task MultipleSyscalls_AddPolicyOnSyscallsWorks()
    {
        var policy = new PolicyBuilder().AllowStaticStartup().AllowExit()
            .AddPolicyOnSyscalls(["getuid", "getgid", "geteuid", "getegid"], ArgCondition.True, SyscallAction.Allow)
            .AddPolicyOnSyscalls(["getresuid", "getresgid"], ArgCondition.True, SyscallAction.Errno(42))
            .AddPolicyOnSyscalls(["read", "write"], ArgCondition.True, SyscallAction.Errno(43))
            .AddPolicyOnSyscall("umask", ArgCondition.True, SyscallAction.Violation)
            .BlockSyscallsWithErrno(["open", "openat", "access"], Enoent)
            .BlockSyscallWithErrno("prlimit64", Eperm).Build();
        // Reaching umask proves every earlier rule answered as written (the program exits 1..5 otherwise).
        Port.AssertViolation(await Port.Run(Port.Testcase("add_policy_on_syscalls-static"), policy), NrUmask);
    }
}
