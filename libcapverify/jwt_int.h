/* Internals shared by jwk.c (JWK import), jwt.c (JWS parsing, claims, validator) and jwks.c
 * (key-set source), and reached by the unit tests (Wycheproof, RFC 7520 cookbook). */
#ifndef CAPV_JWT_INT_H
#define CAPV_JWT_INT_H

#include <openssl/evp.h>
#include <stdatomic.h>

#include "json_int.h"

typedef enum jwk_kty { JWK_KTY_RSA = 1, JWK_KTY_EC = 2, JWK_KTY_OKP = 3 } jwk_kty;

struct capv_jwk {
    char *kid; /* "" when the JWK has none */
    jwk_kty kty;
    capv_jwt_alg alg; /* the JWK's own "alg", or 0 = any algorithm of its type */
    unsigned int bits;
    EVP_PKEY *pkey; /* prepared for verification; shared read-only between threads */
    /* Per algorithm (index capv_jwt_alg), a context on which EVP_DigestVerifyInit was done
     * once; verifications copy it instead of fetching the implementation every time (the
     * copy only reads the template, so threads share it). NULL: initialise afresh. */
    EVP_MD_CTX *tmpl[CAPV_JWT_ALG_EDDSA + 1];
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

/* Bit mask of capv_jwt_alg values: 1u << alg. */
#define CAPV_JWT_ALG_BIT(a) (1u << (unsigned)(a))
#define CAPV_JWT_ALGS_DEFAULT                                                                      \
    (CAPV_JWT_ALG_BIT(CAPV_JWT_ALG_RS256) | CAPV_JWT_ALG_BIT(CAPV_JWT_ALG_PS256) |                 \
     CAPV_JWT_ALG_BIT(CAPV_JWT_ALG_ES256) | CAPV_JWT_ALG_BIT(CAPV_JWT_ALG_EDDSA))

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

/* A JWS in compact serialization, decoded but not yet trusted. */
typedef struct capv_jws {
    const uint8_t *signing_input; /* header "." payload, inside the token */
    size_t signing_input_len;
    cJSON *header;
    const char *alg_name; /* borrowed from header */
    capv_jwt_alg alg;     /* 0 when the name is not one we implement */
    const char *kid;      /* borrowed from header, NULL when absent */
    uint8_t *payload;
    size_t payload_len;
    uint8_t *sig;
    size_t sig_len;
} capv_jws;

/* Splits and decodes a compact JWS (three strict base64url segments, a strict-JSON object
 * header with a string "alg", optional string "kid", no "crit"), and checks alg against the
 * allow-list mask. Rejections carry a reason (see jwt.h). Free with capvi_jws_clear. */
capv_status capvi_jws_parse(capv_jws *jws, const uint8_t *token, size_t len, unsigned int algs,
                           const char **reason, capv_error *err);
void capvi_jws_clear(capv_jws *jws);

/* Picks the key for a parsed JWS from `set` (by kid and alg) and verifies the signature.
 * Reasons: unknown_kid, key_alg_mismatch, bad_signature. */
capv_status capvi_jws_verify_with_set(const capv_jws *jws, const capv_jwk_set *set,
                                     const char **reason, capv_error *err);

/* Key-set source hooks for the validator (jwks.c). */

/* The set to validate with (a new reference). Fetches synchronously when there is no set or
 * it has expired, or it is stale and no refresher runs (single-flight, rate-limited).
 * CAPV_E_UNAVAILABLE when no usable set can be had. */
capv_status capvi_jwks_acquire(capv_jwk_set **out, capv_jwks *jwks, capv_error *err);

/* Called after a kid was not found in `seen`: returns a newer set to retry with (a new
 * reference) — installed meanwhile, or refetched now if refresh_min_interval allows (one
 * fetch in flight; others wait for it up to the fetch timeout) — or NULL. */
capv_jwk_set *capvi_jwks_refetch_for_kid(capv_jwks *jwks, const capv_jwk_set *seen);

#endif
