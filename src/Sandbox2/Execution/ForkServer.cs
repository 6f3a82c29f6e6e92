using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Sandbox2;

/// <summary>How the sandbox's init reported the end of the main process (or a failed setup step).</summary>
internal sealed record NativeExitReport
{
    /// <summary>Set when a setup step failed before exec (or the sandbox could not be followed): which step, errno, reason code.</summary>
    public SetupFailure? Failure { get; init; }
    /// <summary>The failed step in words (e.g. "bind /usr -> /usr"), or null.</summary>
    public string? SetupFailedStep => Failure?.What;
    /// <summary>The failed step's errno (0 when none or no failure).</summary>
    public int SetupErrno => Failure?.Errno ?? 0;
    /// <summary>The main process exited normally with this code.</summary>
    public int? ExitCode { get; init; }
    /// <summary>The main process was killed by this signal.</summary>
    public int? Signal { get; init; }
    /// <summary>CPU time summed over every process of the sandbox (init's RUSAGE_CHILDREN after reaping all).</summary>
    public TimeSpan UserTime { get; init; }
    public TimeSpan SystemTime { get; init; }
    public long MaxRssKb { get; init; }
    /// <summary><see cref="SpawnedSandbox.Kill"/> was called before init reported (then Signal is SIGKILL and rusage is unknown).</summary>
    public bool Killed { get; init; }
}

/// <summary>
/// The global forkserver (one per executor process, started on demand): a small native program that
/// carries out <see cref="SandboxPlan"/>s and reports how each sandbox ended.
/// It is started with posix_spawn, its control socket (AF_UNIX SOCK_SEQPACKET) at fd 3; it exits when
/// this process's end of the socket closes (executor death), which kills every sandbox it started.
/// </summary>
internal sealed class ForkServer : IDisposable
{
    /// <summary>File name of the native program, shipped next to the library.</summary>
    public const string ProgramName = GlobalForkServer.ProgramName;

    private static readonly Lock s_globalLock = new();
    private static ForkServer? s_global;

    private readonly SafeFdHandle _control;
    private readonly SafeFdHandle _pidfd;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile bool _broken;
    private int _disposed;

    private ForkServer(SafeFdHandle control, SafeFdHandle pidfd, int pid)
    {
        _control = control;
        _pidfd = pidfd;
        ProcessId = pid;
    }

    /// <summary>The process-wide forkserver, started on first use and restarted if it died.</summary>
    public static ForkServer Global
    {
        get
        {
            lock (s_globalLock) return AliveOrRestarted(ref s_global, () => Start());
        }
    }

    /// <summary>Returns <paramref name="slot"/> if its forkserver is alive; otherwise reaps it and starts a new one.</summary>
    internal static ForkServer AliveOrRestarted(ref ForkServer? slot, Func<ForkServer> start)
    {
        if (slot is { IsAlive: true }) return slot;
        if (slot is not null) SandboxDiagnostics.ForkServerExited(slot.ProcessId);
        slot?.Dispose();
        slot = start();
        return slot;
    }

    /// <summary>Host pid of the forkserver process.</summary>
    public int ProcessId { get; }

    /// <summary>Full path of the native program found on disk (<see cref="ForkServerLocator"/>), or null when only the
    /// embedded copy is available.</summary>
    public static string? ProgramPath => ForkServerLocator.Locate().Path;

    /// <summary>false once the forkserver process has exited or its socket failed.</summary>
    public bool IsAlive
    {
        get
        {
            if (_broken || Volatile.Read(ref _disposed) != 0) return false;
            return !PidfdReadable(_pidfd);
        }
    }

