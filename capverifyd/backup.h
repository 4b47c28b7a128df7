/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: registry backups (backup.c, docs/registry.md, "Backup"): taken on demand
 * (POST /admin/backup) or on the schedule of backup.interval_seconds, one at a time, into
 * backup.dir with backup.retain. */
#ifndef CAPVD_BACKUP_H
#define CAPVD_BACKUP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <capverify.h>

struct capvd;

/* Takes an online backup into backup.dir with retention; CAPV_E_BUSY when one is running,
 * or while a reload pauses backups (backups_pause) unless `counted`: the caller counted it in
 * d->backups before a reload could look (the schedule), so the reload waits for it. Updates
 * the backup metrics and logs event=backup. The caller holds the daemon's read lock (the
 * registry must not be swapped meanwhile). Free *info with capv_backup_info_free. */
capv_status backup_run(struct capvd *d, bool counted, capv_backup_info **info, capv_error *err);

/* For a SIGHUP's reload of the trust configuration and registry (main.c), which waits until
 * no backup runs instead of waiting for the daemon's write lock with every request behind
 * it. Pauses backups: none begins until backups_resume (POST /admin/backup meanwhile:
 * CAPV_E_BUSY; a scheduled one is put off). True when none is under way (nor a scheduled
 * one about to begin); false when one is: it ends in its own time, ask again. */
bool backups_pause(struct capvd *d);
void backups_resume(struct capvd *d);

/* The backup schedule: the main thread looks every few seconds (backup.c); a look, on its
 * own thread, backs up when this replica leads and its backup is due. A replica that takes
 * over a shared (PostgreSQL) registry's backups first plans the next from the newest copy
 * in backup.dir and in the store; a SQLite registry's daemon keeps the plan made at start. */
typedef struct backup_schedule {
    struct capvd *d;
    int64_t interval_ms;    /* backup.interval_seconds; 0 = no schedule */
    int64_t next_look_ms;   /* monotonic ms of the next look (main thread only) */
    _Atomic int64_t due_ms; /* Unix ms at which this replica's next backup is due */
    atomic_bool looking;    /* a look is under way */
    atomic_bool unsure;     /* the last look could not tell the leadership (logged once) */
    bool led;               /* the last look that could tell found this replica leading
                             * (looks only: one runs at a time) */
    atomic_bool planning;   /* took over a shared registry's backups; the store's listing
                             * (offsite_list_newest) has not planned the next one yet */
    _Atomic int64_t takeover_local_ms; /* at the takeover: the newest backup in backup.dir */
} backup_schedule;

/* Plans the schedule from the newest backup on disk, so the backup age is continuous across
 * restarts: the first backup is due one interval after it (or in a minute, if there is
 * none). Seeds the backup-age metric from it; call after metrics_init. */
void backup_schedule_init(backup_schedule *s, struct capvd *d);
/* Starts a look on its own thread when one is due at `mono_ms` (CLOCK_MONOTONIC: a step of
 * the wall clock does not hold the looks up) and none is under way. */
void backup_schedule_tick(backup_schedule *s, int64_t mono_ms);

#endif
