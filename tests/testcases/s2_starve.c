/* Port of Sandbox2's testcases/starve: 512 processes, each with an extra thread, all sleeping, and a storm of
 * SIGPROF sent to them by two senders: it keeps every CPU of the host busy (the monitor must still time it out). */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#define PROCESSES 512
#define STACK 16384

static pid_t pids[PROCESSES];
static uint8_t stack[STACK] __attribute__((aligned(4096)));

static void handler(int sig) { (void)sig; }

static int child(void *arg)
{
    (void)arg;
    for (;;) sleep(10);
    return 0;
}

int main(void)
{
    for (int i = 0; i < PROCESSES; i++) {
        int p[2];
        char c = ' ';
        if (pipe(p) != 0) break;
        pids[i] = fork();
        if (pids[i] == 0) {
            signal(SIGPROF, handler);
            clone(child, stack + STACK, CLONE_FILES | CLONE_FS | CLONE_IO | CLONE_PARENT | CLONE_SIGHAND | CLONE_THREAD | CLONE_VM, NULL);
            close(p[0]);
            (void)!write(p[1], &c, 1);
            for (;;) sleep(10);
        }
        close(p[1]);
        if (pids[i] > 0) (void)!read(p[0], &c, 1);
        close(p[0]);
    }
    (void)!write(1, "started\n", 8);
    fork(); /* two senders */
    for (;;)
        for (int i = 0; i < PROCESSES; i++)
            if (pids[i] > 0) kill(pids[i], SIGPROF);
}
