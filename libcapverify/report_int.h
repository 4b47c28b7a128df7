/* SPDX-License-Identifier: Apache-2.0 */
/* Building verification reports (docs/formats.md, "Verification report"). */
#ifndef CAPV_REPORT_INT_H
#define CAPV_REPORT_INT_H

#include <stdatomic.h>

#include "json_int.h"

typedef char *capvi_text; /* (for an _Atomic member) */

struct capv_check {
    char *id;
    capv_check_status status;
    char *message;
    cJSON *details; /* object or NULL */
    /* its compact JSON, written by the first capv_check_details() (most reports are only
     * rendered whole, by capv_report_to_json, which writes the tree) */
    _Atomic capvi_text details_text;
};

struct capv_report {
    char *unit_id;
    char format[16];
    char *manifest_hash;
    char *proof_hash;
    char *policy_hash;
    struct capv_check *checks;
    size_t nchecks;
    size_t capchecks;
    struct capv_report *units;
    size_t nunits;
    capv_verdict verdict;
    int64_t verified_at;
    int64_t duration_ms;
    /* a check's outcome depends on when it ran, not only on the input (a timestamp token
     * dated after now): the report is not cached (capvi_report_now_bound) */
    bool now_bound;
};

capv_status capvi_report_init(capv_report *r, const char *unit_id);
/* Whether the report or one of its units is now_bound. */
bool capvi_report_now_bound(const capv_report *r);
void capvi_report_clear(capv_report *r);

/* Appends a check; takes ownership of `details` (may be NULL), also on failure. */
capv_status capvi_report_add(capv_report *r, const char *id, capv_check_status status,
                             cJSON *details, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Sets a "0x…" field (manifest_hash, ...) from a digest. */
capv_status capvi_report_set_hash(char **field, const uint8_t digest[32]);

/* The checks of `r` that did not pass, as capv_report_json_problems() lists them from its
 * JSON, into `out` (`cap` >= 4). True when the list is whole, false when it was cut ("...").
 * A whole list of L bytes is what any `cap` >= L + 4 gives: each item goes in while the text
 * so far, the item and room for "..." fit. */
bool capvi_report_problems(char *out, size_t cap, const capv_report *r);

/* Computes the verdict: the worst of the checks and units. */
void capvi_report_finish(capv_report *r);

#endif
