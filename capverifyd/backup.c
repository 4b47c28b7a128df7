/* SPDX-License-Identifier: Apache-2.0 */
/* Registry backups of the daemon (backup.h): one at a time, logged and counted. */
#include "backup.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "metrics.h"
#include "offsite.h"

/* The first scheduled backup when none is on disk yet. */
#define FIRST_BACKUP_DELAY_MS 60000
/* How often the schedule looks whether a backup is due and this replica leads. */
#define LOOK_MS 5000

static int64_t now_ms(void)
{
    return capv_clock_system(NULL);
}

static void log_backup(capvd *d, capv_status st, const capv_backup_info *info, int64_t start,
                       const capv_error *err)
{
    capv_log_entry *e =
        capv_log_begin(d->log, st == CAPV_OK ? CAPV_LOG_INFO : CAPV_LOG_ERROR, "backup");
    capv_log_int(e, "duration_ms", now_ms() - start);
    if (st == CAPV_OK && info != NULL) {
        capv_log_str(e, "path", info->path);
        capv_log_int(e, "entries", (int64_t)info->entries);
        capv_log_int(e, "size_bytes", (int64_t)info->size_bytes);
        if (info->signer_kid != NULL)
            capv_log_str(e, "signer_kid", info->signer_kid);
    } else {
        capv_log_str(e, "error", capv_status_name(st));
    }
    capv_log_end(e, st == CAPV_OK ? "registry backup written" : "registry backup failed: %s",
                 err ? err->message : "");
}

static capv_status busy(capv_error *err, const char *why)
{
    if (err != NULL) {
        err->code = CAPV_E_BUSY;
        snprintf(err->message, sizeof err->message, "%s", why);
    }
    return CAPV_E_BUSY;
}

capv_status backup_run(capvd *d, bool counted, capv_backup_info **info, capv_error *err)
{
    if (pthread_mutex_trylock(&d->backup_lock) != 0)
        return busy(err, "a backup is already running");
    if (!counted)
        atomic_fetch_add(&d->backups, 1); /* before the check: see backups_pause */
    if (!counted && atomic_load(&d->backups_paused)) {
        atomic_fetch_sub(&d->backups, 1);
        pthread_mutex_unlock(&d->backup_lock);
        return busy(err, "a reload is under way or waits; retry shortly");
    }
    mkdir(d->cfg.backup_dir, 0750);
    int64_t start = now_ms();
    capv_backup_options o = CAPV_BACKUP_OPTIONS_INIT;
    o.retain = (unsigned)d->cfg.backup_retain;
    o.signing_key = d->backup_key; /* backup.signing_key_file: a signed sidecar */
    capv_status st = capv_registry_backup_with(info, d->registry, d->cfg.backup_dir, &o, err);
    pthread_mutex_unlock(&d->backup_lock);
    metrics_backup(st == CAPV_OK, now_ms());
    log_backup(d, st, *info, start, err);
    if (st == CAPV_OK && *info != NULL)
        offsite_queue((*info)->path); /* backup.s3.*: the off-site copy, on its own thread */
    if (!counted)
        atomic_fetch_sub(&d->backups, 1);
    return st;
}

/* The reload raises its flag, then counts backups; a backup counts itself, then looks at the
 * flag (sequentially consistent atomics): one of the two always sees the other, so no backup
 * runs under a reload that found none. */
bool backups_pause(capvd *d)
{
    atomic_store(&d->backups_paused, true);
    return atomic_load(&d->backups) == 0;
}

void backups_resume(capvd *d)
{
    atomic_store(&d->backups_paused, false);
}

/* The newest complete backup in backup.dir: its path (malloc'd; NULL when there is none, or
 * its time is unreadable) and its time in Unix ms (*ms, else 0). */
static char *newest_backup(const capvd *d, int64_t *ms)
{
    capv_backup_list *list = NULL;
    char *path = NULL;
    *ms = 0;
    if (capv_registry_backup_list(&list, d->cfg.backup_dir, NULL) == CAPV_OK &&
        capv_backup_list_count(list) > 0) {
        const capv_backup_info *b = capv_backup_list_get(list, 0);
        if (capv_rfc3339_parse(ms, b->created_at, strlen(b->created_at), NULL) != CAPV_OK)
            *ms = 0;
        else
            path = strdup(b->path);
    }
    capv_backup_list_free(list);
    return path;
}

/* The plan of a replica that takes over a shared registry's backups (take_over), once its
 * newest backups are known: its own (backup.dir, `local`) and the store's (backup.s3.*: the
 * leader's before it uploaded there). The newest sets its next backup an interval later;
 * seeing none (no store, or the store unreachable), it cannot know when the last one was,
 * and the due time stays as the looks set it: at once after another replica's leadership,
 * so the leader's going costs at most one look's delay after the listing. A plan that comes
 * after the leadership went again (a look found another leader) is dropped. */
static void plan_takeover(backup_schedule *s, int64_t local, bool listed, int64_t stored)
{
    if (!atomic_exchange(&s->planning, false))
        return;
    int64_t last = local > stored ? local : stored;
    if (last > 0)
        atomic_store(&s->due_ms, last + s->interval_ms);
    char due[CAPV_RFC3339_SIZE];
    capv_rfc3339_format(due, atomic_load(&s->due_ms));
    capv_log_entry *e = capv_log_begin(s->d->log, CAPV_LOG_INFO, "backup_leader");
    capv_log_str(e, "next_backup_at", due);
    capv_log_bool(e, "store_listed", listed);
    capv_log_end(e, "this replica makes the scheduled backups");
}

