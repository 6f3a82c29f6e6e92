#include <stdio.h>
int main(void) { long a, b; if (scanf("%ld %ld", &a, &b) != 2) return 1; for (volatile unsigned long i = 0;; i++) a += (long)i; }
