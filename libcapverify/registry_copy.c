/* SPDX-License-Identifier: Apache-2.0 */
/* Copying a registry between storages (docs/registry.md, "Copy between storages"): every row
 * of one registry's snapshot into another, with the same ids, sequence numbers and texts, in
 * one transaction of the target's writer.
 *
 * A row travels in the layout of capvi_pg_snapshot_rows (registry_pg_int.h): NUL-terminated
 * column texts with their lengths, integers in decimal, bytea / BLOB columns as raw bytes. A
 * PostgreSQL source hands its rows over in that layout; a SQLite source is read with
 * prepared SELECTs in primary-key order and converted to it. A SQLite target binds them to
 * INSERT statements on its write connection, a PostgreSQL target buffers them into
 * multi-row statements (registry_pg_load.c). Before the commit the target's row counts must
 * equal the rows read; after it, capv_registry_copy re-verifies every entry signature the
 * target holds. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_copy_int.h"
#include "registry_entry_int.h"
#include "registry_pg_int.h"
#include "registry_pg_load_int.h"
#include "registry_writer_int.h"

#define COPY_MAX_COLUMNS 13
#define COPY_PROGRESS_ROWS 4096u
#define VERIFY_PAGE 500u

/* The tables in the order rows may reference each other, with the column types of
 * capvi_pg_snapshot_rows (i integer, t text, b bytes) and their SQLite statements. */
enum { T_META, T_ENTRIES, T_REPORTS, T_VERIFICATIONS, T_POLICIES, T_COUNT };
static const struct {
    const char *table;
    const char *types;
    const char *select;
    const char *insert;
} tables[T_COUNT] = {
    { "registry_meta", "tt", "SELECT key, value FROM registry_meta ORDER BY key",
      "INSERT OR REPLACE INTO registry_meta (key, value) VALUES (?1, ?2)" },
    { "entries", "itttbbttttttt",
      "SELECT seq, id, manifest_hash, proof_hash, manifest_key, proof_key, timestamp_file, "
      "registered_at, policy_hash, signature, public_key, kid, signature_scheme FROM entries "
      "ORDER BY seq",
      "INSERT INTO entries (seq, id, manifest_hash, proof_hash, manifest_key, proof_key, "
      "timestamp_file, registered_at, policy_hash, signature, public_key, kid, "
      "signature_scheme) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)" },
    { "reports", "ibiit", "SELECT id, sha3, bytes, summary, json FROM reports ORDER BY id",
      "INSERT INTO reports (id, sha3, bytes, summary, json) VALUES (?1, ?2, ?3, ?4, ?5)" },
    { "verifications", "itttttittii",
      "SELECT seq, request_id, subject, manifest_hash, proof_hash, policy_hash, entry_seq, "
      "result, verified_at, report_id, verified_ms FROM verifications ORDER BY seq",
      "INSERT INTO verifications (seq, request_id, subject, manifest_hash, proof_hash, "
      "policy_hash, entry_seq, result, verified_at, report_id, verified_ms) VALUES (?1, ?2, ?3, "
      "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)" },
    { "policies", "itttbttt",
      "SELECT seq, policy_id, policy_version, policy_hash, policy_key, ir_hash, ir, created_at "
      "FROM policies ORDER BY seq",
      "INSERT INTO policies (seq, policy_id, policy_version, policy_hash, policy_key, ir_hash, "
      "ir, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)" },
};

/* One copy: exactly one source (src_db or src_pg) and one target (dst_db or load). */
typedef struct copy_pipe {
    sqlite3 *src_db;          /* inside a read transaction */
    capvi_pg *src_pg;         /* inside a snapshot */
    sqlite3 *dst_db;          /* inside a write transaction */
    capvi_reg_keys *dst_keys; /* dst_db is a registry's writer: its entries' keys */
    capvi_pg_load *load;
    sqlite3_stmt *ins; /* dst_db: the current table's insert */
    size_t t;          /* the current table */
    bool target_failed;
    uint64_t rows[T_COUNT]; /* rows read (registry_meta: those copied) */
    uint64_t done;
    bool verify_entries; /* an entry whose signature does not verify stops the copy */
    capv_progress_fn progress;
    void *user;
} copy_pipe;

