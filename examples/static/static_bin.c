/* The sandboxee of the static example (Sandbox2's examples/static): a statically linked program that copies its
 * standard input to its standard output in upper case. With an argument it also writes to stderr, which the
 * example's policy does not allow: the sandbox ends with a VIOLATION naming write on fd 2. */
#include <ctype.h>
#include <unistd.h>

int main(int argc, char **argv) {
    (void)argv;
    char buf[4096];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) buf[i] = (char)toupper((unsigned char)buf[i]);
        if (write(1, buf, (size_t)n) != n) return 1;
    }
    if (argc > 1 && write(2, "to stderr\n", 10) != 10) return 2;
    return n < 0 ? 1 : 0;
}
