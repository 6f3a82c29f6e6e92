using System.Buffers.Binary;
using CsCheck;
using Google.Protobuf.WellKnownTypes;
using Xunit.Abstractions;

namespace Sandbox2.Tests;

/// <summary>
/// A malicious peer: CsCheck generates byte streams of well-formed, lying, truncated and garbage TLVs;
/// the receiver runs random typed receives (sync and async) over them. Every receive must end in a
/// value or a <see cref="CommsException"/> — no other exception, no hang — and once the peer has
/// closed, the channel must report Closed. Iterations: SANDBOX2_FUZZ_ITER (default 5000 / 600).
/// </summary>
public sealed class CommsFuzzTests(ITestOutputHelper output)
{
    static readonly TimeSpan OpTimeout = TimeSpan.FromSeconds(10);
    static readonly uint[] Tags =
    [
        CommsTag.Bool, CommsTag.Int8, CommsTag.Uint8, CommsTag.Int16, CommsTag.Uint16, CommsTag.Int32, CommsTag.Uint32,
        CommsTag.Int64, CommsTag.Uint64, CommsTag.String, CommsTag.Bytes, CommsTag.Proto2, CommsTag.Version,
        CommsTag.Fd, CommsTag.Creds, 0, 7, 0x7FFFFFFF, 0xFFFFFFFF,
    ];

    static long Iterations(long fallback) =>
        long.TryParse(Environment.GetEnvironmentVariable("SANDBOX2_FUZZ_ITER"), out long n) && n > 0 ? n : fallback;

