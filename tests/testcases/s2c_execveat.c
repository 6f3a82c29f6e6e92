/* Port of Sandbox2's testcases/execveat (policy_test ExecveatNotAllowedByDefault, SecondExecveatNotAllowedByDefault),
 * our own rewrite: 1 = SandboxMeHere with the C client first (the program was started unfiltered), 2 = sandboxed
 * before exec. Then an execveat that the policy must stop: exit 0 when it failed with EPERM, 1 otherwise (it is a
 * violation when the policy has no rule for execveat). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sandbox2_client.h"

int main(int argc, char **argv)
{
    if (argc < 2) return 100;
    if (atoi(argv[1]) == 1) {
        sandbox2_comms c;
        if (sandbox2_comms_open_default(&c) != SANDBOX2_OK) { fputs("no Comms channel\n", stderr); return 2; }
        sandbox2_sandbox_me_here(&c);
    }
    /* As Sandbox2's: AT_EMPTY_PATH in the descriptor slot, everything else 0; never a successful exec. */
    long r = syscall(SYS_execveat, AT_EMPTY_PATH, 0, 0, 0, 0);
    if (r != -1 || errno != EPERM) {
        printf("System call should have been blocked (result %ld, errno %d)\n", r, errno);
        return 1;
    }
    return 0;
}
