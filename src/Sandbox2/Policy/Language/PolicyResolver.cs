namespace Sandbox2.Language;

/// <summary>Turns a parsed file into rules: expands <c>USE</c> (each policy at most once, as Kafel does), resolves
/// syscall names (the kernel's names; the names people write as aliases, with a warning), argument names and widths,
/// constants, <c>ON</c> guards, and turns conditions into <see cref="ArgCondition"/>s with Kafel's 32-bit rule.</summary>
internal sealed class PolicyResolver
{
    private readonly ProgramNode _program;
    private readonly List<PolicyDiagnostic> _warnings;
    private readonly List<Action<PolicyBuilder>> _steps = [];
    private readonly Dictionary<int, string> _decidedBy = [];
    private readonly SortedSet<int> _mentioned = [];
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private PolicyResolver(ProgramNode program, List<PolicyDiagnostic> warnings)
    {
        _program = program;
        _warnings = warnings;
    }

    public static PolicyDocument Resolve(ProgramNode program, List<PolicyDiagnostic> warnings)
    {
        var r = new PolicyResolver(program, warnings);
        r.Expand(program.Main);
        // DEFAULT ALLOW (or LOG) lets any mmap through, PROT_EXEC included: the W^X guard would contradict it.
        if (program.Default?.Action.Kind is SyscallActionKind.Allow or SyscallActionKind.Log)
            r._steps.Add(static b => b.AllowMapExec());
        return new PolicyDocument(r._steps, program.Default?.Action ?? SyscallAction.Violation, warnings, r._mentioned.ToArray());
    }

    /// <summary>Walks statements in order, splicing in used policies (iteratively: a long USE chain cannot overflow the stack).</summary>
    private void Expand(IReadOnlyList<StatementNode> main)
    {
        var stack = new Stack<(IReadOnlyList<StatementNode> List, int Next)>();
        stack.Push((main, 0));
        while (stack.Count > 0)
        {
            var (list, next) = stack.Pop();
            if (next >= list.Count) continue;
            stack.Push((list, next + 1));
            switch (list[next])
            {
                case UseNode use:
                    if (use.DefinedBefore && _program.Policies.TryGetValue(use.Name, out var policy))
                    {
                        if (_used.Add(use.Name)) stack.Push((policy.Statements, 0));
                    }
                    else UseBuiltin(use);
                    break;
                case ActionBlockNode block:
                    foreach (var filter in block.Filters) AddFilter(block.Action, filter);
                    break;
            }
        }
    }

    private void UseBuiltin(UseNode use)
    {
        string name = use.Name;
        string at = name;   // TryGetPreset: @NAME is a built-in policy, NAME a PolicyBuilder preset
        if (name.StartsWith('@') && SyscallGroups.TryGet(name, out var group))
        {
            if (!_used.Add(name)) return;
            AddGroup(new ActionNode(SyscallAction.Allow, use.At, "ALLOW"), name, group, use.At);
            return;
        }
        if (BuiltinPolicies.TryGetPreset(at, out var apply))
        {
            if (!_used.Add(at)) return;
            _steps.Add(apply);
            return;
        }
        if (!name.StartsWith('@') && _program.Policies.ContainsKey(name))
            throw Diagnostics.Error(use.At, $"Undefined policy `{name}'", "a policy must be defined before the USE that names it");
        var known = _program.Policies.Keys.Concat(BuiltinPolicies.Presets.Keys);
        throw Diagnostics.Error(use.At, name.StartsWith('@') ? $"Undefined group or preset `{name}'" : $"Undefined policy `{name}'",
            Suggestions.DidYouMean(name, name.StartsWith('@') ? SyscallGroups.Names.Concat(BuiltinPolicies.PolicyNames) : known));
    }

    private void AddGroup(ActionNode action, string name, IReadOnlyList<string> syscalls, Location at)
    {
        foreach (string s in syscalls)
        {
            int nr = SyscallTable.Find(s)?.Number ?? (SyscallArgs.TryGetNumber(s, out int k) ? k : -1);
            if (nr < 0) throw Diagnostics.Error(at, $"group `{name}' names an unknown syscall `{s}'");
            AddRule(nr, null, action, at, $"{action.Text} {name} ({s})");
        }
    }

