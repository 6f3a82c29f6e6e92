namespace Sandbox2;

public sealed partial class Policy
{
    /// <summary>When the monitor collects stack traces (<see cref="PolicyBuilder.CollectStacktracesOnViolation"/>).</summary>
    public StackTraceOptions StackTraces { get; internal set; } = StackTraceOptions.Default;
}
