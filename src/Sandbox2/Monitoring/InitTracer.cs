using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Sandbox2;

/// <summary>
/// The executor's side of the sandbox's init tracing the sandboxee's main thread (PID 2; native/trace.c, plan record
/// <see cref="TracePlan"/>). A seccomp user-notification monitor hears of a crash only once the process is gone; init,
/// its tracer, holds the dying thread at PTRACE_EVENT_EXIT (a fatal signal, or a normal exit when asked) and sends its
/// registers; the executor reads the thread's maps and stack through /proc while it is held, symbolizes, and lets it go
/// (init lets it go by itself at the plan's hold limit). Because init is the main thread's only possible tracer, every
/// other trace of that thread (violation, timeout, kill) is asked of init too: it stops the thread and sends its
/// registers. Messages arrive through <see cref="SpawnedSandbox"/>'s reader of the status channel.
/// </summary>
internal sealed class InitTracer(Socket status, Task<int> sandboxeePid)
{
    private const uint RequestRelease = 1, RequestStop = 2;
    private const int KindRefused = 0, KindExiting = 1;

    private readonly Lock _gate = new();
    private TaskCompletionSource<IReadOnlyList<string>>? _pending;
    private volatile IReadOnlyList<string>? _exitTrace;
    private string? _unavailable;

    /// <summary>The main thread's trace taken as it died by a signal (or exited, when asked); set before init reports the exit.</summary>
    public IReadOnlyList<string>? ExitTrace => _exitTrace;

    /// <summary>Why init traces nothing (its PTRACE_SEIZE failed), if so.</summary>
    public string? Unavailable => Volatile.Read(ref _unavailable);

    /// <summary>True when init traces <paramref name="tid"/> (the sandboxee's main thread); waits, at most
    /// <paramref name="budget"/>, for init's word on PID 2 (queued before the program ran).</summary>
    public async Task<bool> TracesAsync(int tid, TimeSpan budget)
    {
        try { return await sandboxeePid.WaitAsync(budget).ConfigureAwait(false) == tid && tid > 0 && Volatile.Read(ref _traced); }
        catch (TimeoutException) { return false; }
    }

    private bool _traced;

    /// <summary>The main thread's trace now: init stops it and sends its registers. Completes within
    /// <paramref name="budget"/> (then with one "unavailable" line); never throws.</summary>
    public async Task<IReadOnlyList<string>> CollectAsync(TimeSpan budget)
    {
        Task<IReadOnlyList<string>> task;
        bool send = false;
        lock (_gate)
        {
            if (_pending is null)
            {
                _pending = new TaskCompletionSource<IReadOnlyList<string>>(TaskCreationOptions.RunContinuationsAsynchronously);
                send = true;
            }
            task = _pending.Task;
        }
        if (send && !Send(RequestStop)) Complete([StackTrace.Unavailable("the sandbox's init is gone")]);
        try { return await task.WaitAsync(budget).ConfigureAwait(false); }
        catch (TimeoutException) { return [StackTrace.Unavailable($"init did not stop the thread within {budget.TotalMilliseconds:0} ms")]; }
    }

    /// <summary>From SANDBOXEE: init has seized PID 2 (<paramref name="traced"/>), or says why not (<paramref name="errno"/>).</summary>
    internal void OnTraced(int errno, bool traced)
    {
        if (errno != 0)
            Volatile.Write(ref _unavailable, "the sandbox's init cannot trace it: ptrace(PTRACE_SEIZE) failed: " + Marshal.GetPInvokeErrorMessage(errno));
        Volatile.Write(ref _traced, traced);
    }

    /// <summary>STOPPED <c>{ u32 type, u32 kind, i32 status, u32 0, user_regs_struct }</c>: the main thread is held.</summary>
    internal void OnStopped(ReadOnlySpan<byte> message)
    {
        int size = Marshal.SizeOf<Interop.UserRegs>();
        if (message.Length < 16 + size) return;
        int kind = BinaryPrimitives.ReadInt32LittleEndian(message[4..]);
        int status = BinaryPrimitives.ReadInt32LittleEndian(message[8..]);
        if (kind == KindRefused)
        {
            Complete([StackTrace.Unavailable("the sandbox's init could not stop the thread: " + Marshal.GetPInvokeErrorMessage(status))]);
            return;
        }
        var regs = MemoryMarshal.Read<Interop.UserRegs>(message.Slice(16, size));
        int pid = sandboxeePid.IsCompletedSuccessfully ? sandboxeePid.Result : 0; // SANDBOXEE comes before any STOPPED
        if (pid == 0)
        {
            Send(RequestRelease);
            Complete([StackTrace.Unavailable("the sandboxee's pid is unknown")]);
            return;
        }
        // Read and symbolize on a tracer thread, and let the thread go from there (never through the thread pool).
        StackTrace.CollectHeld(pid, regs, Monitor.StackTraceBudget, lines =>
        {
            if (kind == KindExiting) _exitTrace = lines;
            Complete(lines);
            Send(RequestRelease);
        });
    }

    /// <summary>The status channel has ended: nothing more will come.</summary>
    internal void OnClosed()
    {
        Complete([StackTrace.Unavailable("the sandbox ended")]);
    }

    private void Complete(IReadOnlyList<string> lines)
    {
        TaskCompletionSource<IReadOnlyList<string>>? pending;
        lock (_gate)
        {
            pending = _pending;
            _pending = null;
        }
        pending?.TrySetResult(lines);
    }

    private bool Send(uint request)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, request);
        try { return status.Send(b, SocketFlags.None) == 4; }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { return false; }
    }
}
