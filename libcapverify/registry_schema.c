/* SPDX-License-Identifier: Apache-2.0 */
/* Schema versions of the registry and the forward migrations between them
 * (docs/registry.md, "Schema" and "Migrations"). migrations[n] takes version n to n + 1,
 * each in its own BEGIN IMMEDIATE … COMMIT with the user_version update inside. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_entry_int.h"
#include "registry_schema_int.h"

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

/* ---- reading the schema ---------------------------------------------------------------- */

static capv_status table_exists(bool *out, sqlite3 *db, const char *name, capv_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                "name = ?1",
                                -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        *out = rc == SQLITE_ROW;
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    capv_status st =
        rc == SQLITE_OK ? CAPV_OK : capvi_reg_sqlite_error(db, rc, "reading the schema", err);
    sqlite3_finalize(s);
    return st;
}

capv_status capvi_reg_schema_probe(int *version, bool *legacy, sqlite3 *db, capv_error *err)
{
    int64_t uv = 0, tables = 0;
    capv_status st = capvi_reg_query_int(&uv, db, "PRAGMA user_version", err);
    if (st != CAPV_OK)
        return st;
    if ((st = capvi_reg_query_int(&tables, db,
                                  "SELECT count(*) FROM sqlite_master WHERE "
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
    int rc = sqlite3_prepare_v2(db,
                                "SELECT id, manifest_hash, proof_hash, timestamp_file, "
                                "registered_at, signature, public_key, kid, "
                                "signature_scheme FROM registry_entries ORDER BY rowid",
                                -1, &s, NULL);
    if (rc != SQLITE_OK) {
        st = capvi_reg_sqlite_error(db, rc, "reading legacy entries", err);
        goto out;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        capv_registry_entry in = CAPV_REGISTRY_ENTRY_INIT;
        in.id = capvi_reg_col_text(s, 0);
        in.manifest_hash = capvi_reg_col_text(s, 1);
        in.proof_hash = capvi_reg_col_text(s, 2);
        in.timestamp_file = capvi_reg_col_text(s, 3);
        in.registered_at = capvi_reg_col_text(s, 4);
        in.signature = capvi_reg_col_text(s, 5);
        in.public_key = capvi_reg_col_text(s, 6);
        in.kid = capvi_reg_col_text(s, 7);
        in.signature_scheme = capvi_reg_col_text(s, 8);
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
        st = capvi_reg_exec(db,
                            "INSERT OR REPLACE INTO registry_meta (key, value) VALUES "
                            "('migrated_from', 'legacy registry_entries')",
                            err);
    }
    return st;
}

/* Moves one verification's report (if any) into `reports` and fills verified_ms. `one`
 * reads the row; it is reset before the row is updated. */
static capv_status migrate_row(sqlite3 *db, sqlite3_stmt *one, sqlite3_stmt *find,
                               sqlite3_stmt *ins, sqlite3_stmt *upd, int64_t seq, capv_error *err)
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
    bool has_ms = at != NULL && capv_rfc3339_parse(&ms, at, strlen(at), NULL) == CAPV_OK;
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
    int rc = sqlite3_prepare_v2(db,
                                "SELECT seq FROM verifications WHERE seq > ?1 ORDER BY seq "
                                "LIMIT ?2",
                                -1, &page, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "SELECT report, verified_at FROM verifications WHERE "
                                "seq = ?1",
                                -1, &one, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, capvi_reg_stmt_sql(REG_ST_REPORT_BY_KEY), -1, &find, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, capvi_reg_stmt_sql(REG_ST_REPORT_INSERT), -1, &ins, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "UPDATE verifications SET report_id = ?1, verified_ms = ?2 "
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

/* 2 → 3, for the cost of recording a verification:
 * - the CHECK on verifications.result as comparisons instead of an IN list. SQLite evaluates
 *   an IN list of three constants through a temporary b-tree that it builds again for every
 *   row inserted. The constraint admits the same values, so only the table's SQL text
 *   changes, by SQLite's documented procedure for constraint changes that leave the stored
 *   content as it is (lang_altertable.html, "Making Other Kinds Of Table Schema Changes"):
 *   writable_schema, the new text, schema_version + 1, and the connection's schema reloaded;
 * - the indexes on verifications.manifest_hash and entry_seq dropped: no query reads them
 *   (entries are never deleted), and every insert paid for both. */
static const char check_v2[] = "CHECK (result IN ('ok', 'warn', 'fail'))";
static const char check_v3[] = "CHECK (result = 'ok' OR result = 'warn' OR result = 'fail')";

static capv_status migrate_2_to_3(uint64_t *copied, sqlite3 *db, capv_error *err)
{
    (void)copied;
    int64_t cookie = 0;
    capv_status st = capvi_reg_query_int(&cookie, db, "PRAGMA schema_version", err);
    if (st != CAPV_OK || (st = capvi_reg_exec(db, "PRAGMA writable_schema = ON", err)) != CAPV_OK)
        return st;
    sqlite3_stmt *upd = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "UPDATE sqlite_schema SET sql = replace(sql, ?1, ?2) WHERE type = "
                                "'table' AND name = 'verifications' AND instr(sql, ?1) > 0",
                                -1, &upd, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(upd, 1, check_v2, -1, SQLITE_STATIC);
        sqlite3_bind_text(upd, 2, check_v3, -1, SQLITE_STATIC);
        rc = sqlite3_step(upd);
    }
    sqlite3_finalize(upd);
    if (rc != SQLITE_DONE)
        st = capvi_reg_sqlite_error(db, rc, "migrating the verifications table", err);
    else if (sqlite3_changes(db) != 1)
        st = capvi_err_set(err, CAPV_E_UNSUPPORTED_FORMAT, NULL,
                           "the verifications table is not the one this library creates (no "
                           "%s)",
                           check_v2);
    if (st == CAPV_OK) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA schema_version = %lld", (long long)cookie + 1);
        st = capvi_reg_exec(db, sql, err);
    }
    /* RESET: off again, and the schema read anew (also after a failure) */
    capv_status off = capvi_reg_exec(db, "PRAGMA writable_schema = RESET", err);
    if (st != CAPV_OK || off != CAPV_OK)
        return st != CAPV_OK ? st : off;
    return capvi_reg_exec(db, "DROP INDEX verifications_manifest; DROP INDEX verifications_entry",
                          err);
}

typedef capv_status (*migration_fn)(uint64_t *copied, sqlite3 *db, capv_error *err);
/* migrations[n] takes version n to n + 1. Append only. */
static const migration_fn migrations[CAPV_REGISTRY_SCHEMA_VERSION] = { migrate_0_to_1,
                                                                       migrate_1_to_2,
                                                                       migrate_2_to_3 };

static capv_status migrate_range(uint64_t *migrated_rows, sqlite3 *db, int from, int to,
                                 capv_error *err)
{
    for (int v = from; v < to; v++) {
        capv_status st = capvi_reg_exec(db, "BEGIN IMMEDIATE", err);
        if (st != CAPV_OK)
            return st;
        /* re-read inside the transaction: another process may have migrated meanwhile */
        int64_t uv = 0;
        if ((st = capvi_reg_query_int(&uv, db, "PRAGMA user_version", err)) == CAPV_OK && uv == v) {
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

capv_status capvi_reg_migrate(uint64_t *migrated_rows, sqlite3 *db, int from, capv_error *err)
{
    return migrate_range(migrated_rows, db, from, CAPV_REGISTRY_SCHEMA_VERSION, err);
}

/* ---- the schema objects this library creates ------------------------------------------ */

/* The existing implementation's tables and index (the vectors in peer/registry, whose
 * registry_entries gained kid and signature_scheme in its v0.10): a database migrated from it
 * keeps them, so its expected schema starts from them. */
/* What both layouts share: registry_meta and the v0.9 columns of registry_entries, up to
 * its last v0.9 column (v0.10 appends two more). */
#define LEGACY_SCHEMA_HEAD                                                                         \
    "CREATE TABLE registry_meta (\n"                                                               \
    "    key TEXT PRIMARY KEY,\n"                                                                  \
    "    value TEXT NOT NULL\n"                                                                    \
    ");\n"                                                                                         \
    "CREATE TABLE registry_entries (\n"                                                            \
    "    id TEXT PRIMARY KEY,\n"                                                                   \
    "    manifest_hash TEXT NOT NULL,\n"                                                           \
    "    proof_hash TEXT NOT NULL,\n"                                                              \
    "    timestamp_file TEXT,\n"                                                                   \
    "    registered_at TEXT NOT NULL,\n"                                                           \
    "    signature TEXT,\n"                                                                        \
    "    public_key TEXT,\n"                                                                       \
    "    -- BLOB fields (v0.9)\n"                                                                  \
    "    blob_manifest TEXT,\n"                                                                    \
    "    blob_proof TEXT,\n"                                                                       \
    "    blob_wasm TEXT,\n"                                                                        \
    "    blob_abi TEXT,\n"                                                                         \
    "    -- Self-verification fields (v0.9)\n"                                                     \
    "    selfverify_status TEXT,\n"                                                                \
    "    selfverify_at TEXT,\n"                                                                    \
    "    verifier_name TEXT,\n"                                                                    \
    "    verifier_version TEXT"
#define LEGACY_SCHEMA_INDEX                                                                        \
    "CREATE INDEX idx_registry_hashes\n"                                                           \
    "    ON registry_entries (manifest_hash, proof_hash);\n"
static const char legacy_schema_v0_9[] = LEGACY_SCHEMA_HEAD "\n"
                                                            ");\n" LEGACY_SCHEMA_INDEX;
static const char legacy_schema_v0_10[] =
    LEGACY_SCHEMA_HEAD ",\n"
                       "    -- Key management fields (v0.10)\n"
                       "    kid TEXT,\n"
                       "    signature_scheme TEXT\n"
                       ");\n" LEGACY_SCHEMA_INDEX;

/* The starting points a registry database can have: empty, or one of the legacy layouts. */
static const char *const origins[] = { "", legacy_schema_v0_9, legacy_schema_v0_10 };
#define NORIGINS (sizeof origins / sizeof origins[0])

typedef struct schema_obj {
    char *type, *name, *tbl;
    char *sql;     /* normalized (norm_sql); NULL for SQLite's automatic indexes */
    bool optional; /* may be absent (SQLite's statistics tables, made by ANALYZE) */
} schema_obj;

typedef struct schema_set {
    schema_obj *v;
    size_t n, cap;
} schema_set;

static void set_free(schema_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].type);
        free(s->v[i].name);
        free(s->v[i].tbl);
        free(s->v[i].sql);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

static bool sql_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool sql_punct(char c)
{
    return c == '(' || c == ')' || c == ',' || c == ';';
}

/* A CREATE statement with the whitespace that cannot matter taken out: outside quoted
 * names and literals, runs of white space become one space, and none is kept next to
 * ( ) , ; — so that the text SQLite keeps after ALTER TABLE (which splices column
 * definitions into it) compares equal whatever the layout, while every token, literal and
 * comment still has to match. */
static char *norm_sql(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    if (out == NULL)
        return NULL;
    char quote = 0;
    bool space = false;
    for (const char *p = s; *p != '\0'; p++) {
        char c = *p;
        if (quote != 0) {
            *o++ = c;
            if (c == quote)
                quote = 0; /* a doubled quote closes and reopens: the same bytes either way */
            continue;
        }
        if (sql_space(c)) {
            space = true;
            continue;
        }
        if (space && o > out && !sql_punct(o[-1]) && !sql_punct(c))
            *o++ = ' ';
        space = false;
        if (c == '\'' || c == '"' || c == '`')
            quote = c;
        else if (c == '[')
            quote = ']';
        *o++ = c;
    }
    *o = '\0';
    return out;
}

static const schema_obj *set_find(const schema_set *s, const char *type, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].type, type) == 0 && strcmp(s->v[i].name, name) == 0)
            return &s->v[i];
    return NULL;
}

/* Appends an object (copies of the strings; `sql` NULL for an automatic index). */
static capv_status set_add(schema_set *out, const char *type, const char *name, const char *tbl,
                           const char *sql, capv_error *err)
{
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 16;
        schema_obj *v = realloc(out->v, cap * sizeof *v);
        if (v == NULL)
            return capvi_err_nomem(err);
        out->v = v;
        out->cap = cap;
    }
    schema_obj *o = &out->v[out->n++];
    memset(o, 0, sizeof *o);
    o->type = strdup(type);
    o->name = strdup(name);
    o->tbl = strdup(tbl);
    o->sql = sql ? norm_sql(sql) : NULL;
    if (o->type == NULL || o->name == NULL || o->tbl == NULL || (sql != NULL && !o->sql))
        return capvi_err_nomem(err);
    return CAPV_OK;
}

