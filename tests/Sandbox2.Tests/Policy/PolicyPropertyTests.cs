using CsCheck;
using Sandbox2.Bpf;

namespace Sandbox2.Tests.Policy;

/// <summary>The oracle: for random policies and random (arch, nr, args), the compiled program run by the interpreter
/// answers what the policy model answers, and both answer what an independent reference reading of the rules says.</summary>
public class PolicyPropertyTests
{
    private const uint X86_64 = SeccompReturn.AuditArchX86_64;

    internal static readonly ulong[] Edge =
    [
        0, 1, 2, 4, 0x7f, 0xff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x100000000, 0x100000001,
        0x1_ffffffff, 0x7fffffff_ffffffff, 0x80000000_00000000, 0x80000000_00000001, 0xffffffff_00000000,
        0xfffffffe_ffffffff, ulong.MaxValue - 1, ulong.MaxValue,
    ];

    /// <summary>Syscall numbers with always-on rules, plus ordinary and unusual ones.</summary>
    internal static readonly int[] Numbers =
        [0, 1, 2, 3, 9, 10, 39, 46, 56, 85, 90, 91, 101, 110, 133, 157, 257, 259, 268, 272, 317, 321, 322, 329, 425, 426, 427, 435, 437, 452,
            1000, 0x2f000fdb, 0x3fffffff];

    internal sealed record RuleSpec(int Nr, ArgCondition? When, SyscallAction Action)
    {
        public override string ToString() => $"{Nr}{(When is null ? "" : " when " + When)} -> {Action}";
    }

    internal sealed record PolicySpec(RuleSpec[] Rules, SyscallAction Default, bool MapExec, bool Monitor, ulong? Nonce, int DataSeed)
    {
        public PolicyCompileOptions Options => new(Monitor, Nonce);
        public override string ToString() =>
            $"default={Default} mapExec={MapExec} monitor={Monitor} nonce={Nonce:x} seed={DataSeed}\n  " + string.Join("\n  ", Rules.Select(r => r.ToString()));
    }

    private static readonly Gen<ulong> GenValue = Gen.Frequency((3, Gen.OneOf(Edge)), (1, Gen.ULong), (1, Gen.ULong[0, 16]));
    private static readonly Gen<ulong> GenMask = Gen.Frequency(
        (4, Gen.Const(ulong.MaxValue)),
        (2, Gen.OneOf(0xffffffffUL, 0xffffffff_00000000UL, 4UL, 0x7E020000UL, 0UL, 0x80000000_00000001UL, 0xff00UL)),
        (1, Gen.ULong));
    private static readonly Gen<ArgCondition> GenCompare = Gen.Select(Gen.Int[0, 5], Gen.Int[0, 5], GenValue, GenMask, Gen.Int[0, 3],
        (i, op, v, m, w) => (ArgCondition)new CompareCondition(i, (ArgOp)op, w == 0 ? v & 0xffffffff : v, m, w == 0));
    private static readonly Gen<ArgCondition> GenCondition = Gen.Recursive<ArgCondition>((depth, self) =>
        depth >= 3 ? GenCompare : Gen.Frequency(
            (5, GenCompare),
            (1, Gen.Select(self, self, (a, b) => a & b)),
            (1, Gen.Select(self, self, (a, b) => a | b)),
            (1, self.Select(a => !a)),
            (1, Gen.OneOf(ArgCondition.True, ArgCondition.False))));
    private static readonly Gen<SyscallAction> GenAction = Gen.Frequency(
        (4, Gen.Const(SyscallAction.Allow)),
        (2, Gen.Int[0, SyscallAction.MaxErrno].Select(SyscallAction.Errno)),
        (1, Gen.Const(SyscallAction.Trace)),
        (2, Gen.Const(SyscallAction.Violation)));
    private static readonly Gen<RuleSpec> GenRule = Gen.Select(
        Gen.Frequency((4, Gen.OneOf(Numbers)), (1, Gen.Int[0, 500])),
        Gen.Frequency((1, Gen.Const((ArgCondition?)null)), (2, GenCondition.Select(c => (ArgCondition?)c))),
        GenAction,
        (nr, when, action) => nr is 101 or 321
            ? new RuleSpec(nr, null, SyscallAction.Errno(action.ErrnoValue == 0 ? 1 : action.ErrnoValue))
            : nr is >= 425 and <= 427 && action.Kind is SyscallActionKind.Allow or SyscallActionKind.Trace
                ? new RuleSpec(nr, when, SyscallAction.Violation) // the builder refuses io_uring allowed (DangerouslyAllowIoUring)
                : new RuleSpec(nr, when, action));

    internal static Gen<PolicySpec> GenPolicy(int maxRules) => Gen.Select(
        GenRule.Array[0, maxRules], GenAction, Gen.Bool, Gen.Bool,
        Gen.Frequency((1, Gen.Const((ulong?)null)), (1, GenValue.Select(v => (ulong?)v))),
        Gen.Int,
        (rules, def, mapExec, monitor, nonce, seed) => new PolicySpec(WithoutConflicts(rules), def, mapExec, monitor, nonce, seed));

