/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * Commitments (docs/architecture.md, "Commitments"): the Merkle-free BLAKE3 roots that CAP
 * manifests publish for the supplier and beneficial-owner (UBO) lists, recomputed from CSV files.
 * Requires capv_global_init(). Thread-safe. */
#ifndef CAPVERIFY_COMMITMENT_H
#define CAPVERIFY_COMMITMENT_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Supplier root of an RFC 4180 CSV with header columns `name`, `jurisdiction`, `tier`
 * (found by header name, any order; extra columns ignored; UTF-8, optional BOM is an error).
 * Leaf = BLAKE3 of the compact JSON `{"name":…,"jurisdiction":…,"tier":<int>}`; root = BLAKE3
 * of the ASCII concatenation of the "0x"-prefixed leaf hex strings in row order (no rows →
 * BLAKE3 of empty input). `*count` (may be NULL) receives the number of rows.
 * CAPV_E_MALFORMED with the line number in err for bad CSV, a missing column or a tier that
 * is not an integer. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_commitment_suppliers_csv(
    uint8_t root[32], size_t *count, const uint8_t *csv, size_t len, capv_error *err);

/** UBO root of a CSV with columns `name`, `birthdate`, `citizenship`; leaf = BLAKE3 of
 * {"name":…,"birthdate":…,"citizenship":…}; otherwise as above. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_commitment_ubos_csv(uint8_t root[32],
                                                                      size_t *count,
                                                                      const uint8_t *csv,
                                                                      size_t len, capv_error *err);

/** Company commitment root = BLAKE3 of the ASCII string supplier_root_hex + ubo_root_hex
 * (each "0x" + 64 lower-case hex). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_commitment_company(
    uint8_t out[32], const uint8_t supplier_root[32], const uint8_t ubo_root[32], capv_error *err);

#ifdef __cplusplus
}
#endif

#endif
