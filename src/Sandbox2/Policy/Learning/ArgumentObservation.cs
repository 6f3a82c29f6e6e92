namespace Sandbox2;

/// <summary>The values learn mode saw for one argument of one syscall.</summary>
public sealed class ArgumentObservation
{
    internal ArgumentObservation(LearnableArgument argument, string name, IReadOnlyList<ulong> values, bool overflowed, ulong unionOfBits)
    {
        Argument = argument;
        Name = name;
        Values = values;
        Overflowed = overflowed;
        UnionOfBits = unionOfBits;
    }

    /// <summary>Which argument, its kind and width.</summary>
    public LearnableArgument Argument { get; }

    /// <summary>The kernel's name of the argument (<c>fd</c>, <c>cmd</c>, <c>clone_flags</c>).</summary>
    public string Name { get; }

    /// <summary>The distinct values seen, ascending (32-bit arguments on their low 32 bits); at most
    /// <see cref="SyscallRecorder.MaxValuesPerArgument"/>.</summary>
    public IReadOnlyList<ulong> Values { get; }

    /// <summary>More distinct values were seen than were kept.</summary>
    public bool Overflowed { get; }

    /// <summary>The bitwise OR of every value seen (kept ones or not).</summary>
    public ulong UnionOfBits { get; }
}
