/* plugins/cpu/cpu_cpuid.c - XCR0 through XGETBV (cpu_cpuid.h). */
#include "cpu_cpuid.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>

uint64_t cpu_xcr0(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE: XGETBV usable */
        return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

#else

uint64_t cpu_xcr0(void)
{
    return 0;
}

#endif
