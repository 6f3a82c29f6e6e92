namespace Sandbox2.Cli;

/// <summary>The named syscall groups a learned policy may use (<c>USE @name</c>): the language's groups
/// (<see cref="SyscallGroups"/>) but <c>@known</c> (every syscall there is).</summary>
internal static class LearnGroups
{
    /// <summary>The catalog handed to <see cref="PolicyLearner"/>: group name → members.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Catalog { get; } = Build();

    private static Dictionary<string, IReadOnlyList<string>> Build()
    {
        var catalog = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (string name in SyscallGroups.Names)
        {
            if (name != "@known" && SyscallGroups.TryGet(name, out var members)) catalog[name] = members;
        }
        return catalog;
    }
}
