using System.Diagnostics;

namespace Sandbox2.Tests.Cli;

/// <summary>What one run of the built <c>sandbox2</c> binary did.</summary>
internal sealed record CliOutcome(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The stderr lines that the tool itself wrote (prefixed "sandbox2:").</summary>
    public IReadOnlyList<string> ToolLines => Stderr.Split('\n').Where(l => l.StartsWith("sandbox2:", StringComparison.Ordinal)).ToArray();

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>Runs the CLI exactly as a user does: the built apphost <c>artifacts/bin/Sandbox2.Cli/&lt;config&gt;/sandbox2</c>
/// as a separate process (the test project builds it through a ProjectReference without referencing its assembly).</summary>
internal static class CliRunner
{
    /// <summary>ptrace's syscall number: the cli_syscall testcase calls ptrace(PTRACE_TRACEME) with it, which the default policy forbids.</summary>
    public const string PtraceNumber = "101";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string ArtifactsDir => Path.Combine(RepoRoot, "artifacts");

    /// <summary>The CLI built in the same configuration as this test assembly (artifacts/bin/Sandbox2.Tests/&lt;pivot&gt;/).</summary>
    public static string ToolPath
    {
        get
        {
            string pivot = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Name;
            string path = Path.Combine(ArtifactsDir, "bin", "Sandbox2.Cli", pivot, "sandbox2");
            return File.Exists(path) ? path : Path.Combine(ArtifactsDir, "bin", "Sandbox2.Cli", "release", "sandbox2");
        }
    }

    /// <summary>A C testcase from tests/testcases (built by make into artifacts/testcases).</summary>
    public static string Testcase(string name) => Path.Combine(ArtifactsDir, "testcases", name);

    public static Task<CliOutcome> RunAsync(params string[] args) => RunAsync(args, whileRunning: null);

    /// <summary>Runs the CLI with a longer safety-net timeout than the default (compilers on a loaded machine).</summary>
    public static Task<CliOutcome> RunSlowAsync(TimeSpan timeout, params string[] args) => RunAsync(args, whileRunning: null, timeout);

    /// <summary>Runs the CLI; <paramref name="whileRunning"/> (given the tool's pid) runs concurrently, before the tool ends.</summary>
    public static async Task<CliOutcome> RunAsync(string[] args, Func<int, Task>? whileRunning, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(ToolPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
            start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + ToolPath);
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        try
        {
            if (whileRunning is not null)
                await whileRunning(process.Id);
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"sandbox2 {string.Join(' ', args)} did not finish within {(timeout ?? Timeout).TotalSeconds} s");
        }
        return new CliOutcome(process.ExitCode, await stdout, await stderr);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sandbox2.slnx")))
                return dir.FullName;
        }
        throw new InvalidOperationException("cannot find the repository root (Sandbox2.slnx) above " + AppContext.BaseDirectory);
    }
}
