/* A native sandboxee that sandboxes itself with the C client (see SandboxMeHereTests).
 * Modes: threads | kill | diverge | no-tsync | single | mapped | speculation [FLAGS].
 * After SandboxMeHere the test filter makes getppid() fail with errno 1234 (or kill).
 * speculation: with a worker thread, SandboxMeHere, then send every task's Speculation_Store_Bypass value; with FLAGS
 * (hex) a filter installed first lets the client's seccomp(SECCOMP_SET_MODE_FILTER) through only with exactly those
 * flags (else it fails with EXDEV), so the flags the client passed are checked by the kernel. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sandbox2_client.h"

#define NTHREADS 3

static sandbox2_comms c;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int started, go;
static int results[NTHREADS + 2];

static void must(int err, const char *what) {
  if (err) {
    fprintf(stderr, "comms_sandbox: %s: %s\n", what, sandbox2_strerror(err));
    exit(10 - err);
  }
}

static int probe(void) {
  errno = 0;
  long r = syscall(SYS_getppid);
  return r < 0 ? errno : 0;
}

static void wait_go(void) {
  pthread_mutex_lock(&mu);
  started++;
  pthread_cond_broadcast(&cv);
  while (!go) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

static void *worker(void *arg) {
  int i = (int)(long)arg;
  prctl(PR_SET_NAME, "worker", 0, 0, 0);
  wait_go();
  results[i] = probe();
  return NULL;
}

static void *diverger(void *arg) {
  (void)arg;
  prctl(PR_SET_NAME, "diverger", 0, 0, 0);
  struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = {.len = 1, .filter = &allow};
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) perror("diverger seccomp");
  wait_go();
  return NULL;
}

static void start(pthread_t *t, int n, void *(*fn)(void *)) {
  for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, fn, (void *)(long)i);
  pthread_mutex_lock(&mu);
  while (started < n) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

static void release(void) {
  pthread_mutex_lock(&mu);
  go = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

/* The value of status line KEY of each task in /proc/self/task ("" where it has none), at most MAX tasks; returns
 * how many were read. */
#define MAX_TASKS 256
static int task_status_values(const char *key, char values[][64], int max) {
  int n = 0;
  size_t klen = strlen(key);
  DIR *d = opendir("/proc/self/task");
  if (!d) return 0;
  for (struct dirent *e; n < max && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char path[300], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
    FILE *f = fopen(path, "re");
    if (!f) continue;
    values[n][0] = '\0';
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, key, klen) != 0) continue;
      char *v = line + klen;
      v += strspn(v, " \t");
      v[strcspn(v, "\n")] = '\0';
      snprintf(values[n], 64, "%s", v);
      break;
    }
    fclose(f);
    n++;
  }
  closedir(d);
  return n;
}

/* Tasks in /proc/self/task and how many of them show "Seccomp: 2". */
static void seccomp_status(int *tasks, int *filtered) {
  static char values[MAX_TASKS][64];
  *tasks = task_status_values("Seccomp:", values, MAX_TASKS);
  *filtered = 0;
  for (int i = 0; i < *tasks; i++)
    if (atoi(values[i]) == 2) (*filtered)++;
}

/* The Speculation_Store_Bypass value of every task, distinct values joined by '|'. */
static void ssb_status(char *out, size_t size) {
  static char values[MAX_TASKS][64];
  int n = task_status_values("Speculation_Store_Bypass:", values, MAX_TASKS);
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    const char *v = values[i];
    if (v[0] && !strstr(out, v) && strlen(out) + strlen(v) + 2 < size) {
      if (out[0]) strcat(out, "|");
      strcat(out, v);
    }
  }
}

/* A filter (with SPEC_ALLOW, so it mitigates nothing itself) under which seccomp(SECCOMP_SET_MODE_FILTER, flags, ...)
 * fails with EXDEV unless flags == want. */
static void expect_seccomp_flags(unsigned long want) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_SET_MODE_FILTER, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)want, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EXDEV),
  };
  struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog) != 0) {
    perror("comms_sandbox: the flag-checking filter");
    exit(4);
  }
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "threads";
  if (sandbox2_comms_open_default(&c) != SANDBOX2_OK) {
    fprintf(stderr, "comms_sandbox: no Comms channel\n");
    return 2;
  }
  pthread_t t[NTHREADS];
  if (strcmp(mode, "threads") == 0) {
    start(t, NTHREADS, worker);
    sandbox2_sandbox_me_here(&c);
    int tasks, filtered;
    seccomp_status(&tasks, &filtered);
    release();
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    pthread_t late;
    pthread_create(&late, NULL, worker, (void *)(long)NTHREADS); /* created after sandboxing */
    pthread_join(late, NULL);
    results[NTHREADS + 1] = probe();
    must(sandbox2_comms_send_int32(&c, tasks), "tasks");
    must(sandbox2_comms_send_int32(&c, filtered), "filtered");
    must(sandbox2_comms_send_int32(&c, NTHREADS + 2), "count");
    for (int i = 0; i < NTHREADS + 2; i++) must(sandbox2_comms_send_int32(&c, results[i]), "result");
    return 0;
  }
  if (strcmp(mode, "kill") == 0) {
    start(t, 1, worker);
    sandbox2_sandbox_me_here(&c);
    release();
    pthread_join(t[0], NULL);
    return 0; /* not reached: the worker's getppid kills the process */
  }
  if (strcmp(mode, "diverge") == 0) {
    start(t, 1, diverger);
    sandbox2_sandbox_me_here(&c); /* aborts */
    return 0;
  }
  if (strcmp(mode, "no-tsync") == 0) {
    start(t, 1, worker);
    sandbox2_sandbox_me_here(&c); /* aborts when SANDBOX2_TEST_NO_TSYNC=1 */
    return 0;
  }
  if (strcmp(mode, "single") == 0) {
    sandbox2_sandbox_me_here(&c);
    must(sandbox2_comms_send_int32(&c, probe()), "result");
    return 0;
  }
  if (strcmp(mode, "mapped") == 0) {
    sandbox2_sandbox_me_here(&c);
    char buf[256];
    int fd = sandbox2_get_mapped_fd("input");
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
    must(sandbox2_comms_send_bytes(&c, buf, n > 0 ? (uint64_t)n : 0), "named");
    n = read(100, buf, sizeof buf);
    must(sandbox2_comms_send_bytes(&c, buf, n > 0 ? (uint64_t)n : 0), "numbered");
    must(sandbox2_comms_send_int32(&c, sandbox2_get_mapped_fd("input")), "one-shot");
    char cwd[256];
    must(sandbox2_comms_send_string(&c, getcwd(cwd, sizeof cwd) ? cwd : "?"), "cwd");
    return 0;
  }
  if (strcmp(mode, "speculation") == 0) {
    if (argc > 2) expect_seccomp_flags(strtoul(argv[2], NULL, 16));
    start(t, 1, worker);
    sandbox2_sandbox_me_here(&c);
    char ssb[256];
    ssb_status(ssb, sizeof ssb);
    release();
    pthread_join(t[0], NULL);
    must(sandbox2_comms_send_string(&c, ssb), "status");
    return 0;
  }
  fprintf(stderr, "comms_sandbox: unknown mode %s\n", mode);
  return 2;
}
