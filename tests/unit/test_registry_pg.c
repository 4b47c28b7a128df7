/* SPDX-License-Identifier: Apache-2.0 */
/* The registry's PostgreSQL storage (docs/registry.md, "PostgreSQL backend") against a real
 * server: tests/pg/with_pg.sh starts a throw-away cluster and sets CAPV_TEST_PG_URL; without
 * it the suite is skipped (exit 77). Each test works in a schema of its own (the URL's
 * search_path). Covered: open / migrate / reopen and refusals, ten concurrent opens migrating
 * once, entries (added, retried, conflicting by hashes and by id), look-ups, paging, counts,
 * record batches (500 records, retries, conflicts, shared report bodies), policies,
 * pruning, writers of two handles (a batch adds its entries in key order; a deadlock's victim
 * runs again), leadership, snapshots, connection errors (no password in messages, TLS refused),
 * password files, lost sessions and a server restart (backoff, recovery), and a throughput
 * figure (printed, not asserted). */
#include <capverify.h>
#include <check.h>
#include <libpq-fe.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "registry_pg_conn_int.h"
#include "registry_pg_int.h"
#include "registry_pg_load_int.h"
#include "registry_writer_int.h"
#include "suites.h"
#include "testutil.h"

static char schema[64];
static char url[1024];

/* ---- helpers --------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A statement on a connection of the test itself (no search_path: names are qualified). */
static PGresult *admin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static PGresult *admin(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGconn *c = PQconnectdb(getenv("CAPV_TEST_PG_URL"));
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "admin connection: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ExecStatusType es = PQresultStatus(r);
    ck_assert_msg(es == PGRES_TUPLES_OK || es == PGRES_COMMAND_OK, "%s: %s", sql,
                  PQresultErrorMessage(r));
    PQfinish(c);
    return r;
}

static long long admin_int(const char *sql)
{
    PGresult *r = admin("%s", sql);
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* The URL of the test's own schema. */
static void schema_url(char *out, size_t cap, const char *name)
{
    const char *base = getenv("CAPV_TEST_PG_URL");
    snprintf(out, cap, "%s%soptions=-csearch_path%%3D%s", base, strchr(base, '?') ? "&" : "?",
             name);
}

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
    static int n;
    snprintf(schema, sizeof schema, "t_%ld_%d", (long)getpid(), n++);
    PQclear(admin("CREATE SCHEMA %s", schema));
    schema_url(url, sizeof url, schema);
}

static void teardown(void)
{
    capv_global_shutdown();
}

static capvi_pg_options options(const char *u)
{
    capvi_pg_options o = { u, NULL, false, true, 2, 0 };
    return o;
}

static capvi_pg *open_rw(void)
{
    capvi_pg *pg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capvi_pg_options o = options(url);
    ck_assert_msg(capvi_pg_open(&pg, &o, &err) == CAPV_OK, "open: %s", err.message);
    return pg;
}

/* "0x" + 64 hex digits of the byte `b` repeated, and its key. */
static void digest(char out[CAPV_DIGEST_HEX_SIZE], uint8_t key[32], int b)
{
    memset(key, b, 32);
    capv_digest_format(out, key);
}

typedef struct test_entry {
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    uint8_t mk[32], pk[32];
    capv_registry_entry in;
    capv_reg_entry_in e;
} test_entry;

static void entry_make(test_entry *t, int m, int p, const char *id, const char *ts)
{
    capv_registry_entry in = CAPV_REGISTRY_ENTRY_INIT;
    digest(t->mh, t->mk, m);
    digest(t->ph, t->pk, p);
    in.id = id;
    in.manifest_hash = t->mh;
    in.proof_hash = t->ph;
    in.timestamp_file = ts;
    in.registered_at = "2026-01-01T00:00:00Z";
    t->in = in;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capvi_reg_entry_prepare(&t->e, &t->in, NULL, REG_PREP_STRICT, &err) == CAPV_OK,
                  "prepare: %s", err.message);
}

static capv_status entry_add(capv_registry_entry **stored, capvi_pg *pg, test_entry *t,
                             capv_error *err)
{
    ck_assert_int_eq(capvi_pg_begin(pg, true, err), CAPV_OK);
    capv_status st = capvi_pg_entry_add(stored, pg, &t->e, true, err);
    capv_error cerr = CAPV_ERROR_INIT;
    ck_assert_int_eq(capvi_pg_commit(pg, &cerr), CAPV_OK);
    return st;
}

static char bodies[64][1100];

static void record_make(capvi_reg_record *r, const char *rid, const char *result, int body,
                        int64_t ms)
{
    memset(r, 0, sizeof *r);
    snprintf(r->request_id, sizeof r->request_id, "%s", rid);
    snprintf(r->result, sizeof r->result, "%s", result);
    r->ms = ms;
    capv_rfc3339_format(r->at, ms);
    r->at_given = true;
    r->seq_wanted = true; /* as a caller waiting for its seq; a queued record is not */
    if (body >= 0) {
        snprintf(bodies[body], sizeof bodies[body], "{\"report\":%d,\"pad\":\"%0900d\"}", body, 0);
        r->body = bodies[body];
        r->body_len = strlen(bodies[body]);
        r->full_len = r->body_len;
        memset(r->key, body + 1, 32);
    }
}

static capv_status batch(capvi_pg *pg, capvi_reg_record *recs, size_t n)
{
    capvi_reg_record **p = calloc(n, sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = &recs[i];
    capv_error err = CAPV_ERROR_INIT;
    /* as the registry's writer records queued records: in the write's savepoint, in a
     * transaction that is not durable (its statements' generic plans) */
    ck_assert_int_eq(capvi_pg_begin(pg, false, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_savepoint(pg, &err), CAPV_OK);
    capv_status st = capvi_pg_record(pg, p, n);
    ck_assert_msg(capvi_pg_release(pg, &err) == CAPV_OK, "release: %s", err.message);
    ck_assert_msg(capvi_pg_commit(pg, &err) == CAPV_OK, "commit: %s", err.message);
    free(p);
    return st;
}

static long long rows_of(const char *table)
{
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.%s", schema, table);
    return admin_int(sql);
}

/* ---- opening and migrations ------------------------------------------------------------ */

START_TEST(test_open_migrate_reopen)
{
    capv_error err = CAPV_ERROR_INIT;
    capvi_pg *pg = NULL;
    capvi_pg_options o = options(url);
    o.read_only = true;
    ck_assert_int_eq(capvi_pg_open(&pg, &o, &err), CAPV_E_STATE);
    ck_assert_ptr_nonnull(strstr(err.message, "capverify registry migrate"));
    o.read_only = false;
    o.migrate = false;
    ck_assert_int_eq(capvi_pg_open(&pg, &o, &err), CAPV_E_STATE);
    ck_assert_ptr_null(pg);

    pg = open_rw();
    ck_assert_int_eq(capvi_pg_found_version(pg), 0);
    ck_assert_str_eq(capvi_pg_location(pg), url);
    uint64_t n = 1;
    ck_assert_int_eq(capvi_pg_count(&n, pg, CAPV_REGISTRY_ENTRIES, &err), CAPV_OK);
    ck_assert_uint_eq(n, 0);
    capvi_pg_close(pg);

    pg = open_rw();
    ck_assert_int_eq(capvi_pg_found_version(pg), CAPVI_PG_SCHEMA_VERSION);
    capvi_pg_close(pg);
    o.read_only = true;
    ck_assert_int_eq(capvi_pg_open(&pg, &o, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_begin(pg, true, &err), CAPV_E_STATE);
    capvi_pg_close(pg);
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s.registry_meta WHERE (key, value) IN (('schema_version', "
             "'%d'), ('registry_version', '1.0'))",
             schema, CAPVI_PG_SCHEMA_VERSION);
    ck_assert_int_eq(admin_int(sql), 2);

    /* a newer schema, and tables that are not a registry */
    PQclear(admin("UPDATE %s.registry_meta SET value = '%d' WHERE key = 'schema_version'", schema,
                  CAPVI_PG_SCHEMA_VERSION + 1));
    o.read_only = false;
    ck_assert_int_eq(capvi_pg_open(&pg, &o, &err), CAPV_E_UNSUPPORTED_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "newer"));
    PQclear(admin("DROP TABLE %s.registry_meta", schema));
    ck_assert_int_eq(capvi_pg_open(&pg, &o, &err), CAPV_E_UNSUPPORTED_FORMAT);
    o.readers = 0;
    ck_assert_int_eq(capvi_pg_open(&pg, &o, &err), CAPV_E_INVALID_ARG);
}
END_TEST

/* The foreign keys of the verifications table. */
static long long verification_fkeys(void)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_constraint WHERE conrelid = '%s.verifications'::regclass "
             "AND contype = 'f'",
             schema);
    return admin_int(sql);
}

/* Version 2 had two foreign keys on verifications; version 3 drops them and keeps the rows. */
START_TEST(test_migrate_drops_foreign_keys)
{
    capvi_pg *pg = open_rw();
    capvi_reg_record recs[4];
    for (int i = 0; i < 4; i++) {
        char rid[16];
        snprintf(rid, sizeof rid, "m-%d", i);
        record_make(&recs[i], rid, "ok", i % 2, 1000 + i);
    }
    ck_assert_int_eq(batch(pg, recs, 4), CAPV_OK);
    capvi_pg_close(pg);
    ck_assert_int_eq(verification_fkeys(), 0);

    /* the database as version 2 left it */
    PQclear(admin("ALTER TABLE %s.verifications ADD FOREIGN KEY (entry_seq) REFERENCES "
                  "%s.entries (seq), ADD FOREIGN KEY (report_id) REFERENCES %s.reports (id); "
                  "UPDATE %s.registry_meta SET value = '2' WHERE key = 'schema_version'; "
                  "DELETE FROM %s.registry_meta WHERE key = 'migrated_to_3'",
                  schema, schema, schema, schema, schema));
    ck_assert_int_eq(verification_fkeys(), 2);
    pg = open_rw();
    ck_assert_int_eq(capvi_pg_found_version(pg), 2);
    capvi_pg_close(pg);
    ck_assert_int_eq(verification_fkeys(), 0);
    ck_assert_int_eq(rows_of("verifications"), 4);
    ck_assert_int_eq(rows_of("reports"), 2);
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s.registry_meta WHERE key = 'migrated_to_3' OR (key, value) "
             "= ('schema_version', '3')",
             schema);
    ck_assert_int_eq(admin_int(sql), 2);
}
END_TEST

typedef struct opener {
    capv_status st;
    int found;
    char msg[CAPV_ERROR_MESSAGE_SIZE];
} opener;

static void *open_thread(void *arg)
{
    opener *op = arg;
    capv_error err = CAPV_ERROR_INIT;
    capvi_pg *pg = NULL;
    capvi_pg_options o = options(url);
    o.readers = 1;
    op->st = capvi_pg_open(&pg, &o, &err);
    op->found = capvi_pg_found_version(pg);
    snprintf(op->msg, sizeof op->msg, "%s", err.message);
    capvi_pg_close(pg);
    return NULL;
}

START_TEST(test_concurrent_open)
{
    /* also where transactions default to serializable: the migration reads the version
     * again once it holds the lock, which a snapshot taken before would not show */
    if (_i == 1) {
        size_t n = strlen(url);
        snprintf(url + n, sizeof url - n, "%%20-cdefault_transaction_isolation%%3Dserializable");
    }
    pthread_t t[10];
    opener op[10];
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, open_thread, &op[i]), 0);
    int migrated = 0;
    for (int i = 0; i < 10; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(op[i].st == CAPV_OK, "open %d: %s", i, op[i].msg);
        migrated += op[i].found == 0;
    }
    ck_assert_int_eq(migrated, 1);
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s.registry_meta WHERE key LIKE 'migrated_to_%%'", schema);
    ck_assert_int_eq(admin_int(sql), 2); /* the steps to versions 2 and 3 */
}
END_TEST

/* ---- entries --------------------------------------------------------------------------- */

