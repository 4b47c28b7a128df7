/* SPDX-License-Identifier: Apache-2.0 */
/* The registry's PostgreSQL storage (docs/registry.md, "PostgreSQL backend"): opening,
 * transactions on the write connection, entries, policies, pruning, look-ups on the reader
 * pool, leadership and snapshots. Recording verifications is registry_pg_record.c. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_int.h"
#include "hex_int.h"
#include "registry_pg_conn_int.h"
#include "registry_pg_int.h"

/* The largest password file read (its first line is the password). */
#define PG_PASSWORD_FILE_MAX 4096
/* Rows fetched per round trip while walking a table in a snapshot. */
#define PG_SNAPSHOT_FETCH 500

/* ---- opening --------------------------------------------------------------------------- */

static void conn_init(capvi_pg_conn *c, bool reader)
{
    memset(c, 0, sizeof *c);
    c->reader = reader;
    c->backoff_ms = CAPVI_PG_BACKOFF_MIN_MS;
}

/* The first line of `path`, without its line end. */
static capv_status read_password(char **out, const char *path, capv_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    capv_status st = capvi_file_read(&data, &len, path, PG_PASSWORD_FILE_MAX, "password file", err);
    if (st != CAPV_OK)
        return st;
    size_t n = strcspn((const char *)data, "\n");
    if (n > 0 && data[n - 1] == '\r')
        n--;
    *out = strndup((const char *)data, n);
    OPENSSL_cleanse(data, len);
    free(data);
    return *out ? CAPV_OK : capvi_err_nomem(err);
}

static capv_status check_options(const capvi_pg_options *o, capv_error *err)
{
    if (o->url == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "url", "no database URL");
    if (o->readers < 1 || o->readers > 64)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "readers", "readers must be 1..64");
    if (o->connect_timeout_ms < 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "connect_timeout_ms",
                             "connect_timeout_ms must not be negative");
    return CAPV_OK;
}

/* The handle without connections: settings, location, password, pool. */
static capv_status handle_new(capvi_pg **out, const capvi_pg_options *o, capv_error *err)
{
    capvi_pg *pg = calloc(1, sizeof *pg);
    if (pg == NULL)
        return capvi_err_nomem(err);
    pthread_mutex_init(&pg->rlock, NULL);
    pthread_cond_init(&pg->rcond, NULL);
    pthread_mutex_init(&pg->llock, NULL);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&pg->slock, &ma);
    pthread_mutexattr_destroy(&ma);
    conn_init(&pg->w, false);
    conn_init(&pg->leader, false);
    conn_init(&pg->snap, true);
    pg->timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 5000;
    pg->read_only = o->read_only;
    *out = pg;
    if (capvi_pg_uri_ambiguous(o->url))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "url",
                             "the database URL has an '@' after its host or in its path: a "
                             "password or database name holding '@', '/' or '?' must be "
                             "percent-encoded (%%40, %%2F, %%3F)");
    bool parsed = true;
    if ((pg->url = strdup(o->url)) == NULL ||
        (pg->location = capvi_pg_make_location(o->url, &parsed, &pg->url_password)) == NULL)
        return parsed ? capvi_err_nomem(err)
                      : capvi_err_set(err, CAPV_E_INVALID_ARG, "url",
                                      "the database URL is neither a libpq URI nor a "
                                      "connection string");
    if (o->password_file != NULL) {
        capv_status st = read_password(&pg->password, o->password_file, err);
        if (st != CAPV_OK)
            return st;
    }
    if ((pg->readers = calloc(o->readers, sizeof *pg->readers)) == NULL)
        return capvi_err_nomem(err);
    pg->nreaders = o->readers;
    for (unsigned int i = 0; i < pg->nreaders; i++)
        conn_init(&pg->readers[i], true);
    return CAPV_OK;
}

capv_status capvi_pg_open(capvi_pg **out, const capvi_pg_options *o, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || o == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capvi_pg *pg = NULL;
    capv_status st = check_options(o, err);
    if (st == CAPV_OK && (st = handle_new(&pg, o, err)) == CAPV_OK)
        st = capvi_pg_schema_open(pg, o->read_only ? &pg->readers[0] : &pg->w,
                                  !o->read_only && o->migrate, err);
    if (st != CAPV_OK) {
        capvi_pg_close(pg);
        return st;
    }
    *out = pg;
    return CAPV_OK;
}

