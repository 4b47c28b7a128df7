/* SPDX-License-Identifier: Apache-2.0 */
/* The registry contract (docs/registry.md "Backends"): the same tests, through the public
 * API only, against both storages: suite registry_contract on a SQLite file, suite
 * registry_contract_pg on PostgreSQL (a fresh schema per test in the database of
 * CAPV_TEST_PG_URL, which tests/pg/with_pg.sh starts; skipped, 77, without it). */
#include <capverify.h>
#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suites.h"
#include "testutil.h"

#define LOC_CAP 1024

static bool on_pg;
static char dir[256];
static char loc[LOC_CAP];

/* Runs one SQL command on PostgreSQL at `conninfo`. */
static void pg_exec(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* A fresh, empty schema in the database of CAPV_TEST_PG_URL, as a registry location. */
static void pg_location(char out[LOC_CAP])
{
    static int n;
    const char *base = getenv("CAPV_TEST_PG_URL");
    char schema[64], sql[128];
    snprintf(schema, sizeof schema, "c_%ld_%d", (long)getpid(), n++);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    pg_exec(base, sql);
    snprintf(out, LOC_CAP, "%s%soptions=-csearch_path%%3D%s", base, strchr(base, '?') ? "&" : "?",
             schema);
}

/* A fresh, empty registry location for each test. */
static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
    static int n;
    tu_temp_dir(dir, sizeof dir, "capvcontract");
    if (on_pg)
        pg_location(loc);
    else
        snprintf(loc, sizeof loc, "%s/registry-%d.sqlite", dir, n++);
}

static void teardown(void)
{
    tu_remove_tree(dir);
    capv_global_shutdown();
}

static capv_registry *open_reg(unsigned int flags, size_t queue)
{
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE | flags;
    o.readers = 2;
    o.record_queue_max = queue;
    o.record_flush_ms = 2;
    capv_registry *reg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_open(&reg, loc, &o, &err) == CAPV_OK, "open: %s", err.message);
    return reg;
}

static const char *hash_of(char out[CAPV_DIGEST_HEX_SIZE], const char *tag, int n)
{
    char in[64];
    uint8_t d[32];
    snprintf(in, sizeof in, "%s-%d", tag, n);
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, (const uint8_t *)in, strlen(in), NULL),
                     CAPV_OK);
    capv_digest_format(out, d);
    return out;
}

/* The id docs/registry.md says an entry for the two hashes gets when the caller gives none. */
static const char *derived_id(char out[37], const char *mh, const char *ph)
{
    uint8_t in[21 + 64], d[32];
    memcpy(in, "capverify.entry-id.v1", 21);
    ck_assert_int_eq(capv_digest_parse(in + 21, mh, strlen(mh), NULL), CAPV_OK);
    ck_assert_int_eq(capv_digest_parse(in + 53, ph, strlen(ph), NULL), CAPV_OK);
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, in, sizeof in, NULL), CAPV_OK);
    d[6] = (uint8_t)((d[6] & 0x0f) | 0x80);
    d[8] = (uint8_t)((d[8] & 0x3f) | 0x80);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    return out;
}

static uint64_t count(capv_registry *reg, capv_registry_table t)
{
    uint64_t n = 0;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_count(&n, reg, t, &err) == CAPV_OK, "%s", err.message);
    return n;
}

START_TEST(entries_idempotent_and_conflicts)
{
    capv_registry *reg = open_reg(0, 0);
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE], ph2[CAPV_DIGEST_HEX_SIZE];
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.manifest_hash = hash_of(mh, "m", 1);
    e.proof_hash = hash_of(ph, "p", 1);
    e.timestamp_file = "proof.tsr";
    capv_registry_entry *stored = NULL;
    ck_assert_int_eq(capv_registry_add(&stored, reg, &e, NULL), CAPV_OK);
    ck_assert_int_gt(stored->seq, 0);
    char id[64], want[37];
    snprintf(id, sizeof id, "%s", stored->id);
    ck_assert_str_eq(id, derived_id(want, mh, ph));
    capv_registry_entry_free(stored);
    /* a retry: the same entry, whatever its registered_at now */
    ck_assert_int_eq(capv_registry_add(&stored, reg, &e, NULL), CAPV_E_EXISTS);
    ck_assert_str_eq(stored->id, id);
    capv_registry_entry_free(stored);
    /* other content for the same hashes */
    e.timestamp_file = "other.tsr";
    ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_E_CONFLICT);
    /* the id of another entry for other hashes, chosen by its caller */
    capv_registry_entry e2 = CAPV_REGISTRY_ENTRY_INIT;
    e2.id = "chosen-by-the-caller";
    e2.manifest_hash = mh;
    e2.proof_hash = hash_of(ph2, "p", 2);
    ck_assert_int_eq(capv_registry_add(NULL, reg, &e2, NULL), CAPV_OK);
    e2.proof_hash = hash_of(ph2, "p", 3);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_add(NULL, reg, &e2, &err), CAPV_E_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.message, "already used for other hashes"));
    /* a derived id belongs to its hashes: given for others, registered or not, it is refused */
    char mh4[CAPV_DIGEST_HEX_SIZE], ph4[CAPV_DIGEST_HEX_SIZE], squat[37];
    hash_of(mh4, "m", 4);
    hash_of(ph4, "p", 4);
    const char *derived[] = { id, derived_id(squat, mh4, ph4) };
    for (int i = 0; i < 2; i++) {
        e2.id = derived[i];
        ck_assert_int_eq(capv_registry_add(&stored, reg, &e2, &err), CAPV_E_MALFORMED);
        ck_assert_ptr_null(stored);
        ck_assert_str_eq(err.field, "id");
        ck_assert_ptr_nonnull(strstr(err.message, "has the form of a derived id"));
    }
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 2);
    /* so the pair whose id it is registers under it; a caller may give it too */
    capv_registry_entry e4 = CAPV_REGISTRY_ENTRY_INIT;
    e4.id = squat;
    e4.manifest_hash = mh4;
    e4.proof_hash = ph4;
    ck_assert_int_eq(capv_registry_add(&stored, reg, &e4, NULL), CAPV_OK);
    ck_assert_str_eq(stored->id, squat);
    capv_registry_entry_free(stored);
    capv_registry_entry *got = NULL;
    ck_assert_int_eq(capv_registry_get(&got, reg, id, NULL), CAPV_OK);
    ck_assert_str_eq(got->timestamp_file, "proof.tsr");
    capv_registry_entry_free(got);
    ck_assert_int_eq(capv_registry_find(&got, reg, mh, ph, NULL), CAPV_OK);
    ck_assert_str_eq(got->id, id);
    capv_registry_entry_free(got);
    ck_assert_int_eq(capv_registry_get(&got, reg, "no-such-id", &err), CAPV_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.message, "no-such-id"));
    capv_registry_close(reg);
}
END_TEST

/* A signature is stored with its kid: the same signature under another kid is other content;
 * a retry that leaves the kid out is the same entry. */
START_TEST(entries_kid_is_content)
{
    capv_registry *reg = open_reg(0, 0);
    capv_signing_key *key = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&key, NULL), CAPV_OK);
    capv_registry_set_signing_key(reg, key);
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.manifest_hash = hash_of(mh, "km", 1);
    e.proof_hash = hash_of(ph, "kp", 1);
    capv_registry_entry *signed_e = NULL, *stored = NULL;
    ck_assert_int_eq(capv_registry_add(&signed_e, reg, &e, NULL), CAPV_OK);
    ck_assert_ptr_nonnull(signed_e->kid);
    /* the stored entry again, with its signature given by the caller */
    e.registered_at = signed_e->registered_at;
    e.signature = signed_e->signature;
    e.public_key = signed_e->public_key;
    e.kid = "another-key";
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_add(NULL, reg, &e, &err), CAPV_E_CONFLICT);
    e.kid = NULL;
    ck_assert_int_eq(capv_registry_add(NULL, reg, &e, &err), CAPV_E_EXISTS);
    e.kid = signed_e->kid;
    ck_assert_int_eq(capv_registry_add(&stored, reg, &e, &err), CAPV_E_EXISTS);
    ck_assert_str_eq(stored->kid, signed_e->kid);
    capv_registry_entry_free(stored);
    capv_registry_entry_free(signed_e);
    capv_registry_close(reg);
    capv_signing_key_free(key);
}
END_TEST

