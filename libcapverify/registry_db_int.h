/* SPDX-License-Identifier: Apache-2.0 */
/* The bottom layer of the registry module (docs/registry.md): the handle, its SQLite
 * connections and their settings, cached statements, the writer lock (registry_lock.c),
 * SQLite error mapping (storage faults are CAPV_E_STORAGE), the health bookkeeping, and the
 * helpers for the versioned public structs. The files above it:
 *
 *   registry.c, registry_json.c, registry_backup.c    public entry points
 *   registry_copy.c                                    rows between storages
 *   registry_writer.c                                  the write path, the writer, the queue
 *   registry_sqlite.c         registry_pgb.c           the storages (registry_backend_int.h)
 *   registry_schema.c         registry_pg*.c           SQLite migrations; PostgreSQL (libpq)
 *   registry_entry.c          registry_record.c        entries; records ready to store
 *   registry_db.c                                      this layer
 *   registry_keys.c                                    the entries' keys a writer keeps
 *
 * Each file includes the *_int.h headers of the layers below it, never one above it. */
#ifndef CAPV_REGISTRY_DB_INT_H
#define CAPV_REGISTRY_DB_INT_H

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "buf.h"
#include "error_int.h"
#include "registry_keys_int.h"
#include "registry_lock_int.h"

/* The size the writer truncates the WAL back to when it starts it over (PRAGMA
 * journal_size_limit). Checkpoints keep the WAL near 4 MiB (1,000 pages), but while a long
 * read transaction (a read-only handle's backup or export) keeps the writer from reusing it,
 * it grows with every commit, and SQLite would otherwise keep the file at that size for good
 * (docs/registry.md, "A backup under load"). */
#define REG_WAL_KEEP_BYTES (16 << 20)

/* The entry columns every entry query selects, in this order (capvi_reg_entry_from_row). */
#define REG_ENTRY_COLUMNS                                                                          \
    "seq, id, manifest_hash, proof_hash, timestamp_file, registered_at, policy_hash, "             \
    "signature, public_key, kid, signature_scheme"

/* Prepared statements, cached per connection. */
enum {
    REG_ST_ENTRY_INSERT,
    REG_ST_ENTRY_BY_KEYS,
    REG_ST_ENTRY_BY_ID,
    REG_ST_ENTRY_LIST,
    REG_ST_ENTRY_LIST_MH,
    REG_ST_COUNT_ENTRIES,
    REG_ST_COUNT_VERIFICATIONS,
    REG_ST_COUNT_POLICIES,
    REG_ST_VER_INSERT,
    REG_ST_VER_BY_REQUEST,
    REG_ST_REPORT_BY_KEY,
    REG_ST_REPORT_INSERT,
    REG_ST_PRUNE_SELECT,
    REG_ST_VER_DELETE,
    REG_ST_REPORT_DELETE_ORPHAN,
    REG_ST_PROBE,
    REG_ST_POL_INSERT,
    REG_ST_POL_BY_KEY,
    REG_ST_POL_BY_ID,
    REG_ST_POL_BY_ID_VERSION,
    REG_ST_POL_HEAD_BY_KEY,
    REG_ST_POL_HEAD_BY_ID,
    REG_ST_VER_LIST,
    REG_ST_VER_LIST_RESULT,
    REG_ST_POL_LIST,
    REG_ST_SAVEPOINT,
    REG_ST_RELEASE,
    REG_ST_ROLLBACK_TO,
    REG_ST_COUNT
};

typedef struct capv_reg_conn {
    sqlite3 *db;
    sqlite3_stmt *st[REG_ST_COUNT];
    bool busy; /* readers: handed out */
} capv_reg_conn;

/* A unit of work for the write connection (registry_writer_int.h). */
typedef struct capv_reg_write capv_reg_write;
/* The storage behind a handle (registry_backend_int.h) and PostgreSQL's (registry_pg_int.h). */
typedef struct capvi_reg_backend capvi_reg_backend;
struct capvi_pg;

