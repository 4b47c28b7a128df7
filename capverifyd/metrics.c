/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text exposition (format 0.0.4) of the metrics docs/runbook.md and
 * docs/hardening.md name. */
#include "metrics.h"

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "budget_default.h"

static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                  0.25,  0.5,    1,     2.5,  5,     10 };
#define NBUCKETS (sizeof buckets / sizeof buckets[0])
#define MAX_CODE 600
#define MAX_REASONS 32

static const char *const route_labels[ROUTE_COUNT] = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/verify",
    "/policy/compile",
    "/policy/{id}",
    "/registry/entries",
    "/registry/entries/{id}",
    "/registry/entries:post",
    "/admin/backup",
    "/admin/backups",
    "/registry/verifications/{request_id}",
    "/registry/verifications",
    "/registry/entries/{id}/signature",
    "/policies",
    "/ui",
    "/ui/config.json",
    "other",
};

static const char *const outcome_labels[OUTCOME_COUNT] = { "ok", "warn", "fail", "error" };

static struct {
    atomic_uint_fast64_t responses[ROUTE_COUNT][MAX_CODE];
    atomic_uint_fast64_t hist[ROUTE_COUNT][NBUCKETS + 1]; /* last = +Inf = count */
    atomic_uint_fast64_t hist_sum_us[ROUTE_COUNT];
    atomic_uint_fast64_t outcomes[OUTCOME_COUNT];
    atomic_uint_fast64_t auth_requests;
    pthread_mutex_t reasons_lock;
    char reasons[MAX_REASONS][40];
    atomic_uint_fast64_t reason_counts[MAX_REASONS];
    atomic_int nreasons;
    atomic_int_fast64_t inflight;
    atomic_uint_fast64_t backup_ok, backup_error;
    atomic_uint_fast64_t registry_errors[6];
    atomic_int_fast64_t backup_last_success_ms;
    atomic_int backup_leader; /* 1: the last look that could tell found it leading */
    atomic_bool upload_enabled;
    atomic_uint_fast64_t upload_ok, upload_error;
    atomic_int_fast64_t upload_last_success_ms;
    double start_time;
    char version[64];
    char commit[64];
} m = { .reasons_lock = PTHREAD_MUTEX_INITIALIZER };

const char *route_label(route r)
{
    return r < ROUTE_COUNT ? route_labels[r] : "other";
}

void metrics_init(const char *version, const char *commit)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m.start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    snprintf(m.version, sizeof m.version, "%s", version);
    snprintf(m.commit, sizeof m.commit, "%s", commit);
}

void metrics_http_response(route r, int code, double seconds)
{
    if (r >= ROUTE_COUNT)
        r = ROUTE_OTHER;
    if (code > 0 && code < MAX_CODE)
        atomic_fetch_add(&m.responses[r][code], 1);
    size_t b = 0;
    while (b < NBUCKETS && seconds > buckets[b])
        b++;
    /* cumulative buckets are summed at render time */
    atomic_fetch_add(&m.hist[r][b], 1);
    atomic_fetch_add(&m.hist_sum_us[r], (uint64_t)(seconds * 1e6 + 0.5));
}

void metrics_outcome(outcome o)
{
    if (o < OUTCOME_COUNT)
        atomic_fetch_add(&m.outcomes[o], 1);
}

void metrics_auth_request(void)
{
    atomic_fetch_add(&m.auth_requests, 1);
}

void metrics_auth_failure(const char *reason)
{
    int n = atomic_load(&m.nreasons);
    for (int i = 0; i < n; i++)
        if (strcmp(m.reasons[i], reason) == 0) {
            atomic_fetch_add(&m.reason_counts[i], 1);
            return;
        }
    pthread_mutex_lock(&m.reasons_lock);
    n = atomic_load(&m.nreasons);
    int slot = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(m.reasons[i], reason) == 0)
            slot = i;
    /* a bounded label set: the last slot is "other", for anything beyond the rest */
    if (slot < 0) {
        slot = n < MAX_REASONS - 1 ? n : MAX_REASONS - 1;
        if (slot == n) {
            snprintf(m.reasons[n], sizeof m.reasons[n], "%s",
                     n < MAX_REASONS - 1 ? reason : "other");
            atomic_store(&m.nreasons, n + 1);
        }
    }
    atomic_fetch_add(&m.reason_counts[slot], 1);
    pthread_mutex_unlock(&m.reasons_lock);
}