/* Every row of sqlite_schema (type, name, tbl_name, sql). */
static capv_status set_read(schema_set *out, sqlite3 *db, capv_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY "
                                "type, name",
                                -1, &s, NULL);
    capv_status st = CAPV_OK;
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        const char *type = (const char *)sqlite3_column_text(s, 0);
        const char *name = (const char *)sqlite3_column_text(s, 1);
        const char *tbl = (const char *)sqlite3_column_text(s, 2);
        CAPV_TRY(set_add(out, type ? type : "", name ? name : "", tbl ? tbl : "",
                         (const char *)sqlite3_column_text(s, 3), err));
    }
    if (rc != SQLITE_DONE)
        st = capvi_reg_sqlite_error(db, rc, "reading the schema", err);
out:
    sqlite3_finalize(s);
    return st;
}

/* The schema objects that our migrations create from `origin` up to `version`, built in a
 * private in-memory database: the migrations are the one definition of the schema. SQLite's
 * statistics tables (ANALYZE, PRAGMA optimize) are allowed, as SQLite itself defines them. */
static capv_status set_expected(schema_set *out, const char *origin, int version, capv_error *err)
{
    sqlite3 *db = NULL;
    capv_status st = CAPV_OK;
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "cannot open an in-memory database");
    if (*origin)
        CAPV_TRY(capvi_reg_exec(db, origin, err));
    uint64_t rows = 0;
    CAPV_TRY(migrate_range(&rows, db, 0, version, err));
    size_t ours = 0;
    CAPV_TRY(set_read(out, db, err));
    ours = out->n;
    CAPV_TRY(capvi_reg_exec(db, "ANALYZE", err));
    set_free(out);
    CAPV_TRY(set_read(out, db, err));
    if (out->n < ours)
        CAPV_FAIL(err, CAPV_E_INTERNAL, NULL, "ANALYZE removed schema objects");
    /* a SQLite built with SQLITE_ENABLE_STAT4 also keeps sqlite_stat4, in this form */
    if (set_find(out, "table", "sqlite_stat4") == NULL)
        CAPV_TRY(set_add(out, "table", "sqlite_stat4", "sqlite_stat4",
                         "CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)", err));
    for (size_t i = 0; i < out->n; i++)
        out->v[i].optional = strncmp(out->v[i].name, "sqlite_stat", 11) == 0;
