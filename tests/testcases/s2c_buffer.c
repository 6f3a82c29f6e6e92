/* Port of Sandbox2's testcases/buffer (buffer_test): a shared buffer from fd 3 (mode 1) or received over Comms
 * (mode 2); checks the executor's 'A' at the start and writes 'B' at the end. */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sandbox2_client.h"

int main(int argc, char **argv)
{
    if (argc < 2) return 100;
    int fd = -1;
    if (atoi(argv[1]) == 1) fd = 3;
    else {
        sandbox2_comms c;
        if (sandbox2_comms_open_default(&c) != SANDBOX2_OK || sandbox2_comms_recv_fd(&c, &fd) != SANDBOX2_OK) return 2;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 2) return 3;
    unsigned char *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return 4;
    if (p[0] != 'A') return 5;
    p[st.st_size - 1] = 'B';
    return 0;
}
