using Microsoft.Win32.SafeHandles;

namespace Sandbox2.Tests.Execution;

/// <summary>Runs real sandboxes through the public library API (Executor + Policy + Sandbox).</summary>
internal static class Sandboxes
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>A C testcase from tests/testcases (built into artifacts/testcases).</summary>
    public static string Testcase(string name) => ForkServerLayer.FsPlans.Testcase(name);

    /// <summary>The built-in default policy plus the program's libraries, /proc, a minimal /dev and a 16 MiB /tmp.</summary>
    public static PolicyBuilder Policy(string program) => BuiltinPolicies.CreateDefault()
        .AddLibrariesForBinary(program).AddProc().AddMinimalDev().AddTmpfs("/tmp", 16 << 20);

    public sealed record Outcome(SandboxResult Result, string Stdout, string Stderr)
    {
        public override string ToString() => $"{Result} ({Result.ReasonCode})\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
    }

    /// <summary>Runs <paramref name="executor"/> with stdout/stderr captured into temporary files.</summary>
    public static async Task<Outcome> Async(Executor executor, Sandbox2.Policy policy, Func<Sandbox, string, Task>? whileRunning = null, CancellationToken ct = default)
    {
        string outFile = Path.Combine(Path.GetTempPath(), $"sandbox2-ex-{Guid.NewGuid():N}.out");
        string errFile = outFile[..^4] + ".err";
        try
        {
            using (var stdout = File.OpenHandle(outFile, FileMode.CreateNew, FileAccess.Write))
            using (var stderr = File.OpenHandle(errFile, FileMode.CreateNew, FileAccess.Write))
            {
                executor.Stdout = stdout;
                executor.Stderr = stderr;
                await using var sandbox = new Sandbox(executor, policy);
                var run = sandbox.RunAsync(ct);
                if (whileRunning is not null) await whileRunning(sandbox, outFile);
                var result = await run.WaitAsync(Timeout, CancellationToken.None);
                return new Outcome(result, await File.ReadAllTextAsync(outFile, CancellationToken.None), await File.ReadAllTextAsync(errFile, CancellationToken.None));
            }
        }
        finally
        {
            File.Delete(outFile);
            File.Delete(errFile);
        }
    }

    /// <summary>Runs a program with the default policy for it (see <see cref="Policy"/>).</summary>
    public static Task<Outcome> Async(string program, params string[] args) =>
        Async(new Executor(program, args), Policy(program).Build());

    /// <summary>Waits until the captured stdout shows <paramref name="text"/> (the sandboxee is running).</summary>
    public static async Task WaitForOutput(string outFile, string text)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!(await File.ReadAllTextAsync(outFile)).Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the sandboxee never printed '{text}'");
            await Task.Delay(10);
        }
    }

    /// <summary>True while a process with this host pid runs (exists and is not a zombie waiting for its parent,
    /// the forkserver, to reap it: a zombie init means its whole pid namespace is gone).</summary>
    public static bool ProcessExists(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException) { return false; }
    }

    /// <summary>Asserts that the process is gone within <paramref name="limit"/> (init may still be tearing its pid
    /// namespace down for a few ms after its status channel closed and the result arrived).</summary>
    public static async Task WaitGone(int pid, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (ProcessExists(pid) && DateTime.UtcNow < deadline) await Task.Delay(1);
        Assert.False(ProcessExists(pid), ProcessState(pid));
    }

    public static string ProcessState(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/stat"); } catch (IOException) { return "gone"; }
    }

    /// <summary>Host pids whose command line contains <paramref name="marker"/>.</summary>
    public static List<int> ProcessesWith(string marker)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(marker, StringComparison.Ordinal)) found.Add(pid);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return found;
    }

    public static SafeFileHandle OpenRead(string path) => File.OpenHandle(path, FileMode.Open, FileAccess.Read);
}
