using System.Diagnostics;
using Sandbox2.Tests.Cli;

namespace Sandbox2.Tests.Execution;

/// <summary>Sandboxes owned by another executor process (the CLI): it dies → every sandbox process dies; and the
/// same core checks as an unprivileged user.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ExecutorProcessTests
{
    private static int ParentOf(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException) { return -1; }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] != 'Z';
        }
        catch (IOException) { return false; }
    }

    private static HashSet<int> Descendants(int root)
    {
        var all = Directory.EnumerateDirectories("/proc").Select(Path.GetFileName)
            .Where(n => n!.All(char.IsAsciiDigit)).Select(n => int.Parse(n!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var result = new HashSet<int> { root };
        bool grew = true;
        while (grew)
        {
            grew = false;
            foreach (var p in all)
                if (!result.Contains(p) && result.Contains(ParentOf(p))) { result.Add(p); grew = true; }
        }
        result.Remove(root);
        return result;
    }

    [Fact]
    public async Task KillingTheExecutorWithSigkillLeavesNoSandboxProcess()
    {
        var psi = new ProcessStartInfo(CliRunner.ToolPath) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["run", "--", CliRunner.Testcase("ex_probe-static"), "sleep", "60"]) psi.ArgumentList.Add(a);
        using var cli = Process.Start(psi)!;
        List<int> tree = [];
        var deadline = Stopwatch.StartNew();
        // forkserver → init → sandboxee: wait until all three exist.
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            tree = Descendants(cli.Id).ToList();
            if (tree.Count >= 3 && tree.Any(p => File.ReadAllText($"/proc/{p}/comm").StartsWith("ex_probe", StringComparison.Ordinal))) break;
            await Task.Delay(50);
        }
        Assert.True(tree.Count >= 3, $"sandbox tree not found under the CLI ({tree.Count} processes)");
        cli.Kill(); // SIGKILL
        await cli.WaitForExitAsync();
        var gone = Stopwatch.StartNew();
        while (tree.Any(IsAlive) && gone.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(20);
        Assert.DoesNotContain(tree, IsAlive);
    }

    [Fact]
    public async Task AnUnprivilegedUserGetsTheSameSandbox()
    {
        // Paths the unprivileged user must reach: the built CLI and the testcase (both under the repo).
        string probe = CliRunner.Testcase("ex_probe");
        var (file, all) = Security.AsCaller.Command("/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "HOME=/tmp",
            CliRunner.ToolPath, "run", "--result", "-", "--", probe, "status");
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var a in all) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        string output = await stdout, errors = await stderr;
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {output} {errors}");
        Assert.Contains("uid 1000\n", output, StringComparison.Ordinal);
        Assert.Contains("pid 2\n", output, StringComparison.Ordinal);
        Assert.Contains("hostname sandbox2\n", output, StringComparison.Ordinal);
        Assert.Contains("CapEff:\t0000000000000000", output, StringComparison.Ordinal);
        Assert.Contains("Seccomp:\t2", output, StringComparison.Ordinal);
        Assert.Contains("\"status\": \"OK\"", errors, StringComparison.Ordinal);

        // A violation is still a violation for an unprivileged user.
        psi.ArgumentList.RemoveAt(psi.ArgumentList.Count - 1);
        psi.ArgumentList.RemoveAt(psi.ArgumentList.Count - 1);
        psi.ArgumentList.Add(CliRunner.Testcase("cli_syscall"));
        psi.ArgumentList.Add(CliRunner.PtraceNumber);
        using var v = Process.Start(psi)!;
        var vErr = v.StandardError.ReadToEndAsync();
        _ = v.StandardOutput.ReadToEndAsync();
        await v.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(v.ExitCode == 159, $"exit {v.ExitCode}: {await vErr}");
    }
}
