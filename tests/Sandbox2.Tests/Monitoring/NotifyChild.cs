using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandbox2.Tests.Monitoring;

/// <summary>
/// A real process under a seccomp filter with a user-notification listener, started without a sandbox:
/// tests/testcases/mon_notifychild run with posix_spawn (its own process group), a unix socket at fd 3 over
/// which it sends the listener, stdout+stderr captured. The monitor tests (and bench/monitor) drive it.
/// </summary>
internal sealed partial class NotifyChild : IDisposable
{
    private readonly Task<string>? _output;
    private int _killed;

    private NotifyChild(int pid, SafeFileHandle listener, SafeFileHandle pidFd, Task<string>? output)
    {
        Pid = pid; Listener = listener; PidFd = pidFd; _output = output;
    }

    public int Pid { get; }
    public SafeFileHandle Listener { get; }
    public SafeFileHandle PidFd { get; }

    /// <summary>What the child wrote to stdout and stderr (complete once it has exited).</summary>
    public Task<string> Output => _output ?? Task.FromResult("");

    public static string TestcasePath(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var p = Path.Combine(dir.FullName, "artifacts", "testcases", name);
            if (File.Exists(p)) return p;
            p = Path.Combine(dir.FullName, "testcases", name);
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException($"testcase {name} not found above {AppContext.BaseDirectory}");
    }

