/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * Package verification (docs/formats.md, "Verification report"): the verifier (what is
 * trusted), options (how strict), and the report (what was found). Requires
 * capv_global_init(). */
#ifndef CAPVERIFY_VERIFY_H
#define CAPVERIFY_VERIFY_H

#include <stdbool.h>

#include "cache.h"
#include "encoding.h"
#include "keys.h"
#include "package.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- verifier: trust configuration ----------------------------------------------------- */

/** Everything a verification trusts: the Ed25519 trust store, the known policies, the
 * registry, the TSA roots, and the clock. Configure it from one thread, then share it:
 * capv_verify_*() only read it and may run concurrently. Since 0.1. */
typedef struct capv_verifier capv_verifier;

/** An empty verifier (no trusted keys, policies, registry or TSA roots; the system clock).
 * Free with capv_verifier_free(). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verifier_new(capv_verifier **out,
                                                               capv_error *err);
/** Frees the verifier and what it owns. NULL is a no-op. Since 0.1. */
CAPV_API void capv_verifier_free(capv_verifier *v);

/** Loads the trust store (capv_trust_store_load) and replaces the current one. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verifier_load_trust(capv_verifier *v,
                                                                      const char *path,
                                                                      capv_error *err);
/** Replaces the trust store with `store` and takes ownership of it (the verifier frees it;
 * NULL removes the current one). Since 0.1; named capv_verifier_set_trust_store before 0.2
 * (a `_set` borrows, a `_take` takes ownership: docs/abi.md). */
CAPV_API void capv_verifier_take_trust_store(capv_verifier *v, capv_trust_store *store);
/** Borrowed; NULL when none is set. Since 0.1. */
CAPV_API const capv_trust_store *capv_verifier_trust_store(const capv_verifier *v);

/** Known policies: a digest in any capv_digest_parse form becomes known. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verifier_add_policy_hash(capv_verifier *v,
                                                                           const char *hash,
                                                                           capv_error *err);
/** Reads every policy in `dir`: IR v1 "*.json" files (ir_hash recomputed; a mismatch fails the
 * load), PolicyV2 "*.yml" / "*.yaml" (compiled strictly) and policy v1 YAML files (their 0x
 * hash); each one's policy_hash becomes known. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verifier_load_policy_dir(capv_verifier *v,
                                                                           const char *dir,
                                                                           capv_error *err);

/** A JSON registry (docs/registry.md, "JSON import / export") used by the `registry` check.
 * Entries are read and their shape checked at load; signatures are checked during
 * verification. See registry.h for SQLite registries (capv_verifier_load_registry,
 * capv_verifier_set_registry). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verifier_load_registry_json(capv_verifier *v,
                                                                              const char *path,
                                                                              capv_error *err);

/** PEM bundle of trusted RFC 3161 TSA roots for the `timestamp` check. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verifier_load_tsa_roots(capv_verifier *v,
                                                                          const char *pem_file,
                                                                          capv_error *err);

/** The clock used for verified_at and timestamp checks (default capv_clock_system).
 * Since 0.1. */
CAPV_API void capv_verifier_set_clock(capv_verifier *v, capv_clock_fn clock, void *user);

/* ---- options --------------------------------------------------------------------------- */

/** A switch of capv_verify_options (capv_verify_options_set): how strict a verification is.
 * Since 0.1. */
typedef enum capv_option {
    CAPV_OPT_REQUIRE_SIGNATURE = 1, /**< default on: unsigned → fail (off: warn) */
    CAPV_OPT_REQUIRE_TIMESTAMP = 2, /**< default off: absent token → skip (on: warn) */
    CAPV_OPT_CHECK_REGISTRY = 3,    /**< default off: absent entry → skip (on: warn) */
    CAPV_OPT_STRICT = 4,         /**< default off: unknown policy, unverifiable backend → fail */
    CAPV_OPT_ALLOW_UNTRUSTED = 5 /**< default off: valid but untrusted signature → warn */
} capv_option;