void metrics_inflight(int delta)
{
    atomic_fetch_add(&m.inflight, delta);
}

int64_t metrics_inflight_get(void)
{
    return (int64_t)atomic_load(&m.inflight);
}

void metrics_backup(int ok, int64_t finished_ms)
{
    if (ok) {
        atomic_fetch_add(&m.backup_ok, 1);
        atomic_store(&m.backup_last_success_ms, finished_ms);
    } else {
        atomic_fetch_add(&m.backup_error, 1);
    }
}

static const char *const registry_ops[] = { "record",     "add",    "put_policy",
                                            "get_policy", "backup", "read" };

void metrics_registry_error(const char *op)
{
    size_t n = sizeof registry_ops / sizeof *registry_ops;
    for (size_t i = 0; i < n; i++)
        if (strcmp(op, registry_ops[i]) == 0) {
            atomic_fetch_add(&m.registry_errors[i], 1);
            return;
        }
    atomic_fetch_add(&m.registry_errors[n - 1], 1);
}

void metrics_backup_leader(bool leads)
{
    atomic_store(&m.backup_leader, leads ? 1 : 0);
}

void metrics_backup_seed(int64_t finished_ms)
{
    atomic_store(&m.backup_last_success_ms, finished_ms);
}

void metrics_upload_enable(void)
{
    atomic_store(&m.upload_enabled, true);
}

/* Raises `slot` to `ms` unless it is newer already. */
static void raise_to(atomic_int_fast64_t *slot, int64_t ms)
{
    int_fast64_t cur = atomic_load(slot);
    while (cur < ms && !atomic_compare_exchange_weak(slot, &cur, ms))
        ;
}

void metrics_upload(bool ok, int64_t finished_ms)
{
    if (ok) {
        atomic_fetch_add(&m.upload_ok, 1);
        raise_to(&m.upload_last_success_ms, finished_ms);
    } else {
        atomic_fetch_add(&m.upload_error, 1);
    }
}

void metrics_upload_seed(int64_t uploaded_ms, int64_t created_ms)
{
    raise_to(&m.upload_last_success_ms, uploaded_ms);
    /* a backup that reached the store was taken then, also when the local copy is gone (an
     * emptyDir of a PostgreSQL-mode pod): BackupStale must not restart from zero */
    raise_to(&m.backup_last_success_ms, created_ms);
}

typedef struct out {
    char *buf;
    size_t len, cap;
} out;

static void emit(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (o->buf != NULL && o->len + (size_t)n < o->cap) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap ? o->cap * 2 : 16384;
        while (cap < o->len + (size_t)n + 1)
            cap *= 2;
        char *nb = realloc(o->buf, cap);
        if (nb == NULL)
            return;
        o->buf = nb;
        o->cap = cap;
    }
}

