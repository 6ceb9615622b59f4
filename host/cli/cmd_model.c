/* host/cli/cmd_model.c - `vitcl info MODEL_DIR` and `vitcl run MODEL_DIR --input X.npy ...`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "escape.h"
#include "npy.h"
#include "vitcl/vitcl.h"
#include "weights.h"

static const char *const dtype_names[] = {"F32", "F16", "BF16"};

int cmd_info(int argc, char **argv)
{
    const char *dir = NULL;
    int no_tensors = 0;
    const cli_opt opts[] = {{"--no-tensors", NULL, CLI_FLAG, NULL, &no_tensors, 0, 0}};
    size_t n_opts = sizeof opts / sizeof opts[0], n_pos = 0;
    int pr = cli_parse("info", argc, argv, opts, n_opts, &dir, 1, &n_pos);
    if (pr == CLI_HELP) {
        printf("usage: vitcl info MODEL_DIR [OPTIONS]\n"
               "Validates config.json and the weights against each other and prints the "
               "config, parameter count, weight format and tensors. Runs nothing: no "
               "backend is opened and no weight is uploaded.\n");
        cli_print_options(stdout, opts, n_opts);
        return 0;
    }
    if (pr != CLI_PARSED || !dir) {
        fprintf(stderr, "usage: vitcl info MODEL_DIR [OPTIONS]\n");
        cli_print_options(stderr, opts, n_opts);
        return 2;
    }
    int list_tensors = !no_tensors;
    /* Validation is the model loader's, without a backend: nothing is uploaded or run, so a
     * huge config answers as fast as a small one. */
    vitcl_weights *w = NULL;
    vitcl_model_config c;
    int rc = 1;
    if (vitcl_model_inspect(dir, &c) || (list_tensors && vitcl_weights_open(dir, NULL, &w))) {
        fprintf(stderr, "vitcl info: %s\n", vitcl_last_error());
        goto done;
    }
    size_t dh = c.hidden_size / c.num_attention_heads;
    size_t g = c.image_size / c.patch_size;
    printf("model:        %s\n", dir);
    printf("model_type:   %s\n", c.model_type);
    printf("hidden_size:  %zu (%zu heads x %zu)\n", c.hidden_size, c.num_attention_heads, dh);
    printf("layers:       %zu\n", c.num_hidden_layers);
    printf("mlp width:    %zu\n", c.intermediate_size);
    printf("image_size:   %zu (patch %zu: %zux%zu patches, %zu tokens with CLS)\n", c.image_size,
           c.patch_size, g, g, g * g + 1);
    printf("channels:     %zu\n", c.num_channels);
    printf("layer_norm:   eps %g\n", (double)c.layer_norm_eps);
    if (c.num_labels)
        printf("classifier:   %zu labels\n", c.num_labels);
    else
        printf("classifier:   none (encoder only)\n");
    printf("parameters:   %llu (%.1f MB as fp32)\n", (unsigned long long)c.parameter_count,
           (double)c.parameter_count * 4.0 / 1e6);
    printf("weights:      %s, %s\n", c.weight_format, c.weight_dtype);
    if (list_tensors) {
        printf("tensors:      %zu\n", vitcl_weights_count(w));
        for (size_t i = 0; i < vitcl_weights_count(w); i++) {
            const vitcl_tensor_entry *t = vitcl_weights_at(w, i);
            char name[4 * 256 + 4]; /* names come from the file: show control bytes as \xNN */
            vitcl_escape(name, sizeof name, t->name, strlen(t->name));
            printf("  %-64s %-4s [", name, dtype_names[t->dtype]);
            for (size_t d = 0; d < t->ndim; d++)
                printf("%s%llu", d ? ", " : "", (unsigned long long)t->shape[d]);
            printf("]\n");
        }
    }
    rc = 0;
done:
    vitcl_weights_close(w);
    return rc;
}

static void run_usage(FILE *f, const cli_opt *opts, size_t n)
{
    fprintf(f,
            "usage: vitcl run MODEL_DIR --input PIXELS.npy --output OUT.npy [OPTIONS]\n"
            "PIXELS.npy is float32 [B, C, H, W] (or [C, H, W]) as transformers' processor gives "
            "pixel_values.\n"
            "Writes last_hidden_state [B, S, D] to OUT.npy; with --hidden-states also\n"
            "OUT.hidden_states.npy [L+1, B, S, D]; with a classifier, OUT.logits.npy [B, C].\n"
            "--precision: the linear layers' precision, fp32 (default) or bf16/fp16 where the\n"
            "device offers it (vitcl devices); every other op stays fp32.\n");
    cli_print_options(f, opts, n);
}

/* OUT.npy -> OUT.<suffix>.npy */
static void sibling_path(char *dst, size_t len, const char *out, const char *suffix)
{
    size_t n = strlen(out);
    if (n > 4 && !strcmp(out + n - 4, ".npy"))
        n -= 4;
    snprintf(dst, len, "%.*s.%s.npy", (int)n, out, suffix);
}

