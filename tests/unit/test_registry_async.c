/* SPDX-License-Identifier: Apache-2.0 */
/* Asynchronous recording (docs/registry.md "Recording verifications"): records are queued,
 * written in batches by the writer thread, retried while the storage fails, dropped and
 * counted only when the queue is full while the storage fails (a full queue otherwise makes
 * the caller wait for the writer), and all written when the handle closes. The storage
 * failure is real: a second SQLite connection holds the database locked. */
#include <capverify.h>
#include <check.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "suites.h"
#include "testutil.h"
#include "time_int.h"

#define PATH_CAP 512

static char dir[256];

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
    tu_temp_dir(dir, sizeof dir, "capvasync");
}

static void teardown(void)
{
    tu_remove_tree(dir);
    capv_global_shutdown();
}

static void in_dir(char out[PATH_CAP], const char *name)
{
    snprintf(out, PATH_CAP, "%.255s/%.200s", dir, name);
}

static capv_registry *open_async(const char *path, size_t queue_max, int flush_ms, int busy_ms)
{
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD;
    o.record_queue_max = queue_max;
    o.record_flush_ms = flush_ms;
    o.busy_timeout_ms = busy_ms;
    capv_registry *reg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_open(&reg, path, &o, &err) == CAPV_OK, "%s", err.message);
    return reg;
}

static capv_status record_one(capv_registry *reg, int i, const char *result)
{
    char rid[64], at[40];
    snprintf(rid, sizeof rid, "req-%06d", i);
    snprintf(at, sizeof at, "2026-12-02T10:%02d:%02dZ", (i / 60) % 60, i % 60);
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.request_id = rid;
    v.result = result;
    v.verified_at = at;
    v.subject = "async-test";
    v.report_json = "{\"result\":\"ok\"}";
    int64_t seq = -1;
    capv_status st = capv_registry_record(&seq, reg, &v, NULL);
    if (st == CAPV_OK)
        ck_assert_int_eq(seq, 0); /* queued: no position yet */
    return st;
}

/* Records an "ok" verification under `request_id`, which must be committed before
 * capv_registry_record returns (no queue in force). */
static void record_committed(capv_registry *reg, const char *request_id)
{
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.request_id = request_id;
    v.result = "ok";
    int64_t seq = 0;
    ck_assert_int_eq(capv_registry_record(&seq, reg, &v, NULL), CAPV_OK);
    ck_assert_int_gt(seq, 0); /* committed before the answer */
}

static uint64_t stat_of(capv_registry *reg, capv_registry_stat which)
{
    return capv_registry_stat_get(reg, which);
}

static uint64_t verifications(capv_registry *reg)
{
    uint64_t n = 0;
    ck_assert_int_eq(capv_registry_count(&n, reg, CAPV_REGISTRY_VERIFICATIONS, NULL), CAPV_OK);
    return n;
}

START_TEST(queued_and_batched)
{
    char path[PATH_CAP];
    in_dir(path, "a.sqlite");
    capv_registry *reg = open_async(path, 10000, 5, 0);
    for (int i = 0; i < 3000; i++)
        ck_assert_int_eq(record_one(reg, i, "ok"), CAPV_OK);
    ck_assert_int_eq(capv_registry_flush(reg, 30000, NULL), CAPV_OK);
    ck_assert_uint_eq(verifications(reg), 3000);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_WRITTEN), 3000);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH), 0);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_DROPPED), 0);
    /* batches, not one transaction per record */
    ck_assert_uint_lt(stat_of(reg, CAPV_REGISTRY_STAT_COMMITS), 3000 / 4);
    capv_registry_verification *v = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&v, reg, "req-000042", NULL), CAPV_OK);
    ck_assert_str_eq(v->subject, "async-test");
    ck_assert_str_eq(v->report_json, "{\"result\":\"ok\"}");
    capv_registry_verification_free(v);
    /* validation still answers at once */
    capv_registry_verification bad = CAPV_REGISTRY_VERIFICATION_INIT;
    bad.result = "maybe";
    ck_assert_int_eq(capv_registry_record(NULL, reg, &bad, NULL), CAPV_E_MALFORMED);
    capv_registry_close(reg);
}
END_TEST

