using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2;

/// <summary>
/// The seccomp user-notification monitor: ONE dedicated thread running an epoll loop over every sandbox's
/// listener fd (plus an eventfd for wake-ups), however many sandboxes run. It turns a notification into a
/// trace answer (allow / errno / deny) or a precise violation, and kills the sandbox on a violation — it never
/// lets a violating syscall run. Nothing the sandboxee controls runs on the loop thread: trace and violation hooks
/// run on the thread pool, stack traces on tracer threads of their own (<see cref="StackTrace.CollectAsync(int, TimeSpan)"/>) within
/// a time budget, after which the violation is reported with an "unavailable" trace.
/// </summary>
/// <remarks>
/// If the monitor (or its process) goes away, the kernel fails every pending and future notified syscall with
/// ENOSYS instead of running it (seccomp_notify_release): the forbidden syscall still never runs. The sandbox
/// does not live on either: the forkserver exits on control-socket EOF and every sandbox init has
/// PDEATHSIG=SIGKILL, which tears the pid namespace down.
/// </remarks>
internal sealed class Monitor : IDisposable
{
    private static readonly Lazy<Monitor> s_shared = new(() => new Monitor());

    /// <summary>The process-wide monitor, started on first use.</summary>
    public static Monitor Shared => s_shared.Value;

    private const ulong WakeToken = 0;
    private const int MaxEvents = 64;

    private readonly SafeFileHandle _epoll;
    private readonly SafeFileHandle _wake;
    private readonly Thread _thread;
    private readonly ConcurrentQueue<Action> _work = new();
    private readonly ConcurrentDictionary<ulong, Entry> _entries = new();
    private long _nextToken;
    private volatile bool _stopping;
    private int _loopThreadId;

    public Monitor()
    {
        int ep = Interop.EpollCreate1(Interop.EPOLL_CLOEXEC);
        if (ep < 0) throw new InvalidOperationException($"monitor: epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
        _epoll = new SafeFileHandle(ep, ownsHandle: true);
        int ev = Interop.EventFd(0, Interop.EFD_CLOEXEC | Interop.EFD_NONBLOCK);
        if (ev < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            _epoll.Dispose();
            throw new InvalidOperationException($"monitor: eventfd failed: errno {errno}");
        }
        _wake = new SafeFileHandle(ev, ownsHandle: true);
        var e = new Interop.EpollEvent { Events = Interop.EPOLLIN, Data = WakeToken };
        if (Interop.EpollCtl(_epoll, Interop.EPOLL_CTL_ADD, _wake, ref e) != 0)
            throw new InvalidOperationException($"monitor: epoll_ctl(eventfd) failed: errno {Marshal.GetLastPInvokeError()}");
        _thread = new Thread(Loop) { IsBackground = true, Name = "sandbox2-monitor" };
        _thread.Start();
    }

    /// <summary>Number of listeners and fd watches currently registered.</summary>
    public int RegisteredCount => _entries.Count;

    /// <summary>The OS thread id of the loop thread (for tests and benchmarks).</summary>
    public int LoopThreadId => Volatile.Read(ref _loopThreadId);

    /// <summary>Serve the seccomp listener of one sandbox. The listener stays owned by the caller, who must dispose
    /// the returned registration (after killing the sandbox) before closing it. The registration ends by itself
    /// when every process using the filter has exited (POLLHUP).</summary>
    public IDisposable Register(SafeHandle listener, IMonitoredSandbox target)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(target);
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (target.StackTraceOnViolation) _ = StackTrace.WarmUp();
        var entry = new ListenerEntry(this, (ulong)Interlocked.Increment(ref _nextToken), listener, target);
        Add(entry, Interop.EPOLLIN);
        return entry;
    }

