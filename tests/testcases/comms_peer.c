/* Comms peer for the C# tests: `echo` echoes every message (descriptors too) until the channel
 * closes; `typed` runs a fixed script over the typed API (see CommsCrossProcessTests). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sandbox2_client.h"

static sandbox2_comms c;

static void must(int err, const char *what) {
  if (err) {
    fprintf(stderr, "comms_peer: %s: %s\n", what, sandbox2_strerror(err));
    exit(10 - err);
  }
}

static int echo(void) {
  for (;;) {
    uint32_t tag;
    void *v;
    uint64_t len;
    int fd;
    int err = sandbox2_comms_recv_tlv(&c, &tag, &v, &len, &fd);
    if (err == SANDBOX2_ERR_CLOSED) return 0;
    must(err, "recv");
    if (fd >= 0) {
      must(sandbox2_comms_send_fd(&c, fd), "send fd");
      close(fd);
    } else {
      must(sandbox2_comms_send_tlv(&c, tag, v, len), "send");
    }
    free(v);
  }
}

static int typed(void) {
  bool b;
  must(sandbox2_comms_recv_bool(&c, &b), "bool");
  must(sandbox2_comms_send_bool(&c, !b), "bool");
#define PLUS_ONE(name, type)                              \
  {                                                       \
    type v;                                               \
    must(sandbox2_comms_recv_##name(&c, &v), #name);      \
    must(sandbox2_comms_send_##name(&c, (type)(v + 1)), #name); \
  }
  PLUS_ONE(int8, int8_t)
  PLUS_ONE(uint8, uint8_t)
  PLUS_ONE(int16, int16_t)
  PLUS_ONE(uint16, uint16_t)
  PLUS_ONE(int32, int32_t)
  PLUS_ONE(uint32, uint32_t)
  PLUS_ONE(int64, int64_t)
  PLUS_ONE(uint64, uint64_t)
  char *s;
  must(sandbox2_comms_recv_string(&c, &s), "string");
  char *t = malloc(strlen(s) + 2);
  strcpy(t, s);
  strcat(t, "!");
  must(sandbox2_comms_send_string(&c, t), "string");
  free(s);
  free(t);
  void *bytes;
  uint64_t n;
  must(sandbox2_comms_recv_bytes(&c, &bytes, &n), "bytes");
  unsigned char *p = bytes;
  for (uint64_t i = 0; i < n / 2; i++) {
    unsigned char x = p[i];
    p[i] = p[n - 1 - i];
    p[n - 1 - i] = x;
  }
  must(sandbox2_comms_send_bytes(&c, bytes, n), "bytes");
  free(bytes);
  /* A descriptor from C#: read it, send back what it said; then send one of ours. */
  int fd;
  must(sandbox2_comms_recv_fd(&c, &fd), "fd");
  char buf[256];
  ssize_t r = read(fd, buf, sizeof buf);
  close(fd);
  must(sandbox2_comms_send_bytes(&c, buf, r > 0 ? (uint64_t)r : 0), "fd content");
  int pipefd[2];
  if (pipe(pipefd) != 0) return 2;
  if (write(pipefd[1], "from C", 6) != 6) return 2;
  close(pipefd[1]);
  must(sandbox2_comms_send_fd(&c, pipefd[0]), "send fd");
  close(pipefd[0]);
  /* Wrong type: C# sends an Int32 where we ask for a Uint32. */
  uint32_t u;
  int err = sandbox2_comms_recv_uint32(&c, &u);
  must(sandbox2_comms_send_string(&c, err == SANDBOX2_ERR_TAG ? "tag-mismatch" : sandbox2_strerror(err)), "mismatch");
  /* The channel is still usable. */
  int32_t i;
  must(sandbox2_comms_recv_int32(&c, &i), "int32 after mismatch");
  must(sandbox2_comms_send_int32(&c, i * 2), "int32 after mismatch");
  /* Size cap: C# sends 2000 bytes with a 1024-byte cap. */
  c.max_size = 1024;
  err = sandbox2_comms_recv_bytes(&c, &bytes, &n);
  if (err == SANDBOX2_ERR_TOO_LARGE && sandbox2_comms_send_int32(&c, 1) == SANDBOX2_ERR_CLOSED) return 42;
  return 3;
}

int main(int argc, char **argv) {
  if (sandbox2_comms_open_default(&c) != SANDBOX2_OK) {
    fprintf(stderr, "comms_peer: no Comms channel\n");
    return 2;
  }
  if (argc > 1 && strcmp(argv[1], "typed") == 0) return typed();
  return echo();
}
