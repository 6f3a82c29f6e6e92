/* Port of Sandbox2's testcases/sleep.cc: prints "sleeping" and sleeps 10 s (tests kill it first). */
#include <stdio.h>
#include <time.h>
int main(void)
{
    printf("sleeping\n");
    fflush(stdout);
    struct timespec t = { 10, 0 };
    while (nanosleep(&t, &t) != 0) {}
    return 0;
}
