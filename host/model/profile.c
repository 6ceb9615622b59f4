/* host/model/profile.c - per-op timings of a backend, for `vitcl bench`. */
#include "error.h"
#include "loader_internal.h"

/* vitcl_op_timing as ABI 1.0 laid it out (no struct_size). */
typedef struct timing_v1_0 {
    const char *op;
    uint64_t start_ns;
    uint64_t end_ns;
} timing_v1_0;

vitcl_status vitcl_backend_profiling(vitcl_backend *be, int enable)
{
    if (!be)
        return vitcl_fail(VITCL_ERR_INVALID_ARGUMENT, "vitcl_backend_profiling: NULL backend");
    if (!VITCL_HAS_FIELD(be->desc, vitcl_backend_desc, profiling) ||
        !VITCL_HAS_FIELD(be->desc, vitcl_backend_desc, profile_drain))
        return vitcl_fail(VITCL_ERR_UNSUPPORTED, "backend '%s' has no per-op profiling",
                          be->desc->name);
    pthread_mutex_lock(&be->lock);
    vitcl_status st = be->desc->profiling(be->ctx, enable);
    pthread_mutex_unlock(&be->lock);
    return st ? vitcl_backend_fail(be, st, "enabling profiling") : VITCL_OK;
}

size_t vitcl_backend_profile_drain(vitcl_backend *be, vitcl_op_timing *out, size_t max)
{
    if (!be || !out || !VITCL_HAS_FIELD(be->desc, vitcl_backend_desc, profile_drain))
        return 0;
    for (size_t i = 0; i < max; i++)
        out[i].struct_size = (uint32_t)sizeof *out;
    pthread_mutex_lock(&be->lock);
    size_t n = 0;
    if (be->desc->synchronize(be->ctx) == VITCL_OK) {
        if (be->desc->abi_minor >= 1) {
            n = be->desc->profile_drain(be->ctx, out, max);
        } else {
            /* A 1.0 plugin writes elements without struct_size: give it that layout. */
            timing_v1_0 buf[64];
            size_t got;
            while (n < max) {
                size_t want = max - n < 64 ? max - n : 64;
                got = be->desc->profile_drain(be->ctx, (vitcl_op_timing *)(void *)buf, want);
                for (size_t i = 0; i < got && i < want; i++) {
                    out[n + i].op = buf[i].op;
                    out[n + i].start_ns = buf[i].start_ns;
                    out[n + i].end_ns = buf[i].end_ns;
                }
                n += got < want ? got : want;
                if (got < want)
                    break;
            }
        }
    }
    pthread_mutex_unlock(&be->lock);
    return n;
}
