using System.Buffers.Binary;
using System.Runtime.InteropServices;
using CsCheck;

namespace Sandbox2.Tests.ForkServerLayer;

/// <summary>The native side rejects malformed requests precisely and keeps serving.</summary>
public class ForkServerProtocolTests
{
    private static byte[] Header() => [0x53, 0x46, 0x32, 0x53, (byte)ForkServerProtocol.Version, 0, 0, 0];

    private static byte[] Record(uint tag, params byte[] value)
    {
        var r = new byte[8 + value.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(r, tag);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(4), (uint)value.Length);
        value.CopyTo(r, 8);
        return r;
    }

    private static async Task<ForkServerProtocol.Reply> Send(ForkServer server, byte[] request, SafeHandle[]? fds = null)
    {
        var received = new List<SafeFdHandle>();
        var reply = await server.ExchangeAsync(request, fds ?? [], received, default);
        foreach (var f in received) f.Dispose();
        return reply;
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3 }, "request too short")]
    [InlineData(new byte[] { 0, 0, 0, 0, 1, 0, 0, 0 }, "bad magic or version")]
    public async Task BadHeadersAreRejected(byte[] request, string message)
    {
        using var server = ForkServer.Start();
        var reply = await Send(server, request);
        Assert.Equal(22, reply.Errno); // EINVAL
        Assert.Equal(message, reply.Message);
        Assert.True(server.IsAlive);
    }

    [Fact]
    public async Task MalformedRecordsAreRejectedAndTheServerKeepsServing()
    {
        using var server = ForkServer.Start();
        using var prog = Interop.OpenPath(FsPlans.Testcase("hello-static"));
        using var devnull = new SafeFdHandle(Interop.Open("/dev/null", 2 | Interop.O_CLOEXEC, 0));
        (byte[] Request, string Message)[] cases =
        [
            ([.. Header(), .. Record(8, (byte)'a')], "string without NUL"),
            ([.. Header(), 8, 0, 0, 0, 200, 0, 0, 0, 0], "truncated record"),
            ([.. Header(), 8, 0, 0], "truncated record header"),
            ([.. Header(), .. Record(99)], "unknown record tag"),
            ([.. Header(), .. Record(11, 1, 2, 3)], "bad BPF length"),
            ([.. Header(), .. Record(8, (byte)'a', 0)], "fd count does not match FD records"),
        ];
        foreach (var (request, message) in cases)
        {
            var reply = await Send(server, request);
            Assert.Equal(22, reply.Errno);
            Assert.Equal(message, reply.Message);
        }
        var noArgv = await Send(server, Header(), [prog, devnull]);
        Assert.Equal("no argv", noArgv.Message);
        Assert.True(server.IsAlive);
        var (report, output) = await FsPlans.Run(server, o => FsPlans.Probe(o, [], program: "hello-static"));
        Assert.Equal(0, report.ExitCode);
        Assert.Equal("hello\n", output);
    }

    [Fact]
    public async Task RandomRequestsNeverCrashTheForkServer()
    {
        using var server = ForkServer.Start();
        var gen = Gen.Byte.Array[0, 64].Select(tail => (byte[])[.. Header(), .. tail]);
        foreach (var request in gen.Array[200].Single())
        {
            var reply = await Send(server, request);
            Assert.Equal(22, reply.Errno);
        }
        Assert.True(server.IsAlive);
    }
}