/* A report text of `n` (distinct texts for distinct n), `pad` bytes of padding making it
 * longer. */
static char *report_text(int n, size_t pad)
{
    char *t = malloc(pad + 128);
    ck_assert_ptr_nonnull(t);
    int k = snprintf(t, pad + 128,
                     "{\"result\":\"warn\",\"verified_at\":\"2026-12-02T10:00:00Z\","
                     "\"n\":%d,\"pad\":\"",
                     n);
    memset(t + k, 'p', pad);
    memcpy(t + (size_t)k + pad, "\"}", 3);
    return t;
}

/* Queued records of a report text recorded again (a cached verdict) share the body the
 * registry remembers instead of each carrying a copy; that body outlives its place in the
 * memory of recent texts while records still hold it. Here the records wait in the queue
 * until the close while 200 other texts take the places of the repeated ones, and every
 * record is written with its own report, or the summary of a text over the cap. */
START_TEST(repeated_reports_share_their_bodies)
{
    char path[PATH_CAP];
    in_dir(path, "shared.sqlite");
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD;
    o.record_queue_max = 5000;
    o.record_flush_ms = 60000;
    o.max_batch = 1000; /* the 600 records never make a full batch: none is due before close */
    o.max_report_bytes = CAPV_REGISTRY_MIN_MAX_REPORT_BYTES;
    capv_registry *reg = NULL;
    ck_assert_int_eq(capv_registry_open(&reg, path, &o, NULL), CAPV_OK);
    char *small = report_text(-1, 10), *big = report_text(-2, 4000);
    for (int i = 0; i < 200; i++) {
        char *other = report_text(i, (size_t)i);
        tu_record_report(reg, small, "small", i);
        tu_record_report(reg, big, "big", i);
        tu_record_report(reg, other, "other", i);
        free(other);
    }
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_WRITTEN), 0);
    capv_registry_close(reg);
    o.flags = CAPV_REGISTRY_READ_ONLY;
    ck_assert_int_eq(capv_registry_open(&reg, path, &o, NULL), CAPV_OK);
    ck_assert_uint_eq(verifications(reg), 600);
    capv_registry_verification *v = NULL, *first_big = NULL;
    char rid[48];
    ck_assert_int_eq(capv_registry_get_verification(&first_big, reg, "big-0", NULL), CAPV_OK);
    ck_assert_uint_lt(strlen(first_big->report_json), strlen(big)); /* a summary */
    for (int i = 0; i < 200; i++) {
        snprintf(rid, sizeof rid, "small-%d", i);
        ck_assert_int_eq(capv_registry_get_verification(&v, reg, rid, NULL), CAPV_OK);
        ck_assert_str_eq(v->report_json, small);
        capv_registry_verification_free(v);
        snprintf(rid, sizeof rid, "big-%d", i);
        ck_assert_int_eq(capv_registry_get_verification(&v, reg, rid, NULL), CAPV_OK);
        ck_assert_str_eq(v->report_json, first_big->report_json);
        capv_registry_verification_free(v);
        char *other = report_text(i, (size_t)i);
        snprintf(rid, sizeof rid, "other-%d", i);
        ck_assert_int_eq(capv_registry_get_verification(&v, reg, rid, NULL), CAPV_OK);
        ck_assert_str_eq(v->report_json, other);
        capv_registry_verification_free(v);
        free(other);
    }
    capv_registry_verification_free(first_big);
    capv_registry_close(reg);
    free(small);
    free(big);
}
END_TEST

START_TEST(close_writes_everything)
{
    char path[PATH_CAP];
    in_dir(path, "b.sqlite");
    /* a flush interval far longer than the test: only the close writes them */
    capv_registry *reg = open_async(path, 5000, 60000, 0);
    for (int i = 0; i < 2000; i++)
        ck_assert_int_eq(record_one(reg, i, "warn"), CAPV_OK);
    capv_registry_close(reg);
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_READ_ONLY;
    ck_assert_int_eq(capv_registry_open(&reg, path, &o, NULL), CAPV_OK);
    ck_assert_uint_eq(verifications(reg), 2000);
    capv_registry_close(reg);
}
END_TEST

