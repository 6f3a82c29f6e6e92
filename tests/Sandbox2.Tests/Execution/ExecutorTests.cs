namespace Sandbox2.Tests.Execution;

/// <summary>Executor: program lookup, program from a descriptor, argv/cwd as given, bad settings as clear setup errors,
/// and the sandbox's lifetime (dispose kills).</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ExecutorTests
{
    private static readonly string Args = Sandboxes.Testcase("ex_args");

    [Fact]
    public void ProgramPathIsResolvedOnTheHostPath()
    {
        var ls = new Executor("ls");
        Assert.True(Path.IsPathRooted(ls.ProgramPath) && ls.ProgramPath.EndsWith("/ls", StringComparison.Ordinal) && File.Exists(ls.ProgramPath), ls.ProgramPath);
        Assert.Equal("ls", ls.Argv0);
        Assert.Equal("/bin/ls", new Executor("/bin/ls").ProgramPath);
        Assert.Equal("no-such-program-sandbox2-ex", new Executor("no-such-program-sandbox2-ex").ProgramPath);
    }

    [Fact]
    public async Task ArgvAndCwdAreAsGiven()
    {
        string[] args = ["two words", "ünïcode", "", "--flag=x"];
        var o = await Sandboxes.Async(new Executor(Args, args) { Cwd = "/tmp" }, Sandboxes.Policy(Args).Build());
        Assert.True(o.Result.Status == SandboxStatus.Ok, o.ToString());
        Assert.Equal(string.Join('\n', [Args, .. args, "cwd /tmp"]) + "\n", o.Stdout);
    }

    [Fact]
    public async Task ProgramFromAnOpenDescriptor()
    {
        var executor = new Executor(Sandboxes.OpenRead(Sandboxes.Testcase("ex_args-static")), "my-name", ["x"]);
        Assert.StartsWith("fd:", executor.ProgramPath, StringComparison.Ordinal);
        var o = await Sandboxes.Async(executor, BuiltinPolicies.CreateDefault().Build());
        Assert.True(o.Result.Status == SandboxStatus.Ok, o.ToString());
        Assert.Equal("my-name\nx\ncwd /\n", o.Stdout);
    }

    [Fact]
    public async Task BadExecutorSettingsAreSetupErrorsNamingTheProblem()
    {
        var env = await Sandboxes.Async(new Executor(Args, [], new Dictionary<string, string> { ["A=B"] = "x" }), Sandboxes.Policy(Args).Build());
        Assert.True(env.Result.Status == SandboxStatus.SetupError && env.Result.ReasonCode == ReasonCode.FailedConfig, env.ToString());
        Assert.Contains("A=B", env.Result.Reason, StringComparison.Ordinal);

        var relative = await Sandboxes.Async(new Executor(Args) { Cwd = "tmp" }, Sandboxes.Policy(Args).Build());
        Assert.True(relative.Result.Status == SandboxStatus.SetupError, relative.ToString());
        Assert.Contains("tmp is not absolute", relative.Result.Reason, StringComparison.Ordinal);

        var missing = await Sandboxes.Async(new Executor(Args) { Cwd = "/no/such/dir" }, Sandboxes.Policy(Args).Build());
        Assert.True(missing.Result.Status == SandboxStatus.SetupError && missing.Result.ReasonCode == ReasonCode.FailedCwd, missing.ToString());
        Assert.Contains("/no/such/dir", missing.Result.Reason, StringComparison.Ordinal);
        Assert.Equal("", missing.Stdout);
    }

    [Fact]
    public async Task DisposingARunningSandboxKillsIt()
    {
        string probe = Sandboxes.Testcase("ex_probe-static");
        var sandbox = new Sandbox(new Executor(probe, ["sleep", "60"]), Sandboxes.Policy(probe).Build());
        var run = sandbox.RunAsync();
        var deadline = DateTime.UtcNow + Sandboxes.Timeout;
        while (sandbox.InitPid is null && !run.IsCompleted && DateTime.UtcNow < deadline) await Task.Delay(5);
        if (sandbox.InitPid is null) Assert.Fail("the sandbox did not start: " + (run.IsCompleted ? (await run).ToString() : "timeout"));
        int init = sandbox.InitPid!.Value;
        await sandbox.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(run.IsCompleted);
        Assert.Equal(SandboxStatus.ExternalKill, (await run).Status);
        await Sandboxes.WaitGone(init, TimeSpan.FromMilliseconds(500));
    }
}
