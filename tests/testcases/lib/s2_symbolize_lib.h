/* The shared library of the symbolize testcase (lib/s2_symbolize_lib.c). */
#ifndef S2_SYMBOLIZE_LIB_H
#define S2_SYMBOLIZE_LIB_H
void lib_recurse(void (*cb)(int), int data, int n);
#endif
