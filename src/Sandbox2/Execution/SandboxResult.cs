namespace Sandbox2;

/// <summary>Final status of a sandbox (Sandbox2's seven statuses).</summary>
public enum SandboxStatus
{
    Ok,
    SetupError,
    Violation,
    Signaled,
    Timeout,
    ExternalKill,
    InternalError,
}

// STUB (owned by the execution work).
/// <summary>What happened to a sandboxee.</summary>
public sealed class SandboxResult
{
    public SandboxStatus Status { get; init; }
    public string Reason { get; init; } = "";
    public int? ExitCode { get; init; }
    public int? Signal { get; init; }
}
