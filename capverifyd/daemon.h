/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: the state of the daemon, shared by the lifecycle (main.c), the listeners
 * (server.c) and the route handlers. Types only: what acts on the state lives in the file
 * of its role (docs/architecture.md, "The daemon"). */
#ifndef CAPVD_DAEMON_H
#define CAPVD_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <capverify.h>
#include <capverify/unstable/log.h>
#include <civetweb.h>

#include "cidr.h"
#include "config.h"

struct tls_state; /* tls.h */
struct auth;      /* auth.h */
struct capvd;

/* The user data of one CivetWeb context: which daemon, which listener. */
typedef struct listener {
    struct capvd *d;
    bool admin;
} listener;

/* What a SIGHUP's reload waits for. */
typedef enum reload_wait {
    RELOAD_WAITS_NOT,
    RELOAD_WAITS_FOR_BACKUP,   /* a backup to end */
    RELOAD_WAITS_FOR_REQUESTS, /* requests in flight, 200 ms at a time */
    RELOAD_WAITS_LONG,         /* requests in flight, as long as they take */
} reload_wait;

/* The registry counters carried over a reopen (registry_carried, main.c registry_retire). */
enum { CARRIED_DROPPED, CARRIED_REJECTED, CARRIED_WRITTEN, CARRIED_FAULTS, REGISTRY_CARRIED };

typedef struct capvd {
    capvd_config cfg;
    capv_logger *log;
    /* The verifier in use; replaced as a whole on SIGHUP. Requests hold the read lock while
     * they use it. */
    pthread_rwlock_t lock;
    capv_verifier *verifier;
    capv_verify_options *opts;
    capv_package_limits *limits;
    capv_cache *cache;         /* NULL when cache.enabled is false; attached to the verifier */
    capv_registry *registry;   /* the registry; NULL after a SIGHUP failed to reopen it */
    atomic_bool registry_open; /* registry != NULL, readable without the lock (metrics) */
    /* the record counters of registry handles closed by reloads (registry_retire), added to
     * the current handle's: the metrics' counters go on across a reopen */
    atomic_uint_fast64_t registry_carried[REGISTRY_CARRIED];
    int64_t registry_retry_ms;      /* then: when the main thread tries again (monotonic) */
    capv_signing_key *registry_key; /* signs new entries, or NULL */
    capv_signing_key *backup_key;   /* signs backup sidecars, or NULL; swapped under `lock` */
    pthread_mutex_t backup_lock;    /* one backup at a time (backup.c) */
    atomic_int backups;             /* under way or about to begin (backups_pause) */
    atomic_bool backups_paused;     /* while a reload swaps the state */
    /* main thread: a SIGHUP's reload that waits (main.c reload_try), since when, for what,
     * and when it is tried again */
    bool reload_deferred;
    int64_t reload_since_ms, reload_next_ms; /* monotonic */
    capv_registry *reload_fresh;             /* a PostgreSQL handle it opened, for its next try */
    reload_wait reload_why;
    dev_t registry_dev; /* the SQLite file the registry handle opened */
    ino_t registry_ino;
    struct tls_state *tls; /* NULL without TLS */
    struct auth *auth;     /* NULL when auth.enabled is false */
    struct mg_context *api;
    struct mg_context *admin;
    listener api_listener, admin_listener;
    cidr proxies[CFG_LIST_MAX]; /* server.trusted_proxies */
    int nproxies;
    atomic_bool draining;
    atomic_bool trust_loaded;
    char *openapi; /* docs/api/openapi.json, served at /openapi.json */
    size_t openapi_len;
    int64_t started_ms;
} capvd;

/* The registry statistic each registry_carried index counts. */
static inline capv_registry_stat registry_carried_stat(int i)
{
    static const capv_registry_stat stat[REGISTRY_CARRIED] = { CAPV_REGISTRY_STAT_RECORDS_DROPPED,
                                                               CAPV_REGISTRY_STAT_RECORDS_REJECTED,
                                                               CAPV_REGISTRY_STAT_RECORDS_WRITTEN,
                                                               CAPV_REGISTRY_STAT_STORAGE_FAULTS };
    return stat[i];
}

/* A registry counter as /metrics gives it: those of the handles reloads closed, and reg's. */
static inline uint64_t registry_counter(capvd *d, const capv_registry *reg, int i)
{
    return atomic_load(&d->registry_carried[i]) +
           capv_registry_stat_get(reg, registry_carried_stat(i));
}

#endif
