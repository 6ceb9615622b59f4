/* plugins/opencl/fault_inject.c - the plugin side of VITCL_FAULT_INJECT (fault_inject.h). */
#include "fault_inject.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[OCL_FAULT_KINDS_] = {"build", "cl_alloc", "cl_enqueue"};

void ocl_fault_init(ocl_fault *f)
{
    memset(f, 0, sizeof *f);
    const char *p = getenv("VITCL_FAULT_INJECT");
    while (p && *p) {
        const char *colon = strchr(p, ':');
        const char *comma = strchr(p, ',');
        if (!colon || (comma && comma < colon))
            break;
        size_t klen = (size_t)(colon - p);
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(colon + 1, &end, 10);
        int ok = end != colon + 1 && !errno && (*end == '\0' || *end == ',');
        for (int k = 0; ok && k < OCL_FAULT_KINDS_; k++)
            if (strlen(kind_names[k]) == klen && !strncmp(p, kind_names[k], klen)) {
                f->fail_at[k] = n;
                f->active = 1;
            }
        p = comma ? comma + 1 : NULL;
    }
}

int ocl_fault_hit(ocl_fault *f, ocl_fault_kind kind)
{
    if (!f->active)
        return 0;
    f->note[0] = '\0';
    uint64_t n = ++f->calls[kind];
    if (n != f->fail_at[kind])
        return 0;
    f->injected++;
    snprintf(f->note, sizeof f->note, "injected fault %s:%llu (VITCL_FAULT_INJECT)",
             kind_names[kind], (unsigned long long)n);
    return 1;
}

int ocl_fault_status(ocl_fault_kind kind)
{
    /* CL_BUILD_PROGRAM_FAILURE, CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_OUT_OF_RESOURCES */
    static const int codes[OCL_FAULT_KINDS_] = {-11, -4, -5};
    return codes[kind];
}

void ocl_fault_describe(const ocl_fault *f, char *buf, size_t len)
{
    if (len == 0)
        return;
    buf[0] = '\0';
    if (!f->active)
        return;
    snprintf(buf, len, "%s:%llu,%s:%llu,%s:%llu injected=%llu", kind_names[0],
             (unsigned long long)f->calls[0], kind_names[1], (unsigned long long)f->calls[1],
             kind_names[2], (unsigned long long)f->calls[2], (unsigned long long)f->injected);
}
