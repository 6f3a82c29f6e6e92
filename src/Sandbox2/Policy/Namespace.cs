namespace Sandbox2;

/// <summary>Network isolation of a sandbox.</summary>
public enum NetworkMode
{
    /// <summary>A new, empty network namespace (not even loopback up).</summary>
    None,
    /// <summary>A new network namespace with <c>lo</c> up.</summary>
    Loopback,
    /// <summary>The host's network (no network namespace). Unsafe: the sandboxee can reach whatever the host can.</summary>
    Host,
}

/// <summary>The namespace part of a policy (Sandbox2's <c>Namespace</c>): the mount tree, hostname and network.
/// The sandbox always gets new user, pid, mount, ipc, uts and cgroup namespaces, and a new network namespace
/// unless <see cref="Network"/> is <see cref="NetworkMode.Host"/>.</summary>
public sealed class Namespace
{
    /// <summary>An empty mount tree, hostname <c>sandbox2</c>, no network.</summary>
    public Namespace() : this(new Mounts(), "sandbox2", NetworkMode.None) { }

    internal Namespace(Mounts mounts, string hostname, NetworkMode network, IsolationLevel isolation = IsolationLevel.Namespaces, LandlockMode landlock = LandlockMode.BestEffort)
    {
        Mounts = mounts; Hostname = hostname; Network = network; Isolation = isolation; Landlock = landlock;
    }

    /// <summary>Namespaces (the default) or, after <see cref="PolicyBuilder.DisableNamespaces"/>, none.</summary>
    public IsolationLevel Isolation { get; }

    /// <summary>Whether Landlock rules derived from <see cref="Mounts"/> are applied (<see cref="LandlockMode.Required"/>
    /// without namespaces).</summary>
    public LandlockMode Landlock { get; }

    /// <summary>What is mounted into the empty, read-only root.</summary>
    public Mounts Mounts { get; }
    /// <summary>Hostname inside (Sandbox2's default: <c>sandbox2</c>).</summary>
    public string Hostname { get; }
    /// <summary>The network: none (a new, empty network namespace; the default), loopback or the host's.</summary>
    public NetworkMode Network { get; }

    internal PlanNamespaces CloneNamespaces =>
        Isolation == IsolationLevel.NoNamespaces ? PlanNamespaces.None
        : Network == NetworkMode.Host ? PlanNamespaces.All & ~PlanNamespaces.Net : PlanNamespaces.All;
}
