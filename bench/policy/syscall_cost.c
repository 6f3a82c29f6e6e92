// syscall_cost FILTER|none NR ITERATIONS [STACK]
// Installs FILTER (struct sock_filter[], kernel layout) STACK times (default 1), then makes ITERATIONS raw
// syscalls NR with all arguments 0 and prints the mean ns per call. Every call must succeed (result >= 0).
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline long raw0(long nr) {
    long r;
    register long r10 __asm__("r10") = 0, r8 __asm__("r8") = 0, r9 __asm__("r9") = 0;
    __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(0L), "S"(0L), "d"(0L), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return r;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s FILTER|none NR ITERATIONS [STACK]\n", argv[0]); return 2; }
    long nr = strtol(argv[2], NULL, 0), iters = strtol(argv[3], NULL, 0);
    int stack = argc > 4 ? atoi(argv[4]) : 1;
    if (strcmp(argv[1], "none") != 0) {
        static struct sock_filter insns[4096];
        FILE *f = fopen(argv[1], "rb");
        if (!f) { perror(argv[1]); return 2; }
        size_t n = fread(insns, sizeof insns[0], 4096, f);
        fclose(f);
        struct sock_fprog prog = { .len = (unsigned short)n, .filter = insns };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("prctl"); return 2; }
        for (int i = 0; i < stack; i++)
            if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) { perror("seccomp"); return 2; }
    }
    for (long i = 0; i < iters / 20; i++) if (raw0(nr) < 0) { fprintf(stderr, "syscall %ld failed\n", nr); return 1; }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < iters; i++) if (raw0(nr) < 0) { fprintf(stderr, "syscall %ld failed\n", nr); return 1; }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / iters;
    printf("%.1f\n", ns);
    return 0;
}
