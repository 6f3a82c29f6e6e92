/* Drives the C client's decoder over hostile streams (see CommsFuzzTests): each Bytes message on
 * Comms is {uint8 cap selector, uint8 n, n op bytes, stream}; the stream is written into a fresh
 * socketpair whose writer is then closed, and the ops are run as typed receives on the reader.
 * Every receive must return (a value or an error code) and the channel must end in an error.
 * Replies Int32 = number of receives that returned a value. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "sandbox2_client.h"

static int receive(sandbox2_comms *r, int op) {
  union { bool b; int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32; uint32_t u32; int64_t i64; uint64_t u64; } v;
  void *p = NULL;
  char *s = NULL;
  uint64_t n;
  uint32_t tag;
  int fd = -1, err;
  switch (op % 13) {
  case 0: err = sandbox2_comms_recv_bool(r, &v.b); break;
  case 1: err = sandbox2_comms_recv_int8(r, &v.i8); break;
  case 2: err = sandbox2_comms_recv_uint8(r, &v.u8); break;
  case 3: err = sandbox2_comms_recv_int16(r, &v.i16); break;
  case 4: err = sandbox2_comms_recv_uint16(r, &v.u16); break;
  case 5: err = sandbox2_comms_recv_int32(r, &v.i32); break;
  case 6: err = sandbox2_comms_recv_uint32(r, &v.u32); break;
  case 7: err = sandbox2_comms_recv_int64(r, &v.i64); break;
  case 8: err = sandbox2_comms_recv_uint64(r, &v.u64); break;
  case 9: err = sandbox2_comms_recv_string(r, &s); free(s); break;
  case 10: err = sandbox2_comms_recv_bytes(r, &p, &n); free(p); break;
  case 11: err = sandbox2_comms_recv_fd(r, &fd); if (fd >= 0) close(fd); break;
  default: err = sandbox2_comms_recv_tlv(r, &tag, &p, &n, &fd); free(p); if (fd >= 0) close(fd); break;
  }
  return err;
}

int main(void) {
  static const uint64_t caps[] = {16, 1024, 1 << 20, SANDBOX2_DEFAULT_MAX_MESSAGE_SIZE};
  sandbox2_comms c;
  if (sandbox2_comms_open_default(&c) != SANDBOX2_OK) return 2;
  for (;;) {
    void *in;
    uint64_t len;
    int err = sandbox2_comms_recv_bytes(&c, &in, &len);
    if (err == SANDBOX2_ERR_CLOSED) return 0;
    if (err || len < 2) return 3;
    const unsigned char *b = in;
    uint64_t nops = b[1];
    if (2 + nops > len) return 3;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 3;
    const unsigned char *stream = b + 2 + nops;
    uint64_t slen = len - 2 - nops;
    for (uint64_t off = 0; off < slen;) {
      ssize_t w = write(sv[0], stream + off, slen - off);
      if (w <= 0) return 3;
      off += (uint64_t)w;
    }
    close(sv[0]);
    sandbox2_comms r;
    sandbox2_comms_init(&r, sv[1]);
    r.max_size = caps[b[0] % 4];
    int values = 0;
    for (uint64_t i = 0; i < nops; i++)
      if (receive(&r, b[2 + i]) == SANDBOX2_OK) values++;
    for (uint64_t i = 0;; i++) { /* drain: must end in an error within a bounded number of reads */
      if (receive(&r, 12) != SANDBOX2_OK) break;
      if (i > slen) return 4;
    }
    if (!r.terminated && receive(&r, 12) != SANDBOX2_ERR_CLOSED) return 5;
    sandbox2_comms_close(&r);
    free(in);
    if (sandbox2_comms_send_int32(&c, values)) return 3;
  }
}
