// seccomp_runner: installs a seccomp-bpf filter in a forked child and makes one syscall there.
//   seccomp_runner FILTER|-|none syscall|int80 NR [ARG0..ARG5]
// FILTER holds struct sock_filter[] in kernel layout ("-" = stdin, "none" = no filter). The child sets
// no_new_privs, installs the filter, makes the syscall (NR may carry the x32 bit; int80 uses the i386 ABI),
// stores the result in shared memory and spins; it needs no other syscall. The parent prints one line:
//   ret=R errno=E      the syscall returned R (errno E when R == -1)
//   signal=S           the child died of signal S before returning (31 = SIGSYS: killed by the filter)
//   setup-error errno=E  the filter could not be installed
// Exit status 0 for any of these, 2 for bad usage, 3 on timeout.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
    volatile int done;        // 1 = syscall returned, 2 = setup error
    long ret;
    int err;
};

static long int80(long nr, long a0, long a1, long a2, long a3, long a4) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3), "D"(a4) : "memory");
    return ret;
}

static int read_filter(const char *path, struct sock_filter **out, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    if (f != stdin) fclose(f);
    if (!buf || n == 0 || n % sizeof(struct sock_filter) != 0) return -1;
    *out = (struct sock_filter *)buf;
    *len = n / sizeof(struct sock_filter);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4 || (strcmp(argv[2], "syscall") != 0 && strcmp(argv[2], "int80") != 0)) {
        fprintf(stderr, "usage: %s FILTER|-|none syscall|int80 NR [ARG0..ARG5]\n", argv[0]);
        return 2;
    }
    int use_filter = strcmp(argv[1], "none") != 0;
    struct sock_filter *insns = NULL;
    size_t count = 0;
    if (use_filter && read_filter(argv[1], &insns, &count) != 0) {
        fprintf(stderr, "cannot read a BPF program from %s\n", argv[1]);
        return 2;
    }
    long nr = (long)strtoull(argv[3], NULL, 0);
    unsigned long a[6] = {0};
    for (int i = 0; i < 6 && 4 + i < argc; i++) a[i] = strtoull(argv[4 + i], NULL, 0);
    int is_int80 = strcmp(argv[2], "int80") == 0;

    struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) { perror("mmap"); return 2; }
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) { perror("fork"); return 2; }
    if (child == 0) {
        if (use_filter) {
            struct sock_fprog prog = { .len = (unsigned short)count, .filter = insns };
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
                syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
                sh->err = errno;
                __atomic_store_n(&sh->done, 2, __ATOMIC_SEQ_CST);
                for (;;) __asm__ volatile("pause");
            }
        }
        long r;
        int e = 0;
        if (is_int80) {
            r = int80(nr, (long)a[0], (long)a[1], (long)a[2], (long)a[3], (long)a[4]);
            if (r < 0 && r > -4096) { e = (int)-r; r = -1; }
        } else {
            // raw syscall instruction: the libc wrapper would touch errno only, but keep it explicit
            register long r10 __asm__("r10") = (long)a[3];
            register long r8 __asm__("r8") = (long)a[4];
            register long r9 __asm__("r9") = (long)a[5];
            __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8), "r"(r9)
                             : "rcx", "r11", "memory");
            if (r < 0 && r > -4096) { e = (int)-r; r = -1; }
        }
        sh->ret = r;
        sh->err = e;
        __atomic_store_n(&sh->done, 1, __ATOMIC_SEQ_CST);
        for (;;) __asm__ volatile("pause");   // no syscall: the filter may allow nothing else
    }
    struct timespec start, now, tick = { 0, 200000 };
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int status;
        int done = __atomic_load_n(&sh->done, __ATOMIC_SEQ_CST);
        if (done) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            if (done == 2) printf("setup-error errno=%d\n", sh->err);
            else printf("ret=%ld errno=%d\n", sh->ret, sh->err);
            return 0;
        }
        pid_t w = waitpid(child, &status, WNOHANG);
        if (w == child) {
            if (__atomic_load_n(&sh->done, __ATOMIC_SEQ_CST)) continue;
            if (WIFSIGNALED(status)) printf("signal=%d\n", WTERMSIG(status));
            else printf("exit=%d\n", WEXITSTATUS(status));
            return 0;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 10) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            printf("timeout\n");
            return 3;
        }
        nanosleep(&tick, NULL);
    }
}
