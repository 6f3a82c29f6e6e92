namespace Sandbox2.Tests.Cli;

/// <summary>Bad command lines: exit status 2 and exactly one line on stderr naming the problem; nothing runs.</summary>
public class CliCommandLineTests
{
    [Theory]
    [InlineData("--bogus")]
    [InlineData("run", "--bogus", "--", "/bin/true")]
    [InlineData("run", "--bogus")]
    [InlineData("frobnicate")]
    [InlineData()]
    [InlineData("run")]
    [InlineData("run", "--")]
    [InlineData("run", "--memory-limit", "12Q", "--", "/bin/true")]
    [InlineData("run", "--memory-limit", "0", "--", "/bin/true")]
    [InlineData("run", "--process-limit", "0", "--", "/bin/true")]
    [InlineData("run", "--process-limit", "many", "--", "/bin/true")]
    [InlineData("run", "--output-limit", "0", "--", "/bin/true")]
    [InlineData("run", "--memory-limit", "99999999999T", "--", "/bin/true")]
    [InlineData("run", "--file-size-limit", "-1", "--", "/bin/true")]
    [InlineData("run", "--time-limit", "abc", "--", "/bin/true")]
    [InlineData("run", "--time-limit", "0", "--", "/bin/true")]
    [InlineData("run", "--time-limit", "-3", "--", "/bin/true")]
    [InlineData("run", "--cpu-limit", "1.5", "--", "/bin/true")]
    [InlineData("run", "--open-files-limit", "many", "--", "/bin/true")]
    [InlineData("run", "--network", "wifi", "--", "/bin/true")]
    [InlineData("run", "--env", "NOEQUALS", "--", "/bin/true")]
    [InlineData("run", "--env", "=value", "--", "/bin/true")]
    [InlineData("run", "--cwd", "relative/dir", "--", "/bin/true")]
    [InlineData("run", "--ro-bind", "/definitely/not/here", "--", "/bin/true")]
    [InlineData("run", "--bind", "/tmp:relative", "--", "/bin/true")]
    [InlineData("run", "--tmpfs", "relative", "--", "/bin/true")]
    [InlineData("run", "--tmpfs", "/scratch:lots", "--", "/bin/true")]
    [InlineData("run", "--tmpfs", "/scratch:0", "--", "/bin/true")]
    [InlineData("run", "--allow", ",", "--", "/bin/true")]
    [InlineData("run", "--result", "/definitely/not/here/result.json", "--", "/bin/true")]
    [InlineData("run", "--time-limit")]
    public async Task BadCommandLineExits2WithOneLine(params string[] args)
    {
        CliOutcome r = await CliRunner.RunAsync(args);
        Assert.True(r.ExitCode == 2, r.ToString());
        string[] lines = r.Stderr.TrimEnd('\n').Split('\n');
        Assert.True(lines.Length == 1, "expected exactly one line on stderr:\n" + r);
        Assert.StartsWith("sandbox2: ", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
        Assert.Equal("", r.Stdout);
    }

    [Theory]
    [InlineData("--memory-limit", "12Q", "--memory-limit")]
    [InlineData("--network", "wifi", "--network")]
    [InlineData("--network", "proxy", "--network proxy is not built yet")]
    [InlineData("--env", "NOEQUALS", "NAME=VALUE")]
    [InlineData("--ro-bind", "/definitely/not/here", "/definitely/not/here")]
    [InlineData("--bogus", "x", "--bogus")]
    public async Task TheMessageNamesTheProblem(string option, string value, string expected)
    {
        CliOutcome r = await CliRunner.RunAsync("run", option, value, "--", "/bin/true");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(expected, r.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--policy", "my.policy")]
    [InlineData("--allow-connect", "127.0.0.1:80")]
    public async Task LaterOptionsSayNotBuiltYet(string option, string value)
    {
        CliOutcome r = await CliRunner.RunAsync("run", option, value, "--", "/bin/true");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"sandbox2: {option} is not built yet", r.Stderr.TrimEnd('\n'));
    }

    [Theory]
    [InlineData("policy", "check", "my.policy")]
    [InlineData("policy", "compile", "my.policy")]
    public async Task LaterCommandsSayNotBuiltYet(params string[] args)
    {
        CliOutcome r = await CliRunner.RunAsync(args);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"sandbox2: the '{args[0]}' command is not built yet", r.Stderr.TrimEnd('\n'));
    }

    [Fact]
    public async Task HelpListsEveryContractOption()
    {
        CliOutcome r = await CliRunner.RunAsync("run", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (string option in new[]
        {
            "--policy", "--allow", "--ro-bind", "--bind", "--tmpfs", "--no-proc", "--cwd", "--env", "--hostname",
            "--network", "--time-limit", "--cpu-limit", "--memory-limit", "--file-size-limit", "--open-files-limit",
            "--process-limit", "--output-limit", "--sandbox-after-start", "--stack-trace", "--result",
        })
        {
            Assert.Contains(option + " ", r.Stdout, StringComparison.Ordinal);
        }
    }
}
