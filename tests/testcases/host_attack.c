// host_attack: what a hostile sandboxee tries against the host side (issue 9), one mode per attack. Each prints what
// the kernel answered, one "name=result" line per call (result: "ok" or the errno name), and exits 0 unless noted.
//   setid DIR         makes DIR/f (0755), then every way to get S_ISUID/S_ISGID on a file: chmod, fchmod, fchmodat,
//                     fchmodat2, open, openat, creat, mknod, mknodat (DIR/<call>), openat2 (O_CREAT, mode 04755)
//   stack-prctl       stacks a filter returning EPERM for every syscall with prctl(PR_SET_SECCOMP), then ptrace
//   stack-seccomp     the same with seccomp(SECCOMP_SET_MODE_FILTER)
//   strict            seccomp(SECCOMP_SET_MODE_STRICT)
//   rwx               an anonymous mapping PROT_READ|PROT_WRITE|PROT_EXEC, then runs code written into it
//   rwx-mprotect      a read-write mapping, then mprotect to read-write-execute
//   keyring NAME      looks for the "user" key NAME (request_key, keyctl search of @s and @u), then adds "planted" to @s
//   nonblock          sets O_NONBLOCK on fds 0, 1 and 2
//   wait              prints "ready PID" (its own pid as it sees it) and blocks reading stdin until EOF
//   kill PID          kill(PID, SIGKILL); PID -1 = every process it may signal
//   create FILE       creates FILE (0644) with "mine\n"
//   create-wait FILE  creates FILE, then as wait
//   getfl             prints "nonblock=0|1" for fds 0, 1 and 2 (1 if any of them is O_NONBLOCK)
//   tamper FILE       tries to append to FILE, chmod it 0666, rename it and unlink it
//   host-keyring NAME SECRET CMD...   (host side, not in a sandbox) joins a new session keyring, adds the "user" key
//                     NAME with payload SECRET, runs CMD in it, then prints "keys=N payload=P" for @s (exit: CMD's)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static void report(const char *name, long r)
{
    if (r < 0) printf("%s=%s\n", name, strerrorname_np(errno));
    else printf("%s=ok\n", name);
    fflush(stdout);
}

static char *at(const char *dir, const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static int setid(const char *dir)
{
    int fd = open(at(dir, "f"), O_CREAT | O_WRONLY | O_TRUNC, 0755);
    report("create", fd);
    if (fd < 0) return 1;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    report("chmod", chmod(at(dir, "f"), 04755));
    report("fchmod", fchmod(fd, 02755));
    report("fchmodat", syscall(SYS_fchmodat, dfd, "f", 06755));
    report("fchmodat2", syscall(SYS_fchmodat2, dfd, "f", 04755, 0));
    report("open", syscall(SYS_open, at(dir, "open"), O_CREAT | O_WRONLY, 04755));
    report("openat", syscall(SYS_openat, dfd, "openat", O_CREAT | O_WRONLY, 02755));
    report("creat", syscall(SYS_creat, at(dir, "creat"), 04755));
    report("mknod", syscall(SYS_mknod, at(dir, "mknod"), S_IFREG | 04755, 0));
    report("mknodat", syscall(SYS_mknodat, dfd, "mknodat", S_IFREG | 02755, 0));
    struct open_how how = { .flags = O_CREAT | O_WRONLY, .mode = 04755, .resolve = 0 };
    report("openat2", syscall(SYS_openat2, dfd, "openat2", &how, sizeof how));
    return 0;
}

static struct sock_fprog eperm_everything(void)
{
    static struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM) };
    return (struct sock_fprog){ 1, f };
}

static int stack(int with_prctl)
{
    struct sock_fprog prog = eperm_everything();
    long r = with_prctl ? prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0)
                        : syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
    // Reached only if the filter was installed: every forbidden call below would now fail quietly with EPERM.
    report(with_prctl ? "prctl" : "seccomp", r);
    report("ptrace", syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0));
    report("unshare", syscall(SYS_unshare, 0x10000000));
    return 0;
}

