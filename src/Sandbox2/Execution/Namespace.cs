namespace Sandbox2;

/// <summary>Network isolation of a sandbox.</summary>
public enum NetworkMode
{
    /// <summary>A new, empty network namespace (not even loopback up).</summary>
    None,
    /// <summary>A new network namespace with <c>lo</c> up.</summary>
    Loopback,
    /// <summary>The host's network (no network namespace). Unsafe.</summary>
    Host,
}

// STUB (owned by the execution work).
/// <summary>The namespace part of a policy: mounts, hostname, network.</summary>
public sealed class Namespace
{
    public string Hostname { get; init; } = "sandbox2";
    public NetworkMode Network { get; init; } = NetworkMode.None;
}
