/* Port of Sandbox2's testcases/terminate_process_group (sandbox2_test TerminatingProcessGroup), the parent part: it
 * makes itself the leader of a new process group, then runs the sandboxer (argv[1..], Sandbox2.TestExecutor
 * terminate-process-group ...) in a child, which starts its sandbox in this group and then moves to a group of its
 * own. The test kills this group with SIGTERM; this process waits for its child and is killed before it ends. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    if (setpgid(0, 0) != 0) { perror("setpgid"); return 3; }
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 4; }
    if (pid == 0) {
        execv(argv[1], argv + 1);
        perror("execv");
        _exit(5);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) { }
    return 1; /* the test kills this process before the sandboxer ends */
}