/* ---- the target ------------------------------------------------------------------------ */

static capv_status sqlite_put(copy_pipe *c, const char *const *cols, const int *lens, int ncols,
                              capv_error *err)
{
    const char *types = tables[c->t].types;
    sqlite3_reset(c->ins);
    sqlite3_clear_bindings(c->ins);
    for (int i = 0; i < ncols; i++) {
        if (cols[i] == NULL)
            continue;
        if (types[i] == 'i')
            sqlite3_bind_int64(c->ins, i + 1, strtoll(cols[i], NULL, 10));
        else if (types[i] == 'b')
            sqlite3_bind_blob(c->ins, i + 1, cols[i], lens[i], SQLITE_STATIC);
        else
            sqlite3_bind_text(c->ins, i + 1, cols[i], lens[i], SQLITE_STATIC);
    }
    /* the keys before the entry, as every entry write adds them (registry_keys_int.h) */
    if (c->t == T_ENTRIES && c->dst_keys != NULL && lens[4] == 32 && lens[5] == 32)
        capvi_reg_keys_add(c->dst_keys, (const uint8_t *)cols[4], (const uint8_t *)cols[5]);
    int rc = sqlite3_step(c->ins);
    if (rc != SQLITE_DONE)
        return capvi_reg_sqlite_error(c->dst_db, rc, "copying a row", err);
    return CAPV_OK;
}

/* A row of the current table (a capvi_pg_row_fn): to the target. */
static capv_status copy_row(void *user, const char *const *cols, const int *lens, int ncols,
                            capv_error *err)
{
    copy_pipe *c = user;
    if (ncols != (int)strlen(tables[c->t].types))
        return capvi_err_set(err, CAPV_E_INTERNAL, NULL,
                             "a row of %s with %d columns, %zu expected", tables[c->t].table, ncols,
                             strlen(tables[c->t].types));
    if (c->t == T_META && (cols[0] == NULL || capvi_pg_load_meta_kept(cols[0])))
        return CAPV_OK;
    if (c->t == T_ENTRIES && capvi_reg_entry_keys_match(cols[2], cols[3], cols[4], (size_t)lens[4],
                                                        cols[5], (size_t)lens[5]) != CAPV_OK)
        /* its signature covers the text: keys changed behind it would find it for another
         * package */
        return capvi_err_set(err, CAPV_E_MISMATCH, cols[1] ? cols[1] : "",
                             "the source's entry '%s' has look-up keys that are not its hashes: "
                             "nothing was written",
                             cols[1] ? cols[1] : "");
    if (c->t == T_ENTRIES && c->verify_entries && cols[9] != NULL) {
        /* before the commit, so that a bad signature leaves nothing written */
        const char *const text[10] = { cols[1], cols[2], cols[3],  cols[6],  cols[7],
                                       cols[8], cols[9], cols[10], cols[11], cols[12] };
        capv_registry_entry *e = capvi_reg_entry_from_texts(strtoll(cols[0], NULL, 10), text);
        if (e == NULL)
            return capvi_err_nomem(err);
        capv_error verr = CAPV_ERROR_INIT;
        capv_status vs = capv_registry_entry_verify(e, &verr);
        capv_status st = vs == CAPV_OK
                             ? CAPV_OK
                             : capvi_err_set(err, CAPV_E_MISMATCH, e->id,
                                             "the source's entry '%s' does not verify (%s: %s): "
                                             "nothing was written",
                                             e->id, capv_status_name(vs), verr.message);
        capv_registry_entry_free(e);
        if (st != CAPV_OK)
            return st;
    }
    capv_status st = c->load != NULL ? capvi_pg_load_row(c->load, cols, lens, ncols, err)
                                     : sqlite_put(c, cols, lens, ncols, err);
    if (st != CAPV_OK) {
        c->target_failed = true;
        return st;
    }
    c->rows[c->t]++;
    if (c->progress != NULL && ++c->done % COPY_PROGRESS_ROWS == 0)
        c->progress(c->user, c->done, 0);
    return CAPV_OK;
}

