namespace Sandbox2;

/// <summary>Builds a <see cref="Policy"/> with Sandbox2's vocabulary. First matching rule wins; a syscall no rule
/// matches gets the default action (a violation unless changed). Mistakes (unknown names, empty lists, rules that
/// contradict an earlier rule, rules on ptrace/bpf other than an errno) throw <see cref="PolicyException"/>.</summary>
public sealed partial class PolicyBuilder
{
    private readonly List<PolicyRule> _rules = [];
    private readonly List<PolicyRule> _overridable = [];
    private readonly HashSet<string> _applied = new(StringComparer.Ordinal);
    private SyscallAction _defaultAction = SyscallAction.Violation;
    private bool _allowMapExec;
    private (int Highest, SyscallAction Action)? _defaultAbove;
    private bool _allowSafeBpf;
    private bool _allowSpeculation;
    private bool _built;
    private bool _allowWriteExec;
    private bool _allowNestedSeccomp;
    private bool _allowIoUring;

    // ---- plain syscalls ----

    /// <summary>Allows syscall <paramref name="number"/> (x86-64) unconditionally.</summary>
    public PolicyBuilder AllowSyscall(int number) => AddRule(number, null, SyscallAction.Allow, "AllowSyscall");

    /// <summary>Allows syscall <paramref name="name"/> unconditionally.</summary>
    public PolicyBuilder AllowSyscall(string name) => AllowSyscall(Number(name));

    /// <summary>Allows the syscalls (x86-64 numbers).</summary>
    public PolicyBuilder AllowSyscalls(params int[] numbers)
    {
        NotEmpty(numbers, "AllowSyscalls");
        foreach (int n in numbers) AllowSyscall(n);
        return this;
    }

    /// <summary>Allows the syscalls by name; an unknown name throws a <see cref="PolicyException"/> naming it.</summary>
    public PolicyBuilder AllowSyscalls(params string[] names)
    {
        NotEmpty(names, "AllowSyscalls");
        var numbers = names.Select(Number).ToArray();   // all names are checked before anything is added
        foreach (int n in numbers) AllowSyscall(n);
        return this;
    }

    /// <summary>Makes syscall <paramref name="number"/> fail with <paramref name="errno"/> without running it.</summary>
    public PolicyBuilder BlockSyscallWithErrno(int number, int errno) => AddRule(number, null, SyscallAction.Errno(errno), "BlockSyscallWithErrno");

    /// <summary>Makes syscall <paramref name="name"/> fail with <paramref name="errno"/> without running it; an unknown name throws <see cref="PolicyException"/>.</summary>
    public PolicyBuilder BlockSyscallWithErrno(string name, int errno) => BlockSyscallWithErrno(Number(name), errno);

    /// <summary>Makes each of the named syscalls fail with <paramref name="errno"/> (every name is checked before anything is added).</summary>
    public PolicyBuilder BlockSyscallsWithErrno(IEnumerable<string> names, int errno)
    {
        var list = names?.ToArray() ?? [];
        NotEmpty(list, "BlockSyscallsWithErrno");
        var numbers = list.Select(Number).ToArray();
        foreach (int n in numbers) BlockSyscallWithErrno(n, errno);
        return this;
    }

    /// <summary>Makes each syscall number in <paramref name="numbers"/> fail with <paramref name="errno"/>.</summary>
    public PolicyBuilder BlockSyscallsWithErrno(IEnumerable<int> numbers, int errno)
    {
        var list = numbers?.ToArray() ?? [];
        NotEmpty(list, "BlockSyscallsWithErrno");
        foreach (int n in list) BlockSyscallWithErrno(n, errno);
        return this;
    }

    /// <summary>Sends syscall <paramref name="name"/> to the monitor (Sandbox2's SANDBOX2_TRACE).</summary>
    public PolicyBuilder TraceSyscall(string name) => AddRule(Number(name), null, SyscallAction.Trace, "TraceSyscall");

    // ---- argument conditions ----

    /// <summary>When <paramref name="when"/> holds for syscall <paramref name="number"/>, decide <paramref name="then"/>;
    /// otherwise later rules (or the default action) decide. Sandbox2's AddPolicyOnSyscall.</summary>
    public PolicyBuilder AddPolicyOnSyscall(int number, ArgCondition when, SyscallAction then)
    {
        ArgumentNullException.ThrowIfNull(when);
        return AddRule(number, when, then, "AddPolicyOnSyscall");
    }

