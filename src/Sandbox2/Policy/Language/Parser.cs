namespace Sandbox2.Language;

/// <summary>Recursive-descent parser for Kafel's grammar (src/parser.y), with Kafel's error messages:
/// <code>
/// program     : { '#' define IDENT NUMBER | POLICY IDENT '{' [stmts] '}' | stmts | DEFAULT action }+
/// stmts       : stmt { ',' stmt }                      (top level: blocks may also sit side by side)
/// stmt        : USE IDENT | action '{' [ filter { ',' filter } ] '}'
/// action      : ALLOW | LOG | KILL | KILL_THREAD | DENY | KILL_PROCESS | USER_NOTIF | (ERRNO|TRAP|TRACE) '(' NUMBER ')'
/// filter      : (IDENT | SYSCALL '[' NUMBER ']') [ '(' [ IDENT { ',' IDENT } ] ')' ] [ ON arch | ON '{' arch {, arch} '}' ] [ '{' [bool] '}' ]
/// bool        : or { ',' or }           or  : and { '||' and }        and : prim { '&amp;&amp;' prim }
/// prim        : '(' bool ')' | '!' prim | bits cmp bits
/// bits        : band { '|' band }       band : operand { '&amp;' operand }     operand : NUMBER | IDENT | '(' bits ')'
/// </code>
/// Beyond Kafel: <c>USE @name</c> and <c>@group</c> as a filter; <c>ERRNO(EPERM)</c> (a constant name as the value).</summary>
internal sealed class Parser
{
    /// <summary>Kafel's expression depth limit (MAX_EXPRESSION_DEPTH); also bounds parenthesis nesting.</summary>
    public const int MaxExpressionDepth = 200;

    private readonly List<Token> _t;
    private readonly int[] _match;
    private readonly ProgramNode _program = new();
    private readonly List<PolicyDiagnostic> _warnings;
    private int _p;
    private int _nesting;

    private Parser(List<Token> tokens, List<PolicyDiagnostic> warnings)
    {
        _t = tokens;
        _warnings = warnings;
        _match = new int[tokens.Count];
        var stack = new Stack<int>();
        for (int i = 0; i < tokens.Count; i++)
        {
            _match[i] = -1;
            if (tokens[i].Kind == TokenKind.LParen) stack.Push(i);
            else if (tokens[i].Kind == TokenKind.RParen && stack.Count > 0) _match[stack.Pop()] = i;
        }
    }

    public static ProgramNode Parse(List<Token> tokens, List<PolicyDiagnostic> warnings)
    {
        var p = new Parser(tokens, warnings);
        p.ParseProgram();
        return p._program;
    }

    private Token Peek => _t[_p];
    private Token PeekAt(int k) => _t[Math.Min(_p + k, _t.Count - 1)];
    private Token Take() => _t[_p < _t.Count - 1 ? _p++ : _p];
    private bool At(TokenKind k) => Peek.Kind == k;

    private PolicyLanguageException Unexpected(string expecting, string? hint = null)
    {
        var tok = Peek;
        return Diagnostics.Error(tok.Location, $"syntax error, unexpected {tok.Describe()}{(expecting.Length > 0 ? ", expecting " + expecting : "")}", hint);
    }

    private Token Expect(TokenKind k, string? hint = null)
    {
        if (!At(k)) throw Unexpected(Lexer.Spell(k), hint);
        return Take();
    }

    private static bool IsAction(TokenKind k) => k is TokenKind.Allow or TokenKind.Log or TokenKind.Kill or TokenKind.KillThread
        or TokenKind.Deny or TokenKind.KillProcess or TokenKind.UserNotif or TokenKind.Errno or TokenKind.Trace or TokenKind.Trap;

    private void ParseProgram()
    {
        if (At(TokenKind.EndOfFile)) throw Unexpected("POLICY, USE, DEFAULT, an action or #define", "an empty policy allows nothing: write at least DEFAULT KILL");
        while (!At(TokenKind.EndOfFile))
        {
            switch (Peek.Kind)
            {
                case TokenKind.Hash: ParseDefine(); break;
                case TokenKind.Policy:
                    var policy = ParsePolicy();
                    if (_program.Policies.ContainsKey(policy.Name))
                        throw Diagnostics.Error(policy.At, $"Redefinition of policy `{policy.Name}'");
                    _program.Policies.Add(policy.Name, policy);
                    break;
                case TokenKind.Default:
                    var at = Take().Location;
                    var action = ParseAction();
                    if (_program.Default is not null) throw Diagnostics.Error(at, "Redefinition of default action", $"the default is already set at {_program.Default.At}");
                    _program.Default = action;
                    break;
                case TokenKind.Use:
                case var k when IsAction(k):
                    _program.Main.AddRange(ParseStatements(inPolicy: false));
                    break;
                default:
                    throw Unexpected("POLICY, USE, DEFAULT, an action or #define",
                        At(TokenKind.Identifier) ? "a syscall list goes inside an action block, e.g. ALLOW { read, write }" : null);
            }
        }
    }

