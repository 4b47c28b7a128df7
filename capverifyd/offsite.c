/* SPDX-License-Identifier: Apache-2.0 */
/* The uploader of offsite.h: one thread, one waiting backup (the newest), retries with a
 * doubling delay; a takeover's listings on a second thread, started at the first. The work
 * is the library's (capverify/backup_remote.h). */
#include "offsite.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "metrics.h"

#define RETRY_MAX_MS (3600 * 1000)
/* While the listing at start has not succeeded once, the store is listed again after
 * backup.s3.retry_seconds, doubling up to a minute (or retry_seconds, if longer). */
#define SEED_RETRY_MAX_MS (60 * 1000)

static struct {
    pthread_mutex_t m;
    pthread_cond_t cv;      /* wakes the uploader */
    pthread_cond_t list_cv; /* wakes the lister */
    pthread_t thread, lister;
    bool started, lister_started;
    atomic_bool stop;
    capvd *d;
    char *pending; /* the backup to upload next, or NULL */
    char *newest;  /* at start: the newest local backup (NULL: none), and its time */
    int64_t newest_ms;
    int64_t retry_at_ms;       /* not before this, CLOCK_MONOTONIC (0 = now) */
    int64_t delay_ms;          /* the next retry delay */
    bool seeded;               /* the timestamps came from the store (or from an upload) */
    bool seed_failed;          /* a listing for them failed (logged once) */
    int64_t seed_at_ms;        /* the next listing for them, CLOCK_MONOTONIC */
    int64_t seed_delay_ms;     /* after the next failure of that listing */
    offsite_listed_fn *listed; /* a listing asked for by offsite_list_newest, or NULL */
    void *listed_arg;
} up = { .m = PTHREAD_MUTEX_INITIALIZER,
         .cv = PTHREAD_COND_INITIALIZER,
         .list_cv = PTHREAD_COND_INITIALIZER };

static int64_t now_ms(void)
{
    return capv_clock_system(NULL);
}

/* For retry times: a step of the wall clock neither stretches nor skips a retry's delay. */
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool cancelled(void *user)
{
    (void)user;
    return atomic_load(&up.stop);
}

/* A handle on the store of backup.s3.*; the credentials are read now (a rotated Secret is
 * used from the next upload on). */
static capv_status open_store(capv_backup_remote **r, const capvd_config *c, capv_error *err)
{
    capv_backup_remote_options o = CAPV_BACKUP_REMOTE_OPTIONS_INIT;
    o.url = c->backup_s3_url;
    o.endpoint = c->backup_s3_endpoint;
    o.region = c->backup_s3_region;
    o.path_style = c->backup_s3_path_style;
    o.credentials_file = c->backup_s3_credentials_file;
    o.ca_file = c->backup_s3_ca_file;
    o.cancel = cancelled;
    return capv_backup_remote_new(r, &o, err);
}

/* The complete copies in the store (a handle of its own, closed again). */
static capv_status list_store(capv_backup_remote_listing **l, const capvd_config *c,
                              capv_error *err)
{
    capv_backup_remote *r = NULL;
    capv_status st = open_store(&r, c, err);
    if (st == CAPV_OK)
        st = capv_backup_remote_list(l, r, err);
    capv_backup_remote_free(r);
    return st;
}

/* Whether the copy `b` is dated in the future (CAPV_BACKUP_REMOTE_AHEAD_MS after `now`,
 * created_at or uploaded_at): not taken as the newest, since the metrics never go down again
 * and a takeover would plan its next backup an interval after it (docs/registry.md,
 * "Off-site copies"; the library's retention neither counts nor deletes such copies). */
static bool dated_ahead(const capv_backup_remote_info *b, int64_t now)
{
    int64_t u = 0, c = 0;
    return (capv_rfc3339_parse(&u, b->uploaded_at, strlen(b->uploaded_at), NULL) == CAPV_OK &&
            u > now + CAPV_BACKUP_REMOTE_AHEAD_MS) ||
           (capv_rfc3339_parse(&c, b->created_at, strlen(b->created_at), NULL) == CAPV_OK &&
            c > now + CAPV_BACKUP_REMOTE_AHEAD_MS);
}

