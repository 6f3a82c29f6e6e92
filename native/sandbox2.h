/* sandbox2 native pre-exec stage: what the parts share (the plan, the wire constants, reporting).
 * One kernel concern per file, nsjail-style: plan.c (decoding the request), report.c (status channel),
 * mounts.c (the mount tree), net.c (loopback), cgroup.c (placing init in its cgroup), init.c (PID 1), sandboxee.c (PID 2 before exec),
 * landlock.c (the Landlock ruleset), trace.c (init as the tracer of PID 2: stack traces on a signal or an exit), compat.c (fallbacks for calls older kernels or containers lack),
 * probe.c (`--probe NAME`: sandbox2 doctor's checks, each in its own process),
 * forkserver.c (the server loop, clone, user-namespace maps). C# decides, C executes. */
#ifndef SANDBOX2_H
#define SANDBOX2_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CTL_FD 3
#define MAGIC 0x53324653u
#define VERSION 2u
#define MAX_REQ (4u << 20)
#define MAX_ARGS ((int)(MAX_REQ / 8)) /* no cap of its own: a string record takes >= 9 bytes of the request */
#define MAX_MOUNTS 1024
#define MAX_RLIMITS 32
#define MAX_FDS 64
#define MAX_BPF 4096
#define ROOT_MAX 4096
#define MAX_CGROUPS 8

enum { T_CLONE = 1, T_IDS, T_HOSTNAME, T_LOOPBACK, T_MOUNT, T_RLIMIT, T_CWD, T_ARG, T_ENV, T_FD, T_BPF, T_NONCE, T_OPTIONS,
       T_LANDLOCK, T_LANDLOCK_PATH, T_CGROUP, T_BIND_ID = 20, T_LANDLOCK_ID = 21,
       /* 28-31: parity with Sandbox2's policy and namespace switches */
       T_ROOT_WRITABLE = 28, T_SPEC_ALLOW = 29, T_LANDLOCK_PROGRAM = 30, T_SHARED_NETNS = 31,
       /* 32-35: the sandboxee's scheduling */
       T_NICE = 32,
       /* 33: init traces PID 2 (trace.c) */
       T_TRACE = 33 };

enum { CG_INTO = 1, CG_PROCS = 2 }; /* CGROUP record modes: clone3 CLONE_INTO_CGROUP fd, or a cgroup.procs fd */
enum { M_MKDIR, M_FILE, M_BIND, M_TMPFS, M_PROC, M_SYMLINK };
enum { S_SETUP_ERROR = 1, S_LISTENER = 2, S_EXIT = 3, S_STOPPED = 4, S_TRACED = 5 };
#define TRACE_ON_EXIT 1u /* T_TRACE flags: hold a normal exit too */

/* Setup steps: keep in sync with src/Sandbox2/Execution/SetupStep.cs (SetupStepTests checks every value). */
enum step {
    ST_REQUEST = 1, ST_PIPE = 2, ST_CLONE = 3, ST_SETGROUPS = 4, ST_UID_MAP = 5, ST_GID_MAP = 6, ST_RELEASE_INIT = 7, ST_CGROUP_CLONE = 8, ST_CGROUP_PROCS = 9,
    ST_SETRESGID = 10, ST_SETRESUID = 11, ST_INIT_PDEATHSIG = 12, ST_HOSTNAME = 13, ST_LOOPBACK = 14, ST_CGROUP_NS = 15,
    ST_ROOT_PRIVATE = 20, ST_SCRATCH = 21, ST_PIVOT_SCRATCH = 22, ST_ROOT_TMPFS = 23, ST_MKDIR = 24, ST_CREATE_FILE = 25,
    ST_SYMLINK = 26, ST_MOUNT_TARGET = 27, ST_BIND = 28, ST_MOUNT_FLAGS = 29, ST_TMPFS = 30, ST_PROC = 31,
    ST_DETACH_OLDROOT = 32, ST_PIVOT_ROOT = 33, ST_REMOUNT_RO = 34, ST_MOUNT_KIND = 35,
    ST_FORK = 40, ST_INIT_FDS = 41, ST_SUBREAPER = 42,
    ST_PDEATHSIG = 50, ST_SETSID = 51, ST_SIGMASK = 52, ST_DUP = 53, ST_DUP2 = 54, ST_CLOSE_RANGE = 55, ST_RLIMIT = 56,
    ST_CHDIR = 57, ST_CAPS = 58, ST_NO_NEW_PRIVS = 59, ST_SECCOMP = 60, ST_SECCOMP_LISTENER = 61, ST_SEND_LISTENER = 62,
    ST_EXEC = 63, ST_LANDLOCK = 64, ST_LANDLOCK_RULE = 65, ST_LANDLOCK_RESTRICT = 66,
    ST_BIND_SOURCE = 70, ST_BIND_SOURCE_CHANGED = 71, ST_LANDLOCK_PATH_CHANGED = 72,
    ST_KEYRING = 74,
    ST_SHARED_NETNS = 78,
    ST_NICE = 82, ST_TRACE = 83,
};
#define OPT_LISTENER 1u
#define OPT_FILTER 2u
#define OPT_CGROUP_NS 4u /* init unshares its cgroup namespace once placed (v1: placed after clone) */

