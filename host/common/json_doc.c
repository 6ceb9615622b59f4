/* host/common/json_doc.c - see json_doc.h. */
#include "json_doc.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "escape.h"

/* Refuses raw control characters and escaped NULs inside strings (Python's json refuses the
 * first; cJSON truncates a string at the second, where every reference reader sees more). */
static vitcl_status scan_strings(const char *t, size_t len, const char *name)
{
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        if (!in_str) {
            in_str = c == '"';
            continue;
        }
        if (c == '\\') {
            if (i + 5 < len && t[i + 1] == 'u' && !memcmp(t + i + 2, "0000", 4))
                return vitcl_fail(VITCL_ERR_FORMAT,
                                  "%s: a string holds an escaped NUL (\\u0000) at byte %zu; "
                                  "refused, as vitcl's strings end at a NUL and would read "
                                  "differently from Python's",
                                  name, i);
            i++;
        } else if (c == '"') {
            in_str = 0;
        } else if (c < 0x20) {
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: a string holds the control character 0x%02x at byte %zu "
                              "(invalid JSON)", name, c, i);
        }
    }
    return VITCL_OK;
}

typedef struct keyed {
    const char *key;
    size_t pos;
    cJSON *item;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Applies the duplicate policy to obj's members, then recurses into every member. */
static vitcl_status dedupe(cJSON *node, const char *name, vitcl_json_duplicates dups)
{
    if (cJSON_IsObject(node) && node->child && node->child->next) {
        size_t n = 0;
        for (cJSON *c = node->child; c; c = c->next)
            n++;
        keyed *k = malloc(n * sizeof *k);
        if (!k)
            return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
        size_t i = 0;
        for (cJSON *c = node->child; c; c = c->next, i++)
            k[i] = (keyed){c->string ? c->string : "", i, c};
        qsort(k, n, sizeof *k, cmp_keyed); /* O(n log n): a header may hold 100,000 keys */
        for (i = 0; i + 1 < n; i++) {
            if (strcmp(k[i].key, k[i + 1].key) != 0)
                continue;
            if (dups == VITCL_JSON_REFUSE_DUPLICATES) {
                char esc[4 * 64 + 1];
                vitcl_escape(esc, sizeof esc, k[i].key, strlen(k[i].key));
                free(k);
                return vitcl_fail(VITCL_ERR_FORMAT, "%s: key '%s' appears twice; refused, as readers "
                                  "differ on which one counts", name, esc);
            }
            /* k[i] is an earlier occurrence (sorted by position within a key): drop it */
            cJSON_Delete(cJSON_DetachItemViaPointer(node, k[i].item));
        }
        free(k);
    }
    for (cJSON *c = node->child; c; c = c->next) {
        vitcl_status st = dedupe(c, name, dups);
        if (st != VITCL_OK)
            return st;
    }
    return VITCL_OK;
}

vitcl_status vitcl_json_parse(const char *text, size_t len, const char *name,
                              vitcl_json_duplicates dups, cJSON **out)
{
    *out = NULL;
    vitcl_status st = scan_strings(text, len, name);
    if (st != VITCL_OK)
        return st;
    const char *end = NULL;
    cJSON *root = len ? cJSON_ParseWithLengthOpts(text, len, &end, 0) : NULL;
    if (!root)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: not valid JSON (near byte %zu)", name,
                          end && end >= text ? (size_t)(end - text) : (size_t)0);
    for (const char *p = end; p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: data after the top-level JSON value at byte %zu (Python's "
                              "json refuses it as 'Extra data')", name, (size_t)(p - text));
        }
    if ((st = dedupe(root, name, dups)) != VITCL_OK) {
        cJSON_Delete(root);
        return st;
    }
    *out = root;
    return VITCL_OK;
}
