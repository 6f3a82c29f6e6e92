using System.Buffers.Binary;
using Sandbox2.Client;

namespace Sandbox2.Tests;

/// <summary>
/// SandboxMeHere end to end: a real child (C client or C# client) is started unfiltered with its Comms
/// end at fd 1023, the executor side (<see cref="ClientHandshake"/>) sends a tiny hand-made filter
/// that makes getppid fail with errno 1234 (or kill), and the child reports what each thread saw.
/// </summary>
public sealed class SandboxMeHereTests
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    const int SIGABRT = 6, SIGSYS = 31;

    sealed class Run : IDisposable
    {
        public required Comms Comms;
        public required ChildProcess Child;
        public required ClientHandshakeResult Result;
        public void Dispose()
        {
            Result.Listener?.Dispose();
            Comms.Dispose();
            Child.Dispose();
        }
    }

    static async Task<Run> StartAsync(string path, string mode, byte[]? bpf = null, bool listener = false,
        Dictionary<string, string>? env = null, Ipc? ipc = null, string cwd = "", bool speculation = false)
    {
        var comms = Comms.CreateWithPeer(out var peer);
        ChildProcess child;
        using (peer) child = ChildProcess.Start(path, [mode], peer, env);
        try
        {
            using var cts = new CancellationTokenSource(Timeout);
            var result = await ClientHandshake.RunAsync(comms, bpf ?? TestBpf.DenyGetppidErrno(), ipc?.Mappings ?? [], cwd, listener, speculation, cts.Token);
            return new Run { Comms = comms, Child = child, Result = result };
        }
        catch
        {
            comms.Dispose();
            child.Dispose();
            throw;
        }
    }

    static string C(bool isStatic) => TestPaths.Testcase(isStatic ? "comms_sandbox-static" : "comms_sandbox");
    static string CSharp => TestPaths.CSharpSandboxee;

    static async Task<int[]> ReadThreadReportAsync(Comms comms)
    {
        int tasks = await comms.ReceiveInt32Async();
        int filtered = await comms.ReceiveInt32Async();
        Assert.True(tasks == filtered, $"{filtered} of {tasks} tasks show Seccomp: 2");
        int count = await comms.ReceiveInt32Async();
        var results = new int[count];
        for (int i = 0; i < count; i++) results[i] = await comms.ReceiveInt32Async();
        return [tasks, .. results];
    }

    // ------------------------------------------------------------------ C client

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CClientFiltersEveryPthread(bool isStatic)
    {
        using var run = await StartAsync(C(isStatic), "threads");
        Assert.True(run.Result.Sandboxed, run.Result.FailureReason);
        int[] report = await ReadThreadReportAsync(run.Comms);
        Assert.True(report[0] >= 4, $"only {report[0]} tasks were alive");  // main + 3 pthreads
        // 3 pre-existing pthreads, one created afterwards, and main: getppid fails with the filter's errno in each.
        Assert.Equal([TestBpf.TestErrno, TestBpf.TestErrno, TestBpf.TestErrno, TestBpf.TestErrno, TestBpf.TestErrno], report[1..]);
        var exit = await run.Child.WaitAsync(Timeout);
        Assert.True(exit.ExitCode == 0, exit.ToString());
    }

    [Fact]
    public async Task CClientForbiddenSyscallOnAnotherThreadKillsTheProcess()
    {
        using var run = await StartAsync(C(false), "kill", TestBpf.Deny(TestBpf.Getppid, TestBpf.RetKillProcess));
        Assert.True(run.Result.Sandboxed, run.Result.FailureReason);
        var exit = await run.Child.WaitAsync(Timeout);
        Assert.True(exit.Signal == SIGSYS, exit.ToString());
    }

    [Fact]
    public async Task CClientNamesTheThreadThatCannotBeSynchronised()
    {
        using var run = await StartAsync(C(false), "diverge");
        Assert.False(run.Result.Sandboxed);
        Assert.Matches("thread [0-9]+ \"diverger\" could not be synchronised", run.Result.FailureReason);
        var exit = await run.Child.WaitAsync(Timeout);
        Assert.True(exit.Signal == SIGABRT, exit.ToString());
        Assert.Contains("sandbox2: SandboxMeHere refused: thread", exit.Stderr);
    }

    [Fact]
    public async Task CClientWithoutTsyncRefusesWhenMultithreaded()
    {
        using var run = await StartAsync(C(false), "no-tsync", env: new() { [SandboxClient.NoTsyncTestVariable] = "1" });
        Assert.False(run.Result.Sandboxed);
        Assert.Matches("EINVAL.*2 threads; thread [0-9]+ \"worker\" could not be synchronised", run.Result.FailureReason);
        Assert.Matches("no seccomp TSYNC .*Linux 3.17.*see 'sandbox2 doctor'", run.Result.FailureReason); // names the feature and the kernel
        var exit = await run.Child.WaitAsync(Timeout);
        Assert.True(exit.Signal == SIGABRT, exit.ToString());
    }

    [Fact]
    public async Task CClientWithoutTsyncStillSandboxesASingleThread()
    {
        using var run = await StartAsync(C(false), "single", env: new() { [SandboxClient.NoTsyncTestVariable] = "1" });
        Assert.True(run.Result.Sandboxed, run.Result.FailureReason);
        Assert.Equal(TestBpf.TestErrno, await run.Comms.ReceiveInt32Async());
        Assert.Equal(0, (await run.Child.WaitAsync(Timeout)).ExitCode);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task MappedDescriptorsAndCwdArrive(bool csharp)
    {
        using var ipc = new Ipc();
        var (r1, w1) = CommsTests.Pipe();
        var (r2, w2) = CommsTests.Pipe();
        using (var s = new FileStream(w1, FileAccess.Write, 1)) s.Write("by name"u8);
        using (var s = new FileStream(w2, FileAccess.Write, 1)) s.Write("by number"u8);
        ipc.MapFd(r1, "input");
        ipc.MapFd(r2, 100);
        using var run = await StartAsync(csharp ? CSharp : C(false), "mapped", ipc: ipc, cwd: "/tmp");
        Assert.True(run.Result.Sandboxed, run.Result.FailureReason);
        Assert.Equal("by name"u8.ToArray(), await run.Comms.ReceiveBytesAsync());
        Assert.Equal("by number"u8.ToArray(), await run.Comms.ReceiveBytesAsync());
        if (csharp) Assert.False(await run.Comms.ReceiveBoolAsync()); // GetMappedFd is one-shot
        else Assert.Equal(-1, await run.Comms.ReceiveInt32Async());
        Assert.Equal("/tmp", await run.Comms.ReceiveStringAsync());
        var exit = await run.Child.WaitAsync(Timeout);
        Assert.True(exit.ExitCode == 0, exit.ToString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task NotificationListenerIsHandedToTheExecutor(bool csharp)
    {
        using var run = await StartAsync(csharp ? CSharp : C(false), csharp ? "simple" : "single", listener: true);
        Assert.True(run.Result.Sandboxed, run.Result.FailureReason);
        Assert.NotNull(run.Result.Listener);
        string? target = new FileInfo($"/proc/self/fd/{run.Result.Listener.DangerousGetHandle()}").LinkTarget;
        Assert.Equal("anon_inode:seccomp notify", target);
        Assert.Equal(TestBpf.TestErrno, await run.Comms.ReceiveInt32Async());
        var exit = await run.Child.WaitAsync(Timeout);
        Assert.True(exit.ExitCode == 0, exit.ToString());
    }

    // ------------------------------------------------------------------ C# client

    [Fact]
    public async Task CSharpClientFiltersEveryThreadIncludingTheRuntimes()
    {
        using var run = await StartAsync(CSharp, "threads");
        Assert.True(run.Result.Sandboxed, run.Result.FailureReason);
        int[] report = await ReadThreadReportAsync(run.Comms);
        Assert.True(report[0] >= 5, $"only {report[0]} tasks were alive");
        // main, the plain Thread, the Task loop, a Task.Run, a Thread started afterwards.
        Assert.Equal([TestBpf.TestErrno, TestBpf.TestErrno, TestBpf.TestErrno, TestBpf.TestErrno, TestBpf.TestErrno], report[1..]);
        var exit = await run.Child.WaitAsync(Timeout);
        Assert.True(exit.ExitCode == 0, exit.ToString());
    }

    [Fact]
    public async Task CSharpClientForbiddenSyscallOnAPoolThreadKillsTheProcess()
    {
        using var run = await StartAsync(CSharp, "kill", TestBpf.Deny(TestBpf.Getppid, TestBpf.RetKillProcess));
        Assert.True(run.Result.Sandboxed, run.Result.FailureReason);
        var exit = await run.Child.WaitAsync(Timeout);
        Assert.True(exit.Signal == SIGSYS, exit.ToString());
    }

    [Fact]
    public async Task CSharpClientNamesTheThreadThatCannotBeSynchronised()
    {
        using var run = await StartAsync(CSharp, "diverge");
        Assert.False(run.Result.Sandboxed);
        Assert.Matches("thread [0-9]+ \"diverger\" could not be synchronised", run.Result.FailureReason);
        var exit = await run.Child.WaitAsync(Timeout);
        Assert.True(exit.ExitCode == 3, exit.ToString());
        Assert.Contains("\"diverger\" could not be synchronised", exit.Stderr);
    }

    [Fact]
    public async Task CSharpClientWithoutTsyncRefuses()
    {
        using var run = await StartAsync(CSharp, "no-tsync", env: new() { [SandboxClient.NoTsyncTestVariable] = "1" });
        Assert.False(run.Result.Sandboxed);
        // A .NET process always has several threads; one of them is named.
        Assert.Matches("EINVAL.*the process has [0-9]+ threads; thread [0-9]+ \"[^\"]+\" \\(and [0-9]+ more\\) could not be synchronised", run.Result.FailureReason);
        Assert.Matches("no seccomp TSYNC .*Linux 3.17.*see 'sandbox2 doctor'", run.Result.FailureReason);
        var exit = await run.Child.WaitAsync(Timeout);
        Assert.True(exit.ExitCode == 3, exit.ToString());
    }

    [Fact]
    public async Task CSharpSandboxeeOpensABufferFromTheExecutor()
    {
        var comms = Comms.CreateWithPeer(out var peer);
        ChildProcess child;
        using (peer) child = ChildProcess.Start(CSharp, ["buffer"], peer);
        using (child)
        using (comms)
        using (var buffer = SharedBuffer.CreateWithSize(64 << 10, "shared"))
        {
            for (int i = 0; i < buffer.Data.Length; i++) buffer.Data[i] = (byte)i;
            await comms.SendFdAsync(buffer.Fd);
            Assert.Equal(64 << 10, await comms.ReceiveInt64Async().AsTask().WaitAsync(Timeout));
            for (int i = 0; i < buffer.Data.Length; i++) Assert.Equal((byte)(buffer.Data.Length - 1 - i), buffer.Data[i]);
            Assert.Equal(0, (await child.WaitAsync(Timeout)).ExitCode);
        }
    }

    // ------------------------------------------------------------------ executor side vs a misbehaving client

    [Fact]
    public async Task HandshakeRejectsASandboxeeThatBreaksTheProtocol()
    {
        var (executor, sandboxee) = Comms.CreatePair();
        using (executor)
        using (sandboxee)
        {
            sandboxee.SendInt32(1); // not the Version hello
            var e = await Assert.ThrowsAsync<CommsException>(() => ClientHandshake.RunAsync(executor, TestBpf.DenyGetppidErrno(), [], "", false, false, default));
            Assert.Equal(CommsError.TagMismatch, e.Error);
        }
        (executor, sandboxee) = Comms.CreatePair();
        using (executor)
        {
            var hello = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(hello, 1);
            sandboxee.SendTlv(CommsTag.Version, hello);
            sandboxee.Dispose(); // hangs up mid-handshake
            var e = await Assert.ThrowsAsync<CommsException>(() => ClientHandshake.RunAsync(executor, TestBpf.DenyGetppidErrno(), [], "", false, false, default));
            Assert.Equal(CommsError.Closed, e.Error);
        }
    }

    [Fact]
    public async Task HandshakeWithASandboxeeThatNeverCallsSandboxMeHereIsBoundedByCancellation()
    {
        var (executor, sandboxee) = Comms.CreatePair();
        using (executor)
        using (sandboxee)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ClientHandshake.RunAsync(executor, TestBpf.DenyGetppidErrno(), [], "", false, false, cts.Token));
        }
    }

    [Fact]
    public void ClientRefusesABadExecutorBeforeInstallingAnything()
    {
        // Runs the C# client in this test process: every case fails before prctl/seccomp.
        var (executor, sandboxee) = Comms.CreatePair();
        using (executor)
        using (var client = new SandboxClient(sandboxee))
        {
            SendVersion(executor, 99);
            var e = Assert.Throws<SandboxMeHereException>(client.SandboxMeHere);
            Assert.Contains("protocol version 99", e.Message);
            Assert.Equal(CommsTag.Version, executor.ReceiveTlv().Tag);
            Assert.False(executor.ReceiveBool());
            Assert.Contains("protocol version 99", executor.ReceiveString());
            Assert.False(client.IsSandboxed);
        }
        (executor, sandboxee) = Comms.CreatePair();
        using (executor)
        using (var client = new SandboxClient(sandboxee))
        {
            SendVersionAndNoMappings(executor);
            executor.SendBytes(new byte[12]); // not a whole number of instructions
            executor.SendUint32(SandboxMeHereProtocol.ModePlain);
            var e = Assert.Throws<SandboxMeHereException>(client.SandboxMeHere);
            Assert.Contains("bad BPF program of 12 bytes", e.Message);
        }
        (executor, sandboxee) = Comms.CreatePair();
        using (executor)
        using (var client = new SandboxClient(sandboxee))
        {
            SendVersionAndNoMappings(executor);
            executor.SendBytes([0x06, 0, 0, 0, 0x00, 0x00, 0xff, 0x7f]); // allow all
            executor.SendUint32(SandboxMeHereProtocol.ModePlain | SandboxMeHereProtocol.SpeculationBit | 0x20000000); // a flag nobody defined
            var e = Assert.Throws<SandboxMeHereException>(client.SandboxMeHere);
            Assert.Contains("unknown flags in the mode word 0x3A0B0C04", e.Message);
            Assert.False(client.IsSandboxed);
        }
    }

    private static void SendVersion(Comms executor, uint version)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, version);
        executor.SendTlv(CommsTag.Version, bytes);
    }

    /// <summary>The handshake's start as the executor sends it: version 1, no descriptor mappings, no working directory.</summary>
    private static void SendVersionAndNoMappings(Comms executor)
    {
        SendVersion(executor, 1);
        executor.SendUint32(0);
        executor.SendString("");
    }
}