out:
    sqlite3_close(db);
    return st;
}

static bool same_sql(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* The differences between the actual and the expected objects: reported through `fn` (may be
 * NULL) and counted. */
static size_t set_diff(const schema_set *actual, const schema_set *expected, capvi_reg_schema_fn fn,
                       void *user)
{
    size_t n = 0;
    char msg[CAPV_ERROR_MESSAGE_SIZE];
    for (size_t i = 0; i < actual->n; i++) {
        const schema_obj *a = &actual->v[i];
        const schema_obj *e = set_find(expected, a->type, a->name);
        if (e != NULL && strcmp(e->tbl, a->tbl) == 0 && same_sql(e->sql, a->sql))
            continue;
        n++;
        if (fn == NULL)
            continue;
        if (e == NULL)
            snprintf(msg, sizeof msg, "an unexpected %s '%s' on table '%s' (%.96s%s)", a->type,
                     a->name, a->tbl, a->sql ? a->sql : "automatic",
                     a->sql && strlen(a->sql) > 96 ? "…" : "");
        else
            snprintf(msg, sizeof msg, "%s '%s' is not the one this library creates (%.96s%s)",
                     a->type, a->name, a->sql ? a->sql : "automatic",
                     a->sql && strlen(a->sql) > 96 ? "…" : "");
        fn(user, a->type, a->name, msg);
    }
    for (size_t i = 0; i < expected->n; i++) {
        const schema_obj *e = &expected->v[i];
        if (e->optional || set_find(actual, e->type, e->name) != NULL)
            continue;
        n++;
        if (fn != NULL) {
            snprintf(msg, sizeof msg, "%s '%s' is missing", e->type, e->name);
            fn(user, e->type, e->name, msg);
        }
    }
    return n;
}

capv_status capvi_reg_schema_compare(size_t *differences, sqlite3 *db, int version,
                                     capvi_reg_schema_fn fn, void *user, capv_error *err)
{
    *differences = 0;
    if (version < 0 || version > CAPV_REGISTRY_SCHEMA_VERSION)
        return capvi_err_set(err, CAPV_E_UNSUPPORTED_FORMAT, NULL,
                             "registry schema version %d is not one this library knows", version);
    schema_set actual = { 0 }, expected = { 0 };
    capv_status st = set_read(&actual, db, err);
    if (st != CAPV_OK)
        goto out;
    /* the layout it started from: a legacy one keeps registry_entries */
    bool legacy = set_find(&actual, "table", "registry_entries") != NULL;
    size_t best = SIZE_MAX, best_origin = 0;
    for (size_t i = legacy ? 1 : 0; i < (legacy ? NORIGINS : 1); i++) {
        CAPV_TRY(set_expected(&expected, origins[i], version, err));
        size_t d = set_diff(&actual, &expected, NULL, NULL);
        set_free(&expected);
        if (d < best) {
            best = d;
            best_origin = i;
        }
    }
    if (best > 0) {
        CAPV_TRY(set_expected(&expected, origins[best_origin], version, err));
        *differences = set_diff(&actual, &expected, fn, user);
    }
out:
    set_free(&actual);
    set_free(&expected);
    return st;
}
