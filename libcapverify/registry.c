/* The SQLite registry (SPEC §8): connections and their settings, the writer lock, schema
 * versions and migrations, and the entries / verifications / policies tables.
 *
 * One read-write connection per database (guarded by the "<db>.lock" OFD lock, used under
 * `wlock`) does every write and checkpoint; look-ups run on a small pool of read-only
 * connections. Debian's SQLite 3.40.1 has the WAL-reset bug (two connections writing or
 * checkpointing at once can corrupt the database), which this layout never triggers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "global_int.h"
#include "json_int.h"
#include "registry_int.h"

#define DEFAULT_BUSY_TIMEOUT_MS 5000
#define MAX_READERS 64u
#define DEFAULT_MAX_BATCH 512u
/* How often the writer thread looks for verifications past their retention when the last
 * look found fewer than a full batch. */
#define DEFAULT_PRUNE_INTERVAL_MS 5000

/* ---- SQL ------------------------------------------------------------------------------- */

static const char *const stmt_sql[REG_ST_COUNT] = {
    [REG_ST_ENTRY_INSERT] =
        "INSERT INTO entries (id, manifest_hash, proof_hash, manifest_key, proof_key, "
        "timestamp_file, registered_at, policy_hash, signature, public_key, kid, "
        "signature_scheme) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [REG_ST_ENTRY_BY_KEYS] = "SELECT " REG_ENTRY_COLUMNS
                             " FROM entries WHERE manifest_key = ?1 AND proof_key = ?2",
    [REG_ST_ENTRY_BY_ID] = "SELECT " REG_ENTRY_COLUMNS " FROM entries WHERE id = ?1",
    [REG_ST_ENTRY_LIST] = "SELECT " REG_ENTRY_COLUMNS
                          " FROM entries WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [REG_ST_ENTRY_LIST_MH] = "SELECT " REG_ENTRY_COLUMNS " FROM entries WHERE manifest_key = ?3 "
                             "AND seq > ?1 ORDER BY seq LIMIT ?2",
    [REG_ST_COUNT_ENTRIES] = "SELECT count(*) FROM entries",
    [REG_ST_COUNT_VERIFICATIONS] = "SELECT count(*) FROM verifications",
    [REG_ST_COUNT_POLICIES] = "SELECT count(*) FROM policies",
    [REG_ST_VER_INSERT] =
        "INSERT INTO verifications (request_id, subject, manifest_hash, proof_hash, "
        "policy_hash, entry_seq, result, report_id, verified_at, verified_ms) VALUES (?1, ?2, "
        "?3, ?4, ?5, (SELECT seq FROM entries WHERE manifest_key = ?6 AND proof_key = ?7), ?8, "
        "?9, ?10, ?11)",
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
    [REG_ST_PROBE] = "INSERT OR REPLACE INTO registry_meta (key, value) VALUES "
                     "('health_probe', ?1)",
    [REG_ST_SAVEPOINT] = "SAVEPOINT capv_write",
    [REG_ST_RELEASE] = "RELEASE capv_write",
    [REG_ST_ROLLBACK_TO] = "ROLLBACK TO capv_write",
};

/* Schema version 1. Hashes are kept as the text that was registered (an entry signature
 * covers that text) plus their 32-byte values for look-ups and uniqueness. */
static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS registry_meta (\n"
    "    key TEXT PRIMARY KEY,\n"
    "    value TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE entries (\n"
    "    seq INTEGER PRIMARY KEY,\n"
    "    id TEXT NOT NULL UNIQUE,\n"
    "    manifest_hash TEXT NOT NULL,\n"
    "    proof_hash TEXT NOT NULL,\n"
    "    manifest_key BLOB NOT NULL CHECK (length(manifest_key) = 32),\n"
    "    proof_key BLOB NOT NULL CHECK (length(proof_key) = 32),\n"
    "    timestamp_file TEXT,\n"
    "    registered_at TEXT NOT NULL,\n"
    "    policy_hash TEXT,\n"
    "    signature TEXT,\n"
    "    public_key TEXT,\n"
    "    kid TEXT,\n"
    "    signature_scheme TEXT,\n"
    "    UNIQUE (manifest_key, proof_key)\n"
    ");\n"
    "CREATE TABLE verifications (\n"
    "    seq INTEGER PRIMARY KEY,\n"
    "    request_id TEXT NOT NULL UNIQUE,\n"
    "    subject TEXT,\n"
    "    manifest_hash TEXT,\n"
    "    proof_hash TEXT,\n"
    "    policy_hash TEXT,\n"
    "    entry_seq INTEGER REFERENCES entries (seq),\n"
    "    result TEXT NOT NULL CHECK (result IN ('ok', 'warn', 'fail')),\n"
    "    report TEXT,\n"
    "    verified_at TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX verifications_manifest ON verifications (manifest_hash);\n"
    "CREATE INDEX verifications_entry ON verifications (entry_seq);\n"
    "CREATE TABLE policies (\n"
    "    seq INTEGER PRIMARY KEY,\n"
    "    policy_id TEXT NOT NULL,\n"
    "    policy_version TEXT NOT NULL,\n"
    "    policy_hash TEXT NOT NULL,\n"
    "    policy_key BLOB NOT NULL UNIQUE CHECK (length(policy_key) = 32),\n"
    "    ir_hash TEXT NOT NULL,\n"
    "    ir TEXT NOT NULL,\n"
    "    created_at TEXT NOT NULL,\n"
    "    UNIQUE (policy_id, policy_version)\n"
    ");\n"
    "INSERT OR IGNORE INTO registry_meta (key, value) VALUES ('registry_version', '1.0');\n";

/* Schema version 2: report bodies once per distinct report, keyed by the SHA3-256 of the full
 * report (a summary stored for a report over the cap keeps that key, so a retry compares
 * equal whatever the cap is now); verifications reference them and carry verified_at in
 * milliseconds for retention. The report column goes once its rows are moved. */
static const char schema_v2_before[] =
    "CREATE TABLE reports (\n"
    "    id INTEGER PRIMARY KEY,\n"
    "    sha3 BLOB NOT NULL UNIQUE CHECK (length(sha3) = 32),\n"
    "    bytes INTEGER NOT NULL,\n"
    "    summary INTEGER NOT NULL CHECK (summary IN (0, 1)),\n"
    "    json TEXT NOT NULL\n"
    ");\n"
    "ALTER TABLE verifications ADD COLUMN report_id INTEGER REFERENCES reports (id);\n"
    "ALTER TABLE verifications ADD COLUMN verified_ms INTEGER;\n";
static const char schema_v2_after[] =
    "ALTER TABLE verifications DROP COLUMN report;\n"
    "CREATE INDEX verifications_report ON verifications (report_id);\n"
    "CREATE INDEX verifications_time ON verifications (verified_ms);\n";

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
        return capvi_err_set(err, CAPV_E_STORAGE, NULL, "%s: %s (%s: %s, sqlite %d)", what,
                            reason, msg, strerror(sys), rc);
    if (reason != NULL)
        return capvi_err_set(err, CAPV_E_STORAGE, NULL, "%s: %s (%s, sqlite %d)", what, reason,
                            msg, rc);
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
    return capvi_reg_exec(db, sync_normal ? "PRAGMA synchronous = NORMAL"
                                         : "PRAGMA synchronous = FULL",
                         err);
}

int64_t capvi_reg_now_ms(const capv_registry *reg)
{
    return reg && reg->clock ? reg->clock(reg->clock_user) : capv_clock_system(NULL);
}

void capvi_reg_now(const capv_registry *reg, char out[32])
{
    capv_rfc3339_format(out, capvi_reg_now_ms(reg));
}

/* ---- writer lock ----------------------------------------------------------------------- */

capv_status capvi_reg_lock(int *fd_out, const char *db_path, capv_error *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s.lock", db_path) >= (int)sizeof path)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "database path too long");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
        return capvi_err_set(err, CAPV_E_STORAGE, path,
                            "registry '%s' is read-only: cannot create its lock file '%s' (%s)",
                            db_path, path, strerror(errno));
    if (fd < 0)
        return capvi_err_set(err, CAPV_E_IO, path, "cannot open lock file '%s': %s", path,
                            strerror(errno));
    /* An open-file-description lock: released when this descriptor closes (also when the
     * process dies), and it conflicts with a second lock taken in the same process. */
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        int e = errno;
        close(fd);
        if (e == EAGAIN || e == EACCES)
            return capvi_err_set(err, CAPV_E_BUSY, db_path,
                                "registry '%s' is held by another writer (capverifyd?): only "
                                "one process may open it read-write",
                                db_path);
        return capvi_err_set(err, CAPV_E_IO, path, "cannot lock '%s': %s", path, strerror(e));
    }
    *fd_out = fd;
    return CAPV_OK;
}

void capvi_reg_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* ---- schema ---------------------------------------------------------------------------- */

static capv_status table_exists(bool *out, sqlite3 *db, const char *name, capv_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                    "name = ?1", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        *out = rc == SQLITE_ROW;
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    capv_status st = rc == SQLITE_OK ? CAPV_OK
                                     : capvi_reg_sqlite_error(db, rc, "reading the schema", err);
    sqlite3_finalize(s);
    return st;
}

