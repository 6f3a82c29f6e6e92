/* Port of Sandbox2's testcases/policy.cc (our own rewrite): one attack or probe per mode, the result in the exit
 * status (or a violation, which is what the tests expect).
 *   1 exit via int 0x80 (32-bit ABI)      2 access("/etc/passwd") via int 0x80
 *   3 ptrace(PTRACE_SEIZE, getppid())     4 clone(CLONE_UNTRACED)
 *   5 bpf(BPF_MAP_CREATE)                 6 isatty(0)
 *   7 exit(errno of bpf(BPF_MAP_CREATE))  8 ptrace must fail with EPERM (exit 0), else exit 1
 *   9 exit(errno of bpf(BPF_MAP_LOOKUP_ELEM) on fd -1): EBADF (9) when seccomp let it through
 *  10 exit(errno of bpf(BPF_PROG_LOAD))
 *  11 print prctl(PR_GET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS)
 *  12 Sandbox2's detection syscall: exit 0 when it fails with 4059 (inside a sandbox), else 1
 *  13 exit(errno of a second execveat(/proc/self/exe)) (the sandbox's own exec was the first)
 *  14 an anonymous PROT_EXEC mapping: exit 0 when it was made
 *  15 NR ARG ERRNO: syscall(NR, ARG) must fail with ERRNO (exit 0), else exit 1 (Sandbox2's mode 13) */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

static long bpf_cmd(int cmd, int map_fd)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_fd = (uint32_t)map_fd;
    return syscall(SYS_bpf, cmd, &attr, sizeof attr);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) return 2;
    switch (atoi(argv[1])) {
    case 1: {
        long r;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(1L), "b"(42L) : "memory");
        return (int)-r;
    }
    case 2: {
        static char name[] = "/etc/passwd";
        long r;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(33L), "b"((long)(uintptr_t)name), "c"(0L) : "memory");
        return (int)-r;
    }
    case 3:
        ptrace(PTRACE_SEIZE, getppid(), 0, 0);
        puts("Syscall violation should have been discovered by now");
        return 1;
    case 4:
        syscall(SYS_clone, (unsigned long)CLONE_UNTRACED, NULL, NULL, NULL, 0UL);
        puts("Syscall violation should have been discovered by now");
        return 1;
    case 5:
        bpf_cmd(BPF_MAP_CREATE, -1);
        puts("Syscall violation should have been discovered by now");
        return 1;
    case 6:
        isatty(0);
        return 0;
    case 7: return bpf_cmd(BPF_MAP_CREATE, -1) == -1 ? errno : 0;
    case 8: return ptrace(PTRACE_SEIZE, getppid(), 0, 0) == -1 && errno == EPERM ? 0 : 1;
    case 9: return bpf_cmd(BPF_MAP_LOOKUP_ELEM, -1) == -1 ? errno : 0;
    case 10: return bpf_cmd(BPF_PROG_LOAD, -1) == -1 ? errno : 0;
    case 11: printf("%d\n", prctl(PR_GET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, 0, 0, 0)); return 0;
    case 12: return syscall(0x2f000fdb) == -1 && errno == 4059 ? 0 : 1;
    case 13: {
        char *args[] = { argv[0], "0", NULL }, *env[] = { NULL };
        syscall(SYS_execveat, -100 /* AT_FDCWD */, "/proc/self/exe", args, env, 0);
        return errno;
    }
    case 14: return mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? 1 : 0;
    case 15:
        if (argc < 5) return 2;
        return syscall(atol(argv[2]), atol(argv[3])) == -1 && errno == atoi(argv[4]) ? 0 : 1;
    default: return 2;
    }
}
