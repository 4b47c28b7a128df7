/* SPDX-License-Identifier: Apache-2.0 */
/* Loading whole tables into a PostgreSQL registry (docs/registry.md, "Copy between storages"
 * and "Restore"): the rows keep their ids and sequence numbers (the identity columns are
 * BY DEFAULT), so entry signatures, verifications' references and list cursors stay what
 * they were. Rows go in statements of up to LOAD_ROWS rows, each column one array parameter
 * read by unnest(), inside the caller's transaction on the write connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_pg_conn_int.h"
#include "registry_pg_int.h"
#include "registry_pg_load_int.h"
#include "registry_pg_array_int.h"

/* Rows per statement, and the buffered bytes after which a statement goes early. */
#define LOAD_ROWS 1000u
#define LOAD_BYTES (8u << 20)
#define LOAD_MAX_COLUMNS 13

/* The tables in load order, with the types of their columns as capvi_pg_snapshot_rows lists
 * them (i integer, t text, b bytea as raw bytes). Integers come as their decimal text, so
 * their arrays go as text[] and the statement converts them (::text[]::bigint[]). */
static const struct {
    const char *table;
    const char *types;
    const char *insert;
} load_tables[] = {
    { "registry_meta", "tt",
      "INSERT INTO registry_meta (key, value) SELECT * FROM unnest($1::text[], $2::text[]) "
      "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value" },
    { "entries", "itttbbttttttt",
      "INSERT INTO entries (seq, id, manifest_hash, proof_hash, manifest_key, proof_key, "
      "timestamp_file, registered_at, policy_hash, signature, public_key, kid, signature_scheme) "
      "SELECT * FROM unnest($1::text[]::bigint[], $2::text[], $3::text[], $4::text[], $5::bytea[], "
      "$6::bytea[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], "
      "$13::text[])" },
    { "reports", "ibiit",
      "INSERT INTO reports (id, sha3, bytes, summary, json) SELECT * FROM unnest("
      "$1::text[]::bigint[], $2::bytea[], $3::text[]::bigint[], $4::text[]::smallint[], "
      "$5::text[])" },
    { "verifications", "itttttittii",
      "INSERT INTO verifications (seq, request_id, subject, manifest_hash, proof_hash, "
      "policy_hash, entry_seq, result, verified_at, report_id, verified_ms) SELECT * FROM "
      "unnest($1::text[]::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
      "$7::text[]::bigint[], $8::text[], $9::text[], $10::text[]::bigint[], "
      "$11::text[]::bigint[])" },
    { "policies", "itttbttt",
      "INSERT INTO policies (seq, policy_id, policy_version, policy_hash, policy_key, ir_hash, "
      "ir, created_at) SELECT * FROM unnest($1::text[]::bigint[], $2::text[], $3::text[], "
      "$4::text[], "
      "$5::bytea[], $6::text[], $7::text[], $8::text[])" },
};
#define LOAD_TABLES (sizeof load_tables / sizeof load_tables[0])

struct capvi_pg_load {
    capvi_pg *pg;
    size_t table;                          /* LOAD_TABLES: none yet */
    capvi_pg_array cols[LOAD_MAX_COLUMNS]; /* of the current table, once it has rows */
    size_t rows;
};

/* The bookkeeping keys, and the same rule in SQL for the delete of a replacing load. */
bool capvi_pg_load_meta_kept(const char *key)
{
    return strcmp(key, "schema_version") == 0 || strncmp(key, "migrated_to_", 12) == 0 ||
           strcmp(key, "migrated_from") == 0 || strcmp(key, "health_probe") == 0 ||
           strcmp(key, "verdict_mark") == 0;
}
#define META_KEPT_SQL                                                                              \
    "key IN ('schema_version', 'migrated_from', 'health_probe', 'verdict_mark') OR "               \
    "starts_with(key, 'migrated_to_')"

