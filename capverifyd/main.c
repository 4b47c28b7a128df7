/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: the CAP verification service (docs/architecture.md, docs/runbook.md). A thin
 * front-end over libcapverify. This file is its lifecycle: arguments and configuration,
 * startup, the signal loop (SIGHUP reloads), drain and shutdown. The listeners are
 * server.c's, the routes handlers.c's and routes.c's, registry backups backup.c's. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "auth.h"
#include "backup.h"
#include "budget.h"
#include "config.h"
#include "config_verify.h"
#include "conn.h"
#include "daemon.h"
#include "entry_count.h"
#include "http.h"
#include "metrics.h"
#include "notify.h"
#include "offsite.h"
#include "server.h"
#include "tls.h"

#define DEFAULT_CONFIG_DIR "/etc/cap-verifier"
#define REGISTRY_READERS_MAX 64

/* The exit statuses usage() lists; RUN_ON = carry on with the start. */
enum {
    EXIT_OK = 0,
    EXIT_CUT = 1,
    EXIT_CONFIG = 3,
    EXIT_UNAVAILABLE = 5,
    EXIT_INTERNAL = 6,
    RUN_ON = -1
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: capverifyd [--config-dir DIR] [--set section.key=value]... [--check-config]\n"
            "                  [--print-config] [--print-config-reference] [--version]\n\n"
            "Serves CAP package verification over HTTP. Configuration: YAML files in DIR\n"
            "(default " DEFAULT_CONFIG_DIR ", optional), then CAPV_<SECTION>_<KEY>\n"
            "environment variables, then --set flags. docs/configuration.md lists every key.\n\n"
            "  --check-config            check the configuration as a start would (files,\n"
            "                            addresses, keys that need each other), log the\n"
            "                            warnings a start would (stderr) and exit\n"
            "  --print-config            print the effective configuration as YAML (secrets\n"
            "                            redacted, derived values as comments) and exit\n"
            "                            without starting; with --check-config, check it too\n"
            "  --print-config-reference  print docs/configuration.md (=mdoc: the same as the\n"
            "                            CONFIGURATION section of capverifyd(8))\n\n"
            "Signals: TERM drains and exits, HUP reloads TLS certificate, trust store and\n"
            "policies, USR1 / USR2 make the log more / less verbose.\n\n"
            "Exit status: 0 clean shutdown (or configuration ok), 1 requests were still running\n"
            "when shutdown.timeout_seconds ended, 3 configuration error, 5 registry or listener\n"
            "unavailable, 6 internal error.\n");
}

/* Builds a verifier from the trust configuration (config_verify.c: the CLI's
 * --daemon-config builds the same) around the daemon's registry and cache. */
static capv_verifier *build_verifier(capvd *d, char *errbuf, size_t errlen)
{
    capv_verifier *v = NULL;
    capv_error err = CAPV_ERROR_INIT;
    if (capvd_config_verifier(&v, &d->cfg, &err) != CAPV_OK) {
        snprintf(errbuf, errlen, "%s%s%s", err.field, err.field[0] ? ": " : "", err.message);
        return NULL;
    }
    capv_verifier_set_registry(v, d->registry);
    capv_verifier_set_cache(v, d->cache);
    return v;
}

static int64_t now_ms(void)
{
    return capv_clock_system(NULL);
}

/* For intervals and deadlines, which a step of the system clock must not stretch. */
static int64_t mono_ms(void)
{
    return (int64_t)(http_mono() * 1000);
}

/* Creates the directory holding `path` (one level) when it is missing. */
static void make_parent_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0750);
    }
}

/* Opens the registry read-write with the writer thread (docs/registry.md): this process is
 * its only writer; a second one gets CAPV_E_BUSY from the registry's lock. The message names
 * the file and the library's reason, on one line. */
static capv_registry *open_registry(capvd *d, char *errbuf, size_t errlen)
{
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD;
    if (strcmp(d->cfg.registry_synchronous, "normal") == 0)
        o.flags |= CAPV_REGISTRY_SYNC_NORMAL;
    o.busy_timeout_ms = (int)d->cfg.registry_busy_timeout_ms;
    o.record_queue_max = (size_t)d->cfg.registry_record_queue_max;
    o.record_flush_ms = (int)d->cfg.registry_record_flush_ms;
    /* a quarter of the workers read at once at most; capv_registry_open takes up to 64 */
    int64_t readers = d->cfg.server_threads / 4 + 2;
    o.readers = (unsigned)(readers > REGISTRY_READERS_MAX ? REGISTRY_READERS_MAX : readers);
    /* registry.url (PostgreSQL) replaces registry.path; messages name it only by the
     * library's location, which never holds a password */
    const char *where = capvd_config_registry_location(&d->cfg, &o.password_file);
    bool file = !*d->cfg.registry_url;
    if (file)
        make_parent_dir(d->cfg.registry_path);
    struct stat before, after; /* which file a SQLite handle has open (registry_file_same) */
    bool existed = file && stat(d->cfg.registry_path, &before) == 0;
    capv_registry *reg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_open(&reg, where, &o, &err);
    if (st != CAPV_OK) {
        snprintf(errbuf, errlen, "cannot open the registry%s%s: %s (%s)",
                 *d->cfg.registry_url ? "" : " ", *d->cfg.registry_url ? "" : where,
                 err.message[0] ? err.message : capv_strerror(st), capv_status_name(st));
        for (char *p = errbuf; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        return NULL;
    }
    if (file) {
        /* the file the open created, or found and still there; one replaced meanwhile is
         * unknown (0), so that a SIGHUP reopens it */
        bool known = stat(d->cfg.registry_path, &after) == 0 &&
                     (!existed || (before.st_dev == after.st_dev && before.st_ino == after.st_ino));
        d->registry_dev = known ? after.st_dev : 0;
        d->registry_ino = known ? after.st_ino : 0;
    }
    capv_registry_set_signing_key(reg, d->registry_key);
    /* the disk budget (docs/hardening.md): capped reports, records that expire */
    if (capv_registry_set_max_report_bytes(reg, (size_t)d->cfg.registry_max_report_bytes, NULL) !=
            CAPV_OK ||
        capv_registry_set_retention(
            reg, d->cfg.registry_verification_retention_days * 86400LL * 1000, NULL) != CAPV_OK) {
        snprintf(errbuf, errlen,
                 "registry.max_report_bytes or "
                 "registry.verification_retention_days is out of range");
        capv_registry_close(reg);
        return NULL;
    }
    return reg;
}

/* backup.signing_key_file, read at start and on SIGHUP (a rotated key takes effect without a
 * restart). *out is NULL when the key is not configured. The key is never logged; errbuf gets
 * the reason when the file cannot be used. */
static bool load_backup_key(const capvd *d, capv_signing_key **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!*d->cfg.backup_signing_key_file)
        return true;
    capv_error err = CAPV_ERROR_INIT;
    if (capv_signing_key_load(out, d->cfg.backup_signing_key_file, &err) == CAPV_OK)
        return true;
    snprintf(errbuf, errlen, "backup.signing_key_file: %s", err.message);
    return false;
}

