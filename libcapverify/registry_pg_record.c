/* SPDX-License-Identifier: Apache-2.0 */
/* Recording verifications in the PostgreSQL registry (docs/registry.md, "PostgreSQL
 * backend"): a batch is a few statements whatever its size (up to PG_RECORD_CHUNK records
 * each, the rows passed as arrays): the distinct report bodies (one statement: those already
 * stored are locked and the others inserted), the verifications (one INSERT, which looks up
 * the entry of each distinct digest pair once), and for the records
 * not inserted, a look-up of the stored rows, compared by capvi_reg_record_compare.
 *
 * The verifications are first inserted without ON CONFLICT: a request id is almost always
 * new, and PostgreSQL's ON CONFLICT costs every row a speculative insertion (a look-up of
 * the unique index, then the row and its confirmation written to the WAL), about a third
 * of the insert's time on the server. When a request id of the batch is already stored,
 * that insert fails (unique_violation); the batch is then rolled back to the write's
 * savepoint and recorded again with ON CONFLICT (request_id) DO NOTHING (capvi_pg_record,
 * registry_pg.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_pg_array_int.h"
#include "registry_pg_conn_int.h"
#include "registry_pg_record_int.h"

/* Records per statement (each column one array parameter), and report bodies per statement
 * up to about PG_RECORD_CHUNK_BYTES (at least one): the server takes at most 1 GB in one
 * parameter, and a batch of large reports (registry.max_report_bytes allows 16 MiB each)
 * would otherwise fail as a whole at every retry. */
#define PG_RECORD_CHUNK 1000u
#define PG_RECORD_CHUNK_BYTES (64u * 1024u * 1024u)
_Static_assert(PG_RECORD_CHUNK <= 32767, "a row's index of its digest pair is a smallint");
/* Rounds of bodies_put for report bodies that concurrent transactions store or remove
 * meanwhile. */
#define PG_REPORT_ROUNDS 3

/* A record of the chunk, sorted by request_id then position. */
typedef struct rec_slot {
    capvi_reg_record *r;
    size_t pos;
    bool first;    /* the first of the chunk with its request_id: the one inserted */
    bool inserted; /* its row was inserted by this chunk */
    size_t report; /* index of its body in the chunk's distinct bodies (has_report) */
    bool has_report;
    size_t key; /* index of its digest pair in the chunk's distinct pairs (has_key) */
    bool has_key;
} rec_slot;

/* A distinct report body of the chunk (sorted by key). */
typedef struct rec_body {
    const capvi_reg_record *r; /* the first record with it */
    int64_t id;                /* 0: not yet known */
    bool mine;                 /* inserted by this chunk */
} rec_body;

typedef struct rec_chunk {
    rec_slot *slots;
    size_t n;
    rec_body *bodies;
    size_t nbodies;
    const capvi_reg_record **keys; /* the distinct digest pairs (sorted): a record with each */
    size_t nkeys;
} rec_chunk;

