/* Policy internals shared by policy.c (model, hashing, IR), policy_yaml.c (YAML input),
 * policy_lint.c and policy_eval.c, and used by verifier.c for its policy store. */
#ifndef CAPV_POLICY_INT_H
#define CAPV_POLICY_INT_H

#include <stdbool.h>

#include "json_int.h"

/* ---- YAML → the same cJSON tree as strict JSON input (policy_yaml.c) ------------------ */

/* Where a node came from (1-based line and column), for error messages. */
typedef struct capv_yaml_mark {
    const cJSON *node;
    unsigned line, col;         /* the node itself */
    unsigned key_line, key_col; /* its mapping key (0 when it has none) */
} capv_yaml_mark;

/* A parsed document: the tree plus the positions of its nodes (none for JSON input). */
typedef struct capv_yaml_doc {
    cJSON *root;
    capv_yaml_mark *marks;
    size_t nmarks, capmarks;
} capv_yaml_doc;

/* YAML 1.2 core schema into a tree: quoted and block scalars are strings, plain scalars
 * resolve to null/bool/int/float/string, numbers carry a JSON lexeme (integers in
 * decimal, floats as serde_json prints an f64). Rejects: invalid UTF-8 / NUL
 * (CAPV_E_JSON_UTF8/_NUL), syntax errors (CAPV_E_MALFORMED), aliases and unknown tags
 * (CAPV_E_UNSUPPORTED_FORMAT), duplicate keys (CAPV_E_JSON_DUPLICATE_KEY), complex keys
 * (CAPV_E_TYPE), nesting deeper than 64 (CAPV_E_JSON_DEPTH), non-finite or over-long
 * numbers (CAPV_E_RANGE), more than one document or none (CAPV_E_MALFORMED). Messages
 * start with "line L, column C: ". */
capv_status capvi_yaml_parse(capv_yaml_doc *out, const uint8_t *data, size_t len,
                            capv_error *err);
/* The position of `node`; false when unknown. */
bool capvi_yaml_find(const capv_yaml_doc *doc, const cJSON *node, unsigned *line, unsigned *col,
                    bool key);
void capvi_yaml_doc_free(capv_yaml_doc *doc);

/* A policy-like document in the given format (AUTO: '{' first → JSON, else YAML). */
capv_status capvi_policy_read_doc(capv_yaml_doc *out, const uint8_t *data, size_t len,
                                 capv_policy_format format, capv_error *err);

/* User text for messages: at most 64 bytes, cut on a UTF-8 character boundary, "..."
 * appended when cut. Returns `buf`. CAPV_CLIP(s) uses a temporary buffer. */
#define CAPV_CLIP_SIZE 72
const char *capvi_clip(char buf[CAPV_CLIP_SIZE], const char *s);
#define CAPV_CLIP(s) capvi_clip((char[CAPV_CLIP_SIZE]){ 0 }, (s))

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
    capv_yaml_doc doc; /* owns the tree every pointer below points into */
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
    size_t predicate; /* index into predicates */
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

/* A deep copy with every object's members sorted by key (byte order), numbers keeping
 * their lexeme: the form serde_json's Value (a BTreeMap) serialises in. NULL on OOM. */
cJSON *capvi_json_sorted_copy(const cJSON *item);

/* The variable a policy operand names: a string, or an object that is exactly
 * {"var": "<name>"}. NULL for literals. (In IR, only the object form names a variable.) */
const char *capvi_policy_operand_var(const cJSON *operand, bool string_is_var);

/* True when `expr` is a valid predicate expression: a boolean, a variable name (string or
 * {"var": name}), or {"func": "lt"|"gt"|"eq", "args": [a, b]}. On false, *why explains. */
bool capvi_policy_predicate_valid(const cJSON *expr, const char **why);

/* Runs the lints into a fresh diagnostics object. */
capv_status capvi_policy_lint_run(capv_policy_diagnostics **out, const capv_policy *p,
                                 capv_policy_lint_mode mode, capv_error *err);

/* Builds an IR object from a JSON IR tree: validates its shape, builds the canonical tree,
 * recomputes ir_hash and, when the tree carries one, compares (CAPV_E_MISMATCH). Takes
 * nothing from `tree` (it is copied). */
capv_status capvi_policy_ir_from_tree(capv_policy_ir **out, const cJSON *tree, capv_error *err);

/* Evaluates over a parsed context tree. */
capv_status capvi_policy_eval_tree(capv_policy_eval_result **out, const capv_policy_ir *ir,
                                  const cJSON *context, unsigned int flags, capv_error *err);

/* The 32-byte hash a policy file stands for in the policy store: PolicyV2 (compiled in
 * strict lint mode; lint errors fail) → its policy_hash; policy v1 → its v1 hash.
 * *kind (may be NULL) receives "policy v2" or "policy v1". */
capv_status capvi_policy_source_hash(uint8_t out[32], const char **kind, const uint8_t *data,
                                    size_t len, capv_policy_format format, capv_error *err);

#endif
