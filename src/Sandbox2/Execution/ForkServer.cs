namespace Sandbox2;

/// <summary>How the sandbox's init reported the end of the main process (or a failed setup step).</summary>
internal sealed record NativeExitReport
{
    /// <summary>Set when a setup step failed before exec: which step (e.g. "bind /usr -> /usr"), errno and detail.</summary>
    public string? SetupFailedStep { get; init; }
    public int SetupErrno { get; init; }
    /// <summary>The main process exited normally with this code.</summary>
    public int? ExitCode { get; init; }
    /// <summary>The main process was killed by this signal.</summary>
    public int? Signal { get; init; }
    /// <summary>CPU time summed over every process of the sandbox (init's RUSAGE_CHILDREN after reaping all).</summary>
    public TimeSpan UserTime { get; init; }
    public TimeSpan SystemTime { get; init; }
    public long MaxRssKb { get; init; }
}

// STUB (owned by the forkserver work).
/// <summary>
/// The global forkserver (one per executor process, started on demand): a small native program that
/// carries out <see cref="SandboxPlan"/>s and reports how each sandbox ended.
/// </summary>
internal sealed class ForkServer
{
    /// <summary>The process-wide forkserver, started on first use.</summary>
    public static ForkServer Global => throw new NotImplementedException();

    /// <summary>Starts one sandbox. Throws <see cref="ForkServerException"/> when the forkserver itself fails.</summary>
    public Task<SpawnedSandbox> SpawnAsync(SandboxPlan plan, CancellationToken cancellationToken = default) => throw new NotImplementedException();
}

/// <summary>A sandbox started by the forkserver.</summary>
internal sealed class SpawnedSandbox : IDisposable
{
    /// <summary>Host pid of the sandbox's init (PID 1 inside).</summary>
    public int InitPid { get; init; }
    /// <summary>Completes when init has reported and exited (never faults; a lost channel gives a report with SetupFailedStep set).</summary>
    public Task<NativeExitReport> Completion { get; init; } = Task.FromResult(new NativeExitReport());
    /// <summary>SIGKILL the whole sandbox (init, and with it its pid namespace) via pidfd. Idempotent.</summary>
    public void Kill() { }
    public void Dispose() { }
}

/// <summary>The forkserver could not be started or stopped answering.</summary>
internal sealed class ForkServerException : Exception
{
    public ForkServerException(string message) : base(message) { }
    public ForkServerException(string message, Exception inner) : base(message, inner) { }
    public ForkServerException() { }
}
