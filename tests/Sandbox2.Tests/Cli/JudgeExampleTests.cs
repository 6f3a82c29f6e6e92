using System.Diagnostics;

namespace Sandbox2.Tests.Cli;

/// <summary>examples/judge: gcc in one sandbox, the solution in another under judge limits, verdicts from the result
/// JSON: accepted, wrong answer, time limit, memory limit (OOM), output limit, compile error.</summary>
public class JudgeExampleTests
{
    [Fact]
    public async Task EverySolutionGetsItsVerdict()
    {
        string dir = Path.Combine(CliRunner.RepoRoot, "examples", "judge");
        string wrong = Path.Combine(Path.GetTempPath(), $"sandbox2-judge-expected-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(wrong, "41\n");
        try
        {
            foreach (var (solution, expected, verdict) in new[]
            {
                ("ac", "expected.txt", "AC"), ("ac", wrong, "WA"), ("tle", "expected.txt", "TLE"),
                ("mle", "expected.txt", "MLE"), ("ole", "expected.txt", "OLE"), ("ce", "expected.txt", "CE"),
            })
            {
                // A generous wall limit except for the TLE case: a loaded machine must not turn MLE or OLE into TLE.
                string line = await JudgeAsync(dir, $"solutions/{solution}.c", expected, wall: verdict == "TLE" ? "2" : "60");
                // Without a cgroup (unprivileged, no delegation: cgroup=None) memory is bounded per process by RLIMIT_AS:
                // the solution's allocation fails and it ends on its own with an error, a runtime error, not an OOM kill.
                if (verdict == "MLE" && line.Contains("cgroup=None", StringComparison.Ordinal))
                {
                    Assert.True(line.StartsWith("RE ", StringComparison.Ordinal), $"{solution} vs {expected} under rlimits: {line}");
                    continue;
                }
                Assert.True(line.StartsWith(verdict + " ", StringComparison.Ordinal), $"{solution} vs {expected}: {line}");
                if (verdict == "MLE") Assert.Contains("reasonCode=OOM", line, StringComparison.Ordinal);
                if (verdict == "OLE") Assert.Contains("reasonCode=OUTPUT_LIMIT", line, StringComparison.Ordinal);
                if (verdict == "TLE") Assert.Matches("reasonCode=(WALL_TIME|CPU_LIMIT)", line);
            }
        }
        finally
        {
            File.Delete(wrong);
        }
    }

    private static async Task<string> JudgeAsync(string dir, string solution, string expected, string wall)
    {
        var start = new ProcessStartInfo("/bin/bash") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment["JUDGE_WALL"] = wall;
        foreach (var a in new[] { "judge.sh", solution, "input.txt", expected, CliRunner.ToolPath }) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(180));
        string output = await stdout;
        Assert.True(p.ExitCode == 0, $"judge.sh {solution}: exit {p.ExitCode}\n{output}\n{await stderr}");
        return output.Split('\n')[0];
    }
}
