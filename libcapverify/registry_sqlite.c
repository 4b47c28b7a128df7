/* SPDX-License-Identifier: Apache-2.0 */
/* The registry on SQLite (docs/registry.md): the embedded storage, one database file with
 * one writer process. Opening (the writer lock of registry_lock.c, the checks before anything
 * is written, migrations, WAL, the read-only connections) and the storage operations of
 * registry_backend_int.h on the handle's connections (registry_db.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "registry_schema_int.h"
#include "registry_sqlite_int.h"

/* ---- opening and closing ------------------------------------------------------------- */

static capv_status open_writer(capv_registry *reg, const capv_registry_options *o, int busy_ms,
                               capv_error *err)
{
    bool create = (o->flags & CAPV_REGISTRY_CREATE) != 0;
    const char *path = reg->path ? reg->path : ":memory:";
    capv_status st = capvi_reg_conn_open(
        &reg->w.db, path, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), err);
    if (st != CAPV_OK)
        return st;
    sqlite3 *db = reg->w.db;
    /* SQLite quietly opens a file it cannot write read-only; every write would then fail */
    if (reg->path != NULL && sqlite3_db_readonly(db, "main") == 1)
        return capvi_err_set(err, CAPV_E_STORAGE, reg->path,
                             "registry '%s' is read-only: this process cannot write it (open it "
                             "read-only to read it)",
                             reg->path);
    if ((st = capvi_reg_first_read(db, reg->path, err)) != CAPV_OK)
        return st;
    reg->sync_normal = (o->flags & CAPV_REGISTRY_SYNC_NORMAL) != 0;
    reg->w_sync_full = !reg->sync_normal;
    if ((st = capvi_reg_configure(db, busy_ms, true, reg->sync_normal, err)) != CAPV_OK)
        return st;
    /* a damaged file is refused before anything is written to it */
    if (reg->path != NULL && (st = capvi_reg_quick_check(db, reg->path, err)) != CAPV_OK)
        return st;
    int version = 0;
    bool legacy = false;
    if ((st = capvi_reg_schema_probe(&version, &legacy, db, err)) != CAPV_OK)
        return st;
    reg->found_version = version;
    reg->found_legacy = legacy;
    if (version < CAPV_REGISTRY_SCHEMA_VERSION && (o->flags & CAPV_REGISTRY_NO_MIGRATE))
        return capvi_err_set(err, CAPV_E_STATE, reg->path,
                             "registry schema version %d%s needs migrating to %d "
                             "(capverify registry migrate)",
                             version, legacy ? " (legacy)" : "", CAPV_REGISTRY_SCHEMA_VERSION);
    /* only a file known to be a registry (or empty) is switched to WAL, which persists */
    if (reg->path != NULL) {
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            const char *mode = capvi_reg_col_text(s, 0);
            rc = mode && strcmp(mode, "wal") == 0 ? SQLITE_OK : SQLITE_ERROR;
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_OK)
            return capvi_err_set(err, CAPV_E_IO, reg->path, "cannot switch '%s' to WAL mode: %s",
                                 reg->path, sqlite3_errmsg(db));
    }
    if (version < CAPV_REGISTRY_SCHEMA_VERSION)
        return capvi_reg_migrate(&reg->migrated_rows, db, version, err);
    return CAPV_OK;
}

static capv_status open_readers(capv_registry *reg, unsigned int n, int busy_ms, capv_error *err)
{
    reg->readers = calloc(n, sizeof *reg->readers);
    if (reg->readers == NULL)
        return capvi_err_nomem(err);
    for (unsigned int i = 0; i < n; i++) {
        capv_status st =
            capvi_reg_conn_open(&reg->readers[i].db, reg->path, SQLITE_OPEN_READONLY, err);
        reg->nreaders = i + 1;
        if (st == CAPV_OK && i == 0)
            st = capvi_reg_first_read(reg->readers[i].db, reg->path, err);
        if (st == CAPV_OK)
            st = capvi_reg_configure(reg->readers[i].db, busy_ms, false, false, err);
        if (st == CAPV_OK)
            st = capvi_reg_exec(reg->readers[i].db, "PRAGMA query_only = ON", err);
        if (st != CAPV_OK)
            return st;
    }
    if (reg->read_only) {
        int version = 0;
        bool legacy = false;
        capv_status st = capvi_reg_schema_probe(&version, &legacy, reg->readers[0].db, err);
        if (st != CAPV_OK)
            return st;
        reg->found_version = version;
        reg->found_legacy = legacy;
        if (version < CAPV_REGISTRY_SCHEMA_VERSION)
            return capvi_err_set(err, CAPV_E_STATE, reg->path,
                                 "registry schema version %d%s is older than %d: open it "
                                 "read-write once to migrate (capverify registry migrate)",
                                 version, legacy ? " (legacy)" : "", CAPV_REGISTRY_SCHEMA_VERSION);
    }
    return CAPV_OK;
}

