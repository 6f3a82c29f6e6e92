namespace Sandbox2;

// Sandbox2's helper families (policybuilder.cc), x86-64 names only. Each helper is idempotent.
public sealed partial class PolicyBuilder
{
    private const ulong ProtRead = 1, ProtWrite = 2, ProtExec = 4;
    private const ulong MapPrivate = 0x02, MapAnonymous = 0x20;
    private const ulong FutexWait = 0, FutexWake = 1, FutexRequeue = 3, FutexCmpRequeue = 4, FutexWakeOp = 5,
        FutexWaitBitset = 9, FutexWakeBitset = 10;
    private const ulong FutexCmdMask = ~(ulong)(128 | 256) & 0xffffffff;   // ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)

    private PolicyBuilder AllowNamed(string helper, params string[] names) => Once(helper, () => AllowNames(helper, names));

    /// <summary>Allows the names unconditionally (no once-guard: for use inside a helper).</summary>
    private void AllowNames(string origin, params string[] names)
    {
        foreach (var n in names) AddRule(Number(n), null, SyscallAction.Allow, origin);
    }

    /// <summary>Allows reading from descriptors: read, readv, preadv, pread64, preadv2.</summary>
    public PolicyBuilder AllowRead() => AllowNamed(nameof(AllowRead), "read", "readv", "preadv", "pread64", "preadv2");
    /// <summary>Allows writing to descriptors: write, writev, pwritev, pwrite64, pwritev2.</summary>
    public PolicyBuilder AllowWrite() => AllowNamed(nameof(AllowWrite), "write", "writev", "pwritev", "pwrite64", "pwritev2");
    /// <summary>Allows opening files: creat, open, openat (what is reachable is decided by the mounts).</summary>
    public PolicyBuilder AllowOpen() => AllowNamed(nameof(AllowOpen), "creat", "open", "openat");
    /// <summary>Allows stat calls: fstat, newfstatat, fstatfs, lstat, stat, statfs, ustat, statx.</summary>
    public PolicyBuilder AllowStat() => AllowNamed(nameof(AllowStat), "fstat", "newfstatat", "fstatfs", "lstat", "stat", "statfs", "ustat", "statx");
    /// <summary>Allows access, faccessat, faccessat2.</summary>
    public PolicyBuilder AllowAccess() => AllowNamed(nameof(AllowAccess), "access", "faccessat", "faccessat2");
    /// <summary>Allows dup, dup2, dup3.</summary>
    public PolicyBuilder AllowDup() => AllowNamed(nameof(AllowDup), "dup", "dup2", "dup3");
    /// <summary>Allows pipe, pipe2.</summary>
    public PolicyBuilder AllowPipe() => AllowNamed(nameof(AllowPipe), "pipe", "pipe2");
    /// <summary>Allows chmod, fchmod, fchmodat, fchmodat2.</summary>
    public PolicyBuilder AllowChmod() => AllowNamed(nameof(AllowChmod), "chmod", "fchmod", "fchmodat", "fchmodat2");
    /// <summary>Allows chown, lchown, fchown, fchownat.</summary>
    public PolicyBuilder AllowChown() => AllowNamed(nameof(AllowChown), "chown", "lchown", "fchown", "fchownat");
    /// <summary>Allows reading directories: getdents, getdents64.</summary>
    public PolicyBuilder AllowReaddir() => AllowNamed(nameof(AllowReaddir), "getdents", "getdents64");
    /// <summary>Allows readlink, readlinkat.</summary>
    public PolicyBuilder AllowReadlink() => AllowNamed(nameof(AllowReadlink), "readlink", "readlinkat");
    /// <summary>Allows link, linkat.</summary>
    public PolicyBuilder AllowLink() => AllowNamed(nameof(AllowLink), "link", "linkat");
    /// <summary>Allows symlink, symlinkat.</summary>
    public PolicyBuilder AllowSymlink() => AllowNamed(nameof(AllowSymlink), "symlink", "symlinkat");
    /// <summary>Allows mkdir, mkdirat.</summary>
    public PolicyBuilder AllowMkdir() => AllowNamed(nameof(AllowMkdir), "mkdir", "mkdirat");
    /// <summary>Allows futimesat, utime, utimensat, utimes.</summary>
    public PolicyBuilder AllowUtime() => AllowNamed(nameof(AllowUtime), "futimesat", "utime", "utimensat", "utimes");
    /// <summary>Allows rmdir, unlink, unlinkat.</summary>
    public PolicyBuilder AllowUnlink() => AllowNamed(nameof(AllowUnlink), "rmdir", "unlink", "unlinkat");
    /// <summary>Allows rename, renameat, renameat2.</summary>
    public PolicyBuilder AllowRename() => AllowNamed(nameof(AllowRename), "rename", "renameat", "renameat2");
    /// <summary>Allows exit, exit_group.</summary>
    public PolicyBuilder AllowExit() => AllowNamed(nameof(AllowExit), "exit", "exit_group");
    /// <summary>Allows time, gettimeofday, clock_gettime.</summary>
    public PolicyBuilder AllowTime() => AllowNamed(nameof(AllowTime), "time", "gettimeofday", "clock_gettime");
    /// <summary>Allows clock_nanosleep, nanosleep.</summary>
    public PolicyBuilder AllowSleep() => AllowNamed(nameof(AllowSleep), "clock_nanosleep", "nanosleep");
    /// <summary>Allows getuid, geteuid, getresuid, getgid, getegid, getresgid, getgroups (Sandbox2's <c>AllowGetIDs</c>).</summary>
    public PolicyBuilder AllowGetIds() => AllowNamed(nameof(AllowGetIds), "getuid", "geteuid", "getresuid", "getgid", "getegid", "getresgid", "getgroups");
    /// <summary>Allows getpid, getppid, gettid (Sandbox2's <c>AllowGetPIDs</c>).</summary>
    public PolicyBuilder AllowGetPids() => AllowNamed(nameof(AllowGetPids), "getpid", "getppid", "gettid");
    /// <summary>Allows getpgid, getpgrp (Sandbox2's name kept).</summary>
    public PolicyBuilder AllowGetPGIDs() => AllowNamed(nameof(AllowGetPGIDs), "getpgid", "getpgrp");
    /// <summary>Allows prlimit64, setrlimit.</summary>
    public PolicyBuilder AllowSetRlimit() => AllowNamed(nameof(AllowSetRlimit), "prlimit64", "setrlimit");
    /// <summary>Allows kill, tgkill, tkill (signals stay inside the sandbox's pid namespace).</summary>
    public PolicyBuilder AllowKill() => AllowNamed(nameof(AllowKill), "kill", "tgkill", "tkill");
    /// <summary>Allows alarm, setitimer.</summary>
    public PolicyBuilder AllowAlarm() => AllowNamed(nameof(AllowAlarm), "alarm", "setitimer");
    /// <summary>Allows timer_create, timer_delete, timer_settime, timer_gettime, timer_getoverrun.</summary>
    public PolicyBuilder AllowPosixTimers() => AllowNamed(nameof(AllowPosixTimers), "timer_create", "timer_delete", "timer_settime", "timer_gettime", "timer_getoverrun");
    /// <summary>Allows fork, vfork, clone (a clone with namespace flags stays a violation: an always-on rule; the process limit bounds how many).</summary>
    public PolicyBuilder AllowFork() => AllowNamed(nameof(AllowFork), "fork", "vfork", "clone");
    /// <summary>Allows wait4, waitid.</summary>
    public PolicyBuilder AllowWait() => AllowNamed(nameof(AllowWait), "wait4", "waitid");
    /// <summary>Allows epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2.</summary>
    public PolicyBuilder AllowEpoll() => AllowNamed(nameof(AllowEpoll), "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2");
    /// <summary>Allows poll, ppoll.</summary>
    public PolicyBuilder AllowPoll() => AllowNamed(nameof(AllowPoll), "poll", "ppoll");
    /// <summary>Allows select, pselect6.</summary>
    public PolicyBuilder AllowSelect() => AllowNamed(nameof(AllowSelect), "select", "pselect6");
    /// <summary>Allows eventfd, eventfd2.</summary>
    public PolicyBuilder AllowEventFd() => AllowNamed(nameof(AllowEventFd), "eventfd", "eventfd2");
    /// <summary>Allows inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch, close.</summary>
    public PolicyBuilder AllowInotify() => AllowNamed(nameof(AllowInotify), "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "close");
    /// <summary>Allows installing signal handlers: restart_syscall, rt_sigaction, rt_sigreturn, rt_sigprocmask, sigaltstack.</summary>
    public PolicyBuilder AllowHandleSignals() => AllowNamed(nameof(AllowHandleSignals), "restart_syscall", "rt_sigaction", "rt_sigreturn", "rt_sigprocmask", "sigaltstack");

    /// <summary>getrlimit, and prlimit64 only to read (new limit NULL).</summary>
    public PolicyBuilder AllowGetRlimit() => Once(nameof(AllowGetRlimit), () =>
    {
        AddRule(Number("getrlimit"), null, SyscallAction.Allow, nameof(AllowGetRlimit));
        AddRule(Number("prlimit64"), Arg.Of(2).Equal(0), SyscallAction.Allow, nameof(AllowGetRlimit));
    });

    /// <summary>getrandom with flags 0 or GRND_NONBLOCK.</summary>
    public PolicyBuilder AllowGetRandom() => Once(nameof(AllowGetRandom), () =>
        AddRule(Number("getrandom"), Arg.Low32(2).In(0, 1), SyscallAction.Allow, nameof(AllowGetRandom)));

    /// <summary>ioctl(TCGETS) (isatty) and ioctl(TIOCGWINSZ) (terminal size).</summary>
    public PolicyBuilder AllowTCGETS() => Once(nameof(AllowTCGETS), () =>
        AddRule(Number("ioctl"), Arg.Low32(1).In(0x5401, 0x5413), SyscallAction.Allow, nameof(AllowTCGETS)));

    /// <summary>fcntl with F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK, F_SETLKW, F_DUPFD_CLOEXEC.</summary>
    public PolicyBuilder AllowSafeFcntl() => Once(nameof(AllowSafeFcntl), () =>
        AddRule(Number("fcntl"), Arg.Low32(1).In(0, 1, 2, 3, 4, 5, 6, 7, 1030), SyscallAction.Allow, nameof(AllowSafeFcntl)));

    /// <summary>futex with operation <paramref name="op"/> (private/realtime-clock flags allowed).</summary>
    public PolicyBuilder AllowFutexOp(int op) => Once($"{nameof(AllowFutexOp)}({op})", () =>
        AddRule(Number("futex"), Arg.Low32(1).MaskedEqual(FutexCmdMask, (ulong)op), SyscallAction.Allow, $"{nameof(AllowFutexOp)}({op})"));

    /// <summary>mmap without PROT_EXEC.</summary>
    public PolicyBuilder AllowMmapWithoutExec() => Once(nameof(AllowMmapWithoutExec), () =>
        AddRule(Number("mmap"), Arg.Low32(2).MaskedEqual(ProtExec, 0), SyscallAction.Allow, nameof(AllowMmapWithoutExec)));

    /// <summary>mprotect without PROT_EXEC.</summary>
    public PolicyBuilder AllowMprotectWithoutExec() => Once(nameof(AllowMprotectWithoutExec), () =>
        AddRule(Number("mprotect"), Arg.Low32(2).MaskedEqual(ProtExec, 0), SyscallAction.Allow, nameof(AllowMprotectWithoutExec)));

    /// <summary>mmap with any protection, PROT_EXEC included (turns on Allow(MapExec)).</summary>
    public PolicyBuilder AllowMmap() => Once(nameof(AllowMmap), () =>
    {
        AllowMapExec();
        AddRule(Number("mmap"), null, SyscallAction.Allow, nameof(AllowMmap));
    });

    /// <summary>mprotect and pkey_mprotect with any protection (turns on Allow(MapExec)).</summary>
    public PolicyBuilder AllowMprotect() => Once(nameof(AllowMprotect), () =>
    {
        AllowMapExec();
        AddRule(Number("mprotect"), null, SyscallAction.Allow, nameof(AllowMprotect));
        AddRule(Number("pkey_mprotect"), null, SyscallAction.Allow, nameof(AllowMprotect));
    });

    /// <summary>What glibc's malloc needs: brk, anonymous/non-exec mmap, munmap, mremap, madvise(DONTNEED), futex wake.</summary>
    public PolicyBuilder AllowSystemMalloc() => Once(nameof(AllowSystemMalloc), () =>
    {
        AllowMmapWithoutExec();
        AllowMprotectWithoutExec();
        AllowNames(nameof(AllowSystemMalloc), "brk", "munmap", "mremap");
        AddRule(Number("madvise"), Arg.Low32(2).In(4 /*DONTNEED*/, 8 /*FREE*/), SyscallAction.Allow, nameof(AllowSystemMalloc));
        AllowFutexOp((int)FutexWake);
    });

    /// <summary>rseq and what restartable sequences/threads registration need (getcpu, membarrier, futex wait/wake, sigprocmask).</summary>
    public PolicyBuilder AllowRestartableSequences() => Once(nameof(AllowRestartableSequences), () =>
    {
        AllowNames(nameof(AllowRestartableSequences), "rseq", "getcpu", "membarrier", "rt_sigprocmask", "close");
        AllowMmapWithoutExec();
        AllowFutexOp((int)FutexWait);
        AllowFutexOp((int)FutexWake);
    });

    /// <summary>What a static glibc binary does before main (and stdio's first fstat): brk, set_tid_address,
    /// set_robust_list, rseq, arch_prctl, prlimit64 (read), getrandom, uname, signal setup, mprotect without exec,
    /// futex wait-bitset, ioctl(TCGETS), fstat / newfstatat(AT_EMPTY_PATH); readlink →
    /// ENOENT and sigaltstack → ENOSYS unless allowed elsewhere (overridable).</summary>
    public PolicyBuilder AllowStaticStartup() => Once(nameof(AllowStaticStartup), () =>
    {
        AllowGetRlimit();
        AllowGetRandom();
        AllowNames(nameof(AllowStaticStartup), "brk", "set_tid_address", "set_robust_list", "rseq", "arch_prctl", "uname", "rt_sigprocmask");
        AddRule(Number("rt_sigaction"), Arg.Low32(0).In(32, 33), SyscallAction.Allow, nameof(AllowStaticStartup));  // SIGRTMIN, SIGRTMIN+1 (nptl)
        AllowMprotectWithoutExec();
        AllowFutexOp((int)FutexWaitBitset);
        AllowTCGETS();
        // stdio's fstat of its streams: fstat, and newfstatat only in its fstat form (AT_EMPTY_PATH)
        AllowNames(nameof(AllowStaticStartup), "fstat");
        AddRule(Number("newfstatat"), Arg.Low32(3).MaskedEqual(0x1000, 0x1000), SyscallAction.Allow, nameof(AllowStaticStartup));
        AddOverridableRule("readlink", null, SyscallAction.Errno(2), nameof(AllowStaticStartup));
        AddOverridableRule("readlinkat", null, SyscallAction.Errno(2), nameof(AllowStaticStartup));
        AddOverridableRule("sigaltstack", null, SyscallAction.Errno(Policy.Enosys), nameof(AllowStaticStartup));
    });

    /// <summary>Static startup plus what ld.so needs to load shared libraries: open/read/stat/close/lseek, access,
    /// mmap and mprotect with any protection (turns on Allow(MapExec), as Sandbox2's AllowDynamicStartup(MapExec)).</summary>
    public PolicyBuilder AllowDynamicStartup() => Once(nameof(AllowDynamicStartup), () =>
    {
        AllowStaticStartup();
        AllowRead();
        AllowOpen();
        AllowStat();
        AllowAccess();
        AllowNames(nameof(AllowDynamicStartup), "close", "lseek", "munmap");
        AllowMmap();
        AllowMprotect();
    });

    /// <summary>Common futex operations used by threads and locks (wait, wake, requeue, wake-op, bitset ops).</summary>
    public PolicyBuilder AllowFutex() => Once(nameof(AllowFutex), () =>
    {
        foreach (var op in new[] { FutexWait, FutexWake, FutexRequeue, FutexCmpRequeue, FutexWakeOp, FutexWaitBitset, FutexWakeBitset })
            AllowFutexOp((int)op);
    });

    // Internal helpers that are used by presets below but are not Sandbox2 vocabulary.
    internal static readonly ulong[] ProtNonExec = [0, ProtRead, ProtWrite, ProtRead | ProtWrite];
    internal const ulong AnonPrivate = MapAnonymous | MapPrivate;
}
