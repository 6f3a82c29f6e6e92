/* Execution-test sandboxee: prints argv (one element a line) and its working directory. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char cwd[512];
    for (int i = 0; i < argc; i++) printf("%s\n", argv[i]);
    printf("cwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
    return 0;
}
