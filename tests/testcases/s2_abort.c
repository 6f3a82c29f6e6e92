/* Port of Sandbox2's testcases/abort.cc: abort() with core dumps off. */
#include <stdlib.h>
#include <sys/resource.h>
int main(void)
{
    struct rlimit none = { 0, 0 };
    setrlimit(RLIMIT_CORE, &none);
    abort();
}
