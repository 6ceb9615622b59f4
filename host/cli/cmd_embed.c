/* host/cli/cmd_embed.c - `vitcl embed MODEL_DIR IMAGE...`: decode, preprocess (as transformers'
 * PIL-backend ViT processor with the model's preprocessor_config.json) and run the encoder in
 * batches; write the embeddings to .npy and, beside it, which row is which file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_args.h"
#include "npy.h"
#include "plugin_size.h"
#include "token_limit.h"
#include "vitcl/image.h"
#include "vitcl/vitcl.h"

enum pool { POOL_CLS, POOL_MEAN, POOL_NONE };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vitcl embed MODEL_DIR IMAGE... [-o OUT.npy] [--pool cls|mean|none]\n"
            "                   [--batch N] [--size HxW] [--backend B] [--device D]\n"
            "                   [--list FILE|-] [--precision fp32|bf16|fp16]\n"
            "Embeds PNG/JPEG images as transformers' ViTImageProcessorPil + the model would.\n"
            "  -o, --output OUT.npy  output (default embeddings.npy); OUT.paths.txt gets one\n"
            "                 input path per row, in row order\n"
            "  --pool cls     token 0 of last_hidden_state: [N, D] (default)\n"
            "  --pool mean    mean of last_hidden_state over all tokens, CLS included: [N, D]\n"
            "  --pool none    the whole last_hidden_state: [N, S, D]\n"
            "  --batch N      images per model run (default 8)\n"
            "  --size HxW     resize to HxW instead of the processor's size (runs the model\n"
            "                 with interpolate_pos_encoding)\n"
            "  --list FILE    read more image paths from FILE, one per line ('-': stdin), in\n"
            "                 its place among the images; may be given more than once\n"
            "  --precision P  the linear layers' precision: fp32 (default), bf16 or fp16, where\n"
            "                 the device offers it (vitcl devices)\n"
            "  --backend B, --device D  the backend and device (default: VITCL_BACKEND, auto)\n"
            "A file that cannot be read, decoded or run (smaller than one patch, more tokens\n"
            "than the limit, too large for memory) is reported and skipped; the exit status is\n"
            "then 3 (0 when every image was embedded, 1 when none was).\n");
}

typedef struct path_list {
    char **items;
    size_t count, cap;
} path_list;

static int path_push(path_list *l, const char *p)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **n = realloc(l->items, cap * sizeof *n);
        if (!n)
            return -1;
        l->items = n;
        l->cap = cap;
    }
    char *copy = strdup(p);
    if (!copy)
        return -1;
    l->items[l->count++] = copy;
    return 0;
}

static void path_free(path_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
}

/* Appends the non-empty lines of FILE (or stdin for "-") to l. */
static int read_list(const char *file, path_list *l)
{
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!f) {
        fprintf(stderr, "vitcl embed: cannot open list %s\n", file);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n > 0 && path_push(l, line)) {
            fprintf(stderr, "vitcl embed: out of memory reading %s\n", file);
            rc = -1;
            break;
        }
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void progress(size_t done, size_t total)
{
    int width = 30, fill = total ? (int)((double)done / (double)total * width) : width;
    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '=' : ' ', stderr);
    fprintf(stderr, "] %zu/%zu images", done, total);
    fflush(stderr);
}

/* Everything one embed run holds, freed in one place. */
typedef struct embed_job {
    path_list inputs;
    vitcl_registry *reg;
    vitcl_backend *be;
    vitcl_model *model;
    vitcl_preprocessor *pp;
    vitcl_model_config cfg;
    enum pool pool;
    size_t batch_cap;
    /* the batch being filled */
    float *batch;
    size_t batch_n, batch_h, batch_w, batch_floats;
    size_t *batch_src; /* index into inputs of each batch row */
    /* the results */
    float *rows;
    size_t rows_n, rows_cap, row_len, seq_len;
    size_t *row_src;
    size_t failed; /* inputs reported and skipped */
    int tty;       /* stderr is a terminal (progress bar on) */
    int warned_nonfinite;
} embed_job;

