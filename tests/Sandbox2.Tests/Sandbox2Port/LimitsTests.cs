using Sandbox2.Tests.Execution;

namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>Port of Sandbox2's <c>limits_test.cc</c>: RLIMIT_AS of 100 MiB against mmap and alloca
/// (testcase <c>s2_limits.c</c>, a rewrite of <c>testcases/limits.cc</c>).</summary>
public class LimitsTests
{
    private static async Task<SandboxResult> RunMode(int mode)
    {
        string path = Port.Testcase("s2_limits");
        var executor = new Executor(path, [mode.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        executor.Limits.AddressSpace = 100UL << 20;
        return await Port.Run(executor, Port.AllowAll(path).Build());
    }

    [Fact]
    public async Task LimitsTest_RLimitASMmapUnderLimit()
    {
        var result = await RunMode(1); // mmap(1 MiB)
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task LimitsTest_RLimitASMmapAboveLimit()
    {
        var result = await RunMode(2); // mmap(100 MiB) fails with ENOMEM: the program says so with exit 0
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task LimitsTest_RLimitASAllocaSmallUnderLimit()
    {
        var result = await RunMode(3); // alloca(1 MiB)
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task LimitsTest_RLimitASAllocaBigUnderLimit()
    {
        var result = await RunMode(4); // alloca(8 MiB): past the stack limit
        Assert.True(result.Status == SandboxStatus.Signaled && result.Signal == 11, result.ToString());
    }

    [Fact]
    public async Task LimitsTest_RLimitASAllocaBigAboveLimit()
    {
        var result = await RunMode(5); // alloca(100 MiB)
        Assert.True(result.Status == SandboxStatus.Signaled && result.Signal == 11, result.ToString());
    }
}