capv_status capvi_reg_schema_probe(int *version, bool *legacy, sqlite3 *db, capv_error *err)
{
    int64_t uv = 0, tables = 0;
    capv_status st = capvi_reg_query_int(&uv, db, "PRAGMA user_version", err);
    if (st != CAPV_OK)
        return st;
    if ((st = capvi_reg_query_int(&tables, db, "SELECT count(*) FROM sqlite_master WHERE "
                                              "type = 'table' AND name NOT LIKE 'sqlite_%'",
                                 err)) != CAPV_OK)
        return st;
    bool has_legacy = false, has_entries = false;
    if ((st = table_exists(&has_legacy, db, "registry_entries", err)) != CAPV_OK ||
        (st = table_exists(&has_entries, db, "entries", err)) != CAPV_OK)
        return st;
    *legacy = false;
    if (uv > CAPV_REGISTRY_SCHEMA_VERSION)
        return capvi_err_set(err, CAPV_E_UNSUPPORTED_FORMAT, NULL,
                            "registry schema version %lld is newer than this version's %d",
                            (long long)uv, CAPV_REGISTRY_SCHEMA_VERSION);
    if (uv > 0) {
        if (!has_entries)
            return capvi_err_set(err, CAPV_E_UNSUPPORTED_FORMAT, NULL,
                                "not a registry database (user_version %lld, no entries table)",
                                (long long)uv);
        *version = (int)uv;
        return CAPV_OK;
    }
    *version = 0;
    if (tables == 0)
        return CAPV_OK;
    if (has_legacy && !has_entries) {
        *legacy = true;
        return CAPV_OK;
    }
    return capvi_err_set(err, CAPV_E_UNSUPPORTED_FORMAT, NULL,
                        "not a registry database (user_version 0 with unknown tables)");
}

static capv_status column_exists(bool *out, sqlite3 *db, const char *table, const char *column,
                                 capv_error *err)
{
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    *out = false;
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(s, 1);
        if (name && strcmp((const char *)name, column) == 0)
            *out = true;
        rc = SQLITE_OK;
    }
    capv_status st = rc == SQLITE_DONE || rc == SQLITE_OK
                         ? CAPV_OK
                         : capvi_reg_sqlite_error(db, rc, "reading table columns", err);
    sqlite3_finalize(s);
    return st;
}

static const char *col_text(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

/* Copies the existing implementation's registry_entries rows into entries. Rows keep their
 * text (their signatures cover it); a row whose hashes are not digests, or two rows for the
 * same hashes with different content, stop the migration (rolled back, file unchanged). */
static capv_status copy_legacy_rows(uint64_t *copied, sqlite3 *db, capv_error *err)
{
    sqlite3_stmt *s = NULL;
    capv_reg_conn w;
    memset(&w, 0, sizeof w);
    w.db = db;
    capv_status st = CAPV_OK;
    int rc = sqlite3_prepare_v2(db, "SELECT id, manifest_hash, proof_hash, timestamp_file, "
                                    "registered_at, signature, public_key, kid, "
                                    "signature_scheme FROM registry_entries ORDER BY rowid",
                                -1, &s, NULL);
    if (rc != SQLITE_OK) {
        st = capvi_reg_sqlite_error(db, rc, "reading legacy entries", err);
        goto out;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        capv_registry_entry in = CAPV_REGISTRY_ENTRY_INIT;
        in.id = col_text(s, 0);
        in.manifest_hash = col_text(s, 1);
        in.proof_hash = col_text(s, 2);
        in.timestamp_file = col_text(s, 3);
        in.registered_at = col_text(s, 4);
        in.signature = col_text(s, 5);
        in.public_key = col_text(s, 6);
        in.kid = col_text(s, 7);
        in.signature_scheme = col_text(s, 8);
        capv_reg_entry_in e;
        capv_error eerr = CAPV_ERROR_INIT;
        if (in.id == NULL || (st = capvi_reg_entry_prepare(&e, &in, NULL, 0, &eerr)) != CAPV_OK)
            CAPV_FAIL(err, st == CAPV_OK ? CAPV_E_MALFORMED : st, in.id ? in.id : "",
                      "legacy entry '%s' cannot be migrated: %s", in.id ? in.id : "(null id)",
                      in.id ? eerr.message : "no id");
        st = capvi_reg_entry_existing(NULL, &w, &e, true, &eerr);
        if (st == CAPV_E_EXISTS) {
            st = CAPV_OK;
            continue;
        }
        if (st != CAPV_OK)
            CAPV_FAIL(err, st, in.id, "legacy entry '%s' cannot be migrated: %s", in.id,
                      eerr.message);
        if ((st = capvi_reg_entry_write(&w, &e, &eerr)) != CAPV_OK)
            CAPV_FAIL(err, st, in.id, "legacy entry '%s' cannot be migrated: %s", in.id,
                      eerr.message);
        (*copied)++;
    }
    if (rc != SQLITE_DONE)
        st = capvi_reg_sqlite_error(db, rc, "reading legacy entries", err);
out:
    sqlite3_finalize(s);
    for (int i = 0; i < REG_ST_COUNT; i++)
        sqlite3_finalize(w.st[i]);
    return st;
}

/* 0 → 1: our tables; from the legacy schema also the missing kid / signature_scheme columns
 * of registry_entries (which is kept, untouched otherwise) and a copy of its rows. */
static capv_status migrate_0_to_1(uint64_t *copied, sqlite3 *db, capv_error *err)
{
    bool legacy = false;
    capv_status st = table_exists(&legacy, db, "registry_entries", err);
    if (st != CAPV_OK)
        return st;
    if (legacy) {
        static const char *const added[] = { "kid", "signature_scheme" };
        for (size_t i = 0; i < 2; i++) {
            bool has = false;
            if ((st = column_exists(&has, db, "registry_entries", added[i], err)) != CAPV_OK)
                return st;
            if (!has) {
                char sql[96];
                snprintf(sql, sizeof sql, "ALTER TABLE registry_entries ADD COLUMN %s TEXT",
                         added[i]);
                if ((st = capvi_reg_exec(db, sql, err)) != CAPV_OK)
                    return st;
            }
        }
    }
    if ((st = capvi_reg_exec(db, schema_v1, err)) != CAPV_OK)
        return st;
    if (legacy) {
        if ((st = copy_legacy_rows(copied, db, err)) != CAPV_OK)
            return st;
        st = capvi_reg_exec(db, "INSERT OR REPLACE INTO registry_meta (key, value) VALUES "
                               "('migrated_from', 'legacy registry_entries')",
                           err);
    }
    return st;
}

/* Moves one verification's report (if any) into `reports` and fills verified_ms. `one`
 * reads the row; it is reset before the row is updated. */
static capv_status migrate_row(sqlite3 *db, sqlite3_stmt *one, sqlite3_stmt *find,
                               sqlite3_stmt *ins, sqlite3_stmt *upd, int64_t seq,
                               capv_error *err)
{
    sqlite3_bind_int64(one, 1, seq);
    int rc = sqlite3_step(one);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(one);
        return rc == SQLITE_DONE ? CAPV_OK
                                 : capvi_reg_sqlite_error(db, rc, "migrating reports", err);
    }
    bool has_report = sqlite3_column_type(one, 0) != SQLITE_NULL;
    const char *report = (const char *)sqlite3_column_text(one, 0);
    int n = sqlite3_column_bytes(one, 0);
    const char *at = (const char *)sqlite3_column_text(one, 1);
    if (has_report && report == NULL) {
        sqlite3_reset(one);
        return capvi_err_nomem(err);
    }
    int64_t ms = 0, rid = 0;
    /* a verified_at that is not RFC 3339 (none is written here) keeps NULL: never pruned */
    bool has_ms = at != NULL && capv_rfc3339_parse(&ms, at, strlen(at)) == 0;
    capv_status st = CAPV_OK;
    if (report != NULL) {
        uint8_t key[32];
        st = capv_hash(key, CAPV_HASH_SHA3_256, (const uint8_t *)report, (size_t)n, err);
        if (st == CAPV_OK) {
            sqlite3_reset(find);
            sqlite3_bind_blob(find, 1, key, 32, SQLITE_TRANSIENT);
            rc = sqlite3_step(find);
            if (rc == SQLITE_ROW) {
                rid = sqlite3_column_int64(find, 0);
            } else if (rc == SQLITE_DONE) {
                sqlite3_reset(ins);
                sqlite3_bind_blob(ins, 1, key, 32, SQLITE_TRANSIENT);
                sqlite3_bind_int64(ins, 2, n);
                sqlite3_bind_int(ins, 3, 0); /* stored whole, whatever its size */
                sqlite3_bind_text(ins, 4, report, n, SQLITE_TRANSIENT);
                rc = sqlite3_step(ins);
                if (rc == SQLITE_DONE)
                    rid = sqlite3_last_insert_rowid(db);
            }
            sqlite3_reset(find);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                st = capvi_reg_sqlite_error(db, rc, "migrating reports", err);
        }
    }
    sqlite3_reset(one);
    if (st != CAPV_OK)
        return st;
    sqlite3_reset(upd);
    sqlite3_clear_bindings(upd); /* a NULL report_id or verified_ms is no binding */
    if (report != NULL)
        sqlite3_bind_int64(upd, 1, rid);
    if (has_ms)
        sqlite3_bind_int64(upd, 2, ms);
    sqlite3_bind_int64(upd, 3, seq);
    rc = sqlite3_step(upd);
    sqlite3_reset(upd);
    return rc == SQLITE_DONE ? CAPV_OK : capvi_reg_sqlite_error(db, rc, "migrating reports", err);
}

