/* host/common/escape.h - make bytes from a file safe to print.
 *
 * Names and strings read from files (tensor names, JSON keys, model_type, pickle globals) may
 * hold terminal escape sequences or newlines that would forge output on a user's terminal.
 * Messages show them escaped: printable ASCII as is, every other byte as \xNN.
 */
#ifndef VITCL_HOST_ESCAPE_H
#define VITCL_HOST_ESCAPE_H

#include <stddef.h>

/* Writes n bytes of s to out (cap bytes, NUL-terminated, cap >= 4) as printable ASCII with
 * every other byte (and the backslash) as \xNN; ends with "..." when out is too small.
 * Returns out. Thread-safe. */
char *vitcl_escape(char *out, size_t cap, const char *s, size_t n);

/* Rewrites the NUL-terminated text in place so that it holds no byte that moves a terminal's
 * cursor or starts an escape sequence: C0 controls other than '\n' and '\t', DEL and the C1
 * controls (UTF-8 C2 80..C2 9F, and lone bytes 0x80..0x9f) become '?'. Other UTF-8 is kept,
 * so paths with non-ASCII names still read well. Used on every error message. */
void vitcl_defuse_controls(char *text);

#endif
