/* sandbox2 doctor's probes: `sandbox2-forkserver --probe NAME` tries one group of kernel features, each by really using
 * it, in this throwaway process (and children of it), and prints one "key errno [detail]" line per thing tried (errno 0 =
 * it worked). C# (src/Sandbox2/Diagnostics/) reads the lines and decides what they mean; nothing here judges. */
#include "sandbox2.h"
#include <pthread.h>
#include <sys/syscall.h>

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif

static void out(const char *key, int err, const char *detail) { dprintf(1, "%s %d %s\n", key, err, detail ? detail : ""); }
static int res(long r) { return r < 0 ? errno : 0; }

static int write_proc(pid_t pid, const char *name, const char *text)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    int e = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : errno;
    close(fd);
    return e;
}

/* The forkserver's own call (clone3, or clone where it is missing) with every namespace, the id maps written from outside,
 * then what init does first inside: a tmpfs mount and mount_setattr on it. */
static int probe_userns(void)
{
    static const struct { const char *name; unsigned long flag; } kinds[] = {
        { "ns_user", 0 }, { "ns_mount", CLONE_NEWNS }, { "ns_pid", CLONE_NEWPID }, { "ns_net", CLONE_NEWNET },
        { "ns_ipc", CLONE_NEWIPC }, { "ns_uts", CLONE_NEWUTS }, { "ns_cgroup", CLONE_NEWCGROUP }, { "ns_time", 0x80 /* CLONE_NEWTIME */ },
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        pid_t c = fork();
        if (c == 0) _exit(unshare(CLONE_NEWUSER | (int)kinds[i].flag) < 0 ? errno : 0);
        int st = 0;
        waitpid(c, &st, 0);
        out(kinds[i].name, WIFEXITED(st) ? WEXITSTATUS(st) : EFAULT, "unshare");
    }
    int sync[2], back[2];
    if (pipe2(sync, O_CLOEXEC) < 0 || pipe2(back, O_CLOEXEC) < 0) return 1;
    uint64_t all = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
    int pidfd = -1;
    long pid = clone_pidfd(all, &pidfd, -1);
    if (pid < 0) {
        out("clone", errno, clone_call);
        return 0;
    }
    if (pid == 0) {
        char go;
        if (read(sync[0], &go, 1) != 1) _exit(1);
        int r[2] = { 0, 0 };
        if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") < 0) r[0] = errno;
        else {
            int fd = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
            struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
            r[1] = fd < 0 ? errno : res(syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &a, sizeof a));
        }
        if (write(back[1], r, sizeof r) != sizeof r) _exit(1);
        _exit(0);
    }
    out("clone", 0, clone_call);
    char map[64];
    int e = write_proc((pid_t)pid, "setgroups", "deny");
    if (!e) { snprintf(map, sizeof map, "0 %u 1\n", getuid()); e = write_proc((pid_t)pid, "uid_map", map); }
    if (!e) { snprintf(map, sizeof map, "0 %u 1\n", getgid()); e = write_proc((pid_t)pid, "gid_map", map); }
    out("id_maps", e, "");
    int r[2] = { ECHILD, ECHILD };
    if (!e && write(sync[1], "g", 1) == 1 && read(back[0], r, sizeof r) == sizeof r) {
        out("mount", r[0], "tmpfs");
        if (!r[0]) out("mount_setattr", r[1], "");
    } else {
        kill((pid_t)pid, SIGKILL);
    }
    waitpid((pid_t)pid, NULL, __WALL);
    return 0;
}

static struct sock_filter allow_all[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
static struct sock_fprog allow_prog = { 1, allow_all };

static int probe_seccomp(void)
{
    static const struct { const char *name; uint32_t action; } actions[] = {
        { "action_kill_process", SECCOMP_RET_KILL_PROCESS }, { "action_kill_thread", SECCOMP_RET_KILL_THREAD },
        { "action_trap", SECCOMP_RET_TRAP }, { "action_errno", SECCOMP_RET_ERRNO }, { "action_user_notif", SECCOMP_RET_USER_NOTIF },
        { "action_trace", SECCOMP_RET_TRACE }, { "action_log", SECCOMP_RET_LOG }, { "action_allow", SECCOMP_RET_ALLOW },
    };
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        uint32_t a = actions[i].action;
        out(actions[i].name, res(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a)), "");
    }
    out("no_new_privs", res(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)), "");
    out("filter", res(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &allow_prog)), "");
    return 0;
}

static int hold[2];
static void *blocked_thread(void *arg)
{
    (void)arg;
    char c;
    if (read(hold[0], &c, 1) < 0) return NULL;
    return NULL;
}

static int probe_tsync(void)
{
    pthread_t t;
    if (pipe(hold) < 0 || pthread_create(&t, NULL, blocked_thread, NULL) != 0) return 1;
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &allow_prog);
    out("tsync", r < 0 ? errno : r > 0 ? ESRCH : 0, "");
    r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH, &allow_prog);
    out("tsync_esrch", res(r), "");
    if (write(hold[1], "x", 1) != 1) return 1;
    pthread_join(t, NULL);
    return 0;
}

