using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

// The typed API: Send/Recv for each TLV type, synchronous (sandboxee side) and asynchronous (executor side).
public sealed partial class Comms
{
    static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // ---------------------------------------------------------------- raw TLV

    /// <summary>Sends a raw message. User tags should stay below <see cref="CommsTag.FirstReserved"/> (as in Sandbox2, not enforced).</summary>
    public void SendTlv(uint tag, ReadOnlySpan<byte> value) => SendMessage(tag, value);

    /// <summary>Sends a raw message asynchronously (Sandbox2's <c>SendTLV</c>); see <see cref="SendTlv"/>.</summary>
    public ValueTask SendTlvAsync(uint tag, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        SendMessageAsync(tag, value, null, false, cancellationToken);

    /// <summary>Receives the next message whatever its tag (descriptors that came with it are closed).</summary>
    public CommsMessage ReceiveTlv()
    {
        var (tag, value, ancillary) = ReceiveMessage();
        ancillary.Dispose();
        return new CommsMessage(tag, value);
    }

    /// <summary>Receives the next message whatever its tag, asynchronously (Sandbox2's <c>RecvTLV</c>); descriptors that came with it are closed.</summary>
    public async ValueTask<CommsMessage> ReceiveTlvAsync(CancellationToken cancellationToken = default)
    {
        var (tag, value, ancillary) = await ReceiveMessageAsync(cancellationToken).ConfigureAwait(false);
        ancillary.Dispose();
        return new CommsMessage(tag, value);
    }

    // ---------------------------------------------------------------- fixed-size values

    /// <summary>Sends a Bool (one byte, 0 or 1).</summary>
    public void SendBool(bool value) => SendMessage(CommsTag.Bool, [value ? (byte)1 : (byte)0]);
    /// <summary>Sends an Int8.</summary>
    public void SendInt8(sbyte value) => SendMessage(CommsTag.Int8, [(byte)value]);
    /// <summary>Sends a Uint8.</summary>
    public void SendUint8(byte value) => SendMessage(CommsTag.Uint8, [value]);
    /// <summary>Sends an Int16 (little-endian).</summary>
    public void SendInt16(short value) => SendFixed(CommsTag.Int16, (ulong)value, 2);
    /// <summary>Sends a Uint16 (little-endian).</summary>
    public void SendUint16(ushort value) => SendFixed(CommsTag.Uint16, value, 2);
    /// <summary>Sends an Int32 (little-endian).</summary>
    public void SendInt32(int value) => SendFixed(CommsTag.Int32, (ulong)value, 4);
    /// <summary>Sends a Uint32 (little-endian). Sandbox2 spells it the same (<c>SendUint32</c>).</summary>
    public void SendUint32(uint value) => SendFixed(CommsTag.Uint32, value, 4);
    /// <summary>Sends an Int64 (little-endian).</summary>
    public void SendInt64(long value) => SendFixed(CommsTag.Int64, (ulong)value, 8);
    /// <summary>Sends a Uint64 (little-endian).</summary>
    public void SendUint64(ulong value) => SendFixed(CommsTag.Uint64, value, 8);

    /// <summary>Receives a Bool (Sandbox2's <c>RecvBool</c>); another tag is <see cref="CommsError.TagMismatch"/>, a value other than 0/1 <see cref="CommsError.BadValue"/>.</summary>
    public bool ReceiveBool() => DecodeBool(ReceiveExpected(CommsTag.Bool, 1));
    /// <summary>Receives an Int8 (Sandbox2's <c>RecvInt8</c>).</summary>
    public sbyte ReceiveInt8() => (sbyte)ReceiveExpected(CommsTag.Int8, 1)[0];
    /// <summary>Receives a Uint8 (Sandbox2's <c>RecvUint8</c>).</summary>
    public byte ReceiveUint8() => ReceiveExpected(CommsTag.Uint8, 1)[0];
    /// <summary>Receives an Int16 (Sandbox2's <c>RecvInt16</c>).</summary>
    public short ReceiveInt16() => BinaryPrimitives.ReadInt16LittleEndian(ReceiveExpected(CommsTag.Int16, 2));
    /// <summary>Receives a Uint16 (Sandbox2's <c>RecvUint16</c>).</summary>
    public ushort ReceiveUint16() => BinaryPrimitives.ReadUInt16LittleEndian(ReceiveExpected(CommsTag.Uint16, 2));
    /// <summary>Receives an Int32 (Sandbox2's <c>RecvInt32</c>).</summary>
    public int ReceiveInt32() => BinaryPrimitives.ReadInt32LittleEndian(ReceiveExpected(CommsTag.Int32, 4));
    /// <summary>Receives a Uint32 (Sandbox2's <c>RecvUint32</c>).</summary>
    public uint ReceiveUint32() => BinaryPrimitives.ReadUInt32LittleEndian(ReceiveExpected(CommsTag.Uint32, 4));
    /// <summary>Receives an Int64 (Sandbox2's <c>RecvInt64</c>).</summary>
    public long ReceiveInt64() => BinaryPrimitives.ReadInt64LittleEndian(ReceiveExpected(CommsTag.Int64, 8));
    /// <summary>Receives a Uint64 (Sandbox2's <c>RecvUint64</c>).</summary>
    public ulong ReceiveUint64() => BinaryPrimitives.ReadUInt64LittleEndian(ReceiveExpected(CommsTag.Uint64, 8));

    /// <summary>Sends a Bool asynchronously.</summary>
    public ValueTask SendBoolAsync(bool value, CancellationToken cancellationToken = default) =>
        SendMessageAsync(CommsTag.Bool, new[] { value ? (byte)1 : (byte)0 }, null, false, cancellationToken);
    /// <summary>Sends an Int8 asynchronously.</summary>
    public ValueTask SendInt8Async(sbyte value, CancellationToken cancellationToken = default) => SendFixedAsync(CommsTag.Int8, (byte)value, 1, cancellationToken);
    /// <summary>Sends a Uint8 asynchronously.</summary>
    public ValueTask SendUint8Async(byte value, CancellationToken cancellationToken = default) => SendFixedAsync(CommsTag.Uint8, value, 1, cancellationToken);
    /// <summary>Sends an Int16 asynchronously.</summary>
    public ValueTask SendInt16Async(short value, CancellationToken cancellationToken = default) => SendFixedAsync(CommsTag.Int16, (ulong)value, 2, cancellationToken);
    /// <summary>Sends a Uint16 asynchronously.</summary>
    public ValueTask SendUint16Async(ushort value, CancellationToken cancellationToken = default) => SendFixedAsync(CommsTag.Uint16, value, 2, cancellationToken);
    /// <summary>Sends an Int32 asynchronously.</summary>
    public ValueTask SendInt32Async(int value, CancellationToken cancellationToken = default) => SendFixedAsync(CommsTag.Int32, (ulong)value, 4, cancellationToken);
    /// <summary>Sends a Uint32 asynchronously.</summary>
    public ValueTask SendUint32Async(uint value, CancellationToken cancellationToken = default) => SendFixedAsync(CommsTag.Uint32, value, 4, cancellationToken);
    /// <summary>Sends an Int64 asynchronously.</summary>
    public ValueTask SendInt64Async(long value, CancellationToken cancellationToken = default) => SendFixedAsync(CommsTag.Int64, (ulong)value, 8, cancellationToken);
    /// <summary>Sends a Uint64 asynchronously.</summary>
    public ValueTask SendUint64Async(ulong value, CancellationToken cancellationToken = default) => SendFixedAsync(CommsTag.Uint64, value, 8, cancellationToken);

    /// <summary>Receives a Bool asynchronously (Sandbox2's <c>RecvBool</c>).</summary>
    public async ValueTask<bool> ReceiveBoolAsync(CancellationToken cancellationToken = default) =>
        DecodeBool(await ReceiveExpectedAsync(CommsTag.Bool, 1, cancellationToken).ConfigureAwait(false));
    /// <summary>Receives an Int8 asynchronously (Sandbox2's <c>RecvInt8</c>).</summary>
    public async ValueTask<sbyte> ReceiveInt8Async(CancellationToken cancellationToken = default) =>
        (sbyte)(await ReceiveExpectedAsync(CommsTag.Int8, 1, cancellationToken).ConfigureAwait(false))[0];
    /// <summary>Receives a Uint8 asynchronously (Sandbox2's <c>RecvUint8</c>).</summary>
    public async ValueTask<byte> ReceiveUint8Async(CancellationToken cancellationToken = default) =>
        (await ReceiveExpectedAsync(CommsTag.Uint8, 1, cancellationToken).ConfigureAwait(false))[0];
    /// <summary>Receives an Int16 asynchronously (Sandbox2's <c>RecvInt16</c>).</summary>
    public async ValueTask<short> ReceiveInt16Async(CancellationToken cancellationToken = default) =>
        BinaryPrimitives.ReadInt16LittleEndian(await ReceiveExpectedAsync(CommsTag.Int16, 2, cancellationToken).ConfigureAwait(false));
    /// <summary>Receives a Uint16 asynchronously (Sandbox2's <c>RecvUint16</c>).</summary>
    public async ValueTask<ushort> ReceiveUint16Async(CancellationToken cancellationToken = default) =>
        BinaryPrimitives.ReadUInt16LittleEndian(await ReceiveExpectedAsync(CommsTag.Uint16, 2, cancellationToken).ConfigureAwait(false));
    /// <summary>Receives an Int32 asynchronously (Sandbox2's <c>RecvInt32</c>).</summary>
    public async ValueTask<int> ReceiveInt32Async(CancellationToken cancellationToken = default) =>
        BinaryPrimitives.ReadInt32LittleEndian(await ReceiveExpectedAsync(CommsTag.Int32, 4, cancellationToken).ConfigureAwait(false));
    /// <summary>Receives a Uint32 asynchronously (Sandbox2's <c>RecvUint32</c>).</summary>
    public async ValueTask<uint> ReceiveUint32Async(CancellationToken cancellationToken = default) =>
        BinaryPrimitives.ReadUInt32LittleEndian(await ReceiveExpectedAsync(CommsTag.Uint32, 4, cancellationToken).ConfigureAwait(false));
    /// <summary>Receives an Int64 asynchronously (Sandbox2's <c>RecvInt64</c>).</summary>
    public async ValueTask<long> ReceiveInt64Async(CancellationToken cancellationToken = default) =>
        BinaryPrimitives.ReadInt64LittleEndian(await ReceiveExpectedAsync(CommsTag.Int64, 8, cancellationToken).ConfigureAwait(false));
    /// <summary>Receives a Uint64 asynchronously (Sandbox2's <c>RecvUint64</c>).</summary>
    public async ValueTask<ulong> ReceiveUint64Async(CancellationToken cancellationToken = default) =>
        BinaryPrimitives.ReadUInt64LittleEndian(await ReceiveExpectedAsync(CommsTag.Uint64, 8, cancellationToken).ConfigureAwait(false));

    void SendFixed(uint tag, ulong value, int size)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        SendMessage(tag, b[..size]);
    }

