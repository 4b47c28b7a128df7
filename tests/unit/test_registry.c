/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite registry (docs/registry.md): settings, the writer lock, schema versions and the
 * peer's databases, idempotent adds, verifications, policies, paging, JSON round trips,
 * signatures (ours and tampered ones), the batching writer thread, backup / restore / check,
 * and the verifier's registry check on a SQLite registry. */
#include <capverify.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json_int.h"
#include "registry_db_int.h"
#include "registry_entry_int.h"
#include "registry_writer_int.h"
#include "suites.h"
#include "testutil.h"

#define PATH_CAP 1024

static char dir[300];

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
    tu_temp_dir(dir, sizeof dir, "capvreg");
}

static void teardown(void)
{
    tu_remove_tree(dir);
    capv_global_shutdown();
}

static const char *in_dir(char out[PATH_CAP], const char *name)
{
    snprintf(out, PATH_CAP, "%s/%s", dir, name);
    return out;
}

static capv_registry *open_ro(const char *path)
{
    return tu_registry_open(path, CAPV_REGISTRY_READ_ONLY);
}

static capv_status open_status(const char *path, unsigned int flags)
{
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = flags;
    capv_registry *reg = (capv_registry *)&o;
    capv_status st = capv_registry_open(&reg, path, &o, NULL);
    ck_assert(st != CAPV_OK || reg != NULL);
    if (st != CAPV_OK)
        ck_assert_ptr_null(reg);
    capv_registry_close(st == CAPV_OK ? reg : NULL);
    return st;
}

static int64_t q_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql,
                  msg ? msg : "");
    sqlite3_close(db);
}

static const char *pragma_text(sqlite3 *db, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 1 << 16, n = 0, r;
    uint8_t *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            uint8_t *grown = realloc(buf, cap);
            ck_assert_ptr_nonnull(grown);
            buf = grown;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static void copy_file(const char *from, const char *to)
{
    size_t len;
    uint8_t *data = read_all(from, &len);
    FILE *f = fopen(to, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    free(data);
}

static void file_digest(uint8_t d[32], const char *path)
{
    size_t len;
    uint8_t *data = read_all(path, &len);
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, data, len, NULL), CAPV_OK);
    free(data);
}

/* A digest text "0x" + 64 hex digits from a small number. */
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

/* capv_registry_health, its reason copied to `detail` (may be NULL; "" when healthy). */
static capv_status health(const capv_registry *reg, char detail[CAPV_ERROR_MESSAGE_SIZE])
{
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_health(reg, &err);
    if (detail != NULL)
        snprintf(detail, CAPV_ERROR_MESSAGE_SIZE, "%s", err.message);
    return err.code == st ? st : CAPV_E_INTERNAL; /* err->code is the returned status */
}

static uint64_t count(capv_registry *reg, capv_registry_table t)
{
    uint64_t n = 0;
    ck_assert_int_eq(capv_registry_count(&n, reg, t, NULL), CAPV_OK);
    return n;
}

/* ---- settings, lock, schema ------------------------------------------------------------ */

START_TEST(pragmas_and_lock)
{
    char path[PATH_CAP], buf[32];
    in_dir(path, "r.sqlite");
    ck_assert_int_eq(open_status(path, 0), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(open_status(path, CAPV_REGISTRY_READ_ONLY), CAPV_E_NOT_FOUND);
    capv_registry *w = tu_registry_open(path, CAPV_REGISTRY_CREATE);
    ck_assert_str_eq(pragma_text(w->w.db, "PRAGMA journal_mode", buf, sizeof buf), "wal");
    ck_assert_str_eq(pragma_text(w->w.db, "PRAGMA synchronous", buf, sizeof buf), "2");
    ck_assert_str_eq(pragma_text(w->w.db, "PRAGMA foreign_keys", buf, sizeof buf), "1");
    ck_assert_str_eq(pragma_text(w->w.db, "PRAGMA busy_timeout", buf, sizeof buf), "5000");
    ck_assert_str_eq(pragma_text(w->w.db, "PRAGMA user_version", buf, sizeof buf), "3");
    /* savepoint journals in memory, never in a file under /var/tmp */
    ck_assert_str_eq(pragma_text(w->w.db, "PRAGMA temp_store", buf, sizeof buf), "2");
    ck_assert_int_eq(capv_registry_found_version(w), 0);
    ck_assert_int_eq(capv_registry_found_legacy(w), 0);
    ck_assert_int_eq(capv_registry_is_read_only(w), 0);
    ck_assert_str_eq(capv_registry_path(w), path);
    /* one writer: a second read-write open fails, also in this process; readers are fine */
    capv_error err = CAPV_ERROR_INIT;
    capv_registry *w2 = NULL;
    ck_assert_int_eq(capv_registry_open(&w2, path, NULL, &err), CAPV_E_BUSY);
    ck_assert_ptr_null(w2);
    ck_assert_ptr_nonnull(strstr(err.message, "another writer"));
    capv_registry *r = open_ro(path);
    ck_assert_int_eq(capv_registry_is_read_only(r), 1);
    ck_assert_str_eq(pragma_text(r->readers[0].db, "PRAGMA query_only", buf, sizeof buf), "1");
    /* a read-only handle cannot write */
    char mh[CAPV_DIGEST_HEX_SIZE];
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.manifest_hash = e.proof_hash = hash_of(mh, "m", 0);
    ck_assert_int_eq(capv_registry_add(NULL, r, &e, &err), CAPV_E_STATE);
    capv_registry_close(r);
    capv_registry_close(w);
    /* the lock went with the handle */
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_SYNC_NORMAL;
    o.busy_timeout_ms = 1234;
    o.readers = 3;
    ck_assert_int_eq(capv_registry_open(&w, path, &o, &err), CAPV_OK);
    ck_assert_str_eq(pragma_text(w->w.db, "PRAGMA synchronous", buf, sizeof buf), "1");
    ck_assert_str_eq(pragma_text(w->w.db, "PRAGMA busy_timeout", buf, sizeof buf), "1234");
    ck_assert_uint_eq(w->nreaders, 3);
    ck_assert_int_eq(capv_registry_found_version(w), CAPV_REGISTRY_SCHEMA_VERSION);
    capv_registry_close(w);
    /* options are checked */
    o.version = 99;
    ck_assert_int_eq(capv_registry_open(&w, path, &o, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(open_status(path, CAPV_REGISTRY_READ_ONLY | CAPV_REGISTRY_CREATE),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(open_status(NULL, CAPV_REGISTRY_READ_ONLY), CAPV_E_INVALID_ARG);
    capv_registry_close(NULL);
}
END_TEST

START_TEST(foreign_files)
{
    char path[PATH_CAP];
    FILE *f = fopen(in_dir(path, "text.sqlite"), "w");
    fputs("this is not a database, just some text that is long enough to have a header...\n"
          "and a second line of it to be sure it is more than a hundred bytes long.\n",
          f);
    fclose(f);
    /* a file that is not a database is a storage fault, named as such: never "malformed",
     * which would blame the request that happened to use the registry */
    capv_error err = CAPV_ERROR_INIT;
    capv_registry *reg = NULL;
    ck_assert_int_eq(capv_registry_open(&reg, path, NULL, &err), CAPV_E_STORAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "is not a valid registry database: file is not "
                                              "a database"));
    ck_assert_int_eq(open_status(path, CAPV_REGISTRY_READ_ONLY), CAPV_E_STORAGE);
    exec_sql(in_dir(path, "other.sqlite"), "CREATE TABLE foo (x)");
    ck_assert_int_eq(open_status(path, 0), CAPV_E_UNSUPPORTED_FORMAT);
    exec_sql(in_dir(path, "newer.sqlite"), "CREATE TABLE entries (x); PRAGMA user_version = 99");
    ck_assert_int_eq(open_status(path, 0), CAPV_E_UNSUPPORTED_FORMAT);
    ck_assert_int_eq(open_status(path, CAPV_REGISTRY_READ_ONLY), CAPV_E_UNSUPPORTED_FORMAT);
    ck_assert_int_eq(open_status(dir, 0), CAPV_E_IO); /* a directory */
}
END_TEST

/* The existing implementation's databases open and migrate; the originals are never touched. */
START_TEST(peer_databases)
{
    static const char *const peers[] = { "empty_registry_v1.sqlite", "old_schema_registry.sqlite" };
    char src[PATH_CAP], path[PATH_CAP];
    for (size_t i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/peer/registry/%s", tu_shared_dir(), peers[i]);
        uint8_t before[32], after[32];
        file_digest(before, src);
        copy_file(src, in_dir(path, peers[i]));
        /* readers do not migrate: they say what to do */
        capv_error err = CAPV_ERROR_INIT;
        capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
        o.flags = CAPV_REGISTRY_READ_ONLY;
        capv_registry *reg = NULL;
        ck_assert_int_eq(capv_registry_open(&reg, path, &o, &err), CAPV_E_STATE);
        ck_assert_ptr_nonnull(strstr(err.message, "migrate"));
        ck_assert_int_eq(open_status(path, CAPV_REGISTRY_NO_MIGRATE), CAPV_E_STATE);
        ck_assert_int_eq(q_int(path, "PRAGMA user_version"), 0);
        reg = tu_registry_open(path, 0);
        ck_assert_int_eq(capv_registry_found_version(reg), 0);
        ck_assert_int_eq(capv_registry_found_legacy(reg), 1);
        ck_assert_uint_eq(capv_registry_migrated_rows(reg), 0);
        ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 0);
        capv_registry_close(reg);
        ck_assert_int_eq(q_int(path, "PRAGMA user_version"), CAPV_REGISTRY_SCHEMA_VERSION);
        ck_assert_int_eq(q_int(path, "SELECT count(*) FROM pragma_table_info('registry_entries') "
                                     "WHERE name IN ('kid', 'signature_scheme')"),
                         2);
        ck_assert_int_eq(q_int(path, "SELECT count(*) FROM registry_meta WHERE key = "
                                     "'registry_version' AND value = '1.0'"),
                         1);
        /* and now readers are happy, and a second open migrates nothing */
        reg = open_ro(path);
        ck_assert_int_eq(capv_registry_found_version(reg), CAPV_REGISTRY_SCHEMA_VERSION);
        capv_registry_close(reg);
        reg = tu_registry_open(path, 0);
        ck_assert_int_eq(capv_registry_found_version(reg), CAPV_REGISTRY_SCHEMA_VERSION);
        ck_assert_int_eq(capv_registry_found_legacy(reg), 0);
        capv_registry_close(reg);
        file_digest(after, src);
        ck_assert_mem_eq(before, after, 32);
    }
}
END_TEST

/* A legacy database with rows: signed rows keep their text, so their signatures still verify. */
/* How often the cached look-up by hashes ran on the handle's first reader (0: never
 * prepared). */
static int lookups_run(capv_registry *reg)
{
    sqlite3_stmt *s = reg->readers[0].st[REG_ST_ENTRY_BY_KEYS];
    return s ? sqlite3_stmt_status(s, SQLITE_STMTSTATUS_RUN, 0) : 0;
}

/* A handle with a writer thread keeps the keys of every entry (docs/registry.md "Look-ups
 * of packages without an entry"): a pair without an entry is answered without a query, one
 * with an entry (or a fingerprint's false positive) asks the database. Other handles keep
 * none. */
/* Size of the registry's WAL file, 0 when there is none. */
static off_t wal_size(const char *db)
{
    char wal[PATH_CAP + 8];
    snprintf(wal, sizeof wal, "%s-wal", db);
    struct stat sb;
    return stat(wal, &sb) == 0 ? sb.st_size : 0;
}

/* Records `n` verifications from `from` on, each with a report of its own of about 14 KiB. */
static void record_padded(capv_registry *reg, int from, int n)
{
    static char json[15000];
    for (int i = from; i < from + n; i++) {
        int k = snprintf(json, sizeof json,
                         "{\"result\":\"ok\",\"verified_at\":\"2026-12-06T00:00:00.000Z\","
                         "\"note\":\"%d ",
                         i);
        memset(json + k, 'a' + i % 26, 14000);
        snprintf(json + k + 14000, sizeof json - (size_t)k - 14000, "\"}");
        tu_record_report(reg, json, "wal", i);
    }
}

START_TEST(wal_truncated_after_a_long_reader)
{
    char path[PATH_CAP];
    capv_registry *reg = tu_registry_open(in_dir(path, "wal.sqlite"),
                                          CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD);
    /* a read transaction held as long as a backup's copy: the WAL cannot start over */
    capv_reg_conn *c = NULL;
    int64_t n = 0;
    ck_assert_int_eq(capvi_reg_long_reader_acquire(&c, reg, NULL), CAPV_OK);
    ck_assert_int_eq(capvi_reg_exec(c->db, "BEGIN", NULL), CAPV_OK);
    ck_assert_int_eq(capvi_reg_query_int(&n, c->db, "SELECT count(*) FROM verifications", NULL),
                     CAPV_OK);
    record_padded(reg, 0, 1600); /* ~22 MiB of reports */
    ck_assert_int_gt(wal_size(path), REG_WAL_KEEP_BYTES);
    ck_assert_int_eq(capvi_reg_exec(c->db, "COMMIT", NULL), CAPV_OK);
    capvi_reg_long_reader_release(reg, c);
    /* the next checkpoint copies it all; the commit after it starts the WAL over, cut to size */
    record_padded(reg, 1600, 400);
    ck_assert_int_le(wal_size(path), REG_WAL_KEEP_BYTES);
    capv_registry_close(reg);
}
END_TEST

/* A write of one entry for capvi_reg_execute_batch, and a commit hook that refuses. */
struct batch_add {
    capv_registry_entry in;
    capv_registry_entry *stored;
};

static capv_status batch_add_run(capv_registry *reg, void *arg, capv_error *err)
{
    struct batch_add *a = arg;
    capv_reg_entry_in e;
    capv_status st = capvi_reg_entry_prepare(&e, &a->in, reg, REG_PREP_CANONICAL, err);
    return st == CAPV_OK ? reg->be->entry_add(&a->stored, reg, &e, false, err) : st;
}

static void batch_add_undo(void *arg)
{
    struct batch_add *a = arg;
    capv_registry_entry_free(a->stored);
    a->stored = NULL;
}

static int refuse_commit(void *user)
{
    (void)user;
    return 1;
}

START_TEST(batch_not_committed_answers_nothing)
{
    char path[PATH_CAP], mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    capv_registry *reg = tu_registry_open(in_dir(path, "abort.sqlite"), CAPV_REGISTRY_CREATE);
    /* one batch: an entry, then other content for the same hashes (a conflict with the first) */
    struct batch_add a = { .in = CAPV_REGISTRY_ENTRY_INIT }, b = { .in = CAPV_REGISTRY_ENTRY_INIT };
    a.in.manifest_hash = b.in.manifest_hash = hash_of(mh, "abort-m", 1);
    a.in.proof_hash = b.in.proof_hash = hash_of(ph, "abort-p", 1);
    a.in.timestamp_file = "a.tsr";
    b.in.timestamp_file = "b.tsr";
    capv_reg_write qa, qb;
    memset(&qa, 0, sizeof qa);
    memset(&qb, 0, sizeof qb);
    qa.run = qb.run = batch_add_run;
    qa.undo = qb.undo = batch_add_undo;
    qa.arg = &a;
    qb.arg = &b;
    capv_reg_write *batch[] = { &qa, &qb };
    pthread_mutex_lock(&reg->wlock);
    sqlite3_commit_hook(reg->w.db, refuse_commit, NULL); /* the commit fails */
    capvi_reg_execute_batch(reg, batch, 2);
    sqlite3_commit_hook(reg->w.db, NULL, NULL);
    pthread_mutex_unlock(&reg->wlock);
    /* neither the entry nor the conflict with it stands: both fail with the commit's error,
     * and nothing found inside the batch is handed out */
    ck_assert_int_ne(qa.st, CAPV_OK);
    ck_assert_int_eq(qb.st, qa.st);
    ck_assert_str_eq(qb.err.message, qa.err.message);
    ck_assert_ptr_null(strstr(qb.err.message, "other content"));
    ck_assert_ptr_null(a.stored);
    ck_assert_ptr_null(b.stored);
    /* and the content refused in that batch can be stored */
    capv_registry_entry *got = NULL;
    ck_assert_int_eq(capv_registry_add(&got, reg, &b.in, NULL), CAPV_OK);
    ck_assert_str_eq(got->timestamp_file, "b.tsr");
    capv_registry_entry_free(got);
    capv_registry_close(reg);
}
END_TEST

/* A storage that refuses a batch's records as conflicts and loses its transaction on the way
 * (as PostgreSQL does when its connection is cut while the records are retried). */
static const capvi_reg_backend *real_be;
static bool tx_lost;

static capv_status records_conflict_then_lost(capv_registry *reg, capvi_reg_record **recs, size_t n,
                                              capv_error *err)
{
    (void)reg;
    for (size_t i = 0; i < n; i++)
        recs[i]->st = CAPV_E_CONFLICT;
    tx_lost = true;
    return capvi_err_set(err, CAPV_E_CONFLICT, NULL, "a request id is already stored");
}

static bool in_transaction_unless_lost(capv_registry *reg)
{
    return !tx_lost && real_be->in_transaction(reg);
}

/* A batch of two writes run by the registry's storage with some of its calls replaced
 * (`be`): a record fresh from the queue (its status still the zero of CAPV_OK), then the
 * entry of a.in's hashes (named after `tag`, in mh and ph). */
struct record_entry_batch {
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    capvi_reg_record rec;
    struct batch_add a;
    capv_reg_write qr, qa;
};

static void run_record_entry_batch(struct record_entry_batch *b, capv_registry *reg,
                                   const capvi_reg_backend *be, const char *tag)
{
    char m[32], p[32];
    snprintf(m, sizeof m, "%s-m", tag);
    snprintf(p, sizeof p, "%s-p", tag);
    memset(b, 0, sizeof *b);
    b->a.in = (capv_registry_entry)CAPV_REGISTRY_ENTRY_INIT;
    b->a.in.manifest_hash = hash_of(b->mh, m, 1);
    b->a.in.proof_hash = hash_of(b->ph, p, 1);
    b->qr.rec = &b->rec;
    b->qa.run = batch_add_run;
    b->qa.undo = batch_add_undo;
    b->qa.arg = &b->a;
    capv_reg_write *batch[] = { &b->qr, &b->qa };
    pthread_mutex_lock(&reg->wlock);
    real_be = reg->be;
    reg->be = be;
    capvi_reg_execute_batch(reg, batch, 2);
    reg->be = real_be;
    pthread_mutex_unlock(&reg->wlock);
}

START_TEST(batch_lost_while_recording_answers_storage)
{
    char path[PATH_CAP];
    capv_registry *reg = tu_registry_open(in_dir(path, "lost.sqlite"), CAPV_REGISTRY_CREATE);
    capvi_reg_backend be = *reg->be;
    be.record_batch = records_conflict_then_lost;
    be.in_transaction = in_transaction_unless_lost;
    tx_lost = false;
    struct record_entry_batch b;
    run_record_entry_batch(&b, reg, &be, "lost");
    /* the records' conflict is no answer for the entry, nor for the records themselves: the
     * batch failed on the storage, so the records go back to the queue and the entry's
     * caller is told the storage failed */
    ck_assert_int_eq(b.qa.st, CAPV_E_STORAGE);
    ck_assert_int_eq(b.qr.st, CAPV_E_STORAGE);
    ck_assert_ptr_null(b.a.stored);
    capv_registry_entry *got = NULL;
    ck_assert_int_eq(capv_registry_add(&got, reg, &b.a.in, NULL), CAPV_OK);
    capv_registry_entry_free(got);
    capv_registry_close(reg);
}
END_TEST

/* A storage whose first savepoint of a batch fails while its transaction stays open (as a
 * PostgreSQL SAVEPOINT may on statement_timeout): the records never reach the storage. */
static int savepoints;

static capv_status first_savepoint_fails(capv_registry *reg, capv_error *err)
{
    if (savepoints++ == 0)
        return capvi_err_set(err, CAPV_E_STORAGE, NULL, "canceling statement due to timeout");
    return real_be->savepoint(reg, err);
}

START_TEST(records_savepoint_failure_answers_records)
{
    char path[PATH_CAP];
    capv_registry *reg = tu_registry_open(in_dir(path, "savepoint.sqlite"), CAPV_REGISTRY_CREATE);
    capvi_reg_backend be = *reg->be;
    be.savepoint = first_savepoint_fails;
    savepoints = 0;
    struct record_entry_batch b;
    run_record_entry_batch(&b, reg, &be, "savepoint");
    /* the record was not written: it fails with the savepoint's error (so the writer queues
     * it again), not "stored"; the entry, in a savepoint of its own, is */
    ck_assert_int_eq(b.qr.st, CAPV_E_STORAGE);
    ck_assert_ptr_nonnull(strstr(b.qr.err.message, "timeout"));
    ck_assert_int_eq(b.qa.st, CAPV_OK);
    ck_assert_ptr_nonnull(b.a.stored);
    capv_registry_entry_free(b.a.stored);
    capv_registry_close(reg);
}
END_TEST

/* A backup's progress callback that records while the copy runs, and notes the WAL's size. */
struct busy_backup {
    capv_registry *reg;
    const char *path;
    int next, calls;
    off_t wal_max;
};

static void record_during_copy(void *user, uint64_t done, uint64_t total)
{
    struct busy_backup *l = user;
    off_t w = wal_size(l->path);
    if (w > l->wal_max)
        l->wal_max = w;
    if (done >= total) /* after the last step: no longer in the copy */
        return;
    record_padded(l->reg, l->next, 40);
    l->next += 40;
    l->calls++;
}

START_TEST(backup_while_recording)
{
    char path[PATH_CAP], bdir[PATH_CAP];
    capv_registry *reg = tu_registry_open(in_dir(path, "busy.sqlite"),
                                          CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD);
    record_padded(reg, 0, 2500); /* ~40 MiB: the copy takes dozens of steps */
    struct busy_backup l = { .reg = reg, .path = path, .next = 100000 };
    capv_backup_info *b = NULL, *v = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_backup(&b, reg, in_dir(bdir, "busy-backups"), 0, record_during_copy,
                                       &l, &err) == CAPV_OK,
                  "%s", err.message);
    ck_assert_int_gt(l.calls, 5);
    /* every record committed before the copy's last step is in it */
    uint64_t n = 0;
    ck_assert_int_eq(capv_registry_count(&n, reg, CAPV_REGISTRY_VERIFICATIONS, NULL), CAPV_OK);
    ck_assert_uint_eq(n, 2500u + 40u * (unsigned)l.calls);
    ck_assert_uint_eq(b->verifications, n);
    /* no read transaction held the WAL: checkpoints kept it short meanwhile */
    ck_assert_int_le(l.wal_max, REG_WAL_KEEP_BYTES);
    ck_assert_msg(capv_registry_backup_verify(&v, b->path, &err) == CAPV_OK, "%s", err.message);
    ck_assert_uint_eq(v->verifications, n);
    capv_backup_info_free(v);
    capv_backup_info_free(b);
    capv_registry_close(reg);
}
END_TEST

START_TEST(entry_keys_kept_by_the_writer)
{
    char path[PATH_CAP], mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    capv_registry *reg = tu_registry_open(in_dir(path, "keys.sqlite"),
                                          CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD);
    ck_assert_uint_gt(reg->keys.cap, 0);
    ck_assert_uint_eq(reg->keys.n, 0);
    for (int i = 0; i < 300; i++) { /* past the first sizes of the set */
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        e.manifest_hash = hash_of(mh, "km", i);
        e.proof_hash = hash_of(ph, "kp", i);
        ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);
    }
    ck_assert_uint_eq(reg->keys.n, 300);
    ck_assert_uint_ge(reg->keys.cap, 600);
    capv_registry_entry *got = NULL;
    int runs = lookups_run(reg);
    for (int i = 0; i < 300; i++) {
        hash_of(mh, "km", i);
        ck_assert_int_eq(capv_registry_find(&got, reg, mh, hash_of(ph, "kp", i + 1), NULL),
                         CAPV_E_NOT_FOUND);
    }
    ck_assert_int_eq(lookups_run(reg), runs);
    ck_assert_int_eq(capv_registry_find(&got, reg, mh, hash_of(ph, "kp", 299), NULL), CAPV_OK);
    capv_registry_entry_free(got);
    ck_assert_int_eq(lookups_run(reg), runs + 1);
    capv_registry_close(reg);
    /* loaded when the handle opens */
    reg = tu_registry_open(path, CAPV_REGISTRY_WRITER_THREAD);
    ck_assert_uint_eq(reg->keys.n, 300);
    capv_registry_close(reg);
    /* no writer thread, or read-only: every look-up asks the database */
    reg = tu_registry_open(path, 0);
    ck_assert_uint_eq(reg->keys.cap, 0);
    ck_assert_int_eq(capv_registry_find(&got, reg, mh, hash_of(ph, "kp", 1), NULL),
                     CAPV_E_NOT_FOUND);
    ck_assert_int_eq(lookups_run(reg), 1);
    capv_registry_close(reg);
    reg = open_ro(path);
    ck_assert_uint_eq(reg->keys.cap, 0);
    capv_registry_close(reg);
}
END_TEST

