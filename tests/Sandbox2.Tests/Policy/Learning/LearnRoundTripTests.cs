using Microsoft.Win32.SafeHandles;
using Sandbox2.Tests.Execution;
using Xunit.Abstractions;

namespace Sandbox2.Tests.Policy.Learning;

/// <summary>Learn → policy → run on real sandboxes through the library: the program runs under the tracing policy with a
/// <see cref="SyscallRecorder"/>, the learned policy (as a model, <see cref="LearnedPolicy.ApplyTo"/>) runs it again with
/// the same output, and what the run did not do is still a violation.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class LearnRoundTripTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox2-learn-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static PolicyBuilder Mounts(string program) =>
        new PolicyBuilder().AddLibrariesForBinary(program).AddProc().AddMinimalDev().AddTmpfs("/tmp", 16 << 20);

    private async Task<(SandboxResult Result, string Stdout)> RunAsync(string program, string[] args, Sandbox2.Policy policy, Notify? notify)
    {
        string outFile = Path.Combine(_dir, $"{Guid.NewGuid():N}.out");
        using (SafeFileHandle stdout = File.OpenHandle(outFile, FileMode.CreateNew, FileAccess.Write))
        {
            var executor = new Executor(program, args) { Stdout = stdout, Stderr = stdout };
            await using var sandbox = new Sandbox(executor, policy, notify);
            var result = await sandbox.RunAsync().WaitAsync(Sandboxes.Timeout);
            return (result, await File.ReadAllTextAsync(outFile));
        }
    }

    private async Task<(LearnedPolicy Learned, SyscallTrace Trace, string Stdout)> LearnAsync(string program, string[] args, Func<PolicyBuilder>? mounts = null)
    {
        mounts ??= () => Mounts(program);
        var recorder = new SyscallRecorder();
        var (result, stdout) = await RunAsync(program, args, SyscallRecorder.CreateTracingPolicy(mounts()), recorder);
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, $"{result} {result.Reason}\n{stdout}");
        var trace = recorder.GetTrace();
        var learned = PolicyLearner.Learn(trace);
        log.WriteLine(learned.ToText());
        return (learned, trace, stdout);
    }

    [Fact]
    public async Task Ls_LearnedPolicy_RunsLsAgain_AndDeniesWhatItDidNotUse()
    {
        string[] args = ["-la", "/"];
        var (learned, trace, stdout) = await LearnAsync("/bin/ls", args);
        Assert.Contains(trace.Syscalls, s => s.Name == "getdents64");
        var policy = learned.ApplyTo(Mounts("/bin/ls")).Build();
        var (replay, replayOut) = await RunAsync("/bin/ls", args, policy, null);
        Assert.True(replay.Status == SandboxStatus.Ok, $"{replay} {replay.Reason}\n{learned.ToText()}");
        Assert.Equal(WithoutProc(stdout), WithoutProc(replayOut)); // /proc's link count is its number of tasks, which varies
        // What ls did not do is a violation: exec, and a socket of another family than the AF_UNIX one it tried (nscd).
        Assert.Equal(SyscallActionKind.Violation, policy.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber("execve"), [0, 0, 0])).Kind);
        Assert.Equal(SyscallActionKind.Violation, policy.Evaluate(new Syscall(SyscallArch.X86_64, SyscallTable.GetNumber("socket"), [2, 1, 0])).Kind);
    }

    private static string WithoutProc(string listing) =>
        string.Join('\n', listing.Split('\n').Where(l => !l.EndsWith(" proc", StringComparison.Ordinal)));

    [Fact]
    public async Task StaticC_LearnedPolicy_RunsAgain_AnotherSyscallIsALiveViolation()
    {
        string program = Sandboxes.Testcase("cli_syscall-static");
        var (learned, trace, stdout) = await LearnAsync(program, ["39"]); // getpid
        Assert.DoesNotContain(trace.Syscalls, s => s.Name == "socket");
        var policy = learned.ApplyTo(Mounts(program)).Build();
        var (replay, replayOut) = await RunAsync(program, ["39"], policy, null);
        Assert.True(replay.Status == SandboxStatus.Ok, $"{replay} {replay.Reason}\n{learned.ToText()}");
        Assert.Equal(stdout, replayOut);
        // The same program making a syscall the learn run did not make: socket(0, 0, 0) (number 41).
        var (denied, _) = await RunAsync(program, ["41"], policy, null);
        Assert.Equal(SandboxStatus.Violation, denied.Status);
        Assert.Equal("socket", denied.Violation!.SyscallName);
    }

    [Fact]
    public async Task Gzip_OfABoundFile_RoundTrips()
    {
        string input = Path.Combine(_dir, "in.txt");
        await File.WriteAllLinesAsync(input, Enumerable.Range(0, 3000).Select(i => $"line {i * 7919 % 3000}"));
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(input, (UnixFileMode)0b110_100_100);
        PolicyBuilder mounts() => Mounts("/usr/bin/gzip").AddFileAt(input, "/data/in.txt");
        string[] args = ["-c", "/data/in.txt"];
        var (learned, _, stdout) = await LearnAsync("/usr/bin/gzip", args, mounts);
        var (replay, replayOut) = await RunAsync("/usr/bin/gzip", args, learned.ApplyTo(mounts()).Build(), null);
        Assert.True(replay.Status == SandboxStatus.Ok, $"{replay} {replay.Reason}\n{learned.ToText()}");
        Assert.Equal(stdout, replayOut);
        Assert.DoesNotContain("socket", learned.ToText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shell_Pipeline_LearnsForkAndExec_InChildren()
    {
        PolicyBuilder mounts() => Mounts("/bin/sh").AddDirectory("/usr");
        string[] args = ["-c", "ls /usr | wc -l"];
        var (learned, trace, stdout) = await LearnAsync("/bin/sh", args, mounts);
        Assert.True(trace.Threads >= 3, $"{trace.Threads} tasks");
        Assert.Contains(learned.Rules, r => r.Name == "execve");
        Assert.Contains(learned.Rules, r => r.Name == "clone" && r.When is not null);
        var (replay, replayOut) = await RunAsync("/bin/sh", args, learned.ApplyTo(mounts()).Build(), null);
        Assert.True(replay.Status == SandboxStatus.Ok, $"{replay} {replay.Reason}\n{learned.ToText()}");
        Assert.Equal(stdout, replayOut);
    }
}