/* Reloads the TLS pair, on SIGHUP (`force`) or when the main loop sees its files change
 * (once per change: a refused pair is tried again at the next one), and says how it went. */
static void reload_tls(capvd *d, bool force)
{
    char errbuf[512];
    int r = tls_reload(d->tls, force, errbuf, sizeof errbuf);
    if (r == 0)
        return;
    capv_log_entry *e =
        capv_log_begin(d->log, r < 0 ? CAPV_LOG_ERROR : CAPV_LOG_INFO, "tls_reload");
    if (force)
        capv_log_end(e,
                     r < 0 ? "TLS certificate not reloaded, the old one stays: %s"
                           : "TLS certificate reloaded",
                     errbuf);
    else
        capv_log_end(e,
                     r < 0 ? "TLS certificate file changed, not reloaded, the old one stays: %s"
                           : "TLS certificate file changed: reloaded",
                     errbuf);
}

#define REGISTRY_RETRY_MS 5000

/* How long a reload waits for the requests in flight before it lets the new ones in again
 * and tries once more a second later (reload_when_idle): the write lock, once asked for,
 * holds every new request back. Requests take microseconds to milliseconds; one that waits
 * for SQLite's write lock held by another process (a `capverify registry import`) takes up
 * to registry.busy_timeout_ms. After RELOAD_WAIT_MAX_MS of such tries the reload waits for
 * them as long as they take, so that it is never put off for good. */
#define RELOAD_LOCK_WAIT_MS 200
#define RELOAD_WAIT_MAX_MS 30000
/* A SQLite registry's queued records written before the lock, so that closing the handle
 * under it has little left to write. */
#define RELOAD_FLUSH_MS 1000

/* The slices of a wait without a limit: the watchdog is fed between them. */
#define RELOAD_SLICE_MS 5000

/* The write lock within wait_ms. wait_ms < 0: however long the requests in flight take, in
 * slices between which the watchdog is fed; given up (false) when a SIGTERM or SIGINT is
 * pending (blocked, for serve() to take). */
static bool lock_for_reload(capvd *d, int wait_ms)
{
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (wait_ms < 0 ? RELOAD_SLICE_MS : wait_ms) * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        if (pthread_rwlock_clockwrlock(&d->lock, CLOCK_MONOTONIC, &until) == 0)
            return true;
        if (wait_ms >= 0)
            return false;
        notify_watchdog(mono_ms());
        sigset_t pending;
        if (sigpending(&pending) == 0 &&
            (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1))
            return false;
    }
}

/* Whether a SQLite registry's file is still the one its handle opened (a restore with
 * --force puts another in its place). */
static bool registry_file_same(const capvd *d)
{
    struct stat st;
    return d->registry != NULL && stat(d->cfg.registry_path, &st) == 0 &&
           st.st_dev == d->registry_dev && st.st_ino == d->registry_ino;
}

/* What a reload does with the registry, decided before the write lock: a PostgreSQL handle
 * opened anew (a password file may hold a new password), which replaces the open one; a
 * SQLite file opened again only when it was replaced (its handle must be closed first: one
 * writer per file). Opening a large SQLite file read-write takes a second (docs/registry.md),
 * which the requests behind the lock would wait for. */
typedef struct registry_reload {
    capv_registry *fresh; /* PostgreSQL: the new handle, or NULL to keep the open one */
    bool reopen;          /* SQLite: close the handle and open the file again */
} registry_reload;

/* A PostgreSQL handle opened for a reload that then could not take the lock waits in
 * d->reload_fresh for the next try. The handle being replaced (main thread: d->registry
 * changes only there) writes its queued records first, so that few are left when it closes
 * (a SQLite one under the lock; a PostgreSQL one after it, its records then found by the
 * new handle); what the storage does not take now is left to the close. */
static registry_reload registry_reload_prepare(capvd *d)
{
    registry_reload rr = { d->reload_fresh, false };
    d->reload_fresh = NULL;
    char errbuf[512];
    if (*d->cfg.registry_url) {
        if (rr.fresh == NULL && (rr.fresh = open_registry(d, errbuf, sizeof errbuf)) == NULL) {
            capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "registry_reload");
            capv_log_end(e, "registry not reopened, the open handle stays: %s", errbuf);
        }
    } else {
        rr.reopen = d->registry != NULL && !registry_file_same(d);
    }
    capv_status flushed = (rr.reopen || rr.fresh != NULL) && d->registry != NULL
                              ? capv_registry_flush(d->registry, RELOAD_FLUSH_MS, NULL)
                              : CAPV_OK;
    (void)flushed;
    return rr;
}

/* How long the shutdown (and a reload closing a replaced PostgreSQL handle) waits for the
 * queued verification records before it says which are not written; closing the registry
 * then tries again for 10 s (docs/registry.md, "Durability"). */
#define RECORDS_FLUSH_MS 5000

/* d->registry, and its mirror that a scrape reads while a reload holds or waits for the
 * lock (cap_verifier_registry_open). Under the write lock, or before the listeners start. */
static void registry_set(capvd *d, capv_registry *reg)
{
    d->registry = reg;
    atomic_store(&d->registry_open, reg != NULL);
}

/* A registry handle a reload replaces: its counters so far join the daemon's (under the write
 * lock, with the swap, so that no scrape sees them missing), into taken[]. */
static void registry_carry(capvd *d, const capv_registry *reg, uint64_t taken[REGISTRY_CARRIED])
{
    for (int i = 0; i < REGISTRY_CARRIED; i++) {
        taken[i] = reg != NULL ? capv_registry_stat_get(reg, registry_carried_stat(i)) : 0;
        atomic_fetch_add(&d->registry_carried[i], taken[i]);
    }
}

/* ...then closes it, once it has written its queue (for at most flush_ms, then what the
 * writer's stop writes or drops), adding what those last writes counted. A PostgreSQL handle
 * the entry count still queries (entry_count.c) is closed by that count when it returns. */
