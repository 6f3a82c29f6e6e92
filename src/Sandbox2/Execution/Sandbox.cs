using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Sandbox2;

/// <summary>
/// One sandbox: an <see cref="Executor"/> run under a <see cref="Policy"/> (Sandbox2's <c>Sandbox2</c> object).
/// The program starts from the global forkserver in new namespaces with the policy installed before exec; the
/// shared <see cref="Monitor"/> reports violations precisely. Outcomes of the sandboxee are results, never
/// exceptions; programmer errors (a second start, a bad argument) throw.
/// </summary>
/// <remarks>This class is the lifecycle only (run, kill, wait, dispose), like Sandbox2's <c>sandbox2.cc</c>: the
/// plan comes from <see cref="Executor"/>, the outcome is decided once in a <see cref="SandboxOutcome"/>.</remarks>
public sealed partial class Sandbox : IAsyncDisposable
{
    /// <summary>How long a sandboxee that closed its Comms channel before SandboxMeHere may take to exit on its own.</summary>
    private static readonly TimeSpan HandshakeHangupGrace = TimeSpan.FromSeconds(1);

    /// <summary>How long a stack trace on timeout or kill may take before the kill goes ahead without it.</summary>
    private static readonly TimeSpan KillStackTraceBudget = Monitor.StackTraceBudget + TimeSpan.FromMilliseconds(250); // a safety net: the trace keeps its own budget

    private readonly Notify? _notify;
    private readonly Lock _gate = new();
    private readonly SandboxOutcome _outcome = new();
    private readonly TaskCompletionSource<bool> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _clock = new();
    private Task<SandboxResult>? _run;
    private SpawnedSandbox? _spawned;
    private Monitor.MonitorTimer? _wallTimer; // in the monitor's epoll set: the verdict needs no thread-pool thread
    private TimeSpan? _pendingWallTime;
    private Comms? _comms;
    private SafeSocketHandle? _commsPeer;
    private ExecutionPlan? _plan;
    private SetupFailure? _startFailure;
    private bool _policyNeverApplied; // SandboxMeHere mode: the program ended without applying its policy

    /// <summary>Creates a sandbox for <paramref name="executor"/> under <paramref name="policy"/>.</summary>
    /// <param name="executor">What to run (one executor, one sandbox).</param>
    /// <param name="policy">The built policy.</param>
    /// <param name="notify">Optional hooks (Sandbox2's <c>Notify</c>).</param>
    public Sandbox(Executor executor, Policy policy, Notify? notify = null)
    {
        Executor = executor ?? throw new ArgumentNullException(nameof(executor));
        Policy = policy ?? throw new ArgumentNullException(nameof(policy));
        _notify = notify;
        _pendingWallTime = executor.Limits.WallTime;
        if (!executor.EnableSandboxBeforeExec || executor.EnableComms)
        {
            try
            {
                _comms = Comms.CreateWithPeer(out _commsPeer);
            }
            catch (CommsException e)
            {
                _startFailure = new SetupFailure($"creating the Comms channel: {e.Message}", 0, ReasonCode.FailedResources); // reported by RunAsync
            }
        }
    }

    /// <summary>What runs.</summary>
    public Executor Executor { get; }

    /// <summary>The policy it runs under.</summary>
    public Policy Policy { get; }

    /// <summary>The executor's end of the Comms channel whose other end is fd 1023 in the program (Sandbox2's
    /// <c>comms()</c>); null unless <see cref="Executor.EnableComms"/> or <see cref="Executor.EnableSandboxBeforeExec"/> =
    /// false. In SandboxMeHere mode the handshake uses it first: the program's own messages come after it. Usable after
    /// the sandbox ended (to read what it sent); disposed with the sandbox.</summary>
    /// <exception cref="InvalidOperationException">SandboxMeHere mode and <see cref="Ready"/> has not completed: the
    /// handshake owns the channel until then (a message sent now would break it).</exception>
    public Comms? Comms => Executor.EnableSandboxBeforeExec || _ready.Task.IsCompleted ? _comms
        : throw new InvalidOperationException("Sandbox.Comms is used by the SandboxMeHere handshake until the sandbox is Ready: await sandbox.Ready first");

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
    public void Kill() => End(EndCause.ExternalKill(), Policy.StackTraces.OnKill);

