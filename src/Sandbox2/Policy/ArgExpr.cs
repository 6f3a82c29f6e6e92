namespace Sandbox2;

/// <summary>A value computed from a syscall's arguments with bitwise and/or (the policy language's <c>fd | flags</c>,
/// <c>prot &amp; PROT_EXEC</c>): an argument, a constant, or <c>&amp;</c>/<c>|</c> of two values. 64-bit.</summary>
public abstract record ArgExpr
{
    /// <summary>The value for six argument values.</summary>
    public abstract ulong Evaluate(ReadOnlySpan<ulong> args);

    /// <summary>Nesting depth (a leaf is 0).</summary>
    public abstract int Depth { get; }

    /// <summary>The readable form, naming argument <c>i</c> by <paramref name="argName"/> (or <c>args[i]</c>).</summary>
    public abstract string Format(Func<int, string>? argName = null);

    /// <summary>The readable form with <c>args[i]</c> names.</summary>
    public override string ToString() => Format();
}

/// <summary>Argument <see cref="Index"/> (0..5), all 64 bits.</summary>
public sealed record ArgValue(int Index) : ArgExpr
{
    /// <inheritdoc/>
    public override ulong Evaluate(ReadOnlySpan<ulong> args) => args[Index];
    /// <inheritdoc/>
    public override int Depth => 0;
    /// <inheritdoc/>
    public override string Format(Func<int, string>? argName = null) => argName?.Invoke(Index) ?? $"args[{Index}]";
}

/// <summary>A constant.</summary>
public sealed record ConstValue(ulong Value) : ArgExpr
{
    /// <inheritdoc/>
    public override ulong Evaluate(ReadOnlySpan<ulong> args) => Value;
    /// <inheritdoc/>
    public override int Depth => 0;
    /// <inheritdoc/>
    public override string Format(Func<int, string>? argName = null) => Value < 10 ? Value.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"0x{Value:x}";
}

/// <summary><c>Left &amp; Right</c> (<see cref="IsOr"/> false) or <c>Left | Right</c> (true).</summary>
public sealed record BitwiseValue(ArgExpr Left, bool IsOr, ArgExpr Right) : ArgExpr
{
    /// <inheritdoc/>
    public override ulong Evaluate(ReadOnlySpan<ulong> args) => IsOr ? Left.Evaluate(args) | Right.Evaluate(args) : Left.Evaluate(args) & Right.Evaluate(args);
    /// <inheritdoc/>
    public override int Depth { get; } = 1 + Math.Max(Left.Depth, Right.Depth);
    /// <inheritdoc/>
    public override string Format(Func<int, string>? argName = null) => $"({Left.Format(argName)} {(IsOr ? "|" : "&")} {Right.Format(argName)})";
}

/// <summary><c>Left Op Right</c>, unsigned; with <see cref="Is32Bit"/> both sides are cut to their low 32 bits first
/// (the policy language's rule for arguments that are 32-bit in the kernel). Either side may use any arguments
/// (argument against argument, masks, or-ed flags).</summary>
public sealed record ExprCondition(ArgExpr Left, ArgOp Op, ArgExpr Right, bool Is32Bit) : ArgCondition
{
    /// <inheritdoc/>
    public override bool Evaluate(ReadOnlySpan<ulong> args)
    {
        ulong l = Left.Evaluate(args), r = Right.Evaluate(args);
        if (Is32Bit) { l &= 0xffffffff; r &= 0xffffffff; }
        return CompareCondition.Holds(Op, l, r);
    }

    /// <summary>The operator's spelling.</summary>
    internal static string OpText(ArgOp op) => op switch
    {
        ArgOp.Equal => "==", ArgOp.NotEqual => "!=", ArgOp.Less => "<", ArgOp.LessOrEqual => "<=", ArgOp.Greater => ">", _ => ">=",
    };

    /// <inheritdoc/>
    public override string Format(Func<int, string>? argName) =>
        $"{(Is32Bit ? "(u32)" : "")}{Left.Format(argName)} {OpText(Op)} {Right.Format(argName)}";

    /// <inheritdoc/>
    public override string ToString() => Format(null);
}
