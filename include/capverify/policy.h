/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * Policies (docs/policies.md): PolicyV2 parsing (YAML or JSON), lints, compilation to IR v1
 * with the policy and IR hashes, loading IR with its integrity check, rule evaluation over a
 * context, and the hash of the older policy v1 format. docs/policies.md describes the
 * formats, the hashing rules, every lint code and the evaluation semantics.
 *
 * Objects: capv_policy (a parsed PolicyV2), capv_policy_diagnostics (lint results),
 * capv_policy_ir (a compiled or loaded IR v1) and capv_policy_eval_result (an evaluation).
 * All are immutable once built, so one object may be read from many threads at once; every
 * function is reentrant. Functions that hash require capv_global_init(). The request bodies
 * of the daemon's policy routes are read by capverify/unstable/policy_request.h, outside the
 * ABI promise.
 *
 * Conventions (docs/abi.md): every function returning capv_status is
 * CAPV_WARN_UNUSED_RESULT; outputs come first and `capv_error *err` (may be NULL) last; on
 * failure err->code is the returned status, on success a non-NULL `err` is left as
 * CAPV_ERROR_INIT would leave it. Getters return borrowed values (an optional length comes
 * last) and accept NULL. Since 0.1. */
#ifndef CAPVERIFY_POLICY_H
#define CAPVERIFY_POLICY_H

#include "encoding.h"
#include "verify.h"

