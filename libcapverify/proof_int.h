/* SPDX-License-Identifier: Apache-2.0 */
/* Proof containers (docs/formats.md, "Proofs"): CAPZ v2, proof.v0 (base64 JSON or JSON), proof.v1
 * JSON. */
#ifndef CAPV_PROOF_INT_H
#define CAPV_PROOF_INT_H

#include <stdbool.h>

#include "error_int.h"

#define CAPZ_HEADER_LEN 78
#define CAPZ_MAX_PAYLOAD 100000000u

typedef enum capv_proof_binding {
    CAPV_BIND_NONE = 0,       /* the proof names no manifest: replayable */
    CAPV_BIND_SHA3_CANON = 1, /* proof.v0: SHA3-256 of the compat canonical bytes, sigs [] */
    CAPV_BIND_BLAKE3_RAW = 2  /* proof.v1: BLAKE3-256 of the manifest file bytes */
} capv_proof_binding;

typedef enum capv_backend_class {
    CAPV_BACKEND_UNKNOWN = 0,
    CAPV_BACKEND_MOCK = 1, /* mock, simplified_zk: no cryptographic assurance */
    CAPV_BACKEND_ZK = 2    /* zkvm, halo2: real proof systems */
} capv_backend_class;

typedef struct capv_proof {
    char container[16]; /* "capz-v2", "proof.v0", "proof.v1" */
    char backend[32];   /* as named by the proof */
    capv_backend_class backend_class;
    capv_proof_binding binding;
    uint8_t manifest_hash[32];
    bool has_policy_hash;
    uint8_t policy_hash[32];
    char *statement;    /* NULL when absent */
    size_t constraints; /* checked constraints listed */
    size_t constraints_failed;
    char *first_failed;   /* name of the first failed constraint, or NULL */
    char status[32];      /* proof.v0's own status ("ok"), clipped; "" when absent */
    uint32_t payload_len; /* CAPZ only */
} capv_proof;

/* Parses a proof file. CAPV_E_MALFORMED (with a precise message) for anything that is not
 * one of the three formats; an unknown backend is not an error here (backend_class tells). */
capv_status capvi_proof_parse(capv_proof *out, const uint8_t *data, size_t len, capv_error *err);
void capvi_proof_clear(capv_proof *p);

#endif