    /// <summary>Sets (re-arms) the wall-time limit, counted from now; null disarms it.</summary>
    public void SetWallTimeLimit(TimeSpan? limit)
    {
        if (limit is { } l && l <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(limit), limit, "must be positive");
        lock (_gate)
        {
            _pendingWallTime = limit;
            _wallTimer?.Change(limit);
        }
    }

    /// <summary>Decides the outcome (if nothing decided it first) and ends the sandbox, after its stack trace when asked.</summary>
    private void End(EndCause cause, bool stackTrace = false)
    {
        bool first = _outcome.TrySet(cause);
        SpawnedSandbox? running;
        lock (_gate) running = _spawned;
        if (running is null) return; // not started yet: the start sees the cause and kills at once
        if (first && stackTrace) _ = CollectStackTraceThenKillAsync(running);
        else running.Kill();
    }

    private void OnWallTime() => End(EndCause.Timeout(_clock.Elapsed), Policy.StackTraces.OnTimeout);

    /// <summary>Timeout / kill with stack traces on: the main thread's trace (collected off the monitor's event loop, within
    /// <see cref="KillStackTraceBudget"/>), then the kill. A backstop on the monitor's loop kills at the budget whatever the
    /// trace or the thread pool do.</summary>
    private async Task CollectStackTraceThenKillAsync(SpawnedSandbox running)
    {
        using var backstop = Monitor.Shared.After(KillStackTraceBudget, running.Kill);
        try
        {
            var tracer = running.Tracer;
            int? pid = tracer is not null && await tracer.TracesAsync(-1, Monitor.StackTraceBudget / 4).ConfigureAwait(false) is var _ && tracer.SandboxeePid is int traced
                ? traced : StackTrace.FindSandboxee(running.InitPid);
            _outcome.SetStackTrace(pid is int p
                ? await StackTrace.CollectAsync(p, Monitor.StackTraceBudget, tracer, Policy.StackTraces.AllThreads).WaitAsync(KillStackTraceBudget).ConfigureAwait(false)
                : ["(no stack trace: the sandboxee (pid 2) was not found)"]);
        }
        catch (TimeoutException)
        {
            _outcome.SetStackTrace([FormattableString.Invariant($"(no stack trace: it was not collected within {KillStackTraceBudget.TotalMilliseconds:0} ms)")]);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException or UnauthorizedAccessException)
        {
            _outcome.SetStackTrace([$"(no stack trace: {e.Message})"]);
        }
        finally { running.Kill(); }
    }

    private async Task<SandboxResult> RunCoreAsync(CancellationToken cancellationToken)
    {
        _clock.Start();
        SandboxResult result;
        try
        {
            AttachOutputPipes();
            result = await RunStagesAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _plan?.RemovePrivateDirectory();
            _plan?.Stdio?.Restore(); // the sandboxee may have set O_NONBLOCK on the caller's terminal
            _plan?.HostIds?.Dispose(); // every process of the sandbox has gone: its host uid is free again
            CloseOutputPipeWriters();
            _ready.TrySetResult(false);
            lock (_gate) _wallTimer?.Dispose();
            Executor.Ipc.Dispose(); // the sandbox has its copies (or never will)
            _commsPeer?.Dispose();
        }
        // What held: only for a sandbox that ran (a setup error held nothing).
        if (result.Status != SandboxStatus.SetupError && _plan?.Isolation is { } isolation)
            result.Isolation = isolation with { Cgroup = result.Isolation.Cgroup, Seccomp = isolation.Seccomp && !_policyNeverApplied };
        SandboxDiagnostics.Ended(Executor, _spawned?.InitPid, started: _spawned is not null, result);
        await SandboxDiagnostics.FinishedAsync(_notify, Executor, result).ConfigureAwait(false); // a throwing hook is logged, the result kept
        return result;
    }

