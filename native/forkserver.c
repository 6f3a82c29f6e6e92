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
 *    13 OPTIONS     u32           bit 0: seccomp listener to executor, bit 1: install filter before exec
 *   SCM_RIGHTS: [0] program (O_PATH), [1] status channel (SEQPACKET), [2..] sources of the FD records.
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
 * After clone only raw syscalls and async-signal-safe calls are used (no malloc, no stdio).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CTL_FD 3
#define MAGIC 0x53324653u
#define VERSION 2u
#define MAX_REQ (4u << 20)
#define MAX_ARGS ((int)(MAX_REQ / 8)) /* no cap of its own: a string record takes >= 9 bytes of the request */
#define MAX_MOUNTS 1024
#define MAX_RLIMITS 32
#define MAX_FDS 64
#define MAX_BPF 4096
#define ROOT_MAX 4096

enum { T_CLONE = 1, T_IDS, T_HOSTNAME, T_LOOPBACK, T_MOUNT, T_RLIMIT, T_CWD, T_ARG, T_ENV, T_FD, T_BPF, T_NONCE, T_OPTIONS };
enum { M_MKDIR, M_FILE, M_BIND, M_TMPFS, M_PROC, M_SYMLINK };
enum { S_SETUP_ERROR = 1, S_LISTENER = 2, S_EXIT = 3 };

/* Setup steps: keep in sync with src/Sandbox2/Execution/SetupStep.cs (a test checks every value). */
enum step {
    ST_REQUEST = 1, ST_PIPE = 2, ST_CLONE = 3, ST_SETGROUPS = 4, ST_UID_MAP = 5, ST_GID_MAP = 6, ST_RELEASE_INIT = 7,
    ST_SETRESGID = 10, ST_SETRESUID = 11, ST_INIT_PDEATHSIG = 12, ST_HOSTNAME = 13, ST_LOOPBACK = 14,
    ST_ROOT_PRIVATE = 20, ST_SCRATCH = 21, ST_PIVOT_SCRATCH = 22, ST_ROOT_TMPFS = 23, ST_MKDIR = 24, ST_CREATE_FILE = 25,
    ST_SYMLINK = 26, ST_MOUNT_TARGET = 27, ST_BIND = 28, ST_MOUNT_FLAGS = 29, ST_TMPFS = 30, ST_PROC = 31,
    ST_DETACH_OLDROOT = 32, ST_PIVOT_ROOT = 33, ST_REMOUNT_RO = 34, ST_MOUNT_KIND = 35,
    ST_FORK = 40, ST_INIT_FDS = 41,
    ST_PDEATHSIG = 50, ST_SETSID = 51, ST_SIGMASK = 52, ST_DUP = 53, ST_DUP2 = 54, ST_CLOSE_RANGE = 55, ST_RLIMIT = 56,
    ST_CHDIR = 57, ST_CAPS = 58, ST_NO_NEW_PRIVS = 59, ST_SECCOMP = 60, ST_SECCOMP_LISTENER = 61, ST_SEND_LISTENER = 62,
    ST_EXEC = 63,
};
#define OPT_LISTENER 1u
#define OPT_FILTER 2u

struct mount_op { uint32_t kind, attrs; const char *target, *source, *options; };
struct rlimit_op { uint32_t resource; uint64_t soft, hard; };

static struct plan {
    uint64_t clone_flags, nonce;
    int have_ids;
    uint32_t in_uid, in_gid, out_uid, out_gid, options;
    const char *hostname, *cwd;
    int loopback;
    struct mount_op mounts[MAX_MOUNTS]; int nmounts;
    struct rlimit_op rlimits[MAX_RLIMITS]; int nrlimits;
    char *argv[MAX_ARGS + 1]; int nargv;
    char *envp[MAX_ARGS + 1]; int nenvp;
    int fd_target[MAX_FDS]; int nfds;
    uint16_t nbpf;
} P;
static struct sock_filter bpf[MAX_BPF];

static uint8_t req[MAX_REQ];
static int recv_fds[MAX_FDS + 2], nrecv_fds;
static int prog_fd = -1, status_fd = -1;

/* ---------- reporting (child side: raw sendmsg carrying the nonce as args[5]) ---------- */

static char *cat(char *d, char *end, const char *s)
{
    while (s && *s && d < end - 1) *d++ = *s++;
    *d = 0;
    return d;
}

