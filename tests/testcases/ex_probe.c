/* Execution-test sandboxee. Modes:
   status            hostname, pid, ppid, uid, gid and /proc/self/status Cap/NoNewPrivs/Seccomp lines
   fds               the open descriptors (from /proc/self/fd)
   env               the environment
   exit N            exit with N
   sleep N           sleep N seconds
   spin              burn CPU forever
   alloc MIB         malloc and touch MIB MiB; prints "alloc ok" or "alloc failed"
   write PATH TEXT   write TEXT to PATH; prints "write ok" or "write failed: <errno text>"
   read PATH         print PATH's contents or "read failed: <errno text>"
   stdin             copy standard input to standard output until EOF, exit 0 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void status_lines(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[512];
    if (!f) { printf("no /proc: %s\n", strerror(errno)); return; }
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs:", 11) || !strncmp(line, "Seccomp:", 8)) fputs(line, stdout);
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "status";
    if (!strcmp(mode, "status")) {
        char host[256] = "";
        gethostname(host, sizeof host);
        printf("hostname %s\npid %d\nppid %d\nuid %d\ngid %d\n", host, getpid(), getppid(), getuid(), getgid());
        status_lines();
        return 0;
    }
    if (!strcmp(mode, "fds")) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        if (!d) { printf("no /proc/self/fd\n"); return 1; }
        int self = dirfd(d);
        while ((e = readdir(d)))
            if (e->d_name[0] != '.' && atoi(e->d_name) != self) printf("fd %s\n", e->d_name);
        closedir(d);
        return 0;
    }
    if (!strcmp(mode, "env")) { extern char **environ; for (char **e = environ; *e; e++) printf("%s\n", *e); return 0; }
    if (!strcmp(mode, "exit") && argc > 2) return atoi(argv[2]);
    if (!strcmp(mode, "sleep") && argc > 2) { sleep((unsigned)atoi(argv[2])); return 0; }
    if (!strcmp(mode, "spin")) { volatile unsigned long x = 0; for (;;) x++; }
    if (!strcmp(mode, "alloc") && argc > 2) {
        size_t n = (size_t)atol(argv[2]) << 20;
        char *p = malloc(n);
        if (!p) { printf("alloc failed\n"); return 1; }
        for (size_t i = 0; i < n; i += 4096) p[i] = 1;
        printf("alloc ok\n");
        return 0;
    }
    if (!strcmp(mode, "write") && argc > 3) {
        FILE *f = fopen(argv[2], "w");
        if (!f || fputs(argv[3], f) < 0 || fclose(f) != 0) { printf("write failed: %s\n", strerror(errno)); return 1; }
        printf("write ok\n");
        return 0;
    }
    if (!strcmp(mode, "read") && argc > 2) {
        FILE *f = fopen(argv[2], "r");
        char buf[4096];
        size_t n;
        if (!f) { printf("read failed: %s\n", strerror(errno)); return 1; }
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
        fclose(f);
        return 0;
    }
    if (!strcmp(mode, "stdin")) {
        char buf[4096];
        ssize_t n;
        while ((n = read(0, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)n, stdout);
        return n < 0 ? 1 : 0;
    }
    fprintf(stderr, "ex_probe: bad mode %s\n", mode);
    return 2;
}
