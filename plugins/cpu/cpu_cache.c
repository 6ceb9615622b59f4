/* plugins/cpu/cpu_cache.c - the data cache sizes of this machine, as the own GEMM's blocking
 * needs them (cpu_internal.h: cpu_cache_sizes).
 *
 * First Linux's /sys/devices/system/cpu/cpu0/cache/index<N>/{level,type,size} (what lscpu
 * shows), then glibc's sysconf(_SC_LEVEL{1D,2,3}_CACHE_SIZE) where sysfs has nothing (glibc reads
 * CPUID itself and can be wrong in a VM: on a KVM AMD EPYC guest it reported a 256 MiB L3 where
 * sysfs and lscpu said 32 MiB), then fallbacks that are small for current x86-64 cores
 * (32 KiB, 512 KiB, 4 MiB), so that blocking derived from them never overflows a real cache.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cpu_internal.h"

#define FALLBACK_L1D (32u << 10)
#define FALLBACK_L2 (512u << 10)
#define FALLBACK_L3 (4u << 20)

static size_t from_sysconf(int name)
{
#ifdef _SC_LEVEL1_DCACHE_SIZE
    long v = sysconf(name);
    return v > 0 ? (size_t)v : 0;
#else
    (void)name;
    return 0;
#endif
}

/* Reads one short line of /sys/devices/system/cpu/cpu0/cache/index<i>/<what> into buf. */
static int read_sys(int index, const char *what, char *buf, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/%s", index, what);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return ok;
}

/* The size of the level-`level` data (or unified) cache in sysfs, 0 when not found. */
static size_t from_sysfs(int level)
{
    for (int i = 0; i < 16; i++) {
        char lv[16], type[32], size[32];
        if (!read_sys(i, "level", lv, sizeof lv))
            break;
        if (lv[0] - '0' != level || lv[1] != '\0' || !read_sys(i, "type", type, sizeof type) ||
            strcmp(type, "Instruction") == 0 || !read_sys(i, "size", size, sizeof size))
            continue;
        unsigned long v = 0;
        char unit = 0;
        if (sscanf(size, "%lu%c", &v, &unit) < 1)
            continue;
        return unit == 'K' ? (size_t)v << 10 : unit == 'M' ? (size_t)v << 20 : (size_t)v;
    }
    return 0;
}

void cpu_cache_sizes(cpu_caches *out)
{
#ifdef _SC_LEVEL1_DCACHE_SIZE
    int names[3] = {_SC_LEVEL1_DCACHE_SIZE, _SC_LEVEL2_CACHE_SIZE, _SC_LEVEL3_CACHE_SIZE};
#else
    int names[3] = {0, 0, 0};
#endif
    size_t fallback[3] = {FALLBACK_L1D, FALLBACK_L2, FALLBACK_L3}, got[3];
    for (int lv = 0; lv < 3; lv++) {
        got[lv] = from_sysfs(lv + 1);
        out->source[lv] = "sysfs";
        if (got[lv] == 0) {
            got[lv] = from_sysconf(names[lv]);
            out->source[lv] = "sysconf";
        }
        if (got[lv] == 0) {
            got[lv] = fallback[lv];
            out->source[lv] = "fallback";
        }
    }
    out->l1d = got[0];
    out->l2 = got[1];
    out->l3 = got[2];
}
