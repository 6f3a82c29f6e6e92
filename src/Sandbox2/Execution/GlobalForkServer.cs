namespace Sandbox2;

/// <summary>
/// Where the process-wide forkserver (Sandbox2's global fork-server, <c>sandbox2-forkserver</c>, built from
/// <c>native/</c>) comes from. Normally nothing needs setting: the library finds it next to the application (a build,
/// a publish, a NativeAOT app, the <c>runtimes/linux-x64/native/</c> asset of the <c>Sandbox2</c> package) and,
/// failing that, starts the copy embedded in this assembly from a sealed in-memory file, as Sandbox2 does.
/// </summary>
/// <remarks>
/// Search order: <see cref="ProgramPath"/> if set; else the <see cref="EnvironmentVariable"/> environment variable if
/// set; else <c>sandbox2-forkserver</c> in <see cref="AppContext.BaseDirectory"/>, in
/// <c>runtimes/&lt;rid&gt;/native/</c> below it, and beside the real path of the running executable; else the embedded
/// copy. An explicit path (property or variable) that does not name an executable regular file is an error, never
/// silently replaced. When nothing is found, the setup error lists every place that was looked at.
/// </remarks>
public static class GlobalForkServer
{
    /// <summary>The environment variable that names the forkserver program: <c>SANDBOX2_FORKSERVER</c>.</summary>
    public const string EnvironmentVariable = "SANDBOX2_FORKSERVER";

    /// <summary>The forkserver program's file name.</summary>
    public const string ProgramName = "sandbox2-forkserver";

    private static volatile string? s_programPath;

    /// <summary>An explicit path of the forkserver program, taking precedence over everything else; null (the
    /// default) searches. Takes effect when the forkserver is next started (the first sandbox of the process, or a
    /// restart after it died).</summary>
    /// <exception cref="ArgumentException">The path is empty or relative.</exception>
    public static string? ProgramPath
    {
        get => s_programPath;
        set
        {
            if (value is not null && (value.Length == 0 || !Path.IsPathRooted(value)))
                throw new ArgumentException($"the forkserver path must be absolute, not '{value}'", nameof(value));
            s_programPath = value;
        }
    }

    /// <summary>Where the forkserver would be started from now, as a one-line description (for diagnostics, e.g.
    /// "/app/sandbox2-forkserver" or "embedded copy (memfd)"), or the reason none was found.</summary>
    public static string Describe()
    {
        var found = ForkServerLocator.Locate();
        return found.Path ?? (found.Embedded ? "embedded copy (sealed memfd)" : found.Error!);
    }
}
