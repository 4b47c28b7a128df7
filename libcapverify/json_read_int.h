/* SPDX-License-Identifier: Apache-2.0 */
/* Strict JSON input (json.c), as the rest of the library reads JSON (docs/architecture.md,
 * "Strict JSON").
 *
 * Trees come from capvi_json_parse() only, which validates the raw bytes (grammar, UTF-8,
 * escapes, depth, trailing bytes) while building the same cJSON tree cJSON's parser would,
 * each number node also keeping its exact source text (cJSON keeps only a double), then
 * rejects duplicate keys.
 * Look-ups are case-sensitive. Integer reads are exact and range-checked. Most files include
 * json_int.h, which brings this and the writers (json_write_int.h). */
#ifndef CAPV_JSON_READ_INT_H
#define CAPV_JSON_READ_INT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "error_int.h"

/* Parses strict JSON into a cJSON tree (free with cJSON_Delete). Each node is one allocation
 * holding its member name and, unless long, its string or number text (json.c, new_node):
 * copy such trees with capvi_json_duplicate, and free a string value early only with
 * capvi_json_drop_string. */
capv_status capvi_json_parse(cJSON **out, const uint8_t *data, size_t len, capv_error *err);

/* Memory trees are parsed into by capvi_json_parse_in: their nodes are taken in order from
 * `mem` (aligned as malloc aligns), then from heap blocks once it is full, so such a parse
 * makes no allocation per node. A tree in an arena is never given to cJSON_Delete; it lives
 * until capvi_json_arena_release, which frees the blocks and empties `mem` for the next
 * tree. For short-lived trees read on hot paths (a JWT's claims). */
typedef struct capv_json_arena {
    void *mem;
    size_t cap;
    size_t used;
    struct arena_block *blocks;
} capv_json_arena;

/* An arena over the array `buf` (of max_align_t, say). */
#define CAPV_JSON_ARENA(buf)                                                                       \
    {                                                                                              \
        (buf), sizeof(buf), 0, NULL                                                                \
    }

/* An arena of heap blocks alone. */
#define CAPV_JSON_ARENA_HEAP_ONLY                                                                  \
    {                                                                                              \
        NULL, 0, 0, NULL                                                                           \
    }

/* capvi_json_parse, the tree in `arena` (on failure, what it took stays there until the
 * release). */
capv_status capvi_json_parse_in(cJSON **out, capv_json_arena *arena, const uint8_t *data,
                                size_t len, capv_error *err);
void capvi_json_arena_release(capv_json_arena *arena);

/* A deep copy of `item` that owns all its memory (cJSON_Duplicate would share the member names
 * of a parsed tree), or NULL when out of memory. */
cJSON *capvi_json_duplicate(const cJSON *item);

/* Tree building with nodes shaped as the parser's (one allocation holding the member name
 * and a string's text; copy such trees with capvi_json_duplicate): each appends to `parent`
 * (an object, with `key`; an array, with NULL) a new string, number, bool, or empty object or
 * array, and returns it, or NULL when out of memory (or `value` is NULL). */
cJSON *capvi_json_add_string(cJSON *parent, const char *key, const char *value);
cJSON *capvi_json_add_number(cJSON *parent, const char *key, double value);
cJSON *capvi_json_add_bool(cJSON *parent, const char *key, bool value);
cJSON *capvi_json_add_container(cJSON *parent, const char *key, bool object);

/* Frees the string value of `item` if it has its own allocation, and clears it. */
void capvi_json_drop_string(cJSON *item);

/* The later (in document order) of a pair of equal keys of object `obj`, or NULL; cJSON keeps
 * both, so every tree builder must check. CAPV_E_NOMEM is the only failure. */
capv_status capvi_json_find_duplicate(const cJSON **dup, const cJSON *obj);

/* Member `key` of object `obj` (case-sensitive), or NULL if absent or obj is not an object. */
const cJSON *capvi_json_get(const cJSON *obj, const char *key);

/* Required/optional typed member reads. `path` names the object in error messages ("" for
 * the root); the error's field becomes "path.key". Optional reads leave `*out` unchanged and
 * return CAPV_OK when the member is absent (or JSON null where noted). */
capv_status capvi_json_get_string(const char **out, const cJSON *obj, const char *path,
                                  const char *key, bool required, capv_error *err);
capv_status capvi_json_get_bool(bool *out, const cJSON *obj, const char *path, const char *key,
                                bool required, capv_error *err);
capv_status capvi_json_get_object(const cJSON **out, const cJSON *obj, const char *path,
                                  const char *key, bool required, capv_error *err);
capv_status capvi_json_get_array(const cJSON **out, const cJSON *obj, const char *path,
                                 const char *key, bool required, capv_error *err);
capv_status capvi_json_get_int(int64_t *out, const cJSON *obj, const char *path, const char *key,
                               int64_t min, int64_t max, bool required, capv_error *err);

/* Exact integer value of a number node within [min, max]: CAPV_E_TYPE if not a number,
 * CAPV_E_RANGE if it has a fraction/exponent that is not integral, or lies outside. */
capv_status capvi_json_int_value(int64_t *out, const cJSON *item, int64_t min, int64_t max);

/* The largest integer every JSON peer (IEEE double) represents exactly: 2^53. */
#define CAPV_JSON_INT_MAX INT64_C(9007199254740992)

/* Checks that s[0..len) is valid UTF-8 without NUL bytes (CAPV_E_JSON_UTF8 / _NUL). */
capv_status capvi_utf8_check(const uint8_t *s, size_t len, capv_error *err);

/* Scans strict JSON text without building a tree (grammar, UTF-8, escapes, depth, trailing
 * bytes; not duplicate keys, which need the tree) and tells whether it is an object, and
 * which of the NULL-terminated `keys` (at most 32, ASCII) name members of that object: bit i
 * of `*found` for keys[i], escapes in member names decoded. For choosing how to read a body
 * before paying for its tree. */
capv_status capvi_json_scan_keys(unsigned int *found, bool *is_object, const uint8_t *data,
                                 size_t len, const char *const *keys, capv_error *err);

/* Creates a number node that is written with exactly `lexeme` (a valid JSON number). */
cJSON *capvi_json_number_lexeme(const char *lexeme);

#endif