START_TEST(legacy_rows_migrate)
{
    char src[PATH_CAP], path[PATH_CAP], sql[2048], mh[67], ph[67], mh2[67], ph2[67];
    snprintf(src, sizeof src, "%s/peer/registry/old_schema_registry.sqlite", tu_shared_dir());
    copy_file(src, in_dir(path, "old.sqlite"));
    capv_signing_key *k = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&k, NULL), CAPV_OK);
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.id = "legacy-1";
    e.manifest_hash = hash_of(mh, "m", 1);
    e.proof_hash = hash_of(ph, "p", 1);
    e.registered_at = "2025-10-25T13:07:41.027357+00:00";
    uint8_t *msg = NULL, d[32], sig[64], pub[32];
    size_t mlen = 0;
    ck_assert_int_eq(capv_registry_entry_signed_bytes(&msg, &mlen, &e, NULL), CAPV_OK);
    ck_assert_int_eq(strncmp((char *)msg, "{\"id\":\"legacy-1\",\"manifest_hash\":\"", 33), 0);
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_BLAKE3, msg, mlen, NULL), CAPV_OK);
    ck_assert_int_eq(capv_signing_key_sign(sig, k, d, 32, NULL), CAPV_OK);
    capv_signing_key_public(pub, k);
    char sig64[100], pub64[60];
    ck_assert_int_eq(capv_base64_encode(sig64, sizeof sig64, NULL, sig, 64, CAPV_BASE64_STD, NULL),
                     CAPV_OK);
    ck_assert_int_eq(capv_base64_encode(pub64, sizeof pub64, NULL, pub, 32, CAPV_BASE64_STD, NULL),
                     CAPV_OK);
    snprintf(sql, sizeof sql,
             "INSERT INTO registry_entries (id, manifest_hash, proof_hash, timestamp_file, "
             "registered_at, signature, public_key) VALUES ('legacy-1', '%s', '%s', NULL, '%s', "
             "'%s', '%s'), ('legacy-2', 'sha3-256:%s', '%s', 'ts.tsr', 'yesterday', NULL, NULL)",
             mh, ph, e.registered_at, sig64, pub64, hash_of(mh2, "m", 2) + 2, hash_of(ph2, "p", 2));
    exec_sql(path, sql);
    capv_registry *reg = tu_registry_open(path, 0);
    ck_assert_uint_eq(capv_registry_migrated_rows(reg), 2);
    capv_registry_entry *got = NULL;
    ck_assert_int_eq(capv_registry_get(&got, reg, "legacy-1", NULL), CAPV_OK);
    ck_assert_str_eq(got->registered_at, "2025-10-25T13:07:41.027357+00:00");
    ck_assert_str_eq(got->signature, sig64);
    ck_assert_int_eq(capv_registry_entry_verify(got, NULL), CAPV_OK);
    capv_registry_entry_free(got);
    ck_assert_int_eq(capv_registry_get(&got, reg, "legacy-2", NULL), CAPV_OK);
    ck_assert_int_eq(strncmp(got->manifest_hash, "sha3-256:", 9), 0); /* kept as written */
    ck_assert_int_eq(capv_registry_entry_verify(got, NULL), CAPV_E_MISSING);
    capv_registry_entry_free(got);
    /* found by either spelling of the hash */
    ck_assert_int_eq(capv_registry_find(&got, reg, mh2, ph2, NULL), CAPV_OK);
    ck_assert_str_eq(got->id, "legacy-2");
    capv_registry_entry_free(got);
    capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
    ck_assert_int_eq(capv_registry_check(&r, reg, NULL, NULL, NULL, NULL, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(r.problems, 0);
    ck_assert_uint_eq(r.signed_entries, 1);
    ck_assert_uint_eq(r.unsigned_entries, 1);
    capv_registry_close(reg);
    free(msg);
    capv_signing_key_free(k);

    /* a legacy row that cannot be migrated stops the migration; the file stays as it was */
    copy_file(src, in_dir(path, "bad.sqlite"));
    exec_sql(path, "INSERT INTO registry_entries (id, manifest_hash, proof_hash, registered_at) "
                   "VALUES ('broken', '0x1234', '0x5678', 'now')");
    uint8_t before[32], after[32];
    file_digest(before, path);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_open(&reg, path, NULL, &err), CAPV_E_HEX);
    ck_assert_str_eq(err.field, "broken");
    ck_assert_ptr_nonnull(strstr(err.message, "broken"));
    ck_assert_int_eq(q_int(path, "PRAGMA user_version"), 0);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'entries'"), 0);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM pragma_table_info('registry_entries') "
                                 "WHERE name = 'kid'"),
                     0);
    file_digest(after, path);
    ck_assert_mem_eq(before, after, 32);
}
END_TEST

/* ---- entries --------------------------------------------------------------------------- */

START_TEST(add_idempotent)
{
    char path[PATH_CAP], mh[67], ph[67];
    capv_registry *reg = tu_registry_open(in_dir(path, "r.sqlite"), CAPV_REGISTRY_CREATE);
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    /* any accepted spelling of a digest is stored canonically when nothing signs it */
    char upper[80];
    hash_of(mh, "m", 1);
    snprintf(upper, sizeof upper, "sha3-256:%s", mh + 2);
    for (char *p = upper + 9; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    e.manifest_hash = upper;
    e.proof_hash = hash_of(ph, "p", 1);
    e.timestamp_file = "timestamp.tsr";
    e.policy_hash = "sha3-256:b98c3db55f874476dc749ea32b70bdf5369a0d7bc5364f236e034f1ddcd94638";
    capv_registry_entry *s1 = NULL, *s2 = NULL, *s3 = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_add(&s1, reg, &e, &err), CAPV_OK);
    ck_assert_str_eq(s1->manifest_hash, mh);
    ck_assert_str_eq(s1->proof_hash, ph);
    ck_assert_uint_eq(strlen(s1->id), 36); /* a UUID derived from the hashes */
    ck_assert_int_eq(s1->id[14], '8');
    ck_assert_ptr_null(s1->signature);
    int64_t at = 0;
    ck_assert_int_eq(capv_rfc3339_parse(&at, s1->registered_at, strlen(s1->registered_at), NULL),
                     CAPV_OK);
    ck_assert(s1->seq > 0);
    /* a retry: exists, the same entry, never a duplicate */
    ck_assert_int_eq(capv_registry_add(&s2, reg, &e, &err), CAPV_E_EXISTS);
    ck_assert_int_eq(err.code, CAPV_E_EXISTS);
    ck_assert_str_eq(s2->id, s1->id);
    ck_assert(s2->seq == s1->seq);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 1);
    /* other content for the same hashes: conflict, and the stored entry is unchanged */
    e.timestamp_file = "other.tsr";
    ck_assert_int_eq(capv_registry_add(&s3, reg, &e, &err), CAPV_E_CONFLICT);
    ck_assert_str_eq(s3->timestamp_file, "timestamp.tsr");
    ck_assert_str_eq(err.field, s1->id);
    capv_registry_entry_free(s3);
    e.timestamp_file = "timestamp.tsr";
    e.policy_hash = NULL;
    ck_assert_int_eq(capv_registry_add(&s3, reg, &e, NULL), CAPV_E_CONFLICT);
    capv_registry_entry_free(s3);
    e.policy_hash = "0xb98c3db55f874476dc749ea32b70bdf5369a0d7bc5364f236e034f1ddcd94638";
    ck_assert_int_eq(capv_registry_add(&s3, reg, &e, NULL), CAPV_E_EXISTS); /* same digest */
    capv_registry_entry_free(s3);
    /* the derived id of other hashes: refused */
    capv_registry_entry e2 = CAPV_REGISTRY_ENTRY_INIT;
    e2.id = s1->id;
    e2.manifest_hash = hash_of(mh, "m", 2);
    e2.proof_hash = hash_of(ph, "p", 2);
    ck_assert_int_eq(capv_registry_add(&s3, reg, &e2, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err.message, "has the form of a derived id"));
    ck_assert_ptr_null(s3);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 1);
    /* caller ids and times are kept */
    e2.id = "custom-id";
    e2.registered_at = "2025-01-02T03:04:05Z";
    ck_assert_int_eq(capv_registry_add(&s3, reg, &e2, NULL), CAPV_OK);
    ck_assert_str_eq(s3->id, "custom-id");
    ck_assert_str_eq(s3->registered_at, "2025-01-02T03:04:05Z");
    ck_assert(s3->seq > s1->seq);
    capv_registry_entry_free(s3);
    e2.registered_at = "2025-01-02T03:04:06Z"; /* a given time is content */
    ck_assert_int_eq(capv_registry_add(NULL, reg, &e2, NULL), CAPV_E_CONFLICT);
    /* malformed input, with the field named */
    static const struct {
        const char *mh, *ph, *id, *at, *pol, *scheme;
        capv_status want;
        const char *field;
    } bad[] = {
        { "0x12", NULL, NULL, NULL, NULL, NULL, CAPV_E_HEX, "manifest_hash" },
        { NULL, "nothex", NULL, NULL, NULL, NULL, CAPV_E_HEX, "proof_hash" },
        { NULL, NULL, "bad\nid", NULL, NULL, NULL, CAPV_E_MALFORMED, "id" },
        { NULL, NULL, "", NULL, NULL, NULL, CAPV_E_MALFORMED, "id" },
        { NULL, NULL, NULL, "yesterday", NULL, NULL, CAPV_E_MALFORMED, "registered_at" },
        /* an RFC 3339 time longer than an import takes back (64 bytes) */
        { NULL, NULL, NULL, "2025-01-01T00:00:00.00000000000000000000000000000000000000000000000Z",
          NULL, NULL, CAPV_E_MALFORMED, "registered_at" },
        { NULL, NULL, NULL, NULL, "0x0", NULL, CAPV_E_HEX, "policy_hash" },
        { NULL, NULL, NULL, NULL, NULL, "rsa", CAPV_E_UNSUPPORTED_FORMAT, "signature_scheme" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        capv_registry_entry b = CAPV_REGISTRY_ENTRY_INIT;
        b.manifest_hash = bad[i].mh ? bad[i].mh : hash_of(mh, "m", 9);
        b.proof_hash = bad[i].ph ? bad[i].ph : hash_of(ph, "p", 9);
        b.id = bad[i].id;
        b.registered_at = bad[i].at;
        b.policy_hash = bad[i].pol;
        b.signature_scheme = bad[i].scheme;
        capv_error berr = CAPV_ERROR_INIT;
        capv_registry_entry *out = (capv_registry_entry *)&b;
        ck_assert_int_eq(capv_registry_add(&out, reg, &b, &berr), bad[i].want);
        ck_assert_str_eq(berr.field, bad[i].field);
        ck_assert_ptr_null(out);
    }
    capv_registry_entry none = CAPV_REGISTRY_ENTRY_INIT;
    ck_assert_int_eq(capv_registry_add(NULL, reg, &none, &err), CAPV_E_MISSING);
    none.version = 7;
    ck_assert_int_eq(capv_registry_add(NULL, reg, &none, NULL), CAPV_E_INVALID_ARG);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 2);
    /* look-ups */
    ck_assert_int_eq(capv_registry_get(&s3, reg, "custom-id", NULL), CAPV_OK);
    capv_registry_entry_free(s3);
    ck_assert_int_eq(capv_registry_get(&s3, reg, "nope", &err), CAPV_E_NOT_FOUND);
    ck_assert_ptr_null(s3);
    ck_assert_int_eq(capv_registry_find(&s3, reg, mh, hash_of(ph, "p", 3), NULL), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capv_registry_find(&s3, reg, "0x1", ph, NULL), CAPV_E_HEX);
    capv_registry_entry_free(s1);
    capv_registry_entry_free(s2);
    capv_registry_close(reg);
    /* the data is on disk, for the next opener */
    reg = open_ro(path);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 2);
    capv_registry_close(reg);
}
END_TEST

START_TEST(signatures)
{
    char path[PATH_CAP], mh[67], ph[67];
    capv_registry *reg = tu_registry_open(in_dir(path, "r.sqlite"), CAPV_REGISTRY_CREATE);
    capv_signing_key *k = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&k, NULL), CAPV_OK);
    uint8_t pub[32];
    capv_signing_key_public(pub, k);
    char kid[CAPV_KID_SIZE];
    ck_assert_int_eq(capv_key_id(kid, pub, NULL), CAPV_OK);
    /* entries added while a key is configured are signed by it */
    capv_registry_set_signing_key(reg, k);
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.manifest_hash = hash_of(mh, "m", 1);
    e.proof_hash = hash_of(ph, "p", 1);
    capv_registry_entry *s = NULL;
    ck_assert_int_eq(capv_registry_add(&s, reg, &e, NULL), CAPV_OK);
    ck_assert_ptr_nonnull(s->signature);
    ck_assert_str_eq(s->kid, kid);
    ck_assert_str_eq(s->signature_scheme, "ed25519");
    ck_assert_int_eq(capv_registry_entry_verify(s, NULL), CAPV_OK);
    /* the signature covers exactly the signed bytes (docs/registry.md) */
    uint8_t *msg = NULL, d[32], sig[64];
    size_t mlen = 0, n = 0;
    ck_assert_int_eq(capv_registry_entry_signed_bytes(&msg, &mlen, s, NULL), CAPV_OK);
    char want[512];
    snprintf(want, sizeof want,
             "{\"id\":\"%s\",\"manifest_hash\":\"%s\",\"proof_hash\":\"%s\",\"timestamp_file\":"
             "null,\"registered_at\":\"%s\"}",
             s->id, mh, ph, s->registered_at);
    ck_assert_str_eq((char *)msg, want);
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_BLAKE3, msg, mlen, NULL), CAPV_OK);
    ck_assert_int_eq(capv_base64_decode(sig, sizeof sig, &n, s->signature, strlen(s->signature),
                                        CAPV_BASE64_STD, NULL),
                     CAPV_OK);
    ck_assert_int_eq(capv_ed25519_verify(pub, sig, d, 32, NULL), CAPV_OK);
    free(msg);
    /* a retry of a signed add is still "exists" */
    ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_E_EXISTS);
    capv_registry_set_signing_key(reg, NULL);

    /* a caller's signature must verify; it is stored as given */
    capv_registry_entry c = *s;
    c.manifest_hash = hash_of(mh, "m", 2); /* the signature no longer matches */
    c.id = "copied";
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_add(NULL, reg, &c, &err), CAPV_E_SIGNATURE);
    ck_assert_str_eq(err.field, "signature");
    capv_registry_entry c2 = *s;
    c2.public_key = NULL;
    c2.id = "nokey";
    c2.manifest_hash = hash_of(mh, "m", 3);
    ck_assert_int_eq(capv_registry_add(NULL, reg, &c2, &err), CAPV_E_MALFORMED);
    c2.public_key = "@@@";
    ck_assert_int_eq(capv_registry_add(NULL, reg, &c2, &err), CAPV_E_BASE64);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 1);

    /* entry_verify on its own */
    capv_registry_entry t = *s;
    t.registered_at = "2000-01-01T00:00:00Z";
    ck_assert_int_eq(capv_registry_entry_verify(&t, &err), CAPV_E_SIGNATURE);
    t = *s;
    t.signature_scheme = "ecdsa";
    ck_assert_int_eq(capv_registry_entry_verify(&t, NULL), CAPV_E_MALFORMED);
    t = *s;
    t.signature = NULL;
    ck_assert_int_eq(capv_registry_entry_verify(&t, NULL), CAPV_E_MISSING);
    t.id = NULL;
    ck_assert_int_eq(capv_registry_entry_verify(&t, NULL), CAPV_E_INVALID_ARG);
    capv_registry_entry_free(s);
    capv_registry_close(reg);
    capv_signing_key_free(k);
}
END_TEST