capv_status capvi_reg_sqlite_open(capv_registry *reg, const capv_registry_options *o, bool exists,
                                  capv_error *err)
{
    reg->be = &capvi_reg_sqlite;
    if (!reg->read_only) {
        if (reg->path != NULL) {
            capv_status st = capvi_reg_check_writable(reg->path, exists, err);
            /* a new database where a journal was left: that journal's commits would become
             * the new database's */
            if (st == CAPV_OK && !exists)
                st = capvi_reg_leftover_journal(reg->path, "the new one", err);
            if (st == CAPV_OK)
                st = capvi_reg_lock(&reg->lock, reg->path, (o->flags & CAPV_REGISTRY_CREATE) != 0,
                                    err);
            if (st == CAPV_OK)
                st = capvi_reg_single_link(reg->path, err);
            if (st != CAPV_OK)
                return st;
        }
        capv_status st = open_writer(reg, o, reg->busy_ms, err);
        if (st != CAPV_OK)
            return st;
        /* the writer thread's handle is long-lived, and every entry is written through it */
        int rc = (o->flags & CAPV_REGISTRY_WRITER_THREAD)
                     ? capvi_reg_keys_load(&reg->keys, reg->w.db)
                     : SQLITE_OK;
        if (rc != SQLITE_OK)
            return capvi_reg_sqlite_error(reg->w.db, rc, "reading the entries' keys", err);
    } else if (reg->path != NULL) {
        /* the writer lock's descriptor must outlive this handle's connections */
        capv_status st = capvi_reg_pin(&reg->lock, reg->path, err);
        if (st != CAPV_OK)
            return st;
    }
    if (reg->path != NULL)
        return open_readers(reg, o->readers ? o->readers : 1, reg->busy_ms, err);
    return CAPV_OK;
}

static void sq_close(capv_registry *reg)
{
    for (unsigned int i = 0; i < reg->nreaders; i++)
        capvi_reg_conn_close(&reg->readers[i]);
    free(reg->readers);
    capvi_reg_conn_close(&reg->w); /* the writer last: it checkpoints and removes the WAL */
    capvi_reg_unlock(reg->lock);
    reg->lock = NULL;
}

/* ---- transactions on the write connection --------------------------------------------- */

/* A batch that need not wait for the disk commits with synchronous = NORMAL: in WAL mode
 * its commit then writes the WAL without an fsync, and SQLite syncs the WAL at the next
 * checkpoint, the next FULL commit or sq_sync (docs/registry.md "Durability"). */
