/* SPDX-License-Identifier: Apache-2.0 */
/* Writing JSON (json_write.c): the compat canonical form that CAP signers sign
 * (docs/formats.md) and the pretty form of reports and exports. */
#ifndef CAPV_JSON_WRITE_INT_H
#define CAPV_JSON_WRITE_INT_H

#include <cjson/cJSON.h>

#include "buf.h"
#include "json_read_int.h"

/* Writers. Compact = the compat canonical form (docs/formats.md). Pretty = 2-space indentation in
 * the style of serde_json's pretty printer ("key": value, [] and {} for empty containers).
 * The flags are CAPV_JSON_CANON_*. Failure is recorded in the buffer's sticky flag. */
void capvi_json_write_compact(capv_buf *b, const cJSON *item, unsigned int flags);

/* capvi_json_write_compact flag: the form serde_json's Value gives with to_string(), which v1
 * audit digests cover (docs/formats.md, "Audit logs"): every object's members sorted by the
 * bytes of their keys, at every depth; integers within i64 / u64 exactly as written, "-0" and
 * integers beyond those ranges as the double they read as (serde_json reads them as f64). */
#define CAPVI_JSON_SERDE_VALUE 0x100u
void capvi_json_write_pretty(capv_buf *b, const cJSON *item);

/* Writes `s[0..len)` as a JSON string literal with the compat escaping. */
void capvi_json_write_string(capv_buf *b, const char *s, size_t len);

/* Rewrites, in a tree of capvi_json_parse, every number serde_json reads as an f64 although
 * written as an integer ("-0", integers beyond i64 / u64) to the form serde_json prints that
 * f64 in ("-0.0", "1.8446744073709552e19"): the tree then holds the numbers the existing
 * implementation's serde_json::Value held (docs/policies.md, "Hashes"). False when memory
 * ran out (the tree is then partly rewritten). */
bool capvi_json_serde_numbers(cJSON *root);

/* Whether a decimal integer lexeme ("-"? digits, no leading zero) fits the type serde reads
 * it as: u64, or i64 when negative ("-0" does not: serde_json reads it as the f64 -0.0). */
bool capvi_json_serde_integer(const char *lex);

/* Writes a double the way serde_json (ryu) prints an f64: shortest round-trip digits,
 * "1.0", "0.001", "1e21", "1.5e-7". Non-finite values are written as null. */
void capvi_json_write_double(capv_buf *b, double v);

#endif
