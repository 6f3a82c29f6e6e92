/* Landlock (PID 2 before the seccomp filter, after no_new_privs): the ruleset C# computed from the mounts, for the ABI it
 * found. A second wall inside the namespaces (the same rules at the inside paths), and the filesystem wall of
 * no-namespaces isolation (at the host paths). Nothing is decided here: an unsupported right is a failed step. */
#include "sandbox2.h"

struct ruleset_attr { uint64_t handled_access_fs, handled_access_net, scoped; };
struct path_beneath_attr { uint64_t allowed_access; int32_t parent_fd; } __attribute__((packed));
#define RULE_PATH_BENEATH 1

void apply_landlock(void)
{
    struct ruleset_attr attr = { P.ll_fs, P.ll_net, P.ll_scoped };
    size_t size = P.ll_scoped ? 24 : P.ll_net ? 16 : 8; /* the struct grew with the ABI: pass what the kernel knows */
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    CHECK(rs, ST_LANDLOCK, "");
    int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(root, ST_LANDLOCK_RULE, "open /");
    for (int i = 0; i < P.nll_paths; i++) {
        const struct landlock_path *lp = &P.ll_paths[i];
        int fd;
        if (lp->have_id) { /* a host path the executor opened: no symlink followed, and the same file */
            fd = open_beneath(root, lp->path);
            struct stat st;
            if (fd < 0) fail(errno, ST_LANDLOCK_RULE, lp->path, " (opened without following symlinks)", NULL);
            if (fstat(fd, &st) < 0 || (uint64_t)st.st_dev != lp->dev || (uint64_t)st.st_ino != lp->ino)
                fail(ESTALE, ST_LANDLOCK_PATH_CHANGED, lp->path, NULL, NULL);
        } else {
            fd = open(lp->path, O_PATH | O_CLOEXEC);
            if (fd < 0) fail(errno, ST_LANDLOCK_RULE, lp->path, NULL, NULL);
        }
        struct path_beneath_attr pb = { lp->access, fd };
        if (syscall(SYS_landlock_add_rule, rs, RULE_PATH_BENEATH, &pb, 0) < 0) fail(errno, ST_LANDLOCK_RULE, lp->path, NULL, NULL);
        close(fd);
    }
    close(root);
    if (P.ll_program) { /* the program is executed from its fd and not mounted: the rule is on that fd's file */
        struct path_beneath_attr pb = { P.ll_program, prog_fd };
        if (syscall(SYS_landlock_add_rule, rs, RULE_PATH_BENEATH, &pb, 0) < 0) fail(errno, ST_LANDLOCK_RULE, "the program (its descriptor)", NULL, NULL);
    }
    CHECK(syscall(SYS_landlock_restrict_self, rs, 0), ST_LANDLOCK_RESTRICT, "");
    close(rs);
}
