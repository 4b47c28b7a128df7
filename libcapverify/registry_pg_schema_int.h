/* SPDX-License-Identifier: Apache-2.0 */
/* Schema versions of the PostgreSQL registry (registry_pg_schema.c, docs/registry.md
 * "PostgreSQL backend"). Above the connection layer (registry_pg_conn.c). */
#ifndef CAPV_REGISTRY_PG_SCHEMA_INT_H
#define CAPV_REGISTRY_PG_SCHEMA_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "error_int.h"

/* The schema version this backend creates (registry_meta key 'schema_version'). It follows
 * the SQLite numbering: an empty database goes straight to version 2 (there is no PostgreSQL
 * version 1); later steps take version n to n + 1. */
#define CAPVI_PG_SCHEMA_VERSION 3

/* The advisory lock key of migrations (docs/registry.md): "CAPV-MIG" in ASCII,
 * 4846243005084813639, taken with pg_advisory_xact_lock. Per database. */
#define CAPVI_PG_LOCK_MIGRATE INT64_C(0x434150562D4D4947)

typedef struct capvi_pg capvi_pg;
typedef struct capvi_pg_conn capvi_pg_conn;

/* Reads the schema version on `c` into pg->found_version and, when it is older and
 * `may_migrate`, migrates (creating the tables in an empty database) in one transaction
 * under the migration lock, setting found_version to what it found once holding the lock.
 * CAPV_E_STATE when older and !may_migrate; CAPV_E_UNSUPPORTED_FORMAT when newer or not a
 * registry. */
capv_status capvi_pg_schema_open(capvi_pg *pg, capvi_pg_conn *c, bool may_migrate, capv_error *err);

#endif
