/* Verifier internals shared by verify.c (checks) and verifier.c (configuration). */
#ifndef CAPV_VERIFY_INT_H
#define CAPV_VERIFY_INT_H

#include <stdbool.h>

#include "package_int.h"
#include "timestamp_int.h"

typedef struct capv_registry_entry {
    char *id;
    uint8_t manifest_hash[32];
    uint8_t proof_hash[32];
    uint8_t *signed_bytes; /* the compact JSON the entry signature covers */
    size_t signed_len;
    bool has_signature;
    uint8_t signature[64];
    bool has_public_key;
    uint8_t public_key[32];
} capv_registry_entry;

struct capv_verifier {
    capv_trust_store *trust;
    uint8_t (*policies)[32];
    size_t npolicies;
    size_t cappolicies;
    capv_registry_entry *registry;
    size_t nregistry;
    bool has_registry;
    capv_tsa_store *tsa;
    capv_clock_fn clock;
    void *clock_user;
};

struct capv_verify_options {
    bool require_signature;
    bool require_timestamp;
    bool check_registry;
    bool strict;
    bool allow_untrusted;
    capv_mock_policy mock;
    bool has_limits;
    struct capv_package_limits limits;
    int64_t leeway_s;
};

bool capv_verifier_knows_policy(const capv_verifier *v, const uint8_t hash[32]);
const capv_registry_entry *capv_verifier_find_entry(const capv_verifier *v,
                                                     const uint8_t manifest_hash[32],
                                                     const uint8_t proof_hash[32]);
void capv_verify_options_default(capv_verify_options *o);

#endif
