using System.Collections.Frozen;

namespace Sandbox2;

/// <summary>Named syscall groups in systemd's style (<c>@basic-io</c>, <c>@file-system</c>, <c>@process</c>, ...), for the
/// policy language's <c>USE @name</c> and for C# callers. The contents follow systemd's <c>seccomp-util.c</c> table, reduced to
/// x86-64 (names that are not x86-64 syscalls, such as <c>chown32</c> or <c>_llseek</c>, are left out); differences from
/// systemd are listed in docs/POLICY-GROUPS.md, which is the one place the set and the contents are documented (a test checks
/// that the document and this table agree). Groups nest (<c>@system-service</c> contains <c>@basic-io</c>, ...);
/// <see cref="TryGet"/> returns the flattened list.</summary>
public static class SyscallGroups
{
    // Each group: members are syscall names or other groups ("@..."). Names not on x86-64 are dropped when flattening.
    private static readonly (string Name, string Description, string Members)[] Definitions =
    [
        ("@aio", "asynchronous I/O (io_setup, io_submit, ...; io_uring included)",
            "io_cancel io_destroy io_getevents io_pgetevents io_setup io_submit io_uring_enter io_uring_register io_uring_setup"),
        ("@base", "what every program needs to start, run and end (systemd's @default, renamed: @default here is the built-in policy)",
            "arch_prctl brk clock_getres clock_gettime clock_nanosleep exit exit_group futex futex_waitv get_robust_list get_thread_area "
            + "getegid geteuid getgid getgroups getpgid getpgrp getpid getppid getrandom getresgid getresuid getrlimit getsid gettid "
            + "gettimeofday getuid membarrier mmap mprotect munmap nanosleep pause prlimit64 restart_syscall rseq rt_sigreturn "
            + "sched_getaffinity sched_yield set_robust_list set_thread_area set_tid_address time"),
        ("@basic-io", "reading and writing open descriptors",
            "close close_range dup dup2 dup3 lseek pread64 preadv preadv2 pwrite64 pwritev pwritev2 read readv write writev"),
        ("@chown", "changing file owners", "chown fchown fchownat lchown"),
        ("@clock", "setting the system clock", "adjtimex clock_adjtime clock_settime settimeofday"),
        ("@cpu-emulation", "CPU emulation (vm86 and friends)", "modify_ldt"),
        ("@debug", "debugging and tracing other processes (ptrace stays a violation in a sandbox whatever a policy says)",
            "lookup_dcookie perf_event_open pidfd_getfd ptrace"),
        ("@file-system", "files and directories: open, stat, create, rename, remove, attributes, inotify",
            "access chdir chmod close creat faccessat faccessat2 fallocate fchdir fchmod fchmodat fchmodat2 fcntl fgetxattr flistxattr "
            + "fremovexattr fsetxattr fstat fstatfs ftruncate futimesat getcwd getdents getdents64 getxattr inotify_add_watch inotify_init "
            + "inotify_init1 inotify_rm_watch lgetxattr link linkat listxattr llistxattr lremovexattr lsetxattr lstat mkdir mkdirat mknod "
            + "mknodat newfstatat open openat openat2 readlink readlinkat removexattr rename renameat renameat2 rmdir setxattr stat statfs "
            + "statx symlink symlinkat truncate unlink unlinkat utime utimensat utimes"),
        ("@io-event", "waiting for events on descriptors (poll, select, epoll, eventfd)",
            "epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 poll "
            + "ppoll pselect6 select"),
        ("@ipc", "SysV IPC, POSIX message queues, pipes, memfd, cross-process memory",
            "memfd_create mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedsend mq_unlink msgctl msgget msgrcv msgsnd pipe pipe2 "
            + "process_madvise process_vm_readv process_vm_writev semctl semget semop semtimedop shmat shmctl shmdt shmget"),
        ("@keyring", "the kernel keyring", "add_key keyctl request_key"),
        ("@memlock", "locking memory", "mlock mlock2 mlockall munlock munlockall"),
        ("@module", "loading and unloading kernel modules", "delete_module finit_module init_module"),
        ("@mount", "mounting and unmounting", "chroot fsconfig fsmount fsopen fspick mount mount_setattr move_mount open_tree pivot_root umount2"),
        ("@network-io", "sockets: create, connect, send, receive",
            "accept accept4 bind connect getpeername getsockname getsockopt listen recvfrom recvmmsg recvmsg sendmmsg sendmsg sendto "
            + "setsockopt shutdown socket socketpair"),
        ("@obsolete", "syscalls nobody should need any more",
            "_sysctl afs_syscall create_module get_kernel_syms getpmsg putpmsg query_module security sysfs tuxcall uselib ustat vserver"),
        ("@pkey", "memory protection keys", "pkey_alloc pkey_free pkey_mprotect"),
        ("@privileged", "what needs privileges (ptrace and bpf stay violations in a sandbox whatever a policy says)",
            "@chown @clock @module @raw-io @reboot @swap _sysctl acct bpf capset chroot fanotify_init fanotify_mark nfsservctl "
            + "open_by_handle_at pivot_root quotactl quotactl_fd setdomainname setfsuid setgroups sethostname setresuid setreuid setuid vhangup"),
        ("@process", "starting, signalling and waiting for processes and threads (execve included: systemd has it in its @default)",
            "capget clone clone3 execve execveat fork getrusage kill pidfd_open pidfd_send_signal prctl rt_sigqueueinfo rt_tgsigqueueinfo "
            + "setns tgkill times tkill unshare vfork wait4 waitid"),
        ("@raw-io", "raw I/O port access", "ioperm iopl"),
        ("@reboot", "rebooting and kexec", "kexec_file_load kexec_load reboot"),
        ("@resources", "changing resource limits, priorities and memory policies",
            "ioprio_set mbind migrate_pages move_pages sched_setaffinity sched_setattr sched_setparam sched_setscheduler set_mempolicy "
            + "set_mempolicy_home_node setpriority setrlimit"),
        ("@sandbox", "a process sandboxing itself further (Landlock, seccomp)",
            "landlock_add_rule landlock_create_ruleset landlock_restrict_self seccomp"),
        ("@setuid", "changing user and group ids",
            "setgid setgroups setregid setresgid setresuid setreuid setuid"),
        ("@signal", "signal handlers, masks and waiting for signals",
            "rt_sigaction rt_sigpending rt_sigprocmask rt_sigsuspend rt_sigtimedwait sigaltstack signalfd signalfd4"),
        ("@swap", "swap devices", "swapoff swapon"),
        ("@sync", "flushing files to disk", "fdatasync fsync msync sync sync_file_range syncfs"),
        ("@system-service", "what a typical system service uses (systemd's recommendation for services)",
            "@aio @base @basic-io @chown @file-system @io-event @ipc @keyring @memlock @network-io @process @resources @setuid @signal "
            + "@sync @timer brk capget capset copy_file_range fadvise64 flock get_mempolicy getcpu getpriority ioctl ioprio_get kcmp "
            + "madvise mremap name_to_handle_at personality readahead remap_file_pages sched_get_priority_max sched_get_priority_min "
            + "sched_getaffinity sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval sched_yield sendfile setfsgid "
            + "setfsuid setpgid setsid splice sysinfo tee umask uname userfaultfd vmsplice"),
        ("@timer", "alarms, interval timers, POSIX timers, timerfd",
            "alarm getitimer setitimer timer_create timer_delete timer_getoverrun timer_gettime timer_settime timerfd_create "
            + "timerfd_gettime timerfd_settime times"),
    ];

