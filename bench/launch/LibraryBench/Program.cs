using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using Sandbox2;

[assembly: SupportedOSPlatform("linux")]

// Spawn -> exit of /bin/true through the library, N sandboxes one after another in one process
// (the forkserver is started by the first, "cold" run). Prints median/p90 and writes them as JSON.
// Each round runs one sandbox in a cgroup of its own (the default; with the CLI's default limits: half the host's
// memory, 1,024 tasks) and one without (Limits.UseCgroup = false: rlimits only), interleaved so that the machine's
// load falls on both alike; the cgroup's cost is the difference of the medians.
int runs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100;
string? jsonOut = args.Length > 1 ? args[1] : null;
const string Program = "/bin/true";

Policy policy = BuiltinPolicies.CreateDefault()
    .AddFile(Program)
    .AddLibrariesForBinary(Program)
    .AddProc()
    .AddMinimalDev()
    .AddTmpfs("/tmp", 64UL << 20)
    .Build();

ulong memory = Limits.HalfOfHostMemory();
string? cgroupSeen = null;

async Task<double> RunOnceAsync(bool cgroup = true)
{
    long start = Stopwatch.GetTimestamp();
    var executor = new Executor(Program, [], null) { Limits = new Limits { WallTime = null, Memory = memory, Processes = 1024, UseCgroup = cgroup } };
    await using var sandbox = new Sandbox(executor, policy);
    SandboxResult result = await sandbox.RunAsync();
    double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    if (result.Status != SandboxStatus.Ok || result.ExitCode != 0)
        throw new InvalidOperationException($"/bin/true in a sandbox: {result.Status}: {result.Reason}");
    if (cgroup) cgroupSeen = result.Isolation.Cgroup?.ToString();
    else if (result.Isolation.Cgroup is not null) throw new InvalidOperationException("UseCgroup = false still made a cgroup");
    return ms;
}

double first = await RunOnceAsync();
for (int i = 0; i < 50; i++)
{
    await RunOnceAsync(); // warm-up: let tiered JIT reach optimized code, as in a long-running executor
    await RunOnceAsync(cgroup: false);
}
var times = new double[runs];
var bare = new double[runs];
for (int i = 0; i < runs; i++)
{
    times[i] = await RunOnceAsync();
    bare[i] = await RunOnceAsync(cgroup: false);
}
Array.Sort(times);
Array.Sort(bare);
double Percentile(double p) => times[Math.Min(runs - 1, (int)Math.Ceiling(p * runs) - 1)];
static double Median(double[] t) => t.Length % 2 == 1 ? t[t.Length / 2] : (t[t.Length / 2 - 1] + t[t.Length / 2]) / 2;
double median = Median(times), bareMedian = Median(bare);

string json = string.Create(CultureInfo.InvariantCulture,
    $"{{\"runs\":{runs},\"medianMs\":{median:F3},\"p90Ms\":{Percentile(0.9):F3},\"minMs\":{times[0]:F3},\"maxMs\":{times[^1]:F3},\"firstMs\":{first:F3},\"cgroup\":\"{cgroupSeen}\",\"noCgroupMedianMs\":{bareMedian:F3},\"cgroupCostMs\":{median - bareMedian:F3}}}");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"library: {runs} x {Program}: median {median:F2} ms, p90 {Percentile(0.9):F2} ms, min {times[0]:F2}, max {times[^1]:F2}, first (cold, starts the forkserver) {first:F2} ms"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"cgroup ({cgroupSeen ?? "none available"}): median {median:F3} ms with, {bareMedian:F3} ms without (rlimits only): costs {median - bareMedian:F3} ms"));
// The cgroup's own work per sandbox, without the sandbox: make it with the limits, read what it counted, remove it.
var ops = new double[runs];
for (int i = 0; i < runs; i++)
{
    long t0 = Stopwatch.GetTimestamp();
    using (var cg = Cgroup.Create(new Limits { Memory = memory, Processes = 1024 }))
    {
        if (cg is null) break;
        cg.ClosePlacements();
        _ = cg.ReadUsage();
    }
    ops[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
}
Array.Sort(ops);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"cgroup create + limits + read usage + remove, alone: median {Median(ops):F3} ms, min {ops[0]:F3} ms"));
json = json[..^1] + string.Create(CultureInfo.InvariantCulture, $",\"cgroupOpsMedianMs\":{Median(ops):F3},\"cgroupOpsMinMs\":{ops[0]:F3}}}");
if (jsonOut is not null)
    File.WriteAllText(jsonOut, json + "\n");
