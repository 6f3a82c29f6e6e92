using Google.Protobuf.WellKnownTypes;

namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>Port of Sandbox2's <c>comms_test.cc</c>: its handler pairs run on two threads over one socketpair (Sandbox2's
/// <c>HandleCommunication</c>; <c>passcred</c> = SO_PASSCRED on both ends, as <see cref="Comms.CreatePair"/> makes them).</summary>
public class CommsTests
{
    private static void Handle(Action<Comms> a, Action<Comms> b, bool passcred = false)
    {
        var (x, y) = passcred ? Comms.CreatePair() : Port.PlainPair();
        using (x)
        using (y)
        {
            var remote = Task.Factory.StartNew(() => a(y), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            b(x);
            remote.Wait(Port.Timeout);
            Assert.True(remote.IsCompletedSuccessfully, remote.Exception?.ToString() ?? "handler a did not finish");
        }
    }

    private static CommsError Fails(Action action) => Assert.Throws<CommsException>(action).Error;

    [Fact]
    public void CommsTest_TestSendRecv8() => Handle(
        a => { a.SendUint8(192); Assert.Equal(-7, a.RecvInt8()); },
        b => { Assert.Equal(192, b.RecvUint8()); b.SendInt8(-7); });

    [Fact]
    public void CommsTest_TestSendRecv16() => Handle(
        a => { a.SendUint16(40001); Assert.Equal(-22050, a.RecvInt16()); },
        b => { Assert.Equal(40001, b.RecvUint16()); b.SendInt16(-22050); });

    [Fact]
    public void CommsTest_TestSendRecv32() => Handle(
        a => { a.SendUint32(3221225472u); Assert.Equal(-1073741824, a.RecvInt32()); },
        b => { Assert.Equal(3221225472u, b.RecvUint32()); b.SendInt32(-1073741824); });

    [Fact]
    public void CommsTest_TestSendRecv64() => Handle(
        a => { a.SendUint64(1099511627776UL); Assert.Equal(-1099511627776L, a.RecvInt64()); },
        b => { Assert.Equal(1099511627776UL, b.RecvUint64()); b.SendInt64(-1099511627776L); });

    [Fact]
    public void CommsTest_TestTypeMismatch() => Handle(
        a => Assert.Equal(CommsError.TagMismatch, Fails(() => a.RecvUint8())),
        b => b.SendInt8(-93));

    private const string NullTestString = "test\0\n\r\t\x01\x02";

    [Fact]
    public void CommsTest_TestSendRecvString() => Handle(
        a => Assert.Equal(NullTestString, a.RecvString()),
        b => b.SendString(NullTestString));

    [Fact]
    public void CommsTest_TestSendRecvArray() => Handle(
        a => Assert.Equal(1024 * 1024, a.RecvBytes().Length),
        b => b.SendBytes(new byte[1024 * 1024]));

    [Fact]
    public void CommsTest_TestSendRecvEmptyArray() => Handle(
        a => Assert.Empty(a.RecvBytes()),
        b => b.SendBytes([]));

    [Fact]
    public void CommsTest_TestSendRecvFD() => Handle(
        a => { using var fd = a.RecvFd(); Assert.False(fd.IsInvalid); Assert.True(File.Exists($"/proc/self/fd/{fd.DangerousGetHandle()}")); },
        b => b.SendFd(new Microsoft.Win32.SafeHandles.SafeFileHandle(2, ownsHandle: false)));

    [Fact]
    public void CommsTest_TestSendRecvCreds()
    {
        int pid = Environment.ProcessId;
        Handle(
            a => { var c = a.RecvCreds(); Assert.Equal(pid, c.Pid); Assert.Equal(Client.Interop.GetUid(), c.Uid); Assert.Equal(Client.Interop.GetGid(), c.Gid); },
            b => b.SendCreds(), passcred: true);
    }

    [Fact]
    public void CommsTest_TestSendRecvCredsFailsWithoutPassCred() => Handle(
        a => { a.Terminate(); }, // Sandbox2's a waits for creds that never come; here the failed send is the point
        b => Assert.Equal(CommsError.MissingAncillary, Fails(b.SendCreds)), passcred: false);

    [Fact]
    public void CommsTest_TestSendRecvEmptyTLV() => Handle(
        a => { var m = a.RecvTlv(); Assert.Equal(0x00DEADBEu, m.Tag); Assert.Empty(m.Value); },
        b => b.SendTlv(0x00DEADBE, []));

    [Fact]
    public void CommsTest_TestSendRecvBarrier() => Handle(
        a => { a.RecvBarrier(); a.SendBarrier(); },
        b => { b.SendBarrier(); b.RecvBarrier(); });

    [Fact]
    public void CommsTest_TestSendRecvProto() => Handle(
        a => Assert.Equal("ABCD", a.RecvProtoBuf(StringValue.Parser).Value),
        b => b.SendProtoBuf(new StringValue { Value = "ABCD" }));

    [Fact]
    public void CommsTest_TestUsesDistinctBuffers() => Handle(
        a => { var b1 = a.RecvBytes(); var b2 = a.RecvBytes(); Assert.Equal(1 << 20, b1.Length); Assert.Equal(1 << 20, b2.Length); Assert.NotSame(b1, b2); },
        b => { var buf = new byte[1 << 20]; b.SendBytes(buf); b.SendBytes(buf); });

    [Fact]
    public void CommsTest_TestSendRecvCredentials() => Handle(
        a => Assert.Equal(Environment.ProcessId, a.GetPeerCredentials().Pid),
        b => { });

    /// <summary>Refused at once (Sandbox2: SendBytes returns false): nothing is sent, nothing blocks, the channel stays usable.</summary>
    [Fact]
    public void CommsTest_TestSendTooMuchData() => Handle(
        a => Assert.Equal(7, a.RecvInt32()),
        b =>
        {
            b.MaxMessageSize = 1 << 20;
            Assert.Equal(CommsError.TooLarge, Fails(() => b.SendBytes(new byte[b.MaxMessageSize + 1])));
            Assert.False(b.IsTerminated);
            b.SendInt32(7);
        });

    [Fact]
    public void CommsTest_TestSendRecvBytes() => Handle(
        a => a.SendBytes(a.RecvBytes()),
        b => { byte[] request = [0, 1, 2, 3, 7]; b.SendBytes(request); Assert.Equal(request, b.RecvBytes()); });

    [Fact]
    public void CommsTest_SendRecvFailsAfterTerminate() => Handle(
        a =>
        {
            a.Terminate();
            Assert.True(a.IsTerminated);
            Assert.Equal(CommsError.Closed, Fails(() => a.SendInt8(0)));
            Assert.Equal(CommsError.Closed, Fails(() => a.SendFd(new Microsoft.Win32.SafeHandles.SafeFileHandle(2, ownsHandle: false))));
            Assert.Equal(CommsError.Closed, Fails(() => a.RecvInt8()));
            Assert.Equal(CommsError.Closed, Fails(() => a.RecvString()));
            Assert.Equal(CommsError.Closed, Fails(() => a.RecvBytes()));
            Assert.Equal(CommsError.Closed, Fails(() => a.RecvFd()));
            Assert.Equal(CommsError.Closed, Fails(() => a.RecvProtoBuf(StringValue.Parser)));
        },
        b => { });

    [Fact]
    public void CommsTest_RecvIntFailsOnTagMismatch() => Handle(
        a => Assert.Equal(CommsError.TagMismatch, Fails(() => a.RecvInt8())),
        b => b.SendUint8(0));

    [Fact]
    public void CommsTest_RecvStringBytesFailsOnTagMismatch() => Handle(
        a => { Assert.Equal(CommsError.TagMismatch, Fails(() => a.RecvString())); a.SendString("hello"); },
        b => { b.SendBytes([1, 0]); Assert.Equal(CommsError.TagMismatch, Fails(() => b.RecvBytes())); });

    [Fact]
    public void CommsTest_RecvFDFailsOnTagMismatch() => Handle(
        a => Assert.Equal(CommsError.TagMismatch, Fails(() => a.RecvFd())),
        b => b.SendCreds(), passcred: true);

    [Fact]
    public void CommsTest_RecvCredsFailsOnTagMismatch() => Handle(
        a => Assert.Equal(CommsError.TagMismatch, Fails(() => a.RecvCreds())),
        b => b.SendFd(new Microsoft.Win32.SafeHandles.SafeFileHandle(2, ownsHandle: false)), passcred: true);

    [Fact]
    public void CommsTest_RecvProtoBufFailsOnTagMismatch() => Handle(
        a => Assert.Contains("expected a Proto2 message", Assert.Throws<CommsException>(() => a.RecvProtoBuf(StringValue.Parser)).Message),
        b => b.SendString("hello"));
}
