using Xunit.Abstractions;

namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>Port of Sandbox2's <c>stack_trace_test.cc</c> for the unotify monitor with namespaces (testcase
/// <c>s2_symbolize.c</c>, a rewrite of <c>testcases/symbolize.cc</c>). Its CrashMe (SIGNALED) and ExitNormally
/// (CollectStacktracesOnExit) cases are not ported yet: stack traces on signal and on exit are not built.</summary>
public class StackTraceTests(ITestOutputHelper output)
{
    private async Task<SandboxResult> Run(string mode, Func<PolicyBuilder, PolicyBuilder>? configure = null, TimeSpan? wallTime = null)
    {
        await Monitor.WarmUpStackTraces().WaitAsync(Port.Timeout); // the state needed: the tracer's code compiled
        string path = Port.Testcase("s2_symbolize");
        var executor = new Executor(path, [mode]);
        if (wallTime is not null) executor.Limits.WallTime = wallTime;
        var builder = Execution.Sandboxes.Policy(path);
        var result = await Port.Run(executor, (configure?.Invoke(builder) ?? builder).Build());
        foreach (var line in result.StackTrace ?? []) output.WriteLine(line);
        return result;
    }

    private static int Frame(SandboxResult result, string function) =>
        result.StackTrace!.ToList().FindIndex(f => f.Contains(" " + function + "+", StringComparison.Ordinal));

    /// <summary>SymbolizationWorks, ViolatePolicy: VIOLATION with violate_policy → run_test → main in the trace.</summary>
    [Fact]
    public async Task StackTraceTest_SymbolizationWorks_ViolatePolicy()
    {
        var result = await Run("2");
        Assert.True(result.Status == SandboxStatus.Violation && result.Violation!.SyscallName == "ptrace", result.ToString());
        Assert.NotNull(result.StackTrace);
        if (Monitoring.Symbolization.Unsymbolized(result.StackTrace)) return;
        int violate = Frame(result, "violate_policy"), run = Frame(result, "run_test"), main = Frame(result, "main");
        Assert.True(violate >= 0 && violate < run && run < main, string.Join('\n', result.StackTrace!));
    }

    /// <summary>SymbolizationWorks, SleepForXSeconds: TIMEOUT (1 s) with the sleeping frames, on by default.</summary>
    [Fact]
    public async Task StackTraceTest_SymbolizationWorks_SleepForXSeconds()
    {
        var result = await Run("4", wallTime: TimeSpan.FromSeconds(1));
        Assert.True(result.Status == SandboxStatus.Timeout, result.ToString());
        Assert.NotNull(result.StackTrace); // CollectStacktracesOnTimeout is on by default, as in Sandbox2
        if (Monitoring.Symbolization.Unsymbolized(result.StackTrace)) return;
        int sleep = Frame(result, "sleep_for_seconds"), run = Frame(result, "run_test"), main = Frame(result, "main");
        Assert.True(sleep >= 0 && sleep < run && run < main, string.Join('\n', result.StackTrace!));
    }

    /// <summary>SymbolizationWorks with five frames of recursion before the violation: every frame is there.</summary>
    [Fact]
    public async Task StackTraceTest_RecursiveStackTrace()
    {
        var result = await Run("5");
        Assert.True(result.Status == SandboxStatus.Violation, result.ToString());
        if (Monitoring.Symbolization.Unsymbolized(result.StackTrace)) return;
        Assert.True(result.StackTrace!.Count(f => f.Contains(" recurse+", StringComparison.Ordinal)) >= 6, string.Join('\n', result.StackTrace!));
        Assert.True(Frame(result, "main") > Frame(result, "run_test"));
    }

    /// <summary>Sandbox2's SandboxeeTimeoutDisabledStacktraces: with the timeout trace off, none is collected.</summary>
    [Fact]
    public async Task StackTraceTest_TimeoutWithStackTracesDisabled_HasNone()
    {
        var result = await Run("4", b => b.CollectStacktracesOnTimeout(false), TimeSpan.FromSeconds(1));
        Assert.True(result.Status == SandboxStatus.Timeout, result.ToString());
        Assert.Null(result.StackTrace);
    }
}