    /// <summary>Start <c>mon_notifychild MODE NRS [ARG]</c> and receive its listener.</summary>
    public static unsafe NotifyChild Start(string mode, string nrs, string? arg = null, bool captureOutput = true, bool staticBinary = true)
    {
        string path = TestcasePath(staticBinary ? "mon_notifychild-static" : "mon_notifychild");
        int* sv = stackalloc int[2];
        Check(socketpair(1 /* AF_UNIX */, 5 /* SOCK_SEQPACKET */ | O_CLOEXEC, 0, sv), "socketpair");
        int* pipe = stackalloc int[2];
        pipe[0] = pipe[1] = -1;
        if (captureOutput) Check(pipe2(pipe, O_CLOEXEC), "pipe2");

        var fa = stackalloc byte[256];
        var attr = stackalloc byte[512];
        Check(posix_spawn_file_actions_init(fa), "file_actions_init");
        Check(posix_spawnattr_init(attr), "spawnattr_init");
        var argv = new List<string> { path, mode, nrs };
        if (arg is not null) argv.Add(arg);
        var ptrs = new nint[argv.Count + 1];
        var env = new nint[1];
        int pid = 0;
        try
        {
            _ = posix_spawn_file_actions_adddup2(fa, sv[1], 3);
            if (captureOutput)
            {
                _ = posix_spawn_file_actions_adddup2(fa, pipe[1], 1);
                _ = posix_spawn_file_actions_adddup2(fa, pipe[1], 2);
            }
            else
            {
                _ = posix_spawn_file_actions_addopen(fa, 1, "/dev/null", 1 /* O_WRONLY */, 0);
                _ = posix_spawn_file_actions_addopen(fa, 2, "/dev/null", 1, 0);
            }
            _ = posix_spawnattr_setflags(attr, 2 /* POSIX_SPAWN_SETPGROUP */);
            _ = posix_spawnattr_setpgroup(attr, 0);
            for (int i = 0; i < argv.Count; i++) ptrs[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
            fixed (nint* a = ptrs)
            fixed (nint* e = env)
            {
                int rc = posix_spawn(&pid, path, fa, attr, a, e);
                if (rc != 0) throw new InvalidOperationException($"posix_spawn {path}: errno {rc}");
            }
        }
        finally
        {
            foreach (var p in ptrs) if (p != 0) Marshal.FreeCoTaskMem(p);
            _ = posix_spawn_file_actions_destroy(fa);
            _ = posix_spawnattr_destroy(attr);
            _ = close(sv[1]);
            if (captureOutput) _ = close(pipe[1]);
        }

        var pidFd = new SafeFileHandle((nint)syscall(434 /* pidfd_open */, pid, 0), ownsHandle: true);
        using var sock = new SafeFileHandle(sv[0], ownsHandle: true);
        int listener = ReceiveFd(sock);
        Task<string>? output = null;
        if (captureOutput)
        {
            var readEnd = new SafeFileHandle(pipe[0], ownsHandle: true);
            output = Task.Factory.StartNew(() =>
            {
                using var fs = new FileStream(readEnd, FileAccess.Read, 1);
                using var sr = new StreamReader(fs);
                return sr.ReadToEnd();
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        if (listener < 0)
        {
            _ = kill(-pid, 9);
            string o = output?.Result ?? "";
            throw new InvalidOperationException($"mon_notifychild {mode} sent no listener: {o}");
        }
        return new NotifyChild(pid, new SafeFileHandle(listener, ownsHandle: true), pidFd, output);
    }

    /// <summary>SIGKILL the child's whole process group (it, its threads, children, grandchildren).</summary>
    public void KillGroup()
    {
        Interlocked.Exchange(ref _killed, 1);
        // Only while the leader is unreaped: then its pid (= the group id) cannot have been reused. After the
        // reap, kill(-pid) could hit an unrelated process group (e.g. a sandboxee that called setsid).
        lock (_reapLock)
            if (!_reaped) _ = kill(-Pid, 9);
    }

    private readonly Lock _reapLock = new();
    private bool _reaped;

    /// <summary>Waits (via the monitor's event loop, no thread) for the child to exit and reaps it.</summary>
    public async Task<(int? ExitCode, int? Signal)> WaitAsync(Sandbox2.Monitor monitor, CancellationToken cancellationToken = default)
    {
        await monitor.WaitReadableAsync(PidFd, cancellationToken);
        return Reap();
    }

    private unsafe (int? ExitCode, int? Signal) Reap()
    {
        var info = stackalloc byte[128];
        new Span<byte>(info, 128).Clear();
        int rc;
        lock (_reapLock)
        {
            rc = waitid(3 /* P_PIDFD */, (uint)PidFd.DangerousGetHandle(), info, 4 /* WEXITED */);
            if (rc == 0) _reaped = true;
        }
        if (rc != 0) throw new InvalidOperationException($"waitid: errno {Marshal.GetLastPInvokeError()}");
        int code = *(int*)(info + 8), status = *(int*)(info + 24);
        return code == 1 /* CLD_EXITED */ ? (status, null) : (null, status);
    }

    private static unsafe int ReceiveFd(SafeFileHandle sock)
    {
        byte data;
        var iov = stackalloc nint[2];
        iov[0] = (nint)(&data);
        iov[1] = 1;
        var control = stackalloc byte[64];
        var msg = stackalloc byte[56];
        new Span<byte>(msg, 56).Clear();
        new Span<byte>(control, 64).Clear();
        *(nint*)(msg + 16) = (nint)iov;  // msg_iov
        *(nint*)(msg + 24) = 1;          // msg_iovlen
        *(nint*)(msg + 32) = (nint)control; // msg_control
        *(nint*)(msg + 40) = 64;         // msg_controllen
        nint n;
        do n = recvmsg((int)sock.DangerousGetHandle(), msg, 0x40000000 /* MSG_CMSG_CLOEXEC */);
        while (n < 0 && Marshal.GetLastPInvokeError() == 4);
        if (n <= 0) return -1;
        // struct cmsghdr { size_t len; int level; int type; int fd; }
        if (*(int*)(control + 8) != 1 || *(int*)(control + 12) != 1) return -1;
        return *(int*)(control + 16);
    }

    public void Dispose()
    {
        if (!PidFd.IsClosed)
        {
            // Never leak a process: kill what is left and reap it.
            lock (_reapLock)
            {
                if (!_reaped)
                {
                    _ = kill(-Pid, 9);
                    unsafe { var info = stackalloc byte[128]; _ = waitid(3, (uint)PidFd.DangerousGetHandle(), info, 4); }
                    _reaped = true;
                }
            }
        }
        Listener.Dispose();
        PidFd.Dispose();
    }

    private static void Check(int rc, string what)
    {
        if (rc != 0) throw new InvalidOperationException($"{what}: errno {Marshal.GetLastPInvokeError()}");
    }

    private const int O_CLOEXEC = 0x80000;

    [LibraryImport("libc", SetLastError = true)] private static unsafe partial int socketpair(int domain, int type, int protocol, int* sv);
    [LibraryImport("libc", SetLastError = true)] private static unsafe partial int pipe2(int* fds, int flags);
    [LibraryImport("libc", SetLastError = true)] private static partial int close(int fd);
    [LibraryImport("libc", SetLastError = true)] private static partial int kill(int pid, int sig);
    [LibraryImport("libc", SetLastError = true)] private static partial long syscall(long nr, long a, long b);
    [LibraryImport("libc", SetLastError = true)] private static unsafe partial nint recvmsg(int fd, byte* msg, int flags);
    [LibraryImport("libc", SetLastError = true)] private static unsafe partial int waitid(int idtype, uint id, byte* info, int options);
    [LibraryImport("libc")] private static unsafe partial int posix_spawn_file_actions_init(byte* fa);
    [LibraryImport("libc")] private static unsafe partial int posix_spawn_file_actions_destroy(byte* fa);
    [LibraryImport("libc")] private static unsafe partial int posix_spawn_file_actions_adddup2(byte* fa, int fd, int newfd);
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)] private static unsafe partial int posix_spawn_file_actions_addopen(byte* fa, int fd, string path, int oflag, int mode);
    [LibraryImport("libc")] private static unsafe partial int posix_spawnattr_init(byte* attr);
    [LibraryImport("libc")] private static unsafe partial int posix_spawnattr_destroy(byte* attr);
    [LibraryImport("libc")] private static unsafe partial int posix_spawnattr_setflags(byte* attr, short flags);
    [LibraryImport("libc")] private static unsafe partial int posix_spawnattr_setpgroup(byte* attr, int pgroup);
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)] private static unsafe partial int posix_spawn(int* pid, string path, byte* fa, byte* attr, nint* argv, nint* envp);
}

/// <summary>A monitored "sandbox" for the standalone tests: policy = a predicate, kill = the child's process group.</summary>
internal sealed class TestTarget(NotifyChild child, Func<Syscall, bool>? isTraced = null, Notify? notify = null, bool stackTrace = false)
    : IMonitoredSandbox
{
    private readonly TaskCompletionSource<MonitorViolation> _violation = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public int Kills;
    public long ReportedTimestamp;

    public Task<MonitorViolation> Violation => _violation.Task;
    public bool IsTraced(Syscall syscall) => isTraced?.Invoke(syscall) ?? false;
    public Notify? Notify => notify;
    public bool StackTraceOnViolation => stackTrace;
    public CancellationToken Cancellation => CancellationToken.None;

    public void OnViolation(MonitorViolation violation)
    {
        ReportedTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        _violation.TrySetResult(violation);
    }

    public void Kill()
    {
        Interlocked.Increment(ref Kills);
        child.KillGroup();
    }
}
