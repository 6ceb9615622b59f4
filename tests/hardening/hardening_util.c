/* tests/hardening/hardening_util.c - see hardening_util.h. */
#include "hardening_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void harden_require(int ok, const char *fmt, ...)
{
    if (ok)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hardening test setup failed: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

const char *harden_model_dir(const char *name)
{
    static _Thread_local char path[1024];
    snprintf(path, sizeof path, "%s/%s", HARDEN_FIXTURES, name);
    return path;
}

float *harden_pixels(size_t batch, size_t h, size_t w, uint32_t seed)
{
    size_t n = batch * 3 * h * w;
    float *p = malloc(n * sizeof *p);
    harden_require(p != NULL, "out of memory");
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (float)(x % 2001u) / 1000.0f - 1.0f;
    }
    return p;
}

static float *dup_floats(const float *src, size_t n)
{
    if (!src)
        return NULL;
    float *d = malloc(n * sizeof *d);
    harden_require(d != NULL, "out of memory");
    memcpy(d, src, n * sizeof *d);
    return d;
}

void harden_result_take(const vitcl_output *out, harden_result *r)
{
    memset(r, 0, sizeof *r);
    const float *last = vitcl_output_last_hidden_state(out, &r->batch, &r->seq, &r->dim);
    harden_require(last != NULL, "out of memory");
    size_t tsd = r->batch * r->seq * r->dim;
    r->last = dup_floats(last, tsd);
    r->num_hidden = vitcl_output_num_hidden_states(out);
    if (r->num_hidden) {
        r->hidden = malloc(r->num_hidden * tsd * sizeof(float));
        harden_require(r->hidden != NULL, "out of memory");
        for (size_t i = 0; i < r->num_hidden; i++) {
            const float *h = vitcl_output_hidden_state(out, i);
            harden_require(h != NULL, "out of memory");
            memcpy(r->hidden + i * tsd, h, tsd * sizeof(float));
        }
    }
    const float *logits = vitcl_output_logits(out, &r->num_labels);
    r->logits = logits ? dup_floats(logits, r->batch * r->num_labels) : NULL;
}

void harden_result_free(harden_result *r)
{
    free(r->last);
    free(r->hidden);
    free(r->logits);
    memset(r, 0, sizeof *r);
}

int harden_result_equal(const harden_result *a, const harden_result *b)
{
    if (a->batch != b->batch || a->seq != b->seq || a->dim != b->dim ||
        a->num_labels != b->num_labels || a->num_hidden != b->num_hidden ||
        !a->logits != !b->logits)
        return 0;
    size_t tsd = a->batch * a->seq * a->dim;
    if (memcmp(a->last, b->last, tsd * sizeof(float)))
        return 0;
    if (a->num_hidden && memcmp(a->hidden, b->hidden, a->num_hidden * tsd * sizeof(float)))
        return 0;
    if (a->logits && memcmp(a->logits, b->logits, a->batch * a->num_labels * sizeof(float)))
        return 0;
    return 1;
}

void harden_open(const char *plugin, vitcl_registry **reg, vitcl_backend **be)
{
    harden_require(vitcl_registry_open(NULL, reg) == VITCL_OK, "%s", vitcl_last_error());
    harden_require(vitcl_backend_open(*reg, plugin, NULL, be) == VITCL_OK, "%s",
                   vitcl_last_error());
}

vitcl_status harden_run(vitcl_model *m, const float *pixels, size_t batch, size_t h, size_t w,
                        harden_result *r)
{
    vitcl_run_options opt = {.struct_size = sizeof opt, .interpolate_pos_encoding = 1,
                             .output_hidden_states = 1};
    vitcl_output *out = NULL;
    vitcl_status st = vitcl_model_run(m, pixels, batch, h, w, &opt, &out);
    if (st == VITCL_OK) {
        harden_require(out != NULL, "vitcl_model_run succeeded without an output");
        harden_result_take(out, r);
    } else {
        harden_require(out == NULL, "a failed run must leave *out NULL");
    }
    vitcl_output_free(out);
    return st;
}

void harden_mkdtemp(const char *tag, char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/vitcl-%s-XXXXXX", tag);
    harden_require(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir, strerror(errno));
}

void harden_rmtree(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    harden_require(system(cmd) == 0, "%s failed", cmd);
}

