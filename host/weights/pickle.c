/* host/weights/pickle.c - the restricted pickle reader for torch.save'd state dicts (pickle.h).
 *
 * Values live in a pool freed in one sweep, so the memo and the stack may share them freely and
 * every error path frees everything. Each opcode creates at most one value, so memory stays
 * proportional to the pickle's size (itself bounded by the caller), with hard caps below. */
#include "pickle.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "escape.h"
#include "weights_internal.h"

#define PK_MAX_STACK (1u << 20)
#define PK_MAX_MARKS 4096u
#define PK_MAX_MEMO (1u << 20)
#define PK_MAX_STRING (1u << 20)
#define PK_MAX_VALUES (1u << 22)
#define PK_MAX_GLOBAL_LINE 256u

typedef enum pv_kind {
    PV_NONE, PV_BOOL, PV_INT, PV_FLOAT, PV_STR, PV_TUPLE, PV_LIST, PV_DICT, PV_GLOBAL,
    PV_STORAGE, PV_TENSOR
} pv_kind;

typedef enum pv_global {
    G_ORDERED_DICT, G_REBUILD_TENSOR_V2, G_REBUILD_PARAMETER, G_FLOAT_STORAGE, G_HALF_STORAGE,
    G_BF16_STORAGE
} pv_global;

static const struct {
    const char *module, *name;
    pv_global g;
} accepted_globals[] = {
    {"collections", "OrderedDict", G_ORDERED_DICT},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR_V2},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER},
    {"torch", "FloatStorage", G_FLOAT_STORAGE},
    {"torch", "HalfStorage", G_HALF_STORAGE},
    {"torch", "BFloat16Storage", G_BF16_STORAGE},
};

typedef struct pv pv;
struct pv {
    pv_kind kind;
    union {
        int64_t i;   /* PV_INT, PV_BOOL */
        double f;    /* PV_FLOAT */
        struct {
            char *s;
            size_t len;
        } str;       /* PV_STR */
        struct {
            pv **items;
            size_t n, cap;
        } seq;       /* PV_TUPLE, PV_LIST; PV_DICT as key, value pairs */
        pv_global g; /* PV_GLOBAL */
        struct {
            vitcl_dtype dtype;
            const char *key;
            uint64_t numel;
        } storage;   /* PV_STORAGE */
        struct {
            const pv *storage;
            uint64_t offset;
            const pv *size, *stride; /* tuples of PV_INT, checked */
        } tensor;    /* PV_TENSOR */
    } u;
};

typedef struct pool {
    pv **all;
    size_t n, cap;
} pool;

typedef struct pk {
    const uint8_t *buf;
    size_t len, pos, op_pos;
    const char *file;
    pool *values;
    pv **stack;
    size_t sp, cap_stack;
    size_t marks[PK_MAX_MARKS];
    size_t nmarks;
    pv **memo;
    size_t cap_memo, memo_count;
    vitcl_status err; /* status of the last failure whose message is set */
} pk;

static const char *kind_name(pv_kind k)
{
    static const char *const names[] = {"None", "bool", "int", "float", "str", "tuple", "list",
                                        "dict", "global", "storage", "tensor"};
    return names[k];
}

static const char *global_name(pv_global g)
{
    for (size_t i = 0; i < sizeof accepted_globals / sizeof accepted_globals[0]; i++)
        if (accepted_globals[i].g == g)
            return accepted_globals[i].name;
    return "?";
}

static vitcl_status bad(pk *p, const char *what)
{
    p->err = VITCL_ERR_FORMAT;
    return vitcl_fail(VITCL_ERR_FORMAT, "%s: pickle byte %zu (opcode 0x%02x): %s", p->file,
                      p->op_pos, p->buf[p->op_pos], what);
}

static vitcl_status oom(pk *p)
{
    p->err = VITCL_ERR_OUT_OF_MEMORY;
    return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory reading the pickle", p->file);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2; /* need is bounded by the PK_MAX_* caps */
    void *q = realloc(*arr, ncap * elem);
    if (!q)
        return 0;
    *arr = q;
    *cap = ncap;
    return 1;
}

