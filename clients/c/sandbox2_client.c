/* Sandbox2 for .NET — C client. See sandbox2_client.h. */
#define _GNU_SOURCE
#include "sandbox2_client.h"

#include <dirent.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif

#define HEADER_SIZE 12
#define MAX_FDS 16
#define PROTOCOL_VERSION 1u
#define CLIENT_READY 0x0A0B0C01u
#define MODE_UNOTIFY 0x0A0B0C03u
#define MODE_PLAIN 0x0A0B0C04u
#define MODE_MASK 0x0FFFFFFFu
#define MODE_SPECULATION 0x10000000u /* AllowSeccompSpeculation(): install with SECCOMP_FILTER_FLAG_SPEC_ALLOW */
#define MAX_MAPPED_FDS 1024
#define MAX_BPF_INSNS 4096

/* ------------------------------------------------------------------ channel */

void sandbox2_comms_init(sandbox2_comms *c, int fd) {
  c->fd = fd;
  c->terminated = 0;
  c->max_size = SANDBOX2_DEFAULT_MAX_MESSAGE_SIZE;
}

int sandbox2_comms_open_default(sandbox2_comms *c) {
  int fd = SANDBOX2_COMMS_FD;
  const char *env = getenv(SANDBOX2_COMMS_FD_ENV);
  if (env && *env) {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end || v < 0 || v > 0x7fffffff) return SANDBOX2_ERR_IO;
    fd = (int)v;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    errno = EBADF;
    return SANDBOX2_ERR_IO;
  }
  sandbox2_comms_init(c, fd);
  return SANDBOX2_OK;
}

void sandbox2_comms_close(sandbox2_comms *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->terminated = 1;
}

const char *sandbox2_strerror(int err) {
  switch (err) {
  case SANDBOX2_OK: return "ok";
  case SANDBOX2_ERR_CLOSED: return "the Comms channel is closed";
  case SANDBOX2_ERR_TRUNCATED: return "truncated message: the peer hung up in the middle of it";
  case SANDBOX2_ERR_TAG: return "a message of another type arrived";
  case SANDBOX2_ERR_VALUE: return "a message had an impossible value";
  case SANDBOX2_ERR_TOO_LARGE: return "a message exceeded the size limit";
  case SANDBOX2_ERR_NO_FD: return "an Fd message arrived without a descriptor";
  case SANDBOX2_ERR_IO: return "I/O error on the Comms channel";
  case SANDBOX2_ERR_NOMEM: return "out of memory";
  default: return "unknown error";
  }
}

static int terminate(sandbox2_comms *c, int err) {
  c->terminated = 1;
  if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
  return err;
}

static void wait_fd(int fd, short events) {
  struct pollfd p = {.fd = fd, .events = events};
  while (poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
}

/* One blocking recvmsg; descriptors go to fds (up to MAX_FDS, rest closed) or are closed. */
static ssize_t recv_some(sandbox2_comms *c, void *buf, size_t len, int *fds, int *nfds) {
  char control[CMSG_SPACE(sizeof(int) * MAX_FDS)];
  for (;;) {
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t r = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) {
      wait_fd(c->fd, POLLIN);
      continue;
    }
    if (r < 0) return r;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
      if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
      size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
        if (fds && *nfds < MAX_FDS) fds[(*nfds)++] = fd;
        else close(fd);
      }
    }
    return r;
  }
}

int sandbox2_comms_recv_tlv(sandbox2_comms *c, uint32_t *tag, void **value, uint64_t *len, int *fd) {
  if (fd) *fd = -1;
  *value = NULL;
  if (c->terminated || c->fd < 0) return SANDBOX2_ERR_CLOSED;
  unsigned char header[HEADER_SIZE];
  int fds[MAX_FDS], nfds = 0, err = SANDBOX2_OK;
  size_t got = 0;
  while (got < HEADER_SIZE) {
    ssize_t r = recv_some(c, header + got, HEADER_SIZE - got, fds, &nfds);
    if (r < 0) { err = terminate(c, errno == ECONNRESET ? SANDBOX2_ERR_CLOSED : SANDBOX2_ERR_IO); goto out; }
    if (r == 0) { err = terminate(c, got == 0 ? SANDBOX2_ERR_CLOSED : SANDBOX2_ERR_TRUNCATED); goto out; }
    got += (size_t)r;
  }
  uint32_t t;
  uint64_t n;
  memcpy(&t, header, 4); /* x86-64: little-endian, as on the wire */
  memcpy(&n, header + 4, 8);
  if (n > c->max_size) { err = terminate(c, SANDBOX2_ERR_TOO_LARGE); goto out; }
  unsigned char *v = malloc(n ? n : 1);
  if (!v) { err = terminate(c, SANDBOX2_ERR_NOMEM); goto out; }
  for (uint64_t off = 0; off < n;) {
    ssize_t r = recv_some(c, v + off, n - off > (1u << 30) ? (1u << 30) : n - off, NULL, NULL);
    if (r <= 0) {
      free(v);
      err = terminate(c, r == 0 ? SANDBOX2_ERR_TRUNCATED : SANDBOX2_ERR_IO);
      goto out;
    }
    off += (uint64_t)r;
  }
  *tag = t;
  *value = v;
  *len = n;
  if (fd && nfds > 0) {
    *fd = fds[0];
    fds[0] = -1;
  }
out:
  for (int i = 0; i < nfds; i++)
    if (fds[i] >= 0) close(fds[i]);
  return err;
}

