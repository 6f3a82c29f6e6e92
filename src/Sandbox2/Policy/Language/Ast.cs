namespace Sandbox2.Language;

// The parsed form of a policy file (Kafel's grammar): statements, actions, syscall filters and expressions.

/// <summary>An action as written: <c>ERRNO(1)</c> is Kind Errno, Value 1.</summary>
internal sealed record ActionNode(SyscallAction Action, Location At, string Text);

/// <summary>A statement of a policy body: <c>USE name</c> or <c>ACTION { filters }</c>.</summary>
internal abstract record StatementNode(Location At);

/// <summary><c>USE name</c> (a POLICY, or beyond Kafel a preset or <c>@group</c>).</summary>
/// <param name="Name">The POLICY, preset or group named.</param>
/// <param name="At">Where the USE is.</param>
/// <param name="DefinedBefore">A POLICY of that name was defined before this USE (Kafel requires that).</param>
internal sealed record UseNode(string Name, Location At, bool DefinedBefore) : StatementNode(At);

/// <summary><c>ACTION { filter, ... }</c>.</summary>
internal sealed record ActionBlockNode(ActionNode Action, IReadOnlyList<FilterNode> Filters, Location At) : StatementNode(At);

/// <summary>One syscall in an action block: name or <c>SYSCALL[n]</c> (or a #define'd number, or <c>@group</c>), optional
/// argument names, optional <c>ON arch</c> guard, optional condition.</summary>
internal sealed record FilterNode(string? Name, ulong? Number, bool IsGroup, IReadOnlyList<(string Name, Location At)>? ArgNames,
    IReadOnlyList<string>? Archs, ExprNode? Condition, Location At)
{
    /// <summary>The condition as written (for rule origins).</summary>
    public string? ConditionText { get; init; }
}

/// <summary><c>POLICY name { ... }</c>.</summary>
internal sealed record PolicyNode(string Name, IReadOnlyList<StatementNode> Statements, Location At);

/// <summary>An expression: boolean (and/or/not/comparison) or a value (number, identifier, bitwise and/or).</summary>
internal abstract record ExprNode(Location At)
{
    /// <summary>Kafel's tree depth (a leaf is 0).</summary>
    public abstract int Depth { get; }
}

internal sealed record NumberNode(ulong Value, Location At) : ExprNode(At) { public override int Depth => 0; }
internal sealed record IdentNode(string Name, Location At) : ExprNode(At) { public override int Depth => 0; }
internal sealed record BinaryNode(TokenKind Op, ExprNode Left, ExprNode Right, Location At) : ExprNode(At)
{
    public override int Depth { get; } = 1 + Math.Max(Left.Depth, Right.Depth);
}
internal sealed record NotNode(ExprNode Inner, Location At) : ExprNode(At) { public override int Depth { get; } = 1 + Inner.Depth; }

/// <summary>A parsed file: policies by name (in order), the top-level statements (the implicit <c>@main</c>), the default action.</summary>
internal sealed class ProgramNode
{
    public Dictionary<string, PolicyNode> Policies { get; } = new(StringComparer.Ordinal);
    public List<StatementNode> Main { get; } = [];
    public ActionNode? Default { get; set; }
    public Dictionary<string, ulong> Constants { get; } = new(StringComparer.Ordinal);
}
