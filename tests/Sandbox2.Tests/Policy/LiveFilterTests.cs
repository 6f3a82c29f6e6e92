using CsCheck;
using Sandbox2.Bpf;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Policy;

/// <summary>Compiled filters installed in a real child on the real kernel: the kernel's verdict (allowed / errno /
/// killed by SIGSYS) must be what the interpreter predicts.</summary>
public class LiveFilterTests(ITestOutputHelper output)
{
    private const int Getpid = 39, Getppid = 110, Unassigned = 1000;
    private static readonly PolicyCompileOptions Kill = new(MonitorAttached: false, ExecNonce: null);

    private LiveOutcome Check(BpfProgram program, int nr, params ulong[] args)
    {
        var data = new SeccompData(nr, SeccompReturn.AuditArchX86_64, args);
        uint predicted = program.Run(data);
        var unfiltered = SeccompRunner.Run(null, nr, args);
        var live = SeccompRunner.Run(program, nr, args);
        var expected = LiveOutcome.Expected(predicted, unfiltered);
        output.WriteLine($"{data}: interpreter {SeccompReturn.Describe(predicted)}, kernel {live}");
        Assert.True(expected.Matches(live), $"{data}: interpreter says {SeccompReturn.Describe(predicted)} (expected {expected}), kernel did {live}");
        return live;
    }

    [Fact]
    public void AllowedErrnoAndKilledMatchTheInterpreter()
    {
        var p = new PolicyBuilder()
            .AllowSyscall("getppid")
            .BlockSyscallWithErrno("getpid", 77)
            .Build().Compile(Kill);
        Assert.True(Check(p, Getppid).Ret > 0);
        Assert.Equal(77, Check(p, Getpid).Errno);
        Assert.Equal(LiveOutcome.Sigsys, Check(p, SyscallTable.GetNumber("getuid")).Signal);
    }

    [Fact]
    public void SixtyFourBitArgumentRulesMatchTheKernel()
    {
        // errno 55 only when args[0] is exactly 0x1_0000_0005; errno 56 when args[1] > 0xffffffff (unsigned, 64-bit)
        var p = new PolicyBuilder()
            .AddPolicyOnSyscall("getppid", Arg.Of(0).Equal(0x1_0000_0005), SyscallAction.Errno(55))
            .AddPolicyOnSyscall("getppid", Arg.Of(1).Greater(0xffffffff), SyscallAction.Errno(56))
            .AddPolicyOnSyscall("getppid", Arg.Of(2).MaskedEqual(0xff00000000000000, 0x8000000000000000), SyscallAction.Violation)
            .AllowSyscall("getppid")
            .Build().Compile(Kill);
        Assert.Equal(55, Check(p, Getppid, 0x1_0000_0005).Errno);
        Assert.True(Check(p, Getppid, 5).Ret > 0);                     // same low half
        Assert.True(Check(p, Getppid, 0x2_0000_0005).Ret > 0);         // same low half, other high half
        Assert.Equal(56, Check(p, Getppid, 0, 0x1_0000_0000).Errno);
        Assert.True(Check(p, Getppid, 0, 0xffffffff).Ret > 0);
        Assert.Equal(LiveOutcome.Sigsys, Check(p, Getppid, 0, 0, 0x80ff_0000_0000_0001).Signal);
        Assert.True(Check(p, Getppid, 0, 0, 0x0080_0000_0000_0000).Ret > 0);
    }

    [Fact]
    public void X32SyscallIsKilledEvenWhenTheNumberIsAllowed()
    {
        var policy = new PolicyBuilder().DefaultAction(SyscallAction.Allow).Build();
        var p = policy.Compile(Kill);
        var live = Check(p, 0x40000000 | Getpid);
        Assert.Equal(LiveOutcome.Sigsys, live.Signal);
        // with a monitor attached it is a USER_NOTIF (ENOSYS here, as nobody listens) instead of a kill
        var notified = Check(policy.Compile(new PolicyCompileOptions(MonitorAttached: true)), 0x40000000 | Getpid);
        Assert.Equal(38, notified.Errno);
    }