START_TEST(test_entries)
{
    capvi_pg *pg = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    capv_registry_entry *stored = NULL;
    test_entry a;
    entry_make(&a, 1, 2, "entry-a", "ts.tsr");
    ck_assert_int_eq(entry_add(&stored, pg, &a, &err), CAPV_OK);
    ck_assert_int_gt(stored->seq, 0);
    ck_assert_str_eq(stored->id, a.e.id);
    ck_assert_str_eq(stored->timestamp_file, "ts.tsr");
    int64_t seq = stored->seq;
    capv_registry_entry_free(stored);

    /* a retry, other content for the same hashes, the same id for other hashes */
    ck_assert_int_eq(entry_add(&stored, pg, &a, &err), CAPV_E_EXISTS);
    ck_assert_int_eq(stored->seq, seq);
    capv_registry_entry_free(stored);
    test_entry b;
    entry_make(&b, 1, 2, NULL, "other.tsr");
    ck_assert_int_eq(entry_add(&stored, pg, &b, &err), CAPV_E_CONFLICT);
    ck_assert_str_eq(stored->timestamp_file, "ts.tsr");
    capv_registry_entry_free(stored);
    test_entry c;
    entry_make(&c, 3, 4, a.e.id, NULL);
    ck_assert_int_eq(entry_add(&stored, pg, &c, &err), CAPV_E_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.message, "already used for other hashes"));
    ck_assert_str_eq(stored->manifest_hash, a.mh);
    capv_registry_entry_free(stored);
    ck_assert_int_eq(entry_add(NULL, pg, &a, &err), CAPV_E_EXISTS);
    ck_assert_int_eq(rows_of("entries"), 1);

    /* look-ups */
    capv_registry_entry *got = NULL;
    ck_assert_int_eq(capvi_pg_entry_get(&got, pg, a.e.id, NULL, NULL, &err), CAPV_OK);
    ck_assert_int_eq(got->seq, seq);
    ck_assert_str_eq(got->proof_hash, a.ph);
    ck_assert_str_eq(got->registered_at, "2026-01-01T00:00:00Z");
    capv_registry_entry_free(got);
    ck_assert_int_eq(capvi_pg_entry_get(&got, pg, NULL, a.mk, a.pk, &err), CAPV_OK);
    ck_assert_str_eq(got->id, a.e.id);
    capv_registry_entry_free(got);
    ck_assert_int_eq(capvi_pg_entry_get(&got, pg, "nope", NULL, NULL, &err), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capvi_pg_entry_get(&got, pg, NULL, a.pk, a.mk, &err), CAPV_E_NOT_FOUND);
    ck_assert_ptr_null(got);
    /* outside a transaction */
    ck_assert_int_eq(capvi_pg_entry_add(NULL, pg, &a.e, true, &err), CAPV_E_STATE);
    capvi_pg_close(pg);
}
END_TEST

/* The writer's savepoints cost fewer round trips (registry_pg.c, capvi_pg_sp): the first
 * one is opened by the BEGIN, a RELEASE goes with the next SAVEPOINT or not at all before the
 * COMMIT. Each write is still undone alone: the first, a middle one, and a rollback after
 * which the same savepoint takes another write. */
START_TEST(test_savepoints_undo_one_write)
{
    capvi_pg *pg = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    test_entry t[2][5];
    /* a transaction for queued records (not durable) and one for other writes */
    for (int durable = 0; durable < 2; durable++) {
        ck_assert_int_eq(capvi_pg_begin(pg, durable, &err), CAPV_OK);
        for (int i = 0; i < 5; i++) {
            test_entry *e = &t[durable][i];
            entry_make(e, 20 + 10 * durable + i, 40 + i, NULL, NULL);
            ck_assert_int_eq(capvi_pg_savepoint(pg, &err), CAPV_OK);
            ck_assert_int_eq(capvi_pg_entry_add(NULL, pg, &e->e, true, &err), CAPV_OK);
            /* writes 0 and 2 are undone, write 2 twice: its savepoint takes another try */
            if (i == 0 || i == 2)
                ck_assert_msg(capvi_pg_rollback_to(pg, &err) == CAPV_OK, "%s", err.message);
            if (i == 2) {
                ck_assert_int_eq(capvi_pg_entry_add(NULL, pg, &e->e, true, &err), CAPV_OK);
                ck_assert_int_eq(capvi_pg_rollback_to(pg, &err), CAPV_OK);
            }
            ck_assert_msg(capvi_pg_release(pg, &err) == CAPV_OK, "%s", err.message);
        }
        ck_assert_msg(capvi_pg_commit(pg, &err) == CAPV_OK, "commit: %s", err.message);
        ck_assert_int_eq(rows_of("entries"), 3 * (durable + 1));
        for (int i = 0; i < 5; i++) {
            capv_registry_entry *got = NULL;
            ck_assert_int_eq(
                capvi_pg_entry_get(&got, pg, NULL, t[durable][i].mk, t[durable][i].pk, &err),
                i == 0 || i == 2 ? CAPV_E_NOT_FOUND : CAPV_OK);
            capv_registry_entry_free(got);
        }
    }
    /* a savepoint released and then rolled back to is an error, as it was when every
     * RELEASE went at once; the transaction is then rolled back */
    ck_assert_int_eq(capvi_pg_begin(pg, true, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_savepoint(pg, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_release(pg, &err), CAPV_OK);
    ck_assert_int_ne(capvi_pg_rollback_to(pg, &err), CAPV_OK);
    capvi_pg_rollback(pg);
    ck_assert_int_eq(entry_add(NULL, pg, &t[0][0], &err), CAPV_OK);
    capvi_pg_close(pg);
}
END_TEST

START_TEST(test_list_count)
{
    capvi_pg *pg = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    for (int i = 0; i < 25; i++) {
        test_entry t;
        entry_make(&t, i % 5 == 0 ? 200 : 10 + i, 100 + i, NULL, NULL);
        ck_assert_int_eq(entry_add(NULL, pg, &t, &err), CAPV_OK);
    }
    uint64_t n = 0;
    ck_assert_int_eq(capvi_pg_count(&n, pg, CAPV_REGISTRY_ENTRIES, &err), CAPV_OK);
    ck_assert_uint_eq(n, 25);
    ck_assert_int_eq(capvi_pg_count(&n, pg, (capv_registry_table)7, &err), CAPV_E_INVALID_ARG);

    capv_registry_entry *items[7];
    size_t got = 0, total = 0;
    int64_t after = 0;
    do {
        ck_assert_int_eq(capvi_pg_entry_list(items, &got, pg, NULL, after, 7, &err), CAPV_OK);
        for (size_t i = 0; i < got; i++) {
            ck_assert_int_gt(items[i]->seq, after);
            after = items[i]->seq;
            capv_registry_entry_free(items[i]);
        }
        total += got;
    } while (got == 7);
    ck_assert_uint_eq(total, 25);

    uint8_t mk[32];
    memset(mk, 200, 32);
    ck_assert_int_eq(capvi_pg_entry_list(items, &got, pg, mk, 0, 3, &err), CAPV_OK);
    ck_assert_uint_eq(got, 3);
    after = items[2]->seq;
    for (size_t i = 1; i < got; i++)
        ck_assert_str_eq(items[i]->manifest_hash, items[0]->manifest_hash);
    for (size_t i = 0; i < got; i++)
        capv_registry_entry_free(items[i]);
    ck_assert_int_eq(capvi_pg_entry_list(items, &got, pg, mk, after, 7, &err), CAPV_OK);
    ck_assert_uint_eq(got, 2);
    for (size_t i = 0; i < got; i++)
        capv_registry_entry_free(items[i]);
    capvi_pg_close(pg);
}
END_TEST

/* ---- verifications --------------------------------------------------------------------- */

START_TEST(test_records)
{
    capvi_pg *pg = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    /* two registered digest pairs, one not registered, one registered with only one of
     * the two digests in common */
    test_entry t[4];
    entry_make(&t[0], 7, 8, NULL, NULL);
    entry_make(&t[1], 9, 10, NULL, NULL);
    entry_make(&t[2], 11, 12, NULL, NULL);
    entry_make(&t[3], 7, 10, NULL, NULL);
    int64_t eseq[2];
    for (int j = 0; j < 2; j++) {
        capv_registry_entry *stored = NULL;
        ck_assert_int_eq(entry_add(&stored, pg, &t[j], &err), CAPV_OK);
        eseq[j] = stored->seq;
        capv_registry_entry_free(stored);
    }

    enum { N = 500 };
    capvi_reg_record *recs = calloc(N + 2, sizeof *recs);
    ck_assert_ptr_nonnull(recs);
    for (int i = 0; i < N; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "req-%04d", i);
        /* 50 distinct bodies, every tenth record without one */
        record_make(&recs[i], rid, i % 3 ? "ok" : "fail", i % 10 == 9 ? -1 : i % 50,
                    1767225600000 + i);
        if (i % 7 < 4) { /* by a pair: the first two registered, the others not */
            const test_entry *e = &t[i % 7];
            recs[i].has_m = recs[i].has_p = true;
            memcpy(recs[i].mh, e->mh, sizeof e->mh);
            memcpy(recs[i].ph, e->ph, sizeof e->ph);
            memcpy(recs[i].mk, e->mk, 32);
            memcpy(recs[i].pk, e->pk, 32);
        }
    }
    ck_assert_int_eq(batch(pg, recs, N), CAPV_OK);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(recs[i].st == CAPV_OK, "record %d: %s", i, recs[i].err.message);
        ck_assert_int_gt(recs[i].seq, 0);
    }
    ck_assert_int_eq(rows_of("verifications"), N);
    ck_assert_int_eq(rows_of("reports"),
                     45); /* bodies 9, 19, 29, 39, 49 only go with i % 10 == 9 */
    /* each record references the entry of its pair, when there is one */
    char sql[400];
    for (int j = 0; j < 2; j++) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM %s.verifications WHERE entry_seq = %lld AND "
                 "substr(request_id, 5)::int %% 7 = %d",
                 schema, (long long)eseq[j], j);
        ck_assert_int_eq(admin_int(sql), (N + 6 - j) / 7);
    }
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.verifications WHERE entry_seq IS NULL",
             schema);
    ck_assert_int_eq(admin_int(sql), N - (N + 6) / 7 - (N + 5) / 7);

    /* the same batch again: retries; then one changed (a conflict), one duplicated inside the
     * batch, one new record whose body is stored already */
    int64_t seq7 = recs[7].seq;
    ck_assert_int_eq(batch(pg, recs, N), CAPV_OK);
    for (int i = 0; i < N; i++)
        ck_assert_msg(recs[i].st == CAPV_E_EXISTS, "retry %d: %d %s", i, recs[i].st,
                      recs[i].err.message);
    ck_assert_int_eq(recs[7].seq, seq7);
    snprintf(recs[7].result, sizeof recs[7].result, "warn");
    record_make(&recs[N], "req-new", "ok", 3, 1767225600000);
    recs[N + 1] = recs[N];
    char rid8[sizeof recs[8].request_id];
    snprintf(rid8, sizeof rid8, "%s", recs[8].request_id);
    record_make(&recs[8], rid8, "ok", 63, recs[8].ms); /* another body */
    ck_assert_int_eq(batch(pg, recs, N + 2), CAPV_OK);
    ck_assert_int_eq(recs[7].st, CAPV_E_CONFLICT);
    ck_assert_ptr_nonnull(strstr(recs[7].err.message, "other content"));
    ck_assert_int_eq(recs[8].st, CAPV_E_CONFLICT);
    ck_assert_int_eq(recs[N].st, CAPV_OK);
    ck_assert_int_eq(recs[N + 1].st, CAPV_E_EXISTS);
    ck_assert_int_eq(recs[N + 1].seq, recs[N].seq);
    ck_assert_int_eq(rows_of("verifications"), N + 1);
    ck_assert_int_eq(rows_of("reports"), 45); /* body 63 was not kept for a conflict */

    capv_registry_verification *v = NULL;
    ck_assert_int_eq(capvi_pg_verification_get(&v, pg, "req-0001", &err), CAPV_OK);
    ck_assert_str_eq(v->result, "ok");
    ck_assert_str_eq(v->report_json, bodies[1]);
    ck_assert_str_eq(v->verified_at, recs[1].at);
    ck_assert_ptr_null(v->subject);
    ck_assert_int_eq(v->seq, recs[1].seq);
    capv_registry_verification_free(v);
    ck_assert_int_eq(capvi_pg_verification_get(&v, pg, "req-0009", &err), CAPV_OK);
    ck_assert_ptr_null(v->report_json);
    capv_registry_verification_free(v);
    ck_assert_int_eq(capvi_pg_verification_get(&v, pg, "nope", &err), CAPV_E_NOT_FOUND);
    uint64_t n = 0;
    ck_assert_int_eq(capvi_pg_count(&n, pg, CAPV_REGISTRY_VERIFICATIONS, &err), CAPV_OK);
    ck_assert_uint_eq(n, N + 1);

    /* outside a transaction: the whole batch fails, each record says why */
    capvi_reg_record *one = &recs[0];
    ck_assert_int_eq(capvi_pg_record(pg, &one, 1), CAPV_E_STATE);
    ck_assert_int_eq(recs[0].st, CAPV_E_STATE);
    free(recs);
    capvi_pg_close(pg);
}
END_TEST

/* The verifications go in without ON CONFLICT first (registry_pg_record.c): a request id
 * already stored fails that insert, and the transaction with it; capvi_pg_record then
 * records the batch again from the write's savepoint, and nothing of the failed try stays. */
