/* host/common/json_doc.h - parse a JSON file the way the reference reader does, or refuse it.
 *
 * cJSON alone differs from Python's json module (which transformers uses for config.json and
 * preprocessor_config.json) and from the safetensors reader in ways a hostile file can use:
 * it keeps the first of two equal keys where Python keeps the last, stops at an escaped NUL
 * ("vit\u0000x" reads as "vit"), takes raw control characters inside strings, and its callers
 * must check for data after the top-level value themselves. vitcl_json_parse closes each gap:
 * text after the value (other than JSON whitespace) and control characters or escaped NULs in
 * strings are refused, and duplicate keys, at every depth, either keep the last value (exactly
 * Python's dict) or are refused, as the caller asks.
 */
#ifndef VITCL_HOST_JSON_DOC_H
#define VITCL_HOST_JSON_DOC_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "vitcl/status.h"

typedef enum vitcl_json_duplicates {
    VITCL_JSON_LAST_WINS,       /* as Python's json.loads: the last value of a repeated key */
    VITCL_JSON_REFUSE_DUPLICATES /* VITCL_ERR_FORMAT naming the key */
} vitcl_json_duplicates;

/* Parses len bytes of text (need not be NUL-terminated) into *out (owned by the caller:
 * cJSON_Delete). name is used in messages. Errors (VITCL_ERR_FORMAT, *out NULL): not valid
 * JSON (with the byte offset), data after the top-level value, a control character or an
 * escaped NUL in a string, a duplicate key under VITCL_JSON_REFUSE_DUPLICATES; keys in
 * messages are escaped (vitcl_escape). VITCL_ERR_OUT_OF_MEMORY. Thread-safe. */
vitcl_status vitcl_json_parse(const char *text, size_t len, const char *name,
                              vitcl_json_duplicates dups, cJSON **out);

#endif
