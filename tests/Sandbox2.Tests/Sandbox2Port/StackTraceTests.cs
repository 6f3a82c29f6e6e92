using Xunit.Abstractions;

namespace Sandbox2.Tests.Sandbox2Port;

/// <summary>Port of Sandbox2's <c>stack_trace_test.cc</c> for the unotify monitor with namespaces (testcase
/// <c>s2_symbolize.c</c>, a rewrite of <c>testcases/symbolize.cc</c>, and <c>s2_symbolize_shared</c>, the same program
/// linked with <c>lib/s2_symbolize_lib.c</c>). CrashMe and ExitNormally take the trace through the sandbox's init,
/// which traces the main thread and holds it as it dies (<see cref="InitTracer"/>).</summary>
public class StackTraceTests(ITestOutputHelper output)
{
    private Task<SandboxResult> Run(string mode, Func<PolicyBuilder, PolicyBuilder>? configure = null, TimeSpan? wallTime = null, PolicyBuilder? start = null)
    {
        string path = Port.Testcase("s2_symbolize");
        return Run(new Executor(path, [mode]), start ?? Execution.Sandboxes.Policy(path), configure, wallTime);
    }

    private async Task<SandboxResult> Run(Executor executor, PolicyBuilder builder, Func<PolicyBuilder, PolicyBuilder>? configure = null,
        TimeSpan? wallTime = null, Notify? notify = null)
    {
        await Monitor.WarmUpStackTraces().WaitAsync(Port.Timeout); // the state needed: the tracer's code compiled
        if (wallTime is not null) executor.Limits.WallTime = wallTime;
        var result = await Port.Run(executor, (configure?.Invoke(builder) ?? builder).Build(), notify);
        foreach (var line in result.StackTrace ?? []) output.WriteLine(line);
        return result;
    }

    /// <summary>Asserts a ptrace violation whose trace has <paramref name="inner"/> … run_test … main, innermost first.</summary>
    private static void AssertViolationThroughRunTestToMain(SandboxResult result, params string[] inner)
    {
        Assert.True(result.Status == SandboxStatus.Violation && result.Violation!.SyscallName == "ptrace", result.ToString());
        Assert.NotNull(result.StackTrace);
        if (Monitoring.Symbolization.Unsymbolized(result.StackTrace)) return;
        AssertInOrder(result.StackTrace, [.. inner, "run_test", "main"]);
    }

    private static void AssertInOrder(IReadOnlyList<string> trace, string[] functions)
    {
        int previous = -1;
        foreach (var f in functions)
        {
            int at = trace.ToList().FindIndex(previous + 1, l => l.Contains(" " + f + "+", StringComparison.Ordinal));
            Assert.True(at > previous, $"{f} not after frame {previous}:\n{string.Join('\n', trace)}");
            previous = at;
        }
    }

    private static int Frame(SandboxResult result, string function) =>
        result.StackTrace!.ToList().FindIndex(f => f.Contains(" " + function + "+", StringComparison.Ordinal));

    /// <summary>SymbolizationWorks, CrashMe: SIGNALED (SIGSEGV) with crash_me → run_test → main in the trace, on by
    /// default as in Sandbox2 (CollectStacktracesOnSignal).</summary>
    [Fact]
    public async Task StackTraceTest_SymbolizationWorks_CrashMe()
    {
        var result = await Run("1");
        Assert.True(result.Status == SandboxStatus.Signaled && result.Signal == 11, result.ToString());
        AssertFrames(result, "crash_me");
    }

    /// <summary>SymbolizationWorksWithoutnNamespaces, CrashMe: allow-all and DisableNamespaces() (no pid namespace: init is
    /// a subreaper, and it still traces the sandboxee). Our no-namespaces mode keeps a Landlock wall, so the program's
    /// libraries are added, and an always-on rule refuses executable mappings unless allowed (AllowDynamicStartup).</summary>
    [Fact]
    public async Task StackTraceTest_SymbolizationWorksWithoutNamespaces_CrashMe()
    {
        var start = new PolicyBuilder().DefaultAction(SyscallAction.Allow).AllowDynamicStartup().AddLibrariesForBinary(Port.Testcase("s2_symbolize")).DisableNamespaces();
        var result = await Run("1", start: start);
        Assert.True(result.Status == SandboxStatus.Signaled && result.Signal == 11, result.ToString());
        AssertFrames(result, "crash_me");
    }

    /// <summary>SymbolizationWorks, ExitNormally: with CollectStacktracesOnExit(true), OK with exit_normally → run_test
    /// → main (the trace is taken at its exit call).</summary>
    [Fact]
    public async Task StackTraceTest_SymbolizationWorks_ExitNormally()
    {
        var result = await Run("3", b => b.CollectStacktracesOnExit(true));
        Assert.True(result.Status == SandboxStatus.Ok && result.ExitCode == 0, result.ToString());
        AssertFrames(result, "exit_normally");
    }