static void job_free(embed_job *j)
{
    free(j->batch);
    free(j->batch_src);
    free(j->rows);
    free(j->row_src);
    vitcl_preprocessor_free(j->pp);
    vitcl_model_free(j->model);
    vitcl_backend_close(j->be);
    vitcl_registry_close(j->reg);
    path_free(&j->inputs);
}

static void report_skip(const embed_job *j, size_t i, const char *why)
{
    fprintf(stderr, "%svitcl embed: skipped %s: %s\n", j->tty ? "\n" : "", j->inputs.items[i],
            why);
}

/* Appends the pooled rows of B images from out, for batch rows first.. Returns 0, 1 when the
 * rows cannot join the others (--pool none with another token count: reported and skipped), or
 * -1 on out of memory. */
static int append_rows(embed_job *j, const vitcl_output *out, size_t first)
{
    size_t B, S, D;
    const float *lhs = vitcl_output_last_hidden_state(out, &B, &S, &D);
    const float *pooled = vitcl_output_pooled(out, NULL, NULL);
    size_t len = j->pool == POOL_NONE ? S * D : D;
    if (j->rows_n && (len != j->row_len || (j->pool == POOL_NONE && S != j->seq_len))) {
        char why[160];
        snprintf(why, sizeof why, "it gives %zu tokens where earlier images gave %zu; --pool "
                 "none needs one size (use --size HxW)", S, j->seq_len);
        for (size_t b = 0; b < B; b++)
            report_skip(j, j->batch_src[first + b], why);
        return 1;
    }
    j->row_len = len;
    j->seq_len = S;
    if (j->rows_n + B > j->rows_cap) {
        size_t cap = j->rows_cap ? j->rows_cap : 64, bytes = 0;
        while (cap < j->rows_n + B)
            cap *= 2;
        float *r = plugin_size_mul(cap, len, &bytes) && plugin_size_mul(bytes, sizeof *r, &bytes)
                       ? realloc(j->rows, bytes)
                       : NULL;
        size_t *s = r ? realloc(j->row_src, cap * sizeof *s) : NULL;
        if (r)
            j->rows = r;
        if (s)
            j->row_src = s;
        if (!r || !s) {
            fprintf(stderr, "\nvitcl embed: out of memory for %zu embeddings\n", cap);
            return -1;
        }
        j->rows_cap = cap;
    }
    for (size_t b = 0; b < B; b++) {
        float *dst = j->rows + (j->rows_n + b) * len;
        if (j->pool == POOL_NONE)
            memcpy(dst, lhs + b * S * D, S * D * sizeof *dst);
        else
            memcpy(dst, pooled + b * D, D * sizeof *dst);
        j->row_src[j->rows_n + b] = j->batch_src[first + b];
    }
    j->rows_n += B;
    return 0;
}

/* A run failure that belongs to the input (too many tokens, too much activation memory, a size
 * the model refuses): the image is skipped. Anything else (a device error) ends the job. */
static int input_error(vitcl_status st)
{
    return st == VITCL_ERR_LIMIT || st == VITCL_ERR_OUT_OF_MEMORY ||
           st == VITCL_ERR_INVALID_ARGUMENT;
}

/* Runs n batch rows from first and appends them. 0, 1 (all n skipped, reported), 2 (n > 1 and
 * the run refused its inputs: nothing reported, retry one by one), -1 fatal. */
static int run_rows(embed_job *j, size_t first, size_t n)
{
    vitcl_run_options opt = {.struct_size = sizeof opt};
    opt.interpolate_pos_encoding = j->batch_h != j->cfg.image_size ||
                                   j->batch_w != j->cfg.image_size;
    /* The library pools on the device and reads back only [B, D]. */
    opt.pooling = j->pool == POOL_CLS    ? VITCL_POOLING_CLS
                  : j->pool == POOL_MEAN ? VITCL_POOLING_MEAN
                                         : VITCL_POOLING_NONE;
    size_t per = VITCL_IMAGE_CHANNELS * j->batch_h * j->batch_w;
    vitcl_output *out = NULL;
    vitcl_status st = vitcl_model_run(j->model, j->batch + first * per, n, j->batch_h, j->batch_w,
                                      &opt, &out);
    if (st != VITCL_OK) {
        if (!input_error(st)) {
            fprintf(stderr, "\nvitcl embed: %s\n", vitcl_last_error());
            return -1;
        }
        if (n > 1)
            return 2;
        report_skip(j, j->batch_src[first], vitcl_last_error());
        return 1;
    }
    int r = append_rows(j, out, first);
    vitcl_output_free(out);
    return r;
}