struct mount_op { uint32_t kind, attrs; const char *target, *source, *options; int have_id; uint64_t dev, ino; };
struct rlimit_op { uint32_t resource; uint64_t soft, hard; };
struct landlock_path { uint64_t access; const char *path; int have_id; uint64_t dev, ino; };

struct plan {
    uint64_t clone_flags, nonce;
    int have_ids;
    uint32_t in_uid, in_gid, out_uid, out_gid, options;
    const char *hostname, *cwd;
    int loopback;
    struct mount_op mounts[MAX_MOUNTS]; int nmounts;
    struct rlimit_op rlimits[MAX_RLIMITS]; int nrlimits;
    char *argv[MAX_ARGS + 1]; int nargv;
    char *envp[MAX_ARGS + 1]; int nenvp;
    int fd_target[MAX_FDS]; int nfds;
    uint16_t nbpf;
    int landlock; /* a T_LANDLOCK record was sent: apply the ruleset in PID 2 */
    uint64_t ll_fs, ll_net, ll_scoped;
    struct landlock_path ll_paths[MAX_MOUNTS + 1]; int nll_paths; /* one per mount, and the root */
    uint32_t cgroup_mode[MAX_CGROUPS]; int ncgroups;
    uint64_t root_size;   /* T_ROOT_WRITABLE: the root tmpfs stays writable (noexec, this size); 0 = remounted read-only */
    int spec_allow;       /* T_SPEC_ALLOW: the filter is installed with SECCOMP_FILTER_FLAG_SPEC_ALLOW */
    uint64_t ll_program;  /* T_LANDLOCK_PROGRAM: a Landlock rule with these rights on the program's fd (it is not mounted) */
    int shared_netns;     /* T_SHARED_NETNS: clone inside the forkserver's one shared, empty network namespace */
    int have_nice, nice; /* a NICE record: the sandboxee's niceness (setpriority before exec) */
    int trace;            /* T_TRACE: init seizes PID 2 and holds it, exiting by one of these signals (or at all), this long */
    uint64_t trace_signals;
    uint32_t trace_flags, trace_hold_ms;
};
extern struct plan P;
extern struct sock_filter bpf[MAX_BPF];
extern uint8_t req[MAX_REQ];
extern int recv_fds[MAX_FDS + 2 + MAX_CGROUPS], nrecv_fds;
extern int prog_fd, status_fd;
extern int self_pidfd;

/* report.c */
char *cat(char *d, char *end, const char *s);
long send_msg(int sock, const void *buf, size_t len, int fd_to_pass, uint64_t nonce);
long send_status(const void *buf, size_t len, int fd_to_pass);
void __attribute__((noreturn)) fail(int err, enum step step, const char *a, const char *b, const char *c);
#define CHECK(x, step, detail) do { if ((x) < 0) fail(errno, step, detail, NULL, NULL); } while (0)
/* plan.c */
const char *parse(size_t len);
/* mounts.c */
void build_root(void);
/* net.c */
void loopback_up(void);
/* cgroup.c */
int cgroup_clone_fd(void);
int cgroup_place(long pid);
/* sandboxee.c */
void __attribute__((noreturn)) sandboxee(pid_t init_pid);
/* trace.c */
extern int trace_sync_fd;
void trace_sync_child(void);
void trace_seize(pid_t pid2, int sync);
void trace_on_stop(pid_t tid, int code);
int trace_poll_timeout(void);
int trace_request(int fd);
void trace_ended(pid_t pid);
/* landlock.c */
void apply_landlock(void);
/* compat.c: each newer call, with the fallback used where it returns ENOSYS (an old kernel, a container's seccomp
 * profile); the fallbacks are as safe as the calls they replace (see compat.c). */
extern const char *clone_call; /* "clone3", or "clone" where clone3 returned ENOSYS */
long clone_pidfd(uint64_t flags, int *pidfd, int cgroup_fd);
int close_from(unsigned lo);
#define FD_BOUND 4096 /* above every descriptor the forkserver can hold (it starts with 0-3 only) */
int close_fds(unsigned lo, unsigned hi, unsigned highest_known);
int open_in_root(int rootfd, const char *path, uint64_t flags);
int open_beneath(int dirfd, const char *path); /* O_PATH, no symlink followed in any component, no ".." */
int set_mount_attrs(int fd, uint32_t attrs, int recursive);
/* probe.c */
int probe_main(const char *name);
/* init.c */
void __attribute__((noreturn)) init_main(int sync_fd);

#endif
