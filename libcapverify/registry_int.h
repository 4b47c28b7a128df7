/* Registry internals shared by registry.c (connections, schema, entries, verifications,
 * policies), registry_entry.c (the §3.7 entry: validation, signed bytes, signatures),
 * registry_writer.c (the batching writer), registry_json.c (import/export),
 * registry_backup.c (backup, restore, check) and verify.c (the registry check). */
#ifndef CAPV_REGISTRY_INT_H
#define CAPV_REGISTRY_INT_H

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "buf.h"
#include "error_int.h"
#include "json_int.h"

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

/* A unit of work for the write connection, run inside a transaction (in its own savepoint).
 * `run` returns CAPV_OK when it changed something that must be committed; any other status
 * rolls its savepoint back. If the enclosing commit then fails, `undo` (may be NULL) releases
 * what `run` produced for the caller. */
typedef struct capv_reg_write {
    capv_status (*run)(capv_registry *reg, capv_reg_conn *w, void *arg, capv_error *err);
    void (*undo)(void *arg);
    void *arg;
    bool changes_entries; /* a successful run bumps the generation */
    /* filled by the executor */
    capv_status st;
    capv_error err;
    /* writer-thread queue */
    struct capv_reg_write *next;
    bool done;
    pthread_cond_t cond;
} capv_reg_write;

struct capv_registry {
    char *path; /* NULL: in-memory */
    bool read_only;
    int lock_fd;
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
    /* writer thread */
    bool writer_running;
    pthread_t writer;
    pthread_mutex_t qlock;
    pthread_cond_t qcond; /* CLOCK_MONOTONIC: the writer waits with a timeout to prune */
    capv_reg_write *qhead, *qtail;
    bool stopping;
    unsigned int max_batch;
    bool prune_now;            /* under qlock: retention changed, prune at once */
    int64_t prune_interval_ms; /* the writer's pause between prunes that found little */
};

/* Verifications removed per pruning transaction. */
#define REG_PRUNE_BATCH 1000u
/* While a storage fault is current, the writer thread tries a small write this often, so the
 * health recovers when the storage does, also when no other write comes (a registry that is
 * not ready gets no traffic). */
#define REG_PROBE_INTERVAL_MS 1000

/* ---- registry.c ------------------------------------------------------------------------ */

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
 * handle's current fault and is counted; on a read-only handle a CAPV_OK result clears it.
 * Returns `st`. */
capv_status capvi_reg_note(capv_registry *reg, capv_status st, const capv_error *e);
/* Clears the current fault: a write was committed. */
void capvi_reg_fault_clear(capv_registry *reg);
/* Whether a storage fault is current. */
bool capvi_reg_has_fault(capv_registry *reg);

/* The cached statement `which` on `c` (prepared on first use), reset and unbound. */
capv_status capvi_reg_stmt(sqlite3_stmt **out, capv_reg_conn *c, int which, capv_error *err);

/* Runs SQL without results. */
capv_status capvi_reg_exec(sqlite3 *db, const char *sql, capv_error *err);

/* A single integer from a query (e.g. a PRAGMA). */
capv_status capvi_reg_query_int(int64_t *out, sqlite3 *db, const char *sql, capv_error *err);

/* Borrows a connection for reading (a free read-only connection, or the write connection
 * under its lock for in-memory registries); always returns one, waiting if all are busy. */
capv_reg_conn *capvi_reg_reader_acquire(capv_registry *reg);
void capvi_reg_reader_release(capv_registry *reg, capv_reg_conn *c);

/* For long reads (backup, check, export): a private read-only connection of its own, so the
 * pool stays free for look-ups (in-memory registries lend their one connection instead).
 * Release with capvi_reg_long_reader_release. */
capv_status capvi_reg_long_reader_acquire(capv_reg_conn **out, capv_registry *reg,
                                         capv_error *err);
void capvi_reg_long_reader_release(capv_registry *reg, capv_reg_conn *c);

/* Executes writes: on the writer thread when it runs (waiting until their batch committed),
 * else directly in one transaction. Each request's status is in req->st / req->err. */
void capvi_reg_submit(capv_registry *reg, capv_reg_write *req);
/* The batch executor used by both paths; called with wlock held. */
void capvi_reg_execute_batch(capv_registry *reg, capv_reg_write **reqs, size_t n);

/* Applies the per-connection settings (busy timeout, foreign keys) of a connection. */
capv_status capvi_reg_configure(sqlite3 *db, int busy_timeout_ms, bool writer, bool sync_normal,
                               capv_error *err);

/* Schema: the version of an open database (0 = empty or legacy), whether it is the legacy
 * schema, and the forward migrations (on the write connection, each in a transaction). */
capv_status capvi_reg_schema_probe(int *version, bool *legacy, sqlite3 *db, capv_error *err);
capv_status capvi_reg_migrate(uint64_t *migrated_rows, sqlite3 *db, int from, capv_error *err);

/* Row counts of an open database (any connection). */
capv_status capvi_reg_count_db(uint64_t *out, sqlite3 *db, const char *table, capv_error *err);

/* The directory part of `path` ("." when it has none). */
void capvi_reg_dir_of(char out[PATH_MAX], const char *path);

/* The writer lock on "<db_path>.lock": CAPV_OK with *fd, or CAPV_E_BUSY when held
 * (CAPV_E_STORAGE when the lock file cannot be created: a read-only directory). */
capv_status capvi_reg_lock(int *fd, const char *db_path, capv_error *err);
void capvi_reg_unlock(int fd);

/* Current time of the registry's clock as RFC 3339 ("YYYY-MM-DDTHH:MM:SSZ"). */
void capvi_reg_now(const capv_registry *reg, char out[32]);
/* The same in milliseconds since the epoch. */
int64_t capvi_reg_now_ms(const capv_registry *reg);

