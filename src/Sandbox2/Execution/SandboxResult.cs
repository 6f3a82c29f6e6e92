using System.Globalization;

namespace Sandbox2;

/// <summary>Final status of a sandbox (Sandbox2's seven statuses).</summary>
public enum SandboxStatus
{
    /// <summary>The program exited by itself (<see cref="SandboxResult.ExitCode"/>).</summary>
    Ok,
    /// <summary>The sandbox could not be set up (<see cref="SandboxResult.ReasonCode"/> says which step).</summary>
    SetupError,
    /// <summary>The program made a syscall its policy does not allow.</summary>
    Violation,
    /// <summary>The program was killed by a signal (<see cref="SandboxResult.Signal"/>).</summary>
    Signaled,
    /// <summary>The wall-time limit ran out.</summary>
    Timeout,
    /// <summary>Killed on request (<see cref="Sandbox.Kill"/> or cancellation).</summary>
    ExternalKill,
    /// <summary>The sandbox itself failed while running.</summary>
    InternalError,
}

/// <summary>Resources the sandbox used.</summary>
/// <param name="WallTime">From start to end.</param>
/// <param name="CpuTime">User + system time summed over every process of the sandbox.</param>
/// <param name="MaxRssKb">Largest resident set of any one process, in KiB (0 when init was killed before it could report).</param>
public sealed record SandboxUsage(TimeSpan WallTime, TimeSpan CpuTime, long MaxRssKb)
{
    /// <summary>Peak memory of the whole sandbox, in KiB: the memory cgroup's peak (memory.peak, v1 max_usage_in_bytes),
    /// which also counts page cache and tmpfs files it wrote; <see cref="MaxRssKb"/> without a memory cgroup.</summary>
    public long MemoryPeakKb { get; init; }
    /// <summary>Most processes and threads alive at once (the pids cgroup's peak, init not counted); 0 when unknown.</summary>
    public int Processes { get; init; }
}


/// <summary>How a sandbox is isolated (<c>--isolation</c>).</summary>
public enum IsolationLevel
{
    /// <summary>The full sandbox: new user, pid, mount, network, ipc, uts and cgroup namespaces, seccomp, Landlock where the
    /// kernel has it, rlimits.</summary>
    Namespaces,
    /// <summary>For places where namespaces cannot be made (an unprivileged container): the same seccomp policy, Landlock
    /// rules confining the filesystem to what would have been mounted (and TCP to nothing where the ABI has it),
    /// rlimits, no_new_privs. Weaker: the program shares the host's pid, ipc, uts and (unless Landlock v4+) network
    /// view, and /proc is the host's.</summary>
    NoNamespaces,
}

/// <summary>What isolation actually held for a sandbox (the result's <c>isolation</c>).</summary>
public sealed record SandboxIsolation
{
    /// <summary>Namespaces or not.</summary>
    public IsolationLevel Level { get; init; } = IsolationLevel.Namespaces;
    /// <summary>The seccomp policy was applied (false when a SandboxMeHere program never applied it).</summary>
    public bool Seccomp { get; init; } = true;
    /// <summary>The cgroup hierarchy the sandbox ran in; null = none (limits were rlimits only).</summary>
    public CgroupVersion? Cgroup { get; init; }
    /// <summary>The Landlock ABI whose rules were enforced, or null when none were.</summary>
    public int? LandlockAbi { get; init; }
}

/// <summary>Spelling of <see cref="SandboxStatus"/> values.</summary>
public static class SandboxStatusNames
{
    /// <summary>The contract's (and Sandbox2's) name: OK, SETUP_ERROR, VIOLATION, SIGNALED, TIMEOUT, EXTERNAL_KILL, INTERNAL_ERROR.</summary>
    public static string ToContractName(this SandboxStatus status) => status switch
    {
        SandboxStatus.Ok => "OK",
        SandboxStatus.SetupError => "SETUP_ERROR",
        SandboxStatus.Violation => "VIOLATION",
        SandboxStatus.Signaled => "SIGNALED",
        SandboxStatus.Timeout => "TIMEOUT",
        SandboxStatus.ExternalKill => "EXTERNAL_KILL",
        _ => "INTERNAL_ERROR",
    };
}

