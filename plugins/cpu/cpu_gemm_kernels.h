/* plugins/cpu/cpu_gemm_kernels.h - the per-instruction-set micro-kernels behind the cpu plugin's
 * own GEMM (driver: cpu_gemm.c). Each instruction set (cpu_gemm_avx512.c, cpu_gemm_avx2.c)
 * exports one table of four kernels; the driver picks a table at context creation from what the
 * running CPU reports (__builtin_cpu_supports), never from the compiler's -march. Tables are
 * constant and the kernels pure, so they are thread-safe.
 *
 * Every kernel computes one tile ct[r][t] = Σ_kk w(r, kk)·xp[kk·CPU_GEMM_NR + t] for
 * r < CPU_GEMM_MR and t < CPU_GEMM_NR ("32" kernels) or t < 16 ("16" kernels: the other columns
 * of ct are left undefined), with fp32 accumulation in kk order; ct is [CPU_GEMM_MR][CPU_GEMM_NR].
 * Two layouts of the W panel:
 * - rows (linear, patch_embed): w(r, kk) = wp[r·CPU_GEMM_LDWP + kk];
 * - interleaved (attention): w(r, kk) = wp[kk·CPU_GEMM_MR + r].
 * While they run they ask for pfa[0..kc) and pfb[0..kc) in L2 (one line every 16 depths); the
 * driver points them at rows of the next W panel (pass wp itself for nothing to fetch).
 */
#ifndef VITCL_CPU_GEMM_KERNELS_H
#define VITCL_CPU_GEMM_KERNELS_H

#include <stddef.h>

#define CPU_GEMM_MR 12 /* output features per tile (rows of W) */
#define CPU_GEMM_NR 32 /* tokens per tile */
/* Largest depth block the driver uses; rows of a packed W panel lie CPU_GEMM_LDWP floats apart:
 * a compile-time stride lets a kernel address all 12 rows from one base register, and the
 * extra 16 floats put consecutive rows in different L1 sets. */
#define CPU_GEMM_KC_MAX 4096
#define CPU_GEMM_LDWP (CPU_GEMM_KC_MAX + 16)

typedef void (*cpu_gemm_kernel_fn)(const float *wp, const float *xp, size_t kc, float *ct,
                                   const float *pfa, const float *pfb);

typedef struct cpu_gemm_isa {
    const char *name; /* "avx512", "avx2": the VITCL_CPU_GEMM value that forces it */
    cpu_gemm_kernel_fn rows32, rows16, inter32, inter16;
} cpu_gemm_isa;

/* The table of an instruction set, or NULL when the plugin was built without it (not GCC on
 * x86-64 Linux) or the running CPU lacks it (AVX-512F; AVX2 and FMA). Thread-safe. */
const cpu_gemm_isa *cpu_gemm_isa_avx512(void);
const cpu_gemm_isa *cpu_gemm_isa_avx2(void);

#endif
