/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * Hashing: SHA3-256 and SHA-256 (OpenSSL EVP) and BLAKE3-256 (official C implementation),
 * one-shot and streaming. All digests are 32 bytes. Requires capv_global_init(). */
#ifndef CAPVERIFY_HASH_H
#define CAPVERIFY_HASH_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of a digest of every algorithm below (256 bits). Since 0.1. */
#define CAPV_DIGEST_LEN 32

/** A digest algorithm (capv_hash, capv_hash_ctx_new). Since 0.1. */
typedef enum capv_hash_alg {
    CAPV_HASH_SHA3_256 = 1, /**< SHA3-256 ("sha3-256") */
    CAPV_HASH_SHA256 = 2,   /**< SHA-256 ("sha256") */
    CAPV_HASH_BLAKE3 = 3    /**< BLAKE3-256 ("blake3") */
} capv_hash_alg;

/** Parses "sha3-256", "sha256" / "sha-256", "blake3" (case-insensitive) into `out`.
 * CAPV_E_INVALID_ARG for anything else. Thread-safe. Since 0.1; `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_hash_alg_from_name(capv_hash_alg *out,
                                                                     const char *name,
                                                                     capv_error *err);

/** Canonical lower-case name of an algorithm ("sha3-256", "sha256", "blake3"), or NULL.
 * Static string. Thread-safe. Since 0.1. */
CAPV_API const char *capv_hash_alg_name(capv_hash_alg alg);

/** One-shot digest of `data[0..len)` into `out`. `data` may be NULL when len is 0.
 * Thread-safe. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_hash(uint8_t out[CAPV_DIGEST_LEN],
                                                       capv_hash_alg alg, const uint8_t *data,
                                                       size_t len, capv_error *err);

/** Streaming hashing. A context is used by one thread at a time. Since 0.1. */
typedef struct capv_hash_ctx capv_hash_ctx;

/** Creates a context for `alg`; free it with capv_hash_ctx_free(). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_hash_ctx_new(capv_hash_ctx **out,
                                                               capv_hash_alg alg, capv_error *err);

/** Absorbs more input. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_hash_ctx_update(capv_hash_ctx *ctx,
                                                                  const uint8_t *data, size_t len,
                                                                  capv_error *err);

/** Writes the digest of everything absorbed since creation or the last reset, then resets
 * the context so it can hash a new message. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_hash_ctx_final(uint8_t out[CAPV_DIGEST_LEN],
                                                                 capv_hash_ctx *ctx,
                                                                 capv_error *err);

/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_hash_ctx_free(capv_hash_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
