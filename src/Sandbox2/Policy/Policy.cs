using Sandbox2.Bpf;

namespace Sandbox2;

/// <summary>How a policy is compiled for one sandbox.</summary>
/// <param name="MonitorAttached">Violations go to SECCOMP_RET_USER_NOTIF (a monitor listens) instead of SECCOMP_RET_KILL_PROCESS.</param>
/// <param name="ExecNonce">When set (sandbox-before-exec): the always-on prologue allows execveat and sendmsg whose
/// sixth argument (args[5], all 64 bits) equals this per-sandbox random value, and nothing else extra.
/// The native stage uses it for its single execveat (and to hand the notify listener to the monitor).</param>
/// <param name="CommsFd">SandboxMeHere mode (the program installs the filter itself): after the user's rules, before the
/// default action, <c>sendmsg</c> on this descriptor and <c>close</c> are allowed, so the handshake's last messages (the
/// outcome, the listener, "ready") and the closing of the listener work under any policy that does not decide them.</param>
public readonly record struct PolicyCompileOptions(bool MonitorAttached = false, ulong? ExecNonce = null, int? CommsFd = null);

/// <summary>A built, validated policy: syscall rules plus the sandbox's namespace (mounts, hostname, network).
/// The syscall part is a model: for each syscall number an ordered rule list (always-on rules, the user's rules,
/// the overridable rules of presets), the first matching rule wins, else the default action. <see cref="Evaluate(Syscall, PolicyCompileOptions)"/>
/// answers from the model; <see cref="Compile"/> turns it into seccomp-bpf that must answer the same.</summary>
public sealed partial class Policy
{
    /// <summary>Sandbox2's "am I in a sandbox" probe: this syscall number fails with <see cref="MagicSyscallErrno"/>.</summary>
    public const int MagicSyscall = 0x2f000fdb;
    /// <summary>The errno <see cref="MagicSyscall"/> fails with inside a sandbox (Sandbox2's <c>kMagicSyscallErr</c>).</summary>
    public const int MagicSyscallErrno = 4059;

    internal const int NrPtrace = 101, NrBpf = 321, NrClone = 56, NrUnshare = 272, NrClone3 = 435, NrMmap = 9,
        NrMprotect = 10, NrPkeyMprotect = 329, NrSeccomp = 317, NrExecveat = 322, NrSendmsg = 46, NrClose = 3,
        NrOpen = 2, NrChmod = 90, NrFchmod = 91, NrCreat = 85, NrMknod = 133, NrOpenat = 257, NrMknodat = 259,
        NrFchmodat = 268, NrFchmodat2 = 452, NrOpenat2 = 437, NrPrctl = 157,
        NrIoUringSetup = 425, NrIoUringEnter = 426, NrIoUringRegister = 427;
    internal const int Eperm = 1;
    /// <summary>S_ISUID | S_ISGID: mode bits a sandboxee may never set on a file (it would outlive the sandbox on the host).</summary>
    internal const uint SetIdModeBits = 0x800 | 0x400;
    /// <summary>prctl's PR_SET_SECCOMP.</summary>
    internal const uint PrSetSeccomp = 22;
    internal const uint ProtWrite = 2;
    internal const int Enosys = 38;
    /// <summary>CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (clone's low byte is the exit signal).</summary>
    internal const uint CloneNamespaceFlags = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;
    /// <summary>The clone namespace flags plus CLONE_NEWTIME (0x80), which unshare accepts.</summary>
    internal const uint UnshareNamespaceFlags = CloneNamespaceFlags | 0x80;
    internal const uint ProtExec = 4;
    internal const uint SeccompFilterFlagNewListener = 8;

    private readonly PolicyRule[] _rules;
    private readonly PolicyRule[] _overridable;
    private readonly Dictionary<int, List<PolicyRule>> _byNumber = [];

    /// <summary>bpf() commands <see cref="PolicyBuilder.AllowSafeBpf"/> allows: MAP_LOOKUP_ELEM 1, MAP_UPDATE_ELEM 2,
    /// MAP_DELETE_ELEM 3, MAP_GET_NEXT_KEY 4, OBJ_GET 7, MAP_GET_NEXT_ID 12, MAP_GET_FD_BY_ID 14, OBJ_GET_INFO_BY_FD 15.</summary>
    internal static readonly ulong[] SafeBpfCommands = [1, 2, 3, 4, 7, 12, 14, 15];

