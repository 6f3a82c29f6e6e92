using System.Diagnostics;

namespace Sandbox2.Tests.Cli;

/// <summary>examples/judge/JudgeLoop: the judge through the library, with the library's log events (ILogger) and the
/// "Sandbox2" meter's instruments (MeterListener) printed, as a service would see them.</summary>
public class JudgeLoopExampleTests
{
    [Fact]
    public async Task VerdictsLogEventsAndMetrics()
    {
        string dir = Path.Combine(CliRunner.RepoRoot, "examples", "judge");
        var start = new ProcessStartInfo(TestPaths.Bin("JudgeLoop", "Sandbox2.Examples.JudgeLoop"))
        {
            WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (string a in new[] { "input.txt", "expected.txt", "solutions/ac.c", "solutions/ce.c", "solutions/mle.c", "solutions/ole.c" })
            start.ArgumentList.Add(a);
        start.Environment["JUDGE_WALL"] = "60"; // a loaded machine must not turn MLE or OLE into TLE
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await p.WaitForExitAsync(cts.Token);
        string output = await stdout, log = await stderr;
        string all = $"exit {p.ExitCode}\nstdout:\n{output}\nstderr:\n{log}";
        Assert.True(p.ExitCode == 0, all);

        Assert.Contains("ac.c: AC status=Ok", output, StringComparison.Ordinal);
        Assert.Contains("ce.c: CE ", output, StringComparison.Ordinal);
        // Without a cgroup (unprivileged, no delegation) memory is bounded per process by RLIMIT_AS: the allocation
        // fails and the solution dies, RE (as the shell judge says too).
        Assert.Contains(Sandbox2.Tests.Cli.CgroupFactAttribute.CgroupAvailable ? "mle.c: MLE " : "mle.c: RE ", output, StringComparison.Ordinal);
        Assert.Contains("ole.c: OLE status=", output, StringComparison.Ordinal);

        // Log events with their ids and structured fields.
        Assert.Matches(@"Information: Sandbox2\[1 SandboxStarted\] .*\{Program=/\S+ InitPid=\d+ SpawnMs=", log);
        Assert.Matches(@"Sandbox2\[2 SandboxEnded\] .*Status=Ok", log);
        Assert.Matches(@"Sandbox2\[2 SandboxEnded\] .*ReasonCode=OutputLimit", log);

        // Every instrument that a run of sandboxes feeds.
        foreach (string metric in new[] { "sandbox2.sandboxes.started", "sandbox2.sandboxes.running", "sandbox2.sandboxes.ended",
                     "sandbox2.spawn.duration", "sandbox2.sandbox.duration" })
            Assert.Contains("  " + metric, output, StringComparison.Ordinal);
        // Four compiles (ce.c's too: gcc ran and failed) and three runs.
        Assert.Contains("  sandbox2.sandboxes.started: sum 7 ", output, StringComparison.Ordinal);
    }
}