/** What the `proof` check makes of a mock proof backend (capv_verify_options_set_mock_policy).
 * Since 0.1. */
typedef enum capv_mock_policy {
    CAPV_MOCK_WARN = 0,  /**< default: mock proofs give no assurance, say so */
    CAPV_MOCK_FAIL = 1,  /**< mock proofs fail the check */
    CAPV_MOCK_ACCEPT = 2 /**< mock proofs pass it */
} capv_mock_policy;

/** How one verification runs. Copied by nothing: keep it alive during the call. Since 0.1. */
typedef struct capv_verify_options capv_verify_options;

/** Options with the defaults above; free with capv_verify_options_free(). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verify_options_new(capv_verify_options **out,
                                                                     capv_error *err);
/** Turns an option on or off; CAPV_E_INVALID_ARG for an unknown `opt`. Since 0.1; `enabled`
 * is bool since 0.2 (was int). */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verify_options_set(capv_verify_options *o,
                                                                     capv_option opt, bool enabled,
                                                                     capv_error *err);
/** Whether an option is on (false for an unknown `opt`). Since 0.1; returns bool since 0.2. */
CAPV_API bool capv_verify_options_get(const capv_verify_options *o, capv_option opt);
/** What mock proofs get. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verify_options_set_mock_policy(
    capv_verify_options *o, capv_mock_policy policy, capv_error *err);
/** Package limits for capv_verify_path / capv_verify_zip_memory (copied). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verify_options_set_limits(
    capv_verify_options *o, const capv_package_limits *limits, capv_error *err);
/** Allowed clock skew for timestamp genTime, default 300 s. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_verify_options_set_timestamp_leeway(capv_verify_options *o, int64_t seconds, capv_error *err);
/** An audit log given beside the package (`capverify verify --audit-log FILE`, a field of the
 * daemon's request): the `audit` check verifies it, as it verifies a log the package carries,
 * against each manifest's audit tip (docs/formats.md, "Audit logs"). Borrowed: `data` must
 * stay valid and unchanged while the options are used; NULL (len 0) unsets it. The report
 * cache keys include the log's bytes. CAPV_E_INVALID_ARG for NULL options or NULL data with
 * len > 0. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verify_options_set_audit_log(
    capv_verify_options *o, const uint8_t *data, size_t len, capv_error *err);
/** A copy of `o` (free with capv_verify_options_free), e.g. shared options plus one request's
 * audit log; a log set on `o` stays borrowed by the copy. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verify_options_copy(capv_verify_options **out,
                                                                      const capv_verify_options *o,
                                                                      capv_error *err);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_verify_options_free(capv_verify_options *o);

/* ---- report ---------------------------------------------------------------------------- */

/** The outcome of a verification (capv_report_verdict). Since 0.1. */
typedef enum capv_verdict {
    CAPV_VERDICT_OK = 0,   /**< every check passed or was skipped */
    CAPV_VERDICT_WARN = 1, /**< no check failed, at least one warned */
    CAPV_VERDICT_FAIL = 2  /**< at least one check failed */
} capv_verdict;

/** The outcome of one check (capv_check_status_of). Since 0.1. */
typedef enum capv_check_status {
    CAPV_CHECK_PASS = 0, /**< the check passed */
    CAPV_CHECK_WARN = 1, /**< it passed with a reservation */
    CAPV_CHECK_FAIL = 2, /**< it failed */
    CAPV_CHECK_SKIP = 3  /**< it did not apply or was not asked for */
} capv_check_status;

/** @{ */
/** A verification report and one of its checks; immutable. Since 0.1. */
typedef struct capv_report capv_report;
typedef struct capv_check capv_check;
/** @} */

