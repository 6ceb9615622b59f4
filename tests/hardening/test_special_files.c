/* tests/hardening/test_special_files.c - a FIFO, a directory or a character device given where
 * vitcl expects a file (config.json, preprocessor_config.json, model.safetensors, a shard, the
 * shard index, pytorch_model.bin, an image, an .npy) is refused at once with a message that names
 * the path and what it is; nothing blocks in open(). Every reader goes through
 * host/common/file_open.c. The FIFOs have no writer: a plain open() of one would never return, so
 * each case runs under a watchdog alarm that fails the test instead of hanging the suite. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "file_open.h"
#include "hardening_util.h"
#include "leak_check.h"
#include "npy.h"
#include "vitcl/image.h"
#include "weights.h"

static char dir[128];

static void setup(void)
{
    harden_mkdtemp("special", dir, sizeof dir);
    alarm(30); /* hang guard: SIGALRM kills the worker, which fails the test */
}

static void teardown(void)
{
    alarm(0);
    harden_rmtree(dir);
    leak_check_expect_none();
}

TestSuite(special_files, .init = setup, .fini = teardown);

static void expect_refused(vitcl_status st, const char *name, const char *kind)
{
    cr_assert_neq(st, VITCL_OK, "%s: accepted", name);
    const char *msg = vitcl_last_error();
    cr_expect(strstr(msg, name) != NULL, "%s: the message does not name the file: %s", name, msg);
    cr_expect(strstr(msg, kind) != NULL, "%s: the message does not say '%s': %s", name, kind,
              msg);
}

Test(special_files, helper_refuses_fifo_directory_and_device)
{
    harden_mkfifo(dir, "fifo");
    char path[256];
    int fd;
    snprintf(path, sizeof path, "%s/fifo", dir);
    expect_refused(vitcl_file_open_regular(path, &fd, NULL), "fifo", "a FIFO");
    cr_expect_eq(fd, -1);
    expect_refused(vitcl_file_open_regular(dir, &fd, NULL), dir, "a directory");
    expect_refused(vitcl_file_open_regular("/dev/null", &fd, NULL), "/dev/null",
                   "a character device");
    char *data;
    size_t len;
    expect_refused(vitcl_file_read_all("/dev/zero", 1 << 20, &data, &len), "/dev/zero",
                   "a character device");
    cr_expect_null(data);
    cr_expect_eq(vitcl_file_read_all("/nonexistent/x", 10, &data, &len), VITCL_ERR_NOT_FOUND);
    /* a regular file still reads, NUL-terminated */
    harden_write(dir, "ok.txt", "abc", 3);
    snprintf(path, sizeof path, "%s/ok.txt", dir);
    cr_assert_eq(vitcl_file_read_all(path, 3, &data, &len), VITCL_OK, "%s", vitcl_last_error());
    cr_expect_eq(len, 3);
    cr_expect_str_eq(data, "abc");
    free(data);
    cr_expect_eq(vitcl_file_read_all(path, 2, &data, &len), VITCL_ERR_LIMIT);
}

