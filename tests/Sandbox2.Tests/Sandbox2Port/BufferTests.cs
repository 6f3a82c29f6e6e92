namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>Port of Sandbox2's <c>buffer_test.cc</c> (testcase <c>s2c_buffer.c</c>, a rewrite of <c>testcases/buffer.cc</c>),
/// plus <c>Expand</c>.</summary>
public class BufferTests
{
    [Fact]
    public void BufferTest_TestImplementation()
    {
        const int size = 1024;
        using var buffer = SharedBuffer.CreateWithSize(size);
        Assert.Equal(size, buffer.Size);
        buffer.Data.Fill((byte)'X');
        using var buffer2 = SharedBuffer.CreateFromFd(Port.Dup(buffer.Fd));
        Assert.Equal(size, buffer2.Size);
        Assert.True(buffer2.Data.ToArray().All(b => b == 'X'));
    }

    [Fact]
    public async Task BufferTest_TestWithSandboxeeMapFd()
    {
        string path = Port.Testcase("s2c_buffer");
        using var buffer = SharedBuffer.CreateWithSize(1 << 20);
        buffer.Data[0] = (byte)'A';
        var executor = new Executor(path, ["1"]);
        executor.Ipc.MapFd(Port.Dup(buffer.Fd), 3); // the Ipc owns the duplicate; the buffer keeps its own
        var result = await Port.Run(executor, Port.AllowAll(path).Build());
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
        Assert.Equal((byte)'B', buffer.Data[^1]);
        Assert.False(buffer.Fd.IsClosed);
        Assert.Equal((byte)'A', buffer.Data[0]);
    }

    [Fact]
    public async Task BufferTest_TestWithSandboxeeSendRecv()
    {
        string path = Port.Testcase("s2c_buffer");
        var executor = new Executor(path, ["2"]) { EnableComms = true };
        await using var sandbox = new Sandbox(executor, Port.AllowAll(path).Build());
        var run = sandbox.RunAsync();
        using var buffer = SharedBuffer.CreateWithSize(1 << 20);
        buffer.Data[0] = (byte)'A';
        await sandbox.Comms!.SendFdAsync(buffer.Fd).AsTask().WaitAsync(Port.Timeout);
        var result = await run.WaitAsync(Port.Timeout);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
        Assert.Equal((byte)'B', buffer.Data[^1]);
        Assert.False(buffer.Fd.IsClosed);
    }

    /// <summary>Sandbox2's Buffer::Expand: the same descriptor, the data kept, and the backing file never truncated (a
    /// file the other side grew further keeps its size and its bytes).</summary>
    [Fact]
    public void BufferTest_Expand_KeepsTheFdAndTheDataAndNeverTruncates()
    {
        using var buffer = SharedBuffer.CreateWithSize(4096);
        var fd = buffer.Fd.DangerousGetHandle();
        buffer.Data[0] = 1;
        buffer.Data[^1] = 2;
        // The other side maps the same file and grows it to 64 KiB, writing at its end.
        using var other = SharedBuffer.CreateFromFd(Port.Dup(buffer.Fd));
        other.Expand(65536);
        other.Data[^1] = 9;
        buffer.Expand(16384); // smaller than the file now: only the mapping grows
        Assert.Equal(fd, buffer.Fd.DangerousGetHandle());
        Assert.Equal(16384, buffer.Size);
        Assert.Equal(1, buffer.Data[0]);
        Assert.Equal(2, buffer.Data[4095]);
        Assert.Equal(0, buffer.Data[4096]);
        Assert.Equal(65536, FileSize(buffer));
        using var reopened = SharedBuffer.CreateFromFd(Port.Dup(buffer.Fd));
        Assert.Equal(65536, reopened.Size);
        Assert.Equal(9, reopened.Data[^1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Expand(100));
    }

    private static long FileSize(SharedBuffer buffer)
    {
        using var probe = SharedBuffer.CreateFromFd(Port.Dup(buffer.Fd));
        return probe.Size;
    }
}