    static byte[] Header(uint tag, ulong length)
    {
        var h = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(h, tag);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(4), length);
        return h;
    }

    static readonly Gen<uint> GenTag = Gen.Frequency((4, Gen.OneOf(Tags)), (1, Gen.UInt));

    /// <summary>One piece of a hostile stream.</summary>
    static readonly Gen<byte[]> GenChunk = Gen.Frequency(
        (5, Gen.Select(GenTag, Gen.Byte.Array[0, 24], (t, v) => (byte[])[.. Header(t, (ulong)v.Length), .. v])),            // well-formed
        (2, Gen.Select(GenTag, Gen.Int[0, 8], Gen.Byte.Array[0, 8], (t, n, v) => (byte[])[.. Header(t, (ulong)n), .. v])),     // length off by a little
        (1, Gen.Select(GenTag, Gen.OneOf(Gen.ULong, Gen.OneOf(1UL << 31, 1UL << 40, ulong.MaxValue, 256UL << 20)), (t, n) => Header(t, n))), // huge
        (1, Gen.Byte.Array[1, 11]),                                                                                            // truncated header
        (1, Gen.Byte.Array[0, 40]));                                                                                           // garbage

    static readonly Gen<byte[]> GenStream = GenChunk.Array[0, 10].Select(chunks => chunks.SelectMany(c => c).ToArray());

    [Fact]
    public void DecoderSurvivesHostileStreams()
    {
        long ran = 0, values = 0, errors = 0;
        var gen = Gen.Select(GenStream, Gen.Int[0, 31].Array[1, 16], Gen.OneOf(16L, 1024L, 1L << 20, Comms.DefaultMaxMessageSize));
        gen.Sample((stream, ops, cap) =>
        {
            var (writer, reader) = Comms.CreatePair();
            using (reader)
            {
                reader.MaxMessageSize = cap;
                using (writer) CommsTests.RawWrite(writer, stream);
                foreach (int op in ops)
                {
                    try
                    {
                        Receive(reader, op);
                        Interlocked.Increment(ref values);
                    }
                    catch (CommsException)
                    {
                        Interlocked.Increment(ref errors);
                    }
                }
                // Drain: the peer is gone, so the channel must end in Closed within a bounded number of reads.
                for (int i = 0; ; i++)
                {
                    try { reader.ReceiveTlv(); }
                    catch (CommsException e) when (e.Error is CommsError.Closed or CommsError.Truncated or CommsError.TooLarge) { break; }
                    if (i > stream.Length) throw new InvalidOperationException("the channel never reported the hang-up");
                }
                if (!reader.IsTerminated) throw new InvalidOperationException("not terminated after the peer closed");
            }
            Interlocked.Increment(ref ran);
        }, iter: Iterations(5000), threads: 2);
        output.WriteLine($"decoder fuzz: {ran} hostile streams, {values} receives returned a value, {errors} ended in CommsException");
        Assert.True(ran >= 1);
    }

    static void Receive(Comms c, int op)
    {
        switch (op)
        {
            case 0: c.ReceiveBool(); break;
            case 1: c.ReceiveInt8(); break;
            case 2: c.ReceiveUint8(); break;
            case 3: c.ReceiveInt16(); break;
            case 4: c.ReceiveUint16(); break;
            case 5: c.ReceiveInt32(); break;
            case 6: c.ReceiveUint32(); break;
            case 7: c.ReceiveInt64(); break;
            case 8: c.ReceiveUint64(); break;
            case 9: c.ReceiveString(); break;
            case 10: c.ReceiveBytes(); break;
            case 11: c.ReceiveProtoBuf(Struct.Parser); break;
            case 12: c.ReceiveFd().Dispose(); break;
            case 13: c.ReceiveCreds(); break;
            case 14: c.ReceiveTlv(); break;
            case 15: c.ReceiveProtoBuf(StringValue.Parser); break;
            default: ReceiveAsync(c, op - 16).WaitAsync(OpTimeout).GetAwaiter().GetResult(); break;
        }
    }

    static async Task ReceiveAsync(Comms c, int op)
    {
        switch (op)
        {
            case 0: await c.ReceiveBoolAsync(); break;
            case 1: await c.ReceiveInt8Async(); break;
            case 2: await c.ReceiveUint8Async(); break;
            case 3: await c.ReceiveInt16Async(); break;
            case 4: await c.ReceiveUint16Async(); break;
            case 5: await c.ReceiveInt32Async(); break;
            case 6: await c.ReceiveUint32Async(); break;
            case 7: await c.ReceiveInt64Async(); break;
            case 8: await c.ReceiveUint64Async(); break;
            case 9: await c.ReceiveStringAsync(); break;
            case 10: await c.ReceiveBytesAsync(); break;
            case 11: await c.ReceiveProtoBufAsync(Struct.Parser); break;
            case 12: (await c.ReceiveFdAsync()).Dispose(); break;
            case 13: await c.ReceiveCredsAsync(); break;
            case 14: await c.ReceiveTlvAsync(); break;
            default: await c.ReceiveProtoBufAsync(Int64Value.Parser); break;
        }
    }

    [Fact]
    public void ExecutorHandshakeSurvivesAHostileSandboxee()
    {
        long ran = 0, refused = 0, broken = 0;
        var hello = (byte[])[.. Header(CommsTag.Version, 4), 1, 0, 0, 0];
        // Often a valid hello first, so the executor gets past it and reads the hostile outcome.
        var gen = Gen.Select(Gen.Bool, GenStream, Gen.Frequency(
            (3, Gen.Const(Array.Empty<byte>())),
            (1, Gen.Select(Gen.Bool, Gen.String[0, 20], (ok, s) => ok
                ? (byte[])[.. Header(CommsTag.Bool, 1), 1, .. Header(CommsTag.Uint32, 4), 1, 0x0C, 0x0B, 0x0A]
                : [.. Header(CommsTag.Bool, 1), 0, .. Header(CommsTag.String, (ulong)System.Text.Encoding.UTF8.GetByteCount(s)), .. System.Text.Encoding.UTF8.GetBytes(s)]))));
        gen.Sample((withHello, stream, outcome) =>
        {
            var (executor, sandboxee) = Comms.CreatePair();
            using (executor)
            {
            using (sandboxee)
            {
                // Everything the hostile sandboxee will ever say, then EOF on its sending side (it still reads).
                CommsTests.RawWrite(sandboxee, [.. withHello ? hello : [], .. outcome, .. stream]);
                CommsTests.ShutdownWrite(sandboxee);
                try
                {
                    var result = ClientHandshake.RunAsync(executor, TestBpf.DenyGetppidErrno(), [], "", false, false, default)
                        .WaitAsync(OpTimeout).GetAwaiter().GetResult();
                    result.Listener?.Dispose();
                    Interlocked.Increment(ref refused);
                }
                catch (CommsException)
                {
                    Interlocked.Increment(ref broken);
                }
            }
            }
            Interlocked.Increment(ref ran);
        }, iter: Iterations(600), threads: 2);
        output.WriteLine($"handshake fuzz: {ran} hostile sandboxees, {refused} ended in a result, {broken} in CommsException");
        Assert.True(ran >= 1);
    }

    [Fact]
    public async Task TheCClientsDecoderSurvivesHostileStreams()
    {
        // One C process decodes every generated stream (see tests/testcases/comms_fuzz.c).
        var comms = Comms.CreateWithPeer(out var peer);
        ChildProcess child;
        using (peer) child = ChildProcess.Start(TestPaths.Testcase("comms_fuzz"), [], peer);
        long ran = 0, values = 0;
        using (child)
        {
            using (comms)
            {
                var inputs = new List<byte[]>();
                Gen.Select(Gen.Byte, Gen.Byte.Array[0, 16], GenStream, (cap, ops, stream) => (byte[])[cap, (byte)ops.Length, .. ops, .. stream])
                    .Sample(input => { lock (inputs) inputs.Add(input); }, iter: Iterations(3000), threads: 1);
                using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
                foreach (var input in inputs)
                {
                    await comms.SendBytesAsync(input, cts.Token);
                    values += await comms.ReceiveInt32Async(cts.Token);
                    ran++;
                }
            }
            var exit = await child.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(exit.ExitCode == 0, exit.ToString());
        }
        output.WriteLine($"C decoder fuzz: {ran} hostile streams, {values} receives returned a value");
    }

    [Fact]
    public void ALyingLengthCostsOnlyTheBytesSent()
    {
        var (writer, reader) = Comms.CreatePair();
        using (reader)
        {
            using (writer) CommsTests.RawWrite(writer, [.. Header(CommsTag.Bytes, 200UL << 20), .. new byte[10]]);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var e = Assert.Throws<CommsException>(() => reader.ReceiveBytes());
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(CommsError.Truncated, e.Error);
            Assert.True(allocated < 4 << 20, $"a 200 MiB header with 10 bytes behind it allocated {allocated} bytes");
        }
    }
}
