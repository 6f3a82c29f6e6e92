/* A sandboxee traced by the sandbox's init (stack traces on a signal or an exit): what tracing must not change, and
 * the all-threads traces.
 *   handled-segv  catches its own SIGSEGV (a handler and siglongjmp) and exits 0: no death, so no trace
 *   stop-cont     stops itself with SIGSTOP; a child waits until it is stopped ('T', or 't' under init's tracing, in /proc/PPID/stat), sends
 *                 SIGCONT; prints "resumed" and exits 0
 *   storm         10,000 SIGUSR1 from a child, each handled before the next is sent; prints the count, exits 0
 *   threads-violate  two threads wait in thread_waits_a / thread_waits_b; once both run, main violates (ptrace) in
 *                 main_violates
 *   threads-sleep two threads wait as above; main sleeps in main_sleeps (a timeout)
 *   abort         abort() in abort_here
 *   stop-forever  stops itself with SIGSTOP in stops_itself; nothing continues it */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf back;
static volatile sig_atomic_t handled;
static volatile int sink;

static void on_segv(int sig) { (void)sig; siglongjmp(back, 1); }
static void on_usr1(int sig) { (void)sig; handled++; }

static pthread_barrier_t started;

/* Different bodies, so that the compiler cannot fold them into one function. */
__attribute__((noinline)) void thread_waits_a(void) { pthread_barrier_wait(&started); for (;;) pause(); }
__attribute__((noinline)) void thread_waits_b(void) { pthread_barrier_wait(&started); for (;;) { pause(); sink++; } }
static void *run_a(void *x) { (void)x; thread_waits_a(); return NULL; }
static void *run_b(void *x) { (void)x; thread_waits_b(); return NULL; }
__attribute__((noinline)) void main_violates(void) { syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); sink++; }
__attribute__((noinline)) void main_sleeps(void) { sleep(600); sink++; }
__attribute__((noinline)) void abort_here(void) { abort(); }
__attribute__((noinline)) void stops_itself(void) { raise(SIGSTOP); sink++; }

static char state_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 100;
    const char *m = argv[1];
    if (!strcmp(m, "handled-segv")) {
        signal(SIGSEGV, on_segv);
        if (!sigsetjmp(back, 1)) *(volatile int *)(uintptr_t)sink = 1;
        puts("caught");
        return 0;
    }
    if (!strcmp(m, "stop-cont")) {
        pid_t parent = getpid(), child = fork();
        if (child == 0) {
            for (char s; (s = state_of(parent)) != 'T' && s != 't';) sched_yield(); /* 't' when its tracer (init) holds the stop */
            kill(parent, SIGCONT);
            _exit(0);
        }
        raise(SIGSTOP);
        int st;
        waitpid(child, &st, 0);
        puts("resumed");
        return 0;
    }
    if (!strcmp(m, "storm")) { /* ping-pong: every SIGUSR1 is handled before the next is sent */
        int acks[2];
        if (pipe(acks) < 0) return 102;
        sigset_t usr1, old;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        sigprocmask(SIG_BLOCK, &usr1, &old);
        signal(SIGUSR1, on_usr1);
        pid_t parent = getpid(), child = fork();
        if (child == 0) {
            char c;
            for (int i = 0; i < 10000; i++)
                if (kill(parent, SIGUSR1) < 0 || read(acks[0], &c, 1) != 1) _exit(1);
            _exit(0);
        }
        while (handled < 10000) {
            int before = handled;
            sigsuspend(&old);
            if (handled != before && write(acks[1], "a", 1) != 1) return 103;
        }
        int st;
        waitpid(child, &st, 0);
        printf("handled %d\n", (int)handled);
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 104;
    }
    if (!strncmp(m, "threads-", 8)) {
        pthread_t a, b;
        pthread_barrier_init(&started, NULL, 3);
        pthread_create(&a, NULL, run_a, NULL);
        pthread_create(&b, NULL, run_b, NULL);
        pthread_barrier_wait(&started);
        if (!strcmp(m, "threads-violate")) main_violates();
        else main_sleeps();
        return 0;
    }
    if (!strcmp(m, "abort")) { abort_here(); return 0; }
    if (!strcmp(m, "stop-forever")) { stops_itself(); return 0; }
    return 101;
}