    /// <summary>The defaults, as in Sandbox2: no trace for a normal exit; none for a crash with CollectStacktracesOnSignal(false).</summary>
    [Fact]
    public async Task StackTraceTest_NoTraceOnExitByDefault_NorOnSignalWhenDisabled()
    {
        var exited = await Run("3");
        Assert.True(exited.Status == SandboxStatus.Ok && exited.StackTrace is null, exited.ToString());
        var crashed = await Run("1", b => b.CollectStacktracesOnSignal(false));
        Assert.True(crashed.Status == SandboxStatus.Signaled && crashed.Signal == 11, crashed.ToString());
        Assert.Null(crashed.StackTrace);
    }

    private static void AssertFrames(SandboxResult result, string innermost)
    {
        Assert.NotNull(result.StackTrace);
        Assert.StartsWith("#0 0x", result.StackTrace![0], StringComparison.Ordinal);
        if (Monitoring.Symbolization.Unsymbolized(result.StackTrace)) return;
        int inner = Frame(result, innermost), run = Frame(result, "run_test"), main = Frame(result, "main");
        Assert.True(inner >= 0 && inner < run && run < main, string.Join('\n', result.StackTrace!));
    }

    /// <summary>StackTraceTest.CompactStackTrace, Sandbox2's own examples.</summary>
    [Fact]
    public void StackTraceTest_CompactStackTrace()
    {
        Assert.Empty(StackTrace.Compact([]));
        Assert.Equal(["_start"], StackTrace.Compact(["_start"]));
        Assert.Equal(["_start", "main", "recursive_call", "(previous frame repeated 2 times)", "tail_call"],
            StackTrace.Compact(["_start", "main", "recursive_call", "recursive_call", "recursive_call", "tail_call"]));
        Assert.Equal(["_start", "main", "recursive_call", "(previous frame repeated 3 times)"],
            StackTrace.Compact(["_start", "main", "recursive_call", "recursive_call", "recursive_call", "recursive_call"]));
    }

    /// <summary>SymbolizationWorks, ViolatePolicy: VIOLATION with violate_policy → run_test → main in the trace.</summary>
    [Fact]
    public async Task StackTraceTest_SymbolizationWorks_ViolatePolicy()
    {
        var result = await Run("2");
        Assert.True(result.Status == SandboxStatus.Violation && result.Violation!.SyscallName == "ptrace", result.ToString());
        Assert.NotNull(result.StackTrace);
        if (Monitoring.Symbolization.Unsymbolized(result.StackTrace)) return;
        int violate = Frame(result, "violate_policy"), run = Frame(result, "run_test"), main = Frame(result, "main");
        Assert.True(violate >= 0 && violate < run && run < main, string.Join('\n', result.StackTrace!));
    }

    /// <summary>SymbolizationWorks, SleepForXSeconds: TIMEOUT (1 s) with the sleeping frames, on by default.</summary>
    [Fact]
    public async Task StackTraceTest_SymbolizationWorks_SleepForXSeconds()
    {
        var result = await Run("4", wallTime: TimeSpan.FromSeconds(1));
        Assert.True(result.Status == SandboxStatus.Timeout, result.ToString());
        Assert.NotNull(result.StackTrace); // CollectStacktracesOnTimeout is on by default, as in Sandbox2
        if (Monitoring.Symbolization.Unsymbolized(result.StackTrace)) return;
        int sleep = Frame(result, "sleep_for_seconds"), run = Frame(result, "run_test"), main = Frame(result, "main");
        Assert.True(sleep >= 0 && sleep < run && run < main, string.Join('\n', result.StackTrace!));
    }

    /// <summary>SymbolizationWorks with five frames of recursion before the violation: every frame is there.</summary>
    [Fact]
    public async Task StackTraceTest_RecursiveStackTrace()
    {
        var result = await Run("5");
        Assert.True(result.Status == SandboxStatus.Violation, result.ToString());
        if (Monitoring.Symbolization.Unsymbolized(result.StackTrace)) return;
        Assert.True(result.StackTrace!.Count(f => f.Contains(" recurse+", StringComparison.Ordinal)) >= 6, string.Join('\n', result.StackTrace!));
        Assert.True(Frame(result, "main") > Frame(result, "run_test"));
    }

