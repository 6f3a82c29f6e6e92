/* Cgroups: placing a new sandbox in the cgroup C# created for it (nsjail's cgroup2.cc / cgroup.cc, parent half only).
 * C# decides the hierarchy, the path and every limit, creates the cgroup and passes descriptors; this file only
 * places init there: clone3(CLONE_INTO_CGROUP) with a v2 cgroup directory fd, or (v1, one per controller hierarchy)
 * writing init's pid to a cgroup.procs fd before init is released. Everything init starts stays there. */
#include "sandbox2.h"

/* The fd of CGROUP record i (they follow the FD records' sources in SCM_RIGHTS). */
static int cgroup_fd(int i) { return recv_fds[2 + P.nfds + i]; }

int cgroup_clone_fd(void)
{
    for (int i = 0; i < P.ncgroups; i++)
        if (P.cgroup_mode[i] == CG_INTO) return cgroup_fd(i);
    return -1;
}

int cgroup_place(long pid)
{
    char num[24];
    int len = snprintf(num, sizeof num, "%ld", pid);
    for (int i = 0; i < P.ncgroups; i++) {
        if (P.cgroup_mode[i] != CG_PROCS) continue;
        if (write(cgroup_fd(i), num, (size_t)len) != len) return -1;
    }
    return 0;
}