struct capv_registry {
    const capvi_reg_backend *be;
    struct capvi_pg *pg; /* the PostgreSQL storage (be = capvi_reg_pg), else NULL */
    char *path;          /* SQLite: NULL in memory; PostgreSQL: the location without password */
    bool read_only;
    capv_reg_lock *lock; /* SQLite file: the writer lock, or a reader's pin */
    int busy_ms;
    capv_reg_conn w; /* read-write connection (db NULL when read-only) */
    pthread_mutex_t wlock;
    capv_reg_conn *readers;
    unsigned int nreaders;
    pthread_mutex_t rlock;
    pthread_cond_t rcond;
    int found_version;
    bool found_legacy;
    uint64_t migrated_rows;
    const capv_signing_key *sign_key;
    capv_clock_fn clock;
    void *clock_user;
    atomic_uint_fast64_t generation;
    int64_t verdict_mark; /* the storage's last verdict_mark (writer thread), -1: none yet */
    atomic_uint_fast64_t writes;
    atomic_uint_fast64_t commits;
    atomic_uint_fast64_t pruned;
    atomic_uint_fast64_t summarized;
    atomic_uint_fast64_t faults;
    /* report size cap and retention (capv_registry_set_*) */
    atomic_size_t max_report;
    atomic_int_fast64_t retention_ms;
    /* the last storage fault not yet followed by a successful write (capv_registry_health) */
    pthread_mutex_t flock;
    bool fault;
    char fault_msg[CAPV_ERROR_MESSAGE_SIZE];
    /* writer thread (registry_writer.c) */
    /* the last commit that waited for the disk (monotonic ms), and whether one that did not
     * followed it (registry_writer.c, batch_durable) */
    atomic_int_fast64_t synced_ms;
    atomic_bool unsynced;
    atomic_bool writer_running; /* read without qlock by capvi_reg_queue_enabled */
    bool writer_joining;        /* under qlock: a capvi_reg_writer_stop joins the thread */
    pthread_t writer;
    pthread_mutex_t qlock;
    pthread_cond_t qcond; /* CLOCK_MONOTONIC: the writer waits with a timeout to prune */
    capv_reg_write *qhead, *qtail;
    bool stopping;
    unsigned int max_batch;
    bool prune_now;            /* under qlock: retention changed, prune at once */
    int64_t prune_interval_ms; /* the writer's pause between prunes that found little */
    /* asynchronous recording (registry_writer.c): records waiting for the writer, under
     * qlock; rq_depth mirrors their number for readers without the lock */
    struct capv_reg_queued *rq_head, *rq_tail;
    size_t rq_len, rq_max; /* rq_max 0: recording is synchronous */
    int rq_flush_ms;
    int64_t rq_oldest_ms; /* monotonic ms when the oldest waiting record was queued */
    int64_t rq_retry_ms;  /* monotonic ms before which a failed batch is not retried */
    int rq_backoff_ms;    /* the next retry pause after a failed batch */
    int64_t rq_stop_ms;   /* closing: records still failing after this are dropped */
    bool rq_failing;      /* the last batch with records failed on the storage */
    /* suspect records waiting for their own retry time (capv_reg_queued), counted in
     * rq_in - rq_out like the queue's */
    struct capv_reg_queued *rs_head;
    size_t rs_len;
    uint64_t rq_in, rq_out; /* records queued / finished (written, refused or dropped) */
    uint64_t rq_taken_min;  /* the lowest ticket of the records being written (0: none) */
    pthread_cond_t rq_cond; /* CLOCK_MONOTONIC: flush and a full queue wait on rq_out */
    atomic_size_t rq_depth;
    atomic_uint_fast64_t rq_dropped, rq_rejected, rq_written;
    /* SQLite writer only: synchronous = NORMAL for every commit (CAPV_REGISTRY_SYNC_NORMAL),
     * and whether the connection is at FULL now (registry_sqlite.c, sq_begin) */
    bool sync_normal, w_sync_full;
    /* SQLite writer only: the last report body stored or found, valid until a rollback or a
     * prune (registry_sqlite.c) */
    bool w_report_valid;
    uint8_t w_report_key[32];
    int64_t w_report_id;
    /* SQLite writer thread only: the keys of every entry (registry_keys_int.h); off
     * (cap 0) everywhere else */
    capvi_reg_keys keys;
    /* recently recorded report texts, prepared (registry.c, memo_get) */
    struct capvi_reg_memo *memo;
    pthread_mutex_t memo_lock;
};

