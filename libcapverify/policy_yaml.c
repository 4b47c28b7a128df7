/* SPDX-License-Identifier: Apache-2.0 */
/* Policy documents (the bottom of the policy module, docs/policies.md "YAML"): YAML read
 * with libyaml into the same cJSON tree strict JSON input gives, with the position of every
 * node kept for error messages; the choice between YAML and JSON; and user text clipped for
 * messages.
 *
 * Typing follows the YAML 1.2 core schema, so a value means the same thing in YAML and in
 * the JSON it corresponds to: quoted and block scalars are always strings; a plain scalar
 * is null (~, null, empty), a boolean (true/false in three spellings), an integer
 * ([-+]?[0-9]+, 0o…, 0x…), a float ([-+]?(.d+|d+(.d*)?)([eE][-+]?d+)?) or else a string.
 * YAML 1.1 spellings (yes/no/on/off, 1_000, 2025-10-25 timestamps) are strings. Explicit
 * core tags (!!str, !!int, !!float, !!bool, !!null, !!map, !!seq) are honoured; other
 * tags, aliases, non-finite floats and multi-document streams are refused. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "c_locale_int.h"
#include "json_write_int.h"
#include "policy_yaml_int.h"

typedef struct frame {
    cJSON *node;
    bool map;
    char *key; /* pending mapping key */
    unsigned key_line, key_col;
} frame;

typedef struct builder {
    capv_yaml_doc *doc;
    capv_error *err;
    frame stack[CAPV_JSON_MAX_DEPTH + 1];
    int depth;
    int documents;
    bool have_root;
} builder;

static capv_status at(capv_error *err, capv_status code, unsigned line, unsigned col,
                      const char *msg, const char *detail)
{
    char field[32];
    snprintf(field, sizeof field, "%u:%u", line, col);
    return capvi_err_set(err, code, field, "line %u, column %u: %s%s", line, col, msg,
                         detail ? detail : "");
}

static capv_status at_mark(builder *b, capv_status code, yaml_mark_t m, const char *msg,
                           const char *detail)
{
    return at(b->err, code, (unsigned)m.line + 1, (unsigned)m.column + 1, msg, detail);
}

static capv_status add_mark(builder *b, const cJSON *node, yaml_mark_t m, unsigned kl, unsigned kc)
{
    capv_yaml_doc *d = b->doc;
    if (d->nmarks == d->capmarks) {
        size_t cap = d->capmarks ? d->capmarks * 2 : 64;
        capv_yaml_mark *nm = realloc(d->marks, cap * sizeof *nm);
        if (nm == NULL)
            return capvi_err_nomem(b->err);
        d->marks = nm;
        d->capmarks = cap;
    }
    d->marks[d->nmarks++] =
        (capv_yaml_mark){ node, (unsigned)m.line + 1, (unsigned)m.column + 1, kl, kc };
    return CAPV_OK;
}

/* ---- scalar resolution (YAML 1.2 core schema) ------------------------------------------ */

static bool all_in(const char *s, size_t n, const char *set)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || strchr(set, s[i]) == NULL)
            return false;
    return true;
}

static bool is_null_word(const char *s)
{
    return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

static int bool_word(const char *s)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return 1;
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return 0;
    return -1;
}

typedef enum { NUM_NONE, NUM_DEC, NUM_RADIX, NUM_FLOAT, NUM_SPECIAL } numkind;

/* The base of a plain `0x…` / `0o…` / `0b…` scalar at p (after its sign), 0 for none. */
static int radix_of(const char *p)
{
    static const char *const sets[] = { "0123456789abcdefABCDEF", "01234567", "01" };
    static const char prefix[] = "xob";
    static const int bases[] = { 16, 8, 2 };
    for (int i = 0; i < 3; i++)
        if (p[0] == '0' && p[1] == prefix[i] && all_in(p + 2, strlen(p + 2), sets[i]))
            return bases[i];
    return 0;
}

/* As serde_yaml 0.9 (docs/policies.md, "YAML"): radix integers may have a sign, and digits
 * with a leading zero (`007`, `-00`) are a string, not a number. */
