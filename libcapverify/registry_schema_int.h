/* SPDX-License-Identifier: Apache-2.0 */
/* The registry's schema versions and forward migrations (registry_schema.c,
 * docs/registry.md "Migrations"). Above the entries: the migration from the existing
 * implementation's schema copies its rows as entries. */
#ifndef CAPV_REGISTRY_SCHEMA_INT_H
#define CAPV_REGISTRY_SCHEMA_INT_H

#include "registry_db_int.h"

/* The schema version of an open database (0 = empty or legacy) and whether it is the legacy
 * schema. CAPV_E_UNSUPPORTED_FORMAT for a newer version or a database that is not a
 * registry. */
capv_status capvi_reg_schema_probe(int *version, bool *legacy, sqlite3 *db, capv_error *err);
/* Migrates from version `from` to CAPV_REGISTRY_SCHEMA_VERSION on a read-write connection,
 * each step in its own transaction; `*migrated_rows` counts legacy rows copied. */
capv_status capvi_reg_migrate(uint64_t *migrated_rows, sqlite3 *db, int from, capv_error *err);

#endif
