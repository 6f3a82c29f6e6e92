/* PID 2 before exec: fds, a fresh session keyring, limits, cwd, capabilities, no_new_privs, the seccomp filter, execveat. */
#include "sandbox2.h"

/* ---------- PID 2: the sandboxee ---------- */

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void fd_layout(void)
{
    int high = 3, keep[MAX_FDS + 2 + MAX_CGROUPS], n = 0;
    for (int i = 0; i < P.nfds; i++)
        if (P.fd_target[i] >= high) high = P.fd_target[i] + 1;
    int dups[MAX_FDS];
    for (int i = 0; i < P.nfds; i++) CHECK(dups[i] = fcntl(recv_fds[2 + i], F_DUPFD_CLOEXEC, high), ST_DUP, "fd source");
    CHECK(status_fd = fcntl(status_fd, F_DUPFD_CLOEXEC, high), ST_DUP, "status fd");
    CHECK(prog_fd = fcntl(prog_fd, F_DUPFD_CLOEXEC, high), ST_DUP, "program fd");
    for (int i = 0; i < P.nfds; i++) {
        if (dup2(dups[i], P.fd_target[i]) < 0) {
            char num[12];
            snprintf(num, sizeof num, "%d", P.fd_target[i]);
            fail(errno, ST_DUP2, num, NULL, NULL);
        }
        keep[n++] = P.fd_target[i];
    }
    keep[n++] = status_fd;
    keep[n++] = prog_fd;
    qsort(keep, (size_t)n, sizeof keep[0], cmp_int);
    unsigned bound = (unsigned)(high + MAX_FDS + 2) > FD_BOUND ? (unsigned)(high + MAX_FDS + 2) : FD_BOUND; /* see compat.c */
    unsigned lo = 0;
    for (int i = 0; i < n; i++) {
        if ((unsigned)keep[i] > lo) CHECK(close_fds(lo, (unsigned)keep[i] - 1, bound), ST_CLOSE_RANGE, "");
        lo = (unsigned)keep[i] + 1;
    }
    CHECK(close_fds(lo, ~0u, bound), ST_CLOSE_RANGE, "");
}

static void drop_caps(void)
{
    /* Capabilities are numbered densely: EINVAL = past the kernel's last one. EPERM = no CAP_SETPCAP, which happens only
     * without a user namespace (no-namespaces isolation, unprivileged): then the bounding set cannot grant anything anyway,
     * since no_new_privs (below) stops exec from gaining capabilities, and the permitted set is cleared by capset. */
    for (int c = 0; c <= 63; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
            if (errno == EINVAL || (errno == EPERM && !(P.clone_flags & CLONE_NEWUSER))) break;
            fail(errno, ST_CAPS, "bounding set", NULL, NULL);
        }
    CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), ST_CAPS, "ambient set");
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    CHECK(syscall(SYS_capset, &h, d), ST_CAPS, "capset");
}

void __attribute__((noreturn)) sandboxee(pid_t init_pid)
{
    CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), ST_PDEATHSIG, "");
    if (syscall(SYS_getppid) != init_pid) syscall(SYS_exit_group, 126);
    trace_sync_child(); /* T_TRACE: init seizes PID 2 before anything else happens */
    CHECK(setsid(), ST_SETSID, "");
    sigset_t none;
    sigemptyset(&none);
    CHECK(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8), ST_SIGMASK, "");
    fd_layout();
    /* A fresh anonymous session keyring, always: the invoker's session keyring (and the keys in it) is out of reach.
     * ENOSYS: a kernel without keys. EPERM: an outer seccomp profile (a container's) blocks keyctl, for the program too. */
    if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL, 0, 0, 0) < 0 && errno != ENOSYS && errno != EPERM)
        fail(errno, ST_KEYRING, "", NULL, NULL);
    for (int i = 0; i < P.nrlimits; i++) {
        struct rlimit r = { P.rlimits[i].soft, P.rlimits[i].hard };
        char num[12];
        snprintf(num, sizeof num, "%u", P.rlimits[i].resource);
        if (syscall(SYS_prlimit64, 0, P.rlimits[i].resource, &r, NULL) < 0) fail(errno, ST_RLIMIT, num, NULL, NULL);
    }
    if (P.have_nice && setpriority(PRIO_PROCESS, 0, P.nice) < 0) { /* PID 2 only: init keeps the executor's priority */
        char num[12];
        snprintf(num, sizeof num, "%d", P.nice);
        fail(errno, ST_NICE, num, NULL, NULL);
    }
    if (P.cwd && chdir(P.cwd) < 0) fail(errno, ST_CHDIR, P.cwd, NULL, NULL);
    drop_caps();
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), ST_NO_NEW_PRIVS, "");
    if (P.landlock) apply_landlock();
    if ((P.options & OPT_FILTER) && P.nbpf) {
        struct sock_fprog prog = { P.nbpf, bpf };
        unsigned flags = (P.options & OPT_LISTENER) ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
        if (P.spec_allow) flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
        long lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
        CHECK(lfd, (P.options & OPT_LISTENER) ? ST_SECCOMP_LISTENER : ST_SECCOMP, P.spec_allow ? "SPEC_ALLOW" : "");
        if (P.options & OPT_LISTENER) {
            uint32_t type = S_LISTENER;
            CHECK(send_status(&type, sizeof type, (int)lfd), ST_SEND_LISTENER, "");
        }
    }
    syscall(SYS_execveat, prog_fd, "", P.argv, P.envp, AT_EMPTY_PATH, P.nonce);
    fail(errno, ST_EXEC, P.nargv ? P.argv[0] : "(no argv)", NULL, NULL);
}
