/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus metrics of capverifyd (docs/runbook.md), text exposition format 0.0.4. Counters and
 * histograms are lock-free atomics; gauges that mirror library state are read at scrape
 * time through callbacks. */
#ifndef CAPVD_METRICS_H
#define CAPVD_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include <capverify.h>

typedef enum route {
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_OPENAPI,
    ROUTE_VERIFY,
    ROUTE_POLICY_COMPILE,
    ROUTE_POLICY_GET,
    ROUTE_REGISTRY_LIST,
    ROUTE_REGISTRY_GET,
    ROUTE_REGISTRY_POST,
    ROUTE_ADMIN_BACKUP,
    ROUTE_ADMIN_BACKUPS,
    ROUTE_REGISTRY_VERIFICATION,
    ROUTE_REGISTRY_VERIFICATIONS,
    ROUTE_REGISTRY_SIGNATURE,
    ROUTE_POLICY_LIST,
    ROUTE_UI,
    ROUTE_UI_CONFIG,
    ROUTE_OTHER,
    ROUTE_COUNT
} route;

typedef enum outcome {
    OUTCOME_OK,
    OUTCOME_WARN,
    OUTCOME_FAIL,
    OUTCOME_ERROR,
    OUTCOME_COUNT
} outcome;

/* The route label: the path template ("/policy/{id}"), or "other". */
const char *route_label(route r);

void metrics_init(const char *version, const char *commit);
void metrics_http_response(route r, int code, double seconds);
void metrics_outcome(outcome o);
void metrics_auth_request(void);
void metrics_auth_failure(const char *reason);
void metrics_inflight(int delta);
/* Requests being handled right now (both listeners). */
int64_t metrics_inflight_get(void);
void metrics_backup(int ok, int64_t finished_ms);
/* A registry operation failed on its storage (corrupt, read-only, full); `op` is one of
 * record, add, put_policy, get_policy, backup, read. */
void metrics_registry_error(const char *op);
/* Whether this daemon makes the scheduled backups, as the schedule's last look that could
 * tell found (backup.c). */
void metrics_backup_leader(bool leads);
/* Sets the last-success time from a backup found on disk at start (counts nothing). */
void metrics_backup_seed(int64_t finished_ms);
/* Off-site copies (backup.s3.*, offsite.c): their metrics are exported once enabled. */
void metrics_upload_enable(void);
void metrics_upload(bool ok, int64_t finished_ms);
/* Raises the last-upload time (and the last-backup time) to what the store holds at start:
 * the newest complete off-site copy. Counts nothing; never lowers a time. */
void metrics_upload_seed(int64_t uploaded_ms, int64_t created_ms);

/* A cache's counters at scrape time. */
typedef struct cache_view {
    bool enabled;
    uint64_t hits, misses, evict_size, evict_ttl, evict_invalidated, entries;
} cache_view;

/* The counters of a library cache (all zero for NULL). */
cache_view cache_view_of(const capv_cache *c);

/* Values the daemon reads from the library at scrape time. */
typedef struct metrics_sources {
    cache_view report; /* verification reports */
    cache_view token;  /* verified bearer tokens */
    /* JWKS state, -1 when auth is off */
    int64_t jwks_keys;
    const char *jwks_state; /* capv_jwks_state_name(), NULL when auth is off */
    double jwks_age_seconds;
    uint64_t jwks_refresh_ok, jwks_refresh_error;
    int64_t registry_entries;                       /* -1 when unknown */
    int64_t registry_db_bytes, registry_free_bytes; /* -1 when unknown */
    int64_t registry_fs_bytes;                      /* its file system's size; -1 when unknown */
    uint64_t registry_storage_faults, registry_records_written;
    /* asynchronous recording; the registry's counters restart when it is reopened, and are
     * left out of a scrape while they are unknown (registry_known false: no registry open,
     * or a reload waiting for the requests in flight) */
    bool registry_known;
    bool registry_open; /* cap_verifier_registry_open, exported always */
    int64_t registry_queue_depth;
    uint64_t registry_records_dropped, registry_records_rejected;
    /* protection against hostile load (docs/hardening.md) */
    uint64_t rate_limited_subject, rate_limited_address;
    uint64_t cuts[6]; /* by cut_reason, index 0 unused */
    const char *const *cut_names;
    int64_t connections_open, connections_busy;
    uint64_t memory_budget, memory_reserved, memory_rejections;
    int64_t tls_not_after; /* the served certificate's notAfter; 0 without TLS */
} metrics_sources;

/* Renders every metric into a malloc'd, NUL-terminated buffer. */
char *metrics_render(const metrics_sources *src, size_t *len);

#endif
