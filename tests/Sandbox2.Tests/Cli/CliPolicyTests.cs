namespace Sandbox2.Tests.Cli;

/// <summary><c>sandbox2 policy check | compile | explain | test</c> and <c>run --policy</c>, through the built tool.</summary>
public sealed class CliPolicyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox2-cli-policy-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private const string Tool = "POLICY my_tool {\n  ALLOW { read, write(fd, buf, count) { fd == 1 || fd == 2 }, exit_group },\n  ERRNO(1) { openat }\n}\nUSE allow_static_startup, my_tool DEFAULT KILL\n";

    [Fact]
    public async Task CheckSaysOkOrNamesThePlace()
    {
        CliOutcome ok = await CliRunner.RunAsync("policy", "check", Write("ok.policy", Tool));
        Assert.True(ok.ExitCode == 0, ok.ToString());
        string bad = Write("bad.policy", "ALLOW {\n  wirte\n}\n");
        CliOutcome r = await CliRunner.RunAsync("policy", "check", bad);
        Assert.True(r.ExitCode == 2, r.ToString());
        string[] lines = r.Stderr.TrimEnd('\n').Split('\n');
        Assert.Equal($"{bad}:2:3: Undefined syscall `wirte'", lines[0]);
        Assert.Equal("    ^", lines[2]);
        Assert.Contains("did you mean `write'?", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheReadmeExampleOfNsjailIsASyntaxErrorWithAHint()
    {
        string f = Write("readme.policy", "POLICY example {\n  ALLOW {\n    read, write\n  }\n  DEFAULT KILL\n}\nUSE example DEFAULT KILL\n");
        CliOutcome r = await CliRunner.RunAsync("policy", "check", f);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"{f}:5:3: syntax error, unexpected DEFAULT, expecting '}}' or ','", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("hint: DEFAULT belongs outside POLICY", r.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("write,1", "ALLOW")]
    [InlineData("write,3", "KILL")]
    [InlineData("openat", "ERRNO(1)")]
    [InlineData("0", "ALLOW")]
    [InlineData("-1", "KILL")]
    [InlineData("ptrace", "KILL")]
    [InlineData("clone3", "ERRNO(38)")]
    public async Task TestPrintsTheDecisionFirst(string call, string word)
    {
        CliOutcome r = await CliRunner.RunAsync("policy", "test", Write("t.policy", Tool), "--syscall", call);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(word, r.Stdout.Split('\n')[0].Split(' ')[0]);
    }

    [Theory]
    [InlineData("x86-32", "KILL")]
    [InlineData("x32", "KILL")]
    public async Task ForeignAbisAreViolationsUnderDefaultAllow(string arch, string word)
    {
        CliOutcome r = await CliRunner.RunAsync("policy", "test", Write("allow.policy", "DEFAULT ALLOW"), "--syscall", "1", "--arch", arch);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith(word + " - always-on", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CompileExplainAndBuiltins()
    {
        string f = Write("c.policy", Tool);
        CliOutcome asm = await CliRunner.RunAsync("policy", "compile", f);
        Assert.True(asm.ExitCode == 0, asm.ToString());
        Assert.Contains("instructions", asm.Stdout.Split('\n')[0], StringComparison.Ordinal);
        CliOutcome c = await CliRunner.RunAsync("policy", "compile", f, "--format", "c");
        Assert.Contains("static struct sock_filter filter[] = {", c.Stdout, StringComparison.Ordinal);
        CliOutcome explain = await CliRunner.RunAsync("policy", "explain", f);
        Assert.Contains("write (1):\n  when ((u32)fd == 0x1 || (u32)fd == 0x2): ALLOW", explain.Stdout, StringComparison.Ordinal);
        Assert.Contains("any other syscall: KILL (default action)", explain.Stdout, StringComparison.Ordinal);
        CliOutcome builtin = await CliRunner.RunAsync("policy", "test", "@default", "--syscall", "read");
        Assert.StartsWith("ALLOW", builtin.Stdout, StringComparison.Ordinal);
        CliOutcome unknown = await CliRunner.RunAsync("policy", "check", "@nosuch");
        Assert.Equal(2, unknown.ExitCode);
    }

    [Fact]
    public async Task RunUsesThePolicyFile()
    {
        string allow = Write("echo.policy", "USE default DEFAULT KILL\n");
        CliOutcome r = await CliRunner.RunAsync("run", "--policy", allow, "--", "/bin/echo", "hello");
        Assert.True(r.ExitCode == 0 && r.Stdout == "hello\n", r.ToString());
        string noWrite = Write("nowrite.policy", "ERRNO(5) { write }\nUSE default DEFAULT KILL\n");
        r = await CliRunner.RunAsync("run", "--policy", noWrite, "--", "/bin/echo", "hello");
        Assert.True(r.ExitCode != 0 && r.Stdout == "", r.ToString());
        r = await CliRunner.RunAsync("run", "--policy", allow, "--", CliRunner.Testcase("cli_syscall"), CliRunner.PtraceNumber);
        Assert.True(r.ExitCode == 159, r.ToString());
        string broken = Write("broken.policy", "ALLOW { nosuch }\n");
        r = await CliRunner.RunAsync("run", "--policy", broken, "--", "/bin/true");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"sandbox2: --policy: {broken}:1:9: Undefined syscall `nosuch'", r.Stderr.TrimEnd('\n'));
    }
}
