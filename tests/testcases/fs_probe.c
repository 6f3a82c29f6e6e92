/* Forkserver test sandboxee. Modes: exit N | signal N | getpid | sleep N | status | fds | write PATH |
   rlimit | cwd | env | lo | lstat PATH | orphan */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
    if (!strcmp(mode, "orphan")) { /* leaves a child behind that holds stdout; init must kill it */
        if (fork() == 0) { sleep(100); _exit(0); }
        printf("parent exits\n");
        return 0;
    }
    if (!strcmp(mode, "rlimit")) {
        struct rlimit n, f;
        getrlimit(RLIMIT_NOFILE, &n);
        getrlimit(RLIMIT_FSIZE, &f);
        printf("nofile %llu %llu\nfsize %llu %llu\n", (unsigned long long)n.rlim_cur, (unsigned long long)n.rlim_max,
               (unsigned long long)f.rlim_cur, (unsigned long long)f.rlim_max);
        return 0;
    }
    if (!strcmp(mode, "cwd")) { char b[512]; printf("cwd %s\n", getcwd(b, sizeof b) ? b : "?"); return 0; }
    if (!strcmp(mode, "env")) { extern char **environ; for (char **e = environ; *e; e++) printf("%s\n", *e); return 0; }
    if (!strcmp(mode, "lo")) {
        struct ifreq ifr;
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        memset(&ifr, 0, sizeof ifr);
        strcpy(ifr.ifr_name, "lo");
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) { printf("lo ?\n"); return 1; }
        printf("lo %s\n", (ifr.ifr_flags & IFF_UP) ? "up" : "down");
        return 0;
    }
    if (!strcmp(mode, "lstat")) {
        struct stat st;
        char link[256] = "";
        if (lstat(argv[2], &st) < 0) { printf("%s missing\n", argv[2]); return 0; }
        if (S_ISLNK(st.st_mode)) { ssize_t n = readlink(argv[2], link, sizeof link - 1); link[n > 0 ? n : 0] = 0; }
        printf("%s %s%s%s\n", argv[2], S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : S_ISLNK(st.st_mode) ? "link" : "other",
               link[0] ? " -> " : "", link);
        return 0;
    }
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
