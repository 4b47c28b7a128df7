/* SPDX-License-Identifier: Apache-2.0 */
/* The registry's JSON (registry_json.c): import / export, entries as JSON, pages, and the
 * summary stored instead of a report over the size cap (docs/registry.md). */
#ifndef CAPV_REGISTRY_JSON_INT_H
#define CAPV_REGISTRY_JSON_INT_H

#include "json_int.h"
#include "registry_db_int.h"

/* The summary stored instead of a report larger than the cap (docs/registry.md): built from
 * the parsed report `report` (may be NULL: a summary of the verification fields only) and
 * the verification's result, hashes and verified_at in `v`, with the full report's length
 * and SHA3-256; never longer than `cap` (>= CAPV_REGISTRY_MIN_MAX_REPORT_BYTES) bytes.
 * Appended to `out` (NUL-terminated); CAPV_E_NOMEM is the only failure. */
capv_status capvi_reg_report_summary(capv_buf *out, const cJSON *report,
                                     const capv_registry_verification *v, const uint8_t sha3[32],
                                     size_t full_len, size_t cap, capv_error *err);

#endif