    ValueTask SendFixedAsync(uint tag, ulong value, int size, CancellationToken cancellationToken)
    {
        byte[] b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return SendMessageAsync(tag, b.AsMemory(0, size), null, false, cancellationToken);
    }

    static bool DecodeBool(byte[] value) => value[0] switch
    {
        0 => false,
        1 => true,
        _ => throw new CommsException(CommsError.BadValue, $"bad Bool value {value[0]} (expected 0 or 1)"),
    };

    // ---------------------------------------------------------------- strings, bytes, protobuf

    /// <summary>Sends a String (UTF-8).</summary>
    public void SendString(string value) => SendMessage(CommsTag.String, Encoding.UTF8.GetBytes(value));
    /// <summary>Sends Bytes.</summary>
    public void SendBytes(ReadOnlySpan<byte> value) => SendMessage(CommsTag.Bytes, value);
    /// <summary>Sends a protobuf message (tag Proto2, as Sandbox2's <c>SendProtoBuf</c>).</summary>
    public void SendProtoBuf(IMessage message) => SendMessage(CommsTag.Proto2, message.ToByteArray());

    /// <summary>Sends a String (UTF-8) asynchronously.</summary>
    public ValueTask SendStringAsync(string value, CancellationToken cancellationToken = default) =>
        SendMessageAsync(CommsTag.String, Encoding.UTF8.GetBytes(value), null, false, cancellationToken);
    /// <summary>Sends Bytes asynchronously.</summary>
    public ValueTask SendBytesAsync(ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        SendMessageAsync(CommsTag.Bytes, value, null, false, cancellationToken);
    /// <summary>Sends a protobuf message asynchronously.</summary>
    public ValueTask SendProtoBufAsync(IMessage message, CancellationToken cancellationToken = default) =>
        SendMessageAsync(CommsTag.Proto2, message.ToByteArray(), null, false, cancellationToken);

    /// <summary>Receives a String (UTF-8; invalid UTF-8 is <see cref="CommsError.BadValue"/>).</summary>
    public string ReceiveString() => DecodeString(ReceiveExpected(CommsTag.String, -1));
    /// <summary>Receives Bytes (Sandbox2's <c>RecvBytes</c>).</summary>
    public byte[] ReceiveBytes() => ReceiveExpected(CommsTag.Bytes, -1);
    /// <summary>Receives a protobuf message and parses it with <paramref name="parser"/> (Sandbox2's <c>RecvProtoBuf</c>); a message that does not parse is <see cref="CommsError.BadValue"/>.</summary>
    public T ReceiveProtoBuf<T>(MessageParser<T> parser) where T : IMessage<T> => DecodeProto(parser, ReceiveExpected(CommsTag.Proto2, -1));

    /// <summary>Receives a String asynchronously (Sandbox2's <c>RecvString</c>).</summary>
    public async ValueTask<string> ReceiveStringAsync(CancellationToken cancellationToken = default) =>
        DecodeString(await ReceiveExpectedAsync(CommsTag.String, -1, cancellationToken).ConfigureAwait(false));
    /// <summary>Receives Bytes asynchronously (Sandbox2's <c>RecvBytes</c>).</summary>
    public ValueTask<byte[]> ReceiveBytesAsync(CancellationToken cancellationToken = default) =>
        ReceiveExpectedAsync(CommsTag.Bytes, -1, cancellationToken);
    /// <summary>Receives a protobuf message asynchronously (Sandbox2's <c>RecvProtoBuf</c>).</summary>
    public async ValueTask<T> ReceiveProtoBufAsync<T>(MessageParser<T> parser, CancellationToken cancellationToken = default) where T : IMessage<T> =>
        DecodeProto(parser, await ReceiveExpectedAsync(CommsTag.Proto2, -1, cancellationToken).ConfigureAwait(false));

    static string DecodeString(byte[] value)
    {
        try { return Utf8.GetString(value); }
        catch (DecoderFallbackException e) { throw new CommsException(CommsError.BadValue, "bad String value: not valid UTF-8", e); }
    }

    static T DecodeProto<T>(MessageParser<T> parser, byte[] value) where T : IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(parser);
        try { return parser.ParseFrom(value); }
        catch (InvalidProtocolBufferException e) { throw new CommsException(CommsError.BadValue, $"bad Proto2 value: {e.Message}", e); }
    }

