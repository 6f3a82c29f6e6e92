/* Sandbox2 for .NET — C client for native sandboxees (no dependencies beyond libc).
 *
 * Comms: Sandbox2's TLV channel over an AF_UNIX stream socket, fd 1023 in a sandboxee
 * (SANDBOX2_COMMS_FD overrides). Wire format: packed little-endian header
 * {uint32 tag; uint64 length} (12 bytes), then the value. Descriptors travel as SCM_RIGHTS on the
 * header of an Fd message (empty value).
 *
 * SandboxMeHere: the handshake documented in src/Sandbox2.Client/SandboxMeHereProtocol.cs; the
 * filter is installed with SECCOMP_FILTER_FLAG_TSYNC on every thread (and SECCOMP_FILTER_FLAG_SPEC_ALLOW
 * when the executor's mode word carries the speculation bit: the policy's AllowSeccompSpeculation()),
 * or the process aborts with a message naming a thread that could not be synchronised.
 *
 * Functions return SANDBOX2_OK (0) or a negative SANDBOX2_ERR_* code (sandbox2_strerror names it).
 * Not thread-safe: use one channel from one thread at a time. */
#ifndef SANDBOX2_CLIENT_H
#define SANDBOX2_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SANDBOX2_COMMS_FD 1023
#define SANDBOX2_COMMS_FD_ENV "SANDBOX2_COMMS_FD"
#define SANDBOX2_FD_MAPPINGS_ENV "SANDBOX2_FD_MAPPINGS" /* sandbox before exec: "name:fd,..." (names percent-encoded) */
#define SANDBOX2_TEST_NO_TSYNC_ENV "SANDBOX2_TEST_NO_TSYNC"
#define SANDBOX2_DEFAULT_MAX_MESSAGE_SIZE (256ull << 20)

#define SANDBOX2_TAG_BOOL 0x80000001u
#define SANDBOX2_TAG_INT8 0x80000002u
#define SANDBOX2_TAG_UINT8 0x80000003u
#define SANDBOX2_TAG_INT16 0x80000004u
#define SANDBOX2_TAG_UINT16 0x80000005u
#define SANDBOX2_TAG_INT32 0x80000006u
#define SANDBOX2_TAG_UINT32 0x80000007u
#define SANDBOX2_TAG_INT64 0x80000008u
#define SANDBOX2_TAG_UINT64 0x80000009u
#define SANDBOX2_TAG_STRING 0x80000100u
#define SANDBOX2_TAG_BYTES 0x80000101u
#define SANDBOX2_TAG_PROTO2 0x80000102u
#define SANDBOX2_TAG_BARRIER 0x80000103u
#define SANDBOX2_TAG_VERSION 0x80000104u
#define SANDBOX2_TAG_FD 0x80000201u
#define SANDBOX2_TAG_CREDS 0x80000202u

enum {
  SANDBOX2_OK = 0,
  SANDBOX2_ERR_CLOSED = -1,    /* the peer hung up, or the channel was terminated */
  SANDBOX2_ERR_TRUNCATED = -2, /* the peer hung up in the middle of a message */
  SANDBOX2_ERR_TAG = -3,       /* a message of another type arrived (it was consumed) */
  SANDBOX2_ERR_VALUE = -4,     /* right type, impossible value (wrong length, bool not 0/1) */
  SANDBOX2_ERR_TOO_LARGE = -5, /* received: header announced more than max_size bytes (channel terminated);
                                  sent: value longer than max_size (refused, nothing sent) */
  SANDBOX2_ERR_NO_FD = -6,     /* an Fd message without a descriptor */
  SANDBOX2_ERR_IO = -7,        /* other kernel error (errno is kept) */
  SANDBOX2_ERR_NOMEM = -8,
};

typedef struct sandbox2_comms {
  int fd;
  int terminated;
  uint64_t max_size; /* largest value accepted by a receive */
} sandbox2_comms;

