/* Port of Sandbox2's testcases/limits: mmap and alloca against RLIMIT_AS (limits_test).
 * 1: mmap 1 MiB must succeed; 2: mmap 100 MiB must fail with ENOMEM; 3: alloca 1 MiB;
 * 4: alloca 8 MiB (past the 8 MiB stack: SIGSEGV); 5: alloca 100 MiB (SIGSEGV). Exit 0 = as expected. */
#include <alloca.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int try_mmap(size_t size, int expect_ok)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (expect_ok) {
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
        memset(p, 1, size);
        return 0;
    }
    if (p != MAP_FAILED) { fprintf(stderr, "mmap of %zu bytes succeeded under the limit\n", size); return 1; }
    return errno == ENOMEM ? 0 : 2;
}

static int __attribute__((noinline)) try_alloca(size_t size)
{
    volatile char *p = alloca(size);
    for (size_t i = 0; i < size; i += 4096) p[i] = 1; /* touch every page, top to bottom */
    return p[0] == 1 ? 0 : 3;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 100;
    switch (atoi(argv[1])) {
    case 1: return try_mmap(1u << 20, 1);
    case 2: return try_mmap(100u << 20, 0);
    case 3: return try_alloca(1u << 20);
    case 4: return try_alloca(8u << 20);
    case 5: return try_alloca(100u << 20);
    default: return 100;
    }
}
