/* Port of Sandbox2's testcases/terminate_process_group_sandboxee: says it runs (a bool over Comms), waits for the
 * sandboxer's bool, exits 0. */
#include "sandbox2_client.h"

int main(void)
{
    sandbox2_comms c;
    bool go = false;
    if (sandbox2_comms_open_default(&c) != SANDBOX2_OK) return 2;
    if (sandbox2_comms_send_bool(&c, true) != SANDBOX2_OK) return 3;
    if (sandbox2_comms_recv_bool(&c, &go) != SANDBOX2_OK) return 4;
    return go ? 0 : 5;
}