/// <summary>SandboxMeHere with a policy from the real compiler (PolicyBuilder → BPF) instead of the tests' hand-made filter.</summary>
public sealed class SandboxMeHereCompiledPolicyTests
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>What SandboxMeHere mode needs on top of the program's own policy: the handshake's last
    /// messages (and later Comms traffic) go out with sendmsg/recvmsg on fd 1023 after the filter is in.</summary>
    static PolicyBuilder WithComms(PolicyBuilder b) =>
        b.AddPolicyOnSyscalls(["sendmsg", "recvmsg"], Arg.Of(0).Equal(Comms.DefaultConnectionFd), SyscallAction.Allow);

    [Fact]
    public async Task CSharpSandboxeeKeepsRunningUnderAllowDotNetRuntime()
    {
        // getpgrp (111) is not part of the preset: the probe syscall here.
        var policy = WithComms(new PolicyBuilder().BlockSyscallWithErrno("getpgrp", TestBpf.TestErrno)).AllowDotNetRuntime().Build();
        byte[] bpf = policy.Compile(new PolicyCompileOptions()).ToBytes();
        var comms = Comms.CreateWithPeer(out var peer);
        ChildProcess child;
        using (peer) child = ChildProcess.Start(TestPaths.CSharpSandboxee, ["threads"], peer, new Dictionary<string, string> { ["SANDBOX2_TEST_PROBE_NR"] = "111" });
        using (child)
        using (comms)
        {
            using var cts = new CancellationTokenSource(Timeout);
            var result = await ClientHandshake.RunAsync(comms, bpf, [], "", false, false, cts.Token);
            Assert.True(result.Sandboxed, result.FailureReason);
            int tasks = await comms.ReceiveInt32Async(cts.Token);
            Assert.Equal(tasks, await comms.ReceiveInt32Async(cts.Token));
            int count = await comms.ReceiveInt32Async(cts.Token);
            for (int i = 0; i < count; i++) Assert.Equal(TestBpf.TestErrno, await comms.ReceiveInt32Async(cts.Token));
            var exit = await child.WaitAsync(Timeout);
            Assert.True(exit.ExitCode == 0, exit.ToString());
        }
    }
}
