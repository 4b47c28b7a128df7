/* SPDX-License-Identifier: Apache-2.0 */
/* Compiled policies (policy.c, docs/policies.md "Compilation to IR v1"): the IR object,
 * IR built from a tree, and the hash a policy file stands for in the verifier's policy
 * store. Used by the evaluator (policy_eval.c) and the verifier (verifier.c). Above the
 * model (policy_model_int.h) and the lints. */
#ifndef CAPV_POLICY_INT_H
#define CAPV_POLICY_INT_H

#include "policy_model_int.h"

typedef struct capv_ir_rule {
    const char *id;
    capv_policy_op op;
    const cJSON *lhs, *rhs; /* {"var": name} or a literal */
} capv_ir_rule;

typedef struct capv_ir_predicate {
    const char *id;
    const cJSON *expr;
} capv_ir_predicate;

typedef struct capv_ir_activation {
    const char *when;
    size_t predicate;   /* index into predicates */
    const cJSON *rules; /* array of rule id strings */
} capv_ir_activation;

struct capv_policy_ir {
    cJSON *tree; /* canonical IR, ir_hash filled in */
    char *pretty, *compact;
    size_t pretty_len, compact_len;
    const char *policy_id;
    char policy_hash[CAPV_POLICY_HASH_SIZE];
    char ir_hash[CAPV_POLICY_HASH_SIZE];
    char *source_version;
    capv_ir_rule *rules;
    size_t nrules;
    bool has_adaptivity;
    capv_ir_predicate *predicates;
    size_t npredicates;
    capv_ir_activation *activations;
    size_t nactivations;
};

/* Builds an IR object from a JSON IR tree of capvi_json_parse: rewrites its numbers to those
 * serde_json reads (capvi_json_serde_numbers, as the IR's producer read them), validates its
 * shape, builds the canonical tree, recomputes ir_hash and, when the tree carries one,
 * compares (CAPV_E_MISMATCH). Takes nothing else from `tree` (it is copied). */
capv_status capvi_policy_ir_from_tree(capv_policy_ir **out, cJSON *tree, capv_error *err);

/* The 32-byte hash a policy file stands for in the policy store: PolicyV2 (compiled in
 * strict lint mode; lint errors fail) → its policy_hash; policy v1 → its v1 hash.
 * *kind (may be NULL) receives "policy v2" or "policy v1". */
capv_status capvi_policy_source_hash(uint8_t out[32], const char **kind, const uint8_t *data,
                                     size_t len, capv_policy_format format, capv_error *err);

#endif
