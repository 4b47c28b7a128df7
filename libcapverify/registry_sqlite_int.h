/* SPDX-License-Identifier: Apache-2.0 */
/* The registry on SQLite (registry_sqlite.c, docs/registry.md): the embedded storage. Above
 * the connection layer (registry_db_int.h) and the entries (registry_entry_int.h). */
#ifndef CAPV_REGISTRY_SQLITE_INT_H
#define CAPV_REGISTRY_SQLITE_INT_H

#include "registry_backend_int.h"

extern const capvi_reg_backend capvi_reg_sqlite;

/* Opens the SQLite storage of a handle whose path (NULL: in memory), read_only and busy_ms
 * are set: the writer lock, the write connection with its checks and migrations, the
 * read-only connections. `exists`: the file was there. */
capv_status capvi_reg_sqlite_open(capv_registry *reg, const capv_registry_options *o, bool exists,
                                  capv_error *err);

/* One pruning step on the write connection, inside the caller's transaction: removes up to
 * `limit` verifications with verified_at before `before_ms` (oldest first) and the report
 * bodies they leave unreferenced. `*removed` = verifications removed. */
capv_status capvi_reg_prune_step(uint64_t *removed, capv_reg_conn *w, int64_t before_ms,
                                 size_t limit, capv_error *err);

#endif