    /// <summary>When <paramref name="when"/> holds for syscall <paramref name="name"/>, decide <paramref name="then"/> (Sandbox2's AddPolicyOnSyscall).</summary>
    public PolicyBuilder AddPolicyOnSyscall(string name, ArgCondition when, SyscallAction then) => AddPolicyOnSyscall(Number(name), when, then);

    /// <summary>Several conditional rules for one syscall, in order.</summary>
    public PolicyBuilder AddPolicyOnSyscall(string name, params (ArgCondition When, SyscallAction Then)[] rules)
    {
        NotEmpty(rules, "AddPolicyOnSyscall");
        int n = Number(name);
        foreach (var (when, then) in rules) AddPolicyOnSyscall(n, when, then);
        return this;
    }

    /// <summary>The same conditional rule for each named syscall (Sandbox2's AddPolicyOnSyscalls).</summary>
    public PolicyBuilder AddPolicyOnSyscalls(IEnumerable<string> names, ArgCondition when, SyscallAction then)
    {
        var list = names?.ToArray() ?? [];
        NotEmpty(list, "AddPolicyOnSyscalls");
        var numbers = list.Select(Number).ToArray();
        foreach (int n in numbers) AddPolicyOnSyscall(n, when, then);
        return this;
    }

    /// <summary>The same conditional rule for each syscall number (Sandbox2's AddPolicyOnSyscalls).</summary>
    public PolicyBuilder AddPolicyOnSyscalls(IEnumerable<int> numbers, ArgCondition when, SyscallAction then)
    {
        var list = numbers?.ToArray() ?? [];
        NotEmpty(list, "AddPolicyOnSyscalls");
        foreach (int n in list) AddPolicyOnSyscall(n, when, then);
        return this;
    }

    // ---- default action and tokens ----

    /// <summary>What happens to syscalls no rule matches: <see cref="SyscallAction.Violation"/> (the default),
    /// <see cref="SyscallAction.Allow"/> (Sandbox2's AllowAllSyscalls), <see cref="SyscallAction.Trace"/>
    /// (TraceAllSyscalls) or <see cref="SyscallAction.Errno(int)"/>.</summary>
    public PolicyBuilder DefaultAction(SyscallAction action)
    {
        _defaultAction = action;
        return this;
    }

    /// <summary>Syscall numbers above <paramref name="highest"/> that no rule names get <paramref name="action"/> instead of the
    /// default action: runc's ENOSYS stub for an OCI profile (a syscall newer than every syscall the profile names fails with
    /// ENOSYS, as on an older kernel, so the program falls back instead of failing with the profile's EPERM).</summary>
    public PolicyBuilder DefaultActionAbove(int highest, SyscallAction action)
    {
        CheckNumber(highest);
        _defaultAbove = (highest, action);
        return this;
    }

    /// <summary>Sandbox2's Allow(MapExec): turns off the always-on W^X guard (mmap/mprotect/pkey_mprotect with PROT_EXEC).</summary>
    public PolicyBuilder AllowMapExec()
    {
        _allowMapExec = true;
        return this;
    }

    /// <summary>Sandbox2's <c>AllowSafeBpf()</c>: <c>bpf()</c> only with the commands that work on maps and objects the
    /// program already holds (BPF_MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM, MAP_DELETE_ELEM, MAP_GET_NEXT_KEY, OBJ_GET,
    /// MAP_GET_NEXT_ID, MAP_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD); every other command (MAP_CREATE, PROG_LOAD, attach, ...)
    /// stays a violation, or the errno of a <see cref="BlockSyscallWithErrno(int, int)"/> on bpf, which still applies to
    /// every command not in this list. An always-on rule, not a user rule: it cannot be widened by later rules.</summary>
    public PolicyBuilder AllowSafeBpf()
    {
        _allowSafeBpf = true;
        return this;
    }

    /// <summary>Sandbox2's <c>Allow(SeccompSpeculation())</c>: install the filter with <c>SECCOMP_FILTER_FLAG_SPEC_ALLOW</c>,
    /// so the kernel leaves speculative store bypass as it is. By default (off) the kernel force-disables it for the
    /// sandboxee where its mitigation mode is <c>seccomp</c> (see
    /// <c>/sys/devices/system/cpu/vulnerabilities/spec_store_bypass</c>). Faster, weaker against Spectre v4.</summary>
    public PolicyBuilder AllowSeccompSpeculation()
    {
        _allowSpeculation = true;
        return this;
    }

