/* SPDX-License-Identifier: Apache-2.0 */
/* Registry and cache figures (docs/registry.md, "Figures"), through the public API:
 *   - recorded verifications/s through the single writer (batched, synchronous=FULL), with
 *     16 submitting threads as a daemon has them, and the unbatched rate of one caller;
 *   - look-ups/s by (manifest_hash, proof_hash) in a registry of ROWS entries, 1 and 2 threads,
 *     of pairs that have an entry and (1 thread) of pairs that have none;
 *   - online backup MB/s of that registry, idle and while the writer keeps recording;
 *   - the cost of opening it read-write (PRAGMA quick_check of the whole file) against a
 *     read-only open (none), what a writer thread's handle adds (loading the entries' keys),
 *     and verifications pruned per second;
 *   - cache get/put ops/s with 1 and 2 threads.
 * Prints "name value" lines; never passes or fails.
 *   bench_registry [ROWS (default 1000000)] [SECONDS per measurement (default 3)] */
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <capverify.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(capv_status st, const capv_error *err, const char *what)
{
    if (st != CAPV_OK) {
        fprintf(stderr, "bench_registry: %s: %s\n", what,
                err && err->message[0] ? err->message : capv_strerror(st));
        exit(1);
    }
}

static void digest_of(char out[CAPV_DIGEST_HEX_SIZE], const char *tag, long i)
{
    char in[48];
    uint8_t d[32];
    snprintf(in, sizeof in, "%s-%ld", tag, i);
    if (capv_hash(d, CAPV_HASH_SHA3_256, (const uint8_t *)in, strlen(in), NULL) != CAPV_OK)
        abort();
    capv_digest_format(out, d);
}

/* ---- fill ------------------------------------------------------------------------------ */

static void fill(capv_registry *reg, long rows)
{
    const long chunk = 100000;
    capv_error err = CAPV_ERROR_INIT;
    for (long base = 0; base < rows; base += chunk) {
        long end = base + chunk < rows ? base + chunk : rows;
        size_t cap = (size_t)(end - base) * 300 + 64, len = 0;
        char *doc = malloc(cap);
        if (doc == NULL)
            exit(1);
        len += (size_t)snprintf(doc, cap, "{\"registry_version\":\"1.0\",\"entries\":[");
        for (long i = base; i < end; i++) {
            char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
            digest_of(mh, "m", i);
            digest_of(ph, "p", i);
            len += (size_t)snprintf(doc + len, cap - len,
                                    "%s{\"id\":\"bench-%ld\",\"manifest_hash\":\"%s\","
                                    "\"proof_hash\":\"%s\",\"timestamp_file\":\"timestamp.tsr\","
                                    "\"registered_at\":\"2026-01-01T00:00:00Z\"}",
                                    i > base ? "," : "", i, mh, ph);
        }
        len += (size_t)snprintf(doc + len, cap - len, "]}");
        check(capv_registry_import_json(NULL, NULL, reg, (uint8_t *)doc, len, 0, NULL, NULL, &err),
              &err, "fill");
        free(doc);
    }
}

/* ---- recording ------------------------------------------------------------------------- */

static char report[2048];
static atomic_long next_request = 0;

typedef struct rec_job {
    capv_registry *reg;
    int id;
    double until;
    long done;
    atomic_bool *stop;
} rec_job;

static void *record_loop(void *arg)
{
    rec_job *j = arg;
    char rid[64], mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    capv_error err = CAPV_ERROR_INIT;
    for (long i = 0;; i++) {
        if ((i & 15) == 0 && (now_s() >= j->until || (j->stop && atomic_load(j->stop))))
            break;
        snprintf(rid, sizeof rid, "bench-%d-%ld", j->id, atomic_fetch_add(&next_request, 1));
        digest_of(mh, "m", i);
        digest_of(ph, "p", i);
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        v.request_id = rid;
        v.subject = "bench";
        v.manifest_hash = mh;
        v.proof_hash = ph;
        v.result = "ok";
        v.report_json = report;
        check(capv_registry_record(NULL, j->reg, &v, &err), &err, "record");
        j->done++;
    }
    return NULL;
}

