/* The plan: decoding one request datagram (records; see forkserver.c for the format). */
#include "sandbox2.h"

struct plan P;
struct sock_filter bpf[MAX_BPF];
uint8_t req[MAX_REQ];
int recv_fds[MAX_FDS + 2 + MAX_CGROUPS], nrecv_fds;
int prog_fd = -1, status_fd = -1;

const char *parse(size_t len)
{
    memset(&P, 0, sizeof P);
    uint32_t hdr[2];
    if (len < 8) return "request too short";
    memcpy(hdr, req, 8);
    if (hdr[0] != MAGIC || hdr[1] != VERSION) return "bad magic or version";
    int fdi = 0;
    for (size_t off = 8; off < len;) {
        uint32_t tag, n;
        if (len - off < 8) return "truncated record header";
        memcpy(&tag, req + off, 4);
        memcpy(&n, req + off + 4, 4);
        off += 8;
        if (n > len - off) return "truncated record";
        uint8_t *v = req + off;
        off += n;
        if (tag == T_LANDLOCK_PATH && (n < 10 || v[n - 1] != 0)) return "bad LANDLOCK_PATH";
        int is_str = tag == T_HOSTNAME || tag == T_CWD || tag == T_ARG || tag == T_ENV;
        if (is_str && (n == 0 || v[n - 1] != 0)) return "string without NUL";
        switch (tag) {
        case T_CLONE: if (n != 8) return "bad CLONE_FLAGS"; memcpy(&P.clone_flags, v, 8); break;
        case T_IDS: {
            uint32_t ids[4];
            if (n != 16) return "bad IDS";
            memcpy(ids, v, 16);
            P.in_uid = ids[0]; P.in_gid = ids[1]; P.out_uid = ids[2]; P.out_gid = ids[3]; P.have_ids = 1;
            break;
        }
        case T_HOSTNAME: P.hostname = (char *)v; break;
        case T_LOOPBACK: P.loopback = 1; break;
        case T_MOUNT: {
            if (n < 11 || v[n - 1] != 0 || P.nmounts == MAX_MOUNTS) return "bad MOUNT";
            struct mount_op *m = &P.mounts[P.nmounts++];
            memcpy(&m->kind, v, 4);
            memcpy(&m->attrs, v + 4, 4);
            const char *s = (char *)v + 8, *end = (char *)v + n;
            m->target = s; s += strlen(s) + 1;
            if (s >= end) return "bad MOUNT strings";
            m->source = s; s += strlen(s) + 1;
            if (s >= end) return "bad MOUNT strings";
            m->options = *s ? s : NULL;
            if (m->target[0] != '/') return "MOUNT target not absolute";
            break;
        }
        case T_RLIMIT:
            if (n != 20 || P.nrlimits == MAX_RLIMITS) return "bad RLIMIT";
            memcpy(&P.rlimits[P.nrlimits].resource, v, 4);
            memcpy(&P.rlimits[P.nrlimits].soft, v + 4, 8);
            memcpy(&P.rlimits[P.nrlimits++].hard, v + 12, 8);
            break;
        case T_NICE:
            if (n != 4) return "bad NICE";
            memcpy(&P.nice, v, 4);
            if (P.nice < -20 || P.nice > 19) return "bad NICE value";
            P.have_nice = 1;
            break;
        case T_TRACE:
            if (n != 16) return "bad TRACE";
            memcpy(&P.trace_signals, v, 8);
            memcpy(&P.trace_flags, v + 8, 4);
            memcpy(&P.trace_hold_ms, v + 12, 4);
            if (P.trace_hold_ms == 0 || P.trace_hold_ms > 60000) return "bad TRACE hold";
            P.trace = 1;
            break;
        case T_CWD: P.cwd = (char *)v; break;
        case T_ARG: if (P.nargv == MAX_ARGS) return "too many ARG"; P.argv[P.nargv++] = (char *)v; break;
        case T_ENV: if (P.nenvp == MAX_ARGS) return "too many ENV"; P.envp[P.nenvp++] = (char *)v; break;
        case T_FD:
            if (n != 4 || P.nfds == MAX_FDS) return "bad FD";
            memcpy(&P.fd_target[P.nfds++], v, 4);
            if (P.fd_target[P.nfds - 1] < 0) return "negative FD target";
            fdi++;
            break;
        case T_BPF:
            if (n % 8 || n / 8 > MAX_BPF) return "bad BPF length";
            memcpy(bpf, v, n);
            P.nbpf = (uint16_t)(n / 8);
            break;
        case T_NONCE: if (n != 8) return "bad NONCE"; memcpy(&P.nonce, v, 8); break;
        case T_OPTIONS: if (n != 4) return "bad OPTIONS"; memcpy(&P.options, v, 4); break;
        case T_LANDLOCK:
            if (n != 24) return "bad LANDLOCK";
            memcpy(&P.ll_fs, v, 8);
            memcpy(&P.ll_net, v + 8, 8);
            memcpy(&P.ll_scoped, v + 16, 8);
            P.landlock = 1;
            break;
        case T_LANDLOCK_PATH:
            if (P.nll_paths == MAX_MOUNTS + 1) return "too many LANDLOCK_PATH";
            memcpy(&P.ll_paths[P.nll_paths].access, v, 8);
            P.ll_paths[P.nll_paths++].path = (char *)v + 8;
            break;
        case T_BIND_ID:
            if (n != 16 || P.nmounts == 0 || P.mounts[P.nmounts - 1].kind != M_BIND || P.mounts[P.nmounts - 1].have_id) return "bad BIND_ID";
            memcpy(&P.mounts[P.nmounts - 1].dev, v, 8);
            memcpy(&P.mounts[P.nmounts - 1].ino, v + 8, 8);
            P.mounts[P.nmounts - 1].have_id = 1;
            break;
        case T_LANDLOCK_ID:
            if (n != 16 || P.nll_paths == 0 || P.ll_paths[P.nll_paths - 1].have_id) return "bad LANDLOCK_ID";
            memcpy(&P.ll_paths[P.nll_paths - 1].dev, v, 8);
            memcpy(&P.ll_paths[P.nll_paths - 1].ino, v + 8, 8);
            P.ll_paths[P.nll_paths - 1].have_id = 1;
            break;
        case T_CGROUP:
            if (n != 4 || P.ncgroups == MAX_CGROUPS) return "bad CGROUP";
            memcpy(&P.cgroup_mode[P.ncgroups], v, 4);
            if (P.cgroup_mode[P.ncgroups] != CG_INTO && P.cgroup_mode[P.ncgroups] != CG_PROCS) return "bad CGROUP mode";
            P.ncgroups++;
            break;
        case T_ROOT_WRITABLE: if (n != 8) return "bad ROOT_WRITABLE"; memcpy(&P.root_size, v, 8); if (!P.root_size) return "ROOT_WRITABLE size 0"; break;
        case T_SPEC_ALLOW: if (n != 0) return "bad SPEC_ALLOW"; P.spec_allow = 1; break;
        case T_LANDLOCK_PROGRAM: if (n != 8) return "bad LANDLOCK_PROGRAM"; memcpy(&P.ll_program, v, 8); break;
        case T_SHARED_NETNS: if (n != 0) return "bad SHARED_NETNS"; P.shared_netns = 1; break;
        default: return "unknown record tag";
        }
    }
    if (nrecv_fds != 2 + fdi + P.ncgroups) return "fd count does not match FD records";
    if (P.nargv == 0) return "no argv";
    if (P.shared_netns && (P.clone_flags & CLONE_NEWNET)) return "SHARED_NETNS with CLONE_NEWNET";
    if (P.ll_program && !P.landlock) return "LANDLOCK_PROGRAM without LANDLOCK";
    P.argv[P.nargv] = NULL;
    P.envp[P.nenvp] = NULL;
    return NULL;
}
