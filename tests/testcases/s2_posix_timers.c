/* Port of Sandbox2's testcases/posix_timers (policy_test, our own rewrite): argv[1] is the kind of POSIX timer to
 * create (sigev_notify): SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD_ID, SIGEV_THREAD (glibc runs the notification in a
 * new thread: it creates threads) or "syscall(SIGEV_THREAD)" (the raw syscall: the kernel treats SIGEV_THREAD as a
 * signal to the process, no thread is made, so the handler runs in the main thread).
 * Instead of Sandbox2's 30 ms sleep the program waits for the state itself: for the notification (nanosleep, which
 * the signal interrupts), or for a SIGEV_NONE one-shot timer to have expired (timer_gettime reads 0).
 * Exit 0 when every call worked and the notification came (or, for SIGEV_NONE, did not); else a distinct code. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_int expired;
static atomic_long notified_tid;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&notified_tid, syscall(SYS_gettid));
    atomic_store(&expired, 1);
}

static void on_thread(union sigval v)
{
    (void)v;
    atomic_store(&notified_tid, syscall(SYS_gettid));
    atomic_store(&expired, 1);
}

static int fail(int code, const char *what)
{
    fprintf(stderr, "posix_timers: %s failed\n", what);
    return code;
}

/* Waits for the notification: nanosleep returns early (EINTR) when the signal comes; a thread sets the flag. */
static void wait_notified(void)
{
    struct timespec ms = { 0, 1000000 };
    while (!atomic_load(&expired)) nanosleep(&ms, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 2) return fail(2, "usage: s2_posix_timers KIND");
    const char *kind = argv[1];
    long main_tid = syscall(SYS_gettid);
    if (signal(SIGPROF, on_signal) == SIG_ERR) return fail(3, "signal(SIGPROF)");

    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_signo = SIGPROF;
    int raw = 0, none = 0, thread = 0;
    if (!strcmp(kind, "SIGEV_NONE")) { sev.sigev_notify = SIGEV_NONE; none = 1; }
    else if (!strcmp(kind, "SIGEV_SIGNAL")) sev.sigev_notify = SIGEV_SIGNAL;
    else if (!strcmp(kind, "SIGEV_THREAD_ID")) {
        sev.sigev_notify = SIGEV_THREAD_ID;
#ifdef sigev_notify_thread_id
        sev.sigev_notify_thread_id = (pid_t)main_tid;
#else
        sev._sigev_un._tid = (pid_t)main_tid;
#endif
    } else if (!strcmp(kind, "SIGEV_THREAD") || !strcmp(kind, "syscall(SIGEV_THREAD)")) {
        sev.sigev_notify = SIGEV_THREAD;
        sev.sigev_notify_function = on_thread;
        raw = kind[0] == 's';
        thread = !raw;
    } else return fail(2, "unknown kind");

    /* A 1 ms interval timer; SIGEV_NONE gets a one-shot timer, so that its expiry is a state to wait for. */
    struct itimerspec spec = { .it_interval = { 0, none ? 0 : 1000000 }, .it_value = { 0, 1000000 } };
    struct itimerspec now;
    if (raw) {
        int timer = -1;
        if (syscall(SYS_timer_create, CLOCK_REALTIME, &sev, &timer) != 0) return fail(10, "timer_create (syscall)");
        if (syscall(SYS_timer_settime, timer, 0, &spec, NULL) != 0) return fail(11, "timer_settime (syscall)");
        wait_notified();
        if (syscall(SYS_timer_gettime, timer, &now) != 0) return fail(12, "timer_gettime (syscall)");
        if (syscall(SYS_timer_getoverrun, timer) == -1) return fail(13, "timer_getoverrun (syscall)");
        if (syscall(SYS_timer_delete, timer) != 0) return fail(14, "timer_delete (syscall)");
        /* The kernel has no threads to make: the signal ran the handler in this, the only, thread. */
        if (atomic_load(&notified_tid) != main_tid) return fail(15, "notification in the main thread");
        return 0;
    }
    timer_t timer;
    if (timer_create(CLOCK_REALTIME, &sev, &timer) != 0) return fail(20, "timer_create");
    if (timer_settime(timer, 0, &spec, NULL) != 0) return fail(21, "timer_settime");
    if (none) {
        do {
            if (timer_gettime(timer, &now) != 0) return fail(22, "timer_gettime");
        } while (now.it_value.tv_sec != 0 || now.it_value.tv_nsec != 0);
    } else {
        wait_notified();
        if (timer_gettime(timer, &now) != 0) return fail(22, "timer_gettime");
    }
    if (timer_getoverrun(timer) == -1) return fail(23, "timer_getoverrun");
    if (timer_delete(timer) != 0) return fail(24, "timer_delete");
    if (none) return atomic_load(&expired) ? fail(25, "no notification for SIGEV_NONE") : 0;
    if (thread && atomic_load(&notified_tid) == main_tid) return fail(26, "notification in a thread of its own");
    return 0;
}
