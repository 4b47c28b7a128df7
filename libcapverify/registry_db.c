/* SPDX-License-Identifier: Apache-2.0 */
/* The registry's connection and SQL layer (docs/registry.md, "Connections and the single
 * writer", "Storage faults and health"): the statements, SQLite error mapping, connections
 * and their settings, the reader pool, and the helpers for the versioned
 * public structs. Nothing here knows entries, schemas or the writer thread.
 *
 * One read-write connection per database (guarded by the writer lock of registry_lock.c,
 * used under `wlock`) does every write and checkpoint; look-ups run on a small pool of read-only
 * connections. Debian's SQLite 3.40.1 has the WAL-reset bug (two connections writing or
 * checkpointing at once can corrupt the database), which this layout never triggers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry_db_int.h"

/* ---- SQL ------------------------------------------------------------------------------- */

static const char *const stmt_sql[REG_ST_COUNT] = {
    [REG_ST_ENTRY_INSERT] =
        "INSERT INTO entries (id, manifest_hash, proof_hash, manifest_key, proof_key, "
        "timestamp_file, registered_at, policy_hash, signature, public_key, kid, "
        "signature_scheme) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [REG_ST_ENTRY_BY_KEYS] =
        "SELECT " REG_ENTRY_COLUMNS " FROM entries WHERE manifest_key = ?1 AND proof_key = ?2",
    [REG_ST_ENTRY_BY_ID] = "SELECT " REG_ENTRY_COLUMNS " FROM entries WHERE id = ?1",
    [REG_ST_ENTRY_LIST] =
        "SELECT " REG_ENTRY_COLUMNS " FROM entries WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [REG_ST_ENTRY_LIST_MH] = "SELECT " REG_ENTRY_COLUMNS " FROM entries WHERE manifest_key = ?3 "
                             "AND seq > ?1 ORDER BY seq LIMIT ?2",
    [REG_ST_COUNT_ENTRIES] = "SELECT count(*) FROM entries",
    [REG_ST_COUNT_VERIFICATIONS] = "SELECT count(*) FROM verifications",
    [REG_ST_COUNT_POLICIES] = "SELECT count(*) FROM policies",
    [REG_ST_VER_INSERT] =
        "INSERT INTO verifications (request_id, subject, manifest_hash, proof_hash, "
        "policy_hash, entry_seq, result, report_id, verified_at, verified_ms) VALUES (?1, ?2, "
        "?3, ?4, ?5, (SELECT seq FROM entries WHERE manifest_key = ?6 AND proof_key = ?7), ?8, "
        "?9, ?10, ?11) ON CONFLICT (request_id) DO NOTHING",
    [REG_ST_VER_BY_REQUEST] =
        "SELECT v.seq, v.request_id, v.subject, v.manifest_hash, v.proof_hash, v.policy_hash, "
        "v.result, r.json, v.verified_at, r.sha3 FROM verifications v LEFT JOIN reports r ON "
        "r.id = v.report_id WHERE v.request_id = ?1",
    [REG_ST_REPORT_BY_KEY] = "SELECT id FROM reports WHERE sha3 = ?1",
    [REG_ST_REPORT_INSERT] =
        "INSERT INTO reports (sha3, bytes, summary, json) VALUES (?1, ?2, ?3, ?4)",
    [REG_ST_PRUNE_SELECT] = "SELECT seq, report_id FROM verifications WHERE verified_ms < ?1 "
                            "ORDER BY verified_ms LIMIT ?2",
    [REG_ST_VER_DELETE] = "DELETE FROM verifications WHERE seq = ?1",
    [REG_ST_REPORT_DELETE_ORPHAN] = "DELETE FROM reports WHERE id = ?1 AND NOT EXISTS (SELECT 1 "
                                    "FROM verifications WHERE report_id = ?1)",
    [REG_ST_POL_INSERT] =
        "INSERT INTO policies (policy_id, policy_version, policy_hash, policy_key, ir_hash, "
        "ir, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [REG_ST_POL_BY_KEY] = "SELECT policy_id, policy_version, policy_hash, ir_hash, ir, "
                          "created_at FROM policies WHERE policy_key = ?1",
    [REG_ST_POL_BY_ID] = "SELECT policy_id, policy_version, policy_hash, ir_hash, ir, "
                         "created_at FROM policies WHERE policy_id = ?1 ORDER BY seq DESC "
                         "LIMIT 1",
    [REG_ST_POL_BY_ID_VERSION] = "SELECT policy_id, policy_version, policy_hash, ir_hash, ir, "
                                 "created_at FROM policies WHERE policy_id = ?1 AND "
                                 "policy_version = ?2",
    /* the columns of REG_ST_POL_LIST, without the IR text (capv_registry_get_policy_head) */
    [REG_ST_POL_HEAD_BY_KEY] = "SELECT seq, policy_id, policy_version, policy_hash, ir_hash, "
                               "created_at FROM policies WHERE policy_key = ?1",
    [REG_ST_POL_HEAD_BY_ID] = "SELECT seq, policy_id, policy_version, policy_hash, ir_hash, "
                              "created_at FROM policies WHERE policy_id = ?1 ORDER BY seq DESC "
                              "LIMIT 1",
    [REG_ST_VER_LIST] = "SELECT seq, request_id, subject, manifest_hash, proof_hash, policy_hash, "
                        "result, verified_at FROM verifications WHERE seq < ?1 ORDER BY seq DESC "
                        "LIMIT ?2",
    [REG_ST_VER_LIST_RESULT] = "SELECT seq, request_id, subject, manifest_hash, proof_hash, "
                               "policy_hash, result, verified_at FROM verifications WHERE seq < "
                               "?1 AND result = ?3 ORDER BY seq DESC LIMIT ?2",
    [REG_ST_POL_LIST] = "SELECT seq, policy_id, policy_version, policy_hash, ir_hash, created_at "
                        "FROM policies WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [REG_ST_PROBE] = "INSERT OR REPLACE INTO registry_meta (key, value) VALUES "
                     "('health_probe', ?1)",
    [REG_ST_SAVEPOINT] = "SAVEPOINT capv_write",
    [REG_ST_RELEASE] = "RELEASE capv_write",
    [REG_ST_ROLLBACK_TO] = "ROLLBACK TO capv_write",
};