START_TEST(signed_by_the_registry)
{
    capv_registry *reg = open_reg(0, 0);
    capv_signing_key *key = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&key, NULL), CAPV_OK);
    capv_registry_set_signing_key(reg, key);
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.manifest_hash = hash_of(mh, "sm", 1);
    e.proof_hash = hash_of(ph, "sp", 1);
    capv_registry_entry *stored = NULL;
    ck_assert_int_eq(capv_registry_add(&stored, reg, &e, NULL), CAPV_OK);
    ck_assert_ptr_nonnull(stored->signature);
    ck_assert_int_eq(capv_registry_entry_verify(stored, NULL), CAPV_OK);
    capv_registry_entry_free(stored);
    sleep(1); /* another registered_at, so another signature: still the same entry */
    ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_E_EXISTS);
    capv_registry_close(reg);
    capv_signing_key_free(key);
}
END_TEST

START_TEST(paged_listing)
{
    capv_registry *reg = open_reg(0, 0);
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE], m0[CAPV_DIGEST_HEX_SIZE];
    hash_of(m0, "lm", 0);
    for (int i = 0; i < 25; i++) {
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        e.manifest_hash = i % 5 == 0 ? m0 : hash_of(mh, "lm", i);
        e.proof_hash = hash_of(ph, "lp", i);
        ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);
    }
    int64_t after = 0, last = 0;
    size_t seen = 0, pages = 0;
    do {
        capv_registry_page *p = NULL;
        ck_assert_int_eq(capv_registry_list(&p, reg, NULL, after, 10, NULL), CAPV_OK);
        for (size_t i = 0; i < capv_registry_page_count(p); i++) {
            int64_t seq = capv_registry_page_entry(p, i)->seq;
            ck_assert_int_gt(seq, last);
            last = seq;
            seen++;
        }
        after = capv_registry_page_next(p);
        pages++;
        capv_registry_page_free(p);
    } while (after != 0);
    ck_assert_uint_eq(seen, 25);
    ck_assert_uint_eq(pages, 3);
    capv_registry_page *p = NULL;
    ck_assert_int_eq(capv_registry_list(&p, reg, m0, 0, 100, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_registry_page_count(p), 5);
    ck_assert_int_eq(capv_registry_page_next(p), 0);
    capv_registry_page_free(p);
    capv_registry_close(reg);
}
END_TEST

START_TEST(verifications_recorded)
{
    capv_registry *reg = open_reg(0, 0);
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.request_id = "contract-1";
    v.subject = "alice";
    v.manifest_hash = hash_of(mh, "vm", 1);
    v.proof_hash = hash_of(ph, "vp", 1);
    v.result = "warn";
    v.verified_at = "2026-12-02T12:00:00Z";
    v.report_json = "{\"result\":\"warn\",\"checks\":[]}";
    int64_t seq = 0, again = 0;
    ck_assert_int_eq(capv_registry_record(&seq, reg, &v, NULL), CAPV_OK);
    ck_assert_int_gt(seq, 0);
    ck_assert_int_eq(capv_registry_record(&again, reg, &v, NULL), CAPV_E_EXISTS);
    ck_assert_int_eq(again, seq);
    v.result = "fail";
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_E_CONFLICT);
    v.result = "maybe";
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_E_MALFORMED);
    capv_registry_verification *got = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "contract-1", NULL), CAPV_OK);
    ck_assert_str_eq(got->result, "warn");
    ck_assert_str_eq(got->subject, "alice");
    ck_assert_str_eq(got->report_json, "{\"result\":\"warn\",\"checks\":[]}");
    ck_assert_str_eq(got->verified_at, "2026-12-02T12:00:00Z");
    ck_assert_int_eq(got->seq, seq);
    capv_registry_verification_free(got);
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "contract-none", NULL),
                     CAPV_E_NOT_FOUND);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 1);
    capv_registry_close(reg);
}
END_TEST

START_TEST(queued_records)
{
    capv_registry *reg = open_reg(CAPV_REGISTRY_WRITER_THREAD, 5000);
    char rid[32];
    for (int i = 0; i < 2000; i++) {
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        snprintf(rid, sizeof rid, "q-%d", i);
        v.request_id = rid;
        v.result = i % 3 ? "ok" : "fail";
        v.report_json = i % 2 ? "{\"a\":1}" : "{\"a\":2}";
        ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    }
    ck_assert_int_eq(capv_registry_flush(reg, 30000, NULL), CAPV_OK);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 2000);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_RECORDS_WRITTEN), 2000);
    ck_assert_uint_lt(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_COMMITS), 500);
    /* the queue is written when the handle closes */
    for (int i = 2000; i < 2300; i++) {
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        snprintf(rid, sizeof rid, "q-%d", i);
        v.request_id = rid;
        v.result = "ok";
        ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    }
    capv_registry_close(reg);
    reg = open_reg(0, 0);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 2300);
    capv_registry_close(reg);
}
END_TEST

/* Makes the storage refuse the record with request id `rid` with an error it does not
 * classify (CAPV_E_IO), at every try, and take every other. */
static void poison(const char *rid)
{
    char sql[256];
    if (on_pg) {
        snprintf(sql, sizeof sql,
                 "ALTER TABLE verifications ADD CONSTRAINT poison CHECK (request_id <> '%s')", rid);
        pg_exec(loc, sql);
        return;
    }
    snprintf(sql, sizeof sql,
             "CREATE TRIGGER poison BEFORE INSERT ON verifications WHEN NEW.request_id = '%s' "
             "BEGIN SELECT json('not json'); END",
             rid);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(loc, &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* Queues records g-FROM .. g-(TO-1), and the one `poison` after g-AT. */
static void record_range(capv_registry *reg, int from, int to, int at)
{
    char rid[32];
    for (int i = from; i < to; i++) {
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        snprintf(rid, sizeof rid, "g-%d", i);
        v.request_id = rid;
        v.result = "ok";
        ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
        if (i == at) {
            v.request_id = "poison";
            ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
        }
    }
}

/* A queued record that the storage refuses at every try, with an error that might have been
 * the storage's, holds neither the records queued with it nor those after it: they are
 * written at once, and it is refused once it has failed on its own, while the storage took
 * other records, for REG_RECORD_POISON_MS (5 s); also when it is the only record queued. */
START_TEST(a_record_failing_alone_is_refused)
{
    capv_registry_close(open_reg(0, 0));
    poison("poison");
    capv_registry *reg = open_reg(CAPV_REGISTRY_WRITER_THREAD, 5000);
    int64_t t0 = tu_now_ms();
    record_range(reg, 0, 200, 100);
    /* the others are written while it waits (the depth is counted after the commit) */
    for (int i = 0; i < 300 && (count(reg, CAPV_REGISTRY_VERIFICATIONS) < 200 ||
                                capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH) > 1);
         i++)
        usleep(10000);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 200);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH), 1);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_RECORDS_REJECTED), 0);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_flush(reg, 20000, &err) == CAPV_OK, "%s", err.message);
    ck_assert_int_ge(tu_now_ms() - t0, 5000);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 200);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_RECORDS_WRITTEN), 200);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_RECORDS_REJECTED), 1);
    /* the only record queued: a sentinel record shows that the storage takes others */
    t0 = tu_now_ms();
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.request_id = "poison";
    v.result = "ok";
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    ck_assert_msg(capv_registry_flush(reg, 20000, &err) == CAPV_OK, "%s", err.message);
    ck_assert_int_ge(tu_now_ms() - t0, 5000);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_RECORDS_REJECTED), 2);
    /* and the queue goes on as before, the sentinel never stored */
    record_range(reg, 200, 500, -1);
    ck_assert_msg(capv_registry_flush(reg, 20000, &err) == CAPV_OK, "%s", err.message);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 500);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_RECORDS_REJECTED), 2);
    capv_registry_close(reg);
}
END_TEST