    /// <summary>Drops rules the builder would reject as contradicting an earlier unconditional rule.</summary>
    private static RuleSpec[] WithoutConflicts(RuleSpec[] rules)
    {
        var decided = new Dictionary<int, SyscallAction>();
        var kept = new List<RuleSpec>();
        foreach (var r in rules)
        {
            if (decided.TryGetValue(r.Nr, out var earlier) && earlier != r.Action) continue;
            if (r.When is null or ConstCondition { Value: true }) decided.TryAdd(r.Nr, r.Action);
            kept.Add(r);
        }
        return kept.ToArray();
    }

    /// <summary>Builds the spec with the public builder.</summary>
    internal static Sandbox2.Policy Build(PolicySpec spec)
    {
        var b = new PolicyBuilder().DefaultAction(spec.Default);
        if (spec.MapExec) b.AllowMapExec();
        foreach (var r in spec.Rules)
        {
            if (r.When is not null) b.AddPolicyOnSyscall(r.Nr, r.When, r.Action);
            else if (r.Action.Kind == SyscallActionKind.Allow) b.AllowSyscall(r.Nr);
            else if (r.Action.Kind == SyscallActionKind.Errno) b.BlockSyscallWithErrno(r.Nr, r.Action.ErrnoValue);
            else b.AddPolicyOnSyscall(r.Nr, ArgCondition.True, r.Action);
        }
        return b.Build();
    }

    /// <summary>An independent reading of the rules (always-on rules as the issue states them, then first match wins).</summary>
    internal static SyscallAction Reference(PolicySpec spec, in SeccompData d)
    {
        if (d.Arch != X86_64) return SyscallAction.Violation;
        uint nr = (uint)d.Nr;
        if ((nr & 0x40000000) != 0) return SyscallAction.Violation;
        ulong[] a = d.Args.ToArray();
        uint Low(int i) => (uint)a[i];
        switch (nr)
        {
            case 101 or 321:
                var block = spec.Rules.FirstOrDefault(r => r.Nr == nr);
                return block?.Action ?? SyscallAction.Violation;
            case 56 when (Low(0) & 0x7E020000) != 0: return SyscallAction.Violation;
            case 272 when (Low(0) & 0x7E020080) != 0: return SyscallAction.Violation;
            case 435: return SyscallAction.Errno(38);
            case 9 or 10 or 329 when !spec.MapExec && (Low(2) & 4) != 0: return SyscallAction.Violation;
            case 9 or 10 or 329 when spec.MapExec && (Low(2) & 6) == 6: return SyscallAction.Violation; // W^X
            case 317 when (Low(1) & 8) != 0: return SyscallAction.Violation;
            case 317 when Low(0) is 0 or 1: return SyscallAction.Violation; // a further filter
            case 157 when Low(0) == 22: return SyscallAction.Violation;     // PR_SET_SECCOMP
            case 90 or 91 or 85 or 133 when (Low(1) & 0xc00) != 0: return SyscallAction.Errno(1);   // setuid/setgid modes
            case 268 or 452 or 2 or 259 when (Low(2) & 0xc00) != 0: return SyscallAction.Errno(1);
            case 257 when (Low(3) & 0xc00) != 0: return SyscallAction.Errno(1);
            case 437: return SyscallAction.Errno(38);
            case >= 425 and <= 427 when spec.Default.Kind is SyscallActionKind.Allow or SyscallActionKind.Trace:
                foreach (var r in spec.Rules)
                    if (r.Nr == nr && (r.When is null || Holds(r.When, a))) return r.Action;
                return SyscallAction.Errno(38);
            case 322 or 46 when spec.Nonce is ulong n && a[5] == n: return SyscallAction.Allow;
            case 0x2f000fdb: return SyscallAction.Errno(4059);
        }
        foreach (var r in spec.Rules)
            if (r.Nr == nr && (r.When is null || Holds(r.When, a))) return r.Action;
        return spec.Default;
    }

    private static bool Holds(ArgCondition c, ReadOnlySpan<ulong> a) => c switch
    {
        ConstCondition k => k.Value,
        NotCondition n => !Holds(n.Inner, a),
        AndCondition x => Holds(x.Left, a) && Holds(x.Right, a),
        OrCondition o => Holds(o.Left, a) || Holds(o.Right, a),
        CompareCondition k => CompareHolds(k, a[k.Index]),
        _ => throw new InvalidOperationException(),
    };