static long notified_result[2];
static void *notified_thread(void *arg)
{
    (void)arg;
    notified_result[0] = syscall(SYS_getppid); /* answered with CONTINUE: runs */
    notified_result[1] = syscall(SYS_getppid); /* answered after ADDFD: returns 4242 */
    return NULL;
}

/* A filter sending getppid to a listener, a thread making the call, this thread answering it: CONTINUE, then ADDFD. */
static int probe_notify(void)
{
    long ppid = syscall(SYS_getppid);
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { 4, f };
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    long lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    out("listener", res(lfd), "");
    if (lfd < 0) return 0;
    pthread_t t;
    if (pthread_create(&t, NULL, notified_thread, NULL) != 0) return 1;
    for (int round = 0; round < 2; round++) {
        struct seccomp_notif n;
        memset(&n, 0, sizeof n);
        if (ioctl((int)lfd, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0) { out("recv", errno, ""); return 0; }
        struct seccomp_notif_resp resp = { .id = n.id };
        if (round == 0) {
            resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            int e = res(ioctl((int)lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp));
            if (e) { resp.flags = 0; resp.val = ppid; ioctl((int)lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp); }
            out("continue", e, "");
        } else {
            struct seccomp_notif_addfd add = { .id = n.id, .srcfd = 0 };
            long fd = ioctl((int)lfd, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
            out("addfd", res(fd), "");
            if (fd >= 0) close((int)fd); /* same process: the new fd is ours */
            resp.val = 4242;
            ioctl((int)lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
        }
    }
    pthread_join(t, NULL);
    out("continue_ran", notified_result[0] == ppid ? 0 : EINVAL, "");
    return 0;
}

static int probe_pidfd(void)
{
    out("pidfd_open", res(syscall(SYS_pidfd_open, getpid(), 0)), "");
    for (int useclone3 = 1; useclone3 >= 0; useclone3--) {
        int pidfd = -1;
        long pid;
        if (useclone3) {
            struct clone_args ca;
            memset(&ca, 0, sizeof ca);
            ca.flags = CLONE_PIDFD;
            ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
            ca.exit_signal = SIGCHLD;
            pid = syscall(SYS_clone3, &ca, sizeof ca);
        } else {
            pid = syscall(SYS_clone, (unsigned long)(CLONE_PIDFD | SIGCHLD), 0, &pidfd, 0, 0);
        }
        if (pid == 0) { pause(); _exit(0); }
        out(useclone3 ? "clone3" : "clone_pidfd", res(pid), "");
        if (pid < 0) continue;
        out("pidfd_send_signal", res(syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0)), "");
        siginfo_t si;
        out("waitid_pidfd", res(syscall(SYS_waitid, 3 /* P_PIDFD */, pidfd, &si, WEXITED, NULL)), "");
        close(pidfd);
        waitpid((pid_t)pid, NULL, WNOHANG);
    }
    return 0;
}

static int probe_calls(void)
{
    struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
    long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
    out("openat2", res(fd), "");
    int probe = open("/", O_PATH | O_CLOEXEC);
    out("close_range", res(syscall(SYS_close_range, probe, probe, 0)), "");
    struct mount_attr a = { 0 };
    long r = syscall(SYS_mount_setattr, -1, "", AT_EMPTY_PATH, &a, sizeof a); /* EBADF: the call exists */
    out("mount_setattr_call", r < 0 && errno != ENOSYS ? 0 : res(r), "");
    return 0;
}

struct ll_attr { uint64_t fs, net, scoped; };

static int probe_landlock(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1 /* LANDLOCK_CREATE_RULESET_VERSION */);
    char n[16];
    snprintf(n, sizeof n, "%ld", abi);
    out("abi", res(abi), abi > 0 ? n : "");
    if (abi <= 0) return 0;
    struct ll_attr attr = { 1ULL << 2 /* READ_FILE */, 0, 0 };
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, 8, 0);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    long r = rs < 0 ? -1 : syscall(SYS_landlock_restrict_self, rs, 0);
    out("restrict_self", res(r), "");
    if (r == 0) {
        int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        out("enforced", fd < 0 && errno == EACCES ? 0 : EINVAL, "read denied");
    }
    return 0;
}

/* A 32-bit getpid (int 0x80, eax 20) in a child: it returns our pid, fails, or the child dies. */
static int probe_ia32(void)
{
    pid_t c = fork();
    if (c == 0) {
        long ret;
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
        _exit(ret == getpid() ? 0 : 1);
    }
    int st = 0;
    waitpid(c, &st, 0);
    char d[32];
    snprintf(d, sizeof d, WIFSIGNALED(st) ? "signal %d" : "exit %d", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    out("int80", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : ENOSYS, d);
    return 0;
}

int probe_main(const char *name)
{
    static const struct { const char *name; int (*fn)(void); } probes[] = {
        { "userns", probe_userns }, { "seccomp", probe_seccomp }, { "tsync", probe_tsync }, { "notify", probe_notify },
        { "pidfd", probe_pidfd }, { "calls", probe_calls }, { "landlock", probe_landlock }, { "ia32", probe_ia32 },
    };
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
        if (!strcmp(name, probes[i].name)) return probes[i].fn();
    fprintf(stderr, "sandbox2-forkserver: unknown probe '%s'\n", name);
    return 2;
}