    [SkippableFact]
    public void Int80IsAnArchitectureViolation()
    {
        var policy = new PolicyBuilder().DefaultAction(SyscallAction.Allow).Build();
        var p = policy.Compile(Kill);
        const int i386Getpid = 20;
        var bare = SeccompRunner.Run(null, i386Getpid, [], int80: true);
        Skip.If(!bare.Returned && bare.Signal == LiveOutcome.Sigsegv,
            "IA-32 emulation is off on this kernel: int 0x80 faults with SIGSEGV before seccomp sees it (the x86-32 guard is covered by the interpreter tests)");
        Assert.True(bare.Returned && bare.Ret > 0, $"unfiltered int 0x80 getpid: {bare}");
        Assert.Equal(SeccompReturn.KillProcess, p.Run(new SeccompData(i386Getpid, SeccompReturn.AuditArchI386, [])));
        var live = SeccompRunner.Run(p, i386Getpid, [], int80: true);
        output.WriteLine($"int 0x80 getpid under the filter: {live}");
        Assert.Equal(LiveOutcome.Sigsys, live.Signal);
    }

    [Fact]
    public void RandomPoliciesOnHarmlessSyscallsMatchTheInterpreter()
    {
        // Random rules over getpid/getppid/an unassigned number (safe to run with any arguments), random 64-bit
        // arguments from the edge values; the kernel's outcome must be the interpreter's prediction.
        ulong[] values = [.. PolicyPropertyTests.Edge];
        var genArgs = Gen.OneOf(values).Array[6];
        var genCompare = Gen.Select(Gen.Int[0, 5], Gen.Int[0, 5], Gen.OneOf(values), Gen.Bool,
            (i, op, v, is32) => (ArgCondition)new CompareCondition(i, (ArgOp)op, is32 ? v & 0xffffffff : v, ulong.MaxValue, is32));
        var genCondition = Gen.Frequency((3, genCompare), (1, Gen.Select(genCompare, genCompare, (a, b) => a & b)),
            (1, Gen.Select(genCompare, genCompare, (a, b) => a | b)));
        var genAction = Gen.Frequency((3, Gen.Const(SyscallAction.Allow)), (2, Gen.Int[1, 200].Select(SyscallAction.Errno)),
            (1, Gen.Const(SyscallAction.Violation)), (1, Gen.Const(SyscallAction.Trace)));
        var genRule = Gen.Select(Gen.OneOf(Getpid, Getppid, Unassigned), genCondition, genAction, (nr, c, a) => (nr, c, a));
        var genCase = Gen.Select(genRule.Array[1, 6], genAction, Gen.Bool, Gen.Select(Gen.OneOf(Getpid, Getppid, Unassigned), genArgs, (nr, a) => (nr, a)).Array[3],
            (rules, def, monitor, probes) => (rules, def, monitor, probes));
        var unfiltered = new Dictionary<int, LiveOutcome>
        {
            [Getpid] = SeccompRunner.Run(null, Getpid, []),
            [Getppid] = SeccompRunner.Run(null, Getppid, []),
            [Unassigned] = SeccompRunner.Run(null, Unassigned, []),
        };
        int runs = 0;
        genCase.Sample(c =>
        {
            var b = new PolicyBuilder().DefaultAction(c.def);
            foreach (var (nr, when, action) in c.rules) b.AddPolicyOnSyscall(nr, when, action);
            var p = b.Build().Compile(new PolicyCompileOptions(MonitorAttached: c.monitor));
            foreach (var (nr, args) in c.probes)
            {
                uint predicted = p.Run(new SeccompData(nr, SeccompReturn.AuditArchX86_64, args));
                var live = SeccompRunner.Run(p, nr, args);
                Interlocked.Increment(ref runs);
                var expected = LiveOutcome.Expected(predicted, unfiltered[nr]);
                Assert.True(expected.Matches(live), $"nr {nr} args [{string.Join(", ", args.Select(a => $"0x{a:x}"))}]: interpreter {SeccompReturn.Describe(predicted)}, kernel {live}");
            }
        }, iter: 40, threads: 1);
        output.WriteLine($"{runs} live syscalls matched the interpreter");
    }
}
