using Google.Protobuf.WellKnownTypes;

namespace Sandbox2.Tests;

/// <summary>Comms between C# (async, executor side) and the C client in a real child process at fd 1023.</summary>
public sealed class CommsCrossProcessTests
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    static (Comms Comms, ChildProcess Child) Start(string binary, params string[] args)
    {
        var comms = Comms.CreateWithPeer(out var peer);
        using (peer)
            return (comms, ChildProcess.Start(TestPaths.Testcase(binary), args, peer));
    }

    [Theory]
    [InlineData("comms_peer")]
    [InlineData("comms_peer-static")]
    public async Task EveryTypeEchoesThroughTheCClient(string binary)
    {
        var (comms, child) = Start(binary, "echo");
        using (child)
        {
            using (comms)
            {
                using var cts = new CancellationTokenSource(Timeout);
                var ct = cts.Token;
                await comms.SendBoolAsync(true, ct); Assert.True(await comms.ReceiveBoolAsync(ct));
                await comms.SendInt8Async(-128, ct); Assert.Equal((sbyte)-128, await comms.ReceiveInt8Async(ct));
                await comms.SendUint8Async(255, ct); Assert.Equal((byte)255, await comms.ReceiveUint8Async(ct));
                await comms.SendInt16Async(-2, ct); Assert.Equal((short)-2, await comms.ReceiveInt16Async(ct));
                await comms.SendUint16Async(65535, ct); Assert.Equal((ushort)65535, await comms.ReceiveUint16Async(ct));
                await comms.SendInt32Async(int.MinValue, ct); Assert.Equal(int.MinValue, await comms.ReceiveInt32Async(ct));
                await comms.SendUint32Async(uint.MaxValue, ct); Assert.Equal(uint.MaxValue, await comms.ReceiveUint32Async(ct));
                await comms.SendInt64Async(long.MinValue, ct); Assert.Equal(long.MinValue, await comms.ReceiveInt64Async(ct));
                await comms.SendUint64Async(ulong.MaxValue, ct); Assert.Equal(ulong.MaxValue, await comms.ReceiveUint64Async(ct));
                await comms.SendStringAsync("grüße ✓", ct); Assert.Equal("grüße ✓", await comms.ReceiveStringAsync(ct));
                var big = new byte[3 << 20];
                new Random(5).NextBytes(big);
                await comms.SendBytesAsync(big, ct); Assert.Equal(big, await comms.ReceiveBytesAsync(ct));
                await comms.SendBytesAsync(Array.Empty<byte>(), ct); Assert.Empty(await comms.ReceiveBytesAsync(ct));
                await comms.SendProtoBufAsync(new Int64Value { Value = 1L << 40 }, ct);
                Assert.Equal(1L << 40, (await comms.ReceiveProtoBufAsync(Int64Value.Parser, ct)).Value);
                await comms.SendTlvAsync(0x1234, new byte[] { 1, 2 }, ct);
                var raw = await comms.ReceiveTlvAsync(ct);
                Assert.Equal(0x1234u, raw.Tag);
                Assert.Equal(new byte[] { 1, 2 }, raw.Value);

                var (r, w) = CommsTests.Pipe();
                using (r)
                {
                    await comms.SendFdAsync(w, ct);
                    w.Dispose();
                    using (var back = await comms.ReceiveFdAsync(ct))
                    using (var stream = new FileStream(back, FileAccess.Write, 1))
                        stream.Write("round trip"u8);
                    using var reader = new StreamReader(new FileStream(r, FileAccess.Read, 1));
                    Assert.Equal("round trip", await reader.ReadToEndAsync(ct));
                }
            }
            var exit = await child.WaitAsync(Timeout);
            Assert.True(exit.ExitCode == 0, exit.ToString());
        }
    }

    [Theory]
    [InlineData("comms_peer")]
    [InlineData("comms_peer-static")]
    public async Task TheCClientsTypedApiSpeaksTheSameWireFormat(string binary)
    {
        var (comms, child) = Start(binary, "typed");
        using (child)
        using (comms)
        {
            using var cts = new CancellationTokenSource(Timeout);
            var ct = cts.Token;
            await comms.SendBoolAsync(false, ct); Assert.True(await comms.ReceiveBoolAsync(ct));
            await comms.SendInt8Async(127, ct); Assert.Equal((sbyte)-128, await comms.ReceiveInt8Async(ct));
            await comms.SendUint8Async(9, ct); Assert.Equal((byte)10, await comms.ReceiveUint8Async(ct));
            await comms.SendInt16Async(-10, ct); Assert.Equal((short)-9, await comms.ReceiveInt16Async(ct));
            await comms.SendUint16Async(65535, ct); Assert.Equal((ushort)0, await comms.ReceiveUint16Async(ct));
            await comms.SendInt32Async(41, ct); Assert.Equal(42, await comms.ReceiveInt32Async(ct));
            await comms.SendUint32Async(0xFFFFFFFE, ct); Assert.Equal(0xFFFFFFFFu, await comms.ReceiveUint32Async(ct));
            await comms.SendInt64Async(-1, ct); Assert.Equal(0L, await comms.ReceiveInt64Async(ct));
            await comms.SendUint64Async(1UL << 63, ct); Assert.Equal((1UL << 63) + 1, await comms.ReceiveUint64Async(ct));
            await comms.SendStringAsync("hi", ct); Assert.Equal("hi!", await comms.ReceiveStringAsync(ct));
            await comms.SendBytesAsync(new byte[] { 1, 2, 3 }, ct); Assert.Equal(new byte[] { 3, 2, 1 }, await comms.ReceiveBytesAsync(ct));

            var (r, w) = CommsTests.Pipe();
            using (w)
            using (r)
            {
                using (var s = new FileStream(w, FileAccess.Write, 1)) s.Write("for C"u8);
                await comms.SendFdAsync(r, ct);
            }
            Assert.Equal("for C"u8.ToArray(), await comms.ReceiveBytesAsync(ct));
            using (var fromC = await comms.ReceiveFdAsync(ct))
            using (var reader = new StreamReader(new FileStream(fromC, FileAccess.Read, 1)))
                Assert.Equal("from C", await reader.ReadToEndAsync(ct));

            await comms.SendInt32Async(5, ct); // the C side asks for a Uint32
            Assert.Equal("tag-mismatch", await comms.ReceiveStringAsync(ct));
            await comms.SendInt32Async(21, ct);
            Assert.Equal(42, await comms.ReceiveInt32Async(ct));
            await comms.SendBytesAsync(new byte[2000], ct); // over the C side's 1024-byte cap
            var exit = await child.WaitAsync(Timeout);
            Assert.True(exit.ExitCode == 42, exit.ToString());
        }
    }

    [Fact]
    public async Task AKilledPeerEndsTheChannelCleanly()
    {
        var (comms, child) = Start("comms_peer", "echo");
        using (child)
        using (comms)
        {
            await comms.SendInt32Async(1);
            Assert.Equal(1, await comms.ReceiveInt32Async());
            var pending = comms.ReceiveInt32Async().AsTask();
            child.Kill();
            var e = await Assert.ThrowsAsync<CommsException>(() => pending.WaitAsync(Timeout));
            Assert.Equal(CommsError.Closed, e.Error);
            Assert.Equal(CommsError.Closed, (await Assert.ThrowsAsync<CommsException>(async () => await comms.SendInt32Async(2))).Error);
            Assert.Equal(9, (await child.WaitAsync(Timeout)).Signal);
        }
    }

    [Theory]
    [InlineData("crc4_sandboxee")]
    [InlineData("crc4_sandboxee-static")]
    public async Task Crc4ExampleSandboxesItselfAndComputesOverComms(string binary)
    {
        var comms = Comms.CreateWithPeer(out var peer);
        ChildProcess child;
        using (peer) child = ChildProcess.Start(TestPaths.Example(binary), ["--sandbox-me-here"], peer);
        using (child)
        {
            using (comms)
            {
                using var cts = new CancellationTokenSource(Timeout);
                // After sandboxing, opening a file kills it: the example must not need to.
                var result = await ClientHandshake.RunAsync(comms, TestBpf.Deny(TestBpf.Openat, TestBpf.RetKillProcess), [], "", false, false, cts.Token);
                Assert.True(result.Sandboxed, result.FailureReason);
                foreach (int size in new[] { 0, 1, 5, 4096, 1 << 20 })
                {
                    var data = new byte[size];
                    new Random(size).NextBytes(data);
                    await comms.SendBytesAsync(data, cts.Token);
                    Assert.Equal(Crc4(data), await comms.ReceiveUint32Async(cts.Token));
                }
            }
            var exit = await child.WaitAsync(Timeout);
            Assert.True(exit.ExitCode == 0, exit.ToString());
        }
    }

    internal static uint Crc4(byte[] data)
    {
        uint crc = 0;
        for (int i = 0; i < data.Length; i++) crc ^= (uint)data[i] << (i % 4 * 8);
        return crc;
    }
}