START_TEST(paged_listing)
{
    char path[PATH_CAP], mh[67], ph[67];
    capv_registry *reg = tu_registry_open(in_dir(path, "r.sqlite"), CAPV_REGISTRY_CREATE);
    for (int i = 0; i < 25; i++) {
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        e.manifest_hash = hash_of(mh, "m", i % 5); /* five manifests, five proofs each */
        e.proof_hash = hash_of(ph, "p", i);
        ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);
    }
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 25);
    int64_t after = 0, last = 0;
    size_t seen = 0;
    int pages = 0;
    do {
        capv_registry_page *p = NULL;
        ck_assert_int_eq(capv_registry_list(&p, reg, NULL, after, 10, NULL), CAPV_OK);
        for (size_t i = 0; i < capv_registry_page_count(p); i++) {
            const capv_registry_entry *e = capv_registry_page_entry(p, i);
            ck_assert(e->seq > last);
            last = e->seq;
            ck_assert_str_eq(e->proof_hash, hash_of(ph, "p", (int)seen));
            seen++;
        }
        ck_assert_ptr_null(capv_registry_page_entry(p, capv_registry_page_count(p)));
        after = capv_registry_page_next(p);
        ck_assert_uint_eq(capv_registry_page_count(p), pages < 2 ? 10 : 5);
        capv_registry_page_free(p);
        pages++;
    } while (after != 0);
    ck_assert_int_eq(pages, 3);
    ck_assert_uint_eq(seen, 25);
    /* exactly a page: no next page */
    capv_registry_page *p = NULL;
    ck_assert_int_eq(capv_registry_list(&p, reg, NULL, 0, 25, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_registry_page_count(p), 25);
    ck_assert(capv_registry_page_next(p) == 0);
    capv_registry_page_free(p);
    /* filtered by manifest */
    ck_assert_int_eq(capv_registry_list(&p, reg, hash_of(mh, "m", 3), 0, 3, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_registry_page_count(p), 3);
    ck_assert_str_eq(capv_registry_page_entry(p, 0)->proof_hash, hash_of(ph, "p", 3));
    ck_assert_str_eq(capv_registry_page_entry(p, 2)->proof_hash, hash_of(ph, "p", 13));
    after = capv_registry_page_next(p);
    capv_registry_page_free(p);
    ck_assert_int_eq(capv_registry_list(&p, reg, hash_of(mh, "m", 3), after, 3, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_registry_page_count(p), 2);
    ck_assert(capv_registry_page_next(p) == 0);
    capv_registry_page_free(p);
    ck_assert_int_eq(capv_registry_list(&p, reg, hash_of(mh, "none", 0), 0, 3, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_registry_page_count(p), 0);
    capv_registry_page_free(p);
    ck_assert_int_eq(capv_registry_list(&p, reg, NULL, 0, 0, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_registry_list(&p, reg, NULL, 0, 10001, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_registry_list(&p, reg, "zz", 0, 10, NULL), CAPV_E_HEX);
    capv_registry_page_free(NULL);
    capv_registry_close(reg);
}
END_TEST

START_TEST(verifications_and_policies)
{
    char path[PATH_CAP], mh[67], ph[67];
    capv_registry *reg = tu_registry_open(in_dir(path, "r.sqlite"), CAPV_REGISTRY_CREATE);
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.manifest_hash = hash_of(mh, "m", 1);
    e.proof_hash = hash_of(ph, "p", 1);
    ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.request_id = "req-1";
    v.subject = "client-a";
    v.manifest_hash = mh;
    v.proof_hash = ph;
    v.result = "warn";
    v.report_json = "{\"result\":\"warn\"}";
    int64_t seq = 0, seq2 = 0;
    ck_assert_int_eq(capv_registry_record(&seq, reg, &v, NULL), CAPV_OK);
    ck_assert(seq > 0);
    ck_assert_int_eq(capv_registry_record(&seq2, reg, &v, NULL), CAPV_E_EXISTS);
    ck_assert(seq2 == seq);
    v.result = "ok";
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_E_CONFLICT);
    v.result = "maybe";
    v.request_id = "req-2";
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, &err), CAPV_E_MALFORMED);
    ck_assert_str_eq(err.field, "result");
    v.result = "fail";
    v.report_json = "{not json";
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, &err), CAPV_E_MALFORMED);
    ck_assert_str_eq(err.field, "report_json");
    v.report_json = NULL;
    v.verified_at = "2025-02-03T04:05:06Z";
    v.manifest_hash = hash_of(mh, "m", 7); /* no entry: recorded without a link */
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    capv_registry_verification r0 = CAPV_REGISTRY_VERIFICATION_INIT;
    r0.result = "ok"; /* a generated request id */
    ck_assert_int_eq(capv_registry_record(NULL, reg, &r0, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_record(NULL, reg, &r0, NULL), CAPV_OK);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 4);
    capv_registry_verification *got = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "req-1", NULL), CAPV_OK);
    ck_assert_str_eq(got->subject, "client-a");
    ck_assert_str_eq(got->result, "warn");
    ck_assert_str_eq(got->report_json, "{\"result\":\"warn\"}");
    ck_assert_str_eq(got->manifest_hash, hash_of(mh, "m", 1));
    ck_assert(got->seq == seq);
    capv_registry_verification_free(got);
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "req-2", NULL), CAPV_OK);
    ck_assert_str_eq(got->verified_at, "2025-02-03T04:05:06Z");
    ck_assert_ptr_null(got->report_json);
    capv_registry_verification_free(got);
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "req-3", NULL), CAPV_E_NOT_FOUND);
    /* the verification row links to its entry (a foreign key) */
    ck_assert_int_eq(q_int(path, "SELECT entry_seq FROM verifications WHERE request_id = "
                                 "'req-1'"),
                     1);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM verifications WHERE request_id = "
                                 "'req-2' AND entry_seq IS NULL"),
                     1);

    /* a report */
    size_t len;
    uint8_t *zip = tu_read(tu_shared_dir(), "peer/packages/webui-legacy.zip", &len);
    capv_verifier *vf = NULL;
    capv_report *rep = NULL;
    ck_assert_int_eq(capv_verifier_new(&vf, NULL), CAPV_OK);
    ck_assert_int_eq(capv_verify_zip_memory(&rep, vf, zip, len, NULL, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_record_report(&seq, reg, rep, "rep-1", "cli", NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_record_report(NULL, reg, rep, "rep-1", "cli", NULL),
                     CAPV_E_EXISTS);
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "rep-1", NULL), CAPV_OK);
    ck_assert_str_eq(got->result, "fail");
    ck_assert_str_eq(got->manifest_hash, capv_report_manifest_hash(rep));
    char *json = NULL;
    ck_assert_int_eq(capv_report_to_json(&json, NULL, rep, 0, NULL), CAPV_OK);
    ck_assert_str_eq(got->report_json, json);
    capv_free(json);
    capv_registry_verification_free(got);
    capv_report_free(rep);
    capv_verifier_free(vf);
    free(zip);

    /* policies */
    capv_registry_policy p = CAPV_REGISTRY_POLICY_INIT;
    p.policy_id = "lksg.v1";
    p.policy_version = "1.0";
    p.policy_hash = "sha3-256:b98c3db55f874476dc749ea32b70bdf5369a0d7bc5364f236e034f1ddcd94638";
    p.ir_hash = "sha3-256:df3a3eeb7c72f6204131397e4b0a4b16235f1e20cc66102153ad6d4ee78f892c";
    p.ir_json = "{\"ir_version\":\"1.0\"}";
    ck_assert_int_eq(capv_registry_put_policy(reg, &p, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_put_policy(reg, &p, NULL), CAPV_E_EXISTS);
    p.ir_json = "{\"ir_version\":\"1.0\",\"x\":1}";
    ck_assert_int_eq(capv_registry_put_policy(reg, &p, NULL), CAPV_E_CONFLICT);
    p.policy_hash = "0x1111111111111111111111111111111111111111111111111111111111111111";
    ck_assert_int_eq(capv_registry_put_policy(reg, &p, &err), CAPV_E_CONFLICT);
    ck_assert_str_eq(err.field, "policy_id"); /* id + version taken */
    p.policy_version = "2.0";
    ck_assert_int_eq(capv_registry_put_policy(reg, &p, NULL), CAPV_OK);
    p.ir_json = "nope";
    p.policy_version = "3.0";
    ck_assert_int_eq(capv_registry_put_policy(reg, &p, NULL), CAPV_E_MALFORMED);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_POLICIES), 2);
    capv_registry_policy *gp = NULL;
    ck_assert_int_eq(capv_registry_get_policy(&gp, reg, "lksg.v1", NULL), CAPV_OK);
    ck_assert_str_eq(gp->policy_version, "2.0"); /* the latest */
    capv_registry_policy_free(gp);
    ck_assert_int_eq(capv_registry_get_policy(&gp, reg,
                                              "0xB98C3DB55F874476DC749EA32B70BDF5369A0D7BC5364F"
                                              "236E034F1DDCD94638",
                                              NULL),
                     CAPV_OK);
    ck_assert_str_eq(gp->policy_version, "1.0");
    ck_assert_str_eq(gp->ir_json, "{\"ir_version\":\"1.0\"}");
    ck_assert_ptr_nonnull(gp->created_at);
    capv_registry_policy_free(gp);
    ck_assert_int_eq(capv_registry_get_policy(&gp, reg, "other", NULL), CAPV_E_NOT_FOUND);
    capv_registry_close(reg);
}
END_TEST

/* ---- JSON ------------------------------------------------------------------------------ */

typedef struct membuf {
    char *data;
    size_t len;
} membuf;

static int mem_write(void *user, const uint8_t *data, size_t len)
{
    membuf *m = user;
    char *p = realloc(m->data, m->len + len + 1);
    if (p == NULL)
        return -1;
    memcpy(p + m->len, data, len);
    m->len += len;
    p[m->len] = '\0';
    m->data = p;
    return 0;
}

static char *export(capv_registry *reg, unsigned int flags)
{
    membuf m = { NULL, 0 };
    ck_assert_int_eq(capv_registry_export_json(reg, flags, mem_write, &m, NULL, NULL, NULL),
                     CAPV_OK);
    return m.data;
}

static int fail_write(void *user, const uint8_t *data, size_t len)
{
    (void)user;
    (void)data;
    (void)len;
    return -1;
}

START_TEST(json_round_trip)
{
    char path[PATH_CAP], mh[67], ph[67];
    /* the peer's empty registry, byte for byte */
    capv_registry *a = tu_registry_open(in_dir(path, "a.sqlite"), CAPV_REGISTRY_CREATE);
    size_t plen;
    uint8_t *peer = tu_read(tu_shared_dir(), "peer/registry/empty_registry_v1.json", &plen);
    size_t added = 9, existing = 9;
    ck_assert_int_eq(capv_registry_import_json(&added, &existing, a, peer, plen,
                                               CAPV_REGISTRY_IMPORT_VERIFY, NULL, NULL, NULL),
                     CAPV_OK);
    ck_assert_uint_eq(added + existing, 0);
    char *out = export(a, CAPV_REGISTRY_EXPORT_PRETTY);
    ck_assert_str_eq(out, (char *)peer);
    free(out);
    out = export(a, 0);
    ck_assert_str_eq(out, "{\"registry_version\":\"1.0\",\"entries\":[]}");
    free(out);
    free(peer);

    /* signed and unsigned entries, odd characters */
    capv_signing_key *k = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&k, NULL), CAPV_OK);
    for (int i = 0; i < 6; i++) {
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        e.manifest_hash = hash_of(mh, "m", i);
        e.proof_hash = hash_of(ph, "p", i);
        e.timestamp_file = i % 2 ? "dir/\"quoted\" \xc3\xa9.tsr" : NULL;
        e.policy_hash =
            i == 3 ? "sha3-256:b98c3db55f874476dc749ea32b70bdf5369a0d7bc5364f236e034f1ddcd94638"
                   : NULL;
        capv_registry_set_signing_key(a, i % 3 ? k : NULL);
        ck_assert_int_eq(capv_registry_add(NULL, a, &e, NULL), CAPV_OK);
    }
    capv_registry_set_signing_key(a, NULL);
    char *pretty = export(a, CAPV_REGISTRY_EXPORT_PRETTY);
    char *compact = export(a, 0);
    ck_assert_ptr_nonnull(strstr(pretty, "\\\"quoted\\\" \xc3\xa9.tsr"));
    ck_assert_ptr_nonnull(strstr(compact, "\"timestamp_file\":null"));
    /* into a fresh registry, verified, and back out: the same bytes */
    capv_registry *b = tu_registry_open(in_dir(path, "b.sqlite"), CAPV_REGISTRY_CREATE);
    ck_assert_int_eq(capv_registry_import_json(&added, &existing, b, (uint8_t *)pretty,
                                               strlen(pretty), CAPV_REGISTRY_IMPORT_VERIFY, NULL,
                                               NULL, NULL),
                     CAPV_OK);
    ck_assert_uint_eq(added, 6);
    ck_assert_uint_eq(existing, 0);
    out = export(b, CAPV_REGISTRY_EXPORT_PRETTY);
    ck_assert_str_eq(out, pretty);
    free(out);
    out = export(b, 0);
    ck_assert_str_eq(out, compact);
    free(out);
    /* importing again: all existing, nothing added */
    ck_assert_int_eq(capv_registry_import_json(&added, &existing, b, (uint8_t *)compact,
                                               strlen(compact), CAPV_REGISTRY_IMPORT_VERIFY, NULL,
                                               NULL, NULL),
                     CAPV_OK);
    ck_assert_uint_eq(added, 0);
    ck_assert_uint_eq(existing, 6);
    capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
    ck_assert_int_eq(capv_registry_check(&r, b, NULL, NULL, NULL, NULL, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(r.signed_entries, 4);
    ck_assert_uint_eq(r.unsigned_entries, 2);
    ck_assert_uint_eq(r.problems, 0);

    /* a tampered signature: refused with verification on, and nothing is imported */
    capv_registry *c = tu_registry_open(in_dir(path, "c.sqlite"), CAPV_REGISTRY_CREATE);
    char *tampered = strdup(compact);
    char *sig = strstr(tampered, "\"signature\":\"");
    ck_assert_ptr_nonnull(sig);
    sig += 13;
    *sig = *sig == 'A' ? 'B' : 'A';
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_import_json(&added, &existing, c, (uint8_t *)tampered,
                                               strlen(tampered), CAPV_REGISTRY_IMPORT_VERIFY, NULL,
                                               NULL, &err),
                     CAPV_E_SIGNATURE);
    ck_assert_uint_eq(count(c, CAPV_REGISTRY_ENTRIES), 0);
    ck_assert(err.field[0] != '\0');
    /* without verification it is stored, and check finds it */
    ck_assert_int_eq(capv_registry_import_json(&added, NULL, c, (uint8_t *)tampered,
                                               strlen(tampered), 0, NULL, NULL, NULL),
                     CAPV_OK);
    ck_assert_uint_eq(added, 6);
    ck_assert_int_eq(capv_registry_check(&r, c, NULL, NULL, NULL, NULL, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(r.bad_signatures, 1);
    ck_assert_uint_eq(r.problems, 1);
    /* a conflicting import fails as a whole */
    char *conflict = strdup(compact);
    char *ts = strstr(conflict, "\\\"quoted\\\"");
    ck_assert_ptr_nonnull(ts);
    ts[2] = 'Q';
    ck_assert_int_eq(capv_registry_import_json(&added, &existing, b, (uint8_t *)conflict,
                                               strlen(conflict), 0, NULL, NULL, &err),
                     CAPV_E_CONFLICT);
    ck_assert_uint_eq(added, 0);
    ck_assert_uint_eq(count(b, CAPV_REGISTRY_ENTRIES), 6);
    /* malformed documents */
    static const char *const bad[] = {
        "[]",
        "{\"registry_version\":\"2.0\",\"entries\":[]}",
        "{\"registry_version\":\"1.0\"}",
        "{\"registry_version\":\"1.0\",\"entries\":[1]}",
        "{\"registry_version\":\"1.0\",\"entries\":[{\"id\":\"x\"}]}",
        "{\"registry_version\":\"1.0\",\"entries\":[{\"id\":\"x\",\"manifest_hash\":\"0x1\","
        "\"proof_hash\":\"0x2\",\"registered_at\":\"t\"}]}",
        "{\"registry_version\":\"1.0\",\"entries\":[],\"entries\":[]}",
        "{\"registry_version\":\"1.0\",\"entries\":[]} trailing",
    };
    static const capv_status want[] = { CAPV_E_MALFORMED,
                                        CAPV_E_UNSUPPORTED_FORMAT,
                                        CAPV_E_MALFORMED,
                                        CAPV_E_TYPE,
                                        CAPV_E_MISSING,
                                        CAPV_E_HEX,
                                        CAPV_E_JSON_DUPLICATE_KEY,
                                        CAPV_E_JSON_TRAILING };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(capv_registry_import_json(NULL, NULL, b, (const uint8_t *)bad[i],
                                                strlen(bad[i]), 0, NULL, NULL, NULL) == want[i],
                      "case %zu", i);
    /* a failing writer aborts the export */
    ck_assert_int_eq(capv_registry_export_json(b, 0, fail_write, NULL, NULL, NULL, &err),
                     CAPV_E_IO);
    free(conflict);
    free(tampered);
    free(pretty);
    free(compact);
    capv_registry_close(a);
    capv_registry_close(b);
    capv_registry_close(c);
    capv_signing_key_free(k);
}
END_TEST

/* ---- check ----------------------------------------------------------------------------- */

typedef struct seen {
    int n;
    char id[64];
    capv_status code;
} seen;

static void on_problem(void *user, const char *id, capv_status code, const char *message)
{
    seen *s = user;
    ck_assert_ptr_nonnull(message);
    if (s->n++ == 0) {
        snprintf(s->id, sizeof s->id, "%s", id);
        s->code = code;
    }
}

START_TEST(check_tampered)
{
    char path[PATH_CAP], mh[67], ph[67], sql[512];
    capv_registry *reg = tu_registry_open(in_dir(path, "r.sqlite"), CAPV_REGISTRY_CREATE);
    capv_signing_key *k = NULL, *other = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&k, NULL), CAPV_OK);
    ck_assert_int_eq(capv_signing_key_generate(&other, NULL), CAPV_OK);
    capv_registry_set_signing_key(reg, k);
    for (int i = 0; i < 5; i++) {
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        char id[16];
        snprintf(id, sizeof id, "e%d", i);
        e.id = id;
        e.manifest_hash = hash_of(mh, "m", i);
        e.proof_hash = hash_of(ph, "p", i);
        capv_registry_set_signing_key(reg, i == 4 ? other : k);
        ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);
    }
    capv_registry_close(reg);
    uint8_t pub[32];
    capv_signing_key_public(pub, k);
    capv_trust_store *trust = NULL;
    ck_assert_int_eq(capv_trust_store_new(&trust, NULL), CAPV_OK);
    ck_assert_int_eq(capv_trust_store_add(trust, pub, "registry", NULL), CAPV_OK);

    reg = open_ro(path);
    capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
    seen s = { 0, "", CAPV_OK };
    ck_assert_int_eq(capv_registry_check(&r, reg, NULL, on_problem, &s, NULL, NULL, NULL), CAPV_OK);
    ck_assert_int_eq(r.integrity_ok, 1);
    ck_assert_int_eq(r.schema_version, CAPV_REGISTRY_SCHEMA_VERSION);
    ck_assert_uint_eq(r.entries, 5);
    ck_assert_uint_eq(r.signed_entries, 5);
    ck_assert_uint_eq(r.problems, 0);
    ck_assert_int_eq(s.n, 0);
    /* with a trust store, the entry signed by the other key is a problem */
    ck_assert_int_eq(capv_registry_check(&r, reg, trust, on_problem, &s, NULL, NULL, NULL),
                     CAPV_OK);
    ck_assert_uint_eq(r.untrusted, 1);
    ck_assert_uint_eq(r.problems, 1);
    ck_assert_str_eq(s.id, "e4");
    ck_assert_int_eq(s.code, CAPV_E_UNTRUSTED);
    capv_registry_close(reg);

    /* tamper with one entry's signed text behind the registry's back */
    snprintf(sql, sizeof sql,
             "UPDATE entries SET registered_at = '2001-01-01T00:00:00Z' WHERE "
             "id = 'e2'");
    exec_sql(path, sql);
    reg = open_ro(path);
    s.n = 0;
    ck_assert_int_eq(capv_registry_check(&r, reg, NULL, on_problem, &s, NULL, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(r.bad_signatures, 1);
    ck_assert_uint_eq(r.problems, 1);
    ck_assert_int_eq(s.n, 1);
    ck_assert_str_eq(s.id, "e2");
    ck_assert_int_eq(s.code, CAPV_E_SIGNATURE);
    capv_registry_close(reg);
    /* a mangled signature and a row whose hash is not a digest */
    exec_sql(path, "UPDATE entries SET signature = 'not base64!' WHERE id = 'e1';"
                   "UPDATE entries SET proof_hash = 'garbage' WHERE id = 'e3'");
    reg = open_ro(path);
    s.n = 0;
    ck_assert_int_eq(capv_registry_check(&r, reg, NULL, on_problem, &s, NULL, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(r.bad_signatures, 2);
    ck_assert_uint_eq(r.malformed, 1);
    ck_assert_uint_eq(r.problems, 3);
    ck_assert_int_eq(s.n, 3);
    capv_registry_close(reg);
    /* look-up keys changed behind a valid signature (which covers the hashes as text): the
     * entry would be found for another package */
    exec_sql(path, "UPDATE entries SET manifest_key = randomblob(32) WHERE id = 'e0'");
    reg = open_ro(path);
    s.n = 0;
    ck_assert_int_eq(capv_registry_check(&r, reg, NULL, on_problem, &s, NULL, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(r.malformed, 2);
    ck_assert_uint_eq(r.problems, 4);
    ck_assert_int_eq(s.n, 4);
    capv_registry_close(reg);
    capv_trust_store_free(trust);
    capv_signing_key_free(k);
    capv_signing_key_free(other);
}
END_TEST

/* ---- the writer thread ----------------------------------------------------------------- */

#define WRITERS 8
#define PER_WRITER 300

typedef struct wjob {
    capv_registry *reg;
    int t;
    int bad;
} wjob;

static void *writer_job(void *arg)
{
    wjob *j = arg;
    char mh[67], ph[67], rid[32];
    for (int i = 0; i < PER_WRITER; i++) {
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        e.manifest_hash = hash_of(mh, "wm", j->t * 100000 + i);
        e.proof_hash = hash_of(ph, "wp", j->t * 100000 + i);
        capv_registry_entry *s = NULL;
        if (capv_registry_add(&s, j->reg, &e, NULL) != CAPV_OK || s == NULL ||
            strcmp(s->manifest_hash, mh) != 0)
            j->bad++;
        capv_registry_entry_free(s);
        /* acknowledged means committed: a reader sees it at once */
        capv_registry_entry *g = NULL;
        if (capv_registry_find(&g, j->reg, mh, ph, NULL) != CAPV_OK)
            j->bad++;
        capv_registry_entry_free(g);
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        snprintf(rid, sizeof rid, "w%d-%d", j->t, i);
        v.request_id = rid;
        v.result = "ok";
        v.manifest_hash = mh;
        v.proof_hash = ph;
        if (capv_registry_record(NULL, j->reg, &v, NULL) != CAPV_OK)
            j->bad++;
        /* and a retry is idempotent through the queue too */
        if (i % 50 == 0 && capv_registry_add(NULL, j->reg, &e, NULL) != CAPV_E_EXISTS)
            j->bad++;
    }
    return NULL;
}

START_TEST(writer_thread_batches)
{
    char path[PATH_CAP];
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD;
    o.readers = 4;
    capv_registry *reg = NULL;
    ck_assert_int_eq(capv_registry_open(&reg, in_dir(path, "w.sqlite"), &o, NULL), CAPV_OK);
    pthread_t t[WRITERS];
    wjob j[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        j[i] = (wjob){ reg, i, 0 };
        ck_assert_int_eq(pthread_create(&t[i], NULL, writer_job, &j[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(j[i].bad, 0);
    }
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), WRITERS * PER_WRITER);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), WRITERS * PER_WRITER);
    uint64_t writes = capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_WRITES);
    uint64_t commits = capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_COMMITS);
    ck_assert_uint_eq(writes, WRITERS * PER_WRITER * 2 + WRITERS * (PER_WRITER / 50));
    /* group commit: eight threads writing at once share transactions */
    ck_assert_msg(commits < writes, "%llu commits for %llu writes", (unsigned long long)commits,
                  (unsigned long long)writes);
    capv_registry_close(reg);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM verifications v JOIN entries e ON "
                                 "v.entry_seq = e.seq"),
                     WRITERS * PER_WRITER);
}
END_TEST