/* A queue far smaller than the load, and a flush interval longer than the test: a full
 * queue is written at once and its callers wait for room instead of losing records. */
START_TEST(full_queue_waits_for_storage)
{
    char path[PATH_CAP];
    in_dir(path, "f.sqlite");
    capv_registry *reg = open_async(path, 20, 60000, 0);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(record_one(reg, i, "ok"), CAPV_OK);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_DROPPED), 0);
    ck_assert_uint_le(stat_of(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH), 20);
    ck_assert_int_eq(capv_registry_flush(reg, 30000, NULL), CAPV_OK);
    ck_assert_uint_eq(verifications(reg), 1000);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_WRITTEN), 1000);
    capv_registry_close(reg);
}
END_TEST

/* A registry of `path` (queue of 40, records written after 1 ms, the busy timeout `busy_ms`)
 * holding one record, and *other another connection that then takes the database: every
 * write of the registry fails (CAPV_E_BUSY) until *other commits. */
static capv_registry *storage_down(const char *path, int busy_ms, sqlite3 **other)
{
    capv_registry *reg = open_async(path, 40, 1, busy_ms);
    ck_assert_int_eq(record_one(reg, 0, "ok"), CAPV_OK);
    ck_assert_int_eq(capv_registry_flush(reg, 10000, NULL), CAPV_OK);
    ck_assert_int_eq(sqlite3_open(path, other), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(*other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    return reg;
}

START_TEST(storage_down_then_back)
{
    char path[PATH_CAP];
    sqlite3 *other = NULL;
    in_dir(path, "c.sqlite");
    capv_registry *reg = storage_down(path, 1, &other);
    int dropped = 0;
    for (int i = 1; i <= 50; i++) {
        capv_error err = CAPV_ERROR_INIT;
        char rid[64];
        snprintf(rid, sizeof rid, "down-%d", i);
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        v.request_id = rid;
        v.result = "ok";
        capv_status st = capv_registry_record(NULL, reg, &v, &err);
        if (st == CAPV_E_BUSY) {
            dropped++;
            ck_assert_ptr_nonnull(strstr(err.message, "queue is full"));
        } else {
            ck_assert_int_eq(st, CAPV_OK);
        }
    }
    ck_assert_int_eq(dropped, 10);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_DROPPED), 10);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH), 40);
    capv_error ferr = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_flush(reg, 300, &ferr), CAPV_E_BUSY);
    ck_assert_ptr_nonnull(strstr(ferr.message, "not written yet"));
    /* a look-up cannot tell "never recorded" from "still queued": not known yet */
    capv_registry_verification *gv = NULL;
    capv_error gerr = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_get_verification(&gv, reg, "down-1", &gerr), CAPV_E_BUSY);
    ck_assert_ptr_nonnull(strstr(gerr.message, "not written yet"));
    ck_assert_ptr_null(gv);
    /* the storage is back: the queued records are written after the next pause */
    ck_assert_int_eq(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    ck_assert_int_eq(capv_registry_flush(reg, 15000, NULL), CAPV_OK);
    ck_assert_uint_eq(verifications(reg), 41);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH), 0);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_REJECTED), 0);
    ck_assert_int_eq(capv_registry_get_verification(&gv, reg, "down-1", NULL), CAPV_OK);
    capv_registry_verification_free(gv);
    capv_registry_close(reg);
}
END_TEST