static void pool_free(pool *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        pv *v = pl->all[i];
        if (v->kind == PV_STR)
            free(v->u.str.s);
        else if (v->kind == PV_TUPLE || v->kind == PV_LIST || v->kind == PV_DICT)
            free(v->u.seq.items);
        free(v);
    }
    free(pl->all);
    free(pl);
}

static pv *new_value(pk *p, pv_kind kind)
{
    if (p->values->n >= PK_MAX_VALUES) {
        bad(p, "too many values in the pickle");
        return NULL;
    }
    if (!grow((void **)&p->values->all, &p->values->cap, p->values->n + 1, sizeof(pv *))) {
        oom(p);
        return NULL;
    }
    pv *v = calloc(1, sizeof *v);
    if (!v) {
        oom(p);
        return NULL;
    }
    v->kind = kind;
    p->values->all[p->values->n++] = v;
    return v;
}

static vitcl_status push(pk *p, pv *v)
{
    if (!v)
        return p->err; /* message set by new_value */
    if (p->sp >= PK_MAX_STACK)
        return bad(p, "stack deeper than the limit");
    if (!grow((void **)&p->stack, &p->cap_stack, p->sp + 1, sizeof(pv *)))
        return oom(p);
    p->stack[p->sp++] = v;
    return VITCL_OK;
}

/* Pops the top value; NULL (message set) when the stack above the last mark is empty. */
static pv *pop(pk *p)
{
    size_t floor = p->nmarks ? p->marks[p->nmarks - 1] : 0;
    if (p->sp <= floor) {
        bad(p, "stack underflow");
        return NULL;
    }
    return p->stack[--p->sp];
}

static pv *top(pk *p)
{
    size_t floor = p->nmarks ? p->marks[p->nmarks - 1] : 0;
    if (p->sp <= floor) {
        bad(p, "stack underflow");
        return NULL;
    }
    return p->stack[p->sp - 1];
}

/* Pops the last mark; *from is where the items above it start. */
static vitcl_status pop_mark(pk *p, size_t *from)
{
    *from = p->sp;
    if (p->nmarks == 0)
        return bad(p, "no MARK to close");
    *from = p->marks[--p->nmarks];
    return VITCL_OK;
}

static int need(const pk *p, size_t n)
{
    return p->len - p->pos >= n;
}

static uint64_t le(const uint8_t *b, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = (v << 8) | b[i];
    return v;
}

static vitcl_status seq_append(pk *p, pv *seq, pv *item)
{
    if (!grow((void **)&seq->u.seq.items, &seq->u.seq.cap, seq->u.seq.n + 1, sizeof(pv *)))
        return oom(p);
    seq->u.seq.items[seq->u.seq.n++] = item;
    return VITCL_OK;
}

/* A tuple of the stack items [from, sp), which are popped. */
static vitcl_status make_tuple(pk *p, size_t from)
{
    pv *t = new_value(p, PV_TUPLE);
    if (!t)
        return p->err;
    size_t n = p->sp - from;
    if (n) {
        t->u.seq.items = malloc(n * sizeof(pv *));
        if (!t->u.seq.items)
            return oom(p);
        memcpy(t->u.seq.items, p->stack + from, n * sizeof(pv *));
        t->u.seq.n = t->u.seq.cap = n;
    }
    p->sp = from;
    return push(p, t);
}

static vitcl_status read_string(pk *p, size_t lenbytes)
{
    if (!need(p, lenbytes))
        return bad(p, "truncated string length");
    uint64_t n = le(p->buf + p->pos, lenbytes);
    p->pos += lenbytes;
    if (n > PK_MAX_STRING)
        return bad(p, "string longer than the limit");
    if (!need(p, (size_t)n))
        return bad(p, "string runs past the end of the pickle");
    const uint8_t *s = p->buf + p->pos;
    if (memchr(s, 0, (size_t)n) || !weights_utf8_valid(s, (size_t)n))
        return bad(p, "string is not NUL-free UTF-8");
    pv *v = new_value(p, PV_STR);
    if (!v)
        return p->err;
    v->u.str.s = malloc((size_t)n + 1);
    if (!v->u.str.s)
        return oom(p);
    memcpy(v->u.str.s, s, (size_t)n);
    v->u.str.s[n] = '\0';
    v->u.str.len = (size_t)n;
    p->pos += (size_t)n;
    return push(p, v);
}

