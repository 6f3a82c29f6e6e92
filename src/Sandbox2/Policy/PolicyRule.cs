namespace Sandbox2;

/// <summary>One rule of a policy: for syscall <see cref="Number"/> (x86-64), when <see cref="When"/> holds
/// (null = always), decide <see cref="Action"/>. The first matching rule wins.</summary>
public sealed record PolicyRule(int Number, ArgCondition? When, SyscallAction Action, string Origin)
{
    public bool IsUnconditional => When is null || When is ConstCondition { Value: true };

    public string SyscallName => SyscallTable.Find(Number)?.Name ?? $"syscall {Number}";

    public override string ToString() =>
        $"{SyscallName}{(IsUnconditional ? "" : " when " + When)}: {Action} ({Origin})";
}