    private async Task<SandboxResult> RunStagesAsync(CancellationToken cancellationToken)
    {
        ExecutionPlan plan;
        if (_startFailure is not null) return SandboxOutcome.FromFailure(_startFailure);
        try
        {
            if (!Executor.EnableSandboxBeforeExec && _comms is null) _comms = Comms.CreateWithPeer(out _commsPeer);
            var (created, error) = Executor.CreatePlan(Policy, _commsPeer);
            if (error is not null) return error;
            plan = _plan = created!;
        }
        catch (ResourceExhaustedException e)
        {
            return SandboxOutcome.FromFailure(e.Failure);
        }
        catch (CommsException e)
        {
            return SandboxOutcome.FromFailure(new SetupFailure($"creating the Comms channel: {e.Message}", 0, ReasonCode.FailedResources));
        }
        catch (Exception e) when (e is PolicyException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            return new SandboxResult(SandboxStatus.SetupError, e.Message, e is PolicyException ? ReasonCode.FailedPolicy : ReasonCode.FailedConfig);
        }
        using var cgroup = plan.Cgroup; // removed when the sandbox has ended (or never started)
        using var output = plan.Output;

        SpawnedSandbox spawned;
        try
        {
            spawned = await ForkServer.Global.SpawnAsync(plan.Plan, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _outcome.TrySet(EndCause.ExternalKill("cancelled before the sandbox started"));
            return _outcome.Finish(_clock.Elapsed);
        }
        catch (ForkServerException e) when (e.Failure is { } failure)
        {
            return SandboxOutcome.FromFailure(failure);
        }
        catch (Exception e) when (e is ForkServerException or ArgumentException or IOException)
        {
            return new SandboxResult(SandboxStatus.SetupError, e.Message, ReasonCode.FailedSubprocess);
        }
        finally
        {
            plan.Plan.ProgramFd.Dispose(); // ours, or the executor's (it took ownership; an executor runs once)
            foreach (var m in plan.Plan.Mounts) m.SourceHandle?.Dispose(); // the binds are made (or never will be)
            cgroup?.ClosePlacements(); // init is in it (or never will be)
            output?.CloseWriteEnds(); // the sandbox has them: EOF when it ends
            _commsPeer?.Dispose(); // the sandboxee has it now
        }

        SandboxDiagnostics.Started(Executor, spawned.InitPid, _clock.Elapsed);
        using (spawned)
        {
            lock (_gate)
            {
                _spawned = spawned;
                if (_pendingWallTime is { } wall)
                {
                    _wallTimer = Monitor.Shared.CreateTimer(OnWallTime);
                    _wallTimer.Change(wall);
                }
            }
            if (_outcome.Cause is not null) spawned.Kill(); // decided before the start (Kill, DisposeAsync)
            cgroup?.Watch(Executor.Limits.CpuTime, cause => End(cause));
            var pump = output?.PumpAsync(() => End(EndCause.OutputLimit(Executor.Limits.OutputSize!.Value)), CancellationToken.None);
            using var cancelRegistration = cancellationToken.UnsafeRegister(static s => ((Sandbox)s!).Kill(), this);

            MonitoredSandbox? monitored = null;
            monitored = new MonitoredSandbox(Policy, plan.Options, _notify, Policy.StackTraces.OnViolation, OnViolation)
            {
                Tracer = spawned.Tracer,
                AllThreads = Policy.StackTraces.AllThreads,
            };
            // SandboxMeHere: EventStarted comes first and may use Comms (the program may talk before its handshake).
            bool meHere = plan.HandshakeBpf is not null;
            bool accepted = !meHere || _notify is null || await EventStartedAsync(spawned, cancellationToken).ConfigureAwait(false);
            using var attachment = accepted ? await AttachMonitorAsync(spawned, monitored, plan, cancellationToken).ConfigureAwait(false) : null;
            if (!meHere && attachment is not null && _notify is not null) await EventStartedAsync(spawned, cancellationToken).ConfigureAwait(false);
            _ready.TrySetResult(attachment is not null && _outcome.Cause is null);
            _policyNeverApplied = plan.HandshakeBpf is not null && attachment is null;
            var report = await spawned.Completion.ConfigureAwait(false);
            if (spawned.Tracer?.ExitTrace is { } exitTrace) _outcome.SetStackTrace(exitTrace); // taken as it died (init held it)
            lock (_gate) _wallTimer?.Dispose();
            var counted = cgroup?.ReadUsage();
            if (counted is { OomKills: > 0 }) _outcome.TrySet(EndCause.OutOfMemory());
            if (pump is not null)
            {
                // Every writer is gone with the sandbox, so the pipes are at EOF; bounded all the same.
                try { await pump.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false); }
                catch (TimeoutException) { }
            }
            return _outcome.Finish(report, attachment is not null, _clock.Elapsed, cgroup?.Version, counted);

            // The monitor reports the violation, then asks for the kill: the violation decides the outcome if nothing did first.
            void OnViolation()
            {
                if (monitored?.Violation is { } v) _outcome.TrySet(EndCause.ForViolation(v));
                spawned.Kill();
            }
        }
    }