static capv_status sq_begin(capv_registry *reg, bool durable, capv_error *err)
{
    bool full = durable && !reg->sync_normal;
    if (full != reg->w_sync_full) {
        capv_status st = capvi_reg_exec(
            reg->w.db, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", err);
        if (st != CAPV_OK)
            return st;
        reg->w_sync_full = full;
    }
    return capvi_reg_exec(reg->w.db, "BEGIN IMMEDIATE", err);
}

/* A passive checkpoint syncs the WAL before it copies frames back into the database, and
 * the database after: when it copied every frame, every commit so far is durable. But when
 * readers keep frames in the WAL it may copy none, and then it syncs nothing: the WAL
 * itself is synced then (its file through SQLite's VFS, as a FULL commit would). */
static capv_status sq_sync(capv_registry *reg, capv_error *err)
{
    int log = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(reg->w.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    if (rc == SQLITE_OK && copied < log) {
        sqlite3_file *wal = NULL;
        rc = sqlite3_file_control(reg->w.db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
        if (rc == SQLITE_OK && wal != NULL && wal->pMethods != NULL)
            rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
    }
    return rc == SQLITE_OK ? CAPV_OK
                           : capvi_reg_sqlite_error(reg->w.db, rc, "syncing the registry", err);
}

static capv_status sq_commit(capv_registry *reg, capv_error *err)
{
    return capvi_reg_exec(reg->w.db, "COMMIT", err);
}

static void sq_rollback(capv_registry *reg)
{
    reg->w_report_valid = false;
    if (!sqlite3_get_autocommit(reg->w.db))
        sqlite3_exec(reg->w.db, "ROLLBACK", NULL, NULL, NULL);
}

static capv_status step_cached(capv_registry *reg, int which, const char *what, capv_error *err)
{
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, &reg->w, which, err);
    return st == CAPV_OK ? capvi_reg_step_done(reg->w.db, s, what, err) : st;
}

static capv_status sq_savepoint(capv_registry *reg, capv_error *err)
{
    return step_cached(reg, REG_ST_SAVEPOINT, "savepoint", err);
}

static capv_status sq_release(capv_registry *reg, capv_error *err)
{
    return step_cached(reg, REG_ST_RELEASE, "release", err);
}

static capv_status sq_rollback_to(capv_registry *reg, capv_error *err)
{
    reg->w_report_valid = false;
    return step_cached(reg, REG_ST_ROLLBACK_TO, "rollback", err);
}

static bool sq_in_transaction(capv_registry *reg)
{
    return !sqlite3_get_autocommit(reg->w.db);
}

/* ---- writes ---------------------------------------------------------------------------- */

static capv_status sq_entry_add(capv_registry_entry **stored, capv_registry *reg,
                                const capv_reg_entry_in *e, bool compare_registered_at,
                                capv_error *err)
{
    capv_reg_conn *w = &reg->w;
    capv_status st = capvi_reg_entry_existing(stored, w, e, compare_registered_at, err);
    if (st != CAPV_OK)
        return st;
    capvi_reg_keys_add(&reg->keys, e->manifest_key, e->proof_key);
    if ((st = capvi_reg_entry_write(w, e, err)) != CAPV_OK || stored == NULL)
        return st;
    sqlite3_stmt *s = NULL;
    if ((st = capvi_reg_stmt(&s, w, REG_ST_ENTRY_BY_KEYS, err)) != CAPV_OK)
        return st;
    sqlite3_bind_blob(s, 1, e->manifest_key, 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, e->proof_key, 32, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && (*stored = capvi_reg_entry_from_row(s)) == NULL)
        st = capvi_err_nomem(err);
    else if (rc != SQLITE_ROW)
        st = capvi_reg_sqlite_error(w->db, rc, "reading the new entry", err);
    sqlite3_reset(s);
    return st;
}

/* The body stored under `key` has `id`: the next record with the same report (a cached
 * verdict's records all carry one) needs no look-up. Valid until a rollback or a prune. */
static void remember_report(capv_registry *reg, const uint8_t key[32], int64_t id)
{
    memcpy(reg->w_report_key, key, 32);
    reg->w_report_id = id;
    reg->w_report_valid = true;
}

/* The id of the stored body for r->key (*found; the remembered one first), or *found
 * false. */
static capv_status report_find(int64_t *id, bool *found, capv_registry *reg,
                               const capvi_reg_record *r, capv_error *err)
{
    *found = reg->w_report_valid && memcmp(reg->w_report_key, r->key, 32) == 0;
    if (*found) {
        *id = reg->w_report_id;
        return CAPV_OK;
    }
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, &reg->w, REG_ST_REPORT_BY_KEY, err);
    if (st != CAPV_OK)
        return st;
    sqlite3_bind_blob(s, 1, r->key, 32, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return capvi_reg_sqlite_error(reg->w.db, rc, "looking up a stored report", err);
    if ((*found = rc == SQLITE_ROW))
        remember_report(reg, r->key, *id);
    return CAPV_OK;
}

/* Stores r's body, which report_find did not find; remembers its id. */
static capv_status report_insert(int64_t *id, capv_registry *reg, const capvi_reg_record *r,
                                 capv_error *err)
{
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, &reg->w, REG_ST_REPORT_INSERT, err);
    if (st != CAPV_OK)
        return st;
    sqlite3_bind_blob(s, 1, r->key, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)r->full_len);
    sqlite3_bind_int(s, 3, r->summary ? 1 : 0);
    sqlite3_bind_text64(s, 4, r->body, r->body_len, SQLITE_STATIC, SQLITE_UTF8);
    if ((st = capvi_reg_step_done(reg->w.db, s, "storing a report", err)) != CAPV_OK)
        return st;
    *id = sqlite3_last_insert_rowid(reg->w.db);
    remember_report(reg, r->key, *id);
    return CAPV_OK;
}

