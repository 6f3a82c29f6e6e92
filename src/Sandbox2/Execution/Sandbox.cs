using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

/// <summary>
/// One sandbox: an <see cref="Executor"/> run under a <see cref="Policy"/> (Sandbox2's <c>Sandbox2</c> object).
/// The program starts from the global forkserver in new namespaces with the policy installed before exec; the
/// shared <see cref="Monitor"/> reports violations precisely. Outcomes of the sandboxee are results, never
/// exceptions; programmer errors (a second start, a bad argument) throw.
/// </summary>
public sealed class Sandbox : IAsyncDisposable
{
    private enum Cause { None, Violation, Timeout, External }

    private readonly Notify? _notify;
    private readonly Lock _gate = new();
    private Task<SandboxResult>? _run;
    private SpawnedSandbox? _spawned;
    private Timer? _wallTimer;
    private int _cause;
    private TimeSpan? _pendingWallTime;
    private Comms? _comms;
    private readonly TaskCompletionSource<bool> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SafeSocketHandle? _commsPeer;

    /// <summary>How long a sandboxee that closed its Comms channel before SandboxMeHere may take to exit on its own.</summary>
    private static readonly TimeSpan HandshakeHangupGrace = TimeSpan.FromSeconds(1);
    private IReadOnlyList<string>? _killStackTrace;

    public Sandbox(Executor executor, Policy policy, Notify? notify = null)
    {
        Executor = executor ?? throw new ArgumentNullException(nameof(executor));
        Policy = policy ?? throw new ArgumentNullException(nameof(policy));
        _notify = notify;
        _pendingWallTime = executor.Limits.WallTime;
        if (!executor.EnableSandboxBeforeExec || executor.EnableComms) _comms = Comms.CreateWithPeer(out _commsPeer);
    }

    public Executor Executor { get; }
    public Policy Policy { get; }

    /// <summary>The executor's end of the Comms channel whose other end is fd 1023 in the program (Sandbox2's
    /// <c>comms()</c>); null unless <see cref="Executor.EnableComms"/> or <see cref="Executor.EnableSandboxBeforeExec"/> =
    /// false. In SandboxMeHere mode the handshake uses it first: the program's own messages come after it. Usable after
    /// the sandbox ended (to read what it sent); disposed with the sandbox.</summary>
    public Comms? Comms => _comms;

    /// <summary>Completes with true once the program runs under its policy with the monitor attached: right after the
    /// start (before exec), or after the SandboxMeHere handshake. Completes with false when the sandbox ended or failed
    /// first. In SandboxMeHere mode await it before using <see cref="Comms"/>: the handshake's messages come first.</summary>
    public Task<bool> Ready => _ready.Task;

    /// <summary>Host pid of the sandbox's init (PID 1 inside), once started.</summary>
    public int? InitPid => _spawned?.InitPid;

    /// <summary>Starts the process-wide forkserver and the monitor's event loop in the background now, rather than on
    /// the first sandbox (a one-shot tool overlaps this with building its policy). Optional and idempotent.</summary>
    public static void WarmUp() => ThreadPool.UnsafeQueueUserWorkItem(static _ =>
    {
        try { _ = ForkServer.Global; _ = Monitor.Shared; }
        catch (ForkServerException) { } // reported by the first sandbox that needs it
    }, null);