static int slot_cmp(const void *a, const void *b)
{
    const rec_slot *x = a, *y = b;
    int c = strcmp(x->r->request_id, y->r->request_id);
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static int body_cmp(const void *a, const void *b)
{
    return memcmp(((const rec_body *)a)->r->key, ((const rec_body *)b)->r->key, 32);
}

/* The entry's digest pair of a record: the entry is looked up by both keys. */
static bool has_entry_key(const capvi_reg_record *r)
{
    return r->has_m && r->has_p;
}

static int key_cmp(const void *a, const void *b)
{
    const capvi_reg_record *x = *(const capvi_reg_record *const *)a;
    const capvi_reg_record *y = *(const capvi_reg_record *const *)b;
    int c = memcmp(x->mk, y->mk, 32);
    return c ? c : memcmp(x->pk, y->pk, 32);
}

/* The first slot with `request_id`, or NULL. */
static rec_slot *find_slot(const rec_chunk *k, const char *request_id)
{
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(k->slots[mid].r->request_id, request_id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < k->n && strcmp(k->slots[lo].r->request_id, request_id) == 0 ? &k->slots[lo] : NULL;
}

static rec_body *find_body(const rec_chunk *k, const uint8_t key[32])
{
    capvi_reg_record probe;
    memcpy(probe.key, key, 32);
    rec_body want = { &probe, 0, false };
    return bsearch(&want, k->bodies, k->nbodies, sizeof *k->bodies, body_cmp);
}

/* Sorts the records, marks the first of each request_id, and collects the distinct bodies
 * of those. */
static capv_status chunk_init(rec_chunk *k, capvi_reg_record **recs, size_t n, capv_error *err)
{
    memset(k, 0, sizeof *k);
    k->slots = calloc(n, sizeof *k->slots);
    k->bodies = calloc(n, sizeof *k->bodies);
    k->keys = calloc(n, sizeof *k->keys);
    if (k->slots == NULL || k->bodies == NULL || k->keys == NULL)
        return capvi_err_nomem(err);
    k->n = n;
    for (size_t i = 0; i < n; i++)
        k->slots[i] = (rec_slot){ .r = recs[i], .pos = i };
    qsort(k->slots, n, sizeof *k->slots, slot_cmp);
    for (size_t i = 0; i < n; i++) {
        rec_slot *s = &k->slots[i];
        s->first = i == 0 || strcmp(k->slots[i - 1].r->request_id, s->r->request_id) != 0;
        if (s->first && s->r->body != NULL)
            k->bodies[k->nbodies++] = (rec_body){ s->r, 0, false };
    }
    qsort(k->bodies, k->nbodies, sizeof *k->bodies, body_cmp);
    size_t u = 0;
    for (size_t i = 0; i < k->nbodies; i++)
        if (u == 0 || memcmp(k->bodies[u - 1].r->key, k->bodies[i].r->key, 32) != 0)
            k->bodies[u++] = k->bodies[i];
    k->nbodies = u;
    for (size_t i = 0; i < n; i++)
        if (k->slots[i].first && has_entry_key(k->slots[i].r))
            k->keys[k->nkeys++] = k->slots[i].r;
    qsort(k->keys, k->nkeys, sizeof *k->keys, key_cmp);
    u = 0;
    for (size_t i = 0; i < k->nkeys; i++)
        if (u == 0 || key_cmp(&k->keys[u - 1], &k->keys[i]) != 0)
            k->keys[u++] = k->keys[i];
    k->nkeys = u;
    for (size_t i = 0; i < n; i++) {
        rec_slot *s = &k->slots[i];
        if ((s->has_report = s->first && s->r->body != NULL))
            s->report = (size_t)(find_body(k, s->r->key) - k->bodies);
        if ((s->has_key = s->first && has_entry_key(s->r))) {
            const capvi_reg_record **f =
                bsearch(&s->r, k->keys, k->nkeys, sizeof *k->keys, key_cmp);
            s->key = (size_t)(f - k->keys);
        }
    }
    return CAPV_OK;
}

static void chunk_free(rec_chunk *k)
{
    free(k->slots);
    free(k->bodies);
    free(k->keys);
}

/* ---- columns as array parameters -------------------------------------------------------
 * Each column of a statement's rows is one array parameter (registry_pg_array_int.h) read by
 * unnest() or = ANY(): a batch costs the server a constant parse and plan instead of one per
 * placeholder. */

static void arrays_init(capvi_pg_array *cols, const capvi_pg_elem *elems, size_t n)
{
    for (size_t i = 0; i < n; i++)
        capvi_pg_array_init(&cols[i], elems[i]);
}

/* Runs `sql` with the n arrays as its parameters $1…$n; frees them. */
static capv_status run_arrays(PGresult **out, capvi_pg *pg, const char *what, const char *sql,
                              capvi_pg_array *cols, size_t n, capv_error *err)
{
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    capv_status st = CAPV_OK;
    for (size_t i = 0; i < n; i++) {
        if (!capvi_pg_array_finish(&cols[i]) && st == CAPV_OK)
            st = capvi_err_nomem(err);
        capvi_pg_param_bytes(&p, cols[i].b.data, cols[i].b.len);
    }
    if (st == CAPV_OK)
        st = capvi_pg_exec(out, pg, &pg->w, what, sql, &p, err);
    for (size_t i = 0; i < n; i++)
        capvi_pg_array_free(&cols[i]);
    return st;
}

/* ---- report bodies --------------------------------------------------------------------- */

/* The ids of the bodies whose id is unknown: those already stored are locked (FOR KEY SHARE),
 * so that no prune removes them before this transaction references them, and the others are
 * inserted. One statement, whose snapshot does not see what other transactions commit while
 * it runs: a body one of them stores meanwhile (the insert waits for it and skips the row)
 * stays without an id for the next round (bodies_store); one that a prune removes meanwhile
 * (the lock waits for the prune and finds no row) is inserted again, as this chunk's. */
static capv_status bodies_put(capvi_pg *pg, rec_chunk *k, capv_error *err)
{
    static const capvi_pg_elem elems[4] = { CAPVI_PG_BYTEA, CAPVI_PG_INT8, CAPVI_PG_INT2,
                                            CAPVI_PG_TEXT };
    capvi_pg_array col[4];
    arrays_init(col, elems, 4);
    for (size_t i = 0; i < k->nbodies; i++) {
        const capvi_reg_record *r = k->bodies[i].r;
        if (k->bodies[i].id != 0)
            continue;
        capvi_pg_array_bytes(&col[0], r->key, 32);
        capvi_pg_array_int(&col[1], (int64_t)r->full_len);
        capvi_pg_array_int(&col[2], r->summary ? 1 : 0);
        capvi_pg_array_bytes(&col[3], r->body, r->body_len);
    }
    PGresult *res = NULL;
    capv_status st =
        run_arrays(&res, pg, "storing reports",
                   "WITH old AS (SELECT id, sha3 FROM reports WHERE sha3 = ANY ($1::bytea[]) FOR "
                   "KEY SHARE), new AS (INSERT INTO reports (sha3, bytes, summary, json) SELECT * "
                   "FROM unnest($1::bytea[], $2::bigint[], $3::smallint[], $4::text[]) AS n "
                   "(sha3, bytes, summary, json) WHERE n.sha3 NOT IN (SELECT sha3 FROM old) ON "
                   "CONFLICT (sha3) DO NOTHING RETURNING id, sha3) SELECT id, sha3, 0 FROM old "
                   "UNION ALL SELECT id, sha3, 1 FROM new",
                   col, 4, err);
    for (int i = 0; st == CAPV_OK && i < PQntuples(res); i++) {
        uint8_t key[32];
        rec_body *b = capvi_pg_bytes(key, 32, res, i, 1) ? find_body(k, key) : NULL;
        if (b != NULL) {
            b->id = capvi_pg_int(res, i, 0);
            b->mine = capvi_pg_int(res, i, 2) == 1;
        }
    }
    PQclear(res);
    return st;
}

static size_t bodies_missing(const rec_chunk *k)
{
    size_t m = 0;
    for (size_t i = 0; i < k->nbodies; i++)
        m += k->bodies[i].id == 0;
    return m;
}

static capv_status bodies_store(capvi_pg *pg, rec_chunk *k, capv_error *err)
{
    capv_status st = CAPV_OK;
    for (int round = 0; st == CAPV_OK && round < PG_REPORT_ROUNDS && bodies_missing(k) > 0; round++)
        st = bodies_put(pg, k, err);
    if (st == CAPV_OK && bodies_missing(k) > 0)
        st = capvi_err_set(err, CAPV_E_BUSY, NULL,
                           "storing reports: bodies were removed concurrently; retry");
    return st;
}

/* ---- verifications --------------------------------------------------------------------- */

static const capvi_pg_elem record_elems[10] = {
    CAPVI_PG_TEXT, CAPVI_PG_TEXT, CAPVI_PG_TEXT, CAPVI_PG_TEXT, CAPVI_PG_TEXT,
    CAPVI_PG_INT2, CAPVI_PG_TEXT, CAPVI_PG_INT8, CAPVI_PG_TEXT, CAPVI_PG_INT8,
};

static void record_columns(capvi_pg_array col[10], const rec_chunk *k, const rec_slot *s)
{
    const capvi_reg_record *r = s->r;
    capvi_pg_array_str(&col[0], r->request_id);
    capvi_pg_array_str(&col[1], r->subject);
    capvi_pg_array_str(&col[2], r->has_m ? r->mh : NULL);
    capvi_pg_array_str(&col[3], r->has_p ? r->ph : NULL);
    capvi_pg_array_str(&col[4], r->has_pol ? r->pol : NULL);
    if (s->has_key) /* the 1-based subscript into the statement's digest pairs */
        capvi_pg_array_int(&col[5], (int64_t)s->key + 1);
    else
        capvi_pg_array_bytes(&col[5], NULL, 0);
    capvi_pg_array_str(&col[6], r->result);
    if (s->has_report)
        capvi_pg_array_int(&col[7], k->bodies[s->report].id);
    else
        capvi_pg_array_bytes(&col[7], NULL, 0);
    capvi_pg_array_str(&col[8], r->at);
    capvi_pg_array_int(&col[9], r->ms);
}

/* The chunk's distinct digest pairs, the last two parameters of the insert. */
static void key_columns(capvi_pg_array col[2], const rec_chunk *k)
{
    for (size_t i = 0; i < k->nkeys; i++) {
        capvi_pg_array_bytes(&col[0], k->keys[i]->mk, 32);
        capvi_pg_array_bytes(&col[1], k->keys[i]->pk, 32);
    }
}

/* The record of `s` was inserted by this chunk, as row `seq` (0: not asked for). */
static void slot_inserted(rec_slot *s, int64_t seq)
{
    s->inserted = true;
    s->r->st = CAPV_OK;
    s->r->seq = seq;
    capvi_err_clear(&s->r->err);
}

/* Inserts the first record of each request_id; those inserted are CAPV_OK with their seq.
 * Without `skip_stored`, a request id already stored fails the statement (CAPV_E_CONFLICT,
 * unique_violation) and aborts the transaction; with it, its record is left out. Without
 * `skip_stored` and with no caller waiting for a seq (queued records), the rows come back
 * with nothing (their seq 0): the statement's success says every one was inserted, and
 * RETURNING cost the server and the writer about a microsecond per row. */
static capv_status records_insert(capvi_pg *pg, rec_chunk *k, bool skip_stored, capv_error *err)
{
    capvi_pg_array col[12];
    arrays_init(col, record_elems, 10);
    capvi_pg_array_init(&col[10], CAPVI_PG_BYTEA);
    capvi_pg_array_init(&col[11], CAPVI_PG_BYTEA);
    bool returning = skip_stored;
    for (size_t i = 0; i < k->n; i++)
        if (k->slots[i].first) {
            record_columns(col, k, &k->slots[i]);
            returning = returning || k->slots[i].r->seq_wanted;
        }
    key_columns(col + 10, k);
    /* Each distinct digest pair's entry is looked up once (k.seqs, 0 for none), and a row
     * takes its entry's seq by subscript: joining the rows to entries instead made the
     * server hash every row of the batch, its plan guessing ten rows for an unnest(). In
     * the statement, so that it reads the entries as the insert's snapshot sees them (a
     * load holding the tables EXCLUSIVE ends before it, docs/registry.md). */
#define RECORDS_INSERT                                                                             \
    "WITH k AS (SELECT ARRAY(SELECT coalesce((SELECT e.seq FROM entries e WHERE e.manifest_key "   \
    "= u.mk AND e.proof_key = u.pk), 0) FROM unnest($11::bytea[], $12::bytea[]) WITH ORDINALITY "  \
    "AS u (mk, pk, i) ORDER BY u.i) AS seqs) INSERT INTO verifications (request_id, subject, "     \
    "manifest_hash, proof_hash, policy_hash, entry_seq, result, report_id, verified_at, "          \
    "verified_ms) SELECT v.rid, v.subject, v.mh, v.ph, v.pol, nullif((SELECT seqs FROM k)[v.ki], " \
    "0), v.result, v.report_id, v.at, v.ms FROM unnest($1::text[], $2::text[], $3::text[], "       \
    "$4::text[], $5::text[], $6::smallint[], $7::text[], $8::bigint[], $9::text[], "               \
    "$10::bigint[]) AS v (rid, subject, mh, ph, pol, ki, result, report_id, at, ms) "
    PGresult *res = NULL;
    capv_status st =
        run_arrays(&res, pg, "recording verifications",
                   skip_stored ? RECORDS_INSERT "ON CONFLICT (request_id) DO NOTHING RETURNING "
                                                "request_id, seq"
                   : returning ? RECORDS_INSERT "RETURNING request_id, seq"
                               : RECORDS_INSERT,
                   col, 12, err);
#undef RECORDS_INSERT
    for (size_t i = 0; st == CAPV_OK && !returning && i < k->n; i++)
        if (k->slots[i].first)
            slot_inserted(&k->slots[i], 0);
    for (int i = 0; st == CAPV_OK && i < PQntuples(res); i++) {
        rec_slot *s = find_slot(k, PQgetvalue(res, i, 0));
        if (s != NULL)
            slot_inserted(s, capvi_pg_int(res, i, 1));
    }
    PQclear(res);
    return st;
}

/* Compares the records of row `i` (a stored verification) with it. */
static void records_compare(const rec_chunk *k, const PGresult *res, int i)
{
    const char *rid = PQgetvalue(res, i, 0);
    uint8_t key[32];
    bool has_key = capvi_pg_bytes(key, 32, res, i, 8);
    for (rec_slot *s = find_slot(k, rid);
         s != NULL && s < k->slots + k->n && strcmp(s->r->request_id, rid) == 0; s++) {
        if (s->inserted)
            continue;
        s->r->seq = capvi_pg_int(res, i, 1);
        s->r->st = capvi_reg_record_compare(s->r, capvi_pg_text(res, i, 2),
                                            capvi_pg_text(res, i, 3), capvi_pg_text(res, i, 4),
                                            capvi_pg_text(res, i, 5), capvi_pg_text(res, i, 6),
                                            capvi_pg_text(res, i, 7), has_key ? key : NULL);
    }
}

/* The records not inserted: compared with what is stored under their request_id. */
static capv_status records_existing(capvi_pg *pg, rec_chunk *k, capv_error *err)
{
    capvi_pg_array ids;
    capvi_pg_array_init(&ids, CAPVI_PG_TEXT);
    const char *last = NULL;
    for (size_t i = 0; i < k->n; i++) {
        rec_slot *s = &k->slots[i];
        if (s->inserted)
            continue;
        s->r->st = CAPV_E_BUSY; /* until its stored row is found */
        capvi_err_set(&s->r->err, CAPV_E_BUSY, "request_id",
                      "verification '%s' was neither stored nor found (changed concurrently); "
                      "retry",
                      s->r->request_id);
        if (last == NULL || strcmp(last, s->r->request_id) != 0)
            capvi_pg_array_str(&ids, last = s->r->request_id);
    }
    if (last == NULL) {
        capvi_pg_array_free(&ids);
        return CAPV_OK;
    }
    PGresult *res = NULL;
    capv_status st = run_arrays(&res, pg, "looking up verifications",
                                "SELECT v.request_id, v.seq, v.subject, v.manifest_hash, "
                                "v.proof_hash, v.policy_hash, v.result, v.verified_at, r.sha3 "
                                "FROM verifications v LEFT JOIN reports r ON r.id = v.report_id "
                                "WHERE v.request_id = ANY ($1::text[])",
                                &ids, 1, err);
    for (int i = 0; st == CAPV_OK && i < PQntuples(res); i++)
        records_compare(k, res, i);
    PQclear(res);
    return st;
}

/* The bodies this chunk inserted for records that were not inserted after all (retries,
 * conflicts), removed again: a stored body always has a verification. */
static capv_status bodies_unused(capvi_pg *pg, rec_chunk *k, capv_error *err)
{
    bool *used = calloc(k->nbodies ? k->nbodies : 1, sizeof *used);
    if (used == NULL)
        return capvi_err_nomem(err);
    for (size_t i = 0; i < k->n; i++)
        if (k->slots[i].inserted && k->slots[i].has_report)
            used[k->slots[i].report] = true;
    capvi_pg_array ids;
    capvi_pg_array_init(&ids, CAPVI_PG_INT8);
    for (size_t i = 0; i < k->nbodies; i++)
        if (k->bodies[i].mine && !used[i])
            capvi_pg_array_int(&ids, k->bodies[i].id);
    free(used);
    if (ids.n == 0) {
        capvi_pg_array_free(&ids);
        return CAPV_OK;
    }
    return run_arrays(NULL, pg, "removing unused reports",
                      "DELETE FROM reports WHERE id = ANY ($1::bigint[])", &ids, 1, err);
}

static capv_status record_chunk(capvi_pg *pg, capvi_reg_record **recs, size_t n, bool skip_stored,
                                capv_error *err)
{
    rec_chunk k;
    capv_status st = chunk_init(&k, recs, n, err);
    if (st == CAPV_OK && (st = bodies_store(pg, &k, err)) == CAPV_OK &&
        (st = records_insert(pg, &k, skip_stored, err)) == CAPV_OK &&
        (st = records_existing(pg, &k, err)) == CAPV_OK)
        st = bodies_unused(pg, &k, err);
    chunk_free(&k);
    return st;
}

/* How many of the n records go into the next statement. */
static size_t chunk_len(capvi_reg_record *const *recs, size_t n)
{
    size_t k = 0;
    uint64_t bytes = 0;
    while (k < n && k < PG_RECORD_CHUNK &&
           (k == 0 || bytes + recs[k]->body_len <= PG_RECORD_CHUNK_BYTES))
        bytes += recs[k++]->body_len;
    return k;
}

capv_status capvi_pg_record_batch(capvi_pg *pg, capvi_reg_record **recs, size_t n, bool skip_stored)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = CAPV_OK;
    if (pg->read_only || !pg->w.in_tx)
        st = capvi_err_set(&err, CAPV_E_STATE, NULL,
                           pg->read_only ? "the registry database is open read-only"
                                         : "no transaction is open");
    for (size_t i = 0, k = 0; st == CAPV_OK && i < n; i += k) {
        k = chunk_len(recs + i, n - i);
        st = record_chunk(pg, recs + i, k, skip_stored, &err);
    }
    if (st != CAPV_OK)
        capvi_pg_records_fail(recs, n, st, &err);
    return st;
}

void capvi_pg_records_fail(capvi_reg_record **recs, size_t n, capv_status st, const capv_error *err)
{
    for (size_t i = 0; i < n; i++) {
        recs[i]->st = st;
        recs[i]->seq = 0;
        recs[i]->err = *err;
    }
}