/* Runs the batch and appends its pooled rows. When the whole batch cannot run for a reason of
 * its inputs (e.g. its activations do not fit the device), each image is run alone, so only
 * those that cannot run at all are skipped. Returns 0, or -1 after reporting a fatal error. */
static int flush(embed_job *j)
{
    size_t n = j->batch_n;
    j->batch_n = 0;
    if (!n)
        return 0;
    int r = run_rows(j, 0, n);
    if (r < 0)
        return -1;
    if (r == 2) {
        for (size_t b = 0; b < n; b++) {
            r = run_rows(j, b, 1);
            if (r < 0)
                return -1;
            j->failed += (size_t)r;
        }
    } else {
        j->failed += r == 1 ? n : 0;
    }
    return 0;
}

/* Decodes and preprocesses input i into the batch. Returns 1 when the file was skipped (and
 * reported), 0 when added, -1 on a fatal error. */
static int add_image(embed_job *j, size_t i)
{
    const char *path = j->inputs.items[i];
    vitcl_image *img = NULL;
    if (strchr(path, '\n')) {
        fprintf(stderr, "\nvitcl embed: skipped a path with a newline in it\n");
        return 1;
    }
    if (vitcl_image_load_file(path, NULL, &img)) {
        fprintf(stderr, "%svitcl embed: skipped %s\n", j->tty ? "\n" : "", vitcl_last_error());
        return 1;
    }
    size_t h, w, P = j->cfg.patch_size, per = 0, bytes = 0;
    char why[200];
    int skip = 0;
    if (vitcl_preprocessor_output_size(j->pp, img->width, img->height, &h, &w)) {
        snprintf(why, sizeof why, "%s", vitcl_last_error());
        skip = 1;
    } else if (h < P || w < P) {
        snprintf(why, sizeof why, "%zux%zu gives a %zux%zu input, smaller than one %zux%zu patch",
                 (size_t)img->width, (size_t)img->height, w, h, P, P);
        skip = 1;
    } else if (vitcl_check_tokens(h / P, w / P, "its input")) {
        /* before resizing: a 1x100000 image under shortest_edge would resize for minutes */
        snprintf(why, sizeof why, "%s", vitcl_last_error());
        skip = 1;
    } else if (!plugin_size_mul(VITCL_IMAGE_CHANNELS * h, w, &per) ||
               !plugin_size_mul(per, j->batch_cap, &bytes) ||
               !plugin_size_mul(bytes, sizeof(float), &bytes)) {
        snprintf(why, sizeof why, "a %zux%zu input is too large for a batch of %zu", w, h,
                 j->batch_cap);
        skip = 1;
    }
    if (skip) {
        report_skip(j, i, why);
        vitcl_image_free(img);
        return 1;
    }
    if (j->batch_n && (h != j->batch_h || w != j->batch_w) && flush(j)) {
        vitcl_image_free(img);
        return -1;
    }
    if (per * j->batch_cap > j->batch_floats) {
        float *nb = malloc(bytes);
        if (!nb) {
            snprintf(why, sizeof why, "no memory for a batch of %zu inputs of %zux%zu (%.1f MiB)",
                     j->batch_cap, w, h, (double)bytes / 1048576.0);
            report_skip(j, i, why);
            vitcl_image_free(img);
            return 1;
        }
        free(j->batch);
        j->batch = nb;
        j->batch_floats = per * j->batch_cap;
    }
    j->batch_h = h, j->batch_w = w;
    if (vitcl_preprocess(j->pp, img, j->batch + j->batch_n * per, per)) {
        report_skip(j, i, vitcl_last_error());
        vitcl_image_free(img);
        return 1;
    }
    vitcl_image_free(img);
    size_t bad = cli_count_nonfinite(j->batch + j->batch_n * per, per);
    if (bad && !j->warned_nonfinite) {
        j->warned_nonfinite = 1;
        fprintf(stderr, "%svitcl embed: warning: %s gives %zu NaN or infinite pixel value(s) "
                "after preprocessing; its row will be NaN (warned once per run)\n",
                j->tty ? "\n" : "", path, bad);
    }
    j->batch_src[j->batch_n++] = i;
    if (j->batch_n == j->batch_cap && flush(j))
        return -1;
    return 0;
}

