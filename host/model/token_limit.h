/* host/model/token_limit.h - the bound on the tokens of one image, and so on a run's work.
 *
 * A ViT's cost per layer grows with S·D² (the linear layers) and S²·D (attention), and its
 * attention scores take S² floats per head, where S = (H/P)·(W/P) + 1 tokens. Nothing else
 * bounds S: a config inside the size limits (image 1024, patch 1) has a million tokens, and an
 * image resized by `shortest_edge` can have any aspect ratio. vitcl refuses, before any work,
 * an image (or a config's native size) with more tokens than VITCL_DEFAULT_MAX_TOKENS, or than
 * the environment variable VITCL_MAX_TOKENS when it is set (a positive integer). The default,
 * 16384 tokens, is a 128x128 patch grid: twelve times the largest released ViT-MSN checkpoint
 * (ViT-L/7 at 224: 1025 tokens) at its native size.
 */
#ifndef VITCL_HOST_TOKEN_LIMIT_H
#define VITCL_HOST_TOKEN_LIMIT_H

#include <stddef.h>

#include "vitcl/status.h"

#define VITCL_DEFAULT_MAX_TOKENS 16384u

/* The token limit: VITCL_MAX_TOKENS when set to a positive integer, else the default. An
 * unparsable value gives VITCL_ERR_INVALID_ARGUMENT naming the variable. Thread-safe as far as
 * getenv is (no concurrent setenv). */
vitcl_status vitcl_max_tokens(size_t *out);

/* VITCL_OK when a gh x gw patch grid plus the CLS token is within the limit; otherwise
 * VITCL_ERR_LIMIT with a message "WHAT: N tokens (...) exceed the token limit of M
 * (VITCL_MAX_TOKENS ...)". what names the input (a file, "input 1x3x224x224"). */
vitcl_status vitcl_check_tokens(size_t gh, size_t gw, const char *what);

#endif
