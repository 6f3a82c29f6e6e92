using Xunit.Abstractions;
using Sandbox2.Tests.Execution;

namespace Sandbox2.Tests.Monitoring;

/// <summary>The sandbox's init traces the sandboxee's main thread (stack traces on a signal or an exit, on by default):
/// what that must not change for the program, and the all-threads traces (testcase <c>init_tracee.c</c>).</summary>
public class InitTracerTests(ITestOutputHelper output)
{
    private async Task<Sandboxes.Outcome> Run(string mode, Func<PolicyBuilder, PolicyBuilder>? configure = null)
    {
        await Sandbox2.Monitor.WarmUpStackTraces().WaitAsync(Sandboxes.Timeout);
        string path = Sandboxes.Testcase("init_tracee");
        var builder = Sandboxes.Policy(path).AllowFork().AllowHandleSignals().AllowKill().AllowSafeFcntl();
        var o = await Sandboxes.Async(new Executor(path, [mode]), (configure?.Invoke(builder) ?? builder).Build());
        output.WriteLine(o.ToString());
        foreach (var line in o.Result.StackTrace ?? []) output.WriteLine(line);
        return o;
    }

    [Fact]
    public async Task AProgramThatHandlesItsOwnSegv_RunsOn_AndHasNoTrace()
    {
        var o = await Run("handled-segv");
        Assert.True(o.Result.Status == SandboxStatus.Ok && o.Result.ExitCode == 0, o.ToString());
        Assert.Equal("caught\n", o.Stdout);
        Assert.Null(o.Result.StackTrace);
    }

    [Fact]
    public async Task JobControlStillWorks_StopThenContinue()
    {
        var o = await Run("stop-cont");
        Assert.True(o.Result.Status == SandboxStatus.Ok && o.Result.ExitCode == 0, o.ToString());
        Assert.Equal("resumed\n", o.Stdout);
    }

    /// <summary>A program that stops itself (its tracer, init, keeps the group stop) is still traced when it is ended
    /// (the trace is asked of init, which interrupts the stopped thread): once it is stopped, Kill() with the kill trace on.</summary>
    [Fact]
    public async Task AProgramThatStopsItselfIsStillTracedWhenEnded()
    {
        var result = await RunThenKill("stop-forever", state => state is 'T' or 't');
        Assert.True(result.Status == SandboxStatus.ExternalKill, result.ToString());
        Assert.NotNull(result.StackTrace);
        Assert.StartsWith("#0 0x", result.StackTrace![0], StringComparison.Ordinal);
        if (Symbolization.Unsymbolized(result.StackTrace)) return;
        Assert.Contains(result.StackTrace!, f => f.Contains(" stops_itself+", StringComparison.Ordinal));
    }

    /// <summary>A kill (or timeout) trace of the main thread while init traces it: asked of init, the sleeping frames there.</summary>
    [Fact]
    public async Task AKillTraceOfTheTracedMainThreadIsAskedOfInit()
    {
        var result = await RunThenKill("threads-sleep", state => state == 'S', b => b.CollectStacktracesOnExit(true));
        Assert.True(result.Status == SandboxStatus.ExternalKill, result.ToString());
        Assert.NotNull(result.StackTrace);
        if (Symbolization.Unsymbolized(result.StackTrace)) return;
        int sleeps = result.StackTrace!.ToList().FindIndex(f => f.Contains(" main_sleeps+", StringComparison.Ordinal));
        int main = result.StackTrace!.ToList().FindIndex(f => f.Contains(" main+", StringComparison.Ordinal));
        Assert.True(sleeps >= 0 && sleeps < main, string.Join('\n', result.StackTrace!));
    }