static int rwx(int with_mprotect)
{
    unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | (with_mprotect ? 0 : PROT_EXEC), MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    report("mmap", p == MAP_FAILED ? -1 : 0);
    if (p == MAP_FAILED) return 1;
    if (with_mprotect) report("mprotect", mprotect(p, 4096, PROT_READ | PROT_WRITE | PROT_EXEC));
    static const unsigned char code[] = { 0xb8, 42, 0, 0, 0, 0xc3 }; // mov eax, 42; ret
    memcpy(p, code, sizeof code);
    printf("injected=%d\n", ((int (*)(void))p)());
    return 0;
}

static int keyring(const char *name)
{
    report("request_key", syscall(SYS_request_key, "user", name, NULL, 0));
    report("search_session", syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", name, 0));
    report("search_user", syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", name, 0));
    report("add_key", syscall(SYS_add_key, "user", "planted", "x", 1, KEY_SPEC_SESSION_KEYRING));
    return 0;
}

static int host_keyring(const char *name, const char *secret, char **cmd)
{
    long ring = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "sandbox2-test", 0, 0, 0);
    if (ring < 0) { perror("join"); return 125; }
    long key = syscall(SYS_add_key, "user", name, secret, strlen(secret), KEY_SPEC_SESSION_KEYRING);
    if (key < 0) { perror("add_key"); return 125; }
    pid_t pid = fork();
    if (pid == 0) {
        execvp(cmd[0], cmd);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int32_t ids[64];
    long n = syscall(SYS_keyctl, KEYCTL_READ, ring, ids, sizeof ids, 0);
    char payload[256] = "";
    long k = syscall(SYS_keyctl, KEYCTL_READ, key, payload, sizeof payload - 1, 0);
    if (k >= 0) payload[k < (long)sizeof payload - 1 ? k : (long)sizeof payload - 1] = 0;
    fprintf(stderr, "keys=%ld payload=%s\n", n < 0 ? -1 : n / 4, payload);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int tamper(const char *file)
{
    int fd = open(file, O_WRONLY | O_APPEND);
    report("append", fd < 0 ? -1 : write(fd, "yours\n", 6));
    report("chmod", chmod(file, 0666));
    char moved[4096];
    snprintf(moved, sizeof moved, "%s.moved", file);
    report("rename", rename(file, moved));
    report("unlink", unlink(file));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    const char *m = argv[1];
    if (!strcmp(m, "setid") && argc == 3) return setid(argv[2]);
    if (!strcmp(m, "stack-prctl")) return stack(1);
    if (!strcmp(m, "stack-seccomp")) return stack(0);
    if (!strcmp(m, "strict")) { report("strict", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL)); return 0; }
    if (!strcmp(m, "rwx")) return rwx(0);
    if (!strcmp(m, "rwx-mprotect")) return rwx(1);
    if (!strcmp(m, "keyring") && argc == 3) return keyring(argv[2]);
    if (!strcmp(m, "nonblock")) {
        for (int fd = 0; fd <= 2; fd++) report("setfl", fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
        return 0;
    }
    if (!strcmp(m, "getfl")) {
        int any = 0;
        for (int fd = 0; fd <= 2; fd++) any |= (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
        printf("nonblock=%d\n", any);
        return 0;
    }
    if (!strcmp(m, "create-wait") && argc == 3) {
        int fd = open(argv[2], O_CREAT | O_WRONLY | O_EXCL, 0644);
        report("create", fd < 0 ? -1 : write(fd, "mine\n", 5));
        m = "wait";
    }
    if (!strcmp(m, "wait")) {
        printf("ready %d\n", getpid());
        fflush(stdout);
        char b[256];
        while (read(0, b, sizeof b) > 0) {}
        return 0;
    }
    if (!strcmp(m, "kill") && argc == 3) { report("kill", kill((pid_t)atoi(argv[2]), SIGKILL)); return 0; }
    if (!strcmp(m, "create") && argc == 3) {
        int fd = open(argv[2], O_CREAT | O_WRONLY | O_EXCL, 0644);
        report("create", fd < 0 ? -1 : write(fd, "mine\n", 5));
        return 0;
    }
    if (!strcmp(m, "tamper") && argc == 3) return tamper(argv[2]);
    if (!strcmp(m, "host-keyring") && argc >= 5) return host_keyring(argv[2], argv[3], argv + 4);
    return 2;
}
