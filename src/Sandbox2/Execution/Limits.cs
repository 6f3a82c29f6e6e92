namespace Sandbox2;

// STUB (owned by the execution work).
/// <summary>Resource limits of a sandboxee (Sandbox2's defaults).</summary>
public sealed class Limits
{
    /// <summary>Wall-clock limit; null = none. Sandbox2's default is 120 s.</summary>
    public TimeSpan? WallTime { get; set; } = TimeSpan.FromSeconds(120);
}