/* Records g-FROM .. g-(TO-1), one every 10 ms (a thread's job). */
typedef struct later_job {
    capv_registry *reg;
    int from, to;
} later_job;

static void *record_later(void *p)
{
    later_job *j = p;
    char rid[32];
    for (int i = j->from; i < j->to; i++) {
        usleep(10000);
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        snprintf(rid, sizeof rid, "g-%d", i);
        v.request_id = rid;
        v.result = "ok";
        ck_assert_int_eq(capv_registry_record(NULL, j->reg, &v, NULL), CAPV_OK);
    }
    return NULL;
}

/* A flush waits for every record queued before it, also one that waits beside the queue
 * after failing on its own while records queued after the flush began are written: their
 * number makes up the count of finished records, not the record waited for. */
START_TEST(flush_waits_for_a_record_set_aside)
{
    capv_registry_close(open_reg(0, 0));
    poison("poison");
    capv_registry *reg = open_reg(CAPV_REGISTRY_WRITER_THREAD, 5000);
    record_range(reg, 0, 10, 5);
    for (int i = 0; i < 300 && (count(reg, CAPV_REGISTRY_VERIFICATIONS) < 10 ||
                                capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH) > 1);
         i++)
        usleep(10000);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH), 1);
    later_job j = { reg, 10, 60 };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, record_later, &j), 0);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_flush(reg, 1000, &err), CAPV_E_BUSY);
    ck_assert_ptr_nonnull(strstr(err.message, "not written yet"));
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 60);
    /* once it is refused (after REG_RECORD_POISON_MS), nothing queued before waits */
    ck_assert_msg(capv_registry_flush(reg, 20000, &err) == CAPV_OK, "%s", err.message);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_RECORDS_REJECTED), 1);
    capv_registry_close(reg);
}
END_TEST

/* Records one verification with `report` (NULL: none). */
static capv_status record_report_text(capv_registry *reg, const char *rid, const char *report)
{
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.request_id = rid;
    v.result = "warn";
    v.report_json = report;
    return capv_registry_record(NULL, reg, &v, NULL);
}

/* capv_registry_get_report: the stored text exactly (with a space and key order a re-encoding
 * would change), its summary over the cap, and each way of not finding one. */
START_TEST(reports_as_stored)
{
    capv_registry *reg = open_reg(0, 0);
    static const char text[] = "{\"result\":\"warn\", \"z\":1,\"a\":[true]}";
    ck_assert_int_eq(record_report_text(reg, "0190a1b2c3d4e5f60718293a4b5c6d7e", text), CAPV_OK);
    char *got = NULL;
    size_t len = 99;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(
        capv_registry_get_report(&got, &len, reg, "0190a1b2c3d4e5f60718293a4b5c6d7e", &err),
        CAPV_OK);
    ck_assert_str_eq(got, text);
    ck_assert_uint_eq(len, strlen(text));
    ck_assert_int_eq(err.code, CAPV_OK);
    capv_free(got);
    /* no such record, and a record without a report */
    ck_assert_int_eq(capv_registry_get_report(&got, &len, reg, "req-unknown", &err),
                     CAPV_E_NOT_FOUND);
    ck_assert_ptr_null(got);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(err.field, "request_id");
    ck_assert_int_eq(record_report_text(reg, "req-bare", NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_get_report(&got, NULL, reg, "req-bare", &err), CAPV_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.message, "without a report"));
    /* ids no record can carry */
    char long_id[130];
    memset(long_id, 'a', 129);
    long_id[129] = '\0';
    const char *bad[] = { "", "tab\there", long_id, "\xff\xfe" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(capv_registry_get_report(&got, NULL, reg, bad[i], &err), CAPV_E_MALFORMED);
        ck_assert_str_eq(err.field, "request_id");
    }
    long_id[128] = '\0'; /* 128 characters: a valid id, not recorded */
    ck_assert_int_eq(capv_registry_get_report(&got, NULL, reg, long_id, NULL), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capv_registry_get_report(NULL, NULL, reg, "x", NULL), CAPV_E_INVALID_ARG);
    /* over the cap: the summary is what is stored, and what is returned */
    ck_assert_int_eq(capv_registry_set_max_report_bytes(reg, 1024, NULL), CAPV_OK);
    char big[3000];
    int n = snprintf(big, sizeof big, "{\"result\":\"fail\",\"pad\":\"");
    memset(big + n, 'x', 2000);
    snprintf(big + n + 2000, sizeof big - (size_t)n - 2000, "\"}");
    ck_assert_int_eq(record_report_text(reg, "req-big", big), CAPV_OK);
    ck_assert_int_eq(capv_registry_get_report(&got, &len, reg, "req-big", NULL), CAPV_OK);
    ck_assert_ptr_nonnull(strstr(got, "\"summary\":true"));
    ck_assert_uint_le(len, 1024);
    capv_registry_verification *v = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&v, reg, "req-big", NULL), CAPV_OK);
    ck_assert_str_eq(got, v->report_json);
    capv_registry_verification_free(v);
    capv_free(got);
    capv_registry_close(reg);
}
END_TEST

/* With asynchronous recording and a flush interval far longer than the test, a look-up finds
 * a record its handle accepted a moment ago: the miss writes the queue first. */
START_TEST(reports_queued_are_found)
{
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD;
    o.record_queue_max = 100;
    o.record_flush_ms = 60000;
    capv_registry *reg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_open(&reg, loc, &o, &err) == CAPV_OK, "open: %s", err.message);
    ck_assert_int_eq(record_report_text(reg, "queued-1", "{\"result\":\"ok\"}"), CAPV_OK);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH), 1);
    char *got = NULL;
    ck_assert_msg(capv_registry_get_report(&got, NULL, reg, "queued-1", &err) == CAPV_OK, "%s",
                  err.message);
    ck_assert_str_eq(got, "{\"result\":\"ok\"}");
    capv_free(got);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH), 0);
    /* an unknown id while nothing waits: answered at once */
    ck_assert_int_eq(capv_registry_get_report(&got, NULL, reg, "queued-none", NULL),
                     CAPV_E_NOT_FOUND);
    /* the same through get_verification, with a record queued after the last flush */
    ck_assert_int_eq(record_report_text(reg, "queued-2", NULL), CAPV_OK);
    capv_registry_verification *v = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&v, reg, "queued-2", NULL), CAPV_OK);
    ck_assert_str_eq(v->result, "warn");
    capv_registry_verification_free(v);
    /* another handle (a replica, or the CLI) sees it too, once written */
    capv_registry *ro = tu_registry_open(loc, CAPV_REGISTRY_READ_ONLY);
    ck_assert_int_eq(capv_registry_get_report(&got, NULL, ro, "queued-1", NULL), CAPV_OK);
    ck_assert_str_eq(got, "{\"result\":\"ok\"}");
    capv_free(got);
    capv_registry_close(ro);
    capv_registry_close(reg);
}
END_TEST