/* Channel on fd 1023 (or $SANDBOX2_COMMS_FD). Returns SANDBOX2_ERR_IO if it is not an open socket. */
int sandbox2_comms_open_default(sandbox2_comms *c);
void sandbox2_comms_init(sandbox2_comms *c, int fd);
void sandbox2_comms_close(sandbox2_comms *c);
const char *sandbox2_strerror(int err);

int sandbox2_comms_send_tlv(sandbox2_comms *c, uint32_t tag, const void *value, uint64_t len);
/* Receives one message of any type. *value is malloc'ed (free it; never NULL on success).
 * If fd is not NULL it receives a descriptor that came with the message, or -1; extra ones are closed. */
int sandbox2_comms_recv_tlv(sandbox2_comms *c, uint32_t *tag, void **value, uint64_t *len, int *fd);

int sandbox2_comms_send_bool(sandbox2_comms *c, bool v);
int sandbox2_comms_recv_bool(sandbox2_comms *c, bool *v);
int sandbox2_comms_send_int8(sandbox2_comms *c, int8_t v);
int sandbox2_comms_recv_int8(sandbox2_comms *c, int8_t *v);
int sandbox2_comms_send_uint8(sandbox2_comms *c, uint8_t v);
int sandbox2_comms_recv_uint8(sandbox2_comms *c, uint8_t *v);
int sandbox2_comms_send_int16(sandbox2_comms *c, int16_t v);
int sandbox2_comms_recv_int16(sandbox2_comms *c, int16_t *v);
int sandbox2_comms_send_uint16(sandbox2_comms *c, uint16_t v);
int sandbox2_comms_recv_uint16(sandbox2_comms *c, uint16_t *v);
int sandbox2_comms_send_int32(sandbox2_comms *c, int32_t v);
int sandbox2_comms_recv_int32(sandbox2_comms *c, int32_t *v);
int sandbox2_comms_send_uint32(sandbox2_comms *c, uint32_t v);
int sandbox2_comms_recv_uint32(sandbox2_comms *c, uint32_t *v);
int sandbox2_comms_send_int64(sandbox2_comms *c, int64_t v);
int sandbox2_comms_recv_int64(sandbox2_comms *c, int64_t *v);
int sandbox2_comms_send_uint64(sandbox2_comms *c, uint64_t v);
int sandbox2_comms_recv_uint64(sandbox2_comms *c, uint64_t *v);
int sandbox2_comms_send_string(sandbox2_comms *c, const char *s);
/* *s is malloc'ed and NUL-terminated. */
int sandbox2_comms_recv_string(sandbox2_comms *c, char **s);
int sandbox2_comms_send_bytes(sandbox2_comms *c, const void *data, uint64_t len);
int sandbox2_comms_recv_bytes(sandbox2_comms *c, void **data, uint64_t *len);
/* A barrier: an empty message both sides meet at (Sandbox2's SendBarrier/RecvBarrier). */
int sandbox2_comms_send_barrier(sandbox2_comms *c);
int sandbox2_comms_recv_barrier(sandbox2_comms *c);
/* Sends a duplicate of fd (SCM_RIGHTS); the caller keeps its own. */
int sandbox2_comms_send_fd(sandbox2_comms *c, int fd);
/* Receives a descriptor (O_CLOEXEC). */
int sandbox2_comms_recv_fd(sandbox2_comms *c, int *fd);

/* Receives the policy from the executor and installs it on every thread (TSYNC). Returns only on
 * success; on any failure it tells the executor why, prints "sandbox2: <reason>" and aborts. */
void sandbox2_sandbox_me_here(sandbox2_comms *c);
/* The descriptor mapped under name by the executor (one-shot), or -1: after sandbox2_sandbox_me_here, or, with the
 * sandbox installed before exec, from SANDBOX2_FD_MAPPINGS at any time. */
int sandbox2_get_mapped_fd(const char *name);

#ifdef __cplusplus
}
#endif
#endif