    private static bool CompareHolds(CompareCondition k, ulong arg)
    {
        // Done on 128-bit integers so that this does not share a code path with the library's 64-bit compare.
        UInt128 x = arg & k.Mask, v = k.Value;
        if (k.Is32Bit) { x %= (UInt128)1 << 32; v %= (UInt128)1 << 32; }
        int sign = x.CompareTo(v);
        return k.Op switch
        {
            ArgOp.Equal => sign == 0, ArgOp.NotEqual => sign != 0, ArgOp.Less => sign < 0,
            ArgOp.LessOrEqual => sign <= 0, ArgOp.Greater => sign > 0, _ => sign >= 0,
        };
    }

    /// <summary>Syscalls to try on a policy: rule numbers and their neighbours, x32 and foreign-arch calls, and
    /// arguments drawn from 64-bit edge values and the rules' own constants (±1, other half flipped).</summary>
    internal static IEnumerable<SeccompData> Probes(PolicySpec spec, int count)
    {
        var rnd = new Random(spec.DataSeed);
        var values = new List<ulong>(Edge);
        void Constants(ArgCondition? c)
        {
            switch (c)
            {
                case CompareCondition k:
                    values.AddRange([k.Value, k.Value + 1, k.Value - 1, k.Value ^ 0xffffffff_00000000, k.Value & k.Mask, k.Mask, ~k.Mask]);
                    break;
                case AndCondition x: Constants(x.Left); Constants(x.Right); break;
                case OrCondition o: Constants(o.Left); Constants(o.Right); break;
                case NotCondition n: Constants(n.Inner); break;
            }
        }
        foreach (var r in spec.Rules) Constants(r.When);
        if (spec.Nonce is ulong nonce) values.AddRange([nonce, nonce ^ 1, nonce ^ (1UL << 63), nonce & 0xffffffff]);
        var nrs = new List<int>(Numbers);
        foreach (var r in spec.Rules) nrs.AddRange([r.Nr, r.Nr + 1, r.Nr - 1]);
        for (int i = 0; i < count; i++)
        {
            int nr = rnd.Next(10) switch
            {
                0 => nrs[rnd.Next(nrs.Count)] | 0x40000000,
                1 => rnd.Next(),
                2 => unchecked((int)(uint)rnd.NextInt64(0x80000000, 0x100000000)),
                _ => nrs[rnd.Next(nrs.Count)],
            };
            uint arch = rnd.Next(12) switch { 0 => SeccompReturn.AuditArchI386, 1 => (uint)rnd.Next(), _ => X86_64 };
            var args = new ulong[6];
            for (int j = 0; j < 6; j++)
                args[j] = rnd.Next(4) == 0 ? (ulong)rnd.NextInt64() ^ ((ulong)rnd.Next(2) << 63) : values[rnd.Next(values.Count)];
            yield return new SeccompData(nr, arch, args);
        }
    }

    private static void CheckAgreement(PolicySpec spec, int probes)
    {
        var policy = Build(spec);
        var program = policy.Compile(spec.Options);
        foreach (var d in Probes(spec, probes))
        {
            var expected = Reference(spec, d);
            var model = policy.Evaluate(d, spec.Options);
            Assert.True(expected == model, $"model says {model}, reference says {expected} for {d}");
            uint actual = program.Run(d);
            uint want = SeccompReturn.For(expected, spec.Monitor);
            Assert.True(want == actual,
                $"interpreter returns {SeccompReturn.Describe(actual)}, model says {expected} ({SeccompReturn.Describe(want)}) for {d}");
        }
    }

    [Fact]
    public void InterpreterOnCompiledProgramAgreesWithModel_SmallPolicies() =>
        GenPolicy(12).Sample(spec => CheckAgreement(spec, 150), iter: 1000);

    [Fact]
    public void InterpreterOnCompiledProgramAgreesWithModel_LargePoliciesWithLongJumps() =>
        GenPolicy(250).Sample(spec => CheckAgreement(spec, 400), iter: 60);

    [Fact]
    public void LargePoliciesReallyNeedLongJumps()
    {
        // 300 conditional rules on distinct syscalls: the dispatch tree spans far more than 255 instructions.
        var b = new PolicyBuilder();
        for (int nr = 0; nr < 300; nr++)
            if (nr is not (101 or 321)) b.AddPolicyOnSyscall(nr, Arg.Of(0).Equal((ulong)nr << 32 | 7), SyscallAction.Allow);
        var p = b.Build().Compile(new PolicyCompileOptions());
        Assert.True(p.Length > 1000, $"{p.Length} instructions");
        Assert.Contains(p.Instructions, i => i.Code == (BpfInstruction.Jmp | BpfInstruction.Ja));
        for (int nr = 1; nr < 300; nr++)
        {
            if (nr is 101 or 321) continue;
            Assert.Equal(SeccompReturn.Allow, p.Run(new SeccompData(nr, X86_64, [(ulong)nr << 32 | 7])));
            Assert.Equal(SeccompReturn.KillProcess, p.Run(new SeccompData(nr, X86_64, [7])));
        }
    }
}
