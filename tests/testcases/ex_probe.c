/* Execution test sandboxee. Modes:
   alloc MIB     malloc MIB MiB: prints "alloc ok" (exit 0) or "alloc refused" (exit 3)
   spin          burn CPU forever
   read PATH     prints the first line of PATH, or "PATH: <strerror>" (exit 1)
   write PATH    creates/truncates PATH and writes "sandboxed\n": "write ok" or "write PATH: <strerror>" (exit 1)
   sleep N       prints "sleeping", sleeps N seconds
   argv          prints every argv element on its own line */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "alloc") && argc > 2) {
        size_t mib = strtoull(argv[2], NULL, 10);
        char *p = malloc(mib << 20);
        if (!p) { printf("alloc refused\n"); return 3; }
        p[0] = 1; p[(mib << 20) - 1] = 1;
        printf("alloc ok\n");
        return 0;
    }
    if (!strcmp(mode, "spin")) { volatile unsigned long n = 0; for (;;) n++; }
    if (!strcmp(mode, "read") && argc > 2) {
        char line[512];
        FILE *f = fopen(argv[2], "r");
        if (!f) { printf("%s: %s\n", argv[2], strerror(errno)); return 1; }
        if (!fgets(line, sizeof line, f)) line[0] = 0;
        fputs(line, stdout);
        fclose(f);
        return 0;
    }
    if (!strcmp(mode, "write") && argc > 2) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, "sandboxed\n", 10) != 10) { printf("write %s: %s\n", argv[2], strerror(errno)); return 1; }
        close(fd);
        printf("write ok\n");
        return 0;
    }
    if (!strcmp(mode, "sleep") && argc > 2) {
        printf("sleeping\n");
        fflush(stdout);
        sleep((unsigned)atoi(argv[2]));
        return 0;
    }
    if (!strcmp(mode, "argv")) { for (int i = 0; i < argc; i++) printf("%s\n", argv[i]); return 0; }
    fprintf(stderr, "usage: ex_probe alloc MIB | spin | read PATH | write PATH | sleep N | argv ...\n");
    return 2;
}
