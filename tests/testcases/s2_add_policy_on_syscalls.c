/* Port of Sandbox2's testcases/add_policy_on_syscalls.cc: uid/gid 1000 allowed, getres*id fail with errno 42, read
 * and write with 43, then umask (a violation) must end it. */
#include <errno.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void)
{
    if (getuid() != 1000 || getgid() != 1000 || geteuid() != 1000 || getegid() != 1000) return 1;
    unsigned r, e, s;
    if (syscall(SYS_getresuid, &r, &e, &s) != -1 || errno != 42) return 2;
    if (syscall(SYS_getresgid, &r, &e, &s) != -1 || errno != 42) return 3;
    char c;
    if (syscall(SYS_read, 0, &c, 1) != -1 || errno != 43) return 4;
    if (syscall(SYS_write, 1, "x", 1) != -1 || errno != 43) return 5;
    umask(0);
    return 6;
}
