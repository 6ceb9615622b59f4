/* host/model/precision.h - names of the compute precisions (vitcl_precision), for messages.
 *
 * The public pair vitcl_precision_name / vitcl_precision_parse lives in vitcl.h; this adds the
 * list form the library's refusals and `vitcl devices` print. Internal to libvitcl and the CLI.
 * Thread-safe: no state.
 */
#ifndef VITCL_HOST_PRECISION_H
#define VITCL_HOST_PRECISION_H

#include <stddef.h>
#include <stdint.h>

/* Writes the names of the precisions set in `bits` (VITCL_PRECISION_BIT), in enum order and
 * separated by ", ", into buf (always NUL-terminated when len > 0); unknown bits are skipped.
 * fp32 is always listed, since every device runs it. Returns buf. */
char *vitcl_precision_list(uint32_t bits, char *buf, size_t len);

#endif
