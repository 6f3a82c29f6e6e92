namespace Sandbox2;

/// <summary>Comparison operators on a syscall argument. All comparisons are unsigned.</summary>
public enum ArgOp
{
    /// <c>arg == value</c>.
    Equal,
    /// <c>arg != value</c>.
    NotEqual,
    /// <c>arg &lt; value</c>.
    Less,
    /// <c>arg &lt;= value</c>.
    LessOrEqual,
    /// <c>arg &gt; value</c>.
    Greater,
    /// <c>arg &gt;= value</c>.
    GreaterOrEqual,
}

/// <summary>A condition on a syscall's arguments: comparisons combined with and/or/not.
/// Comparisons see the full 64-bit argument unless made with <see cref="Arg.Low32"/>.</summary>
public abstract record ArgCondition
{
    /// <summary>Always true.</summary>
    public static ArgCondition True { get; } = new ConstCondition(true);
    /// <summary>Always false.</summary>
    public static ArgCondition False { get; } = new ConstCondition(false);

    /// <summary>Evaluates the condition on six argument values (the model's semantics).</summary>
    public abstract bool Evaluate(ReadOnlySpan<ulong> args);

    /// <summary>The readable form, naming argument <c>i</c> by <paramref name="argName"/> (null: <c>args[i]</c>).</summary>
    public virtual string Format(Func<int, string>? argName) => ToString()!;

    /// <summary>Both conditions hold.</summary>
    public static ArgCondition operator &(ArgCondition left, ArgCondition right) => new AndCondition(left, right);
    /// <summary>Either condition holds.</summary>
    public static ArgCondition operator |(ArgCondition left, ArgCondition right) => new OrCondition(left, right);
    /// <summary>The condition does not hold.</summary>
    public static ArgCondition operator !(ArgCondition inner) => new NotCondition(inner);
    /// <summary>The same as <c>this &amp; other</c> (for languages without operators).</summary>
    public ArgCondition BitwiseAnd(ArgCondition other) => this & other;
    /// <summary>The same as <c>this | other</c> (for languages without operators).</summary>
    public ArgCondition BitwiseOr(ArgCondition other) => this | other;
    /// <summary>The same as <c>!this</c> (for languages without operators).</summary>
    public ArgCondition LogicalNot() => !this;

    /// <summary>All conditions true (an empty list is true).</summary>
    public static ArgCondition All(params ArgCondition[] conditions) =>
        conditions.Length == 0 ? True : conditions.Aggregate((a, b) => a & b);

    /// <summary>Any condition true (an empty list is false).</summary>
    public static ArgCondition Any(params ArgCondition[] conditions) =>
        conditions.Length == 0 ? False : conditions.Aggregate((a, b) => a | b);
}

/// <summary><c>(args[Index] &amp; Mask) Op Value</c>; with <see cref="Is32Bit"/> only the low 32 bits take part.</summary>
public sealed record CompareCondition(int Index, ArgOp Op, ulong Value, ulong Mask = ulong.MaxValue, bool Is32Bit = false) : ArgCondition
{
    /// <inheritdoc/>
    public override bool Evaluate(ReadOnlySpan<ulong> args)
    {
        ulong x = args[Index] & Mask, v = Value;
        if (Is32Bit) { x &= 0xffffffff; v &= 0xffffffff; }
        return Holds(Op, x, v);
    }

    /// <summary><paramref name="left"/> <paramref name="op"/> <paramref name="right"/>, unsigned (the model's semantics of
    /// every comparison).</summary>
    internal static bool Holds(ArgOp op, ulong left, ulong right) => op switch
    {
        ArgOp.Equal => left == right,
        ArgOp.NotEqual => left != right,
        ArgOp.Less => left < right,
        ArgOp.LessOrEqual => left <= right,
        ArgOp.Greater => left > right,
        _ => left >= right,
    };

    /// <inheritdoc/>
    public override string ToString() => Format(null);

    /// <inheritdoc/>
    public override string Format(Func<int, string>? argName)
    {
        string name = argName?.Invoke(Index) ?? $"args[{Index}]";
        string arg = Is32Bit ? $"(u32){name}" : name;
        if (Mask != ulong.MaxValue) arg = $"({arg} & 0x{Mask:x})";
        string op = Op switch
        {
            ArgOp.Equal => "==", ArgOp.NotEqual => "!=", ArgOp.Less => "<", ArgOp.LessOrEqual => "<=",
            ArgOp.Greater => ">", _ => ">=",
        };
        return $"{arg} {op} 0x{Value:x}";
    }
}

/// <summary>Both <paramref name="Left"/> and <paramref name="Right"/> hold.</summary>
/// <param name="Left">The first condition.</param>
/// <param name="Right">The second condition.</param>
public sealed record AndCondition(ArgCondition Left, ArgCondition Right) : ArgCondition
{
    /// <inheritdoc/>
    public override bool Evaluate(ReadOnlySpan<ulong> args) => Left.Evaluate(args) && Right.Evaluate(args);
    /// <inheritdoc/>
    public override string ToString() => Format(null);
    /// <inheritdoc/>
    public override string Format(Func<int, string>? argName) => $"({Left.Format(argName)} && {Right.Format(argName)})";
}

