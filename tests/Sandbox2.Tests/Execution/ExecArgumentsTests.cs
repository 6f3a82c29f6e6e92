namespace Sandbox2.Tests.Execution;

/// <summary>No arbitrary cap on arguments: the kernel's execve limits, checked before start, reported in words.</summary>
public class ExecArgumentsTests
{
    [Fact]
    public void TheLimitIsTheKernels()
    {
        Assert.Null(ExecArguments.Check(Enumerable.Repeat("x", 20_000).ToArray(), ["PATH=/bin"]));
        Assert.Contains("argument list too long", ExecArguments.Check(Enumerable.Repeat("x", 1_000_000).ToArray(), []), StringComparison.Ordinal);
        Assert.Contains("MAX_ARG_STRLEN", ExecArguments.Check(["echo", new string('a', 200_000)], []), StringComparison.Ordinal);
        Assert.InRange(ExecArguments.TotalLimit(), 128 << 10, 6 << 20);
    }

    [Fact]
    public async Task TwentyThousandArgumentsRunAndAMillionIsAPreciseSetupError()
    {
        var policy = BuiltinPolicies.CreateDefault().AddLibrariesForBinary("/bin/echo").Build();
        var many = Enumerable.Range(0, 20_000).Select(i => "a").ToArray();
        var executor = new Executor("/bin/echo", many) { Stdout = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write) };
        await using (var sandbox = new Sandbox(executor, policy))
        {
            var result = await sandbox.RunAsync();
            Assert.True(result.Status == SandboxStatus.Ok, result.ToString());
        }

        var tooMany = new Executor("/bin/echo", Enumerable.Repeat("a", 1_000_000).ToArray());
        await using var refused = new Sandbox(tooMany, policy);
        var r = await refused.RunAsync();
        Assert.Equal(SandboxStatus.SetupError, r.Status);
        Assert.Equal(ReasonCode.FailedConfig, r.ReasonCode);
        Assert.StartsWith("argument list too long", r.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", r.Reason, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task AnOpenFilesLimitAboveTheHardLimitIsAPreciseSetupError()
    {
        var policy = BuiltinPolicies.CreateDefault().AddLibrariesForBinary("/bin/true").Build();
        var executor = new Executor("/bin/true") { Limits = new Limits { OpenFiles = Limits.MaxOpenFiles + 1 } };
        Skip.If(Limits.MaxOpenFiles == ulong.MaxValue);
        await using var sandbox = new Sandbox(executor, policy);
        var r = await sandbox.RunAsync();
        Assert.Equal(SandboxStatus.SetupError, r.Status);
        Assert.Contains("more than this host allows", r.Reason, StringComparison.Ordinal);
    }
}
