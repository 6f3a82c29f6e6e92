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

    /// <summary>Learn → policy → run through the CLI: <c>trace</c> writes the policy, <c>run --policy</c> with it gives the
    /// same output and exit status.</summary>
    [Theory]
    [InlineData("ls", "/bin/ls", "-la", "/")]
    [InlineData("sh", "/bin/sh", "-c", "ls /usr | wc -l")]
    [InlineData("python3", "/usr/bin/python3", "-c", "import json,sys; print(json.dumps({'n': sum(range(10))}))")]
    [InlineData("static", "@cli_syscall-static", "39")]
    public async Task Trace_ThenRunWithTheLearnedPolicy_GivesTheSameRun(string name, string program, params string[] args)
    {
        if (program.StartsWith('@')) program = CliRunner.Testcase(program[1..]);
        if (!File.Exists(program)) return; // not on this machine (python3 is on Debian 12)
        string file = PolicyPath(name + ".policy");
        string[] sub = name is "sh" or "python3" ? ["--ro-bind", "/usr"] : [];
        CliOutcome traced = await CliRunner.RunSlowAsync(TimeSpan.FromMinutes(2), ["trace", "--output", file, .. sub, "--", program, .. args]);
        Assert.True(traced.ExitCode == 0, traced.ToString());
        CliOutcome replay = await CliRunner.RunAsync(["run", "--policy", file, .. sub, "--", program, .. args]);
        Assert.True(replay.ExitCode == 0, replay + "\n--- policy\n" + await File.ReadAllTextAsync(file));
        // The same output; for ls -la /, but for /proc's line (its link count counts the host's processes at that moment,
        // and sets the width of that column for every line: runs of spaces are one here) and the times (each sandbox's
        // root is made when it starts: the two runs may straddle a minute).
        static string Stable(string o) => string.Join('\n', o.Split('\n').Where(l => !l.EndsWith(" proc", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, @" [A-Z][a-z]{2} [ \d]\d (\d\d:\d\d| \d{4}) ", " TIME "))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, " +", " ")));
        Assert.Equal(Stable(traced.Stdout), Stable(replay.Stdout));
    }

    /// <summary>What the learn run did not do is still a violation: a policy learned from a run that made no socket call
    /// kills a run that makes one.</summary>
    [Fact]
    public async Task ALearnedPolicy_DeniesASyscallTheRunDidNotMake()
    {
        string file = PolicyPath("getpid.policy");
        CliOutcome traced = await CliRunner.RunAsync("trace", "--output", file, "--", CliRunner.Testcase("cli_syscall-static"), "39");
        Assert.True(traced.ExitCode == 0, traced.ToString());
        Assert.DoesNotContain("socket", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        CliOutcome socket = await CliRunner.RunAsync("run", "--policy", file, "--", CliRunner.Testcase("cli_syscall-static"), "41");
        Assert.True(socket.ExitCode == 159, socket.ToString());
        Assert.Contains("socket", socket.Stderr, StringComparison.Ordinal);
    }
}
