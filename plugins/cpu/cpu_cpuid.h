/* plugins/cpu/cpu_cpuid.h - which register state the operating system saves (XCR0), for the
 * run-time checks of the AVX-512, AVX512-BF16 and AMX code: a CPUID feature bit alone does not
 * make an instruction set usable, the OS must also save its registers on a context switch.
 */
#ifndef VITCL_CPU_CPUID_H
#define VITCL_CPU_CPUID_H

#include <stdint.h>

#define CPU_XCR0_ZMM 0xe6u            /* SSE, AVX, opmask and both ZMM halves */
#define CPU_XCR0_TILE (3u << 17)      /* AMX XTILECFG and XTILEDATA */

/* XCR0 (the state components the OS saves) where XGETBV is usable (CPUID.1:ECX.OSXSAVE),
 * else 0; 0 off x86-64. Pure, thread-safe. */
uint64_t cpu_xcr0(void);

#endif