/* The verification stored under r's request id, compared with r (*found), or *found false. */
static capv_status record_existing(bool *found, capv_reg_conn *w, capvi_reg_record *r,
                                   capv_error *err)
{
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, w, REG_ST_VER_BY_REQUEST, err);
    if (st != CAPV_OK)
        return st;
    sqlite3_bind_text(s, 1, r->request_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if ((*found = rc == SQLITE_ROW)) {
        const void *key = sqlite3_column_blob(s, 9);
        r->seq = sqlite3_column_int64(s, 0);
        capvi_reg_record_compare(r, capvi_reg_col_text(s, 2), capvi_reg_col_text(s, 3),
                                 capvi_reg_col_text(s, 4), capvi_reg_col_text(s, 5),
                                 capvi_reg_col_text(s, 6), capvi_reg_col_text(s, 8),
                                 key != NULL && sqlite3_column_bytes(s, 9) == 32 ? key : NULL);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return capvi_reg_sqlite_error(w->db, rc, "looking up a verification", err);
    return CAPV_OK;
}

/* Inserts r unless its request id is taken (*inserted). */
static capv_status record_insert(bool *inserted, capv_reg_conn *w, capvi_reg_record *r,
                                 int64_t report_id, capv_error *err)
{
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, w, REG_ST_VER_INSERT, err);
    if (st != CAPV_OK)
        return st;
    sqlite3_bind_text(s, 1, r->request_id, -1, SQLITE_STATIC);
    if (r->subject)
        sqlite3_bind_text(s, 2, r->subject, -1, SQLITE_STATIC);
    if (r->has_m)
        sqlite3_bind_text(s, 3, r->mh, -1, SQLITE_STATIC);
    if (r->has_p)
        sqlite3_bind_text(s, 4, r->ph, -1, SQLITE_STATIC);
    if (r->has_pol)
        sqlite3_bind_text(s, 5, r->pol, -1, SQLITE_STATIC);
    if (r->has_m && r->has_p) {
        sqlite3_bind_blob(s, 6, r->mk, 32, SQLITE_STATIC);
        sqlite3_bind_blob(s, 7, r->pk, 32, SQLITE_STATIC);
    }
    sqlite3_bind_text(s, 8, r->result, -1, SQLITE_STATIC);
    if (r->body != NULL)
        sqlite3_bind_int64(s, 9, report_id);
    sqlite3_bind_text(s, 10, r->at, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 11, r->ms);
    if ((st = capvi_reg_step_done(w->db, s, "recording a verification", err)) != CAPV_OK)
        return st;
    if ((*inserted = sqlite3_changes(w->db) > 0)) {
        r->seq = sqlite3_last_insert_rowid(w->db);
        r->st = CAPV_OK;
    }
    return CAPV_OK;
}

/* One record: r->st CAPV_OK (stored), or CAPV_E_EXISTS / CAPV_E_CONFLICT when its request id
 * is taken. Returns CAPV_OK, or the storage's failure. With its report already stored (a
 * cached verdict's), the insert comes first and a taken request id is looked up after; a
 * new report is stored only once the request id is known to be free, so a retry never
 * leaves a body without a verification. */
static capv_status record_one(capv_registry *reg, capvi_reg_record *r, capv_error *err)
{
    capv_reg_conn *w = &reg->w;
    int64_t report_id = 0;
    bool known = true, inserted = false, found = false;
    capv_status st = CAPV_OK;
    if (r->body != NULL && (st = report_find(&report_id, &known, reg, r, err)) != CAPV_OK)
        return st;
    if (!known) {
        if ((st = record_existing(&found, w, r, err)) != CAPV_OK || found)
            return st;
        if ((st = report_insert(&report_id, reg, r, err)) != CAPV_OK)
            return st;
    }
    if ((st = record_insert(&inserted, w, r, report_id, err)) != CAPV_OK || inserted)
        return st;
    if ((st = record_existing(&found, w, r, err)) != CAPV_OK)
        return st;
    return found ? CAPV_OK
                 : capvi_err_set(err, CAPV_E_INTERNAL, "request_id",
                                 "verification '%s' was neither stored nor found", r->request_id);
}