static numkind number_kind(const char *s)
{
    const char *p = s + (*s == '-' || *s == '+');
    if (radix_of(p) != 0)
        return NUM_RADIX;
    size_t m = strlen(p);
    if (all_in(p, m, "0123456789"))
        return m > 1 && p[0] == '0' ? NUM_NONE : NUM_DEC;
    if (strcmp(p, ".inf") == 0 || strcmp(p, ".Inf") == 0 || strcmp(p, ".INF") == 0)
        return NUM_SPECIAL;
    if (p == s && (strcmp(p, ".nan") == 0 || strcmp(p, ".NaN") == 0 || strcmp(p, ".NAN") == 0))
        return NUM_SPECIAL;
    /* (\.[0-9]+ | [0-9]+(\.[0-9]*)?) ([eE][-+]?[0-9]+)? */
    size_t i = 0, digits = 0;
    while (p[i] >= '0' && p[i] <= '9')
        i++, digits++;
    if (p[i] == '.') {
        i++;
        size_t frac = 0;
        while (p[i] >= '0' && p[i] <= '9')
            i++, frac++;
        if (digits == 0 && frac == 0)
            return NUM_NONE;
    } else if (digits == 0) {
        return NUM_NONE;
    }
    if (p[i] == 'e' || p[i] == 'E') {
        i++;
        if (p[i] == '-' || p[i] == '+')
            i++;
        size_t e = 0;
        while (p[i] >= '0' && p[i] <= '9')
            i++, e++;
        if (e == 0)
            return NUM_NONE;
    }
    return p[i] == '\0' ? NUM_FLOAT : NUM_NONE;
}

/* A number node for a scalar of kind `k`; *code says why on NULL. */
static cJSON *make_number(const char *s, numkind k, capv_status *code, const char **why)
{
    char lex[72];
    *code = CAPV_E_NOMEM;
    if (k == NUM_DEC) {
        bool neg = *s == '-';
        const char *p = s + (*s == '-' || *s == '+');
        /* serde_yaml reads an integer beyond u64 (i64 when negative) as a 128-bit one, which
         * serde_json's values refuse ("number out of range") */
        bool fits = strlen(p) <= 20;
        if (fits) {
            snprintf(lex, sizeof lex, "%s%s", neg && strcmp(p, "0") != 0 ? "-" : "", p);
            fits = capvi_json_serde_integer(lex);
        }
        if (!fits) {
            *code = CAPV_E_RANGE;
            *why = neg ? "integer does not fit 64 bits signed" : "integer does not fit 64 bits";
            return NULL;
        }
        return capvi_json_number_lexeme(lex);
    }
    if (k == NUM_RADIX) {
        bool neg = *s == '-';
        const char *p = s + (*s == '-' || *s == '+');
        errno = 0;
        char *end = NULL;
        unsigned long long v = strtoull(p + 2, &end, radix_of(p));
        if (errno == ERANGE || end == NULL || *end != '\0' || (neg && v > 1ULL << 63)) {
            *code = CAPV_E_RANGE;
            *why = neg ? "integer does not fit 64 bits signed" : "integer does not fit 64 bits";
            return NULL;
        }
        if (neg && v > 0)
            snprintf(lex, sizeof lex, "-%llu", v);
        else
            snprintf(lex, sizeof lex, "%llu", v);
        return capvi_json_number_lexeme(lex);
    }
    if (k == NUM_SPECIAL) {
        *code = CAPV_E_RANGE;
        *why = "infinity and NaN have no JSON form";
        return NULL;
    }
    double d = capvi_strtod(s, NULL);
    if (!isfinite(d)) {
        *code = CAPV_E_RANGE;
        *why = "float out of range";
        return NULL;
    }
    /* The lexeme serde_json would print for this f64 (always with '.' or 'e'). */
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_double(&b, d);
    size_t n = 0;
    char *text = (char *)capvi_buf_take(&b, &n);
    if (text == NULL)
        return NULL;
    cJSON *node = capvi_json_number_lexeme(text);
    free(text);
    return node;
}

/* The name of a core tag ("str" of "tag:yaml.org,2002:str", written `!!str`), "!" for the
 * non-specific tag, NULL for none; any other tag (a local `!custom`, a verbatim `!<str>`)
 * as "?", which names no core tag. */
static const char *tag_suffix(const yaml_char_t *tag)
{
    static const char core[] = "tag:yaml.org,2002:";
    if (tag == NULL)
        return NULL;
    if (strncmp((const char *)tag, core, sizeof core - 1) == 0)
        return (const char *)tag + sizeof core - 1;
    return strcmp((const char *)tag, "!") == 0 ? "!" : "?";
}

