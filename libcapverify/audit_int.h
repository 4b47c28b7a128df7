/* SPDX-License-Identifier: Apache-2.0 */
/* Audit logs (audit.c) as the verifier reads them: one pass over the lines that verifies the
 * chain and keeps only what the `audit` check compares (docs/formats.md, "Audit logs"). */
#ifndef CAPV_AUDIT_INT_H
#define CAPV_AUDIT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "error_int.h"

/* What one pass over a log found. */
typedef struct capvi_audit_summary {
    capv_audit_format format;
    size_t events;
    uint8_t tip[32];      /* the last digest / self_hash; the genesis (zeros) without events */
    uint8_t line_tip[32]; /* BLAKE3 of the last line's raw bytes (when events > 0) */
    size_t bad_line;      /* 1-based first broken line, 0 when intact */
    capv_audit_problem problem;
} capvi_audit_summary;

/* Called with every event of the log, in order, once its line verified: its raw line (without
 * the line feed), its ts in milliseconds and its policy_id (v2; NULL when absent). A status
 * other than CAPV_OK stops the pass and is returned. */
typedef capv_status (*capvi_audit_event_fn)(void *user, const uint8_t *line, size_t len,
                                            int64_t ts_ms, const char *policy_id);

/* The limits of a pass: CAPV_AUDIT_MAX_LINES and CAPV_AUDIT_MAX_LINE_BYTES unless a test
 * wants to reach them with less. */
typedef struct capvi_audit_limits {
    size_t max_lines;
    size_t max_line_bytes;
} capvi_audit_limits;

/* One pass over `data[0..len)` (`limits` NULL: audit.h's): CAPV_OK when the chain is intact;
 * otherwise the status and err of capv_audit_verify() with `out->bad_line` and `out->problem`
 * set; CAPV_E_NOMEM, CAPV_E_NOT_INITIALIZED (no answer: `out->bad_line` 0) or what `fn`
 * returned. `fn` may be NULL. */
capv_status capvi_audit_scan(capvi_audit_summary *out, const uint8_t *data, size_t len,
                             const capvi_audit_limits *limits, capvi_audit_event_fn fn, void *user,
                             capv_error *err);

/* The digest that line `line[0..n)` of a verified log ends its chain with: its v1 `digest`
 * or v2 `self_hash` field, as written (the scan checked it). CAPV_E_MALFORMED without one. */
capv_status capvi_audit_line_digest(uint8_t out[32], const uint8_t *line, size_t n,
                                    capv_error *err);

#endif
