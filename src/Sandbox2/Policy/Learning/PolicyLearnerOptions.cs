namespace Sandbox2;

/// <summary>How <see cref="PolicyLearner"/> turns a trace into a policy.</summary>
public sealed record PolicyLearnerOptions
{
    /// <summary>A descriptor argument is conditioned on the descriptors seen when there were at most this many.</summary>
    public int MaxFds { get; init; } = 6;

    /// <summary>An enumerated argument (ioctl request, fcntl command, socket family) is conditioned on the values seen when
    /// there were at most this many.</summary>
    public int MaxEnumValues { get; init; } = 12;

    /// <summary>A flags argument is conditioned on the values seen when there were at most this many; above it, on "no bit
    /// outside those seen".</summary>
    public int MaxFlagValues { get; init; } = 8;

    /// <summary>Named syscall groups (name as <c>USE</c> writes it, e.g. <c>@basic-io</c> → member names, which may name other
    /// groups) the policy may use where every member was seen and allowed without condition. Null or empty: none.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? Groups { get; init; }

    /// <summary>The name of the <c>POLICY</c> block.</summary>
    public string PolicyName { get; init; } = "learned";

    /// <summary>Comment lines written at the top (without <c>//</c>), e.g. the command that was traced.</summary>
    public IReadOnlyList<string> Comments { get; init; } = [];
}
