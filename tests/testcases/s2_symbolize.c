/* Port of Sandbox2's testcases/symbolize (stack_trace_test): 1 crashes in crash_me, 2 violates the policy (ptrace) in
 * violate_policy, 3 exits (exit(0)) from exit_normally, 4 sleeps in sleep_for_seconds; 5 and 6 do 2 and 4 under
 * five frames of recurse(); 7 forks and the child violates the policy (in violate_policy, under fork_and_violate);
 * 8 (only in s2_symbolize_shared, built with -DS2_SYMBOLIZE_LIB and linked with libs2_symbolize_lib.so) calls
 * run_test(2) through ten frames of the library's lib_recurse. Frame pointers and -g: the names must show in the
 * trace. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef S2_SYMBOLIZE_LIB
#include "lib/s2_symbolize_lib.h"
#endif

static volatile int sink;

__attribute__((noinline)) void crash_me(char x) { *(volatile char *)(uintptr_t)sink = x; }
__attribute__((noinline)) void violate_policy(void) { syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); sink++; }
__attribute__((noinline)) void exit_normally(void) { sink++; exit(0); }
__attribute__((noinline)) void sleep_for_seconds(int s) { sleep((unsigned)s); sink++; }

static int mode;

__attribute__((noinline)) void fork_and_violate(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        violate_policy();
        _exit(0);
    }
    if (pid > 0) waitpid(pid, NULL, 0);
    sink++;
}

__attribute__((noinline)) void run_test(void)
{
    switch (mode) {
    case 1: crash_me('x'); break;
    case 2: case 5: violate_policy(); break;
    case 3: exit_normally(); break;
    case 4: case 6: sleep_for_seconds(60); break;
    case 7: fork_and_violate(); break;
    }
    sink++;
}

#ifdef S2_SYMBOLIZE_LIB
__attribute__((noinline)) void run_test_cb(int data)
{
    (void)data;
    run_test();
    sink++;
}
#endif

__attribute__((noinline)) void recurse(int n)
{
    if (n > 0) recurse(n - 1);
    else run_test();
    sink++;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 100;
    mode = atoi(argv[1]);
#ifdef S2_SYMBOLIZE_LIB
    if (mode == 8) {
        mode = 2;
        lib_recurse(run_test_cb, 2, 10);
        return 0;
    }
#endif
    if (mode == 5 || mode == 6) recurse(5);
    else run_test();
    return 0;
}
