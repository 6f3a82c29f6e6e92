using System.ComponentModel;
using Google.Protobuf;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

// Sandbox2's spellings (RecvString, RecvInt32, ...) of the methods renamed to .NET's (ReceiveString, ReceiveInt32, ...;
// docs/NAMING.md). Hidden from IntelliSense; they forward, so code written against the old names still compiles.
public sealed partial class Comms
{
    /// <summary>Sandbox2's name of <see cref="ReceiveTlv"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public CommsMessage RecvTlv() => ReceiveTlv();

    /// <summary>Sandbox2's name of <see cref="ReceiveTlvAsync"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<CommsMessage> RecvTlvAsync(CancellationToken cancellationToken = default) => ReceiveTlvAsync(cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveBool"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public bool RecvBool() => ReceiveBool();

    /// <summary>Sandbox2's name of <see cref="ReceiveInt8"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public sbyte RecvInt8() => ReceiveInt8();

    /// <summary>Sandbox2's name of <see cref="ReceiveUint8"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public byte RecvUint8() => ReceiveUint8();

    /// <summary>Sandbox2's name of <see cref="ReceiveInt16"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public short RecvInt16() => ReceiveInt16();

    /// <summary>Sandbox2's name of <see cref="ReceiveUint16"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ushort RecvUint16() => ReceiveUint16();

    /// <summary>Sandbox2's name of <see cref="ReceiveInt32"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public int RecvInt32() => ReceiveInt32();

    /// <summary>Sandbox2's name of <see cref="ReceiveUint32"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public uint RecvUint32() => ReceiveUint32();

    /// <summary>Sandbox2's name of <see cref="ReceiveInt64"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public long RecvInt64() => ReceiveInt64();

    /// <summary>Sandbox2's name of <see cref="ReceiveUint64"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ulong RecvUint64() => ReceiveUint64();

    /// <summary>Sandbox2's name of <see cref="ReceiveBoolAsync"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<bool> RecvBoolAsync(CancellationToken cancellationToken = default) => ReceiveBoolAsync(cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveInt8Async"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<sbyte> RecvInt8Async(CancellationToken cancellationToken = default) => ReceiveInt8Async(cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveUint8Async"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<byte> RecvUint8Async(CancellationToken cancellationToken = default) => ReceiveUint8Async(cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveInt16Async"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<short> RecvInt16Async(CancellationToken cancellationToken = default) => ReceiveInt16Async(cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveUint16Async"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<ushort> RecvUint16Async(CancellationToken cancellationToken = default) => ReceiveUint16Async(cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveInt32Async"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<int> RecvInt32Async(CancellationToken cancellationToken = default) => ReceiveInt32Async(cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveUint32Async"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<uint> RecvUint32Async(CancellationToken cancellationToken = default) => ReceiveUint32Async(cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveInt64Async"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<long> RecvInt64Async(CancellationToken cancellationToken = default) => ReceiveInt64Async(cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveUint64Async"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<ulong> RecvUint64Async(CancellationToken cancellationToken = default) => ReceiveUint64Async(cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveString"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public string RecvString() => ReceiveString();

    /// <summary>Sandbox2's name of <see cref="ReceiveBytes"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public byte[] RecvBytes() => ReceiveBytes();

    /// <summary>Sandbox2's name of <see cref="ReceiveProtoBuf{T}"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public T RecvProtoBuf<T>(MessageParser<T> parser) where T : IMessage<T> => ReceiveProtoBuf<T>(parser);

    /// <summary>Sandbox2's name of <see cref="ReceiveStringAsync"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<string> RecvStringAsync(CancellationToken cancellationToken = default) => ReceiveStringAsync(cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveBytesAsync"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<byte[]> RecvBytesAsync(CancellationToken cancellationToken = default) => ReceiveBytesAsync(cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveProtoBufAsync{T}"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<T> RecvProtoBufAsync<T>(MessageParser<T> parser, CancellationToken cancellationToken = default) where T : IMessage<T> => ReceiveProtoBufAsync<T>(parser, cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveFd"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public SafeFileHandle RecvFd() => ReceiveFd();

    /// <summary>Sandbox2's name of <see cref="ReceiveFdAsync"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<SafeFileHandle> RecvFdAsync(CancellationToken cancellationToken = default) => ReceiveFdAsync(cancellationToken);

    /// <summary>Sandbox2's name of <see cref="ReceiveCreds"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public UnixCredentials RecvCreds() => ReceiveCreds();

    /// <summary>Sandbox2's name of <see cref="ReceiveCredsAsync"/>; kept hidden for code written before the rename.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ValueTask<UnixCredentials> RecvCredsAsync(CancellationToken cancellationToken = default) => ReceiveCredsAsync(cancellationToken);

    /// <summary>Sandbox2's name for <see cref="ReceiveBarrier"/>.</summary>
    public void RecvBarrier() => ReceiveBarrier();

    /// <summary>Sandbox2's name for <see cref="ReceiveBarrierAsync"/>.</summary>
    public ValueTask RecvBarrierAsync(CancellationToken cancellationToken = default) => ReceiveBarrierAsync(cancellationToken);
}
