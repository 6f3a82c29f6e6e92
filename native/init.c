/* init = PID 1 of the sandbox: identity, hostname, lo, mount tree, fork PID 2, reap, report. */
#include "sandbox2.h"

/* ---------- init (PID 1) ---------- */

int self_pidfd = -1; /* the forkserver's own pidfd: readable once it has exited */

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
    long pid2 = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    CHECK(pid2, ST_FORK, "");
    if (pid2 == 0) sandboxee(me);
    /* init keeps only its status channel (as fd 0 after this): nothing else of the host stays open. */
    if (status_fd != 0) {
        CHECK(dup3(status_fd, 0, O_CLOEXEC), ST_INIT_FDS, "status fd");
        status_fd = 0;
    }
    syscall(SYS_close_range, 1, ~0u, 0);

    struct { uint32_t type; int32_t code, status; uint32_t pad; int64_t utime, stime, maxrss; } r = { S_EXIT, 0, 0, 0, 0, 0, 0 };
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (syscall(SYS_waitid, P_ALL, 0, &si, WEXITED | __WALL, NULL) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (si.si_pid == pid2) {
            r.code = si.si_code;
            r.status = si.si_status;
            if (P.clone_flags & CLONE_NEWPID) kill(-1, SIGKILL);
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
