/* Newer calls and their fallbacks, used where the call returns ENOSYS: on a kernel older than the call, or under a
 * container's seccomp profile (Docker's answers clone3 with ENOSYS). Each fallback is as safe as the call it replaces:
 *   clone3(CLONE_PIDFD)          -> clone(CLONE_PIDFD) (Linux 5.2): the same process, the same pidfd;
 *   close_range                  -> close() over every descriptor that can exist (the forkserver closed everything above
 *                                   fd 3 at start, so its descriptors and the sandboxee's dups are all below the bound);
 *   openat2(RESOLVE_IN_ROOT)     -> a walk of openat(O_NOFOLLOW) one component at a time, refusing any symlink (stricter:
 *                                   nothing is followed at all, so nothing can lead out of the new root);
 *   mount_setattr(AT_RECURSIVE)  -> MS_REMOUNT|MS_BIND of the mount and of every mount below it (mountinfo), each keeping
 *                                   the flags it already has (a user namespace may not clear locked ones). */
#include "sandbox2.h"
#include <sys/statvfs.h>

const char *clone_call = "clone3";

long clone_pidfd(uint64_t flags, int *pidfd, int cgroup_fd)
{
    clone_call = "clone3";
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = flags | CLONE_PIDFD;
    ca.pidfd = (uint64_t)(uintptr_t)pidfd;
    ca.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) {
        ca.flags |= CLONE_INTO_CGROUP;
        ca.cgroup = (uint64_t)cgroup_fd;
    }
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid >= 0 || errno != ENOSYS) return pid;
    /* x86-64 clone(flags, stack, parent_tid, child_tid, tls): a fork-like child on a copy of this stack; with CLONE_PIDFD
     * the pidfd is stored through parent_tid. Without clone3 there is no CLONE_INTO_CGROUP: the child (which waits to be
     * released before it runs a step) is moved through the directory's cgroup.procs instead. */
    clone_call = "clone";
    pid = syscall(SYS_clone, (unsigned long)(flags | CLONE_PIDFD | SIGCHLD), 0, pidfd, 0, 0);
    if (pid > 0 && cgroup_fd >= 0) {
        char num[24];
        int len = snprintf(num, sizeof num, "%ld", pid), procs = openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (procs < 0 || write(procs, num, (size_t)len) != len) {
            int e = errno;
            syscall(SYS_pidfd_send_signal, *pidfd, SIGKILL, NULL, 0);
            close(*pidfd);
            if (procs >= 0) close(procs);
            errno = e;
            return -1;
        }
        close(procs);
    }
    return pid;
}

/* At start (before any request): close every descriptor from lo up, by /proc/self/fd where close_range is missing. */
int close_from(unsigned lo)
{
    if (syscall(SYS_close_range, lo, ~0u, 0) == 0) return 0;
    if (errno != ENOSYS) return -1;
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return -1;
    char buf[4096];
    for (;;) {
        long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
        if (n <= 0) break;
        for (long off = 0; off < n;) {
            struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *d = (void *)(buf + off);
            char *end;
            long fd = strtol(d->name, &end, 10);
            if (*d->name && !*end && fd >= (long)lo && fd != dir) close((int)fd);
            off += d->reclen;
        }
    }
    close(dir);
    return 0;
}

int close_fds(unsigned lo, unsigned hi, unsigned highest_known)
{
    if (syscall(SYS_close_range, lo, hi, 0) == 0) return 0;
    if (errno != ENOSYS) return -1;
    unsigned top = hi < highest_known ? hi : highest_known;
    for (unsigned fd = lo; fd <= top && fd >= lo; fd++) close((int)fd);
    return 0;
}

/* The fallback of both openat2 uses below: one component at a time, O_NOFOLLOW, refusing every symlink and "..". */
static int walk_nofollow(int rootfd, const char *path, uint64_t flags)
{
    char part[256];
    int dir = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    if (dir < 0) return -1;
    const char *s = path;
    for (;;) {
        while (*s == '/') s++;
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        while (e && e[1] == '/') e++;
        int last = !e || !e[1];
        if (n == 0) return dir; /* "/" itself */
        if (n >= sizeof part) { close(dir); errno = ENAMETOOLONG; return -1; }
        memcpy(part, s, n);
        part[n] = 0;
        if (!strcmp(part, ".") || !strcmp(part, "..")) { close(dir); errno = EINVAL; return -1; }
        int next = openat(dir, part, O_PATH | O_CLOEXEC | O_NOFOLLOW | (last ? (int)flags : O_DIRECTORY));
        int err = errno;
        close(dir);
        if (next < 0) { errno = err; return -1; }
        struct stat st;
        if (fstat(next, &st) < 0 || S_ISLNK(st.st_mode)) { close(next); errno = ELOOP; return -1; }
        if (last) return next;
        dir = next;
        s = e + 1;
    }
}

