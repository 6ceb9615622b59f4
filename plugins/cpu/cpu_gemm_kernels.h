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
#include <stdint.h>

#define CPU_GEMM_MR 12 /* output features per tile (rows of W) */
#define CPU_GEMM_NR 32 /* tokens per tile */

/* M(0); ... M(11);: one statement per row of a tile, for kernels that keep each row's
 * accumulators in named registers (the AVX-512 and AVX512-BF16 tables). */
#define CPU_GEMM_ALL12(M)                                                                  \
    M(0);                                                                                  \
    M(1);                                                                                  \
    M(2);                                                                                  \
    M(3);                                                                                  \
    M(4);                                                                                  \
    M(5);                                                                                  \
    M(6);                                                                                  \
    M(7);                                                                                  \
    M(8);                                                                                  \
    M(9);                                                                                  \
    M(10);                                                                                 \
    M(11)
/* Largest depth block the driver uses; rows of a packed W panel lie CPU_GEMM_LDWP floats apart:
 * a compile-time stride lets a kernel address all 12 rows from one base register, and the
 * extra 16 floats put consecutive rows in different L1 sets. */
#define CPU_GEMM_KC_MAX 4096
#define CPU_GEMM_LDWP (CPU_GEMM_KC_MAX + 16)

typedef void (*cpu_gemm_kernel_fn)(const float *wp, const float *xp, size_t kc, float *ct,
                                   const float *pfa, const float *pfb);

/* The moves between the kernels' layouts and row-major matrices (cpu_gemm_xpose_*.c), so
 * that the driver's transpositions run on vectors too. Every table sets both: the GEMM driver
 * and the attention call them without a fallback (as scalar loops they took about 13% of the
 * GEMM time in ViT-L).
 * - store: the epilogue of one tile. For t < live and r < rows it computes
 *   v = ct[r·CPU_GEMM_NR + t], then with CPU_GEMM_STORE_ADD v = v + y[t·ldy + r] (what earlier
 *   depth blocks left), with CPU_GEMM_STORE_BIAS v = v + (bias ? bias[r] : 0), with
 *   CPU_GEMM_STORE_GELU (only together with BIAS) v = GELU(v) as cpu_vmath.h computes it, and
 *   writes y[t·ldy + r] = v; nothing else of y is touched. ct's columns past live may be
 *   undefined (16-token kernels), and live <= 16 reads only columns below 16.
 * - pack_x: one fp32 X panel, dst[kk·CPU_GEMM_NR + t] = x[t·ldx + kk] for t < live, kk < kc,
 *   and 0 for live <= t < CPU_GEMM_NR. */
#define CPU_GEMM_STORE_ADD 1u
#define CPU_GEMM_STORE_BIAS 2u
#define CPU_GEMM_STORE_GELU 4u
typedef void (*cpu_gemm_store_fn)(const float *ct, size_t live, size_t rows, float *y,
                                  size_t ldy, const float *bias, unsigned flags);
typedef void (*cpu_gemm_pack_fn)(const float *x, size_t ldx, size_t live, size_t kc,
                                 float *dst);

typedef struct cpu_gemm_isa {
    const char *name; /* "avx512", "avx2": the VITCL_CPU_GEMM value that forces it */
    cpu_gemm_kernel_fn rows32, rows16, inter32, inter16;
    cpu_gemm_store_fn store; /* required */
    cpu_gemm_pack_fn pack_x; /* required */
} cpu_gemm_isa;

/* The bf16 kernels (cpu_gemm_avx512bf16.c), for linear on a bf16 weight: the same tiles with
 * W and X in 32-bit pairs of bf16 (the lower depth in the low half) and kc2 = ceil(kc / 2)
 * pair steps, fp32 accumulation in pair order. W panel rows: w(r, kk2) = wp[r·CPU_GEMM_LDWP +
 * kk2] (rows of W copied as is, an odd block's last pair zero in its high half). X panels:
 * "round" [kc2][CPU_GEMM_NR] pairs, X rounded to bf16; "split" [kc2][2][CPU_GEMM_NR], the pairs
 * of hi = bf16(x) then of lo = bf16(x - hi), and the kernel sums w·hi + w·lo. The packers fill
 * one panel from `live` (<= CPU_GEMM_NR) rows of X (ldx floats apart) over kc depths, zeros
 * past live and past kc. Prefetch as above: pfa, pfb are the next panel's W rows (kc2 pairs). */
typedef void (*cpu_gemm_bf16_fn)(const uint32_t *wp, const uint32_t *xp, size_t kc2, float *ct,
                                 const void *pfa, const void *pfb);
typedef void (*cpu_gemm_bf16_pack_fn)(const float *x, size_t ldx, size_t live, size_t kc,
                                      uint32_t *dst);

