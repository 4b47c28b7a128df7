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

/* Called for each difference between a database's schema objects and ours: `type` and `name`
 * of the object, `message` a sentence naming it ("an unexpected trigger 'x' on table 'y'
 * (CREATE TRIGGER …)", "index 'z' is missing", "table 't' is not the one this library
 * creates (…)"). */
typedef void (*capvi_reg_schema_fn)(void *user, const char *type, const char *name,
                                    const char *message);

/* Compares the schema objects of `db` (every row of sqlite_schema: type, name, table and the
 * CREATE statement, its layout normalized) with exactly those our migrations create for
 * schema `version` — from an empty database, or from the legacy layouts when `db` has the
 * legacy table — built in a private in-memory database. Anything else (a trigger, a view, an
 * index or table we do not create, a changed column) and anything missing is a difference:
 * reported through `fn` (may be NULL) and counted in `*differences`. CAPV_OK when the
 * comparison ran. */
capv_status capvi_reg_schema_compare(size_t *differences, sqlite3 *db, int version,
                                     capvi_reg_schema_fn fn, void *user, capv_error *err);

#endif