int cmd_run(int argc, char **argv)
{
    const char *dir = NULL, *input = NULL, *output = NULL, *backend = NULL, *device = NULL;
    vitcl_run_options opt = {.struct_size = sizeof opt};
    vitcl_load_options lo = {.struct_size = sizeof lo};
    const cli_opt opts[] = {
        {"--input", NULL, CLI_TEXT, "PIXELS.npy", &input, 0, 0},
        {"--output", NULL, CLI_TEXT, "OUT.npy", &output, 0, 0},
        {"--backend", NULL, CLI_TEXT, "NAME", &backend, 0, 0},
        {"--device", NULL, CLI_TEXT, "D", &device, 0, 0},
        {"--hidden-states", NULL, CLI_FLAG, NULL, &opt.output_hidden_states, 0, 0},
        {"--interpolate-pos-encoding", NULL, CLI_FLAG, NULL, &opt.interpolate_pos_encoding, 0,
         0},
        {"--precision", NULL, CLI_PRECISION, "fp32|bf16|fp16", &lo.precision, 0, 0},
    };
    size_t n_opts = sizeof opts / sizeof opts[0], n_pos = 0;
    int pr = cli_parse("run", argc, argv, opts, n_opts, &dir, 1, &n_pos);
    if (pr == CLI_HELP) {
        run_usage(stdout, opts, n_opts);
        return 0;
    }
    if (pr != CLI_PARSED || !dir || !input || !output) {
        run_usage(stderr, opts, n_opts);
        return 2;
    }
    vitcl_npy px = {0};
    vitcl_registry *reg = NULL;
    vitcl_backend *be = NULL;
    vitcl_model *m = NULL;
    vitcl_output *out = NULL;
    int rc = 1;
    if (vitcl_npy_read_f32(input, 0, &px)) {
        fprintf(stderr, "vitcl run: %s\n", vitcl_last_error());
        goto done;
    }
    if (px.ndim == 3) {
        px.shape[3] = px.shape[2];
        px.shape[2] = px.shape[1];
        px.shape[1] = px.shape[0];
        px.shape[0] = 1;
        px.ndim = 4;
    }
    if (vitcl_registry_open(NULL, &reg) || vitcl_backend_open(reg, backend, device, &be) ||
        vitcl_model_load_ex(be, dir, &lo, &m)) {
        fprintf(stderr, "vitcl run: %s\n", vitcl_last_error());
        goto done;
    }
    vitcl_model_config c;
    vitcl_model_get_config(m, &c);
    if (px.ndim != 4 || px.shape[1] != c.num_channels) {
        fprintf(stderr, "vitcl run: %s: expected pixel_values of shape [B, %zu, H, W]\n", input,
                c.num_channels);
        goto done;
    }
    size_t bad = cli_count_nonfinite(px.data, px.numel);
    if (bad)
        fprintf(stderr, "vitcl run: warning: %s holds %zu NaN or infinite value(s); the rows of "
                "the images they are in will be NaN\n", input, bad);
    if (vitcl_model_run(m, px.data, px.shape[0], px.shape[2], px.shape[3], &opt, &out)) {
        fprintf(stderr, "vitcl run: %s\n", vitcl_last_error());
        goto done;
    }
    size_t B, S, D;
    const float *lhs = vitcl_output_last_hidden_state(out, &B, &S, &D);
    size_t shape[4] = {B, S, D, 0};
    if (vitcl_npy_write_f32(output, lhs, 3, shape)) {
        fprintf(stderr, "vitcl run: %s\n", vitcl_last_error());
        goto done;
    }
    char path[4096];
    size_t nh = vitcl_output_num_hidden_states(out);
    if (nh) {
        size_t hs[4] = {nh, B, S, D};
        sibling_path(path, sizeof path, output, "hidden_states");
        if (vitcl_npy_write_f32(path, vitcl_output_hidden_state(out, 0), 4, hs)) {
            fprintf(stderr, "vitcl run: %s\n", vitcl_last_error());
            goto done;
        }
    }
    size_t nl;
    const float *logits = vitcl_output_logits(out, &nl);
    if (logits) {
        size_t ls[2] = {B, nl};
        sibling_path(path, sizeof path, output, "logits");
        if (vitcl_npy_write_f32(path, logits, 2, ls)) {
            fprintf(stderr, "vitcl run: %s\n", vitcl_last_error());
            goto done;
        }
    }
    fprintf(stderr, "vitcl run: %zu image(s) -> %s [%zu, %zu, %zu] on %s (%s), %s\n", B, output,
            B, S, D, vitcl_backend_name(be), vitcl_backend_device(be)->name, c.precision);
    rc = 0;
done:
    vitcl_output_free(out);
    vitcl_model_free(m);
    vitcl_backend_close(be);
    vitcl_registry_close(reg);
    vitcl_npy_free(&px);
    return rc;
}