/* round_x: dst[i] = x[i] rounded to bf16 bits for i < n, the rounding of pack_round
 * (vcvtneps2bf16), for GEMMs that take X as a row-major bf16 matrix (cpu_gemm_onednn.c). */
typedef void (*cpu_gemm_bf16_round_fn)(const float *x, size_t n, uint16_t *dst);

typedef struct cpu_gemm_bf16 {
    const char *name; /* "avx512bf16" */
    cpu_gemm_bf16_fn round32, round16, split32, split16;
    cpu_gemm_bf16_pack_fn pack_round, pack_split;
    cpu_gemm_bf16_round_fn round_x;
} cpu_gemm_bf16;

/* The AMX-BF16 block kernel (cpu_gemm_amx.c), for linear on a bf16 weight where the CPU has
 * AMX, in Y's orientation (tokens x features):
 * - pack_x(x, ldx, live, kc, kc2p, split, xp) writes the X panel of `live` <= CPU_GEMM_NR tokens
 *   (rows ldx floats apart) over kc depths: per step of 32 depths (kc2p / 16 steps), the step's
 *   16 bf16 pairs of each of the 32 tokens in turn (16 words a token), X rounded to nearest
 *   even; with split, each step then holds the lo parts (bf16(x - hi)) the same way; zero past
 *   live and past kc.
 * - block(wp, xp, kc2p, split, two, ct) sets ct [CPU_GEMM_NR][CPU_AMX_MR] (tokens x features,
 *   row stride CPU_AMX_MR floats) to the products of that panel with CPU_AMX_MR features of W
 *   in the B layout (cpu_gemm_amx_put_row: per step, two tiles of 16 pairs x 16 features, each
 *   pair two consecutive depths of one feature) over kc2p pairs. two == 0 computes tokens
 *   0..15 only (rows 16.. of ct are then left as they were).
 * - store(ct, live, rows, y, ldy, bias, flags) writes rows 0..live-1, features 0..rows-1 of ct
 *   into Y (rows ldy apart) with the CPU_GEMM_STORE_* flags of the instruction-set stores.
 * A thread calls begin() before its first block and end() after its last one (they load and
 * release the tile configuration); blocks run only between them. */
#define CPU_AMX_MR 32
typedef struct cpu_gemm_amx {
    const char *name; /* "amx" */
    void (*begin)(void);
    void (*end)(void);
    void (*block)(const uint32_t *wp, const uint32_t *xp, size_t kc2p, int split, int two,
                  float *ct);
    void (*pack_x)(const float *x, size_t ldx, size_t live, size_t kc, size_t kc2p, int split,
                   uint32_t *xp);
    void (*store)(const float *ct, size_t live, size_t rows, float *y, size_t ldy,
                  const float *bias, unsigned flags);
} cpu_gemm_amx;

/* The AMX kernel, or NULL with *why (a static sentence, when why is not NULL) saying what is
 * missing: AMX-TILE, AMX-BF16 or AVX512-BF16 in the CPU, the tile state in the OS, or Linux's
 * per-process tile-data permission, which the first call requests. Thread-safe. */
const cpu_gemm_amx *cpu_gemm_amx_table(const char **why);

/* The table of an instruction set, or NULL when the plugin was built without it (not GCC on
 * x86-64 Linux) or the running CPU lacks it (AVX-512F; AVX2 and FMA). Thread-safe. */
const cpu_gemm_isa *cpu_gemm_isa_avx512(void);
const cpu_gemm_isa *cpu_gemm_isa_avx2(void);
/* The bf16 kernels, or NULL unless the CPU has AVX512-BF16 (with AVX-512F, BW, VL) and the OS
 * saves the AVX-512 state. Thread-safe. */
const cpu_gemm_bf16 *cpu_gemm_bf16_avx512(void);
/* The AVX-512F store and pack_x (cpu_gemm_xpose_avx512.c), for cpu_gemm_isa_avx512's table
 * only: they must run only where it is handed out. */
void cpu_gemm_store_avx512(const float *ct, size_t live, size_t rows, float *y, size_t ldy,
                           const float *bias, unsigned flags);
void cpu_gemm_pack_x_avx512(const float *x, size_t ldx, size_t live, size_t kc, float *dst);
/* The same for AVX2 (cpu_gemm_xpose_avx2.c), for cpu_gemm_isa_avx2's table only. */
void cpu_gemm_store_avx2(const float *ct, size_t live, size_t rows, float *y, size_t ldy,
                         const float *bias, unsigned flags);
void cpu_gemm_pack_x_avx2(const float *x, size_t ldx, size_t live, size_t kc, float *dst);

#endif