START_TEST(policies_stored)
{
    capv_registry *reg = open_reg(0, 0);
    char ph[CAPV_DIGEST_HEX_SIZE], ih[CAPV_DIGEST_HEX_SIZE], ih2[CAPV_DIGEST_HEX_SIZE];
    capv_registry_policy p = CAPV_REGISTRY_POLICY_INIT;
    p.policy_id = "supplier-due-diligence";
    p.policy_version = "1.0";
    p.policy_hash = hash_of(ph, "pol", 1);
    p.ir_hash = hash_of(ih, "ir", 1);
    p.ir_json = "{\"rules\":[]}";
    ck_assert_int_eq(capv_registry_put_policy(reg, &p, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_put_policy(reg, &p, NULL), CAPV_E_EXISTS);
    p.ir_hash = hash_of(ih2, "ir", 2);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_put_policy(reg, &p, &err), CAPV_E_CONFLICT);
    capv_registry_policy *got = NULL;
    ck_assert_int_eq(capv_registry_get_policy(&got, reg, ph, NULL), CAPV_OK);
    ck_assert_str_eq(got->ir_json, "{\"rules\":[]}");
    capv_registry_policy_free(got);
    ck_assert_int_eq(capv_registry_get_policy(&got, reg, "supplier-due-diligence", NULL), CAPV_OK);
    ck_assert_str_eq(got->policy_version, "1.0");
    capv_registry_policy_free(got);
    ck_assert_int_eq(capv_registry_get_policy(&got, reg, "none", NULL), CAPV_E_NOT_FOUND);
    /* a creation time the caller gives is a time (listed as JSON text, which must stay valid) */
    char ph2[CAPV_DIGEST_HEX_SIZE];
    p.policy_version = "2.0";
    p.policy_hash = hash_of(ph2, "pol", 2);
    static const char *const bad_at[] = { "\xff", "yesterday", "2026-12-02T12:00:00" };
    for (size_t i = 0; i < sizeof bad_at / sizeof bad_at[0]; i++) {
        p.created_at = bad_at[i];
        ck_assert_int_eq(capv_registry_put_policy(reg, &p, &err), CAPV_E_MALFORMED);
        ck_assert_str_eq(err.field, "created_at");
    }
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_POLICIES), 1);
    capv_registry_close(reg);
}
END_TEST

