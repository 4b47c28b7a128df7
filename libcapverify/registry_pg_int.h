/* SPDX-License-Identifier: Apache-2.0 */
/* The registry's PostgreSQL storage (docs/registry.md, "PostgreSQL backend"): one database
 * shared by several daemon replicas. The same tables and columns as the SQLite schema version
 * 2, the same idempotent writes (entries by their hashes, verifications by request_id,
 * policies by hash and by id and version, report bodies by their SHA3-256), made race-safe
 * across processes with INSERT … ON CONFLICT DO NOTHING and a look-up of what is stored.
 *
 *   registry_pg.c          the operations below
 *   registry_pg_record.c   recording verifications (registry_pg_record_int.h)
 *   registry_pg_schema.c   schema versions and the forward migrations
 *   registry_pg_conn.c     the handle, libpq connections, reconnection, error mapping
 *
 * A handle has one write connection (begin … commit; the registry's writer serializes its
 * use), a pool of `readers` read connections (any thread; a call borrows one and waits while
 * all are busy), one session connection that holds the leadership lock, and one for snapshots.
 *
 * Errors: a connection failure, a server gone or shutting down (SQLSTATE class 08, 57P01 …
 * 57P03) is CAPV_E_STORAGE "<what>: database unreachable: <reason> (<location>)"; disk full (53100)
 * CAPV_E_STORAGE "disk is full"; serialization failure, deadlock, lock timeout (40001, 40P01,
 * 55P03) CAPV_E_BUSY; unique violation (23505) of a key of the registry's writes (entries'
 * id or hashes, verifications' request_id, policies' hash or id and version) CAPV_E_CONFLICT,
 * of any other unique constraint CAPV_E_STORAGE naming it; out of memory (here or 53200)
 * CAPV_E_NOMEM; anything else CAPV_E_IO. Messages name the database by capvi_pg_location()
 * only, never with a password. A connection that failed is reconnected by the next call that
 * uses it (a statement outside a transaction is retried once on a fresh connection); a failed
 * attempt delays the next one by 100 ms, doubling up to 5 s, and a call during that delay
 * fails at once with CAPV_E_STORAGE. A transaction whose connection failed stays failed
 * until capvi_pg_rollback. */
#ifndef CAPV_REGISTRY_PG_INT_H
#define CAPV_REGISTRY_PG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry_entry_int.h"
#include "registry_pg_record_int.h"
#include "registry_pg_schema_int.h"

/* The advisory lock key of the leadership (docs/registry.md): "CAPV-LDR" in ASCII,
 * 4846243005084746834, a session lock. Per database: one registry per database. The
 * migrations' key and the schema version are in registry_pg_schema_int.h. */
#define CAPVI_PG_LOCK_LEADER INT64_C(0x434150562D4C4452)

/* The advisory lock key of pruning (docs/registry.md): "CAPV-PRN" in ASCII,
 * 4846243005085012558, taken with pg_advisory_xact_lock by every prune step. Per database. */
#define CAPVI_PG_LOCK_PRUNE INT64_C(0x434150562D50524E)

typedef struct capvi_pg capvi_pg;

typedef struct capvi_pg_options {
    const char *url;           /* libpq URI (postgresql://user@host:port/db?sslmode=…) or
                                * key=value conninfo; may hold a password */
    const char *password_file; /* NULL: libpq's own sources (PGPASSWORD, PGPASSFILE, ~/.pgpass);
                                * else the first line of this file, trailing newline removed */
    bool read_only;            /* no migration, no writes */
    bool migrate;              /* false: an older schema is CAPV_E_STATE */
    unsigned int readers;      /* read connections in the pool, 1..64 */
    int connect_timeout_ms;    /* 0 = 5000; libpq counts whole seconds, at least 2 */
} capvi_pg_options;

/* Connects (the write connection, or one reader when read_only) and checks the schema:
 * an empty database is created at CAPVI_PG_SCHEMA_VERSION and an older one migrated, under
 * the migration lock and in one transaction that re-reads the version after taking the lock
 * (so concurrent opens migrate once). CAPV_E_INVALID_ARG (bad options, an URL libpq cannot
 * parse), CAPV_E_IO / CAPV_E_NOT_FOUND (password file), CAPV_E_STORAGE (unreachable),
 * CAPV_E_STATE (an older schema on a read_only or !migrate open: run `capverify registry
 * migrate`), CAPV_E_UNSUPPORTED_FORMAT (a newer schema, or tables that are not a registry).
 * Close with capvi_pg_close (NULL is a no-op). */