/* ---- backup / restore ------------------------------------------------------------------ */

static int64_t tick_clock(void *user)
{
    int64_t *t = user;
    *t += 1500;
    return *t;
}

/* Regular files "<name>.pre-restore-…" in `dir`: databases a restore kept. */
static size_t pre_restore_files(const char *in)
{
    DIR *dh = opendir(in);
    ck_assert_ptr_nonnull(dh);
    size_t n = 0;
    struct stat sb;
    for (struct dirent *e; (e = readdir(dh)) != NULL;)
        n += strstr(e->d_name, ".pre-restore-") != NULL &&
             fstatat(dirfd(dh), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
    closedir(dh);
    return n;
}

/* Removes the directories "<name>.pre-restore-…" made in `dir` to block a restore. */
static void remove_pre_restore_dirs(const char *in)
{
    DIR *dh = opendir(in);
    ck_assert_ptr_nonnull(dh);
    char p[PATH_CAP + 300];
    struct stat sb;
    for (struct dirent *e; (e = readdir(dh)) != NULL;)
        if (strstr(e->d_name, ".pre-restore-") != NULL &&
            fstatat(dirfd(dh), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode)) {
            snprintf(p, sizeof p, "%s/%s", in, e->d_name);
            ck_assert_int_eq(rmdir(p), 0);
        }
    closedir(dh);
}

static void fill(capv_registry *reg, int from, int to)
{
    char mh[67], ph[67];
    for (int i = from; i < to; i++) {
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        e.manifest_hash = hash_of(mh, "bm", i);
        e.proof_hash = hash_of(ph, "bp", i);
        ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        v.result = "ok";
        ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    }
}

/* docs/registry.md "Copy between storages": a SQLite target that holds only report bodies is
 * not empty either: refused as such (CAPV_E_STATE), nothing written. Until 2026-12-07 the
 * emptiness check skipped the reports table, and the copy failed on the rows instead. */
START_TEST(copy_into_target_with_reports_only)
{
    char src_path[PATH_CAP], dst_path[PATH_CAP];
    capv_registry *src = tu_registry_open(in_dir(src_path, "src.sqlite"), CAPV_REGISTRY_CREATE);
    fill(src, 0, 3);
    capv_registry_close(tu_registry_open(in_dir(dst_path, "dst.sqlite"), CAPV_REGISTRY_CREATE));
    exec_sql(dst_path, "INSERT INTO reports (sha3, bytes, summary, json) VALUES "
                       "(randomblob(32), 2, 0, '{}')");
    capv_registry *dst = tu_registry_open(dst_path, 0);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_copy(NULL, dst, src, NULL, NULL, &err), CAPV_E_STATE);
    ck_assert_msg(strstr(err.message, "not empty") != NULL, "%s", err.message);
    capv_registry_close(dst);
    ck_assert_int_eq(q_int(dst_path, "SELECT count(*) FROM entries"), 0);
    ck_assert_int_eq(q_int(dst_path, "SELECT count(*) FROM reports"), 1);
    capv_registry_close(src);
}
END_TEST

/* A source entry whose look-up keys are not its hashes (changed behind its signature) is not
 * copied: nothing is written. */
START_TEST(copy_refuses_keys_not_hashes)
{
    char src_path[PATH_CAP], dst_path[PATH_CAP];
    capv_registry *src = tu_registry_open(in_dir(src_path, "src.sqlite"), CAPV_REGISTRY_CREATE);
    fill(src, 0, 3);
    capv_registry_close(src);
    exec_sql(src_path, "UPDATE entries SET proof_key = randomblob(32) WHERE seq = 2");
    src = tu_registry_open(src_path, 0);
    capv_registry *dst = tu_registry_open(in_dir(dst_path, "dst.sqlite"), CAPV_REGISTRY_CREATE);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_copy(NULL, dst, src, NULL, NULL, &err), CAPV_E_MISMATCH);
    ck_assert_msg(strstr(err.message, "look-up keys that are not its hashes") != NULL, "%s",
                  err.message);
    capv_registry_close(dst);
    capv_registry_close(src);
    ck_assert_int_eq(q_int(dst_path, "SELECT count(*) FROM entries"), 0);
}
END_TEST

START_TEST(backup_restore)
{
    char path[PATH_CAP], bdir[PATH_CAP], tmp[PATH_CAP + 64];
    int64_t now = INT64_C(1767225600000); /* 2026-01-01 */
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE;
    o.clock = tick_clock;
    o.clock_user = &now;
    capv_registry *reg = NULL;
    ck_assert_int_eq(capv_registry_open(&reg, in_dir(path, "live.sqlite"), &o, NULL), CAPV_OK);
    in_dir(bdir, "backups");
    fill(reg, 0, 40);
    capv_backup_info *b1 = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_backup(&b1, reg, bdir, 0, NULL, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    ck_assert_uint_eq(b1->entries, 40);
    ck_assert_uint_eq(b1->verifications, 40);
    ck_assert_int_eq(b1->schema_version, CAPV_REGISTRY_SCHEMA_VERSION);
    ck_assert_ptr_nonnull(strstr(b1->path, "/registry-2026"));
    ck_assert_int_eq(strcmp(b1->path + strlen(b1->path) - 8, "Z.sqlite"), 0);
    ck_assert_int_eq(strcmp(b1->sidecar_path + strlen(b1->sidecar_path) - 6, "Z.json"), 0);
    uint8_t d[32];
    file_digest(d, b1->path);
    ck_assert_str_eq(b1->sha3_256, tu_hex(d));
    /* a self-contained file: rollback journal, not WAL */
    ck_assert_int_eq(q_int(b1->path, "SELECT count(*) FROM pragma_journal_mode WHERE "
                                     "journal_mode = 'delete'"),
                     1);
    capv_backup_info *v = NULL;
    ck_assert_int_eq(capv_registry_backup_verify(&v, b1->path, &err), CAPV_OK);
    ck_assert_str_eq(v->sha3_256, b1->sha3_256);
    ck_assert_uint_eq(v->size_bytes, b1->size_bytes);
    capv_backup_info_free(v);

    /* more writes, more backups; retention keeps the newest two */
    fill(reg, 40, 50);
    capv_backup_info *b2 = NULL, *b3 = NULL;
    ck_assert_int_eq(capv_registry_backup(&b2, reg, bdir, 0, NULL, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(b2->entries, 50);
    ck_assert_int_eq(capv_registry_backup(&b3, reg, bdir, 2, NULL, NULL, NULL), CAPV_OK);
    /* the newest by instant, not by text: b3's time written as another tool might, an hour
     * behind UTC, sorts first as text below b2's */
    {
        size_t n;
        char *side = (char *)read_all(b3->sidecar_path, &n);
        side[n] = '\0';
        char *at = strstr(side, "\"created_at\": \"2026-01-01T00:");
        ck_assert_ptr_nonnull(at);
        at += strlen("\"created_at\": \"");
        char *z = strchr(at, 'Z');
        ck_assert_ptr_nonnull(z);
        FILE *f = fopen(b3->sidecar_path, "wb");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "%.*s2025-12-31T23:%.*s-01:00%s", (int)(at - side), side, (int)(z - at - 14),
                at + 14, z + 1);
        fclose(f);
        free(side);
    }
    capv_backup_list *l = NULL;
    ck_assert_int_eq(capv_registry_backup_list(&l, bdir, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_backup_list_count(l), 2);
    ck_assert_str_eq(capv_backup_list_get(l, 0)->path, b3->path);
    ck_assert_str_eq(capv_backup_list_get(l, 1)->path, b2->path);
    ck_assert_ptr_null(capv_backup_list_get(l, 2));
    capv_backup_list_free(l);
    ck_assert_int_eq(access(b1->path, F_OK), -1);
    ck_assert_int_eq(access(b1->sidecar_path, F_OK), -1);
    /* an incomplete leftover (no sidecar) is not listed */
    snprintf(tmp, sizeof tmp, "%s/registry-20990101T000000Z.sqlite", bdir);
    copy_file(b2->path, tmp);
    ck_assert_int_eq(capv_registry_backup_list(&l, bdir, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_backup_list_count(l), 2);
    capv_backup_list_free(l);
    capv_error verr = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_backup_verify(NULL, tmp, &verr), CAPV_E_NOT_FOUND);
    /* nor is one whose sidecar's created_at is no time (here: JSON that a printer without
     * escaping would splice into its output), and verifying it says why */
    {
        size_t n;
        char *side = (char *)read_all(b2->sidecar_path, &n);
        side[n] = '\0'; /* read_all leaves room for it */
        char *at = strstr(side, "\"created_at\": \"");
        ck_assert_ptr_nonnull(at);
        at += strlen("\"created_at\": \"");
        char *end = strchr(at, '"');
        char forged[4096], path_side[PATH_CAP + 64];
        snprintf(forged, sizeof forged,
                 "%.*s2099-01-01T00:00:00Z\\\",\\\"path\\\":\\\"/etc/passwd%s", (int)(at - side),
                 side, end);
        snprintf(path_side, sizeof path_side, "%s/registry-20990101T000000Z.json", bdir);
        FILE *f = fopen(path_side, "wb");
        ck_assert_ptr_nonnull(f);
        fputs(forged, f);
        fclose(f);
        free(side);
        ck_assert_int_eq(capv_registry_backup_list(&l, bdir, NULL), CAPV_OK);
        ck_assert_uint_eq(capv_backup_list_count(l), 2);
        capv_backup_list_free(l);
        ck_assert_int_eq(capv_registry_backup_verify(NULL, tmp, &verr), CAPV_E_MALFORMED);
        ck_assert_ptr_nonnull(strstr(verr.message, "created_at is not an RFC 3339 time"));
        unlink(path_side);
    }

    /* restore while the writer holds the database: refused, unless forced */
    fill(reg, 50, 55);
    ck_assert_int_eq(capv_registry_restore(NULL, path, b2->path, 0, NULL, NULL, &err), CAPV_E_BUSY);
    char *export_b2 = NULL;
    capv_registry_close(reg);

    /* tampered, truncated, missing sidecar: refused, and the database is untouched */
    uint8_t before[32], after[32];
    file_digest(before, path);
    snprintf(tmp, sizeof tmp, "%s/tampered.sqlite", bdir);
    copy_file(b2->path, tmp);
    char side[PATH_CAP + 64];
    snprintf(side, sizeof side, "%s/tampered.json", bdir);
    copy_file(b2->sidecar_path, side);
    int fd = open(tmp, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "X", 1, 3000), 1);
    close(fd);
    ck_assert_int_eq(capv_registry_restore(NULL, path, tmp, 0, NULL, NULL, &err), CAPV_E_MISMATCH);
    ck_assert_ptr_nonnull(strstr(err.message, "SHA3-256"));
    ck_assert_int_eq(truncate(tmp, 4096), 0);
    ck_assert_int_eq(capv_registry_restore(NULL, path, tmp, 0, NULL, NULL, &err), CAPV_E_MISMATCH);
    ck_assert_ptr_nonnull(strstr(err.message, "truncated"));
    unlink(side);
    ck_assert_int_eq(capv_registry_restore(NULL, path, tmp, 0, NULL, NULL, &err), CAPV_E_NOT_FOUND);
    file_digest(after, path);
    ck_assert_mem_eq(before, after, 32);
    /* no temporary copies are left behind (".live.sqlite.restore.tmp.<pid>.<random>") */
    DIR *dh = opendir(dir);
    ck_assert_ptr_nonnull(dh);
    for (struct dirent *de; (de = readdir(dh)) != NULL;)
        ck_assert_msg(strstr(de->d_name, ".tmp.") == NULL, "left behind: %s", de->d_name);
    closedir(dh);

    /* the restore drill: counts and the JSON of every entry round-trip */
    reg = open_ro(b2->path);
    export_b2 = export(reg, 0);
    capv_registry_close(reg);
    char *previous = NULL;
    ck_assert_int_eq(chmod(path, 0600), 0); /* the restored file takes the live one's mode */
    ck_assert_msg(capv_registry_restore(&previous, path, b2->path, 0, NULL, NULL, &err) == CAPV_OK,
                  "%s", err.message);
    ck_assert_ptr_nonnull(previous);
    ck_assert_ptr_nonnull(strstr(previous, ".pre-restore-"));
    struct stat restored;
    ck_assert_int_eq(stat(path, &restored), 0);
    ck_assert_uint_eq(restored.st_mode & 0777, 0600);
    reg = tu_registry_open(path, 0);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 50);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 50);
    char *export_now = export(reg, 0);
    ck_assert_str_eq(export_now, export_b2);
    capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
    ck_assert_int_eq(capv_registry_check(&r, reg, NULL, NULL, NULL, NULL, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(r.problems, 0);
    capv_registry_close(reg);
    /* the previous database is intact, with the writes made after the backup */
    reg = open_ro(previous);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 55);
    capv_registry_close(reg);
    capv_free(previous);

    /* forced while a writer holds it */
    reg = tu_registry_open(path, 0);
    ck_assert_int_eq(
        capv_registry_restore(&previous, path, b3->path, CAPV_RESTORE_FORCE, NULL, NULL, &err),
        CAPV_OK);
    capv_registry_close(reg);
    capv_free(previous);
    reg = open_ro(path);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 50);
    capv_registry_close(reg);
    /* forced, and the WAL cannot follow the kept database (a directory holds the name it would
     * take): refused, and nothing is left behind, no second name of the database above all
     * (the daemon refuses a database file with two names) */
    reg = tu_registry_open(path, 0);
    fill(reg, 300, 303);
    snprintf(tmp, sizeof tmp, "%s-wal", path);
    ck_assert_int_eq(access(tmp, F_OK), 0);
    int64_t t0 = (int64_t)time(NULL) * 1000;
    for (int sec = -1; sec <= 10; sec++) {
        char stamp[CAPV_RFC3339_SIZE], compact[20];
        capv_rfc3339_format(stamp, t0 + sec * 1000);
        size_t k = 0;
        for (const char *p = stamp; *p && k + 1 < sizeof compact; p++)
            if (*p != '-' && *p != ':')
                compact[k++] = *p;
        compact[k] = '\0';
        for (int i = 0; i <= 5; i++) {
            if (i == 0)
                snprintf(tmp, sizeof tmp, "%s.pre-restore-%s-wal", path, compact);
            else
                snprintf(tmp, sizeof tmp, "%s.pre-restore-%s-%d-wal", path, compact, i);
            ck_assert(mkdir(tmp, 0700) == 0 || errno == EEXIST);
        }
    }
    size_t kept_before = pre_restore_files(dir);
    ck_assert_int_eq(
        capv_registry_restore(&previous, path, b3->path, CAPV_RESTORE_FORCE, NULL, NULL, &err),
        CAPV_E_IO);
    ck_assert_msg(strstr(err.message, "cannot move") != NULL, "%s", err.message);
    ck_assert_uint_eq(pre_restore_files(dir), kept_before);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq(sb.st_nlink, 1);
    snprintf(tmp, sizeof tmp, "%s-wal", path);
    ck_assert_int_eq(access(tmp, F_OK), 0);
    fill(reg, 303, 305); /* the open handle writes on */
    capv_registry_close(reg);
    reg = tu_registry_open(path, 0);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 55);
    capv_registry_close(reg);
    remove_pre_restore_dirs(dir);
    /* restoring into a place with no database yet */
    snprintf(tmp, sizeof tmp, "%s/fresh.sqlite", dir);
    ck_assert_int_eq(capv_registry_restore(&previous, tmp, b3->path, 0, NULL, NULL, &err), CAPV_OK);
    ck_assert_ptr_null(previous);
    reg = tu_registry_open(tmp, 0);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 50);
    /* a place whose database is gone but whose WAL is left (a writer killed, its file moved
     * away): refused, naming the WAL, which stays; SQLite would replay it into the restored
     * file */
    char wal[PATH_CAP + 80], kept[PATH_CAP + 80];
    snprintf(wal, sizeof wal, "%s-wal", tmp);
    snprintf(kept, sizeof kept, "%s/kept-wal", dir);
    fill(reg, 100, 105);
    copy_file(wal, kept); /* its frames, as a kill would leave them */
    capv_registry_close(reg);
    ck_assert_int_eq(unlink(tmp), 0);
    unlink(wal);
    copy_file(kept, wal);
    ck_assert_int_eq(capv_registry_restore(&previous, tmp, b3->path, 0, NULL, NULL, &err),
                     CAPV_E_BUSY);
    ck_assert_ptr_nonnull(strstr(err.message, "fresh.sqlite-wal' is left from a database"));
    ck_assert_int_eq(access(tmp, F_OK), -1);
    ck_assert_int_eq(access(wal, F_OK), 0);
    /* so is creating a registry there (registry init, copy into a new file): the WAL's
     * commits would become the new registry's */
    capv_registry_options co = CAPV_REGISTRY_OPTIONS_INIT;
    co.flags = CAPV_REGISTRY_CREATE;
    capv_registry *fresh = (capv_registry *)&fresh;
    ck_assert_int_eq(capv_registry_open(&fresh, tmp, &co, &err), CAPV_E_BUSY);
    ck_assert_ptr_nonnull(strstr(err.message, "fresh.sqlite-wal' is left from a database"));
    ck_assert_ptr_nonnull(strstr(err.message, "replay it into the new one"));
    ck_assert_ptr_null(fresh);
    ck_assert_int_eq(access(tmp, F_OK), -1);
    ck_assert_int_eq(access(wal, F_OK), 0);
    /* moved away: restored, with the backup's rows alone */
    ck_assert_int_eq(unlink(wal), 0);
    ck_assert_int_eq(capv_registry_restore(&previous, tmp, b3->path, 0, NULL, NULL, &err), CAPV_OK);
    reg = tu_registry_open(tmp, 0);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 50);
    capv_registry_close(reg);

    free(export_b2);
    free(export_now);
    capv_backup_info_free(b1);
    capv_backup_info_free(b2);
    capv_backup_info_free(b3);
}
END_TEST

