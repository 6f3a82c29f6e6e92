/* deny_launcher RULE[,RULE...] -- PROGRAM [ARG...]: installs a seccomp filter that makes some calls fail as they do on an
 * older kernel or in a container, then execs PROGRAM (which, and all it starts, inherits the filter). A RULE is NAME=ERRNO:
 *   clone3, unshare, close_range, openat2, mount_setattr, landlock (all three calls), seccomp (every filter install);
 *   clone_ns (clone with a CLONE_NEW* flag, as Docker's profile), seccomp_listener (a filter with NEW_LISTENER),
 *   seccomp_tsync (a filter with TSYNC);
 * ERRNO: ENOSYS, EPERM, EINVAL, ENOSPC, EACCES or a number. Used by the tests of sandbox2 doctor and the fallbacks. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AUDIT_ARCH_X86_64 0xc000003eu
static struct sock_filter prog[512];
static int n;

static void emit(struct sock_filter f) { if (n < 512) prog[n++] = f; }

/* nr == NR [&& (args[arg] & mask)] -> ERRNO(e) */
static void rule(int nr, int arg, unsigned mask, unsigned e)
{
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
    if (arg < 0) {
        emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1));
    } else {
        emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 3));
        emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]) + 8 * arg));
        emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, mask, 0, 1));
    }
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (e & SECCOMP_RET_DATA)));
}

static unsigned parse_errno(const char *s)
{
    static const struct { const char *name; unsigned v; } names[] = {
        { "ENOSYS", ENOSYS }, { "EPERM", EPERM }, { "EINVAL", EINVAL }, { "ENOSPC", ENOSPC }, { "EACCES", EACCES },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) return names[i].v;
    return (unsigned)atoi(s);
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "--")) {
        fprintf(stderr, "usage: deny_launcher NAME=ERRNO[,NAME=ERRNO...] -- PROGRAM [ARG...]\n");
        return 2;
    }
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    char *spec = strdup(argv[1]);
    for (char *r = strtok(spec, ","); r; r = strtok(NULL, ",")) {
        char *eq = strchr(r, '=');
        if (!eq) { fprintf(stderr, "deny_launcher: %s: expected NAME=ERRNO\n", r); return 2; }
        *eq = 0;
        unsigned e = parse_errno(eq + 1);
        if (!strcmp(r, "clone3")) rule(SYS_clone3, -1, 0, e);
        else if (!strcmp(r, "unshare")) rule(SYS_unshare, -1, 0, e);
        else if (!strcmp(r, "close_range")) rule(SYS_close_range, -1, 0, e);
        else if (!strcmp(r, "openat2")) rule(SYS_openat2, -1, 0, e);
        else if (!strcmp(r, "mount_setattr")) rule(SYS_mount_setattr, -1, 0, e);
        else if (!strcmp(r, "landlock")) { rule(444, -1, 0, e); rule(445, -1, 0, e); rule(446, -1, 0, e); }
        else if (!strcmp(r, "seccomp")) rule(SYS_seccomp, -1, 0, e);
        else if (!strcmp(r, "clone_ns")) rule(SYS_clone, 0, 0x7E020000u, e);
        else if (!strcmp(r, "seccomp_listener")) rule(SYS_seccomp, 1, SECCOMP_FILTER_FLAG_NEW_LISTENER, e);
        else if (!strcmp(r, "seccomp_tsync")) rule(SYS_seccomp, 1, SECCOMP_FILTER_FLAG_TSYNC, e);
        else { fprintf(stderr, "deny_launcher: unknown call '%s'\n", r); return 2; }
    }
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    struct sock_fprog fp = { (unsigned short)n, prog };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0) {
        perror("deny_launcher: seccomp");
        return 2;
    }
    execvp(argv[3], argv + 3);
    perror("deny_launcher: exec");
    return 127;
}
