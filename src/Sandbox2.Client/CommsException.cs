namespace Sandbox2;

/// <summary>What went wrong on a <see cref="Comms"/> channel.</summary>
public enum CommsError
{
    /// <summary>The peer hung up (or the channel was terminated earlier); every later operation fails too.</summary>
    Closed,
    /// <summary>The peer closed the channel in the middle of a message.</summary>
    Truncated,
    /// <summary>A message arrived with another tag than the one asked for. The message was consumed; the channel stays usable.</summary>
    TagMismatch,
    /// <summary>A message had the right tag but an impossible value (wrong length for its type, bool not 0/1, bad protobuf). The channel stays usable.</summary>
    BadValue,
    /// <summary>A message header announced more bytes than <see cref="Comms.MaxMessageSize"/>; nothing was allocated and the channel is terminated.</summary>
    TooLarge,
    /// <summary>An Fd message carried no descriptor, or a Creds message no credentials.</summary>
    MissingAncillary,
    /// <summary>No Comms channel at the expected descriptor.</summary>
    NotConnected,
    /// <summary>Any other I/O error from the kernel.</summary>
    Io,
}

/// <summary>A Comms operation failed. <see cref="Error"/> says how; the message is one line naming the problem.</summary>
public sealed class CommsException : IOException
{
    /// <summary>A failure of kind <paramref name="error"/> described by <paramref name="message"/> (one line).</summary>
    public CommsException(CommsError error, string message) : base(message) => Error = error;
    /// <summary>A failure of kind <paramref name="error"/>, caused by <paramref name="inner"/>.</summary>
    public CommsException(CommsError error, string message, Exception inner) : base(message, inner) => Error = error;
    /// <summary>How the operation failed.</summary>
    public CommsError Error { get; }
}

/// <summary>Credentials of the peer process (translated into the receiver's namespaces by the kernel).</summary>
public readonly record struct UnixCredentials(int Pid, uint Uid, uint Gid);

/// <summary>One raw TLV message.</summary>
public readonly record struct CommsMessage(uint Tag, byte[] Value);