    // ---------------------------------------------------------------- descriptors and credentials

    /// <summary>Sends a duplicate of <paramref name="fd"/> (SCM_RIGHTS); the caller keeps its own.</summary>
    public void SendFd(SafeHandle fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        SendMessage(CommsTag.Fd, [], fd);
    }

    /// <summary>Sends a duplicate of <paramref name="fd"/> asynchronously (SCM_RIGHTS); the caller keeps its own.</summary>
    public ValueTask SendFdAsync(SafeHandle fd, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fd);
        return SendMessageAsync(CommsTag.Fd, ReadOnlyMemory<byte>.Empty, fd, false, cancellationToken);
    }

    /// <summary>Receives a descriptor (close-on-exec). Extra descriptors in the message are closed.</summary>
    public SafeFileHandle ReceiveFd()
    {
        var (tag, value, ancillary) = ReceiveMessage();
        return TakeFd(tag, value, ancillary);
    }

    /// <summary>Receives a descriptor asynchronously (Sandbox2's <c>RecvFD</c>; close-on-exec).</summary>
    public async ValueTask<SafeFileHandle> ReceiveFdAsync(CancellationToken cancellationToken = default)
    {
        var (tag, value, ancillary) = await ReceiveMessageAsync(cancellationToken).ConfigureAwait(false);
        return TakeFd(tag, value, ancillary);
    }

    /// <summary>Sends this process's credentials (SCM_CREDENTIALS; the kernel checks them).</summary>
    /// <exception cref="CommsException"><see cref="CommsError.MissingAncillary"/>: the channel was not set up for
    /// credentials (SO_PASSCRED is off on this end, as on a socketpair not made by <see cref="CreatePair"/>), so the peer
    /// would receive a Creds message without them (Sandbox2: SendCreds fails without SO_PASSCRED). Nothing was sent.</exception>
    public void SendCreds()
    {
        CheckPassCred();
        SendMessage(CommsTag.Creds, [], null, creds: true);
    }

    /// <summary>Asynchronous <see cref="SendCreds"/>.</summary>
    public ValueTask SendCredsAsync(CancellationToken cancellationToken = default)
    {
        CheckPassCred();
        return SendMessageAsync(CommsTag.Creds, ReadOnlyMemory<byte>.Empty, null, true, cancellationToken);
    }

    // ---------------------------------------------------------------- barrier

    /// <summary>Sends a barrier (Sandbox2's <c>SendBarrier</c>): an empty message of tag <see cref="CommsTag.Barrier"/>;
    /// with <see cref="ReceiveBarrier"/> on the other side, the two sides meet at the same point.</summary>
    public void SendBarrier() => SendMessage(CommsTag.Barrier, []);

    /// <summary>Waits for the peer's barrier (<see cref="CommsError.TagMismatch"/> if another message comes first).</summary>
    public void ReceiveBarrier() => ReceiveExpected(CommsTag.Barrier, 0);

    /// <summary>Asynchronous <see cref="SendBarrier"/>.</summary>
    public ValueTask SendBarrierAsync(CancellationToken cancellationToken = default) =>
        SendMessageAsync(CommsTag.Barrier, ReadOnlyMemory<byte>.Empty, null, false, cancellationToken);

    /// <summary>Asynchronous <see cref="ReceiveBarrier"/>.</summary>
    public async ValueTask ReceiveBarrierAsync(CancellationToken cancellationToken = default) =>
        await ReceiveExpectedAsync(CommsTag.Barrier, 0, cancellationToken).ConfigureAwait(false);

    /// <summary>Receives the peer's kernel-verified credentials (sets SO_PASSCRED on first use).</summary>
    public UnixCredentials ReceiveCreds()
    {
        EnablePassCred();
        var (tag, value, ancillary) = ReceiveMessage();
        return TakeCreds(tag, value, ancillary);
    }

    /// <summary>Receives the peer's kernel-verified credentials asynchronously (Sandbox2's <c>RecvCreds</c>).</summary>
    public async ValueTask<UnixCredentials> ReceiveCredsAsync(CancellationToken cancellationToken = default)
    {
        EnablePassCred();
        var (tag, value, ancillary) = await ReceiveMessageAsync(cancellationToken).ConfigureAwait(false);
        return TakeCreds(tag, value, ancillary);
    }

    static SafeFileHandle TakeFd(uint tag, byte[] value, Ancillary ancillary)
    {
        using (ancillary)
        {
            CheckTag(CommsTag.Fd, 0, tag, value);
            return ancillary.TakeFirstFd()
                ?? throw new CommsException(CommsError.MissingAncillary, "an Fd message arrived without a descriptor");
        }
    }

    static UnixCredentials TakeCreds(uint tag, byte[] value, Ancillary ancillary)
    {
        using (ancillary)
        {
            CheckTag(CommsTag.Creds, 0, tag, value);
            return ancillary.Creds
                ?? throw new CommsException(CommsError.MissingAncillary, "a Creds message arrived without credentials");
        }
    }

    // ---------------------------------------------------------------- helpers

    byte[] ReceiveExpected(uint expectedTag, int expectedLength)
    {
        var (tag, value, ancillary) = ReceiveMessage();
        ancillary.Dispose();
        CheckTag(expectedTag, expectedLength, tag, value);
        return value;
    }

    async ValueTask<byte[]> ReceiveExpectedAsync(uint expectedTag, int expectedLength, CancellationToken cancellationToken)
    {
        var (tag, value, ancillary) = await ReceiveMessageAsync(cancellationToken).ConfigureAwait(false);
        ancillary.Dispose();
        CheckTag(expectedTag, expectedLength, tag, value);
        return value;
    }

    static void CheckTag(uint expectedTag, int expectedLength, uint tag, byte[] value)
    {
        if (tag != expectedTag)
            throw new CommsException(CommsError.TagMismatch, $"expected a {CommsTag.Name(expectedTag)} message, received {CommsTag.Name(tag)} ({value.Length} bytes)");
        if (expectedLength >= 0 && value.Length != expectedLength)
            throw new CommsException(CommsError.BadValue, $"bad {CommsTag.Name(tag)} message: {value.Length} bytes, expected {expectedLength}");
    }
}
