/* Port of Sandbox2's testcases/symbolize_lib (our own rewrite), built as libs2_symbolize_lib.so: the program's
 * callback is called under ten frames of lib_recurse_a/lib_recurse_b inside this shared library, so that a stack
 * trace from the callback has to unwind through the library's frames. lib_call_callback keeps more than 0x4000
 * bytes on its stack (Sandbox2: past libunwind's frame-pointer heuristic), so a frame is large. */
#include "s2_symbolize_lib.h"

__attribute__((noinline)) void lib_recurse_a(void (*cb)(int), int data, int n);

__attribute__((noinline)) void lib_call_callback(void (*cb)(int), int data)
{
    char buffer[0x5000];
    __asm__ volatile("" : "+m"(buffer));
    cb(data);
    __asm__ volatile("" : "+m"(buffer)); /* no tail call */
}

__attribute__((noinline)) void lib_recurse_b(void (*cb)(int), int data, int n)
{
    if (n > 1) lib_recurse_a(cb, data, n - 1);
    else lib_call_callback(cb, data);
    __asm__ volatile("");
}

__attribute__((noinline)) void lib_recurse_a(void (*cb)(int), int data, int n)
{
    if (n > 1) lib_recurse_b(cb, data, n - 1);
    else lib_call_callback(cb, data);
    __asm__ volatile("");
}

void lib_recurse(void (*cb)(int), int data, int n)
{
    lib_recurse_a(cb, data, n);
    __asm__ volatile("");
}
