using Sandbox2.Language;

namespace Sandbox2;

/// <summary>How a policy file is read.</summary>
public sealed record PolicyLanguageOptions
{
    /// <summary>Where <c>#include "file"</c> looks after the including file's own directory (<c>-I DIR</c>), in order.</summary>
    public IReadOnlyList<string> IncludePaths { get; init; } = [];
}

/// <summary>The policy language: Kafel's (nsjail's) text format for seccomp policies, plus kernel constants by name,
/// the names people write for syscalls (<c>stat</c> for the kernel's <c>newstat</c>, with a warning), named groups
/// and presets (<c>USE @basic-io</c>, <c>USE allow_static_startup</c>). See docs/POLICY-LANGUAGE.md.</summary>
public static class PolicyLanguage
{
    /// <summary>Reads the policy file <paramref name="path"/> (and what it includes). Throws
    /// <see cref="PolicyLanguageException"/> (<c>FILE:LINE:COL: message</c>) for a policy that does not load.</summary>
    public static PolicyDocument Load(string path, PolicyLanguageOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new PolicyLanguageOptions();
        var includes = new Includes(options.IncludePaths);
        SourceFile root;
        try { root = includes.OpenRoot(path); }
        catch (PolicyException e) when (e is not PolicyLanguageException)
        {
            throw new PolicyLanguageException(new PolicyDiagnostic(PolicyDiagnosticSeverity.Error, path, 1, 1, e.Message));
        }
        return Compile(root, includes);
    }

    /// <summary>Reads policy text; <paramref name="fileName"/> names it in messages (and its directory is where
    /// <c>#include</c> looks first: the current directory for <c>&lt;string&gt;</c>).</summary>
    public static PolicyDocument Parse(string text, string fileName = "<string>", PolicyLanguageOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        options ??= new PolicyLanguageOptions();
        var includes = new Includes(options.IncludePaths);
        return Compile(includes.Root(fileName, text), includes);
    }

    private static PolicyDocument Compile(SourceFile root, Includes includes)
    {
        var warnings = new List<PolicyDiagnostic>();
        try
        {
            var tokens = Lexer.Tokenize(root, includes);
            var program = Parser.Parse(tokens, warnings);
            return PolicyResolver.Resolve(program, warnings);
        }
        catch (InsufficientExecutionStackException)
        {
            throw new PolicyLanguageException(new PolicyDiagnostic(PolicyDiagnosticSeverity.Error, root.Name, 1, 1, "policy nested too deeply"));
        }
    }
}

/// <summary>A loaded policy file: the rules it makes, in order, and its default action. <see cref="ApplyTo"/> adds them to
/// a <see cref="PolicyBuilder"/> (which adds the sandbox's always-on rules when built).</summary>
public sealed class PolicyDocument
{
    private readonly List<Action<PolicyBuilder>> _steps;

    internal PolicyDocument(List<Action<PolicyBuilder>> steps, SyscallAction defaultAction, IReadOnlyList<PolicyDiagnostic> warnings,
        IReadOnlyList<int> mentioned)
    {
        _steps = steps;
        DefaultAction = defaultAction;
        Warnings = warnings;
        MentionedSyscalls = mentioned;
    }

    /// <summary>The <c>DEFAULT</c> action (KILL, a violation, when the file has none).</summary>
    public SyscallAction DefaultAction { get; }

    /// <summary>Warnings (aliases, rules that can never apply, errno values clamped, ...).</summary>
    public IReadOnlyList<PolicyDiagnostic> Warnings { get; }

    /// <summary>The x86-64 syscall numbers the file's rules name (sorted, distinct), presets and groups included.</summary>
    public IReadOnlyList<int> MentionedSyscalls { get; }

    /// <summary>Adds the rules (in the file's order, after any rules already in <paramref name="builder"/>, which therefore
    /// win) and sets the default action. The builder then follows the language's first-match-wins semantics.</summary>
    public PolicyBuilder ApplyTo(PolicyBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.FirstMatchWins = true;
        foreach (var step in _steps) step(builder);
        builder.DefaultAction(DefaultAction);
        return builder;
    }

    /// <summary>A new builder with the rules (<see cref="ApplyTo"/>).</summary>
    public PolicyBuilder ToBuilder() => ApplyTo(new PolicyBuilder());
}
