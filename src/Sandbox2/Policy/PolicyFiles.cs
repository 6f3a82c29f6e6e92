namespace Sandbox2;

/// <summary>The one place that turns what a user gives as a policy (the CLI's <c>--policy FILE|@NAME</c>, the
/// <c>policy</c> commands' FILE) into a <see cref="PolicyBuilder"/>: <c>@NAME</c> is a built-in policy
/// (<see cref="BuiltinPolicies.Policies"/>), a name ending in <c>.json</c> an OCI/Docker seccomp profile
/// (<see cref="OciSeccompProfile"/>), anything else a file in the policy language.</summary>
public static class PolicyFiles
{
    /// <summary>What <paramref name="pathOrName"/> is.</summary>
    public static PolicyFileKind GetKind(string pathOrName) =>
        pathOrName is null || pathOrName.Length == 0 ? throw new PolicyException("empty policy name")
        : pathOrName.StartsWith('@') ? PolicyFileKind.Builtin
        : OciSeccompProfile.IsProfilePath(pathOrName) ? PolicyFileKind.OciProfile
        : PolicyFileKind.PolicyLanguage;

    /// <summary>A new builder holding the policy <paramref name="pathOrName"/> names; what the import changed or left out is
    /// added to <paramref name="warnings"/> (one line each). A bad name or file throws a <see cref="PolicyException"/> whose
    /// message names the problem (<c>FILE:LINE:COL: ...</c> where a place is known).</summary>
    public static PolicyBuilder Load(string pathOrName, ICollection<string>? warnings = null)
    {
        switch (GetKind(pathOrName))
        {
            case PolicyFileKind.Builtin:
                return BuiltinPolicies.Create(pathOrName);
            case PolicyFileKind.OciProfile:
                var profile = OciSeccompProfile.Load(pathOrName);
                foreach (string w in profile.Warnings) warnings?.Add(w);
                return profile.ApplyTo(new PolicyBuilder());
            default:
                throw new PolicyException($"{pathOrName}: policy language files are not built yet (use @NAME or an OCI profile ending in .json)");
        }
    }
}

/// <summary>What a policy argument names (see <see cref="PolicyFiles.GetKind"/>).</summary>
public enum PolicyFileKind
{
    /// <summary><c>@NAME</c>: a built-in policy.</summary>
    Builtin,
    /// <summary>A file ending in <c>.json</c>: an OCI/Docker seccomp profile.</summary>
    OciProfile,
    /// <summary>Any other file: the policy language (Kafel-compatible).</summary>
    PolicyLanguage,
}