static vitcl_status push_int(pk *p, int64_t value)
{
    pv *v = new_value(p, PV_INT);
    if (!v)
        return p->err;
    v->u.i = value;
    return push(p, v);
}

static vitcl_status read_long(pk *p, size_t lenbytes)
{
    if (!need(p, lenbytes))
        return bad(p, "truncated LONG length");
    uint64_t n = le(p->buf + p->pos, lenbytes);
    p->pos += lenbytes;
    if (n > 8)
        return bad(p, "integer wider than 64 bits");
    if (!need(p, (size_t)n))
        return bad(p, "integer runs past the end of the pickle");
    uint64_t u = le(p->buf + p->pos, (size_t)n);
    if (n > 0 && n < 8 && (p->buf[p->pos + n - 1] & 0x80))
        u |= ~0ull << (8 * n); /* sign-extend */
    p->pos += (size_t)n;
    return push_int(p, (int64_t)u);
}

/* Resolves module.name against the accepted globals and pushes it. */
static vitcl_status push_global(pk *p, const char *module, size_t mlen, const char *name,
                                size_t nlen)
{
    for (size_t i = 0; i < sizeof accepted_globals / sizeof accepted_globals[0]; i++)
        if (strlen(accepted_globals[i].module) == mlen &&
            strlen(accepted_globals[i].name) == nlen &&
            !memcmp(accepted_globals[i].module, module, mlen) &&
            !memcmp(accepted_globals[i].name, name, nlen)) {
            pv *v = new_value(p, PV_GLOBAL);
            if (!v)
                return p->err;
            v->u.g = accepted_globals[i].g;
            return push(p, v);
        }
    char m[4 * 128 + 4], n[4 * 128 + 4];
    vitcl_escape(m, sizeof m, module, mlen);
    vitcl_escape(n, sizeof n, name, nlen);
    p->err = VITCL_ERR_FORMAT;
    return vitcl_fail(VITCL_ERR_FORMAT,
                      "pickle in %s names global '%s.%s'; only a state dict's globals are "
                      "accepted", p->file, m, n);
}

/* GLOBAL: "module\nname\n". */
static vitcl_status read_global_lines(pk *p)
{
    const char *line[2];
    size_t n[2];
    for (int k = 0; k < 2; k++) {
        const uint8_t *start = p->buf + p->pos;
        size_t avail = p->len - p->pos;
        if (avail > PK_MAX_GLOBAL_LINE)
            avail = PK_MAX_GLOBAL_LINE;
        const uint8_t *nl = memchr(start, '\n', avail);
        if (!nl)
            return bad(p, "GLOBAL name unterminated or too long");
        line[k] = (const char *)start;
        n[k] = (size_t)(nl - start);
        p->pos += n[k] + 1;
    }
    return push_global(p, line[0], n[0], line[1], n[1]);
}

static vitcl_status stack_global(pk *p)
{
    pv *name = pop(p);
    pv *module = name ? pop(p) : NULL;
    if (!module)
        return p->err;
    if (module->kind != PV_STR || name->kind != PV_STR)
        return bad(p, "STACK_GLOBAL needs two strings");
    return push_global(p, module->u.str.s, module->u.str.len, name->u.str.s, name->u.str.len);
}

static int is_int_tuple(const pv *t, size_t max_n, int non_negative)
{
    if (t->kind != PV_TUPLE || t->u.seq.n > max_n)
        return 0;
    for (size_t i = 0; i < t->u.seq.n; i++)
        if (t->u.seq.items[i]->kind != PV_INT || (non_negative && t->u.seq.items[i]->u.i < 0))
            return 0;
    return 1;
}

