/* host/weights/safetensors_index.c - reads a sharded checkpoint: model.safetensors.index.json (or
 * pytorch_model.bin.index.json, the same JSON) maps each tensor to a shard file in the same
 * folder; every shard is opened once by the format's reader and checked against the map. */
#include "weights_internal.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "json_doc.h"

typedef struct shard_ref {
    const char *tensor; /* key of weight_map (in the cJSON tree) */
    const char *shard;  /* value of weight_map */
} shard_ref;

static int cmp_by_shard(const void *a, const void *b)
{
    const shard_ref *x = a, *y = b;
    int c = strcmp(x->shard, y->shard);
    return c ? c : strcmp(x->tensor, y->tensor);
}

static int cmp_by_tensor(const void *a, const void *b)
{
    return strcmp(((const shard_ref *)a)->tensor, ((const shard_ref *)b)->tensor);
}

/* A shard must be a plain file name inside the folder. */
static int plain_name(const char *s)
{
    return s[0] != '\0' && strchr(s, '/') == NULL && strchr(s, '\\') == NULL &&
           strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && strstr(s, "..") == NULL;
}

/* True when the entries in [from, w->count) hold a tensor named `name`. */
static const vitcl_tensor_entry *find_in_range(const vitcl_weights *w, size_t from,
                                               const char *name)
{
    for (size_t i = from; i < w->count; i++)
        if (!strcmp(w->entries[i].name, name))
            return &w->entries[i];
    return NULL;
}

/* Opens each shard once and checks it holds exactly the tensors the map assigns to it. refs is
 * sorted by shard. */
static vitcl_status read_shards(vitcl_weights *w, const char *dir, const char *index_path,
                                weights_reader read, shard_ref *refs, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && !strcmp(refs[j].shard, refs[i].shard))
            j++;
        const char *shard_path = weights_path_join(w, dir, refs[i].shard);
        if (!shard_path)
            return VITCL_ERR_OUT_OF_MEMORY;
        size_t first = w->count;
        vitcl_status st = read(w, shard_path);
        if (st == VITCL_ERR_NOT_FOUND)
            return vitcl_fail(VITCL_ERR_NOT_FOUND,
                              "%s: shard '%s' named for tensor '%s' does not exist", index_path,
                              refs[i].shard, refs[i].tensor);
        if (st != VITCL_OK)
            return vitcl_fail_prefix(st, "%s: shard '%s': ", index_path, refs[i].shard);
        for (size_t k = i; k < j; k++)
            if (!find_in_range(w, first, refs[k].tensor))
                return vitcl_fail(VITCL_ERR_FORMAT,
                                  "%s: tensor '%s' is mapped to shard '%s', which does not hold "
                                  "it", index_path, refs[k].tensor, refs[k].shard);
        if (w->count - first != j - i) {
            /* The shard holds a tensor the map does not assign to it: name one. */
            for (size_t e = first; e < w->count; e++) {
                shard_ref key = {w->entries[e].name, refs[i].shard};
                if (!bsearch(&key, refs + i, j - i, sizeof *refs, cmp_by_tensor))
                    return vitcl_fail(VITCL_ERR_FORMAT,
                                      "%s: shard '%s' holds tensor '%s', which the weight_map "
                                      "does not assign to it", index_path, refs[i].shard,
                                      w->entries[e].name);
            }
        }
        i = j;
    }
    return VITCL_OK;
}

static vitcl_status parse_index(vitcl_weights *w, const char *dir, const char *path,
                                weights_reader read, const cJSON *root)
{
    if (!cJSON_IsObject(root))
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: the index is not a JSON object", path);
    const cJSON *map = NULL;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "weight_map") != 0)
            continue;
        if (map)
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: \"weight_map\" appears twice", path);
        map = c;
    }
    if (!cJSON_IsObject(map))
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: \"weight_map\" missing or not an object", path);
    size_t n = 0;
    for (const cJSON *c = map->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: weight_map entry '%s' is not a file name string", path,
                              c->string);
        if (!plain_name(c->valuestring))
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: tensor '%s' names shard '%.200s'; shards must be plain file "
                              "names inside the folder", path, c->string, c->valuestring);
        n++;
    }
    if (n > w->limits.max_tensors)
        return vitcl_fail(VITCL_ERR_LIMIT, "%s: %zu tensors is over the limit of %llu", path, n,
                          (unsigned long long)w->limits.max_tensors);
    if (n == 0)
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: weight_map is empty", path);
    shard_ref *refs = malloc(n * sizeof *refs);
    if (!refs)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    size_t k = 0;
    for (const cJSON *c = map->child; c; c = c->next, k++) {
        refs[k].tensor = c->string;
        refs[k].shard = c->valuestring;
    }
    vitcl_status st = VITCL_OK;
    qsort(refs, n, sizeof *refs, cmp_by_tensor);
    for (k = 1; k < n; k++)
        if (!strcmp(refs[k - 1].tensor, refs[k].tensor)) {
            st = vitcl_fail(VITCL_ERR_FORMAT, "%s: tensor '%s' appears twice in weight_map",
                            path, refs[k].tensor);
            break;
        }
    if (st == VITCL_OK) {
        qsort(refs, n, sizeof *refs, cmp_by_shard);
        st = read_shards(w, dir, path, read, refs, n);
    }
    free(refs);
    return st;
}

vitcl_status weights_read_index(vitcl_weights *w, const char *dir, const char *index_path,
                               weights_reader read)
{
    const uint8_t *text;
    size_t size;
    vitcl_status st = weights_map_file(w, index_path, &text, &size);
    if (st != VITCL_OK)
        return st;
    if (size > w->limits.max_header_bytes)
        return vitcl_fail(VITCL_ERR_LIMIT, "%s: index of %zu bytes is over the limit of %llu",
                          index_path, size, (unsigned long long)w->limits.max_header_bytes);
    if (!weights_utf8_valid(text, size))
        return vitcl_fail(VITCL_ERR_FORMAT, "%s: the index is not valid UTF-8", index_path);
    cJSON *root = NULL;
    if ((st = vitcl_json_parse((const char *)text, size, index_path,
                               VITCL_JSON_REFUSE_DUPLICATES, &root)) != VITCL_OK)
        return st;
    st = parse_index(w, dir, index_path, read, root);
    cJSON_Delete(root);
    return st;
}