/* Recorded verifications newest first, by result, in pages; queued records once written. */
START_TEST(verifications_listed)
{
    capv_registry *reg = open_reg(0, 0);
    static const char *const results[] = { "ok", "warn", "fail" };
    char mh[CAPV_DIGEST_HEX_SIZE], rid[32];
    for (int i = 0; i < 23; i++) {
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        snprintf(rid, sizeof rid, "list-%02d", i);
        v.request_id = rid;
        v.subject = i % 2 ? "alice" : NULL;
        v.manifest_hash = hash_of(mh, "lv", i);
        v.result = results[i % 3];
        v.report_json = "{\"result\":\"ok\"}";
        ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    }
    /* all of them, newest first, 10 a page */
    int64_t before = 0, last = INT64_MAX;
    size_t seen = 0, pages = 0;
    do {
        capv_registry_verification_page *p = NULL;
        capv_error err = CAPV_ERROR_INIT;
        ck_assert_msg(capv_registry_list_verifications(&p, reg, NULL, before, 10, &err) == CAPV_OK,
                      "%s", err.message);
        for (size_t i = 0; i < capv_registry_verification_page_count(p); i++) {
            const capv_registry_verification *v = capv_registry_verification_page_get(p, i);
            ck_assert_int_lt(v->seq, last);
            last = v->seq;
            snprintf(rid, sizeof rid, "list-%02zu", 22 - seen);
            ck_assert_str_eq(v->request_id, rid);
            ck_assert_str_eq(v->result, results[(22 - seen) % 3]);
            ck_assert_ptr_null(v->report_json);
            seen++;
        }
        ck_assert_ptr_null(capv_registry_verification_page_get(p, 10));
        before = capv_registry_verification_page_next(p);
        pages++;
        capv_registry_verification_page_free(p);
    } while (before != 0);
    ck_assert_uint_eq(seen, 23);
    ck_assert_uint_eq(pages, 3);
    /* by result: the fails (i = 2, 5, …, 20: 7 of them), and their JSON */
    capv_registry_verification_page *p = NULL;
    ck_assert_int_eq(capv_registry_list_verifications(&p, reg, "fail", 0, 100, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_registry_verification_page_count(p), 7);
    ck_assert_int_eq(capv_registry_verification_page_next(p), 0);
    ck_assert_str_eq(capv_registry_verification_page_get(p, 0)->request_id, "list-20");
    char *json = NULL;
    size_t len = 0;
    ck_assert_int_eq(capv_registry_verification_page_to_json(&json, &len, p, NULL), CAPV_OK);
    ck_assert_uint_eq(len, strlen(json));
    ck_assert_int_eq(capv_json_validate((const uint8_t *)json, len, NULL), CAPV_OK);
    ck_assert_ptr_nonnull(strstr(json, "{\"verifications\":[{\"seq\":"));
    ck_assert_ptr_nonnull(strstr(json, ",\"request_id\":\"list-20\",\"subject\":null,"));
    ck_assert_ptr_nonnull(
        strstr(json, "\"proof_hash\":null,\"policy_hash\":null,\"result\":\"fail\""));
    ck_assert_ptr_nonnull(strstr(json, "],\"next\":null}"));
    capv_free(json);
    capv_registry_verification_page_free(p);
    ck_assert_int_eq(capv_registry_list_verifications(&p, reg, "warn", 0, 2, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_registry_verification_page_count(p), 2);
    int64_t next = capv_registry_verification_page_next(p);
    ck_assert_int_eq(next, capv_registry_verification_page_get(p, 1)->seq);
    ck_assert_int_eq(capv_registry_verification_page_to_json(&json, NULL, p, NULL), CAPV_OK);
    char want[48];
    snprintf(want, sizeof want, "],\"next\":%lld}", (long long)next);
    ck_assert_ptr_nonnull(strstr(json, want));
    capv_free(json);
    capv_registry_verification_page_free(p);
    /* the arguments it refuses, by exact status */
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_list_verifications(&p, reg, "maybe", 0, 10, &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_str_eq(err.field, "result");
    ck_assert_ptr_null(p);
    ck_assert_int_eq(capv_registry_list_verifications(&p, reg, NULL, -1, 10, NULL),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_registry_list_verifications(&p, reg, NULL, 0, 0, NULL),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_registry_list_verifications(&p, reg, NULL, 0, 10001, NULL),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_registry_list_verifications(NULL, reg, NULL, 0, 10, NULL),
                     CAPV_E_INVALID_ARG);
    ck_assert_uint_eq(capv_registry_verification_page_count(NULL), 0);
    capv_registry_verification_page_free(NULL);
    capv_registry_close(reg);

    /* asynchronous recording: a queued record is listed once written */
    reg = open_reg(0, 100);
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.request_id = "list-queued";
    v.result = "ok";
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_flush(reg, 5000, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_list_verifications(&p, reg, "ok", 0, 1, NULL), CAPV_OK);
    ck_assert_str_eq(capv_registry_verification_page_get(p, 0)->request_id, "list-queued");
    capv_registry_verification_page_free(p);
    capv_registry_close(reg);
}
END_TEST

/* The size of a stored IR is its bytes, not its characters, however it is read: with the text
 * (capv_registry_get_policy), without it (capv_registry_get_policy_head, by hash and by id)
 * and listed. The large one lies outside the row's page (SQLite's overflow pages,
 * PostgreSQL's TOAST, compressed). */
START_TEST(policy_head_measures_bytes)
{
    capv_registry *reg = open_reg(0, 0);
    /* 25 characters, 31 bytes */
    static const char small[] = "{\"rules\":[],\"note\":\"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\"}";
    ck_assert_uint_eq(strlen(small), 31);
    /* {"n":"é…é"}: 200,000 bytes */
    size_t big_len = 200000;
    char *big = malloc(big_len + 1);
    ck_assert_ptr_nonnull(big);
    memcpy(big, "{\"n\":\"", 6);
    for (size_t i = 6; i < big_len - 2; i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    memcpy(big + big_len - 2, "\"}", 3);
    ck_assert_uint_eq(strlen(big), big_len);
    const char *irs[2] = { small, big };
    char ph[2][CAPV_DIGEST_HEX_SIZE], ih[CAPV_DIGEST_HEX_SIZE];
    for (int i = 0; i < 2; i++) {
        capv_registry_policy p = CAPV_REGISTRY_POLICY_INIT;
        p.policy_id = i ? "big" : "small";
        p.policy_version = "1";
        p.policy_hash = hash_of(ph[i], "hpol", i);
        p.ir_hash = hash_of(ih, "hir", i);
        p.ir_json = irs[i];
        p.ir_bytes = 7; /* an output: ignored */
        ck_assert_int_eq(capv_registry_put_policy(reg, &p, NULL), CAPV_OK);
    }
    capv_error err = CAPV_ERROR_INIT;
    for (int i = 0; i < 2; i++) {
        capv_registry_policy *got = NULL;
        ck_assert_int_eq(capv_registry_get_policy(&got, reg, ph[i], &err), CAPV_OK);
        ck_assert_uint_eq(got->version, CAPV_REGISTRY_POLICY_VERSION);
        ck_assert_str_eq(got->ir_json, irs[i]);
        ck_assert_uint_eq(got->ir_bytes, strlen(irs[i]));
        capv_registry_policy_free(got);
        const char *keys[2] = { ph[i], i ? "big" : "small" };
        for (int k = 0; k < 2; k++) {
            ck_assert_int_eq(capv_registry_get_policy_head(&got, reg, keys[k], &err), CAPV_OK);
            ck_assert_str_eq(err.message, "");
            ck_assert_uint_eq(got->version, CAPV_REGISTRY_POLICY_VERSION);
            ck_assert_ptr_null(got->ir_json);
            ck_assert_uint_eq(got->ir_bytes, strlen(irs[i]));
            ck_assert_str_eq(got->policy_id, i ? "big" : "small");
            ck_assert_str_eq(got->policy_version, "1");
            ck_assert_str_eq(got->policy_hash, ph[i]);
            ck_assert_str_eq(got->ir_hash, hash_of(ih, "hir", i));
            ck_assert_ptr_nonnull(got->created_at);
            capv_registry_policy_free(got);
        }
    }
    capv_registry_policy_page *page = NULL;
    ck_assert_int_eq(capv_registry_list_policies(&page, reg, 0, 10, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_registry_policy_page_count(page), 2);
    for (size_t i = 0; i < 2; i++)
        ck_assert_uint_eq(capv_registry_policy_page_get(page, i)->ir_bytes, strlen(irs[i]));
    capv_registry_policy_page_free(page);
    capv_registry_policy *got = NULL;
    ck_assert_int_eq(capv_registry_get_policy_head(&got, reg, "none", &err), CAPV_E_NOT_FOUND);
    ck_assert_ptr_null(got);
    ck_assert_str_eq(err.message, "no stored policy 'none'");
    ck_assert_int_eq(capv_registry_get_policy_head(&got, reg, NULL, &err), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_registry_get_policy_head(NULL, reg, "small", &err), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_registry_get_policy_head(&got, NULL, "small", &err), CAPV_E_INVALID_ARG);
    free(big);
    capv_registry_close(reg);
}
END_TEST

/* Stored policies in the order they were stored, in pages, without their IR. */
START_TEST(policies_listed)
{
    capv_registry *reg = open_reg(0, 0);
    capv_registry_policy_page *p = NULL;
    ck_assert_int_eq(capv_registry_list_policies(&p, reg, 0, 10, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_registry_policy_page_count(p), 0);
    char *json = NULL;
    ck_assert_int_eq(capv_registry_policy_page_to_json(&json, NULL, p, NULL), CAPV_OK);
    ck_assert_str_eq(json, "{\"policies\":[],\"next\":null}");
    capv_free(json);
    capv_registry_policy_page_free(p);
    char ph[CAPV_DIGEST_HEX_SIZE], ih[CAPV_DIGEST_HEX_SIZE], ver[16];
    for (int i = 0; i < 7; i++) {
        capv_registry_policy pol = CAPV_REGISTRY_POLICY_INIT;
        snprintf(ver, sizeof ver, "1.%d", i);
        pol.policy_id = "listed";
        pol.policy_version = ver;
        pol.policy_hash = hash_of(ph, "lpol", i);
        pol.ir_hash = hash_of(ih, "lir", i);
        pol.ir_json = "{\"rules\":[]}";
        pol.created_at = "2026-12-02T12:00:00Z";
        ck_assert_int_eq(capv_registry_put_policy(reg, &pol, NULL), CAPV_OK);
    }
    int64_t after = 0;
    size_t seen = 0, pages = 0;
    do {
        ck_assert_int_eq(capv_registry_list_policies(&p, reg, after, 3, NULL), CAPV_OK);
        for (size_t i = 0; i < capv_registry_policy_page_count(p); i++) {
            const capv_registry_policy *pol = capv_registry_policy_page_get(p, i);
            snprintf(ver, sizeof ver, "1.%zu", seen);
            ck_assert_str_eq(pol->policy_id, "listed");
            ck_assert_str_eq(pol->policy_version, ver);
            ck_assert_str_eq(pol->policy_hash, hash_of(ph, "lpol", (int)seen));
            ck_assert_str_eq(pol->created_at, "2026-12-02T12:00:00Z");
            ck_assert_ptr_null(pol->ir_json);
            seen++;
        }
        after = capv_registry_policy_page_next(p);
        pages++;
        if (after == 0) {
            ck_assert_int_eq(capv_registry_policy_page_to_json(&json, NULL, p, NULL), CAPV_OK);
            ck_assert_ptr_nonnull(strstr(json, "{\"policies\":[{\"policy_id\":\"listed\","
                                               "\"policy_version\":\"1.6\",\"policy_hash\":"));
            ck_assert_ptr_nonnull(strstr(json, "\"created_at\":\"2026-12-02T12:00:00Z\"}],"
                                               "\"next\":null}"));
            capv_free(json);
        }
        capv_registry_policy_page_free(p);
    } while (after != 0);
    ck_assert_uint_eq(seen, 7);
    ck_assert_uint_eq(pages, 3);
    ck_assert_int_eq(capv_registry_list_policies(&p, reg, -1, 3, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_registry_list_policies(&p, reg, 0, 0, NULL), CAPV_E_INVALID_ARG);
    ck_assert_ptr_null(capv_registry_policy_page_get(NULL, 0));
    capv_registry_policy_page_free(NULL);
    capv_registry_close(reg);
}
END_TEST

#define WRITER_ENTRIES 100

/* capv_registry_find's answer for entry `i` of entries_found_on_a_writer (j: the proof of
 * entry j instead). */
static capv_status find_pair(capv_registry *reg, int i, int j)
{
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    capv_registry_entry *got = NULL;
    capv_status st =
        capv_registry_find(&got, reg, hash_of(mh, "wm", i), hash_of(ph, "wp", j), NULL);
    if (st == CAPV_OK)
        ck_assert_str_eq(got->manifest_hash, mh);
    capv_registry_entry_free(got);
    return st;
}

/* Whether each of the entries of entries_found_on_a_writer is found by its hashes, and its
 * manifest with the next one's proof is not. */
static void all_found_on(capv_registry *reg)
{
    for (int i = 0; i < WRITER_ENTRIES; i++) {
        ck_assert_int_eq(find_pair(reg, i, i), CAPV_OK);
        ck_assert_int_eq(find_pair(reg, i, (i + 1) % WRITER_ENTRIES), CAPV_E_NOT_FOUND);
    }
    ck_assert_int_eq(find_pair(reg, WRITER_ENTRIES, WRITER_ENTRIES), CAPV_E_NOT_FOUND);
}

/* The registry JSON of the entries of entries_found_on_a_writer (malloc'd). */
static char *writer_entries_json(void)
{
    size_t cap = 64 + WRITER_ENTRIES * 256, n = 0;
    char *json = malloc(cap), mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    ck_assert_ptr_nonnull(json);
    n += (size_t)snprintf(json, cap, "{\"registry_version\":\"1.0\",\"entries\":[");
    for (int i = 0; i < WRITER_ENTRIES; i++)
        n += (size_t)snprintf(json + n, cap - n,
                              "%s{\"id\":\"w-%d\",\"manifest_hash\":\"%s\",\"proof_hash\":\"%s\","
                              "\"timestamp_file\":null,\"registered_at\":\"2026-12-05T00:00:00Z\"}",
                              i ? "," : "", i, hash_of(mh, "wm", i), hash_of(ph, "wp", i));
    snprintf(json + n, cap - n, "]}");
    return json;
}

/* Every entry of a handle with a writer thread is found by its hashes however it came in
 * (added, there when the handle opened, imported, copied), and a pair without an entry is
 * not: on SQLite such a handle answers that from the entries' keys in memory (docs/registry.md
 * "Look-ups of packages without an entry"), which this checks against the rows. */
START_TEST(entries_found_on_a_writer)
{
    capv_registry *reg = open_reg(CAPV_REGISTRY_WRITER_THREAD, 100);
    ck_assert_int_eq(find_pair(reg, 0, 0), CAPV_E_NOT_FOUND);
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    for (int i = 0; i < WRITER_ENTRIES; i++) {
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        e.manifest_hash = hash_of(mh, "wm", i);
        e.proof_hash = hash_of(ph, "wp", i);
        ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);
        ck_assert_int_eq(find_pair(reg, i, i), CAPV_OK);
    }
    all_found_on(reg);
    capv_registry_close(reg);
    reg = open_reg(CAPV_REGISTRY_WRITER_THREAD, 100);
    all_found_on(reg);
    /* imported into a fresh registry, and copied into another one */
    char *json = writer_entries_json();
    capv_error err = CAPV_ERROR_INIT;
    char loc2[LOC_CAP];
    if (on_pg)
        pg_location(loc2);
    else
        snprintf(loc2, sizeof loc2, "%s/imported.sqlite", dir);
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD;
    capv_registry *imported = NULL;
    ck_assert_int_eq(capv_registry_open(&imported, loc2, &o, NULL), CAPV_OK);
    ck_assert_int_eq(find_pair(imported, 0, 0), CAPV_E_NOT_FOUND);
    ck_assert_msg(capv_registry_import_json(NULL, NULL, imported, (const uint8_t *)json,
                                            strlen(json), 0, NULL, NULL, &err) == CAPV_OK,
                  "%s", err.message);
    all_found_on(imported);
    capv_registry_close(imported);
    free(json);
    if (on_pg)
        pg_location(loc2);
    else
        snprintf(loc2, sizeof loc2, "%s/copied.sqlite", dir);
    capv_registry *copied = NULL;
    ck_assert_int_eq(capv_registry_open(&copied, loc2, &o, NULL), CAPV_OK);
    ck_assert_int_eq(find_pair(copied, 0, 0), CAPV_E_NOT_FOUND);
    ck_assert_msg(capv_registry_copy(NULL, copied, reg, NULL, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    all_found_on(copied);
    capv_registry_close(copied);
    capv_registry_close(reg);
}
END_TEST

START_TEST(import_and_prune)
{
    capv_registry *reg = open_reg(0, 0);
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE], json[2048];
    size_t n = (size_t)snprintf(json, sizeof json, "{\"registry_version\":\"1.0\",\"entries\":[");
    /* the last id has the derived form but is not its hashes': an id given before that
     * was refused on adds, which an import takes back as it was exported */
    const char *ids[] = { "imp-0", "imp-1", "01234567-89ab-8cde-8f01-23456789abcd" };
    for (int i = 0; i < 3; i++)
        n += (size_t)snprintf(
            json + n, sizeof json - n,
            "%s{\"id\":\"%s\",\"manifest_hash\":\"%s\",\"proof_hash\":\"%s\","
            "\"timestamp_file\":null,\"registered_at\":\"2026-01-0%dT00:00:00Z\"}",
            i ? "," : "", ids[i], hash_of(mh, "im", i), hash_of(ph, "ip", i), i + 1);
    snprintf(json + n, sizeof json - n, "]}");
    size_t added = 0, existing = 0;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_import_json(&added, &existing, reg, (const uint8_t *)json,
                                            strlen(json), 0, NULL, NULL, &err) == CAPV_OK,
                  "%s", err.message);
    ck_assert_uint_eq(added, 3);
    ck_assert_int_eq(capv_registry_import_json(&added, &existing, reg, (const uint8_t *)json,
                                               strlen(json), 0, NULL, NULL, NULL),
                     CAPV_OK);
    ck_assert_uint_eq(existing, 3);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 3);
    uint64_t gen = capv_registry_generation(reg);
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.manifest_hash = hash_of(mh, "im", 9);
    e.proof_hash = hash_of(ph, "ip", 9);
    ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);
    ck_assert_uint_gt(capv_registry_generation(reg), gen);
    /* retention: old records go, new ones stay */
    char rid[32];
    for (int i = 0; i < 30; i++) {
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        snprintf(rid, sizeof rid, "old-%d", i);
        v.request_id = rid;
        v.result = "ok";
        v.report_json = "{\"old\":true}";
        v.verified_at = i < 20 ? "1999-01-01T00:00:00Z" : "2026-12-01T00:00:00Z";
        ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    }
    uint64_t removed = 0;
    ck_assert_int_eq(capv_registry_prune(&removed, reg, 946684800000LL, NULL), CAPV_OK);
    ck_assert_uint_eq(removed, 20);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 10);
    capv_registry_verification *got = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "old-3", NULL), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "old-25", NULL), CAPV_OK);
    capv_registry_verification_free(got);
    capv_registry_close(reg);
}
END_TEST

