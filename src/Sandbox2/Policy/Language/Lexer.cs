namespace Sandbox2.Language;

/// <summary>Turns policy text into tokens, as Kafel's lexer does: <c>//</c> and <c>/* */</c> comments, identifiers
/// <c>[A-Za-z][A-Za-z0-9_]*</c>, 64-bit numbers (decimal with an optional leading <c>-</c> that wraps, <c>0x</c> hex,
/// <c>0</c> octal, <c>0b</c> binary), reserved keywords, operators, and <c>#include "file" ...</c> ended by a newline
/// or <c>;</c>, whose files are read through <see cref="Includes"/> and lexed in place. Beyond Kafel: <c>@name</c>
/// (named groups and presets, letters, digits, <c>_</c> and <c>-</c>).</summary>
internal sealed class Lexer
{
    private static readonly Dictionary<string, TokenKind> Keywords = new(StringComparer.Ordinal)
    {
        ["SYSCALL"] = TokenKind.Syscall, ["ALLOW"] = TokenKind.Allow, ["LOG"] = TokenKind.Log, ["USER_NOTIF"] = TokenKind.UserNotif,
        ["ERRNO"] = TokenKind.Errno, ["KILL_PROCESS"] = TokenKind.KillProcess, ["KILL_THREAD"] = TokenKind.KillThread,
        ["KILL"] = TokenKind.Kill, ["DENY"] = TokenKind.Deny, ["TRAP"] = TokenKind.Trap, ["TRACE"] = TokenKind.Trace,
        ["USE"] = TokenKind.Use, ["POLICY"] = TokenKind.Policy, ["DEFAULT"] = TokenKind.Default, ["ON"] = TokenKind.On,
        ["define"] = TokenKind.Define,
    };

    /// <summary>Tokens in one list (at most this many, to bound memory on hostile input).</summary>
    public const int MaxTokens = 1_000_000;

    private readonly Includes _includes;
    private readonly List<Token> _tokens = [];

    private Lexer(Includes includes) => _includes = includes;

    /// <summary>All tokens of <paramref name="root"/> (includes spliced in), ending with one EndOfFile token.</summary>
    public static List<Token> Tokenize(SourceFile root, Includes includes)
    {
        var lexer = new Lexer(includes);
        lexer.Run(root, depth: 0);
        lexer._tokens.Add(new Token(TokenKind.EndOfFile, "", 0, lexer._end));
        return lexer._tokens;
    }

    private Location _end;

    /// <summary>The spelling of a keyword or operator token kind.</summary>
    public static string Spell(TokenKind kind) => kind switch
    {
        TokenKind.Eq => "==", TokenKind.Neq => "!=", TokenKind.Le => "<=", TokenKind.Lt => "<", TokenKind.Ge => ">=", TokenKind.Gt => ">",
        TokenKind.LogicOr => "||", TokenKind.LogicAnd => "&&", TokenKind.BitOr => "'|'", TokenKind.BitAnd => "'&'",
        TokenKind.LBracket => "'['", TokenKind.RBracket => "']'", TokenKind.LParen => "'('", TokenKind.RParen => "')'",
        TokenKind.LBrace => "'{'", TokenKind.RBrace => "'}'", TokenKind.Comma => "','", TokenKind.Not => "'!'", TokenKind.Hash => "'#'",
        TokenKind.Identifier => "IDENTIFIER", TokenKind.Number => "NUMBER", TokenKind.AtName => "@NAME", TokenKind.EndOfFile => "end of file",
        _ => Keywords.FirstOrDefault(k => k.Value == kind).Key ?? kind.ToString(),
    };

