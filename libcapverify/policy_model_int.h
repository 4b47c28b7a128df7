/* SPDX-License-Identifier: Apache-2.0 */
/* The PolicyV2 model (policy_model.c, docs/policies.md): the parsed policy, its rules, and
 * the helpers every later stage shares — positioned parse errors, member and shape checks,
 * sorted name look-ups, canonical JSON copies and hashing. Above the documents
 * (policy_yaml_int.h); below the lints (policy_lint_int.h), compilation and IR
 * (policy_int.h) and evaluation. */
#ifndef CAPV_POLICY_MODEL_INT_H
#define CAPV_POLICY_MODEL_INT_H

#include <stdbool.h>

#include "policy_yaml_int.h"

/* ---- sorted names ---------------------------------------------------------------------- */

/* Sorted (name, position) pairs: O(log n) look-ups of ids and names, so that no check is
 * quadratic in the size of hostile input. */
typedef struct capv_name_ref {
    const char *key;
    size_t pos;
} capv_name_ref;
/* Sorts by key (byte order), then position. */
void capvi_name_sort(capv_name_ref *refs, size_t n);
/* The ref with `key` and the lowest position, or NULL. */
const capv_name_ref *capvi_name_find(const capv_name_ref *refs, size_t n, const char *key);
/* For each position, the position of the first occurrence of the same key (itself when it
 * is the first). `refs` must be sorted; `first` has n slots indexed by position. */
void capvi_name_first(const capv_name_ref *refs, size_t n, size_t *first);
/* Sorted refs of the string member `member` of the objects in `arr` (known to have it);
 * *n = their number. Caller frees; NULL on OOM. */
capv_name_ref *capvi_pol_id_refs(const cJSON *arr, const char *member, size_t *n);

/* ---- the model ------------------------------------------------------------------------- */

typedef enum capv_policy_op {
    CAPV_POLICY_OP_UNKNOWN = 0,
    CAPV_POLICY_OP_NON_MEMBERSHIP,
    CAPV_POLICY_OP_EQ,
    CAPV_POLICY_OP_RANGE_MIN
} capv_policy_op;

capv_policy_op capvi_policy_op_of(const char *name);

typedef struct capv_policy_rule {
    const char *id;
    const char *op;
    const cJSON *lhs, *rhs; /* as written: a string names a variable */
} capv_policy_rule;

struct capv_policy {
    capv_yaml_doc doc;                      /* owns the tree every pointer below points into */
    const char *id, *version, *description; /* description "" when absent */
    const cJSON *legal_basis;               /* array */
    const cJSON *inputs;                    /* object */
    capv_policy_rule *rules;
    size_t nrules;
    const cJSON *adaptivity; /* object with predicates and activations, or NULL */
    char *canonical;
    size_t canonical_len;
    char hash[CAPV_POLICY_HASH_SIZE];
};

/* Builds a policy from a document tree: the model, its canonical JSON and policy_hash.
 * Takes `doc` (also on failure). */
capv_status capvi_policy_from_doc(capv_policy **out, capv_yaml_doc *doc, capv_error *err);

/* ---- operands and predicates ----------------------------------------------------------- */

/* The variable a policy operand names: a string, or an object that is exactly
 * {"var": "<name>"}. NULL for literals. (In IR, only the object form names a variable.) */
const char *capvi_policy_operand_var(const cJSON *operand, bool string_is_var);

/* True when `expr` is a valid predicate expression: a boolean, a variable name (string or
 * {"var": name}), or {"func": "lt"|"gt"|"eq", "args": [a, b]}. On false, *why explains. */
bool capvi_policy_predicate_valid(const cJSON *expr, const char **why);

/* ---- reading documents: positioned errors and shape checks ----------------------------- */

/* Where errors go and where nodes came from (doc NULL, or without marks, for JSON). */
typedef struct capv_pol_ctx {
    const capv_yaml_doc *doc;
    capv_error *err;
} capv_pol_ctx;

/* Records an error about `node` (its key when `key`), prefixed with its line and column
 * when known. Returns `code`. */
capv_status capvi_pol_err(const capv_pol_ctx *c, const cJSON *node, bool key, capv_status code,
                          const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Field paths: "path.key" and "path[i]", cut at CAPV_ERROR_FIELD_SIZE. */
void capvi_pol_join(char out[CAPV_ERROR_FIELD_SIZE], const char *path, const char *key);
void capvi_pol_item_path(char out[CAPV_ERROR_FIELD_SIZE], const char *path, size_t i);

/* `node` is an object whose keys are all in `allowed` (NULL-terminated). */
capv_status capvi_pol_want_object(const capv_pol_ctx *c, const cJSON *node, const char *path,
                                  const char *const *allowed);
/* A string member. Absent (or null when null_ok) leaves *out NULL. */
capv_status capvi_pol_member_string(const capv_pol_ctx *c, const cJSON *obj, const char *path,
                                    const char *key, bool required, bool null_ok, const char **out);
/* A required member of any type; an array member. */
capv_status capvi_pol_member(const capv_pol_ctx *c, const cJSON *obj, const char *path,
                             const char *key, const cJSON **out);
capv_status capvi_pol_member_array(const capv_pol_ctx *c, const cJSON *obj, const char *path,
                                   const char *key, const cJSON **out);
/* Ids: a policy id matches ^[a-z0-9._-]+$, a rule id ^[a-z0-9_]+$. */
bool capvi_pol_policy_id_ok(const char *s);
bool capvi_pol_rule_id_ok(const char *s);
/* An operand object that mentions "var" must be exactly {"var": "<name>"}. */
capv_status capvi_pol_check_operand(const capv_pol_ctx *c, const cJSON *v, const char *f);
/* The shape of an adaptivity object (policy or IR). */
capv_status capvi_pol_check_adaptivity(const capv_pol_ctx *c, const cJSON *a);

/* ---- canonical JSON -------------------------------------------------------------------- */

/* Adds `item` to an object / array; false (and `item` freed) on OOM or a NULL item. */
bool capvi_pol_put(cJSON *obj, const char *key, cJSON *item);
bool capvi_pol_push(cJSON *arr, cJSON *item);

/* A deep copy with every object's members sorted by key (byte order), numbers keeping
 * their lexeme: the form serde_json's Value (a BTreeMap) serialises in. NULL on OOM. */
cJSON *capvi_json_sorted_copy(const cJSON *item);

/* {"predicates":[{id, expr}], "activations":[{when, rules}]} in canonical form (NULL on
 * OOM), from an adaptivity object whose shape was checked. */
cJSON *capvi_pol_adaptivity_copy(const cJSON *a);

/* "sha3-256:" + hex of SHA3-256(compact JSON of tree); with `text`, the compact JSON too
 * (caller frees). */
capv_status capvi_pol_hash_tree(char out[CAPV_POLICY_HASH_SIZE], const cJSON *tree, char **text,
                                size_t *text_len, capv_error *err);

#endif