/* ---- SQLite errors and the health of the storage --------------------------------------- */

/* A status for a failed SQLite call `rc` on `db` (NULL: SQLite's text for rc), recorded in
 * err as "<what>: <reason> (<SQLite's message>, sqlite <rc>)". Storage faults are
 * CAPV_E_STORAGE with the reason "database is corrupt" (CORRUPT, NOTADB), "database is
 * read-only" (READONLY and its extended codes), "disk is full" (FULL) or "I/O error" (IOERR*,
 * CANTOPEN); BUSY/LOCKED → CAPV_E_BUSY, NOMEM and IOERR_NOMEM → CAPV_E_NOMEM, CONSTRAINT →
 * CAPV_E_CONFLICT, anything else CAPV_E_IO. */
capv_status capvi_reg_sqlite_error(sqlite3 *db, int rc, const char *what, capv_error *err);

/* The reason phrase of a storage fault code (see capvi_reg_sqlite_error), or NULL when `rc`
 * is not one. An I/O error whose system errno (`sys_errno`, 0 = unknown) is EROFS is
 * "database is read-only", ENOSPC or EDQUOT "disk is full". */
const char *capvi_reg_storage_reason(int rc, int sys_errno);

/* Health bookkeeping: a CAPV_E_STORAGE result (message from `e`, may be NULL) becomes the
 * handle's current fault and is counted (and wakes the writer thread, which probes the
 * storage while the fault lasts); on a read-only handle a CAPV_OK result clears it.
 * Returns `st`. */
capv_status capvi_reg_note(capv_registry *reg, capv_status st, const capv_error *e);
/* Clears the current fault: a write was committed. */
void capvi_reg_fault_clear(capv_registry *reg);
/* Whether a storage fault is current; its message is copied to `msg` (may be NULL). */
bool capvi_reg_fault_get(capv_registry *reg, char msg[CAPV_ERROR_MESSAGE_SIZE]);

/* ---- statements ------------------------------------------------------------------------ */

/* The SQL text of statement `which`. */
const char *capvi_reg_stmt_sql(int which);

/* The cached statement `which` on `c` (prepared on first use), reset and unbound. */
capv_status capvi_reg_stmt(sqlite3_stmt **out, capv_reg_conn *c, int which, capv_error *err);

/* Steps a statement that returns no row, then resets it. */
capv_status capvi_reg_step_done(sqlite3 *db, sqlite3_stmt *s, const char *what, capv_error *err);

/* Runs SQL without results. */
capv_status capvi_reg_exec(sqlite3 *db, const char *sql, capv_error *err);

/* A single integer from a query (e.g. a PRAGMA). */
capv_status capvi_reg_query_int(int64_t *out, sqlite3 *db, const char *sql, capv_error *err);

/* Row counts of an open database (any connection). */
capv_status capvi_reg_count_db(uint64_t *out, sqlite3 *db, const char *table, capv_error *err);

/* Column `i` of the current row as text (NULL for SQL NULL). */
const char *capvi_reg_col_text(sqlite3_stmt *s, int i);

/* ---- connections ----------------------------------------------------------------------- */