START_TEST(test_records_stored_id_in_batch)
{
    capvi_pg *pg = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    capvi_reg_record recs[3];
    record_make(&recs[0], "dup-1", "ok", 1, 1000);
    ck_assert_int_eq(batch(pg, recs, 1), CAPV_OK);
    ck_assert_int_eq(recs[0].st, CAPV_OK);
    int64_t seq1 = recs[0].seq;

    record_make(&recs[1], "dup-2", "ok", 2, 2000);
    capvi_reg_record *p[2] = { &recs[1], &recs[0] };
    ck_assert_int_eq(capvi_pg_begin(pg, true, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_record_batch(pg, p, 2, false), CAPV_E_CONFLICT);
    ck_assert_int_eq(recs[1].st, CAPV_E_CONFLICT);
    ck_assert_int_eq(capvi_pg_commit(pg, &err), CAPV_E_IO);
    ck_assert_int_eq(rows_of("verifications"), 1);
    ck_assert_int_eq(rows_of("reports"), 1);

    /* as the writer records: the new ones stored, the stored one found as it is */
    record_make(&recs[0], "dup-1", "ok", 1, 1000);
    record_make(&recs[1], "dup-2", "ok", 2, 2000);
    record_make(&recs[2], "dup-3", "warn", 3, 3000);
    ck_assert_int_eq(batch(pg, recs, 3), CAPV_OK);
    ck_assert_int_eq(recs[0].st, CAPV_E_EXISTS);
    ck_assert_int_eq(recs[0].seq, seq1);
    for (int i = 1; i < 3; i++) {
        ck_assert_msg(recs[i].st == CAPV_OK, "record %d: %s", i, recs[i].err.message);
        ck_assert_int_gt(recs[i].seq, seq1);
    }
    ck_assert_int_eq(rows_of("verifications"), 3);
    ck_assert_int_eq(rows_of("reports"), 3);
    capv_registry_verification *v = NULL;
    ck_assert_int_eq(capvi_pg_verification_get(&v, pg, "dup-3", &err), CAPV_OK);
    ck_assert_str_eq(v->result, "warn");
    ck_assert_str_eq(v->report_json, bodies[3]);
    capv_registry_verification_free(v);
    capvi_pg_close(pg);
}
END_TEST

/* batch() of records queued by the writer: nobody waits for their seq. */
static capv_status batch_queued(capvi_pg *pg, capvi_reg_record *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        recs[i].seq_wanted = false;
    return batch(pg, recs, n);
}

/* Queued records (nobody waits for their seq) are inserted without RETURNING: each new one
 * is CAPV_OK with seq 0 and stored; a repeat within the batch and one already stored are
 * still found and compared (the retry from the savepoint asks for the rows again). */
START_TEST(test_records_queued)
{
    capvi_pg *pg = open_rw();
    enum { N = 300 };
    capvi_reg_record *recs = calloc(N + 1, sizeof *recs);
    ck_assert_ptr_nonnull(recs);
    for (int i = 0; i < N; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "q-%04d", i);
        record_make(&recs[i], rid, "ok", i % 7, 2000 + i);
    }
    ck_assert_int_eq(batch_queued(pg, recs, N), CAPV_OK);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(recs[i].st == CAPV_OK, "record %d: %s", i, recs[i].err.message);
        ck_assert_int_eq(recs[i].seq, 0);
    }
    ck_assert_int_eq(rows_of("verifications"), N);
    ck_assert_int_eq(rows_of("reports"), 7);

    /* again: q-0000 already stored, and a new one twice */
    record_make(&recs[0], "q-0000", "ok", 0, 2000);
    record_make(&recs[1], "q-new", "warn", 1, 9000);
    record_make(&recs[2], "q-new", "warn", 1, 9000);
    ck_assert_int_eq(batch_queued(pg, recs, 3), CAPV_OK);
    ck_assert_int_eq(recs[0].st, CAPV_E_EXISTS);
    ck_assert_int_eq(recs[1].st, CAPV_OK);
    ck_assert_int_eq(recs[2].st, CAPV_E_EXISTS);
    ck_assert_int_eq(rows_of("verifications"), N + 1);

    /* a repeat within a batch of new ones only: the insert succeeds without RETURNING,
     * and the repeat is found beside the row it just stored */
    record_make(&recs[0], "q-dup", "fail", 2, 9100);
    record_make(&recs[1], "q-dup", "fail", 2, 9100);
    record_make(&recs[2], "q-dup", "ok", 2, 9100);
    ck_assert_int_eq(batch_queued(pg, recs, 3), CAPV_OK);
    ck_assert_int_eq(recs[0].st, CAPV_OK);
    ck_assert_int_eq(recs[1].st, CAPV_E_EXISTS);
    ck_assert_int_eq(recs[2].st, CAPV_E_CONFLICT);
    ck_assert_int_eq(rows_of("verifications"), N + 2);
    free(recs);
    capvi_pg_close(pg);
}
END_TEST

/* Texts go into the array parameters as they are (binary arrays, registry_pg_array.c):
 * quotes, backslashes, braces, commas, the word NULL and non-ASCII come back unchanged, and
 * an empty text stays empty, not NULL. */
START_TEST(test_records_texts_as_they_are)
{
    static const char *const subjects[] = {
        "a \"quoted\" {brace}, comma",
        "back\\slash\\",
        "NULL",
        "",
        "caf\xc3\xa9 \xe2\x88\x91",
        NULL,
    };
    enum { N = sizeof subjects / sizeof subjects[0] };
    capvi_pg *pg = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    capvi_reg_record recs[N];
    for (int i = 0; i < N; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "t\"{%d},\\", i);
        record_make(&recs[i], rid, "ok", i, 1000 + i);
        recs[i].subject = subjects[i];
    }
    ck_assert_int_eq(batch(pg, recs, N), CAPV_OK);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(recs[i].st == CAPV_OK, "record %d: %s", i, recs[i].err.message);
        capv_registry_verification *v = NULL;
        ck_assert_int_eq(capvi_pg_verification_get(&v, pg, recs[i].request_id, &err), CAPV_OK);
        if (subjects[i] == NULL)
            ck_assert_ptr_null(v->subject);
        else
            ck_assert_str_eq(v->subject, subjects[i]);
        ck_assert_str_eq(v->report_json, bodies[i]);
        capv_registry_verification_free(v);
    }
    capvi_pg_close(pg);
}
END_TEST

/* Records as the writer runs them, in a batch that fails: the transaction rolled back. */
static capv_status batch_failing(capvi_pg *pg, capvi_reg_record *recs, size_t n)
{
    capvi_reg_record *p[4];
    ck_assert_uint_le(n, 4);
    for (size_t i = 0; i < n; i++)
        p[i] = &recs[i];
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capvi_pg_begin(pg, false, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_savepoint(pg, &err), CAPV_OK);
    capv_status st = capvi_pg_record(pg, p, n);
    capvi_pg_rollback(pg);
    return st;
}

/* Every record of the batch failed with `st`, its message naming `constraint`. */
static void records_failed(const capvi_reg_record *recs, size_t n, capv_status st,
                           const char *constraint)
{
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(recs[i].st == st, "record %zu: %s", i, recs[i].err.message);
        ck_assert_msg(strstr(recs[i].err.message, constraint) != NULL, "record %zu: %s", i,
                      recs[i].err.message);
    }
}

/* A unique violation is a conflict only on a key of the registry (docs/registry.md,
 * "Errors"): a request id already stored. Any other one (an index added to the table, an
 * identity sequence behind its rows) is the storage's fault, naming the constraint, so that
 * the writer retries the records instead of refusing them as conflicts. Until 2026-12-08
 * every unique violation was CAPV_E_CONFLICT, and a batch meeting one had every record
 * refused. */
START_TEST(test_records_unique_violation_not_a_key)
{
    capvi_pg *pg = open_rw();
    capvi_reg_record recs[2];
    record_make(&recs[0], "u-1", "ok", 1, 1000);
    recs[0].subject = "alice";
    ck_assert_int_eq(batch(pg, recs, 1), CAPV_OK);
    ck_assert_int_eq(recs[0].st, CAPV_OK);

    /* an index the registry does not know, which one record of the batch violates */
    PQclear(admin("CREATE UNIQUE INDEX capv_test_subject ON %s.verifications (subject)", schema));
    record_make(&recs[0], "u-2", "ok", 2, 2000);
    recs[0].subject = "bob";
    record_make(&recs[1], "u-3", "ok", 3, 3000);
    recs[1].subject = "alice";
    ck_assert_int_eq(batch_failing(pg, recs, 2), CAPV_E_STORAGE);
    records_failed(recs, 2, CAPV_E_STORAGE, "\"capv_test_subject\" on verifications");
    /* with a request id already stored: the insert again from the savepoint, ON CONFLICT
     * (request_id), meets the index too */
    record_make(&recs[0], "u-1", "ok", 1, 1000);
    recs[0].subject = "alice";
    record_make(&recs[1], "u-4", "ok", 4, 4000);
    recs[1].subject = "alice";
    ck_assert_int_eq(batch_failing(pg, recs, 2), CAPV_E_STORAGE);
    records_failed(recs, 2, CAPV_E_STORAGE, "capv_test_subject");
    PQclear(admin("DROP INDEX %s.capv_test_subject", schema));

    /* the identity sequences behind their rows (u-1 is row 1, its report body 1) */
    PQclear(admin("SELECT setval(pg_get_serial_sequence('%s.verifications', 'seq'), 1, false)",
                  schema));
    record_make(&recs[0], "u-5", "ok", 1, 5000); /* u-1's body: no new one */
    ck_assert_int_eq(batch_failing(pg, recs, 1), CAPV_E_STORAGE);
    records_failed(recs, 1, CAPV_E_STORAGE, "\"verifications_pkey\"");
    PQclear(admin("SELECT setval(pg_get_serial_sequence('%s.verifications', 'seq'), 100)", schema));
    PQclear(admin("SELECT setval(pg_get_serial_sequence('%s.reports', 'id'), 1, false)", schema));
    record_make(&recs[0], "u-6", "ok", 6, 6000);
    ck_assert_int_eq(batch_failing(pg, recs, 1), CAPV_E_STORAGE);
    records_failed(recs, 1, CAPV_E_STORAGE, "\"reports_pkey\"");
    PQclear(admin("SELECT setval(pg_get_serial_sequence('%s.reports', 'id'), 100)", schema));

    /* a key of the registry is still a conflict: u-1 stored with other content */
    record_make(&recs[0], "u-1", "fail", 1, 1000);
    recs[0].subject = "alice";
    record_make(&recs[1], "u-6", "ok", 6, 6000);
    ck_assert_int_eq(batch(pg, recs, 2), CAPV_OK);
    ck_assert_int_eq(recs[0].st, CAPV_E_CONFLICT);
    ck_assert_msg(recs[1].st == CAPV_OK, "%s", recs[1].err.message);
    ck_assert_int_eq(rows_of("verifications"), 2);
    capvi_pg_close(pg);
}
END_TEST

/* The writer retries a queued record that met a unique violation of no registry key, as on
 * any storage fault, and writes it once the cause is gone: it is not refused. */
START_TEST(test_queued_record_retried_after_unique_violation)
{
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_WRITER_THREAD;
    o.record_queue_max = 100;
    capv_registry *reg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_open(&reg, url, &o, &err) == CAPV_OK, "open: %s", err.message);
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.request_id = "q-1";
    v.subject = "alice";
    v.result = "ok";
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, &err), CAPV_OK);
    ck_assert_int_eq(capv_registry_flush(reg, 5000, &err), CAPV_OK);
    PQclear(admin("CREATE UNIQUE INDEX capv_test_subject ON %s.verifications (subject)", schema));
    v.request_id = "q-2";
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, &err), CAPV_OK);
    ck_assert_int_eq(capv_registry_flush(reg, 500, &err), CAPV_E_BUSY);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_RECORDS_REJECTED), 0);
    ck_assert_uint_gt(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_STORAGE_FAULTS), 0);
    PQclear(admin("DROP INDEX %s.capv_test_subject", schema));
    ck_assert_msg(capv_registry_flush(reg, 10000, &err) == CAPV_OK, "flush: %s", err.message);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_RECORDS_WRITTEN), 2);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_RECORDS_REJECTED), 0);
    capv_registry_verification *got = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "q-2", &err), CAPV_OK);
    ck_assert_str_eq(got->subject, "alice");
    capv_registry_verification_free(got);
    capv_registry_close(reg);
}
END_TEST

/* ---- policies -------------------------------------------------------------------------- */

static capv_status policy_put(capvi_pg *pg, const char *id, const char *version, int key, int irkey,
                              const char *ir, capv_error *err)
{
    char ph[CAPV_DIGEST_HEX_SIZE], ih[CAPV_DIGEST_HEX_SIZE];
    uint8_t pk[32], ik[32];
    digest(ph, pk, key);
    digest(ih, ik, irkey);
    capv_registry_policy p = CAPV_REGISTRY_POLICY_INIT;
    p.policy_id = id;
    p.policy_version = version;
    p.policy_hash = ph;
    p.ir_hash = ih;
    p.ir_json = ir;
    capv_error cerr = CAPV_ERROR_INIT;
    ck_assert_int_eq(capvi_pg_begin(pg, true, &cerr), CAPV_OK);
    capv_status st = capvi_pg_policy_put(pg, &p, pk, ik, "2026-01-01T00:00:00Z", err);
    ck_assert_int_eq(capvi_pg_commit(pg, &cerr), CAPV_OK);
    return st;
}

/* The write transaction's synchronous_commit: on for a durable batch, off for one of queued
 * records only (docs/registry.md "Durability"); and its isolation, read committed whatever
 * the session's default (the prune relies on it). */
static void expect_sync_commit(capvi_pg *pg, bool durable, const char *want)
{
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capvi_pg_begin(pg, durable, &err), CAPV_OK);
    PGresult *r = NULL;
    ck_assert_msg(capvi_pg_exec(&r, pg, &pg->w, "reading",
                                "SELECT current_setting('synchronous_commit'), "
                                "current_setting('transaction_isolation')",
                                NULL, &err) == CAPV_OK,
                  "%s", err.message);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), want);
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "read committed");
    PQclear(r);
    ck_assert_int_eq(capvi_pg_commit(pg, &err), CAPV_OK);
}

