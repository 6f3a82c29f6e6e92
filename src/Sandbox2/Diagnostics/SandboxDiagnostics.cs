using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Sandbox2;

/// <summary>
/// Logging and metrics of the executor side, both optional and free when unused (Sandbox2 logs through absl; a .NET
/// service wants an <see cref="ILogger"/> and <see cref="System.Diagnostics.Metrics"/>).
/// </summary>
/// <remarks>
/// <para><b>Logging.</b> Set <see cref="Logger"/> (or call <see cref="UseLoggerFactory"/>) once at start-up. Events
/// (<see cref="SandboxLogEvents"/> has their ids) carry structured fields: <c>Program</c>, <c>InitPid</c>,
/// <c>Status</c>, <c>ReasonCode</c>, <c>Reason</c>, <c>ExitCode</c>, <c>Signal</c>, <c>WallTimeMs</c>,
/// <c>Syscall</c>, <c>Arch</c>, <c>Pid</c>, <c>ForkServerPid</c>. The default is <see cref="NullLogger.Instance"/>:
/// every call site checks <see cref="ILogger.IsEnabled"/> first, so nothing is formatted.</para>
/// <para><b>Metrics.</b> A <see cref="System.Diagnostics.Metrics.Meter"/> named <see cref="SandboxMetrics.MeterName"/>
/// (<c>"Sandbox2"</c>) with the instruments listed in <see cref="SandboxMetrics"/>; OpenTelemetry picks them up with
/// <c>AddMeter("Sandbox2")</c>, <c>dotnet-counters monitor --counters Sandbox2</c> shows them. Instruments with no
/// listener cost one branch.</para>
/// </remarks>
public static class SandboxDiagnostics
{
    private static volatile ILogger s_logger = NullLogger.Instance;

    /// <summary>Where the library logs (category <c>Sandbox2</c> when made by <see cref="UseLoggerFactory"/>); never null.</summary>
    public static ILogger Logger
    {
        get => s_logger;
        set => s_logger = value ?? NullLogger.Instance;
    }

    /// <summary>Logs through <paramref name="factory"/> with the category <c>Sandbox2</c>.</summary>
    public static void UseLoggerFactory(ILoggerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Logger = factory.CreateLogger("Sandbox2");
    }

    /// <summary>A sandbox's program is running (after the forkserver started it).</summary>
    internal static void Started(Executor executor, int initPid, TimeSpan spawnLatency)
    {
        SandboxMetrics.Started(spawnLatency);
        SandboxLog.SandboxStarted(Logger, executor.ProgramPath, initPid, spawnLatency.TotalMilliseconds);
    }

    /// <summary>A sandbox ended (whether or not it started): its result, its violation if any.</summary>
    internal static void Ended(Executor executor, int? initPid, bool started, SandboxResult result)
    {
        SandboxMetrics.Ended(result, started);
        ILogger log = Logger;
        if (!log.IsEnabled(LogLevel.Warning)) return;
        if (result.Violation is { } v)
            SandboxLog.Violation(log, executor.ProgramPath, initPid ?? 0, v.SyscallName, v.ArchLabel, v.Pid, v.Description);
        string status = result.Status.ToString();
        string? code = result.ReasonCode?.ToString();
        double wall = result.Usage?.WallTime.TotalMilliseconds ?? 0;
        if (result.Status == SandboxStatus.SetupError)
            SandboxLog.SetupFailed(log, executor.ProgramPath, code, result.Reason);
        else if (result.Status == SandboxStatus.InternalError)
            SandboxLog.InternalError(log, executor.ProgramPath, initPid ?? 0, code, result.Reason);
        else
            SandboxLog.SandboxEnded(log, executor.ProgramPath, initPid ?? 0, status, code, result.ExitCode, result.Signal, wall, result.Reason);
        if (result.StackTrace is { Count: > 0 } trace && log.IsEnabled(LogLevel.Information))
        {
            string frames = string.Join(" < ", Sandbox2.StackTrace.FunctionNames(trace));
            SandboxLog.StackTrace(log, executor.ProgramPath, initPid ?? 0, frames);
        }
    }

    /// <summary>Runs <see cref="Notify.EventFinishedAsync"/>: a hook that throws is logged; the result is kept.</summary>
    internal static async ValueTask FinishedAsync(Notify? notify, Executor executor, SandboxResult result)
    {
        if (notify is null) return;
        try
        {
            await notify.EventFinishedAsync(result, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            SandboxLog.NotifyHookFailed(Logger, e, nameof(Notify.EventFinishedAsync), executor.ProgramPath);
        }
    }

    internal static void ForkServerStarted(int pid, string program)
    {
        SandboxMetrics.ForkServerStarted();
        SandboxLog.ForkServerStarted(Logger, pid, program);
    }

    internal static void ForkServerExited(int pid) => SandboxLog.ForkServerExited(Logger, pid);

    internal static void MonitorError(string what, Exception? error) => SandboxLog.MonitorError(Logger, error, what);

    internal static void TraceHandlerFailed(Exception error, string syscall) => SandboxLog.TraceHandlerFailed(Logger, error, syscall);
}