capv_status capvi_pg_open(capvi_pg **out, const capvi_pg_options *o, capv_error *err);
void capvi_pg_close(capvi_pg *pg);
/* The URL with any password removed: the only form of it in messages and logs. Borrowed. */
const char *capvi_pg_location(const capvi_pg *pg);
/* The schema version this handle found before it migrated (0: an empty database); with
 * concurrent opens, only the one that migrated finds the older version. */
int capvi_pg_found_version(const capvi_pg *pg);

/* ---- the write connection (callers serialize: only the registry's writer uses it) ----- */

/* Not `durable`: the transaction commits with synchronous_commit off. CAPV_E_STATE on a
 * read_only handle; begin inside a transaction is CAPV_E_STATE too. A
 * COMMIT the server turns into a rollback (an earlier statement failed outside a savepoint)
 * is CAPV_E_IO. Rollback never fails (nothing to roll back when the connection is gone). */
capv_status capvi_pg_begin(capvi_pg *pg, bool durable, capv_error *err);
capv_status capvi_pg_commit(capvi_pg *pg, capv_error *err);
void capvi_pg_rollback(capvi_pg *pg);
/* One savepoint level (SAVEPOINT capv_write), as the SQLite writer uses. */
capv_status capvi_pg_savepoint(capvi_pg *pg, capv_error *err);
capv_status capvi_pg_release(capvi_pg *pg, capv_error *err);
capv_status capvi_pg_rollback_to(capvi_pg *pg, capv_error *err);
/* Whether begin … commit is open and its session alive: false once the connection was lost
 * inside it (the server rolled the transaction back; call capvi_pg_rollback). */
bool capvi_pg_in_transaction(const capvi_pg *pg);

/* Inside begin … commit. Adds a prepared entry (its derived or given id is kept):
 * CAPV_OK with *stored = the new row; else CAPV_E_EXISTS / CAPV_E_CONFLICT from
 * capvi_reg_entry_compare with *stored = the stored entry (found by its hashes, else by its
 * id). `stored` may be NULL; free with capv_registry_entry_free. */
capv_status capvi_pg_entry_add(capv_registry_entry **stored, capvi_pg *pg,
                               const capv_reg_entry_in *e, bool compare_registered_at,
                               capv_error *err);

/* Inside the write's savepoint (capvi_pg_savepoint): records n verifications as
 * capvi_pg_record_batch (registry_pg_record_int.h) does, first without `skip_stored`, and
 * when a request id of the batch is already stored, again from the savepoint with it. What
 * the registry's writer calls. */
capv_status capvi_pg_record(capvi_pg *pg, capvi_reg_record **recs, size_t n);

/* Inside begin … commit. Stores a validated policy (policy_key / ir_key = the digests of
 * p->policy_hash / p->ir_hash): CAPV_OK, CAPV_E_EXISTS "policy '…' … is already stored",
 * CAPV_E_CONFLICT "… conflicts with a stored policy" (field policy_hash, or policy_id when
 * found by id and version). */
capv_status capvi_pg_policy_put(capvi_pg *pg, const capv_registry_policy *p,
                                const uint8_t policy_key[32], const uint8_t ir_key[32],
                                const char *created_at, capv_error *err);

/* Inside begin … commit. Removes up to `limit` verifications with verified_ms < before_ms,
 * oldest first, skipping rows another replica has locked, then the report bodies they leave
 * unreferenced (a body a concurrent record holds is skipped). *removed = verifications. */
capv_status capvi_pg_prune_step(uint64_t *removed, capvi_pg *pg, int64_t before_ms, size_t limit,
                                capv_error *err);

/* The health probe: reconnects the write connection if needed and writes one row, the
 * registry_meta key health_probe = `at` (the time of the probe), inside the writer's
 * transaction. A server that takes no writes (its disk full, say) fails it. */
capv_status capvi_pg_probe(capvi_pg *pg, const char *at, capv_error *err);
/* The last value the entries' identity sequence gave (0: none yet), on the writer's
 * connection: any replica's added entry moves it (and a restore's load sets it). */