/* Writes the buffered rows of the current table in one statement. */
static capv_status flush(capvi_pg_load *l, capv_error *err)
{
    if (l->rows == 0 || l->table >= LOAD_TABLES)
        return CAPV_OK;
    int n = (int)strlen(load_tables[l->table].types);
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    capv_status st = CAPV_OK;
    for (int i = 0; i < n; i++) {
        if (!capvi_pg_array_finish(&l->cols[i]) && st == CAPV_OK)
            st = capvi_err_nomem(err);
        capvi_pg_param_bytes(&p, l->cols[i].b.data, l->cols[i].b.len);
    }
    PGresult *r = NULL;
    if (st == CAPV_OK)
        st = capvi_pg_exec(&r, l->pg, &l->pg->w, "loading rows", load_tables[l->table].insert, &p,
                           err);
    if (st == CAPV_OK && strtoull(PQcmdTuples(r), NULL, 10) != l->rows)
        st = capvi_err_set(err, CAPV_E_IO, NULL, "loading rows: %s of %zu rows of %s inserted",
                           PQcmdTuples(r), l->rows, load_tables[l->table].table);
    PQclear(r);
    for (int i = 0; i < n; i++)
        capvi_pg_array_free(&l->cols[i]);
    l->rows = 0;
    return st;
}

/* ---- the load -------------------------------------------------------------------------- */

capv_status capvi_pg_load_start(capvi_pg_load **out, capvi_pg *pg, bool replace, capv_error *err)
{
    *out = NULL;
    if (!capvi_pg_in_transaction(pg))
        return capvi_err_set(err, CAPV_E_STATE, NULL, "a load runs inside a write transaction");
    /* EXCLUSIVE: reads go on, other writers (replicas) wait until this transaction ends.
     * In the order a replica's batch takes them (records: reports, verifications; then
     * policies; entries last): a batch that holds the first tables and waits for a later
     * one is then never waited for by this load holding that later one (a deadlock, which
     * would fail the load). */
    capv_status st = capvi_pg_exec(NULL, pg, &pg->w, "locking the registry tables",
                                   "LOCK TABLE reports, verifications, policies, entries, "
                                   "registry_meta IN EXCLUSIVE MODE",
                                   NULL, err);
    if (st != CAPV_OK)
        return st;
    pg->verdicts_changed = true; /* the rows every replica's verdicts look up change */
    if (replace) {
        st = capvi_pg_exec(
            NULL, pg, &pg->w, "emptying the registry",
            "DELETE FROM verifications; DELETE FROM reports; DELETE FROM entries; "
            "DELETE FROM policies; DELETE FROM registry_meta WHERE NOT (" META_KEPT_SQL ")",
            NULL, err);
    } else {
        PGresult *r = NULL;
        st = capvi_pg_exec(&r, pg, &pg->w, "looking for rows",
                           "SELECT EXISTS (SELECT 1 FROM entries) OR EXISTS (SELECT 1 FROM "
                           "verifications) OR EXISTS (SELECT 1 FROM policies)",
                           NULL, err);
        bool any = st == CAPV_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (any)
            st = capvi_err_set(err, CAPV_E_STATE, NULL,
                               "the target registry is not empty: it holds entries, "
                               "verifications or policies");
        /* report bodies without verifications are no content: a prune leaves one behind
         * when a record that held it turned out to be a retry (registry_pg_record.c); the
         * load's bodies would collide with them */
        else if (st == CAPV_OK)
            st = capvi_pg_exec(NULL, pg, &pg->w, "removing unreferenced report bodies",
                               "DELETE FROM reports", NULL, err);
    }
    if (st != CAPV_OK)
        return st;
    capvi_pg_load *l = calloc(1, sizeof *l);
    if (l == NULL)
        return capvi_err_nomem(err);
    l->pg = pg;
    l->table = LOAD_TABLES;
    *out = l;
    return CAPV_OK;
}

capv_status capvi_pg_load_table(capvi_pg_load *l, const char *table, capv_error *err)
{
    capv_status st = flush(l, err);
    if (st != CAPV_OK)
        return st;
    for (size_t t = 0; t < LOAD_TABLES; t++)
        if (strcmp(load_tables[t].table, table) == 0) {
            l->table = t;
            return CAPV_OK;
        }
    return capvi_err_set(err, CAPV_E_INVALID_ARG, "table", "no registry table '%.64s'", table);
}

