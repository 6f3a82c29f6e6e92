namespace Sandbox2.Cli;

/// <summary>Loads what the <c>policy</c> commands name (through <see cref="PolicyFiles"/>): <c>@NAME</c> (a built-in policy),
/// an OCI/Docker profile (<c>.json</c>), or a file in the policy language. Warnings go to standard error.</summary>
internal static class PolicyLoader
{
    /// <summary>The exec nonce shown by <c>policy compile</c> (each sandbox draws its own).</summary>
    public const ulong DisplayNonce = 0x5eed5eed5eed5eedUL;

    /// <summary>A builder holding the named policy; a policy that does not load throws <see cref="PolicyException"/>
    /// (<see cref="PolicyLanguageException"/> with its place for the policy language).</summary>
    public static PolicyBuilder Load(string spec, IReadOnlyList<string> includeDirs)
    {
        var warnings = new List<string>();
        var builder = PolicyFiles.Load(spec, warnings, includeDirs);
        foreach (var w in warnings) Console.Error.WriteLine(w.Contains(": warning: ", StringComparison.Ordinal) ? w : "sandbox2: warning: " + ResultJson.OneLine(w));
        return builder;
    }
}