    internal Policy(IEnumerable<PolicyRule> rules, IEnumerable<PolicyRule> overridable, SyscallAction defaultAction, bool allowMapExec,
        (int Highest, SyscallAction Action)? defaultAbove = null, bool allowSafeBpf = false,
        bool allowWriteExecMappings = false, bool allowNestedSeccompFilters = false, bool allowIoUring = false)
    {
        DefaultAbove = defaultAbove;
        AllowsSafeBpf = allowSafeBpf;
        _rules = rules.ToArray();
        _overridable = overridable.ToArray();
        DefaultAction = defaultAction;
        AllowsMapExec = allowMapExec;
        AllowsWriteExecMappings = allowWriteExecMappings;
        AllowsNestedSeccompFilters = allowNestedSeccompFilters;
        AllowsIoUring = allowIoUring;
        foreach (var r in _rules.Concat(_overridable))
        {
            if (!_byNumber.TryGetValue(r.Number, out var list)) _byNumber[r.Number] = list = [];
            list.Add(r);
        }
    }

    /// <summary>The user's rules in order (presets' overridable rules are in <see cref="OverridableRules"/>).</summary>
    public IReadOnlyList<PolicyRule> Rules => _rules;

    /// <summary>Rules that apply after the user's rules (Sandbox2's Overridable*), so any user rule wins over them.</summary>
    public IReadOnlyList<PolicyRule> OverridableRules => _overridable;

    /// <summary>What happens to a syscall no rule matches.</summary>
    public SyscallAction DefaultAction { get; }

    /// <summary>When set, syscall numbers above <c>Highest</c> that no rule names get <c>Action</c> instead of
    /// <see cref="DefaultAction"/> (runc's ENOSYS stub for an OCI profile: a syscall newer than the profile fails with ENOSYS,
    /// so a program falls back as it does on an older kernel).</summary>
    public (int Highest, SyscallAction Action)? DefaultAbove { get; }

    /// <summary>The default action for syscall number <paramref name="nr"/> (<see cref="DefaultAbove"/> taken into account).</summary>
    internal SyscallAction DefaultFor(uint nr) => DefaultAbove is { } above && nr > (uint)above.Highest ? above.Action : DefaultAction;

    /// <summary>Allow(MapExec): the W^X guard on mmap/mprotect/pkey_mprotect with PROT_EXEC is off.</summary>
    public bool AllowsMapExec { get; }

    /// <summary>AllowSafeBpf: bpf() with a map/object command in <see cref="SafeBpfCommands"/> is allowed.</summary>
    public bool AllowsSafeBpf { get; }

    /// <summary>Allow(SeccompSpeculation): the filter is installed with SECCOMP_FILTER_FLAG_SPEC_ALLOW.</summary>
    public bool AllowsSpeculation { get; internal init; }

    /// <summary><see cref="PolicyBuilder.AllowWriteExecMappings"/>: mappings that are writable and executable at once
    /// (a JIT's) are allowed; otherwise mmap/mprotect/pkey_mprotect with PROT_WRITE|PROT_EXEC is always a violation (W^X).</summary>
    public bool AllowsWriteExecMappings { get; }

    /// <summary><see cref="PolicyBuilder.AllowNestedSeccompFilters"/>: the sandboxee may install further seccomp filters
    /// (seccomp SET_MODE_FILTER/STRICT, prctl PR_SET_SECCOMP); otherwise that is always a violation.</summary>
    public bool AllowsNestedSeccompFilters { get; }

    /// <summary><see cref="PolicyBuilder.DangerouslyAllowIoUring"/> was used: io_uring may be allowed (its operations
    /// bypass seccomp).</summary>
    public bool AllowsIoUring { get; }

    /// <summary>The model's decision for <paramref name="syscall"/> (what the compiled filter does with it).</summary>
    public SyscallAction Evaluate(Syscall syscall, PolicyCompileOptions options = default)
    {
        ArgumentNullException.ThrowIfNull(syscall);
        return Evaluate(syscall.ToSeccompData(), options);
    }

    /// <summary>The model's decision for what seccomp sees.</summary>
    public SyscallAction Evaluate(in SeccompData data, PolicyCompileOptions options = default)
    {
        if (data.Arch != SeccompReturn.AuditArchX86_64) return SyscallAction.Violation;
        uint nr = unchecked((uint)data.Nr);
        if ((nr & SeccompReturn.X32SyscallBit) != 0) return SyscallAction.Violation;
        foreach (var (when, action) in GetChain(nr, options))
            if (when is null || when.Evaluate(data.Args)) return action;
        throw new InvalidOperationException("unreachable: a chain ends with an unconditional rule");
    }