static void registry_retire(capvd *d, capv_registry *reg, const uint64_t taken[REGISTRY_CARRIED],
                            int flush_ms)
{
    if (reg == NULL)
        return;
    capv_status flushed = capv_registry_flush(reg, flush_ms, NULL);
    (void)flushed;
    capv_registry_stop_writer(reg);
    for (int i = 0; i < REGISTRY_CARRIED; i++)
        atomic_fetch_add(&d->registry_carried[i],
                         capv_registry_stat_get(reg, registry_carried_stat(i)) - taken[i]);
    if (!entry_count_release(reg))
        capv_registry_close(reg);
}

/* Under the write lock: the registry of rr in place; the handle it replaces in *old (its
 * counters carried, into taken[]), to be closed once the lock is released. When a SQLite file
 * cannot be opened again, the main thread tries once more every REGISTRY_RETRY_MS
 * (registry_retry); meanwhile /readyz says why. */
static void registry_reload_apply(capvd *d, registry_reload *rr, capv_registry **old,
                                  uint64_t taken[REGISTRY_CARRIED])
{
    *old = NULL;
    if (rr->fresh != NULL) {
        *old = d->registry;
        registry_carry(d, *old, taken);
        registry_set(d, rr->fresh);
        rr->fresh = NULL;
        return;
    }
    if (!rr->reopen)
        return;
    char errbuf[512];
    uint64_t closed[REGISTRY_CARRIED];
    registry_carry(d, d->registry, closed);
    /* closed first: that releases the writer lock, so the file can be reopened; under the
     * lock, after registry_reload_prepare's flush, without a flush of its own (what that
     * flush left, the writer's stop writes, for up to its grace period while the storage
     * fails) */
    registry_retire(d, d->registry, closed, 0);
    registry_set(d, open_registry(d, errbuf, sizeof errbuf));
    if (d->registry == NULL) {
        d->registry_retry_ms = mono_ms() + REGISTRY_RETRY_MS;
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "registry_reload");
        capv_log_end(e, "registry not reopened (tried again every %d s): %s",
                     REGISTRY_RETRY_MS / 1000, errbuf);
    } else {
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_INFO, "registry_reload");
        capv_log_end(e, "registry reopened: its file was replaced");
    }
}

/* After a failed reopen: the registry opened again once it can be (before the lock: no
 * request uses a registry meanwhile), and given to the verifier (whose cached verdicts, made
 * without it, go). Waits for the requests in flight no longer than a reload's try; when they
 * take longer, the next tick opens it again. */
static void registry_retry(capvd *d)
{
    if (d->registry != NULL || mono_ms() < d->registry_retry_ms)
        return;
    char errbuf[512];
    capv_registry *reg = open_registry(d, errbuf, sizeof errbuf);
    if (reg == NULL) {
        d->registry_retry_ms = mono_ms() + REGISTRY_RETRY_MS;
        return;
    }
    if (!lock_for_reload(d, RELOAD_LOCK_WAIT_MS)) {
        capv_registry_close(reg);
        return;
    }
    registry_set(d, reg);
    capv_verifier_set_registry(d->verifier, d->registry);
    pthread_rwlock_unlock(&d->lock);
    capv_cache_invalidate_all(d->cache);
    capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_INFO, "registry_reload");
    capv_log_end(e, "registry reopened");
}

/* A key file whose declared kid is not its key's is reported (docs/formats.md, "Keys"): the
 * key's own kid is the one used. At most KID_WARNINGS lines, then a count. */
#define KID_WARNINGS 16
static void warn_kid_mismatches(capvd *d, const capv_verifier *v)
{
    const capv_trust_store *ts = capv_verifier_trust_store(v);
    size_t n = capv_trust_store_count(ts), told = 0, more = 0;
    for (size_t i = 0; i < n; i++) {
        const capv_key *k = capv_trust_store_key(ts, i);
        const char *declared = capv_key_declared_kid(k);
        if (declared == NULL || strcmp(declared, capv_key_kid(k)) == 0)
            continue;
        if (told == KID_WARNINGS) {
            more++;
            continue;
        }
        told++;
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_WARN, "trust_kid_mismatch");
        capv_log_str(e, "source", capv_key_source(k));
        capv_log_str(e, "declared_kid", declared);
        capv_log_str(e, "kid", capv_key_kid(k));
        capv_log_end(e, "a key file declares a kid that is not its key's; the key's own is used");
    }
    if (more > 0) {
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_WARN, "trust_kid_mismatch");
        capv_log_int(e, "more", (int64_t)more);
        capv_log_end(e, "more key files declare a kid that is not their key's");
    }
}

/* The part of a SIGHUP done under the write lock, which waits for in-flight requests (up to
 * wait_ms; < 0: as long as they take): the registry is reopened (registry_reload_prepare),
 * the verifier is rebuilt around it, and the backup signing key is read again. Returns
 * false, having changed nothing, when the requests in flight did not end in time. */
static bool reload_state(capvd *d, int wait_ms)
{
    char errbuf[512], keybuf[512];
    capv_signing_key *backup_key = NULL;
    bool key_ok = load_backup_key(d, &backup_key, keybuf, sizeof keybuf);
    registry_reload rr = registry_reload_prepare(d);
    if (!lock_for_reload(d, wait_ms)) {
        capv_signing_key_free(backup_key);
        d->reload_fresh = rr.fresh; /* for the next try */
        return false;
    }
    capv_registry *old_registry = NULL;
    uint64_t taken[REGISTRY_CARRIED];
    registry_reload_apply(d, &rr, &old_registry, taken);
    capv_verifier *v = build_verifier(d, errbuf, sizeof errbuf);
    capv_verifier *old = NULL;
    if (v == NULL) {
        /* keep the old trust configuration, but never a dangling registry pointer */
        capv_verifier_set_registry(d->verifier, d->registry);
    } else {
        old = d->verifier;
        d->verifier = v;
    }
    if (key_ok) {
        /* backups run under the read lock: none is using the old key now */
        capv_signing_key *old_key = d->backup_key;
        d->backup_key = backup_key;
        backup_key = old_key;
    }
    pthread_rwlock_unlock(&d->lock);
    registry_retire(d, old_registry, taken, RECORDS_FLUSH_MS); /* nothing uses it any more */
    capv_signing_key_free(backup_key);
    if (!key_ok) {
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "backup_key_reload");
        capv_log_end(e, "backup signing key not reloaded, the old one stays: %s", keybuf);
    }
    if (v == NULL) {
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "trust_reload");
        capv_log_end(e, "trust store / policies not reloaded, the old ones stay: %s", errbuf);
        return true;
    }
    capv_verifier_free(old);
    capv_cache_invalidate_all(d->cache); /* no stale verdict survives a trust change */
    atomic_store(&d->trust_loaded, true);
    capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_INFO, "trust_reload");
    capv_log_int(e, "trusted_keys", (int64_t)capv_trust_store_count(capv_verifier_trust_store(v)));
    capv_log_end(e, "trust store and policies reloaded");
    warn_kid_mismatches(d, v);
    return true;
}

