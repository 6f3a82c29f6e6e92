namespace Sandbox2.Cli;

/// <summary>The named syscall groups a learned policy may use (<c>USE @name</c>).</summary>
internal static class LearnGroups
{
    /// <summary>The catalog handed to <see cref="PolicyLearner"/>; empty until the language knows named groups.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Catalog { get; } = new Dictionary<string, IReadOnlyList<string>>();
}
