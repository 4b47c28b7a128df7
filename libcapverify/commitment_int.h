/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the commitments module (docs/architecture.md, "Commitments"), exposed for the unit
 * tests. */
#ifndef CAPV_COMMITMENT_INT_H
#define CAPV_COMMITMENT_INT_H

#include "csv_int.h"

/* Leaf of one supplier row: BLAKE3 of {"name":…,"jurisdiction":…,"tier":<tier>}. The texts
 * must be valid UTF-8 (they are written with the compat string escaping). */
capv_status capvi_commitment_supplier_leaf(uint8_t out[32], const capv_csv_field *name,
                                           const capv_csv_field *jurisdiction, int64_t tier,
                                           capv_error *err);

/* Leaf of one UBO row: BLAKE3 of {"name":…,"birthdate":…,"citizenship":…}. */
capv_status capvi_commitment_ubo_leaf(uint8_t out[32], const capv_csv_field *name,
                                      const capv_csv_field *birthdate,
                                      const capv_csv_field *citizenship, capv_error *err);

/* Parses a tier: optional '-', then one or more ASCII digits, nothing else, within int64.
 * Returns false otherwise. */
bool capvi_commitment_parse_int(int64_t *out, const uint8_t *s, size_t len);

#endif