static void free_secret(char *s)
{
    if (s != NULL)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

void capvi_pg_close(capvi_pg *pg)
{
    if (pg == NULL)
        return;
    capvi_pg_conn_close(&pg->w);
    /* released before the session ends, so that another replica's next try gets it (the
     * server drops a closed session's locks only once its backend has exited) */
    if (pg->leading && pg->leader.pc != NULL)
        PQclear(PQexec(pg->leader.pc, "SELECT pg_advisory_unlock_all()"));
    capvi_pg_conn_close(&pg->leader);
    capvi_pg_conn_close(&pg->snap);
    for (unsigned int i = 0; i < pg->nreaders; i++)
        capvi_pg_conn_close(&pg->readers[i]);
    free(pg->readers);
    free_secret(pg->url);
    free_secret(pg->password);
    free_secret(pg->url_password);
    free(pg->location);
    pthread_mutex_destroy(&pg->rlock);
    pthread_cond_destroy(&pg->rcond);
    pthread_mutex_destroy(&pg->llock);
    pthread_mutex_destroy(&pg->slock);
    free(pg);
}

const char *capvi_pg_location(const capvi_pg *pg)
{
    return pg ? pg->location : "";
}

int capvi_pg_found_version(const capvi_pg *pg)
{
    return pg ? pg->found_version : -1;
}

/* ---- transactions on the write connection ---------------------------------------------- */

static capv_status writable(const capvi_pg *pg, capv_error *err)
{
    if (pg->read_only)
        return capvi_err_set(err, CAPV_E_STATE, NULL, "the registry database %s is open read-only",
                             pg->location);
    return CAPV_OK;
}

static capv_status in_transaction(const capvi_pg *pg, capv_error *err)
{
    capv_status st = writable(pg, err);
    if (st == CAPV_OK && !pg->w.in_tx)
        st = capvi_err_set(err, CAPV_E_STATE, NULL, "no transaction is open");
    return st;
}

capv_status capvi_pg_begin(capvi_pg *pg, bool durable, capv_error *err)
{
    capv_status st = writable(pg, err);
    if (st != CAPV_OK)
        return st;
    if (pg->w.in_tx)
        return capvi_err_set(err, CAPV_E_STATE, NULL, "a transaction is already open");
    /* READ COMMITTED whatever the database's default: each statement sees what committed
     * before it, which the prune's order of statements relies on (prune_reports). Not
     * durable (a batch of queued records only): the commit returns before the server has
     * flushed its WAL (a crash of the server, not of this process, may lose the
     * transaction; docs/registry.md "Durability"), and the record statements run their
     * generic plans: planned for the array lengths of each batch they cost the server about
     * a fifth of a batch's time, for the same plan (other statements, the prune's with its
     * LIMIT, keep the plans made for their values). The writer's first savepoint comes
     * along (capvi_pg_savepoint). */
    if ((st = capvi_pg_exec(NULL, pg, &pg->w, "starting a transaction",
                            durable ? "BEGIN ISOLATION LEVEL READ COMMITTED; SAVEPOINT capv_write"
                                    : "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL "
                                      "synchronous_commit TO off; SET LOCAL plan_cache_mode TO "
                                      "force_generic_plan; SAVEPOINT capv_write",
                            NULL, err)) == CAPV_OK) {
        pg->w.in_tx = true;
        pg->sp = CAPVI_PG_SP_SPARE;
    }
    return st;
}

capv_status capvi_pg_commit(capvi_pg *pg, capv_error *err)
{
    capv_status st = in_transaction(pg, err);
    if (st != CAPV_OK)
        return st;
    PGresult *r = NULL;
    /* A savepoint still open or not yet released is committed with the transaction. One
     * that added entries or policies moves verdict_mark (capvi_pg_verdict_mark) in the same
     * commit: a counter the other replicas read only once it is committed, whose row lock
     * is held for the commit alone. */
    st = capvi_pg_exec(&r, pg, &pg->w, "committing",
                       pg->verdicts_changed
                           ? "INSERT INTO registry_meta (key, value) VALUES ('verdict_mark', '1') "
                             "ON CONFLICT (key) DO UPDATE SET value = CASE WHEN "
                             "registry_meta.value ~ '^[0-9]{1,18}$' THEN "
                             "(registry_meta.value::bigint + 1)::text ELSE '1' END; COMMIT"
                           : "COMMIT",
                       NULL, err);
    /* the server answers ROLLBACK to a COMMIT of a transaction an error aborted */
    if (st == CAPV_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0)
        st = capvi_err_set(err, CAPV_E_IO, NULL,
                           "committing: a statement of the transaction had failed; it was "
                           "rolled back");
    PQclear(r);
    pg->w.in_tx = false; /* whatever the outcome, the transaction is over */
    pg->w.lost = false;
    pg->sp = CAPVI_PG_SP_NONE;
    pg->verdicts_changed = false;
    return st;
}

void capvi_pg_rollback(capvi_pg *pg)
{
    if (pg == NULL || pg->read_only)
        return;
    if (pg->w.pc != NULL && !pg->w.lost)
        PQclear(PQexec(pg->w.pc, "ROLLBACK"));
    pg->w.in_tx = false;
    pg->w.lost = false;
    pg->sp = CAPVI_PG_SP_NONE;
    pg->verdicts_changed = false;
}

bool capvi_pg_in_transaction(const capvi_pg *pg)
{
    return pg != NULL && pg->w.in_tx && !pg->w.lost;
}

static capv_status tx_statement(capvi_pg *pg, const char *what, const char *sql, capv_error *err)
{
    capv_status st = in_transaction(pg, err);
    return st == CAPV_OK ? capvi_pg_exec(NULL, pg, &pg->w, what, sql, NULL, err) : st;
}

/* Whether the savepoint stands at `at` in a transaction still held: a lost one answers its
 * loss to every call (capvi_pg_conn_ready), as if each had sent its statement. */
static bool sp_at(const capvi_pg *pg, capvi_pg_sp at)
{
    return capvi_pg_in_transaction(pg) && pg->sp == at;
}

/* The writer's savepoints ride along with other statements (capvi_pg_sp): the first one of a
 * transaction was opened by the BEGIN, and the RELEASE of the one before goes with the next
 * SAVEPOINT. A statement run between a release and the next savepoint runs inside the
 * released one, which the next SAVEPOINT or the COMMIT releases. */
capv_status capvi_pg_savepoint(capvi_pg *pg, capv_error *err)
{
    capv_status st = in_transaction(pg, err);
    if (st == CAPV_OK && sp_at(pg, CAPVI_PG_SP_SPARE)) {
        pg->sp = CAPVI_PG_SP_OPEN;
        return CAPV_OK;
    }
    if (st == CAPV_OK)
        st = tx_statement(pg, "starting a savepoint",
                          pg->sp == CAPVI_PG_SP_RELEASED
                              ? "RELEASE SAVEPOINT capv_write; SAVEPOINT capv_write"
                              : "SAVEPOINT capv_write",
                          err);
    if (st == CAPV_OK)
        pg->sp = CAPVI_PG_SP_OPEN;
    return st;
}

capv_status capvi_pg_release(capvi_pg *pg, capv_error *err)
{
    capv_status st = in_transaction(pg, err);
    if (st == CAPV_OK && sp_at(pg, CAPVI_PG_SP_OPEN)) {
        pg->sp = CAPVI_PG_SP_RELEASED;
        return CAPV_OK;
    }
    if (st == CAPV_OK && (st = tx_statement(pg, "releasing a savepoint",
                                            "RELEASE SAVEPOINT capv_write", err)) == CAPV_OK)
        pg->sp = CAPVI_PG_SP_NONE;
    return st;
}

capv_status capvi_pg_rollback_to(capvi_pg *pg, capv_error *err)
{
    capv_status st = in_transaction(pg, err);
    if (st == CAPV_OK && sp_at(pg, CAPVI_PG_SP_RELEASED)) {
        /* as if the RELEASE had been sent: the savepoint is gone, and so is this rollback's */
        pg->sp = CAPVI_PG_SP_NONE;
        return tx_statement(pg, "rolling back to a savepoint",
                            "RELEASE SAVEPOINT capv_write; ROLLBACK TO SAVEPOINT capv_write", err);
    }
    return st == CAPV_OK ? tx_statement(pg, "rolling back to a savepoint",
                                        "ROLLBACK TO SAVEPOINT capv_write", err)
                         : st;
}

capv_status capvi_pg_record(capvi_pg *pg, capvi_reg_record **recs, size_t n)
{
    capv_status st = capvi_pg_record_batch(pg, recs, n, false);
    if (st != CAPV_E_CONFLICT)
        return st;
    capv_error err = CAPV_ERROR_INIT;
    if ((st = capvi_pg_rollback_to(pg, &err)) == CAPV_OK)
        return capvi_pg_record_batch(pg, recs, n, true);
    /* the storage failed (its connection lost, say): that is every record's answer */
    capvi_pg_records_fail(recs, n, st, &err);
    return st;
}

capv_status capvi_pg_probe(capvi_pg *pg, const char *at, capv_error *err)
{
    capv_status st = writable(pg, err);
    if (st != CAPV_OK)
        return st;
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    capvi_pg_param_text(&p, at);
    return capvi_pg_exec(NULL, pg, &pg->w, "probing the database",
                         "INSERT INTO registry_meta (key, value) VALUES ('health_probe', $1) "
                         "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                         &p, err);
}

capv_status capvi_pg_verdict_mark(int64_t *mark, capvi_pg *pg, capv_error *err)
{
    PGresult *r = NULL;
    /* committed with every transaction that adds entries or policies or loads rows
     * (capvi_pg_commit): the sequences move at the insert, before its commit is visible,
     * and a load may leave them where they were */
    capv_status st = capvi_pg_exec(&r, pg, &pg->w, "reading the registry's verdict mark",
                                   "SELECT COALESCE((SELECT value FROM registry_meta WHERE key = "
                                   "'verdict_mark'), '0')",
                                   NULL, err);
    if (st == CAPV_OK)
        *mark = capvi_pg_int(r, 0, 0);
    PQclear(r);
    return st;
}

/* ---- entries --------------------------------------------------------------------------- */

/* The entry columns, in the order of capvi_reg_entry_from_texts after seq. */
#define PG_ENTRY_COLUMNS                                                                           \
    "seq, id, manifest_hash, proof_hash, timestamp_file, registered_at, policy_hash, "             \
    "signature, public_key, kid, signature_scheme"

static capv_registry_entry *entry_from_row(const PGresult *r, int row)
{
    const char *text[10];
    for (int i = 0; i < 10; i++)
        text[i] = capvi_pg_text(r, row, i + 1);
    return capvi_reg_entry_from_texts(capvi_pg_int(r, row, 0), text);
}

/* The one entry `sql` selects, or CAPV_E_NOT_FOUND (a generic message). */
static capv_status entry_query(capv_registry_entry **out, capvi_pg *pg, capvi_pg_conn *c,
                               const char *sql, const capvi_pg_params *p, capv_error *err)
{
    PGresult *r = NULL;
    capv_status st = capvi_pg_exec(&r, pg, c, "looking up an entry", sql, p, err);
    if (st != CAPV_OK)
        return st;
    if (PQntuples(r) == 0)
        st = capvi_err_set(err, CAPV_E_NOT_FOUND, NULL, "no such entry");
    else if ((*out = entry_from_row(r, 0)) == NULL)
        st = capvi_err_nomem(err);
    PQclear(r);
    return st;
}

static capv_status entry_by_keys(capv_registry_entry **out, capvi_pg *pg, capvi_pg_conn *c,
                                 const uint8_t mk[32], const uint8_t pk[32], capv_error *err)
{
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    capvi_pg_param_bytes(&p, mk, 32);
    capvi_pg_param_bytes(&p, pk, 32);
    return entry_query(out, pg, c,
                       "SELECT " PG_ENTRY_COLUMNS
                       " FROM entries WHERE manifest_key = $1 AND proof_key = $2",
                       &p, err);
}

static capv_status entry_by_id(capv_registry_entry **out, capvi_pg *pg, capvi_pg_conn *c,
                               const char *id, capv_error *err)
{
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    capvi_pg_param_text(&p, id);
    return entry_query(out, pg, c, "SELECT " PG_ENTRY_COLUMNS " FROM entries WHERE id = $1", &p,
                       err);
}

/* What is stored in place of `e` (found by its hashes, else by its id), compared. */
static capv_status entry_existing(capv_registry_entry **stored, capvi_pg *pg,
                                  const capv_reg_entry_in *e, bool compare_registered_at,
                                  capv_error *err)
{
    bool by_id = false;
    capv_status st = entry_by_keys(stored, pg, &pg->w, e->manifest_key, e->proof_key, err);
    if (st == CAPV_E_NOT_FOUND) {
        by_id = true;
        st = entry_by_id(stored, pg, &pg->w, e->id, err);
    }
    if (st == CAPV_E_NOT_FOUND)
        return capvi_err_set(err, CAPV_E_BUSY, e->id,
                             "entry '%s' was neither stored nor found (changed concurrently); "
                             "retry",
                             e->id);
    if (st != CAPV_OK)
        return st;
    return capvi_reg_entry_compare(*stored, e, by_id, compare_registered_at, err);
}

capv_status capvi_pg_entry_add(capv_registry_entry **stored, capvi_pg *pg,
                               const capv_reg_entry_in *e, bool compare_registered_at,
                               capv_error *err)
{
    if (stored != NULL)
        *stored = NULL;
    capv_registry_entry *row = NULL;
    PGresult *r = NULL;
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    capv_status st = in_transaction(pg, err);
    if (st != CAPV_OK)
        return st;
    const char *const text[10] = { e->id,
                                   e->manifest_hash,
                                   e->proof_hash,
                                   e->timestamp_file,
                                   e->registered_at,
                                   e->policy_hash,
                                   e->signature,
                                   e->public_key,
                                   e->kid,
                                   e->scheme };
    for (int i = 0; i < 10; i++) {
        capvi_pg_param_text(&p, text[i]);
        if (i == 2) {
            capvi_pg_param_bytes(&p, e->manifest_key, 32);
            capvi_pg_param_bytes(&p, e->proof_key, 32);
        }
    }
    CAPV_TRY(capvi_pg_exec(&r, pg, &pg->w, "adding an entry",
                           "INSERT INTO entries (id, manifest_hash, proof_hash, manifest_key, "
                           "proof_key, timestamp_file, registered_at, policy_hash, signature, "
                           "public_key, kid, signature_scheme) VALUES ($1, $2, $3, $4, $5, $6, "
                           "$7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING RETURNING seq",
                           &p, err));
    if (PQntuples(r) == 1) {
        pg->verdicts_changed = true;
        if ((row = capvi_reg_entry_from_texts(capvi_pg_int(r, 0, 0), text)) == NULL)
            st = capvi_err_nomem(err);
    } else {
        st = entry_existing(&row, pg, e, compare_registered_at, err);
    }
out:
    PQclear(r);
    if (stored != NULL)
        *stored = row;
    else
        capv_registry_entry_free(row);
    return st;
}

capv_status capvi_pg_entry_get(capv_registry_entry **out, capvi_pg *pg, const char *id,
                               const uint8_t mk[32], const uint8_t pk[32], capv_error *err)
{
    *out = NULL;
    capvi_pg_conn *c = NULL;
    capv_status st = capvi_pg_reader_acquire(&c, pg, err);
    if (st != CAPV_OK)
        return st;
    st = id != NULL ? entry_by_id(out, pg, c, id, err) : entry_by_keys(out, pg, c, mk, pk, err);
    capvi_pg_reader_release(pg, c);
    return st;
}

capv_status capvi_pg_entry_list(capv_registry_entry **items, size_t *n, capvi_pg *pg,
                                const uint8_t *mk, int64_t after, size_t limit, capv_error *err)
{
    *n = 0;
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    capvi_pg_param_int(&p, after);
    capvi_pg_param_int(&p, (int64_t)limit);
    if (mk != NULL)
        capvi_pg_param_bytes(&p, mk, 32);
    PGresult *r = NULL;
    capv_status st =
        capvi_pg_read(&r, pg, "listing entries",
                      mk ? "SELECT " PG_ENTRY_COLUMNS " FROM entries WHERE seq > $1 AND "
                           "manifest_key = $3 ORDER BY seq LIMIT $2"
                         : "SELECT " PG_ENTRY_COLUMNS " FROM entries WHERE seq > $1 ORDER BY "
                           "seq LIMIT $2",
                      &p, err);
    for (int i = 0; st == CAPV_OK && i < PQntuples(r) && (size_t)i < limit; i++) {
        if ((items[i] = entry_from_row(r, i)) == NULL)
            st = capvi_err_nomem(err);
        else
            *n = (size_t)i + 1;
    }
    PQclear(r);
    return st;
}

capv_status capvi_pg_count(uint64_t *out, capvi_pg *pg, capv_registry_table t, capv_error *err)
{
    static const char *const sql[] = {
        [CAPV_REGISTRY_ENTRIES] = "SELECT count(*) FROM entries",
        [CAPV_REGISTRY_VERIFICATIONS] = "SELECT count(*) FROM verifications",
        [CAPV_REGISTRY_POLICIES] = "SELECT count(*) FROM policies",
    };
    *out = 0;
    if ((unsigned int)t >= sizeof sql / sizeof sql[0])
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown registry table %d", (int)t);
    PGresult *r = NULL;
    capv_status st = capvi_pg_read(&r, pg, "counting rows", sql[t], NULL, err);
    if (st == CAPV_OK)
        *out = (uint64_t)capvi_pg_int(r, 0, 0);
    PQclear(r);
    return st;
}

capv_status capvi_pg_verification_get(capv_registry_verification **out, capvi_pg *pg,
                                      const char *request_id, capv_error *err)
{
    *out = NULL;
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    capvi_pg_param_text(&p, request_id);
    PGresult *r = NULL;
    capv_status st =
        capvi_pg_read(&r, pg, "looking up a verification",
                      "SELECT v.seq, v.request_id, v.subject, v.manifest_hash, v.proof_hash, "
                      "v.policy_hash, v.result, r.json, v.verified_at FROM verifications v LEFT "
                      "JOIN reports r ON r.id = v.report_id WHERE v.request_id = $1",
                      &p, err);
    if (st == CAPV_OK && PQntuples(r) == 0)
        st = capvi_err_set(err, CAPV_E_NOT_FOUND, "request_id",
                           "no verification recorded under '%.200s'", request_id);
    if (st == CAPV_OK) {
        const char *src[8];
        for (int i = 0; i < 8; i++)
            src[i] = capvi_pg_text(r, 0, i + 1);
        capv_registry_verification tmp;
        const char **dst[8] = {
            &tmp.request_id,  &tmp.subject, &tmp.manifest_hash, &tmp.proof_hash,
            &tmp.policy_hash, &tmp.result,  &tmp.report_json,   &tmp.verified_at
        };
        capv_registry_verification *v = capvi_reg_pack_strings(sizeof *v, dst, src, 8);
        if (v == NULL) {
            st = capvi_err_nomem(err);
        } else {
            tmp.version = CAPV_REGISTRY_VERIFICATION_VERSION;
            tmp.seq = capvi_pg_int(r, 0, 0);
            *v = tmp;
            *out = v;
        }
    }
    PQclear(r);
    return st;
}

/* ---- policies -------------------------------------------------------------------------- */

#define PG_POLICY_COLUMNS "policy_id, policy_version, policy_hash, ir_hash, ir, created_at"

static bool same_text(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Whether a policy is stored under p's key (pass 0) or id and version (pass 1): *found, and
 * then CAPV_E_EXISTS or CAPV_E_CONFLICT as in registry.c. */
static capv_status policy_existing(bool *found, capvi_pg *pg, const capv_registry_policy *p,
                                   const uint8_t key[32], const uint8_t irk[32], capv_error *err)
{
    *found = false;
    for (int pass = 0; pass < 2; pass++) {
        capvi_pg_params q = CAPVI_PG_PARAMS_INIT;
        if (pass == 0) {
            capvi_pg_param_bytes(&q, key, 32);
        } else {
            capvi_pg_param_text(&q, p->policy_id);
            capvi_pg_param_text(&q, p->policy_version);
        }
        PGresult *r = NULL;
        capv_status st;
        if ((st = capvi_pg_exec(&r, pg, &pg->w, "looking up a policy",
                                pass ? "SELECT " PG_POLICY_COLUMNS " FROM policies WHERE "
                                       "policy_id = $1 AND policy_version = $2"
                                     : "SELECT " PG_POLICY_COLUMNS " FROM policies WHERE "
                                       "policy_key = $1",
                                &q, err)) != CAPV_OK)
            return st;
        *found = PQntuples(r) == 1;
        bool same = *found && same_text(capvi_pg_text(r, 0, 0), p->policy_id) &&
                    same_text(capvi_pg_text(r, 0, 1), p->policy_version) &&
                    capvi_digest_is(capvi_pg_text(r, 0, 2), key) &&
                    capvi_digest_is(capvi_pg_text(r, 0, 3), irk) &&
                    same_text(capvi_pg_text(r, 0, 4), p->ir_json);
        PQclear(r);
        if (same)
            return capvi_err_set(err, CAPV_E_EXISTS, "policy_hash",
                                 "policy '%s' %s is already stored", p->policy_id,
                                 p->policy_version);
        if (*found)
            return capvi_err_set(err, CAPV_E_CONFLICT, pass ? "policy_id" : "policy_hash",
                                 "policy '%s' %s conflicts with a stored policy", p->policy_id,
                                 p->policy_version);
    }
    return CAPV_OK;
}

capv_status capvi_pg_policy_put(capvi_pg *pg, const capv_registry_policy *p,
                                const uint8_t policy_key[32], const uint8_t ir_key[32],
                                const char *created_at, capv_error *err)
{
    bool found = false;
    capvi_pg_params q = CAPVI_PG_PARAMS_INIT;
    capv_status st = in_transaction(pg, err);
    if (st != CAPV_OK ||
        (st = policy_existing(&found, pg, p, policy_key, ir_key, err)) != CAPV_OK || found)
        return st;
    capvi_pg_param_text(&q, p->policy_id);
    capvi_pg_param_text(&q, p->policy_version);
    capvi_pg_param_text(&q, p->policy_hash);
    capvi_pg_param_bytes(&q, policy_key, 32);
    capvi_pg_param_text(&q, p->ir_hash);
    capvi_pg_param_text(&q, p->ir_json);
    capvi_pg_param_text(&q, created_at);
    PGresult *r = NULL;
    if ((st = capvi_pg_exec(&r, pg, &pg->w, "storing a policy",
                            "INSERT INTO policies (policy_id, policy_version, policy_hash, "
                            "policy_key, ir_hash, ir, created_at) VALUES ($1, $2, $3, $4, $5, $6, "
                            "$7) ON CONFLICT DO NOTHING RETURNING seq",
                            &q, err)) != CAPV_OK)
        return st;
    bool inserted = PQntuples(r) == 1;
    PQclear(r);
    if (inserted) {
        pg->verdicts_changed = true;
        return CAPV_OK;
    }
    /* another replica stored it since the look-up */
    if ((st = policy_existing(&found, pg, p, policy_key, ir_key, err)) != CAPV_OK || found)
        return st;
    return capvi_err_set(err, CAPV_E_BUSY, "policy_hash",
                         "policy '%s' %s was neither stored nor found (changed concurrently); "
                         "retry",
                         p->policy_id, p->policy_version);
}

/* The columns of a policy's look-up: with the IR text or (head) without it, each with the
 * text's size in bytes. octet_length reads the size a TOASTed value records, not the value. */
#define PG_POLICY_FOUND                                                                            \
    "policy_id, policy_version, policy_hash, ir_hash, ir, created_at, octet_length(ir)"
#define PG_POLICY_HEAD                                                                             \
    "policy_id, policy_version, policy_hash, ir_hash, NULL, created_at, octet_length(ir)"

/* capvi_pg_policy_get (with_ir) or capvi_pg_policy_head. */
static capv_status policy_find(capv_registry_policy **out, capvi_pg *pg, const char *key,
                               bool with_ir, capv_error *err)
{
    *out = NULL;
    uint8_t k[32];
    bool by_hash = capv_digest_parse(k, key, strlen(key), NULL) == CAPV_OK;
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    if (by_hash)
        capvi_pg_param_bytes(&p, k, 32);
    else
        capvi_pg_param_text(&p, key);
    static const char *const sql[2][2] = {
        { "SELECT " PG_POLICY_HEAD " FROM policies WHERE policy_id = $1 ORDER BY seq DESC LIMIT 1",
          "SELECT " PG_POLICY_HEAD " FROM policies WHERE policy_key = $1" },
        { "SELECT " PG_POLICY_FOUND " FROM policies WHERE policy_id = $1 ORDER BY seq DESC LIMIT 1",
          "SELECT " PG_POLICY_FOUND " FROM policies WHERE policy_key = $1" },
    };
    PGresult *r = NULL;
    capv_status st = capvi_pg_read(&r, pg, "looking up a policy", sql[with_ir][by_hash], &p, err);
    if (st == CAPV_OK && PQntuples(r) == 0)
        st = capvi_err_set(err, CAPV_E_NOT_FOUND, NULL, "no stored policy '%.200s'", key);
    if (st == CAPV_OK) {
        const char *src[6];
        for (int i = 0; i < 6; i++)
            src[i] = capvi_pg_text(r, 0, i);
        capv_registry_policy tmp;
        const char **dst[6] = { &tmp.policy_id, &tmp.policy_version, &tmp.policy_hash,
                                &tmp.ir_hash,   &tmp.ir_json,        &tmp.created_at };
        capv_registry_policy *pol = capvi_reg_pack_strings(sizeof *pol, dst, src, 6);
        if (pol == NULL) {
            st = capvi_err_nomem(err);
        } else {
            tmp.version = CAPV_REGISTRY_POLICY_VERSION;
            tmp.ir_bytes = (uint64_t)capvi_pg_int(r, 0, 6);
            *pol = tmp;
            *out = pol;
        }
    }
    PQclear(r);
    return st;
}

capv_status capvi_pg_policy_get(capv_registry_policy **out, capvi_pg *pg, const char *key,
                                capv_error *err)
{
    return policy_find(out, pg, key, true, err);
}

capv_status capvi_pg_policy_head(capv_registry_policy **out, capvi_pg *pg, const char *key,
                                 capv_error *err)
{
    return policy_find(out, pg, key, false, err);
}

/* ---- pruning --------------------------------------------------------------------------- */

/* The report bodies among `ids` (an array literal) that no verification references any
 * more, removed. They are locked first, skipping those a concurrent record holds (FOR KEY
 * SHARE); the references are looked for by the next statement, whose snapshot is taken once
 * the locks are held, so it sees every record that referenced one of them and committed. A
 * record that had not locked its body yet waits for this transaction, then finds the body
 * gone and stores it again (registry_pg_record.c). No foreign key checks this (schema version
 * 3): the order of these two statements is what keeps every report_id whole. */
static capv_status prune_reports(capvi_pg *pg, const char *ids, capv_error *err)
{
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    capvi_pg_param_text(&p, ids);
    PGresult *r = NULL;
    capv_status st = capvi_pg_exec(&r, pg, &pg->w, "locking pruned reports",
                                   "SELECT array_agg(id) FROM (SELECT id FROM reports WHERE id = "
                                   "ANY ($1::bigint[]) FOR UPDATE SKIP LOCKED) l",
                                   &p, err);
    if (st == CAPV_OK && !PQgetisnull(r, 0, 0)) {
        capvi_pg_params locked = CAPVI_PG_PARAMS_INIT;
        capvi_pg_param_text(&locked, PQgetvalue(r, 0, 0));
        st = capvi_pg_exec(NULL, pg, &pg->w, "pruning reports",
                           "DELETE FROM reports r WHERE r.id = ANY ($1::bigint[]) AND NOT EXISTS "
                           "(SELECT 1 FROM verifications v WHERE v.report_id = r.id)",
                           &locked, err);
    }
    PQclear(r);
    return st;
}

capv_status capvi_pg_prune_step(uint64_t *removed, capvi_pg *pg, int64_t before_ms, size_t limit,
                                capv_error *err)
{
    *removed = 0;
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    capv_status st = in_transaction(pg, err);
    if (st != CAPV_OK)
        return st;
    /* one prune at a time (CAPVI_PG_LOCK_PRUNE, held to the end of the transaction): two
     * prunes deleting the last two verifications of one body each saw the other's as still
     * there, and the second skipped the body the first had locked, so neither removed it.
     * Tried, not waited for: a prune held up elsewhere (a `capverify registry prune` whose
     * connection stalls) would otherwise hold the leader's writer thread, and every write
     * queued behind it. Held by another prune, this step prunes nothing and says so
     * (CAPV_E_BUSY: capv_registry_prune tries again for the busy timeout, the retention at
     * its next step; docs/registry.md "PostgreSQL backend"). */
    capvi_pg_params lock = CAPVI_PG_PARAMS_INIT;
    capvi_pg_param_int(&lock, CAPVI_PG_LOCK_PRUNE);
    PGresult *lr = NULL;
    if ((st = capvi_pg_exec(&lr, pg, &pg->w, "taking the prune lock",
                            "SELECT pg_try_advisory_xact_lock($1)", &lock, err)) != CAPV_OK)
        return st;
    bool locked = strcmp(PQgetvalue(lr, 0, 0), "t") == 0;
    PQclear(lr);
    if (!locked)
        return capvi_err_set(err, CAPV_E_BUSY, NULL,
                             "another prune holds the prune lock (CAPV-PRN): nothing pruned in "
                             "this step");
    /* reports before verifications, in the order a load locks them (registry_pg_load.c):
     * deleting verifications first, then locking reports (prune_reports), a prune waited for
     * a load that was waiting for it, and PostgreSQL failed one of the two (a deadlock). ROW
     * SHARE conflicts with a load's EXCLUSIVE lock only, not with records or other prunes. */
    if ((st = capvi_pg_exec(NULL, pg, &pg->w, "pruning verifications",
                            "LOCK TABLE reports IN ROW SHARE MODE", NULL, err)) != CAPV_OK)
        return st;
    capvi_pg_param_int(&p, before_ms);
    capvi_pg_param_int(&p, (int64_t)limit);
    PGresult *r = NULL;
    /* rows another transaction holds are skipped, not waited for */
    if ((st = capvi_pg_exec(&r, pg, &pg->w, "pruning verifications",
                            "WITH del AS (DELETE FROM verifications WHERE seq IN (SELECT seq FROM "
                            "verifications WHERE verified_ms < $1 ORDER BY verified_ms LIMIT $2 "
                            "FOR UPDATE SKIP LOCKED) RETURNING report_id) SELECT count(*), "
                            "array_agg(DISTINCT report_id) FILTER (WHERE report_id IS NOT NULL) "
                            "FROM del",
                            &p, err)) != CAPV_OK)
        return st;
    *removed = (uint64_t)capvi_pg_int(r, 0, 0);
    if (!PQgetisnull(r, 0, 1))
        st = prune_reports(pg, PQgetvalue(r, 0, 1), err);
    PQclear(r);
    return st;
}

/* ---- leadership ------------------------------------------------------------------------ */

/* Seconds the leadership session may idle before the server probes its client. */
#define PG_LEADER_KEEPALIVE_IDLE "60"

/* Under llock: whether the session that took the lock is still alive. */
static bool still_leading(capvi_pg *pg)
{
    capv_error lerr = CAPV_ERROR_INIT;
    return pg->leading && pg->leader.pc != NULL &&
           capvi_pg_exec(NULL, pg, &pg->leader, "checking the leadership", "SELECT 1", NULL,
                         &lerr) == CAPV_OK &&
           pg->leader.generation == pg->leader_generation;
}

capv_status capvi_pg_leader(bool *leader, capvi_pg *pg, capv_error *err)
{
    *leader = false;
    pthread_mutex_lock(&pg->llock);
    capv_status st = CAPV_OK;
    if (!still_leading(pg)) {
        pg->leading = false;
        capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
        PGresult *r = NULL;
        capvi_pg_param_int(&p, CAPVI_PG_LOCK_LEADER);
        /* The server releases the lock when it sees the session gone; a leader whose machine
         * or network vanished says nothing, and the operating system's keepalive would take
         * two hours to tell. This session's socket on the server probes after a minute idle
         * instead (ignored over a Unix socket). */
        st = capvi_pg_exec(NULL, pg, &pg->leader, "setting the leadership session's keepalive",
                           "SET tcp_keepalives_idle = " PG_LEADER_KEEPALIVE_IDLE
                           "; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3",
                           NULL, err);
        if (st == CAPV_OK)
            st = capvi_pg_exec(&r, pg, &pg->leader, "taking the leadership",
                               "SELECT pg_try_advisory_lock($1)", &p, err);
        if (st == CAPV_OK) {
            pg->leading = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
            pg->leader_generation = pg->leader.generation;
        }
        PQclear(r);
    }
    *leader = pg->leading;
    pthread_mutex_unlock(&pg->llock);
    return st;
}

/* ---- snapshots ------------------------------------------------------------------------- */

capv_status capvi_pg_snapshot_begin(capvi_pg *pg, capv_error *err)
{
    /* another thread's snapshot (two backups of one handle) is waited for; this thread's
     * own is a misuse */
    if (pthread_mutex_lock(&pg->slock) != 0)
        return capvi_err_set(err, CAPV_E_STATE, NULL, "a snapshot is already open");
    /* the snapshot is taken by the first statement after BEGIN: at once, not at the first
     * table read */
    capv_status st =
        capvi_pg_exec(NULL, pg, &pg->snap, "starting a snapshot",
                      "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT 1", NULL, err);
    if (st == CAPV_OK)
        pg->snap.in_tx = true;
    else
        pthread_mutex_unlock(&pg->slock);
    return st;
}

void capvi_pg_snapshot_end(capvi_pg *pg)
{
    if (pg == NULL || !pg->snap.in_tx)
        return;
    if (pg->snap.pc != NULL && !pg->snap.lost)
        PQclear(PQexec(pg->snap.pc, "ROLLBACK"));
    pg->snap.in_tx = false;
    pg->snap.lost = false;
    pthread_mutex_unlock(&pg->slock);
}

/* The cursor of each table, its columns as the header lists them, in primary-key order. */
static const struct {
    const char *table, *declare;
} snapshot_tables[] = {
    { "entries", "DECLARE capv_snap NO SCROLL CURSOR FOR SELECT seq, id, manifest_hash, "
                 "proof_hash, manifest_key, proof_key, timestamp_file, registered_at, "
                 "policy_hash, signature, public_key, kid, signature_scheme FROM entries "
                 "ORDER BY seq" },
    { "verifications", "DECLARE capv_snap NO SCROLL CURSOR FOR SELECT seq, request_id, subject, "
                       "manifest_hash, proof_hash, policy_hash, entry_seq, result, verified_at, "
                       "report_id, verified_ms FROM verifications ORDER BY seq" },
    { "reports", "DECLARE capv_snap NO SCROLL CURSOR FOR SELECT id, sha3, bytes, summary, json "
                 "FROM reports ORDER BY id" },
    { "policies", "DECLARE capv_snap NO SCROLL CURSOR FOR SELECT seq, policy_id, "
                  "policy_version, policy_hash, policy_key, ir_hash, ir, created_at FROM "
                  "policies ORDER BY seq" },
    { "registry_meta", "DECLARE capv_snap NO SCROLL CURSOR FOR SELECT key, value FROM "
                       "registry_meta ORDER BY key" },
};

/* The bytea type's OID (PostgreSQL's catalog pg_type.dat): its columns are handed over
 * decoded. */
#define PG_BYTEA_OID 17
#define PG_MAX_COLUMNS 16

/* Hands row `row` of `r` to fn, decoding the bytea columns into *scratch. */
static capv_status emit_row(const PGresult *r, int row, capv_buf *scratch, capvi_pg_row_fn fn,
                            void *user, capv_error *err)
{
    int ncols = PQnfields(r);
    const char *cols[PG_MAX_COLUMNS];
    int lens[PG_MAX_COLUMNS];
    size_t offs[PG_MAX_COLUMNS];
    scratch->len = 0;
    for (int i = 0; i < ncols; i++) {
        cols[i] = capvi_pg_text(r, row, i);
        lens[i] = cols[i] ? PQgetlength(r, row, i) : 0;
        if (cols[i] == NULL || PQftype(r, i) != PG_BYTEA_OID)
            continue;
        size_t n = lens[i] >= 2 ? (size_t)(lens[i] - 2) / 2 : 0;
        offs[i] = scratch->len;
        if (!capvi_buf_reserve(scratch, n + 1))
            return capvi_err_nomem(err);
        if (capv_hex_decode(scratch->data + scratch->len, n, cols[i] + 2, 2 * n, NULL) != CAPV_OK)
            return capvi_err_set(err, CAPV_E_IO, NULL, "reading a snapshot: unexpected bytea text");
        scratch->data[scratch->len + n] = 0;
        scratch->len += n + 1;
        lens[i] = (int)n;
    }
    /* the scratch buffer no longer moves: point the decoded columns into it */
    for (int i = 0; i < ncols; i++)
        if (cols[i] != NULL && PQftype(r, i) == PG_BYTEA_OID)
            cols[i] = (const char *)scratch->data + offs[i];
    return fn(user, cols, lens, ncols, err);
}

static capv_status fetch_rows(capvi_pg *pg, capvi_pg_row_fn fn, void *user, capv_error *err)
{
    capv_buf scratch = CAPV_BUF_INIT;
    capv_status st = CAPV_OK;
    int n;
    do {
        PGresult *r = NULL;
        char sql[64];
        snprintf(sql, sizeof sql, "FETCH FORWARD %d FROM capv_snap", PG_SNAPSHOT_FETCH);
        if ((st = capvi_pg_exec(&r, pg, &pg->snap, "reading a snapshot", sql, NULL, err)) !=
            CAPV_OK)
            break;
        n = PQntuples(r);
        for (int i = 0; st == CAPV_OK && i < n; i++)
            st = emit_row(r, i, &scratch, fn, user, err);
        PQclear(r);
    } while (st == CAPV_OK && n == PG_SNAPSHOT_FETCH);
    capvi_buf_free(&scratch);
    return st;
}

capv_status capvi_pg_snapshot_rows(capvi_pg *pg, const char *table, capvi_pg_row_fn fn, void *user,
                                   capv_error *err)
{
    size_t t = 0;
    while (t < sizeof snapshot_tables / sizeof snapshot_tables[0] &&
           strcmp(snapshot_tables[t].table, table) != 0)
        t++;
    if (t == sizeof snapshot_tables / sizeof snapshot_tables[0])
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "table", "no registry table '%.64s'", table);
    if (!pg->snap.in_tx)
        return capvi_err_set(err, CAPV_E_STATE, NULL, "no snapshot is open");
    capv_status st = capvi_pg_exec(NULL, pg, &pg->snap, "reading a snapshot",
                                   snapshot_tables[t].declare, NULL, err);
    if (st != CAPV_OK)
        return st;
    st = fetch_rows(pg, fn, user, err);
    capv_error lerr = CAPV_ERROR_INIT; /* closing fails only with the connection */
    if (capvi_pg_exec(NULL, pg, &pg->snap, "closing a snapshot cursor", "CLOSE capv_snap", NULL,
                      &lerr) != CAPV_OK &&
        st == CAPV_OK)
        st = capvi_err_set(err, lerr.code, NULL, "%s", lerr.message);
    return st;
}