static int write_results(const embed_job *j, const char *output)
{
    size_t shape[3] = {j->rows_n, j->pool == POOL_NONE ? j->seq_len : j->row_len,
                       j->pool == POOL_NONE ? j->row_len / j->seq_len : 0};
    if (vitcl_npy_write_f32(output, j->rows, j->pool == POOL_NONE ? 3 : 2, shape)) {
        fprintf(stderr, "vitcl embed: %s\n", vitcl_last_error());
        return -1;
    }
    size_t n = strlen(output);
    if (n > 4 && !strcmp(output + n - 4, ".npy"))
        n -= 4;
    char *paths = malloc(n + sizeof ".paths.txt");
    if (!paths) {
        fprintf(stderr, "vitcl embed: out of memory\n");
        return -1;
    }
    snprintf(paths, n + sizeof ".paths.txt", "%.*s.paths.txt", (int)n, output);
    FILE *f = fopen(paths, "w");
    int rc = 0;
    if (!f) {
        fprintf(stderr, "vitcl embed: cannot write %s\n", paths);
        rc = -1;
    } else {
        for (size_t r = 0; r < j->rows_n; r++)
            fprintf(f, "%s\n", j->inputs.items[j->row_src[r]]);
        if (fclose(f) != 0) {
            fprintf(stderr, "vitcl embed: cannot write %s\n", paths);
            rc = -1;
        }
    }
    free(paths);
    return rc;
}

/* Positional arguments: the model folder, then images, in order with --list's lines. */
typedef struct embed_args {
    const char *dir;
    path_list *inputs;
} embed_args;

static int on_positional(void *user, const char *a)
{
    embed_args *e = user;
    if (!e->dir) {
        e->dir = a;
    } else if (path_push(e->inputs, a)) {
        fprintf(stderr, "vitcl embed: out of memory\n");
        return CLI_FAILED;
    }
    return CLI_PARSED;
}

static int on_list(void *user, const char *file)
{
    embed_args *e = user;
    return read_list(file, e->inputs) ? CLI_FAILED : CLI_PARSED;
}

