using System.Runtime.Versioning;

namespace Sandbox2.Tests.Cli;

/// <summary>A CLI that behaves like one (issue 13): PROGRAM's arguments are PROGRAM's, #! scripts run, messages name the
/// problem in the user's words, --help shows examples, shell completion answers.</summary>
[SupportedOSPlatform("linux")]
public sealed class CliBehaviourTests : IDisposable
{
    /// <summary>Scripts for the sandbox: world-readable (as root the sandbox runs as uid 65534).</summary>
    private readonly string _dir;

    public CliBehaviourTests()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"sandbox2-cli-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Script(string name, string text, bool executable = true)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, (UnixFileMode)(executable ? 0b111_101_101 : 0b110_100_100));
        return path;
    }

    /// <summary>Text that belongs to the library's API or to .NET, never in a CLI message.</summary>
    private static void AssertPlainMessages(CliOutcome r)
    {
        foreach (string leak in new[] { "(Parameter", "AddLibrariesForBinary", "BlockSyscallWithErrno", "Exception", "   at ", "setrlimit 7" })
            Assert.False(r.Stderr.Contains(leak, StringComparison.Ordinal), $"stderr leaks '{leak}':\n{r}");
    }

    [Fact]
    public async Task EverythingAfterProgramBelongsToProgram()
    {
        CliOutcome df = await CliRunner.RunAsync("run", "df", "-h", "/tmp");
        Assert.True(df.ExitCode == 0, df.ToString());
        Assert.Contains("Filesystem", df.Stdout, StringComparison.Ordinal);
        Assert.Contains("/tmp", df.Stdout, StringComparison.Ordinal);

        CliOutcome echo = await CliRunner.RunAsync("run", "--time-limit", "30", "echo", "-n", "--help", "--time-limit", "-h");
        Assert.True(echo.ExitCode == 0, echo.ToString());
        Assert.Equal("--help --time-limit -h", echo.Stdout);
    }

    [Fact]
    public async Task HelpBeforeProgramIsStillHelp()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--help");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Examples:", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("sandbox2 run df -h /tmp", r.Stdout, StringComparison.Ordinal);
        CliOutcome root = await CliRunner.RunAsync("--help");
        Assert.Contains("Examples:", root.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ShebangScriptsRunWithTheirInterpreter()
    {
        string sh = Script("hello.sh", "#!/bin/sh\necho \"script $0 says $1\"\n");
        CliOutcome r = await CliRunner.RunAsync("run", sh, "hi");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal($"script {sh} says hi\n", r.Stdout);

        // The one optional argument of the #! line comes first: sed -f SCRIPT INPUT.
        string sed = Script("upper.sed", "#!/bin/sed -f\ns/a/A/g\n");
        string input = Script("input.txt", "banana\n", executable: false);
        CliOutcome s = await CliRunner.RunAsync("run", "--ro-bind", input, "--", sed, input);
        Assert.True(s.ExitCode == 0, s.ToString());
        Assert.Equal("bAnAnA\n", s.Stdout);

        // #!/usr/bin/env NAME is resolved on the host.
        string env = Script("env.sh", "#!/usr/bin/env sh\necho via env\n");
        CliOutcome e = await CliRunner.RunAsync("run", env);
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Equal("via env\n", e.Stdout);

        // Through a symlink: the script's real path is read and mounted.
        string link = Path.Combine(_dir, "link");
        File.CreateSymbolicLink(link, sh);
        CliOutcome l = await CliRunner.RunAsync("run", link, "x");
        Assert.True(l.ExitCode == 0, l.ToString());
        Assert.EndsWith("says x\n", l.Stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task DebiansZcatStartsItsInterpreter()
    {
        Skip.IfNot(File.Exists("/usr/bin/zcat") && File.ReadAllText("/usr/bin/zcat").StartsWith("#!", StringComparison.Ordinal));
        // zcat is a /bin/sh script that execs gzip: the shell starts; exec after start is what @default forbids.
        CliOutcome r = await CliRunner.RunAsync("run", "zcat", "/dev/null");
        Assert.True(r.ExitCode == 159, r.ToString());
        Assert.Contains("execve", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("ELF interpreter", r.Stderr, StringComparison.Ordinal);
        AssertPlainMessages(r);
    }

    [Theory]
    [InlineData("#!" + "/bin/sh                                                                                                                                                                                                                                                                              \n", "longer than 255 bytes")]
    [InlineData("#!sh\n", "is not an absolute path")]
    [InlineData("#!/no/such/interpreter\n", "does not exist on this host")]
    [InlineData("#!\n", "names no interpreter")]
    public async Task BadShebangLinesAreSetupErrorsThatSayWhy(string text, string expected)
    {
        string script = Script("bad", text);
        CliOutcome r = await CliRunner.RunAsync("run", "--result", "-", "--", script);
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains(expected, r.Stderr, StringComparison.Ordinal);
        Assert.Contains("\"SETUP_ERROR\"", r.Stderr, StringComparison.Ordinal);
        AssertPlainMessages(r);
    }

    [Fact]
    public async Task ManyArgumentsRunUpToTheKernelsLimit()
    {
        string[] words = Enumerable.Range(0, 10_000).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        CliOutcome r = await CliRunner.RunAsync(["run", "--", "/bin/echo", .. words]);
        Assert.True(r.ExitCode == 0, r.ToString()[..Math.Min(2000, r.ToString().Length)]);
        Assert.Equal(string.Join(' ', words) + "\n", r.Stdout);
    }

    [Fact]
    public async Task LimitsThisHostCannotGiveAreUsageErrorsInWords()
    {
        CliOutcome files = await CliRunner.RunAsync("run", "--open-files-limit", "99999999", "--", "/bin/true");
        Assert.True(files.ExitCode == 2, files.ToString());
        Assert.Contains("--open-files-limit: 99999999 is more than this host allows: at most", files.Stderr, StringComparison.Ordinal);
        AssertPlainMessages(files);

        CliOutcome time = await CliRunner.RunAsync("run", "--time-limit", "1e9", "--", "/bin/true");
        Assert.True(time.ExitCode == 2, time.ToString());
        Assert.Contains("longer than the longest wall-clock limit", time.Stderr, StringComparison.Ordinal);

        CliOutcome ok = await CliRunner.RunAsync("run", "--time-limit", "1e2", "--", "/bin/true");
        Assert.True(ok.ExitCode == 0, ok.ToString());
    }

    [Fact]
    public async Task AllowingPtraceSaysItIsNeverAllowedWithoutNamingTheLibrary()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--allow", "read,ptrace", "--", "/bin/true");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("sandbox2: --allow ptrace: ptrace is never allowed in a sandbox\n", r.Stderr);
    }

    [Theory]
    [InlineData("--bind", "/definitely/not/here")]
    [InlineData("--open-files-limit", "99999999")]
    [InlineData("--bogus", "x")]
    public async Task AUsageErrorLeavesNoResultFile(string option, string value)
    {
        string result = Path.Combine(_dir, "result.json");
        CliOutcome r = await CliRunner.RunAsync("run", "--result", result, option, value, "--", "/bin/true");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.False(File.Exists(result), "a usage error left " + result);
    }

    [Fact]
    public async Task ShellCompletionAnswers()
    {
        CliOutcome script = await CliRunner.RunAsync("completion", "bash");
        Assert.True(script.ExitCode == 0, script.ToString());
        Assert.Contains("complete -o default -o bashdefault -F _sandbox2_complete sandbox2", script.Stdout, StringComparison.Ordinal);
        Assert.Contains("[suggest:", script.Stdout, StringComparison.Ordinal);

        CliOutcome options = await CliRunner.RunAsync("[suggest:17]", "sandbox2 run --ne");
        Assert.True(options.ExitCode == 0, options.ToString());
        Assert.Contains("--network", options.Stdout.Split('\n'));
        CliOutcome commands = await CliRunner.RunAsync("[suggest:11]", "sandbox2 ru");
        Assert.Contains("run", commands.Stdout.Split('\n'));
    }
}
