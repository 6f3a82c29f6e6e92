/* Port of Sandbox2's testcases/pthreads.cc: threads that set SCHED_IDLE and check it, joined by main. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
static void *run(void *arg)
{
    (void)arg;
    struct sched_param p = { 0 };
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &p) != 0) return (void *)1;
    int policy;
    if (pthread_getschedparam(pthread_self(), &policy, &p) != 0 || policy != SCHED_IDLE) return (void *)1;
    return NULL;
}
int main(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++) if (pthread_create(&t[i], NULL, run, NULL) != 0) return 2;
    for (int i = 0; i < 4; i++) {
        void *r;
        if (pthread_join(t[i], &r) != 0 || r) return 3;
    }
    puts("threads ok");
    return 0;
}
