/* host/image/preprocess_internal.h - preprocessor_config.json reading, shared between
 * preprocess_config.c (the JSON) and preprocess.c (the pipeline). Not installed. */
#ifndef VITCL_HOST_PREPROCESS_INTERNAL_H
#define VITCL_HOST_PREPROCESS_INTERNAL_H

#include <stddef.h>

#include "vitcl/image.h"

/* Fills c with ViTImageProcessorPil's defaults. */
void vitcl_preprocessor_default_config(vitcl_preprocessor_config *c);

/* Parses the JSON text of a preprocessor_config.json (path names it in errors) over the
 * defaults, then validates it (vitcl_preprocessor_check_config). */
vitcl_status vitcl_preprocessor_parse_config(const char *text, size_t len, const char *path,
                                             vitcl_preprocessor_config *c);

/* Reads model_dir/preprocessor_config.json; a missing file (or model_dir NULL) leaves the
 * defaults and sets *found to 0. */
vitcl_status vitcl_preprocessor_read_config(const char *model_dir, vitcl_preprocessor_config *c,
                                            int *found);

/* Refuses settings the pipeline cannot run (NEAREST, no target size, non-finite numbers). */
vitcl_status vitcl_preprocessor_check_config(const vitcl_preprocessor_config *c,
                                             const char *path);

#endif
