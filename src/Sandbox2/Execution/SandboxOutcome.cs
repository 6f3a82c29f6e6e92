using System.Runtime.InteropServices;

namespace Sandbox2;

/// <summary>
/// Why a sandbox ended, as decided by whoever saw it first: the monitor (a violation), the wall-time timer, a kill
/// request, a failed handshake. Adding a way for a sandbox to end is one factory here and one
/// <see cref="SandboxOutcome.TrySet"/> call where it is detected.
/// </summary>
/// <param name="Status">The result's status.</param>
/// <param name="Code">The result's reason code.</param>
/// <param name="Reason">The result's one-line reason.</param>
/// <param name="EndsByKill">The cause ends the sandbox by killing it: it holds only if the kill actually ended it (a
/// program that exited on its own first keeps its own exit).</param>
/// <param name="Violation">The violating syscall, for a violation.</param>
/// <param name="Signal">The result's signal (SIGNALED causes: OOM and the output limit end with SIGKILL).</param>
/// <param name="Oom">The memory cgroup killed the program.</param>
internal sealed record EndCause(SandboxStatus Status, ReasonCode? Code, string Reason, bool EndsByKill, MonitorViolation? Violation = null,
    int? Signal = null, bool Oom = false)
{
    public static EndCause ForViolation(MonitorViolation v) => new(SandboxStatus.Violation,
        v.Type == ViolationType.ArchitectureSwitch ? ReasonCode.ViolationArch : ReasonCode.ViolationSyscall, Sandbox2.Violation.From(v).Description,
        EndsByKill: false, v);

    public static EndCause Timeout(TimeSpan after) => new(SandboxStatus.Timeout, ReasonCode.WallTime,
        FormattableString.Invariant($"wall-time limit exceeded after {after.TotalSeconds:0.###} s"), EndsByKill: true);

    /// <summary>The memory cgroup's OOM killer fired (it holds even if the program then exited by itself: it lost memory).</summary>
    public static EndCause OutOfMemory() => new(SandboxStatus.Signaled, ReasonCode.Oom,
        "out of memory: the sandbox's memory limit was reached and the OOM killer killed it", EndsByKill: false, Signal: 9, Oom: true);

    /// <summary>The program wrote more than <paramref name="limit"/> bytes to stdout and stderr; the first limit bytes were delivered.</summary>
    public static EndCause OutputLimit(ulong limit) => new(SandboxStatus.Signaled, ReasonCode.OutputLimit,
        FormattableString.Invariant($"output limit exceeded: more than {limit} bytes written to stdout and stderr (the first {limit} were delivered)"),
        EndsByKill: false, Signal: 9);

    /// <summary>The CPU time of all processes of the sandbox together reached <paramref name="limit"/>.</summary>
    public static EndCause CpuLimit(TimeSpan limit) => new(SandboxStatus.Timeout, ReasonCode.CpuLimit,
        FormattableString.Invariant($"CPU-time limit exceeded: {limit.TotalSeconds:0.###} s of CPU used by the sandbox's processes together"), EndsByKill: false);

    public static EndCause ExternalKill(string reason = "killed on request") => new(SandboxStatus.ExternalKill, null, reason, EndsByKill: true);

    public static EndCause SetupError(ReasonCode code, string reason) => new(SandboxStatus.SetupError, code, reason, EndsByKill: false);
}

/// <summary>
/// The one write-once outcome of a sandbox (Sandbox2's <c>MonitorBase::result_</c>, set once by
/// <c>SetExitStatusCode</c>): it owns the cause, the violation, the stack trace and the native exit report, and turns
/// them into the <see cref="SandboxResult"/>. The first cause set wins; later ones are ignored by construction.
/// </summary>
internal sealed class SandboxOutcome
{
    private EndCause? _cause;
    private IReadOnlyList<string>? _stackTrace;

    /// <summary>The cause that won, if any was set.</summary>
    public EndCause? Cause => Volatile.Read(ref _cause);

    /// <summary>Sets the cause unless one is already set. Returns true when this call decided the outcome.</summary>
    public bool TrySet(EndCause cause) => Interlocked.CompareExchange(ref _cause, cause, null) is null;

    /// <summary>The stack trace collected for a kill or timeout, or as the sandboxee died (a violation carries its own).</summary>
    public void SetStackTrace(IReadOnlyList<string> trace) => Interlocked.CompareExchange(ref _stackTrace, trace, null);

    /// <summary>The result of a sandbox that never started (planning or the forkserver failed).</summary>
    public SandboxResult Finish(TimeSpan wall) => Finish(null, attached: false, wall);