static capv_status sq_record_batch(capv_registry *reg, capvi_reg_record **recs, size_t n,
                                   capv_error *err)
{
    for (size_t i = 0; i < n; i++) {
        capv_status st = record_one(reg, recs[i], err);
        if (st != CAPV_OK)
            return st;
    }
    return CAPV_OK;
}

static capv_status sq_policy_put(capv_registry *reg, const capv_registry_policy *in,
                                 const uint8_t key[32], const uint8_t irk[32],
                                 const char *created_at, capv_error *err)
{
    capv_reg_conn *w = &reg->w;
    sqlite3_stmt *s = NULL;
    capv_status st;
    for (int pass = 0; pass < 2; pass++) {
        if ((st = capvi_reg_stmt(&s, w, pass ? REG_ST_POL_BY_ID_VERSION : REG_ST_POL_BY_KEY,
                                 err)) != CAPV_OK)
            return st;
        if (pass) {
            sqlite3_bind_text(s, 1, in->policy_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, in->policy_version, -1, SQLITE_STATIC);
        } else {
            sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
        }
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            st = capvi_reg_policy_compare(in, key, irk, capvi_reg_col_text(s, 0),
                                          capvi_reg_col_text(s, 1), capvi_reg_col_text(s, 2),
                                          capvi_reg_col_text(s, 3), capvi_reg_col_text(s, 4),
                                          pass == 1, err);
            sqlite3_reset(s);
            return st;
        }
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return capvi_reg_sqlite_error(w->db, rc, "looking up a policy", err);
    }
    if ((st = capvi_reg_stmt(&s, w, REG_ST_POL_INSERT, err)) != CAPV_OK)
        return st;
    sqlite3_bind_text(s, 1, in->policy_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, in->policy_version, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, in->policy_hash, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, key, 32, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, in->ir_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, in->ir_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, created_at, -1, SQLITE_STATIC);
    return capvi_reg_step_done(w->db, s, "storing a policy", err);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