capv_status capvi_pg_load_row(void *user, const char *const *cols, const int *lens, int ncols,
                              capv_error *err)
{
    capvi_pg_load *l = user;
    if (l->table >= LOAD_TABLES)
        return capvi_err_set(err, CAPV_E_STATE, NULL, "a row before its table");
    const char *types = load_tables[l->table].types;
    if (ncols != (int)strlen(types))
        return capvi_err_set(err, CAPV_E_INTERNAL, NULL,
                             "a row of %s with %d columns, %zu expected",
                             load_tables[l->table].table, ncols, strlen(types));
    size_t bytes = 0;
    for (int i = 0; i < ncols; i++) {
        if (l->rows == 0)
            capvi_pg_array_init(&l->cols[i], types[i] == 'b' ? CAPVI_PG_BYTEA : CAPVI_PG_TEXT);
        capvi_pg_array_bytes(&l->cols[i], cols[i], cols[i] ? (size_t)lens[i] : 0);
        bytes += l->cols[i].b.len;
    }
    l->rows++;
    return l->rows >= LOAD_ROWS || bytes >= LOAD_BYTES ? flush(l, err) : CAPV_OK;
}

capv_status capvi_pg_load_finish(capvi_pg_load *l, uint64_t counts[4], capv_error *err)
{
    capv_status st = flush(l, err);
    if (st != CAPV_OK)
        return st;
    /* setval only upwards: a sequence keeps a value once set, whatever becomes of the
     * transaction, so lowering it would let a rolled-back load collide later */
    static const char *const seqs[][2] = {
        { "entries", "seq" },
        { "reports", "id" },
        { "verifications", "seq" },
        { "policies", "seq" },
    };
    for (size_t i = 0; st == CAPV_OK && i < 4; i++) {
        char sql[400];
        snprintf(sql, sizeof sql,
                 "SELECT setval(s, m) FROM (SELECT pg_get_serial_sequence('%s', '%s')::regclass "
                 "AS s, (SELECT max(%s) FROM %s) AS m) t WHERE m IS NOT NULL AND m > "
                 "COALESCE(pg_sequence_last_value(s), 0)",
                 seqs[i][0], seqs[i][1], seqs[i][1], seqs[i][0]);
        st = capvi_pg_exec(NULL, l->pg, &l->pg->w, "advancing a sequence", sql, NULL, err);
    }
    if (st != CAPV_OK)
        return st;
    /* the verifications have no foreign keys (docs/registry.md, "Schema and migrations"): a
     * load checks what they would have */
    PGresult *r = NULL;
    st = capvi_pg_exec(&r, l->pg, &l->pg->w, "checking the references loaded",
                       "SELECT count(*), min(v.request_id) FROM verifications v WHERE (v.report_id "
                       "IS NOT NULL AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.id = "
                       "v.report_id)) OR (v.entry_seq IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                       "entries e WHERE e.seq = v.entry_seq))",
                       NULL, err);
    int64_t dangling = st == CAPV_OK ? capvi_pg_int(r, 0, 0) : 0;
    if (dangling > 0)
        st = capvi_err_set(err, CAPV_E_MALFORMED, NULL,
                           "%lld verifications name a report body or an entry that is not there "
                           "(the first: '%.64s')",
                           (long long)dangling, PQgetvalue(r, 0, 1));
    PQclear(r);
    r = NULL;
    if (st != CAPV_OK || counts == NULL)
        return st;
    st = capvi_pg_exec(&r, l->pg, &l->pg->w, "counting the rows loaded",
                       "SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM reports), "
                       "(SELECT count(*) FROM verifications), (SELECT count(*) FROM policies)",
                       NULL, err);
    for (int i = 0; st == CAPV_OK && i < 4; i++)
        counts[i] = (uint64_t)capvi_pg_int(r, 0, i);
    PQclear(r);
    return st;
}

void capvi_pg_load_free(capvi_pg_load *l)
{
    if (l == NULL)
        return;
    for (int i = 0; i < LOAD_MAX_COLUMNS; i++)
        capvi_pg_array_free(&l->cols[i]);
    free(l);
}