/* At start, with the store listed (`l`, NULL when it could not be): the newest local backup
 * (up.newest) is queued when the store holds no copy taken at its time or later: its upload
 * failed, or never ran, before the restart, and waiting for the next scheduled backup would
 * leave the off-site copy up to two intervals old. (By time, not content: a backup of an
 * unchanged registry has the bytes of the one before, and its upload is what renews the
 * off-site copy's age.) Unlisted, the store is assumed to lack it. */
static void queue_newest_local(capvd *d, const capv_backup_remote_listing *l)
{
    char *copy = up.newest;
    up.newest = NULL;
    int64_t now = now_ms();
    for (size_t i = 0; copy != NULL && l != NULL && i < capv_backup_remote_listing_count(l); i++) {
        const capv_backup_remote_info *c = capv_backup_remote_listing_get(l, i);
        int64_t t = 0;
        if (!dated_ahead(c, now) &&
            capv_rfc3339_parse(&t, c->created_at, strlen(c->created_at), NULL) == CAPV_OK &&
            t >= up.newest_ms) {
            free(copy);
            copy = NULL;
        }
    }
    if (copy == NULL)
        return;
    pthread_mutex_lock(&up.m);
    if (up.pending == NULL) { /* else a backup queued since start, which is newer */
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_INFO, "backup_upload_catch_up");
        capv_log_str(e, "path", copy);
        capv_log_end(e, "the newest local backup has no off-site copy yet: queued");
        up.pending = copy;
        up.retry_at_ms = 0;
        copy = NULL;
    }
    pthread_mutex_unlock(&up.m);
    free(copy);
}

/* The newest upload and creation times (Unix ms, 0: none readable) of the copies listed, and
 * the newest copy (NULL: none), leaving out copies dated in the future (dated_ahead): one
 * WARN names the newest of those (event backup_upload_ahead). */
static const capv_backup_remote_info *newest_times(capvd *d, int64_t *uploaded, int64_t *created,
                                                   const capv_backup_remote_listing *l)
{
    *uploaded = *created = 0;
    int64_t now = now_ms();
    const capv_backup_remote_info *newest = NULL, *ahead = NULL;
    size_t n_ahead = 0;
    for (size_t i = 0; i < capv_backup_remote_listing_count(l); i++) {
        const capv_backup_remote_info *b = capv_backup_remote_listing_get(l, i);
        if (dated_ahead(b, now)) {
            if (n_ahead++ == 0)
                ahead = b; /* the listing is newest first */
            continue;
        }
        if (newest == NULL)
            newest = b;
        int64_t u = 0, c = 0;
        if (capv_rfc3339_parse(&u, b->uploaded_at, strlen(b->uploaded_at), NULL) == CAPV_OK &&
            u > *uploaded)
            *uploaded = u;
        if (capv_rfc3339_parse(&c, b->created_at, strlen(b->created_at), NULL) == CAPV_OK &&
            c > *created)
            *created = c;
    }
    if (ahead != NULL) {
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_WARN, "backup_upload_ahead");
        capv_log_str(e, "url", ahead->url);
        capv_log_str(e, "created_at", ahead->created_at);
        capv_log_str(e, "uploaded_at", ahead->uploaded_at);
        capv_log_int(e, "copies", (int64_t)n_ahead);
        capv_log_end(e, "an off-site copy is dated in the future (a clock ahead where it was "
                        "taken, or written by hand): not taken as the newest, neither counted "
                        "nor deleted by the retention; look at it and remove it by hand");
    }
    return newest;
}

/* At start, and again after a delay that doubles up to a minute until it succeeds once: the
 * newest complete copy in the store sets the timestamps (item of the runbook's BackupOffsiteStale: a restart must not
 * look like a fresh copy, nor like none; a store down at start must not leave them at 0 for
 * good), and at the first try the newest local backup is queued when the store lacks it
 * (queue_newest_local). A failure is logged once, and the success that follows it. */
