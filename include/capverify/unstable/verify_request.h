/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * UNSTABLE: the two forms of a JSON body of capverifyd's POST /verify, for the project's own
 * front-ends: the package form (capv_verify_package_json(), stable) and the policy-evaluation
 * form (capverify/unstable/policy_request.h).
 *
 * These calls are OUTSIDE the ABI promise (docs/abi.md, "Stable and unstable"): they follow
 * the daemon's HTTP API and may change or disappear in any release, including patch releases,
 * without a SONAME change. The umbrella header <capverify.h> does not include this file;
 * include it explicitly, after <capverify.h>. The functions are exported (capv_*) so that
 * capverifyd links against the shared library like any program.
 *
 * Conventions as in the stable headers: functions returning capv_status are
 * CAPV_WARN_UNUSED_RESULT, outputs first, `capv_error *err` last and reset on success.
 * Since 0.2. */
#ifndef CAPVERIFY_UNSTABLE_VERIFY_REQUEST_H
#define CAPVERIFY_UNSTABLE_VERIFY_REQUEST_H

#include <stdbool.h>

#include "../status.h"
#include "../verify.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The two forms of a JSON verification request. Since 0.2. */
typedef enum capv_json_form {
    CAPV_JSON_FORM_PACKAGE = 1,    /**< {"package": {...}}: capv_verify_package_json() */
    CAPV_JSON_FORM_POLICY_EVAL = 2 /**< "policy_id" or "ir", with "context": a policy evaluation
                                    * (capv_policy_eval_request_parse()) */
} capv_json_form;

/** Tells which form the JSON request `body` has, from its top-level member names, without
 * building its tree (one linear scan): a member "package" makes it the package form;
 * otherwise "policy_id", "ir" or "context" make it the policy-evaluation form. The body's
 * strict JSON is checked (the CAPV_E_JSON_* statuses of capv_json_validate(), with the byte
 * offset in err->field, except duplicate keys, which the chosen parser rejects). An object
 * with neither form's members is CAPV_E_MALFORMED with err->field "package", a body that is
 * not an object CAPV_E_MALFORMED with err->field "". Thread-safe. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verify_json_form(capv_json_form *out,
                                                                   const uint8_t *body, size_t len,
                                                                   capv_error *err);

/** The checks of a report that did not pass, for a request's log line: from report JSON
 * `json[0..len)` (capv_report_to_json(), capv_verify_zip_memory_json()), the ids of the
 * checks whose status is "warn" or "fail" as "id:status", the units' checks as
 * "unit/id:status" (unit ids sanitized: bytes outside printable ASCII become '?'), joined by
 * ",", into `out` (`cap` >= 4 bytes, always NUL-terminated); when they do not fit the list
 * ends in "..." after the last whole item. "" when every check passed or was skipped.
 * CAPV_E_MALFORMED when `json` is not a report. Thread-safe. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_report_json_problems(char *out, size_t cap,
                                                                       const char *json, size_t len,
                                                                       capv_error *err);

/** capv_verify_zip_memory_json() (compact JSON), and in `problems` (`problems_cap` >= 4
 * bytes, always NUL-terminated) the checks of its report that did not pass, exactly as
 * capv_report_json_problems() lists them from that JSON: taken from the report while it is
 * at hand, so a fresh verification's JSON is not read again; for a report from the cache,
 * the list kept in its entry, or read from its JSON when the entry's list was cut or does
 * not fit `problems_cap` ("" should that fail). "" for an ok verdict. Errors as
 * capv_verify_zip_memory_json(); CAPV_E_INVALID_ARG for a NULL output or `problems_cap` < 4.
 * Thread-safe for a shared verifier. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verify_zip_memory_json_problems(
    char **json, size_t *json_len, capv_verdict *verdict, bool *cached, char *problems,
    size_t problems_cap, const capv_verifier *v, const uint8_t *data, size_t len,
    const capv_verify_options *opts, capv_error *err);

#ifdef __cplusplus
}
#endif

#endif