static int send_with_fd(sandbox2_comms *c, uint32_t tag, const void *value, uint64_t len, int fd) {
  if (c->terminated || c->fd < 0) return SANDBOX2_ERR_CLOSED;
  if (len > c->max_size) return SANDBOX2_ERR_TOO_LARGE; /* refused at once: nothing sent, the channel stays usable */
  unsigned char header[HEADER_SIZE];
  memcpy(header, &tag, 4);
  memcpy(header + 4, &len, 8);
  uint64_t total = HEADER_SIZE + len, sent = 0;
  char control[CMSG_SPACE(sizeof(int))];
  while (sent < total) {
    struct iovec iov[2];
    int n = 0;
    if (sent < HEADER_SIZE) {
      iov[n++] = (struct iovec){header + sent, HEADER_SIZE - sent};
      if (len) iov[n++] = (struct iovec){(void *)value, len};
    } else {
      iov[n++] = (struct iovec){(unsigned char *)value + (sent - HEADER_SIZE), total - sent};
    }
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    if (sent == 0 && fd >= 0) {
      memset(control, 0, sizeof control);
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
      h->cmsg_level = SOL_SOCKET;
      h->cmsg_type = SCM_RIGHTS;
      h->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(h), &fd, sizeof fd);
    }
    ssize_t r = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) {
      wait_fd(c->fd, POLLOUT);
      continue;
    }
    if (r < 0) return terminate(c, (errno == EPIPE || errno == ECONNRESET) ? SANDBOX2_ERR_CLOSED : SANDBOX2_ERR_IO);
    sent += (uint64_t)r;
  }
  return SANDBOX2_OK;
}

int sandbox2_comms_send_tlv(sandbox2_comms *c, uint32_t tag, const void *value, uint64_t len) {
  return send_with_fd(c, tag, value, len, -1);
}

/* Receives a message that must have tag `want` and, if want_len >= 0, exactly want_len bytes. */
static int recv_expected(sandbox2_comms *c, uint32_t want, int64_t want_len, void **value, uint64_t *len) {
  uint32_t tag;
  int err = sandbox2_comms_recv_tlv(c, &tag, value, len, NULL);
  if (err) return err;
  if (tag != want || (want_len >= 0 && *len != (uint64_t)want_len)) {
    free(*value);
    *value = NULL;
    return tag != want ? SANDBOX2_ERR_TAG : SANDBOX2_ERR_VALUE;
  }
  return SANDBOX2_OK;
}

static int recv_fixed(sandbox2_comms *c, uint32_t want, void *out, size_t size) {
  void *v;
  uint64_t len;
  int err = recv_expected(c, want, (int64_t)size, &v, &len);
  if (err) return err;
  memcpy(out, v, size);
  free(v);
  return SANDBOX2_OK;
}

#define SANDBOX2_FIXED(name, type, tag)                                                                                \
  int sandbox2_comms_send_##name(sandbox2_comms *c, type v) { return sandbox2_comms_send_tlv(c, tag, &v, sizeof v); } \
  int sandbox2_comms_recv_##name(sandbox2_comms *c, type *v) { return recv_fixed(c, tag, v, sizeof *v); }
SANDBOX2_FIXED(int8, int8_t, SANDBOX2_TAG_INT8)
SANDBOX2_FIXED(uint8, uint8_t, SANDBOX2_TAG_UINT8)
SANDBOX2_FIXED(int16, int16_t, SANDBOX2_TAG_INT16)
SANDBOX2_FIXED(uint16, uint16_t, SANDBOX2_TAG_UINT16)
SANDBOX2_FIXED(int32, int32_t, SANDBOX2_TAG_INT32)
SANDBOX2_FIXED(uint32, uint32_t, SANDBOX2_TAG_UINT32)
SANDBOX2_FIXED(int64, int64_t, SANDBOX2_TAG_INT64)
SANDBOX2_FIXED(uint64, uint64_t, SANDBOX2_TAG_UINT64)

