/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * Text encodings used by CAP formats (docs/formats.md): hex digests, base64 and base64url.
 * Decoders are strict: they reject bad characters, bad padding and non-canonical trailing
 * bits, so every accepted text has exactly one byte string and vice versa. Thread-safe. */
#ifndef CAPVERIFY_ENCODING_H
#define CAPVERIFY_ENCODING_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** "0x" + 64 lower-case hex digits + NUL. Since 0.1. */
#define CAPV_DIGEST_HEX_SIZE 67

/** Formats a 32-byte digest as "0x" + 64 lower-case hex digits, NUL-terminated. Since 0.1. */
CAPV_API void capv_digest_format(char out[CAPV_DIGEST_HEX_SIZE], const uint8_t digest[32]);

/** Parses a digest: "0x" or "sha3-256:", then exactly 64 hex digits of either case,
 * nothing else (no whitespace). CAPV_E_HEX otherwise. Since 0.1; since 0.2 the prefix is
 * required. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_digest_parse(uint8_t out[32], const char *text,
                                                               size_t len, capv_error *err);

/** Lower-case hex of `len` bytes into `out` (capacity `cap` >= 2*len+1), NUL-terminated,
 * without prefix. CAPV_E_BUFFER_TOO_SMALL if it does not fit. Since 0.1; `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_hex_encode(char *out, size_t cap,
                                                             const uint8_t *data, size_t len,
                                                             capv_error *err);

/** Decodes hex text (optional "0x" prefix, either case, even number of digits) into exactly
 * `want` bytes; any other length is CAPV_E_HEX. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_hex_decode(uint8_t *out, size_t want,
                                                             const char *text, size_t len,
                                                             capv_error *err);

/** The Base64 alphabet and padding rule (capv_base64_encode, capv_base64_decode).
 * Since 0.1. */
typedef enum capv_base64_variant {
    CAPV_BASE64_STD = 1, /**< RFC 4648 §4 alphabet, '=' padding required */
    CAPV_BASE64_URL = 2  /**< RFC 4648 §5 alphabet, no padding (as in JOSE) */
} capv_base64_variant;

/** Upper bound of the decoded size of `len` characters. Since 0.1. */
#define CAPV_BASE64_DECODED_MAX(len) (((len) / 4u) * 3u + 3u)
/** Exact encoded size of `len` bytes, plus one for the NUL. Since 0.1. */
#define CAPV_BASE64_ENCODED_SIZE(len) ((((len) + 2u) / 3u) * 4u + 1u)

/** Strict decode of `text[0..len)` into `out` (capacity `cap`), writing the decoded length to
 * `*out_len`. No whitespace is accepted. CAPV_E_BASE64 on any violation,
 * CAPV_E_BUFFER_TOO_SMALL when `cap` is too small. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_base64_decode(uint8_t *out, size_t cap,
                                                                size_t *out_len, const char *text,
                                                                size_t len,
                                                                capv_base64_variant variant,
                                                                capv_error *err);

/** Encodes `data` into `out` (capacity `cap`, at least CAPV_BASE64_ENCODED_SIZE(len)),
 * NUL-terminated; `*out_len` (may be NULL) receives the length without the NUL.
 * CAPV_E_BUFFER_TOO_SMALL if it does not fit. Since 0.1; `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_base64_encode(char *out, size_t cap,
                                                                size_t *out_len,
                                                                const uint8_t *data, size_t len,
                                                                capv_base64_variant variant,
                                                                capv_error *err);

#ifdef __cplusplus
}
#endif

#endif
