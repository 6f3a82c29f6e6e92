/* Makes the raw syscall numbered argv[1] with all-zero arguments, prints what it returned, exits 0.
   The CLI tests use it for violations (101 = ptrace(PTRACE_TRACEME)) and for --allow (163 = acct(NULL)). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long nr = argc > 1 ? atol(argv[1]) : 39 /* getpid */;
    long r = syscall(nr, 0L, 0L, 0L, 0L, 0L, 0L);
    printf("syscall %ld returned %ld\n", nr, r);
    return 0;
}