/* reload_state when no backup runs, none begins meanwhile, and the requests in flight end
 * soon; else the reload waits, with backups kept from beginning, and the main loop tries
 * again every second (reload_when_idle). A backup holds the read lock for as long as it
 * takes, and the write lock, once asked for, holds every new request back: so the reload
 * waits for the backup's end without asking, and the daemon serves on. Each reason to wait
 * is logged once, when it begins. */
static void reload_try(capvd *d)
{
    int64_t now = mono_ms();
    reload_wait reason;
    if (!backups_pause(d)) {
        reason = RELOAD_WAITS_FOR_BACKUP;
    } else {
        /* RELOAD_WAIT_MAX_MS of tries that the requests in flight outlasted: now however
         * long they take */
        bool patient = d->reload_why >= RELOAD_WAITS_FOR_REQUESTS &&
                       now - d->reload_since_ms >= RELOAD_WAIT_MAX_MS;
        if (patient && d->reload_why != RELOAD_WAITS_LONG) {
            capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_WARN, "trust_reload");
            capv_log_int(e, "waited_ms", now - d->reload_since_ms);
            capv_log_end(e, "the reload now waits for the requests in flight however long they "
                            "take; new API requests wait behind it");
            d->reload_why = RELOAD_WAITS_LONG;
        }
        if (reload_state(d, patient ? -1 : RELOAD_LOCK_WAIT_MS)) {
            d->reload_deferred = false;
            d->reload_why = RELOAD_WAITS_NOT;
            backups_resume(d);
            return;
        }
        reason = patient ? RELOAD_WAITS_LONG : RELOAD_WAITS_FOR_REQUESTS;
    }
    if (d->reload_why != reason) {
        /* the clock of RELOAD_WAIT_MAX_MS starts at the first try the requests outlast */
        d->reload_since_ms = now;
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_INFO, "trust_reload");
        capv_log_end(e,
                     "%s: the trust store, policies, registry and backup key are reloaded "
                     "once it is over (tried every second); no backup begins before",
                     reason == RELOAD_WAITS_FOR_BACKUP
                         ? "a backup is running or beginning"
                         : "requests in flight hold the daemon's lock (a registry write "
                           "waiting for another process's lock, say)");
        d->reload_why = reason;
    }
    d->reload_deferred = true;
    d->reload_next_ms = now + 1000;
}

/* SIGHUP: the key set and the TLS certificate at once; the registry, the trust configuration
 * and the backup key as soon as nothing holds them up (reload_try). A SIGHUP while a reload
 * waits changes nothing: that reload reads everything when it runs. */
static void reload(capvd *d)
{
    auth_reload(d->auth, d->log);
    if (d->tls != NULL)
        reload_tls(d, true);
    if (!d->reload_deferred)
        reload_try(d);
}

/* A reload that waited (reload_try), tried again once a second: the pause stayed raised
 * meanwhile, so no other backup began. */
static void reload_when_idle(capvd *d)
{
    if (d->reload_deferred && mono_ms() >= d->reload_next_ms)
        reload_try(d);
}

static void on_evict(void *user, capv_evict_reason reason)
{
    capvd *d = user;
    static const char *const names[] = { "size", "ttl", "invalidated" };
    capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_DEBUG, "cache_evict");
    capv_log_str(e, "cache", "report");
    capv_log_str(e, "reason", names[reason]);
    capv_log_end(e, "cache entry evicted");
}

static char *read_text_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b != NULL && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b != NULL) {
        b[n] = '\0';
        *len = (size_t)n;
    }
    return b;
}

/* How long stopping the listeners may take once in-flight requests are done or cut. */
#define STOP_TIMEOUT_SECONDS 5

/* Stops the listeners (run on its own thread, so the wait for it is bounded). */
static void *stopper(void *arg)
{
    server_stop(arg);
    return NULL;
}

/* ---- arguments and configuration ----------------------------------------------------- */

typedef struct args {
    const char *config_dir;
    bool dir_given, check_only, print;
    char **sets; /* the values of --set, borrowed from argv */
    int nsets;
} args;

/* RUN_ON, or the exit status when the arguments are wrong or asked for no start. */
static int parse_args(args *a, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(arg, "--version") == 0) {
            printf("capverifyd %s (libcapverify %s, commit %s)\n", CAPV_VERSION_STRING,
                   capv_version_string(), capv_version_commit());
            return EXIT_OK;
        } else if (strcmp(arg, "--print-config-reference") == 0) {
            capvd_config_print_reference();
            return EXIT_OK;
        } else if (strcmp(arg, "--print-config-reference=mdoc") == 0) {
            capvd_config_print_mdoc();
            return EXIT_OK;
        } else if (strcmp(arg, "--check-config") == 0) {
            a->check_only = true;
        } else if (strcmp(arg, "--print-config") == 0) {
            a->print = true;
        } else if (strcmp(arg, "--config-dir") == 0 && i + 1 < argc) {
            a->config_dir = argv[++i];
            a->dir_given = true;
        } else if (strcmp(arg, "--set") == 0 && i + 1 < argc) {
            a->sets[a->nsets++] = argv[++i];
        } else {
            fprintf(stderr, "capverifyd: unexpected argument '%s'\n", arg);
            usage(stderr);
            return EXIT_CONFIG;
        }
    }
    return RUN_ON;
}

/* Signals are handled synchronously by the main thread only. They are blocked before any
 * thread exists (the JWKS refresher, CivetWeb's workers) so every thread inherits the mask
 * and no signal ever takes a default action on another thread. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* --print-config: RUN_ON when --check-config follows, else the exit status. */