/* A progress callback that puts a directory where the backup's sidecar is to go, once the
 * copy has begun (the name is the temporary file's without its leading dot and suffix): the
 * sidecar then cannot be written. */
static void block_sidecar(void *user, uint64_t done, uint64_t total)
{
    (void)done;
    (void)total;
    const char *bdir = user;
    DIR *dh = opendir(bdir);
    ck_assert_ptr_nonnull(dh);
    for (struct dirent *de; (de = readdir(dh)) != NULL;) {
        const char *dot = strstr(de->d_name, ".sqlite");
        if (strncmp(de->d_name, ".registry-", 10) != 0 || dot == NULL)
            continue;
        char side[PATH_CAP + 300];
        snprintf(side, sizeof side, "%s/%.*s.json", bdir, (int)(dot - de->d_name - 1),
                 de->d_name + 1);
        ck_assert(mkdir(side, 0700) == 0 || errno == EEXIST);
    }
    closedir(dh);
}

/* The backup's progress callback: while the backup is copied (under a hidden temporary
 * name, ".<final name>.tmp.<pid>.<random>"), another backup takes the final name, as one of
 * another process in the same second would. */
struct taken {
    char dir[PATH_CAP], name[PATH_CAP + 64];
};

static void name_taken(void *user, uint64_t done, uint64_t total)
{
    (void)done;
    (void)total;
    struct taken *t = user;
    if (t->name[0] != '\0')
        return;
    DIR *d = opendir(t->dir);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        const char *tail = strstr(de->d_name, ".sqlite.tmp.");
        if (strncmp(de->d_name, ".registry-", 10) == 0 && tail != NULL) {
            snprintf(t->name, sizeof t->name, "%s/%.*s.sqlite", t->dir,
                     (int)(tail - de->d_name - 1), de->d_name + 1);
            break;
        }
    }
    closedir(d);
    ck_assert(t->name[0] != '\0');
    FILE *f = fopen(t->name, "wbx");
    ck_assert_ptr_nonnull(f);
    fputs("another backup", f);
    fclose(f);
}

/* A backup never replaces one that took its name meanwhile: it takes the next free name. */
START_TEST(backup_name_taken_meanwhile)
{
    char path[PATH_CAP];
    struct taken t = { "", "" };
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE;
    capv_registry *reg = NULL;
    ck_assert_int_eq(capv_registry_open(&reg, in_dir(path, "taken.sqlite"), &o, NULL), CAPV_OK);
    fill(reg, 0, 20);
    in_dir(t.dir, "taken-backups");
    capv_backup_options bo = CAPV_BACKUP_OPTIONS_INIT;
    bo.progress = name_taken;
    bo.progress_user = &t;
    capv_backup_info *b = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_backup_with(&b, reg, t.dir, &bo, &err) == CAPV_OK, "%s",
                  err.message);
    ck_assert(t.name[0] != '\0');
    ck_assert_str_ne(b->path, t.name);
    ck_assert_int_eq(strcmp(b->path + strlen(b->path) - 9, "-1.sqlite"), 0);
    size_t n = 0;
    char *left = (char *)read_all(t.name, &n);
    ck_assert_uint_eq(n, 14);
    ck_assert_int_eq(memcmp(left, "another backup", 14), 0);
    free(left);
    capv_backup_info *v = NULL;
    ck_assert_msg(capv_registry_backup_verify(&v, b->path, &err) == CAPV_OK, "%s", err.message);
    capv_backup_info_free(v);
    capv_backup_info_free(b);
    capv_registry_close(reg);
}
END_TEST

/* A backup whose sidecar cannot be written leaves no file behind: without its sidecar no
 * listing shows it and no retention prunes it. */
START_TEST(backup_without_sidecar_removed)
{
    char path[PATH_CAP], bdir[PATH_CAP];
    capv_registry *reg = tu_registry_open(in_dir(path, "side.sqlite"), CAPV_REGISTRY_CREATE);
    fill(reg, 0, 20);
    ck_assert_int_eq(mkdir(in_dir(bdir, "side-backups"), 0700), 0);
    capv_backup_info *b = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_ne(capv_registry_backup(&b, reg, bdir, 0, block_sidecar, bdir, &err), CAPV_OK);
    ck_assert_ptr_null(b);
    DIR *dh = opendir(bdir);
    ck_assert_ptr_nonnull(dh);
    int files = 0;
    for (struct dirent *de; (de = readdir(dh)) != NULL;) {
        size_t n = strlen(de->d_name);
        ck_assert_msg(n < 7 || strcmp(de->d_name + n - 7, ".sqlite") != 0, "left behind: %s (%s)",
                      de->d_name, err.message);
        files += de->d_name[0] != '.';
    }
    closedir(dh);
    ck_assert_int_eq(files, 1); /* the planted directory alone */
    capv_registry_close(reg);
}
END_TEST

/* ---- the verifier on a SQLite registry ------------------------------------------------- */

START_TEST(verifier_sqlite_registry)
{
    char path[PATH_CAP], json_path[PATH_CAP];
    size_t len;
    uint8_t *zip = tu_read(tu_shared_dir(), "peer/packages/webui-legacy.zip", &len);
    capv_verifier *v = NULL;
    capv_report *rep = NULL;
    ck_assert_int_eq(capv_verifier_new(&v, NULL), CAPV_OK);
    ck_assert_int_eq(capv_verify_zip_memory(&rep, v, zip, len, NULL, NULL), CAPV_OK);
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    char mh[67], ph[67];
    snprintf(mh, sizeof mh, "%s", capv_report_manifest_hash(rep));
    snprintf(ph, sizeof ph, "%s", capv_report_proof_hash(rep));
    capv_report_free(rep);
    e.manifest_hash = mh;
    e.proof_hash = ph;
    e.id = "webui";
    capv_signing_key *k = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&k, NULL), CAPV_OK);
    capv_registry *w = tu_registry_open(in_dir(path, "r.sqlite"), CAPV_REGISTRY_CREATE);
    capv_registry_set_signing_key(w, k);
    ck_assert_int_eq(capv_registry_add(NULL, w, &e, NULL), CAPV_OK);
    capv_registry_close(w);

    static const struct {
        bool trusted;
        bool tamper;
        capv_check_status want;
    } cases[] = { { false, false, CAPV_CHECK_WARN },
                  { true, false, CAPV_CHECK_PASS },
                  { true, true, CAPV_CHECK_FAIL } };
    for (size_t i = 0; i < 3; i++) {
        if (cases[i].tamper)
            exec_sql(path, "UPDATE entries SET timestamp_file = 'x' WHERE id = 'webui'");
        if (cases[i].trusted) {
            capv_trust_store *ts = NULL;
            uint8_t pub[32];
            capv_signing_key_public(pub, k);
            ck_assert_int_eq(capv_trust_store_new(&ts, NULL), CAPV_OK);
            ck_assert_int_eq(capv_trust_store_add(ts, pub, "registry", NULL), CAPV_OK);
            capv_verifier_take_trust_store(v, ts);
        }
        capv_error err = CAPV_ERROR_INIT;
        ck_assert_msg(capv_verifier_load_registry(v, path, &err) == CAPV_OK, "%s", err.message);
        ck_assert_int_eq(capv_registry_is_read_only(capv_verifier_registry(v)), 1);
        ck_assert_int_eq(capv_verify_zip_memory(&rep, v, zip, len, NULL, NULL), CAPV_OK);
        const capv_check *c = capv_report_find_check(rep, "registry");
        ck_assert_msg(capv_check_status_of(c) == cases[i].want, "case %zu: %s", i,
                      capv_check_message(c));
        ck_assert_ptr_nonnull(strstr(capv_check_details(c), "\"entry_id\":\"webui\""));
        capv_report_free(rep);
    }
    /* a JSON registry is still a JSON registry */
    capv_registry *r = open_ro(path);
    membuf m = { NULL, 0 };
    ck_assert_int_eq(
        capv_registry_export_json(r, CAPV_REGISTRY_EXPORT_PRETTY, mem_write, &m, NULL, NULL, NULL),
        CAPV_OK);
    capv_registry_close(r);
    FILE *f = fopen(in_dir(json_path, "r.json"), "w");
    fputs("\n  ", f);
    fputs(m.data, f);
    fclose(f);
    free(m.data);
    ck_assert_int_eq(capv_verifier_load_registry(v, json_path, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_is_read_only(capv_verifier_registry(v)), 0); /* in memory */
    ck_assert_str_eq(capv_registry_path(capv_verifier_registry(v)), "");
    ck_assert_int_eq(capv_verify_zip_memory(&rep, v, zip, len, NULL, NULL), CAPV_OK);
    ck_assert_int_eq(capv_check_status_of(capv_report_find_check(rep, "registry")),
                     CAPV_CHECK_FAIL); /* the tampered entry, exported as it is */
    capv_report_free(rep);
    /* a registry that is not there, or needs migrating, is an error, not a verdict */
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_verifier_load_registry(v, in_dir(json_path, "none.sqlite"), &err),
                     CAPV_E_NOT_FOUND);
    char peer[PATH_CAP];
    snprintf(peer, sizeof peer, "%s/peer/registry/empty_registry_v1.sqlite", tu_shared_dir());
    copy_file(peer, in_dir(json_path, "peer.sqlite"));
    ck_assert_int_eq(capv_verifier_load_registry(v, json_path, &err), CAPV_E_STATE);
    capv_verifier_set_registry(v, NULL);
    ck_assert_ptr_null(capv_verifier_registry(v));
    capv_verifier_free(v);
    capv_signing_key_free(k);
    free(zip);
}
END_TEST

/* ---- storage faults --------------------------------------------------------------------- */

/* Every SQLite code that means "the disk failed" is CAPV_E_STORAGE with its reason, whatever
 * the operation; the rest keep their own statuses. */
START_TEST(storage_error_mapping)
{
    static const struct {
        int rc;
        capv_status want;
        const char *reason;
    } cases[] = {
        { SQLITE_CORRUPT, CAPV_E_STORAGE, "database is corrupt" },
        { SQLITE_CORRUPT_INDEX, CAPV_E_STORAGE, "database is corrupt" },
        { SQLITE_NOTADB, CAPV_E_STORAGE, "database is corrupt" },
        { SQLITE_READONLY, CAPV_E_STORAGE, "database is read-only" },
        { SQLITE_READONLY_DBMOVED, CAPV_E_STORAGE, "database is read-only" },
        { SQLITE_READONLY_ROLLBACK, CAPV_E_STORAGE, "database is read-only" },
        { SQLITE_READONLY_CANTINIT, CAPV_E_STORAGE, "database is read-only" },
        { SQLITE_READONLY_DIRECTORY, CAPV_E_STORAGE, "database is read-only" },
        { SQLITE_FULL, CAPV_E_STORAGE, "disk is full" },
        { SQLITE_IOERR, CAPV_E_STORAGE, "I/O error" },
        { SQLITE_IOERR_WRITE, CAPV_E_STORAGE, "I/O error" },
        { SQLITE_IOERR_FSYNC, CAPV_E_STORAGE, "I/O error" },
        { SQLITE_IOERR_SHORT_READ, CAPV_E_STORAGE, "I/O error" },
        { SQLITE_CANTOPEN, CAPV_E_STORAGE, "I/O error" },
        { SQLITE_IOERR_NOMEM, CAPV_E_NOMEM, NULL },
        { SQLITE_NOMEM, CAPV_E_NOMEM, NULL },
        { SQLITE_BUSY, CAPV_E_BUSY, NULL },
        { SQLITE_LOCKED, CAPV_E_BUSY, NULL },
        { SQLITE_CONSTRAINT_UNIQUE, CAPV_E_CONFLICT, NULL },
        { SQLITE_ERROR, CAPV_E_IO, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = capvi_reg_sqlite_error(NULL, cases[i].rc, "recording", &err);
        ck_assert_msg(st == cases[i].want, "sqlite %d → %d, want %d", cases[i].rc, st,
                      cases[i].want);
        ck_assert_int_eq(err.code, st);
        if (cases[i].reason != NULL) {
            ck_assert_msg(strstr(err.message, cases[i].reason) != NULL, "sqlite %d: %s",
                          cases[i].rc, err.message);
            ck_assert_ptr_nonnull(strstr(err.message, "recording: "));
        }
    }
    /* SQLite reports a write refused by the file system as an I/O error: errno says why */
    ck_assert_str_eq(capvi_reg_storage_reason(SQLITE_IOERR_WRITE, EROFS), "database is read-only");
    ck_assert_str_eq(capvi_reg_storage_reason(SQLITE_IOERR_WRITE, ENOSPC), "disk is full");
    ck_assert_str_eq(capvi_reg_storage_reason(SQLITE_IOERR_FSYNC, EDQUOT), "disk is full");
    ck_assert_str_eq(capvi_reg_storage_reason(SQLITE_CANTOPEN, EROFS), "database is read-only");
    ck_assert_str_eq(capvi_reg_storage_reason(SQLITE_IOERR_FSYNC, EIO), "I/O error");
    ck_assert_str_eq(capvi_reg_storage_reason(SQLITE_FULL, 0), "disk is full");
    ck_assert_ptr_null(capvi_reg_storage_reason(SQLITE_IOERR_NOMEM, 0));
    ck_assert_ptr_null(capvi_reg_storage_reason(SQLITE_CONSTRAINT, EROFS));
    ck_assert_int_eq(capv_status_class_of(CAPV_E_STORAGE), CAPV_CLASS_UNAVAILABLE);
}
END_TEST

/* Overwrites `n` bytes at `offset` of a file with `byte`. */
static void clobber(const char *path, off_t offset, size_t n, int byte)
{
    uint8_t junk[4096];
    ck_assert_uint_le(n, sizeof junk);
    memset(junk, byte, n);
    int fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, junk, n, offset), (ssize_t)n);
    close(fd);
}

static void record_n(capv_registry *reg, const char *tag, int n, const char *verified_at,
                     const char *report)
{
    char rid[64];
    for (int i = 0; i < n; i++) {
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        snprintf(rid, sizeof rid, "%s-%d", tag, i);
        v.request_id = rid;
        v.result = "ok";
        v.verified_at = verified_at;
        v.report_json = report;
        capv_error err = CAPV_ERROR_INIT;
        ck_assert_msg(capv_registry_record(NULL, reg, &v, &err) == CAPV_OK, "%s: %s", rid,
                      err.message);
    }
}

START_TEST(corrupt_files)
{
    char path[PATH_CAP], detail[256];
    capv_registry *reg = tu_registry_open(in_dir(path, "c.sqlite"), CAPV_REGISTRY_CREATE);
    record_n(reg, "c", 300, "2026-01-01T00:00:00Z",
             "{\"result\":\"ok\",\"padding\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}");
    capv_registry_close(reg); /* checkpointed: everything is in the main file */
    char copy[PATH_CAP];
    copy_file(path, in_dir(copy, "header.sqlite"));

    /* the header overwritten: not a database at all */
    clobber(copy, 0, 16, 'Z');
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_open(&reg, copy, NULL, &err), CAPV_E_STORAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "header.sqlite' is not a valid registry database: "
                                              "file is not a database"));
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_READ_ONLY;
    ck_assert_int_eq(capv_registry_open(&reg, copy, &o, &err), CAPV_E_STORAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "not a valid registry database"));

    /* a page of the verifications table overwritten: the read-write open's quick_check
     * finds it, with its first complaint in the message */
    int64_t root = q_int(path, "SELECT rootpage FROM sqlite_master WHERE name = "
                               "'verifications'");
    int64_t page = q_int(path, "PRAGMA page_size");
    ck_assert_int_gt(root, 1);
    clobber(path, (off_t)((root - 1) * page), 64, 0xff);
    ck_assert_int_eq(capv_registry_open(&reg, path, NULL, &err), CAPV_E_STORAGE);
    ck_assert_msg(strstr(err.message, "c.sqlite' is corrupt: ") != NULL, "%s", err.message);
    /* a read-only open runs no quick_check; the damage shows when it is read: a storage
     * fault, which the health reports until a read works again */
    reg = open_ro(path);
    ck_assert_int_eq(health(reg, detail), CAPV_OK);
    ck_assert_str_eq(detail, "");
    capv_registry_verification *got = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "c-7", &err), CAPV_E_STORAGE);
    ck_assert_msg(strstr(err.message, "database is corrupt") != NULL, "%s", err.message);
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "c-8", NULL), CAPV_E_STORAGE);
    ck_assert_int_eq(health(reg, detail), CAPV_E_STORAGE);
    ck_assert_msg(strstr(detail, "database is corrupt") != NULL, "%s", detail);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_STORAGE_FAULTS), 2);
    /* the check says what is wrong: integrity problems are storage problems */
    capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
    seen s = { 0, "", CAPV_OK };
    capv_status cst = capv_registry_check(&r, reg, NULL, on_problem, &s, NULL, NULL, &err);
    ck_assert_msg(cst == CAPV_OK, "%d %s", cst, err.message);
    ck_assert_int_eq(r.integrity_ok, 0);
    ck_assert_uint_ge(r.problems, 1);
    ck_assert_int_eq(s.code, CAPV_E_STORAGE);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 0);
    ck_assert_int_eq(health(reg, detail), CAPV_OK);
    capv_registry_close(reg);
    ck_assert_int_eq(health(NULL, detail), CAPV_E_INVALID_ARG);
    ck_assert_str_eq(detail, "NULL argument");
}
END_TEST

