using Microsoft.Extensions.Logging;

namespace Sandbox2;

/// <summary>The event ids of the library's log messages (<see cref="SandboxDiagnostics.Logger"/>).</summary>
public static class SandboxLogEvents
{
    /// <summary>Information: a sandbox's program runs (Program, InitPid, SpawnMs).</summary>
    public const int SandboxStarted = 1;
    /// <summary>Information (OK) or Warning (anything else): a sandbox ended (Status, ReasonCode, ExitCode, Signal, WallTimeMs, Reason).</summary>
    public const int SandboxEnded = 2;
    /// <summary>Warning: a sandbox could not be set up (ReasonCode, Reason).</summary>
    public const int SetupFailed = 3;
    /// <summary>Warning: a policy violation (Syscall, Arch, Pid, Description).</summary>
    public const int Violation = 4;
    /// <summary>Error: the sandbox failed inside the library (ReasonCode, Reason).</summary>
    public const int InternalError = 5;
    /// <summary>Information: the stack trace of a sandbox's result, as function names with repeats compacted (Program, InitPid, Frames).</summary>
    public const int StackTrace = 6;
    /// <summary>Information: the process-wide forkserver started (ForkServerPid, Program).</summary>
    public const int ForkServerStarted = 10;
    /// <summary>Warning: the forkserver exited or died; the next sandbox starts a new one (ForkServerPid).</summary>
    public const int ForkServerExited = 11;
    /// <summary>Error: the monitor thread caught an error (What).</summary>
    public const int MonitorError = 20;
    /// <summary>Error: a <see cref="Notify"/> hook threw (Hook, Program); the result is kept.</summary>
    public const int NotifyHookFailed = 21;
    /// <summary>Error: <see cref="Notify.EventSyscallTraceAsync"/> threw; the syscall was denied (Syscall).</summary>
    public const int TraceHandlerFailed = 22;
}

/// <summary>The log messages (LoggerMessage source generator: no boxing, no formatting unless enabled).</summary>
internal static partial class SandboxLog
{
    [LoggerMessage(EventId = SandboxLogEvents.SandboxStarted, EventName = "SandboxStarted", Level = LogLevel.Information,
        Message = "Sandbox started: {Program}, init pid {InitPid}, spawned in {SpawnMs:0.0} ms")]
    internal static partial void SandboxStarted(ILogger logger, string program, int initPid, double spawnMs);

    [LoggerMessage(EventId = SandboxLogEvents.SandboxEnded, EventName = "SandboxEnded",
        Message = "Sandbox ended: {Program}, init pid {InitPid}: {Status} {ReasonCode}, exit code {ExitCode}, signal {Signal}, {WallTimeMs:0.0} ms: {Reason}")]
    private static partial void SandboxEnded(ILogger logger, LogLevel level, string program, int initPid, string status, string? reasonCode, int? exitCode, int? signal, double wallTimeMs, string reason);

    internal static void SandboxEnded(ILogger logger, string program, int initPid, string status, string? reasonCode, int? exitCode, int? signal, double wallTimeMs, string reason) =>
        SandboxEnded(logger, status == nameof(SandboxStatus.Ok) ? LogLevel.Information : LogLevel.Warning, program, initPid, status, reasonCode, exitCode, signal, wallTimeMs, reason);

    [LoggerMessage(EventId = SandboxLogEvents.StackTrace, EventName = "StackTrace", Level = LogLevel.Information,
        Message = "Stack trace: {Program}, init pid {InitPid}: {Frames}")]
    internal static partial void StackTrace(ILogger logger, string program, int initPid, string frames);

    [LoggerMessage(EventId = SandboxLogEvents.SetupFailed, EventName = "SetupFailed", Level = LogLevel.Warning,
        Message = "Sandbox setup failed: {Program}: {ReasonCode}: {Reason}")]
    internal static partial void SetupFailed(ILogger logger, string program, string? reasonCode, string reason);

    [LoggerMessage(EventId = SandboxLogEvents.Violation, EventName = "Violation", Level = LogLevel.Warning,
        Message = "Policy violation: {Program}, init pid {InitPid}: {Syscall} ({Arch}) by pid {Pid}: {Description}")]
    internal static partial void Violation(ILogger logger, string program, int initPid, string syscall, string arch, int pid, string description);

    [LoggerMessage(EventId = SandboxLogEvents.InternalError, EventName = "InternalError", Level = LogLevel.Error,
        Message = "Sandbox internal error: {Program}, init pid {InitPid}: {ReasonCode}: {Reason}")]
    internal static partial void InternalError(ILogger logger, string program, int initPid, string? reasonCode, string reason);

    [LoggerMessage(EventId = SandboxLogEvents.ForkServerStarted, EventName = "ForkServerStarted", Level = LogLevel.Information,
        Message = "Forkserver started: pid {ForkServerPid}, {Program}")]
    internal static partial void ForkServerStarted(ILogger logger, int forkServerPid, string program);

    [LoggerMessage(EventId = SandboxLogEvents.ForkServerExited, EventName = "ForkServerExited", Level = LogLevel.Warning,
        Message = "Forkserver pid {ForkServerPid} exited; the next sandbox starts a new one")]
    internal static partial void ForkServerExited(ILogger logger, int forkServerPid);

    [LoggerMessage(EventId = SandboxLogEvents.MonitorError, EventName = "MonitorError", Level = LogLevel.Error,
        Message = "Monitor error: {What}")]
    internal static partial void MonitorError(ILogger logger, Exception? exception, string what);

    [LoggerMessage(EventId = SandboxLogEvents.NotifyHookFailed, EventName = "NotifyHookFailed", Level = LogLevel.Error,
        Message = "Notify.{Hook} threw for {Program}; the sandbox's result is kept")]
    internal static partial void NotifyHookFailed(ILogger logger, Exception exception, string hook, string program);

    [LoggerMessage(EventId = SandboxLogEvents.TraceHandlerFailed, EventName = "TraceHandlerFailed", Level = LogLevel.Error,
        Message = "Notify.EventSyscallTraceAsync threw for {Syscall}; the syscall is denied")]
    internal static partial void TraceHandlerFailed(ILogger logger, Exception exception, string syscall);
}