/* One datagram, optionally carrying one fd (SCM_RIGHTS); a raw syscall so that args[5] can carry the nonce. */
static long send_msg(int sock, const void *buf, size_t len, int fd_to_pass, uint64_t nonce)
{
    struct iovec iov = { (void *)buf, len };
    union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } c;
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (fd_to_pass >= 0) {
        memset(&c, 0, sizeof c);
        m.msg_control = c.b;
        m.msg_controllen = sizeof c.b;
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &fd_to_pass, sizeof(int));
    }
    return syscall(SYS_sendmsg, sock, &m, MSG_NOSIGNAL, 0, 0, nonce);
}

static long send_status(const void *buf, size_t len, int fd_to_pass) { return send_msg(status_fd, buf, len, fd_to_pass, P.nonce); }

/* Report step with errno err and the detail "{a}{b}{c}" on the status channel, then exit. */
static void __attribute__((noreturn)) fail(int err, enum step step, const char *a, const char *b, const char *c)
{
    struct { uint32_t type; int32_t err; uint32_t step; char text[1024]; } r;
    r.type = S_SETUP_ERROR;
    r.err = err;
    r.step = (uint32_t)step;
    char *e = r.text + sizeof r.text, *p = cat(r.text, e, a);
    p = cat(cat(p, e, b), e, c);
    send_status(&r, 12 + (size_t)(p - r.text) + 1, -1);
    syscall(SYS_exit_group, 126);
    __builtin_unreachable();
}
#define CHECK(x, step, detail) do { if ((x) < 0) fail(errno, step, detail, NULL, NULL); } while (0)

/* ---------- init: mount tree ---------- */

/* Targets are resolved inside the new root (openat2 RESOLVE_IN_ROOT): a symlink or ".." in the tree being built
 * resolves as the sandboxee would see it and can never lead out of it. Mounts go onto the resolved fd through
 * the host's procfs (/oldroot/proc/self/fd/N), as runc does. */
static int newroot_fd = -1;
static char pb[ROOT_MAX], fdpath[64];

static int in_root(const char *path, uint64_t flags)
{
    struct open_how how = { .flags = O_PATH | O_CLOEXEC | flags, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
    return (int)syscall(SYS_openat2, newroot_fd, path, &how, sizeof how);
}

static const char *fd_path(int fd)
{
    snprintf(fdpath, sizeof fdpath, "/oldroot/proc/self/fd/%d", fd);
    return fdpath;
}

/* Opens the parent directory of target (inside the new root); *name = the last component. */
static int parent_of(const char *target, const char **name, enum step what)
{
    char parent[ROOT_MAX];
    const char *slash = strrchr(target, '/');
    size_t n = (size_t)(slash - target);
    if (n >= sizeof parent || !slash[1]) fail(EINVAL, what, target, " (bad path)", NULL);
    memcpy(parent, target, n);
    parent[n ? n : 1] = 0;
    if (!n) parent[0] = '/';
    int fd = in_root(parent, O_DIRECTORY);
    if (fd < 0) fail(errno, what, target, " (parent directory)", NULL);
    *name = slash + 1;
    return fd;
}

static void mkdir_p(const char *target)
{
    char tmp[ROOT_MAX];
    if (strlen(target) >= sizeof tmp) fail(ENAMETOOLONG, ST_MKDIR, target, NULL, NULL);
    strcpy(tmp, target);
    for (char *s = tmp + 1;; s++) {
        if (*s != '/' && *s != 0) continue;
        char saved = *s;
        *s = 0;
        if (s > tmp + 1 && s[-1] != '/') {
            const char *name;
            int dir = parent_of(tmp, &name, ST_MKDIR);
            if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST) fail(errno, ST_MKDIR, tmp, NULL, NULL);
            close(dir);
        }
        if (!(*s = saved)) break;
    }
}

static void setattr(int dirfd, const char *path, uint32_t attrs, unsigned flags, enum step what, const char *shown)
{
    struct mount_attr a = { .attr_set = attrs };
    if (attrs && syscall(SYS_mount_setattr, dirfd, path, flags, &a, sizeof a) < 0)
        fail(errno, what, shown, NULL, NULL);
}