int sandbox2_comms_send_bool(sandbox2_comms *c, bool v) {
  uint8_t b = v ? 1 : 0;
  return sandbox2_comms_send_tlv(c, SANDBOX2_TAG_BOOL, &b, 1);
}

int sandbox2_comms_recv_bool(sandbox2_comms *c, bool *v) {
  uint8_t b;
  int err = recv_fixed(c, SANDBOX2_TAG_BOOL, &b, 1);
  if (err) return err;
  if (b > 1) return SANDBOX2_ERR_VALUE;
  *v = b == 1;
  return SANDBOX2_OK;
}

int sandbox2_comms_send_string(sandbox2_comms *c, const char *s) {
  return sandbox2_comms_send_tlv(c, SANDBOX2_TAG_STRING, s, strlen(s));
}

int sandbox2_comms_recv_string(sandbox2_comms *c, char **s) {
  void *v;
  uint64_t len;
  int err = recv_expected(c, SANDBOX2_TAG_STRING, -1, &v, &len);
  if (err) return err;
  char *r = realloc(v, len + 1);
  if (!r) {
    free(v);
    return SANDBOX2_ERR_NOMEM;
  }
  r[len] = '\0';
  *s = r;
  return SANDBOX2_OK;
}

int sandbox2_comms_send_bytes(sandbox2_comms *c, const void *data, uint64_t len) {
  return sandbox2_comms_send_tlv(c, SANDBOX2_TAG_BYTES, data, len);
}

int sandbox2_comms_recv_bytes(sandbox2_comms *c, void **data, uint64_t *len) {
  return recv_expected(c, SANDBOX2_TAG_BYTES, -1, data, len);
}

int sandbox2_comms_send_barrier(sandbox2_comms *c) { return sandbox2_comms_send_tlv(c, SANDBOX2_TAG_BARRIER, NULL, 0); }

int sandbox2_comms_recv_barrier(sandbox2_comms *c) {
  uint32_t tag;
  void *v;
  uint64_t len;
  int err = sandbox2_comms_recv_tlv(c, &tag, &v, &len, NULL);
  if (err) return err;
  free(v);
  return tag != SANDBOX2_TAG_BARRIER ? SANDBOX2_ERR_TAG : len != 0 ? SANDBOX2_ERR_VALUE : SANDBOX2_OK;
}

int sandbox2_comms_send_fd(sandbox2_comms *c, int fd) { return send_with_fd(c, SANDBOX2_TAG_FD, NULL, 0, fd); }

int sandbox2_comms_recv_fd(sandbox2_comms *c, int *fd) {
  uint32_t tag;
  void *v;
  uint64_t len;
  int err = sandbox2_comms_recv_tlv(c, &tag, &v, &len, fd);
  if (err) return err;
  free(v);
  if (tag != SANDBOX2_TAG_FD || len != 0 || *fd < 0) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
    return tag != SANDBOX2_TAG_FD ? SANDBOX2_ERR_TAG : len != 0 ? SANDBOX2_ERR_VALUE : SANDBOX2_ERR_NO_FD;
  }
  return SANDBOX2_OK;
}

/* ------------------------------------------------------------------ SandboxMeHere */

static struct {
  char *name;
  int fd;
} mapped[MAX_MAPPED_FDS];
static int nmapped;

/* Sandbox before exec: the executor lists the named descriptors in SANDBOX2_FD_MAPPINGS ("name:fd,name:fd", names
 * percent-encoded). Read once, on the first look-up; a malformed entry is skipped. */
