/*
 * sandbox2-forkserver: the native pre-exec stage of Sandbox2 for .NET.
 *
 * C# decides, C executes. This program is started once per executor process (posix_spawn) with its
 * control socket (AF_UNIX SOCK_SEQPACKET) at fd 3. It is single-threaded, never sandboxed, and exits
 * when the executor's end of the socket closes (EOF), which kills every sandbox it started (init has
 * PDEATHSIG=SIGKILL). It reaps its children (signalfd on SIGCHLD). Per request it clones a sandbox:
 *
 *   forkserver --clone3(CLONE_PIDFD|namespaces)--> init (PID 1): maps written by the forkserver,
 *       setresgid/setresuid(inside ids), hostname, lo up, mount tree (double pivot_root), fork PID 2,
 *       reap everything, kill the pid namespace when PID 2 ends, report {si_code, status, rusage}.
 *   init --fork--> sandboxee (PID 2): setsid, fd layout, rlimits, chdir, drop capabilities,
 *       no_new_privs, seccomp filter (listener sent to the executor), execveat(progfd, "", nonce).
 *
 * Wire protocol (all integers little-endian, host order; documented again in ForkServerProtocol.cs)
 *
 * Request = one datagram on the control socket:
 *   u32 magic 0x53324653 ("S2FS"), u32 version 2, then records { u32 tag, u32 len, u8 value[len] }.
 *   Strings are NUL-terminated inside value (len includes the NUL).
 *     1 CLONE_FLAGS u64           clone3 flags (CLONE_NEW*), CLONE_PIDFD is added here
 *     2 IDS         u32 x4        inside uid, inside gid, outside uid, outside gid
 *     3 HOSTNAME    str
 *     4 LOOPBACK    (empty)       bring lo up
 *     5 MOUNT       u32 kind, u32 attrs (MOUNT_ATTR_RDONLY|NOSUID|NODEV|NOEXEC), str target,
 *                   str source, str options   (kind: 0 mkdir -p, 1 create file, 2 bind, 3 tmpfs,
 *                   4 proc, 5 symlink; target inside the sandbox, source a host path / link text)
 *     6 RLIMIT      u32 resource, u64 soft, u64 hard
 *     7 CWD         str
 *     8 ARG         str           (repeated, argv order)
 *     9 ENV         str           (repeated)
 *    10 FD          u32 target fd (repeated; its source is the next SCM_RIGHTS fd)
 *    11 BPF         sock_filter[] (8 bytes per instruction)
 *    12 NONCE       u64           args[5] of the final execveat / listener sendmsg
 *    13 OPTIONS     u32           bit 0: seccomp listener to executor, bit 1: install filter before exec,
 *                                 bit 2: init unshares its cgroup namespace first (after a v1 placement)
 *    14 LANDLOCK    u64 handled fs rights, u64 handled net rights, u64 scopes   (apply a Landlock ruleset in PID 2)
 *    15 LANDLOCK_PATH u64 allowed rights, str path   (repeated: one path-beneath rule)
 *    16 CGROUP      u32 mode      (repeated) 1: clone3 CLONE_INTO_CGROUP with the fd (a v2 cgroup directory),
 *                                 2: write init's pid to the fd (a v1 cgroup.procs) before init is released
 *    20 BIND_ID     u64 st_dev, u64 st_ino   the preceding MOUNT (a bind) binds its source only if it is this file
 *    21 LANDLOCK_ID u64 st_dev, u64 st_ino   the preceding LANDLOCK_PATH: opened without following symlinks, must
 *                                 be this file
 *   A bind source is opened under the host root (/oldroot) without following any symlink (openat2
 *   RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or a component walk with O_NOFOLLOW) and mounted from that descriptor.
 *    28 ROOT_WRITABLE u64 size   the root tmpfs stays writable (noexec, size bytes) instead of read-only
 *    29 SPEC_ALLOW  (empty)       install the filter with SECCOMP_FILTER_FLAG_SPEC_ALLOW
 *    30 LANDLOCK_PROGRAM u64 rights   a Landlock rule on the program's own fd (the program is not mounted)
 *    31 SHARED_NETNS (empty)      clone inside the forkserver's one empty network namespace (made at the first
 *                                 such request; needs CAP_SYS_ADMIN), the clone flags carry no CLONE_NEWNET
 *   Without CLONE_NEWUSER the IDS are taken by init itself (no-namespaces isolation: setresgid/setresuid).
 *   SCM_RIGHTS: [0] program (O_PATH), [1] status channel (SEQPACKET), [2..] sources of the FD records, then one fd
 *   per CGROUP record.
 * Reply = one datagram { i32 errno (0 = ok), i32 init pid, u32 step, char detail[] } + SCM_RIGHTS init pidfd.
 *
 * Setup steps are numbers (enum step below; the same table is SetupStep in SetupStep.cs, which maps each to a
 * reason code and the kernel feature it needs). The detail is only the paths or values involved.
 *
 * Status channel records (init and PID 2 -> executor), each one datagram, starting with u32 type:
 *   1 SETUP_ERROR { u32 type, i32 errno, u32 step, char detail[] }   a setup step failed; the process exits
 *   2 LISTENER    { u32 type }   + SCM_RIGHTS seccomp listener fd
 *   3 EXIT        { u32 type, i32 si_code, i32 si_status, u32 0, i64 utime_us, i64 stime_us,
 *                   i64 maxrss_kb }   PID 2 ended (CLD_EXITED/KILLED/DUMPED), rusage of all processes
 * EOF = init exited.
 *
 * With the first argument --probe NAME it is instead one of sandbox2 doctor's checks (probe.c), run in its own process.
 *
 * After clone only raw syscalls and async-signal-safe calls are used (no malloc, no stdio).
 */