const char *capvi_reg_stmt_sql(int which)
{
    return stmt_sql[which];
}

/* ---- SQLite helpers -------------------------------------------------------------------- */

const char *capvi_reg_storage_reason(int rc, int sys_errno)
{
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return "database is corrupt";
    case SQLITE_READONLY: return "database is read-only";
    case SQLITE_FULL: return "disk is full";
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        if (rc == SQLITE_IOERR_NOMEM)
            return NULL;
        /* SQLite reports a write refused by a read-only or full file system as an I/O
         * error; the system's errno says which */
        if (sys_errno == EROFS)
            return "database is read-only";
        if (sys_errno == ENOSPC || sys_errno == EDQUOT)
            return "disk is full";
        return "I/O error";
    default: return NULL;
    }
}

capv_status capvi_reg_sqlite_error(sqlite3 *db, int rc, const char *what, capv_error *err)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    /* a failed disk is the server's fault, never the request's: CAPV_E_STORAGE (a 503), not
     * CAPV_E_MALFORMED (a 400) or a write that silently did not happen */
    int sys = db ? sqlite3_system_errno(db) : 0;
    const char *reason = capvi_reg_storage_reason(rc, sys);
    bool os_error = (rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN;
    if (reason != NULL && sys != 0 && os_error)
        return capvi_err_set(err, CAPV_E_STORAGE, NULL, "%s: %s (%s: %s, sqlite %d)", what, reason,
                             msg, strerror(sys), rc);
    if (reason != NULL)
        return capvi_err_set(err, CAPV_E_STORAGE, NULL, "%s: %s (%s, sqlite %d)", what, reason, msg,
                             rc);
    capv_status st;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: st = CAPV_E_BUSY; break;
    case SQLITE_IOERR:
    case SQLITE_NOMEM: st = CAPV_E_NOMEM; break;
    case SQLITE_CONSTRAINT: st = CAPV_E_CONFLICT; break;
    default: st = CAPV_E_IO; break;
    }
    return capvi_err_set(err, st, NULL, "%s: %s (sqlite %d)", what, msg, rc);
}

