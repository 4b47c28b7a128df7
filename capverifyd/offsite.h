/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: off-site copies of the registry backups (offsite.c; docs/registry.md, "Off-site
 * copies"). With backup.s3.url set, one uploader thread copies each new local backup to the
 * store (capv_backup_remote_upload: the file, then its sidecar), keeps backup.s3.retain
 * copies there, counts cap_verifier_backup_upload_total{result} and sets
 * cap_verifier_backup_last_upload_success_timestamp_seconds. A failed upload is tried again
 * after backup.s3.retry_seconds, doubling up to an hour, until it succeeds or a newer backup
 * takes its place; the local backup is never touched. At start the thread derives the
 * timestamps from the newest complete copy in the store (not one dated more than 5 minutes
 * ahead of now, which is named in a WARN instead), so a restart does not reset them
 * (listing again every minute until that succeeds, when the store cannot be reached), and
 * uploads the newest local backup when the store has no copy as new. */
#ifndef CAPVD_OFFSITE_H
#define CAPVD_OFFSITE_H

struct capvd;

#include <stdbool.h>
#include <stdint.h>

/* Starts the uploader when backup.s3.url is set (else does nothing); enables its metrics.
 * `newest` is the newest complete local backup (NULL: none) and `newest_ms` its time (Unix
 * ms): queued at once when the store has no copy as new. */
void offsite_start(struct capvd *d, const char *newest, int64_t newest_ms);

/* Called on the lister's thread with the result of offsite_list_newest's listing:
 * whether the store could be listed, and the time (Unix ms, 0: none) of its newest complete
 * copy (leaving out copies dated more than 5 minutes ahead of now). */
typedef void offsite_listed_fn(void *arg, bool listed, int64_t newest_ms);

/* Lists the store of backup.s3.* on a thread of its own, started at the first call (an
 * upload under way does not hold it up; a request not begun yet is replaced), raises the
 * last-backup and last-upload metrics to the store's newest, and calls fn(arg, …) on that
 * thread; a failed listing is logged. False (fn is never called) when off-site copies are
 * off or stopping, or the thread cannot start; once offsite_cancel has begun, fn may never be
 * called either. For a replica taking over the backups (backup.c): the listing holds none
 * of the daemon's locks, and offsite_stop ends it before the daemon is freed. */
bool offsite_list_newest(offsite_listed_fn *fn, void *arg);

/* Hands the complete local backup `path` to the uploader (replacing one still waiting). A
 * no-op when off-site copies are off, and once offsite_stop has begun. */
void offsite_queue(const char *path);

/* Cancels a running upload (an unfinished multipart upload is aborted, with one short try)
 * and lets the thread end; nothing is queued any more. Needs none of the daemon's locks:
 * the shutdown calls it first, before it waits for requests or a running backup. */
void offsite_cancel(void);

/* offsite_cancel, then joins the thread. A no-op when it was not started. */
void offsite_stop(void);

#endif
