/* tests/fuzz/test_fuzz_regressions.c - replays the fuzz seed corpora and the inputs fuzzers once
 * crashed on through the same entry points as the fuzz binaries (fuzz_targets.h).
 *
 * corpus/<target>/ holds small valid files: each must parse (VITCL_OK), which shows the harness
 * reaches the parser's success path. regressions/<target>/ holds inputs that crashed, leaked or
 * hit undefined behaviour before a fix: each must now return cleanly, with a defined status that
 * is not VITCL_ERR_INTERNAL and, when not OK, a message. Run under -Db_sanitize=address,undefined
 * to catch what a plain build would not. Both folders must exist for every target (a README in
 * regressions/<target>/ keeps an empty one in git). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_targets.h"
#include "leak_check.h"
#include "vitcl/vitcl.h"

#define FUZZ_DIR VITCL_SOURCE_ROOT "/tests/fuzz"

typedef vitcl_status (*target_fn)(const uint8_t *, size_t);

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert(n >= 0);
    cr_assert_eq(fseek(f, 0, SEEK_SET), 0);
    uint8_t *buf = malloc((size_t)n + 1);
    cr_assert(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n, "short read of %s", path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Feeds every regular file of FUZZ_DIR/<kind>/<target> to fn; returns how many. A missing
 * folder fails the test (a renamed or lost folder must not pass as "nothing to replay"). */
static size_t replay(const char *kind, const char *target, target_fn fn, int must_parse)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s/%s", FUZZ_DIR, kind, target);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s is missing: every fuzz target has a %s folder", dir, kind);
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "README"))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        uint8_t *buf = slurp(path, &len);
        vitcl_status st = fn(buf, len);
        free(buf);
        if (must_parse)
            cr_expect_eq(st, VITCL_OK, "%s: seed does not parse: %s: %s", path,
                         vitcl_status_name(st), vitcl_last_error());
        cr_expect(st >= VITCL_OK && st < VITCL_ERR_INTERNAL, "%s: status %d", path, (int)st);
        if (st != VITCL_OK)
            cr_expect(vitcl_last_error()[0] != '\0', "%s: %s without a message", path,
                      vitcl_status_name(st));
        count++;
    }
    closedir(d);
    leak_check_expect_none();
    return count;
}

#define FUZZ_REPLAY_TESTS(name)                                                       \
    Test(fuzz_corpus, name)                                                           \
    {                                                                                 \
        size_t n = replay("corpus", #name, fuzz_##name, 1);                           \
        cr_assert_geq(n, 2, "corpus/%s needs at least two seed files", #name);        \
    }                                                                                 \
    Test(fuzz_regressions, name)                                                      \
    {                                                                                 \
        replay("regressions", #name, fuzz_##name, 0);                                 \
    }

FUZZ_REPLAY_TESTS(npy)
FUZZ_REPLAY_TESTS(config)
FUZZ_REPLAY_TESTS(preprocessor_config)
FUZZ_REPLAY_TESTS(image)
FUZZ_REPLAY_TESTS(safetensors)
FUZZ_REPLAY_TESTS(pickle)
FUZZ_REPLAY_TESTS(torch_zip)
