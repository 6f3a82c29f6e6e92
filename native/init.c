/* init = PID 1 of the sandbox: identity, hostname, lo, mount tree, fork PID 2, reap, report. */
#include "sandbox2.h"

/* ---------- init (PID 1) ---------- */

int self_pidfd = -1; /* the forkserver's own pidfd: readable once it has exited */

/* Without a pid namespace (no-namespaces isolation) init is a subreaper, not PID 1: when PID 2 has ended it kills its
 * own children, again after every reap (a killed child's children are reparented to init before it is reaped), and
 * PID 2's process group. */
static void kill_children(pid_t me, pid_t pid2)
{
    char path[64], buf[4096];
    kill(-pid2, SIGKILL);
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", me, me);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { /* no CONFIG_PROC_CHILDREN: find them by their parent in /proc/N/stat */
        int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0) return;
        long n;
        while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0)
            for (long off = 0; off < n;) {
                struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *d = (void *)(buf + off);
                off += d->reclen;
                char *end, stat[512];
                long pid = strtol(d->name, &end, 10);
                if (pid <= 0 || *end) continue;
                snprintf(path, sizeof path, "/proc/%ld/stat", pid);
                int sf = open(path, O_RDONLY | O_CLOEXEC);
                if (sf < 0) continue;
                ssize_t k = read(sf, stat, sizeof stat - 1);
                close(sf);
                if (k <= 0) continue;
                stat[k] = 0;
                char *paren = strrchr(stat, ')'); /* "pid (comm) state ppid ..." */
                if (paren && strtol(paren + 4, NULL, 10) == me) kill((pid_t)pid, SIGKILL);
            }
        close(dir);
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return;
    buf[n] = 0;
    for (char *s = buf, *end; *s; s = end) {
        long pid = strtol(s, &end, 10);
        if (end == s) break;
        if (pid > 0) kill((pid_t)pid, SIGKILL);
    }
}

void __attribute__((noreturn)) init_main(int sync_fd)
{
    char go = 0;
    if (read(sync_fd, &go, 1) != 1 || go != 'g') syscall(SYS_exit_group, 1); /* forkserver died or gave up */
    close(sync_fd);
    if (P.options & OPT_CGROUP_NS) CHECK(syscall(SYS_unshare, CLONE_NEWCGROUP), ST_CGROUP_NS, ""); /* rooted at the cgroup it is in now */
    if (P.have_ids) {
        if (syscall(SYS_setresgid, P.in_gid, P.in_gid, P.in_gid) < 0) fail(errno, ST_SETRESGID, NULL, NULL, NULL);
        if (syscall(SYS_setresuid, P.in_uid, P.in_uid, P.in_uid) < 0) fail(errno, ST_SETRESUID, NULL, NULL, NULL);
    }
    /* After the id change (which clears it): die with the forkserver; and if it is already gone, exit. */
    CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), ST_INIT_PDEATHSIG, "");
    struct pollfd parent = { self_pidfd, POLLIN, 0 };
    if (poll(&parent, 1, 0) != 0) syscall(SYS_exit_group, 1);
    close(self_pidfd);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (P.hostname && (P.clone_flags & CLONE_NEWUTS)) CHECK(sethostname(P.hostname, strlen(P.hostname)), ST_HOSTNAME, P.hostname);
    if (P.loopback && (P.clone_flags & CLONE_NEWNET)) loopback_up();
    if (P.clone_flags & CLONE_NEWNS) build_root();
    pid_t me = (pid_t)syscall(SYS_getpid);
    int own_pidns = (P.clone_flags & CLONE_NEWPID) != 0;
    if (!own_pidns) CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), ST_SUBREAPER, "");
    /* SIGCHLD stays pending for a signalfd (PID 2 resets its own mask), so that init waits on its children and its
     * status channel at once. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    CHECK(sigprocmask(SIG_BLOCK, &chld, NULL), ST_INIT_FDS, "SIGCHLD");
    int sync[2] = { -1, -1 };
    if (P.trace) CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync), ST_TRACE, "socketpair");
    long pid2 = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    CHECK(pid2, ST_FORK, "");
    if (pid2 == 0) {
        if (P.trace) { close(sync[0]); trace_sync_fd = sync[1]; }
        sandboxee(me);
    }
    if (P.trace) { close(sync[1]); trace_seize((pid_t)pid2, sync[0]); }
    /* init keeps only its status channel (as fd 0 after this): nothing else of the host stays open. */
    if (status_fd != 0) {
        CHECK(dup3(status_fd, 0, O_CLOEXEC), ST_INIT_FDS, "status fd");
        status_fd = 0;
    }
    close_fds(1, ~0u, FD_BOUND);

    struct { uint32_t type; int32_t code, status; uint32_t pad; int64_t utime, stime, maxrss; } r = { S_EXIT, 0, 0, 0, 0, 0, 0 };
    int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    CHECK(sfd, ST_INIT_FDS, "signalfd");
    int ended = 0, requests = P.trace; /* the executor's requests come on the status channel (trace.c) */
    for (;;) {
        if (ended && !own_pidns) kill_children(me, (pid_t)pid2);
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (syscall(SYS_waitid, P_ALL, 0, &si, WEXITED | WNOHANG | __WALL, NULL) < 0) {
            if (errno == EINTR) continue;
            break; /* ECHILD: every process of the sandbox has gone */
        }
        if (si.si_pid == 0) { /* nothing to reap: wait for SIGCHLD or a request */
            struct pollfd p[2] = { { sfd, POLLIN, 0 }, { 0, POLLIN, 0 } };
            int n = poll(p, requests ? 2 : 1, P.trace ? trace_poll_timeout() : -1);
            if (n < 0 && errno != EINTR) break;
            if (n > 0 && (p[0].revents & POLLIN)) {
                struct signalfd_siginfo drain[8];
                while (read(sfd, drain, sizeof drain) > 0) { }
            }
            if (n > 0 && requests && p[1].revents) requests = trace_request(0);
            continue;
        }
        if (si.si_code == CLD_TRAPPED) { trace_on_stop(si.si_pid, si.si_status); continue; }
        if (si.si_code == CLD_STOPPED || si.si_code == CLD_CONTINUED) continue;
        if (P.trace) trace_ended(si.si_pid);
        if (si.si_pid == pid2) {
            r.code = si.si_code;
            r.status = si.si_status;
            ended = 1;
            if (own_pidns) kill(-1, SIGKILL);
        }
    }
    struct rusage ru;
    syscall(SYS_getrusage, RUSAGE_CHILDREN, &ru);
    r.utime = ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec;
    r.stime = ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
    r.maxrss = ru.ru_maxrss;
    send_status(&r, sizeof r, -1);
    syscall(SYS_exit_group, 0);
    __builtin_unreachable();
}