START_TEST(test_commit_durability)
{
    capv_error err = CAPV_ERROR_INIT;
    capvi_pg *pg = NULL;
    char u[1100];
    snprintf(u, sizeof u, "%s%%20-cdefault_transaction_isolation%%3Dserializable", url);
    capvi_pg_options o = options(u);
    ck_assert_msg(capvi_pg_open(&pg, &o, &err) == CAPV_OK, "open: %s", err.message);
    expect_sync_commit(pg, false, "off");
    expect_sync_commit(pg, true, "on");
    expect_sync_commit(pg, false, "off");
    capvi_pg_close(pg);
}
END_TEST

START_TEST(test_policies)
{
    capvi_pg *pg = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(policy_put(pg, "pol", "1.0", 1, 2, "{\"a\":1}", &err), CAPV_OK);
    ck_assert_int_eq(policy_put(pg, "pol", "1.0", 1, 2, "{\"a\":1}", &err), CAPV_E_EXISTS);
    ck_assert_str_eq(err.message, "policy 'pol' 1.0 is already stored");
    ck_assert_str_eq(err.field, "policy_hash");
    ck_assert_int_eq(policy_put(pg, "pol", "1.0", 1, 3, "{\"a\":2}", &err), CAPV_E_CONFLICT);
    ck_assert_str_eq(err.field, "policy_hash");
    ck_assert_int_eq(policy_put(pg, "pol", "1.0", 9, 3, "{\"a\":2}", &err), CAPV_E_CONFLICT);
    ck_assert_str_eq(err.field, "policy_id");
    ck_assert_str_eq(err.message, "policy 'pol' 1.0 conflicts with a stored policy");
    ck_assert_int_eq(policy_put(pg, "pol", "2.0", 5, 6, "{\"a\":3}", &err), CAPV_OK);
    uint64_t n = 0;
    ck_assert_int_eq(capvi_pg_count(&n, pg, CAPV_REGISTRY_POLICIES, &err), CAPV_OK);
    ck_assert_uint_eq(n, 2);

    capv_registry_policy *p = NULL;
    ck_assert_int_eq(capvi_pg_policy_get(&p, pg, "pol", &err), CAPV_OK);
    ck_assert_str_eq(p->policy_version, "2.0");
    ck_assert_str_eq(p->ir_json, "{\"a\":3}");
    ck_assert_str_eq(p->created_at, "2026-01-01T00:00:00Z");
    capv_registry_policy_free(p);
    char ph[CAPV_DIGEST_HEX_SIZE];
    uint8_t pk[32];
    digest(ph, pk, 1);
    ck_assert_int_eq(capvi_pg_policy_get(&p, pg, ph, &err), CAPV_OK);
    ck_assert_str_eq(p->policy_version, "1.0");
    capv_registry_policy_free(p);
    ck_assert_int_eq(capvi_pg_policy_get(&p, pg, "other", &err), CAPV_E_NOT_FOUND);
    capvi_pg_close(pg);
}
END_TEST

/* ---- pruning --------------------------------------------------------------------------- */

START_TEST(test_prune)
{
    capvi_pg *pg = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    capvi_reg_record recs[30];
    for (int i = 0; i < 30; i++) {
        char rid[16];
        snprintf(rid, sizeof rid, "p-%02d", i);
        /* times 1000 + i; body i % 3 for the first 20, an own body for the last 10 */
        record_make(&recs[i], rid, "ok", i < 20 ? i % 3 : i, 1000 + i);
    }
    ck_assert_int_eq(batch(pg, recs, 30), CAPV_OK);
    ck_assert_int_eq(rows_of("reports"), 13);

    uint64_t removed = 0, total = 0;
    ck_assert_int_eq(capvi_pg_begin(pg, true, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_prune_step(&removed, pg, 1025, 10, &err), CAPV_OK);
    ck_assert_uint_eq(removed, 10);
    ck_assert_int_eq(capvi_pg_commit(pg, &err), CAPV_OK);
    ck_assert_int_eq(rows_of("reports"), 13); /* bodies 0..2 are still referenced */
    do {
        ck_assert_int_eq(capvi_pg_begin(pg, true, &err), CAPV_OK);
        ck_assert_int_eq(capvi_pg_prune_step(&removed, pg, 1025, 10, &err), CAPV_OK);
        ck_assert_int_eq(capvi_pg_commit(pg, &err), CAPV_OK);
        total += removed;
    } while (removed > 0);
    ck_assert_uint_eq(total, 15);
    ck_assert_int_eq(rows_of("verifications"), 5);
    ck_assert_int_eq(rows_of("reports"), 5); /* 25..29 */
    capv_registry_verification *v = NULL;
    ck_assert_int_eq(capvi_pg_verification_get(&v, pg, "p-00", &err), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capvi_pg_verification_get(&v, pg, "p-29", &err), CAPV_OK);
    capv_registry_verification_free(v);
    capvi_pg_close(pg);
}
END_TEST

/* Verifications whose report_id names no stored body. */
static long long dangling_reports(void)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s.verifications v WHERE v.report_id IS NOT NULL AND NOT "
             "EXISTS (SELECT 1 FROM %s.reports r WHERE r.id = v.report_id)",
             schema, schema);
    return admin_int(sql);
}

/* A body that a record on another connection holds, not yet committed, survives a prune of
 * the last verification that referenced it. */