const char *harden_write(const char *dir, const char *name, const void *data, size_t len)
{
    static _Thread_local char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    FILE *f = fopen(path, "wb");
    harden_require(f != NULL, "cannot write %s", path);
    harden_require(fwrite(data, 1, len, f) == len && fclose(f) == 0, "cannot write %s", path);
    return path;
}

void harden_link_model(const char *name, const char *dir)
{
    const char *src = harden_model_dir(name);
    DIR *d = opendir(src);
    harden_require(d != NULL, "cannot list %s", src);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "golden"))
            continue;
        char from[1200], to[1200];
        snprintf(from, sizeof from, "%s/%s", src, e->d_name);
        snprintf(to, sizeof to, "%s/%s", dir, e->d_name);
        harden_require(symlink(from, to) == 0, "symlink %s: %s", to, strerror(errno));
    }
    closedir(d);
}

void harden_mkfifo(const char *dir, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    harden_require(mkfifo(path, 0600) == 0, "mkfifo %s: %s", path, strerror(errno));
}

int harden_cli(const char *const *argv, unsigned limit_s, char *err, size_t len)
{
    int pfd[2];
    harden_require(pipe(pfd) == 0, "pipe");
    pid_t pid = fork();
    harden_require(pid >= 0, "fork");
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        const char *args[64] = {VITCL_BUILD_ROOT "/host/cli/vitcl"};
        size_t n = 1;
        for (; argv[n - 1] && n < 63; n++)
            args[n] = argv[n - 1];
        args[n] = NULL;
        execv(args[0], (char *const *)args);
        _exit(127);
    }
    close(pfd[1]);
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    size_t got = 0;
    int status = 0, eof = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* Read stderr until end of file (every write end closed: the child has exited or closed
     * it), then reap the child. Stopping at the child's exit instead would lose what it wrote
     * between the last read and the exit. */
    for (;;) {
        if (!eof) {
            char buf[4096];
            ssize_t r = read(pfd[0], buf, sizeof buf);
            if (r > 0) {
                size_t k = (size_t)r < len - 1 - got ? (size_t)r : len - 1 - got;
                memcpy(err + got, buf, k);
                got += k;
                continue;
            }
            eof = r == 0;
        }
        if (eof && waitpid(pid, &status, WNOHANG) == pid)
            break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 > limit_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            close(pfd[0]);
            err[got] = '\0';
            return -2;
        }
        struct timespec nap = {0, 2000000};
        nanosleep(&nap, NULL);
    }
    close(pfd[0]);
    err[got] = '\0';
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

typedef struct tensor_spec {
    char name[96];
    size_t ndim;
    uint64_t shape[4];
} tensor_spec;

static void add_t(tensor_spec *t, size_t *n, const char *name, size_t ndim, uint64_t a,
                  uint64_t b, uint64_t c, uint64_t d)
{
    snprintf(t[*n].name, sizeof t[*n].name, "%s", name);
    t[*n].ndim = ndim;
    uint64_t s[4] = {a, b, c, d};
    memcpy(t[*n].shape, s, sizeof s);
    (*n)++;
}