static void do_mount_op(const struct mount_op *op)
{
    const char *t = op->target, *name;
    int fd = -1, dir = -1;
    switch (op->kind) {
    case M_MKDIR: mkdir_p(t); break;
    case M_FILE:
        dir = parent_of(t, &name, ST_CREATE_FILE);
        fd = openat(dir, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0644);
        if (fd < 0) fail(errno, ST_CREATE_FILE, t, NULL, NULL);
        break;
    case M_SYMLINK:
        dir = parent_of(t, &name, ST_SYMLINK);
        if (symlinkat(op->source, dir, name) < 0) fail(errno, ST_SYMLINK, t, " -> ", op->source);
        break;
    default:
        if ((fd = in_root(t, 0)) < 0) fail(errno, ST_MOUNT_TARGET, t, NULL, NULL);
        if (op->kind == M_BIND) {
            if (strlen(op->source) + 9 >= ROOT_MAX) fail(ENAMETOOLONG, ST_BIND, op->source, NULL, NULL);
            cat(cat(pb, pb + ROOT_MAX, "/oldroot"), pb + ROOT_MAX, op->source);
            if (mount(pb, fd_path(fd), NULL, MS_BIND | MS_REC, NULL) < 0) fail(errno, ST_BIND, op->source, " -> ", t);
            close(fd);
            if ((fd = in_root(t, 0)) < 0) fail(errno, ST_MOUNT_TARGET, t, NULL, NULL); /* now the new mount */
            setattr(fd, "", op->attrs, AT_RECURSIVE | AT_EMPTY_PATH, ST_MOUNT_FLAGS, t);
        } else if (op->kind == M_TMPFS) {
            if (mount("tmpfs", fd_path(fd), "tmpfs", op->attrs & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC), op->options) < 0)
                fail(errno, ST_TMPFS, t, " options ", op->options);
        } else if (op->kind == M_PROC) {
            if (mount("proc", fd_path(fd), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) fail(errno, ST_PROC, t, NULL, NULL);
        } else {
            fail(EINVAL, ST_MOUNT_KIND, t, NULL, NULL);
        }
    }
    if (fd >= 0) close(fd);
    if (dir >= 0) close(dir);
}

/* bubblewrap's double pivot: scratch tmpfs with the host root at /oldroot, build /newroot, detach, pivot. */
static void build_root(void)
{
    mode_t saved_umask = umask(022); /* mount points get exactly the modes asked for */
    CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), ST_ROOT_PRIVATE, "/");
    CHECK(mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"), ST_SCRATCH, "mount tmpfs on /tmp");
    CHECK(chdir("/tmp"), ST_SCRATCH, "chdir /tmp");
    CHECK(mkdir("newroot", 0755), ST_SCRATCH, "mkdir newroot");
    CHECK(mkdir("oldroot", 0755), ST_SCRATCH, "mkdir oldroot");
    CHECK(syscall(SYS_pivot_root, ".", "oldroot"), ST_PIVOT_SCRATCH, "");
    CHECK(chdir("/"), ST_SCRATCH, "chdir /");
    CHECK(mount("tmpfs", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"), ST_ROOT_TMPFS, "/newroot");
    CHECK(newroot_fd = open("/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC), ST_ROOT_TMPFS, "open /newroot");
    for (int i = 0; i < P.nmounts; i++) do_mount_op(&P.mounts[i]);
    close(newroot_fd);
    CHECK(mount("oldroot", "/oldroot", NULL, MS_REC | MS_PRIVATE, NULL), ST_DETACH_OLDROOT, "make /oldroot private");
    CHECK(umount2("/oldroot", MNT_DETACH), ST_DETACH_OLDROOT, "umount /oldroot");
    int old = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    CHECK(old, ST_PIVOT_ROOT, "open scratch root");
    CHECK(chdir("/newroot"), ST_PIVOT_ROOT, "chdir /newroot");
    CHECK(syscall(SYS_pivot_root, ".", "."), ST_PIVOT_ROOT, "pivot_root");
    CHECK(fchdir(old), ST_PIVOT_ROOT, "fchdir scratch root");
    CHECK(umount2(".", MNT_DETACH), ST_PIVOT_ROOT, "detach scratch root");
    CHECK(chdir("/"), ST_PIVOT_ROOT, "chdir /");
    close(old);
    setattr(AT_FDCWD, "/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, ST_REMOUNT_RO, "/");
    umask(saved_umask);
}

static void loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(s, ST_LOOPBACK, "socket");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    ifr.ifr_flags = IFF_UP | IFF_RUNNING;
    CHECK(ioctl(s, SIOCSIFFLAGS, &ifr), ST_LOOPBACK, "SIOCSIFFLAGS");
    close(s);
}

/* ---------- PID 2: the sandboxee ---------- */

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void fd_layout(void)
{
    int high = 3, keep[MAX_FDS + 2], n = 0;
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
    unsigned lo = 0;
    for (int i = 0; i < n; i++) {
        if ((unsigned)keep[i] > lo) CHECK(syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0), ST_CLOSE_RANGE, "");
        lo = (unsigned)keep[i] + 1;
    }
    CHECK(syscall(SYS_close_range, lo, ~0u, 0), ST_CLOSE_RANGE, "");
}

static void drop_caps(void)
{
    for (int c = 0; c <= 63; c++) /* capabilities are numbered densely: EINVAL = past the kernel's last one */
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
            if (errno == EINVAL) break;
            fail(errno, ST_CAPS, "bounding set", NULL, NULL);
        }
    CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), ST_CAPS, "ambient set");
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    CHECK(syscall(SYS_capset, &h, d), ST_CAPS, "capset");
}

