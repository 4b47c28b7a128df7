/* SPDX-License-Identifier: Apache-2.0 */
/* JWK import and JWK sets (jwk.c): the parsed keys, shared with the key-set source
 * (jwks.c), the validator (jwt.c) and the unit tests (Wycheproof, RFC 7520 cookbook). */
#ifndef CAPV_JWK_INT_H
#define CAPV_JWK_INT_H

#include <openssl/evp.h>
#include <stdatomic.h>

#include "ctx_pool_int.h"
#include "json_int.h"

typedef enum jwk_kty { JWK_KTY_RSA = 1, JWK_KTY_EC = 2, JWK_KTY_OKP = 3 } jwk_kty;

struct capv_jwk {
    char *kid; /* "" when the JWK has none or an empty one: no kid (docs/auth.md) */
    jwk_kty kty;
    capv_jwt_alg alg; /* the JWK's own "alg", or 0 = any algorithm of its type */
    unsigned int bits;
    EVP_PKEY *pkey; /* prepared for verification; shared read-only between threads */
    /* Per algorithm (index capv_jwt_alg), the verification contexts made so far, reused
     * instead of initialising one (a provider fetch and several allocations) per token; the
     * pool is thread-safe, so threads share the key. NULL: each verification makes its own. */
    capv_ctx_pool *pool[CAPV_JWT_ALG_EDDSA + 1];
};

typedef struct jwk_ignored {
    size_t index;
    char *kid;
    char *reason;
} jwk_ignored;

struct capv_jwk_set {
    atomic_uint refs;
    uint64_t generation;
    capv_jwk *keys;
    size_t count;
    jwk_ignored *ignored;
    size_t nignored;
};

/* Imports one JWK object as a public signature key. On failure the error message is the
 * reason the key is not usable (the set parser records it as "ignored"). */
capv_status capvi_jwk_import(capv_jwk *out, const cJSON *jwk, capv_error *err);
void capvi_jwk_clear(capv_jwk *key);

/* Verifies a JOSE signature (for ES256 the raw r||s form) over msg with `key` for `alg`:
 * CAPV_OK, CAPV_E_SIGNATURE (does not verify, wrong length, r or s out of range) or
 * CAPV_E_ALG_NOT_ALLOWED (the key cannot be used with alg). Thread-safe. */
capv_status capvi_jwk_verify(const capv_jwk *key, capv_jwt_alg alg, const uint8_t *sig,
                             size_t sig_len, const uint8_t *msg, size_t len, capv_error *err);

/* Takes another reference to a set. */
capv_jwk_set *capvi_jwk_set_ref(capv_jwk_set *set);

#endif
