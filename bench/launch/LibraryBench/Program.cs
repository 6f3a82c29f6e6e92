using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using Sandbox2;

[assembly: SupportedOSPlatform("linux")]

// Spawn -> exit of /bin/true through the library, N sandboxes one after another in one process
// (the forkserver is started by the first, "cold" run). Prints median/p90 and writes them as JSON.
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

async Task<double> RunOnceAsync()
{
    long start = Stopwatch.GetTimestamp();
    var executor = new Executor(Program, [], null) { Limits = new Limits { WallTime = null } };
    await using var sandbox = new Sandbox(executor, policy);
    SandboxResult result = await sandbox.RunAsync();
    double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    if (result.Status != SandboxStatus.Ok || result.ExitCode != 0)
        throw new InvalidOperationException($"/bin/true in a sandbox: {result.Status}: {result.Reason}");
    return ms;
}

double first = await RunOnceAsync();
for (int i = 0; i < 50; i++)
    await RunOnceAsync(); // warm-up: let tiered JIT reach optimized code, as in a long-running executor
var times = new double[runs];
for (int i = 0; i < runs; i++)
    times[i] = await RunOnceAsync();
Array.Sort(times);
double Percentile(double p) => times[Math.Min(runs - 1, (int)Math.Ceiling(p * runs) - 1)];
double median = runs % 2 == 1 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;

string json = string.Create(CultureInfo.InvariantCulture,
    $"{{\"runs\":{runs},\"medianMs\":{median:F3},\"p90Ms\":{Percentile(0.9):F3},\"minMs\":{times[0]:F3},\"maxMs\":{times[^1]:F3},\"firstMs\":{first:F3}}}");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"library: {runs} x {Program}: median {median:F2} ms, p90 {Percentile(0.9):F2} ms, min {times[0]:F2}, max {times[^1]:F2}, first (cold, starts the forkserver) {first:F2} ms"));
if (jsonOut is not null)
    File.WriteAllText(jsonOut, json + "\n");
