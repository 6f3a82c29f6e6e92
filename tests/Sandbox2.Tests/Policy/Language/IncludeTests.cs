namespace Sandbox2.Tests.Policy.Language;

/// <summary><c>#include</c>: the including file's directory, then the -I search paths; several files on one line; the
/// depth limit; cycles; non-regular files.</summary>
public sealed class IncludeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox2-include-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private static string Decide(PolicyDocument doc, string call) =>
        doc.ToBuilder().Build().Evaluate(ConformanceTests.ParseCall(call)).ToPolicyWord();

    [Fact]
    public void IncludesFromTheFilesDirectoryAndSearchPaths()
    {
        Write("basic.policy", "POLICY allow_exit { ALLOW { exit, exit_group } }");
        Write("lib/stdio.policy", "POLICY allow_stdio { ALLOW { read { fd == 0 }, write { fd == 1 || fd == 2 } } }");
        Write("chain.policy", "#include \"basic.policy\"\n#include \"stdio.policy\"\n");
        string main = Write("main.policy", "#include \"chain.policy\" \"empty.policy\";\nPOLICY composite { USE allow_exit, USE allow_stdio } USE composite DEFAULT ERRNO(1)\n");
        Write("empty.policy", "// nothing\n");
        var doc = PolicyLanguage.Load(main, new PolicyLanguageOptions { IncludePaths = [Path.Combine(_dir, "lib")] });
        Assert.Equal("ALLOW", Decide(doc, "exit_group"));
        Assert.Equal("ALLOW", Decide(doc, "write,2"));
        Assert.Equal("ERRNO(1)", Decide(doc, "write,3"));
        // without the search path, stdio.policy is not found; the message names the included file's line
        var e = Assert.Throws<PolicyLanguageException>(() => PolicyLanguage.Load(main));
        Assert.Contains("could not include file `stdio.policy'", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("chain.policy", e.Diagnostic.File, StringComparison.Ordinal);
        Assert.Equal(2, e.Diagnostic.Line);
        Assert.Contains("-I DIR", e.Diagnostic.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void ErrorsInIncludedFilesNameThatFile()
    {
        Write("bad.policy", "POLICY p {\n  ALLOW { nosuch }\n}\n");
        string main = Write("main.policy", "#include \"bad.policy\"\nUSE p DEFAULT KILL\n");
        var e = Assert.Throws<PolicyLanguageException>(() => PolicyLanguage.Load(main));
        Assert.EndsWith("bad.policy:2:11: Undefined syscall `nosuch'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CyclesAreReportedAsCycles()
    {
        Write("self.policy", "#include \"self.policy\"\n");
        Write("a.policy", "#include \"b.policy\"\n");
        Write("b.policy", "#include \"a.policy\"\n");
        foreach (string start in new[] { "self.policy", "a.policy" })
        {
            string main = Write("main-" + start, $"#include \"{start}\";\nDEFAULT KILL\n");
            var e = Assert.Throws<PolicyLanguageException>(() => PolicyLanguage.Load(main));
            Assert.Contains("include cycle", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void DepthIsLimitedToSixteen()
    {
        for (int i = 0; i < 20; i++) Write($"d{i}.policy", $"#include \"d{i + 1}.policy\"\n");
        Write("d20.policy", "DEFAULT ALLOW\n");
        var e = Assert.Throws<PolicyLanguageException>(() => PolicyLanguage.Load(Path.Combine(_dir, "d0.policy")));
        Assert.Contains("maximum include depth (16) exceeded", e.Message, StringComparison.Ordinal);
        Write("d16.policy", "DEFAULT ALLOW\n");   // d0 → d16: 16 levels
        Assert.Equal("ALLOW", Decide(PolicyLanguage.Load(Path.Combine(_dir, "d0.policy")), "getpid"));
    }

    [Fact]
    public void OnlyRegularFilesAreRead()
    {
        string main = Write("main.policy", "#include \"/dev/zero\";\nDEFAULT KILL\n");
        var e = Assert.Throws<PolicyLanguageException>(() => PolicyLanguage.Load(main));
        Assert.Contains("not a regular file", e.Message, StringComparison.Ordinal);
        string fifo = Path.Combine(_dir, "fifo.policy");
        Assert.Equal(0, System.Diagnostics.Process.Start("mkfifo", fifo).WaitForExitAndGetCode());
        main = Write("main2.policy", "#include \"fifo.policy\";\nDEFAULT KILL\n");
        e = Assert.Throws<PolicyLanguageException>(() => PolicyLanguage.Load(main));   // must not block on the FIFO
        Assert.Contains("not a regular file", e.Message, StringComparison.Ordinal);
    }
}

internal static class ProcessExtensions
{
    public static int WaitForExitAndGetCode(this System.Diagnostics.Process p)
    {
        p.WaitForExit();
        return p.ExitCode;
    }
}