/* 1 → 2: each distinct report body once in `reports` (keyed by its SHA3-256; reports stored
 * before keep their whole text, whatever the cap), verifications referencing it, and
 * verified_at also in milliseconds (retention). Rows are visited by seq in pages, each row
 * read with its own point query so no cursor walks a table that is being updated. */
static capv_status migrate_1_to_2(uint64_t *copied, sqlite3 *db, capv_error *err)
{
    (void)copied;
    enum { PAGE = 512 };
    sqlite3_stmt *page = NULL, *one = NULL, *find = NULL, *ins = NULL, *upd = NULL;
    int64_t seqs[PAGE];
    capv_status st = capvi_reg_exec(db, schema_v2_before, err);
    if (st != CAPV_OK)
        return st;
    int rc = sqlite3_prepare_v2(db, "SELECT seq FROM verifications WHERE seq > ?1 ORDER BY seq "
                                    "LIMIT ?2",
                                -1, &page, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT report, verified_at FROM verifications WHERE "
                                    "seq = ?1",
                                -1, &one, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, stmt_sql[REG_ST_REPORT_BY_KEY], -1, &find, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, stmt_sql[REG_ST_REPORT_INSERT], -1, &ins, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "UPDATE verifications SET report_id = ?1, verified_ms = ?2 "
                                    "WHERE seq = ?3",
                                -1, &upd, NULL);
    if (rc != SQLITE_OK) {
        st = capvi_reg_sqlite_error(db, rc, "migrating reports", err);
        goto out;
    }
    int64_t last = 0;
    for (;;) {
        size_t n = 0;
        sqlite3_reset(page);
        sqlite3_bind_int64(page, 1, last);
        sqlite3_bind_int(page, 2, PAGE);
        while ((rc = sqlite3_step(page)) == SQLITE_ROW)
            seqs[n++] = sqlite3_column_int64(page, 0);
        sqlite3_reset(page);
        if (rc != SQLITE_DONE) {
            st = capvi_reg_sqlite_error(db, rc, "migrating reports", err);
            goto out;
        }
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            CAPV_TRY(migrate_row(db, one, find, ins, upd, seqs[i], err));
        last = seqs[n - 1];
    }
    st = capvi_reg_exec(db, schema_v2_after, err);
out:
    sqlite3_finalize(page);
    sqlite3_finalize(one);
    sqlite3_finalize(find);
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    return st;
}

typedef capv_status (*migration_fn)(uint64_t *copied, sqlite3 *db, capv_error *err);
/* migrations[n] takes version n to n + 1. Append only. */
static const migration_fn migrations[CAPV_REGISTRY_SCHEMA_VERSION] = { migrate_0_to_1,
                                                                        migrate_1_to_2 };

capv_status capvi_reg_migrate(uint64_t *migrated_rows, sqlite3 *db, int from, capv_error *err)
{
    for (int v = from; v < CAPV_REGISTRY_SCHEMA_VERSION; v++) {
        capv_status st = capvi_reg_exec(db, "BEGIN IMMEDIATE", err);
        if (st != CAPV_OK)
            return st;
        /* re-read inside the transaction: another process may have migrated meanwhile */
        int64_t uv = 0;
        if ((st = capvi_reg_query_int(&uv, db, "PRAGMA user_version", err)) == CAPV_OK &&
            uv == v) {
            st = migrations[v](migrated_rows, db, err);
            if (st == CAPV_OK) {
                char sql[64];
                snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
                st = capvi_reg_exec(db, sql, err);
            }
        }
        if (st == CAPV_OK)
            st = capvi_reg_exec(db, "COMMIT", err);
        if (st != CAPV_OK) {
            if (!sqlite3_get_autocommit(db))
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return st;
        }
    }
    return CAPV_OK;
}

/* ---- open / close ---------------------------------------------------------------------- */

static void conn_close(capv_reg_conn *c)
{
    for (int i = 0; i < REG_ST_COUNT; i++) {
        sqlite3_finalize(c->st[i]);
        c->st[i] = NULL;
    }
    if (c->db != NULL)
        sqlite3_close(c->db);
    c->db = NULL;
}

static capv_status open_conn(sqlite3 **out, const char *path, int flags, capv_error *err)
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

void capv_registry_close(capv_registry *reg)
{
    if (reg == NULL)
        return;
    capvi_reg_writer_stop(reg);
    for (unsigned int i = 0; i < reg->nreaders; i++)
        conn_close(&reg->readers[i]);
    free(reg->readers);
    conn_close(&reg->w); /* the writer last: it checkpoints and removes the WAL */
    capvi_reg_unlock(reg->lock_fd);
    pthread_mutex_destroy(&reg->wlock);
    pthread_mutex_destroy(&reg->rlock);
    pthread_cond_destroy(&reg->rcond);
    pthread_mutex_destroy(&reg->qlock);
    pthread_cond_destroy(&reg->qcond);
    pthread_mutex_destroy(&reg->flock);
    free(reg->path);
    free(reg);
}

/* The first read of a new connection tells a database from another file (SQLITE_NOTADB)
 * and finds a damaged first page (SQLITE_CORRUPT). */
static capv_status first_read(sqlite3 *db, const char *path, capv_error *err)
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

/* PRAGMA quick_check on a read-write open: O(size of the file), measured in
 * docs/registry.md. The first complaint goes into the message. */
static capv_status quick_check(sqlite3 *db, const char *path, capv_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s, NULL);
    capv_status st = CAPV_OK;
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *first = col_text(s, 0);
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
static capv_status check_writable(const char *path, bool exists, capv_error *err)
{
    char dir[PATH_MAX];
    capvi_reg_dir_of(dir, path);
    if (exists && access(path, W_OK) != 0 &&
        (errno == EACCES || errno == EROFS || errno == EPERM))
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

static capv_status open_writer(capv_registry *reg, const capv_registry_options *o,
                               int busy_ms, capv_error *err)
{
    bool create = (o->flags & CAPV_REGISTRY_CREATE) != 0;
    const char *path = reg->path ? reg->path : ":memory:";
    capv_status st = open_conn(&reg->w.db, path,
                               SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), err);
    if (st != CAPV_OK)
        return st;
    sqlite3 *db = reg->w.db;
    /* SQLite quietly opens a file it cannot write read-only; every write would then fail */
    if (reg->path != NULL && sqlite3_db_readonly(db, "main") == 1)
        return capvi_err_set(err, CAPV_E_STORAGE, reg->path,
                            "registry '%s' is read-only: this process cannot write it (open it "
                            "read-only to read it)",
                            reg->path);
    if ((st = first_read(db, reg->path, err)) != CAPV_OK)
        return st;
    if ((st = capvi_reg_configure(db, busy_ms, true, (o->flags & CAPV_REGISTRY_SYNC_NORMAL) != 0,
                                 err)) != CAPV_OK)
        return st;
    /* a damaged file is refused before anything is written to it */
    if (reg->path != NULL && (st = quick_check(db, reg->path, err)) != CAPV_OK)
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
            const char *mode = col_text(s, 0);
            rc = mode && strcmp(mode, "wal") == 0 ? SQLITE_OK : SQLITE_ERROR;
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_OK)
            return capvi_err_set(err, CAPV_E_IO, reg->path,
                                "cannot switch '%s' to WAL mode: %s", reg->path,
                                sqlite3_errmsg(db));
    }
    if (version < CAPV_REGISTRY_SCHEMA_VERSION)
        return capvi_reg_migrate(&reg->migrated_rows, db, version, err);
    return CAPV_OK;
}

