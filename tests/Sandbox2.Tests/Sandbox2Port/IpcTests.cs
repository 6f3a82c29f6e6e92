namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>Port of Sandbox2's <c>ipc_test.cc</c> (testcase <c>s2c_ipc.c</c>, a rewrite of <c>testcases/ipc.cc</c>): a
/// descriptor mapped by name reaches the program before exec (SANDBOX2_FD_MAPPINGS) and with SandboxMeHere, at Sandbox2's
/// preferred 812, at 1022, and at 1023 (the Comms channel moves out of the way).</summary>
public class IpcTests
{
    private static async Task PingPong(int fd, bool beforeExec)
    {
        string path = Port.Testcase("s2c_ipc");
        var executor = new Executor(path, [beforeExec ? "1" : "2", fd.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            EnableSandboxBeforeExec = beforeExec,
        };
        using var comms = new Comms(executor.Ipc.ReceiveFd(fd, "ipc_test"));
        await using var sandbox = new Sandbox(executor, Port.AllowAll(path).Build());
        var run = sandbox.RunAsync();
        await comms.SendStringAsync("hello").AsTask().WaitAsync(Port.Timeout);
        // The answer stays readable after the program exits (it is in the socket before the peer closes): the run may
        // well end before this read completes, so the two are not raced. A program that ends without answering makes
        // the read fail at end of stream.
        string answer;
        try
        {
            answer = await comms.ReceiveStringAsync().AsTask().WaitAsync(Port.Timeout);
        }
        catch (Exception e) when (run.IsCompleted)
        {
            throw new Xunit.Sdk.XunitException($"the sandbox ended without answering ({e.Message}): {await run}");
        }
        Assert.Equal("world", answer);
        var result = await run.WaitAsync(Port.Timeout);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
    }

    [Theory]
    [InlineData(812)]
    [InlineData(1022)]
    [InlineData(1023)]
    public Task IPCTest_MapFDByNamePreExecve(int fd) => PingPong(fd, beforeExec: true);

    [Theory]
    [InlineData(812)]
    [InlineData(1022)]
    [InlineData(1023)]
    public Task IPCTest_MapFDByNamePostExecve(int fd) => PingPong(fd, beforeExec: false);

    [Fact]
    public async Task IPCTest_NoMappedFDsPreExecve()
    {
        string path = Port.Testcase("s2c_ipc");
        var result = await Port.Run(new Executor(path, ["3"]), Port.AllowAll(path).Build());
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
    }

    /// <summary>A name that needs escaping in the environment variable (',' ':' '%' and non-ASCII) arrives intact.</summary>
    [Fact]
    public async Task IPCTest_MapFDByNamePreExecve_NameWithSeparators()
    {
        string path = Port.Testcase("s2c_ipc");
        var executor = new Executor(path, ["1"]);
        using var decoy = new Comms(executor.Ipc.ReceiveFd(900, "ipc,test:%ü"));
        using var comms = new Comms(executor.Ipc.ReceiveFd(-1, "ipc_test")); // by name only: it gets a free number
        await using var sandbox = new Sandbox(executor, Port.AllowAll(path).Build());
        var run = sandbox.RunAsync();
        await comms.SendStringAsync("hello").AsTask().WaitAsync(Port.Timeout);
        Assert.Equal("world", await comms.ReceiveStringAsync().AsTask().WaitAsync(Port.Timeout));
        var result = await run.WaitAsync(Port.Timeout);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
    }
}