Test(special_files, config_json_fifo)
{
    harden_mkfifo(dir, "config.json");
    char path[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    vitcl_vit_config c;
    expect_refused(vitcl_config_load(path, &c), "config.json", "a FIFO");
}

Test(special_files, preprocessor_config_fifo_and_directory)
{
    vitcl_preprocessor *pp = NULL;
    harden_mkfifo(dir, "preprocessor_config.json");
    expect_refused(vitcl_preprocessor_load(dir, &pp), "preprocessor_config.json", "a FIFO");
    cr_expect_null(pp);
    char sub[256];
    snprintf(sub, sizeof sub, "%s/preprocessor_config.json", dir);
    unlink(sub);
    cr_assert_eq(mkdir(sub, 0700), 0);
    expect_refused(vitcl_preprocessor_load(dir, &pp), "preprocessor_config.json", "a directory");
    rmdir(sub);
}

Test(special_files, weight_files_fifo)
{
    const char *names[] = {"model.safetensors", "pytorch_model.bin"};
    for (size_t i = 0; i < 2; i++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s/%zu", dir, i);
        cr_assert_eq(mkdir(sub, 0700), 0);
        harden_link_model("d48_h3_l2_p16_s64", sub);
        /* keep only the one weight file under test */
        char other[300];
        snprintf(other, sizeof other, "%s/%s", sub, names[1 - i]);
        unlink(other);
        harden_mkfifo(sub, names[i]);
        vitcl_weights *w = NULL;
        expect_refused(vitcl_weights_open(sub, NULL, &w), names[i], "a FIFO");
        cr_expect_null(w);
        char file[300];
        snprintf(file, sizeof file, "%s/%s", sub, names[i]);
        expect_refused(vitcl_weights_open_file(file, NULL, &w), names[i], "a FIFO");
    }
}

Test(special_files, shard_and_index_fifo)
{
    harden_link_model("sharded_d56_h7_l3_p6_s36", dir);
    unlink(strcat(strcpy((char[300]){0}, dir), "/pytorch_model.bin"));
    harden_mkfifo(dir, "model-00003-of-00004.safetensors");
    vitcl_weights *w = NULL;
    expect_refused(vitcl_weights_open(dir, NULL, &w), "model-00003-of-00004.safetensors",
                   "a FIFO");
    harden_mkfifo(dir, "model.safetensors.index.json");
    expect_refused(vitcl_weights_open(dir, NULL, &w), "model.safetensors.index.json", "a FIFO");
    cr_expect_null(w);
}

Test(special_files, image_and_npy_fifo)
{
    harden_mkfifo(dir, "image.png");
    harden_mkfifo(dir, "pixels.npy");
    char path[256];
    vitcl_image *img = NULL;
    snprintf(path, sizeof path, "%s/image.png", dir);
    expect_refused(vitcl_image_load_file(path, NULL, &img), "image.png", "a FIFO");
    cr_expect_null(img);
    expect_refused(vitcl_image_load_file("/dev/zero", NULL, &img), "/dev/zero",
                   "a character device");
    vitcl_npy npy;
    snprintf(path, sizeof path, "%s/pixels.npy", dir);
    expect_refused(vitcl_npy_read_f32(path, 0, &npy), "pixels.npy", "a FIFO");
}

/* The program end to end. `info` (config.json, model.safetensors) and `run` (its input .npy,
 * read before any backend is opened) must answer within one second; a blocking open() would
 * never answer, and the guard kills it. `embed` opens a backend and loads the model before it
 * reads the preprocessor config and the images, so its guard allows for that (10 s, sanitizer
 * builds with PoCL); the FIFO itself is refused at once there too. */
Test(special_files, cli_returns_at_once_on_fifos)
{
    harden_link_model("d48_h3_l2_p16_s64", dir);
    char err[8192];
    const char *info[] = {"info", dir, NULL};
    const char *info_files[] = {"model.safetensors", "config.json"};
    for (size_t i = 0; i < 2; i++) {
        harden_mkfifo(dir, info_files[i]);
        int rc = harden_cli(info, 1, err, sizeof err);
        cr_expect_eq(rc, 1, "info with %s a FIFO: exit %d (-2: no answer within 1 s): %s",
                     info_files[i], rc, err);
        cr_expect(strstr(err, "a FIFO") && strstr(err, info_files[i]), "%s: %s", info_files[i],
                  err);
    }
    harden_mkfifo(dir, "in.npy");
    char npy[256];
    snprintf(npy, sizeof npy, "%s/in.npy", dir);
    const char *run[] = {"run", harden_model_dir("d48_h3_l2_p16_s64"), "--input", npy,
                         "--output", "/dev/null", "--backend", "ref", NULL};
    int rc = harden_cli(run, 1, err, sizeof err);
    cr_expect_eq(rc, 1, "run on a FIFO input: exit %d (-2: no answer within 1 s): %s", rc, err);
    cr_expect(strstr(err, "a FIFO") && strstr(err, "in.npy"), "%s", err);

    /* a fresh folder for embed: the model intact, the image and then the processor a FIFO */
    char sub[256];
    snprintf(sub, sizeof sub, "%s/embed", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    harden_link_model("d48_h3_l2_p16_s64", sub);
    harden_mkfifo(sub, "image.png");
    char img[300];
    snprintf(img, sizeof img, "%s/image.png", sub);
    const char *embed[] = {"embed", sub, img, "--backend", "ref", "-o", "/dev/null", NULL};
    rc = harden_cli(embed, 10, err, sizeof err);
    cr_expect_eq(rc, 1, "embed on a FIFO image: exit %d (-2: blocked): %s", rc, err);
    cr_expect(strstr(err, "a FIFO") && strstr(err, "image.png"), "%s", err);
    harden_mkfifo(sub, "preprocessor_config.json");
    rc = harden_cli(embed, 10, err, sizeof err);
    cr_expect_eq(rc, 1, "embed with a FIFO preprocessor_config.json: exit %d (-2: blocked): %s",
                 rc, err);
    cr_expect(strstr(err, "a FIFO") && strstr(err, "preprocessor_config.json"), "%s", err);
}
