/* crc4 — a native sandboxee in the style of Sandbox2's examples/crc4: it receives data over Comms
 * (Bytes), answers with a toy checksum (Uint32), and exits when the executor closes the channel.
 *
 *   crc4_sandboxee [--sandbox-me-here]
 *
 * With --sandbox-me-here it starts unfiltered and applies the executor's policy itself (Sandbox2's
 * "sandbox after start" mode, `sandbox2 run --sandbox-after-start`); without it, it expects to
 * have been sandboxed before exec. After sandboxing it needs only recvmsg, sendmsg, exit_group
 * (and read-only memory calls of malloc/free). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox2_client.h"

/* XOR of the data as little-endian 32-bit words (the checksum of Sandbox2's crc4 example). */
static uint32_t crc4(const uint8_t *data, uint64_t len) {
  uint32_t crc = 0;
  for (uint64_t i = 0; i < len; i++) crc ^= (uint32_t)data[i] << ((i % 4) * 8);
  return crc;
}

int main(int argc, char **argv) {
  sandbox2_comms comms;
  if (sandbox2_comms_open_default(&comms) != SANDBOX2_OK) {
    fprintf(stderr, "crc4: no Comms channel on fd %d (run me under a Sandbox2 executor)\n", SANDBOX2_COMMS_FD);
    return 2;
  }
  if (argc > 1 && strcmp(argv[1], "--sandbox-me-here") == 0) sandbox2_sandbox_me_here(&comms);
  for (;;) {
    void *data;
    uint64_t len;
    int err = sandbox2_comms_recv_bytes(&comms, &data, &len);
    if (err == SANDBOX2_ERR_CLOSED) return 0;
    if (err) {
      fprintf(stderr, "crc4: %s\n", sandbox2_strerror(err));
      return 1;
    }
    err = sandbox2_comms_send_uint32(&comms, crc4(data, len));
    free(data);
    if (err) return 1;
  }
}
