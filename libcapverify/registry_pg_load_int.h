/* SPDX-License-Identifier: Apache-2.0 */
/* Loading whole tables into a PostgreSQL registry (registry_pg_load.c, docs/registry.md "Copy
 * between storages" and "Restore"): rows with their own ids and sequence numbers, as a copy
 * or a restore brings them, inserted in batches on the write connection inside the caller's
 * begin … commit (capvi_pg_begin / the registry's writer), then the identity sequences moved
 * past the numbers loaded. Above the connection layer (registry_pg_conn.c). */
#ifndef CAPV_REGISTRY_PG_LOAD_INT_H
#define CAPV_REGISTRY_PG_LOAD_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "error_int.h"

typedef struct capvi_pg capvi_pg;
typedef struct capvi_pg_load capvi_pg_load;

/* Whether a registry_meta key is the storage's own bookkeeping (schema_version,
 * migrated_to_<n>, migrated_from, health_probe, verdict_mark): it describes one storage, not
 * the registry in it, so a load neither brings nor removes it. */
bool capvi_pg_load_meta_kept(const char *key);

/* Starts a load inside begin … commit: locks the registry tables against other writers
 * (readers go on; other replicas' writes wait for the commit), then with `replace` empties
 * verifications, reports, entries, policies and registry_meta but its bookkeeping; without,
 * CAPV_E_STATE when entries, verifications or policies hold a row, and report bodies that
 * nothing references are removed. Free with capvi_pg_load_free. */
capv_status capvi_pg_load_start(capvi_pg_load **out, capvi_pg *pg, bool replace, capv_error *err);

/* The table the next rows belong to (a name and column layout of capvi_pg_snapshot_rows:
 * registry_meta, entries, reports, verifications, policies — in this order, so each row's
 * references exist); the rows of the previous one are written first. CAPV_E_INVALID_ARG for
 * another name. */
capv_status capvi_pg_load_table(capvi_pg_load *l, const char *table, capv_error *err);

/* One row of the current table in capvi_pg_snapshot_rows' layout (a capvi_pg_row_fn: `user` is
 * the load). Buffered; written in multi-row statements. registry_meta rows replace a stored
 * value of the same key. */
capv_status capvi_pg_load_row(void *user, const char *const *cols, const int *lens, int ncols,
                              capv_error *err);

/* Writes what is buffered, advances each identity sequence (entries.seq, reports.id,
 * verifications.seq, policies.seq) past the largest number stored (never back: sequences
 * are not transactional), and counts the rows now in entries, reports, verifications and
 * policies into counts[0..3] (in that order; may be NULL). The caller commits. */
capv_status capvi_pg_load_finish(capvi_pg_load *l, uint64_t counts[4], capv_error *err);

/* NULL is a no-op. Rolling back is the caller's. */
void capvi_pg_load_free(capvi_pg_load *l);

#endif
