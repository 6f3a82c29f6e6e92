namespace Sandbox2;

/// <summary>What learn mode saw of one x86-64 syscall: how often it was made, and the values of its learnable arguments.</summary>
public sealed class SyscallObservation
{
    internal SyscallObservation(int number, long count, IReadOnlyList<ArgumentObservation> arguments)
    {
        Number = number;
        Count = count;
        Arguments = arguments;
    }

    /// <summary>The x86-64 syscall number.</summary>
    public int Number { get; }

    /// <summary>Its name in the syscall table, or <c>SYSCALL[n]</c> for a number the table does not know.</summary>
    public string Name => SyscallTable.Find(Number)?.Name ?? $"SYSCALL[{Number}]";

    /// <summary>How many calls were seen.</summary>
    public long Count { get; }

    /// <summary>The learnable arguments (<see cref="LearnableArgument.Of(int)"/>) with the values seen.</summary>
    public IReadOnlyList<ArgumentObservation> Arguments { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ×{Count}";
}