    private static readonly FrozenDictionary<string, string> DescriptionsByName =
        Definitions.ToFrozenDictionary(d => d.Name, d => d.Description, StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, IReadOnlyList<string>> Flattened = Flatten();

    /// <summary>Every group's name (with its leading <c>@</c>), in alphabetical order; <c>@known</c> (every x86-64 syscall) included.</summary>
    public static IReadOnlyList<string> Names { get; } = Definitions.Select(d => d.Name).Append("@known").Order(StringComparer.Ordinal).ToArray();

    /// <summary>The syscalls of group <paramref name="name"/> (with its leading <c>@</c>, e.g. <c>@basic-io</c>), nested groups
    /// flattened, as x86-64 syscall names in the order the group lists them; false for an unknown name.</summary>
    public static bool TryGet(string name, out IReadOnlyList<string> syscallNames)
    {
        if (name is not null && Flattened.TryGetValue(name, out var list))
        {
            syscallNames = list;
            return true;
        }
        syscallNames = [];
        return false;
    }

    /// <summary>One line saying what group <paramref name="name"/> is for, or null for an unknown name.</summary>
    public static string? GetDescription(string name) =>
        name == "@known" ? "every x86-64 syscall the sandbox knows by name" : DescriptionsByName.GetValueOrDefault(name ?? "");

    /// <summary>The group's members as written (syscall names and nested <c>@groups</c>, before flattening); empty for an unknown name.</summary>
    public static IReadOnlyList<string> GetMembers(string name) =>
        Definitions.FirstOrDefault(d => d.Name == name).Members?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];

    private static FrozenDictionary<string, IReadOnlyList<string>> Flatten()
    {
        var byName = Definitions.ToDictionary(d => d.Name, d => d.Members.Split(' ', StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (name, _, _) in Definitions)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var list = new List<string>();
            void Add(string group, int depth)
            {
                if (depth > 8) throw new InvalidOperationException($"syscall group {group} nests too deep");
                foreach (string m in byName[group])
                {
                    if (m.StartsWith('@')) Add(m, depth + 1);
                    else if (SyscallTable.Find(m) is not null && seen.Add(m)) list.Add(m);
                }
            }
            Add(name, 0);
            result[name] = list.ToArray();
        }
        result["@known"] = SyscallTable.X86_64.Select(s => s.Name).ToArray();
        return result.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