/// <summary>What happened to a sandboxee (Sandbox2's <c>Result</c>).</summary>
public sealed class SandboxResult
{
    /// <summary>Creates a result, e.g. in a test of code that consumes results
    /// (<c>new SandboxResult(SandboxStatus.Ok, "exited") { ExitCode = 0 }</c>); the library makes them when a sandbox ends.</summary>
    /// <param name="status">How the sandbox ended.</param>
    /// <param name="reason">One human-readable line.</param>
    /// <param name="reasonCode">Sandbox2's reason code, where one applies.</param>
    /// <exception cref="ArgumentNullException"><paramref name="reason"/> is null.</exception>
    public SandboxResult(SandboxStatus status, string reason, ReasonCode? reasonCode = null)
    {
        ArgumentNullException.ThrowIfNull(reason);
        Status = status; Reason = reason; ReasonCode = reasonCode;
    }

    /// <summary>How the sandbox ended (Sandbox2's <c>Result::final_status</c>).</summary>
    public SandboxStatus Status { get; }
    /// <summary>One human-readable line.</summary>
    public string Reason { get; }
    /// <summary>Sandbox2's reason code for SETUP_ERROR/INTERNAL_ERROR (<see cref="Sandbox2.ReasonCode.FailedNamespaces"/>,
    /// FailedLimits, FailedCwd, FailedSubprocess, FailedPolicy, FailedMonitor, ...; ProgramNotFound and
    /// ProgramNotExecutable when the program itself is the problem), ViolationSyscall / ViolationArch for violations,
    /// else null. <see cref="ReasonCodes.ToContractName"/> spells it as the contract does (FAILED_POLICY).</summary>
    public ReasonCode? ReasonCode { get; }
    /// <summary>For a SETUP_ERROR: the kernel feature the failed step depends on (None when it needs nothing special).</summary>
    internal KernelFeature Feature { get; init; }
    /// <summary>For a SETUP_ERROR: the errno said <see cref="Feature"/> is missing here (the reason then names it and
    /// points to <c>sandbox2 doctor</c>).</summary>
    internal bool FeatureMissing { get; init; }
    /// <summary>The exit code, when <see cref="Status"/> is <see cref="SandboxStatus.Ok"/>.</summary>
    public int? ExitCode { get; init; }
    /// <summary>The terminating signal, when <see cref="Status"/> is <see cref="SandboxStatus.Signaled"/>.</summary>
    public int? Signal { get; init; }
    /// <summary>The violating syscall, when the monitor saw it.</summary>
    public Violation? Violation { get; init; }
    /// <summary>Stack trace of the violating thread, when collected.</summary>
    public IReadOnlyList<string>? StackTrace { get; init; }
    /// <summary>True when the memory cgroup killed the program.</summary>
    public bool Oom { get; init; }
    /// <summary>Resources used: wall time, CPU time, peak memory (Sandbox2 reports these as <c>Result::GetRUsageMonitor()</c>).</summary>
    public SandboxUsage Usage { get; internal set; } = new(TimeSpan.Zero, TimeSpan.Zero, 0);
    /// <summary>What isolation actually held: namespaces or not, seccomp, the cgroup hierarchy, the enforced Landlock ABI.</summary>
    public SandboxIsolation Isolation { get; internal set; } = new();

    /// <summary>Sandbox2's form: <c>OK - Exit code: 0</c>, <c>SYSCALL VIOLATION - Violating Syscall [X86-64] ptrace(...)</c>, ...</summary>
    public override string ToString() => Status switch
    {
        SandboxStatus.Ok => string.Create(CultureInfo.InvariantCulture, $"OK - Exit code: {ExitCode}"),
        SandboxStatus.Violation => Violation is { } v ? $"SYSCALL VIOLATION - Violating Syscall {v.Description}" : $"SYSCALL VIOLATION - {Reason}",
        SandboxStatus.Signaled => string.Create(CultureInfo.InvariantCulture, $"Process terminated with a SIGNAL - Signal: {Signals.Name(Signal ?? 0)}"),
        SandboxStatus.Timeout => "Process TIMEOUT - " + Reason,
        SandboxStatus.ExternalKill => "Process killed by user - " + Reason,
        SandboxStatus.SetupError => $"SETUP_ERROR - Code: {ReasonCode?.ToContractName()} - {Reason}",
        _ => $"INTERNAL_ERROR - Code: {ReasonCode?.ToContractName()} - {Reason}",
    };
}

internal static class Signals
{
    private static readonly string[] Names =
    [
        "0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1",
        "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",
        "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    ];

    public static string Name(int signal) =>
        signal >= 0 && signal < Names.Length ? Names[signal] : string.Create(CultureInfo.InvariantCulture, $"SIG{signal}");
}