    /// <summary>SymbolizationWorks, ViolatePolicyRecursiveLib: the violation is made from a callback called under ten
    /// frames of a shared library (libs2_symbolize_lib.so, found through RUNPATH $ORIGIN): every library frame is there,
    /// symbolized from the library's own file.</summary>
    [Fact]
    public async Task StackTraceTest_SymbolizationWorks_ViolatePolicyRecursiveLib()
    {
        string path = Port.Testcase("s2_symbolize_shared");
        // /proc: ld.so expands $ORIGIN from /proc/self/exe.
        var builder = BuiltinPolicies.CreateDefault().AddProc().AddLibrariesForBinary(path, trustedDirectories: [Path.GetDirectoryName(path)!]);
        var result = await Run(new Executor(path, ["8"]), builder);
        AssertViolationThroughRunTestToMain(result, "violate_policy");
        Assert.Contains(result.StackTrace!, f => f.Contains("libs2_symbolize_lib.so", StringComparison.Ordinal)); // frames in the library
        if (Monitoring.Symbolization.Unsymbolized(result.StackTrace)) return;
        AssertInOrder(result.StackTrace!, ["violate_policy", "run_test", "run_test_cb", "lib_call_callback", "lib_recurse", "main"]);
        Assert.Equal(5, result.StackTrace!.Count(f => f.Contains(" lib_recurse_a+", StringComparison.Ordinal)));
        Assert.Equal(5, result.StackTrace!.Count(f => f.Contains(" lib_recurse_b+", StringComparison.Ordinal)));
    }

    /// <summary>SymbolizationWorks, ViolatePolicyForked: the violation is made by a child the sandboxee forked (a grandchild
    /// of init): the trace is the child's, down to main.</summary>
    [Fact]
    public async Task StackTraceTest_SymbolizationWorks_ViolatePolicyForked()
    {
        var result = await Run("7", b => b.AllowFork().AllowWait());
        AssertViolationThroughRunTestToMain(result, "violate_policy", "fork_and_violate");
        Assert.NotEqual(2, result.Violation!.Pid); // not the sandboxee (PID 2) itself: its child
    }

    /// <summary>SymbolizationWorks with the program executed from a memfd (Sandbox2's Executor over an fd): the
    /// program's frames are symbolized from the memfd mapping.</summary>
    [Fact]
    public async Task StackTraceTest_SymbolizationWorks_ViolatePolicyMemfdExecutable()
    {
        string path = Port.Testcase("s2_symbolize");
        using var memfd = Port.MemfdWithContents("s2_symbolize", path);
        var result = await Run(new Executor(memfd, "s2_symbolize", ["2"]), Execution.Sandboxes.Policy(path));
        AssertViolationThroughRunTestToMain(result, "violate_policy");
        Assert.Contains(result.StackTrace!, f => f.Contains("memfd:s2_symbolize", StringComparison.Ordinal));
        // Landlock stays on: the kernel takes no rule on a memfd (EBADFD) and does not restrict one, so none is added.
        Assert.Equal(Landlock.Abi > 0 ? Landlock.Abi : null, result.Isolation.LandlockAbi);
    }

    /// <summary>Sandbox2's UnsandboxedStackTrace: the unwinder run by the user's own violation hook (not by the monitor's
    /// collection, which is off) on the held thread gives the same trace. The hook seizes the main thread itself, so the
    /// sandbox's init must not trace it: signal traces are off too (ptrace allows one tracer).</summary>
    [Fact]
    public async Task StackTraceTest_UnsandboxedStackTrace()
    {
        var hook = new TraceInHook();
        string path = Port.Testcase("s2_symbolize");
        var result = await Run(new Executor(path, ["2"]), Execution.Sandboxes.Policy(path), b => b.CollectStacktracesOnViolation(false).CollectStacktracesOnSignal(false), notify: hook);
        Assert.True(result.Status == SandboxStatus.Violation, result.ToString());
        Assert.Null(result.StackTrace);
        var frames = hook.Frames ?? throw new Xunit.Sdk.XunitException("the violation hook was not called");
        foreach (var line in frames) output.WriteLine(line);
        Assert.DoesNotContain(frames, f => f.StartsWith("(stack trace unavailable", StringComparison.Ordinal));
        if (Monitoring.Symbolization.Unsymbolized(frames)) return;
        AssertInOrder(frames, ["violate_policy", "run_test", "main"]);
    }

    private sealed class TraceInHook : Notify
    {
        public IReadOnlyList<string>? Frames { get; private set; }

        public override ValueTask EventSyscallViolationAsync(Syscall syscall, ViolationType type, CancellationToken cancellationToken)
        {
            Frames = StackTrace.Collect(syscall.Pid); // seize, read, detach: all on this thread
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Sandbox2's SandboxeeTimeoutDisabledStacktraces: with the timeout trace off, none is collected.</summary>
    [Fact]
    public async Task StackTraceTest_TimeoutWithStackTracesDisabled_HasNone()
    {
        var result = await Run("4", b => b.CollectStacktracesOnTimeout(false), TimeSpan.FromSeconds(1));
        Assert.True(result.Status == SandboxStatus.Timeout, result.ToString());
        Assert.Null(result.StackTrace);
    }
}
