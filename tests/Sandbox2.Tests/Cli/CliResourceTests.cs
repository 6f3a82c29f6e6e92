using System.Diagnostics;
using System.Text.Json;

namespace Sandbox2.Tests.Cli;

/// <summary>Judge-grade resource control through the CLI, on real cgroups (this machine's layout, a v2-only layout in a
/// private mount namespace, and the rlimit fallback as an unprivileged user): fork bombs contained and gone, OOM as
/// its own verdict, CPU of every process counted and limited, the output cap, usage on every outcome.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class CliResourceTests
{
    private static readonly string Probe = CliRunner.Testcase("cg_probe");

    /// <summary>The result document of one run (written to a temporary file with --result).</summary>
    private sealed record Run(CliOutcome Outcome, JsonElement Result)
    {
        public string Status => Result.GetProperty("status").GetString()!;
        public string? ReasonCode => Result.GetProperty("reasonCode").GetString();
        public JsonElement Usage => Result.GetProperty("usage");
        public double CpuMs => Usage.GetProperty("cpuTimeMs").GetDouble();
        public int Processes => Usage.GetProperty("processes").GetInt32();
        public long MemoryPeakKb => Usage.GetProperty("memoryPeakKb").GetInt64();
        public string? Cgroup => Result.GetProperty("isolation").GetProperty("cgroup").GetString();
        public override string ToString() => $"{Outcome}\n--- result\n{Result}";
    }

    private static Task<Run> RunAsync(params string[] options) => RunWithAsync(null, options);

    /// <summary>Runs <c>sandbox2 run --result FILE OPTIONS</c>, optionally under a launcher (setpriv, unshare), and
    /// checks that nothing of the sandbox is left: no cgroup named for the tool's pid, no process carrying the marker.</summary>
    private static async Task<Run> RunWithAsync(string[]? launcher, string[] options, string? marker = null)
    {
        string resultFile = Path.Combine(Path.GetTempPath(), $"sandbox2-cg-{Guid.NewGuid():N}.json");
        File.WriteAllText(resultFile, "");
        File.SetUnixFileMode(resultFile, (UnixFileMode)0x1B6); // 0666: an unprivileged tool writes it
        // --result replaces only the caller's own file: the unprivileged tool's (uid 65534 via setpriv).
        if (launcher is not null && launcher.Contains("--reuid=65534") && Environment.UserName == "root")
            Assert.Equal(0, Interop.Chown(resultFile, 65534, 65534));
        string[] args = ["run", "--result", resultFile, .. options];
        int toolPid = 0;
        CliOutcome outcome;
        if (launcher is null or [])
        {
            outcome = await CliRunner.RunAsync(args, pid => { toolPid = pid; return Task.CompletedTask; });
        }
        else
        {
            var start = new ProcessStartInfo(launcher[0]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false, WorkingDirectory = "/" };
            foreach (var a in (string[])[.. launcher[1..], CliRunner.ToolPath, .. args]) start.ArgumentList.Add(a);
            using var p = Process.Start(start)!;
            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
            outcome = new CliOutcome(p.ExitCode, await stdout, await stderr);
        }
        try
        {
            string text = File.ReadAllText(resultFile);
            Assert.True(text.Length > 0, outcome.ToString());
            var run = new Run(outcome, JsonDocument.Parse(text).RootElement.Clone());
            if (toolPid != 0) Assert.Empty(CgroupsOf(toolPid));
            if (marker is not null) Assert.Empty(ProcessesWith(marker));
            return run;
        }
        finally
        {
            File.Delete(resultFile);
        }
    }

    /// <summary>Sandbox cgroups named for executor <paramref name="pid"/> in any mounted hierarchy.</summary>
    private static List<string> CgroupsOf(int pid)
    {
        var found = new List<string>();
        foreach (var line in File.ReadAllLines("/proc/self/mountinfo"))
        {
            if (!line.Contains(" - cgroup", StringComparison.Ordinal)) continue;
            string mount = line.Split(' ')[4];
            try
            {
                found.AddRange(Directory.EnumerateDirectories(mount, $"sandbox2-*-{pid}-*", SearchOption.AllDirectories));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return found;
    }

    /// <summary>Host processes whose command line contains <paramref name="marker"/>.</summary>
    private static List<int> ProcessesWith(string marker)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == Environment.ProcessId) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(marker, StringComparison.Ordinal)) found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return found;
    }

    private static int Made(Run r) => int.Parse(r.Outcome.Stdout.Trim().Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);

    private static string Marker() => "cgmark" + Guid.NewGuid().ToString("N");

    [Fact]
    public async Task ForkBombUnderProcessLimit16IsContainedAndLeavesNothing()
    {
        string marker = Marker();
        var r = await RunWithAsync(null, ["--process-limit", "16", "--", Probe, "fork", marker], marker);
        Assert.True(r.Outcome.ExitCode == 0 && r.Status == "OK", r.ToString());
        Assert.True(Made(r) is > 0 and < 16, r.ToString()); // a cgroup's pids.max, or RLIMIT_NPROC without one
        if (Interop.GetEUid() != 0 && r.Cgroup is null) return; // the rlimit fallback: no cgroup, so no task count
        Assert.NotNull(r.Cgroup); // root on this machine: v1 (or v2 where delegated)
        Assert.True(r.Processes is > 1 and <= 16, r.ToString());
    }

    [CgroupFact]
    public async Task ForkBombWithDefaultOptionsStopsAt1024Tasks()
    {
        string marker = Marker();
        var r = await RunWithAsync(null, ["--", Probe, "fork", marker], marker);
        Assert.True(r.Outcome.ExitCode == 0 && r.Status == "OK", r.ToString());
        Assert.True(Made(r) is > 16 and < 1024, r.ToString());
        Assert.True(r.Processes is > 16 and <= 1024, r.ToString());
    }

    [CgroupFact]
    public async Task TenChildrenTouching240MiBUnder256MAreAnOom()
    {
        var r = await RunAsync("--allow", "wait4", "--memory-limit", "256M", "--", Probe, "mem", "10", "240");
        Assert.True(r.Outcome.ExitCode == 137, r.ToString());
        Assert.Equal("SIGNALED", r.Status);
        Assert.Equal("OOM", r.ReasonCode);
        Assert.True(r.Result.GetProperty("oom").GetBoolean(), r.ToString());
        Assert.Equal(9, r.Result.GetProperty("signal").GetInt32());
        Assert.True(r.MemoryPeakKb is > 200 * 1024 and <= 256 * 1024, r.ToString());
    }

    [CgroupFact]
    public async Task WithoutOptionsTheSandboxGetsHalfTheHostsMemoryAnd1024Tasks()
    {
        // The sandbox sleeps while the test reads its cgroup's limits (a real 12 GiB hog would starve this shared host;
        // the 256M test above shows the limit holding).
        string? memoryLimit = null, pidsLimit = null;
        var outcome = await CliRunner.RunAsync(["run", "--", "/bin/sleep", "60"], async pid =>
        {
            try
            {
                for (int i = 0; i < 6000 && (memoryLimit is null || pidsLimit is null); i++)
                {
                    foreach (var dir in CgroupsOf(pid))
                    {
                        // Limits are written before init is placed: read them once the cgroup holds the sandbox.
                        if (File.ReadAllText(Path.Combine(dir, "cgroup.procs")).Trim().Length == 0) continue;
                        foreach (var (file, isMemory) in new[] { ("memory.max", true), ("memory.limit_in_bytes", true), ("pids.max", false) })
                        {
                            string path = Path.Combine(dir, file);
                            if (!File.Exists(path)) continue;
                            string value = File.ReadAllText(path).Trim();
                            if (isMemory) memoryLimit ??= value; else pidsLimit ??= value;
                        }
                    }
                    if (memoryLimit is null || pidsLimit is null) await Task.Delay(10); // the tool is still starting
                }
            }
            finally
            {
                Process.GetProcessById(pid).Kill(); // SIGKILL the tool: its forkserver and sandbox die with it
            }
        });
        ulong half = Limits.HalfOfHostMemory();
        Assert.True(memoryLimit is not null, outcome.ToString());
        ulong limit = ulong.Parse(memoryLimit, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(limit, half - (half % 4096), half); // the kernel rounds down to pages
        Assert.Equal("1025", pidsLimit); // 1,024 for the program + init
    }

    [CgroupFact]
    public async Task FourBusyChildrenReportTheSumOfTheirCpuTime()
    {
        var r = await RunAsync("--allow", "wait4", "--", Probe, "busy", "4", "300");
        Assert.True(r.Outcome.ExitCode == 0, r.ToString());
        Assert.InRange(r.CpuMs, 1200, 2000); // 4 x 300 ms of their own CPU, plus starting them
        Assert.Equal(5, r.Processes);
    }

    [CgroupFact]
    public async Task CpuLimitCountsEveryChild()
    {
        var r = await RunAsync("--allow", "wait4", "--cpu-limit", "1", "--", Probe, "busy", "4", "2000");
        Assert.True(r.Outcome.ExitCode == 124, r.ToString());
        Assert.Equal("TIMEOUT", r.Status);
        Assert.Equal("CPU_LIMIT", r.ReasonCode);
        Assert.InRange(r.CpuMs, 1000, 2500); // each child alone is far below RLIMIT_CPU (1 s): only the sum stops them
    }

    [CgroupFact]
    public async Task BusyLoopEndedByTheWallClockStillReportsItsCpuAndMemory()
    {
        var r = await RunAsync("--time-limit", "1", "--", Probe, "busy", "0", "30000");
        Assert.True(r.Outcome.ExitCode == 124, r.ToString());
        Assert.Equal("TIMEOUT", r.Status);
        Assert.Equal("WALL_TIME", r.ReasonCode);
        double wall = r.Usage.GetProperty("wallTimeMs").GetDouble();
        // ~1000 ms on an idle machine; on a shared one the loop gets what the scheduler gives it, but never 0.
        Assert.InRange(r.CpuMs, 100, wall * Environment.ProcessorCount);
        Assert.True(r.MemoryPeakKb > 0 && r.Processes == 1, r.ToString());
    }

    [CgroupFact]
    public async Task ViolationReportsUsage()
    {
        var r = await RunAsync("--", Probe, "violate", "200");
        Assert.True(r.Outcome.ExitCode == 159, r.ToString());
        Assert.Equal("VIOLATION", r.Status);
        Assert.True(r.CpuMs >= 200 && r.MemoryPeakKb > 0 && r.Processes == 1, r.ToString());
    }

    [Fact]
    public async Task OutputLimitDeliversExactlyTheFirstMiB()
    {
        var r = await RunAsync("--output-limit", "1M", "--", Probe, "write", "64");
        Assert.True(r.Outcome.ExitCode == 137, r.ToString()[..Math.Min(2000, r.ToString().Length)]);
        Assert.Equal("SIGNALED", r.Status);
        Assert.Equal("OUTPUT_LIMIT", r.ReasonCode);
        string output = r.Outcome.Stdout;
        Assert.Equal(1 << 20, output.Length);
        for (int i = 0; i < output.Length; i++)
            if (output[i] != (char)('a' + i % 26)) Assert.Fail($"byte {i} is '{output[i]}'");
    }

    [Fact]
    public async Task OutputUnderTheLimitIsAllDeliveredAndOk()
    {
        var r = await RunAsync("--output-limit", "2M", "--", Probe, "write", "1");
        Assert.True(r.Outcome.ExitCode == 0 && r.Status == "OK", r.Outcome.ExitCode + " " + r.Status);
        Assert.Equal(1 << 20, r.Outcome.Stdout.Length);
    }

    [Fact]
    public async Task UnprivilegedWithoutDelegationFallsBackToRlimitsAndSaysSo()
    {
        string marker = Marker();
        var r = await RunWithAsync(Security.AsCaller.Unprivileged,
            ["--process-limit", "16", "--", Probe, "fork", marker], marker);
        Assert.True(r.Outcome.ExitCode == 0 && r.Status == "OK", r.ToString());
        Assert.Null(r.Cgroup);
        // RLIMIT_NPROC counts uid 1000 of the sandbox's own user namespace: init and the program's tasks, 17 in all.
        Assert.True(Made(r) is > 0 and < 16, r.ToString());
        Assert.True(r.CpuMs > 0, r.ToString());
    }

    /// <summary>A v2-only layout: the tool runs in a private mount namespace whose /sys/fs/cgroup is a fresh cgroup2
    /// mount (on this host its memory and pids controllers are bound to v1, so v2 places, counts and kills the sandbox
    /// while rlimits bound memory and processes).</summary>
    [SkippableFact]
    public async Task V2OnlyLayoutPlacesCountsAndRemovesTheSandbox()
    {
        Skip.If(Environment.UserName != "root", "mounting cgroup2 needs root");
        string[] unshare = ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
            "umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec \"$0\" \"$@\""];
        var busy = await RunWithAsync(unshare, ["--allow", "wait4", "--", Probe, "busy", "2", "300"]);
        Assert.True(busy.Outcome.ExitCode == 0, busy.ToString());
        Assert.Equal("v2", busy.Cgroup);
        Assert.InRange(busy.CpuMs, 600, 1200);
        string marker = Marker();
        var bomb = await RunWithAsync(unshare, ["--process-limit", "16", "--", Probe, "fork", marker], marker);
        Assert.True(bomb.Outcome.ExitCode == 0 && Made(bomb) is > 0 and < 16, bomb.ToString());
        var timeout = await RunWithAsync(unshare, ["--time-limit", "1", "--", Probe, "busy", "0", "30000"]);
        Assert.True(timeout.Outcome.ExitCode == 124 && timeout.CpuMs >= 100, timeout.ToString());
        // Nothing left in the unified hierarchy (the same one the host mounts at /sys/fs/cgroup/unified).
        Assert.DoesNotContain(Directory.GetDirectories("/sys/fs/cgroup/unified", "sandbox2-*"), d => !IsOtherExecutors(d));
    }

    /// <summary>A container whose cgroup tree is read-only: every cgroup mount remounted read-only in a private mount
    /// namespace. No cgroup, isolation.cgroup null, and the rlimit fallback still contains a fork bomb.</summary>
    [SkippableFact]
    public async Task ReadOnlyCgroupTreeFallsBackToRlimits()
    {
        Skip.If(Environment.UserName != "root", "remounting needs root");
        string[] readOnly = ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
            "for m in $(awk '$3 ~ /^cgroup/ {print $2}' /proc/mounts); do mount -o remount,bind,ro \"$m\" \"$m\" || exit 99; done; exec \"$0\" \"$@\""];
        string marker = Marker();
        var r = await RunWithAsync(readOnly, ["--process-limit", "16", "--", Probe, "fork", marker], marker);
        Assert.True(r.Outcome.ExitCode == 0 && r.Status == "OK", r.ToString());
        Assert.Null(r.Cgroup);
        Assert.True(Made(r) is > 0 and < 16, r.ToString());
    }

    /// <summary>A sandbox cgroup of another executor that is still running (other test runs share the host).</summary>
    private static bool IsOtherExecutors(string dir)
    {
        var parts = Path.GetFileName(dir).Split('-');
        return parts.Length == 4 && int.TryParse(parts[2], out int pid) && Directory.Exists($"/proc/{pid}");
    }
}