/* BINPERSID: ('storage', storage class, key, location, numel). */
static vitcl_status persistent_load(pk *p)
{
    pv *pid = pop(p);
    if (!pid)
        return p->err;
    pv **it = pid->u.seq.items;
    if (pid->kind != PV_TUPLE || pid->u.seq.n != 5 || it[0]->kind != PV_STR ||
        strcmp(it[0]->u.str.s, "storage") != 0)
        return bad(p, "persistent id is not a ('storage', class, key, location, numel) tuple");
    if (it[1]->kind != PV_GLOBAL ||
        (it[1]->u.g != G_FLOAT_STORAGE && it[1]->u.g != G_HALF_STORAGE &&
         it[1]->u.g != G_BF16_STORAGE))
        return bad(p, "persistent id names no Float, Half or BFloat16 storage class");
    if (it[2]->kind != PV_STR || it[3]->kind != PV_STR || it[4]->kind != PV_INT ||
        it[4]->u.i < 0)
        return bad(p, "persistent id needs a string key, a string location and a count");
    pv *s = new_value(p, PV_STORAGE);
    if (!s)
        return p->err;
    s->u.storage.dtype = it[1]->u.g == G_FLOAT_STORAGE  ? VITCL_DTYPE_F32
                         : it[1]->u.g == G_HALF_STORAGE ? VITCL_DTYPE_F16
                                                        : VITCL_DTYPE_BF16;
    s->u.storage.key = it[2]->u.str.s;
    s->u.storage.numel = (uint64_t)it[4]->u.i;
    return push(p, s);
}

/* REDUCE: applies one of the accepted callables; nothing else is callable. */
static vitcl_status reduce(pk *p)
{
    pv *args = pop(p);
    pv *fn = args ? pop(p) : NULL;
    if (!fn)
        return p->err;
    if (fn->kind != PV_GLOBAL)
        return bad(p, "REDUCE applied to a value that is not a global");
    if (args->kind != PV_TUPLE)
        return bad(p, "REDUCE arguments are not a tuple");
    pv **a = args->u.seq.items;
    size_t n = args->u.seq.n;
    switch (fn->u.g) {
    case G_ORDERED_DICT:
        if (n != 0)
            return bad(p, "collections.OrderedDict called with arguments");
        return push(p, new_value(p, PV_DICT));
    case G_REBUILD_PARAMETER:
        if (n != 3 || a[0]->kind != PV_TENSOR || a[1]->kind != PV_BOOL || a[2]->kind != PV_DICT)
            return bad(p, "_rebuild_parameter needs (tensor, requires_grad, backward_hooks)");
        return push(p, a[0]);
    case G_REBUILD_TENSOR_V2: {
        if ((n != 6 && n != 7) || a[0]->kind != PV_STORAGE || a[1]->kind != PV_INT ||
            a[1]->u.i < 0 || !is_int_tuple(a[2], VITCL_WEIGHTS_MAX_DIMS, 1) ||
            !is_int_tuple(a[3], VITCL_WEIGHTS_MAX_DIMS, 0) ||
            a[2]->u.seq.n != a[3]->u.seq.n || a[4]->kind != PV_BOOL || a[5]->kind != PV_DICT ||
            (n == 7 && a[6]->kind != PV_DICT && a[6]->kind != PV_NONE))
            return bad(p, "_rebuild_tensor_v2 needs (storage, offset, size, stride, "
                          "requires_grad, backward_hooks[, metadata]) with at most 8 dimensions");
        pv *t = new_value(p, PV_TENSOR);
        if (!t)
            return p->err;
        t->u.tensor.storage = a[0];
        t->u.tensor.offset = (uint64_t)a[1]->u.i;
        t->u.tensor.size = a[2];
        t->u.tensor.stride = a[3];
        return push(p, t);
    }
    case G_FLOAT_STORAGE:
    case G_HALF_STORAGE:
    case G_BF16_STORAGE:
        break;
    }
    return vitcl_fail(VITCL_ERR_FORMAT,
                      "%s: pickle byte %zu: REDUCE applied to 'torch.%s', which is not callable "
                      "here", p->file, p->op_pos, global_name(fn->u.g));
}

/* SETITEM(S) / APPEND(S): moves stack items [from, sp) into the container below them. */
static vitcl_status fill(pk *p, size_t from, pv_kind want)
{
    if (from == 0 || from <= (p->nmarks ? p->marks[p->nmarks - 1] : 0))
        return bad(p, "no container below the items");
    pv *c = p->stack[from - 1];
    if (c->kind != want)
        return bad(p, want == PV_DICT ? "SETITEM target is not a dict"
                                      : "APPEND target is not a list");
    if (want == PV_DICT && (p->sp - from) % 2 != 0)
        return bad(p, "SETITEMS with an odd number of items");
    for (size_t i = from; i < p->sp; i++) {
        vitcl_status st = seq_append(p, c, p->stack[i]);
        if (st != VITCL_OK)
            return st;
    }
    p->sp = from;
    return VITCL_OK;
}

