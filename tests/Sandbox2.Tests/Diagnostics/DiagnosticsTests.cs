using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace Sandbox2.Tests.Diagnostics;

/// <summary>One logger for the whole test run (the library's logger is process-wide; tests filter by their program).</summary>
internal sealed class CapturingLogger : ILogger
{
    public sealed record Entry(LogLevel Level, EventId Id, string Message, IReadOnlyDictionary<string, object?> Fields, Exception? Exception);

    public static readonly CapturingLogger Instance = Install();
    public readonly ConcurrentQueue<Entry> Entries = new();

    private static CapturingLogger Install()
    {
        var logger = new CapturingLogger();
        SandboxDiagnostics.Logger = logger;
        return logger;
    }

    public IEnumerable<Entry> For(string program) => Entries.Where(e => e.Fields.TryGetValue("Program", out var p) && (string?)p == program);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var fields = new Dictionary<string, object?>();
        if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
            foreach (var (k, v) in pairs) fields[k] = v;
        Entries.Enqueue(new Entry(logLevel, eventId, formatter(state, exception), fields, exception));
    }
}

/// <summary>Logging and metrics of the executor side; hooks that throw are logged and lose nothing.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class DiagnosticsTests
{
    private static string Syscaller => TestPaths.Testcase("cli_syscall");

    private sealed class ThrowingNotify : Notify
    {
        public override ValueTask EventFinishedAsync(SandboxResult result, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("hook bug");
        public override ValueTask<TraceAction> EventSyscallTraceAsync(Syscall syscall, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("trace hook bug");
    }

    private static Executor Run(string program, params string[] args) =>
        new(program, args) { Stdout = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write) };

    [Fact]
    public async Task AThrowingEventFinishedIsLoggedAndTheResultKept()
    {
        var log = CapturingLogger.Instance;
        // Unique program path for this test's log entries: a copy of the syscall testcase.
        string program = CopyOf(Syscaller, "finished");
        var policy = BuiltinPolicies.CreateDefault().AddLibrariesForBinary(program).Build();
        await using var sandbox = new Sandbox(Run(program, "39"), policy, new ThrowingNotify());
        var result = await sandbox.RunAsync();
        Assert.True(result.Status == SandboxStatus.Ok, result.ToString());
        var failed = Assert.Single(log.For(program), e => e.Id.Id == SandboxLogEvents.NotifyHookFailed);
        Assert.Equal("hook bug", failed.Exception?.Message);
        Assert.Equal(nameof(Notify.EventFinishedAsync), failed.Fields["Hook"]);
        var started = Assert.Single(log.For(program), e => e.Id.Id == SandboxLogEvents.SandboxStarted);
        Assert.Equal("SandboxStarted", started.Id.Name);
        Assert.IsType<int>(started.Fields["InitPid"]);
        var ended = Assert.Single(log.For(program), e => e.Id.Id == SandboxLogEvents.SandboxEnded);
        Assert.Equal("Ok", ended.Fields["Status"]);
        Assert.Equal(0, ended.Fields["ExitCode"]);
        Assert.Equal(LogLevel.Information, ended.Level);
    }

    [Fact]
    public async Task AThrowingTraceHandlerIsLoggedAndTheSyscallDeniedAsAViolation()
    {
        var log = CapturingLogger.Instance;
        string program = CopyOf(Syscaller, "trace");
        var (read, write) = Sandbox2.Tests.ForkServerLayer.FsPlans.Pipe();
        var policy = new PolicyBuilder().AddPolicyOnSyscall("getpgrp", Arg.Of(0).GreaterOrEqual(0), SyscallAction.Trace)
            .AllowDefaultTools().AddLibrariesForBinary(program).Build();
        var executor = new Executor(program, ["111"]) { Stdout = new Microsoft.Win32.SafeHandles.SafeFileHandle(write.DangerousGetHandle(), ownsHandle: false) };
        await using var sandbox = new Sandbox(executor, policy, new ThrowingNotify());
        var run = sandbox.RunAsync();
        var result = await run;
        write.Dispose();
        // Deny is Sandbox2's TraceAction::kDeny: the traced syscall is a violation.
        Assert.True(result.Status == SandboxStatus.Violation, result.ToString());
        Assert.Equal("getpgrp", result.Violation?.SyscallName);
        read.Dispose();
        Assert.Contains(log.Entries, e => e.Id.Id == SandboxLogEvents.TraceHandlerFailed && e.Exception?.Message == "trace hook bug"
            && (string?)e.Fields["Syscall"] == "getpgrp");
    }

    [Fact]
    public async Task AViolationIsLoggedWithItsSyscallAndCounted()
    {
        var log = CapturingLogger.Instance;
        string program = CopyOf(Syscaller, "violation");
        var measured = new ConcurrentDictionary<string, double>();
        var tags = new ConcurrentBag<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == SandboxMetrics.MeterName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((i, value, t, _) =>
        {
            measured.AddOrUpdate(i.Name, value, (_, old) => old + value);
            foreach (var tag in t) tags.Add($"{i.Name} {tag.Key}={tag.Value}");
        });
        listener.SetMeasurementEventCallback<double>((i, value, _, _) => measured.AddOrUpdate(i.Name, 1, (_, old) => old + 1));
        listener.Start();

        var policy = BuiltinPolicies.CreateDefault().AddLibrariesForBinary(program).Build();
        await using var sandbox = new Sandbox(Run(program, "101"), policy); // ptrace
        var result = await sandbox.RunAsync();
        Assert.Equal(SandboxStatus.Violation, result.Status);

        var violation = Assert.Single(log.For(program), e => e.Id.Id == SandboxLogEvents.Violation);
        Assert.Equal("ptrace", violation.Fields["Syscall"]);
        Assert.Equal(LogLevel.Warning, violation.Level);
        var ended = Assert.Single(log.For(program), e => e.Id.Id == SandboxLogEvents.SandboxEnded);
        Assert.Equal("Violation", ended.Fields["Status"]);
        Assert.Equal(LogLevel.Warning, ended.Level);

        // Other tests run sandboxes at the same time: at least ours was counted.
        Assert.True(measured.GetValueOrDefault(SandboxMetrics.SandboxesStarted) >= 1);
        Assert.True(measured.GetValueOrDefault(SandboxMetrics.SandboxesEnded) >= 1);
        Assert.True(measured.GetValueOrDefault(SandboxMetrics.Violations) >= 1);
        Assert.True(measured.GetValueOrDefault(SandboxMetrics.SpawnDuration) >= 1);
        Assert.True(measured.GetValueOrDefault(SandboxMetrics.SandboxDuration) >= 1);
        Assert.Contains($"{SandboxMetrics.Violations} sandbox2.syscall=ptrace", tags);
        Assert.Contains($"{SandboxMetrics.SandboxesEnded} sandbox2.status=VIOLATION", tags);
    }

    [Fact]
    public async Task ASetupFailureIsLogged()
    {
        var log = CapturingLogger.Instance;
        string program = CopyOf(Syscaller, "setup");
        var policy = BuiltinPolicies.CreateDefault().AddLibrariesForBinary(program).Build();
        var executor = Run(program, "39");
        executor.Cwd = "relative";
        await using var sandbox = new Sandbox(executor, policy);
        var result = await sandbox.RunAsync();
        Assert.Equal(SandboxStatus.SetupError, result.Status);
        var failed = Assert.Single(log.For(program), e => e.Id.Id == SandboxLogEvents.SetupFailed);
        Assert.Equal(result.Reason, failed.Fields["Reason"]);
        Assert.DoesNotContain(log.For(program), e => e.Id.Id == SandboxLogEvents.SandboxStarted);
    }

    [Fact]
    public void UnusedDiagnosticsAreNullObjects()
    {
        Assert.NotNull(SandboxDiagnostics.Logger);
        Assert.Equal("Sandbox2", SandboxMetrics.MeterName);
    }

    /// <summary>A world-readable copy of a testcase under a name unique to the caller (log entries carry the program).</summary>
    /// <summary>A result's stack trace is logged as function names, repeats compacted as Sandbox2's CompactStackTrace does.</summary>
    [Fact]
    public async Task AStackTraceIsLoggedCompacted()
    {
        var log = CapturingLogger.Instance;
        string program = CopyOf(TestPaths.Testcase("s2_symbolize"), "trace");
        await Monitor.WarmUpStackTraces().WaitAsync(TimeSpan.FromSeconds(60));
        var policy = Execution.Sandboxes.Policy(program).Build();
        await using var sandbox = new Sandbox(Run(program, "5"), policy); // a violation under five frames of recurse()
        var result = await sandbox.RunAsync();
        Assert.True(result.Status == SandboxStatus.Violation && result.StackTrace is { Count: > 0 }, result.ToString());
        var traced = Assert.Single(log.For(program), e => e.Id.Id == SandboxLogEvents.StackTrace);
        string frames = (string)traced.Fields["Frames"]!;
        Assert.Equal(string.Join(" < ", StackTrace.FunctionNames(result.StackTrace!)), frames);
        if (Monitoring.Symbolization.Available)
            Assert.Contains("recurse < (previous frame repeated 5 times) < main", frames, StringComparison.Ordinal);
    }

    private static string CopyOf(string testcase, string tag)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"sandbox2-diag-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        string path = Path.Combine(dir, $"{Path.GetFileName(testcase)}-{tag}-{Guid.NewGuid():N}");
        File.Copy(testcase, path);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }
}