/* Opens one connection (`flags` are SQLITE_OPEN_*; NOMUTEX is added). */
capv_status capvi_reg_conn_open(sqlite3 **out, const char *path, int flags, capv_error *err);
/* Finalizes the cached statements and closes the connection. */
void capvi_reg_conn_close(capv_reg_conn *c);

/* Applies the per-connection settings: busy timeout, extended result codes, foreign keys;
 * readers never checkpoint; the writer gets synchronous FULL (or NORMAL). */
capv_status capvi_reg_configure(sqlite3 *db, int busy_timeout_ms, bool writer, bool sync_normal,
                                capv_error *err);

/* The first read of a new connection: tells a database from another file (SQLITE_NOTADB)
 * and finds a damaged first page (SQLITE_CORRUPT), both CAPV_E_STORAGE. */
capv_status capvi_reg_first_read(sqlite3 *db, const char *path, capv_error *err);

/* PRAGMA quick_check: CAPV_E_STORAGE naming the first complaint. O(size of the file). */
capv_status capvi_reg_quick_check(sqlite3 *db, const char *path, capv_error *err);

/* The files SQLite keeps beside a database, named after it: its WAL and shared memory, and
 * a rollback journal. SQLite replays a WAL or a hot journal it finds beside a database into
 * it, whichever database it belonged to: none may stay beside a restored or new file. */
extern const char *const capvi_reg_journal_suffixes[3];

/* CAPV_E_BUSY when a journal of `path` (-wal, -shm, -journal) is there though `path` is not:
 * it is left by a database moved away, or removed, after its writer was killed, and SQLite
 * would replay it into a new database made at that name. Moving it aside would part it from
 * the database whose last transactions it may hold: the operator decides. `into` says which
 * database it would go into ("the restored one"). */
capv_status capvi_reg_leftover_journal(const char *path, const char *into, capv_error *err);

/* Whether a read-write open of `path` can write the file and create its lock, WAL and
 * shared-memory files next to it (SQLite would open it read-only without a word). */
capv_status capvi_reg_check_writable(const char *path, bool exists, capv_error *err);

/* Borrows a connection for reading (a free read-only connection, or the write connection
 * under its lock for in-memory registries); always returns one, waiting if all are busy. */
capv_reg_conn *capvi_reg_reader_acquire(capv_registry *reg);
void capvi_reg_reader_release(capv_registry *reg, capv_reg_conn *c);

/* For long reads (backup, check, export): a private read-only connection of its own, so the
 * pool stays free for look-ups (in-memory registries lend their one connection instead).
 * Release with capvi_reg_long_reader_release. */
capv_status capvi_reg_long_reader_acquire(capv_reg_conn **out, capv_registry *reg, capv_error *err);
void capvi_reg_long_reader_release(capv_registry *reg, capv_reg_conn *c);

/* ---- files, locks and time ------------------------------------------------------------- */

/* CAPV_E_UNSUPPORTED, naming `what`, for a PostgreSQL registry: operations that read or
 * replace the SQLite file itself (backup, check, export, disk usage). */
capv_status capvi_reg_require_file(const capv_registry *reg, const char *what, capv_error *err);

/* The directory part of `path` ("." when it has none). */
void capvi_reg_dir_of(char out[PATH_MAX], const char *path);

/* Current time of the registry's clock (reg may be NULL: the system's) as RFC 3339
 * ("YYYY-MM-DDTHH:MM:SSZ"), and in milliseconds since the epoch. */
void capvi_reg_now(const capv_registry *reg, char out[32]);
int64_t capvi_reg_now_ms(const capv_registry *reg);

/* ---- library-owned structs and versioned public structs -------------------------------- */

/* One allocation of `head` bytes (zeroed) followed by copies of the n strings src[i]; each
 * *dst[i] is pointed at its copy (NULL for a NULL source). NULL on OOM. */
void *capvi_reg_pack_strings(size_t head, const char **dst[], const char *const src[], size_t n);

#endif
