namespace Sandbox2;

// STUB (owned by the execution work): AddFile/AddFileAt/AddDirectory/AddDirectoryAt/AddTmpfs/
// AddLibrariesForBinary/SetHostname/network, delegating to Mounts and Namespace.
public sealed partial class PolicyBuilder
{
    private readonly NetworkMode _network = NetworkMode.None;
    private Namespace BuildNamespace() => new() { Network = _network };
}
