namespace Sandbox2;

// The bigger presets: the CLI's default policy and the .NET runtime. Lists measured with strace (see the issue note).
public sealed partial class PolicyBuilder
{
    /// <summary>What both presets below start with: a dynamic program's start-up and ordinary file access.</summary>
    private void AllowDynamicFileTools()
    {
        AllowDynamicStartup();
        AllowRead();
        AllowWrite();
        AllowOpen();
        AllowStat();
        AllowAccess();
        AllowDup();
        AllowPipe();
        AllowReaddir();
        AllowReadlink();
    }

    /// <summary>The prctl options ordinary tools and runtimes use (Linux numbers): PR_SET_PDEATHSIG (1), PR_GET_PDEATHSIG (2),
    /// PR_GET_DUMPABLE (3), PR_GET_KEEPCAPS (7), PR_SET_NAME (15), PR_GET_NAME (16), PR_GET_SECCOMP (21),
    /// PR_CAPBSET_READ (23), PR_GET_TIMERSLACK (30), PR_SET_NO_NEW_PRIVS (38, already set), PR_GET_NO_NEW_PRIVS (39),
    /// PR_GET_TID_ADDRESS (40), PR_GET_THP_DISABLE (42), PR_GET_SPECULATION_CTRL (52), PR_SET_VMA (0x53564d41,
    /// naming anonymous mappings).</summary>
    public static IReadOnlyList<uint> SafePrctlOptions { get; } = [1, 2, 3, 7, 15, 16, 21, 23, 30, 38, 39, 40, 42, 52, 0x53564d41];

    /// <summary>prctl with one of <see cref="SafePrctlOptions"/> only; any other option fails with EINVAL (overridable:
    /// an explicit AllowSyscall("prctl") wins, except PR_SET_SECCOMP, which is always a violation unless
    /// <see cref="AllowNestedSeccompFilters"/>).</summary>
    public PolicyBuilder AllowSafePrctl() => Once(nameof(AllowSafePrctl), () =>
    {
        AddRule(Number("prctl"), Arg.Low32(0).In(SafePrctlOptions.Select(o => (ulong)o).ToArray()), SyscallAction.Allow, nameof(AllowSafePrctl));
        AddOverridableRule("prctl", null, SyscallAction.Errno(22 /*EINVAL*/), nameof(AllowSafePrctl));
    });

    /// <summary>The built-in <c>default</c> policy's rules (see <see cref="BuiltinPolicies.CreateDefault"/>).</summary>
    public PolicyBuilder AllowDefaultTools() => Once(nameof(AllowDefaultTools), () =>
    {
        AllowDynamicFileTools();
        AllowChmod();
        AllowChown();
        AllowUtime();
        AllowUnlink();
        AllowRename();
        AllowMkdir();
        AllowLink();
        AllowSymlink();
        AllowExit();
        AllowTime();
        AllowSleep();
        AllowGetIds();
        AllowGetPids();
        AllowGetPGIDs();
        AllowGetRlimit();
        AllowGetRandom();
        AllowHandleSignals();
        AllowTCGETS();
        AllowSafeFcntl();
        AllowFutex();
        AllowSystemMalloc();
        AllowRestartableSequences();
        AllowPoll();
        AllowSelect();
        // threads (sort uses them; clone with namespace flags stays a violation, clone3 gets ENOSYS)
        AllowNames(nameof(AllowDefaultTools), "clone", "sched_getaffinity", "sched_yield", "madvise",
            "close", "lseek", "ftruncate", "fsync", "fdatasync", "fadvise64", "sysinfo", "getcwd", "chdir", "fchdir",
            "umask", "uname", "getrusage", "times", "sendfile", "copy_file_range", "splice", "statfs", "fstatfs",
            "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
            "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "set_robust_list", "exit", "exit_group",
            "tgkill", "getpriority", "sched_getparam", "sched_getscheduler");
        AllowSafePrctl();
        // No networking, but fail politely: glibc's NSS tries the nscd socket (ls -l, id) and falls back to files.
        // Overridable, so that a user's AllowSyscall("socket") (the CLI's --allow socket) wins.
        AddOverridableRule("socket", null, SyscallAction.Errno(13 /*EACCES*/), nameof(AllowDefaultTools));
        // Terminal queries are allowed (AllowTCGETS); any other ioctl fails with ENOTTY (cp tries FICLONE, then copies).
        AddOverridableRule("ioctl", null, SyscallAction.Errno(25 /*ENOTTY*/), nameof(AllowDefaultTools));
    });

    /// <summary>What a running .NET 10 process needs to keep going after it sandboxes itself (SandboxMeHere with TSYNC):
    /// the GC (madvise, membarrier, mprotect, tgkill/rt_sigreturn for thread suspension), the thread pool
    /// (clone, futex, sched_*), the JIT (mmap/mprotect with PROT_EXEC, memfd double mapping), timers, files,
    /// epoll-based sockets engine and pipes. Measured with strace on a real .NET 10 app.</summary>
    public PolicyBuilder AllowDotNetRuntime() => Once(nameof(AllowDotNetRuntime), () =>
    {
        AllowDynamicFileTools();
        AllowExit();
        AllowTime();
        AllowSleep();
        AllowGetIds();
        AllowGetPids();
        AllowGetRlimit();
        AllowGetRandom();
        AllowHandleSignals();
        AllowTCGETS();
        AllowSafeFcntl();
        AllowFutex();
        AllowSystemMalloc();
        AllowRestartableSequences();
        AllowEpoll();
        AllowPoll();
        AllowEventFd();
        AllowSetRlimit();      // the runtime raises RLIMIT_NOFILE's soft limit at start-up
        AllowMmap();
        AllowMprotect();
        // recvmsg: a C# sandboxee receiving over Comms after SandboxMeHere (sendmsg on fd 1023 comes with the handshake).
        AllowNames(nameof(AllowDotNetRuntime), "clone", "madvise", "membarrier", "mlock", "munlock", "memfd_create", "ftruncate",
            "get_mempolicy", "sched_getaffinity", "sched_setaffinity", "sched_yield", "sched_getparam", "sched_getscheduler",
            "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min", "sysinfo", "getsid",
            "tgkill", "tkill", "close", "lseek", "fsync", "fadvise64", "flock", "fstatfs", "statfs", "getcwd", "getrusage",
            "pwrite64", "pread64", "uname", "recvmsg", "set_robust_list", "get_robust_list", "sigaltstack", "rt_sigreturn",
            "rt_sigtimedwait", "rt_sigqueueinfo", "clock_getres", "timerfd_create", "timerfd_settime", "timerfd_gettime",
            "getpriority", "setpriority", "mincore", "msync", "unlink", "fchmod", "gettid");
        AllowSafePrctl();
        // The JIT: .NET 10 maps no page writable and executable at once while its W^X mode is on (the default; measured
        // with strace), but it does with DOTNET_EnableWriteXorExecute=0 or where its double mapping is unavailable.
        AllowWriteExecMappings();
        // A .NET program started under the filter (sandbox before exec) opens its diagnostics IPC (an AF_UNIX
        // socket and debugger FIFOs) at start-up unless DOTNET_EnableDiagnostics=0; it carries on without them.
        AddOverridableRule("socket", null, SyscallAction.Errno(13 /*EACCES*/), nameof(AllowDotNetRuntime));
        AddOverridableRule("mknodat", null, SyscallAction.Errno(13 /*EACCES*/), nameof(AllowDotNetRuntime));
    });
}