static capv_status scalar_node(builder *b, const yaml_event_t *ev, cJSON **out)
{
    const char *v = (const char *)ev->data.scalar.value;
    *out = NULL;
    const char *tag = tag_suffix(ev->data.scalar.tag);
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    const char *want; /* "str", "null", "bool", "int", "float" or NULL = resolve */
    if (tag == NULL)
        want = plain ? NULL : "str";
    else if (strcmp(tag, "!") == 0 || strcmp(tag, "str") == 0)
        want = "str";
    else if (strcmp(tag, "null") == 0 || strcmp(tag, "bool") == 0 || strcmp(tag, "int") == 0 ||
             strcmp(tag, "float") == 0)
        want = tag;
    else
        return at_mark(b, CAPV_E_UNSUPPORTED_FORMAT, ev->start_mark, "unsupported tag ",
                       (const char *)ev->data.scalar.tag);

    if (want != NULL && strcmp(want, "str") == 0) {
        *out = cJSON_CreateString(v);
        return *out ? CAPV_OK : capvi_err_nomem(b->err);
    }
    if ((want == NULL || strcmp(want, "null") == 0) && is_null_word(v)) {
        *out = cJSON_CreateNull();
        return *out ? CAPV_OK : capvi_err_nomem(b->err);
    }
    int bw = bool_word(v);
    if ((want == NULL || strcmp(want, "bool") == 0) && bw >= 0) {
        *out = cJSON_CreateBool(bw);
        return *out ? CAPV_OK : capvi_err_nomem(b->err);
    }
    numkind k = number_kind(v);
    bool intish = k == NUM_DEC || k == NUM_RADIX;
    bool floatish = k == NUM_DEC || k == NUM_FLOAT || k == NUM_SPECIAL;
    if ((want == NULL && k != NUM_NONE) || (want && strcmp(want, "int") == 0 && intish) ||
        (want && strcmp(want, "float") == 0 && floatish)) {
        capv_status code;
        const char *why = NULL;
        if (want && strcmp(want, "float") == 0 && k == NUM_DEC)
            k = NUM_FLOAT; /* !!float 1 is the float 1.0 */
        *out = make_number(v, k, &code, &why);
        if (*out == NULL)
            return code == CAPV_E_NOMEM ? capvi_err_nomem(b->err)
                                        : at_mark(b, code, ev->start_mark, why, NULL);
        return CAPV_OK;
    }
    if (want != NULL)
        return at_mark(b, CAPV_E_TYPE, ev->start_mark, "scalar does not match its tag !!", want);
    *out = cJSON_CreateString(v);
    return *out ? CAPV_OK : capvi_err_nomem(b->err);
}

/* ---- tree building --------------------------------------------------------------------- */

static capv_status check_duplicates(builder *b, const cJSON *obj)
{
    const cJSON *dup = NULL;
    if (capvi_json_find_duplicate(&dup, obj) != CAPV_OK)
        return capvi_err_nomem(b->err);
    if (dup == NULL)
        return CAPV_OK;
    unsigned line = 0, col = 0;
    capvi_yaml_find(b->doc, dup, &line, &col, true);
    char msg[CAPV_ERROR_MESSAGE_SIZE];
    snprintf(msg, sizeof msg, "duplicate mapping key \"%s\"", CAPV_CLIP(dup->string));
    return at(b->err, CAPV_E_JSON_DUPLICATE_KEY, line, col, msg, NULL);
}

/* Attaches a new node to the current container (or makes it the root). Takes `node`. */
static capv_status attach(builder *b, cJSON *node, yaml_mark_t m)
{
    unsigned kl = 0, kc = 0;
    if (b->depth == 0) {
        if (b->have_root) {
            cJSON_Delete(node);
            return at_mark(b, CAPV_E_MALFORMED, m, "more than one YAML document", NULL);
        }
        b->doc->root = node;
        b->have_root = true;
    } else {
        frame *f = &b->stack[b->depth - 1];
        if (f->map) {
            kl = f->key_line;
            kc = f->key_col;
            /* it copies the key, which can fail: then the member would be missing */
            bool added = cJSON_AddItemToObject(f->node, f->key, node);
            free(f->key);
            f->key = NULL;
            if (!added) {
                cJSON_Delete(node);
                return capvi_err_nomem(b->err);
            }
        } else {
            cJSON_AddItemToArray(f->node, node);
        }
    }
    return add_mark(b, node, m, kl, kc);
}

