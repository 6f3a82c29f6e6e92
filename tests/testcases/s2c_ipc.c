/* Port of Sandbox2's testcases/ipc (ipc_test): 1 = sandboxed before exec, 2 = SandboxMeHere first, 3 = no mapping
 * at all (the client must cope). Then the descriptor named "ipc_test" (at argv[2], if given) answers "hello" with
 * "world". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sandbox2_client.h"

int main(int argc, char **argv)
{
    if (argc < 2) return 100;
    int mode = atoi(argv[1]);
    if (mode == 3) return sandbox2_get_mapped_fd("ipc_test") == -1 ? 0 : 1;
    if (mode == 2) {
        sandbox2_comms sb;
        if (sandbox2_comms_open_default(&sb) != SANDBOX2_OK) { fputs("no Comms channel\n", stderr); return 2; }
        sandbox2_sandbox_me_here(&sb);
    }
    int want = argc >= 3 ? atoi(argv[2]) : -1;
    int fd = sandbox2_get_mapped_fd("ipc_test");
    if (fd < 0 || (want >= 0 && fd != want)) { fprintf(stderr, "mapped fd %d, want %d\n", fd, want); return 3; }
    sandbox2_comms c;
    sandbox2_comms_init(&c, fd);
    char *hello = NULL;
    if (sandbox2_comms_recv_string(&c, &hello) != SANDBOX2_OK || strcmp(hello, "hello") != 0) { fputs("no hello\n", stderr); return 4; }
    free(hello);
    if (sandbox2_comms_send_string(&c, "world") != SANDBOX2_OK) return 5;
    puts("OK: All tests went OK");
    return 0;
}