/// <summary><paramref name="Left"/> or <paramref name="Right"/> holds.</summary>
/// <param name="Left">The first condition.</param>
/// <param name="Right">The second condition.</param>
public sealed record OrCondition(ArgCondition Left, ArgCondition Right) : ArgCondition
{
    /// <inheritdoc/>
    public override bool Evaluate(ReadOnlySpan<ulong> args) => Left.Evaluate(args) || Right.Evaluate(args);
    /// <inheritdoc/>
    public override string ToString() => Format(null);
    /// <inheritdoc/>
    public override string Format(Func<int, string>? argName) => $"({Left.Format(argName)} || {Right.Format(argName)})";
}

/// <summary><paramref name="Inner"/> does not hold.</summary>
/// <param name="Inner">The negated condition.</param>
public sealed record NotCondition(ArgCondition Inner) : ArgCondition
{
    /// <inheritdoc/>
    public override bool Evaluate(ReadOnlySpan<ulong> args) => !Inner.Evaluate(args);
    /// <inheritdoc/>
    public override string ToString() => Format(null);
    /// <inheritdoc/>
    public override string Format(Func<int, string>? argName) => $"!{Inner.Format(argName)}";
}

/// <summary>A constant (<see cref="ArgCondition.True"/>, <see cref="ArgCondition.False"/>).</summary>
/// <param name="Value">The constant.</param>
public sealed record ConstCondition(bool Value) : ArgCondition
{
    /// <inheritdoc/>
    public override bool Evaluate(ReadOnlySpan<ulong> args) => Value;
    /// <inheritdoc/>
    public override string ToString() => Value ? "true" : "false";
}

/// <summary>Builds argument comparisons: <c>Arg.Of(2).MaskedEqual(PROT_EXEC, 0)</c>, <c>Arg.Of(0).Equal(1)</c>.</summary>
public readonly record struct Arg
{
    private Arg(int index, bool is32Bit)
    {
        if (index is < 0 or > 5) throw new PolicyException($"argument index {index} is out of range 0..5");
        Index = index;
        Is32Bit = is32Bit;
    }

    /// <summary>The argument's index, 0..5.</summary>
    public int Index { get; }
    /// <summary>True when only the low 32 bits are compared (Sandbox2's ARG_32).</summary>
    public bool Is32Bit { get; }

    /// <summary>The full 64-bit argument <paramref name="index"/> (0..5).</summary>
    public static Arg Of(int index) => new(index, false);

    /// <summary>Only the low 32 bits of argument <paramref name="index"/> (for C <c>int</c> arguments, as Sandbox2's ARG_32).</summary>
    public static Arg Low32(int index) => new(index, true);

    /// <c>arg == value</c>.
    public ArgCondition Equal(ulong value) => Make(ArgOp.Equal, value);
    /// <c>arg != value</c>.
    public ArgCondition NotEqual(ulong value) => Make(ArgOp.NotEqual, value);
    /// <c>arg &lt; value</c> (unsigned).
    public ArgCondition Less(ulong value) => Make(ArgOp.Less, value);
    /// <c>arg &lt;= value</c> (unsigned).
    public ArgCondition LessOrEqual(ulong value) => Make(ArgOp.LessOrEqual, value);
    /// <c>arg &gt; value</c> (unsigned).
    public ArgCondition Greater(ulong value) => Make(ArgOp.Greater, value);
    /// <c>arg &gt;= value</c> (unsigned).
    public ArgCondition GreaterOrEqual(ulong value) => Make(ArgOp.GreaterOrEqual, value);
    /// <c>arg op value</c> for any <see cref="ArgOp"/>.
    public ArgCondition Compare(ArgOp op, ulong value) => Make(op, value);

    /// <summary><c>(arg &amp; mask) == value</c>.</summary>
    public ArgCondition MaskedEqual(ulong mask, ulong value) => Make(ArgOp.Equal, value, mask);

    /// <summary><c>(arg &amp; mask) op value</c>.</summary>
    public ArgCondition Masked(ulong mask, ArgOp op, ulong value) => Make(op, value, mask);

    /// <summary>One of the values.</summary>
    public ArgCondition In(params ulong[] values) => ArgCondition.Any(values.Select(Equal).ToArray());

    private CompareCondition Make(ArgOp op, ulong value, ulong mask = ulong.MaxValue)
    {
        if (Is32Bit && value > uint.MaxValue)
            throw new PolicyException($"value 0x{value:x} does not fit the 32-bit argument {Index}");
        return new CompareCondition(Index, op, value, mask, Is32Bit);
    }
}