    /// <summary>Starts the sandbox and completes with its result. Cancelling kills it (EXTERNAL_KILL).</summary>
    public Task<SandboxResult> RunAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref Executor.Started, 1) != 0)
            throw new InvalidOperationException("this executor has already been started (one Executor, one Sandbox)");
        lock (_gate) _run = RunCoreAsync(cancellationToken);
        return _run;
    }

    /// <summary>Waits at most <paramref name="timeout"/> for the result of a started sandbox.</summary>
    /// <exception cref="TimeoutException">The sandbox is still running.</exception>
    public Task<SandboxResult> AwaitResultAsync(TimeSpan timeout)
    {
        var run = _run ?? throw new InvalidOperationException("the sandbox has not been started (call RunAsync)");
        return run.WaitAsync(timeout);
    }

    /// <summary>Kills every process of the sandbox; the result is EXTERNAL_KILL (unless it had already ended otherwise).</summary>
    public void Kill() => KillWith(Cause.External);

    /// <summary>Sets (re-arms) the wall-time limit, counted from now; null disarms it.</summary>
    public void SetWallTimeLimit(TimeSpan? limit)
    {
        if (limit is { } l && l <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(limit), limit, "must be positive");
        lock (_gate)
        {
            _pendingWallTime = limit;
            _wallTimer?.Change(limit ?? Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    private void KillWith(Cause cause)
    {
        bool first = Interlocked.CompareExchange(ref _cause, (int)cause, (int)Cause.None) == (int)Cause.None;
        if (first && _spawned is { } running
            && (cause == Cause.Timeout ? Policy.StackTraces.OnTimeout : cause == Cause.External && Policy.StackTraces.OnKill))
        {
            _ = CollectStackTraceThenKillAsync(running);
            return;
        }
        lock (_gate)
        {
            if (_spawned is { } s) s.Kill();
            else if (_run is null) return;
        }
    }

    /// <summary>Timeout / kill with stack traces on: the main thread's trace (a tracer thread, within Monitor.StackTraceBudget), then the kill.</summary>
    private async Task CollectStackTraceThenKillAsync(SpawnedSandbox running)
    {
        try
        {
            _killStackTrace = StackTrace.FindSandboxee(running.InitPid) is int pid
                ? await Monitor.Shared.CollectStackTraceAsync(pid).WaitAsync(Monitor.StackTraceBudget + TimeSpan.FromMilliseconds(250)).ConfigureAwait(false)
                : ["(no stack trace: the sandboxee (pid 2) was not found)"];
        }
        catch (TimeoutException) { _killStackTrace = ["(stack trace unavailable: not collected in time)"]; }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException or UnauthorizedAccessException)
        {
            _killStackTrace = [$"(no stack trace: {e.Message})"];
        }
        finally { running.Kill(); }
    }

    private async Task<SandboxResult> RunCoreAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            return await RunStagesAsync(clock, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _ready.TrySetResult(false);
            Executor.Ipc.Dispose(); // the sandbox has its copies (or never will)
            _commsPeer?.Dispose();
        }
    }

    private async Task<SandboxResult> RunStagesAsync(Stopwatch clock, CancellationToken cancellationToken)
    {
        SandboxPlan plan;
        MonitoredSandbox? monitored = null;
        PolicyCompileOptions options;
        byte[]? handshakeBpf;
        try
        {
            var prepared = Prepare();
            if (prepared.Error is { } error) return error;
            (plan, options, handshakeBpf) = (prepared.Plan!, prepared.Options, prepared.HandshakeBpf);
        }
        catch (Exception e) when (e is PolicyException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            return new SandboxResult(SandboxStatus.SetupError, e.Message, e is PolicyException ? "FAILED_POLICY" : "FAILED_CONFIG");
        }

        SpawnedSandbox spawned;
        try
        {
            spawned = await ForkServer.Global.SpawnAsync(plan, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return new SandboxResult(SandboxStatus.ExternalKill, "cancelled before the sandbox started");
        }
        catch (Exception e) when (e is ForkServerException or ArgumentException or IOException)
        {
            return new SandboxResult(SandboxStatus.SetupError, e.Message, "FAILED_SUBPROCESS");
        }
        finally
        {
            plan.ProgramFd.Dispose(); // ours, or the executor's (it took ownership; an executor runs once)
            _commsPeer?.Dispose(); // the sandboxee has it now
        }

        using (spawned)
        {
            lock (_gate)
            {
                _spawned = spawned;
                if (_pendingWallTime is { } wall)
                    _wallTimer = new Timer(static s => ((Sandbox)s!).KillWith(Cause.Timeout), this, wall, Timeout.InfiniteTimeSpan);
            }
            if (_cause != (int)Cause.None) spawned.Kill();
            using var cancelRegistration = cancellationToken.UnsafeRegister(static s => ((Sandbox)s!).KillWith(Cause.External), this);

            IDisposable? attachment = null;
            monitored = new MonitoredSandbox(Policy, options, _notify, Policy.StackTraces.OnViolation, () => KillWith(Cause.Violation));
            if (handshakeBpf is not null)
            {
                var (listener, failure) = await HandshakeAsync(spawned, handshakeBpf, cancellationToken).ConfigureAwait(false);
                if (failure is not null)
                {
                    spawned.Kill();
                    var ended = await spawned.Completion.ConfigureAwait(false);
                    lock (_gate) _wallTimer?.Dispose();
                    // A timeout or a cancellation that ended the handshake is reported as such.
                    var result = (Cause)Volatile.Read(ref _cause) is Cause.Timeout or Cause.External || failure.ReasonCode is null
                        ? ToResult(ended, monitored, false, clock.Elapsed)
                        : new SandboxResult(failure.Status, failure.Reason, failure.ReasonCode) { Usage = new SandboxUsage(clock.Elapsed, ended.UserTime + ended.SystemTime, ended.MaxRssKb) };
                    return await FinishAsync(result).ConfigureAwait(false);
                }
                if (listener is not null)
                {
                    try
                    {
                        attachment = monitored.Attach(listener);
                    }
                    catch (Exception e) when (e is InvalidOperationException or IOException or ObjectDisposedException)
                    {
                        spawned.Kill();
                        await spawned.Completion.ConfigureAwait(false);
                        return new SandboxResult(SandboxStatus.SetupError, $"cannot attach the monitor: {e.Message}", "FAILED_MONITOR");
                    }
                }
            }
            else try
            {
                attachment = await monitored.AttachAsync(spawned).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or ObjectDisposedException)
            {
                spawned.Kill();
                await spawned.Completion.ConfigureAwait(false);
                return new SandboxResult(SandboxStatus.SetupError, $"cannot attach the monitor: {e.Message}", "FAILED_MONITOR");
            }
            using (attachment)
            {
                if (_notify is not null && attachment is not null
                    && !await _notify.EventStartedAsync(spawned.InitPid, cancellationToken).ConfigureAwait(false))
                {
                    KillWith(Cause.External);
                    await spawned.Completion.ConfigureAwait(false);
                    return await FinishAsync(new SandboxResult(SandboxStatus.SetupError, "Notify.EventStarted refused the sandbox", "FAILED_NOTIFY")).ConfigureAwait(false);
                }
                _ready.TrySetResult(attachment is not null);
                var report = await spawned.Completion.ConfigureAwait(false);
                lock (_gate) _wallTimer?.Dispose();
                var result = ToResult(report, monitored, attachment is not null, clock.Elapsed);
                return await FinishAsync(result).ConfigureAwait(false);
            }
        }
    }

    private async Task<SandboxResult> FinishAsync(SandboxResult result)
    {
        if (_notify is not null)
            await _notify.EventFinishedAsync(result, CancellationToken.None).ConfigureAwait(false);
        return result;
    }

    private sealed record Prepared(SandboxPlan? Plan, PolicyCompileOptions Options, SandboxResult? Error, byte[]? HandshakeBpf = null);

    /// <summary>SandboxMeHere mode: runs the handshake on <see cref="Comms"/> while the sandboxee runs unfiltered.
    /// Returns the listener, or a failure result (ReasonCode null = the sandbox ended on its own: report it as such).</summary>
    private async Task<(SafeHandle? Listener, SandboxResult? Failure)> HandshakeAsync(SpawnedSandbox spawned, byte[] bpf, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The sandbox's end closes fd 1023 (EOF after what the program sent, which is still read); should anything
        // still hold it, the end of the sandbox ends the handshake shortly after.
        _ = spawned.Completion.ContinueWith(static (_, s) => { try { ((CancellationTokenSource)s!).CancelAfter(HandshakeHangupGrace); } catch (ObjectDisposedException) { } },
            stop, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        var comms = _comms!;
        try
        {
            var outcome = await ClientHandshake.RunAsync(comms, bpf, Executor.Ipc.Mappings, Executor.Cwd, notifyListener: true, stop.Token).ConfigureAwait(false);
            if (outcome.FailureReason is { } why)
                return (null, new SandboxResult(SandboxStatus.SetupError, $"SandboxMeHere failed: {why}", "FAILED_SANDBOX_ME_HERE"));
            return (outcome.Listener, null);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return (null, new SandboxResult(SandboxStatus.SetupError, "the sandbox ended before SandboxMeHere")); // reported from the exit report
        }
        catch (CommsException e)
        {
            if (e.Error is CommsError.Closed or CommsError.Truncated)
            {
                // The channel closed: the program exited (report that) or closed fd 1023 and runs on unfiltered (stop it).
                var first = await Task.WhenAny(spawned.Completion, Task.Delay(HandshakeHangupGrace, CancellationToken.None)).ConfigureAwait(false);
                if (first == spawned.Completion)
                    return (null, new SandboxResult(SandboxStatus.SetupError, "the sandbox ended before SandboxMeHere"));
                return (null, new SandboxResult(SandboxStatus.SetupError,
                    "the program closed its Comms channel (fd 1023) without calling SandboxMeHere", "FAILED_SANDBOX_ME_HERE"));
            }
            return (null, new SandboxResult(SandboxStatus.SetupError, $"SandboxMeHere handshake failed: {e.Message}", "FAILED_COMMS"));
        }
    }

    /// <summary>Everything decided in C#: program, mounts, identity, limits, fds, the compiled filter.</summary>
    private Prepared Prepare()
    {
        var ex = Executor;
        bool meHere = !ex.EnableSandboxBeforeExec;
        if (!ex.Cwd.StartsWith('/')) throw new ArgumentException($"working directory {ex.Cwd} is not absolute");
        if (meHere && _comms is null) _comms = Comms.CreateWithPeer(out _commsPeer);

        ulong nonce = meHere ? 0 : Interop.GetRandomUInt64();
        var options = meHere
            ? new PolicyCompileOptions(MonitorAttached: true, CommsFd: Comms.DefaultConnectionFd)
            : new PolicyCompileOptions(MonitorAttached: true, ExecNonce: nonce);
        if (meHere) CheckHandshakeSyscalls(options);
        byte[] bpf = meHere ? Policy.Compile(options).ToBytes() : CompiledPolicyCache.Compile(Policy, nonce);

        var (outsideUid, outsideGid) = OutsideIds();
        var rlimits = ex.Limits.ToRlimitOps();
        var env = new List<string>();
        if (ex.Environment is null) env.Add("PATH=" + Executor.DefaultPath);
        else
        {
            foreach (var (k, v) in ex.Environment)
            {
                if (k.Length == 0 || k.Contains('=', StringComparison.Ordinal) || k.Contains('\0', StringComparison.Ordinal) || v.Contains('\0', StringComparison.Ordinal))
                    throw new ArgumentException($"invalid environment variable name or value: '{k}'");
                env.Add(k + "=" + v);
            }
        }
        var mounts = Policy.Namespace.Mounts.Clone();
        SafeHandle programFd;
        if (ex.ProgramFd is { } fd)
        {
            programFd = fd;
        }
        else
        {
            var (path, error) = Executor.Resolve(ex.ProgramPath);
            if (error is not null) return new Prepared(null, default, error);
            programFd = Interop.OpenPath(path!);
            try
            {
                if (!mounts.Covers(path!, path!)) mounts.AddFileAt(path!, path!);
            }
            catch (PolicyException)
            {
                // The program's path is taken by another mount: it still runs (from its fd).
            }
        }

        var plan = new SandboxPlan
        {
            Namespaces = Policy.Namespace.CloneNamespaces,
            OutsideUid = outsideUid,
            OutsideGid = outsideGid,
            Hostname = Policy.Namespace.Hostname,
            LoopbackUp = Policy.Namespace.Network == NetworkMode.Loopback,
            Mounts = mounts.ToMountOps(),
            Rlimits = rlimits,
            Cwd = ex.Cwd,
            Argv = [ex.Argv0, .. ex.Args],
            Environment = env,
            ProgramFd = programFd,
            Fds = FdMappings(meHere),
            // SandboxMeHere: exec unfiltered (native installs nothing and sends no listener); the program gets the
            // filter over Comms and sends the listener back itself.
            Bpf = meHere ? [] : bpf,
            ExecNonce = nonce,
            NotifyListener = !meHere,
            SandboxBeforeExec = !meHere,
        };
        return new Prepared(plan, options, null, meHere ? bpf : null);
    }

    /// <summary>0/1/2, Comms at 1023 when open, and (before exec) the Ipc's mappings at their numbers.</summary>
    private List<FdMapping> FdMappings(bool meHere)
    {
        var ex = Executor;
        var fds = new SortedDictionary<int, SafeHandle>
        {
            [0] = ex.Stdin ?? new SafeFileHandle(0, ownsHandle: false),
            [1] = ex.Stdout ?? new SafeFileHandle(1, ownsHandle: false),
            [2] = ex.Stderr ?? new SafeFileHandle(2, ownsHandle: false),
        };
        if (!meHere)
        {
            foreach (var m in ex.Ipc.Mappings)
            {
                if (m.RemoteFd < 0)
                    throw new ArgumentException($"MapFd by name (\"{m.Name}\") needs EnableSandboxBeforeExec = false: names reach the program with SandboxMeHere");
                fds[m.RemoteFd] = m.Handle;
            }
        }
        if (_commsPeer is not null) fds[Comms.DefaultConnectionFd] = _commsPeer;
        return [.. fds.Select(kv => new FdMapping(kv.Key, kv.Value))];
    }

    /// <summary>After the filter is on, the client still sends (sendmsg on fd 1023) and closes the listener. The compile
    /// options allow both after the user's rules; a user rule that decides otherwise would make the handshake hang or
    /// die half-way, so it is refused here.</summary>
    private void CheckHandshakeSyscalls(PolicyCompileOptions options)
    {
        foreach (var (nr, name) in (ReadOnlySpan<(int, string)>)[(Policy.NrSendmsg, "sendmsg"), (Policy.NrClose, "close")])
        {
            var call = new Syscall(SyscallArch.X86_64, nr, [(ulong)Comms.DefaultConnectionFd, 0, 0, 0, 0, 0]);
            var action = Policy.Evaluate(call, options);
            if (action.Kind != SyscallActionKind.Allow)
                throw new PolicyException($"SandboxMeHere needs {name}(fd {Comms.DefaultConnectionFd}) to be allowed after the filter is installed, " +
                    $"but the policy makes it {action} ({Policy.Explain(call, options)})");
        }
    }

    private SandboxResult ToResult(NativeExitReport report, MonitoredSandbox monitored, bool attached, TimeSpan wall)
    {
        var usage = new SandboxUsage(wall, report.UserTime + report.SystemTime, report.MaxRssKb);
        if (report.SetupFailedStep is { } step)
        {
            string why = report.SetupErrno != 0 ? ": " + Marshal.GetPInvokeErrorMessage(report.SetupErrno) : "";
            string hint = step.StartsWith("execveat", StringComparison.Ordinal) && report.SetupErrno == 2
                ? " (is its ELF interpreter mounted? use AddLibrariesForBinary)"
                : step.StartsWith("bind", StringComparison.Ordinal) && report.SetupErrno == 13 // EACCES
                ? FormattableString.Invariant($" (the sandbox's mounts are made as host uid {OutsideIds().Uid}: it must be able to reach the source)")
                : "";
            return new SandboxResult(SandboxStatus.SetupError, $"setup failed: {step}{why}{hint}", ReasonCodeFor(step)) { Usage = usage };
        }
        var cause = (Cause)Volatile.Read(ref _cause);
        // Status is write-once, first cause wins (Sandbox2): a violation reported after a timeout or kill was
        // decided (e.g. the interrupted sleep restarting for the stack trace) does not change it.
        if (monitored.Violation is { } v && cause is Cause.None or Cause.Violation)
        {
            var violation = Violation.From(v);
            return new SandboxResult(SandboxStatus.Violation, violation.Description,
                v.Type == ViolationType.ArchitectureSwitch ? "VIOLATION_ARCH" : "VIOLATION_SYSCALL")
            { Violation = violation, StackTrace = v.StackTrace, Usage = usage };
        }
        if (report.Killed && cause == Cause.Timeout)
            return new SandboxResult(SandboxStatus.Timeout, $"wall-time limit exceeded after {wall.TotalSeconds:0.###} s") { Usage = usage, StackTrace = _killStackTrace };
        if (report.Killed && cause == Cause.External)
            return new SandboxResult(SandboxStatus.ExternalKill, "killed on request") { Usage = usage, StackTrace = _killStackTrace };
        if (report.ExitCode is { } code)
            return new SandboxResult(SandboxStatus.Ok, $"exited with code {code}") { ExitCode = code, Usage = usage };
        if (report.Signal is { } sig)
        {
            if (sig == 31 && !attached) // SIGSYS from SECCOMP_RET_KILL_PROCESS: no monitor saw the syscall
                return new SandboxResult(SandboxStatus.Violation, "killed by the seccomp policy (SIGSYS); the syscall was not reported", "VIOLATION_SYSCALL") { Usage = usage };
            return new SandboxResult(SandboxStatus.Signaled, $"killed by signal {sig} ({Signals.Name(sig)})") { Signal = sig, Usage = usage };
        }
        return new SandboxResult(SandboxStatus.InternalError, "the sandbox ended without an exit status", "FAILED_WAIT") { Usage = usage };
    }

    /// <summary>The host ids the sandbox's uid/gid 1000 map to: the executor's, or 65534 (nobody) when it is root.</summary>
    private static (uint Uid, uint Gid) OutsideIds()
    {
        uint euid = Interop.GetEUid();
        return euid == 0 ? (65534u, 65534u) : (euid, Interop.GetEGid());
    }

    private static string ReasonCodeFor(string step)
    {
        foreach (var (prefix, code) in (ReadOnlySpan<(string, string)>)
            [("setrlimit", "FAILED_LIMITS"), ("chdir", "FAILED_CWD"), ("seccomp", "FAILED_POLICY"), ("execveat", "FAILED_SUBPROCESS"),
             ("dup2", "FAILED_IPC"), ("sandbox init ended", "FAILED_SUBPROCESS"), ("reading the sandbox", "FAILED_COMMS")])
            if (step.StartsWith(prefix, StringComparison.Ordinal)) return code;
        return "FAILED_NAMESPACES"; // maps, hostname, mounts, pivot_root, capabilities
    }

    /// <summary>Kills the sandbox if it still runs and waits for it to end.</summary>
    public async ValueTask DisposeAsync()
    {
        Task<SandboxResult>? run;
        lock (_gate) run = _run;
        if (run is not null && !run.IsCompleted)
        {
            KillWith(Cause.External);
            try { await run.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
        _comms?.Dispose();
        _commsPeer?.Dispose();
    }
}