capv_status capvi_reg_note(capv_registry *reg, capv_status st, const capv_error *e)
{
    if (st == CAPV_E_STORAGE) {
        atomic_fetch_add(&reg->faults, 1);
        pthread_mutex_lock(&reg->flock);
        reg->fault = true;
        snprintf(reg->fault_msg, sizeof reg->fault_msg, "%s",
                 e != NULL && e->message[0] ? e->message : capv_strerror(st));
        pthread_mutex_unlock(&reg->flock);
        /* the writer thread probes the storage until it works again */
        pthread_mutex_lock(&reg->qlock);
        pthread_cond_broadcast(&reg->qcond);
        pthread_mutex_unlock(&reg->qlock);
    } else if (st == CAPV_OK && reg->read_only) {
        capvi_reg_fault_clear(reg);
    }
    return st;
}

void capvi_reg_fault_clear(capv_registry *reg)
{
    pthread_mutex_lock(&reg->flock);
    reg->fault = false;
    reg->fault_msg[0] = '\0';
    pthread_mutex_unlock(&reg->flock);
}

capv_status capvi_reg_stmt(sqlite3_stmt **out, capv_reg_conn *c, int which, capv_error *err)
{
    if (c->st[which] == NULL) {
        int rc = sqlite3_prepare_v3(c->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->st[which], NULL);
        if (rc != SQLITE_OK)
            return capvi_reg_sqlite_error(c->db, rc, "preparing a statement", err);
    } else {
        sqlite3_reset(c->st[which]);
        sqlite3_clear_bindings(c->st[which]);
    }
    *out = c->st[which];
    return CAPV_OK;
}

capv_status capvi_reg_exec(sqlite3 *db, const char *sql, capv_error *err)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? CAPV_OK : capvi_reg_sqlite_error(db, rc, "registry", err);
}

capv_status capvi_reg_query_int(int64_t *out, sqlite3 *db, const char *sql, capv_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            *out = 0;
            rc = SQLITE_OK;
        }
    }
    capv_status st = rc == SQLITE_OK ? CAPV_OK : capvi_reg_sqlite_error(db, rc, sql, err);
    sqlite3_finalize(s);
    return st;
}

capv_status capvi_reg_count_db(uint64_t *out, sqlite3 *db, const char *table, capv_error *err)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    int64_t n = 0;
    capv_status st = capvi_reg_query_int(&n, db, sql, err);
    *out = n > 0 ? (uint64_t)n : 0;
    return st;
}

capv_status capvi_reg_configure(sqlite3 *db, int busy_timeout_ms, bool writer, bool sync_normal,
                                capv_error *err)
{
    sqlite3_busy_timeout(db, busy_timeout_ms);
    sqlite3_extended_result_codes(db, 1);
    capv_status st = capvi_reg_exec(db, "PRAGMA foreign_keys = ON", err);
    if (st != CAPV_OK || !writer) {
        /* readers never checkpoint, not even when they are the last to close */
        if (st == CAPV_OK)
            sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
        return st;
    }
    st = capvi_reg_exec(
        db, sync_normal ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL", err);
    /* The journal of each write's savepoint in memory: SQLite otherwise spills it past 64 KiB
     * to a file it creates and unlinks under /var/tmp (or /tmp), once per batch of a busy
     * writer, and fails the batch where no such directory is writable (docs/registry.md,
     * "Connections and the single writer"). */
    if (st == CAPV_OK)
        st = capvi_reg_exec(db, "PRAGMA temp_store = MEMORY", err);
    if (st == CAPV_OK) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA journal_size_limit = %d", REG_WAL_KEEP_BYTES);
        st = capvi_reg_exec(db, sql, err);
    }
    return st;
}

int64_t capvi_reg_now_ms(const capv_registry *reg)
{
    return reg && reg->clock ? reg->clock(reg->clock_user) : capv_clock_system(NULL);
}