    /// <summary>The result, with usage from the sandbox's cgroup when it had one (CPU of every process even when init was
    /// killed before reporting, the group's memory peak, most tasks at once) and what isolation held.</summary>
    public SandboxResult Finish(NativeExitReport? report, bool attached, TimeSpan wall, CgroupVersion? cgroup, CgroupUsage? counted)
    {
        var result = Finish(report, attached, wall);
        var u = result.Usage;
        long maxRss = u.MaxRssKb;
        result.Usage = counted is null ? u with { MemoryPeakKb = maxRss } : u with
        {
            CpuTime = counted.CpuTime > u.CpuTime ? counted.CpuTime : u.CpuTime,
            MemoryPeakKb = counted.MemoryPeakKb > 0 ? counted.MemoryPeakKb : maxRss,
            Processes = counted.Processes,
        };
        result.Isolation = result.Isolation with { Cgroup = cgroup };
        return result;
    }

    /// <summary>The result, from the cause (if one was set) and init's exit report.</summary>
    /// <param name="report">init's report; null when the sandbox never started.</param>
    /// <param name="attached">The monitor was attached (so a SIGSYS is not a silent seccomp kill).</param>
    /// <param name="wall">Wall time from start to end.</param>
    public SandboxResult Finish(NativeExitReport? report, bool attached, TimeSpan wall)
    {
        var usage = report is null ? new SandboxUsage(wall, TimeSpan.Zero, 0) : new SandboxUsage(wall, report.UserTime + report.SystemTime, report.MaxRssKb);
        var cause = Cause;
        // An OOM kill of the whole group (v2 memory.oom.group) takes init before it reports: the OOM is the outcome.
        if (report?.Failure is { } failure && cause is not { Oom: true }) return FromFailure(failure, usage);
        if (cause is not null && (!cause.EndsByKill || report is null || report.Killed))
        {
            return new SandboxResult(cause.Status, cause.Reason, cause.Code)
            {
                Signal = cause.Signal,
                Oom = cause.Oom,
                Violation = cause.Violation is { } v ? Violation.From(v) : null,
                StackTrace = cause.Violation is { } withTrace ? withTrace.StackTrace : Volatile.Read(ref _stackTrace),
                Usage = usage,
            };
        }
        if (report is null)
            return new SandboxResult(SandboxStatus.InternalError, "the sandbox ended without an exit status", ReasonCode.FailedWait) { Usage = usage };
        if (report.ExitCode is { } code)
            return new SandboxResult(SandboxStatus.Ok, FormattableString.Invariant($"exited with code {code}")) { ExitCode = code, Usage = usage, StackTrace = Volatile.Read(ref _stackTrace) };
        if (report.Signal is { } sig)
        {
            if (sig == 31 && !attached) // SIGSYS from SECCOMP_RET_KILL_PROCESS: no monitor saw the syscall
                return new SandboxResult(SandboxStatus.Violation, "killed by the seccomp policy (SIGSYS); the syscall was not reported", ReasonCode.ViolationSyscall) { Usage = usage };
            return new SandboxResult(SandboxStatus.Signaled, FormattableString.Invariant($"killed by signal {sig} ({Signals.Name(sig)})"),
                sig == 24 ? ReasonCode.CpuLimit : null) { Signal = sig, Usage = usage, StackTrace = Volatile.Read(ref _stackTrace) }; // SIGXCPU: RLIMIT_CPU of one process
        }
        return new SandboxResult(SandboxStatus.InternalError, "the sandbox ended without an exit status", ReasonCode.FailedWait) { Usage = usage };
    }

    private static string HostIdRangeText()
    {
        try
        {
            var (first, last) = HostIds.Range();
            return FormattableString.Invariant($"{first}-{last}");
        }
        catch (ArgumentException) { return HostIds.RangeVariable; }
    }

    /// <summary>A SETUP_ERROR naming the failed step, its errno and what to check.</summary>
    internal static SandboxResult FromFailure(SetupFailure failure, SandboxUsage? usage = null)
    {
        string why = failure.Errno != 0 ? ": " + Marshal.GetPInvokeErrorMessage(failure.Errno) : "";
        string hint = failure.FeatureMissing ? KernelFeatures.MissingHint(failure.Feature)
            : failure.Step == SetupStep.Exec && failure.Errno == 2 // ENOENT
            ? " (is its ELF interpreter mounted in the sandbox?)"
            : failure.Step is SetupStep.Bind or SetupStep.BindSource && failure.Errno == 13 // EACCES
            ? (Interop.GetEUid() == 0
                ? " (the sandbox's mounts are made as its own unprivileged host uid, from " + HostIdRangeText() + ": the source must be reachable by any user)"
                : FormattableString.Invariant($" (the sandbox's mounts are made as host uid {Interop.GetEUid()}: it must be able to reach the source)"))
            : "";
        return new SandboxResult(SandboxStatus.SetupError, $"setup failed: {failure.What}{why}{hint}", failure.Code)
        {
            Usage = usage ?? new SandboxUsage(TimeSpan.Zero, TimeSpan.Zero, 0),
            Feature = failure.Feature,
            FeatureMissing = failure.FeatureMissing,
        };
    }
}
