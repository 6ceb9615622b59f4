/* plugins/cpu/cpu_gemm_amx.c - the own GEMM's AMX-BF16 block kernel (cpu_gemm_kernels.h,
 * "AMX"): products of bf16 pairs in tile registers with fp32 accumulation (tdpbf16ps), for
 * linear on a bf16 weight (driver: cpu_gemm.c).
 *
 * The tiles compute Y's own orientation, tokens x features: one call computes a block of
 * CPU_GEMM_NR = 32 tokens x CPU_AMX_MR = 32 features as four 16 x 16 fp32 accumulator tiles
 * (tmm0..3). Per step of 32 depths it loads one or two A tiles of X (16 tokens x 16 pairs, from
 * the X panel this file's pack_x writes: per step, 64 bytes of each token in turn) and two B
 * tiles of W (16 pairs x 16 features, pairs interleaved as tdpbf16ps wants, from the layout
 * pack_weight_host wrote, cpu_gemm_amx_put_row), then runs four tile products; a split X panel
 * (hi, then lo, per step) takes a second pair of A loads and products. Every tile is a
 * contiguous KiB (tiles whose rows lay a depth block apart put each row on another page, and
 * the TLB misses held an earlier kernel to a third of its speed).
 *
 * Because the accumulators are [tokens][features], the block reaches Y through store without a
 * transpose: rows of 32 features, plus Y (later depth blocks), bias and GELU per row vector.
 *
 * Tile registers need a configuration (palette 1, eight 16 x 64-byte tiles) per thread:
 * cpu_gemm_amx's begin() loads it and end() releases the tile state, around a run of blocks.
 * Linux also wants a per-process permission request (arch_prctl ARCH_REQ_XCOMP_PERM for
 * XTILEDATA) before a thread touches tile data: cpu_gemm_amx_table() makes it once and hands the
 * table out only when it was granted, the CPU reports AMX-TILE and AMX-BF16 (CPUID.7.0:EDX[24],
 * [22]) next to AVX512-BF16 (its packers and stores) and the OS saves the tile state (XCR0[18:17]).
 * Like vdpbf16ps, tdpbf16ps treats bf16 subnormal inputs as zero and flushes subnormal results.
 * Compiled for AMX by function attribute only, never by -march.
 */
#include <stddef.h>
#include <stdint.h>

#include "cpu_gemm_kernels.h"
#include "cpu_vmath.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) &&    \
    (__GNUC__ >= 11)
#define A_HAVE 1
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu_bf16_strip.h"
#include "cpu_cpuid.h"
#define A_TARGET __attribute__((target("amx-tile,amx-bf16")))
#else
#define A_HAVE 0
#endif

#if A_HAVE

/* The 64-byte tile configuration (Intel SDM, LDTILECFG). */
typedef struct a_config {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} a_config;

A_TARGET static void a_begin(void)
{
    a_config cfg __attribute__((aligned(64))) = {.palette = 1};
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    /* Not _tile_loadconfig: GCC 12's version names only the first 8 bytes as its operand, and
     * the stores of the rest were optimised away. This operand is the whole configuration. */
    __asm__ volatile("ldtilecfg %0" : : "m"(cfg));
}

A_TARGET static void a_end(void)
{
    _tile_release();
}