typedef struct job {
    capv_registry *reg;
    int id;
    int bad;
} job;

static void *writer_job(void *arg)
{
    job *j = arg;
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE], rid[32];
    for (int i = 0; i < 50; i++) {
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        e.manifest_hash = hash_of(mh, "tm", j->id * 1000 + i);
        e.proof_hash = hash_of(ph, "tp", j->id * 1000 + i);
        j->bad += capv_registry_add(NULL, j->reg, &e, NULL) != CAPV_OK;
        /* another thread adds the same entry: exactly one gets CAPV_OK */
        e.manifest_hash = hash_of(mh, "shared-m", i);
        e.proof_hash = hash_of(ph, "shared-p", i);
        capv_status st = capv_registry_add(NULL, j->reg, &e, NULL);
        j->bad += st != CAPV_OK && st != CAPV_E_EXISTS;
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        snprintf(rid, sizeof rid, "t%d-%d", j->id, i);
        v.request_id = rid;
        v.result = "ok";
        j->bad += capv_registry_record(NULL, j->reg, &v, NULL) != CAPV_OK;
    }
    return NULL;
}

START_TEST(concurrent_writers)
{
    capv_registry *reg = open_reg(CAPV_REGISTRY_WRITER_THREAD, 0);
    pthread_t t[4];
    job j[4];
    for (int i = 0; i < 4; i++) {
        j[i] = (job){ reg, i, 0 };
        ck_assert_int_eq(pthread_create(&t[i], NULL, writer_job, &j[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(j[i].bad, 0);
    }
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 4 * 50 + 50);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 4 * 50);
    capv_registry_close(reg);
}
END_TEST

START_TEST(backup_is_portable)
{
    capv_registry *reg = open_reg(0, 0);
    capv_signing_key *key = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&key, NULL), CAPV_OK);
    capv_registry_set_signing_key(reg, key);
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE], rid[32], id[64] = "";
    for (int i = 0; i < 40; i++) {
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        e.manifest_hash = hash_of(mh, "bm", i);
        e.proof_hash = hash_of(ph, "bp", i);
        capv_registry_entry *stored = NULL;
        ck_assert_int_eq(capv_registry_add(&stored, reg, &e, NULL), CAPV_OK);
        if (i == 7)
            snprintf(id, sizeof id, "%s", stored->id);
        capv_registry_entry_free(stored);
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        snprintf(rid, sizeof rid, "b-%d", i);
        v.request_id = rid;
        v.manifest_hash = mh;
        v.proof_hash = ph;
        v.result = "ok";
        v.report_json = i % 2 ? "{\"odd\":true}" : "{\"odd\":false}";
        ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    }
    capv_backup_info *info = NULL;
    capv_error err = CAPV_ERROR_INIT;
    char bdir[300];
    snprintf(bdir, sizeof bdir, "%s/backups", dir);
    ck_assert_msg(capv_registry_backup(&info, reg, bdir, 0, NULL, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    ck_assert_uint_eq(info->entries, 40);
    ck_assert_uint_eq(info->verifications, 40);
    capv_backup_info *checked = NULL;
    ck_assert_msg(capv_registry_backup_verify(&checked, info->path, &err) == CAPV_OK, "%s",
                  err.message);
    capv_backup_info_free(checked);
    /* the backup is an ordinary SQLite registry with the same rows */
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_READ_ONLY;
    capv_registry *copy = NULL;
    ck_assert_int_eq(capv_registry_open(&copy, info->path, &o, NULL), CAPV_OK);
    ck_assert_uint_eq(count(copy, CAPV_REGISTRY_ENTRIES), 40);
    capv_registry_entry *a = NULL, *b = NULL;
    ck_assert_int_eq(capv_registry_get(&a, reg, id, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_get(&b, copy, id, NULL), CAPV_OK);
    ck_assert_int_eq(a->seq, b->seq);
    ck_assert_str_eq(a->signature, b->signature);
    ck_assert_int_eq(capv_registry_entry_verify(b, NULL), CAPV_OK);
    capv_registry_entry_free(a);
    capv_registry_entry_free(b);
    capv_registry_verification *v = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&v, copy, "b-3", NULL), CAPV_OK);
    ck_assert_str_eq(v->report_json, "{\"odd\":true}");
    capv_registry_verification_free(v);
    capv_registry_close(copy);
    capv_backup_info_free(info);
    capv_registry_close(reg);
    capv_signing_key_free(key);
}
END_TEST