static void seed_from_store(capvd *d)
{
    capv_backup_remote_listing *l = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = list_store(&l, &d->cfg, &err);
    if (st != CAPV_OK && atomic_load(&up.stop)) {
        capv_backup_remote_listing_free(l);
        return; /* cancelled by the shutdown */
    }
    bool first = !up.seed_failed, quiet = st != CAPV_OK && up.seed_failed;
    if (st == CAPV_OK) {
        pthread_mutex_lock(&up.m); /* the lister's listing sets it too */
        up.seeded = true;
        pthread_mutex_unlock(&up.m);
    } else {
        up.seed_failed = true;
        up.seed_at_ms = mono_ms() + up.seed_delay_ms;
        int64_t max = d->cfg.backup_s3_retry_seconds * 1000;
        max = max > SEED_RETRY_MAX_MS ? max : SEED_RETRY_MAX_MS;
        up.seed_delay_ms = up.seed_delay_ms * 2 > max ? max : up.seed_delay_ms * 2;
    }
    if (!quiet) {
        const capv_backup_remote_info *newest = NULL;
        int64_t uploaded = 0, created = 0;
        if (st == CAPV_OK) /* before the entry below: its WARN is a line of its own */
            newest = newest_times(d, &uploaded, &created, l);
        capv_log_entry *e = capv_log_begin(d->log, st == CAPV_OK ? CAPV_LOG_INFO : CAPV_LOG_WARN,
                                           "backup_upload_seed");
        capv_log_str(e, "url", d->cfg.backup_s3_url);
        if (newest != NULL) {
            metrics_upload_seed(uploaded, created);
            capv_log_str(e, "newest", newest->url);
            capv_log_int(e, "copies", (int64_t)capv_backup_remote_listing_count(l));
            capv_log_end(e, "off-site copies found%s; the newest sets the last-upload time",
                         first ? "" : " (listed again after a failure)");
        } else if (st == CAPV_OK) {
            capv_log_int(e, "copies", (int64_t)capv_backup_remote_listing_count(l));
            capv_log_end(e, "no off-site copy yet%s%s",
                         capv_backup_remote_listing_count(l) > 0 ? " (but some dated ahead)" : "",
                         first ? "" : " (listed again after a failure)");
        } else {
            capv_log_str(e, "error", capv_status_name(st));
            capv_log_int(e, "retry_in_ms", up.seed_at_ms - mono_ms());
            capv_log_end(e,
                         "cannot list the off-site copies at start: %s; listed again (up to "
                         "every minute) until it succeeds, the last-upload time unknown until "
                         "then",
                         err.message);
        }
    }
    if (up.newest != NULL) /* the first try only: the catch-up is decided once */
        queue_newest_local(d, st == CAPV_OK ? l : NULL);
    capv_backup_remote_listing_free(l);
}

/* The listing offsite_list_newest asked for, on the lister's thread: the metrics, then the
 * caller's function. */
static void list_for(capvd *d, offsite_listed_fn *fn, void *arg)
{
    capv_backup_remote_listing *l = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = list_store(&l, &d->cfg, &err);
    int64_t uploaded = 0, created = 0;
    if (st == CAPV_OK) {
        /* the store's newest copy is this registry's last backup, and the last upload: the
         * replica taking over exports them (BackupStale, BackupOffsiteStale), not the times
         * it saw at its own start */
        (void)newest_times(d, &uploaded, &created, l);
        metrics_upload_seed(uploaded, created);
        pthread_mutex_lock(&up.m);
        up.seeded = true; /* the uploader need not list the store for them */
        pthread_mutex_unlock(&up.m);
    } else if (!atomic_load(&up.stop)) {
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_WARN, "backup_upload");
        capv_log_str(e, "error", capv_status_name(st));
        capv_log_end(e, "cannot list the off-site copies: %s", err.message);
    }
    capv_backup_remote_listing_free(l);
    if (!atomic_load(&up.stop))
        fn(arg, st == CAPV_OK, created);
}