capv_status capvi_pg_verdict_mark(int64_t *mark, capvi_pg *pg, capv_error *err);

/* ---- reads: any thread, on a connection of the pool ------------------------------------ */

/* By id when id != NULL, else by the 32-byte digests. CAPV_E_NOT_FOUND when absent. */
capv_status capvi_pg_entry_get(capv_registry_entry **out, capvi_pg *pg, const char *id,
                               const uint8_t mk[32], const uint8_t pk[32], capv_error *err);
/* Entries with seq > after (only those with manifest key mk unless NULL), by seq, at most
 * `limit` into items[] (the caller's `limit` slots; each freed with
 * capv_registry_entry_free). */
capv_status capvi_pg_entry_list(capv_registry_entry **items, size_t *n, capvi_pg *pg,
                                const uint8_t *mk, int64_t after, size_t limit, capv_error *err);
capv_status capvi_pg_count(uint64_t *out, capvi_pg *pg, capv_registry_table t, capv_error *err);
/* Library-owned (capv_registry_verification_free); report_json as stored. NOT_FOUND. */
capv_status capvi_pg_verification_get(capv_registry_verification **out, capvi_pg *pg,
                                      const char *request_id, capv_error *err);
/* `key` a policy_hash digest (any form) or a policy_id (its newest version by seq), with
 * ir_bytes (octet_length). Free with capv_registry_policy_free. NOT_FOUND. */
capv_status capvi_pg_policy_get(capv_registry_policy **out, capvi_pg *pg, const char *key,
                                capv_error *err);
/* As capvi_pg_policy_get without the IR text (ir_json NULL, ir_bytes set). */
capv_status capvi_pg_policy_head(capv_registry_policy **out, capvi_pg *pg, const char *key,
                                 capv_error *err);
/* ---- leadership: one replica runs scheduled backups and retention ---------------------- */

/* Whether this handle holds the session advisory lock CAPVI_PG_LOCK_LEADER on its own
 * connection, trying to take it when it does not (pg_try_advisory_lock, never waiting).
 * Checks that the session is alive; a reconnect loses the lock and tries again. Closing the
 * handle (or its process dying) frees it for another replica. CAPV_E_STORAGE (*leader false)
 * when the database cannot be reached. Thread-safe. */
capv_status capvi_pg_leader(bool *leader, capvi_pg *pg, capv_error *err);

/* ---- whole tables in one snapshot (backup, copy) --------------------------------------- */

/* BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY on the handle's snapshot connection;
 * one snapshot at a time: another thread's begin waits for the end of this one, and this
 * thread's second begin is CAPV_E_STATE. capvi_pg_snapshot_end without an open snapshot is
 * a no-op. */
capv_status capvi_pg_snapshot_begin(capvi_pg *pg, capv_error *err);
void capvi_pg_snapshot_end(capvi_pg *pg);

/* A row: ncols columns; cols[i] NULL for SQL NULL, else NUL-terminated text of lens[i]
 * bytes (integers in decimal), or for bytea columns the raw bytes (lens[i] of them, a NUL
 * after them). Valid during the call. A status other than CAPV_OK stops the walk and is
 * returned. */
typedef capv_status (*capvi_pg_row_fn)(void *user, const char *const *cols, const int *lens,
                                       int ncols, capv_error *err);
/* Every row of `table` in the snapshot, in primary-key order, read through a cursor 500 rows
 * at a time. Columns (bytea marked *):
 *   entries        seq, id, manifest_hash, proof_hash, manifest_key*, proof_key*,
 *                  timestamp_file, registered_at, policy_hash, signature, public_key, kid,
 *                  signature_scheme
 *   verifications  seq, request_id, subject, manifest_hash, proof_hash, policy_hash,
 *                  entry_seq, result, verified_at, report_id, verified_ms
 *   reports        id, sha3*, bytes, summary (0 or 1), json
 *   policies       seq, policy_id, policy_version, policy_hash, policy_key*, ir_hash, ir,
 *                  created_at
 *   registry_meta  key, value
 * CAPV_E_INVALID_ARG for another table, CAPV_E_STATE outside a snapshot. */
capv_status capvi_pg_snapshot_rows(capvi_pg *pg, const char *table, capvi_pg_row_fn fn, void *user,
                                   capv_error *err);

#endif