    /// <summary>Turns off the always-on W^X rule for mappings that are writable and executable at once
    /// (mmap/mprotect/pkey_mprotect with PROT_WRITE|PROT_EXEC, which is otherwise a violation): for a JIT that writes
    /// code in place. Implies <see cref="AllowMapExec"/>. <see cref="AllowDotNetRuntime"/> turns it on.</summary>
    public PolicyBuilder AllowWriteExecMappings()
    {
        _allowMapExec = true;
        _allowWriteExec = true;
        return this;
    }

    /// <summary>Lets the sandboxee install further seccomp filters of its own (seccomp SET_MODE_FILTER/STRICT,
    /// prctl PR_SET_SECCOMP) where a rule allows those syscalls. Without it installing one is always a violation:
    /// a stacked filter returning an errno outranks the sandbox's user notification and would silence the
    /// violations the monitor reports. A filter with NEW_LISTENER stays a violation even with it.</summary>
    public PolicyBuilder AllowNestedSeccompFilters()
    {
        _allowNestedSeccomp = true;
        return this;
    }

    /// <summary><b>Dangerous.</b> Lets rules allow io_uring_setup, io_uring_enter and io_uring_register. io_uring runs
    /// operations (openat, socket, connect, ...) in the kernel without a syscall, so seccomp never sees them: allowing
    /// io_uring lets the sandboxee do everything its rings can, whatever the rest of the policy says. Without this call
    /// <see cref="Build"/> throws a <see cref="PolicyException"/> for any rule that allows or traces them, and an
    /// allow-all default answers them with ENOSYS.</summary>
    public PolicyBuilder DangerouslyAllowIoUring()
    {
        _allowIoUring = true;
        return this;
    }

    // ---- build ----

    /// <summary>Validates the rules and builds the policy (and the sandbox's namespace). A builder builds once: a second
    /// call throws <see cref="PolicyException"/> ("can only build once", as Sandbox2's <c>TryBuild</c>).</summary>
    public Policy Build()
    {
        if (_built) throw new PolicyException("PolicyBuilder: can only build once (create a new builder for another policy)");
        _built = true;
        Validate();
        var policy = new Policy(_rules, _overridable, _defaultAction, _allowMapExec, _defaultAbove, _allowSafeBpf,
            _allowWriteExec, _allowNestedSeccomp, _allowIoUring) { AllowsSpeculation = _allowSpeculation };
        // The largest variant must fit the kernel's limit (throws a PolicyException naming the size).
        policy.Compile(new PolicyCompileOptions(MonitorAttached: true, ExecNonce: 0x5eed5eed5eed5eedUL));
        policy.Namespace = BuildNamespace();
        policy.StackTraces = _stackTraces;
        return policy;
    }

    /// <summary>Policy-language semantics (Kafel's): the first matching rule wins, and a rule after an unconditional one
    /// for the same syscall is simply never reached (the language warns about it) instead of being an error.</summary>
    internal bool FirstMatchWins { get; set; }

    /// <summary>A rule from the policy language: like <see cref="AddRule"/>, but on ptrace and bpf an errno may carry a
    /// condition and a violation is accepted (the always-on rule decides the same).</summary>
    internal PolicyBuilder AddLanguageRule(int number, ArgCondition? when, SyscallAction action, string origin)
    {
        CheckNumber(number);
        _rules.Add(new PolicyRule(number, when, action, origin));
        return this;
    }