/* A read-write open of a file this process cannot write fails at once ("read-only"), instead
 * of every later write failing; and the health notices a file that stops being writable. The
 * permission checks do not apply to root, so as root the case runs in a child that has
 * dropped to the "nobody" user. */
static int read_only_case(const char *ro_file, const char *ro_path, const char *rw_path)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_registry *reg = NULL;
    /* a file it cannot write, in a directory it can */
    if (capv_registry_open(&reg, ro_file, NULL, &err) != CAPV_E_STORAGE ||
        strstr(err.message, "is read-only: this process cannot write it") == NULL) {
        fprintf(stderr, "read-only file: %s\n", err.message);
        capv_registry_close(reg);
        return 8;
    }
    /* and in a directory it cannot write either */
    if (capv_registry_open(&reg, ro_path, NULL, &err) != CAPV_E_STORAGE ||
        strstr(err.message, "is read-only") == NULL) {
        fprintf(stderr, "read-only open: %s\n", err.message);
        capv_registry_close(reg);
        return 1;
    }
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE;
    char other[PATH_CAP];
    snprintf(other, sizeof other, "%s.new", ro_path); /* in the read-only directory */
    if (capv_registry_open(&reg, other, &o, &err) != CAPV_E_STORAGE ||
        strstr(err.message, "is read-only") == NULL) {
        fprintf(stderr, "create in a read-only directory: %s\n", err.message);
        capv_registry_close(reg);
        return 2;
    }
    if (capv_registry_open(&reg, rw_path, NULL, &err) != CAPV_OK) {
        fprintf(stderr, "writable open: %s\n", err.message);
        return 3;
    }
    char detail[256];
    int rc = 0;
    if (health(reg, detail) != CAPV_OK)
        rc = 4;
    else if (chmod(rw_path, 0444) != 0)
        rc = 5;
    else if (health(reg, detail) != CAPV_E_STORAGE ||
             strstr(detail, "database is read-only") == NULL)
        rc = 6;
    else if (chmod(rw_path, 0644) != 0 || health(reg, detail) != CAPV_OK)
        rc = 7;
    if (rc != 0)
        fprintf(stderr, "health case %d: %s\n", rc, detail);
    capv_registry_close(reg);
    return rc;
}

START_TEST(read_only_file)
{
    char sub[PATH_CAP], ro_path[PATH_CAP], rw_dir[PATH_CAP], rw_path[PATH_CAP];
    char f_dir[PATH_CAP], ro_file[PATH_CAP];
    ck_assert_int_eq(mkdir(in_dir(sub, "ro"), 0755), 0);
    ck_assert_int_eq(mkdir(in_dir(rw_dir, "rw"), 0755), 0);
    ck_assert_int_eq(mkdir(in_dir(f_dir, "rofile"), 0755), 0);
    in_dir(ro_path, "ro/r.sqlite");
    in_dir(rw_path, "rw/r.sqlite");
    in_dir(ro_file, "rofile/r.sqlite");
    capv_registry_close(tu_registry_open(ro_path, CAPV_REGISTRY_CREATE));
    capv_registry_close(tu_registry_open(rw_path, CAPV_REGISTRY_CREATE));
    capv_registry_close(tu_registry_open(ro_file, CAPV_REGISTRY_CREATE));
    ck_assert_int_eq(chmod(ro_file, 0444), 0);
    ck_assert_int_eq(chmod(ro_path, 0444), 0);
    ck_assert_int_eq(chmod(sub, 0555), 0);
    if (geteuid() != 0) {
        ck_assert_int_eq(read_only_case(ro_file, ro_path, rw_path), 0);
    } else {
        /* the directories and files must be usable by the unprivileged child */
        ck_assert_int_eq(chmod(dir, 0755), 0);
        ck_assert_int_eq(chown(f_dir, 65534, 65534), 0);
        ck_assert_int_eq(chown(rw_dir, 65534, 65534), 0);
        ck_assert_int_eq(chown(rw_path, 65534, 65534), 0);
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(77);
            _exit(read_only_case(ro_file, ro_path, rw_path));
        }
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77)
            fprintf(stderr, "registry read_only_file: SKIPPED as root: cannot drop to uid "
                            "65534 here, so file permissions cannot be tested\n");
        else
            ck_assert_msg(WEXITSTATUS(status) == 0, "read-only case %d failed",
                          WEXITSTATUS(status));
    }
    /* a reader needs no write access */
    capv_registry *reg = open_ro(ro_path);
    ck_assert_int_eq(health(reg, NULL), CAPV_OK);
    capv_registry_close(reg);
    ck_assert_int_eq(chmod(sub, 0755), 0); /* so the fixture can remove it */
}
END_TEST

/* A full disk: inserts fail with SQLITE_FULL, which is CAPV_E_STORAGE "disk is full" and
 * shows in the health until a write succeeds again. max_page_count is the real limit SQLite
 * enforces when the file cannot grow. */
static void set_max_pages(capv_registry *reg, int64_t pages)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages);
    pthread_mutex_lock(&reg->wlock);
    ck_assert_int_eq(sqlite3_exec(reg->w.db, sql, NULL, NULL, NULL), SQLITE_OK);
    pthread_mutex_unlock(&reg->wlock);
}

static void disk_full_case(unsigned int flags)
{
    char path[PATH_CAP], detail[256], rid[32];
    capv_registry *reg = tu_registry_open(in_dir(path, flags ? "full-w.sqlite" : "full.sqlite"),
                                          CAPV_REGISTRY_CREATE | flags);
    record_n(reg, "before", 3, NULL, "{\"result\":\"ok\"}");
    set_max_pages(reg, q_int(path, "PRAGMA page_count") + 2);
    char *report = malloc(9000);
    ck_assert_ptr_nonnull(report);
    capv_status st = CAPV_OK;
    capv_error err = CAPV_ERROR_INIT;
    int i;
    for (i = 0; i < 50 && st == CAPV_OK; i++) {
        /* distinct reports under the cap: each is a new stored body */
        snprintf(report, 9000, "{\"result\":\"ok\",\"n\":%d,\"pad\":\"%08000d\"}", i, 0);
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        snprintf(rid, sizeof rid, "full-%d", i);
        v.request_id = rid;
        v.result = "ok";
        v.report_json = report;
        st = capv_registry_record(NULL, reg, &v, &err);
    }
    ck_assert_msg(st == CAPV_E_STORAGE, "after %d records: %d %s", i, st, err.message);
    ck_assert_msg(strstr(err.message, "disk is full") != NULL, "%s", err.message);
    ck_assert_int_eq(health(reg, detail), CAPV_E_STORAGE);
    ck_assert_msg(strstr(detail, "disk is full") != NULL, "%s", detail);
    ck_assert_uint_ge(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_STORAGE_FAULTS), 1);
    /* the failed write left nothing behind, and reads still work */
    capv_registry_verification *got = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, rid, NULL), CAPV_E_NOT_FOUND);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 3 + (uint64_t)(i - 1));
    /* room again: with the writer thread the health recovers by itself (the writer probes
     * the storage while a fault lasts: a registry that says it is not ready gets no writes);
     * without it, with the next write that succeeds */
    set_max_pages(reg, 1000000);
    if (flags & CAPV_REGISTRY_WRITER_THREAD) {
        struct timespec pause = { 0, 50 * 1000 * 1000 };
        for (int k = 0; k < 100 && health(reg, NULL) != CAPV_OK; k++)
            nanosleep(&pause, NULL);
        ck_assert_int_eq(health(reg, detail), CAPV_OK);
        ck_assert_int_eq(q_int(path, "SELECT count(*) FROM registry_meta WHERE key = "
                                     "'health_probe'"),
                         1);
    } else {
        ck_assert_int_eq(health(reg, detail), CAPV_E_STORAGE);
    }
    ck_assert_int_eq(capv_registry_record(NULL, reg,
                                          &(capv_registry_verification){
                                              .version = CAPV_REGISTRY_VERIFICATION_VERSION,
                                              .request_id = rid,
                                              .result = "ok",
                                              .report_json = report },
                                          &err),
                     CAPV_OK);
    ck_assert_int_eq(health(reg, detail), CAPV_OK);
    ck_assert_str_eq(detail, "");
    free(report);
    capv_registry_close(reg);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_str_eq(pragma_text(db, "PRAGMA quick_check", detail, sizeof detail), "ok");
    sqlite3_close(db);
}

START_TEST(disk_full)
{
    disk_full_case(0);
    disk_full_case(CAPV_REGISTRY_WRITER_THREAD);
}
END_TEST

START_TEST(disk_usage)
{
    char path[PATH_CAP], wal[PATH_CAP + 8];
    capv_registry *reg = tu_registry_open(in_dir(path, "u.sqlite"), CAPV_REGISTRY_CREATE);
    record_n(reg, "u", 20, NULL, "{\"result\":\"ok\"}");
    uint64_t db = 0, avail = 0;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_disk_usage(&db, &avail, reg, &err), CAPV_OK);
    struct stat a, b;
    snprintf(wal, sizeof wal, "%s-wal", path);
    ck_assert_int_eq(stat(path, &a), 0);
    uint64_t want = (uint64_t)a.st_size + (stat(wal, &b) == 0 ? (uint64_t)b.st_size : 0);
    ck_assert_uint_eq(db, want);
    ck_assert_uint_gt(db, 4096);
    struct statvfs fs;
    ck_assert_int_eq(statvfs(path, &fs), 0);
    uint64_t free_now = (uint64_t)fs.f_bavail * fs.f_frsize;
    /* the same file system a moment later: within 64 MiB */
    ck_assert_uint_le(avail > free_now ? avail - free_now : free_now - avail, 64u << 20);
    ck_assert_uint_gt(avail, 0);
    ck_assert_int_eq(capv_registry_disk_usage(NULL, NULL, reg, NULL), CAPV_OK);
    uint64_t size = 0;
    ck_assert_int_eq(capv_registry_filesystem_size(&size, reg, &err), CAPV_OK);
    ck_assert_uint_eq(size, (uint64_t)fs.f_blocks * fs.f_frsize);
    ck_assert_uint_ge(size, avail);
    ck_assert_int_eq(capv_registry_filesystem_size(NULL, reg, NULL), CAPV_E_INVALID_ARG);
    capv_registry_close(reg);
    ck_assert_int_eq(capv_registry_open(&reg, NULL, NULL, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_disk_usage(&db, &avail, reg, &err), CAPV_E_UNSUPPORTED);
    ck_assert_int_eq(capv_registry_filesystem_size(&size, reg, &err), CAPV_E_UNSUPPORTED);
    ck_assert_int_eq(health(reg, NULL), CAPV_OK);
    capv_registry_close(reg);
    ck_assert_int_eq(capv_registry_disk_usage(&db, &avail, NULL, NULL), CAPV_E_INVALID_ARG);
}
END_TEST

/* ---- report size cap, one copy per report, retention ------------------------------------ */

/* A report of `fails` failing and `warns` warning checks with long messages of two-byte
 * characters (cut points fall inside characters), in two units. Free with free(). */
static char *big_report(int fails, int warns)
{
    capv_buf b = CAPV_BUF_INIT;
    capvi_buf_puts(&b, "{\"result\":\"fail\",\"manifest_hash\":\"0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"proof_hash\":\"0xbbbbbbbbbbbbbbbbb"
                       "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"policy_hash\":null,"
                       "\"checks\":[");
    for (int i = 0; i < fails + warns; i++) {
        capvi_buf_printf(&b, "%s{\"id\":\"check.%d\",\"status\":\"%s\",\"message\":\"%s %d ",
                         i ? "," : "", i, i < fails ? "fail" : "warn",
                         i < fails ? "failed" : "warned", i);
        for (int k = 0; k < 200; k++)
            capvi_buf_puts(&b, "\xc3\xa4"); /* ä */
        capvi_buf_puts(&b, "\",\"details\":{\"unlisted\":[\"a\",\"b\"]}}");
    }
    capvi_buf_puts(&b, ",{\"id\":\"pass.1\",\"status\":\"pass\",\"message\":\"fine\"}],"
                       "\"units\":[{\"id\":\"unit_a\",\"checks\":[{\"id\":\"manifest.signature\","
                       "\"status\":\"fail\",\"message\":\"the manifest is unsigned\"}]}],"
                       "\"verified_at\":\"2026-03-01T12:00:00.250Z\"}");
    char *out = (char *)capvi_buf_take(&b, NULL);
    ck_assert_ptr_nonnull(out);
    return out;
}

static const cJSON *member_of(const cJSON *o, const char *key)
{
    const cJSON *v = capvi_json_get(o, key);
    ck_assert_msg(v != NULL, "no member %s", key);
    return v;
}