static vitcl_status memo_put(pk *p, uint64_t index)
{
    pv *v = top(p);
    if (!v)
        return p->err;
    if (index >= PK_MAX_MEMO)
        return bad(p, "memo index over the limit");
    if (index >= p->cap_memo) {
        size_t old = p->cap_memo;
        if (!grow((void **)&p->memo, &p->cap_memo, (size_t)index + 1, sizeof(pv *)))
            return oom(p);
        memset(p->memo + old, 0, (p->cap_memo - old) * sizeof(pv *));
    }
    if (!p->memo[index])
        p->memo_count++;
    p->memo[index] = v;
    return VITCL_OK;
}

static vitcl_status memo_get(pk *p, uint64_t index)
{
    if (index >= p->cap_memo || !p->memo[index])
        return bad(p, "memo entry read before it was written");
    return push(p, p->memo[index]);
}

/* Reads an n-byte little-endian argument. */
static vitcl_status arg(pk *p, size_t n, uint64_t *v)
{
    if (!need(p, n))
        return bad(p, "opcode argument runs past the end of the pickle");
    *v = le(p->buf + p->pos, n);
    p->pos += n;
    return VITCL_OK;
}

/* Runs opcodes until STOP; *result is the value STOP pops. */
static vitcl_status run(pk *p, pv **result)
{
    for (;;) {
        if (p->pos >= p->len) {
            p->op_pos = p->len ? p->len - 1 : 0;
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: pickle ends at byte %zu without STOP (truncated)", p->file,
                              p->len);
        }
        p->op_pos = p->pos;
        uint8_t op = p->buf[p->pos++];
        vitcl_status st = VITCL_OK;
        uint64_t v = 0;
        size_t from;
        pv *x;
        switch (op) {
        case 0x80: /* PROTO */
            st = arg(p, 1, &v);
            if (st == VITCL_OK && (v < 2 || v > 5))
                st = bad(p, "pickle protocol outside 2..5");
            break;
        case 0x95: /* FRAME: the whole pickle is in memory, so frames only need to fit */
            st = arg(p, 8, &v);
            if (st == VITCL_OK && v > p->len - p->pos)
                st = bad(p, "FRAME runs past the end of the pickle");
            break;
        case '.': /* STOP */
            x = pop(p);
            if (!x)
                return p->err;
            *result = x;
            return VITCL_OK;
        case '(': /* MARK */
            if (p->nmarks >= PK_MAX_MARKS)
                return bad(p, "MARKs nested deeper than the limit");
            p->marks[p->nmarks++] = p->sp;
            break;
        case '0': /* POP */
            st = pop(p) ? VITCL_OK : p->err;
            break;
        case '1': /* POP_MARK */
            st = pop_mark(p, &from);
            if (st == VITCL_OK)
                p->sp = from;
            break;
        case '2': /* DUP */
            x = top(p);
            st = x ? push(p, x) : p->err;
            break;
        case 'N': st = push(p, new_value(p, PV_NONE)); break;
        case 0x88: /* NEWTRUE */
        case 0x89: /* NEWFALSE */
            x = new_value(p, PV_BOOL);
            if (x)
                x->u.i = op == 0x88;
            st = push(p, x);
            break;
        case 'J': /* BININT */
            st = arg(p, 4, &v);
            if (st == VITCL_OK)
                st = push_int(p, (int64_t)(int32_t)(uint32_t)v);
            break;
        case 'K': /* BININT1 */
            st = arg(p, 1, &v);
            if (st == VITCL_OK)
                st = push_int(p, (int64_t)v);
            break;
        case 'M': /* BININT2 */
            st = arg(p, 2, &v);
            if (st == VITCL_OK)
                st = push_int(p, (int64_t)v);
            break;
        case 0x8a: st = read_long(p, 1); break; /* LONG1 */
        case 0x8b: st = read_long(p, 4); break; /* LONG4 */
        case 'G': /* BINFLOAT, big-endian */
            st = arg(p, 8, &v);
            if (st == VITCL_OK) {
                uint64_t be = 0;
                for (int k = 0; k < 8; k++)
                    be = (be << 8) | ((v >> (8 * k)) & 0xFF);
                x = new_value(p, PV_FLOAT);
                if (x)
                    memcpy(&x->u.f, &be, sizeof be);
                st = push(p, x);
            }
            break;
        case 'X': st = read_string(p, 4); break;    /* BINUNICODE */
        case 0x8c: st = read_string(p, 1); break;   /* SHORT_BINUNICODE */
        case 0x8d: st = read_string(p, 8); break;   /* BINUNICODE8 */
        case ')': st = make_tuple(p, p->sp); break; /* EMPTY_TUPLE */
        case 't': /* TUPLE */
            st = pop_mark(p, &from);
            if (st == VITCL_OK)
                st = make_tuple(p, from);
            break;
        case 0x85: /* TUPLE1 */
        case 0x86: /* TUPLE2 */
        case 0x87: /* TUPLE3 */
            from = (size_t)(op - 0x84);
            if (p->sp - (p->nmarks ? p->marks[p->nmarks - 1] : 0) < from)
                return bad(p, "stack underflow");
            st = make_tuple(p, p->sp - from);
            break;
        case ']': st = push(p, new_value(p, PV_LIST)); break; /* EMPTY_LIST */
        case '}': st = push(p, new_value(p, PV_DICT)); break; /* EMPTY_DICT */
        case 'a': /* APPEND */
            if (p->sp < 1)
                return bad(p, "stack underflow");
            st = fill(p, p->sp - 1, PV_LIST);
            break;
        case 'e': /* APPENDS */
            st = pop_mark(p, &from);
            if (st == VITCL_OK)
                st = fill(p, from, PV_LIST);
            break;
        case 's': /* SETITEM */
            if (p->sp < 2)
                return bad(p, "stack underflow");
            st = fill(p, p->sp - 2, PV_DICT);
            break;
        case 'u': /* SETITEMS */
            st = pop_mark(p, &from);
            if (st == VITCL_OK)
                st = fill(p, from, PV_DICT);
            break;
        case 'c': st = read_global_lines(p); break; /* GLOBAL */
        case 0x93: st = stack_global(p); break;     /* STACK_GLOBAL */
        case 'Q': st = persistent_load(p); break;   /* BINPERSID */
        case 'R': st = reduce(p); break;            /* REDUCE */
        case 'b': /* BUILD: only an OrderedDict's attribute dict (state_dict's _metadata) */
            x = pop(p);
            if (!x)
                return p->err;
            if (x->kind != PV_DICT && x->kind != PV_NONE)
                return bad(p, "BUILD state is not a dict");
            x = top(p);
            if (!x)
                return p->err;
            if (x->kind != PV_DICT)
                return bad(p, "BUILD applied to something other than a dict");
            break;
        case 'q': /* BINPUT */
            st = arg(p, 1, &v);
            if (st == VITCL_OK)
                st = memo_put(p, v);
            break;
        case 'r': /* LONG_BINPUT */
            st = arg(p, 4, &v);
            if (st == VITCL_OK)
                st = memo_put(p, v);
            break;
        case 0x94: st = memo_put(p, p->memo_count); break; /* MEMOIZE */
        case 'h': /* BINGET */
            st = arg(p, 1, &v);
            if (st == VITCL_OK)
                st = memo_get(p, v);
            break;
        case 'j': /* LONG_BINGET */
            st = arg(p, 4, &v);
            if (st == VITCL_OK)
                st = memo_get(p, v);
            break;
        default:
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: pickle byte %zu: opcode 0x%02x is not one a state dict uses",
                              p->file, p->op_pos, op);
        }
        if (st != VITCL_OK)
            return st;
    }
}

