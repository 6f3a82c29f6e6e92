// seccomp_exec: runs PROGRAM under a seccomp filter the way the sandbox does before exec.
//   seccomp_exec FILTER NONCE PROGRAM [ARG...]
// Opens PROGRAM O_PATH, sets no_new_privs, installs FILTER (struct sock_filter[] in kernel layout), then
// execveat(fd, "", argv, environ, AT_EMPTY_PATH) with the 64-bit NONCE in the sixth argument register (r9),
// which the filter's tagged-exec rule checks. Exit status: PROGRAM's; 126 + message if setup fails.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s FILTER NONCE PROGRAM [ARG...]\n", argv[0]);
        return 126;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 126; }
    static struct sock_filter insns[4096];
    size_t n = fread(insns, sizeof insns[0], 4096, f);
    fclose(f);
    unsigned long long nonce = strtoull(argv[2], NULL, 0);
    int fd = open(argv[3], O_PATH | O_CLOEXEC);
    if (fd < 0) { perror(argv[3]); return 126; }
    struct sock_fprog prog = { .len = (unsigned short)n, .filter = insns };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        perror("seccomp");
        return 126;
    }
    long r;
    register long r10 __asm__("r10") = (long)environ;
    register long r8 __asm__("r8") = AT_EMPTY_PATH;
    register long r9 __asm__("r9") = (long)nonce;
    __asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_execveat), "D"((long)fd), "S"(""), "d"(argv + 3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    // only reached when execveat failed (the filter allows nothing else we could safely call: just exit)
    syscall(SYS_exit_group, 126);
    return 126;
}