static void head(out *o, const char *name, const char *type, const char *help)
{
    emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void process_metrics(out *o)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    head(o, "process_cpu_seconds_total", "counter",
         "Total user and system CPU time spent in seconds.");
    emit(o, "process_cpu_seconds_total %.6f\n", cpu);
    long pages = 0, rss_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &rss_pages) != 2)
            pages = rss_pages = 0;
        fclose(f);
    }
    long pagesize = sysconf(_SC_PAGESIZE);
    head(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    emit(o, "process_resident_memory_bytes %ld\n", rss_pages * pagesize);
    head(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    emit(o, "process_virtual_memory_bytes %ld\n", pages * pagesize);
    long fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        while (readdir(d) != NULL)
            fds++;
        closedir(d);
        fds -= 3; /* ".", ".." and the directory's own descriptor */
    }
    head(o, "process_open_fds", "gauge", "Number of open file descriptors.");
    emit(o, "process_open_fds %ld\n", fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        head(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        emit(o, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
    head(o, "process_start_time_seconds", "gauge",
         "Start time of the process since unix epoch in seconds.");
    emit(o, "process_start_time_seconds %.3f\n", m.start_time);
    /* the same reading of the cgroup tree as the memory budget's default (budget_default.c) */
    int64_t limit = capvd_memory_limit();
    if (limit > 0) {
        head(o, "cap_verifier_memory_limit_bytes", "gauge",
             "The memory limit of the process's cgroup (the container's limit); absent when "
             "unlimited.");
        emit(o, "cap_verifier_memory_limit_bytes %lld\n", (long long)limit);
    }
}

cache_view cache_view_of(const capv_cache *c)
{
    cache_view v = { .enabled = c != NULL };
    v.hits = capv_cache_counter_get(c, CAPV_CACHE_HITS);
    v.misses = capv_cache_counter_get(c, CAPV_CACHE_MISSES);
    v.evict_size = capv_cache_counter_get(c, CAPV_CACHE_EVICTIONS_SIZE);
    v.evict_ttl = capv_cache_counter_get(c, CAPV_CACHE_EVICTIONS_TTL);
    v.evict_invalidated = capv_cache_counter_get(c, CAPV_CACHE_EVICTIONS_INVALIDATED);
    v.entries = capv_cache_counter_get(c, CAPV_CACHE_ENTRIES);
    return v;
}

static void cache_metrics(out *o, const metrics_sources *src)
{
    const struct {
        const char *name;
        const cache_view *v;
    } caches[] = { { "report", &src->report }, { "token", &src->token } };
    head(o, "cap_verifier_cache_hits_total", "counter", "Cache lookups that found an entry.");
    for (size_t i = 0; i < 2; i++)
        emit(o, "cap_verifier_cache_hits_total{cache=\"%s\"} %llu\n", caches[i].name,
             (unsigned long long)caches[i].v->hits);
    head(o, "cap_verifier_cache_misses_total", "counter", "Cache lookups that found nothing.");
    for (size_t i = 0; i < 2; i++)
        emit(o, "cap_verifier_cache_misses_total{cache=\"%s\"} %llu\n", caches[i].name,
             (unsigned long long)caches[i].v->misses);
    head(o, "cap_verifier_cache_evictions_total", "counter", "Entries removed, by reason.");
    for (size_t i = 0; i < 2; i++) {
        const cache_view *v = caches[i].v;
        emit(o, "cap_verifier_cache_evictions_total{cache=\"%s\",reason=\"size\"} %llu\n",
             caches[i].name, (unsigned long long)v->evict_size);
        emit(o, "cap_verifier_cache_evictions_total{cache=\"%s\",reason=\"ttl\"} %llu\n",
             caches[i].name, (unsigned long long)v->evict_ttl);
        emit(o, "cap_verifier_cache_evictions_total{cache=\"%s\",reason=\"invalidated\"} %llu\n",
             caches[i].name, (unsigned long long)v->evict_invalidated);
    }
    head(o, "cap_verifier_cache_entries", "gauge", "Entries currently cached.");
    for (size_t i = 0; i < 2; i++)
        emit(o, "cap_verifier_cache_entries{cache=\"%s\"} %llu\n", caches[i].name,
             (unsigned long long)caches[i].v->entries);
    head(o, "cap_verifier_cache_hit_ratio", "gauge",
         "hits / (hits + misses) over the process lifetime (0 before any lookup).");
    for (size_t i = 0; i < 2; i++) {
        const cache_view *v = caches[i].v;
        double ratio = v->hits + v->misses ? (double)v->hits / (double)(v->hits + v->misses) : 0.0;
        emit(o, "cap_verifier_cache_hit_ratio{cache=\"%s\"} %.6f\n", caches[i].name, ratio);
    }
}

char *metrics_render(const metrics_sources *src, size_t *len)
{
    out o = { 0 };
    head(&o, "cap_verifier_build_info", "gauge", "Version and commit of the running build.");
    emit(&o, "cap_verifier_build_info{version=\"%s\",commit=\"%s\"} 1\n", m.version, m.commit);

    head(&o, "cap_verifier_requests_total", "counter",
         "Verification and evaluation outcomes (error = the request could not be answered).");
    for (int i = 0; i < OUTCOME_COUNT; i++)
        emit(&o, "cap_verifier_requests_total{result=\"%s\"} %llu\n", outcome_labels[i],
             (unsigned long long)atomic_load(&m.outcomes[i]));

    head(&o, "cap_verifier_request_duration_seconds", "histogram",
         "Time from request start to response, by route.");
    for (int r = 0; r < ROUTE_COUNT; r++) {
        uint64_t cum = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += atomic_load(&m.hist[r][b]);
            emit(&o, "cap_verifier_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                 route_labels[r], buckets[b], (unsigned long long)cum);
        }
        cum += atomic_load(&m.hist[r][NBUCKETS]);
        emit(&o, "cap_verifier_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
             route_labels[r], (unsigned long long)cum);
        emit(&o, "cap_verifier_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route_labels[r],
             (double)atomic_load(&m.hist_sum_us[r]) / 1e6);
        emit(&o, "cap_verifier_request_duration_seconds_count{route=\"%s\"} %llu\n",
             route_labels[r], (unsigned long long)cum);
    }

    head(&o, "cap_verifier_http_responses_total", "counter",
         "HTTP responses by status code and route.");
    for (int r = 0; r < ROUTE_COUNT; r++)
        for (int c = 100; c < MAX_CODE; c++) {
            uint64_t v = atomic_load(&m.responses[r][c]);
            if (v != 0)
                emit(&o, "cap_verifier_http_responses_total{code=\"%d\",route=\"%s\"} %llu\n", c,
                     route_labels[r], (unsigned long long)v);
        }

    head(&o, "cap_verifier_auth_requests_total", "counter",
         "Requests that presented or needed a bearer token.");
    emit(&o, "cap_verifier_auth_requests_total %llu\n",
         (unsigned long long)atomic_load(&m.auth_requests));
    head(&o, "cap_verifier_auth_failures_total", "counter", "Rejected authentications, by reason.");
    int n = atomic_load(&m.nreasons);
    for (int i = 0; i < n; i++)
        emit(&o, "cap_verifier_auth_failures_total{reason=\"%s\"} %llu\n", m.reasons[i],
             (unsigned long long)atomic_load(&m.reason_counts[i]));

    cache_metrics(&o, src);

    head(&o, "cap_verifier_jwks_refresh_total", "counter", "JWKS fetches, by result.");
    emit(&o, "cap_verifier_jwks_refresh_total{result=\"ok\"} %llu\n",
         (unsigned long long)src->jwks_refresh_ok);
    emit(&o, "cap_verifier_jwks_refresh_total{result=\"error\"} %llu\n",
         (unsigned long long)src->jwks_refresh_error);
    head(&o, "cap_verifier_jwks_keys", "gauge", "Keys in the current JWKS (0 when auth is off).");
    emit(&o, "cap_verifier_jwks_keys %lld\n", (long long)(src->jwks_keys < 0 ? 0 : src->jwks_keys));
    head(&o, "cap_verifier_jwks_age_seconds", "gauge",
         "Seconds since the current JWKS was fetched (0 when auth is off).");
    emit(&o, "cap_verifier_jwks_age_seconds %.3f\n",
         src->jwks_keys < 0 ? 0.0 : src->jwks_age_seconds);
    if (src->jwks_state != NULL) {
        static const char *const states[] = { "empty", "fresh", "stale", "expired" };
        head(&o, "cap_verifier_jwks_state", "gauge",
             "The key set's state: 1 for the current one (absent when auth is off).");
        for (size_t i = 0; i < sizeof states / sizeof *states; i++)
            emit(&o, "cap_verifier_jwks_state{state=\"%s\"} %d\n", states[i],
                 strcmp(states[i], src->jwks_state) == 0);
    }

    /* always exported: the registry's other series are absent while it is not open, and an
     * alert must name that state (docs/runbook.md#registrynotopen) */
    head(&o, "cap_verifier_registry_open", "gauge",
         "1 while the registry is open, 0 while it is not (a SIGHUP could not reopen it).");
    emit(&o, "cap_verifier_registry_open %d\n", src->registry_open ? 1 : 0);
    if (src->registry_entries >= 0) {
        head(&o, "cap_verifier_registry_entries", "gauge", "Entries in the registry.");
        emit(&o, "cap_verifier_registry_entries %lld\n", (long long)src->registry_entries);
    }
    head(&o, "cap_verifier_registry_errors_total", "counter",
         "Registry operations that failed on storage (corrupt, read-only, full), by operation.");
    for (size_t i = 0; i < sizeof registry_ops / sizeof *registry_ops; i++)
        emit(&o, "cap_verifier_registry_errors_total{op=\"%s\"} %llu\n", registry_ops[i],
             (unsigned long long)atomic_load(&m.registry_errors[i]));
    if (src->registry_known) {
        head(&o, "cap_verifier_registry_queue_depth", "gauge",
             "Verification records waiting to be written to the registry.");
        emit(&o, "cap_verifier_registry_queue_depth %lld\n", (long long)src->registry_queue_depth);
        head(&o, "cap_verifier_registry_records_dropped_total", "counter",
             "Verification records not recorded because the record queue was full.");
        emit(&o, "cap_verifier_registry_records_dropped_total %llu\n",
             (unsigned long long)src->registry_records_dropped);
        head(&o, "cap_verifier_registry_records_rejected_total", "counter",
             "Queued verification records the registry refused (a request id reused with other "
             "content, or a record failing alone while others are written).");
        emit(&o, "cap_verifier_registry_records_rejected_total %llu\n",
             (unsigned long long)src->registry_records_rejected);
        head(&o, "cap_verifier_registry_records_written_total", "counter",
             "Queued verification records written to the registry.");
        emit(&o, "cap_verifier_registry_records_written_total %llu\n",
             (unsigned long long)src->registry_records_written);
        head(&o, "cap_verifier_registry_storage_faults_total", "counter",
             "Registry operations (queued writes included) that failed because the storage did "
             "(unreachable, read-only, full or corrupt).");
        emit(&o, "cap_verifier_registry_storage_faults_total %llu\n",
             (unsigned long long)src->registry_storage_faults);
    }
    if (src->registry_db_bytes >= 0) {
        head(&o, "cap_verifier_registry_file_bytes", "gauge",
             "Bytes of the registry database and its write-ahead log.");
        emit(&o, "cap_verifier_registry_file_bytes %lld\n", (long long)src->registry_db_bytes);
        head(&o, "cap_verifier_registry_free_bytes", "gauge",
             "Bytes free for the registry on its filesystem.");
        emit(&o, "cap_verifier_registry_free_bytes %lld\n", (long long)src->registry_free_bytes);
    }
    if (src->registry_fs_bytes > 0) {
        head(&o, "cap_verifier_registry_filesystem_bytes", "gauge",
             "Size of the file system holding the registry.");
        emit(&o, "cap_verifier_registry_filesystem_bytes %lld\n",
             (long long)src->registry_fs_bytes);
    }
    if (src->tls_not_after > 0) {
        head(&o, "cap_verifier_tls_cert_expiry_timestamp_seconds", "gauge",
             "Unix time at which the served TLS certificate expires (absent without TLS).");
        emit(&o, "cap_verifier_tls_cert_expiry_timestamp_seconds %lld\n",
             (long long)src->tls_not_after);
    }
    head(&o, "cap_verifier_rate_limited_total", "counter",
         "Requests answered 429, by bucket kind (subject or client address).");
    emit(&o, "cap_verifier_rate_limited_total{kind=\"subject\"} %llu\n",
         (unsigned long long)src->rate_limited_subject);
    emit(&o, "cap_verifier_rate_limited_total{kind=\"address\"} %llu\n",
         (unsigned long long)src->rate_limited_address);
    if (src->cut_names != NULL) {
        head(&o, "cap_verifier_connections_cut_total", "counter",
             "Connections cut by a deadline, a too slow body or under worker pressure.");
        for (size_t i = 1; i < sizeof src->cuts / sizeof *src->cuts; i++)
            emit(&o, "cap_verifier_connections_cut_total{reason=\"%s\"} %llu\n", src->cut_names[i],
                 (unsigned long long)src->cuts[i]);
    }
    head(&o, "cap_verifier_api_connections", "gauge",
         "Connections open on the API listener (each holds a worker thread).");
    emit(&o, "cap_verifier_api_connections %lld\n", (long long)src->connections_open);
    head(&o, "cap_verifier_memory_budget_bytes", "gauge",
         "Memory request bodies and their verification may hold at once.");
    emit(&o, "cap_verifier_memory_budget_bytes %llu\n", (unsigned long long)src->memory_budget);
    head(&o, "cap_verifier_memory_reserved_bytes", "gauge",
         "Memory reserved by the requests being handled.");
    emit(&o, "cap_verifier_memory_reserved_bytes %llu\n", (unsigned long long)src->memory_reserved);
    head(&o, "cap_verifier_memory_rejections_total", "counter",
         "Requests refused for the memory budget: no room in time (503), or a worst case "
         "larger than the whole budget (413).");
    emit(&o, "cap_verifier_memory_rejections_total %llu\n",
         (unsigned long long)src->memory_rejections);
    head(&o, "cap_verifier_backup_total", "counter", "Registry backups, by result.");
    emit(&o, "cap_verifier_backup_total{result=\"ok\"} %llu\n",
         (unsigned long long)atomic_load(&m.backup_ok));
    emit(&o, "cap_verifier_backup_total{result=\"error\"} %llu\n",
         (unsigned long long)atomic_load(&m.backup_error));
    head(&o, "cap_verifier_backup_last_success_timestamp_seconds", "gauge",
         "Unix time of the last successful backup (0 = none since start).");
    emit(&o, "cap_verifier_backup_last_success_timestamp_seconds %.3f\n",
         (double)atomic_load(&m.backup_last_success_ms) / 1000.0);
    head(&o, "cap_verifier_backup_leader", "gauge",
         "1 while this daemon makes the scheduled backups (the schedule's last look found it "
         "leading a shared registry, or its SQLite registry writable), else 0 (also while it "
         "cannot tell, and with scheduled backups off).");
    emit(&o, "cap_verifier_backup_leader %d\n", atomic_load(&m.backup_leader) == 1);
    if (atomic_load(&m.upload_enabled)) {
        head(&o, "cap_verifier_backup_upload_total", "counter",
             "Off-site copies of backups (backup.s3.*), by result.");
        emit(&o, "cap_verifier_backup_upload_total{result=\"ok\"} %llu\n",
             (unsigned long long)atomic_load(&m.upload_ok));
        emit(&o, "cap_verifier_backup_upload_total{result=\"error\"} %llu\n",
             (unsigned long long)atomic_load(&m.upload_error));
        head(&o, "cap_verifier_backup_last_upload_success_timestamp_seconds", "gauge",
             "Unix time the newest complete off-site copy was stored (derived from the store at "
             "start; 0 = none).");
        emit(&o, "cap_verifier_backup_last_upload_success_timestamp_seconds %.3f\n",
             (double)atomic_load(&m.upload_last_success_ms) / 1000.0);
    }

    head(&o, "cap_verifier_inflight_requests", "gauge", "Requests being processed.");
    emit(&o, "cap_verifier_inflight_requests %lld\n", (long long)atomic_load(&m.inflight));

    process_metrics(&o);
    if (len != NULL)
        *len = o.len;
    return o.buf;
}