    private void Run(SourceFile file, int depth)
    {
        string s = file.Text;
        int i = 0, line = 1, lineStart = 0;
        Location Here(int at) => new(file, line, at - lineStart + 1);
        PolicyLanguageException Error(int at, string message, string? hint = null) =>
            Diagnostics.Error(Here(at), message, hint);

        while (i < s.Length)
        {
            char c = s[i];
            if (c == '\n') { i++; line++; lineStart = i; continue; }
            if (c is ' ' or '\t' or '\r' or '\f' or '\v') { i++; continue; }
            if (c == '/' && i + 1 < s.Length && s[i + 1] == '/')
            {
                while (i < s.Length && s[i] != '\n') i++;
                continue;
            }
            if (c == '/' && i + 1 < s.Length && s[i + 1] == '*')
            {
                int start = i;
                int startLine = line, startCol = i - lineStart + 1;
                i += 2;
                while (true)
                {
                    if (i >= s.Length)
                        throw Diagnostics.Error(new Location(file, startLine, startCol), "unterminated comment", "a /* comment needs its */");
                    if (s[i] == '\n') { i++; line++; lineStart = i; continue; }
                    if (s[i] == '*' && i + 1 < s.Length && s[i + 1] == '/') { i += 2; break; }
                    i++;
                }
                _ = start;
                continue;
            }
            if (_tokens.Count >= MaxTokens) throw Error(i, $"policy too large (more than {MaxTokens} tokens)");
            if (char.IsAsciiLetter(c))
            {
                int start = i;
                while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] == '_')) i++;
                string word = s[start..i];
                _tokens.Add(new Token(Keywords.TryGetValue(word, out var kw) ? kw : TokenKind.Identifier, word, 0, Here(start)));
                continue;
            }
            if (c == '@')
            {
                int start = i++;
                while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] is '_' or '-')) i++;
                if (i == start + 1) throw Error(start, "unexpected char `@'", "a named group or preset is written @name, e.g. @basic-io");
                _tokens.Add(new Token(TokenKind.AtName, s[start..i], 0, Here(start)));
                continue;
            }
            if (char.IsAsciiDigit(c) || c == '-' && i + 1 < s.Length && s[i + 1] is >= '1' and <= '9')
            {
                int start = i;
                _tokens.Add(LexNumber(s, ref i, Here(start), Error));
                continue;
            }
            if (c == '#' && string.CompareOrdinal(s, i, "#include", 0, 8) == 0)
            {
                int start = i;
                i += 8;
                IncludeDirective(file, s, ref i, ref line, ref lineStart, start, depth, Here, Error);
                continue;
            }
            TokenKind? op = null;
            int len = 1;
            char n = i + 1 < s.Length ? s[i + 1] : '\0';
            switch (c)
            {
                case '=' when n == '=': op = TokenKind.Eq; len = 2; break;
                case '!' when n == '=': op = TokenKind.Neq; len = 2; break;
                case '<' when n == '=': op = TokenKind.Le; len = 2; break;
                case '>' when n == '=': op = TokenKind.Ge; len = 2; break;
                case '|' when n == '|': op = TokenKind.LogicOr; len = 2; break;
                case '&' when n == '&': op = TokenKind.LogicAnd; len = 2; break;
                case '<': op = TokenKind.Lt; break;
                case '>': op = TokenKind.Gt; break;
                case '|': op = TokenKind.BitOr; break;
                case '&': op = TokenKind.BitAnd; break;
                case '[': op = TokenKind.LBracket; break;
                case ']': op = TokenKind.RBracket; break;
                case '(': op = TokenKind.LParen; break;
                case ')': op = TokenKind.RParen; break;
                case '{': op = TokenKind.LBrace; break;
                case '}': op = TokenKind.RBrace; break;
                case ',': op = TokenKind.Comma; break;
                case '!': op = TokenKind.Not; break;
                case '#': op = TokenKind.Hash; break;
            }
            if (op is null)
            {
                string shown = char.IsControl(c) || c > '~' ? $"\\u{(int)c:x4}" : c.ToString();
                string? hint = c switch
                {
                    '=' => "comparison is ==",
                    ';' => "statements are separated by ',' (or nothing, at the top level)",
                    '~' => "there is no ~: compare with a mask instead, e.g. (flags & MASK) == 0",
                    '+' or '*' or '/' or '%' or '^' => "there is no arithmetic: only | and & on values",
                    '"' => "quoted file names only follow #include",
                    '-' => "a negative number is written -1 (no space); there is no subtraction",
                    _ => null,
                };
                throw Error(i, $"unexpected char `{shown}'", hint);
            }
            _tokens.Add(new Token(op.Value, s.Substring(i, len), 0, Here(i)));
            i += len;
        }
        _end = Here(i);
    }

    private static Token LexNumber(string s, ref int i, Location at, Func<int, string, string?, PolicyLanguageException> error)
    {
        int start = i;
        bool negative = s[i] == '-';
        int radix = 10;
        if (negative) i++;
        if (!negative && s[i] == '0' && At(s, i + 1) == 'x' && char.IsAsciiHexDigit(At(s, i + 2))) { radix = 16; i += 2; }
        else if (!negative && s[i] == '0' && At(s, i + 1) == 'b' && At(s, i + 2) is '0' or '1') { radix = 2; i += 2; }
        else if (!negative && s[i] == '0' && char.IsAsciiDigit(At(s, i + 1))) { radix = 8; i++; }
        int digitsStart = i;
        if (radix == 10 && !negative && s[i] == '0') i++;
        else
            while (i < s.Length && (radix == 16 ? char.IsAsciiHexDigit(s[i]) : radix == 2 ? s[i] is '0' or '1' : char.IsAsciiDigit(s[i]))) i++;
        string text = s[start..i];
        ulong value = 0;
        foreach (char d in s.AsSpan(digitsStart, i - digitsStart))
        {
            int v = d <= '9' ? d - '0' : (d | 0x20) - 'a' + 10;
            if (v >= radix) throw error(start, $"invalid digit `{d}' in octal number `{text}'", "a number that starts with 0 is octal; write it without the leading 0");
            if (value > (ulong.MaxValue - (ulong)v) / (ulong)radix) throw error(start, $"number `{text}' out of range", "numbers are 64-bit");
            value = value * (ulong)radix + (ulong)v;
        }
        if (negative) value = unchecked(0 - value);
        return new Token(TokenKind.Number, text, value, at);
    }

    private static char At(string s, int k) => k < s.Length ? s[k] : '\0';

    private void IncludeDirective(SourceFile file, string s, ref int i, ref int line, ref int lineStart, int start, int depth,
        Func<int, Location> here, Func<int, string, string?, PolicyLanguageException> error)
    {
        bool whitespace = false;
        int names = 0;
        while (true)
        {
            if (i >= s.Length) throw error(start, "unterminated include statement", "end #include with a newline or ';'");
            char c = s[i];
            if (c is ' ' or '\t' or '\r') { whitespace = true; i++; continue; }
            if (c is '\n' or ';')
            {
                if (names == 0) throw error(start, "#include without a file name", "write #include \"file.policy\"");
                if (c == '\n') { line++; lineStart = i + 1; }
                i++;
                return;
            }
            if (c == '"')
            {
                int q = i;
                if (!whitespace) throw error(q, "unexpected filename", "put a space between #include and each \"file\"");
                int end = s.IndexOf('"', i + 1);
                int nl = s.IndexOf('\n', i + 1);
                if (end < 0 || nl >= 0 && nl < end) throw error(q, "unterminated filename string", "close the file name with \"");
                string name = s[(i + 1)..end];
                if (name.Length == 0) throw error(q, "empty file name in #include", null);
                i = end + 1;
                whitespace = false;
                names++;
                Location at = here(q);
                var included = _includes.Open(name, file, depth + 1, at);
                Run(included, depth + 1);
                _includes.Close(included);
                continue;
            }
            throw error(i, $"unexpected char `{c}' in #include", "the file name must be in double quotes: #include \"file.policy\"");
        }
    }
}