    /// <summary>Starts <paramref name="mode"/> with the kill trace on, waits until its main thread (PID 2) is in the
    /// <c>/proc</c> state <paramref name="reached"/> accepts (sleeping in main_sleeps, or stopped), then kills it.</summary>
    private async Task<SandboxResult> RunThenKill(string mode, Func<char, bool> reached, Func<PolicyBuilder, PolicyBuilder>? configure = null)
    {
        await Sandbox2.Monitor.WarmUpStackTraces().WaitAsync(Sandboxes.Timeout);
        string path = Sandboxes.Testcase("init_tracee");
        var builder = Sandboxes.Policy(path).AllowFork().AllowHandleSignals().AllowKill().CollectStacktracesOnKill(true);
        await using var sandbox = new Sandbox(new Executor(path, [mode]), (configure?.Invoke(builder) ?? builder).Build());
        var run = sandbox.RunAsync();
        Assert.True(await sandbox.Ready.WaitAsync(Sandboxes.Timeout));
        int init = sandbox.InitPid!.Value;
        var deadline = DateTime.UtcNow + Sandboxes.Timeout; // a safety net: the loop waits for the state
        while (!Reached(init, mode, reached))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the sandboxee never reached its state ({mode})");
            await Task.Delay(10);
        }
        sandbox.Kill();
        var result = await run.WaitAsync(Sandboxes.Timeout);
        foreach (var line in result.StackTrace ?? []) output.WriteLine(line);
        return result;
    }

    /// <summary>PID 2's state, and for threads-sleep that all three threads run and main is in its sleep (wchan).</summary>
    private static bool Reached(int init, string mode, Func<char, bool> reached)
    {
        try
        {
            string children = File.ReadAllText($"/proc/{init}/task/{init}/children").Trim();
            if (children.Length == 0) return false;
            string pid = children.Split(' ')[0];
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            char state = stat[stat.LastIndexOf(')') + 2];
            if (!reached(state)) return false;
            if (mode != "threads-sleep") return true;
            return Directory.GetDirectories($"/proc/{pid}/task").Length == 3
                && File.ReadAllText($"/proc/{pid}/wchan").Contains("nanosleep", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    [Fact]
    public async Task EverySignalIsStillDelivered_TenThousandInARow()
    {
        var o = await Run("storm");
        Assert.True(o.Result.Status == SandboxStatus.Ok && o.Result.ExitCode == 0, o.ToString());
        Assert.Equal("handled 10000\n", o.Stdout);
    }

    [Fact]
    public async Task AbortGivesSignaledWithTheAbortingFrame()
    {
        var o = await Run("abort");
        Assert.True(o.Result.Status == SandboxStatus.Signaled && o.Result.Signal == 6, o.ToString());
        Assert.NotNull(o.Result.StackTrace);
        if (Symbolization.Unsymbolized(o.Result.StackTrace)) return;
        Assert.Contains(o.Result.StackTrace!, f => f.Contains(" abort_here+", StringComparison.Ordinal));
        Assert.Contains(o.Result.StackTrace!, f => f.Contains(" abort+", StringComparison.Ordinal));
    }

    /// <summary>Sandbox2's UnotifyMonitorCollectsAllThreadsStackTrace: with CollectAllThreadsStacktrace(true) the violation's
    /// trace has the violating (main) thread first, then each other thread under its own header.</summary>
    [Fact]
    public async Task Sandbox2Test_UnotifyMonitorCollectsAllThreadsStackTrace()
    {
        var o = await Run("threads-violate", b => b.CollectAllThreadsStacktrace(true));
        Assert.True(o.Result.Status == SandboxStatus.Violation && o.Result.Violation!.SyscallName == "ptrace", o.ToString());
        var trace = o.Result.StackTrace!;
        string all = string.Join('\n', trace);
        var headers = trace.Select((l, i) => (l, i)).Where(x => x.l.StartsWith("Thread ", StringComparison.Ordinal)).ToList();
        Assert.True(headers.Count == 3, all);
        Assert.Equal(0, headers[0].i);
        Assert.StartsWith("Thread 2 (init_tracee):", trace[0], StringComparison.Ordinal); // its id inside the sandbox
        Assert.All(headers.Skip(1), h => Assert.StartsWith("#0 0x", trace[h.i + 1], StringComparison.Ordinal));
        if (!Symbolization.Available)
        {
            // Each thread's frames in the documented unsymbolized form (addresses, then the line naming why).
            for (int h = 0; h < headers.Count; h++)
            {
                int end = h + 1 < headers.Count ? headers[h + 1].i : trace.Count;
                Assert.True(Symbolization.Unsymbolized(trace.Skip(headers[h].i + 1).Take(end - headers[h].i - 1).ToList()), all);
            }
            return;
        }
        int violates = trace.ToList().FindIndex(l => l.Contains(" main_violates+", StringComparison.Ordinal));
        Assert.True(violates > 0 && violates < headers[1].i, all);
        Assert.Contains(trace, l => l.Contains(" thread_waits_a+", StringComparison.Ordinal));
        Assert.Contains(trace, l => l.Contains(" thread_waits_b+", StringComparison.Ordinal));
    }

    /// <summary>Without the switch a violation's trace is the violating thread's alone.</summary>
    [Fact]
    public async Task WithoutAllThreads_OnlyTheViolatingThreadIsTraced()
    {
        var o = await Run("threads-violate");
        Assert.True(o.Result.Status == SandboxStatus.Violation, o.ToString());
        Assert.DoesNotContain(o.Result.StackTrace!, l => l.StartsWith("Thread ", StringComparison.Ordinal));
        if (Symbolization.Unsymbolized(o.Result.StackTrace)) return;
        Assert.DoesNotContain(o.Result.StackTrace!, l => l.Contains(" thread_waits_a+", StringComparison.Ordinal));
    }
}
