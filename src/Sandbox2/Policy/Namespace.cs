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
    /// <summary>Sandbox2's <c>UseForkServerSharedNetNs()</c>: one empty network namespace (no interface up) made once
    /// by the forkserver and shared by every sandbox of it that asks for it. Cheaper than a namespace per sandbox,
    /// weaker: those sandboxes can reach each other's sockets there. Needs a forkserver with CAP_SYS_ADMIN (run as root).</summary>
    ForkServerShared,
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

    /// <summary><see cref="PolicyBuilder.SetRootWritable"/>: the root tmpfs stays writable (noexec, of at most
    /// <see cref="RootSizeBytes"/>) instead of being remounted read-only.</summary>
    public bool RootWritable { get; internal init; }

    /// <summary>The size of a writable root tmpfs.</summary>
    public ulong RootSizeBytes { get; internal init; }

    /// <summary><see cref="PolicyBuilder.UseSharedIpcNs"/>: the sandbox shares the executor's IPC namespace (System V IPC,
    /// POSIX message queues) instead of getting its own.</summary>
    public bool SharedIpc { get; internal init; }

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

    /// <summary>The namespace this sandbox is cloned with: all but the network one for the host's network or the
    /// forkserver's shared one, all but IPC with <see cref="SharedIpc"/>, none without namespaces.</summary>
    internal PlanNamespaces CloneNamespaces =>
        Isolation == IsolationLevel.NoNamespaces ? PlanNamespaces.None
        : PlanNamespaces.All & ~(Network is NetworkMode.Host or NetworkMode.ForkServerShared ? PlanNamespaces.Net : 0)
            & ~(SharedIpc ? PlanNamespaces.Ipc : 0);
}