capv_status capvi_reg_prune_step(uint64_t *removed, capv_reg_conn *w, int64_t before_ms,
                                 size_t limit, capv_error *err)
{
    *removed = 0;
    int64_t *seqs = calloc(limit, sizeof *seqs);
    int64_t *reports = calloc(limit, sizeof *reports);
    size_t n = 0, nr = 0;
    sqlite3_stmt *s = NULL;
    capv_status st = CAPV_OK;
    if (seqs == NULL || reports == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    /* the oldest first, by the index on verified_ms */
    CAPV_TRY(capvi_reg_stmt(&s, w, REG_ST_PRUNE_SELECT, err));
    sqlite3_bind_int64(s, 1, before_ms);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
    int rc = SQLITE_DONE;
    while (n < limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        seqs[n++] = sqlite3_column_int64(s, 0);
        if (sqlite3_column_type(s, 1) != SQLITE_NULL)
            reports[nr++] = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (n < limit && rc != SQLITE_DONE) {
        st = capvi_reg_sqlite_error(w->db, rc, "pruning verifications", err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        CAPV_TRY(capvi_reg_stmt(&s, w, REG_ST_VER_DELETE, err));
        sqlite3_bind_int64(s, 1, seqs[i]);
        CAPV_TRY(capvi_reg_step_done(w->db, s, "pruning verifications", err));
    }
    /* report bodies no verification references any more go with them; identical reports
     * share one body, so a body is only removed with its last reference */
    qsort(reports, nr, sizeof *reports, cmp_i64);
    for (size_t i = 0; i < nr; i++) {
        if (i > 0 && reports[i] == reports[i - 1])
            continue;
        CAPV_TRY(capvi_reg_stmt(&s, w, REG_ST_REPORT_DELETE_ORPHAN, err));
        sqlite3_bind_int64(s, 1, reports[i]);
        CAPV_TRY(capvi_reg_step_done(w->db, s, "pruning reports", err));
    }
    *removed = n;
out:
    free(seqs);
    free(reports);
    return st;
}

static capv_status sq_prune_step(uint64_t *removed, capv_registry *reg, int64_t before_ms,
                                 size_t limit, capv_error *err)
{
    reg->w_report_valid = false; /* it may remove that body */
    return capvi_reg_prune_step(removed, &reg->w, before_ms, limit, err);
}

static capv_status sq_probe(capv_registry *reg, capv_error *err)
{
    char at[CAPV_RFC3339_SIZE];
    capvi_reg_now(reg, at);
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, &reg->w, REG_ST_PROBE, err);
    if (st != CAPV_OK)
        return st;
    sqlite3_bind_text(s, 1, at, -1, SQLITE_TRANSIENT);
    return capvi_reg_step_done(reg->w.db, s, "probing the storage", err);
}

/* One writer per file: a read-write handle is the leader. */
static capv_status sq_leader(bool *leader, capv_registry *reg, capv_error *err)
{
    (void)err;
    *leader = !reg->read_only;
    return CAPV_OK;
}

/* ---- reads ----------------------------------------------------------------------------- */

static capv_status no_entry(capv_error *err)
{
    return capvi_err_set(err, CAPV_E_NOT_FOUND, NULL, "no such registry entry");
}

static capv_status sq_entry_get(capv_registry_entry **out, capv_registry *reg, const char *id,
                                const uint8_t mk[32], const uint8_t pk[32], capv_error *err)
{
    if (id == NULL && !capvi_reg_keys_maybe(&reg->keys, mk, pk))
        return no_entry(err);
    capv_reg_conn *c = capvi_reg_reader_acquire(reg);
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, c, id ? REG_ST_ENTRY_BY_ID : REG_ST_ENTRY_BY_KEYS, err);
    if (st == CAPV_OK) {
        if (id != NULL) {
            sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        } else {
            sqlite3_bind_blob(s, 1, mk, 32, SQLITE_STATIC);
            sqlite3_bind_blob(s, 2, pk, 32, SQLITE_STATIC);
        }
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            st = (*out = capvi_reg_entry_from_row(s)) ? CAPV_OK : capvi_err_nomem(err);
        else if (rc == SQLITE_DONE)
            st = no_entry(err);
        else
            st = capvi_reg_sqlite_error(c->db, rc, "looking up an entry", err);
        sqlite3_reset(s);
    }
    capvi_reg_reader_release(reg, c);
    return st;
}

static capv_status sq_entry_list(capv_registry_entry **items, size_t *n, capv_registry *reg,
                                 const uint8_t *mk, int64_t after, size_t limit, capv_error *err)
{
    *n = 0;
    capv_reg_conn *c = capvi_reg_reader_acquire(reg);
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, c, mk ? REG_ST_ENTRY_LIST_MH : REG_ST_ENTRY_LIST, err);
    if (st == CAPV_OK) {
        sqlite3_bind_int64(s, 1, after);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
        if (mk)
            sqlite3_bind_blob(s, 3, mk, 32, SQLITE_STATIC);
        int rc;
        while (*n < limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            if ((items[*n] = capvi_reg_entry_from_row(s)) == NULL) {
                st = capvi_err_nomem(err);
                break;
            }
            (*n)++;
        }
        if (st == CAPV_OK && *n < limit && rc != SQLITE_DONE)
            st = capvi_reg_sqlite_error(c->db, rc, "listing entries", err);
        sqlite3_reset(s);
    }
    capvi_reg_reader_release(reg, c);
    return st;
}

static capv_status sq_count(uint64_t *out, capv_registry *reg, capv_registry_table table,
                            capv_error *err)
{
    int which = table == CAPV_REGISTRY_ENTRIES         ? REG_ST_COUNT_ENTRIES
                : table == CAPV_REGISTRY_VERIFICATIONS ? REG_ST_COUNT_VERIFICATIONS
                                                       : REG_ST_COUNT_POLICIES;
    capv_reg_conn *c = capvi_reg_reader_acquire(reg);
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, c, which, err);
    if (st == CAPV_OK) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            *out = (uint64_t)sqlite3_column_int64(s, 0);
        else
            st = capvi_reg_sqlite_error(c->db, rc, "counting", err);
        sqlite3_reset(s);
    }
    capvi_reg_reader_release(reg, c);
    return st;
}

