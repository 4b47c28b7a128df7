/* SPDX-License-Identifier: Apache-2.0 */
/* JWS parsing and signature checks of the validator (jwt.c), reached by the unit tests. */
#ifndef CAPV_JWT_INT_H
#define CAPV_JWT_INT_H

#include "jwk_int.h"
#include "jwks_int.h"

/* Bit mask of capv_jwt_alg values: 1u << alg. */
#define CAPV_JWT_ALG_BIT(a) (1u << (unsigned)(a))
#define CAPV_JWT_ALGS_DEFAULT                                                                      \
    (CAPV_JWT_ALG_BIT(CAPV_JWT_ALG_RS256) | CAPV_JWT_ALG_BIT(CAPV_JWT_ALG_PS256) |                 \
     CAPV_JWT_ALG_BIT(CAPV_JWT_ALG_ES256) | CAPV_JWT_ALG_BIT(CAPV_JWT_ALG_EDDSA))

/* A kid shorter than this lives in the capv_jws itself. */
#define CAPV_JWS_KID_INLINE 128

/* A JWS in compact serialization, decoded but not yet trusted. Copying the struct moves it
 * (the copy owns what the original did). */
typedef struct capv_jws {
    const uint8_t *signing_input; /* header "." payload, inside the token */
    size_t signing_input_len;
    capv_jwt_alg alg;
    bool has_kid;
    char *kid_heap; /* a kid too long for kid_inline, or NULL */
    char kid_inline[CAPV_JWS_KID_INLINE];
    uint8_t *payload;
    size_t payload_len;
    uint8_t *sig;
    size_t sig_len;
} capv_jws;

/* The header's kid, or NULL when it has none or an empty one (docs/auth.md). */
static inline const char *capvi_jws_kid(const capv_jws *jws)
{
    return !jws->has_kid ? NULL : jws->kid_heap != NULL ? jws->kid_heap : jws->kid_inline;
}

/* Splits and decodes a compact JWS (three strict base64url segments, a strict-JSON object
 * header with a string "alg", optional string "kid", no "crit"), and checks alg against the
 * allow-list mask. Rejections carry a reason (see jwt.h). Free with capvi_jws_clear. A header
 * segment byte-for-byte the same as the last one the thread parsed is not parsed again: its
 * alg and kid are remembered (docs/auth.md, "Cost of a validation"). */
capv_status capvi_jws_parse(capv_jws *jws, const uint8_t *token, size_t len, unsigned int algs,
                            const char **reason, capv_error *err);
void capvi_jws_clear(capv_jws *jws);

/* Picks the key for a parsed JWS from `set` (by kid and alg) and verifies the signature.
 * Reasons: unknown_kid, key_alg_mismatch, bad_signature. */
capv_status capvi_jws_verify_with_set(const capv_jws *jws, const capv_jwk_set *set,
                                      const char **reason, capv_error *err);

#endif
