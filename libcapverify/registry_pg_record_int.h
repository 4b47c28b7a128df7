/* SPDX-License-Identifier: Apache-2.0 */
/* Recording verifications in the PostgreSQL registry (registry_pg_record.c, docs/registry.md
 * "PostgreSQL backend"). Above the connection layer (registry_pg_conn.c); part of the
 * backend's API (registry_pg_int.h). */
#ifndef CAPV_REGISTRY_PG_RECORD_INT_H
#define CAPV_REGISTRY_PG_RECORD_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "registry_record_int.h"

typedef struct capvi_pg capvi_pg;

/* Inside begin … commit. Stores n records (in statements of up to 1000). Per record:
 * recs[i]->st = CAPV_OK with ->seq, or CAPV_E_EXISTS / CAPV_E_CONFLICT (from
 * capvi_reg_record_compare with the stored row, ->seq = its seq), or CAPV_E_BUSY when the
 * stored row vanished meanwhile; ->err says why. Report bodies are stored once per key.
 * Returns CAPV_OK when the statements ran, else the failure (also in every record's st and
 * err; CAPV_E_STATE outside a transaction or on a read-only handle): then nothing of the
 * batch is stored once the caller rolls back. Without `skip_stored` the verifications are
 * inserted without ON CONFLICT, and a request id already stored makes the whole call fail
 * with CAPV_E_CONFLICT, the transaction aborted: the caller rolls back to its savepoint and
 * calls again with `skip_stored` (capvi_pg_record, registry_pg_int.h). A unique violation of
 * another constraint is CAPV_E_STORAGE, with or without `skip_stored` (registry_pg_conn.c). */
capv_status capvi_pg_record_batch(capvi_pg *pg, capvi_reg_record **recs, size_t n,
                                  bool skip_stored);
/* Gives each of the n records the failure `st` with `err` and no seq. */
void capvi_pg_records_fail(capvi_reg_record **recs, size_t n, capv_status st,
                           const capv_error *err);

#endif
