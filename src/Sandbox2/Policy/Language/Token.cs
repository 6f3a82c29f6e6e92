namespace Sandbox2.Language;

/// <summary>Kinds of tokens of the policy language (Kafel's lexer, plus <c>@name</c>).</summary>
internal enum TokenKind
{
    EndOfFile, Identifier, Number, AtName,
    // keywords
    Syscall, Allow, Log, UserNotif, Errno, KillProcess, KillThread, Kill, Deny, Trap, Trace, Use, Policy, Default, On, Define,
    // operators and punctuation
    Eq, Neq, Le, Lt, Ge, Gt, LogicOr, LogicAnd, BitOr, BitAnd, LBracket, RBracket, LParen, RParen, LBrace, RBrace, Comma, Not, Hash,
}

/// <summary>Where a token starts: file, line, column (1-based), and the file's text (for excerpts).</summary>
internal sealed record SourceFile(string Name, string Text, string? FullPath)
{
    private string[]? _lines;

    /// <summary>The text of line <paramref name="line"/> (1-based), or null.</summary>
    public string? Line(int line)
    {
        _lines ??= Text.Split('\n');
        return line >= 1 && line <= _lines.Length ? _lines[line - 1].TrimEnd('\r') : null;
    }
}

/// <summary>A position in a source file.</summary>
internal readonly record struct Location(SourceFile File, int Line, int Column)
{
    public override string ToString() => $"{File.Name}:{Line}:{Column}";
}

/// <summary>One token.</summary>
internal readonly record struct Token(TokenKind Kind, string Text, ulong Number, Location Location)
{
    /// <summary>How a syntax error names it (bison's style: keywords by name, punctuation quoted).</summary>
    public string Describe() => Kind switch
    {
        TokenKind.EndOfFile => "end of file",
        TokenKind.Identifier => "IDENTIFIER",
        TokenKind.Number => "NUMBER",
        TokenKind.AtName => "@NAME",
        _ => Lexer.Spell(Kind),
    };
}
