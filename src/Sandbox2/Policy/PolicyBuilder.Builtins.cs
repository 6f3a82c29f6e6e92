namespace Sandbox2;

// The built-in policies @default, @subprocess and @dotnet (BuiltinPolicies; what and why: docs/POLICIES.md).
// Each list was found by running the programs the policy names in the real sandbox and reading the violations.
public sealed partial class PolicyBuilder
{
    private const int Eacces = 13;
    private const ulong SIfmt = 0xf000, SIfifo = 0x1000;

    /// <summary>The built-in <c>@default</c> policy: <see cref="AllowDefaultTools"/> widened so that shells, interpreters and
    /// tools that probe their surroundings run unmodified (bash, sh, python3, perl, awk, jq, sqlite3, the coreutils): waiting
    /// for signals and events (pause, sigsuspend, epoll, eventfd, timers), asking about a descriptor (getpeername,
    /// getsockname, getsockopt on what fds 0-2 are), waiting for children it cannot have (wait4 → ECHILD), signalling itself,
    /// its own process group and priority, FIFOs, file locks, and a polite errno for what stays closed (socketpair). Still no exec after start, no fork, no networking,
    /// no ptrace, no namespace or mount changes.</summary>
    public PolicyBuilder AllowDefaultPrograms() => Once(nameof(AllowDefaultPrograms), () =>
    {
        AllowDefaultTools();
        AllowEpoll();
        AllowEventFd();
        AllowAlarm();
        AllowPosixTimers();
        AllowWait();
        AllowKill();
        AllowNames(nameof(AllowDefaultPrograms),
            // waiting for a signal, and signal queries
            "pause", "rt_sigsuspend", "rt_sigpending", "rt_sigtimedwait", "getitimer",
            // what is this descriptor? (bash asks getpeername(0) to decide whether it was started by rshd)
            "getpeername", "getsockname", "getsockopt",
            // descriptors and files
            "close_range", "flock", "fallocate", "truncate", "readahead", "sync", "syncfs", "msync", "sync_file_range",
            "mremap", "mincore", "pipe2", "dup3", "getcpu", "sched_getattr", "sched_get_priority_max", "sched_get_priority_min",
            "getsid", "timerfd_create", "timerfd_settime", "timerfd_gettime", "clock_getres", "rt_sigreturn", "membarrier",
            // its own process group (interactive bash, timeout) and a lower priority (nice)
            "setpgid", "setpriority");
        // FIFOs (mkfifo) in a writable directory; device nodes stay a violation (they need CAP_MKNOD anyway).
        AddRule(Number("mknod"), Arg.Low32(1).MaskedEqual(SIfmt, SIfifo), SyscallAction.Allow, nameof(AllowDefaultPrograms));
        AddRule(Number("mknodat"), Arg.Low32(2).MaskedEqual(SIfmt, SIfifo), SyscallAction.Allow, nameof(AllowDefaultPrograms));
        // No sockets at all: socketpair fails as socket does (EACCES), overridable so a user's allow wins.
        AddOverridableRule("socketpair", null, SyscallAction.Errno(Eacces), nameof(AllowDefaultPrograms));
    });

    /// <summary>The built-in <c>@subprocess</c> policy: <see cref="AllowDefaultPrograms"/> plus starting and waiting for other
    /// programs (fork, vfork, clone without namespace flags — the always-on rule —, execve, execveat, wait4, waitid, process
    /// groups and sessions), enough for <c>sh -c 'a | b'</c>, <c>tar czf</c>, make, gcc and g++. The programs it starts
    /// must be visible inside (bind them, e.g. <c>--ro-bind /usr</c>).</summary>
    public PolicyBuilder AllowSubprocesses() => Once(nameof(AllowSubprocesses), () =>
    {
        AllowDefaultPrograms();
        AllowFork();
        AllowWait();
        AllowNames(nameof(AllowSubprocesses), "execve", "execveat", "setpgid", "setsid", "set_tid_address", "vfork",
            "getrusage", "prlimit64", "umask",
            // make switches its effective ids between the real and saved ones (all 1000 in a sandbox; no capabilities to gain)
            "setresuid", "setresgid");
    });

    /// <summary>The built-in <c>@dotnet</c> policy: a framework-dependent (<c>dotnet app.dll</c>, the host resolving and loading
    /// the runtime) or NativeAOT .NET program started in the sandbox, with the runtime bound: <see cref="AllowDotNetRuntime"/>
    /// (the GC, the thread pool, the JIT's W+X mappings — this preset keeps Allow(MapExec)) plus what the host and runtime
    /// probe at start-up, with an errno for what stays closed (the diagnostics IPC socket).</summary>
    public PolicyBuilder AllowDotNetPrograms() => Once(nameof(AllowDotNetPrograms), () =>
    {
        AllowDotNetRuntime();
        AllowDefaultPrograms();
        AllowNames(nameof(AllowDotNetPrograms), "sched_getaffinity", "get_mempolicy", "mlock", "munlock");
    });
}
