/* Port of Sandbox2's testcases/symbolize (stack_trace_test): 1 crashes in crash_me, 2 violates the policy (ptrace) in
 * violate_policy, 3 exits (exit(0)) from exit_normally, 4 sleeps in sleep_for_seconds; 5 and 6 do 2 and 4 under
 * five frames of recurse(). Frame pointers and -g: the names must show in the trace. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int sink;

__attribute__((noinline)) void crash_me(char x) { *(volatile char *)(uintptr_t)sink = x; }
__attribute__((noinline)) void violate_policy(void) { syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); sink++; }
__attribute__((noinline)) void exit_normally(void) { sink++; exit(0); }
__attribute__((noinline)) void sleep_for_seconds(int s) { sleep((unsigned)s); sink++; }

static int mode;

__attribute__((noinline)) void run_test(void)
{
    switch (mode) {
    case 1: crash_me('x'); break;
    case 2: case 5: violate_policy(); break;
    case 3: exit_normally(); break;
    case 4: case 6: sleep_for_seconds(60); break;
    }
    sink++;
}

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
    if (mode >= 5) recurse(5);
    else run_test();
    return 0;
}
