namespace Sandbox2.Language;

/// <summary>Makes <see cref="PolicyDiagnostic"/>s for a <see cref="Location"/>.</summary>
internal static class Diagnostics
{
    public static PolicyDiagnostic Make(PolicyDiagnosticSeverity severity, Location at, string message, string? hint = null) =>
        new(severity, at.File.Name, at.Line, at.Column, message, hint, at.File.Line(at.Line));

    public static PolicyLanguageException Error(Location at, string message, string? hint = null) =>
        new(Make(PolicyDiagnosticSeverity.Error, at, message, hint));

    public static PolicyDiagnostic Warning(Location at, string message, string? hint = null) =>
        Make(PolicyDiagnosticSeverity.Warning, at, message, hint);
}
