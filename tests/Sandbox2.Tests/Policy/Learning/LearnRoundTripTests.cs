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

    private async Task<(SandboxResult Result, string Stdout)> RunAsync(string program, string[] args, Sandbox2.Policy policy, Notify? notify,
        IReadOnlyDictionary<string, string>? env = null)
    {
        string outFile = Path.Combine(_dir, $"{Guid.NewGuid():N}.out");
        using (SafeFileHandle stdout = File.OpenHandle(outFile, FileMode.CreateNew, FileAccess.Write))
        {
            var executor = new Executor(program, args, env) { Stdout = stdout, Stderr = stdout };
            await using var sandbox = new Sandbox(executor, policy, notify);
            var result = await sandbox.RunAsync().WaitAsync(Sandboxes.Timeout);
            return (result, await File.ReadAllTextAsync(outFile));
        }
    }

    private async Task<(LearnedPolicy Learned, SyscallTrace Trace, string Stdout)> LearnAsync(string program, string[] args, Func<PolicyBuilder>? mounts = null,
        IReadOnlyDictionary<string, string>? env = null)
    {
        mounts ??= () => Mounts(program);
        var recorder = new SyscallRecorder();
        var (result, stdout) = await RunAsync(program, args, SyscallRecorder.CreateTracingPolicy(mounts()), recorder, env);
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

    /// <summary>The listing without /proc's line and without times (the sandbox's root is made afresh, a minute may turn).</summary>
    private static string WithoutProc(string listing) =>
        string.Join('\n', listing.Split('\n').Where(l => !l.EndsWith(" proc", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"[A-Z][a-z]{2} +\d+ +(\d\d:\d\d|\d{4})", "DATE")));

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

    [SkippableFact]
    public async Task Python_RunningAScript_RoundTrips()
    {
        const string python = "/usr/bin/python3.11";
        Skip.IfNot(File.Exists(python), "no /usr/bin/python3.11 on this machine");
        string script = Path.Combine(_dir, "s.py");
        await File.WriteAllTextAsync(script, "import json, sys\nprint(json.dumps({'sum': sum(range(100)), 'argv': sys.argv[1:]}))\n");
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(script, (UnixFileMode)0b110_100_100);
        PolicyBuilder mounts() => Mounts(python).AddDirectory("/usr").AddFileAt(script, "/s.py");
        string[] args = ["/s.py", "x"];
        var (learned, _, stdout) = await LearnAsync(python, args, mounts);
        Assert.Equal("{\"sum\": 4950, \"argv\": [\"x\"]}\n", stdout);
        var (replay, replayOut) = await RunAsync(python, args, learned.ApplyTo(mounts()).Build(), null);
        Assert.True(replay.Status == SandboxStatus.Ok, $"{replay} {replay.Reason}\n{learned.ToText()}");
        Assert.Equal(stdout, replayOut);
    }

    [Fact]
    public async Task DotNet_FrameworkDependentProgram_WithItsRuntimeBound_RoundTrips()
    {
        // A framework-dependent .NET program at hand: the sandbox2 CLI's apphost, printing its version.
        string app = Path.Combine(Sandbox2.Tests.Cli.CliRunner.ToolPath);
        string runtimeDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        string dotnetRoot = Path.GetFullPath(Path.Combine(runtimeDir, "../../.."));
        PolicyBuilder mounts()
        {
            var b = new PolicyBuilder().AddDirectory(dotnetRoot).AddDirectory(Path.GetDirectoryName(app)!).AddLibrariesForBinary(app);
            foreach (string so in (string[])["libcoreclr.so", "libclrjit.so", "libSystem.Native.so", "libhostpolicy.so"])
                b.AddLibrariesForBinary(Path.Combine(runtimeDir, so));
            return b.AddProc().AddMinimalDev().AddTmpfs("/tmp", 64 << 20);
        }
        var env = new Dictionary<string, string>
        {
            ["PATH"] = Executor.DefaultPath, ["DOTNET_ROOT"] = dotnetRoot, ["HOME"] = "/tmp",
            ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1", ["DOTNET_gcServer"] = "0",
        };
        var (learned, trace, stdout) = await LearnAsync(app, ["--version"], mounts, env);
        Assert.False(string.IsNullOrWhiteSpace(stdout));
        Assert.True(learned.RequiresMapExec); // the JIT
        log.WriteLine($"{trace.TotalCalls} calls by {trace.Threads} tasks");
        var (replay, replayOut) = await RunAsync(app, ["--version"], learned.ApplyTo(mounts()).Build(), null, env);
        Assert.True(replay.Status == SandboxStatus.Ok && replay.ExitCode == 0, $"{replay} {replay.Reason}\n{learned.ToText()}");
        Assert.Equal(stdout, replayOut);
    }

    [Fact]
    public async Task LearnedPolicy_IsMuchSmallerThanTheDefault()
    {
        var (learned, _, _) = await LearnAsync("/bin/ls", ["-la", "/"]);
        var learnedPolicy = learned.ApplyTo(new PolicyBuilder()).Build();
        var defaultPolicy = BuiltinPolicies.CreateDefault().Build();
        int Allowed(Sandbox2.Policy p) => SyscallTable.X86_64.Count(i => !p.Evaluate(new Syscall(SyscallArch.X86_64, i.Number, new ulong[6])).IsViolationLike());
        var options = new PolicyCompileOptions(MonitorAttached: true, ExecNonce: 1);
        int learnedCount = learned.AllowedNumbers.Count, defaultCount = Allowed(defaultPolicy);
        int learnedInsns = learnedPolicy.Compile(options).Length, defaultInsns = defaultPolicy.Compile(options).Length;
        log.WriteLine($"ls -la /: learned {learnedCount} syscalls, {learnedInsns} BPF instructions; @default {defaultCount} syscalls (not a violation with zero arguments), {defaultInsns} instructions");
        Assert.True(learnedCount * 2 < defaultCount, $"learned {learnedCount}, default {defaultCount}");
    }
}

internal static class SyscallActionTestExtensions
{
    /// <summary>A violation, in any spelling the model has.</summary>
    public static bool IsViolationLike(this SyscallAction action) => action.Kind == SyscallActionKind.Violation;
}