/* One upload of `path` and the retention after it. */
static bool upload_once(capvd *d, const char *path)
{
    int64_t start = now_ms();
    capv_backup_remote *r = NULL;
    capv_backup_remote_info *info = NULL;
    capv_error err = CAPV_ERROR_INIT;
    size_t removed = 0;
    capv_status st = open_store(&r, &d->cfg, &err);
    if (st == CAPV_OK)
        st = capv_backup_remote_upload(&info, r, path, NULL, NULL, &err);
    bool uploaded = st == CAPV_OK;
    capv_status prune = CAPV_OK;
    capv_error perr = CAPV_ERROR_INIT;
    if (uploaded && d->cfg.backup_s3_retain > 0)
        prune = capv_backup_remote_prune(&removed, r, (unsigned int)d->cfg.backup_s3_retain, &perr);
    if (atomic_load(&up.stop) && !uploaded) {
        capv_backup_remote_free(r);
        return false; /* cancelled by the shutdown: neither a success nor a store failure */
    }
    metrics_upload(uploaded, now_ms());
    capv_log_entry *e =
        capv_log_begin(d->log, uploaded ? CAPV_LOG_INFO : CAPV_LOG_ERROR, "backup_upload");
    capv_log_str(e, "path", path);
    capv_log_int(e, "duration_ms", now_ms() - start);
    if (uploaded) {
        capv_log_str(e, "url", info->url);
        capv_log_int(e, "size_bytes", (int64_t)info->size_bytes);
        capv_log_int(e, "removed", (int64_t)removed);
        capv_log_end(e, "off-site copy stored");
    } else {
        capv_log_str(e, "error", capv_status_name(st));
        capv_log_end(e, "off-site copy failed, the local backup is kept: %s", err.message);
    }
    if (prune != CAPV_OK && !atomic_load(&up.stop)) { /* else cancelled by the shutdown */
        e = capv_log_begin(d->log, CAPV_LOG_WARN, "backup_upload_retention");
        capv_log_str(e, "error", capv_status_name(prune));
        capv_log_end(e, "off-site retention failed: %s", perr.message);
    }
    capv_backup_remote_info_free(info);
    capv_backup_remote_free(r);
    return uploaded;
}

/* Under up.m: the monotonic time of the next thing to do (INT64_MAX: nothing until
 * signalled). */
static int64_t next_work_ms(void)
{
    int64_t at = INT64_MAX;
    if (up.pending != NULL)
        at = up.retry_at_ms;
    if (!up.seeded && up.seed_at_ms < at)
        at = up.seed_at_ms;
    return at;
}

static void *uploader(void *arg)
{
    capvd *d = arg;
    pthread_mutex_lock(&up.m);
    while (!atomic_load(&up.stop)) {
        int64_t now = mono_ms(), at = next_work_ms();
        if (now < at) {
            if (at == INT64_MAX) {
                pthread_cond_wait(&up.cv, &up.m);
            } else {
                struct timespec ts = { (time_t)(at / 1000), (long)(at % 1000) * 1000000L };
                pthread_cond_clockwait(&up.cv, &up.m, CLOCK_MONOTONIC, &ts);
            }
            continue;
        }
        if (!up.seeded && now >= up.seed_at_ms) {
            pthread_mutex_unlock(&up.m);
            seed_from_store(d);
            pthread_mutex_lock(&up.m);
            continue;
        }
        char *path = strdup(up.pending);
        pthread_mutex_unlock(&up.m);
        bool ok = path != NULL && upload_once(d, path);
        /* a backup that local retention removed meanwhile is not tried again */
        bool gone = path != NULL && !ok && access(path, F_OK) != 0 && errno == ENOENT;
        pthread_mutex_lock(&up.m);
        if (ok)
            up.seeded = true; /* the last-upload time is now's: no listing needed for it */
        if (path != NULL && up.pending != NULL && strcmp(up.pending, path) == 0) {
            if (ok || gone) {
                free(up.pending);
                up.pending = NULL;
                up.delay_ms = d->cfg.backup_s3_retry_seconds * 1000;
            } else if (!atomic_load(&up.stop)) {
                up.retry_at_ms = mono_ms() + up.delay_ms;
                capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_INFO, "backup_upload_retry");
                capv_log_int(e, "in_ms", up.delay_ms);
                capv_log_end(e, "the off-site copy is tried again later");
                up.delay_ms = up.delay_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : up.delay_ms * 2;
            }
        }
        free(path);
    }
    pthread_mutex_unlock(&up.m);
    return NULL;
}

