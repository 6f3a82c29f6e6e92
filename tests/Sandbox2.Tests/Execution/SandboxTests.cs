using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Sandbox2.Tests.Policy;

namespace Sandbox2.Tests.Execution;

/// <summary>Real sandboxes through the library (Executor + PolicyBuilder + Sandbox): namespaces, mounts, identity,
/// limits, fds and results, as issue 3 lists them.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public partial class SandboxTests
{
    internal static string Probe(bool isStatic = false) => SeccompRunner.Testcase(isStatic ? "ex_probe-static" : "ex_probe");

    /// <summary>The CLI's default layout: default policy, the program's libraries, /proc, /dev, /tmp.</summary>
    internal static PolicyBuilder DefaultPolicy(string program) => BuiltinPolicies.CreateDefault()
        .AddLibrariesForBinary(program).AddProc().AddMinimalDev().AddTmpfs("/tmp", 16 << 20);

    internal sealed record Outcome(SandboxResult Result, string Stdout, string Stderr)
    {
        public override string ToString() => $"{Result} | stdout: {Stdout} | stderr: {Stderr}";
    }

    internal static async Task<Outcome> Run(string program, string[] args, Func<PolicyBuilder, PolicyBuilder>? policy = null,
        Action<Executor>? configure = null, IReadOnlyDictionary<string, string>? env = null)
    {
        var builder = DefaultPolicy(program);
        if (policy is not null) builder = policy(builder);
        var (outRead, outWrite) = Pipe();
        var (errRead, errWrite) = Pipe();
        using (outRead)
        using (errRead)
        {
            var executor = new Executor(program, args, env) { Stdout = outWrite, Stderr = errWrite };
            executor.Limits.WallTime = TimeSpan.FromSeconds(30);
            configure?.Invoke(executor);
            await using var sandbox = new Sandbox(executor, builder.Build());
            var run = sandbox.RunAsync();
            var stdout = ReadAll(outRead);
            var stderr = ReadAll(errRead);
            SandboxResult result;
            try { result = await run.WaitAsync(TimeSpan.FromSeconds(60)); }
            finally { outWrite.Dispose(); errWrite.Dispose(); }
            return new Outcome(result, await stdout.WaitAsync(TimeSpan.FromSeconds(30)), await stderr.WaitAsync(TimeSpan.FromSeconds(30)));
        }
    }

    internal static unsafe (SafeFileHandle Read, SafeFileHandle Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (pipe2(fds, 0x80000 /* O_CLOEXEC */) != 0) throw new IOException("pipe2 failed: " + Marshal.GetLastPInvokeErrorMessage());
        return (new SafeFileHandle(fds[0], ownsHandle: true), new SafeFileHandle(fds[1], ownsHandle: true));
    }

    private static Task<string> ReadAll(SafeFileHandle read) => Task.Run(() =>
    {
        using var stream = new FileStream(new SafeFileHandle(read.DangerousGetHandle(), ownsHandle: false), FileAccess.Read, 1);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    });

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static unsafe partial int pipe2(int* fds, int flags);

    private static string Line(string output, string key) =>
        output.Split('\n').FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal))?.Trim() ?? $"({key} missing)";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task HelloRunsStaticAndDynamic(bool isStatic)
    {
        string hello = SeccompRunner.Testcase(isStatic ? "hello-static" : "hello");
        var o = await Run(hello, ["world"]);
        Assert.True(o.Result.Status == SandboxStatus.Ok, o.ToString());
        Assert.Equal(0, o.Result.ExitCode);
        Assert.Equal("hello world\n", o.Stdout);
        Assert.True(o.Result.Usage.WallTime > TimeSpan.Zero);
    }

    [Fact]
    public async Task LsSeesOnlyTheSandboxRoot()
    {
        var o = await Run("/bin/ls", ["/"]);
        Assert.True(o.Result.Status == SandboxStatus.Ok, o.ToString());
        var entries = o.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        Assert.Contains("proc", entries);
        Assert.Contains("tmp", entries);
        Assert.DoesNotContain("etc", entries);
        Assert.DoesNotContain("home", entries);
        Assert.DoesNotContain("root", entries);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(255)]
    public async Task ExitCodesPassThrough(int code)
    {
        var o = await Run(Probe(true), ["exit", code.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.Equal(SandboxStatus.Ok, o.Result.Status);
        Assert.Equal(code, o.Result.ExitCode);
    }

    [Fact]
    public async Task IdentityAndHardeningAsSeenFromInside()
    {
        var o = await Run(Probe(), ["status"]);
        Assert.True(o.Result.Status == SandboxStatus.Ok, o.ToString());
        Assert.Equal("hostname sandbox2", Line(o.Stdout, "hostname"));
        Assert.Equal("pid 2", Line(o.Stdout, "pid"));
        Assert.Equal("ppid 1", Line(o.Stdout, "ppid"));
        Assert.Equal("uid 1000", Line(o.Stdout, "uid"));
        Assert.Equal("gid 1000", Line(o.Stdout, "gid"));
        Assert.Equal("CapEff:\t0000000000000000", Line(o.Stdout, "CapEff"));
        Assert.Equal("CapPrm:\t0000000000000000", Line(o.Stdout, "CapPrm"));
        Assert.Equal("CapBnd:\t0000000000000000", Line(o.Stdout, "CapBnd"));
        Assert.Equal("NoNewPrivs:\t1", Line(o.Stdout, "NoNewPrivs"));
        Assert.Equal("Seccomp:\t2", Line(o.Stdout, "Seccomp:"));
    }

    [Fact]
    public async Task HostnameCanBeSet()
    {
        var o = await Run(Probe(true), ["status"], p => p.SetHostname("judge-7"));
        Assert.Equal("hostname judge-7", Line(o.Stdout, "hostname"));
    }

    [Fact]
    public async Task OnlyStandardDescriptorsAreOpen()
    {
        var o = await Run(Probe(true), ["fds"]);
        Assert.True(o.Result.Status == SandboxStatus.Ok, o.ToString());
        Assert.Equal(["fd 0", "fd 1", "fd 2"], o.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task HostEnvironmentIsNotLeaked()
    {
        Environment.SetEnvironmentVariable("SANDBOX2_TEST_SECRET", "leak");
        var plain = await Run(Probe(true), ["env"]);
        Assert.Equal("PATH=" + Executor.DefaultPath, plain.Stdout.Trim());
        var given = await Run(Probe(true), ["env"], env: new Dictionary<string, string> { ["A"] = "1" });
        Assert.Equal("A=1", given.Stdout.Trim());
    }

    [Fact]
    public async Task AFileNotMountedIsInvisible()
    {
        var o = await Run(Probe(true), ["read", "/etc/passwd"]);
        Assert.Equal(1, o.Result.ExitCode);
        Assert.Contains("No such file or directory", o.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadOnlyBindRefusesWritesAndTmpDoesNotReachTheHost()
    {
        string dir = Directory.CreateTempSubdirectory("sandbox2-ex-").FullName;
        try
        {
            File.SetUnixFileMode(dir, (UnixFileMode)0x1ff);
            File.WriteAllText(Path.Combine(dir, "in.txt"), "payload");
            File.SetUnixFileMode(Path.Combine(dir, "in.txt"), (UnixFileMode)0x1b6);
            var read = await Run(Probe(true), ["read", "/data/in.txt"], p => p.AddDirectoryAt(dir, "/data"));
            Assert.Equal("payload", read.Stdout);
            var write = await Run(Probe(true), ["write", "/data/in.txt", "changed"], p => p.AddDirectoryAt(dir, "/data"));
            Assert.Equal(1, write.Result.ExitCode);
            Assert.Contains("Read-only file system", write.Stdout, StringComparison.Ordinal);
            Assert.Equal("payload", File.ReadAllText(Path.Combine(dir, "in.txt")));

            var rw = await Run(Probe(true), ["write", "/data/out.txt", "made"], p => p.AddDirectoryAt(dir, "/data", writable: true));
            Assert.True(rw.Result.ExitCode == 0, rw.ToString());
            Assert.Equal("made", File.ReadAllText(Path.Combine(dir, "out.txt")));

            string marker = "sandbox2-tmp-" + Guid.NewGuid().ToString("N");
            var tmp = await Run(Probe(true), ["write", "/tmp/" + marker, "x"]);
            Assert.True(tmp.Result.ExitCode == 0, tmp.ToString());
            Assert.False(File.Exists("/tmp/" + marker));
            var root = await Run(Probe(true), ["write", "/new-file", "x"]);
            Assert.Equal(1, root.Result.ExitCode);
            Assert.Contains("Read-only file system", root.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task WallTimeGivesTimeout()
    {
        var sw = Stopwatch.StartNew();
        var o = await Run(Probe(true), ["sleep", "30"], configure: e => e.Limits.WallTime = TimeSpan.FromMilliseconds(500));
        Assert.Equal(SandboxStatus.Timeout, o.Result.Status);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), sw.Elapsed.ToString());
    }

    [Fact]
    public async Task CpuLimitGivesSignaled()
    {
        var o = await Run(Probe(true), ["spin"], configure: e => e.Limits.CpuTime = TimeSpan.FromSeconds(1));
        Assert.True(o.Result.Status == SandboxStatus.Signaled, o.ToString());
        Assert.Contains(o.Result.Signal, new int?[] { 24 /* SIGXCPU */, 9 });
        Assert.True(o.Result.Usage.CpuTime >= TimeSpan.FromSeconds(0.5), o.Result.Usage.ToString()); // summed rusage; tick granularity
    }

    [Fact]
    public async Task MemoryLimitRefusesA4GiBAllocation()
    {
        var limited = await Run(Probe(true), ["alloc", "4096"], configure: e => e.Limits.AddressSpace = 256UL << 20);
        Assert.Equal(1, limited.Result.ExitCode);
        Assert.Equal("alloc failed\n", limited.Stdout);
        var small = await Run(Probe(true), ["alloc", "16"], configure: e => e.Limits.AddressSpace = 256UL << 20);
        Assert.Equal("alloc ok\n", small.Stdout);
    }

    [Fact]
    public async Task MissingAndNonExecutableProgramsAreSetupErrors()
    {
        var missing = await new Sandbox(new Executor("/no/such/program"), new PolicyBuilder().Build()).RunAsync();
        Assert.Equal(SandboxStatus.SetupError, missing.Status);
        Assert.Equal(ReasonCode.ProgramNotFound, missing.ReasonCode);
        var missingOnPath = await new Sandbox(new Executor("no-such-program-on-path"), new PolicyBuilder().Build()).RunAsync();
        Assert.Equal(ReasonCode.ProgramNotFound, missingOnPath.ReasonCode);
        string file = Path.GetTempFileName();
        try
        {
            var notExec = await new Sandbox(new Executor(file), new PolicyBuilder().Build()).RunAsync();
            Assert.Equal(SandboxStatus.SetupError, notExec.Status);
            Assert.Equal(ReasonCode.ProgramNotExecutable, notExec.ReasonCode);
            Assert.Contains(file, notExec.Reason, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task ABrokenBindIsAClearSetupError()
    {
        string dir = Directory.CreateTempSubdirectory("sandbox2-gone-").FullName;
        var policy = DefaultPolicy(Probe(true)).AddDirectoryAt(dir, "/data");
        Directory.Delete(dir); // gone between policy build and run
        var executor = new Executor(Probe(true), ["exit", "0"]);
        var r = await new Sandbox(executor, policy.Build()).RunAsync();
        Assert.Equal(SandboxStatus.SetupError, r.Status);
        Assert.Equal(ReasonCode.FailedNamespaces, r.ReasonCode);
        Assert.Contains(dir, r.Reason, StringComparison.Ordinal);
        Assert.Contains("No such file or directory", r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DynamicProgramWithoutItsLibrariesFailsWithAHint()
    {
        var executor = new Executor(Probe(), ["exit", "0"]);
        var r = await new Sandbox(executor, BuiltinPolicies.CreateDefault().Build()).RunAsync();
        Assert.Equal(SandboxStatus.SetupError, r.Status);
        Assert.Contains("is its ELF interpreter mounted", r.Reason, StringComparison.Ordinal);
        Assert.Equal(ReasonCode.FailedSubprocess, r.ReasonCode);
    }

    [Fact]
    public async Task KillEndsTheSandboxQuickly()
    {
        var executor = new Executor(Probe(true), ["sleep", "30"]);
        await using var sandbox = new Sandbox(executor, DefaultPolicy(Probe(true)).Build());
        var run = sandbox.RunAsync();
        await Task.Delay(300);
        var sw = Stopwatch.StartNew();
        sandbox.Kill();
        var r = await run.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(SandboxStatus.ExternalKill, r.Status);
        Assert.True(sw.Elapsed < TimeSpan.FromMilliseconds(1000), sw.Elapsed.ToString());
    }

    [Fact]
    public async Task CancellationIsAnExternalKill_AndWallTimeCanBeRearmed()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var executor = new Executor(Probe(true), ["sleep", "30"]);
        var r = await new Sandbox(executor, DefaultPolicy(Probe(true)).Build()).RunAsync(cts.Token).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(SandboxStatus.ExternalKill, r.Status);

        var e2 = new Executor(Probe(true), ["sleep", "2"]);
        e2.Limits.WallTime = TimeSpan.FromMilliseconds(400);
        await using var s2 = new Sandbox(e2, DefaultPolicy(Probe(true)).Build());
        var run = s2.RunAsync();
        await Task.Delay(100);
        s2.SetWallTimeLimit(TimeSpan.FromSeconds(20)); // re-armed: the 2 s sleep now finishes
        var r2 = await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(r2.Status == SandboxStatus.Ok, r2.ToString());
    }

    [Fact]
    public async Task AnExecutorRunsOnce()
    {
        var executor = new Executor(Probe(true), ["exit", "0"]);
        var policy = DefaultPolicy(Probe(true)).Build();
        await new Sandbox(executor, policy).RunAsync();
        await using var again = new Sandbox(executor, policy);
        Assert.Throws<InvalidOperationException>(() => { _ = again.RunAsync(); });
    }

    [Fact]
    public async Task FiftySandboxesInParallelAllSucceed()
    {
        var policy = DefaultPolicy(Probe(true)).Build();
        var runs = Enumerable.Range(0, 50).Select(i =>
        {
            var e = new Executor(Probe(true), ["exit", (i % 7).ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            return new Sandbox(e, policy).RunAsync();
        }).ToArray();
        var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(120));
        for (int i = 0; i < results.Length; i++)
        {
            Assert.True(results[i].Status == SandboxStatus.Ok, $"#{i}: {results[i]}");
            Assert.Equal(i % 7, results[i].ExitCode);
        }
    }
}

public class CompiledPolicyCacheTests
{
    [Fact]
    public void StampedProgramEqualsAFreshCompile()
    {
        var policy = BuiltinPolicies.CreateDefault().Build();
        foreach (ulong nonce in (ulong[])[0, 1, 0xdead_beef_0000_0001, ulong.MaxValue, 0x1111_1111_2222_2222])
        {
            byte[] fresh = policy.Compile(new PolicyCompileOptions(MonitorAttached: true, ExecNonce: nonce)).ToBytes();
            Assert.Equal(fresh, CompiledPolicyCache.Compile(policy, nonce));
        }
    }
}