/* ---- the source ------------------------------------------------------------------------ */

/* Every row of the current table of a SQLite source, converted to the snapshot layout. */
static capv_status sqlite_rows(copy_pipe *c, capv_error *err)
{
    const char *types = tables[c->t].types;
    int ncols = (int)strlen(types);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(c->src_db, tables[c->t].select, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return capvi_reg_sqlite_error(c->src_db, rc, "reading the source registry", err);
    capv_status st = CAPV_OK;
    while (st == CAPV_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *cols[COPY_MAX_COLUMNS];
        int lens[COPY_MAX_COLUMNS];
        char nums[COPY_MAX_COLUMNS][24];
        for (int i = 0; i < ncols; i++) {
            cols[i] = NULL;
            lens[i] = 0;
            if (sqlite3_column_type(s, i) == SQLITE_NULL)
                continue;
            if (types[i] == 'i') {
                lens[i] = snprintf(nums[i], sizeof nums[i], "%lld",
                                   (long long)sqlite3_column_int64(s, i));
                cols[i] = nums[i];
            } else if (types[i] == 'b') {
                const void *b = sqlite3_column_blob(s, i);
                lens[i] = sqlite3_column_bytes(s, i);
                cols[i] = b != NULL ? b : "";
            } else {
                cols[i] = (const char *)sqlite3_column_text(s, i);
                lens[i] = sqlite3_column_bytes(s, i);
                if (cols[i] == NULL)
                    st = capvi_err_nomem(err);
            }
        }
        if (st == CAPV_OK)
            st = copy_row(c, cols, lens, ncols, err);
    }
    if (st == CAPV_OK && rc != SQLITE_DONE)
        st = capvi_reg_sqlite_error(c->src_db, rc, "reading the source registry", err);
    sqlite3_finalize(s);
    return st;
}

/* Every table, source to target. */
static capv_status copy_tables(copy_pipe *c, capv_error *err)
{
    capv_status st = CAPV_OK;
    for (c->t = 0; st == CAPV_OK && c->t < T_COUNT; c->t++) {
        if (c->load != NULL) {
            st = capvi_pg_load_table(c->load, tables[c->t].table, err);
        } else {
            int rc = sqlite3_prepare_v2(c->dst_db, tables[c->t].insert, -1, &c->ins, NULL);
            if (rc != SQLITE_OK)
                st = capvi_reg_sqlite_error(c->dst_db, rc, "preparing the copy", err);
        }
        if (st != CAPV_OK) {
            c->target_failed = true;
            break;
        }
        st = c->src_pg != NULL
                 ? capvi_pg_snapshot_rows(c->src_pg, tables[c->t].table, copy_row, c, err)
                 : sqlite_rows(c, err);
        sqlite3_finalize(c->ins);
        c->ins = NULL;
    }
    return st;
}

capv_status capvi_reg_copy_pg_to_sqlite(sqlite3 *dest, capvi_pg *pg, capv_progress_fn progress,
                                        void *user, capv_error *err)
{
    copy_pipe c = { .src_pg = pg, .dst_db = dest, .progress = progress, .user = user };
    return copy_tables(&c, err);
}

/* ---- into a registry, on its writer ---------------------------------------------------- */

typedef struct copy_job {
    copy_pipe c;
    bool replace;
    /* a failure of the source, kept apart so that it does not count against the target's
     * health */
    capv_status src_st;
    capv_error src_err;
} copy_job;

/* The write request: runs in the target's write transaction (in its own savepoint). */
static capv_status copy_write(capv_registry *to, void *arg, capv_error *err)
{
    copy_job *j = arg;
    copy_pipe *c = &j->c;
    uint64_t stored[4] = { 0, 0, 0, 0 };
    capv_status st = CAPV_OK;
    if (to->pg != NULL) {
        CAPV_TRY(capvi_pg_load_start(&c->load, to->pg, j->replace, err));
    } else {
        if (j->replace)
            CAPV_FAIL(err, CAPV_E_UNSUPPORTED, NULL,
                      "a SQLite registry is replaced by swapping its file (capv_registry_restore)");
        int64_t any = 0;
        c->dst_db = to->w.db;
        c->dst_keys = &to->keys;
        /* report bodies too: the copy's would collide with them, or miscount (docs/registry.md
         * "Copy between storages") */
        CAPV_TRY(capvi_reg_query_int(&any, c->dst_db,
                                     "SELECT EXISTS (SELECT 1 FROM entries) OR EXISTS (SELECT 1 "
                                     "FROM verifications) OR EXISTS (SELECT 1 FROM reports) OR "
                                     "EXISTS (SELECT 1 FROM policies)",
                                     err));
        if (any)
            CAPV_FAIL(err, CAPV_E_STATE, NULL,
                      "the target registry is not empty: it holds entries, verifications, "
                      "reports or policies");
    }
    st = copy_tables(c, err);
    if (st != CAPV_OK && !c->target_failed) {
        j->src_st = st;
        j->src_err = err != NULL ? *err : (capv_error)CAPV_ERROR_INIT;
        if (err != NULL)
            j->src_err.code = st;
        CAPV_FAIL(err, CAPV_E_IO, NULL, "reading the source registry failed");
    }
    if (st != CAPV_OK)
        goto out;
    if (c->load != NULL) {
        CAPV_TRY(capvi_pg_load_finish(c->load, stored, err));
    } else {
        static const char *const names[4] = { "entries", "reports", "verifications", "policies" };
        for (int i = 0; i < 4; i++)
            CAPV_TRY(capvi_reg_count_db(&stored[i], c->dst_db, names[i], err));
    }
    for (int i = 0; i < 4; i++)
        if (stored[i] != c->rows[T_ENTRIES + i])
            CAPV_FAIL(err, CAPV_E_MISMATCH, tables[T_ENTRIES + i].table,
                      "the copy holds %llu rows of %s, the source %llu: nothing was written",
                      (unsigned long long)stored[i], tables[T_ENTRIES + i].table,
                      (unsigned long long)c->rows[T_ENTRIES + i]);
out:
    capvi_pg_load_free(c->load);
    c->load = NULL;
    return st;
}

/* Runs the copy of `j` (its source open) as one write of `to`. */
static capv_status copy_submit(capv_registry *to, copy_job *j, capv_error *err)
{
    capv_reg_write q;
    memset(&q, 0, sizeof q);
    q.run = copy_write;
    q.arg = j;
    q.changes_verdicts = true;
    q.once = true; /* it has read the source */
    capvi_reg_submit(to, &q);
    if (j->src_st != CAPV_OK) {
        if (err != NULL)
            *err = j->src_err;
        return j->src_st;
    }
    return capvi_reg_write_result(&q, err);
}

static void copied_out(uint64_t copied[4], const copy_pipe *c)
{
    if (copied != NULL)
        for (int i = 0; i < 4; i++)
            copied[i] = c->rows[T_ENTRIES + i];
}

capv_status capvi_reg_copy_load(uint64_t copied[4], capv_registry *to, sqlite3 *src, bool replace,
                                capv_progress_fn progress, void *user, capv_error *err)
{
    copy_job j;
    memset(&j, 0, sizeof j);
    j.c.src_db = src;
    j.c.progress = progress;
    j.c.user = user;
    j.replace = replace;
    capv_status st = capvi_reg_exec(src, "BEGIN", err);
    if (st != CAPV_OK)
        return st;
    st = copy_submit(to, &j, err);
    sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
    copied_out(copied, &j.c);
    return st;
}

/* ---- capv_registry_copy ---------------------------------------------------------------- */

/* The size of each version of capv_registry_copy_result (docs/abi.md). */
static const size_t copy_result_sizes[] = { 0, sizeof(capv_registry_copy_result) };
_Static_assert(sizeof copy_result_sizes / sizeof copy_result_sizes[0] ==
                   CAPV_REGISTRY_COPY_RESULT_VERSION + 1,
               "one size per version of capv_registry_copy_result");

/* Every entry of `reg` that carries a signature must verify: *verified counts them. */
static capv_status verify_signatures(uint64_t *verified, capv_registry *reg, capv_error *err)
{
    int64_t after = 0;
    capv_status st = CAPV_OK;
    do {
        capv_registry_page *p = NULL;
        if ((st = capv_registry_list(&p, reg, NULL, after, VERIFY_PAGE, err)) != CAPV_OK)
            return st;
        for (size_t i = 0; st == CAPV_OK && i < capv_registry_page_count(p); i++) {
            const capv_registry_entry *e = capv_registry_page_entry(p, i);
            if (e->signature == NULL)
                continue;
            capv_error verr = CAPV_ERROR_INIT;
            capv_status vs = capv_registry_entry_verify(e, &verr);
            if (vs == CAPV_OK)
                (*verified)++;
            else
                /* each was verified before the commit: read back, it changed */
                st = capvi_err_set(err, CAPV_E_MISMATCH, e->id,
                                   "the copied entry '%s' does not verify (%s: %s); the copy "
                                   "was committed: discard it",
                                   e->id, capv_status_name(vs), verr.message);
        }
        after = capv_registry_page_next(p);
        capv_registry_page_free(p);
    } while (st == CAPV_OK && after != 0);
    return st;
}

capv_status capv_registry_copy(capv_registry_copy_result *result, capv_registry *to,
                               capv_registry *from, capv_progress_fn progress, void *user,
                               capv_error *err)
{
    if (to == NULL || from == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (to == from)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                             "a registry cannot be copied into itself");
    size_t size = 0;
    capv_status st = CAPV_OK;
    if (result != NULL &&
        (st = capvi_struct_size(&size, result->version, copy_result_sizes,
                                sizeof copy_result_sizes / sizeof copy_result_sizes[0],
                                "capv_registry_copy_result", err)) != CAPV_OK)
        return st;
    capv_registry_copy_result res = CAPV_REGISTRY_COPY_RESULT_INIT;
    copy_job j;
    memset(&j, 0, sizeof j);
    j.c.progress = progress;
    j.c.user = user;
    capv_reg_conn *rc = NULL;
    bool snapshot = false, txn = false;
    /* the source: one snapshot for the whole copy */
    if (from->pg != NULL) {
        CAPV_TRY(capvi_pg_snapshot_begin(from->pg, err));
        snapshot = true;
        j.c.src_pg = from->pg;
    } else {
        CAPV_TRY(capvi_reg_long_reader_acquire(&rc, from, err));
        CAPV_TRY(capvi_reg_exec(rc->db, "BEGIN", err));
        txn = true;
        j.c.src_db = rc->db;
    }
    j.c.verify_entries = true;
    st = copy_submit(to, &j, err);
    if (st != CAPV_OK && j.src_st != CAPV_OK)
        capvi_reg_note(from, st, err);
    if (st != CAPV_OK)
        goto out;
    res.entries = j.c.rows[T_ENTRIES];
    res.reports = j.c.rows[T_REPORTS];
    res.verifications = j.c.rows[T_VERIFICATIONS];
    res.policies = j.c.rows[T_POLICIES];
    CAPV_TRY(verify_signatures(&res.signatures_verified, to, err));
out:
    if (txn)
        sqlite3_exec(rc->db, "COMMIT", NULL, NULL, NULL);
    if (rc != NULL)
        capvi_reg_long_reader_release(from, rc);
    if (snapshot)
        capvi_pg_snapshot_end(from->pg);
    if (result != NULL)
        capvi_struct_write(result, &res, size);
    return capvi_err_done(err, st);
}
