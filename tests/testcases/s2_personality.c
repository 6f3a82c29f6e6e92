/* Port of Sandbox2's testcases/personality (notify_test): personality with six known arguments; the exit code is the
 * errno it failed with (0 if it succeeded). */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    errno = 0;
    long r = syscall(SYS_personality, 1, 2, 3, 4, 5, 6);
    return r < 0 ? errno : 0;
}
