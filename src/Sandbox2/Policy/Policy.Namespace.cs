namespace Sandbox2;

public sealed partial class Policy
{
    /// <summary>The sandbox's namespaces: mounts, hostname, network mode.</summary>
    public Namespace Namespace { get; internal set; } = new();
}