    /// <summary>Why <see cref="Evaluate(Syscall, PolicyCompileOptions)"/> decides as it does, e.g. "always-on: clone with namespace flags".</summary>
    public string Explain(Syscall syscall, PolicyCompileOptions options = default)
    {
        ArgumentNullException.ThrowIfNull(syscall);
        var data = syscall.ToSeccompData();
        if (data.Arch != SeccompReturn.AuditArchX86_64) return "always-on: only x86-64 syscalls are allowed";
        uint nr = unchecked((uint)data.Nr);
        if ((nr & SeccompReturn.X32SyscallBit) != 0) return "always-on: x32-ABI syscalls are not allowed";
        foreach (var r in GetRules(nr, options))
            if (r.When is null || r.When.Evaluate(data.Args)) return r.Origin;
        return "default action";
    }

    /// <summary>Compiles the policy (always-on rules + user rules) to seccomp-bpf.</summary>
    public BpfProgram Compile(PolicyCompileOptions options) => BpfCompiler.Compile(this, options);

    /// <summary>The ordered rules for syscall number <paramref name="nr"/>: always-on rules, then user rules, then overridable rules.</summary>
    internal IEnumerable<PolicyRule> GetRules(uint nr, PolicyCompileOptions options)
    {
        if (nr > int.MaxValue) yield break;
        int n = (int)nr;
        _byNumber.TryGetValue(n, out var mine);
        switch (n)
        {
            case NrBpf when AllowsSafeBpf:
                // Before the user's errno rules: a later BlockSyscallWithErrno(bpf) decides every other command.
                yield return new PolicyRule(n, Arg.Low32(0).In(SafeBpfCommands), SyscallAction.Allow, "AllowSafeBpf: bpf on maps and objects already held");
                foreach (var r in mine ?? []) if (r.Action.Kind == SyscallActionKind.Errno) yield return r;
                yield return new PolicyRule(n, null, SyscallAction.Violation, "always-on: bpf is never allowed (AllowSafeBpf: only map and object commands)");
                yield break;
            case NrPtrace or NrBpf:
                // Only an errno block by the user can change these (checked by the builder); else a violation.
                foreach (var r in mine ?? []) if (r.Action.Kind == SyscallActionKind.Errno) yield return r;
                yield return new PolicyRule(n, null, SyscallAction.Violation, $"always-on: {(n == NrPtrace ? "ptrace" : "bpf")} is never allowed");
                yield break;
            case NrClone:
                yield return new PolicyRule(n, Arg.Low32(0).Masked(CloneNamespaceFlags, ArgOp.NotEqual, 0), SyscallAction.Violation, "always-on: clone with namespace flags");
                break;
            case NrUnshare:
                yield return new PolicyRule(n, Arg.Low32(0).Masked(UnshareNamespaceFlags, ArgOp.NotEqual, 0), SyscallAction.Violation, "always-on: unshare with namespace flags");
                break;
            case NrClone3:
                yield return new PolicyRule(n, null, SyscallAction.Errno(Enosys), "always-on: clone3 fails with ENOSYS (libc falls back to clone, whose flags are checked)");
                yield break;
            case NrMmap or NrMprotect or NrPkeyMprotect:
                if (!AllowsMapExec)
                    yield return new PolicyRule(n, Arg.Low32(2).Masked(ProtExec, ArgOp.NotEqual, 0), SyscallAction.Violation, "always-on: W^X (PROT_EXEC needs Allow(MapExec))");
                else if (!AllowsWriteExecMappings)
                    yield return new PolicyRule(n, Arg.Low32(2).MaskedEqual(ProtExec | ProtWrite, ProtExec | ProtWrite), SyscallAction.Violation, "always-on: W^X (a mapping both writable and executable needs AllowWriteExecMappings)");
                break;
            case NrSeccomp:
                yield return new PolicyRule(n, Arg.Low32(1).Masked(SeccompFilterFlagNewListener, ArgOp.NotEqual, 0), SyscallAction.Violation, "always-on: seccomp with NEW_LISTENER");
                if (!AllowsNestedSeccompFilters)
                    yield return new PolicyRule(n, Arg.Low32(0).In(0 /*SET_MODE_STRICT*/, 1 /*SET_MODE_FILTER*/), SyscallAction.Violation, "always-on: installing a further seccomp filter (needs AllowNestedSeccompFilters)");
                break;
            case NrPrctl when !AllowsNestedSeccompFilters:
                yield return new PolicyRule(n, Arg.Low32(0).Equal(PrSetSeccomp), SyscallAction.Violation, "always-on: installing a further seccomp filter (prctl PR_SET_SECCOMP; needs AllowNestedSeccompFilters)");
                break;
            case NrChmod or NrFchmod or NrCreat or NrMknod:
                yield return SetIdRule(n, 1);
                break;
            case NrFchmodat or NrFchmodat2 or NrOpen or NrMknodat:
                yield return SetIdRule(n, 2);
                break;
            case NrOpenat:
                yield return SetIdRule(n, 3);
                break;
            case NrOpenat2:
                yield return new PolicyRule(n, null, SyscallAction.Errno(Enosys), "always-on: openat2 fails with ENOSYS (its mode is in a struct seccomp cannot read; callers fall back to openat, whose mode is checked)");
                yield break;
            case NrIoUringSetup or NrIoUringEnter or NrIoUringRegister when !AllowsIoUring && DefaultAction.Kind is SyscallActionKind.Allow or SyscallActionKind.Trace:
                // The builder refuses an explicit allow; an allow-all default does not open io_uring either.
                foreach (var r in mine ?? []) yield return r;
                yield return new PolicyRule(n, null, SyscallAction.Errno(Enosys), "always-on: io_uring is off (its operations bypass seccomp; DangerouslyAllowIoUring)");
                yield break;
            case NrExecveat or NrSendmsg when options.ExecNonce is ulong nonce:
                yield return new PolicyRule(n, Arg.Of(5).Equal(nonce), SyscallAction.Allow, "always-on: the sandbox's own tagged exec");
                break;
            case MagicSyscall:
                yield return new PolicyRule(n, null, SyscallAction.Errno(MagicSyscallErrno), "always-on: sandbox detection syscall");
                yield break;
        }
        foreach (var r in mine ?? []) yield return r;
        if (options.CommsFd is int commsFd && n == NrSendmsg)
            yield return new PolicyRule(n, Arg.Low32(0).Equal((uint)commsFd), SyscallAction.Allow, "SandboxMeHere: sendmsg on the Comms descriptor");
        if (options.CommsFd is not null && n == NrClose)
            yield return new PolicyRule(n, null, SyscallAction.Allow, "SandboxMeHere: close (the handshake closes the listener)");
        yield return new PolicyRule(n, null, DefaultFor(nr), DefaultFor(nr) == DefaultAction ? "default action" : $"default action above syscall {DefaultAbove!.Value.Highest}");
    }