static int print_config(capvd *d, bool check_only)
{
    capvd_config_print(&d->cfg);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "capverifyd: cannot write the configuration: %s\n", strerror(errno));
        capvd_config_free(&d->cfg);
        return EXIT_INTERNAL;
    }
    if (!check_only) { /* printing starts nothing: no logger, no registry, no listener */
        capvd_config_free(&d->cfg);
        return EXIT_OK;
    }
    return RUN_ON;
}

/* Loads and checks the configuration (and prints it for --print-config): RUN_ON, or the
 * exit status with the reasons on stderr. */
static int load_config(capvd *d, const args *a)
{
    char errbuf[4096];
    capvd_config_defaults(&d->cfg);
    if (!capvd_config_load(&d->cfg, a->config_dir, a->dir_given, a->sets, a->nsets, errbuf,
                           sizeof errbuf)) {
        fprintf(stderr, "capverifyd: configuration error: %s\n", errbuf);
        capvd_config_free(&d->cfg);
        return EXIT_CONFIG;
    }
    int rc = a->print ? print_config(d, a->check_only) : RUN_ON;
    if (rc != RUN_ON)
        return rc;
    /* The same checks for --check-config and a start: the two never disagree. */
    if (!capvd_config_check(&d->cfg, a->config_dir, errbuf, sizeof errbuf)) {
        for (char *line = errbuf; *line;) {
            size_t n = strcspn(line, "\n");
            fprintf(stderr, "capverifyd: configuration error: %.*s\n", (int)n, line);
            line += n + (line[n] == '\n');
        }
        capvd_config_free(&d->cfg);
        return EXIT_CONFIG;
    }
    return RUN_ON;
}

/* ---- startup ------------------------------------------------------------------------- */

/* What --check-config checks beyond the configuration itself, and a start needs first: the
 * library and the logger, the identity provider's settings, TLS files, the registry's
 * signing key, the trust store and policies. RUN_ON, or the exit status. */
static int prepare(capvd *d, bool check_only)
{
    char errbuf[4096];
    capv_log_level level = CAPV_LOG_INFO;
    if (capv_log_level_parse(&level, d->cfg.logging_level, NULL) != CAPV_OK)
        level = CAPV_LOG_INFO; /* the configuration checked it */
    capv_error err = CAPV_ERROR_INIT;
    /* --check-config: its warnings go to stderr, its verdict to stdout */
    int log_fd = check_only ? STDERR_FILENO : STDOUT_FILENO;
    if (capv_global_init(&err) != CAPV_OK ||
        capv_logger_new(&d->log, log_fd, level, &err) != CAPV_OK ||
        capv_logger_set_flush_ms(d->log, (int)d->cfg.logging_flush_ms, &err) != CAPV_OK) {
        fprintf(stderr, "capverifyd: %s\n", err.message);
        return EXIT_INTERNAL;
    }
    if (!auth_create(&d->auth, &d->cfg, !check_only, errbuf, sizeof errbuf) ||
        !tls_create(&d->tls, &d->cfg, errbuf, sizeof errbuf)) {
        fprintf(stderr, "capverifyd: configuration error: %s\n", errbuf);
        return EXIT_CONFIG;
    }
    if (*d->cfg.registry_signing_key_file &&
        capv_signing_key_load(&d->registry_key, d->cfg.registry_signing_key_file, &err) !=
            CAPV_OK) {
        fprintf(stderr, "capverifyd: configuration error: registry.signing_key_file: %s\n",
                err.message);
        return EXIT_CONFIG;
    }
    if (!load_backup_key(d, &d->backup_key, errbuf, sizeof errbuf)) {
        fprintf(stderr, "capverifyd: configuration error: %s\n", errbuf);
        return EXIT_CONFIG;
    }
    d->verifier = build_verifier(d, errbuf, sizeof errbuf);
    if (d->verifier == NULL) {
        fprintf(stderr, "capverifyd: configuration error: %s\n", errbuf);
        return EXIT_CONFIG;
    }
    return RUN_ON;
}

/* The locks, verification options, report cache and registry. RUN_ON, or the exit status. */
static int open_state(capvd *d)
{
    /* writer-preferring: a SIGHUP reload must not starve behind a stream of requests */
    pthread_rwlockattr_t rwattr;
    pthread_rwlockattr_init(&rwattr);
    pthread_rwlockattr_setkind_np(&rwattr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&d->lock, &rwattr);
    pthread_mutex_init(&d->backup_lock, NULL);
    capv_error err = CAPV_ERROR_INIT;
    if (capvd_config_verify_options(&d->opts, &d->limits, &d->cfg, &err) != CAPV_OK) {
        fprintf(stderr, "capverifyd: verification options: %s\n", err.message);
        return EXIT_INTERNAL;
    }
    if (d->cfg.cache_enabled) {
        if (capv_cache_new(&d->cache, (size_t)d->cfg.cache_size, (size_t)d->cfg.cache_max_bytes,
                           d->cfg.cache_ttl_seconds * 1000, &err) != CAPV_OK) {
            fprintf(stderr, "capverifyd: cache: %s\n", err.message);
            return EXIT_INTERNAL;
        }
        capv_cache_set_evict_callback(d->cache, on_evict, d);
    }
    char errbuf[4096];
    registry_set(d, open_registry(d, errbuf, sizeof errbuf));
    if (d->registry == NULL) {
        fprintf(stderr, "capverifyd: %s\n", errbuf);
        capv_log_entry *le = capv_log_begin(d->log, CAPV_LOG_ERROR, "startup_failed");
        capv_log_str(le, "registry", *d->cfg.registry_url ? "registry.url" : d->cfg.registry_path);
        capv_log_end(le, "%s", errbuf);
        return EXIT_UNAVAILABLE;
    }
    capv_verifier_set_registry(d->verifier, d->registry);
    capv_verifier_set_cache(d->verifier, d->cache);
    atomic_store(&d->trust_loaded, true);
    return RUN_ON;
}

/* Settings that are fine for a test but not for production say so at every start, and so
 * do key files that declare a wrong kid. */
static void warn_settings(capvd *d)
{
    if (!d->cfg.auth_enabled) {
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_WARN, "auth_disabled");
        capv_log_end(e, "AUTHENTICATION IS OFF: every client may call every route "
                        "(set auth.enabled=true in production)");
    }
    if (!*d->cfg.trust_dir) {
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_WARN, "trust_empty");
        capv_log_end(e, "no trust store configured (trust.dir): no signature can be trusted");
    }
    warn_kid_mismatches(d, d->verifier);
}

