/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * RFC 3339 times as CAP formats use them (docs/formats.md): text <-> milliseconds since the
 * Unix epoch (UTC). Thread-safe; no capv_global_init() needed. */
#ifndef CAPVERIFY_TIME_H
#define CAPVERIFY_TIME_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Room for a formatted time: "YYYY-MM-DDTHH:MM:SSZ" and its NUL, with margin. Since 0.1. */
#define CAPV_RFC3339_SIZE 32

/** Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)" into milliseconds since the epoch
 * (fractions beyond milliseconds are truncated; a leap second, ":60", is the last
 * millisecond of the second before it, since 0.2). CAPV_E_MALFORMED for anything else,
 * impossible dates included; CAPV_E_INVALID_ARG for NULL `out_ms` or `text`.
 * Since 0.1; returns capv_status and takes `err` since 0.2 (was int 0 / -1). */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_rfc3339_parse(int64_t *out_ms, const char *text,
                                                                size_t len, capv_error *err);

/** Formats `ms` as "YYYY-MM-DDTHH:MM:SSZ" (NUL-terminated; years outside 0000..9999 are clamped,
 * so the text always parses back). Since 0.1. */
CAPV_API void capv_rfc3339_format(char out[CAPV_RFC3339_SIZE], int64_t ms);

#ifdef __cplusplus
}
#endif

#endif