/* Checks tensor t (named name) and fills out. */
static vitcl_status export_tensor(pk *p, const char *name, const pv *t,
                                  torch_pickle_tensor *out)
{
    const pv *size = t->u.tensor.size, *stride = t->u.tensor.stride;
    out->name = name;
    out->storage_key = t->u.tensor.storage->u.storage.key;
    out->dtype = t->u.tensor.storage->u.storage.dtype;
    out->storage_numel = t->u.tensor.storage->u.storage.numel;
    out->offset = t->u.tensor.offset;
    out->ndim = size->u.seq.n;
    for (size_t d = 0; d < out->ndim; d++)
        out->shape[d] = (uint64_t)size->u.seq.items[d]->u.i;
    uint64_t bytes;
    vitcl_status st = weights_shape_bytes(p->file, name, out->shape, out->ndim,
                                          weights_dtype_size(out->dtype), &out->numel, &bytes);
    if (st != VITCL_OK)
        return st;
    /* C-contiguous as torch defines it: size-1 dimensions may have any stride. */
    uint64_t expect = 1;
    for (size_t d = out->ndim; out->numel != 0 && d-- > 0;) {
        if (out->shape[d] == 1)
            continue;
        if (stride->u.seq.items[d]->u.i < 0 ||
            (uint64_t)stride->u.seq.items[d]->u.i != expect)
            return vitcl_fail(VITCL_ERR_UNSUPPORTED,
                              "%s: tensor '%s' is not contiguous (dimension %zu has stride %lld, "
                              "C order needs %llu); save it after .contiguous()", p->file, name,
                              d, (long long)stride->u.seq.items[d]->u.i,
                              (unsigned long long)expect);
        expect *= out->shape[d];
    }
    return VITCL_OK;
}

