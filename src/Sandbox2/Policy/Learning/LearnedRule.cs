namespace Sandbox2;

/// <summary>One syscall a learned policy allows: unconditionally, or when <see cref="When"/> holds (the values seen).</summary>
/// <param name="Number">The x86-64 syscall number.</param>
/// <param name="Name">Its name as the policy language writes it (Kafel's: <c>newstat</c>, not <c>stat</c>), or <c>SYSCALL[n]</c>.</param>
/// <param name="ArgNames">The argument names declared in the text (the kernel's), when there is a condition.</param>
/// <param name="When">The condition as a model (null: every call).</param>
/// <param name="ConditionText">The same condition in the policy language (null: every call).</param>
public sealed record LearnedRule(int Number, string Name, IReadOnlyList<string> ArgNames, ArgCondition? When, string? ConditionText)
{
    /// <summary>The rule as the policy language writes it inside an <c>ALLOW { }</c> block.</summary>
    public string ToText() => ConditionText is null ? Name : $"{Name}({string.Join(", ", ArgNames)}) {{ {ConditionText} }}";
}