#ifdef __cplusplus
extern "C" {
#endif

/** "sha3-256:" + 64 lower-case hex digits + NUL: the form of policy_hash and ir_hash.
 * Since 0.1. */
#define CAPV_POLICY_HASH_SIZE 74

/** Input formats. Since 0.1. */
typedef enum capv_policy_format {
    CAPV_POLICY_FORMAT_AUTO = 0, /**< JSON if the first non-blank byte is '{', else YAML */
    CAPV_POLICY_FORMAT_YAML = 1, /**< YAML 1.2 core schema via libyaml (see docs) */
    CAPV_POLICY_FORMAT_JSON = 2  /**< strict JSON (docs/architecture.md, "Strict JSON") */
} capv_policy_format;

/** Lint modes. Since 0.1. */
typedef enum capv_policy_lint_mode {
    CAPV_POLICY_LINT_STRICT = 0, /**< default: every E-code is an error */
    CAPV_POLICY_LINT_RELAXED = 1 /**< E1002 (empty legal_basis) is only a warning */
} capv_policy_lint_mode;

/** Levels of a diagnostic. Since 0.1. */
typedef enum capv_policy_lint_level {
    CAPV_POLICY_LEVEL_ERROR = 0,  /**< the policy does not compile */
    CAPV_POLICY_LEVEL_WARNING = 1 /**< reported, does not stop compilation */
} capv_policy_lint_level;

/* ---- PolicyV2 -------------------------------------------------------------------------- */

/** A parsed PolicyV2. Since 0.1. */
typedef struct capv_policy capv_policy;

/** Parses a PolicyV2 document and computes its policy_hash. Errors: the document is not YAML
 * or JSON (CAPV_E_MALFORMED, CAPV_E_JSON_*; YAML errors name "line L, column C"), a field
 * is missing (CAPV_E_MISSING), has the wrong type (CAPV_E_TYPE), an unknown field is
 * present or an id breaks its pattern (CAPV_E_MALFORMED), a YAML number is not finite
 * (CAPV_E_RANGE), YAML uses aliases or unknown tags (CAPV_E_UNSUPPORTED_FORMAT). err->field
 * names the place ("rules[1].op"). Semantic problems are lints, not parse errors: a policy
 * with an unknown op parses. Free with capv_policy_free. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_policy_parse(capv_policy **out,
                                                               const uint8_t *data, size_t len,
                                                               capv_policy_format format,
                                                               capv_error *err);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_policy_free(capv_policy *p);

/** @{ */
/** Borrowed strings, valid while the policy lives. Since 0.1. */
CAPV_API const char *capv_policy_id(const capv_policy *p);
CAPV_API const char *capv_policy_version(const capv_policy *p);
/** @} */
/** "sha3-256:…": SHA3-256 of the canonical compact JSON of the policy (docs/policies.md,
 * "Hashes"). Since 0.1. */
CAPV_API const char *capv_policy_hash(const capv_policy *p);
/** That canonical compact JSON (NUL-terminated; *len may be NULL). Since 0.1. */
CAPV_API const char *capv_policy_canonical_json(const capv_policy *p, size_t *len);

/* ---- lints ----------------------------------------------------------------------------- */

/** Diagnostics {code, level, message, rule_id} in a deterministic order. Since 0.1. */
typedef struct capv_policy_diagnostics capv_policy_diagnostics;

/** Lints a parsed policy (codes: docs/policies.md). Lint findings are not failures of this
 * call: it returns CAPV_OK with the diagnostics. Free with capv_policy_diagnostics_free.
 * Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_policy_lint(capv_policy_diagnostics **out,
                                                              const capv_policy *p,
                                                              capv_policy_lint_mode mode,
                                                              capv_error *err);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_policy_diagnostics_free(capv_policy_diagnostics *d);

/** Number of diagnostics. Since 0.1. */
CAPV_API size_t capv_policy_diagnostics_count(const capv_policy_diagnostics *d);
/** Number of diagnostics at level error (the policy does not compile when > 0). Since 0.1. */
CAPV_API size_t capv_policy_diagnostics_errors(const capv_policy_diagnostics *d);
/** @{ */
/** Borrowed; index < count. code is "E1001"…; rule_id is NULL when no rule is concerned.
 * Since 0.1. */
CAPV_API const char *capv_policy_diagnostic_code(const capv_policy_diagnostics *d, size_t i);
CAPV_API capv_policy_lint_level capv_policy_diagnostic_level(const capv_policy_diagnostics *d,
                                                             size_t i);
CAPV_API const char *capv_policy_diagnostic_message(const capv_policy_diagnostics *d, size_t i);
CAPV_API const char *capv_policy_diagnostic_rule_id(const capv_policy_diagnostics *d, size_t i);
/** @} */
/** Where in the policy's YAML source diagnostic `i` points (1-based; the key of a mapping
 * value, e.g. the line of "op:" for an unknown op): true with *line and *column set, false
 * (both 0) when there is no position — a policy read from JSON, or a finding about
 * something the document leaves out. `line` and `column` may be NULL. Since 0.2. */
CAPV_API bool capv_policy_diagnostic_position(const capv_policy_diagnostics *d, size_t i,
                                              unsigned *line, unsigned *column);
/** "error" or "warning". Since 0.1. */
CAPV_API const char *capv_policy_lint_level_name(capv_policy_lint_level level);
/** The diagnostics as a compact JSON array of {"code","level","message","rule_id"}
 * (rule_id null when none), with "line" and "column" after them when the diagnostic has a
 * position (capv_policy_diagnostic_position); caller frees with capv_free. Since 0.1;
 * positions since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_policy_diagnostics_to_json(
    char **out, size_t *out_len, const capv_policy_diagnostics *d, capv_error *err);

/* ---- IR v1 ----------------------------------------------------------------------------- */

/** A compiled or loaded IR v1. Since 0.1. */
typedef struct capv_policy_ir capv_policy_ir;

/** Lints `p` and compiles it to IR v1 (rules sorted by id, string operands as {"var": …},
 * ir_hash over the canonical compact IR). `*diags_out` (if diags_out is not NULL) receives
 * the lint diagnostics whenever linting ran, also on failure; free it. With lint errors the
 * result is CAPV_E_MALFORMED, `*out` stays NULL and err names the first error — front-ends
 * tell "lint errors" (HTTP 422, CLI exit 3) from other failures by
 * capv_policy_diagnostics_errors() > 0. Deterministic: the same policy gives the same bytes.
 * Free the IR with capv_policy_ir_free. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_policy_compile(capv_policy_ir **out, capv_policy_diagnostics **diags_out, const capv_policy *p,
                    capv_policy_lint_mode mode, capv_error *err);

/** Loads IR v1 JSON (from a file, a request or the policy store): checks its shape, then
 * recomputes ir_hash over its canonical compact form and compares. Errors:
 * CAPV_E_MISMATCH when ir_hash does not match (tampered IR), CAPV_E_UNSUPPORTED_FORMAT for
 * an ir_version other than "1.0", CAPV_E_HEX for a hash that is not "sha3-256:" + 64
 * lower-case hex, CAPV_E_MALFORMED / _MISSING / _TYPE / CAPV_E_JSON_* for bad shape. Free
 * with capv_policy_ir_free. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_policy_ir_load(capv_policy_ir **out,
                                                                 const uint8_t *data, size_t len,
                                                                 capv_error *err);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_policy_ir_free(capv_policy_ir *ir);

/** @{ */
/** Borrowed strings, valid while the IR lives. Since 0.1. */
CAPV_API const char *capv_policy_ir_policy_id(const capv_policy_ir *ir);
CAPV_API const char *capv_policy_ir_policy_hash(const capv_policy_ir *ir); /**< "sha3-256:…" */
CAPV_API const char *capv_policy_ir_hash(const capv_policy_ir *ir);        /**< "sha3-256:…" */
/** @} */
/** The source policy's `version` when compiled here; NULL for IR loaded from JSON (IR v1
 * does not carry it). Since 0.1. */
CAPV_API const char *capv_policy_ir_policy_version(const capv_policy_ir *ir);
/** Number of rules. Since 0.1. */
CAPV_API size_t capv_policy_ir_rule_count(const capv_policy_ir *ir);

/** @{ */
/** Forms of IR text: compact (the canonical form ir_hash covers, with ir_hash set), or
 * pretty (2-space indentation, no trailing newline). Since 0.1. */
#define CAPV_POLICY_IR_COMPACT 0x0u
#define CAPV_POLICY_IR_PRETTY 0x1u
/** @} */
/** The IR as JSON text, NUL-terminated and borrowed (valid while the IR lives); *len may be
 * NULL. The pretty form of the peer's golden IR is byte-identical to its file. Since 0.1. */
CAPV_API const char *capv_policy_ir_json(const capv_policy_ir *ir, unsigned int flags, size_t *len);

/* ---- evaluation ------------------------------------------------------------------------ */

/** The result of one rule. Since 0.1. */
typedef enum capv_policy_rule_result {
    CAPV_POLICY_RULE_PASS = 0,   /**< the rule holds for the context */
    CAPV_POLICY_RULE_FAIL = 1,   /**< it does not, or names an undefined variable */
    CAPV_POLICY_RULE_SKIPPED = 2 /**< adaptive mode: not activated by a true predicate */
} capv_policy_rule_result;

/** Adaptive mode: only rules activated by a true predicate, plus rules no activation names,
 * are evaluated. Without it (the default) every rule is evaluated. Since 0.1. */
#define CAPV_POLICY_EVAL_ADAPTIVE 0x1u

/** An evaluation. Since 0.1. */
typedef struct capv_policy_eval_result capv_policy_eval_result;

/** Evaluates the rules of `ir` over a context (docs/policies.md, "Evaluation": a JSON object
 * with supplier_hashes, ubo_hashes, company_commitment_root, sanctions_root,
 * jurisdiction_root, variables {…}). On CAPV_OK `*out` holds the answer: verdict ok iff
 * every evaluated rule passed; a rule that names an undefined variable fails. A non-OK
 * status means no answer: the context is not such an object (CAPV_E_MALFORMED, CAPV_E_TYPE,
 * CAPV_E_JSON_*). `ir` comes from capv_policy_compile or capv_policy_ir_load, so its ir_hash
 * was checked. Free with capv_policy_eval_result_free. Thread-safe for a shared IR.
 * Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_policy_eval(capv_policy_eval_result **out,
                                                              const capv_policy_ir *ir,
                                                              const uint8_t *context, size_t len,
                                                              unsigned int flags, capv_error *err);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_policy_eval_result_free(capv_policy_eval_result *r);

/** CAPV_VERDICT_OK or CAPV_VERDICT_FAIL. Since 0.1. */
CAPV_API capv_verdict capv_policy_eval_result_verdict(const capv_policy_eval_result *r);
/** @{ */
/** Per-rule results in IR order (sorted by rule id). Borrowed strings; index < count.
 * Since 0.1. */
CAPV_API size_t capv_policy_eval_result_rule_count(const capv_policy_eval_result *r);
CAPV_API const char *capv_policy_eval_result_rule_id(const capv_policy_eval_result *r, size_t i);
CAPV_API capv_policy_rule_result
capv_policy_eval_result_rule_status(const capv_policy_eval_result *r, size_t i);
CAPV_API const char *capv_policy_eval_result_rule_message(const capv_policy_eval_result *r,
                                                          size_t i);
/** @} */
/** "pass", "fail", "skipped". Since 0.1. */
CAPV_API const char *capv_policy_rule_result_name(capv_policy_rule_result s);

/** capv_policy_eval_result_to_json() flag: 2-space indentation. Since 0.1. */
#define CAPV_POLICY_JSON_PRETTY 0x1u
/** {"result","policy_id","policy_hash","ir_hash","adaptive","rules":[{"id","result",
 * "message"}]}; caller frees with capv_free. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_policy_eval_result_to_json(char **out, size_t *out_len, const capv_policy_eval_result *r,
                                unsigned int flags, capv_error *err);

/* ---- policy v1 (older format) ---------------------------------------------------------- */

/** The hash manifests carry for a policy v1 file (version, name, created_at, constraints,
 * notes): "0x" + SHA3-256 of its compact JSON in that field order (docs/policies.md).
 * Unknown fields are rejected (they would not be covered by the hash). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_policy_v1_hash(char out[CAPV_DIGEST_HEX_SIZE],
                                                                 const uint8_t *data, size_t len,
                                                                 capv_policy_format format,
                                                                 capv_error *err);

#ifdef __cplusplus
}
#endif

#endif
