namespace Sandbox2;

/// <summary>Version information of the Sandbox2 library.</summary>
public static class SandboxVersion
{
    /// <summary>The library's version string.</summary>
    public static string Text => typeof(SandboxVersion).Assembly.GetName().Version?.ToString() ?? "0";
}