    private void ParseDefine()
    {
        var at = Take().Location;
        Expect(TokenKind.Define, "write #define NAME VALUE");
        var name = Expect(TokenKind.Identifier);
        var value = Expect(TokenKind.Number);
        if (_program.Constants.TryGetValue(name.Text, out ulong old))
        {
            if (old != value.Number)
                throw Diagnostics.Error(at, $"Redefinition of constant `{name.Text}' with different value (was: {old} is: {value.Number})");
            return;
        }
        _program.Constants[name.Text] = value.Number;
    }

    private PolicyNode ParsePolicy()
    {
        var at = Take().Location;
        var name = Expect(TokenKind.Identifier);
        Expect(TokenKind.LBrace);
        var statements = At(TokenKind.RBrace) ? [] : ParseStatements(inPolicy: true);
        if (!At(TokenKind.RBrace))
        {
            string? hint = At(TokenKind.Default)
                ? "DEFAULT belongs outside POLICY { ... } (the nsjail README's example has this mistake): POLICY p { ... } USE p DEFAULT KILL"
                : IsAction(Peek.Kind) || At(TokenKind.Use) ? "inside POLICY { ... } statements are separated by ','" : null;
            throw Unexpected("'}' or ','", hint);
        }
        Take();
        return new PolicyNode(name.Text, statements, at);
    }

    private List<StatementNode> ParseStatements(bool inPolicy)
    {
        var list = new List<StatementNode> { ParseStatement() };
        while (At(TokenKind.Comma))
        {
            Take();
            // Beyond Kafel (an error there): USE a, b  ==  USE a, USE b (the contract's own example is written so).
            if (list[^1] is UseNode && PeekAt(0).Kind is TokenKind.Identifier or TokenKind.AtName)
            {
                var t = Take();
                list.Add(new UseNode(t.Text, t.Location, t.Kind == TokenKind.Identifier && _program.Policies.ContainsKey(t.Text)));
                continue;
            }
            list.Add(ParseStatement());
        }
        _ = inPolicy;
        return list;
    }

    private StatementNode ParseStatement()
    {
        if (At(TokenKind.Use))
        {
            var at = Take().Location;
            if (At(TokenKind.AtName)) { var g = Take(); return new UseNode(g.Text, g.Location, false); }
            var name = Expect(TokenKind.Identifier);
            return new UseNode(name.Text, name.Location, _program.Policies.ContainsKey(name.Text));
        }
        if (!IsAction(Peek.Kind)) throw Unexpected("USE or an action");
        var action = ParseAction();
        Expect(TokenKind.LBrace);
        var filters = new List<FilterNode>();
        if (!At(TokenKind.RBrace))
        {
            filters.Add(ParseFilter());
            while (At(TokenKind.Comma)) { Take(); filters.Add(ParseFilter()); }
        }
        if (!At(TokenKind.RBrace))
            throw Unexpected("'}' or ','", At(TokenKind.Identifier) ? "syscalls in a list are separated by ','" : null);
        Take();
        return new ActionBlockNode(action, filters, action.At);
    }

    private ActionNode ParseAction()
    {
        var tok = Take();
        switch (tok.Kind)
        {
            case TokenKind.Allow: return new ActionNode(SyscallAction.Allow, tok.Location, "ALLOW");
            case TokenKind.Log: return new ActionNode(SyscallAction.Log, tok.Location, "LOG");
            case TokenKind.Kill: return new ActionNode(SyscallAction.Violation, tok.Location, "KILL");
            case TokenKind.Deny: return new ActionNode(SyscallAction.Violation, tok.Location, "DENY");
            case TokenKind.KillThread: return new ActionNode(SyscallAction.KillThread, tok.Location, "KILL_THREAD");
            case TokenKind.KillProcess: return new ActionNode(SyscallAction.KillProcess, tok.Location, "KILL_PROCESS");
            case TokenKind.UserNotif: return new ActionNode(SyscallAction.UserNotif, tok.Location, "USER_NOTIF");
            case TokenKind.Errno or TokenKind.Trace or TokenKind.Trap:
                string word = tok.Kind switch { TokenKind.Errno => "Errno", TokenKind.Trace => "Trace", _ => "Trap" };
                Expect(TokenKind.LParen, $"{tok.Text} takes a value: {tok.Text}(1)");
                ulong value;
                var v = Peek;
                if (At(TokenKind.Number)) value = Take().Number;
                else if (At(TokenKind.Identifier) && (_program.Constants.TryGetValue(v.Text, out value) || KernelConstants.TryGet(v.Text, out value))) Take();
                else throw Unexpected("NUMBER", At(TokenKind.Identifier) ? Suggestions.DidYouMean(v.Text, KernelConstants.Names.Where(n => n.StartsWith('E'))) : null);
                if (value > 0xffff) throw Diagnostics.Error(v.Location, $"{word} value {value} out of range (0-65535)");
                Expect(TokenKind.RParen);
                string text = $"{tok.Text}({value})";
                if (tok.Kind == TokenKind.Errno)
                {
                    if (value > SyscallAction.MaxErrno)
                    {
                        _warnings.Add(Diagnostics.Warning(v.Location, $"errno {value} is larger than the kernel's MAX_ERRNO; the kernel answers {SyscallAction.MaxErrno}"));
                        value = SyscallAction.MaxErrno;
                    }
                    return new ActionNode(SyscallAction.Errno((int)value), tok.Location, text);
                }
                return new ActionNode(tok.Kind == TokenKind.Trace ? SyscallAction.TraceWithValue((int)value) : SyscallAction.Trap((int)value), tok.Location, text);
            default:
                _p--;
                throw Unexpected("an action (ALLOW, LOG, KILL, KILL_PROCESS, KILL_THREAD, DENY, ERRNO(n), TRAP(n), TRACE(n), USER_NOTIF)");
        }
    }

