using System.Diagnostics;

namespace Sandbox2.Tests;

/// <summary>examples/static (a static binary under a policy with argument conditions) and examples/Tool (any program
/// from C#), run as their READMEs say.</summary>
public class LibraryExampleTests
{
    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string project, string assembly, string stdin, params string[] args)
    {
        var start = new ProcessStartInfo(TestPaths.Bin(project, assembly))
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (string a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task StaticBinaryRunsUnderItsOwnPolicy()
    {
        var (exit, stdout, stderr) = await RunAsync("Static", "Sandbox2.Examples.Static", "hello, sandbox\n");
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Equal("HELLO, SANDBOX\n", stdout);
        Assert.Contains("static_bin: Ok", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StaticBinaryWritingToStderrIsAViolation()
    {
        var (exit, stdout, stderr) = await RunAsync("Static", "Sandbox2.Examples.Static", "abc\n", "--also-stderr");
        Assert.True(exit == 1, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Equal("ABC\n", stdout);
        Assert.Contains("static_bin: Violation", stderr, StringComparison.Ordinal);
        Assert.Contains("write(0x2", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ToolRunsAnyProgramAndReportsItsResult()
    {
        var (exit, stdout, stderr) = await RunAsync("Tool", "Sandbox2.Examples.Tool", "", "--", "/bin/echo", "hi");
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Equal("hi\n", stdout);
        Assert.Contains("tool: Ok exit 0", stderr, StringComparison.Ordinal);

        var (_, _, timeout) = await RunAsync("Tool", "Sandbox2.Examples.Tool", "", "--time", "1", "--", "/bin/sleep", "60");
        Assert.Contains("tool: Timeout", timeout, StringComparison.Ordinal);
    }
}