    /// <summary>Starts a private forkserver (tests; <see cref="Global"/> is the normal entry point).</summary>
    /// <param name="launcher">Optional command prefix (absolute path first), e.g. setpriv to run it unprivileged.</param>
    /// <param name="location">Where the program is (tests); null searches (<see cref="ForkServerLocator"/>).</param>
    internal static unsafe ForkServer Start(IReadOnlyList<string>? launcher = null, ForkServerLocator.Location? location = null)
    {
        HostResources.RaiseFileLimit(); // before the spawn: the forkserver inherits it
        location ??= ForkServerLocator.Locate();
        if (location.Value.Error is { } notFound) throw new ForkServerException(notFound);
        using SafeFdHandle? embedded = location.Value.Embedded ? ForkServerLocator.OpenEmbedded() : null;
        string path = location.Value.Path ?? $"/proc/self/fd/{embedded!.Fd}";
        int* pair = stackalloc int[2];
        if (Interop.SocketPair(Interop.AF_UNIX, Interop.SOCK_SEQPACKET | Interop.SOCK_CLOEXEC, 0, pair) != 0)
            throw new ForkServerException($"socketpair for the forkserver failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        var ours = new SafeFdHandle(pair[0]);
        using var theirs = new SafeFdHandle(pair[1]);
        int sndbuf = ForkServerProtocol.MaxRequestBytes;
        _ = Interop.SetSockOpt(ours, Interop.SOL_SOCKET, Interop.SO_SNDBUF, &sndbuf, 4); // large plans; clamped by wmem_max

        var args = new List<string>(launcher ?? []) { path };
        int pid;
        int rc;
        void* actions = NativeMemory.AllocZeroed(Interop.PosixSpawnFileActionsSize);
        var strings = new List<nint>();
        try
        {
            rc = Interop.PosixSpawnFileActionsInit(actions);
            if (rc == 0) rc = Interop.PosixSpawnFileActionsAddDup2(actions, theirs.Fd, 3);
            // stdin/stdout: /dev/null (nothing of the executor's terminal or pipes stays open in sandboxes); stderr kept for diagnostics.
            fixed (byte* devnull = "/dev/null\0"u8)
            {
                if (rc == 0) rc = Interop.PosixSpawnFileActionsAddOpen(actions, 0, devnull, Interop.O_RDONLY, 0);
                if (rc == 0) rc = Interop.PosixSpawnFileActionsAddOpen(actions, 1, devnull, 1 /* O_WRONLY */, 0);
            }
            byte** argv = stackalloc byte*[args.Count + 1];
            for (int i = 0; i < args.Count; i++)
            {
                argv[i] = (byte*)Marshal.StringToCoTaskMemUTF8(args[i]);
                strings.Add((nint)argv[i]);
            }
            argv[args.Count] = null;
            byte** envp = stackalloc byte*[1];
            envp[0] = null;
            pid = 0;
            if (rc == 0) rc = Interop.PosixSpawn(out pid, argv[0], actions, null, argv, envp);
            _ = Interop.PosixSpawnFileActionsDestroy(actions);
        }
        finally
        {
            foreach (var s in strings) Marshal.FreeCoTaskMem(s);
            NativeMemory.Free(actions);
        }
        if (rc != 0)
        {
            ours.Dispose();
            throw new ForkServerException($"posix_spawn {location.Value.Path ?? "of the embedded forkserver (memfd; see vm.memfd_noexec)"} failed: {Marshal.GetPInvokeErrorMessage(rc)}");
        }
        int pidfd = Interop.PidfdOpen(pid, 0);
        if (pidfd < 0)
        {
            ours.Dispose();
            throw new ForkServerException($"pidfd_open of the forkserver (pid {pid}) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
        // A reply never takes long (clone3 + three writes); a forkserver that does not answer is broken.
        var timeout = new Timeval { Seconds = 30 };
        _ = Interop.SetSockOpt(ours, Interop.SOL_SOCKET, Interop.SO_RCVTIMEO, &timeout, (uint)sizeof(Timeval));
        _ = Interop.SetSockOpt(ours, Interop.SOL_SOCKET, Interop.SO_SNDTIMEO, &timeout, (uint)sizeof(Timeval));
        SandboxDiagnostics.ForkServerStarted(pid, location.Value.Path ?? "embedded copy (memfd)");
        return new ForkServer(ours, new SafeFdHandle(pidfd), pid);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timeval
    {
        public long Seconds;
        public long Microseconds;
    }

    /// <summary>Starts one sandbox. Throws <see cref="ForkServerException"/> when the forkserver itself fails,
    /// <see cref="ArgumentException"/> for an invalid plan.</summary>
    public async Task<SpawnedSandbox> SpawnAsync(SandboxPlan plan, CancellationToken cancellationToken = default)
    {
        byte[] request = ForkServerProtocol.Serialize(plan);
        cancellationToken.ThrowIfCancellationRequested();
        var (executorEnd, sandboxEnd) = StatusChannel();
        ForkServerProtocol.Reply reply;
        var received = new List<SafeFdHandle>();
        try
        {
            var fds = new SafeHandle[2 + plan.Fds.Count + plan.Cgroups.Count];
            fds[0] = plan.ProgramFd;
            fds[1] = sandboxEnd;
            for (int i = 0; i < plan.Fds.Count; i++) fds[2 + i] = plan.Fds[i].Source;
            for (int i = 0; i < plan.Cgroups.Count; i++) fds[2 + plan.Fds.Count + i] = plan.Cgroups[i].Fd;
            reply = await ExchangeAsync(request, fds, received, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            executorEnd.Dispose();
            foreach (var f in received) f.Dispose();
            throw;
        }
        finally
        {
            sandboxEnd.Dispose();
        }
        if (reply.Errno == 0 && received.Count == 0 && reply.Pid > 0)
        {
            // Started, but its pidfd did not reach us (out of descriptors): stop it by pid (a child of the forkserver
            // that it has not reaped yet) and fail this sandbox only.
            _ = Interop.Kill(reply.Pid, Interop.SignalKill);
            executorEnd.Dispose();
            throw new ForkServerException(HostResources.Exhausted("receiving the sandbox's pidfd", 24));
        }
        if (reply.Errno != 0 || received.Count != 1)
        {
            executorEnd.Dispose();
            foreach (var f in received) f.Dispose();
            var failure = reply.Errno != 0
                ? SetupFailure.FromNative((SetupStep)reply.Step, reply.Errno, reply.Message)
                : new SetupFailure("forkserver reply without a pidfd", 0, ReasonCode.FailedSubprocess);
            throw new ForkServerException(failure);
        }
        var sandbox = new SpawnedSandbox(reply.Pid, received[0], executorEnd, plan.Trace is not null);
        if (cancellationToken.IsCancellationRequested)
        {
            sandbox.Kill();
            sandbox.Dispose();
            cancellationToken.ThrowIfCancellationRequested();
        }
        return sandbox;
    }

    /// <summary>Sends one request datagram with descriptors and returns the reply (descriptors received go to
    /// <paramref name="received"/>). Requests are serialised: the forkserver handles one at a time.</summary>
    internal async Task<ForkServerProtocol.Reply> ExchangeAsync(byte[] request, SafeHandle[] fds, List<SafeFdHandle> received, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (_broken) throw new ForkServerException("the forkserver has died; use ForkServer.Global to restart it");
            long sent = ForkServerProtocol.SendWithFds(_control, request, fds);
            if (sent == -90) throw new ArgumentException($"the plan ({request.Length} bytes) is larger than the control socket allows (net.core.wmem_max)", nameof(request));
            if (sent < 0) throw Broken($"sending the plan to the forkserver failed: {Marshal.GetPInvokeErrorMessage((int)-sent)}");
            var buffer = new byte[512];
            long n;
            bool fdsLost;
            do n = ForkServerProtocol.ReceiveWithFds(_control, buffer, received, 0, out fdsLost);
            while (n == -4); // EINTR
            if (fdsLost)
            {
                foreach (var f in received) f.Dispose(); // partial: SpawnAsync sees none and stops the sandbox
                received.Clear();
            }
            if (n == 0) throw Broken("the forkserver exited (control socket closed)");
            if (n == -11) throw Broken("the forkserver did not answer within 30 s");
            if (n < 0) throw Broken($"reading the forkserver's reply failed: {Marshal.GetPInvokeErrorMessage((int)-n)}");
            return ForkServerProtocol.ParseReply(buffer.AsSpan(0, (int)n));
        }
        finally
        {
            _gate.Release();
        }
    }

    private ForkServerException Broken(string message)
    {
        _broken = true;
        return new ForkServerException(message);
    }

    private static unsafe (Socket Executor, SafeFdHandle Sandbox) StatusChannel()
    {
        int* pair = stackalloc int[2];
        if (Interop.SocketPair(Interop.AF_UNIX, Interop.SOCK_SEQPACKET | Interop.SOCK_CLOEXEC, 0, pair) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (HostResources.IsExhaustion(errno)) throw new ForkServerException(HostResources.Exhausted("creating the sandbox's status channel", errno));
            throw new ForkServerException($"socketpair for a status channel failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        var sandbox = new SafeFdHandle(pair[1]);
        try
        {
            return (new Socket(new SafeSocketHandle(pair[0], ownsHandle: true)), sandbox);
        }
        catch
        {
            sandbox.Dispose();
            throw;
        }
    }

    internal static unsafe bool PidfdReadable(SafeFdHandle pidfd)
    {
        bool added = false;
        try
        {
            pidfd.DangerousAddRef(ref added);
            var p = new Interop.PollFd { Fd = pidfd.Fd, Events = 1 /* POLLIN */ };
            return Interop.Poll(&p, 1, 0) > 0;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
        finally
        {
            if (added) pidfd.DangerousRelease();
        }
    }

    /// <summary>Closes the control socket: the forkserver exits and every sandbox it started dies. Reaps the process.</summary>
    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _control.Dispose();
        // EOF makes it exit at once; one that hangs (it never should) is killed rather than waited for forever.
        var p = new Interop.PollFd { Fd = _pidfd.Fd, Events = 1 /* POLLIN */ };
        if (Interop.Poll(&p, 1, 2000) == 0) _ = Interop.PidfdSendSignal(_pidfd, Interop.SignalKill, 0, 0);
        byte* siginfo = stackalloc byte[128];
        while (Interop.WaitIdPidfd(Interop.P_PIDFD, _pidfd, siginfo, Interop.WaitExited) < 0 && Marshal.GetLastPInvokeError() == 4) { }
        _pidfd.Dispose();
        _gate.Dispose();
    }
}

/// <summary>A sandbox started by the forkserver.</summary>
internal sealed class SpawnedSandbox : IDisposable
{
    private readonly SafeFdHandle _pidfd;
    private readonly Socket _status;
    private readonly TaskCompletionSource<SafeFdHandle?> _listener = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _killed;

    internal SpawnedSandbox(int initPid, SafeFdHandle pidfd, Socket status, bool traced = false)
    {
        InitPid = initPid;
        _pidfd = pidfd;
        _status = status;
        Tracer = traced ? new InitTracer(status, initPid) : null;
        Completion = ReadStatusAsync();
    }

    /// <summary>init's tracing of the sandboxee's main thread (stack traces on a signal or an exit), when planned.</summary>
    public InitTracer? Tracer { get; }

    /// <summary>Host pid of the sandbox's init (PID 1 inside).</summary>
    public int InitPid { get; }

    /// <summary>Completes when init has reported and exited (never faults; a lost channel gives a report with SetupFailedStep set).</summary>
    public Task<NativeExitReport> Completion { get; }

    /// <summary>The seccomp user-notification listener (plan.NotifyListener), or null when the sandbox ended without sending one.</summary>
    public Task<SafeFdHandle?> SeccompListener => _listener.Task;

    /// <summary>SIGKILL the whole sandbox (init, and with it its pid namespace) via pidfd. Idempotent.</summary>
    public void Kill()
    {
        _killed = true;
        try
        {
            _ = Interop.PidfdSendSignal(_pidfd, Interop.SignalKill, 0, 0); // ESRCH once init is gone: fine
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Kills the sandbox if it still runs and releases the pidfd; <see cref="Completion"/> still completes.</summary>
    public void Dispose()
    {
        if (!Completion.IsCompleted) Kill();
        _pidfd.Dispose();
    }

    private async Task<NativeExitReport> ReadStatusAsync()
    {
        NativeExitReport report;
        try
        {
            report = await ReadRecordsAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            report = new NativeExitReport { Failure = new SetupFailure($"reading the sandbox's status channel failed: {ex.Message}", 0, ReasonCode.FailedComms), Killed = _killed };
        }
        await WaitForInitExitAsync().ConfigureAwait(false);
        return report;
    }

    /// <summary>The status channel closes while init is still exiting (it closes its files first, then the kernel tears
    /// the pid namespace down): wait until its pidfd says it has exited, so that a completed sandbox has no process left.</summary>
    private async Task WaitForInitExitAsync()
    {
        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await Monitor.Shared.WaitReadableAsync(_pidfd, limit.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or InvalidOperationException or IOException)
        {
            // Best effort: the report stands either way.
        }
    }

    private async Task<NativeExitReport> ReadRecordsAsync()
    {
        SetupFailure? failure = null;
        NativeExitReport? exit = null;
        var peek = new byte[1];
        var buffer = new byte[2048];
        var fds = new List<SafeFdHandle>();
        try
        {
            while (true)
            {
                // Wait on the runtime's socket engine (no thread per sandbox); peek so the datagram stays queued.
                int ready;
                try
                {
                    ready = await _status.ReceiveAsync(peek, SocketFlags.Peek).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    break;
                }
                if (ready == 0) break; // EOF: init exited
                long n = ForkServerProtocol.ReceiveWithFds(_status.SafeHandle, buffer, fds, Interop.MSG_DONTWAIT, out bool fdsLost);
                if (n == -11 || n == -4) continue; // EAGAIN, EINTR
                if (n <= 0) break;
                if (fdsLost && failure is null)
                {
                    // The seccomp listener did not arrive (out of descriptors): without it no monitor can serve this
                    // sandbox, so it must not run on.
                    failure = HostResources.Exhausted("receiving the seccomp listener", 24);
                    Kill();
                }
                var msg = buffer.AsSpan(0, (int)n);
                int type = msg.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(msg) : 0;
                if (type == ForkServerProtocol.RecordSetupError && failure is null)
                    failure = ForkServerProtocol.ParseSetupError(msg);
                else if (type == ForkServerProtocol.RecordListener && fds.Count > 0)
                {
                    if (!_listener.TrySetResult(fds[0])) fds[0].Dispose();
                    fds.RemoveAt(0);
                }
                else if (type == ForkServerProtocol.RecordTraced && Tracer is not null)
                {
                    Tracer.OnTraced(msg, fds.Count > 0 ? fds[0] : null);
                }
                else if (type == ForkServerProtocol.RecordStopped && Tracer is not null)
                    Tracer.OnStopped(msg);
                else if (type == ForkServerProtocol.RecordExit && msg.Length >= 40)
                {
                    int code = BinaryPrimitives.ReadInt32LittleEndian(msg[4..]);
                    int status = BinaryPrimitives.ReadInt32LittleEndian(msg[8..]);
                    exit = new NativeExitReport
                    {
                        ExitCode = code == ForkServerProtocol.CldExited ? status : null,
                        Signal = code is ForkServerProtocol.CldKilled or ForkServerProtocol.CldDumped ? status : null,
                        UserTime = TimeSpan.FromMicroseconds(BinaryPrimitives.ReadInt64LittleEndian(msg[16..])),
                        SystemTime = TimeSpan.FromMicroseconds(BinaryPrimitives.ReadInt64LittleEndian(msg[24..])),
                        MaxRssKb = BinaryPrimitives.ReadInt64LittleEndian(msg[32..]),
                    };
                }
                foreach (var f in fds) f.Dispose(); // unexpected descriptors
                fds.Clear();
            }
        }
        finally
        {
            Tracer?.OnClosed();
            _status.Dispose();
            _listener.TrySetResult(null);
        }
        if (failure is not null)
            return (exit ?? new NativeExitReport()) with { Failure = failure, ExitCode = null, Signal = null, Killed = _killed };
        if (exit is not null) return exit with { Killed = _killed && exit.Signal == Interop.SignalKill };
        if (_killed) return new NativeExitReport { Signal = Interop.SignalKill, Killed = true };
        return new NativeExitReport
        {
            Failure = new SetupFailure("sandbox init ended without a report (killed from outside, or the forkserver died)", 0, ReasonCode.FailedSubprocess),
        };
    }
}

/// <summary>The forkserver could not be started or stopped answering.</summary>
internal sealed class ForkServerException : Exception
{
    public ForkServerException(string message) : base(message) { }
    /// <summary>The forkserver reported a failed step of starting one sandbox (clone3, the id maps, ...).</summary>
    public ForkServerException(SetupFailure failure)
        : base($"forkserver could not start the sandbox: {failure.What}{(failure.Errno != 0 ? ": " + Marshal.GetPInvokeErrorMessage(failure.Errno) : "")}")
        => Failure = failure;
    /// <summary>The step that failed, when the forkserver reported one.</summary>
    public SetupFailure? Failure { get; }
    public ForkServerException(string message, Exception inner) : base(message, inner) { }
    public ForkServerException() { }
}