START_TEST(report_summary)
{
    char path[PATH_CAP];
    capv_registry *reg = tu_registry_open(in_dir(path, "s.sqlite"), CAPV_REGISTRY_CREATE);
    ck_assert_int_eq(capv_registry_set_max_report_bytes(reg, 1023, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_registry_set_max_report_bytes(NULL, 4096, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_registry_set_max_report_bytes(reg, 4096, NULL), CAPV_OK);
    char *big = big_report(60, 40);
    size_t len = strlen(big);
    ck_assert_uint_gt(len, 4096);
    uint8_t d[32];
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, (const uint8_t *)big, len, NULL), CAPV_OK);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_record_report_json(NULL, reg, big, len, "big-1", "t", &err) ==
                      CAPV_OK,
                  "%s", err.message);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_SUMMARIZED), 1);
    capv_registry_verification *got = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "big-1", NULL), CAPV_OK);
    ck_assert_str_eq(got->result, "fail");
    ck_assert_str_eq(got->verified_at, "2026-03-01T12:00:00.250Z");
    /* the summary: strict JSON, within the cap, naming the full report */
    size_t slen = strlen(got->report_json);
    ck_assert_uint_le(slen, 4096);
    ck_assert_uint_gt(slen, 3000); /* filled up with checks, not just the fixed part */
    cJSON *sum = NULL;
    ck_assert_int_eq(capvi_json_parse(&sum, (const uint8_t *)got->report_json, slen, &err),
                     CAPV_OK);
    ck_assert(cJSON_IsTrue(member_of(sum, "summary")));
    ck_assert_str_eq(member_of(sum, "result")->valuestring, "fail");
    ck_assert_str_eq(member_of(sum, "manifest_hash")->valuestring,
                     "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    ck_assert_ptr_nonnull(member_of(sum, "proof_hash"));
    ck_assert_ptr_null(capvi_json_get(sum, "policy_hash")); /* the report has none */
    ck_assert_str_eq(member_of(sum, "verified_at")->valuestring, "2026-03-01T12:00:00.250Z");
    int64_t n = 0;
    ck_assert_int_eq(capvi_json_get_int(&n, sum, "", "report_bytes", 0, INT64_MAX, true, NULL),
                     CAPV_OK);
    ck_assert_int_eq(n, (int64_t)len);
    ck_assert_str_eq(member_of(sum, "report_sha3_256")->valuestring, tu_hex(d));
    const cJSON *checks = member_of(sum, "checks");
    int listed = cJSON_GetArraySize(checks), warns_seen = 0;
    int64_t omitted = 0;
    ck_assert_int_eq(capvi_json_get_int(&omitted, sum, "", "checks_omitted", 0, 1000, true, NULL),
                     CAPV_OK);
    ck_assert_int_gt(listed, 0);
    ck_assert_int_gt(omitted, 0);
    ck_assert_int_eq(listed + omitted, 60 + 40 + 1); /* the unit's failure counts too */
    for (const cJSON *c = checks->child; c; c = c->next) {
        const char *status = member_of(c, "status")->valuestring;
        const char *msg = member_of(c, "message")->valuestring;
        ck_assert_uint_le(strlen(msg), 256);
        /* cut on a character boundary, and marked */
        ck_assert_str_eq(msg + strlen(msg) - 3, "\xe2\x80\xa6");
        ck_assert_int_eq(capvi_utf8_check((const uint8_t *)msg, strlen(msg), NULL), CAPV_OK);
        if (strcmp(status, "warn") == 0)
            warns_seen++;
        else /* failures come first */
            ck_assert_int_eq(warns_seen, 0);
        ck_assert(strcmp(status, "pass") != 0);
    }
    cJSON_Delete(sum);
    capv_registry_verification_free(got);
    /* one stored body, flagged as a summary, keyed by the full report's hash */
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM reports WHERE summary = 1"), 1);
    ck_assert_int_eq(q_int(path, "SELECT bytes FROM reports"), (int64_t)len);
    /* a retry is the same record even after the cap changed: reports compare by their hash */
    ck_assert_int_eq(capv_registry_set_max_report_bytes(reg, SIZE_MAX, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_record_report_json(NULL, reg, big, len, "big-1", "t", &err),
                     CAPV_E_EXISTS);
    /* one body per distinct report: the same report under another request id shares the
     * summary stored first, whatever the cap is now */
    ck_assert_int_eq(capv_registry_record_report_json(NULL, reg, big, len, "big-2", "t", &err),
                     CAPV_OK);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM reports"), 1);

    /* a small cap still holds the summary of a real report, with its failures */
    ck_assert_int_eq(
        capv_registry_set_max_report_bytes(reg, CAPV_REGISTRY_MIN_MAX_REPORT_BYTES, NULL), CAPV_OK);
    size_t zlen;
    uint8_t *zip = tu_read(tu_shared_dir(), "peer/packages/webui-legacy.zip", &zlen);
    capv_verifier *vf = NULL;
    capv_report *rep = NULL;
    ck_assert_int_eq(capv_verifier_new(&vf, NULL), CAPV_OK);
    ck_assert_int_eq(capv_verify_zip_memory(&rep, vf, zip, zlen, NULL, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_record_report(NULL, reg, rep, "real", NULL, &err), CAPV_OK);
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "real", NULL), CAPV_OK);
    ck_assert_uint_le(strlen(got->report_json), CAPV_REGISTRY_MIN_MAX_REPORT_BYTES);
    ck_assert_ptr_nonnull(strstr(got->report_json, "\"id\":\"manifest.signature\","
                                                   "\"status\":\"fail\""));
    ck_assert_ptr_nonnull(strstr(got->report_json, "\"summary\":true"));
    capv_registry_verification_free(got);
    capv_report_free(rep);
    capv_verifier_free(vf);
    free(zip);
    /* a report under the cap is stored as it is */
    ck_assert_int_eq(capv_registry_record_report_json(NULL, reg,
                                                      "{\"result\":\"ok\","
                                                      "\"verified_at\":\"2026-01-01T"
                                                      "00:00:00Z\"}",
                                                      52, "small", NULL, &err),
                     CAPV_OK);
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "small", NULL), CAPV_OK);
    ck_assert_str_eq(got->report_json,
                     "{\"result\":\"ok\",\"verified_at\":\"2026-01-01T00:00:00Z\"}");
    capv_registry_verification_free(got);
    /* the summary of an arbitrary JSON record (not a report): the verification's fields */
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.request_id = "odd";
    v.result = "warn";
    char *odd = malloc(3000);
    ck_assert_ptr_nonnull(odd);
    snprintf(odd, 3000, "[\"%02900d\"]", 0);
    v.report_json = odd;
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, &err), CAPV_OK);
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "odd", NULL), CAPV_OK);
    ck_assert_ptr_nonnull(strstr(got->report_json, "\"result\":\"warn\""));
    ck_assert_ptr_nonnull(strstr(got->report_json, "\"checks\":[],\"checks_omitted\":0}"));
    capv_registry_verification_free(got);
    free(odd);
    /* the check verifies every stored body against its key */
    capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
    ck_assert_int_eq(capv_registry_check(&r, reg, NULL, NULL, NULL, NULL, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(r.problems, 0);
    capv_registry_close(reg);
    exec_sql(path, "UPDATE reports SET json = '{\"result\":\"fail\"}' WHERE id = (SELECT "
                   "report_id FROM verifications WHERE request_id = 'small')");
    reg = open_ro(path);
    seen s = { 0, "", CAPV_OK };
    ck_assert_int_eq(capv_registry_check(&r, reg, NULL, on_problem, &s, NULL, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(r.problems, 1);
    ck_assert_uint_eq(r.malformed, 1);
    ck_assert_int_eq(s.code, CAPV_E_MISMATCH);
    capv_registry_close(reg);
    free(big);
}
END_TEST

/* The report cache serves byte-identical JSON on a hit: forty records of it are one body. */
START_TEST(reports_stored_once)
{
    char path[PATH_CAP];
    capv_registry *reg = tu_registry_open(in_dir(path, "once.sqlite"), CAPV_REGISTRY_CREATE);
    char *big = big_report(30, 0); /* over the default cap: stored as one summary */
    static const char small[] = "{\"result\":\"ok\",\"verified_at\":\"2026-01-01T00:00:00Z\"}";
    for (int i = 0; i < 40; i++) {
        tu_record_report(reg, big, "hit", i);
        tu_record_report(reg, small, "small", i);
    }
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 80);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM reports"), 2);
    ck_assert_int_eq(q_int(path, "SELECT count(DISTINCT report_id) FROM verifications"), 2);
    capv_registry_verification *a = NULL, *b = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&a, reg, "hit-0", NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_get_verification(&b, reg, "hit-39", NULL), CAPV_OK);
    ck_assert_str_eq(a->report_json, b->report_json);
    capv_registry_verification_free(a);
    capv_registry_verification_free(b);
    ck_assert_int_eq(capv_registry_get_verification(&a, reg, "small-17", NULL), CAPV_OK);
    ck_assert_str_eq(a->report_json, small);
    capv_registry_verification_free(a);
    /* a report of the same length with other bytes is its own: remembered reports match by
     * their whole text */
    static const char other[] = "{\"result\":\"ok\",\"verified_at\":\"2026-01-02T00:00:00Z\"}";
    ck_assert_uint_eq(strlen(other), strlen(small));
    ck_assert_int_eq(
        capv_registry_record_report_json(NULL, reg, other, strlen(other), "other", NULL, NULL),
        CAPV_OK);
    ck_assert_int_eq(capv_registry_get_verification(&a, reg, "other", NULL), CAPV_OK);
    ck_assert_str_eq(a->report_json, other);
    ck_assert_str_eq(a->verified_at, "2026-01-02T00:00:00Z");
    capv_registry_verification_free(a);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM reports"), 3);
    /* the file grew by about one copy, not forty */
    capv_registry_close(reg);
    ck_assert_int_lt(q_int(path, "PRAGMA page_count") * q_int(path, "PRAGMA page_size"),
                     200 * 1024);
    free(big);
}
END_TEST

static int64_t fixed_clock(void *user)
{
    return *(int64_t *)user;
}

/* Verifications older than the cutoff go, with the report bodies only they used; entries,
 * policies, newer verifications and bodies still in use stay. */
START_TEST(prune_by_age)
{
    char path[PATH_CAP], mh[67], ph[67];
    int64_t now = INT64_C(1767225600000); /* 2026-01-01 */
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE;
    o.clock = fixed_clock;
    o.clock_user = &now;
    capv_registry *reg = NULL;
    ck_assert_int_eq(capv_registry_open(&reg, in_dir(path, "p.sqlite"), &o, NULL), CAPV_OK);
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.manifest_hash = hash_of(mh, "m", 1);
    e.proof_hash = hash_of(ph, "p", 1);
    ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);
    capv_registry_policy p = CAPV_REGISTRY_POLICY_INIT;
    p.policy_id = "lksg.v1";
    p.policy_version = "1.0";
    p.policy_hash = hash_of(mh, "pol", 1);
    p.ir_hash = hash_of(ph, "ir", 1);
    p.ir_json = "{}";
    ck_assert_int_eq(capv_registry_put_policy(reg, &p, NULL), CAPV_OK);
    static const char shared[] = "{\"result\":\"ok\",\"shared\":true}";
    record_n(reg, "old-shared", 5, "2024-06-01T00:00:00Z", shared);
    record_n(reg, "new-shared", 2, "2025-12-31T23:00:00+02:00", shared);
    record_n(reg, "old-own", 1, "2024-06-01T10:00:00.5Z", "{\"result\":\"ok\",\"own\":1}");
    record_n(reg, "old-none", 3, "2024-12-31T23:59:59.999Z", NULL);
    record_n(reg, "now", 2, NULL, "{\"result\":\"ok\",\"now\":1}"); /* verified_at = clock */
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM reports"), 3);
    uint64_t removed = 99;
    capv_error err = CAPV_ERROR_INIT;
    /* 2025-01-01T00:00:00Z */
    ck_assert_int_eq(capv_registry_prune(&removed, reg, INT64_C(1735689600000), &err), CAPV_OK);
    ck_assert_uint_eq(removed, 9);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 4);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 1);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_POLICIES), 1);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_PRUNED), 9);
    capv_registry_verification *got = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "old-shared-0", NULL),
                     CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "new-shared-1", NULL), CAPV_OK);
    ck_assert_str_eq(got->report_json, shared); /* still used: kept */
    capv_registry_verification_free(got);
    /* the report only old rows used is gone; no body is left unreferenced */
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM reports"), 2);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM reports WHERE id NOT IN (SELECT "
                                 "report_id FROM verifications WHERE report_id IS NOT NULL)"),
                     0);
    /* again: nothing left to remove */
    ck_assert_int_eq(capv_registry_prune(&removed, reg, INT64_C(1735689600000), &err), CAPV_OK);
    ck_assert_uint_eq(removed, 0);
    /* up to the clock's now: everything before it */
    ck_assert_int_eq(capv_registry_prune(&removed, reg, now + 1, &err), CAPV_OK);
    ck_assert_uint_eq(removed, 4);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM reports"), 0);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 1);
    capv_registry_close(reg);
    /* a reader cannot prune */
    reg = open_ro(path);
    ck_assert_int_eq(capv_registry_prune(&removed, reg, now, &err), CAPV_E_STATE);
    capv_registry_close(reg);
    ck_assert_int_eq(capv_registry_prune(&removed, NULL, now, &err), CAPV_E_INVALID_ARG);
}
END_TEST

/* Adds `n` verifications verified at `ms` straight into the file (fast), half of them
 * sharing one report body and the others with none. The registry must be closed. */
static void bulk_old(const char *path, int n, int64_t ms)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO reports (sha3, bytes, summary, json) VALUES (randomblob(32), 2, 0, "
             "'{}');"
             "WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < %d) "
             "INSERT INTO verifications (request_id, result, verified_at, verified_ms, "
             "report_id) SELECT 'bulk-' || x, 'ok', '2020-01-01T00:00:00Z', %lld, CASE WHEN x "
             "%% 2 = 0 THEN last_insert_rowid() END FROM i",
             n, (long long)ms);
    exec_sql(path, sql);
}

START_TEST(retention_writer_thread)
{
    char path[PATH_CAP];
    int64_t now = INT64_C(1767225600000); /* 2026-01-01 */
    capv_registry *reg = tu_registry_open(in_dir(path, "ret.sqlite"), CAPV_REGISTRY_CREATE);
    capv_registry_close(reg);
    bulk_old(path, 2500, INT64_C(1577836800000)); /* 2020-01-01: more than two batches */
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_WRITER_THREAD;
    o.clock = fixed_clock;
    o.clock_user = &now;
    ck_assert_int_eq(capv_registry_open(&reg, path, &o, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_set_retention(reg, -1, NULL), CAPV_E_INVALID_ARG);
    record_n(reg, "fresh", 5, NULL, "{\"result\":\"ok\",\"fresh\":1}");
    /* retention 0 (the default) keeps everything */
    struct timespec pause = { 0, 100 * 1000 * 1000 };
    nanosleep(&pause, NULL);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 2505);
    /* 90 days: the writer prunes by itself, in batches, while writes keep working */
    ck_assert_int_eq(capv_registry_set_retention(reg, INT64_C(90) * 24 * 3600 * 1000, NULL),
                     CAPV_OK);
    record_n(reg, "during", 3, NULL, NULL);
    uint64_t n = 0;
    /* the counter moves just after the commit that a reader already sees */
    for (int i = 0; i < 400 && ((n = count(reg, CAPV_REGISTRY_VERIFICATIONS)) != 8 ||
                                capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_PRUNED) < 2500);
         i++)
        nanosleep(&pause, NULL);
    ck_assert_uint_eq(n, 8);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_PRUNED), 2500);
    /* the shared old body went with its last reference; the fresh one stays */
    capv_registry_close(reg);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM reports"), 1);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM verifications WHERE request_id LIKE "
                                 "'fresh-%'"),
                     5);
}
END_TEST

/* A version 1 database (reports inline in verifications) migrates to version 2: one body
 * per distinct report, verified_ms filled, the old column gone, every report readable. */
START_TEST(migrate_reports)
{
    char path[PATH_CAP];
    in_dir(path, "v1.sqlite");
    exec_sql(path,
             "CREATE TABLE registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
             "CREATE TABLE entries (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
             "manifest_hash TEXT NOT NULL, proof_hash TEXT NOT NULL, manifest_key BLOB NOT NULL "
             "CHECK (length(manifest_key) = 32), proof_key BLOB NOT NULL CHECK "
             "(length(proof_key) = 32), timestamp_file TEXT, registered_at TEXT NOT NULL, "
             "policy_hash TEXT, signature TEXT, public_key TEXT, kid TEXT, signature_scheme "
             "TEXT, UNIQUE (manifest_key, proof_key));"
             "CREATE TABLE verifications (seq INTEGER PRIMARY KEY, request_id TEXT NOT NULL "
             "UNIQUE, subject TEXT, manifest_hash TEXT, proof_hash TEXT, policy_hash TEXT, "
             "entry_seq INTEGER REFERENCES entries (seq), result TEXT NOT NULL CHECK (result IN "
             "('ok', 'warn', 'fail')), report TEXT, verified_at TEXT NOT NULL);"
             "CREATE INDEX verifications_manifest ON verifications (manifest_hash);"
             "CREATE INDEX verifications_entry ON verifications (entry_seq);"
             "CREATE TABLE policies (seq INTEGER PRIMARY KEY, policy_id TEXT NOT NULL, "
             "policy_version TEXT NOT NULL, policy_hash TEXT NOT NULL, policy_key BLOB NOT NULL "
             "UNIQUE CHECK (length(policy_key) = 32), ir_hash TEXT NOT NULL, ir TEXT NOT NULL, "
             "created_at TEXT NOT NULL, UNIQUE (policy_id, policy_version));"
             "INSERT INTO registry_meta VALUES ('registry_version', '1.0');"
             "WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < 1200) "
             "INSERT INTO verifications (request_id, result, report, verified_at) SELECT "
             "'v-' || x, 'ok', CASE x % 3 WHEN 0 THEN NULL WHEN 1 THEN '{\"a\":1}' ELSE "
             "'{\"b\":' || (x % 7) || '}' END, '2025-0' || (1 + x % 9) || '-01T00:00:00Z' "
             "FROM i;"
             "INSERT INTO verifications (request_id, result, verified_at) VALUES ('odd', 'ok', "
             "'not a time');"
             "PRAGMA user_version = 1;");
    /* readers and NO_MIGRATE opens say what to do */
    ck_assert_int_eq(open_status(path, CAPV_REGISTRY_READ_ONLY), CAPV_E_STATE);
    ck_assert_int_eq(open_status(path, CAPV_REGISTRY_NO_MIGRATE), CAPV_E_STATE);
    capv_registry *reg = tu_registry_open(path, 0);
    ck_assert_int_eq(capv_registry_found_version(reg), 1);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 1201);
    capv_registry_verification *got = NULL;
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "v-4", NULL), CAPV_OK);
    ck_assert_str_eq(got->report_json, "{\"a\":1}");
    capv_registry_verification_free(got);
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "v-3", NULL), CAPV_OK);
    ck_assert_ptr_null(got->report_json);
    capv_registry_verification_free(got);
    ck_assert_int_eq(capv_registry_get_verification(&got, reg, "v-5", NULL), CAPV_OK);
    ck_assert_str_eq(got->report_json, "{\"b\":5}");
    capv_registry_verification_free(got);
    /* a retry of a migrated record is recognised */
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.request_id = "v-4";
    v.result = "ok";
    v.report_json = "{\"a\":1}";
    v.verified_at = "2025-05-01T00:00:00Z";
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_E_EXISTS);
    /* pruning works on migrated rows; the one without a readable time is kept */
    uint64_t removed = 0;
    ck_assert_int_eq(capv_registry_prune(&removed, reg, INT64_C(4102444800000), NULL), CAPV_OK);
    ck_assert_uint_eq(removed, 1200);
    capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
    ck_assert_int_eq(capv_registry_check(&r, reg, NULL, NULL, NULL, NULL, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(r.problems, 0);
    capv_registry_close(reg);
    ck_assert_int_eq(q_int(path, "PRAGMA user_version"), CAPV_REGISTRY_SCHEMA_VERSION);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM pragma_table_info('verifications') "
                                 "WHERE name = 'report'"),
                     0);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM reports"), 0);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM verifications WHERE verified_ms IS "
                                 "NULL"),
                     1);
}
END_TEST

/* 2 → 3 respells the CHECK on verifications.result and drops two unused indexes: the rows
 * stay, the constraint still refuses other results, the schema is what a new registry has
 * (capv_registry_check finds no other object), and the migrating handle records at once. */
START_TEST(migrate_result_check)
{
    char path[PATH_CAP], fresh[PATH_CAP];
    in_dir(path, "v2.sqlite");
    capv_registry *reg = tu_registry_open(path, CAPV_REGISTRY_CREATE);
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.request_id = "before";
    v.result = "warn";
    v.verified_at = "2026-12-01T00:00:00Z";
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    capv_registry_close(reg);
    /* back to version 2: the CHECK as version 2 spelled it */
    exec_sql(path, "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, "
                   "'CHECK (result = ''ok'' OR result = ''warn'' OR result = ''fail'')', 'CHECK "
                   "(result IN (''ok'', ''warn'', ''fail''))') WHERE name = 'verifications'; "
                   "PRAGMA schema_version = 1000; PRAGMA writable_schema = OFF; CREATE INDEX "
                   "verifications_manifest ON verifications (manifest_hash); CREATE INDEX "
                   "verifications_entry ON verifications (entry_seq); PRAGMA user_version = 2");
    ck_assert_int_eq(q_int(path, "SELECT instr(sql, 'result IN (') > 0 FROM sqlite_schema "
                                 "WHERE name = 'verifications'"),
                     1);
    ck_assert_int_eq(open_status(path, CAPV_REGISTRY_NO_MIGRATE), CAPV_E_STATE);
    reg = tu_registry_open(path, 0);
    ck_assert_int_eq(capv_registry_found_version(reg), 2);
    v.request_id = "after";
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
    ck_assert_int_eq(capv_registry_check(&r, reg, NULL, NULL, NULL, NULL, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(r.problems, 0);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_VERIFICATIONS), 2);
    capv_registry_close(reg);
    ck_assert_int_eq(q_int(path, "PRAGMA user_version"), 3);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM sqlite_schema WHERE name IN "
                                 "('verifications_manifest', 'verifications_entry')"),
                     0);
    /* the same table text as a registry created now */
    capv_registry_close(tu_registry_open(in_dir(fresh, "v3.sqlite"), CAPV_REGISTRY_CREATE));
    sqlite3 *a = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &a, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    char attach[PATH_CAP + 32];
    snprintf(attach, sizeof attach, "ATTACH '%s' AS fresh", fresh);
    ck_assert_int_eq(sqlite3_exec(a, attach, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(a,
                                        "SELECT (SELECT sql FROM main.sqlite_schema WHERE name = "
                                        "'verifications') = (SELECT sql FROM fresh.sqlite_schema "
                                        "WHERE name = 'verifications')",
                                        -1, &s, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    ck_assert_int_eq(sqlite3_prepare_v2(a, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
    /* the constraint still holds */
    ck_assert_int_eq(sqlite3_exec(a,
                                  "INSERT INTO verifications (request_id, result, verified_at) "
                                  "VALUES ('bad', 'maybe', '2026-12-01T00:00:00Z')",
                                  NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    sqlite3_close(a);
}
END_TEST

/* ---- growth: versioned structs, stale errors, front-end calls ------------------------- */

/* A report JSON of about `n` bytes (a valid one: result, verified_at and padding). */
static char *padded_report(size_t n)
{
    char *r = malloc(n + 128);
    ck_assert_ptr_nonnull(r);
    int head = snprintf(r, n + 128,
                        "{\"result\":\"ok\",\"verified_at\":\"2026-01-01T00:00:00Z\","
                        "\"pad\":\"");
    ck_assert(head > 0);
    size_t k = (size_t)head;
    while (k < n)
        r[k++] = 'x';
    memcpy(r + k, "\"}", 3);
    return r;
}

START_TEST(struct_versions)
{
    char path[PATH_CAP], mh[67], ph[67];
    capv_error err = CAPV_ERROR_INIT;
    capv_registry *reg = NULL;
    /* the options: 0 and newer than ours are refused, naming the version */
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE;
    const unsigned int bad[] = { 0, CAPV_REGISTRY_OPTIONS_VERSION + 1, 1000 };
    for (size_t i = 0; i < 3; i++) {
        o.version = bad[i];
        ck_assert_int_eq(capv_registry_open(&reg, in_dir(path, "r.sqlite"), &o, &err),
                         CAPV_E_INVALID_ARG);
        ck_assert_ptr_null(reg);
        ck_assert_str_eq(err.field, "version");
    }
    /* version 1: the fields version 2 added are not read (here they hold values that would be
     * refused), their defaults apply */
    o.version = 1;
    o.max_report_bytes = 1;
    o.retention_ms = -5;
    ck_assert_int_eq(capv_registry_open(&reg, in_dir(path, "r.sqlite"), &o, &err), CAPV_OK);
    char *big = padded_report(CAPV_REGISTRY_DEFAULT_MAX_REPORT_BYTES - 100);
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.result = "ok";
    v.report_json = big;
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_SUMMARIZED), 0);
    capv_registry_close(reg);
    /* version 2 reads them: checked, and in force from the start */
    o.version = CAPV_REGISTRY_OPTIONS_VERSION;
    ck_assert_int_eq(capv_registry_open(&reg, in_dir(path, "r.sqlite"), &o, &err),
                     CAPV_E_INVALID_ARG);
    o.max_report_bytes = 4096;
    ck_assert_int_eq(capv_registry_open(&reg, in_dir(path, "r.sqlite"), &o, &err),
                     CAPV_E_INVALID_ARG);
    o.retention_ms = 0;
    ck_assert_int_eq(capv_registry_open(&reg, in_dir(path, "r.sqlite"), &o, &err), CAPV_OK);
    free(big);
    big = padded_report(CAPV_REGISTRY_DEFAULT_MAX_REPORT_BYTES - 200); /* another report */
    v.report_json = big;
    ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_SUMMARIZED), 1);
    ck_assert_int_eq(q_int(path, "SELECT count(*) FROM reports WHERE summary = 1"), 1);
    free(big);

    /* input structs: version 0 and newer ones are refused before anything is written */
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.manifest_hash = hash_of(mh, "m", 1);
    e.proof_hash = hash_of(ph, "p", 1);
    capv_registry_policy pol = CAPV_REGISTRY_POLICY_INIT;
    pol.policy_id = "x";
    pol.policy_version = "1";
    pol.policy_hash = mh;
    pol.ir_hash = ph;
    pol.ir_json = "{}";
    for (size_t i = 0; i < 2; i++) {
        unsigned int ver = i == 0 ? 0u : 2u;
        e.version = ver;
        v.version = ver;
        pol.version = i == 0 ? 0u : CAPV_REGISTRY_POLICY_VERSION + 1;
        ck_assert_int_eq(capv_registry_add(NULL, reg, &e, &err), CAPV_E_INVALID_ARG);
        ck_assert_str_eq(err.field, "version");
        ck_assert_int_eq(capv_registry_record(NULL, reg, &v, &err), CAPV_E_INVALID_ARG);
        ck_assert_int_eq(capv_registry_put_policy(reg, &pol, &err), CAPV_E_INVALID_ARG);
        uint8_t *bytes = NULL;
        ck_assert_int_eq(capv_registry_entry_signed_bytes(&bytes, NULL, &e, &err),
                         CAPV_E_INVALID_ARG);
        ck_assert_int_eq(capv_registry_entry_verify(&e, &err), CAPV_E_INVALID_ARG);
        char *json = NULL;
        ck_assert_int_eq(capv_registry_entry_to_json(&json, NULL, &e, &err), CAPV_E_INVALID_ARG);
    }
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_ENTRIES), 0);
    ck_assert_uint_eq(count(reg, CAPV_REGISTRY_POLICIES), 0);
    pol.version = 1; /* before ir_bytes: still accepted */
    ck_assert_int_eq(capv_registry_put_policy(reg, &pol, &err), CAPV_OK);
    e.version = CAPV_REGISTRY_ENTRY_VERSION;
    ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);

    /* the check result: the caller's version says how much the library may write */
    union {
        capv_registry_check_result r;
        unsigned char bytes[sizeof(capv_registry_check_result) + 32];
    } box;
    memset(&box, 0xA5, sizeof box);
    box.r.version = 0;
    ck_assert_int_eq(capv_registry_check(&box.r, reg, NULL, NULL, NULL, NULL, NULL, &err),
                     CAPV_E_INVALID_ARG);
    box.r.version = CAPV_REGISTRY_CHECK_RESULT_VERSION + 1;
    ck_assert_int_eq(capv_registry_check(&box.r, reg, NULL, NULL, NULL, NULL, NULL, &err),
                     CAPV_E_INVALID_ARG);
    box.r.version = 1;
    ck_assert_int_eq(capv_registry_check(&box.r, reg, NULL, NULL, NULL, NULL, NULL, &err), CAPV_OK);
    ck_assert_uint_eq(box.r.version, 1);
    ck_assert(box.r.integrity_ok);
    ck_assert_uint_eq(box.r.entries, 1);
    ck_assert_uint_eq(box.r.problems, 0);
    size_t v1_size = offsetof(capv_registry_check_result, verifications);
    for (size_t i = v1_size; i < sizeof box.bytes; i++)
        ck_assert_msg(box.bytes[i] == 0xA5, "byte %zu past a version 1 result was written", i);
    /* the current version gets the fields version 2 added */
    capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
    ck_assert_int_eq(capv_registry_check(&r, reg, NULL, NULL, NULL, NULL, NULL, &err), CAPV_OK);
    ck_assert_uint_eq(r.version, CAPV_REGISTRY_CHECK_RESULT_VERSION);
    ck_assert_uint_eq(r.entries, 1);
    ck_assert_uint_eq(r.verifications, 2);
    ck_assert_uint_eq(r.reports, 2); /* one whole, one summary */
    capv_registry_close(reg);
}
END_TEST