static void __attribute__((noreturn)) sandboxee(pid_t init_pid)
{
    CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), ST_PDEATHSIG, "");
    if (syscall(SYS_getppid) != init_pid) syscall(SYS_exit_group, 126);
    CHECK(setsid(), ST_SETSID, "");
    sigset_t none;
    sigemptyset(&none);
    CHECK(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8), ST_SIGMASK, "");
    fd_layout();
    for (int i = 0; i < P.nrlimits; i++) {
        struct rlimit r = { P.rlimits[i].soft, P.rlimits[i].hard };
        char num[12];
        snprintf(num, sizeof num, "%u", P.rlimits[i].resource);
        if (syscall(SYS_prlimit64, 0, P.rlimits[i].resource, &r, NULL) < 0) fail(errno, ST_RLIMIT, num, NULL, NULL);
    }
    if (P.cwd && chdir(P.cwd) < 0) fail(errno, ST_CHDIR, P.cwd, NULL, NULL);
    drop_caps();
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), ST_NO_NEW_PRIVS, "");
    if ((P.options & OPT_FILTER) && P.nbpf) {
        struct sock_fprog prog = { P.nbpf, bpf };
        unsigned flags = (P.options & OPT_LISTENER) ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
        long lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
        CHECK(lfd, flags ? ST_SECCOMP_LISTENER : ST_SECCOMP, "");
        if (flags) {
            uint32_t type = S_LISTENER;
            CHECK(send_status(&type, sizeof type, (int)lfd), ST_SEND_LISTENER, "");
        }
    }
    syscall(SYS_execveat, prog_fd, "", P.argv, P.envp, AT_EMPTY_PATH, P.nonce);
    fail(errno, ST_EXEC, P.nargv ? P.argv[0] : "(no argv)", NULL, NULL);
}

/* ---------- init (PID 1) ---------- */

static int self_pidfd = -1; /* the forkserver's own pidfd: readable once it has exited */

