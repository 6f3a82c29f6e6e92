/* The status channel (init and PID 2 -> executor): setup failures as step codes, the listener, the exit. */
#include "sandbox2.h"

/* ---------- reporting (child side: raw sendmsg carrying the nonce as args[5]) ---------- */

char *cat(char *d, char *end, const char *s)
{
    while (s && *s && d < end - 1) *d++ = *s++;
    *d = 0;
    return d;
}

/* One datagram, optionally carrying one fd (SCM_RIGHTS); a raw syscall so that args[5] can carry the nonce. */
long send_msg(int sock, const void *buf, size_t len, int fd_to_pass, uint64_t nonce)
{
    struct iovec iov = { (void *)buf, len };
    union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } c;
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (fd_to_pass >= 0) {
        memset(&c, 0, sizeof c);
        m.msg_control = c.b;
        m.msg_controllen = sizeof c.b;
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &fd_to_pass, sizeof(int));
    }
    return syscall(SYS_sendmsg, sock, &m, MSG_NOSIGNAL, 0, 0, nonce);
}

long send_status(const void *buf, size_t len, int fd_to_pass) { return send_msg(status_fd, buf, len, fd_to_pass, P.nonce); }

/* Report step with errno err and the detail "{a}{b}{c}" on the status channel, then exit. */
void __attribute__((noreturn)) fail(int err, enum step step, const char *a, const char *b, const char *c)
{
    struct { uint32_t type; int32_t err; uint32_t step; char text[1024]; } r;
    r.type = S_SETUP_ERROR;
    r.err = err;
    r.step = (uint32_t)step;
    char *e = r.text + sizeof r.text, *p = cat(r.text, e, a);
    p = cat(cat(p, e, b), e, c);
    send_status(&r, 12 + (size_t)(p - r.text) + 1, -1);
    syscall(SYS_exit_group, 126);
    __builtin_unreachable();
}