START_TEST(page_as_json)
{
    char path[PATH_CAP], mh[3][67], ph[3][67];
    capv_registry *reg = tu_registry_open(in_dir(path, "r.sqlite"), CAPV_REGISTRY_CREATE);
    for (int i = 0; i < 3; i++) {
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        char id[16];
        snprintf(id, sizeof id, "e-%d", i);
        e.id = id;
        e.manifest_hash = hash_of(mh[i], "m", i);
        e.proof_hash = hash_of(ph[i], "p", i);
        e.registered_at = "2026-01-01T00:00:00Z";
        e.timestamp_file = i == 1 ? "proof.tsr" : NULL;
        e.policy_hash = i == 2 ? mh[0] : NULL;
        ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);
    }
    capv_registry_page *page = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_list(&page, reg, NULL, 0, 2, NULL), CAPV_OK);
    char *json = NULL, want[2048];
    size_t len = 0;
    ck_assert_int_eq(capv_registry_page_to_json(&json, &len, page, &err), CAPV_OK);
    /* the daemon's GET /registry/entries body, byte for byte */
    snprintf(want, sizeof want,
             "{\"entries\":[{\"id\":\"e-0\",\"manifest_hash\":\"%s\",\"proof_hash\":\"%s\","
             "\"timestamp_file\":null,\"registered_at\":\"2026-01-01T00:00:00Z\"},"
             "{\"id\":\"e-1\",\"manifest_hash\":\"%s\",\"proof_hash\":\"%s\","
             "\"timestamp_file\":\"proof.tsr\",\"registered_at\":\"2026-01-01T00:00:00Z\"}],"
             "\"next\":%lld}",
             mh[0], ph[0], mh[1], ph[1], (long long)capv_registry_page_next(page));
    ck_assert_str_eq(json, want);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert(capv_registry_page_next(page) > 0);
    int64_t after = capv_registry_page_next(page);
    capv_free(json);
    capv_registry_page_free(page);
    /* the last page: next is null; each entry as capv_registry_entry_to_json writes it */
    ck_assert_int_eq(capv_registry_list(&page, reg, NULL, after, 2, NULL), CAPV_OK);
    ck_assert_int_eq(capv_registry_page_to_json(&json, NULL, page, &err), CAPV_OK);
    char *one = NULL;
    ck_assert_int_eq(
        capv_registry_entry_to_json(&one, NULL, capv_registry_page_entry(page, 0), &err), CAPV_OK);
    snprintf(want, sizeof want, "{\"entries\":[%s],\"next\":null}", one);
    ck_assert_str_eq(json, want);
    ck_assert_ptr_nonnull(strstr(one, "\"policy_hash\":\""));
    capv_free(one);
    capv_free(json);
    capv_registry_page_free(page);
    /* an empty page */
    ck_assert_int_eq(capv_registry_list(&page, reg, hash_of(mh[0], "none", 0), 0, 5, NULL),
                     CAPV_OK);
    ck_assert_int_eq(capv_registry_page_to_json(&json, NULL, page, &err), CAPV_OK);
    ck_assert_str_eq(json, "{\"entries\":[],\"next\":null}");
    capv_free(json);
    json = (char *)&json;
    ck_assert_int_eq(capv_registry_page_to_json(&json, NULL, NULL, &err), CAPV_E_INVALID_ARG);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(capv_registry_page_to_json(NULL, NULL, page, &err), CAPV_E_INVALID_ARG);
    capv_registry_page_free(page);
    capv_registry_close(reg);
}
END_TEST

static capv_policy_ir *compile_vector(const char *rel)
{
    size_t len;
    uint8_t *data = tu_read(tu_shared_dir(), rel, &len);
    capv_policy *p = NULL;
    capv_policy_ir *ir = NULL;
    ck_assert_int_eq(capv_policy_parse(&p, data, len, CAPV_POLICY_FORMAT_AUTO, NULL), CAPV_OK);
    ck_assert_int_eq(capv_policy_compile(&ir, NULL, p, CAPV_POLICY_LINT_STRICT, NULL), CAPV_OK);
    capv_policy_free(p);
    free(data);
    return ir;
}

START_TEST(policy_ir_store)
{
    char path[PATH_CAP];
    capv_registry *reg = tu_registry_open(in_dir(path, "r.sqlite"), CAPV_REGISTRY_CREATE);
    capv_error err = CAPV_ERROR_INIT;
    capv_policy_ir *ir = compile_vector("peer/policy/lksg_v1.policy.yml");
    ck_assert_int_eq(capv_registry_put_policy_ir(reg, ir, &err), CAPV_OK);
    ck_assert_int_eq(capv_registry_put_policy_ir(reg, ir, &err), CAPV_E_EXISTS);
    /* stored as the front-ends stored it by hand: id, version, hashes, the pretty IR */
    capv_registry_policy *sp = NULL;
    ck_assert_int_eq(capv_registry_get_policy(&sp, reg, "lksg.v1", &err), CAPV_OK);
    ck_assert_str_eq(sp->policy_id, "lksg.v1");
    ck_assert_str_eq(sp->policy_version, "1.0");
    ck_assert_str_eq(sp->policy_hash, capv_policy_ir_policy_hash(ir));
    ck_assert_str_eq(sp->ir_hash, capv_policy_ir_hash(ir));
    ck_assert_str_eq(sp->ir_json, capv_policy_ir_json(ir, CAPV_POLICY_IR_PRETTY, NULL));
    capv_registry_policy_free(sp);
    /* loaded back, by id and by hash, with its hash checked */
    capv_policy_ir *back = NULL;
    ck_assert_int_eq(capv_registry_get_policy_ir(&back, reg, "lksg.v1", &err), CAPV_OK);
    ck_assert_str_eq(capv_policy_ir_hash(back), capv_policy_ir_hash(ir));
    capv_policy_ir_free(back);
    ck_assert_int_eq(capv_registry_get_policy_ir(&back, reg, capv_policy_ir_policy_hash(ir), &err),
                     CAPV_OK);
    ck_assert_str_eq(capv_policy_ir_policy_id(back), "lksg.v1");
    /* IR loaded from JSON does not know its policy's version */
    ck_assert_ptr_null(capv_policy_ir_policy_version(back));
    ck_assert_int_eq(capv_registry_put_policy_ir(reg, back, &err), CAPV_E_INVALID_ARG);
    ck_assert_str_eq(err.field, "policy_version");
    capv_policy_ir_free(back);
    back = (capv_policy_ir *)&back;
    ck_assert_int_eq(capv_registry_get_policy_ir(&back, reg, "other", &err), CAPV_E_NOT_FOUND);
    ck_assert_ptr_null(back);
    ck_assert_int_eq(capv_registry_put_policy_ir(reg, NULL, &err), CAPV_E_INVALID_ARG);
    capv_registry_close(reg);
    /* a store whose ir_hash column or IR text was altered is damage */
    exec_sql(path, "UPDATE policies SET ir_hash = '0x1111111111111111111111111111111111111111"
                   "111111111111111111111111'");
    reg = tu_registry_open(path, 0);
    ck_assert_int_eq(capv_registry_get_policy_ir(&back, reg, "lksg.v1", &err), CAPV_E_MISMATCH);
    ck_assert_ptr_null(back);
    capv_registry_close(reg);
    exec_sql(path, "UPDATE policies SET ir = replace(ir, 'no_sanctions', 'no_sanctionz')");
    reg = tu_registry_open(path, 0);
    ck_assert_int_eq(capv_registry_get_policy_ir(&back, reg, "lksg.v1", &err), CAPV_E_MISMATCH);
    ck_assert_ptr_null(back);
    capv_registry_close(reg);
    capv_policy_ir_free(ir);
}
END_TEST

/* An error left over from an earlier failure. */
static void stale(capv_error *err)
{
    err->code = CAPV_E_INTERNAL;
    snprintf(err->field, sizeof err->field, "stale.field");
    snprintf(err->message, sizeof err->message, "a stale message");
}

/* `st` is CAPV_OK and `err` looks as CAPV_ERROR_INIT left it. */
static void clean(capv_status st, const capv_error *err, const char *what)
{
    ck_assert_msg(st == CAPV_OK, "%s: %s (%s)", what, capv_status_name(st), err->message);
    ck_assert_msg(err->version == CAPV_ERROR_VERSION && err->code == CAPV_OK &&
                      err->field[0] == '\0' && err->message[0] == '\0',
                  "%s succeeded but left err = {%d, '%s', '%s'}", what, (int)err->code, err->field,
                  err->message);
}

#define CLEAN(call)                                                                                \
    do {                                                                                           \
        stale(&err);                                                                               \
        clean((call), &err, #call);                                                                \
    } while (0)

START_TEST(error_reset_on_success)
{
    char path[PATH_CAP], bdir[PATH_CAP], mh[67], ph[67];
    capv_error err = CAPV_ERROR_INIT;
    capv_registry *reg = NULL;
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE;
    CLEAN(capv_registry_open(&reg, in_dir(path, "r.sqlite"), &o, &err));
    capv_signing_key *key = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&key, NULL), CAPV_OK);
    capv_registry_set_signing_key(reg, key);
    CLEAN(capv_registry_set_max_report_bytes(reg, 8192, &err));
    CLEAN(capv_registry_set_retention(reg, 0, &err));
    CLEAN(capv_registry_health(reg, &err));
    uint64_t n = 0;
    CLEAN(capv_registry_disk_usage(&n, NULL, reg, &err));

    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.manifest_hash = hash_of(mh, "m", 1);
    e.proof_hash = hash_of(ph, "p", 1);
    capv_registry_entry *stored = NULL, *got = NULL;
    CLEAN(capv_registry_add(&stored, reg, &e, &err));
    CLEAN(capv_registry_entry_verify(stored, &err));
    uint8_t *bytes = NULL;
    CLEAN(capv_registry_entry_signed_bytes(&bytes, NULL, stored, &err));
    capv_free(bytes);
    char *json = NULL;
    CLEAN(capv_registry_entry_to_json(&json, NULL, stored, &err));
    CLEAN(capv_registry_entry_from_json(&got, (const uint8_t *)json, strlen(json), &err));
    capv_free(json);
    capv_registry_entry_free(got);
    CLEAN(capv_registry_get(&got, reg, stored->id, &err));
    capv_registry_entry_free(got);
    CLEAN(capv_registry_find(&got, reg, mh, ph, &err));
    capv_registry_entry_free(got);
    capv_registry_entry_free(stored);
    capv_registry_page *page = NULL;
    CLEAN(capv_registry_list(&page, reg, NULL, 0, 10, &err));
    CLEAN(capv_registry_page_to_json(&json, NULL, page, &err));
    capv_free(json);
    capv_registry_page_free(page);
    CLEAN(capv_registry_count(&n, reg, CAPV_REGISTRY_ENTRIES, &err));

    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.request_id = "r-1";
    v.result = "ok";
    CLEAN(capv_registry_record(NULL, reg, &v, &err));
    const char *report = "{\"result\":\"ok\",\"verified_at\":\"2026-01-01T00:00:00Z\"}";
    CLEAN(capv_registry_record_report_json(NULL, reg, report, strlen(report), "r-2", NULL, &err));
    capv_registry_verification *gv = NULL;
    CLEAN(capv_registry_get_verification(&gv, reg, "r-1", &err));
    capv_registry_verification_free(gv);

    capv_policy_ir *ir = compile_vector("peer/policy/lksg_v1.policy.yml");
    CLEAN(capv_registry_put_policy_ir(reg, ir, &err));
    capv_registry_policy pol = CAPV_REGISTRY_POLICY_INIT;
    pol.policy_id = "other";
    pol.policy_version = "1";
    pol.policy_hash = mh;
    pol.ir_hash = ph;
    pol.ir_json = "{}";
    CLEAN(capv_registry_put_policy(reg, &pol, &err));
    capv_registry_policy *gp = NULL;
    CLEAN(capv_registry_get_policy(&gp, reg, "lksg.v1", &err));
    capv_registry_policy_free(gp);
    capv_policy_ir *back = NULL;
    CLEAN(capv_registry_get_policy_ir(&back, reg, "lksg.v1", &err));
    capv_policy_ir_free(back);
    capv_policy_ir_free(ir);

    membuf m = { NULL, 0 };
    CLEAN(capv_registry_export_json(reg, 0, mem_write, &m, NULL, NULL, &err));
    size_t added = 0;
    CLEAN(capv_registry_import_json(&added, NULL, reg, (const uint8_t *)m.data, m.len, 0, NULL,
                                    NULL, &err));
    free(m.data);
    capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
    CLEAN(capv_registry_check(&r, reg, NULL, NULL, NULL, NULL, NULL, &err));
    uint64_t removed = 0;
    CLEAN(capv_registry_prune(&removed, reg, 0, &err));

    capv_backup_info *b = NULL;
    CLEAN(capv_registry_backup(&b, reg, in_dir(bdir, "backups"), 0, NULL, NULL, &err));
    capv_backup_info *bv = NULL;
    CLEAN(capv_registry_backup_verify(&bv, b->path, &err));
    ck_assert_uint_eq(bv->version, CAPV_BACKUP_INFO_VERSION);
    capv_backup_info_free(bv);
    capv_backup_list *list = NULL;
    CLEAN(capv_registry_backup_list(&list, bdir, &err));
    capv_backup_list_free(list);
    size_t pruned = 0;
    CLEAN(capv_registry_backup_prune(&pruned, bdir, 1, &err));
    /* a restore over a database a writer holds: the lock failure it recovers from (FORCE)
     * does not leak into a successful answer */
    char *previous = NULL;
    CLEAN(capv_registry_restore(&previous, path, b->path, CAPV_RESTORE_FORCE, NULL, NULL, &err));
    capv_free(previous);
    capv_backup_info_free(b);
    capv_registry_close(reg);
    capv_signing_key_free(key);
}
END_TEST

Suite *registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, pragmas_and_lock);
    tcase_add_test(tc, foreign_files);
    tcase_add_test(tc, peer_databases);
    tcase_add_test(tc, legacy_rows_migrate);
    tcase_add_test(tc, entry_keys_kept_by_the_writer);
    tcase_add_test(tc, wal_truncated_after_a_long_reader);
    tcase_add_test(tc, backup_while_recording);
    tcase_add_test(tc, batch_not_committed_answers_nothing);
    tcase_add_test(tc, batch_lost_while_recording_answers_storage);
    tcase_add_test(tc, records_savepoint_failure_answers_records);
    tcase_add_test(tc, add_idempotent);
    tcase_add_test(tc, signatures);
    tcase_add_test(tc, paged_listing);
    tcase_add_test(tc, verifications_and_policies);
    tcase_add_test(tc, json_round_trip);
    tcase_add_test(tc, check_tampered);
    tcase_add_test(tc, writer_thread_batches);
    tcase_add_test(tc, backup_restore);
    tcase_add_test(tc, copy_into_target_with_reports_only);
    tcase_add_test(tc, copy_refuses_keys_not_hashes);
    tcase_add_test(tc, backup_without_sidecar_removed);
    tcase_add_test(tc, backup_name_taken_meanwhile);
    tcase_add_test(tc, verifier_sqlite_registry);
    tcase_add_test(tc, storage_error_mapping);
    tcase_add_test(tc, corrupt_files);
    tcase_add_test(tc, read_only_file);
    tcase_add_test(tc, disk_full);
    tcase_add_test(tc, disk_usage);
    tcase_add_test(tc, report_summary);
    tcase_add_test(tc, reports_stored_once);
    tcase_add_test(tc, prune_by_age);
    tcase_add_test(tc, retention_writer_thread);
    tcase_add_test(tc, migrate_reports);
    tcase_add_test(tc, migrate_result_check);
    tcase_add_test(tc, struct_versions);
    tcase_add_test(tc, page_as_json);
    tcase_add_test(tc, policy_ir_store);
    tcase_add_test(tc, error_reset_on_success);
    suite_add_tcase(s, tc);
    return s;
}
