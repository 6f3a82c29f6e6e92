/* The mount tree (init, in the new mount namespace). */
#include "sandbox2.h"

/* ---------- init: mount tree ---------- */

/* Targets are resolved inside the new root (openat2 RESOLVE_IN_ROOT): a symlink or ".." in the tree being built
 * resolves as the sandboxee would see it and can never lead out of it. Bind sources are host paths the executor
 * resolved (no planted symlink followed) and opened: here each is opened once under the host root (/oldroot) with no
 * symlink followed at all (open_beneath), checked to be the file the executor opened (BIND_ID: st_dev, st_ino), and
 * mounted from that descriptor. Mounts go from and onto descriptors through the host's procfs
 * (/oldroot/proc/self/fd/N), as runc does. (The executor's own descriptor cannot be the source: it belongs to the
 * host's mount namespace, and the kernel refuses to bind, or open_tree, a mount of another namespace.) */
static int newroot_fd = -1, oldroot_fd = -1;
static char fdpath[64], srcpath[64];

static int in_root(const char *path, uint64_t flags) { return open_in_root(newroot_fd, path, flags); }

static const char *fd_path_in(char *buf, size_t size, int fd)
{
    snprintf(buf, size, "/oldroot/proc/self/fd/%d", fd);
    return buf;
}

static const char *fd_path(int fd) { return fd_path_in(fdpath, sizeof fdpath, fd); }

/* The bind source of op, opened under the host root without following any symlink; it must be the executor's file. */
static int open_source(const struct mount_op *op)
{
    int src = open_beneath(oldroot_fd, op->source);
    if (src < 0) fail(errno, ST_BIND_SOURCE, op->source, " -> ", op->target);
    struct stat st;
    if (fstat(src, &st) < 0) fail(errno, ST_BIND_SOURCE, op->source, " -> ", op->target);
    if (S_ISLNK(st.st_mode)) fail(ELOOP, ST_BIND_SOURCE, op->source, " -> ", op->target); /* O_NOFOLLOW gave the link itself */
    if (op->have_id) {
        if ((uint64_t)st.st_dev != op->dev || (uint64_t)st.st_ino != op->ino)
            fail(ESTALE, ST_BIND_SOURCE_CHANGED, op->source, " -> ", op->target);
    }
    return src;
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

static void setattr(int fd, uint32_t attrs, int recursive, enum step what, const char *shown)
{
    if (set_mount_attrs(fd, attrs, recursive) < 0) fail(errno, what, shown, NULL, NULL);
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
            int src = open_source(op);
            if (mount(fd_path_in(srcpath, sizeof srcpath, src), fd_path(fd), NULL, MS_BIND | MS_REC, NULL) < 0)
                fail(errno, ST_BIND, op->source, " -> ", t);
            close(src);
            close(fd);
            if ((fd = in_root(t, 0)) < 0) fail(errno, ST_MOUNT_TARGET, t, NULL, NULL); /* now the new mount */
            setattr(fd, op->attrs, 1, ST_MOUNT_FLAGS, t);
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
void build_root(void)
{
    mode_t saved_umask = umask(022); /* mount points get exactly the modes asked for */
    CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), ST_ROOT_PRIVATE, "/");
    CHECK(mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"), ST_SCRATCH, "mount tmpfs on /tmp");
    CHECK(chdir("/tmp"), ST_SCRATCH, "chdir /tmp");
    CHECK(mkdir("newroot", 0755), ST_SCRATCH, "mkdir newroot");
    CHECK(mkdir("oldroot", 0755), ST_SCRATCH, "mkdir oldroot");
    CHECK(syscall(SYS_pivot_root, ".", "oldroot"), ST_PIVOT_SCRATCH, "");
    CHECK(chdir("/"), ST_SCRATCH, "chdir /");
    char root_opts[64];
    snprintf(root_opts, sizeof root_opts, P.root_size ? "mode=0755,size=%llu" : "mode=0755", (unsigned long long)P.root_size);
    unsigned long root_flags = MS_NOSUID | MS_NODEV | (P.root_size ? MS_NOEXEC : 0); /* a writable root is noexec, like writable binds */
    CHECK(mount("tmpfs", "/newroot", "tmpfs", root_flags, root_opts), ST_ROOT_TMPFS, "/newroot");
    CHECK(newroot_fd = open("/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC), ST_ROOT_TMPFS, "open /newroot");
    CHECK(oldroot_fd = open("/oldroot", O_PATH | O_DIRECTORY | O_CLOEXEC), ST_SCRATCH, "open /oldroot");
    for (int i = 0; i < P.nmounts; i++) do_mount_op(&P.mounts[i]);
    close(newroot_fd);
    close(oldroot_fd);
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
    if (!P.root_size) setattr(AT_FDCWD, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, ST_REMOUNT_RO, "/");
    umask(saved_umask);
}
