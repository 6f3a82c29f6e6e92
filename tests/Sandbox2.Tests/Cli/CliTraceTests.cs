namespace Sandbox2.Tests.Cli;

/// <summary><c>sandbox2 trace --output FILE [RUN OPTIONS] -- PROGRAM</c>: learn mode through the CLI, on real sandboxes.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CliTraceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox2-trace-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PolicyPath(string name = "learned.policy") => Path.Combine(_dir, name);

    [Fact]
    public async Task Trace_RunsTheProgramAsRunDoes_AndWritesAPolicyInTheLanguage()
    {
        string file = PolicyPath();
        CliOutcome traced = await CliRunner.RunAsync("trace", "--output", file, "--", "/bin/echo", "hello");
        Assert.True(traced.ExitCode == 0, traced.ToString());
        Assert.Equal("hello\n", traced.Stdout);
        Assert.Contains($"sandbox2: trace: wrote {file}: learned: ", traced.Stderr, StringComparison.Ordinal);
        string text = await File.ReadAllTextAsync(file);
        Assert.StartsWith("// Learned by 'sandbox2 trace' from: /bin/echo hello\n// The run ended OK (exit 0).\n", text, StringComparison.Ordinal);
        Assert.Contains("POLICY learned {\n", text, StringComparison.Ordinal);
        Assert.Contains("    write(fd, buf, count) { fd == 1 }", text, StringComparison.Ordinal);
        Assert.EndsWith("}\nUSE learned DEFAULT KILL\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("execve", text, StringComparison.Ordinal); // the sandbox's own exec is not the program's
    }

    [Theory]
    [InlineData("cli_exit", 3)]
    [InlineData("cli_exit-static", 42)]
    public async Task Trace_ExitsWithTheProgramsStatus(string testcase, int code)
    {
        CliOutcome r = await CliRunner.RunAsync("trace", "--output", PolicyPath(), "--", CliRunner.Testcase(testcase), code.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(r.ExitCode == code, r.ToString());
        Assert.Contains("exit_group", await File.ReadAllTextAsync(PolicyPath()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Trace_AlwaysOnRulesStillHold_PtraceIsAViolation_AndThePolicyIsStillWritten()
    {
        CliOutcome r = await CliRunner.RunAsync("trace", "--output", PolicyPath(), "--", CliRunner.Testcase("cli_syscall-static"), CliRunner.PtraceNumber);
        Assert.True(r.ExitCode == 159, r.ToString());
        string text = await File.ReadAllTextAsync(PolicyPath());
        Assert.Contains("The run ended VIOLATION.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("ptrace", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--allow", "socket")]
    [InlineData("--policy", "x.policy")]
    public async Task Trace_RejectsOptionsThatChooseSyscallRules(string option, string value)
    {
        CliOutcome r = await CliRunner.RunAsync("trace", "--output", PolicyPath(), option, value, "--", "/bin/true");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"sandbox2: {option}: not taken by 'trace'", r.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(PolicyPath()));
    }

    [Fact]
    public async Task Trace_WithoutOutput_IsABadCommandLine()
    {
        CliOutcome r = await CliRunner.RunAsync("trace", "--", "/bin/true");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--output", r.Stderr, StringComparison.Ordinal);
        CliOutcome missingDir = await CliRunner.RunAsync("trace", "--output", Path.Combine(_dir, "no", "such.policy"), "--", "/bin/true");
        Assert.Equal(2, missingDir.ExitCode);
        Assert.Contains("does not exist", missingDir.Stderr, StringComparison.Ordinal);
    }
}