A_TARGET static void a_block(const uint32_t *wp, const uint32_t *xp, size_t kc2, int split,
                             int two, float *ct)
{
    const size_t xstep = (split ? 2 : 1) * (size_t)CPU_GEMM_NR * 16; /* words per X step */
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (size_t k2 = 0; k2 < kc2; k2 += 16) {
        const uint32_t *xb = xp + k2 / 16 * xstep, *wb = wp + k2 / 16 * (CPU_AMX_MR * 16);
        _tile_loadd(6, wb, 64);            /* features 0..15 */
        _tile_loadd(7, wb + 16 * 16, 64);  /* features 16..31 */
        _tile_loadd(4, xb, 64);            /* tokens 0..15 */
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        if (two) {
            _tile_loadd(5, xb + 16 * 16, 64); /* tokens 16..31 */
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
        if (split) { /* the lo halves of X, against the same W */
            xb += CPU_GEMM_NR * 16;
            _tile_loadd(4, xb, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            if (two) {
                _tile_loadd(5, xb + 16 * 16, 64);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
        }
    }
    const size_t cs = CPU_AMX_MR * sizeof(float);
    _tile_stored(0, ct, cs);
    _tile_stored(1, ct + 16, cs);
    if (two) {
        _tile_stored(2, ct + 16 * CPU_AMX_MR, cs);
        _tile_stored(3, ct + 16 * CPU_AMX_MR + 16, cs);
    }
}

#define P_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))

/* One X panel in the tile layout (cpu_gemm_kernels.h): per step of 32 depths, the step's 16
 * pairs of each of the 32 tokens (64 bytes a token), then with split the lo parts the same way;
 * tokens past live and depths past kc are zero, up to kc2p / 16 steps; each token's strip is
 * rounded as the AVX512-BF16 packers round it (cpu_bf16_strip). */
P_TARGET static void a_pack_x(const float *x, size_t ldx, size_t live, size_t kc, size_t kc2p,
                              int split, uint32_t *dst)
{
    size_t steps = kc2p / 16, xstep = (split ? 2 : 1) * (size_t)CPU_GEMM_NR * 16;
    for (size_t st = 0; st < steps; st++) {
        size_t s = st * 32, left = s < kc ? (kc - s < 32 ? kc - s : 32) : 0;
        uint32_t *d = dst + st * xstep;
        for (size_t t = 0; t < CPU_GEMM_NR; t++) {
            __m512i hi = _mm512_setzero_si512(), lo = hi;
            if (t < live && left)
                cpu_bf16_strip(x + t * ldx + s, left, &hi, split ? &lo : NULL);
            _mm512_storeu_si512((void *)(d + t * 16), hi);
            if (split)
                _mm512_storeu_si512((void *)(d + (CPU_GEMM_NR + t) * 16), lo);
        }
    }
}

/* The block ct [32 tokens][32 features] into Y: for t < live, features f < rows,
 * v = ct[t][f] (+ y[t][f] with ADD) (+ bias[f] with BIAS) (then GELU with GELU); masked stores,
 * so the neighbouring blocks (other threads) are never touched. */
P_TARGET static void a_store(const float *ct, size_t live, size_t rows, float *y, size_t ldy,
                             const float *bias, unsigned flags)
{
    __mmask16 m0 = rows >= 16 ? 0xffff : (__mmask16)((1u << rows) - 1);
    __mmask16 m1 = rows <= 16 ? 0 : rows >= 32 ? 0xffff : (__mmask16)((1u << (rows - 16)) - 1);
    int add = (flags & CPU_GEMM_STORE_ADD) != 0, epi = (flags & CPU_GEMM_STORE_BIAS) != 0;
    int gelu = epi && (flags & CPU_GEMM_STORE_GELU);
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    if (epi && bias) {
        b0 = _mm512_maskz_loadu_ps(m0, bias);
        b1 = _mm512_maskz_loadu_ps(m1, bias + 16);
    }
    for (size_t t = 0; t < live; t++) {
        float *yr = y + t * ldy;
        __m512 v0 = _mm512_loadu_ps(ct + t * CPU_AMX_MR);
        __m512 v1 = _mm512_loadu_ps(ct + t * CPU_AMX_MR + 16);
        if (add) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, yr));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, yr + 16));
        }
        if (epi) {
            v0 = _mm512_add_ps(v0, b0);
            v1 = _mm512_add_ps(v1, b1);
        }
        if (gelu) {
            v0 = (__m512)cpu_v16_gelu((cpu_v16)v0);
            v1 = (__m512)cpu_v16_gelu((cpu_v16)v1);
        }
        _mm512_mask_storeu_ps(yr, m0, v0);
        _mm512_mask_storeu_ps(yr + 16, m1, v1);
    }
}

/* AMX-TILE and AMX-BF16 with the OS saving XTILECFG and XTILEDATA, and AVX512-BF16 for the
 * packers and the stores the driver runs beside the tiles. */
static int have_amx(void)
{
    unsigned a, b, c, d;
    if (!cpu_gemm_bf16_avx512())
        return 0;
    if (__get_cpuid_max(0, NULL) < 7 || (cpu_xcr0() & CPU_XCR0_TILE) != CPU_XCR0_TILE)
        return 0;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 24)) && (d & (1u << 22));
}

#define A_ARCH_GET_XCOMP_PERM 0x1022
#define A_ARCH_REQ_XCOMP_PERM 0x1023
#define A_XFEATURE_XTILEDATA 18

static pthread_once_t a_once = PTHREAD_ONCE_INIT;
static int a_usable;
static const char *a_why = "not checked";

static void a_probe(void)
{
    if (!have_amx()) {
        a_why = "this CPU or OS has no AMX-TILE, AMX-BF16 and AVX512-BF16";
        return;
    }
    /* Process-wide; every thread may use tiles once it is granted. */
    if (syscall(SYS_arch_prctl, A_ARCH_REQ_XCOMP_PERM, A_XFEATURE_XTILEDATA) != 0) {
        a_why = "Linux refused the AMX tile-data permission (arch_prctl ARCH_REQ_XCOMP_PERM)";
        return;
    }
    unsigned long mask = 0;
    if (syscall(SYS_arch_prctl, A_ARCH_GET_XCOMP_PERM, &mask) != 0 ||
        !(mask & (1ul << A_XFEATURE_XTILEDATA))) {
        a_why = "Linux did not grant the AMX tile-data permission";
        return;
    }
    a_usable = 1;
    a_why = NULL;
}

static const cpu_gemm_amx a_table = {"amx", a_begin, a_end, a_block, a_pack_x, a_store};

const cpu_gemm_amx *cpu_gemm_amx_table(const char **why)
{
    pthread_once(&a_once, a_probe);
    if (why)
        *why = a_why;
    return a_usable ? &a_table : NULL;
}

#else

const cpu_gemm_amx *cpu_gemm_amx_table(const char **why)
{
    if (why)
        *why = "the plugin was built without AMX kernels (GCC 11+ on x86-64 Linux)";
    return NULL;
}

#endif