static capv_status open_readers(capv_registry *reg, unsigned int n, int busy_ms,
                                capv_error *err)
{
    reg->readers = calloc(n, sizeof *reg->readers);
    if (reg->readers == NULL)
        return capvi_err_nomem(err);
    for (unsigned int i = 0; i < n; i++) {
        capv_status st = open_conn(&reg->readers[i].db, reg->path, SQLITE_OPEN_READONLY, err);
        reg->nreaders = i + 1;
        if (st == CAPV_OK && i == 0)
            st = first_read(reg->readers[i].db, reg->path, err);
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

capv_status capv_registry_open(capv_registry **out, const char *path,
                               const capv_registry_options *opts, capv_error *err)
{
    capv_registry_options defaults = CAPV_REGISTRY_OPTIONS_INIT;
    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    const capv_registry_options *o = opts ? opts : &defaults;
    if (o->version != CAPV_REGISTRY_OPTIONS_VERSION || o->busy_timeout_ms < 0 ||
        o->readers > MAX_READERS)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "invalid registry options");
    bool ro = (o->flags & CAPV_REGISTRY_READ_ONLY) != 0;
    if (ro && (o->flags & (CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD)))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                            "a read-only registry cannot create files or run a writer");
    if (ro && path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "an in-memory registry is read-write");
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return st;
    bool exists = false;
    if (path != NULL) {
        struct stat sb;
        exists = stat(path, &sb) == 0;
        if (!exists) {
            if (errno != ENOENT)
                return capvi_err_set(err, CAPV_E_IO, path, "cannot access '%s': %s", path,
                                    strerror(errno));
            if (!(o->flags & CAPV_REGISTRY_CREATE))
                return capvi_err_set(err, CAPV_E_NOT_FOUND, path,
                                    "registry '%s' does not exist", path);
        } else if (!S_ISREG(sb.st_mode)) {
            return capvi_err_set(err, CAPV_E_IO, path, "'%s' is not a regular file", path);
        }
    }
    capv_registry *reg = calloc(1, sizeof *reg);
    if (reg == NULL)
        return capvi_err_nomem(err);
    reg->lock_fd = -1;
    reg->read_only = ro;
    reg->clock = o->clock ? o->clock : capv_clock_system;
    reg->clock_user = o->clock ? o->clock_user : NULL;
    reg->max_batch = o->max_batch ? o->max_batch : DEFAULT_MAX_BATCH;
    pthread_mutex_init(&reg->wlock, NULL);
    pthread_mutex_init(&reg->rlock, NULL);
    pthread_cond_init(&reg->rcond, NULL);
    pthread_mutex_init(&reg->qlock, NULL);
    pthread_mutex_init(&reg->flock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&reg->qcond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&reg->generation, 1);
    atomic_init(&reg->writes, 0);
    atomic_init(&reg->commits, 0);
    atomic_init(&reg->pruned, 0);
    atomic_init(&reg->summarized, 0);
    atomic_init(&reg->faults, 0);
    atomic_init(&reg->max_report, (size_t)CAPV_REGISTRY_DEFAULT_MAX_REPORT_BYTES);
    atomic_init(&reg->retention_ms, 0);
    reg->prune_interval_ms = DEFAULT_PRUNE_INTERVAL_MS;
    int busy_ms = o->busy_timeout_ms ? o->busy_timeout_ms : DEFAULT_BUSY_TIMEOUT_MS;
    reg->busy_ms = busy_ms;
    if (path != NULL && (reg->path = strdup(path)) == NULL) {
        st = capvi_err_nomem(err);
        goto out;
    }
    if (!ro) {
        if (path != NULL) {
            CAPV_TRY(check_writable(path, exists, err));
            CAPV_TRY(capvi_reg_lock(&reg->lock_fd, path, err));
        }
        CAPV_TRY(open_writer(reg, o, busy_ms, err));
    }
    if (path != NULL)
        CAPV_TRY(open_readers(reg, o->readers ? o->readers : 1, busy_ms, err));
    if (o->flags & CAPV_REGISTRY_WRITER_THREAD)
        CAPV_TRY(capvi_reg_writer_start(reg, err));
out:
    if (st != CAPV_OK) {
        capv_registry_close(reg);
        return st;
    }
    *out = reg;
    return CAPV_OK;
}

const char *capv_registry_path(const capv_registry *reg)
{
    return reg && reg->path ? reg->path : "";
}

int capv_registry_is_read_only(const capv_registry *reg)
{
    return reg ? reg->read_only : 1;
}

int capv_registry_found_version(const capv_registry *reg)
{
    return reg ? reg->found_version : -1;
}

int capv_registry_found_legacy(const capv_registry *reg)
{
    return reg ? reg->found_legacy : 0;
}

uint64_t capv_registry_migrated_rows(const capv_registry *reg)
{
    return reg ? reg->migrated_rows : 0;
}

void capv_registry_set_signing_key(capv_registry *reg, const capv_signing_key *key)
{
    if (reg != NULL)
        reg->sign_key = key;
}

capv_status capv_registry_set_max_report_bytes(capv_registry *reg, size_t max)
{
    if (reg == NULL || max < CAPV_REGISTRY_MIN_MAX_REPORT_BYTES)
        return CAPV_E_INVALID_ARG; /* the summary must always fit */
    atomic_store(&reg->max_report, max);
    return CAPV_OK;
}

/* ---- the health of the storage --------------------------------------------------------- */

static capv_status health_fail(char *detail, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static capv_status health_fail(char *detail, size_t cap, const char *fmt, ...)
{
    if (detail != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, cap, fmt, ap);
        va_end(ap);
        capvi_text_make_utf8(detail);
    }
    return CAPV_E_STORAGE;
}

capv_status capv_registry_health(const capv_registry *creg, char *detail, size_t cap)
{
    if (detail != NULL && cap > 0)
        detail[0] = '\0';
    if (creg == NULL)
        return CAPV_E_INVALID_ARG;
    capv_registry *reg = (capv_registry *)creg; /* the fault is guarded by a mutex */
    if (!reg->read_only && reg->path != NULL) {
        /* two system calls: cheap enough for every readiness probe; they see what the next
         * write would run into, and name the cause more precisely than a failed write */
        if (access(reg->path, W_OK) != 0 &&
            (errno == EACCES || errno == EROFS || errno == EPERM))
            return health_fail(detail, cap,
                               "database is read-only: '%s' is no longer writable (%s)",
                               reg->path, strerror(errno));
        struct statvfs fs;
        if (statvfs(reg->path, &fs) == 0) {
            if (fs.f_flag & ST_RDONLY)
                return health_fail(detail, cap,
                                   "database is read-only: the file system of '%s' is mounted "
                                   "read-only",
                                   reg->path);
            /* root may use the blocks reserved for it */
            if ((geteuid() == 0 ? fs.f_bfree : fs.f_bavail) == 0)
                return health_fail(detail, cap,
                                   "disk is full: no space left on the file system of '%s'",
                                   reg->path);
        }
    }
    char msg[CAPV_ERROR_MESSAGE_SIZE];
    pthread_mutex_lock(&reg->flock);
    bool fault = reg->fault;
    if (fault)
        memcpy(msg, reg->fault_msg, sizeof msg);
    pthread_mutex_unlock(&reg->flock);
    if (fault)
        return health_fail(detail, cap, "%s", msg);
    return CAPV_OK;
}

bool capvi_reg_has_fault(capv_registry *reg)
{
    pthread_mutex_lock(&reg->flock);
    bool fault = reg->fault;
    pthread_mutex_unlock(&reg->flock);
    return fault;
}