#include "sandbox2.h"

/* ---------- forkserver ---------- */

static void reply(int err, int pid, uint32_t step, const char *msg, int pidfd)
{
    struct { int32_t err, pid; uint32_t step; char msg[256]; } r = { err, pid, step, "" };
    if (msg) snprintf(r.msg, sizeof r.msg, "%s", msg);
    if (send_msg(CTL_FD, &r, 12 + strlen(r.msg) + 1, pidfd, 0) < 0) _exit(errno == EPIPE ? 0 : 1);
}

static int write_file(int pid, const char *name, const char *text)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* UseForkServerSharedNetNs: the forkserver's one extra network namespace, made on first use (unshare, then back to its
 * own), entered around the clone of each sandbox that asks for it so that the sandbox is born in it. */
static int own_netns = -1, shared_netns = -1;

static int enter_shared_netns(void)
{
    if (own_netns < 0 && (own_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) return -1;
    if (shared_netns < 0) {
        if (syscall(SYS_unshare, CLONE_NEWNET) < 0) return -1;
        shared_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        int e = errno;
        if (syscall(SYS_setns, own_netns, CLONE_NEWNET) < 0) _exit(1); /* cannot happen: it was just left; never serve from a wrong one */
        if (shared_netns < 0) { errno = e; return -1; }
    }
    return (int)syscall(SYS_setns, shared_netns, CLONE_NEWNET);
}

static void spawn(int sigfd)
{
    int sync[2];
    char msg[160];
    if (pipe2(sync, O_CLOEXEC) < 0) return reply(errno, 0, ST_PIPE, "", -1);
    int pidfd = -1;
    int into = cgroup_clone_fd();
    if (P.shared_netns && enter_shared_netns() < 0) {
        int e = errno;
        close(sync[0]);
        close(sync[1]);
        return reply(e, 0, ST_SHARED_NETNS, "", -1);
    }
    long pid = clone_pidfd(P.clone_flags, &pidfd, into);
    /* The forkserver (only: init stays where it was born) goes back at once; it never serves a request from the shared one. */
    if (pid != 0 && P.shared_netns && syscall(SYS_setns, own_netns, CLONE_NEWNET) < 0) _exit(1);
    if (pid < 0) {
        int e = errno;
        close(sync[0]);
        close(sync[1]);
        int cg = into >= 0 && (e == EBUSY || e == EOPNOTSUPP || e == EBADF || e == EACCES || e == ENODEV || e == EAGAIN);
        return reply(e, 0, cg ? ST_CGROUP_CLONE : ST_CLONE, clone_call, -1);
    }
    if (pid == 0) {
        close(CTL_FD);
        close(sigfd);
        close(sync[1]);
        init_main(sync[0]);
    }
    close(sync[0]);
    if (cgroup_place(pid) < 0) { /* v1: into every controller's cgroup before init runs a single step */
        int e = errno;
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        close(sync[1]);
        close(pidfd);
        return reply(e, 0, ST_CGROUP_PROCS, "", -1);
    }
    if (P.have_ids && (P.clone_flags & CLONE_NEWUSER)) { /* without a user namespace, init changes its ids itself */
        char map[64];
        enum step step = ST_SETGROUPS;
        int r = write_file((int)pid, "setgroups", "deny");
        if (r == 0) {
            snprintf(map, sizeof map, "%u %u 1\n", P.in_uid, P.out_uid);
            step = ST_UID_MAP;
            r = write_file((int)pid, "uid_map", map);
        }
        if (r == 0) {
            snprintf(map, sizeof map, "%u %u 1\n", P.in_gid, P.out_gid);
            step = ST_GID_MAP;
            r = write_file((int)pid, "gid_map", map);
        }
        if (r < 0) {
            int e = errno;
            syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
            close(sync[1]);
            close(pidfd);
            snprintf(msg, sizeof msg, "inside %u/%u -> outside %u/%u", P.in_uid, P.in_gid, P.out_uid, P.out_gid);
            return reply(e, 0, step, msg, -1);
        }
    }
    if (write(sync[1], "g", 1) != 1) {
        int e = errno;
        close(sync[1]);
        close(pidfd);
        return reply(e, 0, ST_RELEASE_INIT, "", -1);
    }
    close(sync[1]);
    reply(0, (int)pid, 0, NULL, pidfd);
    close(pidfd);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--probe")) return probe_main(argv[2]); /* sandbox2 doctor */
    for (int s = 1; s < 65; s++) signal(s, SIG_DFL);
    /* As Sandbox2's forkserver: a SIGTERM to the process group it was started in (its executor's, which may have moved
     * on) must not end every sandbox; it ends with its executor (control socket EOF). PID 2 resets it before exec. */
    signal(SIGTERM, SIG_IGN);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_SETMASK, &chld, NULL);
    if (fcntl(CTL_FD, F_SETFD, FD_CLOEXEC) < 0) {
        fprintf(stderr, "sandbox2-forkserver: no control socket at fd 3 (started by the Sandbox2 library only)\n");
        return 2;
    }
    if (close_from(CTL_FD + 1) < 0) return 2;
    if (chdir("/") < 0) return 2; /* do not pin the executor's working directory */
    if (geteuid() == 0) setgroups(0, NULL); /* sandboxes never carry root's supplementary groups */
    int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    self_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (sigfd < 0 || self_pidfd < 0) return 3;
    for (;;) {
        struct pollfd pf[2] = { { CTL_FD, POLLIN, 0 }, { sigfd, POLLIN, 0 } };
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return 4;
        }
        if (pf[1].revents) {
            struct signalfd_siginfo si;
            while (read(sigfd, &si, sizeof si) > 0) {}
            while (waitpid(-1, NULL, WNOHANG | __WALL) > 0) {}
        }
        if (!pf[0].revents) continue;
        union { char b[CMSG_SPACE(sizeof(int) * (MAX_FDS + 2 + MAX_CGROUPS))]; struct cmsghdr align; } c;
        struct iovec iov = { req, sizeof req };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b, .msg_controllen = sizeof c.b };
        ssize_t n = recvmsg(CTL_FD, &m, MSG_CMSG_CLOEXEC);
        if (n == 0) return 0; /* executor gone: exit; every init dies with us (PDEATHSIG) */
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return 5;
        }
        nrecv_fds = 0;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
            if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
                int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                memcpy(recv_fds + nrecv_fds, CMSG_DATA(h), sizeof(int) * (size_t)k);
                nrecv_fds += k;
            }
        const char *bad = (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ? "request truncated" : parse((size_t)n);
        if (bad) {
            reply(EINVAL, 0, ST_REQUEST, bad, -1);
        } else {
            prog_fd = recv_fds[0];
            status_fd = recv_fds[1];
            spawn(sigfd);
        }
        for (int i = 0; i < nrecv_fds; i++) close(recv_fds[i]);
    }
}
