/* Port of Sandbox2's testcases/namespace.cc (our own rewrite). Sandbox2's sends the results over Comms; this one
 * prints them, one per line, to stdout (the tests capture it), and exits 0.
 *   0 FILE...  the files that are readable      1 FILE...  the files that are writable
 *   2 getpid()                                  3 getuid(), getgid()
 *   4 FILE...  the files it could create        5 the network interfaces (names, each once)
 *   6 DIR      every non-directory below DIR     7 the hostname
 *   8 readlink /proc/self/ns/net                9 readlink /proc/self/ns/ipc */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void list(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) { printf("cannot open %s\n", dir); return; }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (!strncmp(path, "/proc/", 6)) { puts(path); continue; } /* its own pid directories: not a walk */
            list(path);
        } else {
            puts(path);
        }
    }
    closedir(d);
}

static void link_of(const char *path)
{
    char buf[256];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0) { printf("readlink failed\n"); return; }
    buf[n] = 0;
    puts(buf);
}

int main(int argc, char **argv)
{
    if (argc < 2) return 0;
    switch (atoi(argv[1])) {
    case 0: for (int i = 2; i < argc; i++) if (access(argv[i], R_OK) == 0) puts(argv[i]); break;
    case 1: for (int i = 2; i < argc; i++) if (access(argv[i], W_OK) == 0) puts(argv[i]); break;
    case 2: printf("%d\n", (int)getpid()); break;
    case 3: printf("%u\n%u\n", (unsigned)getuid(), (unsigned)getgid()); break;
    case 4: for (int i = 2; i < argc; i++) if (open(argv[i], O_CREAT | O_WRONLY, 0644) != -1) puts(argv[i]); break;
    case 5: {
        struct ifaddrs *addrs;
        if (getifaddrs(&addrs)) return 1;
        char seen[64][IF_NAMESIZE + 1];
        int n = 0;
        for (struct ifaddrs *a = addrs; a; a = a->ifa_next) {
            int dup = 0;
            for (int i = 0; i < n; i++) dup |= !strcmp(seen[i], a->ifa_name);
            if (!dup && n < 64) { snprintf(seen[n++], sizeof seen[0], "%s", a->ifa_name); puts(a->ifa_name); }
        }
        freeifaddrs(addrs);
        break;
    }
    case 6: list(argv[2]); break;
    case 7: {
        char host[256];
        if (gethostname(host, sizeof host) != 0) return 1;
        puts(host);
        break;
    }
    case 8: link_of("/proc/self/ns/net"); break;
    case 9: link_of("/proc/self/ns/ipc"); break;
    default: return 1;
    }
    return 0;
}