static void __attribute__((noreturn)) init_main(int sync_fd)
{
    char go = 0;
    if (read(sync_fd, &go, 1) != 1 || go != 'g') syscall(SYS_exit_group, 1); /* forkserver died or gave up */
    close(sync_fd);
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

/* ---------- forkserver ---------- */

static const char *parse(size_t len)
{
    memset(&P, 0, sizeof P);
    uint32_t hdr[2];
    if (len < 8) return "request too short";
    memcpy(hdr, req, 8);
    if (hdr[0] != MAGIC || hdr[1] != VERSION) return "bad magic or version";
    int fdi = 0;
    for (size_t off = 8; off < len;) {
        uint32_t tag, n;
        if (len - off < 8) return "truncated record header";
        memcpy(&tag, req + off, 4);
        memcpy(&n, req + off + 4, 4);
        off += 8;
        if (n > len - off) return "truncated record";
        uint8_t *v = req + off;
        off += n;
        int is_str = tag == T_HOSTNAME || tag == T_CWD || tag == T_ARG || tag == T_ENV;
        if (is_str && (n == 0 || v[n - 1] != 0)) return "string without NUL";
        switch (tag) {
        case T_CLONE: if (n != 8) return "bad CLONE_FLAGS"; memcpy(&P.clone_flags, v, 8); break;
        case T_IDS: {
            uint32_t ids[4];
            if (n != 16) return "bad IDS";
            memcpy(ids, v, 16);
            P.in_uid = ids[0]; P.in_gid = ids[1]; P.out_uid = ids[2]; P.out_gid = ids[3]; P.have_ids = 1;
            break;
        }
        case T_HOSTNAME: P.hostname = (char *)v; break;
        case T_LOOPBACK: P.loopback = 1; break;
        case T_MOUNT: {
            if (n < 11 || v[n - 1] != 0 || P.nmounts == MAX_MOUNTS) return "bad MOUNT";
            struct mount_op *m = &P.mounts[P.nmounts++];
            memcpy(&m->kind, v, 4);
            memcpy(&m->attrs, v + 4, 4);
            const char *s = (char *)v + 8, *end = (char *)v + n;
            m->target = s; s += strlen(s) + 1;
            if (s >= end) return "bad MOUNT strings";
            m->source = s; s += strlen(s) + 1;
            if (s >= end) return "bad MOUNT strings";
            m->options = *s ? s : NULL;
            if (m->target[0] != '/') return "MOUNT target not absolute";
            break;
        }
        case T_RLIMIT:
            if (n != 20 || P.nrlimits == MAX_RLIMITS) return "bad RLIMIT";
            memcpy(&P.rlimits[P.nrlimits].resource, v, 4);
            memcpy(&P.rlimits[P.nrlimits].soft, v + 4, 8);
            memcpy(&P.rlimits[P.nrlimits++].hard, v + 12, 8);
            break;
        case T_CWD: P.cwd = (char *)v; break;
        case T_ARG: if (P.nargv == MAX_ARGS) return "too many ARG"; P.argv[P.nargv++] = (char *)v; break;
        case T_ENV: if (P.nenvp == MAX_ARGS) return "too many ENV"; P.envp[P.nenvp++] = (char *)v; break;
        case T_FD:
            if (n != 4 || P.nfds == MAX_FDS) return "bad FD";
            memcpy(&P.fd_target[P.nfds++], v, 4);
            if (P.fd_target[P.nfds - 1] < 0) return "negative FD target";
            fdi++;
            break;
        case T_BPF:
            if (n % 8 || n / 8 > MAX_BPF) return "bad BPF length";
            memcpy(bpf, v, n);
            P.nbpf = (uint16_t)(n / 8);
            break;
        case T_NONCE: if (n != 8) return "bad NONCE"; memcpy(&P.nonce, v, 8); break;
        case T_OPTIONS: if (n != 4) return "bad OPTIONS"; memcpy(&P.options, v, 4); break;
        default: return "unknown record tag";
        }
    }
    if (nrecv_fds != 2 + fdi) return "fd count does not match FD records";
    if (P.nargv == 0) return "no argv";
    P.argv[P.nargv] = NULL;
    P.envp[P.nenvp] = NULL;
    return NULL;
}

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

static void spawn(int sigfd)
{
    int sync[2];
    char msg[160];
    if (pipe2(sync, O_CLOEXEC) < 0) return reply(errno, 0, ST_PIPE, "", -1);
    int pidfd = -1;
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = P.clone_flags | CLONE_PIDFD;
    ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
    ca.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0) {
        int e = errno;
        close(sync[0]);
        close(sync[1]);
        return reply(e, 0, ST_CLONE, "", -1);
    }
    if (pid == 0) {
        close(CTL_FD);
        close(sigfd);
        close(sync[1]);
        init_main(sync[0]);
    }
    close(sync[0]);
    if (P.have_ids && (P.clone_flags & CLONE_NEWUSER)) {
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

int main(void)
{
    for (int s = 1; s < 65; s++) signal(s, SIG_DFL);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_SETMASK, &chld, NULL);
    if (fcntl(CTL_FD, F_SETFD, FD_CLOEXEC) < 0) {
        fprintf(stderr, "sandbox2-forkserver: no control socket at fd 3 (started by the Sandbox2 library only)\n");
        return 2;
    }
    syscall(SYS_close_range, CTL_FD + 1, ~0u, 0);
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
        union { char b[CMSG_SPACE(sizeof(int) * (MAX_FDS + 2))]; struct cmsghdr align; } c;
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
