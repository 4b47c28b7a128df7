/* SPDX-License-Identifier: Apache-2.0 */
/* Copying a registry's rows between storages (registry_copy.c, docs/registry.md "Copy between
 * storages"): every row of registry_meta (but a storage's bookkeeping,
 * capvi_pg_load_meta_kept), entries, reports, verifications and policies, with the same ids,
 * sequence numbers and texts, read in one snapshot of the source and written in one
 * transaction. Used by capv_registry_copy, by the backup of a PostgreSQL registry and by the
 * restore into one (registry_backup.c). Above both storages' connection layers, the
 * PostgreSQL loader (registry_pg_load_int.h) and the write path (registry_writer_int.h). */
#ifndef CAPV_REGISTRY_COPY_INT_H
#define CAPV_REGISTRY_COPY_INT_H

#include "registry_db_int.h"

/* Every row of the snapshot open on `pg` (capvi_pg_snapshot_begin) into the SQLite database
 * `dest`, which has the current schema, inside the caller's transaction on it. `progress`
 * (may be NULL) is called every 4096 rows with the rows so far (total 0: unknown). */
capv_status capvi_reg_copy_pg_to_sqlite(sqlite3 *dest, struct capvi_pg *pg,
                                        capv_progress_fn progress, void *user, capv_error *err);

/* Every row of the SQLite database `src` (the current schema; read in one read transaction
 * taken here) into the registry `to`, in one write transaction of its writer: with `replace`
 * (PostgreSQL only: a restore; CAPV_E_UNSUPPORTED for SQLite, whose restore swaps the file)
 * the tables are emptied first, else `to` must hold no entries, verifications or policies
 * (CAPV_E_STATE). Before the commit the row counts of `to` must equal the rows read
 * (CAPV_E_MISMATCH: nothing is written). `copied` (may be NULL) receives the rows copied of
 * entries, reports, verifications and policies, in this order. */
capv_status capvi_reg_copy_load(uint64_t copied[4], capv_registry *to, sqlite3 *src, bool replace,
                                capv_progress_fn progress, void *user, capv_error *err);

#endif
