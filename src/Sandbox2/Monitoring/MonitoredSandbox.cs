using System.Runtime.InteropServices;

namespace Sandbox2;

/// <summary>
/// The monitor's view of one sandbox run under a <see cref="Policy"/> compiled with
/// <c>PolicyCompileOptions.MonitorAttached</c>: the policy model tells a <i>trace</i> rule from a violation
/// (<see cref="Policy.Evaluate(Syscall, PolicyCompileOptions)"/>), the kill action ends the whole sandbox,
/// and the first violation is kept for the result.
/// </summary>
internal sealed class MonitoredSandbox(
    Policy policy,
    PolicyCompileOptions options,
    Notify? notify,
    bool stackTraceOnViolation,
    Action kill,
    CancellationToken cancellation = default) : IMonitoredSandbox
{
    private readonly TaskCompletionSource<MonitorViolation> _violation = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The violation, once reported (always before the kill).</summary>
    public MonitorViolation? Violation => _violation.Task.IsCompletedSuccessfully ? _violation.Task.Result : null;

    /// <summary>Completes when a violation is reported.</summary>
    public Task<MonitorViolation> ViolationReported => _violation.Task;

    /// <summary>Waits for the sandbox's seccomp listener (sent before exec) and registers it with
    /// <paramref name="monitor"/> (default: <see cref="Monitor.Shared"/>). Returns null when the sandbox ended without
    /// sending one. Dispose the result when the sandbox has ended: it unregisters and closes the listener.</summary>
    public async Task<IDisposable?> AttachAsync(SpawnedSandbox spawned, Monitor? monitor = null)
    {
        ArgumentNullException.ThrowIfNull(spawned);
        var listener = await spawned.SeccompListener.ConfigureAwait(false);
        if (listener is null) return null;
        return Attach(listener, monitor);
    }

    /// <summary>Registers a listener obtained another way (the SandboxMeHere handshake) with <paramref name="monitor"/>
    /// (default: <see cref="Monitor.Shared"/>); takes ownership of <paramref name="listener"/>. Dispose the result when the
    /// sandbox has ended.</summary>
    public IDisposable Attach(SafeHandle listener, Monitor? monitor = null)
    {
        ArgumentNullException.ThrowIfNull(listener);
        // Learn mode notifies every syscall: ask for synchronous wake-ups (best effort; older kernels say EINVAL).
        if (notify is SyscallRecorder)
            _ = Interop.SeccompNotifSetFlags(listener, Interop.SECCOMP_IOCTL_NOTIF_SET_FLAGS, Interop.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
        try
        {
            return new Attachment((monitor ?? Monitor.Shared).Register(listener, this), listener);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    private sealed class Attachment(IDisposable registration, SafeHandle listener) : IDisposable
    {
        public void Dispose()
        {
            registration.Dispose(); // the loop drops its reference first; the fd closes when the last one goes
            listener.Dispose();
        }
    }

    public bool IsTraced(Syscall syscall) => policy.Evaluate(syscall, options).IsTraced;

    /// <summary>Per syscall number below <see cref="FastPathNumbers"/>: 0 = not looked at yet, 1 = every call is traced
    /// (one unconditional trace rule), 2 = anything else (the usual path decides).</summary>
    private readonly byte[] _unconditionallyTraced = new byte[FastPathNumbers];
    private const int FastPathNumbers = 1024;

    public bool TryRecordAndAllow(int nr, ReadOnlySpan<ulong> args, int pid)
    {
        if (notify is not SyscallRecorder recorder || (uint)nr >= FastPathNumbers) return false;
        byte known = _unconditionallyTraced[nr];
        if (known == 0)
        {
            var chain = policy.GetChain((uint)nr, options);
            known = chain.Count == 1 && chain[0].Action.IsTraced ? (byte)1 : (byte)2;
            _unconditionallyTraced[nr] = known; // only the loop thread writes; a repeat computes the same value
        }
        if (known != 1) return false;
        recorder.Record(nr, args, pid);
        return true;
    }
    /// <summary>The sandbox's init, when it traces the main thread (whose traces must then be asked of it).</summary>
    public InitTracer? Tracer { get; init; }

    /// <summary>Traces cover every thread of the process (<see cref="StackTraceOptions.AllThreads"/>).</summary>
    public bool AllThreads { get; init; }

    public Task<IReadOnlyList<string>> CollectStackTraceAsync(int tid, TimeSpan budget) => StackTrace.CollectAsync(tid, budget, Tracer, AllThreads);
    public Notify? Notify => notify;
    public bool StackTraceOnViolation => stackTraceOnViolation;
    public CancellationToken Cancellation => cancellation;
    public void OnViolation(MonitorViolation violation)
    {
        ReportedLatencyMicroseconds = System.Diagnostics.Stopwatch.GetElapsedTime(violation.ReceivedTimestamp).TotalMicroseconds;
        _violation.TrySetResult(violation);
    }

    /// <summary>Notification received → violation recorded here (the result is available), in µs.</summary>
    public double ReportedLatencyMicroseconds { get; private set; }
    public void Kill() => kill();
}
