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

    /// <summary>Sandbox2's Allow(MapExec): turns off the always-on W^X guard (mmap/mprotect/pkey_mprotect with PROT_EXEC).</summary>
    public PolicyBuilder AllowMapExec()
    {
        _allowMapExec = true;
        return this;
    }

    // ---- build ----

    /// <summary>Validates the rules and builds the policy (and the sandbox's namespace).</summary>
    public Policy Build()
    {
        Validate();
        var policy = new Policy(_rules, _overridable, _defaultAction, _allowMapExec);
        // The largest variant must fit the kernel's limit (throws a PolicyException naming the size).
        policy.Compile(new PolicyCompileOptions(MonitorAttached: true, ExecNonce: 0x5eed5eed5eed5eedUL));
        policy.Namespace = BuildNamespace();
        policy.StackTraces = _stackTraces;
        return policy;
    }

    private void Validate()
    {
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
    }

    // ---- internals ----

    /// <summary>Appends a rule (after validating it).</summary>
    internal PolicyBuilder AddRule(int number, ArgCondition? when, SyscallAction action, string origin)
    {
        CheckNumber(number);
        if (number is Policy.NrPtrace or Policy.NrBpf && (action.Kind != SyscallActionKind.Errno || when is not null and not ConstCondition { Value: true }))
            throw new PolicyException(
                $"{(number == Policy.NrPtrace ? "ptrace" : "bpf")} can only be blocked with an errno (BlockSyscallWithErrno); it is never allowed in a sandbox");
        _rules.Add(new PolicyRule(number, when, action, origin));
        return this;
    }

    /// <summary>Sandbox2's Overridable*: a rule that applies only after all user rules, so user rules win over it.</summary>
    internal PolicyBuilder AddOverridableRule(string name, ArgCondition? when, SyscallAction action, string origin)
    {
        int number = Number(name);
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
