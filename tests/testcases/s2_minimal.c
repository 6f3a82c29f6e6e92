/* Port of Sandbox2's testcases/minimal.cc: returns 0 (1 when given arguments). */
int main(int argc, char **argv) { (void)argv; return argc > 1; }