int cmd_embed(int argc, char **argv)
{
    embed_job j = {.batch_cap = 8};
    const char *output = "embeddings.npy", *backend = NULL, *device = NULL, *pool = "cls";
    size_t size[2] = {0, 0};
    unsigned long batch = 8;
    vitcl_load_options lo = {.struct_size = sizeof lo};
    embed_args ea = {NULL, &j.inputs};
    const cli_each pos = {on_positional, &ea}, list = {on_list, &ea};
    const cli_opt opts[] = {
        {"--output", "-o", CLI_TEXT, "OUT.npy", &output, 0, 0},
        {"--pool", NULL, CLI_TEXT, "cls|mean|none", &pool, 0, 0},
        {"--batch", NULL, CLI_COUNT, "N", &batch, 1, 4096},
        {"--size", NULL, CLI_SIZE, "HxW", size, 0, 0},
        {"--backend", NULL, CLI_TEXT, "B", &backend, 0, 0},
        {"--device", NULL, CLI_TEXT, "D", &device, 0, 0},
        {"--list", NULL, CLI_EACH, "FILE|-", (void *)&list, 0, 0},
        {"--precision", NULL, CLI_PRECISION, "fp32|bf16|fp16", &lo.precision, 0, 0},
    };
    int rc = 2;
    int pr = cli_parse_each("embed", argc, argv, opts, sizeof opts / sizeof opts[0], &pos);
    if (pr == CLI_HELP) {
        usage(stdout);
        rc = 0;
        goto done;
    }
    if (pr == CLI_FAILED) {
        rc = 1;
        goto done;
    }
    if (pr != CLI_PARSED) {
        usage(stderr);
        goto done;
    }
    if (!strcmp(pool, "cls")) {
        j.pool = POOL_CLS;
    } else if (!strcmp(pool, "mean")) {
        j.pool = POOL_MEAN;
    } else if (!strcmp(pool, "none")) {
        j.pool = POOL_NONE;
    } else {
        fprintf(stderr, "vitcl embed: --pool must be cls, mean or none\n");
        goto done;
    }
    j.batch_cap = (size_t)batch;
    const char *dir = ea.dir;
    if (!dir || !j.inputs.count) {
        usage(stderr);
        goto done;
    }
    rc = 1;
    if (vitcl_registry_open(NULL, &j.reg) || vitcl_backend_open(j.reg, backend, device, &j.be) ||
        vitcl_model_load_ex(j.be, dir, &lo, &j.model) || vitcl_preprocessor_load(dir, &j.pp) ||
        (size[0] && vitcl_preprocessor_set_size(j.pp, size[0], size[1]))) {
        fprintf(stderr, "vitcl embed: %s\n", vitcl_last_error());
        goto done;
    }
    vitcl_model_get_config(j.model, &j.cfg);
    if (j.cfg.num_channels != VITCL_IMAGE_CHANNELS) {
        /* Images decode to RGB; transformers' model refuses pixel_values whose channel count
         * is not config.num_channels, and reading 3-channel rows as N would overrun them. */
        fprintf(stderr, "vitcl embed: %s: config.json has num_channels %zu, but images give "
                "%u-channel RGB pixels; embed needs a model with num_channels %u (use vitcl run "
                "with a .npy of %zu channels)\n", dir, j.cfg.num_channels, VITCL_IMAGE_CHANNELS,
                VITCL_IMAGE_CHANNELS, j.cfg.num_channels);
        goto done;
    }
    vitcl_preprocessor_config ppc;
    vitcl_preprocessor_get_config(j.pp, &ppc);
    if (ppc.do_normalize && (!ppc.image_std[0] || !ppc.image_std[1] || !ppc.image_std[2]))
        fprintf(stderr, "vitcl embed: warning: %s/preprocessor_config.json has an image_std of 0: "
                "normalising divides by it, so every row will be NaN (transformers computes the "
                "same)\n", dir);
    j.batch_src = malloc(j.batch_cap * sizeof *j.batch_src);
    if (!j.batch_src) {
        fprintf(stderr, "vitcl embed: out of memory\n");
        goto done;
    }
    int tty = j.tty = isatty(STDERR_FILENO);
    double t0 = now_seconds();
    for (size_t i = 0; i < j.inputs.count; i++) {
        int r = add_image(&j, i);
        if (r < 0)
            goto done;
        j.failed += r == 1;
        if (tty)
            progress(i + 1, j.inputs.count);
    }
    if (flush(&j))
        goto done;
    size_t failed = j.failed;
    double secs = now_seconds() - t0;
    if (tty)
        fputc('\n', stderr);
    if (j.rows_n && write_results(&j, output))
        goto done;
    fprintf(stderr, "vitcl embed: %zu image(s) embedded, %zu skipped, %.2f s, %.1f images/s, "
            "pool %s, %s, backend %s, device %s%s%s\n", j.rows_n, failed, secs,
            secs > 0 ? (double)j.rows_n / secs : 0.0,
            j.pool == POOL_CLS ? "cls" : j.pool == POOL_MEAN ? "mean" : "none",
            j.cfg.precision, vitcl_backend_name(j.be), vitcl_backend_device(j.be)->name,
            j.rows_n ? " -> " : "", j.rows_n ? output : "");
    rc = !j.rows_n ? 1 : failed ? 3 : 0;
done:
    job_free(&j);
    return rc;
}
