/* SPDX-License-Identifier: Apache-2.0 */
/* A verification record ready to store (docs/registry.md "Recording verifications"):
 * validated, its digests canonical, its time fixed and its report body chosen (the report
 * itself or its summary) on the caller's thread, so that the storage only compares and
 * inserts. The same form is queued by asynchronous recording and handed to a backend in
 * batches. No storage header is needed to use it. */
#ifndef CAPV_REGISTRY_RECORD_INT_H
#define CAPV_REGISTRY_RECORD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capverify/hash.h"
#include "capverify/registry.h"
#include "error_int.h"

typedef struct capvi_reg_record {
    char request_id[129];
    const char *subject; /* NULL: none */
    bool has_m, has_p, has_pol;
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE], pol[CAPV_DIGEST_HEX_SIZE];
    uint8_t mk[32], pk[32]; /* the manifest / proof digests (has_m / has_p) */
    char result[8];         /* ok, warn or fail */
    char at[40];            /* verified_at as stored */
    bool at_given;          /* the caller gave verified_at: a retry must repeat it */
    int64_t ms;             /* verified_at in ms since the epoch */
    const char *body;       /* the stored report text; NULL: no report */
    size_t body_len;
    size_t full_len; /* the report's own length */
    bool summary;    /* body is the report's summary */
    uint8_t key[32]; /* SHA3-256 of the full report */
    bool seq_wanted; /* a caller waits for seq (else a storage may leave it 0) */
    /* results, filled by the storage */
    int64_t seq;
    capv_status st;
    capv_error err;
} capvi_reg_record;

/* Whether a stored verification (its columns as text; report_key the stored report's
 * SHA3-256 or NULL) is the same as `r`: CAPV_E_EXISTS when it is (a retry), CAPV_E_CONFLICT
 * otherwise, with r->err set either way. */
capv_status capvi_reg_record_compare(capvi_reg_record *r, const char *subject, const char *mh,
                                     const char *ph, const char *pol, const char *result,
                                     const char *at, const uint8_t *report_key);

/* A library-owned capv_registry_verification (capv_registry_verification_free) from its
 * texts: request_id, subject, manifest_hash, proof_hash, policy_hash, result, report_json,
 * verified_at (NULL for absent). NULL on OOM. */
capv_registry_verification *capvi_reg_verification_from_texts(int64_t seq,
                                                              const char *const text[8]);

/* A library-owned capv_registry_policy (capv_registry_policy_free) from its texts:
 * policy_id, policy_version, policy_hash, ir_hash, ir_json, created_at. NULL on OOM. */
capv_registry_policy *capvi_reg_policy_from_texts(const char *const text[6]);

/* Whether a stored policy (its texts) is `in` (policy_key / ir_key: the digests of its
 * hashes), found by its hash or (by_id_version) by its id and version: CAPV_E_EXISTS when it
 * is, CAPV_E_CONFLICT otherwise, with err set. */
capv_status capvi_reg_policy_compare(const capv_registry_policy *in, const uint8_t policy_key[32],
                                     const uint8_t ir_key[32], const char *id, const char *version,
                                     const char *policy_hash, const char *ir_hash,
                                     const char *ir_json, bool by_id_version, capv_error *err);

#endif