/** Verification. On CAPV_OK `*out` holds a report (free with capv_report_free) whose verdict
 * is the answer — a `fail` verdict is still CAPV_OK. A non-OK status means no answer: the
 * input is not a CAP package at all (CAPV_E_MALFORMED, with err saying why), could not be
 * read (CAPV_E_NOT_FOUND, CAPV_E_IO), or resources failed. Limit violations and unsafe
 * member names are answers: a report whose package.layout check failed.
 * `opts` NULL = defaults. Deterministic for the same input, verifier and options, apart from
 * verified_at and duration_ms. Thread-safe for a shared verifier. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verify_package(capv_report **out,
                                                                 const capv_verifier *v,
                                                                 const capv_package *pkg,
                                                                 const capv_verify_options *opts,
                                                                 capv_error *err);
/** A directory or zip file; limits from opts (default: the CLI's 512 MiB total). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verify_path(capv_report **out,
                                                              const capv_verifier *v,
                                                              const char *path,
                                                              const capv_verify_options *opts,
                                                              capv_error *err);
/** A zip held in memory; limits from opts (default: the daemon's 64 MiB total). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verify_zip_memory(capv_report **out,
                                                                    const capv_verifier *v,
                                                                    const uint8_t *data, size_t len,
                                                                    const capv_verify_options *opts,
                                                                    capv_error *err);

/** A package sent as JSON ({"package": {name: base64}}, capv_package_open_json); limits from
 * opts (default: the daemon's). Statuses as capv_verify_zip_memory; a body that is not of
 * that shape is CAPV_E_MALFORMED with err->field "package". Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_verify_package_json(capv_report **out, const capv_verifier *v, const uint8_t *json, size_t len,
                         const capv_verify_options *opts, capv_error *err);

/** The identity of a single-unit package, as a registry entry names it (docs/registry.md),
 * without verifying it: "0x" + SHA3-256 of its raw manifest and proof members, and the
 * manifest's policy.hash (or "" when it names no valid digest; `policy_hash` may be NULL when
 * not wanted): the values a report's capv_report_manifest_hash(), _proof_hash() and
 * _policy_hash() give. The layout is read as verification reads it (legacy, cap-proof.v2, a
 * cap-bundle.v1 of one unit). CAPV_E_MALFORMED when it is not a CAP package, its layout is
 * broken (err->field "package.layout") or it is a bundle of several units (err->field
 * "_meta.json"); on failure the outputs are "". Thread-safe. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_package_hashes(
    char manifest_hash[CAPV_DIGEST_HEX_SIZE], char proof_hash[CAPV_DIGEST_HEX_SIZE],
    char policy_hash[CAPV_DIGEST_HEX_SIZE], const capv_package *pkg, capv_error *err);

/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_report_free(capv_report *r);

/** The verdict: the worst of the checks and units. Since 0.1. */
CAPV_API capv_verdict capv_report_verdict(const capv_report *r);
/** "cap-bundle.v1", "cap-proof.v2", "legacy", or "unknown" (layout failed early). Since 0.1. */
CAPV_API const char *capv_report_format(const capv_report *r);
/** "0x…" SHA3-256 of the raw manifest / proof bytes and the manifest's policy hash, or NULL
 * when not known (multi-unit bundles: see the units). Since 0.1. */
CAPV_API const char *capv_report_manifest_hash(const capv_report *r);
/** See capv_report_manifest_hash. Since 0.1. */
CAPV_API const char *capv_report_proof_hash(const capv_report *r);
/** See capv_report_manifest_hash. Since 0.1. */
CAPV_API const char *capv_report_policy_hash(const capv_report *r);
/** When the verification ran, ms since the epoch. Since 0.1. */
CAPV_API int64_t capv_report_verified_at(const capv_report *r);
/** How long it took, ms. Since 0.1. */
CAPV_API int64_t capv_report_duration_ms(const capv_report *r);

