/* SPDX-License-Identifier: Apache-2.0 */
/* Strict JSON input (docs/architecture.md, "Strict JSON"): a validating scanner over the raw bytes
 * that builds the cJSON tree as it goes, each number node keeping its exact text, then
 * duplicate-key rejection. */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_locale_int.h"
#include "json_read_int.h"
#include "utf8_int.h"

/* cJSON copies at most 63 characters of a number before converting it; longer numbers would
 * silently change value, so the strict wrapper refuses them. */
#define NUMBER_MAX_CHARS 63

typedef struct scanner {
    const uint8_t *p;
    size_t len;
    size_t pos;
    capv_error *err;
    const char *const *keys; /* top-level member names looked for, or NULL */
    unsigned int found;      /* bit i: keys[i] is a member of the top-level object */
    capv_json_arena *arena;  /* where nodes are taken from, or NULL: each its own allocation */
} scanner;

/* A heap block of an arena, taken when the caller's memory is full. */
typedef struct arena_block {
    struct arena_block *next;
    size_t cap, used;
    max_align_t data[];
} arena_block;

/* Heap blocks double from the first size up to the last, so a large tree takes a few dozen
 * allocations, not one per 4 KiB. */
#define ARENA_BLOCK_FIRST 4096
#define ARENA_BLOCK_LAST (64u << 10)

/* n bytes of `a`, aligned as malloc aligns, or NULL when out of memory. */
static void *arena_take(capv_json_arena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (a->cap - a->used >= n) {
        void *p = (uint8_t *)a->mem + a->used;
        a->used += n;
        return p;
    }
    arena_block *b = a->blocks;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = b == NULL                   ? ARENA_BLOCK_FIRST
                     : b->cap < ARENA_BLOCK_LAST ? 2 * b->cap
                                                 : ARENA_BLOCK_LAST;
        if (cap < n)
            cap = n;
        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->next = a->blocks;
        b->cap = cap;
        b->used = 0;
        a->blocks = b;
    }
    void *p = (uint8_t *)b->data + b->used;
    b->used += n;
    return p;
}