static capv_status sq_verification_get(capv_registry_verification **out, capv_registry *reg,
                                       const char *request_id, capv_error *err)
{
    capv_reg_conn *c = capvi_reg_reader_acquire(reg);
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, c, REG_ST_VER_BY_REQUEST, err);
    if (st == CAPV_OK) {
        sqlite3_bind_text(s, 1, request_id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            const char *text[8];
            for (int i = 0; i < 8; i++)
                text[i] = capvi_reg_col_text(s, i + 1);
            st = (*out = capvi_reg_verification_from_texts(sqlite3_column_int64(s, 0), text))
                     ? CAPV_OK
                     : capvi_err_nomem(err);
        } else if (rc == SQLITE_DONE) {
            st = capvi_err_set(err, CAPV_E_NOT_FOUND, "request_id", "no such verification");
        } else {
            st = capvi_reg_sqlite_error(c->db, rc, "looking up a verification", err);
        }
        sqlite3_reset(s);
    }
    capvi_reg_reader_release(reg, c);
    return st;
}

/* The size in bytes of the IR text of policy row `seq`, from the row's header: a blob handle
 * (moved to the row when *b is open) reads no content, where length(CAST(ir AS BLOB)) would
 * load the whole text into memory first (docs/registry.md "Policies"). Policies are never
 * changed or removed, so the row is the one just found. The caller closes *b. */
static capv_status ir_bytes_of(uint64_t *out, sqlite3_blob **b, sqlite3 *db, sqlite3_int64 seq,
                               capv_error *err)
{
    int rc = *b ? sqlite3_blob_reopen(*b, seq)
                : sqlite3_blob_open(db, "main", "policies", "ir", seq, 0, b);
    if (rc != SQLITE_OK)
        return capvi_reg_sqlite_error(db, rc, "measuring a policy", err);
    *out = (uint64_t)sqlite3_blob_bytes(*b);
    return CAPV_OK;
}

/* policy_get (with_ir: the IR text, its size that of the text read) or policy_head (the
 * size from the row's header). */
static capv_status sq_policy_find(capv_registry_policy **out, capv_registry *reg, const char *key,
                                  bool with_ir, capv_error *err)
{
    uint8_t k[32];
    bool by_hash = capv_digest_parse(k, key, strlen(key), NULL) == CAPV_OK;
    capv_reg_conn *c = capvi_reg_reader_acquire(reg);
    sqlite3_stmt *s = NULL;
    capv_status st =
        capvi_reg_stmt(&s, c,
                       with_ir ? (by_hash ? REG_ST_POL_BY_KEY : REG_ST_POL_BY_ID)
                               : (by_hash ? REG_ST_POL_HEAD_BY_KEY : REG_ST_POL_HEAD_BY_ID),
                       err);
    if (st == CAPV_OK) {
        if (by_hash)
            sqlite3_bind_blob(s, 1, k, 32, SQLITE_STATIC);
        else
            sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        sqlite3_blob *b = NULL;
        if (rc == SQLITE_ROW) {
            /* policy_id, policy_version, policy_hash, ir_hash, ir_json, created_at: the columns
             * of REG_ST_POL_BY_KEY; REG_ST_POL_HEAD_*'s are those of the list, after seq */
            int first = with_ir ? 0 : 1;
            const char *text[6] = { capvi_reg_col_text(s, first),
                                    capvi_reg_col_text(s, first + 1),
                                    capvi_reg_col_text(s, first + 2),
                                    capvi_reg_col_text(s, first + 3),
                                    with_ir ? capvi_reg_col_text(s, 4) : NULL,
                                    capvi_reg_col_text(s, 5) };
            uint64_t bytes = 0;
            if (with_ir)
                bytes = (uint64_t)sqlite3_column_bytes(s, 4);
            else
                st = ir_bytes_of(&bytes, &b, c->db, sqlite3_column_int64(s, 0), err);
            if (st == CAPV_OK && (*out = capvi_reg_policy_from_texts(text)) == NULL)
                st = capvi_err_nomem(err);
            if (st == CAPV_OK)
                (*out)->ir_bytes = bytes;
        } else if (rc == SQLITE_DONE) {
            st = capvi_err_set(err, CAPV_E_NOT_FOUND, NULL, "no such policy");
        } else {
            st = capvi_reg_sqlite_error(c->db, rc, "looking up a policy", err);
        }
        sqlite3_blob_close(b);
        sqlite3_reset(s);
    }
    capvi_reg_reader_release(reg, c);
    return st;
}

