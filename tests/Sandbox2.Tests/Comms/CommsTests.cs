using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Win32.SafeHandles;
using ClientInterop = Sandbox2.Client.Interop;

namespace Sandbox2.Tests;

/// <summary>Comms between two ends of a real socketpair in this process (C# to C#).</summary>
public sealed partial class CommsTests
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public void EveryTypeRoundTripsSynchronously()
    {
        var (a, b) = Comms.CreatePair();
        using (a)
        using (b)
        {
            a.SendBool(true); a.SendBool(false);
            a.SendInt8(sbyte.MinValue); a.SendUint8(byte.MaxValue);
            a.SendInt16(short.MinValue); a.SendUint16(ushort.MaxValue);
            a.SendInt32(int.MinValue); a.SendUint32(uint.MaxValue);
            a.SendInt64(long.MinValue); a.SendUint64(ulong.MaxValue);
            a.SendString("héllo, wörld ✓"); a.SendString("");
            a.SendBytes([1, 2, 3, 0, 255]); a.SendBytes([]);
            a.SendProtoBuf(new StringValue { Value = "proto" });
            a.SendTlv(7, [9, 8, 7]);

            Assert.True(b.ReceiveBool()); Assert.False(b.ReceiveBool());
            Assert.Equal(sbyte.MinValue, b.ReceiveInt8()); Assert.Equal(byte.MaxValue, b.ReceiveUint8());
            Assert.Equal(short.MinValue, b.ReceiveInt16()); Assert.Equal(ushort.MaxValue, b.ReceiveUint16());
            Assert.Equal(int.MinValue, b.ReceiveInt32()); Assert.Equal(uint.MaxValue, b.ReceiveUint32());
            Assert.Equal(long.MinValue, b.ReceiveInt64()); Assert.Equal(ulong.MaxValue, b.ReceiveUint64());
            Assert.Equal("héllo, wörld ✓", b.ReceiveString()); Assert.Equal("", b.ReceiveString());
            Assert.Equal(new byte[] { 1, 2, 3, 0, 255 }, b.ReceiveBytes()); Assert.Empty(b.ReceiveBytes());
            Assert.Equal("proto", b.ReceiveProtoBuf(StringValue.Parser).Value);
            var raw = b.ReceiveTlv();
            Assert.Equal(7u, raw.Tag);
            Assert.Equal(new byte[] { 9, 8, 7 }, raw.Value);
        }
    }

    [Fact]
    public async Task EveryTypeRoundTripsAsynchronously()
    {
        var (a, b) = Comms.CreatePair();
        using (a)
        using (b)
        {
            var recv = Task.Run(async () =>
            {
                Assert.True(await b.ReceiveBoolAsync());
                Assert.Equal((sbyte)-5, await b.ReceiveInt8Async());
                Assert.Equal((byte)200, await b.ReceiveUint8Async());
                Assert.Equal((short)-300, await b.ReceiveInt16Async());
                Assert.Equal((ushort)60000, await b.ReceiveUint16Async());
                Assert.Equal(-70000, await b.ReceiveInt32Async());
                Assert.Equal(4000000000u, await b.ReceiveUint32Async());
                Assert.Equal(-5000000000L, await b.ReceiveInt64Async());
                Assert.Equal(18000000000000000000UL, await b.ReceiveUint64Async());
                Assert.Equal("async ✓", await b.ReceiveStringAsync());
                Assert.Equal(new byte[] { 4, 5 }, await b.ReceiveBytesAsync());
                var s = await b.ReceiveProtoBufAsync(Struct.Parser);
                Assert.Equal("v", s.Fields["k"].StringValue);
                Assert.Equal(99u, (await b.ReceiveTlvAsync()).Tag);
            });
            await a.SendBoolAsync(true);
            await a.SendInt8Async(-5);
            await a.SendUint8Async(200);
            await a.SendInt16Async(-300);
            await a.SendUint16Async(60000);
            await a.SendInt32Async(-70000);
            await a.SendUint32Async(4000000000u);
            await a.SendInt64Async(-5000000000L);
            await a.SendUint64Async(18000000000000000000UL);
            await a.SendStringAsync("async ✓");
            await a.SendBytesAsync(new byte[] { 4, 5 });
            var st = new Struct();
            st.Fields["k"] = Value.ForString("v");
            await a.SendProtoBufAsync(st);
            await a.SendTlvAsync(99, new byte[] { 1 });
            await recv.WaitAsync(Timeout);
        }
    }

    [Fact]
    public async Task LargeMessagesCrossBetweenSyncAndAsyncEnds()
    {
        var (a, b) = Comms.CreatePair();
        using (a)
        using (b)
        {
            var data = new byte[8 << 20];
            new Random(1).NextBytes(data);
            var send = a.SendBytesAsync(data).AsTask();
            var got = await Task.Run(b.ReceiveBytes).WaitAsync(Timeout);
            await send.WaitAsync(Timeout);
            Assert.Equal(data, got);

            var back = Task.Run(() => b.SendBytes(data));
            Assert.Equal(data, await a.ReceiveBytesAsync().AsTask().WaitAsync(Timeout));
            await back.WaitAsync(Timeout);
        }
    }

    [Fact]
    public async Task DescriptorsTravelBothWaysAndWork()
    {
        var (a, b) = Comms.CreatePair();
        using (a)
        using (b)
        {
            var (r1, w1) = Pipe();
            using (r1)
            using (w1)
            {
                a.SendFd(w1);                       // sync send
                using var received = await b.ReceiveFdAsync(); // async receive
                Assert.NotEqual(w1.DangerousGetHandle(), received.DangerousGetHandle());
                Assert.True(IsCloseOnExec(received));
                Write(received, "through the received fd");
                received.Dispose();
                w1.Dispose();
                Assert.Equal("through the received fd", ReadAll(r1));
            }
            var (r2, w2) = Pipe();
            using (r2)
            using (w2)
            {
                await b.SendFdAsync(r2);
                using var received = a.ReceiveFd();
                Write(w2, "back");
                w2.Dispose();
                Assert.Equal("back", ReadAll(received));
            }
        }
    }

    [Fact]
    public void ExtraDescriptorsInAMessageAreClosed()
    {
        var (a, b) = Comms.CreatePair();
        using (a)
        using (b)
        {
            var (r1, w1) = Pipe();
            var (r2, w2) = Pipe();
            var (r3, w3) = Pipe();
            using (r1) using (r2) using (r3)
            {
                RawSend(a, CommsTag.Fd, [], w1, w2, w3);
                w1.Dispose(); w2.Dispose(); w3.Dispose();
                using var got = b.ReceiveFd();
                // The extra duplicates of w2 and w3 were closed, so their pipes report EOF now;
                // the kept one (w1) still holds its pipe open.
                Assert.True(HasHungUp(r2));
                Assert.True(HasHungUp(r3));
                Assert.False(HasHungUp(r1));
            }
        }
    }

    [Fact]
    public void DescriptorsOnAnUnexpectedMessageAreClosed()
    {
        var (a, b) = Comms.CreatePair();
        using (a)
        using (b)
        {
            var (r, w) = Pipe();
            using (r)
            {
                RawSend(a, CommsTag.Int32, [1, 0, 0, 0], w);
                w.Dispose();
                Assert.Equal(1, b.ReceiveInt32());
                Assert.True(HasHungUp(r));
            }
        }
    }

    [Fact]
    public void WrongTypeIsAnErrorAndTheChannelStaysUsable()
    {
        var (a, b) = Comms.CreatePair();
        using (a)
        using (b)
        {
            a.SendInt8(-1);
            var e = Assert.Throws<CommsException>(() => b.ReceiveUint8());
            Assert.Equal(CommsError.TagMismatch, e.Error);
            Assert.Contains("expected a Uint8 message, received Int8", e.Message);

            a.SendString("x");
            Assert.Equal(CommsError.TagMismatch, Assert.Throws<CommsException>(() => b.ReceiveFd()).Error);

            a.SendTlv(CommsTag.Int32, [1, 2, 3]);
            Assert.Equal(CommsError.BadValue, Assert.Throws<CommsException>(() => b.ReceiveInt32()).Error);
            a.SendTlv(CommsTag.Bool, [2]);
            Assert.Equal(CommsError.BadValue, Assert.Throws<CommsException>(() => b.ReceiveBool()).Error);
            a.SendTlv(CommsTag.String, [0xff, 0xfe]);
            Assert.Equal(CommsError.BadValue, Assert.Throws<CommsException>(() => b.ReceiveString()).Error);
            a.SendTlv(CommsTag.Proto2, [0xff, 0xff, 0xff]);
            Assert.Equal(CommsError.BadValue, Assert.Throws<CommsException>(() => b.ReceiveProtoBuf(StringValue.Parser)).Error);
            a.SendTlv(CommsTag.Fd, []);
            Assert.Equal(CommsError.MissingAncillary, Assert.Throws<CommsException>(() => b.ReceiveFd()).Error);

            a.SendInt32(42);
            Assert.Equal(42, b.ReceiveInt32());
            Assert.False(b.IsTerminated);
        }
    }

    [Fact]
    public async Task HangupEndsTheChannelCleanly()
    {
        var (a, b) = Comms.CreatePair();
        using (b)
        {
            a.SendInt32(1);
            a.Dispose();
            Assert.Equal(1, b.ReceiveInt32());
            var e = Assert.Throws<CommsException>(() => b.ReceiveInt32());
            Assert.Equal(CommsError.Closed, e.Error);
            Assert.True(b.IsTerminated);
            Assert.Equal(CommsError.Closed, Assert.Throws<CommsException>(() => b.SendInt32(2)).Error);
            Assert.Equal(CommsError.Closed, (await Assert.ThrowsAsync<CommsException>(async () => await b.ReceiveInt32Async())).Error);
            Assert.Equal(CommsError.Closed, (await Assert.ThrowsAsync<CommsException>(async () => await b.SendInt32Async(2))).Error);
        }
    }

    [Fact]
    public async Task SendingToAClosedPeerFailsCleanly()
    {
        var (a, b) = Comms.CreatePair();
        using (a)
        {
            b.Dispose();
            Assert.Equal(CommsError.Closed, (await Assert.ThrowsAsync<CommsException>(async () => await a.SendBytesAsync(new byte[100000]))).Error);
            Assert.Equal(CommsError.Closed, Assert.Throws<CommsException>(() => a.SendInt32(1)).Error);
        }
    }

    [Fact]
    public async Task TruncatedMessageIsAnErrorSyncAndAsync()
    {
        foreach (bool async in new[] { false, true })
        {
            var (a, b) = Comms.CreatePair();
            using (b)
            {
                var header = new byte[12];
                BinaryPrimitives.WriteUInt32LittleEndian(header, CommsTag.Bytes);
                BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(4), 100);
                RawWrite(a, [.. header, .. new byte[10]]);
                a.Dispose();
                var e = async
                    ? await Assert.ThrowsAsync<CommsException>(async () => await b.ReceiveBytesAsync())
                    : Assert.Throws<CommsException>(() => b.ReceiveBytes());
                Assert.Equal(CommsError.Truncated, e.Error);
                Assert.Contains("after 10 of 100 value bytes", e.Message);
                Assert.Equal(CommsError.Closed, Assert.Throws<CommsException>(() => b.ReceiveBytes()).Error);
            }
        }
    }

    [Fact]
    public void OversizedHeaderIsRejectedWithoutAllocating()
    {
        var (a, b) = Comms.CreatePair();
        using (a)
        using (b)
        {
            var header = new byte[12];
            BinaryPrimitives.WriteUInt32LittleEndian(header, CommsTag.Bytes);
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(4), 1UL << 40);
            RawWrite(a, header);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var e = Assert.Throws<CommsException>(() => b.ReceiveBytes());
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(CommsError.TooLarge, e.Error);
            Assert.Contains("exceeds the limit of 268435456 bytes", e.Message);
            Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");
            Assert.True(b.IsTerminated);
        }
    }

    [Fact]
    public async Task SizeCapIsConfigurable()
    {
        var (a, b) = Comms.CreatePair();
        using (a)
        using (b)
        {
            b.MaxMessageSize = 1000;
            Assert.Throws<ArgumentOutOfRangeException>(() => b.MaxMessageSize = (long)int.MaxValue + 1);
            Assert.Throws<ArgumentOutOfRangeException>(() => b.MaxMessageSize = -1);
            await a.SendBytesAsync(new byte[1000]);
            Assert.Equal(1000, (await b.ReceiveBytesAsync()).Length);
            await a.SendBytesAsync(new byte[1001]);
            Assert.Equal(CommsError.TooLarge, (await Assert.ThrowsAsync<CommsException>(async () => await b.ReceiveBytesAsync())).Error);
        }
    }

    [Fact]
    public async Task CredentialsAreTheSendersAndVerifiedByTheKernel()
    {
        var (a, b) = Comms.CreatePair();
        using (a)
        using (b)
        {
            int pid = Environment.ProcessId;
            a.SendCreds();
            var creds = b.ReceiveCreds();
            Assert.Equal(pid, creds.Pid);
            Assert.Equal(ClientInterop.GetUid(), creds.Uid);
            Assert.Equal(ClientInterop.GetGid(), creds.Gid);
            await b.SendCredsAsync();
            Assert.Equal(pid, (await a.ReceiveCredsAsync()).Pid);
            Assert.Equal(pid, a.GetPeerCredentials().Pid);
            // A Creds receive of another type is a mismatch.
            a.SendInt32(5);
            Assert.Equal(CommsError.TagMismatch, Assert.Throws<CommsException>(() => b.ReceiveCreds()).Error);
        }
    }

    [Fact]
    public async Task CancelledReceiveLeavesTheChannelUsable()
    {
        var (a, b) = Comms.CreatePair();
        using (a)
        using (b)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await b.ReceiveInt32Async(cts.Token));
            Assert.False(b.IsTerminated);
            await a.SendInt32Async(7);
            Assert.Equal(7, await b.ReceiveInt32Async().AsTask().WaitAsync(Timeout));
        }
    }

    [Fact]
    public void FromFdRefusesWhatIsNotASocket()
    {
        Assert.Equal(CommsError.NotConnected, Assert.Throws<CommsException>(() => Comms.FromFd(1_000_000)).Error);
        var (r, w) = Pipe();
        using (r)
        using (w)
        {
            var e = Assert.Throws<CommsException>(() => Comms.FromFd((int)r.DangerousGetHandle()));
            Assert.Contains("not a socket", e.Message);
        }
    }

    [Fact]
    public void BufferSharesMemoryThroughAPassedDescriptor()
    {
        var (a, b) = Comms.CreatePair();
        using (a)
        using (b)
        using (var buffer = SharedBuffer.CreateWithSize(1 << 20, "test-buffer"))
        {
            Assert.Equal(1 << 20, buffer.Size);
            Assert.All(buffer.Data[..4096].ToArray(), x => Assert.Equal(0, x));
            buffer.Data[12345] = 42;
            a.SendFd(buffer.Fd);
            using var other = SharedBuffer.CreateFromFd(b.ReceiveFd());
            Assert.Equal(buffer.Size, other.Size);
            Assert.Equal(42, other.Data[12345]);
            other.Data[0] = 7;
            Assert.Equal(7, buffer.Data[0]);
            Assert.Throws<IOException>(() => SharedBuffer.CreateFromFd(new SafeFileHandle(DupFd(buffer.Fd), true), 2 << 20));
        }
    }

    // ------------------------------------------------------------------ helpers

    internal static unsafe (SafeFileHandle Read, SafeFileHandle Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (Pipe2(fds, 0x80000) != 0) throw new IOException("pipe2");
        return (new SafeFileHandle(fds[0], true), new SafeFileHandle(fds[1], true));
    }

    static unsafe void Write(SafeFileHandle fd, string text)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(text);
        fixed (byte* p = bytes)
            Assert.Equal(bytes.Length, (int)WriteFd(fd, p, (nuint)bytes.Length));
    }

    static string ReadAll(SafeFileHandle fd)
    {
        using var s = new FileStream(fd, FileAccess.Read, 1);
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    static bool IsCloseOnExec(SafeFileHandle fd) => (Fcntl((int)fd.DangerousGetHandle(), 1 /* F_GETFD */) & 1) != 0;

    static unsafe bool HasHungUp(SafeFileHandle readEnd)
    {
        var p = new ClientInterop.PollFd { Fd = (int)readEnd.DangerousGetHandle(), Events = ClientInterop.POLLIN };
        return ClientInterop.Poll(&p, 1, 200) == 1 && (p.REvents & 0x10 /* POLLHUP */) != 0;
    }

    /// <summary>Writes raw bytes to a Comms socket, as a misbehaving peer would.</summary>
    internal static unsafe void RawWrite(Comms comms, ReadOnlySpan<byte> bytes)
    {
        int off = 0;
        while (off < bytes.Length)
        {
            fixed (byte* p = bytes[off..])
            {
                nint n = Send(comms.Handle, p, (nuint)(bytes.Length - off), 0x4000);
                if (n < 0) throw new IOException("send: " + Marshal.GetLastPInvokeError());
                off += (int)n;
            }
        }
    }

    internal static void ShutdownWrite(Comms comms) => Assert.Equal(0, Shutdown(comms.Handle, 1 /* SHUT_WR */));

    /// <summary>One TLV with any number of descriptors attached (Comms itself sends at most one).</summary>
    static unsafe void RawSend(Comms comms, uint tag, byte[] value, params SafeFileHandle[] fds)
    {
        var header = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(header, tag);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(4), (ulong)value.Length);
        byte[] all = [.. header, .. value];
        int controlLength = ClientInterop.CmsgSpace(4 * fds.Length);
        byte* control = stackalloc byte[controlLength];
        new Span<byte>(control, controlLength).Clear();
        var h = (ClientInterop.CmsgHdr*)control;
        h->Length = (nuint)ClientInterop.CmsgLen(4 * fds.Length);
        h->Level = ClientInterop.SOL_SOCKET;
        h->Type = ClientInterop.SCM_RIGHTS;
        for (int i = 0; i < fds.Length; i++) ((int*)(control + 16))[i] = (int)fds[i].DangerousGetHandle();
        fixed (byte* p = all)
        {
            var iov = new ClientInterop.IoVec { Base = p, Length = (nuint)all.Length };
            var msg = new ClientInterop.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)controlLength };
            if (ClientInterop.SendMsg(comms.Handle, &msg, 0) != all.Length) throw new IOException("sendmsg");
        }
    }

    static int DupFd(SafeFileHandle fd) => Dup((int)fd.DangerousGetHandle());

    [LibraryImport("libc", EntryPoint = "pipe2")]
    private static unsafe partial int Pipe2(int* fds, int flags);
    [LibraryImport("libc", EntryPoint = "write")]
    private static unsafe partial nint WriteFd(SafeHandle fd, byte* buf, nuint len);
    [LibraryImport("libc", EntryPoint = "fcntl")]
    private static partial int Fcntl(int fd, int cmd);
    [LibraryImport("libc", EntryPoint = "shutdown")]
    private static partial int Shutdown(SafeHandle fd, int how);
    [LibraryImport("libc", EntryPoint = "dup")]
    private static partial int Dup(int fd);
    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint Send(SafeHandle fd, byte* buf, nuint len, int flags);
}