START_TEST(test_prune_spares_held_bodies)
{
    capvi_pg *pg = open_rw(), *other = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    capvi_reg_record old, fresh;
    record_make(&old, "h-old", "ok", 7, 1000);
    ck_assert_int_eq(batch(pg, &old, 1), CAPV_OK);
    record_make(&fresh, "h-new", "ok", 7, 5000);
    capvi_reg_record *p = &fresh;
    ck_assert_int_eq(capvi_pg_begin(other, true, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_record_batch(other, &p, 1, false), CAPV_OK);

    uint64_t removed = 0;
    ck_assert_int_eq(capvi_pg_begin(pg, true, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_prune_step(&removed, pg, 2000, 10, &err), CAPV_OK);
    ck_assert_uint_eq(removed, 1);
    ck_assert_int_eq(capvi_pg_commit(pg, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_commit(other, &err), CAPV_OK);
    ck_assert_int_eq(rows_of("verifications"), 1);
    ck_assert_int_eq(rows_of("reports"), 1);
    ck_assert_int_eq(dangling_reports(), 0);

    /* once nothing references it, the next prune removes it */
    ck_assert_int_eq(capvi_pg_begin(pg, true, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_prune_step(&removed, pg, 6000, 10, &err), CAPV_OK);
    ck_assert_uint_eq(removed, 1);
    ck_assert_int_eq(capvi_pg_commit(pg, &err), CAPV_OK);
    ck_assert_int_eq(rows_of("reports"), 0);
    capvi_pg_close(other);
    capvi_pg_close(pg);
}
END_TEST

/* A backup checks the references the database no longer does: a verification naming a body
 * that is gone is not backed up. */
START_TEST(test_backup_refuses_dangling)
{
    capvi_pg *pg = open_rw();
    capvi_reg_record recs[2];
    record_make(&recs[0], "d-0", "ok", 3, 1000);
    record_make(&recs[1], "d-1", "ok", 4, 1001);
    ck_assert_int_eq(batch(pg, recs, 2), CAPV_OK);
    capvi_pg_close(pg);
    char dir[256];
    tu_temp_dir(dir, sizeof dir, "capv-pg-backup");
    capv_registry *reg = tu_registry_open(url, 0);
    capv_error err = CAPV_ERROR_INIT;
    capv_backup_info *b = NULL;
    ck_assert_msg(capv_registry_backup(&b, reg, dir, 0, NULL, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    capv_backup_info_free(b);
    b = NULL;
    PQclear(admin("DELETE FROM %s.reports WHERE id = (SELECT report_id FROM %s.verifications "
                  "WHERE request_id = 'd-1')",
                  schema, schema));
    ck_assert_int_eq(dangling_reports(), 1);
    ck_assert_int_eq(capv_registry_backup(&b, reg, dir, 0, NULL, NULL, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(err.message, "not whole") && strstr(err.message, "foreign key"), "%s",
                  err.message);
    capv_registry_close(reg);
    ck_assert_int_eq(tu_remove_tree(dir), 0);
}
END_TEST

/* A new SQLite registry in a temporary directory (dir, path: its file) holding one recorded
 * verification, `rid`, with a report. */
static void sqlite_one_verification(char dir[256], char path[300], const char *rid)
{
    tu_temp_dir(dir, 256, "capv-pg-load");
    snprintf(path, 300, "%s/registry.sqlite", dir);
    capv_registry *src = tu_registry_open(path, CAPV_REGISTRY_CREATE);
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.request_id = rid;
    v.result = "ok";
    v.verified_at = "2026-12-02T12:00:00Z";
    v.report_json = "{\"result\":\"ok\",\"checks\":[]}";
    ck_assert_int_eq(capv_registry_record(NULL, src, &v, NULL), CAPV_OK);
    capv_registry_close(src);
}

/* A load checks the references no foreign key checks any more: a SQLite registry whose rows
 * are not whole is not copied into PostgreSQL, and the target stays empty. */
START_TEST(test_load_refuses_dangling)
{
    char dir[256], path[300];
    sqlite_one_verification(dir, path, "l-1");
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db, "PRAGMA foreign_keys = OFF; DELETE FROM reports", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    capv_registry *src = tu_registry_open(path, 0);
    capv_registry *dst = tu_registry_open(url, 0);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_copy(NULL, dst, src, NULL, NULL, &err), CAPV_E_MALFORMED);
    ck_assert_msg(strstr(err.message, "1 verifications name a report body or an entry that is "
                                      "not there (the first: 'l-1')"),
                  "%s", err.message);
    ck_assert_int_eq(rows_of("verifications"), 0);
    capv_registry_close(dst);
    capv_registry_close(src);
    ck_assert_int_eq(tu_remove_tree(dir), 0);
}
END_TEST

typedef struct race {
    capvi_pg *pg;
    double until;
    long ok, busy, failed; /* batches (recorder) or steps (pruner) */
    uint64_t removed;
    char msg[CAPV_ERROR_MESSAGE_SIZE];
} race;

/* Records batches of old verifications sharing four bodies, as fast as it can. */
static void *race_record(void *arg)
{
    race *r = arg;
    capvi_reg_record recs[10];
    capvi_reg_record *p[10];
    for (int n = 0; now_s() < r->until; n++) {
        for (int i = 0; i < 10; i++) {
            char rid[32];
            snprintf(rid, sizeof rid, "race-%d-%d", n, i);
            record_make(&recs[i], rid, "ok", i % 4, 1000);
            p[i] = &recs[i];
        }
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = capvi_pg_begin(r->pg, true, &err);
        if (st == CAPV_OK && (st = capvi_pg_record_batch(r->pg, p, 10, false)) != CAPV_OK)
            err = recs[0].err; /* every record of a failed batch carries its error */
        if (st == CAPV_OK)
            st = capvi_pg_commit(r->pg, &err);
        else
            capvi_pg_rollback(r->pg);
        if (st == CAPV_OK)
            r->ok++;
        else if (st == CAPV_E_BUSY) /* its bodies were pruned three times over: a retry */
            r->busy++;
        else if (r->failed++ == 0)
            snprintf(r->msg, sizeof r->msg, "%s", err.message);
    }
    return NULL;
}

/* Prunes everything recorded so far, step after step. */
static void *race_prune(void *arg)
{
    race *r = arg;
    while (now_s() < r->until) {
        capv_error err = CAPV_ERROR_INIT;
        uint64_t removed = 0;
        capv_status st = capvi_pg_begin(r->pg, true, &err);
        if (st == CAPV_OK && (st = capvi_pg_prune_step(&removed, r->pg, 2000, 20, &err)) == CAPV_OK)
            st = capvi_pg_commit(r->pg, &err);
        else
            capvi_pg_rollback(r->pg);
        if (st == CAPV_OK) {
            r->ok++;
            r->removed += removed;
        } else if (r->failed++ == 0) {
            snprintf(r->msg, sizeof r->msg, "%s", err.message);
        }
    }
    return NULL;
}

/* Records and prunes of the same bodies at once, on two connections: every verification
 * still names a stored body (no foreign key checks that: the prune's order does). */
START_TEST(test_prune_races_records)
{
    race rec = { open_rw(), now_s() + 2.0, 0, 0, 0, 0, "" };
    race pru = { open_rw(), rec.until, 0, 0, 0, 0, "" };
    pthread_t a, b;
    ck_assert_int_eq(pthread_create(&a, NULL, race_record, &rec), 0);
    ck_assert_int_eq(pthread_create(&b, NULL, race_prune, &pru), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    ck_assert_msg(rec.failed == 0, "recording failed %ld times: %s", rec.failed, rec.msg);
    ck_assert_msg(pru.failed == 0, "pruning failed %ld times: %s", pru.failed, pru.msg);
    ck_assert_int_gt(rec.ok, 10);
    ck_assert_uint_gt(pru.removed, 0);
    ck_assert_int_eq(dangling_reports(), 0);
    capvi_pg_close(rec.pg);
    capvi_pg_close(pru.pg);
}
END_TEST

/* ---- leadership and snapshots ---------------------------------------------------------- */

/* ---- writers of two handles ------------------------------------------------------------- */

/* Writes waiting on a lock in the server (a transaction waits for another). */
static long long lock_waits(void)
{
    return admin_int("SELECT count(*) FROM pg_locks WHERE NOT granted");
}

static void wait_for(long long (*what)(void), long long want)
{
    double t0 = now_s();
    while (what() < want) {
        ck_assert_msg(now_s() - t0 < 20.0, "waited 20 s");
        usleep(10 * 1000);
    }
}

static capv_registry *queue_reg; /* the handle whose queue queued() counts */

static long long queued(void)
{
    long long n = 0;
    pthread_mutex_lock(&queue_reg->qlock);
    for (capv_reg_write *q = queue_reg->qhead; q != NULL; q = q->next)
        n++;
    pthread_mutex_unlock(&queue_reg->qlock);
    return n;
}

typedef struct adder {
    capv_registry *reg;
    test_entry t;
    capv_status st;
    int64_t seq;
    pthread_t th;
} adder;

static void *add_thread(void *arg)
{
    adder *a = arg;
    capv_registry_entry in = CAPV_REGISTRY_ENTRY_INIT;
    in.manifest_hash = a->t.mh;
    in.proof_hash = a->t.ph;
    in.timestamp_file = a->t.in.timestamp_file;
    capv_registry_entry *stored = NULL;
    capv_error err = CAPV_ERROR_INIT;
    a->st = capv_registry_add(&stored, a->reg, &in, &err);
    a->seq = stored != NULL ? stored->seq : 0;
    capv_registry_entry_free(stored);
    return NULL;
}

/* Starts an add of entry (m, p) with `ts` on reg's writer, on a thread of its own. */
static void add_start(adder *a, capv_registry *reg, int m, int p, const char *ts)
{
    memset(a, 0, sizeof *a);
    a->reg = reg;
    entry_make(&a->t, m, p, NULL, ts);
    ck_assert_int_eq(pthread_create(&a->th, NULL, add_thread, a), 0);
}

/* A handle with a writer thread, and an entry (0x10, 0x10) of another writer, not committed
 * yet: the handle's first add of it waits, so that the writes queued next form one batch. */
static capv_registry *blocked_writer(const char *reg_url, capvi_pg **other, adder *first)
{
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_WRITER_THREAD;
    capv_registry *reg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_open(&reg, reg_url, &o, &err) == CAPV_OK, "open: %s", err.message);
    *other = open_rw();
    test_entry t;
    entry_make(&t, 0x10, 0x10, NULL, "x");
    ck_assert_int_eq(capvi_pg_begin(*other, true, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_entry_add(NULL, *other, &t.e, true, &err), CAPV_OK);
    long long before = lock_waits();
    add_start(first, reg, 0x10, 0x10, "x");
    wait_for(lock_waits, before + 1);
    queue_reg = reg;
    return reg;
}

typedef struct pruner {
    capvi_pg *pg;
    capv_status st;
    uint64_t removed;
    char msg[CAPV_ERROR_MESSAGE_SIZE];
    atomic_bool done;
    pthread_t th;
} pruner;

static void *prune_thread(void *arg)
{
    pruner *p = arg;
    capv_error err = CAPV_ERROR_INIT;
    p->st = capvi_pg_begin(p->pg, true, &err);
    if (p->st == CAPV_OK)
        p->st = capvi_pg_prune_step(&p->removed, p->pg, 2000, 10, &err);
    if (p->st == CAPV_OK)
        p->st = capvi_pg_commit(p->pg, &err);
    else
        capvi_pg_rollback(p->pg);
    snprintf(p->msg, sizeof p->msg, "%s", err.message);
    atomic_store(&p->done, true);
    return NULL;
}

/* Whether p's step ends within `s` seconds. */
static bool prune_ends_within(pruner *p, double s)
{
    for (double t0 = now_s(); !atomic_load(&p->done) && now_s() - t0 < s;)
        usleep(10 * 1000);
    return atomic_load(&p->done);
}

/* A load (restore, copy) locks reports, then verifications: a prune takes them in the same
 * order, so the two wait for each other in turn. (A prune that deleted verifications first
 * and locked reports after waited for a load that waited for it: PostgreSQL failed the
 * prune, or the load.) */
START_TEST(test_prune_waits_for_a_load)
{
    capvi_pg *pg = open_rw();
    capvi_reg_record old;
    record_make(&old, "w-old", "ok", 4, 1000);
    ck_assert_int_eq(batch(pg, &old, 1), CAPV_OK);
    /* the load's first lock, as capvi_pg_load_start takes them */
    PGconn *load = PQconnectdb(url);
    ck_assert_int_eq(PQstatus(load), CONNECTION_OK);
    PGresult *r =
        PQexec(load, "SET lock_timeout = '20s'; BEGIN; LOCK TABLE reports IN EXCLUSIVE MODE");
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
    long long waits = lock_waits();
    pruner p = { .pg = pg };
    ck_assert_int_eq(pthread_create(&p.th, NULL, prune_thread, &p), 0);
    while (lock_waits() <= waits) /* the prune waits for the load */
        usleep(10 * 1000);
    r = PQexec(load, "LOCK TABLE verifications IN EXCLUSIVE MODE");
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "the load's second lock: %s",
                  PQresultErrorMessage(r));
    PQclear(r);
    PQclear(PQexec(load, "ROLLBACK"));
    pthread_join(p.th, NULL);
    ck_assert_msg(p.st == CAPV_OK, "prune: %s", p.msg);
    ck_assert_uint_eq(p.removed, 1);
    ck_assert_int_eq(rows_of("verifications"), 0);
    PQfinish(load);
    capvi_pg_close(pg);
}
END_TEST

/* Two prunes at once, each deleting one of the last two verifications of a body: the second
 * finds the prune lock taken and prunes nothing; once the first has committed, it removes the
 * rest and the body. Side by side (no lock), each saw the other's verification as still
 * there and the body stayed behind, referenced by nothing. */
START_TEST(test_prunes_one_at_a_time)
{
    capvi_pg *pg = open_rw(), *other = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    capvi_reg_record recs[2];
    record_make(&recs[0], "o-1", "ok", 9, 1000);
    record_make(&recs[1], "o-2", "ok", 9, 1001);
    ck_assert_int_eq(batch(pg, recs, 2), CAPV_OK);
    uint64_t removed = 0;
    ck_assert_int_eq(capvi_pg_begin(pg, true, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_prune_step(&removed, pg, 2000, 1, &err), CAPV_OK);
    ck_assert_uint_eq(removed, 1);
    /* the second prune, while the first is open: nothing (without the lock: o-2) */
    pruner p = { .pg = other };
    ck_assert_int_eq(pthread_create(&p.th, NULL, prune_thread, &p), 0);
    /* one that waits for the lock is let go by the commit below, and prunes o-2 then */
    (void)prune_ends_within(&p, 2.0);
    ck_assert_int_eq(capvi_pg_commit(pg, &err), CAPV_OK);
    pthread_join(p.th, NULL);
    ck_assert_msg(p.st == CAPV_E_BUSY, "prune: %s", p.msg);
    ck_assert_uint_eq(p.removed, 0);
    ck_assert_int_eq(rows_of("verifications"), 1);
    /* the first one over, the second prunes the rest, the body with it */
    prune_thread(&p);
    ck_assert_msg(p.st == CAPV_OK, "prune: %s", p.msg);
    ck_assert_uint_eq(p.removed, 1);
    ck_assert_int_eq(rows_of("verifications"), 0);
    ck_assert_int_eq(rows_of("reports"), 0);
    ck_assert_int_eq(dangling_reports(), 0);
    capvi_pg_close(other);
    capvi_pg_close(pg);
}
END_TEST

/* Another session's transaction holding the prune lock, ended (ROLLBACK) hold_ms after
 * release_later starts. */
typedef struct lock_holder {
    PGconn *c;
    int hold_ms;
    pthread_t th;
} lock_holder;

static void *release_later(void *arg)
{
    lock_holder *h = arg;
    usleep((useconds_t)h->hold_ms * 1000);
    PQclear(PQexec(h->c, "ROLLBACK"));
    return NULL;
}

static PGconn *hold_prune_lock(void)
{
    PGconn *held = PQconnectdb(url);
    ck_assert_int_eq(PQstatus(held), CONNECTION_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)",
             (long long)CAPVI_PG_LOCK_PRUNE);
    PGresult *r = PQexec(held, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return held;
}

/* A prune step while another session holds the prune lock in a transaction that goes on (a
 * `capverify registry prune` whose connection stalls) returns at once, having pruned
 * nothing, instead of holding the caller (the leader's writer thread) until that
 * transaction ends; the next step after it prunes. */
START_TEST(test_prune_does_not_wait_for_the_lock)
{
    capvi_pg *pg = open_rw();
    capvi_reg_record old;
    record_make(&old, "l-old", "ok", 5, 1000);
    ck_assert_int_eq(batch(pg, &old, 1), CAPV_OK);
    PGconn *held = hold_prune_lock();
    pruner p = { .pg = pg };
    ck_assert_int_eq(pthread_create(&p.th, NULL, prune_thread, &p), 0);
    bool prompt = prune_ends_within(&p, 3.0);
    /* a step that waits would wait for good: the held transaction ends first, then fails */
    PQclear(PQexec(held, "ROLLBACK"));
    pthread_join(p.th, NULL);
    ck_assert_msg(prompt, "the prune step waited for the prune lock held elsewhere");
    ck_assert_msg(p.st == CAPV_E_BUSY && strstr(p.msg, "another prune") != NULL, "prune: %s",
                  p.msg);
    ck_assert_uint_eq(p.removed, 0);
    ck_assert_int_eq(rows_of("verifications"), 1);

    /* the lock released, the next step prunes */
    prune_thread(&p);
    ck_assert_msg(p.st == CAPV_OK, "prune: %s", p.msg);
    ck_assert_uint_eq(p.removed, 1);
    ck_assert_int_eq(rows_of("verifications"), 0);
    ck_assert_int_eq(rows_of("reports"), 0);
    PQfinish(held);
    capvi_pg_close(pg);
}
END_TEST

/* capv_registry_prune waits out another prune's step (the leader's retention) for the busy
 * timeout, then says it could not prune: never "done" with rows left behind. */
START_TEST(test_prune_waits_out_another_prune)
{
    capvi_pg *pg = open_rw();
    capvi_reg_record recs[2];
    record_make(&recs[0], "w-1", "ok", 7, 1000);
    record_make(&recs[1], "w-2", "ok", 8, 1001);
    ck_assert_int_eq(batch(pg, recs, 2), CAPV_OK);
    capvi_pg_close(pg);
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.busy_timeout_ms = 1000;
    capv_registry *reg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_open(&reg, url, &o, &err) == CAPV_OK, "open: %s", err.message);

    /* held past the busy timeout: BUSY, nothing removed */
    lock_holder h = { .c = hold_prune_lock(), .hold_ms = 2500 };
    ck_assert_int_eq(pthread_create(&h.th, NULL, release_later, &h), 0);
    uint64_t removed = 9;
    double t0 = now_s();
    ck_assert_int_eq(capv_registry_prune(&removed, reg, 2000, &err), CAPV_E_BUSY);
    ck_assert_msg(now_s() - t0 >= 0.9, "gave up after %.2f s", now_s() - t0);
    ck_assert_ptr_nonnull(strstr(err.message, "another prune"));
    ck_assert_uint_eq(removed, 0);
    pthread_join(h.th, NULL);
    PQfinish(h.c);

    /* held for a moment (a step of the leader's): waited out, every row pruned */
    h = (lock_holder){ .c = hold_prune_lock(), .hold_ms = 300 };
    ck_assert_int_eq(pthread_create(&h.th, NULL, release_later, &h), 0);
    ck_assert_msg(capv_registry_prune(&removed, reg, 2000, &err) == CAPV_OK, "prune: %s",
                  err.message);
    ck_assert_uint_eq(removed, 2);
    pthread_join(h.th, NULL);
    PQfinish(h.c);
    ck_assert_int_eq(rows_of("verifications"), 0);
    capv_registry_close(reg);
}
END_TEST

/* A statement waits for a lock at most the busy timeout (lock_timeout), and a caller for a
 * free read connection as long: a table held exclusively elsewhere (VACUUM FULL, another
 * version's migration) answers CAPV_E_BUSY instead of holding every request. */
START_TEST(test_waits_are_bounded)
{
    capvi_pg_options o = options(url);
    o.readers = 1;
    o.connect_timeout_ms = 600;
    capvi_pg *pg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capvi_pg_open(&pg, &o, &err) == CAPV_OK, "open: %s", err.message);
    PGconn *held = PQconnectdb(url);
    ck_assert_int_eq(PQstatus(held), CONNECTION_OK);
    PGresult *r = PQexec(held, "BEGIN; LOCK TABLE entries IN ACCESS EXCLUSIVE MODE");
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
    uint8_t k[32] = { 0x42 };
    capv_registry_entry *e = NULL;
    double t0 = now_s();
    capv_status st = capvi_pg_entry_get(&e, pg, NULL, k, k, &err);
    double took = now_s() - t0;
    PQclear(PQexec(held, "ROLLBACK"));
    ck_assert_msg(st == CAPV_E_BUSY, "a read behind an exclusive lock: %s (%s)",
                  capv_status_name(st), err.message);
    ck_assert_msg(took >= 0.5 && took < 3.0, "it waited %.2f s", took);

    /* the only read connection borrowed: the next caller waits the busy timeout for it */
    capvi_pg_conn *c = NULL, *c2 = NULL;
    ck_assert_int_eq(capvi_pg_reader_acquire(&c, pg, &err), CAPV_OK);
    t0 = now_s();
    ck_assert_int_eq(capvi_pg_reader_acquire(&c2, pg, &err), CAPV_E_BUSY);
    took = now_s() - t0;
    ck_assert_msg(took >= 0.5 && took < 3.0, "it waited %.2f s", took);
    ck_assert_ptr_nonnull(strstr(err.message, "no read connection"));
    ck_assert_ptr_null(c2);
    capvi_pg_reader_release(pg, c);
    ck_assert_int_eq(capvi_pg_reader_acquire(&c2, pg, &err), CAPV_OK);
    capvi_pg_reader_release(pg, c2);
    PQfinish(held);
    capvi_pg_close(pg);
}
END_TEST

/* Report bodies that nothing references are no content: a copy into a registry that holds
 * only such a body (a prune leaves one behind when the record that held it was a retry)
 * goes in, its bodies not colliding with the old one. */
START_TEST(test_load_clears_unreferenced_bodies)
{
    char dir[256], path[300];
    sqlite_one_verification(dir, path, "u-1");
    capv_registry *dst = tu_registry_open(url, 0);
    PQclear(admin("INSERT INTO %s.reports (id, sha3, bytes, summary, json) VALUES (1, "
                  "decode(repeat('ab', 32), 'hex'), 2, 0, '{}')",
                  schema));
    capv_registry *src = tu_registry_open(path, 0);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_copy(NULL, dst, src, NULL, NULL, &err) == CAPV_OK, "copy: %s",
                  err.message);
    ck_assert_int_eq(rows_of("verifications"), 1);
    ck_assert_int_eq(rows_of("reports"), 1);
    ck_assert_int_eq(dangling_reports(), 0);
    capv_registry_close(dst);
    capv_registry_close(src);
    ck_assert_int_eq(tu_remove_tree(dir), 0);
}
END_TEST

/* Another replica's entry or policy moves a writer handle's generation within about a second, so a
 * cache keyed by it (the verifier's reports) does not serve a verdict that either changes. */
START_TEST(test_generation_sees_other_writers)
{
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_WRITER_THREAD;
    capv_registry *reg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_open(&reg, url, &o, &err) == CAPV_OK, "open: %s", err.message);
    capvi_pg *other = open_rw();
    usleep(300 * 1000); /* the writer's first look, at its start */
    uint64_t g0 = capv_registry_generation(reg);
    usleep(1500 * 1000);
    ck_assert_uint_eq(capv_registry_generation(reg), g0); /* nothing added: no change */
    test_entry t;
    entry_make(&t, 0x41, 0x41, NULL, "x");
    ck_assert_int_eq(entry_add(NULL, other, &t, &err), CAPV_OK);
    for (int i = 0; i < 50 && capv_registry_generation(reg) == g0; i++)
        usleep(100 * 1000);
    ck_assert_uint_gt(capv_registry_generation(reg), g0);
    /* a policy another writer stores too: policy.binding knows the stored policies */
    uint64_t g1 = capv_registry_generation(reg);
    ck_assert_int_eq(policy_put(other, "gen", "1", 0x42, 0x43, "{}", &err), CAPV_OK);
    for (int i = 0; i < 50 && capv_registry_generation(reg) == g1; i++)
        usleep(100 * 1000);
    ck_assert_uint_gt(capv_registry_generation(reg), g1);
    /* an entry committed a while after its insert: the generation moves once it is committed
     * (the entries' sequence moved at the insert, which the writer once took for the change) */
    test_entry late;
    entry_make(&late, 0x44, 0x44, NULL, "y");
    ck_assert_int_eq(capvi_pg_begin(other, true, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_entry_add(NULL, other, &late.e, true, &err), CAPV_OK);
    usleep(2500 * 1000); /* two looks of the writer meanwhile */
    uint64_t g2 = capv_registry_generation(reg);
    ck_assert_int_eq(capvi_pg_commit(other, &err), CAPV_OK);
    for (int i = 0; i < 50 && capv_registry_generation(reg) == g2; i++)
        usleep(100 * 1000);
    ck_assert_uint_gt(capv_registry_generation(reg), g2);
    /* a load (a restore, a copy) replacing the rows, which may leave the sequences as they were */
    uint64_t g3 = capv_registry_generation(reg);
    capvi_pg_load *l = NULL;
    uint64_t counts[4];
    ck_assert_int_eq(capvi_pg_begin(other, true, &err), CAPV_OK);
    ck_assert_msg(capvi_pg_load_start(&l, other, true, &err) == CAPV_OK, "%s", err.message);
    ck_assert_msg(capvi_pg_load_finish(l, counts, &err) == CAPV_OK, "%s", err.message);
    capvi_pg_load_free(l);
    ck_assert_int_eq(capvi_pg_commit(other, &err), CAPV_OK);
    for (int i = 0; i < 50 && capv_registry_generation(reg) == g3; i++)
        usleep(100 * 1000);
    ck_assert_uint_gt(capv_registry_generation(reg), g3);
    capvi_pg_close(other);
    capv_registry_close(reg);
}
END_TEST

START_TEST(test_batch_adds_entries_in_key_order)
{
    capvi_pg *other = NULL;
    adder first, a[3];
    capv_registry *reg = blocked_writer(url, &other, &first);
    /* queued in descending key order while the writer waits: one batch */
    for (int i = 0; i < 3; i++) {
        add_start(&a[i], reg, 0x60 - 0x10 * i, 1, "t.tsr");
        wait_for(queued, i + 1);
    }
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capvi_pg_commit(other, &err), CAPV_OK);
    pthread_join(first.th, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(a[i].th, NULL);
    ck_assert_int_eq(first.st, CAPV_E_EXISTS);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(a[i].st, CAPV_OK);
    /* run (and numbered) in ascending key order */
    ck_assert_int_lt(a[2].seq, a[1].seq);
    ck_assert_int_lt(a[1].seq, a[0].seq);
    capvi_pg_close(other);
    capv_registry_close(reg);
}
END_TEST

typedef struct raw_add {
    capvi_pg *pg;
    test_entry *t;
    capv_status st;
} raw_add;

static void *raw_add_thread(void *arg)
{
    raw_add *r = arg;
    capv_error err = CAPV_ERROR_INIT;
    r->st = capvi_pg_entry_add(NULL, r->pg, &r->t->e, true, &err);
    return NULL;
}

START_TEST(test_deadlock_victim_runs_again)
{
    /* The server's deadlock check runs in a session that has waited deadlock_timeout, and
     * that session's statement fails when it finds a cycle. The handle checks after 2 s
     * (time enough for the cycle to form) and the third writer after a minute: the handle's
     * write is the victim. */
    char reg_url[1100], third_url[1100];
    snprintf(reg_url, sizeof reg_url, "%s%%20-cdeadlock_timeout%%3D2s", url);
    snprintf(third_url, sizeof third_url, "%s%%20-cdeadlock_timeout%%3D60s", url);
    capvi_pg *other = NULL;
    adder first, a1, a2;
    capv_registry *reg = blocked_writer(reg_url, &other, &first);
    capv_error err = CAPV_ERROR_INIT;
    /* a third writer holds entry (0x30, 1), not committed */
    capvi_pg *third = NULL;
    capvi_pg_options o = options(third_url);
    ck_assert_msg(capvi_pg_open(&third, &o, &err) == CAPV_OK, "open: %s", err.message);
    test_entry k1, k2;
    entry_make(&k1, 0x20, 1, NULL, "z");
    entry_make(&k2, 0x30, 1, NULL, "y");
    ck_assert_int_eq(capvi_pg_begin(third, true, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_entry_add(NULL, third, &k2.e, true, &err), CAPV_OK);
    /* queued while the handle's writer waits: one batch adding (0x20, 1), then (0x30, 1) */
    add_start(&a1, reg, 0x20, 1, "t.tsr");
    wait_for(queued, 1);
    add_start(&a2, reg, 0x30, 1, "t.tsr");
    wait_for(queued, 2);
    ck_assert_int_eq(capvi_pg_commit(other, &err), CAPV_OK);
    pthread_join(first.th, NULL);
    ck_assert_int_eq(first.st, CAPV_E_EXISTS);
    /* the batch holds (0x20, 1) and waits for (0x30, 1); the third writer now wants
     * (0x20, 1): a deadlock. The server fails the handle's write of (0x30, 1); the rest of
     * its batch commits */
    wait_for(lock_waits, 1);
    raw_add r = { third, &k1, CAPV_OK };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, raw_add_thread, &r), 0);
    pthread_join(a1.th, NULL);
    pthread_join(th, NULL);
    ck_assert_int_eq(a1.st, CAPV_OK);
    ck_assert_int_eq(r.st, CAPV_E_CONFLICT); /* the third writer was not the victim */
    /* once the third writer rolls back, the failed write, run again, adds its entry */
    capvi_pg_rollback(third);
    pthread_join(a2.th, NULL);
    ck_assert_int_eq(a2.st, CAPV_OK);
    ck_assert_int_eq(rows_of("entries"), 3);
    /* three writes answered, the victim counted once */
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_WRITES), 3);
    capvi_pg_close(third);
    capvi_pg_close(other);
    capv_registry_close(reg);
}
END_TEST

/* An import that a deadlock makes run again reports its progress once: never a step it
 * reported in the run that failed. */
enum { IMPORT_N = 1100 };

typedef struct importer {
    capv_registry *reg;
    char *json;
    capv_status st;
    size_t added;
    uint64_t steps[64];
    int nsteps;
    bool backwards; /* a step not beyond the one before */
    pthread_t th;
} importer;

static void import_progress(void *user, uint64_t done, uint64_t total)
{
    (void)total;
    importer *im = user;
    if (im->nsteps > 0 && done <= im->steps[im->nsteps - 1])
        im->backwards = true;
    if (im->nsteps < 64)
        im->steps[im->nsteps++] = done;
}

static void *import_thread(void *arg)
{
    importer *im = arg;
    capv_error err = CAPV_ERROR_INIT;
    size_t existing = 0;
    im->st = capv_registry_import_json(&im->added, &existing, im->reg, (uint8_t *)im->json,
                                       strlen(im->json), 0, import_progress, im, &err);
    return NULL;
}

START_TEST(test_import_run_again_reports_once)
{
    char reg_url[1100], third_url[1100];
    snprintf(reg_url, sizeof reg_url, "%s%%20-cdeadlock_timeout%%3D2s", url);
    snprintf(third_url, sizeof third_url, "%s%%20-cdeadlock_timeout%%3D60s", url);
    capv_registry_options ro = CAPV_REGISTRY_OPTIONS_INIT;
    ro.flags = CAPV_REGISTRY_WRITER_THREAD;
    importer im;
    memset(&im, 0, sizeof im);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_open(&im.reg, reg_url, &ro, &err) == CAPV_OK, "open: %s",
                  err.message);
    /* the first entry is (0x20, 1), the last (0x30, 1), those between of their own */
    test_entry first, last;
    entry_make(&first, 0x20, 1, NULL, NULL);
    entry_make(&last, 0x30, 1, NULL, NULL);
    capv_buf b = CAPV_BUF_INIT;
    capvi_buf_puts(&b, "{\"registry_version\":\"1.0\",\"entries\":[");
    for (int i = 0; i < IMPORT_N; i++) {
        char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
        snprintf(mh, sizeof mh, "0x%060d%04x", 0, i);
        snprintf(ph, sizeof ph, "0x%060d%04x", 7, i);
        capvi_buf_printf(&b,
                         "%s{\"id\":\"imp-%d\",\"manifest_hash\":\"%s\",\"proof_hash\":\"%s\","
                         "\"registered_at\":\"2026-01-01T00:00:00Z\"}",
                         i ? "," : "", i,
                         i == 0              ? first.mh
                         : i == IMPORT_N - 1 ? last.mh
                                             : mh,
                         i == 0              ? first.ph
                         : i == IMPORT_N - 1 ? last.ph
                                             : ph);
    }
    capvi_buf_puts(&b, "]}");
    im.json = (char *)capvi_buf_take(&b, NULL);
    ck_assert_ptr_nonnull(im.json);
    /* a third writer holds the last entry, not committed: the import waits there */
    capvi_pg *third = NULL;
    capvi_pg_options o = options(third_url);
    ck_assert_msg(capvi_pg_open(&third, &o, &err) == CAPV_OK, "open: %s", err.message);
    ck_assert_int_eq(capvi_pg_begin(third, true, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_entry_add(NULL, third, &last.e, true, &err), CAPV_OK);
    long long before = lock_waits();
    ck_assert_int_eq(pthread_create(&im.th, NULL, import_thread, &im), 0);
    wait_for(lock_waits, before + 1);
    /* the third writer now wants the first: a deadlock, and the import its victim; once the
     * third writer rolls back, the import runs again and adds everything */
    raw_add r = { third, &first, CAPV_OK };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, raw_add_thread, &r), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(r.st, CAPV_OK); /* the import's hold on it was rolled back */
    capvi_pg_rollback(third);
    pthread_join(im.th, NULL);
    ck_assert_int_eq(im.st, CAPV_OK);
    ck_assert_uint_eq(im.added, IMPORT_N);
    ck_assert_msg(!im.backwards, "progress went back: %d steps", im.nsteps);
    ck_assert_uint_eq(im.steps[im.nsteps - 1], 2 * (uint64_t)IMPORT_N);
    free(im.json);
    capvi_pg_close(third);
    capv_registry_close(im.reg);
}
END_TEST