static capv_status sq_policy_get(capv_registry_policy **out, capv_registry *reg, const char *key,
                                 capv_error *err)
{
    return sq_policy_find(out, reg, key, true, err);
}

static capv_status sq_policy_head(capv_registry_policy **out, capv_registry *reg, const char *key,
                                  capv_error *err)
{
    return sq_policy_find(out, reg, key, false, err);
}

static capv_status sq_verification_list(capv_registry_verification **items, size_t *n,
                                        capv_registry *reg, const char *result, int64_t before,
                                        size_t limit, capv_error *err)
{
    *n = 0;
    capv_reg_conn *c = capvi_reg_reader_acquire(reg);
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, c, result ? REG_ST_VER_LIST_RESULT : REG_ST_VER_LIST, err);
    if (st == CAPV_OK) {
        sqlite3_bind_int64(s, 1, before > 0 ? before : INT64_MAX);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
        if (result)
            sqlite3_bind_text(s, 3, result, -1, SQLITE_STATIC);
        int rc = SQLITE_DONE;
        while (*n < limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            /* request_id, subject, manifest_hash, proof_hash, policy_hash, result, -, at */
            const char *text[8] = { NULL };
            for (int i = 0; i < 6; i++)
                text[i] = capvi_reg_col_text(s, i + 1);
            text[7] = capvi_reg_col_text(s, 7);
            if ((items[*n] = capvi_reg_verification_from_texts(sqlite3_column_int64(s, 0), text)) ==
                NULL) {
                st = capvi_err_nomem(err);
                break;
            }
            (*n)++;
        }
        if (st == CAPV_OK && *n < limit && rc != SQLITE_DONE)
            st = capvi_reg_sqlite_error(c->db, rc, "listing verifications", err);
        sqlite3_reset(s);
    }
    capvi_reg_reader_release(reg, c);
    return st;
}

static capv_status sq_policy_list(capv_registry_policy **items, int64_t *seqs, size_t *n,
                                  capv_registry *reg, int64_t after, size_t limit, capv_error *err)
{
    *n = 0;
    capv_reg_conn *c = capvi_reg_reader_acquire(reg);
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, c, REG_ST_POL_LIST, err);
    if (st == CAPV_OK) {
        sqlite3_bind_int64(s, 1, after);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
        int rc = SQLITE_DONE;
        sqlite3_blob *b = NULL;
        while (*n < limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            /* policy_id, policy_version, policy_hash, ir_hash, -, created_at */
            const char *text[6] = { capvi_reg_col_text(s, 1),
                                    capvi_reg_col_text(s, 2),
                                    capvi_reg_col_text(s, 3),
                                    capvi_reg_col_text(s, 4),
                                    NULL,
                                    capvi_reg_col_text(s, 5) };
            uint64_t bytes = 0;
            if ((st = ir_bytes_of(&bytes, &b, c->db, sqlite3_column_int64(s, 0), err)) != CAPV_OK)
                break;
            if ((items[*n] = capvi_reg_policy_from_texts(text)) == NULL) {
                st = capvi_err_nomem(err);
                break;
            }
            items[*n]->ir_bytes = bytes;
            seqs[(*n)++] = sqlite3_column_int64(s, 0);
        }
        if (st == CAPV_OK && *n < limit && rc != SQLITE_DONE)
            st = capvi_reg_sqlite_error(c->db, rc, "listing policies", err);
        sqlite3_blob_close(b);
        sqlite3_reset(s);
    }
    capvi_reg_reader_release(reg, c);
    return st;
}

const capvi_reg_backend capvi_reg_sqlite = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .sync = sq_sync,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .in_transaction = sq_in_transaction,
    .entry_add = sq_entry_add,
    .record_batch = sq_record_batch,
    .policy_put = sq_policy_put,
    .prune_step = sq_prune_step,
    .probe = sq_probe,
    .leader = sq_leader,
    .entry_get = sq_entry_get,
    .entry_list = sq_entry_list,
    .count = sq_count,
    .verification_get = sq_verification_get,
    .policy_get = sq_policy_get,
    .policy_head = sq_policy_head,
    .verification_list = sq_verification_list,
    .policy_list = sq_policy_list,
};