/* `rel` (relative to the directory of the running executable) into `out`: installed data is
 * found from the binary, so an installed tree works from any prefix (docs/building.md). */
static const char *installed_path(char out[PATH_MAX], const char *rel)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? memrchr(exe, '/', (size_t)n) : NULL;
    if (slash == NULL ||
        snprintf(out, PATH_MAX, "%.*s/%s", (int)(slash - exe), exe, rel) >= PATH_MAX)
        snprintf(out, PATH_MAX, "%s", rel);
    return out;
}

/* A host of a libpq connection string reached without the network: a Unix socket (empty:
 * the default one; a path; an abstract name), `localhost`, or a loopback address (127/8,
 * ::1) written as one. */
static bool pq_host_is_local(const char *h, size_t n)
{
    char a[64];
    unsigned char bin[16];
    if (n == 0 || h[0] == '/' || h[0] == '@')
        return true;
    if (n >= sizeof a)
        return false;
    memcpy(a, h, n);
    a[n] = '\0';
    if (strcmp(a, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, a, bin) == 1)
        return bin[0] == 127;
    return inet_pton(AF_INET6, a, bin) == 1 && IN6_IS_ADDR_LOOPBACK((struct in6_addr *)bin);
}

/* The i-th entry of a comma-separated libpq list (NULL or empty: one empty entry); false
 * past its end. */
static bool pq_list_at(const char *list, size_t i, const char **p, size_t *n)
{
    const char *s = list ? list : "";
    for (; i > 0; i--) {
        s = strchr(s, ',');
        if (s == NULL)
            return false;
        s++;
    }
    const char *end = strchr(s, ',');
    *p = s;
    *n = end ? (size_t)(end - s) : strlen(s);
    return true;
}

/* Whether libpq finds a root certificate for a connection: sslrootcert, PGSSLROOTCERT or
 * ~/.postgresql/root.crt. */
static bool pq_root_cert(const char *url_rootcert)
{
    if (url_rootcert != NULL || (getenv("PGSSLROOTCERT") && *getenv("PGSSLROOTCERT")))
        return true;
    const char *home = getenv("HOME");
    char path[PATH_MAX];
    return home != NULL && *home &&
           snprintf(path, sizeof path, "%s/.postgresql/root.crt", home) < (int)sizeof path &&
           access(path, R_OK) == 0;
}

/* registry.url reaching its server over the network with an sslmode that checks no
 * certificate (docs/registry.md, "PostgreSQL backend": libpq's default, prefer, even falls
 * back to plain text) is said at every start, before the first connection. libpq's order:
 * the URL, then a service file (service=, PGSERVICE: what it sets is not seen here, so then
 * nothing is said), then PGSSLMODE / PGHOST / PGHOSTADDR, then its defaults; `require` with
 * a root certificate behaves as verify-ca. */
static void warn_registry_tls(capvd *d)
{
    if (!*d->cfg.registry_url)
        return;
    PQconninfoOption *opts = PQconninfoParse(d->cfg.registry_url, NULL);
    if (opts == NULL)
        return; /* the open says what is wrong with the URL */
    const char *host = NULL, *hostaddr = NULL, *mode = NULL, *service = NULL, *rootcert = NULL;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        const char *v = o->val && *o->val ? o->val : NULL;
        if (strcmp(o->keyword, "host") == 0)
            host = v;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = v;
        else if (strcmp(o->keyword, "sslmode") == 0)
            mode = v;
        else if (strcmp(o->keyword, "service") == 0)
            service = v;
        else if (strcmp(o->keyword, "sslrootcert") == 0)
            rootcert = v;
    }
    const char *env_mode = getenv("PGSSLMODE"), *env_service = getenv("PGSERVICE");
    const char *from = "the URL";
    bool unseen = false; /* set by a service file, if anywhere */
    if (mode == NULL && (service != NULL || (env_service && *env_service))) {
        unseen = true;
    } else if (mode == NULL && env_mode != NULL && *env_mode) {
        mode = env_mode;
        from = "PGSSLMODE";
    } else if (mode == NULL) {
        mode = "prefer";
        from = "libpq's default";
    }
    if (host == NULL && !unseen)
        host = getenv("PGHOST");
    if (hostaddr == NULL && !unseen)
        hostaddr = getenv("PGHOSTADDR");
    bool checked = unseen || strcmp(mode, "verify-full") == 0 || strcmp(mode, "verify-ca") == 0 ||
                   (strcmp(mode, "require") == 0 && pq_root_cert(rootcert));
    /* the i-th server is hostaddr's i-th entry when there is one, else host's */
    const char *p = NULL, *remote = NULL;
    size_t n = 0, remote_n = 0;
    for (size_t i = 0; !checked && remote == NULL; i++) {
        bool more = pq_list_at(hostaddr, i, &p, &n);
        if (!more || n == 0)
            more = pq_list_at(host, i, &p, &n) || more;
        if (!more)
            break;
        if (!pq_host_is_local(p, n)) {
            remote = p;
            remote_n = n;
        }
    }
    if (remote != NULL) {
        char h[256];
        snprintf(h, sizeof h, "%.*s", (int)(remote_n < 255 ? remote_n : 255), remote);
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_WARN, "registry_tls");
        capv_log_str(e, "host", h);
        capv_log_str(e, "sslmode", mode);
        capv_log_end(e,
                     "registry.url reaches %s over the network with sslmode=%s (%s): the "
                     "database server's certificate is not checked, so whoever is in the path "
                     "can take the connection and its password; set "
                     "sslmode=verify-full&sslrootcert=CA.pem",
                     h, mode, from);
    }
    PQconninfoFree(opts);
}

/* --check-config once every check of prepare() passed: the warnings a start logs about its
 * settings (as JSON lines on stderr), then the verdict. */
static int check_config_end(capvd *d)
{
    warn_settings(d);
    warn_registry_tls(d);
    auth_free(d->auth);
    printf("configuration ok\n");
    return EXIT_OK;
}

