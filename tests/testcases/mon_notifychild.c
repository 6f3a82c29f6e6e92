// Monitor testcase: a process under a seccomp filter with a user-notification listener.
// Usage: mon_notifychild MODE NRS [ARG]
//   fd 3 must be a unix socket: the listener (SECCOMP_FILTER_FLAG_NEW_LISTENER) is sent over it
//   (SCM_RIGHTS), then closed here. The filter notifies: any non-x86-64 arch, any x32 syscall
//   (nr | 0x40000000) and every number in NRS (comma-separated, "-" for none); everything else runs.
//   NRS = "@FILE": install the raw seccomp-bpf program in FILE instead (8-byte sock_filter entries, e.g. a
//   Policy compiled with MonitorAttached), so the policy decides what is notified.
//   NRS = "=": install nothing and send nothing (inside a sandbox, whose filter is already installed).
// MODE (what the process does afterwards; results go to stdout, unbuffered):
//   ptrace      ptrace(PTRACE_TRACEME) via syscall()
//   x32         x32 getpid (39 | 0x40000000)
//   int80       32-bit getpid via int $0x80
//   thread8     7 threads sleep, the 8th (named "worker8") calls ptrace
//   grandchild  fork; the child forks; the grandchild (named "grandchild") calls ptrace
//   trace       getppid, uname, personality(0xffffffff), getuid; prints each result as name=rc/errno
//   stack       main -> mon_violate_in_function -> syscall(ptrace)
//   sleep       sleep ARG ms, then getppid; exits 0 if getppid > 0, else 3
//   block       getppid; prints getppid=rc/errno and exits 0
//   loop        ARG times getppid; prints the ns per call (for the trace round-trip benchmark)
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif

static void die(const char *what) {
    fprintf(stderr, "mon_notifychild: %s: %s\n", what, strerror(errno));
    exit(100);
}

static struct sock_filter file_filter[4096];

static int install_and_send(const char *nrs) {
    struct sock_filter f[80];
    int n = 0, nums[64], count = 0;
    struct sock_fprog prog = { .len = 0, .filter = f };
    if (nrs[0] == '@') {
        FILE *fp = fopen(nrs + 1, "rb");
        if (!fp) die("open filter");
        size_t len = fread(file_filter, sizeof(struct sock_filter), 4096, fp);
        fclose(fp);
        prog.len = (unsigned short)len;
        prog.filter = file_filter;
        goto install;
    }
    if (strcmp(nrs, "-") != 0) {
        for (const char *p = nrs; *p && count < 64;) {
            nums[count++] = atoi(p);
            const char *c = strchr(p, ',');
            if (!c) break;
            p = c + 1;
        }
    }
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    int notify_at = 4 + 1 + count + 1; // index of the final "notify" return
    f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40000000, notify_at - n - 1, 0); n++;
    for (int i = 0; i < count; i++) {
        f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nums[i], notify_at - n - 1, 0); n++;
    }
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
    prog.len = (unsigned short)n;
install:
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs");
    int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (listener < 0) die("seccomp");

    char byte = 'L';
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &listener, sizeof(int));
    if (sendmsg(3, &msg, 0) != 1) die("sendmsg");
    close(listener);
    close(3);
    return 0;
}

static void report(const char *name, long rc) {
    printf("%s=%ld/%d\n", name, rc, rc < 0 ? errno : 0);
}

static void *sleeper(void *arg) {
    (void)arg;
    for (;;) pause();
    return NULL;
}

static void *violator(void *arg) {
    (void)arg;
    prctl(PR_SET_NAME, "worker8", 0, 0, 0);
    printf("tid8=%ld\n", (long)syscall(SYS_gettid));
    syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
    printf("survived\n");
    exit(0);
    return NULL;
}

__attribute__((noinline)) int mon_violate_in_function(int x) {
    long rc = syscall(SYS_ptrace, PTRACE_TRACEME, x, 0, 0);
    __asm__ volatile("" ::: "memory");
    return (int)rc + 1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 3) { fprintf(stderr, "usage: mon_notifychild MODE NRS [ARG]\n"); return 2; }
    const char *mode = argv[1];
    if (strcmp(argv[2], "=") != 0) install_and_send(argv[2]);

    if (strcmp(mode, "ptrace") == 0) {
        report("ptrace", syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0));
        printf("survived\n");
    } else if (strcmp(mode, "x32") == 0) {
        report("x32getpid", syscall(39 | 0x40000000));
        printf("survived\n");
    } else if (strcmp(mode, "int80") == 0) {
        long r;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(20) : "memory");
        report("int80getpid", r);
        printf("survived\n");
    } else if (strcmp(mode, "thread8") == 0) {
        pthread_t t[8];
        for (int i = 0; i < 7; i++) pthread_create(&t[i], NULL, sleeper, NULL);
        usleep(20000);
        pthread_create(&t[7], NULL, violator, NULL);
        pthread_join(t[7], NULL);
    } else if (strcmp(mode, "grandchild") == 0) {
        pid_t c = fork();
        if (c == 0) {
            pid_t g = fork();
            if (g == 0) {
                prctl(PR_SET_NAME, "grandchild", 0, 0, 0);
                printf("grandchild=%ld\n", (long)getpid());
                syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
                printf("survived\n");
                _exit(0);
            }
            waitpid(g, NULL, 0);
            _exit(0);
        }
        waitpid(c, NULL, 0);
    } else if (strcmp(mode, "trace") == 0) {
        report("getppid", syscall(SYS_getppid));
        struct utsname u;
        report("uname", syscall(SYS_uname, &u));
        report("personality", syscall(SYS_personality, 0xffffffffUL));
        report("getuid", syscall(SYS_getuid));
        printf("survived\n");
    } else if (strcmp(mode, "stack") == 0) {
        report("stack", mon_violate_in_function(argc - 3));
        printf("survived\n");
    } else if (strcmp(mode, "sleep") == 0) {
        long ms = argc > 3 ? atol(argv[3]) : 100;
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        return syscall(SYS_getppid) > 0 ? 0 : 3;
    } else if (strcmp(mode, "loop") == 0) {
        long count = argc > 3 ? atol(argv[3]) : 1000;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < count; i++) syscall(SYS_getppid);
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("ns_per_call=%ld\n", ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec)) / (count ? count : 1));
    } else if (strcmp(mode, "block") == 0) {
        report("getppid", syscall(SYS_getppid));
    } else {
        fprintf(stderr, "mon_notifychild: unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