/* A signed registry to copy: 30 entries, a verification for each (two report bodies), a
 * policy. The id of entry 7 in `id`. */
static void fill_for_copy(capv_registry *reg, capv_signing_key *key, char id[64])
{
    capv_registry_set_signing_key(reg, key);
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE], rid[32];
    for (int i = 0; i < 30; i++) {
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        e.manifest_hash = hash_of(mh, "cm", i);
        e.proof_hash = hash_of(ph, "cp", i);
        capv_registry_entry *stored = NULL;
        ck_assert_int_eq(capv_registry_add(&stored, reg, &e, NULL), CAPV_OK);
        if (i == 7)
            snprintf(id, 64, "%s", stored->id);
        capv_registry_entry_free(stored);
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        snprintf(rid, sizeof rid, "c-%d", i);
        v.request_id = rid;
        v.manifest_hash = mh;
        v.proof_hash = ph;
        v.result = "ok";
        v.report_json = i % 2 ? "{\"odd\":true}" : "{\"odd\":false}";
        ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    }
    char pol[CAPV_DIGEST_HEX_SIZE], ir[CAPV_DIGEST_HEX_SIZE];
    capv_registry_policy p = CAPV_REGISTRY_POLICY_INIT;
    p.policy_id = "copy-policy";
    p.policy_version = "2.0";
    p.policy_hash = hash_of(pol, "cpol", 1);
    p.ir_hash = hash_of(ir, "cir", 1);
    p.ir_json = "{\"rules\":[1]}";
    ck_assert_int_eq(capv_registry_put_policy(reg, &p, NULL), CAPV_OK);
}

/* `b` holds what fill_for_copy put into `a` (and `extra` rows of adds_after_copy): counts, entry `id` with its seq and signature,
 * a verification with its report, the policy. */
static void same_rows(capv_registry *a, capv_registry *b, const char *id, unsigned int extra)
{
    ck_assert_uint_eq(count(b, CAPV_REGISTRY_ENTRIES), 30 + extra);
    ck_assert_uint_eq(count(b, CAPV_REGISTRY_VERIFICATIONS), 30 + extra);
    ck_assert_uint_eq(count(b, CAPV_REGISTRY_POLICIES), 1 + extra);
    capv_registry_entry *x = NULL, *y = NULL;
    ck_assert_int_eq(capv_registry_get(&x, a, id, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_get(&y, b, id, NULL), CAPV_OK);
    ck_assert_int_eq(x->seq, y->seq);
    ck_assert_str_eq(x->signature, y->signature);
    ck_assert_str_eq(x->registered_at, y->registered_at);
    ck_assert_int_eq(capv_registry_entry_verify(y, NULL), CAPV_OK);
    capv_registry_entry_free(x);
    capv_registry_entry_free(y);
    capv_registry_verification *v = NULL, *w = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&v, a, "c-3", NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_get_verification(&w, b, "c-3", NULL), CAPV_OK);
    ck_assert_str_eq(w->report_json, "{\"odd\":true}");
    ck_assert_int_eq(v->seq, w->seq);
    ck_assert_str_eq(v->verified_at, w->verified_at);
    capv_registry_verification_free(v);
    capv_registry_verification_free(w);
    capv_registry_policy *p = NULL;
    ck_assert_int_eq(capv_registry_get_policy(&p, b, "copy-policy", NULL), CAPV_OK);
    ck_assert_str_eq(p->policy_version, "2.0");
    ck_assert_str_eq(p->ir_json, "{\"rules\":[1]}");
    capv_registry_policy_free(p);
}

/* A new entry after a copy gets a seq past every copied one (the sequence moved on). */
static void adds_after_copy(capv_registry *reg, int n)
{
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE], rid[32];
    capv_registry_page *p = NULL;
    ck_assert_int_eq(capv_registry_list(&p, reg, NULL, 0, 1000, NULL), CAPV_OK);
    size_t k = capv_registry_page_count(p);
    int64_t last = k ? capv_registry_page_entry(p, k - 1)->seq : 0;
    capv_registry_page_free(p);
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.manifest_hash = hash_of(mh, "after-m", n);
    e.proof_hash = hash_of(ph, "after-p", n);
    capv_registry_entry *stored = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_add(&stored, reg, &e, &err) == CAPV_OK, "%s", err.message);
    ck_assert_int_gt(stored->seq, last);
    capv_registry_entry_free(stored);
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    snprintf(rid, sizeof rid, "after-%d", n);
    v.request_id = rid;
    v.result = "ok";
    v.report_json = "{\"after\":1}";
    ck_assert_msg(capv_registry_record(NULL, reg, &v, &err) == CAPV_OK, "%s", err.message);
    char pol[CAPV_DIGEST_HEX_SIZE], ir[CAPV_DIGEST_HEX_SIZE];
    capv_registry_policy pp = CAPV_REGISTRY_POLICY_INIT;
    char pid[32];
    snprintf(pid, sizeof pid, "after-policy-%d", n);
    pp.policy_id = pid;
    pp.policy_version = "1";
    pp.policy_hash = hash_of(pol, "apol", n);
    pp.ir_hash = hash_of(ir, "air", n);
    pp.ir_json = "{}";
    ck_assert_msg(capv_registry_put_policy(reg, &pp, &err) == CAPV_OK, "%s", err.message);
}