/* Opens the state, plans the backups and starts the listeners. RUN_ON, or the exit status. */
static int start(capvd *d, backup_schedule *backups)
{
    warn_registry_tls(d);
    int rc = open_state(d);
    if (rc != RUN_ON)
        return rc;
    const char *api_doc = getenv("CAPVERIFYD_OPENAPI");
    char installed[PATH_MAX];
    d->openapi = read_text_file(
        api_doc ? api_doc : installed_path(installed, CAPVD_OPENAPI_RELPATH), &d->openapi_len);
    d->started_ms = now_ms();
    metrics_init(CAPV_VERSION_STRING, capv_version_commit());
    backup_schedule_init(backups, d);
    warn_settings(d);
    char errbuf[4096];
    if (!server_start(d, errbuf, sizeof errbuf)) {
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "startup_failed");
        capv_log_end(e, "%s", errbuf);
        return EXIT_UNAVAILABLE;
    }
    if (!entry_count_start(d)) {
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "entry_count");
        capv_log_end(e, "cannot start the thread that counts the registry's entries: "
                        "cap_verifier_registry_entries stays absent");
    }
    capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_INFO, "started");
    capv_log_str(e, "listen", d->cfg.server_listen);
    capv_log_str(e, "admin_listen", d->cfg.server_admin_listen);
    capv_log_bool(e, "tls", d->tls != NULL);
    capv_log_bool(e, "auth", d->cfg.auth_enabled);
    capv_log_str(e, "version", capv_version_string());
    capv_log_end(e, "capverifyd serving");
    char status[300];
    snprintf(status, sizeof status, "serving on %s (admin %s)", d->cfg.server_listen,
             *d->cfg.server_admin_listen ? d->cfg.server_admin_listen : "off");
    notify_ready(status);
    return RUN_ON;
}

/* ---- the signal loop ----------------------------------------------------------------- */

/* SIGTERM / SIGINT: not ready at once, still serving for shutdown.grace_seconds. */
static void start_drain(capvd *d, int64_t *drain_until)
{
    if (*drain_until != 0)
        return;
    atomic_store(&d->draining, true);
    conn_drain_begin();
    notify_stopping();
    *drain_until = mono_ms() + d->cfg.shutdown_grace_seconds * 1000;
    /* an upload in progress is cancelled at once (its multipart upload aborted), not after
     * the grace period, the requests in flight or a running backup: it needs none of them */
    offsite_cancel();
    capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_INFO, "draining");
    capv_log_int(e, "grace_seconds", d->cfg.shutdown_grace_seconds);
    capv_log_end(e, "shutdown requested: not ready, still serving during the grace period");
    if (d->reload_deferred) { /* periodic() runs no more */
        e = capv_log_begin(d->log, CAPV_LOG_WARN, "trust_reload");
        capv_log_end(e, "the waiting reload is dropped: the daemon stops");
    }
}

/* SIGUSR1 makes the log more verbose, SIGUSR2 less. */
static void change_log_level(capvd *d, int sig)
{
    int lvl = (int)capv_logger_level(d->log) + (sig == SIGUSR1 ? -1 : 1);
    if (lvl >= CAPV_LOG_DEBUG && lvl <= CAPV_LOG_ERROR)
        capv_logger_set_level(d->log, (capv_log_level)lvl);
    capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_WARN, "log_level");
    /* not "level": that key is the line's own level (a duplicate key breaks parsers) */
    capv_log_str(e, "new_level", capv_log_level_name(capv_logger_level(d->log)));
    capv_log_end(e, "log level changed");
}

/* What runs once a second while serving: a changed certificate file, a registry a SIGHUP
 * could not reopen, a SIGHUP that waited for a backup, a due backup, freed memory handed back
 * to the system. */
static void periodic(capvd *d, backup_schedule *backups)
{
    if (d->tls != NULL)
        reload_tls(d, false);
    registry_retry(d);
    reload_when_idle(d); /* before the next backup can begin */
    backup_schedule_tick(backups, mono_ms());
    auth_tick(d->auth, d->log, now_ms());
    budget_tick();
    notify_watchdog(mono_ms());
}

/* Serves until a SIGTERM's grace period has passed (or signals cannot be waited for). */
static void serve(capvd *d, const sigset_t *set, backup_schedule *backups)
{
    int64_t drain_until = 0;
    for (;;) {
        struct timespec tick = { 1, 0 };
        int sig = sigtimedwait(set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT)
            start_drain(d, &drain_until);
        else if (sig == SIGHUP)
            reload(d);
        else if (sig == SIGUSR1 || sig == SIGUSR2)
            change_log_level(d, sig);
        else if (sig < 0 && errno != EAGAIN && errno != EINTR)
            break;
        if (drain_until == 0)
            periodic(d, backups);
        if (drain_until != 0 && mono_ms() >= drain_until)
            break;
    }
}

/* ---- shutdown ------------------------------------------------------------------------ */

/* After the grace period the API listener accepts no more connections, and the accepted
 * ones finish (bounded by shutdown.timeout_seconds): every request in flight, every
 * connection with a request begun in its head or waiting for a worker (docs/hardening.md,
 * "Shutdown"). Only then do the listeners stop: CivetWeb's mg_stop makes every read and
 * write still in progress fail at once and closes the connections it has not served, which
 * would lose those requests. Returns how many requests are still running (and will be cut),
 * and in *connections how many connections held a request then; both are logged as
 * event=shutdown_cut. */
