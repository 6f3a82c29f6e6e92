/* init as the tracer of PID 2's main thread (plan record T_TRACE): a fatal signal or an exit is held as a
 * PTRACE_EVENT_EXIT stop while the executor reads the thread's stack, and the executor may ask for the thread's
 * registers at any time (a violation, a timeout). What to hold, and for how long, is the plan's; init only executes.
 *
 * Status channel: init -> executor TRACED { u32 type, i32 errno } (+ SCM_RIGHTS pidfd of PID 2 when errno is 0),
 * STOPPED { u32 type, u32 kind, i32 status, u32 0, u64 user_regs_struct[27] } (kind 1: exiting, status = its wait status;
 * kind 2: stopped on request; kind 0: a request that could not be carried out, status = errno).
 * executor -> init { u32 request }: 1 release the held thread, 2 stop it and send its registers. */
#include "sandbox2.h"
#include <sys/ptrace.h>
#include <sys/user.h>

int trace_sync_fd = -1; /* PID 2's end of the start handshake (init seizes it before it execs) */

static pid_t traced;      /* PID 2, once seized */
static pid_t held;        /* the thread init holds stopped for the executor, or 0 */
static int held_kind, held_listen, interrupt_pending;
static struct timespec held_until;
static struct { uint32_t type, kind; int32_t status; uint32_t pad; struct user_regs_struct regs; } stopped;

/* PID 2, first thing: become traceable (init's id change made the inherited mm undumpable), say so, wait to be seized. */
void trace_sync_child(void)
{
    if (trace_sync_fd < 0) return;
    char c = 'r';
    CHECK(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), ST_TRACE, "PR_SET_DUMPABLE");
    if (write(trace_sync_fd, &c, 1) != 1 || read(trace_sync_fd, &c, 1) != 1) syscall(SYS_exit_group, 126);
    close(trace_sync_fd);
    trace_sync_fd = -1;
}

/* init: seize PID 2 once it is ready (never a failure of the sandbox: the executor is told why there will be no traces). */
void trace_seize(pid_t pid2, int sync)
{
    char c;
    struct { uint32_t type; int32_t err; } r = { S_TRACED, 0 };
    if (read(sync, &c, 1) != 1) { close(sync); return; } /* PID 2 failed before: it reports its own step */
    if (ptrace(PTRACE_SEIZE, pid2, 0, (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) < 0) r.err = errno;
    int pidfd = r.err ? -1 : (int)syscall(SYS_pidfd_open, pid2, 0);
    if (!r.err) traced = (pid_t)pid2;
    send_status(&r, sizeof r, pidfd); /* without a pidfd (no pidfd_open) the executor finds PID 2 in /proc */
    if (pidfd >= 0) close(pidfd);
    c = 'g';
    if (write(sync, &c, 1) != 1) { /* PID 2 is gone: its exit is reaped as usual */ }
    close(sync);
}

static void send_stopped(uint32_t kind, int32_t status)
{
    stopped.type = S_STOPPED;
    stopped.kind = kind;
    stopped.status = status;
    send_status(&stopped, sizeof stopped, -1);
}

static int hold(pid_t tid, int kind, int status, int listen)
{
    if (ptrace(PTRACE_GETREGS, tid, 0, &stopped.regs) < 0) return 0;
    clock_gettime(CLOCK_MONOTONIC, &held_until);
    held_until.tv_sec += P.trace_hold_ms / 1000;
    held_until.tv_nsec += (long)(P.trace_hold_ms % 1000) * 1000000L;
    if (held_until.tv_nsec >= 1000000000L) { held_until.tv_sec++; held_until.tv_nsec -= 1000000000L; }
    held = tid;
    held_kind = kind;
    held_listen = listen;
    send_stopped((uint32_t)kind, status);
    return 1;
}

static void release(void)
{
    if (!held) return;
    if (held_listen) ptrace(PTRACE_LISTEN, held, 0, 0);
    else ptrace(PTRACE_CONT, held, 0, 0);
    held = 0;
}

static int stop_signal(int sig) { return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU; }

/* A ptrace stop of a traced thread (waitid: CLD_TRAPPED, si_status = the stop's exit code). */
void trace_on_stop(pid_t tid, int code)
{
    int sig = code & 0xff, event = (code >> 8) & 0xff;
    if (event == PTRACE_EVENT_EXIT) {
        unsigned long ws = 0;
        ptrace(PTRACE_GETEVENTMSG, tid, 0, &ws);
        int term = (int)(ws & 0x7f);
        int wanted = term ? (term < 64 && ((P.trace_signals >> term) & 1)) : (P.trace_flags & TRACE_ON_EXIT) != 0;
        if (interrupt_pending) { interrupt_pending = 0; wanted = 1; } /* asked for while it exits: these are its last registers */
        if (wanted && hold(tid, 1, (int)ws, 0)) return;
        ptrace(PTRACE_CONT, tid, 0, 0);
        return;
    }
    if (event == PTRACE_EVENT_STOP) { /* group stop (SEIZE), or the stop we asked for */
        int listen = stop_signal(sig);
        if (interrupt_pending) {
            interrupt_pending = 0;
            if (hold(tid, 2, 0, listen)) return;
        }
        if (listen) ptrace(PTRACE_LISTEN, tid, 0, 0);
        else ptrace(PTRACE_CONT, tid, 0, 0);
        return;
    }
    ptrace(PTRACE_CONT, tid, 0, (void *)(long)(event ? 0 : sig)); /* a signal-delivery stop: deliver the signal */
}

/* poll timeout while a thread is held: its hold ends at the plan's limit whatever the executor does. */
int trace_poll_timeout(void)
{
    if (!held) return -1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (held_until.tv_sec - now.tv_sec) * 1000L + (held_until.tv_nsec - now.tv_nsec) / 1000000L;
    if (ms <= 0) { release(); return -1; }
    return (int)ms;
}

/* A request on the status channel (fd 0 of init). Returns 0 at EOF (the executor has gone). */
int trace_request(int fd)
{
    uint32_t req = 0;
    ssize_t n = recv(fd, &req, sizeof req, MSG_DONTWAIT);
    if (n == 0) { release(); return 0; }
    if (n != sizeof req) return 1;
    if (req == 1) release();
    else if (req == 2) {
        if (held) send_stopped(2, 0); /* already stopped: the same registers */
        else if (!traced) send_stopped(0, ESRCH);
        else if (interrupt_pending) { }
        else if (ptrace(PTRACE_INTERRUPT, traced, 0, 0) < 0) send_stopped(0, errno);
        else interrupt_pending = 1;
    }
    return 1;
}

/* PID 2 has been reaped. */
void trace_ended(pid_t pid)
{
    if (pid != traced) return;
    if (interrupt_pending) send_stopped(0, ESRCH);
    traced = 0;
    held = 0;
    interrupt_pending = 0;
}
