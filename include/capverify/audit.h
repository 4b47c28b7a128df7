/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * Audit trails (docs/formats.md, "Audit logs"): the hash-chained event logs a CAP producer
 * keeps beside its packages — v1 `agent.audit.jsonl` and v2 `audit_chain.jsonl` — read and
 * verified offline. A manifest names the tip of such a chain (audit.tail_digest,
 * audit.events_count, time_anchor.audit_tip_hex); the verifier's `audit` check compares them
 * with a log the package carries or one given beside it
 * (capv_verify_options_set_audit_log). Requires capv_global_init(). Thread-safe: a log is
 * immutable once read. Since 0.2. */
#ifndef CAPVERIFY_AUDIT_H
#define CAPVERIFY_AUDIT_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @{ */
/** Limits, enforced before the work they bound: a line (without its line feed) longer than
 * CAPV_AUDIT_MAX_LINE_BYTES, or a log of more than CAPV_AUDIT_MAX_LINES lines, is refused at
 * that line (CAPV_AUDIT_TOO_LARGE) before it is parsed. Since 0.2. */
#define CAPV_AUDIT_MAX_LINE_BYTES (64u * 1024u)
#define CAPV_AUDIT_MAX_LINES 1000000u
/** @} */

/** @{ */
/** The member names a package carries its log under when _meta.json gives it no role
 * `audit`. Since 0.2. */
#define CAPV_AUDIT_V1_FILE "agent.audit.jsonl"
#define CAPV_AUDIT_V2_FILE "audit_chain.jsonl"
/** @} */

/** The format of a log, found from its first line (a v1 event has `seq`, a v2 event
 * `self_hash`). Since 0.2. */
typedef enum capv_audit_format {
    CAPV_AUDIT_EMPTY = 0, /**< no events: an empty file */
    CAPV_AUDIT_V1 = 1,    /**< agent.audit.jsonl: seq, ts, event, details, prev_digest, digest */
    CAPV_AUDIT_V2 = 2     /**< audit_chain.jsonl: ts, event, [policy_id … run_id], prev_hash,
                             self_hash */
} capv_audit_format;

/** Why a log is not intact: what its first broken line shows. Since 0.2. */
typedef enum capv_audit_problem {
    CAPV_AUDIT_INTACT = 0,         /**< nothing is wrong: the chain is intact */
    CAPV_AUDIT_BAD_JSON = 1,       /**< the line is empty, not strict JSON, or not an object */
    CAPV_AUDIT_BAD_EVENT = 2,      /**< a field missing, ill-typed, unknown or malformed (a digest
                                  that is not 0x + 64 lower-case hex digits, a ts that is not
                                  RFC 3339), or an event of the other format */
    CAPV_AUDIT_TOO_LARGE = 3,      /**< a limit above */
    CAPV_AUDIT_SEQ_GAP = 4,        /**< v1: seq is not the line number */
    CAPV_AUDIT_PREV_MISMATCH = 5,  /**< prev_digest / prev_hash is not the previous event's
                                      digest (genesis: 0x + 64 zeros) */
    CAPV_AUDIT_DIGEST_MISMATCH = 6 /**< digest / self_hash is not what the event's fields
                                      hash to */
} capv_audit_problem;

/** An intact audit log: its events, their chain's tip, its own copy of the lines. */
typedef struct capv_audit_log capv_audit_log;

/** Reads `data[0..len)` as an audit log (JSON Lines, each line ended by a line feed, the last
 * one optionally not) and verifies its hash chain from the genesis to its tip.
 * CAPV_OK: the chain is intact; `*out` holds the log (free with capv_audit_log_free), and
 * `*bad_line` is 0 and `*problem` CAPV_AUDIT_INTACT.
 * Otherwise `*out` is NULL, `*bad_line` the 1-based number of the first broken line and
 * `*problem` what is wrong with it (`bad_line` and `problem` may be NULL when not wanted);
 * the status is CAPV_E_MISMATCH (rejected: a seq gap, a prev or digest mismatch) or a
 * malformed-class status (the line's strict JSON status, CAPV_E_TYPE, CAPV_E_MISSING,
 * CAPV_E_HEX, CAPV_E_MALFORMED, CAPV_E_LIMIT), with err->field "line N" and a message saying
 * why. CAPV_E_NOMEM and CAPV_E_NOT_INITIALIZED are no answer (`*bad_line` 0).
 * Thread-safe. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_audit_verify(capv_audit_log **out,
                                                               size_t *bad_line,
                                                               capv_audit_problem *problem,
                                                               const uint8_t *data, size_t len,
                                                               capv_error *err);

/** NULL is a no-op. Since 0.2. */
CAPV_API void capv_audit_log_free(capv_audit_log *log);

/** The log's format (CAPV_AUDIT_EMPTY for a log without events). Since 0.2. */
CAPV_API capv_audit_format capv_audit_log_format(const capv_audit_log *log);

/** The number of events (= lines): what a manifest's audit.events_count names. Since 0.2. */
CAPV_API size_t capv_audit_log_events(const capv_audit_log *log);

/** The chain's tip, "0x" + 64 hex digits: the last event's digest (v1) or self_hash (v2),
 * the genesis 0x + 64 zeros for an empty log. What a manifest's audit.tail_digest and
 * time_anchor.audit_tip_hex name. Borrowed, valid while the log lives. Since 0.2. */
CAPV_API const char *capv_audit_log_tip(const capv_audit_log *log);

/** "0x" + BLAKE3 of the last line's raw bytes (without its line feed), or "0x0" for an empty
 * log: the tail_digest of the producer's desktop variant (docs/formats.md, "Audit logs").
 * Borrowed, valid while the log lives. Since 0.2. */
CAPV_API const char *capv_audit_log_line_tip(const capv_audit_log *log);

/** The events whose ts lies in [from_ms, to_ms] (milliseconds since the epoch, both bounds
 * included, sub-millisecond digits of ts ignored; INT64_MIN / INT64_MAX leave a side open)
 * and, when `policy_id` is not NULL, whose policy_id is exactly `policy_id` (v2 only), as
 * their original lines, each ended by a line feed, in log order. `*out` is NUL-terminated
 * (not counted in `*out_len`, which may be NULL) and caller-owned (free with capv_free); no
 * event selected gives "". CAPV_E_INVALID_ARG when from_ms > to_ms; CAPV_E_UNSUPPORTED
 * when `policy_id` is given for a v1 log (its events carry none). Thread-safe. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_audit_log_export(char **out, size_t *out_len,
                                                                   const capv_audit_log *log,
                                                                   int64_t from_ms, int64_t to_ms,
                                                                   const char *policy_id,
                                                                   capv_error *err);

/** "empty", "v1", "v2" (static; "unknown" for other values). Since 0.2. */
CAPV_API const char *capv_audit_format_name(capv_audit_format format);

/** "intact", "bad_json", "bad_event", "too_large", "seq_gap", "prev_mismatch",
 * "digest_mismatch" (static; "unknown" for other values). Since 0.2. */
CAPV_API const char *capv_audit_problem_name(capv_audit_problem problem);

#ifdef __cplusplus
}
#endif

#endif