    /// <summary>Calls <see cref="Notify.EventStartedAsync(int, Comms?, CancellationToken)"/>; a refusal (or a throw) ends
    /// the sandbox with SETUP_ERROR. Returns whether it accepted.</summary>
    private async Task<bool> EventStartedAsync(SpawnedSandbox spawned, CancellationToken cancellationToken)
    {
        string? why = null;
        try
        {
            if (!await _notify!.EventStartedAsync(spawned.InitPid, _comms, cancellationToken).ConfigureAwait(false))
                why = "Notify.EventStarted refused the sandbox";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            why = $"Notify.EventStarted threw: {e.Message}";
        }
        if (why is null) return true;
        End(EndCause.SetupError(ReasonCode.FailedNotify, why));
        return false;
    }

    /// <summary>Attaches the monitor to the sandbox's seccomp listener: the one sent before exec, or (SandboxMeHere) the
    /// one the handshake returns. Null when there is none (the sandbox ended first, or the outcome is already decided).</summary>
    private async Task<IDisposable?> AttachMonitorAsync(SpawnedSandbox spawned, MonitoredSandbox monitored, ExecutionPlan plan, CancellationToken cancellationToken)
    {
        try
        {
            if (plan.HandshakeBpf is null) return await monitored.AttachAsync(spawned).ConfigureAwait(false);
            var listener = await HandshakeAsync(spawned, plan.HandshakeBpf, cancellationToken).ConfigureAwait(false);
            return listener is null ? null : monitored.Attach(listener);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or ObjectDisposedException)
        {
            End(EndCause.SetupError(ReasonCode.FailedMonitor, $"cannot attach the monitor: {e.Message}"));
            return null;
        }
    }

    /// <summary>SandboxMeHere mode: runs the handshake on <see cref="Comms"/> while the sandboxee runs unfiltered.
    /// Returns the listener; on failure decides the outcome (unless the sandbox simply ended: its exit is reported) and
    /// returns null.</summary>
    private async Task<SafeHandle?> HandshakeAsync(SpawnedSandbox spawned, byte[] bpf, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The sandbox's end closes fd 1023 (EOF after what the program sent, which is still read); should anything
        // still hold it, the end of the sandbox ends the handshake shortly after.
        _ = spawned.Completion.ContinueWith(static (_, s) => { try { ((CancellationTokenSource)s!).CancelAfter(HandshakeHangupGrace); } catch (ObjectDisposedException) { } },
            stop, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            var outcome = await ClientHandshake.RunAsync(_comms!, bpf, Executor.Ipc.Mappings, Executor.Cwd, notifyListener: true, speculationAllowed: Policy.AllowsSpeculation, stop.Token).ConfigureAwait(false);
            if (outcome.FailureReason is { } why)
            {
                End(EndCause.SetupError(ReasonCode.FailedSandboxMeHere, $"SandboxMeHere failed: {why}"));
                return null;
            }
            return outcome.Listener;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return null; // the sandbox ended (reported from its exit) or was cancelled/timed out (already decided)
        }
        catch (CommsException e)
        {
            if (e.Error is CommsError.Closed or CommsError.Truncated)
            {
                // The channel closed: the program exited (report that) or closed fd 1023 and runs on unfiltered (stop it).
                var first = await Task.WhenAny(spawned.Completion, Task.Delay(HandshakeHangupGrace, CancellationToken.None)).ConfigureAwait(false);
                if (first != spawned.Completion)
                    End(EndCause.SetupError(ReasonCode.FailedSandboxMeHere, "the program closed its Comms channel (fd 1023) without calling SandboxMeHere"));
                return null;
            }
            End(EndCause.SetupError(ReasonCode.FailedComms, $"SandboxMeHere handshake failed: {e.Message}"));
            return null;
        }
    }

    /// <summary>Kills the sandbox if it still runs and waits for it to end.</summary>
    public async ValueTask DisposeAsync()
    {
        Task<SandboxResult>? run;
        lock (_gate) run = _run;
        if (run is not null && !run.IsCompleted)
        {
            End(EndCause.ExternalKill());
            try { await run.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
        _comms?.Dispose();
        _commsPeer?.Dispose();
        DisposeOutputPipes();
    }
}