    private FilterNode ParseFilter()
    {
        var first = Peek;
        string? name = null;
        ulong? number = null;
        bool group = false;
        if (At(TokenKind.AtName)) { name = Take().Text; group = true; }
        else if (At(TokenKind.Syscall))
        {
            Take();
            Expect(TokenKind.LBracket, "write SYSCALL[number]");
            number = Expect(TokenKind.Number).Number;
            Expect(TokenKind.RBracket);
        }
        else if (At(TokenKind.Identifier))
        {
            var id = Take();
            if (_program.Constants.TryGetValue(id.Text, out ulong nr)) number = nr;   // a #define'd constant: a custom syscall number
            else name = id.Text;
        }
        else throw Unexpected("IDENTIFIER or SYSCALL", Peek.Kind is TokenKind.Allow or TokenKind.Kill or TokenKind.Errno ? "is a '}' missing before this action?" : null);

        List<(string, Location)>? args = null;
        if (!group && At(TokenKind.LParen))
        {
            Take();
            args = [];
            if (!At(TokenKind.RParen))
            {
                while (true)
                {
                    var a = Expect(TokenKind.Identifier);
                    if (args.Any(x => x.Item1 == a.Text)) throw Diagnostics.Error(a.Location, $"Redefinition of argument `{a.Text}'");
                    if (args.Count == 6) throw Diagnostics.Error(a.Location, "Too many arguments defined for syscall", "a syscall has at most 6 arguments");
                    args.Add((a.Text, a.Location));
                    if (!At(TokenKind.Comma)) break;
                    Take();
                }
            }
            Expect(TokenKind.RParen);
        }
        List<string>? archs = null;
        if (At(TokenKind.On))
        {
            Take();
            archs = [];
            if (At(TokenKind.LBrace))
            {
                Take();
                archs.Add(Arch());
                while (At(TokenKind.Comma)) { Take(); archs.Add(Arch()); }
                Expect(TokenKind.RBrace);
            }
            else archs.Add(Arch());
        }
        ExprNode? condition = null;
        string? conditionText = null;
        if (At(TokenKind.LBrace))
        {
            Take();
            int from = _p;
            if (!At(TokenKind.RBrace)) condition = ParseBool();
            conditionText = Render(from, _p);
            if (!At(TokenKind.RBrace)) throw Unexpected("'}'", At(TokenKind.Identifier) || At(TokenKind.Number) ? "conditions are joined with && or || (',' also means or)" : null);
            Take();
        }
        return new FilterNode(name, number, group, args, archs, condition, first.Location) { ConditionText = conditionText };
    }