START_TEST(copy_between_storages)
{
    capv_registry *reg = open_reg(0, 0);
    capv_signing_key *key = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&key, NULL), CAPV_OK);
    char id[64] = "";
    fill_for_copy(reg, key, id);
    capv_error err = CAPV_ERROR_INIT;
    /* into a new SQLite file: PG -> SQLite, or SQLite -> SQLite */
    char file[300];
    snprintf(file, sizeof file, "%s/copy.sqlite", dir);
    capv_registry *sq = tu_registry_open(file, CAPV_REGISTRY_CREATE);
    capv_registry_copy_result r = CAPV_REGISTRY_COPY_RESULT_INIT;
    ck_assert_msg(capv_registry_copy(&r, sq, reg, NULL, NULL, &err) == CAPV_OK, "%s", err.message);
    ck_assert_uint_eq(r.entries, 30);
    ck_assert_uint_eq(r.verifications, 30);
    ck_assert_uint_eq(r.reports, 2);
    ck_assert_uint_eq(r.policies, 1);
    ck_assert_uint_eq(r.signatures_verified, 30);
    same_rows(reg, sq, id, 0);
    /* a target that is not empty: refused, nothing written */
    ck_assert_int_eq(capv_registry_copy(&r, sq, reg, NULL, NULL, &err), CAPV_E_STATE);
    ck_assert_int_eq(err.code, CAPV_E_STATE);
    ck_assert_ptr_nonnull(strstr(err.message, "not empty"));
    ck_assert_uint_eq(count(sq, CAPV_REGISTRY_ENTRIES), 30);
    ck_assert_int_eq(capv_registry_copy(NULL, reg, sq, NULL, NULL, NULL), CAPV_E_STATE);
    ck_assert_int_eq(capv_registry_copy(NULL, sq, sq, NULL, NULL, NULL), CAPV_E_INVALID_ARG);
    capv_registry_copy_result bad = CAPV_REGISTRY_COPY_RESULT_INIT;
    bad.version = 0;
    ck_assert_int_eq(capv_registry_copy(&bad, sq, reg, NULL, NULL, NULL), CAPV_E_INVALID_ARG);
    adds_after_copy(sq, 1);
    if (on_pg) {
        /* SQLite -> a fresh PostgreSQL schema; the sequences move past the copied numbers */
        char loc2[LOC_CAP];
        pg_location(loc2);
        capv_registry *pg2 = tu_registry_open(loc2, CAPV_REGISTRY_CREATE);
        capv_registry *src = tu_registry_open(file, CAPV_REGISTRY_READ_ONLY);
        ck_assert_msg(capv_registry_copy(&r, pg2, src, NULL, NULL, &err) == CAPV_OK, "%s",
                      err.message);
        ck_assert_uint_eq(r.entries, 31);
        ck_assert_uint_eq(r.verifications, 31);
        ck_assert_uint_eq(r.reports, 3);
        ck_assert_uint_eq(r.policies, 2);
        ck_assert_uint_eq(r.signatures_verified, 30); /* the entry added later is unsigned */
        same_rows(reg, pg2, id, 1);
        adds_after_copy(pg2, 2);
        ck_assert_uint_eq(count(pg2, CAPV_REGISTRY_ENTRIES), 32);
        capv_registry_close(src);
        capv_registry_close(pg2);
    }
    capv_registry_close(sq);
    capv_registry_close(reg);
    capv_signing_key_free(key);
}
END_TEST

/* A restore replaces the registry with the backup's rows: on SQLite the file is swapped
 * (the old one kept), on PostgreSQL the tables are emptied and loaded in one transaction and
 * their sequences move past the backup's numbers. */
START_TEST(restore_replaces)
{
    capv_registry *reg = open_reg(0, 0);
    capv_signing_key *key = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&key, NULL), CAPV_OK);
    char id[64] = "";
    fill_for_copy(reg, key, id);
    capv_backup_info *info = NULL;
    capv_error err = CAPV_ERROR_INIT;
    char bdir[300];
    snprintf(bdir, sizeof bdir, "%s/backups", dir);
    ck_assert_msg(capv_registry_backup(&info, reg, bdir, 0, NULL, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    /* a second registry of the same kind, with other contents */
    char loc2[LOC_CAP];
    if (on_pg)
        pg_location(loc2);
    else
        snprintf(loc2, sizeof loc2, "%s/restored.sqlite", dir);
    capv_registry *other = tu_registry_open(loc2, CAPV_REGISTRY_CREATE);
    adds_after_copy(other, 5);
    adds_after_copy(other, 6);
    capv_registry_close(other);
    char *previous = NULL;
    ck_assert_msg(capv_registry_restore(&previous, loc2, info->path, 0, NULL, NULL, &err) ==
                      CAPV_OK,
                  "%s", err.message);
    if (on_pg)
        ck_assert_ptr_null(previous);
    else
        ck_assert_ptr_nonnull(previous);
    capv_free(previous);
    other = tu_registry_open(loc2, 0);
    same_rows(reg, other, id, 0);
    capv_registry_entry *gone = NULL;
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    ck_assert_int_eq(capv_registry_find(&gone, other, hash_of(mh, "after-m", 5),
                                        hash_of(ph, "after-p", 5), NULL),
                     CAPV_E_NOT_FOUND);
    capv_registry_policy *gp = NULL;
    ck_assert_int_eq(capv_registry_get_policy(&gp, other, "after-policy-5", NULL),
                     CAPV_E_NOT_FOUND);
    adds_after_copy(other, 7);
    ck_assert_uint_eq(count(other, CAPV_REGISTRY_ENTRIES), 31);
    capv_registry_close(other);
    /* a tampered backup is refused, the registry left as it was */
    FILE *f = fopen(info->path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 200, SEEK_SET);
    fputc('X', f);
    fclose(f);
    ck_assert_int_eq(capv_registry_restore(NULL, loc2, info->path, 0, NULL, NULL, &err),
                     CAPV_E_MISMATCH);
    other = tu_registry_open(loc2, CAPV_REGISTRY_READ_ONLY);
    ck_assert_uint_eq(count(other, CAPV_REGISTRY_ENTRIES), 31);
    capv_registry_close(other);
    capv_backup_info_free(info);
    capv_registry_close(reg);
    capv_signing_key_free(key);
}
END_TEST

static Suite *contract_suite(const char *name)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, entries_idempotent_and_conflicts);
    tcase_add_test(tc, entries_kid_is_content);
    tcase_add_test(tc, signed_by_the_registry);
    tcase_add_test(tc, paged_listing);
    tcase_add_test(tc, verifications_recorded);
    tcase_add_test(tc, queued_records);
    tcase_add_test(tc, a_record_failing_alone_is_refused);
    tcase_add_test(tc, flush_waits_for_a_record_set_aside);
    tcase_add_test(tc, reports_as_stored);
    tcase_add_test(tc, reports_queued_are_found);
    tcase_add_test(tc, policies_stored);
    tcase_add_test(tc, verifications_listed);
    tcase_add_test(tc, policies_listed);
    tcase_add_test(tc, policy_head_measures_bytes);
    tcase_add_test(tc, import_and_prune);
    tcase_add_test(tc, entries_found_on_a_writer);
    tcase_add_test(tc, concurrent_writers);
    tcase_add_test(tc, backup_is_portable);
    tcase_add_test(tc, copy_between_storages);
    tcase_add_test(tc, restore_replaces);
    suite_add_tcase(s, tc);
    return s;
}

Suite *registry_contract_suite(void)
{
    on_pg = false;
    return contract_suite("registry_contract");
}

Suite *registry_contract_pg_suite(void)
{
    if (getenv("CAPV_TEST_PG_URL") == NULL) {
        fprintf(stderr, "registry_contract_pg: CAPV_TEST_PG_URL is unset (run through "
                        "tests/pg/with_pg.sh); skipped\n");
        exit(77);
    }
    on_pg = true;
    return contract_suite("registry_contract_pg");
}