static int64_t wait_in_flight(capvd *d, int64_t *connections)
{
    int listening = conn_api_listeners(), closed = conn_stop_accepting();
    bool all_closed = closed == listening && closed > 0;
    capv_log_entry *e =
        capv_log_begin(d->log, all_closed ? CAPV_LOG_INFO : CAPV_LOG_WARN, "not_accepting");
    capv_log_int(e, "listening_sockets", closed);
    if (all_closed)
        capv_log_end(e, "grace period over: the API listener accepts no new connections; "
                        "waiting for the requests accepted");
    else
        capv_log_end(e,
                     "grace period over: %d of %d listening socket(s) closed; the API listener "
                     "may accept connections until it stops; waiting for the requests accepted",
                     closed, listening);
    int64_t drain_deadline = mono_ms() + d->cfg.shutdown_timeout_seconds * 1000;
    int64_t busy;
    while (((busy = conn_api_busy()) > 0 || metrics_inflight_get() > 0) &&
           mono_ms() < drain_deadline) {
        struct timespec pause = { 0, 50 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    int64_t cut = metrics_inflight_get();
    if (cut > 0 || busy > 0) {
        e = capv_log_begin(d->log, CAPV_LOG_ERROR, "shutdown_cut");
        capv_log_int(e, "requests_cut", cut);
        capv_log_int(e, "connections_cut", busy);
        capv_log_int(e, "timeout_seconds", d->cfg.shutdown_timeout_seconds);
        capv_log_end(e,
                     "%lld request(s) in flight and %lld connection(s) holding a request after "
                     "shutdown.timeout_seconds: cut",
                     (long long)cut, (long long)busy);
    }
    *connections = busy;
    return cut;
}

/* Stops the listeners. Once nothing is in flight this takes CivetWeb's poll interval; cut
 * requests fail their next read or write at once. Bounded all the same: a worker stuck
 * elsewhere must not keep the process alive past its termination grace. */
static bool stop_listeners(capvd *d)
{
    pthread_t t;
    if (pthread_create(&t, NULL, stopper, d) != 0)
        return false;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += STOP_TIMEOUT_SECONDS;
    return pthread_timedjoin_np(t, NULL, &deadline) == 0;
}

/* Writes the queued verification records; those the registry cannot write within
 * RECORDS_FLUSH_MS (the storage fails) are logged at ERROR (event records_unwritten): the
 * handle that counts their drop is closed right after (`closing`), so its counter is never
 * scraped, or not at all (the process exits with it). */
static void flush_records(capvd *d, bool closing)
{
    capv_error err = CAPV_ERROR_INIT;
    if (d->registry == NULL || capv_registry_flush(d->registry, RECORDS_FLUSH_MS, &err) == CAPV_OK)
        return;
    uint64_t left = capv_registry_stat_get(d->registry, CAPV_REGISTRY_STAT_QUEUE_DEPTH);
    capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "records_unwritten");
    capv_log_int(e, "records", (int64_t)left);
    capv_log_end(e,
                 "%llu queued verification record(s) not written within %d s at shutdown (%s); %s",
                 (unsigned long long)left, RECORDS_FLUSH_MS / 1000, err.message,
                 closing ? "closing the registry tries again for 10 s, then drops them"
                         : "they are lost with the process");
}

static void free_state(capvd *d)
{
    /* A scheduled backup holds the read lock until it has logged and queued its upload:
     * it finishes first. The lock is never released again, so a backup thread started by the
     * last tick that has not taken it yet waits for the exit instead of using what is freed
     * below. */
    pthread_rwlock_wrlock(&d->lock);
    flush_records(d, true);
    capv_verifier_free(d->verifier);
    if (!entry_count_release(d->registry)) /* shut_down stopped the count first */
        capv_registry_close(d->registry);
    capv_registry_close(d->reload_fresh);
    capv_signing_key_free(d->registry_key);
    capv_signing_key_free(d->backup_key);
    capv_verify_options_free(d->opts);
    capv_package_limits_free(d->limits);
    capv_cache_free(d->cache);
    tls_free(d->tls);
    auth_free(d->auth);
    free(d->openapi);
    capv_logger_free(d->log);
    capvd_config_free(&d->cfg);
    capv_global_shutdown();
}

/* How long the shutdown waits for an entry count under way (entry_count.c). */
#define ENTRY_COUNT_STOP_MS 2000

/* Drains, stops and frees; returns the exit status (1 when requests were cut). */
static int shut_down(capvd *d)
{
    int64_t conns = 0;
    int64_t cut = wait_in_flight(d, &conns); /* the upload was cancelled by start_drain */
    if (!stop_listeners(d)) {
        /* workers may still use the registry: nothing is freed, the exit closes it */
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "stopped");
        capv_log_int(e, "requests_cut", cut);
        capv_log_int(e, "connections_cut", conns);
        capv_log_end(e, "the listeners did not stop within %d s; exiting", STOP_TIMEOUT_SECONDS);
        offsite_stop();
        /* the registry is not closed: its queue dies with the process; the logger's waiting
         * lines (logging.flush_ms) are written, the logger not freed */
        flush_records(d, false);
        capv_logger_flush(d->log);
        return EXIT_CUT;
    }
    bool any_cut = cut > 0 || conns > 0;
    if (!entry_count_stop(ENTRY_COUNT_STOP_MS)) {
        /* a count still waits for a database that does not answer: the registry it queries
         * is not closed under it. A backup under way ends first (free_state's lock, never
         * released); the queue is written for RECORDS_FLUSH_MS, what is left logged */
        pthread_rwlock_wrlock(&d->lock);
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "stopped");
        capv_log_int(e, "requests_cut", cut);
        capv_log_int(e, "connections_cut", conns);
        capv_log_end(e,
                     "the registry's entry count did not end within %d s (the database "
                     "does not answer); exiting without closing the registry",
                     ENTRY_COUNT_STOP_MS / 1000);
        offsite_stop();
        flush_records(d, false);
        capv_logger_flush(d->log);
        return any_cut ? EXIT_CUT : EXIT_OK;
    }
    capv_log_entry *e = capv_log_begin(d->log, any_cut ? CAPV_LOG_ERROR : CAPV_LOG_INFO, "stopped");
    capv_log_int(e, "requests_cut", cut);
    capv_log_int(e, "connections_cut", conns);
    capv_log_end(e, any_cut ? "stopped with requests cut; exiting with status 1"
                            : "all requests finished; exiting");
    offsite_stop();
    free_state(d);
    return any_cut ? EXIT_CUT : EXIT_OK;
}

/* Without TZ, glibc's mktime/localtime look at /etc/localtime again on every call, under a
 * process-wide lock; libzip calls mktime for every member's DOS time, so every verification
 * did several stat(2) calls and contended on that lock across the workers. TZ naming the
 * same file keeps the local time and reads it once. Our own times are UTC. */
static void fix_timezone(void)
{
    if (getenv("TZ") == NULL)
        setenv("TZ", ":/etc/localtime", 1);
    tzset();
}

int main(int argc, char **argv)
{
    fix_timezone(); /* before any thread exists: setenv is not thread-safe */
    args a = { .config_dir = DEFAULT_CONFIG_DIR, .sets = calloc((size_t)argc, sizeof(char *)) };
    if (a.sets == NULL)
        return EXIT_INTERNAL;
    int rc = parse_args(&a, argc, argv);
    if (rc != RUN_ON) {
        free(a.sets);
        return rc;
    }
    sigset_t set;
    block_signals(&set);
    static capvd d;
    rc = load_config(&d, &a);
    free(a.sets);
    if (rc != RUN_ON)
        return rc;
    backup_schedule backups;
    if ((rc = prepare(&d, a.check_only)) != RUN_ON ||
        (rc = a.check_only ? check_config_end(&d) : start(&d, &backups)) != RUN_ON) {
        capv_logger_flush(d.log); /* the lines that wait (logging.flush_ms) */
        return rc;
    }
    serve(&d, &set, &backups);
    return shut_down(&d);
}