START_TEST(test_leader)
{
    capvi_pg *a = open_rw(), *b = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    bool la = false, lb = true;
    ck_assert_int_eq(capvi_pg_leader(&la, a, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_leader(&lb, b, &err), CAPV_OK);
    ck_assert(la);
    ck_assert(!lb);
    /* the server probes the leadership session's client after a minute idle, not the
     * operating system's two hours: a vanished leader's lock is freed within minutes */
    PGresult *r = NULL;
    ck_assert_int_eq(capvi_pg_exec(&r, a, &a->leader, "reading",
                                   "SELECT setting FROM pg_settings WHERE name = "
                                   "'tcp_keepalives_idle'",
                                   NULL, &err),
                     CAPV_OK);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "60");
    PQclear(r);
    ck_assert_int_eq(capvi_pg_leader(&la, a, &err), CAPV_OK);
    ck_assert(la);
    capvi_pg_close(a);
    ck_assert_int_eq(capvi_pg_leader(&lb, b, &err), CAPV_OK);
    ck_assert(lb);
    capvi_pg_close(b);
}
END_TEST

typedef struct walk {
    int rows;
    int64_t last;
    int bytea_ok;
} walk;

static capv_status count_row(void *user, const char *const *cols, const int *lens, int ncols,
                             capv_error *err)
{
    (void)err;
    walk *w = user;
    w->rows++;
    if (ncols == 13) { /* entries: ordered by seq, keys as raw bytes */
        int64_t seq = strtoll(cols[0], NULL, 10);
        ck_assert_int_gt(seq, w->last);
        w->last = seq;
        w->bytea_ok += lens[4] == 32 && lens[5] == 32 && (uint8_t)cols[4][0] == 40;
    }
    return CAPV_OK;
}

