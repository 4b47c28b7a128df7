/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * UNSTABLE: the request and answer bodies of capverifyd's policy routes (POST
 * /policy/compile and the policy-evaluation form of POST /verify, docs/policies.md "For the
 * daemon"), for the project's own front-ends.
 *
 * These calls are OUTSIDE the ABI promise (docs/abi.md): they follow the daemon's HTTP API
 * and may change or disappear in any release, including patch releases, without a SONAME
 * change. The umbrella header <capverify.h> does not include this file; include it
 * explicitly, after <capverify.h>. The functions are exported (capv_*) so that capverifyd
 * links against the shared library like any program; do not use them in programs that must
 * keep working with newer libcapverify versions.
 *
 * Conventions as in policy.h: functions returning capv_status are CAPV_WARN_UNUSED_RESULT,
 * outputs first, `capv_error *err` last and reset on success. This header exists since 0.2;
 * the declarations marked "Since 0.1" were in policy.h before. */
#ifndef CAPVERIFY_UNSTABLE_POLICY_REQUEST_H
#define CAPVERIFY_UNSTABLE_POLICY_REQUEST_H

#include <stdbool.h>

#include "../policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- POST /policy/compile ------------------------------------------------------------- */

/** {"policy_yaml": "<standard base64 of a YAML (or JSON) PolicyV2>" | "policy": {PolicyV2},
 *  "lint_mode": "strict" | "relaxed" (default strict), "persist": bool (default false)}.
 * Since 0.1. */
typedef struct capv_policy_compile_request capv_policy_compile_request;

/** Parses such a body and the policy in it (as capv_policy_parse; YAML errors keep their
 * line and column). Exactly one of policy_yaml and policy. Errors are MALFORMED-class:
 * CAPV_E_BASE64 for bad base64, the policy's own parse errors, CAPV_E_MALFORMED for an
 * unknown member or lint_mode. Then compile with capv_policy_compile. Free with
 * capv_policy_compile_request_free. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_policy_compile_request_parse(
    capv_policy_compile_request **out, const uint8_t *body, size_t len, capv_error *err);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_policy_compile_request_free(capv_policy_compile_request *req);
/** Borrowed, valid while the request lives. Since 0.1. */
CAPV_API const capv_policy *
capv_policy_compile_request_policy(const capv_policy_compile_request *req);
/** The request's lint_mode (CAPV_POLICY_LINT_STRICT when absent). Since 0.1. */
CAPV_API capv_policy_lint_mode
capv_policy_compile_request_lint_mode(const capv_policy_compile_request *req);
/** Whether the compiled IR should be stored in the policy store (capv_registry_put_policy_ir).
 * Since 0.1; bool since 0.2. */
CAPV_API bool capv_policy_compile_request_persist(const capv_policy_compile_request *req);

/** The 200 answer of POST /policy/compile, compact JSON:
 * {"policy_id":…,"policy_version":…|null,"policy_hash":…,"ir_hash":…,"ir":\<compact IR\>,
 *  "lints":<capv_policy_diagnostics_to_json, [] when `diags` is NULL>,"persisted":bool}.
 * Caller frees with capv_free. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_policy_compile_answer_json(
    char **out, size_t *out_len, const capv_policy_ir *ir, const capv_policy_diagnostics *diags,
    bool persisted, capv_error *err);

/* ---- POST /verify, policy-evaluation form --------------------------------------------- */

/** {"policy_id": ID | "ir": {IR v1}, "context": {…}, "options": {"adaptive": bool}}
 * (exactly one of policy_id and ir; "backend" and options "check_timestamp" /
 * "check_registry" of peer clients are accepted and ignored). Since 0.1. */
typedef struct capv_policy_eval_request capv_policy_eval_request;

/** Parses such a body. An embedded IR is loaded as by capv_policy_ir_load, so a tampered
 * one gives CAPV_E_MISMATCH (the daemon answers 400). Other errors are MALFORMED-class. Free
 * with capv_policy_eval_request_free. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_policy_eval_request_parse(
    capv_policy_eval_request **out, const uint8_t *body, size_t len, capv_error *err);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_policy_eval_request_free(capv_policy_eval_request *req);
/** Mode A: the policy id to look up in the policy store; NULL in mode B. Since 0.1. */
CAPV_API const char *capv_policy_eval_request_policy_id(const capv_policy_eval_request *req);
/** Mode B: the embedded (checked) IR; NULL in mode A. Borrowed. Since 0.1. */
CAPV_API const capv_policy_ir *capv_policy_eval_request_ir(const capv_policy_eval_request *req);
/** CAPV_POLICY_EVAL_* flags from the options. Since 0.1. */
CAPV_API unsigned int capv_policy_eval_request_flags(const capv_policy_eval_request *req);
/** Evaluates the request's context. Mode B: pass ir = NULL (the embedded IR is used).
 * Mode A: pass the IR found in the store for the request's policy_id (CAPV_E_MISMATCH when
 * its policy_id differs, CAPV_E_INVALID_ARG when NULL). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_policy_eval_request_run(capv_policy_eval_result **out, const capv_policy_eval_request *req,
                             const capv_policy_ir *ir, capv_error *err);

#ifdef __cplusplus
}
#endif

#endif