void capvi_reg_now(const capv_registry *reg, char out[32])
{
    capv_rfc3339_format(out, capvi_reg_now_ms(reg));
}

void capvi_reg_conn_close(capv_reg_conn *c)
{
    for (int i = 0; i < REG_ST_COUNT; i++) {
        sqlite3_finalize(c->st[i]);
        c->st[i] = NULL;
    }
    if (c->db != NULL)
        sqlite3_close(c->db);
    c->db = NULL;
}

capv_status capvi_reg_conn_open(sqlite3 **out, const char *path, int flags, capv_error *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        capv_status st = capvi_reg_sqlite_error(db, rc, "opening the registry", err);
        sqlite3_close(db);
        return st;
    }
    *out = db;
    return CAPV_OK;
}

/* The first read of a new connection tells a database from another file (SQLITE_NOTADB)
 * and finds a damaged first page (SQLITE_CORRUPT). */
capv_status capvi_reg_first_read(sqlite3 *db, const char *path, capv_error *err)
{
    const char *shown = path ? path : ":memory:";
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        rc = SQLITE_OK;
    capv_status st = CAPV_OK;
    if (rc == SQLITE_NOTADB)
        st = capvi_err_set(err, CAPV_E_STORAGE, path,
                           "registry '%s' is not a valid registry database: file is not a "
                           "database",
                           shown);
    else if ((rc & 0xff) == SQLITE_CORRUPT)
        st = capvi_err_set(err, CAPV_E_STORAGE, path, "registry '%s' is corrupt: %s", shown,
                           sqlite3_errmsg(db));
    else if (rc != SQLITE_OK)
        st = capvi_reg_sqlite_error(db, rc, "opening the registry", err);
    sqlite3_finalize(s);
    return st;
}

const char *const capvi_reg_journal_suffixes[3] = { "-wal", "-shm", "-journal" };

capv_status capvi_reg_leftover_journal(const char *path, const char *into, capv_error *err)
{
    char p[PATH_MAX + 16];
    struct stat sb;
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, capvi_reg_journal_suffixes[i]);
        if (lstat(p, &sb) == 0)
            return capvi_err_set(err, CAPV_E_BUSY, p,
                                 "'%s' is left from a database that is no longer at '%s'; "
                                 "SQLite would replay it into %s: move it away, with the "
                                 "database it belongs to, and try again",
                                 p, path, into);
    }
    return CAPV_OK;
}

/* PRAGMA quick_check on a read-write open: O(size of the file), measured in
 * docs/registry.md. The first complaint goes into the message. */
capv_status capvi_reg_quick_check(sqlite3 *db, const char *path, capv_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s, NULL);
    capv_status st = CAPV_OK;
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *first = capvi_reg_col_text(s, 0);
        if (first == NULL || strcmp(first, "ok") != 0)
            st = capvi_err_set(err, CAPV_E_STORAGE, path,
                               "registry '%s' is corrupt: %s (PRAGMA quick_check; restore a "
                               "backup)",
                               path, first ? first : "(no answer)");
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
            st = capvi_err_set(err, CAPV_E_STORAGE, path, "registry '%s' is corrupt: %s", path,
                               sqlite3_errmsg(db));
        else
            st = capvi_reg_sqlite_error(db, rc, "checking the registry (quick_check)", err);
    }
    sqlite3_finalize(s);
    return st;
}