    /// <summary>Completes when <paramref name="fd"/> becomes readable (e.g. a pidfd whose process exited).
    /// One-shot; no thread waits for it.</summary>
    public Task WaitReadableAsync(SafeHandle fd, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fd);
        ObjectDisposedException.ThrowIf(_stopping, this);
        var entry = new WatchEntry(this, (ulong)Interlocked.Increment(ref _nextToken), fd);
        Add(entry, Interop.EPOLLIN | Interop.EPOLLONESHOT);
        if (cancellationToken.CanBeCanceled)
        {
            var reg = cancellationToken.Register(static s =>
            {
                var w = (WatchEntry)s!;
                w.Owner.Remove(w); // leaves the table before the waiter resumes
                w.Completion.TrySetCanceled();
            }, entry);
            entry.Completion.Task.ContinueWith(static (_, r) => ((CancellationTokenRegistration)r!).Dispose(), reg, TaskScheduler.Default);
        }
        return entry.Completion.Task;
    }

    /// <summary>A one-shot timer in the loop's own epoll set (a CLOCK_MONOTONIC timerfd), disarmed until
    /// <see cref="MonitorTimer.Change"/>: <paramref name="onFire"/> runs on the loop thread, so no thread pool (which a
    /// sandbox keeping every CPU busy can starve) stands between the deadline and the kill. It must be short and must not
    /// block (a kill, a post). Dispose it when done.</summary>
    public MonitorTimer CreateTimer(Action onFire)
    {
        ArgumentNullException.ThrowIfNull(onFire);
        ObjectDisposedException.ThrowIf(_stopping, this);
        int raw = Interop.TimerFdCreate(Interop.CLOCK_MONOTONIC, Interop.TFD_CLOEXEC | Interop.TFD_NONBLOCK);
        if (raw < 0) throw new InvalidOperationException($"monitor: timerfd_create failed: errno {Marshal.GetLastPInvokeError()}");
        var fd = new SafeFileHandle(raw, ownsHandle: true);
        var entry = new TimerEntry(this, (ulong)Interlocked.Increment(ref _nextToken), fd, onFire);
        try { Add(entry, Interop.EPOLLIN); }
        catch
        {
            fd.Dispose();
            throw;
        }
        return new MonitorTimer(entry);
    }

    /// <summary>Runs <paramref name="action"/> on the loop thread once <paramref name="delay"/> has passed; disposing the
    /// result cancels it.</summary>
    public IDisposable After(TimeSpan delay, Action action)
    {
        MonitorTimer? timer = null;
        timer = CreateTimer(() =>
        {
            try { action(); }
            finally { timer?.Dispose(); }
        });
        timer.Change(delay);
        return timer;
    }

    /// <summary>A timer of <see cref="CreateTimer"/>.</summary>
    internal sealed class MonitorTimer : IDisposable
    {
        private readonly TimerEntry _entry;

        internal MonitorTimer(TimerEntry entry) => _entry = entry;

        /// <summary>Arms the timer to fire once after <paramref name="dueTime"/> (counted from now; at least 1 ns), or
        /// disarms it (null). Safe from any thread; a no-op once disposed.</summary>
        public void Change(TimeSpan? dueTime)
        {
            var spec = default(Interop.ITimerSpec);
            if (dueTime is { } due)
            {
                long ns = Math.Max(1, due.Ticks * 100);
                spec.ValueSeconds = ns / 1_000_000_000;
                spec.ValueNanoseconds = ns % 1_000_000_000;
            }
            try { Interop.TimerFdSetTime(_entry.Handle, 0, ref spec, 0); }
            catch (ObjectDisposedException) { }
        }

        /// <summary>Stops the timer (it never fires after this returns on the loop thread; from another thread, a firing
        /// already under way may still finish) and closes its timerfd.</summary>
        public void Dispose() => _entry.Owner.Remove(_entry);
    }

    /// <summary>Time budget of one stack trace: past it the trace is one "(stack trace unavailable: …)" line and the
    /// verdict is reported (a violating thread is held meanwhile; a timed-out or killed sandbox is killed after its
    /// trace). A trace takes a few ms; the first parse of a large library tens of ms, many times that on a machine
    /// loaded far beyond its cores — hence a budget well above the usual cost.</summary>
    public static readonly TimeSpan StackTraceBudget = TimeSpan.FromSeconds(2);

    /// <summary>Compiles the stack-trace code ahead of the first trace (JIT only; done when a sandbox with stack traces
    /// registers); completes when done.</summary>
    public static Task WarmUpStackTraces() => StackTrace.WarmUp();

    /// <summary>Run <paramref name="action"/> on the loop thread.</summary>
    public void Post(Action action)
    {
        _work.Enqueue(action);
        Wake();
    }

    private void Add(Entry entry, uint events)
    {
        bool added = false;
        entry.Handle.DangerousAddRef(ref added);
        _entries[entry.Token] = entry;
        var e = new Interop.EpollEvent { Events = events, Data = entry.Token };
        if (Interop.EpollCtl(_epoll, Interop.EPOLL_CTL_ADD, entry.Handle, ref e) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            _entries.TryRemove(entry.Token, out _);
            entry.Handle.DangerousRelease();
            throw new InvalidOperationException($"monitor: cannot watch fd (epoll_ctl ADD failed: errno {errno})");
        }
    }

    /// <summary>Stop watching an entry. It leaves the table at once; the epoll removal and the fd reference release
    /// happen on the loop thread (never while the loop may be using the fd).</summary>
    private void Remove(Entry entry)
    {
        if (Interlocked.Exchange(ref entry.Removed, 1) != 0) return;
        _entries.TryRemove(entry.Token, out _);
        if (Environment.CurrentManagedThreadId == _thread.ManagedThreadId || _stopping) RemoveNow(entry);
        else Post(() => RemoveNow(entry));
    }

    private void RemoveNow(Entry entry)
    {
        if (Interlocked.Exchange(ref entry.Released, 1) != 0) return;
        _entries.TryRemove(entry.Token, out _);
        var e = default(Interop.EpollEvent);
        if (!_epoll.IsClosed) Interop.EpollCtl(_epoll, Interop.EPOLL_CTL_DEL, entry.Handle, ref e);
        entry.Handle.DangerousRelease();
        entry.OnRemoved();
    }

    private void Wake()
    {
        ulong one = 1;
        try { Interop.EventFdWrite(_wake, ref one, 8); }
        catch (ObjectDisposedException) { }
    }

    private unsafe void Loop()
    {
        Volatile.Write(ref _loopThreadId, Interop.GetTid());
        var events = stackalloc Interop.EpollEvent[MaxEvents];
        while (!_stopping)
        {
            int n = Interop.EpollWait(_epoll, events, MaxEvents, -1);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == 4 /* EINTR */) continue;
                SandboxDiagnostics.MonitorError($"epoll_wait failed: errno {errno}", null);
                Thread.Sleep(10);
                continue;
            }
            for (int i = 0; i < n; i++)
            {
                ulong token = events[i].Data;
                if (token == WakeToken)
                {
                    ulong value = 0;
                    Interop.EventFdRead(_wake, ref value, 8);
                    continue;
                }
                if (!_entries.TryGetValue(token, out var entry) || entry.Removed != 0) continue;
                try { entry.OnEvents(events[i].Events); }
                catch (Exception ex) { SandboxDiagnostics.MonitorError("an event handler threw", ex); }
            }
            while (_work.TryDequeue(out var work))
            {
                try { work(); }
                catch (Exception ex) { SandboxDiagnostics.MonitorError("an event handler threw", ex); }
            }
        }
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        Wake();
        if (Environment.CurrentManagedThreadId != _thread.ManagedThreadId) _thread.Join();
        while (_work.TryDequeue(out var work))
        {
            try { work(); }
            catch (Exception ex) { SandboxDiagnostics.MonitorError("an event handler threw", ex); }
        }
        foreach (var entry in _entries.Values)
        {
            Interlocked.Exchange(ref entry.Removed, 1);
            RemoveNow(entry);
        }
        _wake.Dispose();
        _epoll.Dispose();
    }

    /// <summary>One watched fd.</summary>
    internal abstract class Entry(Monitor owner, ulong token, SafeHandle handle)
    {
        public Monitor Owner { get; } = owner;
        public ulong Token { get; } = token;
        public SafeHandle Handle { get; } = handle;
        public int Removed;
        public int Released;
        public abstract void OnEvents(uint events);
        public virtual void OnRemoved() { }
    }

    private sealed class WatchEntry(Monitor owner, ulong token, SafeHandle handle) : Entry(owner, token, handle)
    {
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void OnEvents(uint events)
        {
            _fired = true;
            Owner.Remove(this); // leaves the table before the waiter resumes
            Completion.TrySetResult();
        }

        private bool _fired;

        public override void OnRemoved()
        {
            if (!_fired) Completion.TrySetCanceled();
        }
    }

    /// <summary>One timerfd: reads its expiry count, then runs the action on the loop thread.</summary>
    internal sealed class TimerEntry(Monitor owner, ulong token, SafeFileHandle handle, Action onFire) : Entry(owner, token, handle)
    {
        public override void OnEvents(uint events)
        {
            ulong expirations = 0;
            if (Interop.EventFdRead(Handle, ref expirations, 8) != 8) return; // EAGAIN: re-armed or disarmed meanwhile
            onFire();
        }

        public override void OnRemoved() => Handle.Dispose();
    }

    /// <summary>One sandbox's seccomp listener.</summary>
    private sealed class ListenerEntry(Monitor owner, ulong token, SafeHandle handle, IMonitoredSandbox target)
        : Entry(owner, token, handle), IDisposable
    {
        private readonly IMonitoredSandbox _target = target;
        /// <summary>Set once a violation is being handled: later notifications are received and left unanswered
        /// (their threads stay held until the kill lands).</summary>
        private int _ended;

        public void Dispose() => Owner.Remove(this);

        public override void OnEvents(uint events)
        {
            if ((events & Interop.EPOLLIN) != 0)
            {
                ReceiveOne();
                return; // level-triggered: a HUP is reported again once nothing is pending
            }
            if ((events & (Interop.EPOLLHUP | Interop.EPOLLERR)) != 0) Owner.Remove(this);
        }

        private void ReceiveOne()
        {
            var notif = default(Interop.SeccompNotif); // the kernel requires a zeroed buffer
            if (Interop.SeccompNotifRecv(Handle, Interop.SECCOMP_IOCTL_NOTIF_RECV, ref notif) != 0)
            {
                // ENOENT: the task was killed or interrupted between poll and recv. Nothing to answer.
                return;
            }
            if (Volatile.Read(ref _ended) != 0) return;
            // Learn mode's fast path: record and let the syscall run, here on the loop (no allocation, no thread hop).
            if (notif.Arch == Interop.AUDIT_ARCH_X86_64 && (notif.Nr & Interop.X32_SYSCALL_BIT) == 0 && TryRecord(in notif))
            {
                Respond(notif.Id, 0, Interop.SECCOMP_USER_NOTIF_FLAG_CONTINUE);
                return;
            }
            long received = Stopwatch.GetTimestamp();

            var syscall = ToSyscall(in notif);
            bool traced = false;
            if (syscall.Arch == SyscallArch.X86_64)
            {
                try { traced = _target.IsTraced(syscall); }
                catch (Exception ex) { SandboxDiagnostics.MonitorError("policy evaluation failed", ex); }
            }
            if (!traced)
            {
                Violation(syscall, syscall.Arch == SyscallArch.X86_64 ? ViolationType.Syscall : ViolationType.ArchitectureSwitch, received);
                return;
            }
            ulong id = notif.Id;
            var notify = _target.Notify;
            if (notify is null)
            {
                Violation(syscall, ViolationType.Syscall, received);
                return;
            }
            // User code runs on the thread pool, never on the loop.
            ThreadPool.UnsafeQueueUserWorkItem(static s => _ = s.self.TraceAsync(s.notify, s.syscall, s.id, s.received),
                (self: this, notify, syscall, id, received), preferLocal: false);
        }

        private unsafe bool TryRecord(in Interop.SeccompNotif notif)
        {
            fixed (ulong* a = notif.Args)
                return _target.TryRecordAndAllow(notif.Nr, new ReadOnlySpan<ulong>(a, 6), (int)notif.Pid);
        }

        private async Task TraceAsync(Notify notify, Syscall syscall, ulong id, long received)
        {
            TraceAction action;
            try { action = await notify.EventSyscallTraceAsync(syscall, _target.Cancellation).ConfigureAwait(false); }
            catch (Exception ex)
            {
                SandboxDiagnostics.TraceHandlerFailed(ex, syscall.Name);
                action = TraceAction.Deny;
            }
            if (Volatile.Read(ref _ended) != 0) return; // being killed: keep the thread held, answer nothing
            switch (action.Kind)
            {
                case TraceActionKind.Allow:
                    Respond(id, 0, Interop.SECCOMP_USER_NOTIF_FLAG_CONTINUE);
                    break;
                case TraceActionKind.Errno:
                    Respond(id, -action.ErrnoValue, 0);
                    break;
                default:
                    Owner.Post(() => Violation(syscall, ViolationType.Syscall, received));
                    break;
            }
        }

        private void Respond(ulong id, int error, uint flags)
        {
            var resp = new Interop.SeccompNotifResp { Id = id, Val = 0, Error = error, Flags = flags };
            try
            {
                // ENOENT = the thread is gone (killed) or the notification was interrupted; nothing to do.
                Interop.SeccompNotifSend(Handle, Interop.SECCOMP_IOCTL_NOTIF_SEND, ref resp);
            }
            catch (ObjectDisposedException) { }
        }

        /// <summary>On the loop thread: record, then (off the loop) stack trace, hook, report, kill. The violating
        /// thread is never answered.</summary>
        private void Violation(Syscall syscall, ViolationType type, long received)
        {
            if (Interlocked.Exchange(ref _ended, 1) != 0) return;
            var (nsPid, name) = ReadThreadStatus(syscall.Pid);
            var notify = _target.Notify;
            if (!_target.StackTraceOnViolation && notify is null)
            {
                Report(new MonitorViolation(syscall, type, nsPid, name, null, received));
                return;
            }
            ThreadPool.UnsafeQueueUserWorkItem(static s => _ = s.self.StackTraceHookThenReportAsync(s.notify, s.syscall, s.type, s.nsPid, s.name, s.received),
                (self: this, notify, syscall, type, nsPid, name, received), preferLocal: false);
        }

        private async Task StackTraceHookThenReportAsync(Notify? notify, Syscall syscall, ViolationType type, int nsPid, string? name, long received)
        {
            IReadOnlyList<string>? stack = null;
            if (_target.StackTraceOnViolation)
                stack = await _target.CollectStackTraceAsync(syscall.Pid, StackTraceBudget).ConfigureAwait(false); // never throws
            var v = new MonitorViolation(syscall, type, nsPid, name, stack, received);
            if (notify is not null)
            {
                try
                {
                    // A hook may inspect the held thread, but it must not keep the sandbox alive for long.
                    await notify.EventSyscallViolationAsync(v.Syscall, v.Type, _target.Cancellation).AsTask()
                        .WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                }
                catch (Exception ex) { SandboxDiagnostics.MonitorError("Notify.EventSyscallViolationAsync threw", ex); }
            }
            Report(v);
        }

        private void Report(MonitorViolation violation)
        {
            try { _target.OnViolation(violation); }
            catch (Exception ex) { SandboxDiagnostics.MonitorError("reporting a violation failed", ex); }
            try { _target.Kill(); }
            catch (Exception ex) { SandboxDiagnostics.MonitorError("killing a violating sandbox failed", ex); }
        }
    }

    /// <summary>seccomp_notif → Syscall. x86-64 with the x32 bit = x32 (number without the bit); I386 = x86-32.</summary>
    internal static unsafe Syscall ToSyscall(in Interop.SeccompNotif notif)
    {
        Span<ulong> args = stackalloc ulong[6];
        fixed (ulong* a = notif.Args)
            new ReadOnlySpan<ulong>(a, 6).CopyTo(args);
        return ToSyscall(notif.Arch, notif.Nr, args, (int)notif.Pid, notif.InstructionPointer);
    }

    internal static Syscall ToSyscall(uint auditArch, int nr, ReadOnlySpan<ulong> args, int pid, ulong ip) =>
        Syscall.FromSeccompData(auditArch, nr, args, pid, ip);

    /// <summary>The innermost NSpid and the name of a thread, from /proc/tid/status.</summary>
    internal static (int NsPid, string? Name) ReadThreadStatus(int tid)
    {
        int nsPid = tid;
        string? name = null;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{tid}/status"))
            {
                if (line.StartsWith("Name:", StringComparison.Ordinal)) name = line[5..].Trim();
                else if (line.StartsWith("NSpid:", StringComparison.Ordinal))
                {
                    var parts = line[6..].Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries);
                    if (parts.Length > 0 && int.TryParse(parts[^1], out int inner)) nsPid = inner;
                    break;
                }
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return (nsPid, name);
    }
}