static capv_status on_event(builder *b, const yaml_event_t *ev)
{
    capv_status st;
    frame *top = b->depth > 0 ? &b->stack[b->depth - 1] : NULL;
    bool want_key = top && top->map && top->key == NULL;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->documents > 1)
            return at_mark(b, CAPV_E_MALFORMED, ev->start_mark, "more than one YAML document",
                           NULL);
        return CAPV_OK;
    case YAML_ALIAS_EVENT:
        return at_mark(b, CAPV_E_UNSUPPORTED_FORMAT, ev->start_mark,
                       "aliases are not supported in policies", NULL);
    case YAML_SCALAR_EVENT: {
        st = capvi_utf8_check(ev->data.scalar.value, ev->data.scalar.length, NULL);
        if (st != CAPV_OK)
            return at_mark(b, st, ev->start_mark,
                           st == CAPV_E_JSON_NUL ? "NUL character in a scalar"
                                                 : "invalid UTF-8 in a scalar",
                           NULL);
        if (want_key) {
            const char *tag = tag_suffix(ev->data.scalar.tag);
            if (tag != NULL && strcmp(tag, "!") != 0 && strcmp(tag, "str") != 0)
                return at_mark(b, CAPV_E_UNSUPPORTED_FORMAT, ev->start_mark,
                               "unsupported tag on a key: ", (const char *)ev->data.scalar.tag);
            /* keys are text: the scalar as written, whatever it would resolve to */
            top->key = strdup((const char *)ev->data.scalar.value);
            if (top->key == NULL)
                return capvi_err_nomem(b->err);
            top->key_line = (unsigned)ev->start_mark.line + 1;
            top->key_col = (unsigned)ev->start_mark.column + 1;
            return CAPV_OK;
        }
        cJSON *node = NULL;
        if ((st = scalar_node(b, ev, &node)) != CAPV_OK)
            return st;
        return attach(b, node, ev->start_mark);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        if (want_key)
            return at_mark(b, CAPV_E_TYPE, ev->start_mark, "mapping keys must be scalars", NULL);
        const char *tag =
            tag_suffix(map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
        if (tag != NULL && strcmp(tag, "!") != 0 && strcmp(tag, map ? "map" : "seq") != 0)
            return at_mark(
                b, CAPV_E_UNSUPPORTED_FORMAT, ev->start_mark, "unsupported tag ",
                (const char *)(map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag));
        if (b->depth >= CAPV_JSON_MAX_DEPTH)
            return at_mark(b, CAPV_E_JSON_DEPTH, ev->start_mark, "nested deeper than 64", NULL);
        cJSON *node = map ? cJSON_CreateObject() : cJSON_CreateArray();
        if (node == NULL)
            return capvi_err_nomem(b->err);
        if ((st = attach(b, node, ev->start_mark)) != CAPV_OK)
            return st;
        b->stack[b->depth++] = (frame){ node, map, NULL, 0, 0 };
        return CAPV_OK;
    }
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT: {
        if (top == NULL)
            return capvi_err_set(b->err, CAPV_E_INTERNAL, NULL, "unbalanced YAML events");
        cJSON *node = top->node;
        bool map = top->map;
        free(top->key);
        top->key = NULL;
        b->depth--;
        return map ? check_duplicates(b, node) : CAPV_OK;
    }
    default: return CAPV_OK;
    }
}

