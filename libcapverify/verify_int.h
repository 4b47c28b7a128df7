/* SPDX-License-Identifier: Apache-2.0 */
/* The verifier's configuration and the verification options (verifier.c), read by the checks
 * and the entry points (verify.c) and by the report cache (verify_cache.c). */
#ifndef CAPV_VERIFY_INT_H
#define CAPV_VERIFY_INT_H

#include <stdbool.h>

#include "package_int.h"
#include "timestamp_int.h"

struct capv_verifier {
    capv_trust_store *trust;
    uint8_t (*policies)[32];
    size_t npolicies;
    size_t cappolicies;
    capv_registry *registry; /* the `registry` check's registry, or NULL */
    bool owns_registry;
    capv_tsa_store *tsa;
    capv_clock_fn clock;
    void *clock_user;
    capv_cache *cache; /* borrowed report cache, or NULL */
    uint64_t epoch;    /* changes with every configuration change, unique process-wide */
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
    const uint8_t *audit_log; /* a log given beside the package (borrowed), or NULL */
    size_t audit_log_len;
};

bool capvi_verifier_knows_policy(const capv_verifier *v, const uint8_t hash[32]);

/* The defaults of capv_verify_options_new(). */
void capvi_verify_options_default(capv_verify_options *o);

#endif
