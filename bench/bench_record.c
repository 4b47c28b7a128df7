/* SPDX-License-Identifier: Apache-2.0 */
/* Recorded verifications per second through the record queue (docs/registry.md "Recording
 * verifications"), as the daemon records them: THREADS callers queue records with distinct
 * request ids and a report of about 2 KiB (a few distinct ones, as a report cache makes
 * them), the writer stores them in batches. Works on either storage: LOCATION is a SQLite
 * file (created) or a postgresql:// URL. Prints "name value" lines; never passes or fails.
 *   bench_record LOCATION [RECORDS (default 200000)] [THREADS (default 4)] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <capverify.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct job {
    capv_registry *reg;
    int id;
    long n;
    const char *reports[4];
    long failed;
} job;

static void *caller(void *arg)
{
    job *j = arg;
    char rid[64];
    for (long i = 0; i < j->n; i++) {
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        snprintf(rid, sizeof rid, "bench-%ld-%d-%ld", (long)time(NULL), j->id, i);
        v.request_id = rid;
        v.subject = "bench";
        v.result = "ok";
        v.report_json = j->reports[i % 4];
        if (capv_registry_record(NULL, j->reg, &v, NULL) != CAPV_OK)
            j->failed++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_record LOCATION [RECORDS] [THREADS]\n");
        return 2;
    }
    long records = argc > 2 ? atol(argv[2]) : 200000;
    int threads = argc > 3 ? atoi(argv[3]) : 4;
    if (records <= 0 || threads <= 0 || threads > 64) {
        fprintf(stderr, "bench_record: bad RECORDS or THREADS\n");
        return 2;
    }
    capv_error err = CAPV_ERROR_INIT;
    if (capv_global_init(&err) != CAPV_OK) {
        fprintf(stderr, "bench_record: %s\n", err.message);
        return 1;
    }
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD;
    o.record_queue_max = (size_t)records + 1;
    o.readers = 2;
    capv_registry *reg = NULL;
    if (capv_registry_open(&reg, argv[1], &o, &err) != CAPV_OK) {
        fprintf(stderr, "bench_record: cannot open %s: %s\n", argv[1], err.message);
        return 1;
    }
    static char reports[4][2200];
    job jobs[64];
    pthread_t t[64];
    for (int r = 0; r < 4; r++) {
        int n = snprintf(reports[r], sizeof reports[r],
                         "{\"result\":\"ok\",\"variant\":%d,"
                         "\"checks\":[",
                         r);
        for (int c = 0; n < 2000; c++)
            n += snprintf(reports[r] + n, sizeof reports[r] - (size_t)n,
                          "%s{\"id\":\"check-%d\",\"status\":\"ok\"}", c ? "," : "", c);
        snprintf(reports[r] + n, sizeof reports[r] - (size_t)n, "]}");
    }
    uint64_t commits0 = capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_COMMITS);
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job){
            reg, i, records / threads, { reports[0], reports[1], reports[2], reports[3] }, 0
        };
        pthread_create(&t[i], NULL, caller, &jobs[i]);
    }
    long failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        failed += jobs[i].failed;
    }
    double queued = now_s() - t0;
    if (capv_registry_flush(reg, -1, &err) != CAPV_OK)
        fprintf(stderr, "bench_record: flush: %s\n", err.message);
    double total = now_s() - t0;
    long done = (records / threads) * threads - failed;
    uint64_t commits = capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_COMMITS) - commits0;
    printf("record_storage %s\n", strncmp(argv[1], "postgres", 8) == 0 ? "postgresql" : "sqlite");
    printf("record_queued_per_s %.0f\n", (double)done / queued);
    printf("record_written_per_s %.0f\n", (double)done / total);
    printf("record_per_commit %.1f\n", commits ? (double)done / (double)commits : 0.0);
    printf("record_failed %ld\n", failed);
    capv_registry_close(reg);
    capv_global_shutdown();
    return failed ? 1 : 0;
}