void capvi_json_arena_release(capv_json_arena *a)
{
    if (a == NULL)
        return;
    for (arena_block *b = a->blocks, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    a->blocks = NULL;
    a->used = 0;
}

static capv_status scan_fail(scanner *s, capv_status code, const char *what)
{
    char field[32];
    snprintf(field, sizeof field, "@%zu", s->pos);
    return capvi_err_set(s->err, code, field, "%s at byte %zu", what, s->pos);
}

static void skip_ws(scanner *s)
{
    while (s->pos < s->len) {
        uint8_t c = s->p[s->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        s->pos++;
    }
}

static int hex4(const uint8_t *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    return v;
}

capv_status capvi_utf8_check(const uint8_t *s, size_t len, capv_error *err)
{
    size_t i = capvi_utf8_scan(s, len);
    if (i == len)
        return CAPV_OK;
    if (s[i] == 0)
        return capvi_err_set(err, CAPV_E_JSON_NUL, NULL, "NUL byte at offset %zu", i);
    return capvi_err_set(err, CAPV_E_JSON_UTF8, NULL, "invalid UTF-8 at offset %zu", i);
}

/* Decodes the scanned (so valid) string text raw[0..n), escapes (if `escaped`) decoded, into
 * `out` (room for n + 1 bytes: never longer than its text) as cJSON would store it. */
static void decode_into(char *out, const uint8_t *raw, size_t n, bool escaped)
{
    if (!escaped) {
        memcpy(out, raw, n);
        out[n] = '\0';
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (raw[i] != '\\') {
            out[o++] = (char)raw[i++];
            continue;
        }
        uint8_t e = raw[i + 1];
        i += 2;
        switch (e) {
        case 'b': out[o++] = '\b'; continue;
        case 'f': out[o++] = '\f'; continue;
        case 'n': out[o++] = '\n'; continue;
        case 'r': out[o++] = '\r'; continue;
        case 't': out[o++] = '\t'; continue;
        case 'u': break;
        default: out[o++] = (char)e; continue;
        }
        uint32_t cp = (uint32_t)hex4(raw + i);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) { /* the scanner checked the low surrogate */
            cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(raw + i + 2) - 0xDC00);
            i += 6;
        }
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else if (cp < 0x800) {
            out[o++] = (char)(0xC0 | cp >> 6);
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out[o++] = (char)(0xE0 | cp >> 12);
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | cp >> 18);
            out[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    out[o] = '\0';
}

/* The raw text of a scanned string: raw[0..n), between its quotes. */
typedef struct span {
    const uint8_t *raw;
    size_t n;
    bool escaped;
} span;

/* Scans a string and tells where its text is. */
static capv_status scan_string(scanner *s, span *text)
{
    size_t start = ++s->pos; /* opening quote */
    bool escaped = false;
    const uint8_t *p = s->p;
    const size_t len = s->len;
    while (s->pos < len) {
        /* the run of bytes that need no look (a local index: `p` is a char type, so the
         * compiler cannot keep s->pos in a register across its reads) */
        size_t i = s->pos;
        while (i < len && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\')
            i++;
        s->pos = i;
        if (i == len)
            break;
        uint8_t c = p[i];
        if (c == '"') {
            *text = (span){ s->p + start, s->pos - start, escaped };
            s->pos++;
            return CAPV_OK;
        }
        if (c < 0x20)
            return scan_fail(s, CAPV_E_JSON_SYNTAX, "unescaped control character in string");
        if (c >= 0x80) {
            size_t n = capvi_utf8_seq(s->p + s->pos, s->len - s->pos);
            if (n == 0)
                return scan_fail(s, CAPV_E_JSON_UTF8, "invalid UTF-8");
            s->pos += n;
            continue;
        }
        escaped = true; /* a backslash: the only byte left */
        if (s->pos + 1 >= s->len)
            break;
        uint8_t e = s->p[s->pos + 1];
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
            e == 't') {
            s->pos += 2;
            continue;
        }
        if (e != 'u')
            return scan_fail(s, CAPV_E_JSON_SYNTAX, "invalid escape");
        if (s->len - s->pos < 6)
            break;
        int u = hex4(s->p + s->pos + 2);
        if (u < 0)
            return scan_fail(s, CAPV_E_JSON_SYNTAX, "invalid \\u escape");
        if (u == 0)
            return scan_fail(s, CAPV_E_JSON_NUL, "\\u0000 escape");
        if (u >= 0xDC00 && u <= 0xDFFF)
            return scan_fail(s, CAPV_E_JSON_SURROGATE, "lone low surrogate");
        if (u >= 0xD800 && u <= 0xDBFF) {
            size_t q = s->pos + 6;
            int low = -1;
            if (s->len - q >= 6 && s->p[q] == '\\' && s->p[q + 1] == 'u')
                low = hex4(s->p + q + 2);
            if (low < 0xDC00 || low > 0xDFFF)
                return scan_fail(s, CAPV_E_JSON_SURROGATE, "high surrogate without low surrogate");
            s->pos += 12;
            continue;
        }
        s->pos += 6;
    }
    return scan_fail(s, CAPV_E_JSON_SYNTAX, "unterminated string");
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Strings of up to this many bytes live in their node's allocation; a longer one has its own,
 * which a reader may free early (capvi_json_drop_string). */
#define INLINE_STRING_MAX 256

/* With `node`, makes a node of `type` in one allocation (cJSON_malloc'd, as cJSON_Delete
 * expects) that also holds its member name `key`, flagged cJSON_StringIsConst, and, for a
 * string or number, its decoded `text` in valuestring, flagged cJSON_IsReference when it is
 * short enough to live there too: cJSON_Delete then frees the node, its name and its text in
 * one call. Containers never carry cJSON_IsReference (cJSON_Delete would skip their
 * children). Trees are copied with capvi_json_duplicate, not cJSON_Duplicate, which would
 * share such names. */
static capv_status new_node(scanner *s, cJSON **node, int type, const span *key, const span *text)
{
    if (node == NULL)
        return CAPV_OK;
    /* in an arena, every text lives in its node */
    bool inline_text = text != NULL && (text->n <= INLINE_STRING_MAX || s->arena != NULL);
    size_t size = sizeof(cJSON) + (key ? key->n + 1 : 0) + (inline_text ? text->n + 1 : 0);
    cJSON *item = s->arena != NULL ? arena_take(s->arena, size) : cJSON_malloc(size);
    if (item == NULL && s->arena != NULL)
        return capvi_err_nomem(s->err);
    char *own = text != NULL && !inline_text ? cJSON_malloc(text->n + 1) : NULL;
    if (item == NULL || (text != NULL && !inline_text && own == NULL)) {
        cJSON_free(item);
        cJSON_free(own);
        return capvi_err_nomem(s->err);
    }
    memset(item, 0, sizeof *item);
    item->type = type;
    char *extra = (char *)(item + 1);
    if (key != NULL) {
        decode_into(extra, key->raw, key->n, key->escaped);
        item->string = extra;
        item->type |= cJSON_StringIsConst;
        extra += key->n + 1;
    }
    if (text != NULL) {
        item->valuestring = inline_text ? extra : own;
        decode_into(item->valuestring, text->raw, text->n, text->escaped);
        if (inline_text)
            item->type |= cJSON_IsReference;
    }
    *node = item;
    return CAPV_OK;
}

/* Scans a number; with `node`, also makes its node: the double strtod gives in the C locale
 * (valueint saturated, as cJSON does) and, in valuestring, the exact
 * text it was written with. An integer of up to 15 digits is converted directly (exactly, as
 * strtod would): JWT times and sizes are such integers, and strtod was most of their cost. */
static capv_status scan_number(scanner *s, cJSON **node, const span *key)
{
    size_t start = s->pos;
    const uint8_t *p = s->p;
    size_t i = s->pos, n = s->len;
    if (i < n && p[i] == '-')
        i++;
    if (i >= n || !is_digit(p[i])) {
        s->pos = i;
        return scan_fail(s, CAPV_E_JSON_SYNTAX, "invalid number");
    }
    if (p[i] == '0') {
        i++;
    } else {
        while (i < n && is_digit(p[i]))
            i++;
    }
    bool integer = true; /* no fraction, no exponent */
    if (i < n && p[i] == '.') {
        integer = false;
        i++;
        if (i >= n || !is_digit(p[i])) {
            s->pos = i;
            return scan_fail(s, CAPV_E_JSON_SYNTAX, "invalid number fraction");
        }
        while (i < n && is_digit(p[i]))
            i++;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        integer = false;
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= n || !is_digit(p[i])) {
            s->pos = i;
            return scan_fail(s, CAPV_E_JSON_SYNTAX, "invalid number exponent");
        }
        while (i < n && is_digit(p[i]))
            i++;
    }
    if (i - start > NUMBER_MAX_CHARS)
        return scan_fail(s, CAPV_E_RANGE, "number longer than 63 characters");
    s->pos = i;
    if (node == NULL)
        return CAPV_OK;
    size_t lex_len = i - start;
    double d;
    if (integer && lex_len - (p[start] == '-') <= 15) {
        /* at most 15 digits: below 2^53, so the integer is the double strtod would give */
        int64_t v = 0;
        for (size_t k = start + (p[start] == '-'); k < i; k++)
            v = v * 10 + (p[k] - '0');
        d = p[start] == '-' ? -(double)v : (double)v;
    } else {
        char num[NUMBER_MAX_CHARS + 1];
        memcpy(num, p + start, lex_len);
        num[lex_len] = '\0';
        d = capvi_strtod(num, NULL);
    }
    span lexeme = { p + start, lex_len, false };
    capv_status st = new_node(s, node, cJSON_Number, key, &lexeme);
    if (st != CAPV_OK)
        return st;
    (*node)->valuedouble = d;
    (*node)->valueint = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
    return CAPV_OK;
}

static capv_status scan_literal(scanner *s, const char *word, int type, cJSON **node,
                                const span *key)
{
    size_t n = strlen(word);
    if (s->len - s->pos < n || memcmp(s->p + s->pos, word, n) != 0)
        return scan_fail(s, CAPV_E_JSON_SYNTAX, "invalid literal");
    s->pos += n;
    capv_status st = new_node(s, node, type, key, NULL);
    if (st == CAPV_OK && node != NULL && type == cJSON_True)
        (*node)->valueint = 1;
    return st;
}

static capv_status scan_value(scanner *s, int depth, cJSON **node, const span *key);

/* Whether the raw (escaped, already scanned) string text raw[0..n) decodes to the ASCII
 * `key`. */
static bool key_equals(const uint8_t *raw, size_t n, const char *key)
{
    size_t k = 0, klen = strlen(key);
    for (size_t i = 0; i < n; k++) {
        int c = raw[i];
        if (c == '\\') {
            uint8_t e = raw[i + 1];
            i += 2;
            switch (e) {
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u':
                c = hex4(raw + i);
                i += 4;
                break;
            default: c = e; break;
            }
        } else {
            i++;
        }
        if (k >= klen || c != (unsigned char)key[k])
            return false;
    }
    return k == klen;
}

static void note_key(scanner *s, const uint8_t *raw, size_t n)
{
    for (unsigned int i = 0; i < 32 && s->keys[i] != NULL; i++)
        if (key_equals(raw, n, s->keys[i]))
            s->found |= 1u << i;
}

/* Scans an object or array; with `node`, also builds it, its members linked as cJSON links
 * them (the first member's prev is the last member). */
static capv_status scan_container(scanner *s, int depth, bool object, cJSON **node, const span *key)
{
    if (depth >= CAPV_JSON_MAX_DEPTH)
        return scan_fail(s, CAPV_E_JSON_DEPTH, "nesting deeper than 64");
    capv_status st = new_node(s, node, object ? cJSON_Object : cJSON_Array, key, NULL);
    if (st != CAPV_OK)
        return st;
    cJSON *self = node ? *node : NULL, *last = NULL;
    uint8_t close = object ? '}' : ']';
    s->pos++;
    skip_ws(s);
    if (s->pos < s->len && s->p[s->pos] == close) {
        s->pos++;
        return CAPV_OK;
    }
    for (;;) {
        span name = { NULL, 0, false };
        if (object) {
            if (s->pos >= s->len || s->p[s->pos] != '"')
                return scan_fail(s, CAPV_E_JSON_SYNTAX, "expected object key");
            if ((st = scan_string(s, &name)) != CAPV_OK)
                return st;
            if (depth == 0 && s->keys != NULL)
                note_key(s, name.raw, name.n);
            skip_ws(s);
            if (s->pos >= s->len || s->p[s->pos] != ':')
                return scan_fail(s, CAPV_E_JSON_SYNTAX, "expected ':'");
            s->pos++;
            skip_ws(s);
        }
        cJSON *child = NULL;
        st = scan_value(s, depth + 1, self ? &child : NULL, object ? &name : NULL);
        if (child != NULL) {
            if (last == NULL) {
                self->child = child;
            } else {
                last->next = child;
                child->prev = last;
            }
            last = child;
            self->child->prev = last;
        }
        if (st != CAPV_OK)
            return st;
        skip_ws(s);
        if (s->pos >= s->len)
            return scan_fail(s, CAPV_E_JSON_SYNTAX, "unterminated container");
        if (s->p[s->pos] == close) {
            s->pos++;
            return CAPV_OK;
        }
        if (s->p[s->pos] != ',')
            return scan_fail(s, CAPV_E_JSON_SYNTAX, "expected ',' or end of container");
        s->pos++;
        skip_ws(s);
    }
}

/* Scans a value; with `node`, also builds it, named `key` when it is an object's member. */
static capv_status scan_value(scanner *s, int depth, cJSON **node, const span *key)
{
    if (s->pos >= s->len)
        return scan_fail(s, CAPV_E_JSON_SYNTAX, "unexpected end of input");
    switch (s->p[s->pos]) {
    case '{': return scan_container(s, depth, true, node, key);
    case '[': return scan_container(s, depth, false, node, key);
    case '"': {
        span text;
        capv_status st = scan_string(s, &text);
        return st == CAPV_OK ? new_node(s, node, cJSON_String, key, &text) : st;
    }
    case 't': return scan_literal(s, "true", cJSON_True, node, key);
    case 'f': return scan_literal(s, "false", cJSON_False, node, key);
    case 'n': return scan_literal(s, "null", cJSON_NULL, node, key);
    default:
        if (s->p[s->pos] == '-' || is_digit(s->p[s->pos]))
            return scan_number(s, node, key);
        return scan_fail(s, CAPV_E_JSON_SYNTAX, "unexpected character");
    }
}

/* Scans a whole text; with `root`, also builds its tree (freed here on failure). */
static capv_status scan_document(scanner *s, cJSON **root)
{
    skip_ws(s);
    capv_status st = scan_value(s, 0, root, NULL);
    if (st == CAPV_OK) {
        skip_ws(s);
        if (s->pos != s->len)
            st = scan_fail(s, CAPV_E_JSON_TRAILING, "trailing bytes after JSON value");
    }
    if (st != CAPV_OK && root != NULL) {
        if (s->arena == NULL)
            cJSON_Delete(*root);
        *root = NULL;
    }
    return st;
}

capv_status capvi_json_scan_keys(unsigned int *found, bool *is_object, const uint8_t *data,
                                 size_t len, const char *const *keys, capv_error *err)
{
    scanner s = { .p = data, .len = len, .err = err, .keys = keys };
    *found = 0;
    *is_object = false;
    capv_status st = scan_document(&s, NULL);
    if (st != CAPV_OK)
        return st;
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
        i++;
    *is_object = i < len && data[i] == '{';
    *found = s.found;
    return CAPV_OK;
}

capv_status capv_json_validate(const uint8_t *data, size_t len, capv_error *err)
{
    if (data == NULL && len > 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL data");
    cJSON *root = NULL;
    capv_status st = capvi_json_parse(&root, data, len, err);
    cJSON_Delete(root);
    return capvi_err_done(err, st);
}

static int key_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    int c = strcmp(x->string, y->string);
    if (c != 0)
        return c;
    return x < y ? -1 : x > y; /* equal keys: any order, the caller only needs them adjacent */
}

/* The later of the first pair of equal keys in document order: adjacent in sorted order. */
static const cJSON *later_of(const cJSON *a, const cJSON *b)
{
    for (const cJSON *c = a->next; c; c = c->next)
        if (c == b)
            return b;
    return a;
}

capv_status capvi_json_find_duplicate(const cJSON **dup, const cJSON *obj)
{
    *dup = NULL;
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        n++;
    if (n < 2)
        return CAPV_OK;
    if (n <= 16) { /* small objects: pairwise is cheaper than sorting */
        for (const cJSON *a = obj->child; a && !*dup; a = a->next)
            for (const cJSON *b = a->next; b; b = b->next)
                if (a->string[0] == b->string[0] && strcmp(a->string, b->string) == 0) {
                    *dup = b;
                    break;
                }
        return CAPV_OK;
    }
    const cJSON **keys = malloc(n * sizeof *keys);
    if (keys == NULL)
        return CAPV_E_NOMEM;
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        keys[i++] = c;
    qsort(keys, n, sizeof *keys, key_cmp);
    for (i = 1; i < n && !*dup; i++)
        if (strcmp(keys[i - 1]->string, keys[i]->string) == 0)
            *dup = later_of(keys[i - 1], keys[i]);
    free(keys);
    return CAPV_OK;
}

static capv_status check_duplicates(const cJSON *obj, capv_error *err)
{
    const cJSON *dup = NULL;
    if (capvi_json_find_duplicate(&dup, obj) != CAPV_OK)
        return capvi_err_nomem(err);
    if (dup != NULL)
        return capvi_err_set(err, CAPV_E_JSON_DUPLICATE_KEY, dup->string,
                             "duplicate object key \"%.64s\"", dup->string);
    return CAPV_OK;
}

/* Walks the tree in document order: rejects duplicate keys and numbers out of range. */
static capv_status finish_tree(const cJSON *item, capv_error *err)
{
    /* the type tests of cJSON_IsNumber and cJSON_IsObject, without a call into libcjson for
     * every node */
    int type = item->type & 0xff;
    if (type == cJSON_Number) {
        if (!isfinite(item->valuedouble)) {
            size_t n = strlen(item->valuestring);
            return capvi_err_set(err, CAPV_E_RANGE, NULL, "number %.*s is out of range",
                                 (int)(n > 40 ? 40 : n), item->valuestring);
        }
        return CAPV_OK;
    }
    if (type == cJSON_Object) {
        capv_status st = check_duplicates(item, err);
        if (st != CAPV_OK)
            return st;
    }
    for (const cJSON *c = item->child; c; c = c->next) {
        capv_status st = finish_tree(c, err);
        if (st != CAPV_OK)
            return st;
    }
    return CAPV_OK;
}

/* Parses data[0..len) into a tree, its nodes from `arena` or, when NULL, each its own
 * allocation. */
static capv_status parse(cJSON **out, capv_json_arena *arena, const uint8_t *data, size_t len,
                         capv_error *err)
{
    if (out == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    /* one pass validates the bytes and builds the tree (cJSON's own parser would read them
     * again); the checks that need the whole tree follow */
    scanner s = { .p = data, .len = len, .err = err, .arena = arena };
    cJSON *root = NULL;
    capv_status st = scan_document(&s, &root);
    if (st == CAPV_OK)
        st = finish_tree(root, err);
    if (st != CAPV_OK && arena == NULL)
        cJSON_Delete(root);
    else if (st == CAPV_OK)
        *out = root;
    return st;
}

capv_status capvi_json_parse(cJSON **out, const uint8_t *data, size_t len, capv_error *err)
{
    return parse(out, NULL, data, len, err);
}

capv_status capvi_json_parse_in(cJSON **out, capv_json_arena *arena, const uint8_t *data,
                                size_t len, capv_error *err)
{
    if (arena == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL arena");
    return parse(out, arena, data, len, err);
}

/* Gives every node of a copy its own member name: cJSON_Duplicate shares the names flagged
 * cJSON_StringIsConst, which for a parsed tree live in the original's nodes. */
static bool own_names(cJSON *item)
{
    for (; item != NULL; item = item->next) {
        if ((item->type & cJSON_StringIsConst) && item->string != NULL) {
            size_t n = strlen(item->string) + 1;
            char *name = cJSON_malloc(n);
            if (name == NULL)
                return false;
            memcpy(name, item->string, n);
            item->string = name;
            item->type &= ~cJSON_StringIsConst;
        }
        if (!own_names(item->child))
            return false;
    }
    return true;
}

cJSON *capvi_json_duplicate(const cJSON *item)
{
    cJSON *copy = cJSON_Duplicate(item, true);
    if (copy != NULL && !own_names(copy)) {
        cJSON_Delete(copy);
        return NULL;
    }
    return copy;
}

/* A node of `type` in one allocation with its member name `key` and its string `text` (each
 * NULL for none), flagged as new_node flags them. */
static cJSON *built_node(int type, const char *key, const char *text)
{
    size_t kn = key != NULL ? strlen(key) + 1 : 0, tn = text != NULL ? strlen(text) + 1 : 0;
    cJSON *item = cJSON_malloc(sizeof *item + kn + tn);
    if (item == NULL)
        return NULL;
    memset(item, 0, sizeof *item);
    item->type = type;
    char *extra = (char *)(item + 1);
    if (key != NULL) {
        item->string = memcpy(extra, key, kn);
        item->type |= cJSON_StringIsConst;
    }
    if (text != NULL) {
        item->valuestring = memcpy(extra + kn, text, tn);
        item->type |= cJSON_IsReference;
    }
    return item;
}

/* Appends `item` to `parent`'s children (its member name, if any, already set). */
static cJSON *attach(cJSON *parent, cJSON *item)
{
    if (item != NULL && !cJSON_AddItemToArray(parent, item)) {
        cJSON_free(item);
        return NULL;
    }
    return item;
}

cJSON *capvi_json_add_string(cJSON *parent, const char *key, const char *value)
{
    return value != NULL ? attach(parent, built_node(cJSON_String, key, value)) : NULL;
}

cJSON *capvi_json_add_number(cJSON *parent, const char *key, double value)
{
    cJSON *item = built_node(cJSON_Number, key, NULL);
    if (item == NULL)
        return NULL;
    item->valuedouble = value;
    /* valueint saturated, as cJSON_CreateNumber sets it */
    item->valueint = value >= INT_MAX ? INT_MAX : value <= (double)INT_MIN ? INT_MIN : (int)value;
    return attach(parent, item);
}

cJSON *capvi_json_add_bool(cJSON *parent, const char *key, bool value)
{
    return attach(parent, built_node(value ? cJSON_True : cJSON_False, key, NULL));
}

cJSON *capvi_json_add_container(cJSON *parent, const char *key, bool object)
{
    return attach(parent, built_node(object ? cJSON_Object : cJSON_Array, key, NULL));
}

void capvi_json_drop_string(cJSON *item)
{
    if (!(item->type & cJSON_IsReference))
        cJSON_free(item->valuestring);
    item->valuestring = NULL;
}

cJSON *capvi_json_number_lexeme(const char *lexeme)
{
    char *end = NULL;
    double v = capvi_strtod(lexeme, &end);
    cJSON *n = cJSON_CreateNumber(v);
    if (n == NULL)
        return NULL;
    size_t len = strlen(lexeme) + 1;
    n->valuestring = malloc(len);
    if (n->valuestring == NULL) {
        cJSON_Delete(n);
        return NULL;
    }
    memcpy(n->valuestring, lexeme, len);
    return n;
}

const cJSON *capvi_json_get(const cJSON *obj, const char *key)
{
    if (!cJSON_IsObject(obj))
        return NULL;
    /* cJSON_GetObjectItemCaseSensitive's answer, the first byte compared before strcmp */
    for (const cJSON *c = obj->child; c != NULL && c->string != NULL; c = c->next)
        if (c->string[0] == key[0] && strcmp(c->string, key) == 0)
            return c;
    return NULL;
}

static capv_status member(const cJSON **out, const cJSON *obj, const char *path, const char *key,
                          bool required, capv_error *err)
{
    *out = capvi_json_get(obj, key);
    if (*out == NULL && required) {
        char field[CAPV_ERROR_FIELD_SIZE];
        snprintf(field, sizeof field, "%s%s%s", path, *path ? "." : "", key);
        return capvi_err_set(err, CAPV_E_MISSING, field, "required field \"%s\" is missing", field);
    }
    return CAPV_OK;
}

static capv_status wrong_type(capv_error *err, const char *path, const char *key, const char *want)
{
    char field[CAPV_ERROR_FIELD_SIZE];
    snprintf(field, sizeof field, "%s%s%s", path, *path ? "." : "", key);
    return capvi_err_set(err, CAPV_E_TYPE, field, "field \"%s\" must be %s", field, want);
}

capv_status capvi_json_get_string(const char **out, const cJSON *obj, const char *path,
                                  const char *key, bool required, capv_error *err)
{
    const cJSON *m;
    capv_status st = member(&m, obj, path, key, required, err);
    if (st != CAPV_OK || m == NULL)
        return st;
    if (!cJSON_IsString(m))
        return wrong_type(err, path, key, "a string");
    *out = m->valuestring;
    return CAPV_OK;
}

capv_status capvi_json_get_bool(bool *out, const cJSON *obj, const char *path, const char *key,
                                bool required, capv_error *err)
{
    const cJSON *m;
    capv_status st = member(&m, obj, path, key, required, err);
    if (st != CAPV_OK || m == NULL)
        return st;
    if (!cJSON_IsBool(m))
        return wrong_type(err, path, key, "a boolean");
    *out = cJSON_IsTrue(m);
    return CAPV_OK;
}

capv_status capvi_json_get_object(const cJSON **out, const cJSON *obj, const char *path,
                                  const char *key, bool required, capv_error *err)
{
    const cJSON *m;
    capv_status st = member(&m, obj, path, key, required, err);
    if (st != CAPV_OK || m == NULL)
        return st;
    if (!cJSON_IsObject(m))
        return wrong_type(err, path, key, "an object");
    *out = m;
    return CAPV_OK;
}

capv_status capvi_json_get_array(const cJSON **out, const cJSON *obj, const char *path,
                                 const char *key, bool required, capv_error *err)
{
    const cJSON *m;
    capv_status st = member(&m, obj, path, key, required, err);
    if (st != CAPV_OK || m == NULL)
        return st;
    if (!cJSON_IsArray(m))
        return wrong_type(err, path, key, "an array");
    *out = m;
    return CAPV_OK;
}

/* Parses an integer lexeme (-?digits) exactly; false on overflow of int64. */
static bool parse_int_lexeme(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    if (neg)
        s++;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

capv_status capvi_json_int_value(int64_t *out, const cJSON *item, int64_t min, int64_t max)
{
    if (!cJSON_IsNumber(item))
        return CAPV_E_TYPE;
    int64_t v;
    const char *lex = item->valuestring;
    if (lex != NULL && strpbrk(lex, ".eE") == NULL) {
        if (!parse_int_lexeme(lex, &v))
            return CAPV_E_RANGE;
    } else {
        /* Fraction or exponent (or a node built in memory): only exact integral doubles
         * within the range every JSON peer represents exactly are integers. */
        double d = item->valuedouble;
        if (!isfinite(d) || floor(d) != d || fabs(d) > (double)CAPV_JSON_INT_MAX)
            return CAPV_E_RANGE;
        v = (int64_t)d;
    }
    if (v < min || v > max)
        return CAPV_E_RANGE;
    *out = v;
    return CAPV_OK;
}

capv_status capvi_json_get_int(int64_t *out, const cJSON *obj, const char *path, const char *key,
                               int64_t min, int64_t max, bool required, capv_error *err)
{
    const cJSON *m;
    capv_status st = member(&m, obj, path, key, required, err);
    if (st != CAPV_OK || m == NULL)
        return st;
    st = capvi_json_int_value(out, m, min, max);
    if (st == CAPV_E_TYPE)
        return wrong_type(err, path, key, "an integer");
    if (st != CAPV_OK) {
        char field[CAPV_ERROR_FIELD_SIZE];
        snprintf(field, sizeof field, "%s%s%s", path, *path ? "." : "", key);
        return capvi_err_set(err, st, field, "field \"%s\" must be an integer in [%lld, %lld]",
                             field, (long long)min, (long long)max);
    }
    return CAPV_OK;
}