/* offsite_listed_fn of a takeover, on the off-site lister's thread. */
static void store_listed(void *arg, bool listed, int64_t newest_ms)
{
    backup_schedule *s = arg;
    plan_takeover(s, atomic_load(&s->takeover_local_ms), listed, newest_ms);
}

/* This replica leads a shared registry from this look on (under the daemon's read lock): no
 * scheduled backup until its plan is made. The store is listed on a thread of offsite.c's
 * (offsite_list_newest), without the daemon's lock and not behind an upload under way: a
 * store that times out holds up neither a SIGHUP's reload nor the shutdown, which ends that
 * thread before it frees the daemon. */
static void take_over(backup_schedule *s)
{
    int64_t local = 0;
    free(newest_backup(s->d, &local));
    atomic_store(&s->takeover_local_ms, local);
    atomic_store(&s->planning, true);
    if (!offsite_list_newest(store_listed, s))
        plan_takeover(s, local, false, 0);
}

/* A look at the schedule, under the read lock like a request's. Of a registry that several
 * replicas share (PostgreSQL: registry.url), only its leader backs up
 * (docs/registry.md#leadership); one that takes the leadership plans its next backup first
 * (take_over). A SQLite registry has one daemon, which leads while it can write: its
 * schedule is the one backup_schedule_init planned from backup.dir, with no takeover. */
static void *backup_look(void *arg)
{
    backup_schedule *s = arg;
    capvd *d = s->d;
    capv_backup_info *info = NULL;
    capv_error err = CAPV_ERROR_INIT;
    bool shared = *d->cfg.registry_url != '\0'; /* the configuration: a reload keeps it */
    pthread_rwlock_rdlock(&d->lock);
    bool leader = false;
    capv_status st =
        d->registry != NULL ? capv_registry_leader(&leader, d->registry, &err) : CAPV_E_STATE;
    int64_t now = now_ms();
    if (st != CAPV_OK) {
        metrics_backup_leader(false); /* it makes no scheduled backup while it cannot tell */
        /* once per spell: the looks go on every few seconds */
        if (d->registry != NULL && !atomic_exchange(&s->unsure, true)) {
            capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_WARN, "backup");
            capv_log_str(e, "error", capv_status_name(st));
            capv_log_end(e, "scheduled backups wait: cannot tell whether this replica leads: %s",
                         err.message);
        }
    } else {
        atomic_store(&s->unsure, false);
        metrics_backup_leader(leader);
        if (!leader) {
            atomic_store(&s->planning, false); /* a plan still to come is not this one's */
            atomic_store(&s->due_ms, now);
        } else if (shared && !s->led) {
            take_over(s);
        } else if (!atomic_load(&s->planning) && now >= atomic_load(&s->due_ms)) {
            atomic_store(&s->due_ms, now + s->interval_ms);
            (void)backup_run(d, true, &info, &err); /* counted by backup_schedule_tick */
        }
        s->led = leader;
    }
    pthread_rwlock_unlock(&d->lock);
    atomic_fetch_sub(&d->backups, 1); /* taken by backup_schedule_tick */
    atomic_store(&s->looking, false);
    capv_backup_info_free(info);
    return NULL;
}

void backup_schedule_init(backup_schedule *s, capvd *d)
{
    int64_t last = 0;
    char *newest = newest_backup(d, &last);
    if (last > 0)
        metrics_backup_seed(last);
    /* derives the last-upload time from the store, and uploads `newest` if it lacks it, on
     * its thread */
    offsite_start(d, newest, last);
    free(newest);
    s->d = d;
    s->interval_ms = d->cfg.backup_interval_seconds * 1000;
    atomic_init(&s->due_ms, last > 0 ? last + s->interval_ms : now_ms() + FIRST_BACKUP_DELAY_MS);
    atomic_init(&s->looking, false);
    atomic_init(&s->unsure, false);
    atomic_init(&s->planning, false);
    atomic_init(&s->takeover_local_ms, 0);
    s->led = false;
    s->next_look_ms = 0;
}

void backup_schedule_tick(backup_schedule *s, int64_t mono_now)
{
    int64_t now = mono_now;
    capvd *d = s->d;
    /* paused: a reload waits for a backup to end; the look comes after it */
    if (s->interval_ms <= 0 || now < s->next_look_ms || atomic_load(&d->backups_paused) ||
        atomic_load(&s->looking))
        return;
    s->next_look_ms = now + (s->interval_ms < LOOK_MS ? s->interval_ms : LOOK_MS);
    /* counted from now: a reload on this (the main) thread must not take the write lock
     * between here and the look's start, and then wait for a whole backup */
    atomic_fetch_add(&d->backups, 1);
    atomic_store(&s->looking, true);
    pthread_t t;
    int rc = pthread_create(&t, NULL, backup_look, s);
    if (rc == 0) {
        pthread_detach(t);
        return;
    }
    atomic_store(&s->looking, false);
    atomic_fetch_sub(&d->backups, 1);
    capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "backup");
    capv_log_end(e, "the backup schedule cannot look: %s; it tries again in %lld s", strerror(rc),
                 (long long)((s->next_look_ms - now) / 1000));
}