/// <summary>Where the sandboxee finds its channel, and what Ipc accepts.</summary>
public sealed class CommsConnectionTests
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SandboxeeHonoursSandbox2CommsFd(bool csharp)
    {
        var comms = Comms.CreateWithPeer(out var peer);
        ChildProcess child;
        var env = new Dictionary<string, string> { [Comms.ConnectionFdVariable] = "77" };
        using (peer)
            child = csharp
                ? ChildProcess.Start(TestPaths.CSharpSandboxee, ["buffer"], peer, env, commsFd: 77)
                : ChildProcess.Start(TestPaths.Testcase("comms_peer"), ["echo"], peer, env, commsFd: 77);
        using (child)
        {
            using (comms)
            {
                if (csharp)
                {
                    using var buffer = SharedBuffer.CreateWithSize(16);
                    await comms.SendFdAsync(buffer.Fd);
                    Assert.Equal(16, await comms.ReceiveInt64Async().AsTask().WaitAsync(Timeout));
                }
                else
                {
                    await comms.SendStringAsync("at 77");
                    Assert.Equal("at 77", await comms.ReceiveStringAsync().AsTask().WaitAsync(Timeout));
                }
            }
            var exit = await child.WaitAsync(Timeout);
            Assert.True(exit.ExitCode == 0, exit.ToString());
        }
    }

    [Fact]
    public async Task SandboxeeWithoutAChannelSaysSo()
    {
        var (other, unused) = Comms.CreatePair();
        using var _ = other;
        using var child = ChildProcess.Start(TestPaths.Testcase("comms_peer"), ["echo"], unused.Handle, commsFd: 500);
        unused.Dispose();
        var exit = await child.WaitAsync(Timeout);
        Assert.Equal(2, exit.ExitCode);
        Assert.Contains("no Comms channel", exit.Stderr);
    }

    [Fact]
    public void IpcValidatesMappings()
    {
        using var ipc = new Ipc();
        var (r, w) = CommsTests.Pipe();
        ipc.MapFd(r, 5);
        ipc.MapFd(w, "out");
        var (r2, w2) = CommsTests.Pipe();
        using (r2)
        using (w2)
        {
            Assert.Contains("already mapped", Assert.Throws<ArgumentException>(() => ipc.MapFd(r2, 5)).Message);
            Assert.Contains("already mapped", Assert.Throws<ArgumentException>(() => ipc.MapFd(r2, "out")).Message);
            Assert.Contains("above 1023", Assert.Throws<ArgumentOutOfRangeException>(() => ipc.MapFd(r2, 1024)).Message); // 1023 itself is mappable (Comms moves)
            Assert.Throws<ArgumentOutOfRangeException>(() => ipc.MapFd(r2, -2));
        }
        using var host = ipc.ReceiveFd(1, "stdout");
        Assert.Equal(3, ipc.Mappings.Count);
        Assert.Equal((1, "stdout"), (ipc.Mappings[2].RemoteFd, ipc.Mappings[2].Name));
    }
}
