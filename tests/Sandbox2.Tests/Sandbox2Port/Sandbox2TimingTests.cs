using System.Diagnostics;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>Sandbox2's timing tests from <c>sandbox2_test.cc</c> that issue 14 asks of the monitor: a sandbox that keeps
/// every CPU busy still gets its wall-time verdict (<c>Starvation</c>, testcase <c>s2_starve.c</c>), and a killed sandbox
/// is gone quickly (<c>SandboxeeKillDontAwait</c>). The assertions are on states; the time bounds are generous safety
/// nets for a loaded machine (bench/ and the report keep the measured numbers).</summary>
public class Sandbox2TimingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Sandbox2Test_Starvation()
    {
        string path = Port.Testcase("s2_starve");
        var executor = new Executor(path, []);
        executor.Limits.WallTime = TimeSpan.FromSeconds(5);
        executor.Limits.Processes = 4096;
        var policy = Port.AllowAll(path).CollectStacktracesOnTimeout(false).Build();
        var clock = Stopwatch.StartNew();
        var result = await Port.Run(executor, policy);
        clock.Stop();
        output.WriteLine($"starve: {result.Reason}; verdict to result {clock.Elapsed.TotalSeconds:0.000} s");
        Assert.True(result.Status == SandboxStatus.Timeout, result.ToString());
        // Sandbox2 allows 10 s for its 5 s limit; on a machine shared with other builds give it twice that.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"the 5 s wall-time verdict took {clock.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task Sandbox2Test_SandboxeeKillDontAwait()
    {
        string path = Port.Testcase("s2_symbolize");
        var sandbox = new Sandbox(new Executor(path, ["4"]), Execution.Sandboxes.Policy(path).Build());
        var run = sandbox.RunAsync();
        Assert.True(await sandbox.Ready.WaitAsync(Port.Timeout));
        var clock = Stopwatch.StartNew();
        sandbox.Kill();
        await sandbox.DisposeAsync();
        clock.Stop();
        var result = await run.WaitAsync(Port.Timeout);
        output.WriteLine($"kill-dispose: {clock.Elapsed.TotalMilliseconds:0.0} ms");
        Assert.Equal(SandboxStatus.ExternalKill, result.Status);
        await Execution.Sandboxes.WaitGone(sandbox.InitPid!.Value, Port.Timeout); // nothing of it is left
        // Sandbox2 allows 200 ms; a loaded machine gets a safety net of 5 s (the measured numbers are in the report).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"Kill then dispose took {clock.Elapsed.TotalMilliseconds:0} ms");
    }
}
