// A judge loop through the library, as examples/judge/judge.sh does with the CLI: for each SOLUTION.c, gcc compiles it
// in one sandbox (exec, vfork and wait4 allowed; only the work directory writable), the binary runs in another under
// judge limits (1 s CPU, 2 s wall, 64 MiB, 1 task, 1 MiB of output) on INPUT, and the verdict comes from the
// SandboxResult. The library's log events go to stderr through a small ILogger, and the "Sandbox2" meter's
// measurements are summed by a MeterListener and printed at the end.
//   usage: Sandbox2.Examples.JudgeLoop INPUT EXPECTED SOLUTION.c...      (JUDGE_WALL=SEC: the wall limit, default 2)
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Sandbox2;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

if (args.Length < 3)
{
    Console.Error.WriteLine("usage: Sandbox2.Examples.JudgeLoop INPUT EXPECTED SOLUTION.c...");
    return 2;
}
string input = Path.GetFullPath(args[0]);
byte[] expected = File.ReadAllBytes(args[1]);
double wall = double.TryParse(Environment.GetEnvironmentVariable("JUDGE_WALL"), System.Globalization.CultureInfo.InvariantCulture, out double w) ? w : 2;

SandboxDiagnostics.Logger = new StderrLogger();
using var metrics = new MetricsSummary(SandboxMetrics.MeterName);

foreach (string source in args[2..])
    Console.WriteLine($"{Path.GetFileName(source)}: {await JudgeAsync(source)}");
metrics.Print(Console.Out);
return 0;

async Task<string> JudgeAsync(string source)
{
    string work = Directory.CreateTempSubdirectory("sandbox2-judge-").FullName;
    try
    {
        File.SetUnixFileMode(work, (UnixFileMode)0b111_111_111); // as root the sandbox runs as an unprivileged host uid
        File.Copy(source, Path.Combine(work, "sol.c"));

        // 1. Compile.
        var gccPolicy = BuiltinPolicies.CreateDefault()
            .AllowSyscalls("execve", "wait4", "vfork", "prlimit64")
            .AddDirectory("/usr")
            .AddDirectoryAt(work, "/work", writable: true)
            .AddTmpfs("/tmp", 256UL << 20)
            .AddLibrariesForBinary("/usr/bin/gcc");
        if (Directory.Exists("/etc/alternatives")) gccPolicy.AddDirectory("/etc/alternatives");
        var gcc = new Executor("/usr/bin/gcc", ["-O2", "-o", "/work/sol", "/work/sol.c"], new Dictionary<string, string>
        {
            ["PATH"] = Executor.DefaultPath, ["TMPDIR"] = "/tmp",
        })
        { Cwd = "/work" };
        gcc.Limits.WallTime = TimeSpan.FromSeconds(30);
        gcc.Limits.Memory = 1UL << 30;
        gcc.Limits.Processes = 32;
        using (var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write))
        {
            gcc.Stdout = devNull; gcc.Stderr = devNull;
            await using var compile = new Sandbox(gcc, gccPolicy.Build());
            SandboxResult compiled = await compile.RunAsync();
            if (compiled.Status != SandboxStatus.Ok || compiled.ExitCode != 0)
                return "CE " + Describe(compiled);
        }

        // 2. Run under judge limits, INPUT on stdin, stdout into a file of ours.
        string binary = Path.Combine(work, "sol");
        var runPolicy = BuiltinPolicies.CreateDefault().AddFile(binary).AddLibrariesForBinary(binary).Build();
        var run = new Executor(binary);
        run.Limits.CpuTime = TimeSpan.FromSeconds(1);
        run.Limits.WallTime = TimeSpan.FromSeconds(wall);
        run.Limits.Memory = 64UL << 20;
        run.Limits.Processes = 1;
        run.Limits.OutputSize = 1UL << 20;
        string outPath = Path.Combine(work, "out");
        using var stdin = File.OpenHandle(input, FileMode.Open, FileAccess.Read);
        using var stdout = File.OpenHandle(outPath, FileMode.CreateNew, FileAccess.Write);
        run.Stdin = stdin; run.Stdout = stdout;
        await using var sandbox = new Sandbox(run, runPolicy);
        SandboxResult r = await sandbox.RunAsync();
        string verdict = r switch
        {
            { Oom: true } => "MLE",
            { ReasonCode: ReasonCode.CpuLimit or ReasonCode.WallTime } => "TLE",
            { ReasonCode: ReasonCode.OutputLimit } => "OLE",
            { Status: SandboxStatus.Timeout } => "TLE",
            { Status: SandboxStatus.Violation } => "SV",
            { Status: SandboxStatus.Signaled } => "RE",
            { Status: SandboxStatus.Ok, ExitCode: not 0 } => "RE",
            { Status: SandboxStatus.Ok } => File.ReadAllBytes(outPath).AsSpan().SequenceEqual(expected) ? "AC" : "WA",
            _ => "IE",
        };
        return verdict + " " + Describe(r);
    }
    finally
    {
        Directory.Delete(work, recursive: true);
    }
}

static string Describe(SandboxResult r) =>
    $"status={r.Status} reasonCode={(r.ReasonCode is { } c ? c.ToContractName() : "-")} " +
    $"cpu={r.Usage.CpuTime.TotalMilliseconds:0}ms wall={r.Usage.WallTime.TotalMilliseconds:0}ms";

/// <summary>Prints each log event on one line: level, event id and name, the message, then its structured fields.</summary>
sealed class StderrLogger : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        string fields = state is IReadOnlyList<KeyValuePair<string, object?>> kvs
            ? string.Join(' ', kvs.Where(kv => kv.Key != "{OriginalFormat}").Select(kv => $"{kv.Key}={kv.Value}"))
            : "";
        Console.Error.WriteLine($"{logLevel}: Sandbox2[{eventId.Id} {eventId.Name}] {formatter(state, exception)} {{{fields}}}");
    }
}

/// <summary>Sums every measurement of one meter by instrument and tags.</summary>
sealed class MetricsSummary : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly SortedDictionary<string, (double Sum, long Count, string Unit)> _totals = new(StringComparer.Ordinal);

    public MetricsSummary(string meterName)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == meterName) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        _listener.Start();
    }

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var parts = new List<string>();
        foreach (var t in tags) parts.Add($"{t.Key}={t.Value}");
        parts.Sort(StringComparer.Ordinal);
        string key = parts.Count == 0 ? instrument.Name : $"{instrument.Name} {{{string.Join(", ", parts)}}}";
        lock (_totals)
        {
            _totals.TryGetValue(key, out var t);
            _totals[key] = (t.Sum + value, t.Count + 1, instrument.Unit ?? "");
        }
    }

    public void Print(TextWriter writer)
    {
        writer.WriteLine($"metrics (meter {SandboxMetrics.MeterName}):");
        lock (_totals)
            foreach (var (key, t) in _totals)
                writer.WriteLine($"  {key}: sum {t.Sum:0.###}{(t.Unit.Length > 0 ? " " + t.Unit : "")} over {t.Count} measurement(s)");
    }

    public void Dispose() => _listener.Dispose();
}
