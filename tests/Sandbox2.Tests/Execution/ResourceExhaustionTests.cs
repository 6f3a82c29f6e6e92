using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2.Tests.Execution;

/// <summary>Lowers this process's own descriptor limit: must not run beside other tests.</summary>
[CollectionDefinition(nameof(ResourceExhaustionCollection), DisableParallelization = true)]
public sealed class ResourceExhaustionCollection;

/// <summary>Past the executor's descriptor limit, new sandboxes fail with a reason naming the resource while the
/// running ones finish normally; the executor, its forkserver and its monitor go on.</summary>
[Collection(nameof(ResourceExhaustionCollection))]
public partial class ResourceExhaustionTests
{
    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit { public ulong Cur, Max; }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int getrlimit(int resource, ref RLimit r);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int setrlimit(int resource, ref RLimit r);

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static unsafe partial int pipe2(int* fds, int flags);

    private static unsafe (SafeFileHandle Read, SafeFileHandle Write) Pipe()
    {
        int* p = stackalloc int[2];
        Assert.Equal(0, pipe2(p, 0x80000 /* O_CLOEXEC */));
        return (new SafeFileHandle(p[0], true), new SafeFileHandle(p[1], true));
    }

    private static int OpenFds() => Directory.GetFiles("/proc/self/fd").Length;

    [Fact]
    public async Task PastTheDescriptorLimitNewSandboxesFailAndRunningOnesFinish()
    {
        string program = Sandboxes.Testcase("ex_probe-static");
        var policy = Sandboxes.Policy(program).Build();
        // Everything process-wide is up before the limit is lowered (forkserver, monitor, socket engine).
        var warm = await Sandboxes.Async(new Executor(program, ["exit", "0"]), policy);
        Assert.True(warm.Result.Status == SandboxStatus.Ok, warm.ToString());
        int forkserverPid = ForkServer.Global.ProcessId;

        var running = new List<(Sandbox Sandbox, Task<SandboxResult> Run, SafeFileHandle Write)>();
        var failed = new List<SandboxResult>();
        var saved = default(RLimit);
        Assert.Equal(0, getrlimit(7, ref saved));
        try
        {
            // Room for a few sandboxes: each running one holds 4 descriptors here (pidfd, status channel, listener, its
            // wall-time timer), starting one holds its bind sources until it runs, and this test holds 1 more per sandbox
            // (its stdin pipe's write end; the read end goes to the sandbox).
            var lowered = new RLimit { Cur = (ulong)(OpenFds() + 64), Max = saved.Max };
            Assert.Equal(0, setrlimit(7, ref lowered));
            for (int i = 0; i < 64 && failed.Count == 0; i++)
            {
                SafeFileHandle read, write;
                try { (read, write) = Pipe(); }
                catch (Xunit.Sdk.XunitException) { break; } // the test itself is out of descriptors: the limit holds
                var sandbox = new Sandbox(new Executor(program, ["stdin"]) { Stdin = read, Limits = new Limits { WallTime = Sandboxes.Timeout } }, policy);
                var run = sandbox.RunAsync();
                bool ready = await sandbox.Ready.WaitAsync(Sandboxes.Timeout);
                read.Dispose();
                if (ready) running.Add((sandbox, run, write));
                else
                {
                    write.Dispose();
                    failed.Add(await run.WaitAsync(Sandboxes.Timeout));
                    await sandbox.DisposeAsync();
                }
            }
        }
        finally
        {
            Assert.Equal(0, setrlimit(7, ref saved));
        }

        Assert.True(running.Count >= 2, $"only {running.Count} sandboxes started under the lowered limit");
        var first = Assert.Single(failed);
        Assert.Equal(SandboxStatus.SetupError, first.Status);
        Assert.True(first.ReasonCode == ReasonCode.FailedResources, first.ToString());
        Assert.Contains("file descriptors", first.Reason, StringComparison.Ordinal);

        // The running ones were not disturbed: each finishes normally once its input ends.
        foreach (var (_, _, write) in running) write.Dispose();
        foreach (var (sandbox, run, _) in running)
        {
            var r = await run.WaitAsync(Sandboxes.Timeout);
            Assert.True(r.Status == SandboxStatus.Ok && r.ExitCode == 0, r.ToString());
            await sandbox.DisposeAsync();
        }
        Assert.Equal(forkserverPid, ForkServer.Global.ProcessId);
        var after = await Sandboxes.Async(new Executor(program, ["exit", "3"]), policy);
        Assert.True(after.Result.ExitCode == 3, after.ToString());
    }
}
