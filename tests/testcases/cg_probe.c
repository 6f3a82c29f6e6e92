/* Resource-control probe (cgroup tests): cg_probe MODE ARGS...
 *   fork MARKER          fork until fork fails; every child forks once more and waits; prints "made N" and exits 0
 *   mem N MIB            N children each touch MIB MiB; exits 0 if all children exited 0, else 1
 *   hog MIB              touch MIB MiB in 16 MiB steps, printing "touched M" after each step; exits 0
 *   busy N MS            N children (0 = the process itself) each burn MS ms of their own CPU time; waits for them
 *   violate MS           burn MS ms of CPU, then call ptrace (forbidden by the default policy)
 *   write MIB            write MIB MiB of a known pattern (byte i = 'a' + i % 26) to stdout */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void burn(double ms)
{
    volatile unsigned long x = 0;
    double end = cpu_ms() + ms;
    while (cpu_ms() < end)
        for (int i = 0; i < 100000; i++) x += (unsigned long)i;
}

static void touch(size_t mib)
{
    size_t n = mib << 20;
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) _exit(3);
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
}

static int wait_all(void)
{
    int st, bad = 0;
    while (wait(&st) > 0)
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) bad = 1;
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    const char *mode = argv[1];
    if (!strcmp(mode, "fork")) {
        int made = 0;
        for (;;) {
            pid_t p = fork();
            if (p < 0) break;
            if (p == 0) {
                if (fork() == 0) for (;;) sleep(1000);
                for (;;) sleep(1000);
            }
            made++;
        }
        printf("made %d\n", made);
        fflush(stdout);
        return 0;
    }
    if (!strcmp(mode, "mem") && argc >= 4) {
        int n = atoi(argv[2]);
        size_t mib = (size_t)atol(argv[3]);
        for (int i = 0; i < n; i++)
            if (fork() == 0) {
                touch(mib);
                for (;;) sleep(1000); /* hold it: all children together go over the limit */
            }
        return wait_all();
    }
    if (!strcmp(mode, "hog")) {
        size_t mib = (size_t)atol(argv[2]);
        for (size_t done = 16; done <= mib; done += 16) {
            touch(16);
            printf("touched %zu\n", done);
            fflush(stdout);
        }
        return 0;
    }
    if (!strcmp(mode, "busy") && argc >= 4) {
        int n = atoi(argv[2]);
        double ms = atof(argv[3]);
        if (n == 0) {
            burn(ms);
            return 0;
        }
        for (int i = 0; i < n; i++)
            if (fork() == 0) {
                burn(ms);
                _exit(0);
            }
        return wait_all();
    }
    if (!strcmp(mode, "violate")) {
        burn(atof(argv[2]));
        syscall(SYS_ptrace, 0, 0, 0, 0);
        return 0;
    }
    if (!strcmp(mode, "write")) {
        static char buf[26 * 2048];
        for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)('a' + i % 26);
        size_t total = (size_t)atol(argv[2]) << 20, done = 0;
        while (done < total) {
            size_t n = total - done < sizeof buf ? total - done : sizeof buf;
            /* keep the pattern continuous across writes: sizeof buf is a multiple of 26 */
            ssize_t w = write(1, buf, n);
            if (w <= 0) return 1;
            done += (size_t)w;
            if ((size_t)w != n) return 1;
        }
        return 0;
    }
    return 2;
}
