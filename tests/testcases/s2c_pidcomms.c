/* Port of Sandbox2's testcases/pidcomms (notify_test PrintPidAndComms): talks over Comms before SandboxMeHere (a bool
 * the executor's EventStarted reads), then sandboxes itself and exits 33. */
#include "sandbox2_client.h"

int main(void)
{
    sandbox2_comms c;
    if (sandbox2_comms_open_default(&c) != SANDBOX2_OK) return 2;
    if (sandbox2_comms_send_bool(&c, true) != SANDBOX2_OK) return 3;
    sandbox2_sandbox_me_here(&c);
    return 33;
}
