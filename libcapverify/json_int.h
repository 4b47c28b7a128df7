/* The strict JSON wrapper over cJSON used by every module (SPEC §3.1).
 *
 * Trees come from capvi_json_parse() only, which validates the raw bytes first (grammar,
 * UTF-8, escapes, depth, trailing bytes), lets cJSON build the tree, then rejects duplicate
 * keys and attaches each number's exact source text to its node (cJSON keeps only a double).
 * Look-ups are case-sensitive. Integer reads are exact and range-checked. */
#ifndef CAPV_JSON_INT_H
#define CAPV_JSON_INT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "buf.h"
#include "error_int.h"

/* Parses strict JSON into a cJSON tree (free with cJSON_Delete). */
capv_status capvi_json_parse(cJSON **out, const uint8_t *data, size_t len, capv_error *err);

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

/* Length of the well-formed UTF-8 sequence at p[0] (a byte >= 0x80), or 0 if invalid. */
size_t capvi_utf8_seq(const uint8_t *p, size_t avail);

/* Checks that s[0..len) is valid UTF-8 without NUL bytes (CAPV_E_JSON_UTF8 / _NUL). */
capv_status capvi_utf8_check(const uint8_t *s, size_t len, capv_error *err);

/* Creates a number node that is written with exactly `lexeme` (a valid JSON number). */
cJSON *capvi_json_number_lexeme(const char *lexeme);

/* Writers. Compact = the compat canonical form of SPEC §3.1. Pretty = 2-space indentation in
 * the style of serde_json's pretty printer ("key": value, [] and {} for empty containers).
 * The flags are CAPV_JSON_CANON_*. Failure is recorded in the buffer's sticky flag. */
void capvi_json_write_compact(capv_buf *b, const cJSON *item, unsigned int flags);
void capvi_json_write_pretty(capv_buf *b, const cJSON *item);

/* Writes `s[0..len)` as a JSON string literal with the compat escaping. */
void capvi_json_write_string(capv_buf *b, const char *s, size_t len);

/* Writes a double the way serde_json (ryu) prints an f64: shortest round-trip digits,
 * "1.0", "0.001", "1e21", "1.5e-7". Non-finite values are written as null. */
void capvi_json_write_double(capv_buf *b, double v);

#endif
