using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Monitoring;

/// <summary>Stack traces of real threads: CFI (.eh_frame) unwinding through libc, frame pointers, symbols.</summary>
public class StackTraceTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SleepingProcess_TraceGoesThroughLibcToMainAndStart(bool staticBinary)
    {
        // The on-timeout path: the thread is not held in a notification, it sleeps in clock_nanosleep.
        await Monitor.WarmUpStackTraces().WaitAsync(TimeSpan.FromSeconds(60)); // the state needed: the tracer's code compiled
        using var child = NotifyChild.Start("sleep", "-", "5000", captureOutput: false, staticBinary: staticBinary);
        var stat = $"/proc/{child.Pid}/wchan";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60); // a safety net: the loop waits for the state
        while (!File.ReadAllText(stat).Contains("nanosleep", StringComparison.Ordinal) && DateTime.UtcNow < deadline) await Task.Delay(10);
        // What is tested is the unwinding, not the budget (MonitorAttackTests cover that): a budget no overloaded machine exhausts.
        var frames = await StackTrace.CollectAsync(child.Pid, TimeSpan.FromSeconds(60)).WaitAsync(TimeSpan.FromSeconds(90));
        foreach (var f in frames) output.WriteLine(f);
        if (!Symbolization.Unsymbolized(frames))
        {
            Assert.Matches(@"^#0 0x[0-9a-f]{16} \S*nanosleep\S*\+0x[0-9a-f]+ \(/", frames[0]);
            int main = frames.ToList().FindIndex(f => Regex.IsMatch(f, @" main\+0x[0-9a-f]+ \(/.*mon_notifychild"));
            Assert.True(main > 0, string.Join('\n', frames));
            Assert.Contains(frames.Skip(main + 1), f => f.Contains("__libc_start", StringComparison.Ordinal));
        }
        // The thread was detached and runs on: it is still alive and sleeping, not stopped or traced.
        string status = File.ReadAllText($"/proc/{child.Pid}/status");
        Assert.Contains("TracerPid:\t0", status);
        Assert.DoesNotContain("State:\tt", status);
    }

    [Fact]
    public async Task ViolationTrace_HasNoGapsBetweenTheSyscallAndMain()
    {
        await Monitor.WarmUpStackTraces().WaitAsync(TimeSpan.FromSeconds(60));
        using var child = NotifyChild.Start("stack", "101", staticBinary: false);
        var target = new TestTarget(child, stackTrace: true);
        using var reg = Monitor.Shared.Register(child.Listener, target);
        var v = await target.Violation.WaitAsync(TimeSpan.FromSeconds(20));
        foreach (var f in v.StackTrace!) output.WriteLine(f);
        // dynamic: #0 syscall (libc, via CFI), #1 mon_violate_in_function, #2 main
        if (Symbolization.Unsymbolized(v.StackTrace)) return;
        Assert.Contains(" syscall+", v.StackTrace[0], StringComparison.Ordinal);
        Assert.Contains(" mon_violate_in_function+", v.StackTrace[1], StringComparison.Ordinal);
        Assert.Contains(" main+", v.StackTrace[2], StringComparison.Ordinal);
    }

    [Fact]
    public void ExitedThread_GivesAOneLineReason()
    {
        var frames = StackTrace.Collect(int.MaxValue - 1);
        Assert.Single(frames);
        Assert.StartsWith("(stack trace unavailable: ", frames[0], StringComparison.Ordinal);
    }
}
