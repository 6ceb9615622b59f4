/* plugins/cpu/cpu_gemm_amx.c - the own GEMM's AMX-BF16 block kernel (cpu_gemm_kernels.h,
 * "AMX"): products of bf16 pairs in tile registers with fp32 accumulation (tdpbf16ps), for
 * linear on a bf16 weight (driver: cpu_gemm.c).
 *
 * One call computes a block of CPU_AMX_MR = 32 output features x CPU_GEMM_NR = 32 tokens as four
 * 16 x 16 fp32 accumulator tiles (tmm0..3): per step of 16 depth pairs it loads two A tiles of W
 * (16 features x 16 pairs each, contiguous in the W panel's tile layout: a layout whose rows lie
 * a whole depth block apart put each of a tile's 16 rows on another page, and the TLB misses
 * held the kernel to about a third of its speed) and one or two B tiles of X
 * (16 pairs x 16 tokens, straight from the X panel, whose [kc2][CPU_GEMM_NR] pair layout is the
 * one tdpbf16ps wants for B), then runs four tile products. Split X panels ([kc2][2][NR]: hi
 * then lo) take a second pair of B loads and products per step. The panels are those of the
 * AVX512-BF16 kernels (same packers), with the depth padded by zeros to a multiple of 16 pairs
 * by the driver.
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

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) &&    \
    (__GNUC__ >= 11)
#define A_HAVE 1
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
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
    const size_t xrow = (split ? 2 : 1) * (size_t)CPU_GEMM_NR; /* pairs per depth pair in X */
    const size_t xs = xrow * sizeof(uint32_t);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (size_t k2 = 0; k2 < kc2; k2 += 16) {
        const uint32_t *xb = xp + k2 * xrow, *wb = wp + k2 * CPU_AMX_MR;
        _tile_loadd(4, wb, 64);
        _tile_loadd(5, wb + 16 * 16, 64);
        _tile_loadd(6, xb, xs);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(2, 5, 6);
        if (two) {
            _tile_loadd(7, xb + 16, xs);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(3, 5, 7);
        }
        if (split) { /* the lo halves of X, against the same W */
            _tile_loadd(6, xb + CPU_GEMM_NR, xs);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(2, 5, 6);
            if (two) {
                _tile_loadd(7, xb + CPU_GEMM_NR + 16, xs);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(3, 5, 7);
            }
        }
    }
    const size_t cs = CPU_GEMM_NR * sizeof(float);
    _tile_stored(0, ct, cs);
    _tile_stored(1, ct + 16, cs);
    _tile_stored(2, ct + 16 * CPU_GEMM_NR, cs);
    _tile_stored(3, ct + 16 * CPU_GEMM_NR + 16, cs);
}

/* AMX-TILE and AMX-BF16 with the OS saving XTILECFG and XTILEDATA, and AVX512-BF16 for the
 * packers and the stores the driver runs beside the tiles. */
static int have_amx(void)
{
    unsigned a, b, c, d;
    if (!cpu_gemm_bf16_avx512())
        return 0;
    if (__get_cpuid_max(0, NULL) < 7 || !__get_cpuid_count(1, 0, &a, &b, &c, &d) ||
        !(c & (1u << 27))) /* OSXSAVE */
        return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & (3u << 17)) != (3u << 17))
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

static const cpu_gemm_amx a_table = {"amx", a_begin, a_end, a_block};

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