    private void AddFilter(ActionNode action, FilterNode f)
    {
        if (f.IsGroup)
        {
            if (!SyscallGroups.TryGet(f.Name!, out var group))
                throw Diagnostics.Error(f.At, $"Undefined group `{f.Name}'", Suggestions.DidYouMean(f.Name!, SyscallGroups.Names));
            AddGroup(action, f.Name!, group, f.At);
            return;
        }
        if (f.Archs is not null)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (string a in f.Archs)
                if (!seen.Add(a)) throw Diagnostics.Error(f.At, $"Duplicate architecture `{a}' in ON guard");
            if (!seen.Contains("x86_64")) return;   // the rule is for other architectures: x86-64 is the only one allowed here
        }
        int nr;
        string shown;
        if (f.Number is ulong n)
        {
            if (n > uint.MaxValue) throw Diagnostics.Error(f.At, $"syscall number {n} out of range", "syscall numbers are 32-bit");
            if (n >= 0x40000000)
            {
                _warnings.Add(Diagnostics.Warning(f.At, $"SYSCALL[0x{n:x}] is not an x86-64 syscall number (x32 and other ABIs are always violations); the rule is ignored"));
                return;
            }
            nr = (int)n;
            shown = SyscallArgs.KernelName(nr) is { } kn ? $"SYSCALL[{nr}] ({kn})" : $"SYSCALL[{nr}]";
        }
        else
        {
            string name = f.Name!;
            if (!SyscallArgs.TryGetNumber(name, out nr))
            {
                if (SyscallTable.Find(name) is { } info)
                {
                    nr = info.Number;
                    string kernel = SyscallArgs.KernelName(nr) ?? name;
                    _warnings.Add(Diagnostics.Warning(f.At, $"`{name}' is the libc name of the kernel's `{kernel}' (syscall {nr}); using `{kernel}'",
                        $"write `{kernel}' (Kafel knows only the kernel's names)"));
                }
                else
                {
                    var candidates = SyscallArgs.KernelNames.Concat(SyscallTable.X86_64.Select(s => s.Name));
                    string? hint = Suggestions.DidYouMean(name, candidates);
                    if (KernelConstants.TryGet(name, out _)) hint = $"`{name}' is a kernel constant; a #define'd name here is a syscall number";
                    throw Diagnostics.Error(f.At, $"Undefined syscall `{name}'", hint);
                }
            }
            shown = name;
        }
        var table = SyscallArgs.Args(nr);
        var args = new List<SyscallArg>();
        if (f.ArgNames is not null)
            for (int i = 0; i < f.ArgNames.Count; i++)
                args.Add(new SyscallArg(f.ArgNames[i].Name, i < table.Count ? table[i].Width : 8));
        else args.AddRange(table);
        ArgCondition? when = null;
        if (f.Condition is not null)
        {
            var c = new ConditionBuilder(args, f.Condition).Build();
            if (c is ConstCondition { Value: false }) return;   // never true: no rule (Kafel drops it)
            if (c is not ConstCondition { Value: true }) when = c;
        }
        string origin = $"{f.At}: {action.Text} {shown}{(when is null ? "" : " { " + f.ConditionText + " }")}";
        AddRule(nr, when, action, f.At, origin);
    }

    private void AddRule(int nr, ArgCondition? when, ActionNode action, Location at, string origin)
    {
        _mentioned.Add(nr);
        if (_decidedBy.TryGetValue(nr, out var earlier))
        {
            _warnings.Add(Diagnostics.Warning(at, $"this rule for {SyscallArgs.KernelName(nr) ?? "syscall " + nr} can never apply: {earlier} already decides every call"));
            return;
        }
        if (when is null) _decidedBy[nr] = origin.Split(": ", 2)[0] + $" ({action.Text})";
        var a = action.Action;
        if (nr is Policy.NrPtrace or Policy.NrBpf)
        {
            if (a.IsViolation) return;   // what the always-on rule does anyway
            if (a.Kind != SyscallActionKind.Errno)
            {
                _warnings.Add(Diagnostics.Warning(at, $"{(nr == Policy.NrPtrace ? "ptrace" : "bpf")} is never allowed in a sandbox (an always-on rule); only an ERRNO rule can change it, so this {action.Text} rule is ignored"));
                return;
            }
        }
        // Allowing mmap/mprotect/pkey_mprotect outright allows PROT_EXEC too (as PolicyBuilder.AllowMmap does): Allow(MapExec).
        if (when is null && a.Kind is SyscallActionKind.Allow or SyscallActionKind.Log && nr is Policy.NrMmap or Policy.NrMprotect or Policy.NrPkeyMprotect)
            _steps.Add(static b => b.AllowMapExec());
        _steps.Add(b => b.AddLanguageRule(nr, when, a, origin));
    }

    /// <summary>Turns one filter's condition into an <see cref="ArgCondition"/>.</summary>
    private sealed class ConditionBuilder(IReadOnlyList<SyscallArg> args, ExprNode root)
    {
        public ArgCondition Build() => Bool(root);

        private ArgCondition Bool(ExprNode e)
        {
            switch (e)
            {
                case NotNode n:
                    return Bool(n.Inner) switch { ConstCondition k => new ConstCondition(!k.Value), var c => !c };
                case BinaryNode { Op: TokenKind.LogicAnd } b:
                {
                    var l = Bool(b.Left);
                    var r = Bool(b.Right);
                    if (l is ConstCondition lk) return lk.Value ? r : l;
                    if (r is ConstCondition rk) return rk.Value ? l : r;
                    return l & r;
                }
                case BinaryNode { Op: TokenKind.LogicOr } b:
                {
                    var l = Bool(b.Left);
                    var r = Bool(b.Right);
                    if (l is ConstCondition lk) return lk.Value ? l : r;
                    if (r is ConstCondition rk) return rk.Value ? r : l;
                    return l | r;
                }
                case BinaryNode b:
                    return Compare(b);
                default:
                    throw Diagnostics.Error(e.At, "syntax error: a value where a condition is expected");
            }
        }

        private ArgCondition Compare(BinaryNode b)
        {
            ArgOp op = b.Op switch
            {
                TokenKind.Eq => ArgOp.Equal, TokenKind.Neq => ArgOp.NotEqual, TokenKind.Lt => ArgOp.Less,
                TokenKind.Le => ArgOp.LessOrEqual, TokenKind.Gt => ArgOp.Greater, _ => ArgOp.GreaterOrEqual,
            };
            var l = Value(b.Left);
            var r = Value(b.Right);
            if (l is ConstValue lc && r is ConstValue rc)
                return new ConstCondition(new ExprCondition(lc, op, rc, false).Evaluate(new ulong[6]));
            if (l is ArgValue la && r is ArgValue ra && la.Index == ra.Index)
                return new ConstCondition(op is ArgOp.Equal or ArgOp.LessOrEqual or ArgOp.GreaterOrEqual);
            bool is32 = !Is64(l) && !Is64(r);
            if (l is ConstValue && r is not ConstValue) { (l, r) = (r, l); op = Mirror(op); }
            if (r is ConstValue value)
            {
                switch (l)
                {
                    case ArgValue a:
                        return new CompareCondition(a.Index, op, value.Value, ulong.MaxValue, is32);
                    case BitwiseValue { IsOr: false, Left: ArgValue a, Right: ConstValue m }:
                        return new CompareCondition(a.Index, op, value.Value, m.Value, is32);
                    case BitwiseValue { IsOr: false, Left: ConstValue m, Right: ArgValue a }:
                        return new CompareCondition(a.Index, op, value.Value, m.Value, is32);
                }
            }
            return new ExprCondition(l, op, r, is32);
        }

        private static ArgOp Mirror(ArgOp op) => op switch
        {
            ArgOp.Less => ArgOp.Greater, ArgOp.Greater => ArgOp.Less, ArgOp.LessOrEqual => ArgOp.GreaterOrEqual,
            ArgOp.GreaterOrEqual => ArgOp.LessOrEqual, _ => op,
        };

        /// <summary>Kafel's is_64bit: a 64-bit argument or a constant wider than 32 bits anywhere in the side.</summary>
        private bool Is64(ArgExpr e) => e switch
        {
            ConstValue c => c.Value > uint.MaxValue,
            ArgValue a => args[a.Index].Width == 8,
            BitwiseValue b => Is64(b.Left) || Is64(b.Right),
            _ => true,
        };

        private ArgExpr Value(ExprNode e)
        {
            switch (e)
            {
                case NumberNode n: return new ConstValue(n.Value);
                case IdentNode id:
                    for (int i = 0; i < args.Count; i++)
                        if (args[i].Name == id.Name) return new ArgValue(i);
                    if (KernelConstants.TryGet(id.Name, out ulong k)) return new ConstValue(k);
                    throw Diagnostics.Error(id.At, $"Undefined identifier `{id.Name}'",
                        Suggestions.DidYouMean(id.Name, args.Select(a => a.Name).Concat(KernelConstants.Names))
                        ?? (args.Count > 0 ? "the arguments are " + string.Join(", ", args.Select(a => a.Name)) : "this syscall's arguments have no names here; declare them: name(a, b, c)"));
                case BinaryNode { Op: TokenKind.BitAnd or TokenKind.BitOr } b:
                {
                    bool or = b.Op == TokenKind.BitOr;
                    var l = Value(b.Left);
                    var r = Value(b.Right);
                    if (l is ConstValue x && r is ConstValue y) return new ConstValue(or ? x.Value | y.Value : x.Value & y.Value);
                    ulong clobber = or ? ulong.MaxValue : 0, identity = or ? 0 : ulong.MaxValue;
                    if (l is ConstValue) (l, r) = (r, l);
                    if (r is ConstValue c)
                    {
                        if (c.Value == clobber) return c;
                        if (c.Value == identity) return l;
                    }
                    return new BitwiseValue(l, or, r);
                }
                default:
                    throw Diagnostics.Error(e.At, "syntax error: a condition where a value is expected", "compare values with ==, !=, <, <=, > or >=");
            }
        }
    }
}
