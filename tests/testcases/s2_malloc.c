/* Port of Sandbox2's testcases/malloc.cc: malloc, calloc and realloc from 1 byte to 16 MiB. */
#include <stdlib.h>
#include <string.h>
int main(void)
{
    for (size_t n = 1; n <= (16u << 20); n *= 2) {
        char *a = malloc(n), *b = calloc(n, 1);
        if (!a || !b || b[n - 1] != 0) return 1;
        memset(a, 'x', n);
        char *c = realloc(a, n * 2);
        if (!c || c[n - 1] != 'x') return 1;
        free(c);
        free(b);
    }
    return 0;
}