/* The listings of offsite_list_newest, on a thread of their own: a takeover plans its
 * scheduled backups from them, and the uploader may be in an upload for minutes (a large
 * file, a store that hangs until the retries run out), which they must not wait for
 * (docs/registry.md, "Leadership"). */
static void *lister(void *arg)
{
    capvd *d = arg;
    pthread_mutex_lock(&up.m);
    while (!atomic_load(&up.stop)) {
        if (up.listed == NULL) {
            pthread_cond_wait(&up.list_cv, &up.m);
            continue;
        }
        offsite_listed_fn *fn = up.listed;
        void *larg = up.listed_arg;
        up.listed = NULL;
        pthread_mutex_unlock(&up.m);
        list_for(d, fn, larg);
        pthread_mutex_lock(&up.m);
    }
    pthread_mutex_unlock(&up.m);
    return NULL;
}

bool offsite_list_newest(offsite_listed_fn *fn, void *arg)
{
    pthread_mutex_lock(&up.m);
    bool queued = up.started && !atomic_load(&up.stop);
    if (queued && !up.lister_started) {
        int rc = pthread_create(&up.lister, NULL, lister, up.d);
        if (rc == 0) {
            up.lister_started = true;
        } else {
            queued = false;
            capv_log_entry *e = capv_log_begin(up.d->log, CAPV_LOG_ERROR, "backup_upload");
            capv_log_end(e, "cannot start the off-site lister: %s", strerror(rc)); /* not errno */
        }
    }
    if (queued) {
        up.listed = fn; /* replaces one not begun yet */
        up.listed_arg = arg;
        pthread_cond_signal(&up.list_cv);
    }
    pthread_mutex_unlock(&up.m);
    return queued;
}

void offsite_start(capvd *d, const char *newest, int64_t newest_ms)
{
    if (!*d->cfg.backup_s3_url || up.started)
        return;
    metrics_upload_enable();
    up.d = d;
    up.newest = newest != NULL ? strdup(newest) : NULL; /* none: no catch-up */
    up.newest_ms = newest_ms;
    up.delay_ms = d->cfg.backup_s3_retry_seconds * 1000;
    up.seeded = up.seed_failed = false;
    up.seed_at_ms = 0; /* at once */
    up.seed_delay_ms = up.delay_ms;
    up.listed = NULL;
    atomic_store(&up.stop, false);
    int rc = pthread_create(&up.thread, NULL, uploader, d);
    if (rc == 0) {
        pthread_mutex_lock(&up.m); /* offsite_queue may run on a request's thread already */
        up.started = true;
        pthread_mutex_unlock(&up.m);
        return;
    }
    free(up.newest);
    up.newest = NULL;
    capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "backup_upload");
    capv_log_end(e, "cannot start the off-site uploader: %s", strerror(rc)); /* not errno */
}

void offsite_queue(const char *path)
{
    char *copy = path != NULL ? strdup(path) : NULL;
    pthread_mutex_lock(&up.m);
    if (copy != NULL && up.started && !atomic_load(&up.stop)) {
        free(up.pending);
        up.pending = copy;
        up.retry_at_ms = 0;
        up.delay_ms = up.d->cfg.backup_s3_retry_seconds * 1000;
        copy = NULL;
        pthread_cond_signal(&up.cv);
    }
    pthread_mutex_unlock(&up.m);
    free(copy); /* off-site copies are off, or stopping */
}

void offsite_cancel(void)
{
    pthread_mutex_lock(&up.m);
    atomic_store(&up.stop, true);
    pthread_cond_signal(&up.cv);
    pthread_cond_signal(&up.list_cv);
    pthread_mutex_unlock(&up.m);
}

void offsite_stop(void)
{
    offsite_cancel();
    pthread_mutex_lock(&up.m);
    bool started = up.started, lister_started = up.lister_started;
    pthread_mutex_unlock(&up.m);
    if (!started)
        return;
    pthread_join(up.thread, NULL);
    if (lister_started)
        pthread_join(up.lister, NULL);
    pthread_mutex_lock(&up.m);
    up.started = up.lister_started = false;
    pthread_mutex_unlock(&up.m);
    free(up.pending);
    up.pending = NULL;
    free(up.newest);
    up.newest = NULL;
    up.listed = NULL;
}
