/* Forkserver test sandboxee. Modes: exit N | signal N | getpid | sleep N | status | fds | write PATH */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void status_field(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[512];
    if (!f) { printf("%s: (no /proc)\n", name); return; }
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, name, strlen(name)) && line[strlen(name)] == ':') fputs(line, stdout);
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "status";
    if (!strcmp(mode, "exit")) return atoi(argv[2]);
    if (!strcmp(mode, "signal")) { raise(atoi(argv[2])); return 100; }
    if (!strcmp(mode, "getpid")) { printf("pid %ld\n", syscall(SYS_getpid)); return 0; }
    if (!strcmp(mode, "sleep")) { printf("sleeping\n"); fflush(stdout); sleep((unsigned)atoi(argv[2])); return 0; }
    if (!strcmp(mode, "write")) { int fd = open(argv[2], O_WRONLY | O_CREAT, 0644); printf("open %s: %d\n", argv[2], fd < 0 ? -1 : 0); return fd < 0; }
    if (!strcmp(mode, "fds")) {
        DIR *d = opendir("/proc/self/fd");
        if (!d) { printf("no /proc\n"); return 1; }
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d)) printf("%s\n", e->d_name);
        closedir(d);
        return 0;
    }
    char host[256] = "";
    gethostname(host, sizeof host);
    printf("pid %d\nppid %d\nhostname %s\n", getpid(), getppid(), host);
    status_field("Uid"); status_field("Gid"); status_field("CapEff"); status_field("CapBnd"); status_field("CapAmb");
    status_field("NoNewPrivs"); status_field("Seccomp"); status_field("Groups");
    return 0;
}
