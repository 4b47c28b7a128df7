/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * Strict JSON (docs/architecture.md, "Strict JSON") and the compat canonical form that CAP
 * signers sign (docs/formats.md, "Compat canonical JSON").
 *
 * Strict input rejects what RFC 8259 leaves open or what cJSON would silently change:
 * duplicate object keys, invalid UTF-8, "\u0000" escapes, lone surrogates, bytes after the
 * value, nesting deeper than CAPV_JSON_MAX_DEPTH, and numbers longer than 63 characters.
 * Thread-safe. */
#ifndef CAPVERIFY_JSON_H
#define CAPVERIFY_JSON_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Deepest nesting of arrays and objects the strict parser accepts. Since 0.1. */
#define CAPV_JSON_MAX_DEPTH 64

/** Checks that `data[0..len)` is one strict JSON value. Returns the exact CAPV_E_JSON_* (or
 * CAPV_E_RANGE for an over-long number) of the first violation, with its byte offset in
 * err->field ("@offset"). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_json_validate(const uint8_t *data, size_t len,
                                                                capv_error *err);

/** Canonicalisation flags. Since 0.1. */
#define CAPV_JSON_CANON_EMPTY_SIGNATURES 0x1u /**< top-level "signatures" value written as [] */

/** Compat canonical bytes of strict JSON input: compact, keys in document order, separators
 * "," ":", strings escaping only '"', '\\' and U+0000..U+001F (short forms for `\b` `\f` `\n`
 * `\r` `\t`, else `\u00xx` lower-case), everything else raw UTF-8, integers exactly as written.
 * With CAPV_JSON_CANON_EMPTY_SIGNATURES this is the byte string a CAP manifest signature
 * covers. `*out` is NUL-terminated for convenience and caller-owned (free with capv_free);
 * `*out_len` excludes the NUL. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_json_canonical(uint8_t **out, size_t *out_len,
                                                                 const uint8_t *data, size_t len,
                                                                 unsigned int flags,
                                                                 capv_error *err);

/** Writes `s[0..len)` as a JSON string literal (with the quotes) using the compat escaping
 * above, for programs that emit JSON. The input must be valid UTF-8 (else CAPV_E_JSON_UTF8)
 * without NUL bytes (else CAPV_E_JSON_NUL). `*out` is NUL-terminated and caller-owned (free
 * with capv_free). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_json_quote(char **out, size_t *out_len,
                                                             const char *s, size_t len,
                                                             capv_error *err);

#ifdef __cplusplus
}
#endif

#endif
