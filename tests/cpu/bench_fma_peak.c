/* tests/cpu/bench_fma_peak.c - by-hand measurement of this machine's fp32 FMA peak (not a test).
 *
 * Each thread runs 12 independent chains of vfmadd (enough to cover the FMA latency on the x86
 * cores we know: 4-5 cycles, 2 FMA units) for a fixed time, once with 256-bit AVX2/FMA vectors
 * and, where the CPU has AVX-512F, once with 512-bit ones; the instruction set is chosen at run
 * time, never by -march. Prints GFLOP/s (2 FLOP per lane per FMA) for 1 and for T threads by
 * the wall clock, and per second of the threads' own CPU time (the cores' peak, which a busy
 * shared machine does not lower: the wall-clock figure then shows only the share we got).
 *
 *   build/tests/cpu/bench_fma_peak [threads]      (default: online cores)
 *
 * It is the roofline the GEMM figures of docs/performance.md are read against; on a shared
 * machine take the best of a few runs and note the load (uptime) beside it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

#define ROUNDS 20000000L

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct job {
    int wide; /* 1: AVX-512, 0: AVX2 */
    long rounds;
    double seconds; /* wall clock */
    double cpu;     /* this thread's CPU time */
    float sink;
} job;

#if HAVE_X86
#define CHAINS(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)

__attribute__((target("avx2,fma"))) static float run_avx2(long rounds)
{
    __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
#define D256(i) __m256 c##i = _mm256_set1_ps((float)(i));
    CHAINS(D256)
    for (long r = 0; r < rounds; r++) {
#define F256(i) c##i = _mm256_fmadd_ps(c##i, m, a);
        CHAINS(F256)
        __asm__ volatile("" ::: "memory");
    }
    __m256 s = _mm256_setzero_ps();
#define S256(i) s = _mm256_add_ps(s, c##i);
    CHAINS(S256)
    return _mm256_cvtss_f32(s);
}

__attribute__((target("avx512f"))) static float run_avx512(long rounds)
{
    __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
#define D512(i) __m512 c##i = _mm512_set1_ps((float)(i));
    CHAINS(D512)
    for (long r = 0; r < rounds; r++) {
#define F512(i) c##i = _mm512_fmadd_ps(c##i, m, a);
        CHAINS(F512)
        __asm__ volatile("" ::: "memory");
    }
    __m512 s = _mm512_setzero_ps();
#define S512(i) s = _mm512_add_ps(s, c##i);
    CHAINS(S512)
    return _mm512_reduce_add_ps(s);
}
#endif

static void *thread_main(void *opaque)
{
    job *j = opaque;
    double t0 = now_s();
#if HAVE_X86
    j->sink = j->wide ? run_avx512(j->rounds) : run_avx2(j->rounds);
#endif
    j->seconds = now_s() - t0;
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    j->cpu = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    return NULL;
}

/* GFLOP/s of `threads` threads each running `rounds` rounds of 12 FMAs, by the wall clock;
 * *per_core gets the GFLOP/s per second of CPU time each thread got (the core's own peak, which
 * other processes on a shared machine do not lower), the best thread's. */
static double measure(int threads, int wide, double *per_core)
{
    pthread_t tid[256];
    job jobs[256];
    int lanes = wide ? 16 : 8;
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){.wide = wide, .rounds = ROUNDS};
        if (pthread_create(&tid[t], NULL, thread_main, &jobs[t]) != 0) {
            fprintf(stderr, "bench_fma_peak: cannot start thread %d\n", t);
            exit(1);
        }
    }
    double worst = 0, sink = 0, flop = (double)ROUNDS * 12 * lanes * 2;
    *per_core = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        worst = jobs[t].seconds > worst ? jobs[t].seconds : worst;
        double c = flop / jobs[t].cpu * 1e-9;
        *per_core = c > *per_core ? c : *per_core;
        sink += jobs[t].sink;
    }
    if (sink == 12345.0)
        printf(" ");
    return (double)threads * ROUNDS * 12 * lanes * 2 / worst * 1e-9;
}

int main(int argc, char **argv)
{
#if HAVE_X86
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = argc > 1 ? atoi(argv[1]) : (int)(online > 0 ? online : 1);
    if (threads < 1 || threads > 256)
        threads = 1;
    __builtin_cpu_init();
    int isas = __builtin_cpu_supports("avx512f") ? 2 : 1;
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("no AVX2/FMA on this CPU\n");
        return 0;
    }
    for (int wide = 0; wide < isas; wide++) {
        double best1 = 0, bestn = 0, core = 0, c;
        for (int rep = 0; rep < 3; rep++) {
            double g1 = measure(1, wide, &c), gn;
            core = c > core ? c : core;
            gn = measure(threads, wide, &c);
            core = c > core ? c : core;
            best1 = g1 > best1 ? g1 : best1;
            bestn = gn > bestn ? gn : bestn;
        }
        printf("%s FMA: %.1f GFLOP/s on 1 thread, %.1f on %d threads by the wall clock (best of "
               "3); %.1f per second of CPU time on one core, so %.1f for %d idle cores\n",
               wide ? "AVX-512" : "AVX2", best1, bestn, threads, core, core * threads, threads);
    }
    if (isas == 1)
        printf("AVX-512F: not on this CPU\n");
#else
    (void)argc, (void)argv;
    printf("bench_fma_peak: x86-64 only\n");
#endif
    return 0;
}