static void offset_to_pos(const uint8_t *data, size_t len, size_t off, unsigned *line,
                          unsigned *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (data[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if ((data[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

/* Offset of the first byte that is not part of valid UTF-8 (or is NUL). */
static size_t first_bad_byte(const uint8_t *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (data[i] == 0)
            return i;
        if (data[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = 2;
        while (n <= 4 && (i + n > len || capvi_utf8_check(data + i, n, NULL) != CAPV_OK))
            n++;
        if (n > 4)
            return i;
        i += n;
    }
    return i;
}

static bool has_bom(const uint8_t *data, size_t len)
{
    return len >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF;
}

capv_status capvi_yaml_parse(capv_yaml_doc *out, const uint8_t *data, size_t len, capv_error *err)
{
    if (out == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    memset(out, 0, sizeof *out);
    capv_status st = capvi_utf8_check(data, len, err);
    if (st != CAPV_OK) {
        size_t off = first_bad_byte(data, len);
        unsigned line, col;
        offset_to_pos(data, len, off, &line, &col);
        return at(err, st, line, col, st == CAPV_E_JSON_NUL ? "NUL byte" : "invalid UTF-8", NULL);
    }
    /* a UTF-8 byte order mark is not content (libyaml, told the encoding, would read it as a
     * character of line 1) */
    if (has_bom(data, len)) {
        data += 3;
        len -= 3;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return capvi_err_nomem(err);
    static const unsigned char empty[1] = { 0 };
    yaml_parser_set_input_string(&parser, len ? data : empty, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    builder b = { .doc = out, .err = err };
    bool done = false;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            if (parser.error == YAML_MEMORY_ERROR) {
                st = capvi_err_nomem(err);
            } else {
                unsigned line, col;
                if (parser.error == YAML_READER_ERROR) {
                    offset_to_pos(data, len, parser.problem_offset, &line, &col);
                } else {
                    line = (unsigned)parser.problem_mark.line + 1;
                    col = (unsigned)parser.problem_mark.column + 1;
                }
                char msg[CAPV_ERROR_MESSAGE_SIZE];
                snprintf(msg, sizeof msg, "%s%s%s", parser.problem ? parser.problem : "error",
                         parser.context ? " " : "", parser.context ? parser.context : "");
                st = at(err, CAPV_E_MALFORMED, line, col, "YAML syntax: ", msg);
            }
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        st = on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (st != CAPV_OK)
            break;
    }
    yaml_parser_delete(&parser);
    for (int i = 0; i < b.depth; i++)
        free(b.stack[i].key);
    if (st == CAPV_OK && !b.have_root)
        st = at(err, CAPV_E_MALFORMED, 1, 1, "empty YAML document", NULL);
    if (st != CAPV_OK)
        capvi_yaml_doc_free(out);
    return st;
}

bool capvi_yaml_find(const capv_yaml_doc *doc, const cJSON *node, unsigned *line, unsigned *col,
                     bool key)
{
    for (size_t i = 0; doc && i < doc->nmarks; i++) {
        if (doc->marks[i].node != node)
            continue;
        if (key && doc->marks[i].key_line != 0) {
            *line = doc->marks[i].key_line;
            *col = doc->marks[i].key_col;
        } else {
            *line = doc->marks[i].line;
            *col = doc->marks[i].col;
        }
        return true;
    }
    return false;
}

void capvi_yaml_doc_free(capv_yaml_doc *doc)
{
    if (doc == NULL)
        return;
    cJSON_Delete(doc->root);
    free(doc->marks);
    memset(doc, 0, sizeof *doc);
}

capv_status capvi_policy_read_doc(capv_yaml_doc *out, const uint8_t *data, size_t len,
                                  capv_policy_format format, capv_error *err)
{
    if (out == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    memset(out, 0, sizeof *out);
    if (format == CAPV_POLICY_FORMAT_AUTO) {
        /* '{' first is JSON; anything else is YAML, a UTF-8 BOM first too (which YAML
         * allows and strict JSON does not) */
        size_t i = 0;
        while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
            i++;
        format = i < len && data[i] == '{' ? CAPV_POLICY_FORMAT_JSON : CAPV_POLICY_FORMAT_YAML;
    }
    if (format == CAPV_POLICY_FORMAT_JSON) {
        /* the numbers serde_json read, which the existing implementation hashed */
        capv_status st = capvi_json_parse(&out->root, data, len, err);
        if (st == CAPV_OK && !capvi_json_serde_numbers(out->root)) {
            cJSON_Delete(out->root);
            out->root = NULL;
            st = capvi_err_nomem(err);
        }
        return st;
    }
    if (format == CAPV_POLICY_FORMAT_YAML)
        return capvi_yaml_parse(out, data, len, err);
    return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown policy format %d", (int)format);
}

const char *capvi_clip(char buf[CAPV_CLIP_SIZE], const char *s)
{
    size_t n = strlen(s), cut = n;
    if (n > 64) {
        cut = 64;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
    }
    memcpy(buf, s, cut);
    memcpy(buf + cut, n > cut ? "..." : "", n > cut ? 4 : 1);
    return buf;
}