START_TEST(reused_request_id_rejected)
{
    char path[PATH_CAP];
    in_dir(path, "d.sqlite");
    capv_registry *reg = open_async(path, 100, 1, 0);
    ck_assert_int_eq(record_one(reg, 7, "ok"), CAPV_OK);
    ck_assert_int_eq(capv_registry_flush(reg, 10000, NULL), CAPV_OK);
    ck_assert_int_eq(record_one(reg, 7, "ok"), CAPV_OK);   /* a retry: already there */
    ck_assert_int_eq(record_one(reg, 7, "fail"), CAPV_OK); /* other content: refused later */
    ck_assert_int_eq(capv_registry_flush(reg, 10000, NULL), CAPV_OK);
    ck_assert_uint_eq(verifications(reg), 1);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_WRITTEN), 2);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_REJECTED), 1);
    capv_registry_verification *v = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&v, reg, "req-000007", NULL), CAPV_OK);
    ck_assert_str_eq(v->result, "ok");
    capv_registry_verification_free(v);
    capv_registry_close(reg);
}
END_TEST

START_TEST(synchronous_without_queue)
{
    char path[PATH_CAP];
    in_dir(path, "e.sqlite");
    capv_registry *reg = open_async(path, 0, 0, 0);
    record_committed(reg, "sync-1");
    ck_assert_int_eq(capv_registry_flush(reg, 0, NULL), CAPV_OK);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_WRITTEN), 0);
    capv_registry_close(reg);
}
END_TEST

/* capv_registry_stop_writer: the queue is written before it returns and counted, so the
 * counters read before a close include every queued record; the handle then records on the
 * caller's thread. */
START_TEST(stop_writer_counts_the_queue)
{
    char path[PATH_CAP];
    in_dir(path, "stop.sqlite");
    capv_registry *reg = open_async(path, 1000, 60000, 0); /* nothing due before the stop */
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(record_one(reg, i, "ok"), CAPV_OK);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_WRITTEN), 0);
    capv_registry_stop_writer(reg);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_WRITTEN), 100);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH), 0);
    ck_assert_uint_eq(verifications(reg), 100);
    record_committed(reg, "after-stop");
    ck_assert_uint_eq(verifications(reg), 101);
    capv_registry_stop_writer(reg); /* again: nothing to do */
    capv_registry_stop_writer(NULL);
    capv_registry_close(reg);
}
END_TEST

/* Stopping while the storage fails: records are tried until REG_STOP_GRACE_MS (10 s) has
 * passed and then dropped, counted, without a try begun after it. Each try here takes the
 * busy timeout, 2.2 s: the fourth ends at about 9.5 s, and the retry after it, due at about
 * 11.1 s, would have held the stop up to about 13.3 s. */
START_TEST(stop_drops_at_the_grace_while_the_storage_fails)
{
    char path[PATH_CAP];
    sqlite3 *other = NULL;
    in_dir(path, "g.sqlite");
    capv_registry *reg = storage_down(path, 2200, &other);
    for (int i = 1; i <= 5; i++)
        ck_assert_int_eq(record_one(reg, i, "ok"), CAPV_OK);
    int64_t t0 = capvi_mono_ms();
    capv_registry_stop_writer(reg);
    int64_t took = capvi_mono_ms() - t0;
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_DROPPED), 5);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH), 0);
    ck_assert_msg(took >= 9500 && took < 11500, "the stop took %lld ms", (long long)took);
    sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(other);
    capv_registry_close(reg);
}
END_TEST

/* Every fdatasync of this process: libsqlite3 calls the dynamic symbol for each of its syncs,
 * so this definition in the test program takes its place. */
static atomic_int syncs;

__attribute__((visibility("default"))) int fdatasync(int fd)
{
    atomic_fetch_add(&syncs, 1);
    return (int)syscall(SYS_fdatasync, fd);
}

/* docs/registry.md "Durability": a batch of queued records commits without waiting for the
 * disk while the last commit that waited is less than a second old; an entry always waits;
 * and a commit that did not wait is made durable within that second even when nothing
 * follows it. */