static int hexval(char ch) {
  return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static void load_env_mappings(void) {
  static int loaded;
  if (loaded) return;
  loaded = 1;
  const char *env = getenv(SANDBOX2_FD_MAPPINGS_ENV);
  if (!env) return;
  while (*env && nmapped < MAX_MAPPED_FDS) {
    const char *end = strchr(env, ',');
    size_t n = end ? (size_t)(end - env) : strlen(env);
    const char *colon = memchr(env, ':', n);
    if (colon && colon > env) {
      char *name = malloc((size_t)(colon - env) + 1), *w = name;
      int ok = name != NULL;
      for (const char *r = env; ok && r < colon; r++) {
        if (*r != '%') { *w++ = *r; continue; }
        int hi = r + 2 < colon ? hexval(r[1]) : -1, lo = hi >= 0 ? hexval(r[2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) ok = 0;
        else { *w++ = (char)(hi * 16 + lo); r += 2; }
      }
      char *fdend;
      long fd = strtol(colon + 1, &fdend, 10);
      if (ok && fdend == env + n && fdend != colon + 1 && fd >= 0 && fd <= 0x7fffffff) {
        *w = 0;
        mapped[nmapped].name = name;
        mapped[nmapped++].fd = (int)fd;
      } else {
        free(name);
      }
    }
    if (!end) break;
    env = end + 1;
  }
}

int sandbox2_get_mapped_fd(const char *name) {
  load_env_mappings();
  for (int i = 0; i < nmapped; i++) {
    if (mapped[i].name && strcmp(mapped[i].name, name) == 0) {
      int fd = mapped[i].fd;
      free(mapped[i].name);
      mapped[i].name = NULL;
      return fd;
    }
  }
  return -1;
}

__attribute__((noreturn, format(printf, 2, 3))) static void fail(sandbox2_comms *c, const char *fmt, ...) {
  char reason[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  if (sandbox2_comms_send_bool(c, false) == SANDBOX2_OK) sandbox2_comms_send_string(c, reason);
  fprintf(stderr, "sandbox2: %s\n", reason);
  abort();
}

static void thread_name(int tid, char *out, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
  snprintf(out, size, "?");
  FILE *f = fopen(path, "re");
  if (!f) return;
  if (fgets(out, (int)size, f)) out[strcspn(out, "\n")] = '\0';
  fclose(f);
}

/* Lowest tid of another thread (or 0), and how many other threads there are. */
static int other_threads(int *first) {
  int self = (int)syscall(SYS_gettid), count = 0;
  *first = 0;
  DIR *d = opendir("/proc/self/task");
  if (!d) return 0;
  for (struct dirent *e; (e = readdir(d));) {
    int tid = atoi(e->d_name);
    if (tid <= 0 || tid == self) continue;
    count++;
    if (*first == 0 || tid < *first) *first = tid;
  }
  closedir(d);
  return count;
}

static long do_seccomp(unsigned long flags, const struct sock_fprog *prog) {
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
}

__attribute__((noreturn)) static void fail_thread(sandbox2_comms *c, int tid) {
  char name[64];
  thread_name(tid, name, sizeof name);
  fail(c, "SandboxMeHere refused: thread %d \"%s\" could not be synchronised (SECCOMP_FILTER_FLAG_TSYNC failed: it has a seccomp filter of its own); no filter was installed", tid, name);
}

#define CHECK(call, what)                                                                                \
  do {                                                                                                   \
    int err_ = (call);                                                                                   \
    if (err_) fail(c, "SandboxMeHere: handshake with the executor failed (%s): %s", what, sandbox2_strerror(err_)); \
  } while (0)

void sandbox2_sandbox_me_here(sandbox2_comms *c) {
  uint32_t version = PROTOCOL_VERSION;
  CHECK(sandbox2_comms_send_tlv(c, SANDBOX2_TAG_VERSION, &version, 4), "hello");
  CHECK(recv_fixed(c, SANDBOX2_TAG_VERSION, &version, 4), "version");
  if (version != PROTOCOL_VERSION)
    fail(c, "SandboxMeHere: the executor speaks protocol version %u, this client %u", version, PROTOCOL_VERSION);

  uint32_t count;
  CHECK(sandbox2_comms_recv_uint32(c, &count), "descriptor count");
  if (count > MAX_MAPPED_FDS) fail(c, "SandboxMeHere: the executor announced %u mapped descriptors (at most %d)", count, MAX_MAPPED_FDS);
  for (uint32_t i = 0; i < count; i++) {
    int32_t target;
    char *name;
    int fd;
    CHECK(sandbox2_comms_recv_int32(c, &target), "descriptor target");
    CHECK(sandbox2_comms_recv_string(c, &name), "descriptor name");
    CHECK(sandbox2_comms_recv_fd(c, &fd), "descriptor");
    if (target >= 0) {
      if (target == c->fd) fail(c, "SandboxMeHere: the executor mapped a descriptor over the Comms descriptor %d", target);
      if (fd != target) {
        if (dup3(fd, target, 0) < 0) fail(c, "SandboxMeHere: dup3 onto descriptor %d: %s", target, strerror(errno));
        close(fd);
        fd = target;
      }
    } else if (target != -1 || !*name) {
      fail(c, "SandboxMeHere: bad descriptor mapping (target %d, name \"%s\")", target, name);
    }
    if (*name) {
      mapped[nmapped].name = name;
      mapped[nmapped++].fd = fd;
    } else {
      free(name);
    }
  }
  char *cwd;
  void *bpf;
  uint64_t bpf_len;
  uint32_t mode;
  CHECK(sandbox2_comms_recv_string(c, &cwd), "cwd");
  CHECK(sandbox2_comms_recv_bytes(c, &bpf, &bpf_len), "policy");
  CHECK(sandbox2_comms_recv_uint32(c, &mode), "mode");
  if (*cwd && chdir(cwd) != 0) fail(c, "SandboxMeHere: chdir(\"%s\"): %s", cwd, strerror(errno));
  free(cwd);
  if (bpf_len == 0 || bpf_len % 8 != 0 || bpf_len / 8 > MAX_BPF_INSNS)
    fail(c, "SandboxMeHere: bad BPF program of %llu bytes", (unsigned long long)bpf_len);
  bool listener;
  switch (mode & MODE_MASK) {
  case MODE_UNOTIFY: listener = true; break;
  case MODE_PLAIN: listener = false; break;
  default: fail(c, "SandboxMeHere: unknown mode word 0x%08X", mode);
  }
  if (mode & ~MODE_MASK & ~MODE_SPECULATION) fail(c, "SandboxMeHere: unknown flags in the mode word 0x%08X", mode);
  unsigned long spec = (mode & MODE_SPECULATION) ? SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0;

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(c, "SandboxMeHere: prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
  struct sock_fprog prog = {.len = (unsigned short)(bpf_len / 8), .filter = bpf};
  unsigned long sync = SECCOMP_FILTER_FLAG_TSYNC | (listener ? SECCOMP_FILTER_FLAG_TSYNC_ESRCH : 0);
  unsigned long flags = sync | spec | (listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
  const char *hook = getenv(SANDBOX2_TEST_NO_TSYNC_ENV);
  long r;
  if (hook && strcmp(hook, "1") == 0) {
    r = -1; /* test hook: act as on a kernel without TSYNC */
    errno = EINVAL;
  } else {
    r = do_seccomp(flags, &prog);
  }
  if (r < 0 && errno == EINVAL && spec) {
    /* Which flag is unknown? A kernel that knows SPEC_ALLOW answers it with a NULL program with EFAULT. */
    if (do_seccomp(SECCOMP_FILTER_FLAG_SPEC_ALLOW, NULL) < 0 && errno == EINVAL)
      fail(c, "SandboxMeHere refused: the policy allows speculation (AllowSeccompSpeculation()), but this kernel has no "
              "SECCOMP_FILTER_FLAG_SPEC_ALLOW (seccomp failed with EINVAL; the flag is in Linux 4.17 and later); no filter was installed");
    errno = EINVAL;
  }
  if (r < 0 && errno == EINVAL) {
    int first, others = other_threads(&first);
    if (others > 0) {
      char name[64];
      thread_name(first, name, sizeof name);
      fail(c, "SandboxMeHere refused: this kernel has no seccomp TSYNC (seccomp(SECCOMP_FILTER_FLAG_TSYNC) failed with EINVAL; "
              "TSYNC is in Linux 3.17 and later, with a listener TSYNC_ESRCH in Linux 5.7 and later) and the process has %d threads; "
              "thread %d \"%s\"%s could not be synchronised, and filtering only the calling thread would leave the others unsandboxed; see 'sandbox2 doctor'",
           others + 1, first, name, others > 1 ? " (and others)" : "");
    }
    r = do_seccomp(flags & ~sync, &prog);
  }
  if (r < 0 && errno == ESRCH) {
    /* TSYNC_ESRCH hides the thread: ask again with TSYNC alone and an allow-all filter. */
    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog probe = {.len = 1, .filter = &allow};
    long t = do_seccomp(SECCOMP_FILTER_FLAG_TSYNC, &probe);
    if (t > 0) fail_thread(c, (int)t);
    fail(c, "SandboxMeHere refused: seccomp(TSYNC) failed with ESRCH: a thread could not be synchronised");
  }
  if (r < 0) fail(c, "SandboxMeHere: seccomp(SECCOMP_SET_MODE_FILTER): %s", strerror(errno));
  if (!listener && r > 0) fail_thread(c, (int)r);
  free(bpf);

  CHECK(sandbox2_comms_send_bool(c, true), "ready");
  if (listener) {
    CHECK(sandbox2_comms_send_fd(c, (int)r), "listener");
    close((int)r);
  }
  CHECK(sandbox2_comms_send_uint32(c, CLIENT_READY), "ready");
}