capv_status capv_registry_disk_usage(uint64_t *db_bytes, uint64_t *free_bytes,
                                     const capv_registry *reg, capv_error *err)
{
    if (db_bytes != NULL)
        *db_bytes = 0;
    if (free_bytes != NULL)
        *free_bytes = 0;
    if (reg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (reg->path == NULL)
        return capvi_err_set(err, CAPV_E_UNSUPPORTED, NULL, "an in-memory registry has no files");
    struct stat sb;
    if (stat(reg->path, &sb) != 0)
        return capvi_err_set(err, CAPV_E_IO, reg->path, "cannot examine '%s': %s", reg->path,
                            strerror(errno));
    uint64_t total = (uint64_t)sb.st_size;
    char wal[PATH_MAX];
    if (snprintf(wal, sizeof wal, "%s-wal", reg->path) < (int)sizeof wal && stat(wal, &sb) == 0)
        total += (uint64_t)sb.st_size;
    struct statvfs fs;
    if (statvfs(reg->path, &fs) != 0)
        return capvi_err_set(err, CAPV_E_IO, reg->path,
                            "cannot examine the file system of '%s': %s", reg->path,
                            strerror(errno));
    if (db_bytes != NULL)
        *db_bytes = total;
    if (free_bytes != NULL)
        *free_bytes = (uint64_t)fs.f_bavail * (uint64_t)fs.f_frsize;
    return CAPV_OK;
}

uint64_t capv_registry_generation(const capv_registry *reg)
{
    return reg ? atomic_load(&((capv_registry *)reg)->generation) : 0;
}

uint64_t capv_registry_stat_get(const capv_registry *reg, capv_registry_stat which)
{
    if (reg == NULL)
        return 0;
    capv_registry *r = (capv_registry *)reg;
    switch (which) {
    case CAPV_REGISTRY_STAT_WRITES: return atomic_load(&r->writes);
    case CAPV_REGISTRY_STAT_COMMITS: return atomic_load(&r->commits);
    case CAPV_REGISTRY_STAT_PRUNED: return atomic_load(&r->pruned);
    case CAPV_REGISTRY_STAT_SUMMARIZED: return atomic_load(&r->summarized);
    case CAPV_REGISTRY_STAT_STORAGE_FAULTS: return atomic_load(&r->faults);
    }
    return 0;
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

capv_status capvi_reg_long_reader_acquire(capv_reg_conn **out, capv_registry *reg,
                                         capv_error *err)
{
    if (reg->path == NULL) {
        *out = capvi_reg_reader_acquire(reg);
        return CAPV_OK;
    }
    capv_reg_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return capvi_err_nomem(err);
    capv_status st = open_conn(&c->db, reg->path, SQLITE_OPEN_READONLY, err);
    if (st == CAPV_OK)
        st = capvi_reg_configure(c->db, reg->busy_ms, false, false, err);
    if (st == CAPV_OK)
        st = capvi_reg_exec(c->db, "PRAGMA query_only = ON", err);
    if (st != CAPV_OK) {
        conn_close(c);
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
    conn_close(c);
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

/* ---- write execution ------------------------------------------------------------------- */

static capv_status step_done(sqlite3 *db, sqlite3_stmt *s, const char *what, capv_error *err)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? CAPV_OK : capvi_reg_sqlite_error(db, rc, what, err);
}

/* The writes among reqs[0..n) that succeeded were not committed after all: each is undone
 * for its caller and fails with `st`. */
static void batch_abort(capv_reg_write **reqs, size_t n, capv_status st, const capv_error *e)
{
    for (size_t i = 0; i < n; i++) {
        if (reqs[i]->st != CAPV_OK)
            continue;
        if (reqs[i]->undo)
            reqs[i]->undo(reqs[i]->arg);
        reqs[i]->st = st;
        reqs[i]->err = *e;
    }
}

void capvi_reg_execute_batch(capv_registry *reg, capv_reg_write **reqs, size_t n)
{
    capv_reg_conn *w = &reg->w;
    capv_error berr = CAPV_ERROR_INIT;
    capv_status st = capvi_reg_note(reg, capvi_reg_exec(w->db, "BEGIN IMMEDIATE", &berr), &berr);
    bool any = false, entries = false, fault = false;
    for (size_t i = 0; i < n; i++) {
        capv_reg_write *q = reqs[i];
        if (st != CAPV_OK) {
            q->st = st;
            q->err = berr;
            continue;
        }
        sqlite3_stmt *s = NULL;
        capv_error_clear(&q->err);
        q->st = capvi_reg_stmt(&s, w, REG_ST_SAVEPOINT, &q->err);
        if (q->st == CAPV_OK)
            q->st = step_done(w->db, s, "savepoint", &q->err);
        if (q->st != CAPV_OK) {
            fault = fault || q->st == CAPV_E_STORAGE;
            capvi_reg_note(reg, q->st, &q->err);
            continue;
        }
        q->st = q->run(reg, w, q->arg, &q->err);
        atomic_fetch_add(&reg->writes, 1);
        if (q->st == CAPV_E_STORAGE) {
            fault = true;
            capvi_reg_note(reg, q->st, &q->err);
        }
        if (sqlite3_get_autocommit(w->db)) {
            /* SQLite rolled the whole transaction back itself (it may on SQLITE_FULL or an
             * I/O error): the earlier writes of this batch are gone too, and a later one
             * would run in a transaction of its own */
            if (q->st == CAPV_OK)
                q->st = capvi_err_set(&q->err, CAPV_E_STORAGE, NULL,
                                     "the registry rolled the write transaction back");
            st = q->st;
            berr = q->err;
            batch_abort(reqs, i, st, &berr);
            any = false;
            continue;
        }
        if (q->st != CAPV_OK && capvi_reg_stmt(&s, w, REG_ST_ROLLBACK_TO, NULL) == CAPV_OK)
            step_done(w->db, s, "rollback", NULL);
        if (capvi_reg_stmt(&s, w, REG_ST_RELEASE, NULL) == CAPV_OK)
            step_done(w->db, s, "release", NULL);
        if (q->st == CAPV_OK) {
            any = true;
            entries = entries || q->changes_entries;
        }
    }
    if (st != CAPV_OK)
        return;
    /* Only now, with the batch durable, may any of its writes be acknowledged. */
    st = capvi_reg_exec(w->db, any ? "COMMIT" : "ROLLBACK", &berr);
    if (st != CAPV_OK) {
        if (!sqlite3_get_autocommit(w->db))
            sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
        batch_abort(reqs, n, st, &berr);
        capvi_reg_note(reg, st, &berr);
        return;
    }
    if (any) {
        atomic_fetch_add(&reg->commits, 1);
        /* the storage works again, unless a write of this very batch said otherwise */
        if (!fault)
            capvi_reg_fault_clear(reg);
    }
    if (entries)
        atomic_fetch_add(&reg->generation, 1);
}

void capvi_reg_submit(capv_registry *reg, capv_reg_write *req)
{
    if (reg->read_only) {
        req->st = capvi_err_set(&req->err, CAPV_E_STATE, NULL,
                               "the registry is open read-only; writes need the writer");
        return;
    }
    pthread_mutex_lock(&reg->qlock);
    /* while the writer stops, it still drains its queue; new writes take the direct path
     * (serialized with it by wlock) */
    bool threaded = reg->writer_running && !reg->stopping;
    if (threaded) {
        req->next = NULL;
        req->done = false;
        pthread_cond_init(&req->cond, NULL);
        if (reg->qtail)
            reg->qtail->next = req;
        else
            reg->qhead = req;
        reg->qtail = req;
        pthread_cond_signal(&reg->qcond);
        while (!req->done)
            pthread_cond_wait(&req->cond, &reg->qlock);
        pthread_mutex_unlock(&reg->qlock);
        pthread_cond_destroy(&req->cond);
        return;
    }
    pthread_mutex_unlock(&reg->qlock);
    pthread_mutex_lock(&reg->wlock);
    capv_reg_write *one = req;
    capvi_reg_execute_batch(reg, &one, 1);
    pthread_mutex_unlock(&reg->wlock);
}

static capv_status finish_write(capv_reg_write *q, capv_error *err)
{
    if (err != NULL && q->st != CAPV_OK)
        *err = q->err;
    return q->st;
}

/* ---- entries --------------------------------------------------------------------------- */

typedef struct add_args {
    const capv_registry_entry *in;
    capv_registry_entry **stored;
} add_args;

static capv_status entry_sign(capv_reg_entry_in *e, const capv_signing_key *key, char *sig_b64,
                              char *pub_b64, char *kid, capv_error *err)
{
    capv_buf b = CAPV_BUF_INIT;
    capvi_reg_signed_bytes(&b, e->id, e->manifest_hash, e->proof_hash, e->timestamp_file,
                          e->registered_at);
    if (b.failed) {
        capvi_buf_free(&b);
        return capvi_err_nomem(err);
    }
    uint8_t d[32], sig[64], pub[32];
    capv_status st = capv_hash(d, CAPV_HASH_BLAKE3, b.data, b.len, err);
    capvi_buf_free(&b);
    if (st == CAPV_OK)
        st = capv_signing_key_sign(key, sig, d, 32, err);
    if (st != CAPV_OK)
        return st;
    capv_signing_key_public(key, pub);
    capv_base64_encode(sig_b64, CAPV_BASE64_ENCODED_SIZE(64), NULL, sig, 64, CAPV_BASE64_STD);
    capv_base64_encode(pub_b64, CAPV_BASE64_ENCODED_SIZE(32), NULL, pub, 32, CAPV_BASE64_STD);
    if ((st = capv_key_id(kid, pub, err)) != CAPV_OK)
        return st;
    e->signature = sig_b64;
    e->public_key = pub_b64;
    e->kid = kid;
    e->scheme = "ed25519";
    return CAPV_OK;
}

static capv_status add_run(capv_registry *reg, capv_reg_conn *w, void *arg, capv_error *err)
{
    add_args *a = arg;
    capv_reg_entry_in e;
    bool signed_in = a->in->signature != NULL;
    capv_status st = capvi_reg_entry_prepare(&e, a->in, reg,
                                            REG_PREP_STRICT | (signed_in ? 0 : REG_PREP_CANONICAL),
                                            err);
    if (st != CAPV_OK)
        return st;
    if (signed_in) {
        capv_registry_entry chk = CAPV_REGISTRY_ENTRY_INIT;
        chk.id = e.id;
        chk.manifest_hash = e.manifest_hash;
        chk.proof_hash = e.proof_hash;
        chk.timestamp_file = e.timestamp_file;
        chk.registered_at = e.registered_at;
        chk.signature = e.signature;
        chk.public_key = e.public_key;
        chk.signature_scheme = e.scheme;
        capv_error verr = CAPV_ERROR_INIT;
        st = capv_registry_entry_verify(&chk, &verr);
        if (st != CAPV_OK)
            return capvi_err_set(err, st == CAPV_E_SIGNATURE ? CAPV_E_SIGNATURE : st,
                                verr.field[0] ? verr.field : "signature",
                                "entry '%s': %s", e.id, verr.message);
    }
    st = capvi_reg_entry_existing(a->stored, w, &e, e.registered_at_given, err);
    if (st != CAPV_OK)
        return st;
    char sig[CAPV_BASE64_ENCODED_SIZE(64)], pub[CAPV_BASE64_ENCODED_SIZE(32)],
        kid[CAPV_KID_SIZE];
    if (!signed_in && reg->sign_key != NULL &&
        (st = entry_sign(&e, reg->sign_key, sig, pub, kid, err)) != CAPV_OK)
        return st;
    if ((st = capvi_reg_entry_write(w, &e, err)) != CAPV_OK)
        return st;
    if (a->stored != NULL) {
        sqlite3_stmt *s = NULL;
        if ((st = capvi_reg_stmt(&s, w, REG_ST_ENTRY_BY_KEYS, err)) != CAPV_OK)
            return st;
        sqlite3_bind_blob(s, 1, e.manifest_key, 32, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, e.proof_key, 32, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW && (*a->stored = capvi_reg_entry_from_row(s)) == NULL)
            st = capvi_err_nomem(err);
        else if (rc != SQLITE_ROW)
            st = capvi_reg_sqlite_error(w->db, rc, "reading the new entry", err);
        sqlite3_reset(s);
    }
    return st;
}

static void add_undo(void *arg)
{
    add_args *a = arg;
    if (a->stored != NULL) {
        capv_registry_entry_free(*a->stored);
        *a->stored = NULL;
    }
}

capv_status capv_registry_add(capv_registry_entry **stored, capv_registry *reg,
                              const capv_registry_entry *entry, capv_error *err)
{
    if (stored != NULL)
        *stored = NULL;
    if (reg == NULL || entry == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (entry->version != CAPV_REGISTRY_ENTRY_VERSION)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown entry struct version");
    add_args a = { entry, stored };
    capv_reg_write q;
    memset(&q, 0, sizeof q);
    q.run = add_run;
    q.undo = add_undo;
    q.arg = &a;
    q.changes_entries = true;
    capvi_reg_submit(reg, &q);
    return finish_write(&q, err);
}

static capv_status lookup_one(capv_registry_entry **out, capv_registry *reg, int which,
                              const void *k1, const void *k2, const char *what,
                              capv_error *err)
{
    capv_error lerr_ = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr_;
    capv_reg_conn *c = capvi_reg_reader_acquire(reg);
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, c, which, err);
    if (st == CAPV_OK) {
        if (which == REG_ST_ENTRY_BY_ID) {
            sqlite3_bind_text(s, 1, k1, -1, SQLITE_STATIC);
        } else {
            sqlite3_bind_blob(s, 1, k1, 32, SQLITE_STATIC);
            sqlite3_bind_blob(s, 2, k2, 32, SQLITE_STATIC);
        }
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            st = (*out = capvi_reg_entry_from_row(s)) ? CAPV_OK : capvi_err_nomem(err);
        else if (rc == SQLITE_DONE)
            st = capvi_err_set(err, CAPV_E_NOT_FOUND, NULL, "no registry entry %s", what);
        else
            st = capvi_reg_sqlite_error(c->db, rc, "looking up an entry", err);
        sqlite3_reset(s);
    }
    capvi_reg_reader_release(reg, c);
    return capvi_reg_note(reg, st, err);
}

capv_status capv_registry_get(capv_registry_entry **out, capv_registry *reg, const char *id,
                              capv_error *err)
{
    if (out == NULL || reg == NULL || id == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    char what[300];
    snprintf(what, sizeof what, "with id '%.256s'", id);
    return lookup_one(out, reg, REG_ST_ENTRY_BY_ID, id, NULL, what, err);
}

capv_status capv_registry_find(capv_registry_entry **out, capv_registry *reg,
                               const char *manifest_hash, const char *proof_hash,
                               capv_error *err)
{
    if (out == NULL || reg == NULL || manifest_hash == NULL || proof_hash == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    uint8_t mk[32], pk[32];
    if (capv_digest_parse(mk, manifest_hash, strlen(manifest_hash), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, "manifest_hash", "manifest_hash is not a digest");
    if (capv_digest_parse(pk, proof_hash, strlen(proof_hash), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, "proof_hash", "proof_hash is not a digest");
    return lookup_one(out, reg, REG_ST_ENTRY_BY_KEYS, mk, pk,
                      "for this manifest and proof hash", err);
}

struct capv_registry_page {
    capv_registry_entry **items;
    size_t n;
    int64_t next;
};

capv_status capv_registry_list(capv_registry_page **out, capv_registry *reg,
                               const char *manifest_hash, int64_t after, size_t limit,
                               capv_error *err)
{
    if (out == NULL || reg == NULL || after < 0 || limit == 0 || limit > 10000)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                            "invalid arguments (limit must be 1..10000, after >= 0)");
    *out = NULL;
    uint8_t mk[32];
    if (manifest_hash != NULL &&
        capv_digest_parse(mk, manifest_hash, strlen(manifest_hash), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, "manifest_hash", "manifest_hash is not a digest");
    capv_error lerr_ = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr_;
    capv_registry_page *p = calloc(1, sizeof *p);
    if (p == NULL || (p->items = calloc(limit, sizeof *p->items)) == NULL) {
        free(p);
        return capvi_err_nomem(err);
    }
    capv_reg_conn *c = capvi_reg_reader_acquire(reg);
    sqlite3_stmt *s = NULL;
    capv_status st =
        capvi_reg_stmt(&s, c, manifest_hash ? REG_ST_ENTRY_LIST_MH : REG_ST_ENTRY_LIST, err);
    if (st == CAPV_OK) {
        sqlite3_bind_int64(s, 1, after);
        /* one more than asked tells whether a next page exists */
        sqlite3_bind_int64(s, 2, (sqlite3_int64)limit + 1);
        if (manifest_hash)
            sqlite3_bind_blob(s, 3, mk, 32, SQLITE_STATIC);
        int rc;
        bool more = false;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            if (p->n == limit) {
                more = true;
                break;
            }
            if ((p->items[p->n] = capvi_reg_entry_from_row(s)) == NULL) {
                st = capvi_err_nomem(err);
                break;
            }
            p->n++;
        }
        if (st == CAPV_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
            st = capvi_reg_sqlite_error(c->db, rc, "listing entries", err);
        if (more && p->n > 0)
            p->next = p->items[p->n - 1]->seq;
        sqlite3_reset(s);
    }
    capvi_reg_reader_release(reg, c);
    if (st != CAPV_OK) {
        capv_registry_page_free(p);
        return capvi_reg_note(reg, st, err);
    }
    *out = p;
    return capvi_reg_note(reg, CAPV_OK, err);
}

size_t capv_registry_page_count(const capv_registry_page *p)
{
    return p ? p->n : 0;
}

const capv_registry_entry *capv_registry_page_entry(const capv_registry_page *p, size_t i)
{
    return p && i < p->n ? p->items[i] : NULL;
}

int64_t capv_registry_page_next(const capv_registry_page *p)
{
    return p ? p->next : 0;
}

void capv_registry_page_free(capv_registry_page *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        capv_registry_entry_free(p->items[i]);
    free(p->items);
    free(p);
}

capv_status capv_registry_count(uint64_t *out, capv_registry *reg, capv_registry_table table,
                                capv_error *err)
{
    int which;
    switch (table) {
    case CAPV_REGISTRY_ENTRIES: which = REG_ST_COUNT_ENTRIES; break;
    case CAPV_REGISTRY_VERIFICATIONS: which = REG_ST_COUNT_VERIFICATIONS; break;
    case CAPV_REGISTRY_POLICIES: which = REG_ST_COUNT_POLICIES; break;
    default: return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown table");
    }
    if (out == NULL || reg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_error lerr_ = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr_;
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
    return capvi_reg_note(reg, st, err);
}

/* ---- verifications --------------------------------------------------------------------- */

static bool text_ok(const char *s, size_t max)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
        if (*p < 0x20 || *p == 0x7f || n >= max)
            return false;
    return n > 0 && capvi_utf8_check((const uint8_t *)s, n, NULL) == CAPV_OK;
}

static bool same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* A random RFC 9562 version 4 UUID. */
static capv_status random_uuid(char out[37], capv_error *err)
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return capvi_err_set(err, CAPV_E_CRYPTO, NULL, "no randomness for a request id");
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
    return CAPV_OK;
}

typedef struct record_args {
    const capv_registry_verification *in;
    int64_t *seq;
    /* the report as it is stored, prepared on the caller's thread (prepare_report) */
    const char *body;    /* NULL: no report */
    size_t body_len;
    size_t full_len;     /* the report's own length */
    bool summary;        /* body is the report's summary */
    uint8_t key[32];     /* SHA3-256 of the report: the stored body's key */
} record_args;

/* An optional digest field: parsed into key (has = false when absent) and canonical text. */
static capv_status opt_digest(bool *has, uint8_t key[32], char text[CAPV_DIGEST_HEX_SIZE],
                              const char *in, const char *field, capv_error *err)
{
    *has = in != NULL;
    if (in == NULL)
        return CAPV_OK;
    if (capv_digest_parse(key, in, strlen(in), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, field, "%s is not a digest", field);
    capv_digest_format(text, key);
    return CAPV_OK;
}

static bool same_blob(const void *stored, int stored_len, const uint8_t *want)
{
    if (stored == NULL || want == NULL)
        return stored == NULL && want == NULL;
    return stored_len == 32 && memcmp(stored, want, 32) == 0;
}

/* The id of the stored body for a->key, inserting the body when it is new. */
static capv_status store_report(int64_t *id, capv_reg_conn *w, const record_args *a,
                                capv_error *err)
{
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, w, REG_ST_REPORT_BY_KEY, err);
    if (st != CAPV_OK)
        return st;
    sqlite3_bind_blob(s, 1, a->key, 32, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return CAPV_OK; /* the same report again (a report cache hit): no second copy */
    if (rc != SQLITE_DONE)
        return capvi_reg_sqlite_error(w->db, rc, "looking up a stored report", err);
    if ((st = capvi_reg_stmt(&s, w, REG_ST_REPORT_INSERT, err)) != CAPV_OK)
        return st;
    sqlite3_bind_blob(s, 1, a->key, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)a->full_len);
    sqlite3_bind_int(s, 3, a->summary ? 1 : 0);
    sqlite3_bind_text64(s, 4, a->body, a->body_len, SQLITE_STATIC, SQLITE_UTF8);
    if ((st = step_done(w->db, s, "storing a report", err)) != CAPV_OK)
        return st;
    *id = sqlite3_last_insert_rowid(w->db);
    return CAPV_OK;
}

static capv_status record_run(capv_registry *reg, capv_reg_conn *w, void *arg, capv_error *err)
{
    record_args *a = arg;
    const capv_registry_verification *in = a->in;
    char rid[37], at[32];
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE], pol[CAPV_DIGEST_HEX_SIZE];
    uint8_t mk[32], pk[32], polk[32];
    bool has_m, has_p, has_pol;
    capv_status st;
    const char *request_id = in->request_id;
    if (request_id == NULL) {
        if ((st = random_uuid(rid, err)) != CAPV_OK)
            return st;
        request_id = rid;
    } else if (!text_ok(request_id, 128)) {
        return capvi_err_set(err, CAPV_E_MALFORMED, "request_id",
                            "request_id must be 1..128 printable characters");
    }
    if (in->subject != NULL && !text_ok(in->subject, 256))
        return capvi_err_set(err, CAPV_E_MALFORMED, "subject",
                            "subject must be 1..256 printable characters");
    if (in->result == NULL || (strcmp(in->result, "ok") != 0 && strcmp(in->result, "warn") != 0 &&
                               strcmp(in->result, "fail") != 0))
        return capvi_err_set(err, CAPV_E_MALFORMED, "result", "result must be ok, warn or fail");
    if ((st = opt_digest(&has_m, mk, mh, in->manifest_hash, "manifest_hash", err)) != CAPV_OK ||
        (st = opt_digest(&has_p, pk, ph, in->proof_hash, "proof_hash", err)) != CAPV_OK ||
        (st = opt_digest(&has_pol, polk, pol, in->policy_hash, "policy_hash", err)) != CAPV_OK)
        return st;
    int64_t ms;
    if (in->verified_at != NULL) {
        if (capv_rfc3339_parse(&ms, in->verified_at, strlen(in->verified_at)) != 0)
            return capvi_err_set(err, CAPV_E_MALFORMED, "verified_at",
                                "verified_at is not an RFC 3339 time");
        snprintf(at, sizeof at, "%s", in->verified_at);
    } else {
        ms = capvi_reg_now_ms(reg);
        capv_rfc3339_format(at, ms);
    }
    /* an earlier record under the same request id: a retry, or a conflict */
    sqlite3_stmt *s = NULL;
    if ((st = capvi_reg_stmt(&s, w, REG_ST_VER_BY_REQUEST, err)) != CAPV_OK)
        return st;
    sqlite3_bind_text(s, 1, request_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        bool same = same_text(col_text(s, 2), in->subject) &&
                    same_text(col_text(s, 3), has_m ? mh : NULL) &&
                    same_text(col_text(s, 4), has_p ? ph : NULL) &&
                    same_text(col_text(s, 5), has_pol ? pol : NULL) &&
                    same_text(col_text(s, 6), in->result) &&
                    same_blob(sqlite3_column_blob(s, 9), sqlite3_column_bytes(s, 9),
                              a->body ? a->key : NULL) &&
                    (in->verified_at == NULL || same_text(col_text(s, 8), at));
        if (a->seq)
            *a->seq = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        return same ? capvi_err_set(err, CAPV_E_EXISTS, "request_id",
                                   "verification '%s' is already recorded", request_id)
                    : capvi_err_set(err, CAPV_E_CONFLICT, "request_id",
                                   "verification '%s' was recorded with other content",
                                   request_id);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return capvi_reg_sqlite_error(w->db, rc, "looking up a verification", err);
    int64_t report_id = 0;
    if (a->body != NULL && (st = store_report(&report_id, w, a, err)) != CAPV_OK)
        return st;
    if ((st = capvi_reg_stmt(&s, w, REG_ST_VER_INSERT, err)) != CAPV_OK)
        return st;
    sqlite3_bind_text(s, 1, request_id, -1, SQLITE_STATIC);
    if (in->subject)
        sqlite3_bind_text(s, 2, in->subject, -1, SQLITE_STATIC);
    if (has_m)
        sqlite3_bind_text(s, 3, mh, -1, SQLITE_STATIC);
    if (has_p)
        sqlite3_bind_text(s, 4, ph, -1, SQLITE_STATIC);
    if (has_pol)
        sqlite3_bind_text(s, 5, pol, -1, SQLITE_STATIC);
    if (has_m && has_p) {
        sqlite3_bind_blob(s, 6, mk, 32, SQLITE_STATIC);
        sqlite3_bind_blob(s, 7, pk, 32, SQLITE_STATIC);
    }
    sqlite3_bind_text(s, 8, in->result, -1, SQLITE_STATIC);
    if (a->body != NULL)
        sqlite3_bind_int64(s, 9, report_id);
    sqlite3_bind_text(s, 10, at, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 11, ms);
    if ((st = step_done(w->db, s, "recording a verification", err)) != CAPV_OK)
        return st;
    if (a->seq)
        *a->seq = sqlite3_last_insert_rowid(w->db);
    return CAPV_OK;
}

/* What is stored for v->report_json: the report itself when it fits the cap, else its
 * summary (built in `sum`), keyed by the report's SHA3-256 either way. The hashing and the
 * summary run here, on the caller's thread, not on the writer's. `root` is the parsed report
 * when the caller has it. */
static capv_status prepare_report(record_args *a, capv_registry *reg,
                                  const capv_registry_verification *v, size_t len,
                                  const cJSON *root, capv_buf *sum, capv_error *err)
{
    a->body = NULL;
    if (v->report_json == NULL)
        return CAPV_OK;
    const uint8_t *bytes = (const uint8_t *)v->report_json;
    if (root == NULL && capv_json_validate(bytes, len, NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_MALFORMED, "report_json", "report_json is not JSON");
    capv_status st = capv_hash(a->key, CAPV_HASH_SHA3_256, bytes, len, err);
    if (st != CAPV_OK)
        return st;
    a->full_len = len;
    size_t cap = atomic_load(&reg->max_report);
    if (len <= cap) {
        a->body = v->report_json;
        a->body_len = len;
        a->summary = false;
        return CAPV_OK;
    }
    cJSON *own = NULL;
    if (root == NULL) {
        /* valid JSON the strict parser refuses (a repeated key): summarized without it */
        if (capvi_json_parse(&own, bytes, len, NULL) == CAPV_OK)
            root = own;
    }
    st = capvi_reg_report_summary(sum, root, v, a->key, len, cap, err);
    cJSON_Delete(own);
    if (st != CAPV_OK)
        return st;
    a->body = (const char *)sum->data;
    a->body_len = sum->len;
    a->summary = true;
    return CAPV_OK;
}

/* Records `v`, whose report (if any) is `report_len` bytes long and, when `root` is not NULL,
 * already parsed. */
static capv_status record(int64_t *seq, capv_registry *reg, const capv_registry_verification *v,
                          size_t report_len, const cJSON *root, capv_error *err)
{
    record_args a;
    memset(&a, 0, sizeof a);
    a.in = v;
    a.seq = seq;
    capv_buf sum = CAPV_BUF_INIT;
    capv_status st = prepare_report(&a, reg, v, report_len, root, &sum, err);
    if (st != CAPV_OK) {
        capvi_buf_free(&sum);
        return st;
    }
    capv_reg_write q;
    memset(&q, 0, sizeof q);
    q.run = record_run;
    q.arg = &a;
    capvi_reg_submit(reg, &q);
    st = finish_write(&q, err);
    if (st == CAPV_OK && a.summary)
        atomic_fetch_add(&reg->summarized, 1);
    capvi_buf_free(&sum);
    return st;
}

capv_status capv_registry_record(int64_t *seq, capv_registry *reg,
                                 const capv_registry_verification *v, capv_error *err)
{
    if (seq != NULL)
        *seq = 0;
    if (reg == NULL || v == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (v->version != CAPV_REGISTRY_VERIFICATION_VERSION)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown verification struct version");
    return record(seq, reg, v, v->report_json ? strlen(v->report_json) : 0, NULL, err);
}

capv_status capv_registry_record_report(int64_t *seq, capv_registry *reg,
                                        const capv_report *report, const char *request_id,
                                        const char *subject, capv_error *err)
{
    if (reg == NULL || report == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    char *json = NULL;
    size_t len = 0;
    capv_status st = capv_report_to_json(&json, &len, report, 0, err);
    if (st != CAPV_OK)
        return st;
    st = capv_registry_record_report_json(seq, reg, json, len, request_id, subject, err);
    capv_free(json);
    return st;
}

capv_status capv_registry_record_report_json(int64_t *seq, capv_registry *reg, const char *json,
                                             size_t len, const char *request_id,
                                             const char *subject, capv_error *err)
{
    if (seq != NULL)
        *seq = 0;
    if (reg == NULL || json == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    cJSON *root = NULL;
    capv_status st = capvi_json_parse(&root, (const uint8_t *)json, len, err);
    if (st != CAPV_OK)
        return st;
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    const cJSON *m;
    if (capvi_json_get_string(&v.result, root, "report", "result", true, err) != CAPV_OK ||
        capvi_json_get_string(&v.verified_at, root, "report", "verified_at", true, err) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_MALFORMED, "report", "not a verification report");
    /* hashes are null for multi-unit bundles */
    if ((m = capvi_json_get(root, "manifest_hash")) && cJSON_IsString(m))
        v.manifest_hash = m->valuestring;
    if ((m = capvi_json_get(root, "proof_hash")) && cJSON_IsString(m))
        v.proof_hash = m->valuestring;
    if ((m = capvi_json_get(root, "policy_hash")) && cJSON_IsString(m))
        v.policy_hash = m->valuestring;
    v.request_id = request_id;
    v.subject = subject;
    v.report_json = json;
    st = record(seq, reg, &v, len, root, err);
out:
    cJSON_Delete(root);
    return st;
}

/* One allocation holding the struct and its strings. */
static void *pack_strings(size_t head, const char **dst[], const char *const src[], size_t n)
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

capv_registry_entry *capvi_reg_entry_copy(const capv_registry_entry *in)
{
    const char *src[10] = { in->id,          in->manifest_hash, in->proof_hash,
                            in->timestamp_file, in->registered_at, in->policy_hash,
                            in->signature,   in->public_key,    in->kid,
                            in->signature_scheme };
    capv_registry_entry tmp;
    const char **dst[10] = { &tmp.id,          &tmp.manifest_hash, &tmp.proof_hash,
                             &tmp.timestamp_file, &tmp.registered_at, &tmp.policy_hash,
                             &tmp.signature,   &tmp.public_key,    &tmp.kid,
                             &tmp.signature_scheme };
    capv_registry_entry *e = pack_strings(sizeof *e, dst, src, 10);
    if (e == NULL)
        return NULL;
    tmp.version = CAPV_REGISTRY_ENTRY_VERSION;
    tmp.seq = in->seq;
    *e = tmp;
    return e;
}

capv_registry_entry *capvi_reg_entry_from_row(sqlite3_stmt *s)
{
    const char *src[10];
    for (int i = 0; i < 10; i++)
        src[i] = col_text(s, i + 1);
    capv_registry_entry tmp;
    const char **dst[10] = { &tmp.id,          &tmp.manifest_hash, &tmp.proof_hash,
                             &tmp.timestamp_file, &tmp.registered_at, &tmp.policy_hash,
                             &tmp.signature,   &tmp.public_key,    &tmp.kid,
                             &tmp.signature_scheme };
    capv_registry_entry *e = pack_strings(sizeof *e, dst, src, 10);
    if (e == NULL)
        return NULL;
    tmp.version = CAPV_REGISTRY_ENTRY_VERSION;
    tmp.seq = sqlite3_column_int64(s, 0);
    *e = tmp;
    return e;
}

void capv_registry_entry_free(capv_registry_entry *e)
{
    free(e);
}

capv_status capv_registry_get_verification(capv_registry_verification **out,
                                           capv_registry *reg, const char *request_id,
                                           capv_error *err)
{
    if (out == NULL || reg == NULL || request_id == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_error lerr_ = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr_;
    capv_reg_conn *c = capvi_reg_reader_acquire(reg);
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, c, REG_ST_VER_BY_REQUEST, err);
    if (st == CAPV_OK) {
        sqlite3_bind_text(s, 1, request_id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            const char *src[8];
            for (int i = 0; i < 8; i++)
                src[i] = col_text(s, i + 1);
            capv_registry_verification tmp;
            const char **dst[8] = { &tmp.request_id,  &tmp.subject, &tmp.manifest_hash,
                                    &tmp.proof_hash,  &tmp.policy_hash, &tmp.result,
                                    &tmp.report_json, &tmp.verified_at };
            capv_registry_verification *v = pack_strings(sizeof *v, dst, src, 8);
            if (v == NULL) {
                st = capvi_err_nomem(err);
            } else {
                tmp.version = CAPV_REGISTRY_VERIFICATION_VERSION;
                tmp.seq = sqlite3_column_int64(s, 0);
                *v = tmp;
                *out = v;
            }
        } else if (rc == SQLITE_DONE) {
            st = capvi_err_set(err, CAPV_E_NOT_FOUND, "request_id",
                              "no verification recorded under '%.200s'", request_id);
        } else {
            st = capvi_reg_sqlite_error(c->db, rc, "looking up a verification", err);
        }
        sqlite3_reset(s);
    }
    capvi_reg_reader_release(reg, c);
    return capvi_reg_note(reg, st, err);
}

void capv_registry_verification_free(capv_registry_verification *v)
{
    free(v);
}

/* ---- policies -------------------------------------------------------------------------- */

static capv_registry_policy *policy_from_row(sqlite3_stmt *s)
{
    const char *src[6];
    for (int i = 0; i < 6; i++)
        src[i] = col_text(s, i);
    capv_registry_policy tmp;
    const char **dst[6] = { &tmp.policy_id, &tmp.policy_version, &tmp.policy_hash,
                            &tmp.ir_hash,   &tmp.ir_json,        &tmp.created_at };
    capv_registry_policy *p = pack_strings(sizeof *p, dst, src, 6);
    if (p != NULL) {
        tmp.version = CAPV_REGISTRY_POLICY_VERSION;
        *p = tmp;
    }
    return p;
}

static capv_status policy_run(capv_registry *reg, capv_reg_conn *w, void *arg, capv_error *err)
{
    const capv_registry_policy *in = arg;
    uint8_t key[32], irk[32];
    if (in->policy_id == NULL || !text_ok(in->policy_id, 128))
        return capvi_err_set(err, CAPV_E_MALFORMED, "policy_id",
                            "policy_id must be 1..128 printable characters");
    if (in->policy_version == NULL || !text_ok(in->policy_version, 64))
        return capvi_err_set(err, CAPV_E_MALFORMED, "policy_version",
                            "policy_version must be 1..64 printable characters");
    if (in->policy_hash == NULL ||
        capv_digest_parse(key, in->policy_hash, strlen(in->policy_hash), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, "policy_hash", "policy_hash is not a digest");
    if (in->ir_hash == NULL || capv_digest_parse(irk, in->ir_hash, strlen(in->ir_hash), NULL) !=
                                   CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, "ir_hash", "ir_hash is not a digest");
    if (in->ir_json == NULL ||
        capv_json_validate((const uint8_t *)in->ir_json, strlen(in->ir_json), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_MALFORMED, "ir_json", "ir_json is not JSON");
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
            uint8_t have[32];
            const char *ph = col_text(s, 2), *ih = col_text(s, 3);
            bool same = ph && ih &&
                        capv_digest_parse(have, ph, strlen(ph), NULL) == CAPV_OK &&
                        memcmp(have, key, 32) == 0 &&
                        capv_digest_parse(have, ih, strlen(ih), NULL) == CAPV_OK &&
                        memcmp(have, irk, 32) == 0 && same_text(col_text(s, 0), in->policy_id) &&
                        same_text(col_text(s, 1), in->policy_version) &&
                        same_text(col_text(s, 4), in->ir_json);
            sqlite3_reset(s);
            return same ? capvi_err_set(err, CAPV_E_EXISTS, "policy_hash",
                                       "policy '%s' %s is already stored", in->policy_id,
                                       in->policy_version)
                        : capvi_err_set(err, CAPV_E_CONFLICT, pass ? "policy_id" : "policy_hash",
                                       "policy '%s' %s conflicts with a stored policy",
                                       in->policy_id, in->policy_version);
        }
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return capvi_reg_sqlite_error(w->db, rc, "looking up a policy", err);
    }
    char at[32];
    capvi_reg_now(reg, at);
    if ((st = capvi_reg_stmt(&s, w, REG_ST_POL_INSERT, err)) != CAPV_OK)
        return st;
    sqlite3_bind_text(s, 1, in->policy_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, in->policy_version, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, in->policy_hash, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, key, 32, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, in->ir_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, in->ir_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, in->created_at ? in->created_at : at, -1, SQLITE_STATIC);
    return step_done(w->db, s, "storing a policy", err);
}

capv_status capv_registry_put_policy(capv_registry *reg, const capv_registry_policy *policy,
                                     capv_error *err)
{
    if (reg == NULL || policy == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (policy->version != CAPV_REGISTRY_POLICY_VERSION)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown policy struct version");
    capv_reg_write q;
    memset(&q, 0, sizeof q);
    q.run = policy_run;
    q.arg = (void *)policy;
    capvi_reg_submit(reg, &q);
    return finish_write(&q, err);
}

capv_status capv_registry_get_policy(capv_registry_policy **out, capv_registry *reg,
                                     const char *key, capv_error *err)
{
    if (out == NULL || reg == NULL || key == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    uint8_t k[32];
    bool by_hash = capv_digest_parse(k, key, strlen(key), NULL) == CAPV_OK;
    capv_error lerr_ = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr_;
    capv_reg_conn *c = capvi_reg_reader_acquire(reg);
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, c, by_hash ? REG_ST_POL_BY_KEY : REG_ST_POL_BY_ID, err);
    if (st == CAPV_OK) {
        if (by_hash)
            sqlite3_bind_blob(s, 1, k, 32, SQLITE_STATIC);
        else
            sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            st = (*out = policy_from_row(s)) ? CAPV_OK : capvi_err_nomem(err);
        else if (rc == SQLITE_DONE)
            st = capvi_err_set(err, CAPV_E_NOT_FOUND, NULL, "no stored policy '%.200s'", key);
        else
            st = capvi_reg_sqlite_error(c->db, rc, "looking up a policy", err);
        sqlite3_reset(s);
    }
    capvi_reg_reader_release(reg, c);
    return capvi_reg_note(reg, st, err);
}

void capv_registry_policy_free(capv_registry_policy *p)
{
    free(p);
}