int open_in_root(int rootfd, const char *path, uint64_t flags)
{
    struct open_how how = { .flags = O_PATH | O_CLOEXEC | flags, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS) return fd;
    return walk_nofollow(rootfd, path, flags);
}

/* A host path the executor resolved (bind sources, Landlock rules at host paths): nothing in it may be a symlink, so it
 * is the file the executor opened or the open fails. Absolute paths are taken relative to dirfd (the host root). */
int open_beneath(int dirfd, const char *path)
{
    while (*path == '/') path++;
    if (!*path) return fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    struct open_how how = { .flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS) return fd;
    return walk_nofollow(dirfd, path, O_NOFOLLOW);
}

static unsigned long existing_flags(int fd)
{
    struct statvfs v;
    if (fstatvfs(fd, &v) < 0) return 0;
    unsigned long f = v.f_flag & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_SYNCHRONOUS | ST_MANDLOCK | ST_NOATIME | ST_NODIRATIME);
    if (v.f_flag & ST_RELATIME) f |= MS_RELATIME;
    return f;
}

/* The host's procfs while the root is being built (at /oldroot/proc), else /proc. */
static const char *procdir(void) { return access("/oldroot/proc/self", F_OK) == 0 ? "/oldroot/proc" : "/proc"; }

/* fd AT_FDCWD = the mount at "/" */
static int remount(int fd, uint32_t attrs)
{
    char p[64] = "/";
    if (fd != AT_FDCWD) snprintf(p, sizeof p, "%s/self/fd/%d", procdir(), fd);
    unsigned long have = 0;
    int tmp = fd == AT_FDCWD ? open("/", O_PATH | O_CLOEXEC) : fd;
    if (tmp >= 0) have = existing_flags(tmp);
    if (fd == AT_FDCWD && tmp >= 0) close(tmp);
    return mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | have | attrs, NULL);
}

/* Decodes mountinfo's octal escapes (\040 = space) in place. */
static void unescape(char *s)
{
    char *d = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            *d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *d++ = *s;
        }
    }
    *d = 0;
}

static char mountinfo[1 << 18];

/* fd: an O_PATH fd of a mount's root, or AT_FDCWD for "/" (not recursive). */
int set_mount_attrs(int fd, uint32_t attrs, int recursive)
{
    struct mount_attr a = { .attr_set = attrs };
    if (!attrs) return 0;
    long rc = fd == AT_FDCWD ? syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &a, sizeof a)
                             : syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof a);
    if (rc == 0) return 0;
    if (errno != ENOSYS) return -1;
    if (remount(fd, attrs) < 0) return -1;
    if (!recursive) return 0;
    char self[64], top[ROOT_MAX];
    snprintf(self, sizeof self, "%s/self/fd/%d", procdir(), fd);
    ssize_t n = readlink(self, top, sizeof top - 2);
    if (n <= 0) return -1;
    top[n] = '/';
    top[n + 1] = 0;
    snprintf(self, sizeof self, "%s/self/mountinfo", procdir());
    int mi = open(self, O_RDONLY | O_CLOEXEC);
    if (mi < 0) return -1;
    size_t len = 0;
    ssize_t r;
    while (len < sizeof mountinfo - 1 && (r = read(mi, mountinfo + len, sizeof mountinfo - 1 - len)) > 0) len += (size_t)r;
    close(mi);
    if (len == sizeof mountinfo - 1) { errno = E2BIG; return -1; }
    mountinfo[len] = 0;
    for (char *line = mountinfo, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        char *field = line;
        for (int i = 0; i < 4 && field; i++) field = strchr(field, ' ') ? strchr(field, ' ') + 1 : NULL;
        if (!field) continue;
        char *end = strchr(field, ' ');
        if (end) *end = 0;
        unescape(field);
        if (strncmp(field, top, (size_t)n + 1) != 0) continue;
        int sub = open(field, O_PATH | O_CLOEXEC | O_NOFOLLOW);
        if (sub < 0) return -1;
        int rc = remount(sub, attrs);
        int e = errno;
        close(sub);
        if (rc < 0) { errno = e; return -1; }
    }
    return 0;
}
