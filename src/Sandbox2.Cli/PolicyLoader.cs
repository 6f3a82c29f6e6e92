namespace Sandbox2.Cli;

/// <summary>Loads what <c>--policy</c> and the <c>policy</c> commands name: <c>@NAME</c> (a built-in policy or preset),
/// an OCI/Docker profile (<c>.json</c>, not built yet), or a file in the policy language.</summary>
internal static class PolicyLoader
{
    /// <summary>The exec nonce shown by <c>policy compile</c> (each sandbox draws its own).</summary>
    public const ulong DisplayNonce = 0x5eed5eed5eed5eedUL;

    /// <summary>A builder holding the named policy. Warnings go to standard error; a policy that does not load throws
    /// <see cref="PolicyLanguageException"/> (or <see cref="CommandLineException"/> for a bad name).</summary>
    public static PolicyBuilder Load(string spec, IReadOnlyList<string> includeDirs, PolicyBuilder? into = null)
    {
        var builder = into ?? new PolicyBuilder();
        if (spec.StartsWith('@'))
        {
            if (!BuiltinPolicies.TryGetPreset(spec, out var apply))
                throw new CommandLineException($"unknown built-in policy '{spec}' (known: {string.Join(", ", BuiltinPolicies.PresetNames.Order(StringComparer.Ordinal))})");
            apply(builder);
            return builder;
        }
        if (spec.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            throw CommandLineException.NotBuiltYet("an OCI/Docker seccomp profile (.json)");
        var doc = PolicyLanguage.Load(spec, new PolicyLanguageOptions { IncludePaths = includeDirs });
        foreach (var w in doc.Warnings) Console.Error.WriteLine(w.ToString());
        return doc.ApplyTo(builder);
    }
}