void capvi_reg_dir_of(char out[PATH_MAX], const char *path)
{
    snprintf(out, PATH_MAX, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash == NULL)
        snprintf(out, PATH_MAX, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

/* A read-write open needs to write the file and to create the lock, WAL and shared-memory
 * files next to it. Checked up front: SQLite would open the file read-only without a word. */
capv_status capvi_reg_check_writable(const char *path, bool exists, capv_error *err)
{
    char dir[PATH_MAX];
    capvi_reg_dir_of(dir, path);
    if (exists && access(path, W_OK) != 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
        return capvi_err_set(err, CAPV_E_STORAGE, path,
                             "registry '%s' is read-only: this process cannot write it (%s); open "
                             "it read-only to read it",
                             path, strerror(errno));
    if (access(dir, W_OK) != 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
        return capvi_err_set(err, CAPV_E_STORAGE, path,
                             "registry '%s' is read-only: this process cannot create files in "
                             "'%s' (%s), which its lock and write-ahead log need",
                             path, dir, strerror(errno));
    return CAPV_OK;
}

/* ---- readers --------------------------------------------------------------------------- */

capv_reg_conn *capvi_reg_reader_acquire(capv_registry *reg)
{
    if (reg->nreaders == 0) {
        pthread_mutex_lock(&reg->wlock);
        return &reg->w;
    }
    pthread_mutex_lock(&reg->rlock);
    for (;;) {
        for (unsigned int i = 0; i < reg->nreaders; i++)
            if (!reg->readers[i].busy) {
                reg->readers[i].busy = true;
                pthread_mutex_unlock(&reg->rlock);
                return &reg->readers[i];
            }
        pthread_cond_wait(&reg->rcond, &reg->rlock);
    }
}

capv_status capvi_reg_long_reader_acquire(capv_reg_conn **out, capv_registry *reg, capv_error *err)
{
    if (reg->path == NULL) {
        *out = capvi_reg_reader_acquire(reg);
        return CAPV_OK;
    }
    capv_reg_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return capvi_err_nomem(err);
    capv_status st = capvi_reg_conn_open(&c->db, reg->path, SQLITE_OPEN_READONLY, err);
    if (st == CAPV_OK)
        st = capvi_reg_configure(c->db, reg->busy_ms, false, false, err);
    if (st == CAPV_OK)
        st = capvi_reg_exec(c->db, "PRAGMA query_only = ON", err);
    if (st != CAPV_OK) {
        capvi_reg_conn_close(c);
        free(c);
        return st;
    }
    *out = c;
    return CAPV_OK;
}

void capvi_reg_long_reader_release(capv_registry *reg, capv_reg_conn *c)
{
    if (reg->path == NULL) {
        capvi_reg_reader_release(reg, c);
        return;
    }
    capvi_reg_conn_close(c);
    free(c);
}

void capvi_reg_reader_release(capv_registry *reg, capv_reg_conn *c)
{
    if (c == &reg->w) {
        pthread_mutex_unlock(&reg->wlock);
        return;
    }
    pthread_mutex_lock(&reg->rlock);
    c->busy = false;
    pthread_cond_signal(&reg->rcond);
    pthread_mutex_unlock(&reg->rlock);
}

capv_status capvi_reg_step_done(sqlite3 *db, sqlite3_stmt *s, const char *what, capv_error *err)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? CAPV_OK : capvi_reg_sqlite_error(db, rc, what, err);
}

/* ---- library-owned structs ------------------------------------------------------------- */

void *capvi_reg_pack_strings(size_t head, const char **dst[], const char *const src[], size_t n)
{
    size_t total = head;
    for (size_t i = 0; i < n; i++)
        total += src[i] ? strlen(src[i]) + 1 : 0;
    char *mem = calloc(1, total);
    if (mem == NULL)
        return NULL;
    char *p = mem + head;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == NULL) {
            *dst[i] = NULL;
            continue;
        }
        size_t l = strlen(src[i]) + 1;
        memcpy(p, src[i], l);
        *dst[i] = p;
        p += l;
    }
    return mem;
}

const char *capvi_reg_col_text(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

bool capvi_reg_fault_get(capv_registry *reg, char msg[CAPV_ERROR_MESSAGE_SIZE])
{
    pthread_mutex_lock(&reg->flock);
    bool fault = reg->fault;
    if (fault && msg != NULL)
        memcpy(msg, reg->fault_msg, CAPV_ERROR_MESSAGE_SIZE);
    pthread_mutex_unlock(&reg->flock);
    return fault;
}

capv_status capvi_reg_require_file(const capv_registry *reg, const char *what, capv_error *err)
{
    if (reg->pg == NULL)
        return CAPV_OK;
    return capvi_err_set(err, CAPV_E_UNSUPPORTED, NULL,
                         "%s works on a SQLite registry file, and %s is a PostgreSQL registry "
                         "(docs/registry.md#postgresql-backend)",
                         what, reg->path);
}