/** Checks in order. Borrowed, valid while the report lives. Since 0.1. */
CAPV_API size_t capv_report_check_count(const capv_report *r);
/** Check `index`, or NULL when out of range. Since 0.1. */
CAPV_API const capv_check *capv_report_check(const capv_report *r, size_t index);
/** The first check with this id, or NULL. Since 0.1. */
CAPV_API const capv_check *capv_report_find_check(const capv_report *r, const char *id);

/** Units of a multi-unit bundle (0 otherwise); each is a report with its own checks.
 * Since 0.1. */
CAPV_API size_t capv_report_unit_count(const capv_report *r);
/** Unit `index` (borrowed), or NULL when out of range. Since 0.1. */
CAPV_API const capv_report *capv_report_unit(const capv_report *r, size_t index);
/** A unit's id from _meta.json ("" for the top-level report). Since 0.1. */
CAPV_API const char *capv_report_unit_id(const capv_report *r);

/** A check's id ("package.layout", "manifest.signature", ...). Since 0.1. */
CAPV_API const char *capv_check_id(const capv_check *c);
/** A check's outcome. Since 0.1. */
CAPV_API capv_check_status capv_check_status_of(const capv_check *c);
/** A human-readable sentence. Since 0.1. */
CAPV_API const char *capv_check_message(const capv_check *c);
/** Structured details as compact JSON (an object), or NULL (no details, or out of memory).
 * The text is written on the first call and lives as long as the report. Thread-safe.
 * Since 0.1. */
CAPV_API const char *capv_check_details(const capv_check *c);

/** "ok" "warn" "fail" (static). Since 0.1. */
CAPV_API const char *capv_verdict_name(capv_verdict v);
/** "pass" "warn" "fail" "skip" (static). Since 0.1. */
CAPV_API const char *capv_check_status_name(capv_check_status s);

/** capv_report_to_json() flag: 2-space indentation. Since 0.1. */
#define CAPV_REPORT_JSON_PRETTY 0x1u
/** The report as JSON (docs/formats.md, "Verification report"); caller frees with capv_free.
 * Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_report_to_json(char **out, size_t *out_len,
                                                                 const capv_report *r,
                                                                 unsigned int flags,
                                                                 capv_error *err);

/* ---- report cache (docs/architecture.md, "Caches") -------------------------------------- */

/** Attaches a cache of reports to the verifier (borrowed: it must outlive the verifier; may be
 * shared by several verifiers and threads; NULL detaches). capv_verify_zip_memory() and
 * capv_verify_zip_memory_json() then look a package up before verifying it and store what
 * they verified. The key is SHA3-256 of the package bytes, the options and the verifier's
 * epoch (plus the generation of its registry), so a changed trust store, policy set,
 * registry or TSA root set never serves a stale verdict. Set before sharing the verifier.
 * Since 0.1. */
CAPV_API void capv_verifier_set_cache(capv_verifier *v, capv_cache *cache);

/** The verifier's epoch: a process-wide unique number that changes whenever its trust store,
 * policies, registry, TSA roots or clock are set or reloaded. Since 0.1. */
CAPV_API uint64_t capv_verifier_epoch(const capv_verifier *v);

/** A zip held in memory, answered as report JSON: the daemon's fast path. On CAPV_OK `*json`
 * (caller frees with capv_free) is the report (compact, or CAPV_REPORT_JSON_PRETTY),
 * `*verdict` its verdict, and `*cached` (may be NULL) true when it came from the cache (its
 * verified_at / duration_ms are then those of the original verification). Errors as
 * capv_verify_zip_memory. Thread-safe for a shared verifier. Since 0.1; `cached` is a bool
 * since 0.2 (was int). */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_verify_zip_memory_json(char **json, size_t *json_len, capv_verdict *verdict, bool *cached,
                            const capv_verifier *v, const uint8_t *data, size_t len,
                            const capv_verify_options *opts, unsigned int flags, capv_error *err);

#ifdef __cplusplus
}
#endif

#endif