START_TEST(record_batches_sync_once_a_second)
{
    char path[PATH_CAP];
    in_dir(path, "s.sqlite");
    capv_registry *reg = open_async(path, 100, 1, 0);
    /* the first batch waits: nothing was synced before it */
    int before = atomic_load(&syncs);
    ck_assert_int_eq(record_one(reg, 1, "ok"), CAPV_OK);
    ck_assert_int_eq(capv_registry_flush(reg, 10000, NULL), CAPV_OK);
    ck_assert_int_gt(atomic_load(&syncs), before);
    /* the next ones, within the second, do not */
    int64_t t0 = capvi_mono_ms();
    before = atomic_load(&syncs);
    for (int i = 2; i <= 6; i++) {
        ck_assert_int_eq(record_one(reg, i, "ok"), CAPV_OK);
        ck_assert_int_eq(capv_registry_flush(reg, 10000, NULL), CAPV_OK);
    }
    if (capvi_mono_ms() - t0 < 900) /* a machine this slow makes the second pass: no claim then */
        ck_assert_int_eq(atomic_load(&syncs), before);
    ck_assert_uint_eq(stat_of(reg, CAPV_REGISTRY_STAT_RECORDS_WRITTEN), 6);
    /* an entry waits for the disk, whatever came before */
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.manifest_hash = "sha3-256:1111111111111111111111111111111111111111111111111111111111111111";
    e.proof_hash = "sha3-256:2222222222222222222222222222222222222222222222222222222222222222";
    capv_error err = CAPV_ERROR_INIT;
    before = atomic_load(&syncs);
    ck_assert_msg(capv_registry_add(NULL, reg, &e, &err) == CAPV_OK, "%s", err.message);
    ck_assert_int_gt(atomic_load(&syncs), before);
    /* a record right after it does not wait, and is synced within the second all the same,
     * with nothing else written */
    t0 = capvi_mono_ms();
    before = atomic_load(&syncs);
    ck_assert_int_eq(record_one(reg, 7, "ok"), CAPV_OK);
    ck_assert_int_eq(capv_registry_flush(reg, 10000, NULL), CAPV_OK);
    int64_t flushed = capvi_mono_ms() - t0;
    if (flushed < 900)
        ck_assert_int_eq(atomic_load(&syncs), before);
    while (atomic_load(&syncs) == before && capvi_mono_ms() - t0 < 5000)
        usleep(10 * 1000);
    ck_assert_int_gt(atomic_load(&syncs), before);
    ck_assert_int_lt(capvi_mono_ms() - t0, 2500);
    ck_assert_uint_eq(verifications(reg), 7);
    /* that sync was a checkpoint that copied every frame back. Now a reader's snapshot keeps
     * the next commit's frames in the WAL, so a checkpoint can copy none of them back (and
     * syncs nothing): the record is synced within the second all the same (its commit
     * may sync the WAL's header, when it starts the WAL over) */
    sqlite3 *reader = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM verifications", NULL, NULL, NULL),
        SQLITE_OK);
    t0 = capvi_mono_ms();
    ck_assert_int_eq(record_one(reg, 8, "ok"), CAPV_OK);
    ck_assert_int_eq(capv_registry_flush(reg, 10000, NULL), CAPV_OK);
    before = atomic_load(&syncs);
    while (atomic_load(&syncs) == before && capvi_mono_ms() - t0 < 5000)
        usleep(10 * 1000);
    ck_assert_int_gt(atomic_load(&syncs), before);
    ck_assert_int_lt(capvi_mono_ms() - t0, 2500);
    sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(reader);
    capv_registry_close(reg);
}
END_TEST

Suite *registry_async_suite(void)
{
    Suite *s = suite_create("registry_async");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, queued_and_batched);
    tcase_add_test(tc, close_writes_everything);
    tcase_add_test(tc, repeated_reports_share_their_bodies);
    tcase_add_test(tc, full_queue_waits_for_storage);
    tcase_add_test(tc, storage_down_then_back);
    tcase_add_test(tc, reused_request_id_rejected);
    tcase_add_test(tc, synchronous_without_queue);
    tcase_add_test(tc, stop_writer_counts_the_queue);
    tcase_add_test(tc, stop_drops_at_the_grace_while_the_storage_fails);
    tcase_add_test(tc, record_batches_sync_once_a_second);
    suite_add_tcase(s, tc);
    return s;
}
