using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Sandbox2;

/// <summary>One descriptor given to the sandboxee: at number <see cref="RemoteFd"/> (-1: none) and/or under <see cref="Name"/> ("" : none).</summary>
public sealed record MappedFd(int RemoteFd, string Name, SafeHandle Handle);

/// <summary>
/// Descriptors passed to a sandboxee (Sandbox2's <c>IPC</c>): <see cref="MapFd(SafeHandle, int)"/>
/// puts a host descriptor at a chosen number, <see cref="MapFd(SafeHandle, string)"/> under a name
/// (the sandboxee calls <c>SandboxClient.GetMappedFd(name)</c>), and <see cref="ReceiveFd"/> makes a
/// socketpair whose other end sits at a sandboxee descriptor (e.g. to capture its stdout).
/// The Ipc owns the mapped handles until the sandbox has started.
/// </summary>
public sealed class Ipc : IDisposable
{
    readonly List<MappedFd> _mappings = [];

    /// <summary>Highest descriptor number a mapping can target. 1023 is allowed: the Comms channel then moves to a
    /// free number below it, announced in <c>SANDBOX2_COMMS_FD</c> (as in Sandbox2).</summary>
    public const int MaxRemoteFd = 1023;

    /// <summary>The mappings, in the order they were made.</summary>
    public IReadOnlyList<MappedFd> Mappings => _mappings;

    /// <summary>Gives <paramref name="localFd"/> (ownership passes to the Ipc) to the sandboxee at <paramref name="remoteFd"/>.</summary>
    public void MapFd(SafeHandle localFd, int remoteFd) => Add(localFd, remoteFd, "");

    /// <summary>Gives <paramref name="localFd"/> to the sandboxee under <paramref name="name"/> (it calls
    /// <c>GetMappedFd(name)</c>): with the sandbox installed before exec the descriptor gets a free number and the
    /// name→number map reaches the program in <c>SANDBOX2_FD_MAPPINGS</c>; with SandboxMeHere it comes in the handshake.</summary>
    public void MapFd(SafeHandle localFd, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Add(localFd, -1, name);
    }

    /// <summary>Both: at a number and under a name.</summary>
    public void MapFd(SafeHandle localFd, int remoteFd, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        Add(localFd, remoteFd, name);
    }

    /// <summary>A socketpair: one end is mapped at <paramref name="remoteFd"/> (and <paramref name="name"/>), the other returned to the caller.</summary>
    public SafeSocketHandle ReceiveFd(int remoteFd, string name = "")
    {
        var comms = Comms.CreateWithPeer(out var remote);
        // The Comms wrapper only served to make the pair; keep the raw host end.
        var local = comms.Handle;
        Add(remote, remoteFd, name);
        return local;
    }

    void Add(SafeHandle handle, int remoteFd, string name)
    {
        ArgumentNullException.ThrowIfNull(handle);
        if (handle.IsInvalid || handle.IsClosed) throw new ArgumentException("the descriptor is invalid or closed", nameof(handle));
        if (remoteFd < -1 || (remoteFd == -1 && name.Length == 0))
            throw new ArgumentOutOfRangeException(nameof(remoteFd), $"MapFd: bad target descriptor {remoteFd}");
        if (remoteFd > MaxRemoteFd)
            throw new ArgumentOutOfRangeException(nameof(remoteFd), $"MapFd: descriptor {remoteFd} is above {MaxRemoteFd} (the sandboxee's RLIMIT_NOFILE)");
        if (_mappings.Count >= Client.SandboxMeHereProtocol.MaxMappedFds)
            throw new InvalidOperationException($"MapFd: at most {Client.SandboxMeHereProtocol.MaxMappedFds} descriptors can be mapped");
        foreach (var m in _mappings)
        {
            if (remoteFd >= 0 && m.RemoteFd == remoteFd) throw new ArgumentException($"MapFd: descriptor {remoteFd} is already mapped", nameof(remoteFd));
            if (name.Length > 0 && m.Name == name) throw new ArgumentException($"MapFd: the name \"{name}\" is already mapped", nameof(name));
        }
        _mappings.Add(new MappedFd(remoteFd, name, handle));
    }

    /// <summary>Closes the executor's copies of the mapped descriptors.</summary>
    public void Dispose()
    {
        foreach (var m in _mappings) m.Handle.Dispose();
        _mappings.Clear();
    }
}