static vitcl_status export_dict(pk *p, const pv *root, uint64_t max_tensors,
                                torch_pickle_result *out)
{
    if (root->kind != PV_DICT)
        return vitcl_fail(VITCL_ERR_FORMAT,
                          "%s: the pickle holds a %s, not a state dict", p->file,
                          kind_name(root->kind));
    size_t n = root->u.seq.n / 2;
    if (n > max_tensors)
        return vitcl_fail(VITCL_ERR_LIMIT, "%s: %zu tensors is over the limit of %llu", p->file,
                          n, (unsigned long long)max_tensors);
    out->tensors = calloc(n ? n : 1, sizeof *out->tensors);
    if (!out->tensors)
        return oom(p);
    for (size_t i = 0; i < n; i++) {
        const pv *k = root->u.seq.items[2 * i], *v = root->u.seq.items[2 * i + 1];
        if (k->kind != PV_STR)
            return vitcl_fail(VITCL_ERR_FORMAT, "%s: state dict key %zu is a %s, not a string",
                              p->file, i, kind_name(k->kind));
        if (v->kind != PV_TENSOR)
            return vitcl_fail(VITCL_ERR_FORMAT,
                              "%s: state dict entry '%s' is a %s, not a tensor", p->file,
                              k->u.str.s, kind_name(v->kind));
        vitcl_status st = export_tensor(p, k->u.str.s, v, &out->tensors[i]);
        if (st != VITCL_OK)
            return st;
        out->count = i + 1;
    }
    return VITCL_OK;
}

vitcl_status torch_pickle_read(const uint8_t *buf, size_t len, const char *file,
                               uint64_t max_tensors, torch_pickle_result *out)
{
    memset(out, 0, sizeof *out);
    pk p;
    memset(&p, 0, sizeof p);
    p.buf = buf;
    p.len = len;
    p.file = file;
    p.values = calloc(1, sizeof *p.values);
    if (!p.values)
        return vitcl_fail(VITCL_ERR_OUT_OF_MEMORY, "%s: out of memory", file);
    pv *root = NULL;
    vitcl_status st = run(&p, &root);
    if (st == VITCL_OK && p.pos != len)
        st = vitcl_fail(VITCL_ERR_FORMAT, "%s: %zu bytes follow the pickle's STOP at byte %zu",
                        file, len - p.pos, p.op_pos);
    if (st == VITCL_OK)
        st = export_dict(&p, root, max_tensors, out);
    free(p.stack);
    free(p.memo);
    if (st != VITCL_OK) {
        free(out->tensors);
        memset(out, 0, sizeof *out);
        pool_free(p.values);
        return st;
    }
    out->owner_ = p.values;
    return VITCL_OK;
}

void torch_pickle_free(torch_pickle_result *r)
{
    if (!r)
        return;
    if (r->owner_)
        pool_free(r->owner_);
    free(r->tensors);
    memset(r, 0, sizeof *r);
}