    /// <summary>Tokens [from, to) as text, for messages (at most 160 characters).</summary>
    private string Render(int from, int to)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = from; i < to && sb.Length < 160; i++)
        {
            var t = _t[i];
            bool tight = t.Kind is TokenKind.RParen || i > from && _t[i - 1].Kind is TokenKind.LParen or TokenKind.Not;
            if (sb.Length > 0 && !tight) sb.Append(' ');
            sb.Append(t.Text);
        }
        return sb.Length > 160 ? sb.ToString(0, 157) + "..." : sb.ToString();
    }

    private static readonly Dictionary<string, string> ArchAliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["arm"] = "arm", ["aarch64"] = "aarch64", ["arm64"] = "aarch64", ["x86_64"] = "x86_64", ["amd64"] = "x86_64",
        ["x86"] = "x86", ["i386"] = "x86", ["mips"] = "mips", ["mipso32"] = "mips", ["mips64"] = "mips64",
        ["riscv64"] = "riscv64", ["rv64"] = "riscv64", ["m68k"] = "m68k",
    };

    private string Arch()
    {
        var tok = Expect(TokenKind.Identifier);
        if (!ArchAliases.TryGetValue(tok.Text, out var arch))
            throw Diagnostics.Error(tok.Location, $"Unknown architecture `{tok.Text}'", Suggestions.DidYouMean(tok.Text, ArchAliases.Keys) ?? "known: " + string.Join(", ", ArchAliases.Keys));
        return arch;
    }

    // ---- expressions ----

    private void Enter(Location at)
    {
        if (++_nesting > MaxExpressionDepth) throw Diagnostics.Error(at, $"Max expression depth ({MaxExpressionDepth}) exceeded");
    }

    private static BinaryNode Binary(TokenKind op, ExprNode l, ExprNode r, Location at)
    {
        if (l.Depth >= MaxExpressionDepth || r.Depth >= MaxExpressionDepth)
            throw Diagnostics.Error(at, $"Max expression depth ({MaxExpressionDepth}) exceeded");
        return new BinaryNode(op, l, r, at);
    }

    private ExprNode ParseBool()
    {
        Enter(Peek.Location);
        var at = Peek.Location;
        var e = ParseOr();
        while (At(TokenKind.Comma)) { Take(); e = Binary(TokenKind.LogicOr, e, ParseOr(), at); }
        _nesting--;
        return e;
    }

    private ExprNode ParseOr()
    {
        var at = Peek.Location;
        var e = ParseAnd();
        while (At(TokenKind.LogicOr)) { Take(); e = Binary(TokenKind.LogicOr, e, ParseAnd(), at); }
        return e;
    }

    private ExprNode ParseAnd()
    {
        var at = Peek.Location;
        var e = ParsePrim();
        while (At(TokenKind.LogicAnd)) { Take(); e = Binary(TokenKind.LogicAnd, e, ParsePrim(), at); }
        return e;
    }

    private static bool IsCompare(TokenKind k) => k is TokenKind.Eq or TokenKind.Neq or TokenKind.Lt or TokenKind.Le or TokenKind.Gt or TokenKind.Ge;

    private ExprNode ParsePrim()
    {
        var at = Peek.Location;
        if (At(TokenKind.Not))
        {
            Take();
            Enter(at);
            var inner = ParsePrim();
            _nesting--;
            if (inner.Depth >= MaxExpressionDepth) throw Diagnostics.Error(at, $"Max expression depth ({MaxExpressionDepth}) exceeded");
            return new NotNode(inner, at);
        }
        if (At(TokenKind.LParen))
        {
            // '(' starts a parenthesised condition, unless what follows its ')' continues a value: then it is (bits).
            int close = _match[_p];
            var after = close >= 0 ? _t[close + 1].Kind : TokenKind.EndOfFile;
            if (!(IsCompare(after) || after is TokenKind.BitAnd or TokenKind.BitOr))
            {
                Take();
                var e = ParseBool();
                Expect(TokenKind.RParen);
                return e;
            }
        }
        var left = ParseBits();
        if (!IsCompare(Peek.Kind))
            throw Unexpected("a comparison (==, !=, <, <=, >, >=)", "a condition compares values, e.g. fd == 1 or (flags & O_CREAT) == 0");
        var op = Take().Kind;
        var right = ParseBits();
        return Binary(op, left, right, at);
    }

    private ExprNode ParseBits()
    {
        var at = Peek.Location;
        var e = ParseBand();
        while (At(TokenKind.BitOr)) { Take(); e = Binary(TokenKind.BitOr, e, ParseBand(), at); }
        return e;
    }

    private ExprNode ParseBand()
    {
        var at = Peek.Location;
        var e = ParseOperand();
        while (At(TokenKind.BitAnd)) { Take(); e = Binary(TokenKind.BitAnd, e, ParseOperand(), at); }
        return e;
    }

    private ExprNode ParseOperand()
    {
        var tok = Peek;
        switch (tok.Kind)
        {
            case TokenKind.Number: Take(); return new NumberNode(tok.Number, tok.Location);
            case TokenKind.Identifier:
                Take();
                return _program.Constants.TryGetValue(tok.Text, out ulong v) ? new NumberNode(v, tok.Location) : new IdentNode(tok.Text, tok.Location);
            case TokenKind.LParen:
                Take();
                Enter(tok.Location);
                var e = ParseBits();
                _nesting--;
                Expect(TokenKind.RParen);
                return e;
            default:
                throw Unexpected("NUMBER, IDENTIFIER or '('");
        }
    }
}
