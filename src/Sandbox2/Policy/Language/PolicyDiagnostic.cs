using System.Text;

namespace Sandbox2;

/// <summary>How serious a <see cref="PolicyDiagnostic"/> is.</summary>
public enum PolicyDiagnosticSeverity
{
    /// <summary>The policy loads; something in it is worth knowing (an alias, a rule that can never apply).</summary>
    Warning,
    /// <summary>The policy does not load.</summary>
    Error,
}

/// <summary>A message about a place in a policy file: <c>FILE:LINE:COL: message</c>, with the source line, a caret
/// under the column, and a hint (a did-you-mean suggestion, or how to fix it) when there is one.</summary>
/// <param name="Severity">Error or warning.</param>
/// <param name="File">The file's name as given (or <c>&lt;string&gt;</c>).</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
/// <param name="Message">What is wrong, in Kafel's words where Kafel has them.</param>
/// <param name="Hint">A suggestion, or null.</param>
/// <param name="SourceLine">The text of the line, or null.</param>
public sealed record PolicyDiagnostic(PolicyDiagnosticSeverity Severity, string File, int Line, int Column, string Message,
    string? Hint = null, string? SourceLine = null)
{
    /// <summary>The one-line form: <c>FILE:LINE:COL: message</c> (warnings say so).</summary>
    public override string ToString() =>
        $"{File}:{Line}:{Column}: {(Severity == PolicyDiagnosticSeverity.Warning ? "warning: " : "")}{Message}";

    /// <summary>The one-line form, then the source line with a caret under the column, then the hint.</summary>
    public string Format()
    {
        var sb = new StringBuilder(ToString());
        if (SourceLine is not null)
        {
            string line = SourceLine.Replace('\t', ' ');
            if (line.Length > 200) line = line[..200];
            sb.Append('\n').Append("  ").Append(line).Append('\n').Append("  ")
              .Append(' ', Math.Clamp(Column - 1, 0, line.Length)).Append('^');
        }
        if (Hint is not null) sb.Append('\n').Append("  hint: ").Append(Hint);
        return sb.ToString();
    }
}

/// <summary>A policy file does not load: <see cref="Diagnostic"/> says where and why (the message is its one-line form).</summary>
public sealed class PolicyLanguageException : PolicyException
{
    /// <summary>The error.</summary>
    public PolicyDiagnostic Diagnostic { get; }

    /// <summary>The error <paramref name="diagnostic"/>.</summary>
    public PolicyLanguageException(PolicyDiagnostic diagnostic) : base(diagnostic?.ToString() ?? "policy error") =>
        Diagnostic = diagnostic ?? throw new ArgumentNullException(nameof(diagnostic));
}