/* One pruning step on the write connection, inside the caller's transaction: removes up to
 * `limit` verifications with verified_at before `before_ms` (oldest first) and the report
 * bodies they leave unreferenced. `*removed` = verifications removed. */
capv_status capvi_reg_prune_step(uint64_t *removed, capv_reg_conn *w, int64_t before_ms,
                                size_t limit, capv_error *err);

/* ---- registry_json.c: report summaries ------------------------------------------------- */

/* The summary stored instead of a report larger than the cap (docs/registry.md): built from
 * the parsed report `report` (may be NULL: a summary of the verification fields only) and
 * the verification's result, hashes and verified_at in `v`, with the full report's length
 * and SHA3-256; never longer than `cap` (>= CAPV_REGISTRY_MIN_MAX_REPORT_BYTES) bytes.
 * Appended to `out` (NUL-terminated); CAPV_E_NOMEM is the only failure. */
capv_status capvi_reg_report_summary(capv_buf *out, const cJSON *report,
                                    const capv_registry_verification *v,
                                    const uint8_t sha3[32], size_t full_len, size_t cap,
                                    capv_error *err);

/* ---- registry_entry.c ------------------------------------------------------------------ */

/* An entry checked and normalised for storage. Strings point into the input or `buf`. */
typedef struct capv_reg_entry_in {
    const char *id;
    const char *manifest_hash, *proof_hash;
    uint8_t manifest_key[32], proof_key[32];
    const char *timestamp_file;
    const char *registered_at;
    const char *policy_hash;
    const char *signature, *public_key, *kid, *scheme;
    bool id_given, registered_at_given;
    char id_buf[40];
    char mh_buf[67], ph_buf[67];
    char at_buf[32];
} capv_reg_entry_in;

/* Validates an input entry and fills defaults (id derived from the hashes, registered_at =
 * now). REG_PREP_CANONICAL rewrites the hashes as "0x" + lower hex (only when no signature
 * covers them); REG_PREP_STRICT requires registered_at to be RFC 3339 (entries made here;
 * imported and legacy entries keep whatever text their signature covers). */
#define REG_PREP_CANONICAL 0x1u
#define REG_PREP_STRICT 0x2u
capv_status capvi_reg_entry_prepare(capv_reg_entry_in *out, const capv_registry_entry *in,
                                   const capv_registry *reg, unsigned int flags,
                                   capv_error *err);

/* The §3.7 signed bytes of the given strings (ts may be NULL) appended to `b`. */
void capvi_reg_signed_bytes(capv_buf *b, const char *id, const char *mh, const char *ph,
                           const char *ts, const char *at);

/* Decodes 32/64 bytes written as standard base64 or 0x-hex. */
capv_status capvi_reg_decode_key_bytes(uint8_t *out, size_t want, const char *text,
                                      const char *field, capv_error *err);

/* Signature material of an entry: CAPV_OK (sig/pub decoded), CAPV_E_MISSING (unsigned),
 * CAPV_E_MALFORMED (undecodable, no public key, or another scheme). */
capv_status capvi_reg_entry_sig_material(uint8_t sig[64], uint8_t pub[32], const char *signature,
                                        const char *public_key, const char *scheme,
                                        capv_error *err);

/* Allocates an output entry from a row of the entry columns (REG_ENTRY_COLUMNS). */
/* A library-owned copy of an entry (one allocation; capv_registry_entry_free). */
capv_registry_entry *capvi_reg_entry_copy(const capv_registry_entry *in);
capv_registry_entry *capvi_reg_entry_from_row(sqlite3_stmt *s);

#define REG_ENTRY_COLUMNS                                                               \
    "seq, id, manifest_hash, proof_hash, timestamp_file, registered_at, policy_hash, " \
    "signature, public_key, kid, signature_scheme"

/* Whether a prepared entry may be inserted (on the write connection, inside the write
 * transaction): CAPV_OK when nothing is stored for its hashes or id, CAPV_E_EXISTS when the
 * same entry is (a retry), CAPV_E_CONFLICT when other content is; then `*stored` (may be
 * NULL) receives the stored entry. Compared: id when given, timestamp_file, policy_hash,
 * signature and public_key when given, registered_at when `compare_registered_at`. */
capv_status capvi_reg_entry_existing(capv_registry_entry **stored, capv_reg_conn *w,
                                    const capv_reg_entry_in *e, bool compare_registered_at,
                                    capv_error *err);
/* Inserts a prepared entry. */
capv_status capvi_reg_entry_write(capv_reg_conn *w, const capv_reg_entry_in *e, capv_error *err);

/* What the verifier's registry check needs about the entry for a pair of hashes. */
typedef struct capv_reg_signed {
    char *id;
    uint8_t *signed_bytes;
    size_t signed_len;
    capv_status material; /* capvi_reg_entry_sig_material's result */
    char problem[CAPV_ERROR_MESSAGE_SIZE]; /* why material is not CAPV_OK */
    uint8_t signature[64];
    uint8_t public_key[32];
} capv_reg_signed;

/* CAPV_OK, CAPV_E_NOT_FOUND, or a database error. */
capv_status capvi_reg_lookup_signed(capv_reg_signed *out, capv_registry *reg,
                                   const uint8_t manifest_hash[32], const uint8_t proof_hash[32],
                                   capv_error *err);
void capvi_reg_signed_clear(capv_reg_signed *s);

/* ---- registry_writer.c ----------------------------------------------------------------- */

capv_status capvi_reg_writer_start(capv_registry *reg, capv_error *err);
void capvi_reg_writer_stop(capv_registry *reg);
/* Wakes the writer thread to prune at once (retention changed). No-op without one. */
void capvi_reg_writer_kick(capv_registry *reg);

#endif