    /// <summary>Creating or chmod-ing a file with S_ISUID/S_ISGID (mode argument <paramref name="modeArg"/>) fails with EPERM.</summary>
    private static PolicyRule SetIdRule(int n, int modeArg) =>
        new(n, Arg.Low32(modeArg).Masked(SetIdModeBits, ArgOp.NotEqual, 0), SyscallAction.Errno(Eperm),
            "always-on: no set-user-ID or set-group-ID file (mode bits 06000 fail with EPERM)");

    /// <summary>The rules for <paramref name="nr"/> as (condition, action) pairs, cut after the first unconditional one.</summary>
    internal List<(ArgCondition? When, SyscallAction Action)> GetChain(uint nr, PolicyCompileOptions options)
    {
        var chain = new List<(ArgCondition? When, SyscallAction Action)>();
        foreach (var r in GetRules(nr, options))
        {
            if (r.When is ConstCondition { Value: false }) continue;
            chain.Add((r.IsUnconditional ? null : r.When, r.Action));
            if (r.IsUnconditional) break;
        }
        if (chain.Count == 0 || chain[^1].When is not null) chain.Add((null, DefaultFor(nr)));
        // Conditional rules just before the final rule with the same action change nothing: drop them, so that
        // e.g. "mmap with PROT_EXEC → violation, else violation" becomes a plain violation.
        while (chain.Count >= 2 && chain[^2].Action == chain[^1].Action) chain.RemoveAt(chain.Count - 2);
        return chain;
    }

    /// <summary>Syscall numbers whose rules differ from the default action's.</summary>
    internal SortedSet<uint> GetSpecialNumbers() =>
        new(_byNumber.Keys.Select(k => (uint)k).Concat(new uint[]
        {
            NrPtrace, NrBpf, NrClone, NrUnshare, NrClone3, NrMmap, NrMprotect, NrPkeyMprotect, NrSeccomp,
            NrExecveat, NrSendmsg, NrClose, MagicSyscall, NrOpen, NrChmod, NrFchmod, NrCreat, NrMknod, NrOpenat,
            NrMknodat, NrFchmodat, NrFchmodat2, NrOpenat2, NrPrctl, NrIoUringSetup, NrIoUringEnter, NrIoUringRegister,
        }));
}