    private void Validate()
    {
        if (FirstMatchWins) return;
        // Contradictions: after an unconditional rule for a syscall, a later rule with a different action can never
        // apply; the caller most likely meant something else. (A repeat with the same action is a no-op.)
        var firstUnconditional = new Dictionary<int, PolicyRule>();
        foreach (var r in _rules)
        {
            if (firstUnconditional.TryGetValue(r.Number, out var earlier))
            {
                if (earlier.Action != r.Action)
                    throw new PolicyException(
                        $"conflicting rules for {r.SyscallName}: {earlier.Origin} already decides '{earlier.Action}' for every call, so {r.Origin} ('{r.Action}') can never apply");
                continue;
            }
            if (r.IsUnconditional) firstUnconditional[r.Number] = r;
        }
        if (!_allowIoUring)
        {
            foreach (var r in _rules.Concat(_overridable))
            {
                if (r.Number is Policy.NrIoUringSetup or Policy.NrIoUringEnter or Policy.NrIoUringRegister
                    && r.Action.Kind is SyscallActionKind.Allow or SyscallActionKind.Trace)
                    throw new PolicyException(
                        $"{r.SyscallName} ({r.Origin}): io_uring is refused in a sandbox: its operations (open, socket, connect, ...) run without a syscall, so seccomp never sees them and the rest of the policy would not hold (PolicyBuilder.DangerouslyAllowIoUring() accepts that)");
            }
        }
    }

    // ---- internals ----

    /// <summary>How many user rules there are (Sandbox2's policy_size, for its policybuilder_test port).</summary>
    internal int RuleCount => _rules.Count;

    /// <summary>Appends a rule (after validating it).</summary>
    internal PolicyBuilder AddRule(int number, ArgCondition? when, SyscallAction action, string origin)
    {
        CheckNumber(number);
        if (number is Policy.NrPtrace or Policy.NrBpf && (action.Kind != SyscallActionKind.Errno || when is not null and not ConstCondition { Value: true }))
            throw new PolicyException(
                $"{(number == Policy.NrPtrace ? "ptrace" : "bpf")} can only be blocked with an errno (BlockSyscallWithErrno); it is never allowed in a sandbox");
        // The same unconditional decision again changes nothing (Sandbox2 does not grow its policy for it either).
        if (when is null && _rules.Exists(r => r.Number == number && r.When is null && r.Action == action)) return this;
        _rules.Add(new PolicyRule(number, when, action, origin));
        return this;
    }

    /// <summary>Sandbox2's Overridable*: a rule that applies only after all user rules, so user rules win over it.</summary>
    internal PolicyBuilder AddOverridableRule(string name, ArgCondition? when, SyscallAction action, string origin) =>
        AddOverridableRule(Number(name), when, action, origin);

    /// <summary>Sandbox2's <c>OverridableBlockSyscallWithErrno</c> (reached through its PolicyBuilderPeer there; internal
    /// here too): <paramref name="number"/> fails with <paramref name="errno"/> unless a rule of the user's decides first.</summary>
    internal PolicyBuilder OverridableBlockSyscallWithErrno(int number, int errno) =>
        AddOverridableRule(number, null, SyscallAction.Errno(errno), nameof(OverridableBlockSyscallWithErrno));

    /// <summary>Sandbox2's <c>OverridableAddPolicyOnSyscalls</c> (peer-only there, internal here): conditional rules that
    /// apply after every rule of the user's.</summary>
    internal PolicyBuilder OverridablePolicyOnSyscalls(IEnumerable<int> numbers, params (ArgCondition When, SyscallAction Then)[] rules)
    {
        foreach (int n in numbers)
            foreach (var (when, then) in rules) AddOverridableRule(n, when, then, nameof(OverridablePolicyOnSyscalls));
        return this;
    }

    internal PolicyBuilder AddOverridableRule(int number, ArgCondition? when, SyscallAction action, string origin)
    {
        if (number is Policy.NrPtrace or Policy.NrBpf)
            throw new PolicyException("ptrace and bpf cannot have overridable rules");
        _overridable.Add(new PolicyRule(number, when, action, origin));
        return this;
    }

    /// <summary>Runs <paramref name="apply"/> once per builder (helpers are idempotent, as in Sandbox2).</summary>
    private PolicyBuilder Once(string helper, Action apply)
    {
        if (_applied.Add(helper)) apply();
        return this;
    }

    private static int Number(string name)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new PolicyException("empty syscall name");
        return SyscallTable.GetNumber(name.Trim());
    }

    private static void CheckNumber(int number)
    {
        if (number < 0 || (number & (int)Bpf.SeccompReturn.X32SyscallBit) != 0)
            throw new PolicyException($"syscall number {number} is out of range 0..0x3fffffff (x86-64 numbers only; x32 and negative numbers are always violations)");
    }

    private static void NotEmpty<T>(T[] items, string method)
    {
        if (items is null || items.Length == 0) throw new PolicyException($"{method}: empty syscall list");
    }
}
