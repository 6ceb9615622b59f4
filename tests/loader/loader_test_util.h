/* tests/loader/loader_test_util.h - helpers shared by the loader tests. */
#ifndef VITCL_LOADER_TEST_UTIL_H
#define VITCL_LOADER_TEST_UTIL_H

#include "registry_private.h"

/* Unsets VITCL_PLUGIN_PATH, VITCL_BACKEND and VITCL_DEVICE (suite init). */
void loader_test_clear_env(void);

/* LOADER_TEST_DIR "/" file, in a static buffer overwritten by the next call. */
const char *loader_test_file(const char *file);

/* Sets VITCL_PLUGIN_PATH to the given files of the test directory (NULL-terminated list,
 * joined with ':') and opens a registry that searches only VITCL_PLUGIN_PATH. Asserts success. */
vitcl_registry *loader_test_open_files(const char *first, ...);

/* The reason the registry refused the candidate whose path ends in "/file", or NULL. */
const char *loader_test_refusal(const vitcl_registry *reg, const char *file);

/* 1 when some searched entry contains text. */
int loader_test_searched(const vitcl_registry *reg, const char *text);

/* 1 when the file is currently loaded in this process (dlopen with RTLD_NOLOAD). */
int loader_test_is_loaded(const char *path);

#endif