void harden_write_model(const char *dir, const harden_vit *v, const char *extra_json)
{
    char cfg[1024];
    int n = snprintf(cfg, sizeof cfg,
                     "{\"model_type\": \"vit_msn\", \"hidden_size\": %zu, "
                     "\"num_attention_heads\": %zu, \"num_hidden_layers\": %zu, "
                     "\"intermediate_size\": %zu, \"patch_size\": %zu, \"image_size\": %zu, "
                     "\"num_channels\": %zu%s%s}",
                     v->hidden, v->heads, v->layers, v->inter, v->patch, v->image, v->channels,
                     extra_json ? ", " : "", extra_json ? extra_json : "");
    harden_write(dir, "config.json", cfg, (size_t)n);

    size_t cap = 8 + 16 * v->layers, nt = 0;
    tensor_spec *t = calloc(cap, sizeof *t);
    harden_require(t != NULL, "out of memory");
    uint64_t D = v->hidden, I = v->inter, P = v->patch, g = v->image / v->patch;
    add_t(t, &nt, "embeddings.cls_token", 3, 1, 1, D, 0);
    add_t(t, &nt, "embeddings.position_embeddings", 3, 1, g * g + 1, D, 0);
    add_t(t, &nt, "embeddings.patch_embeddings.projection.weight", 4, D, v->channels, P, P);
    add_t(t, &nt, "embeddings.patch_embeddings.projection.bias", 1, D, 0, 0, 0);
    static const char *const lin[] = {"attention.attention.query", "attention.attention.key",
                                      "attention.attention.value", "attention.output.dense"};
    char name[96];
    for (size_t l = 0; l < v->layers; l++) {
        static const char *const ln[] = {"layernorm_before", "layernorm_after"};
        for (int j = 0; j < 2; j++) {
            snprintf(name, sizeof name, "encoder.layer.%zu.%s.weight", l, ln[j]);
            add_t(t, &nt, name, 1, D, 0, 0, 0);
            snprintf(name, sizeof name, "encoder.layer.%zu.%s.bias", l, ln[j]);
            add_t(t, &nt, name, 1, D, 0, 0, 0);
        }
        for (int j = 0; j < 4; j++) {
            snprintf(name, sizeof name, "encoder.layer.%zu.%s.weight", l, lin[j]);
            add_t(t, &nt, name, 2, D, D, 0, 0);
            snprintf(name, sizeof name, "encoder.layer.%zu.%s.bias", l, lin[j]);
            add_t(t, &nt, name, 1, D, 0, 0, 0);
        }
        snprintf(name, sizeof name, "encoder.layer.%zu.intermediate.dense.weight", l);
        add_t(t, &nt, name, 2, I, D, 0, 0);
        snprintf(name, sizeof name, "encoder.layer.%zu.intermediate.dense.bias", l);
        add_t(t, &nt, name, 1, I, 0, 0, 0);
        snprintf(name, sizeof name, "encoder.layer.%zu.output.dense.weight", l);
        add_t(t, &nt, name, 2, D, I, 0, 0);
        snprintf(name, sizeof name, "encoder.layer.%zu.output.dense.bias", l);
        add_t(t, &nt, name, 1, D, 0, 0, 0);
    }
    add_t(t, &nt, "layernorm.weight", 1, D, 0, 0, 0);
    add_t(t, &nt, "layernorm.bias", 1, D, 0, 0, 0);

    size_t hcap = 256 * nt + 64, hl = 0;
    char *hdr = malloc(hcap);
    harden_require(hdr != NULL, "out of memory");
    uint64_t off = 0;
    hl += (size_t)snprintf(hdr + hl, hcap - hl, "{");
    for (size_t i = 0; i < nt; i++) {
        uint64_t numel = 1;
        for (size_t d = 0; d < t[i].ndim; d++)
            numel *= t[i].shape[d];
        hl += (size_t)snprintf(hdr + hl, hcap - hl, "%s\"%s\": {\"dtype\": \"F32\", \"shape\": [",
                               i ? ", " : "", t[i].name);
        for (size_t d = 0; d < t[i].ndim; d++)
            hl += (size_t)snprintf(hdr + hl, hcap - hl, "%s%llu", d ? ", " : "",
                                   (unsigned long long)t[i].shape[d]);
        hl += (size_t)snprintf(hdr + hl, hcap - hl, "], \"data_offsets\": [%llu, %llu]}",
                               (unsigned long long)off, (unsigned long long)(off + 4 * numel));
        off += 4 * numel;
    }
    hl += (size_t)snprintf(hdr + hl, hcap - hl, "}");
    harden_require(hl < hcap, "header too long");
    char path[1200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    harden_require(f != NULL, "cannot write %s", path);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    harden_require(fwrite(len8, 1, 8, f) == 8 && fwrite(hdr, 1, hl, f) == hl, "write %s", path);
    float buf[1024];
    uint32_t s = 12345;
    for (uint64_t done = 0; done < off / 4;) {
        size_t k = off / 4 - done < 1024 ? (size_t)(off / 4 - done) : 1024;
        for (size_t i = 0; i < k; i++) {
            s = s * 1664525u + 1013904223u;
            buf[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.2f;
        }
        harden_require(fwrite(buf, sizeof(float), k, f) == k, "write %s", path);
        done += k;
    }
    harden_require(fclose(f) == 0, "close %s", path);
    free(hdr);
    free(t);
}