static capv_status stop_row(void *user, const char *const *cols, const int *lens, int ncols,
                            capv_error *err)
{
    (void)user;
    (void)cols;
    (void)lens;
    (void)ncols;
    return capvi_err_set(err, CAPV_E_IO, NULL, "stopped");
}

struct snap_waiter {
    capvi_pg *pg;
    atomic_bool began;
    capv_status st;
};

static void *snapshot_in_thread(void *arg)
{
    struct snap_waiter *w = arg;
    capv_error err = CAPV_ERROR_INIT;
    w->st = capvi_pg_snapshot_begin(w->pg, &err);
    atomic_store(&w->began, true);
    if (w->st == CAPV_OK)
        capvi_pg_snapshot_end(w->pg);
    return NULL;
}

START_TEST(test_snapshot)
{
    capvi_pg *pg = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    for (int i = 0; i < 3; i++) {
        test_entry t;
        entry_make(&t, 40, 50 + i, NULL, NULL);
        ck_assert_int_eq(entry_add(NULL, pg, &t, &err), CAPV_OK);
    }
    ck_assert_int_eq(capvi_pg_snapshot_rows(pg, "entries", count_row, NULL, &err), CAPV_E_STATE);
    ck_assert_int_eq(capvi_pg_snapshot_begin(pg, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_snapshot_begin(pg, &err), CAPV_E_STATE);
    test_entry late; /* added after the snapshot began: not in it */
    entry_make(&late, 41, 50, NULL, NULL);
    ck_assert_int_eq(entry_add(NULL, pg, &late, &err), CAPV_OK);
    walk w = { 0, 0, 0 };
    ck_assert_int_eq(capvi_pg_snapshot_rows(pg, "entries", count_row, &w, &err), CAPV_OK);
    ck_assert_int_eq(w.rows, 3);
    ck_assert_int_eq(w.bytea_ok, 3);
    walk m = { 0, 0, 0 };
    ck_assert_int_eq(capvi_pg_snapshot_rows(pg, "registry_meta", count_row, &m, &err), CAPV_OK);
    /* registry_version, schema_version, migrated_to_2 and _3, verdict_mark (entries added) */
    ck_assert_int_eq(m.rows, 5);
    ck_assert_int_eq(capvi_pg_snapshot_rows(pg, "entries", stop_row, NULL, &err), CAPV_E_IO);
    ck_assert_str_eq(err.message, "stopped");
    ck_assert_int_eq(capvi_pg_snapshot_rows(pg, "secrets", count_row, NULL, &err),
                     CAPV_E_INVALID_ARG);
    walk again = { 0, 0, 0 }; /* the cursor was closed: the table can be walked again */
    ck_assert_int_eq(capvi_pg_snapshot_rows(pg, "entries", count_row, &again, &err), CAPV_OK);
    ck_assert_int_eq(again.rows, 3);
    /* another thread's snapshot (a second backup of the handle) waits for this one */
    struct snap_waiter sw = { .pg = pg };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, snapshot_in_thread, &sw), 0);
    usleep(200 * 1000);
    ck_assert(!atomic_load(&sw.began));
    capvi_pg_snapshot_end(pg);
    pthread_join(t, NULL);
    ck_assert_int_eq(sw.st, CAPV_OK);
    ck_assert(atomic_load(&sw.began));
    ck_assert_int_eq(capvi_pg_snapshot_begin(pg, &err), CAPV_OK);
    walk after = { 0, 0, 0 };
    ck_assert_int_eq(capvi_pg_snapshot_rows(pg, "entries", count_row, &after, &err), CAPV_OK);
    ck_assert_int_eq(after.rows, 4);
    capvi_pg_snapshot_end(pg);
    capvi_pg_close(pg);
}
END_TEST

/* ---- connections and errors ------------------------------------------------------------ */

START_TEST(test_unreachable)
{
    static const char *const urls[] = {
        "postgresql://capv:s3cr3t-pw@127.0.0.1:1/db?connect_timeout=2",
        "postgresql://capv@127.0.0.1:1/db?password=s3cr3t-pw&sslmode=disable",
        "host=127.0.0.1 port=1 user=capv password=s3cr3t-pw dbname=db",
        /* libpq reads a password up to the '@', '?' included */
        "postgresql://capv:s3cr3t?pw@127.0.0.1:1/db?connect_timeout=2",
        /* the passphrase of a client key is as secret */
        "postgresql://capv@127.0.0.1:1/db?sslpassword=s3cr3t-key&connect_timeout=2",
        "host=127.0.0.1 port=1 user=capv sslpassword=s3cr3t-key dbname=db",
        /* '@' and '/' percent-encoded in the password */
        "postgresql://capv:s3cr3t%40p%2Fw@127.0.0.1:1/db?connect_timeout=2",
    };
    static const char *const locations[] = {
        "postgresql://capv@127.0.0.1:1/db?connect_timeout=2",
        "postgresql://capv@127.0.0.1:1/db?sslmode=disable",
        NULL,
        "postgresql://capv@127.0.0.1:1/db?connect_timeout=2",
        "postgresql://capv@127.0.0.1:1/db?connect_timeout=2",
        NULL,
        "postgresql://capv@127.0.0.1:1/db?connect_timeout=2",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        capv_error err = CAPV_ERROR_INIT;
        capvi_pg *pg = NULL;
        capvi_pg_options o = options(urls[i]);
        double t0 = now_s();
        ck_assert_int_eq(capvi_pg_open(&pg, &o, &err), CAPV_E_STORAGE);
        ck_assert(now_s() - t0 < 2.0);
        ck_assert_msg(strstr(err.message, "database unreachable") != NULL, "%s", err.message);
        ck_assert_msg(strstr(err.message, "s3cr3t") == NULL, "%s", err.message);
        ck_assert_msg(strstr(err.message, "127.0.0.1") != NULL, "%s", err.message);
        if (locations[i] != NULL)
            ck_assert_msg(strstr(err.message, locations[i]) != NULL, "%s", err.message);
    }
    /* not encoded: libpq would read part of the password as the host or the database, and
     * echo it; refused, without the URL */
    static const char *const ambiguous[] = {
        "postgresql://capv:s3cr3t@pw@127.0.0.1:1/db",
        "postgresql://capv:s3cr3t/pw@127.0.0.1:1/db",
        "postgresql://capv:s3cr3t/pw@127.0.0.1:1",
    };
    for (size_t i = 0; i < sizeof ambiguous / sizeof ambiguous[0]; i++) {
        capv_error err = CAPV_ERROR_INIT;
        capvi_pg *pg = NULL;
        capvi_pg_options o = options(ambiguous[i]);
        ck_assert_int_eq(capvi_pg_open(&pg, &o, &err), CAPV_E_INVALID_ARG);
        ck_assert_msg(strstr(err.message, "s3cr3t") == NULL && strstr(err.message, "%40"), "%s",
                      err.message);
    }
    capv_error err = CAPV_ERROR_INIT;
    capvi_pg *pg = NULL;
    capvi_pg_options o = options("postgresql://x@127.0.0.1:1/db?nonsense=1");
    ck_assert_int_eq(capvi_pg_open(&pg, &o, &err), CAPV_E_INVALID_ARG);
}
END_TEST

START_TEST(test_tls_refused)
{
    char u[1200];
    /* any certificate file will do: the server has no TLS at all */
    snprintf(u, sizeof u, "%s&sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt",
             url);
    capv_error err = CAPV_ERROR_INIT;
    capvi_pg *pg = NULL;
    capvi_pg_options o = options(u);
    ck_assert_int_eq(capvi_pg_open(&pg, &o, &err), CAPV_E_STORAGE);
    ck_assert_msg(strstr(err.message, "database unreachable") != NULL &&
                      strstr(err.message, "server does not support SSL") != NULL,
                  "%s", err.message);
}
END_TEST

START_TEST(test_password_file)
{
    const char *pw = getenv("PGPASSWORD");
    ck_assert_ptr_nonnull(pw);
    char good[1024], path[64];
    snprintf(good, sizeof good, "%s\n", pw);
    snprintf(path, sizeof path, "/tmp/capv-pgpw.%ld", (long)getpid());
    unsetenv("PGPASSWORD"); /* this test's process only (Check forks each test) */
    setenv("PGPASSFILE", "/nonexistent", 1);

    capv_error err = CAPV_ERROR_INIT;
    capvi_pg *pg = NULL;
    capvi_pg_options o = options(url);
    ck_assert_int_eq(capvi_pg_open(&pg, &o, &err), CAPV_E_STORAGE);
    tu_write_file(path, "wrong-horse-battery\n");
    o.password_file = path;
    ck_assert_int_eq(capvi_pg_open(&pg, &o, &err), CAPV_E_STORAGE);
    ck_assert_msg(strstr(err.message, "password authentication failed") != NULL, "%s", err.message);
    ck_assert(strstr(err.message, "wrong-horse") == NULL);
    tu_write_file(path, good);
    ck_assert_msg(capvi_pg_open(&pg, &o, &err) == CAPV_OK, "%s", err.message);
    capvi_pg_close(pg);
    unlink(path);
    ck_assert_int_eq(capvi_pg_open(&pg, &o, &err), CAPV_E_NOT_FOUND);
}
END_TEST

/* Ends the sessions of this test's handles (the server's admin shutdown, SQLSTATE 57P01). */
static void kill_sessions(void)
{
    PQclear(admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                  "application_name = 'capverify' AND pid <> pg_backend_pid()"));
}

/* A statement the server refuses to prepare inside a transaction fails with the server's
 * reason: run unprepared after the refusal, it would only say that the transaction is
 * aborted (25P02), and a deadlock or a lock timeout would not read as CAPV_E_BUSY. */
START_TEST(test_prepare_refused_in_transaction)
{
    capvi_pg *pg = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capvi_pg_begin(pg, true, &err), CAPV_OK);
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    capvi_pg_param_text(&p, "x");
    ck_assert_int_ne(capvi_pg_exec(NULL, pg, &pg->w, "reading",
                                   "SELECT 1 FROM no_such_table WHERE name = $1", &p, &err),
                     CAPV_OK);
    ck_assert_msg(strstr(err.message, "42P01") != NULL && strstr(err.message, "25P02") == NULL,
                  "%s", err.message);
    capvi_pg_rollback(pg);
    capvi_pg_close(pg);
}
END_TEST