static double record_rate(capv_registry *reg, int threads, double seconds, atomic_bool *stop)
{
    pthread_t t[64];
    rec_job j[64];
    double start = now_s();
    for (int i = 0; i < threads; i++) {
        j[i] = (rec_job){ reg, i, start + seconds, 0, stop };
        pthread_create(&t[i], NULL, record_loop, &j[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += j[i].done;
    }
    return (double)total / (now_s() - start);
}

/* ---- look-ups -------------------------------------------------------------------------- */

typedef struct find_job {
    capv_registry *reg;
    long rows;
    bool missing; /* the manifest of one entry with the proof of the next: no entry */
    double until;
    long done;
    unsigned int seed;
} find_job;

static void *find_loop(void *arg)
{
    find_job *j = arg;
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    for (long i = 0;; i++) {
        if ((i & 63) == 0 && now_s() >= j->until)
            break;
        j->seed = j->seed * 1103515245u + 12345u;
        long k = (long)((j->seed >> 4) % (unsigned long)j->rows);
        digest_of(mh, "m", k);
        digest_of(ph, "p", j->missing ? k + 1 : k);
        capv_registry_entry *e = NULL;
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = capv_registry_find(&e, j->reg, mh, ph, &err);
        if (j->missing && st == CAPV_E_NOT_FOUND)
            st = CAPV_OK;
        else if (j->missing && st == CAPV_OK)
            st = CAPV_E_INTERNAL;
        check(st, &err, "find");
        capv_registry_entry_free(e);
        j->done++;
    }
    return NULL;
}

static double find_rate(capv_registry *reg, long rows, bool missing, int threads, double seconds)
{
    pthread_t t[8];
    find_job j[8];
    double start = now_s();
    for (int i = 0; i < threads; i++) {
        j[i] = (find_job){ reg, rows, missing, start + seconds, 0, 77u * (unsigned int)(i + 1) };
        pthread_create(&t[i], NULL, find_loop, &j[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += j[i].done;
    }
    return (double)total / (now_s() - start);
}

/* ---- cache ----------------------------------------------------------------------------- */

typedef struct cache_job {
    capv_cache *c;
    double until;
    long done;
    unsigned int seed;
} cache_job;

static void *cache_loop(void *arg)
{
    cache_job *j = arg;
    uint8_t value[512];
    memset(value, 'r', sizeof value);
    for (long i = 0;; i++) {
        if ((i & 255) == 0 && now_s() >= j->until)
            break;
        j->seed = j->seed * 1103515245u + 12345u;
        uint32_t k = (j->seed >> 4) % 20000u;
        uint8_t key[32] = { (uint8_t)k, (uint8_t)(k >> 8), (uint8_t)(k >> 16) };
        if ((j->seed >> 24) % 5 == 0) {
            if (capv_cache_put(j->c, key, sizeof key, value, sizeof value, NULL) != CAPV_OK)
                abort();
        } else {
            uint8_t *v = NULL;
            size_t n;
            if (capv_cache_get(&v, &n, j->c, key, sizeof key, NULL) == CAPV_OK)
                capv_free(v);
        }
        j->done++;
    }
    return NULL;
}

static double cache_rate(int threads, double seconds, double *hit_ratio)
{
    capv_cache *c = NULL;
    check(capv_cache_new(&c, 10000, 64u << 20, 300000, NULL), NULL, "cache");
    pthread_t t[8];
    cache_job j[8];
    double start = now_s();
    for (int i = 0; i < threads; i++) {
        j[i] = (cache_job){ c, start + seconds, 0, 99u * (unsigned int)(i + 1) };
        pthread_create(&t[i], NULL, cache_loop, &j[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += j[i].done;
    }
    double rate = (double)total / (now_s() - start);
    *hit_ratio = capv_cache_hit_ratio(c);
    capv_cache_free(c);
    return rate;
}

/* ---- main ------------------------------------------------------------------------------ */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    long rows = argc > 1 ? atol(argv[1]) : 1000000;
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    capv_error err = CAPV_ERROR_INIT;
    check(capv_global_init(&err), &err, "init");
    /* a report-sized JSON document for recorded verifications */
    size_t n = (size_t)snprintf(report, sizeof report, "{\"result\":\"ok\",\"checks\":[");
    for (int i = 0; i < 10; i++)
        n += (size_t)snprintf(report + n, sizeof report - n,
                              "%s{\"id\":\"check.%d\",\"status\":\"pass\",\"message\":\"the "
                              "check passed with every detail in order\",\"details\":{\"n\":%d}}",
                              i ? "," : "", i, i);
    snprintf(report + n, sizeof report - n, "]}");

    const char *tmp = getenv("TMPDIR");
    char dirbuf[512];
    snprintf(dirbuf, sizeof dirbuf, "%s/capv-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char *d = mkdtemp(dirbuf);
    if (d == NULL) {
        perror(dirbuf);
        return 1;
    }
    char db[600], bdir[600];
    snprintf(db, sizeof db, "%s/registry.sqlite", d);
    snprintf(bdir, sizeof bdir, "%s/backups", d);

    /* recording through the single writer */
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD;
    o.readers = 2;
    capv_registry *reg = NULL;
    check(capv_registry_open(&reg, db, &o, &err), &err, "open");
    double batched = record_rate(reg, 16, seconds, NULL);
    uint64_t writes = capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_WRITES);
    uint64_t commits = capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_COMMITS);
    printf("registry_record_per_s %.0f\n", batched);
    printf("registry_record_writes_per_commit %.1f\n",
           commits ? (double)writes / (double)commits : 0.0);
    capv_registry_close(reg);
    o.flags = 0;
    check(capv_registry_open(&reg, db, &o, &err), &err, "open");
    printf("registry_record_unbatched_per_s %.0f\n", record_rate(reg, 1, seconds, NULL));
    capv_registry_close(reg);

    /* a registry of `rows` entries */
    o.flags = CAPV_REGISTRY_WRITER_THREAD;
    check(capv_registry_open(&reg, db, &o, &err), &err, "open");
    double t0 = now_s();
    fill(reg, rows);
    printf("registry_fill_rows %ld\n", rows);
    printf("registry_fill_rows_per_s %.0f\n", (double)rows / (now_s() - t0));
    printf("registry_lookup_per_s_1_thread %.0f\n", find_rate(reg, rows, false, 1, seconds));
    printf("registry_lookup_per_s_2_threads %.0f\n", find_rate(reg, rows, false, 2, seconds));
    printf("registry_lookup_missing_per_s_1_thread %.0f\n", find_rate(reg, rows, true, 1, seconds));

    /* online backup, idle and while the writer records */
    capv_backup_info *b = NULL;
    t0 = now_s();
    check(capv_registry_backup(&b, reg, bdir, 0, NULL, NULL, &err), &err, "backup");
    double dt = now_s() - t0;
    printf("registry_backup_bytes %llu\n", (unsigned long long)b->size_bytes);
    printf("registry_backup_seconds %.2f\n", dt);
    printf("registry_backup_mb_per_s %.1f\n", (double)b->size_bytes / 1e6 / dt);
    capv_backup_info_free(b);
    atomic_bool stop;
    atomic_init(&stop, false);
    pthread_t t[4];
    rec_job j[4];
    double start = now_s();
    for (int i = 0; i < 4; i++) {
        j[i] = (rec_job){ reg, 100 + i, start + 3600, 0, &stop };
        pthread_create(&t[i], NULL, record_loop, &j[i]);
    }
    usleep(200000);
    t0 = now_s();
    check(capv_registry_backup(&b, reg, bdir, 0, NULL, NULL, &err), &err, "backup under load");
    dt = now_s() - t0;
    atomic_store(&stop, true);
    long during = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        during += j[i].done;
    }
    double elapsed = now_s() - start;
    printf("registry_backup_under_load_mb_per_s %.1f\n", (double)b->size_bytes / 1e6 / dt);
    printf("registry_record_per_s_during_backup %.0f\n", (double)during / elapsed);
    capv_backup_info_free(b);
    capv_registry_close(reg);

    /* opening: read-write runs PRAGMA quick_check over the whole file, read-only does not
     * (the second of each pair, with the file in the page cache, is what a restart sees) */
    o.flags = CAPV_REGISTRY_READ_ONLY;
    double ro_s = 0, rw_s = 0;
    for (int i = 0; i < 2; i++) {
        t0 = now_s();
        check(capv_registry_open(&reg, db, &o, &err), &err, "open read-only");
        ro_s = now_s() - t0;
        capv_registry_close(reg);
    }
    o.flags = 0;
    for (int i = 0; i < 2; i++) {
        t0 = now_s();
        check(capv_registry_open(&reg, db, &o, &err), &err, "open read-write");
        rw_s = now_s() - t0;
        capv_registry_close(reg);
    }
    o.flags = CAPV_REGISTRY_WRITER_THREAD;
    double writer_s = 0;
    for (int i = 0; i < 2; i++) {
        t0 = now_s();
        check(capv_registry_open(&reg, db, &o, &err), &err, "open with the writer thread");
        writer_s = now_s() - t0;
        if (i == 0)
            capv_registry_close(reg);
    }
    uint64_t db_bytes = 0, free_bytes = 0, verifications = 0;
    check(capv_registry_disk_usage(&db_bytes, &free_bytes, reg, &err), &err, "disk usage");
    check(capv_registry_count(&verifications, reg, CAPV_REGISTRY_VERIFICATIONS, &err), &err,
          "count");
    printf("registry_db_bytes %llu\n", (unsigned long long)db_bytes);
    printf("registry_open_read_only_seconds %.3f\n", ro_s);
    printf("registry_open_read_write_seconds %.3f\n", rw_s);
    printf("registry_quick_check_seconds %.3f\n", rw_s > ro_s ? rw_s - ro_s : 0.0);
    printf("registry_open_writer_thread_seconds %.3f\n", writer_s);
    printf("registry_entry_keys_seconds %.3f\n", writer_s > rw_s ? writer_s - rw_s : 0.0);

    /* pruning every recorded verification (they are all from this run) */
    t0 = now_s();
    uint64_t removed = 0;
    check(capv_registry_prune(&removed, reg, capv_clock_system(NULL) + 86400000, &err), &err,
          "prune");
    dt = now_s() - t0;
    printf("registry_pruned_rows %llu\n", (unsigned long long)removed);
    printf("registry_prune_per_s %.0f\n", dt > 0 ? (double)removed / dt : 0.0);
    capv_registry_close(reg);

    /* the cache */
    double hr1 = 0, hr2 = 0;
    double c1 = cache_rate(1, seconds, &hr1);
    double c2 = cache_rate(2, seconds, &hr2);
    printf("cache_ops_per_s_1_thread %.0f\n", c1);
    printf("cache_ops_per_s_2_threads %.0f\n", c2);
    printf("cache_hit_ratio %.2f\n", hr2);

    if (nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "bench_registry: could not remove %s\n", d);
    capv_global_shutdown();
    return 0;
}
