namespace Sandbox2;

/// <summary>One rule of a policy: for syscall <see cref="Number"/> (x86-64), when <see cref="When"/> holds
/// (null = always), decide <see cref="Action"/>. The first matching rule wins.</summary>
public sealed record PolicyRule(int Number, ArgCondition? When, SyscallAction Action, string Origin)
{
    /// <summary>True when the rule applies whatever the arguments.</summary>
    public bool IsUnconditional => When is null || When is ConstCondition { Value: true };

    /// <summary>The syscall's x86-64 name (<c>syscall N</c> when unknown).</summary>
    public string SyscallName => SyscallTable.Find(Number)?.Name ?? $"syscall {Number}";

    /// <summary>The rule as one line: name, condition, action and the builder call it came from.</summary>
    public override string ToString() =>
        $"{SyscallName}{(IsUnconditional ? "" : " when " + When)}: {Action} ({Origin})";
}
