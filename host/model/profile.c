/* host/model/profile.c - per-op timings of a backend, for `vitcl bench`. */
#include "error.h"
#include "loader_internal.h"

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
    pthread_mutex_lock(&be->lock);
    size_t n = 0;
    if (be->desc->synchronize(be->ctx) == VITCL_OK)
        n = be->desc->profile_drain(be->ctx, out, max);
    pthread_mutex_unlock(&be->lock);
    return n;
}