START_TEST(test_session_lost)
{
    capvi_pg *pg = open_rw();
    capv_error err = CAPV_ERROR_INIT;
    bool leader = false;
    ck_assert_int_eq(capvi_pg_leader(&leader, pg, &err), CAPV_OK);
    ck_assert(leader);
    kill_sessions();
    /* idle sessions: reconnected on their next use, the leadership taken again */
    ck_assert_int_eq(capvi_pg_probe(pg, "2026-12-06T07:00:00.000Z", &err), CAPV_OK);
    /* the probe is a write: a server that takes none (its disk full) fails it */
    PGresult *probe =
        admin("SELECT value FROM %s.registry_meta WHERE key = 'health_probe'", schema);
    ck_assert_int_eq(PQntuples(probe), 1);
    ck_assert_str_eq(PQgetvalue(probe, 0, 0), "2026-12-06T07:00:00.000Z");
    PQclear(probe);
    uint64_t n = 1;
    ck_assert_int_eq(capvi_pg_count(&n, pg, CAPV_REGISTRY_ENTRIES, &err), CAPV_OK);
    ck_assert_int_eq(capvi_pg_leader(&leader, pg, &err), CAPV_OK);
    ck_assert(leader);

    /* inside a transaction: lost, and refused until rolled back */
    test_entry t;
    entry_make(&t, 1, 1, NULL, NULL);
    ck_assert_int_eq(capvi_pg_begin(pg, true, &err), CAPV_OK);
    ck_assert(capvi_pg_in_transaction(pg));
    kill_sessions();
    ck_assert_int_eq(capvi_pg_entry_add(NULL, pg, &t.e, true, &err), CAPV_E_STORAGE);
    ck_assert(!capvi_pg_in_transaction(pg));
    ck_assert_msg(strstr(err.message, "database unreachable") != NULL, "%s", err.message);
    ck_assert_int_eq(capvi_pg_savepoint(pg, &err), CAPV_E_STORAGE);
    ck_assert_int_eq(capvi_pg_commit(pg, &err), CAPV_E_STORAGE);
    capvi_pg_rollback(pg);
    ck_assert_int_eq(entry_add(NULL, pg, &t, &err), CAPV_OK);
    capvi_pg_close(pg);
}
END_TEST

/* ---- a server that accepts sessions and drops them at their first statement ---------- */

/* A TCP proxy to the test server that forwards the start of each session (startup,
 * authentication, the session's SET) and, while `dropping`, closes it when the client's
 * next statement arrives (a read starting with a Query, Parse or Bind message). */
#define PROXY_SESSIONS_MAX 64

typedef struct drop_proxy {
    int fd, port, upstream_port;
    pthread_t thread;
    atomic_bool dropping, stop;
    atomic_int sessions; /* accepted */
    pthread_t session_threads[PROXY_SESSIONS_MAX];
} drop_proxy;

typedef struct proxy_arg {
    drop_proxy *p;
    int c;
} proxy_arg;

static void *proxy_session(void *arg)
{
    drop_proxy *p = ((proxy_arg *)arg)->p;
    int c = ((proxy_arg *)arg)->c;
    free(arg);
    int u = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)p->upstream_port);
    if (u < 0 || connect(u, (struct sockaddr *)&a, sizeof a) != 0) {
        if (u >= 0)
            close(u);
        close(c);
        return NULL;
    }
    int queries = 0;
    char buf[65536];
    while (!atomic_load(&p->stop)) {
        struct pollfd f[2] = { { c, POLLIN, 0 }, { u, POLLIN, 0 } };
        if (poll(f, 2, 100) <= 0)
            continue;
        int from = f[0].revents ? c : u, to = from == c ? u : c;
        ssize_t n = read(from, buf, sizeof buf);
        if (n <= 0)
            break;
        if (from == c && (buf[0] == 'Q' || buf[0] == 'P' || buf[0] == 'B') && queries++ > 0 &&
            atomic_load(&p->dropping))
            break;
        if (write(to, buf, (size_t)n) != n)
            break;
    }
    close(u);
    close(c);
    return NULL;
}

static void *proxy_main(void *arg)
{
    drop_proxy *p = arg;
    while (!atomic_load(&p->stop)) {
        struct pollfd f = { p->fd, POLLIN, 0 };
        if (poll(&f, 1, 100) <= 0)
            continue;
        int c = accept(p->fd, NULL, NULL);
        if (c < 0)
            continue;
        int i = atomic_fetch_add(&p->sessions, 1);
        proxy_arg *a = i < PROXY_SESSIONS_MAX ? malloc(sizeof *a) : NULL;
        if (a == NULL) { /* counted, not served */
            close(c);
            continue;
        }
        *a = (proxy_arg){ p, c };
        ck_assert_int_eq(pthread_create(&p->session_threads[i], NULL, proxy_session, a), 0);
    }
    return NULL;
}

/* A connect that succeeds does not end the reconnect backoff; a statement that succeeds
 * does. Against a server that drops every session at its first statement, the handle
 * connects at the backoff's pace (100 ms doubling), not once or twice per call. */
START_TEST(test_backoff_survives_connects)
{
    drop_proxy p;
    memset(&p, 0, sizeof p);
    const char *at = strstr(url, "@127.0.0.1:");
    ck_assert_ptr_nonnull(at);
    p.upstream_port = atoi(at + strlen("@127.0.0.1:"));
    p.fd = tu_listen_loopback(&p.port);
    ck_assert_int_eq(pthread_create(&p.thread, NULL, proxy_main, &p), 0);
    /* the schema URL with the proxy's port */
    char purl[1100];
    size_t head = (size_t)(at - url) + strlen("@127.0.0.1:");
    const char *rest = strchr(url + head, '/');
    snprintf(purl, sizeof purl, "%.*s%d%s", (int)head, url, p.port, rest);
    capvi_pg *pg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capvi_pg_options o = options(purl);
    ck_assert_msg(capvi_pg_open(&pg, &o, &err) == CAPV_OK, "open: %s", err.message);
    uint64_t n = 0;
    ck_assert_int_eq(capvi_pg_count(&n, pg, CAPV_REGISTRY_ENTRIES, &err), CAPV_OK);

    atomic_store(&p.dropping, true);
    kill_sessions();
    int before = atomic_load(&p.sessions);
    double t0 = now_s();
    int calls = 0, failed = 0;
    int told = 0; /* failures that name the server's reason, not the backoff's wait */
    while (now_s() - t0 < 1.5) {
        calls++;
        if (capvi_pg_count(&n, pg, CAPV_REGISTRY_ENTRIES, &err) != CAPV_OK) {
            failed++;
            told += strstr(err.message, "next attempt") == NULL;
        }
        usleep(2000);
    }
    int sessions = atomic_load(&p.sessions) - before;
    fprintf(stderr,
            "test_backoff_survives_connects: %d calls, %d failed (%d with the server's reason), "
            "%d sessions in 1.5 s\n",
            calls, failed, told, sessions);
    ck_assert_int_eq(failed, calls);
    /* each session dropped at its first statement says so: the call that connected it does
     * not go on to report the backoff's wait instead */
    ck_assert_int_ge(told, sessions);
    /* 100 + 200 + 400 + 800 ms: at most 5 sessions (and the idle one the kill ended) */
    ck_assert_int_le(sessions, 7);

    /* the server works again: the handle is back within the backoff's current wait */
    atomic_store(&p.dropping, false);
    double t1 = now_s();
    while (capvi_pg_count(&n, pg, CAPV_REGISTRY_ENTRIES, &err) != CAPV_OK && now_s() - t1 < 6)
        usleep(20000);
    ck_assert_msg(capvi_pg_count(&n, pg, CAPV_REGISTRY_ENTRIES, &err) == CAPV_OK, "%s",
                  err.message);
    capvi_pg_close(pg);
    atomic_store(&p.stop, true);
    pthread_join(p.thread, NULL);
    for (int i = 0; i < atomic_load(&p.sessions) && i < PROXY_SESSIONS_MAX; i++)
        pthread_join(p.session_threads[i], NULL);
    close(p.fd);
}
END_TEST

#define PROBE_AT "2026-12-06T07:00:01.000Z"

START_TEST(test_server_restart)
{
    const char *ctl = getenv("CAPV_TEST_PG_CTL");
    if (ctl == NULL) {
        fprintf(stderr, "test_server_restart: CAPV_TEST_PG_CTL unset, skipped\n");
        return;
    }
    capvi_pg *pg = open_rw();
    capv_error down = CAPV_ERROR_INIT, backoff = CAPV_ERROR_INIT, err = CAPV_ERROR_INIT;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s stop -m fast >/dev/null 2>&1", ctl);
    int stop_rc = system(cmd);
    double t0 = now_s();
    capv_status st_down = capvi_pg_probe(pg, PROBE_AT, &down);
    capv_status st_backoff = capvi_pg_probe(pg, PROBE_AT, &backoff);
    double fail_s = now_s() - t0;
    snprintf(cmd, sizeof cmd, "%s start >/dev/null 2>&1", ctl);
    int start_rc = system(cmd);
    double back = now_s();
    capv_status st = CAPV_E_STORAGE;
    while (st != CAPV_OK && now_s() - back < 8.0) {
        st = capvi_pg_probe(pg, PROBE_AT, &err);
        if (st != CAPV_OK)
            usleep(50 * 1000);
    }
    double recovered = now_s() - back;
    ck_assert_int_eq(stop_rc, 0);
    ck_assert_int_eq(start_rc, 0);
    ck_assert_int_eq(st_down, CAPV_E_STORAGE);
    ck_assert_msg(strstr(down.message, "database unreachable") != NULL, "%s", down.message);
    ck_assert_int_eq(st_backoff, CAPV_E_STORAGE);
    ck_assert_msg(strstr(backoff.message, "next attempt in") != NULL, "%s", backoff.message);
    ck_assert(fail_s < 1.0);
    ck_assert_msg(st == CAPV_OK, "not recovered: %s", err.message);
    ck_assert_msg(recovered < 5.5, "recovered after %.1f s", recovered);
    capvi_pg_close(pg);
}
END_TEST

/* ---- a figure -------------------------------------------------------------------------- */

START_TEST(test_throughput)
{
    capvi_pg *pg = open_rw();
    enum { BATCHES = 20, PER = 500 };
    capvi_reg_record *recs = calloc(PER, sizeof *recs);
    ck_assert_ptr_nonnull(recs);
    double t0 = now_s();
    for (int b = 0; b < BATCHES; b++) {
        for (int i = 0; i < PER; i++) {
            char rid[32];
            snprintf(rid, sizeof rid, "tp-%d-%d", b, i);
            record_make(&recs[i], rid, "ok", i % 64, 1767225600000 + i);
        }
        ck_assert_int_eq(batch(pg, recs, PER), CAPV_OK);
    }
    double s = now_s() - t0;
    printf("registry_pg_records_per_s %.0f (%d batches of %d, one transaction each)\n",
           BATCHES * PER / s, BATCHES, PER);
    ck_assert_int_eq(rows_of("verifications"), BATCHES * PER);
    free(recs);
    capvi_pg_close(pg);
}
END_TEST

Suite *registry_pg_suite(void)
{
    if (getenv("CAPV_TEST_PG_URL") == NULL) {
        fprintf(stderr, "registry_pg: CAPV_TEST_PG_URL is unset (run through "
                        "tests/pg/with_pg.sh); skipped\n");
        exit(77);
    }
    Suite *s = suite_create("registry_pg");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_open_migrate_reopen);
    tcase_add_test(tc, test_migrate_drops_foreign_keys);
    tcase_add_loop_test(tc, test_concurrent_open, 0, 2);
    tcase_add_test(tc, test_entries);
    tcase_add_test(tc, test_savepoints_undo_one_write);
    tcase_add_test(tc, test_commit_durability);
    tcase_add_test(tc, test_list_count);
    tcase_add_test(tc, test_records);
    tcase_add_test(tc, test_records_stored_id_in_batch);
    tcase_add_test(tc, test_records_queued);
    tcase_add_test(tc, test_records_texts_as_they_are);
    tcase_add_test(tc, test_records_unique_violation_not_a_key);
    tcase_add_test(tc, test_queued_record_retried_after_unique_violation);
    tcase_add_test(tc, test_policies);
    tcase_add_test(tc, test_prune);
    tcase_add_test(tc, test_prune_spares_held_bodies);
    tcase_add_test(tc, test_prune_races_records);
    tcase_add_test(tc, test_backup_refuses_dangling);
    tcase_add_test(tc, test_load_refuses_dangling);
    tcase_add_test(tc, test_prune_waits_for_a_load);
    tcase_add_test(tc, test_prunes_one_at_a_time);
    tcase_add_test(tc, test_prune_does_not_wait_for_the_lock);
    tcase_add_test(tc, test_prune_waits_out_another_prune);
    tcase_add_test(tc, test_waits_are_bounded);
    tcase_add_test(tc, test_load_clears_unreferenced_bodies);
    tcase_add_test(tc, test_generation_sees_other_writers);
    tcase_add_test(tc, test_batch_adds_entries_in_key_order);
    tcase_add_test(tc, test_deadlock_victim_runs_again);
    tcase_add_test(tc, test_import_run_again_reports_once);
    tcase_add_test(tc, test_leader);
    tcase_add_test(tc, test_snapshot);
    tcase_add_test(tc, test_unreachable);
    tcase_add_test(tc, test_tls_refused);
    tcase_add_test(tc, test_password_file);
    tcase_add_test(tc, test_prepare_refused_in_transaction);
    tcase_add_test(tc, test_session_lost);
    tcase_add_test(tc, test_backoff_survives_connects);
    tcase_add_test(tc, test_throughput);
    tcase_add_test(tc, test_server_restart);
    suite_add_tcase(s, tc);
    return s;
}
