using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Sandbox2;

/// <summary>
/// The library's <see cref="Meter"/> (<see cref="MeterName"/>) and its instruments, named in OpenTelemetry's style.
/// Durations are in seconds. An instrument nobody listens to costs one branch.
/// </summary>
public static class SandboxMetrics
{
    /// <summary>The meter's name: <c>Sandbox2</c>.</summary>
    public const string MeterName = "Sandbox2";

    /// <summary>Counter: sandboxes whose program was started.</summary>
    public const string SandboxesStarted = "sandbox2.sandboxes.started";
    /// <summary>UpDownCounter: sandboxes running now.</summary>
    public const string SandboxesRunning = "sandbox2.sandboxes.running";
    /// <summary>Counter: sandboxes ended, tagged <c>sandbox2.status</c> (OK, VIOLATION, ...) and <c>sandbox2.reason_code</c>.</summary>
    public const string SandboxesEnded = "sandbox2.sandboxes.ended";
    /// <summary>Counter: policy violations, tagged <c>sandbox2.syscall</c> and <c>sandbox2.arch</c>.</summary>
    public const string Violations = "sandbox2.violations";
    /// <summary>Histogram (s): from <see cref="Sandbox.RunAsync"/> to the program running (plan, forkserver, clone, exec).</summary>
    public const string SpawnDuration = "sandbox2.spawn.duration";
    /// <summary>Histogram (s): wall time of a sandbox, tagged <c>sandbox2.status</c>.</summary>
    public const string SandboxDuration = "sandbox2.sandbox.duration";
    /// <summary>Counter: forkserver processes started (more than one means one died and was restarted).</summary>
    public const string ForkServerStarts = "sandbox2.forkserver.starts";

    private static readonly Meter s_meter = new(MeterName, SandboxVersion.Text);
    private static readonly Counter<long> s_started = s_meter.CreateCounter<long>(SandboxesStarted, "{sandbox}", "Sandboxes whose program was started");
    private static readonly UpDownCounter<long> s_running = s_meter.CreateUpDownCounter<long>(SandboxesRunning, "{sandbox}", "Sandboxes running now");
    private static readonly Counter<long> s_ended = s_meter.CreateCounter<long>(SandboxesEnded, "{sandbox}", "Sandboxes ended, by status");
    private static readonly Counter<long> s_violations = s_meter.CreateCounter<long>(Violations, "{violation}", "Policy violations, by syscall");
    private static readonly Histogram<double> s_spawn = s_meter.CreateHistogram<double>(SpawnDuration, "s", "Time from RunAsync to the program running");
    private static readonly Histogram<double> s_duration = s_meter.CreateHistogram<double>(SandboxDuration, "s", "Wall time of a sandbox");
    private static readonly Counter<long> s_forkServers = s_meter.CreateCounter<long>(ForkServerStarts, "{process}", "Forkserver processes started");

    internal static void Started(TimeSpan spawnLatency)
    {
        s_started.Add(1);
        s_running.Add(1);
        if (s_spawn.Enabled) s_spawn.Record(spawnLatency.TotalSeconds);
    }

    internal static void Ended(SandboxResult result, bool started)
    {
        if (started) s_running.Add(-1);
        if (s_ended.Enabled || s_duration.Enabled)
        {
            var status = new KeyValuePair<string, object?>("sandbox2.status", StatusName(result.Status));
            s_ended.Add(1, status, new KeyValuePair<string, object?>("sandbox2.reason_code", result.ReasonCode?.ToContractName()));
            if (result.Usage is { } usage) s_duration.Record(usage.WallTime.TotalSeconds, status);
        }
        if (result.Violation is { } v && s_violations.Enabled)
            s_violations.Add(1, new KeyValuePair<string, object?>("sandbox2.syscall", v.SyscallName), new KeyValuePair<string, object?>("sandbox2.arch", v.ArchLabel));
    }

    internal static void ForkServerStarted() => s_forkServers.Add(1);

    /// <summary>The contract's status names (OK, SETUP_ERROR, VIOLATION, ...).</summary>
    internal static string StatusName(SandboxStatus status) => status.ToContractName();
}
