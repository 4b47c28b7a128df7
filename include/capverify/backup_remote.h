/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * Off-site copies of registry backups in an S3-compatible object store (docs/registry.md,
 * "Off-site copies"): upload a complete local backup (capv_registry_backup), the database
 * file first and its sidecar last, so that a sidecar in the store marks a complete copy; list
 * the complete copies; download one and verify it before it is restored; keep the newest N.
 *
 * Requests go to the store over HTTPS (plain HTTP only to a loopback endpoint, for tests),
 * signed with AWS Signature Version 4 by libcurl, with the real SHA-256 of every payload
 * (x-amz-content-sha256) and an x-amz-checksum-sha256 on every upload, which the store
 * checks. Each request is retried with exponential backoff on connection failures, timeouts
 * and busy answers (5xx, 429, 408), a bounded number of times.
 *
 * Errors (err->message says what, which bucket or key, and the store's error code; it never
 * holds a credential):
 * @verbatim
 *   CAPV_E_UNAVAILABLE  the store refused the request: 403 (access denied, a wrong key or
 *                       signature: the credentials or the bucket policy need fixing), another
 *                       4xx, or 5xx answers until the attempts ran out; also a cancelled call
 *   CAPV_E_NOT_FOUND    no such bucket (NoSuchBucket: the message names the bucket), no such
 *                       object, or a local file that is missing
 *   CAPV_E_NETWORK      the endpoint could not be reached (after the retries)
 *   CAPV_E_MISMATCH     the bytes do not match their checksum or the sidecar
 *   CAPV_E_INVALID_ARG  bad options (an http:// endpoint that is not loopback, a bad s3://
 *                       URL), or no credentials
 * @endverbatim
 * A 403 is "unavailable", not "rejected": nothing the caller sent was judged; the service
 * cannot be used with these credentials until an operator fixes them, and the daemon's
 * mapping (UNAVAILABLE = try again later) is the right one for that.
 *
 * Thread safety: a capv_backup_remote handle is immutable once made; any number of threads
 * may call the functions below on it at once. Requires capv_global_init(). */
#ifndef CAPVERIFY_BACKUP_REMOTE_H
#define CAPVERIFY_BACKUP_REMOTE_H

#include <stdbool.h>

#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An object store location and the credentials to reach it. Since 0.2. */
typedef struct capv_backup_remote capv_backup_remote;

/** Polled during transfers and between retries: true stops the call, which then fails with
 * CAPV_E_UNAVAILABLE ("cancelled"). Since 0.2. */
typedef bool (*capv_cancel_fn)(void *user);

/** The default multipart threshold and part size: 64 MiB. Since 0.2. */
#define CAPV_BACKUP_REMOTE_PART_SIZE (64u * 1024u * 1024u)

/** The version of capv_backup_remote_options that this header describes. */
#define CAPV_BACKUP_REMOTE_OPTIONS_VERSION 1
/** Options of capv_backup_remote_new. Strings are copied. Since 0.2 (version 1). */
typedef struct capv_backup_remote_options {
    unsigned int version; /**< CAPV_BACKUP_REMOTE_OPTIONS_VERSION */
    /** s3://BUCKET[/PREFIX]: backups are stored as `PREFIX/registry-<UTC>-<h>.sqlite` and
     * `PREFIX/registry-<UTC>-<h>.json`, `<h>` the first 16 hex digits of the file's SHA3-256
     * (required) */
    const char *url;
    /** https://HOST[:PORT] of the store; http:// only for a loopback host (tests).
     * NULL or "" = `https://s3.<region>.amazonaws.com` */
    const char *endpoint;
    const char *region; /**< signing region; NULL or "" = "us-east-1" */
    /** ENDPOINT/BUCKET/KEY (most non-AWS stores, and buckets with dots) instead of the
     * virtual-hosted BUCKET.ENDPOINT/KEY */
    bool path_style;
    /** an AWS shared-credentials file (INI: [default] aws_access_key_id = …,
     * aws_secret_access_key = …, optionally aws_session_token = …), e.g. a mounted Secret;
     * NULL or "" = the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
     * AWS_SESSION_TOKEN) */
    const char *credentials_file;
    const char *profile;          /**< the file's section; NULL or "" = "default" */
    const char *ca_file;          /**< PEM CA bundle of the endpoint; NULL or "" = system */
    uint64_t multipart_threshold; /**< larger files go in parts; 0 = 64 MiB; at most 5 GiB */
    /** bytes per part (S3 wants at least 5 MiB but for the last part; smaller sizes suit
     * test servers); 0 = 64 MiB; raised to keep within 10000 parts */
    uint64_t part_size;
    unsigned int max_attempts; /**< attempts per request; 0 = 5 */
    unsigned int backoff_ms;   /**< delay before the second attempt, doubling up to 30 s, with
                                * jitter; 0 = 500 */
    unsigned int timeout_ms;   /**< connect timeout, and how long a transfer may stall (below
                                * 1 KiB/s) before it is retried; 0 = 30000 */
    capv_cancel_fn cancel;     /**< NULL = never */
    void *cancel_user;         /**< passed to `cancel` */
} capv_backup_remote_options;

/** Initialiser of a capv_backup_remote_options: the current version, all else 0 or NULL. */
#define CAPV_BACKUP_REMOTE_OPTIONS_INIT                                                            \
    {                                                                                              \
        CAPV_BACKUP_REMOTE_OPTIONS_VERSION, NULL, NULL, NULL, false, NULL, NULL, NULL, 0u, 0u, 0u, \
            0u, 0u, NULL, NULL                                                                     \
    }

/** Checks the options, reads the credentials and makes a handle; nothing is sent yet.
 * CAPV_E_INVALID_ARG (bad options, an options version of 0 or newer than this library's,
 * no credentials), CAPV_E_NOT_FOUND / CAPV_E_IO (the credentials file), CAPV_E_MISSING (the
 * profile lacks a key). Free with capv_backup_remote_free, which wipes the credentials.
 * Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_backup_remote_new(
    capv_backup_remote **out, const capv_backup_remote_options *opts, capv_error *err);
/** NULL is a no-op. Since 0.2. */
CAPV_API void capv_backup_remote_free(capv_backup_remote *remote);

/** Checks the options as capv_backup_remote_new does (version, URL, endpoint, region, part
 * size), without reading credentials and without capv_global_init: the rule a configuration
 * check applies (capverifyd --check-config). CAPV_E_INVALID_ARG with the reason. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_backup_remote_check_options(const capv_backup_remote_options *opts, capv_error *err);

/** The version of capv_backup_remote_info that this header describes. */
#define CAPV_BACKUP_REMOTE_INFO_VERSION 1
/** A backup in the store (always allocated by the library, with the current version; free
 * with capv_backup_remote_info_free). Since 0.2 (version 1). */
typedef struct capv_backup_remote_info {
    unsigned int version; /**< CAPV_BACKUP_REMOTE_INFO_VERSION */
    const char *url;      /**< s3://BUCKET/KEY of the database object */
    /** `PREFIX/registry-<yyyymmddTHHMMSSZ>-<16 hex digits>.sqlite`; a copy uploaded before
     * 2026-12-08: `PREFIX/registry-<yyyymmddTHHMMSSZ>[-n].sqlite` */
    const char *key;
    const char *sidecar_key;  /**< the same with ".json" */
    const char *created_at;   /**< the sidecar's: when the backup was taken */
    const char *uploaded_at;  /**< when the sidecar was stored (its Last-Modified), RFC 3339 */
    const char *sha3_256;     /**< the sidecar's, "0x…" */
    uint64_t size_bytes;      /**< the sidecar's: size of the database file */
    int schema_version;       /**< the sidecar's: the backed-up registry's schema version */
    uint64_t entries;         /**< the sidecar's: registry entries in the backup */
    uint64_t verifications;   /**< the sidecar's: recorded verifications in the backup */
    const char *tool_version; /**< the sidecar's: what took the backup */
} capv_backup_remote_info;

/** NULL is a no-op. Since 0.2. */
CAPV_API void capv_backup_remote_info_free(capv_backup_remote_info *info);

/** Uploads the complete local backup `backup_path` (a `registry-<…>.sqlite` with its sidecar,
 * as capv_registry_backup_list lists it): the file is read once to hash it, and must still have
 * the sidecar's size and SHA3-256 (else CAPV_E_MISMATCH); then it is stored under the
 * handle's prefix as `registry-<the second of its created_at, UTC>-<the first 16 hex digits
 * of its SHA3-256>`, a name no backup of other bytes has (two replicas backing up in the
 * same second upload under two names), with its SHA-256 as checksum (x-amz-meta-sha3-256 and x-amz-meta-sha256 hold
 * the whole file's digests): in one PUT up to the multipart threshold, above it as a
 * multipart upload whose parts each carry their checksum (a failed multipart upload is
 * aborted, so the store drops its parts). The sidecar is stored last, only once the file is
 * complete. `progress` (may be NULL) gets bytes sent of the file's size. `*out` (may be NULL)
 * describes the stored copy. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_backup_remote_upload(
    capv_backup_remote_info **out, capv_backup_remote *remote, const char *backup_path,
    capv_progress_fn progress, void *user, capv_error *err);

/** @{ */
/** The complete backups under the handle's prefix, newest first: those whose sidecar is
 * readable and names a database object of the stated size. A database object without its
 * sidecar (an upload that did not finish) is never listed. Free with
 * capv_backup_remote_listing_free. Since 0.2. */
typedef struct capv_backup_remote_listing capv_backup_remote_listing;
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_backup_remote_list(
    capv_backup_remote_listing **out, capv_backup_remote *remote, capv_error *err);
/** @} */
/** The number of backups in the listing. Since 0.2. */
CAPV_API size_t capv_backup_remote_listing_count(const capv_backup_remote_listing *listing);
/** Borrowed, valid while the listing lives; NULL when index >= count. Since 0.2. */
CAPV_API const capv_backup_remote_info *
capv_backup_remote_listing_get(const capv_backup_remote_listing *listing, size_t index);
/** NULL is a no-op. Since 0.2. */
CAPV_API void capv_backup_remote_listing_free(capv_backup_remote_listing *listing);

/** Downloads the backup `location` (s3://BUCKET/KEY of a `registry-<…>.sqlite` object, or of
 * its .json sidecar; BUCKET may differ from the handle's, the endpoint and credentials are the
 * handle's) into the existing directory `dir`: the sidecar first (it must be there: a
 * database object without one is an incomplete upload, CAPV_E_NOT_FOUND), then the file, each
 * fsynced under its own name in a new private directory in `dir`; there the copy is verified
 * with capv_registry_backup_verify_with and `verify` (NULL = the defaults: size, SHA3-256,
 * integrity, schema, entry signatures, a signed sidecar's signature; with a trust store and
 * CAPV_RESTORE_REQUIRE_SIGNED only a backup signed by a trusted key passes), and only a copy
 * that passed is renamed into `dir` (the sidecar last), so a download killed midway never
 * leaves a listed copy (its directory is removed by the next backup, verification or download
 * in `dir`). A copy that fails is removed and the status is the verification's
 * (CAPV_E_MISMATCH for a tampered or truncated one, CAPV_E_UNTRUSTED for
 * an unsigned one that had to be signed). CAPV_E_CONFLICT when `dir` already holds a file of
 * that name. `*out` (may be NULL) describes the verified local copy, as
 * capv_registry_backup_verify_with does: hand its path to capv_registry_restore_with. The
 * progress callback of `verify` (if any) first gets bytes received of the file's size.
 * Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_backup_remote_download(
    capv_backup_info **out, capv_backup_remote *remote, const char *location, const char *dir,
    const capv_restore_options *verify, capv_error *err);

/** A backup whose `created_at` (or `uploaded_at`) lies more than this many milliseconds
 * after now is dated in the future (a wrong clock where it was taken, a hand-made pair):
 * capv_backup_remote_prune neither counts nor deletes it. Since 0.2. */
#define CAPV_BACKUP_REMOTE_AHEAD_MS (5 * 60 * 1000)

/** Deletes the complete backups under the handle's prefix beyond the newest `retain` (>= 1),
 * each sidecar before its file (a file without sidecar is not listed, so no incomplete copy
 * ever looks complete), and database objects without a sidecar whose names sort before the
 * oldest backup kept and that the store last modified more than an hour ago (uploads that
 * never finished; younger ones may be another uploader's, in progress). Backups whose
 * `created_at` lies more than 5 minutes ahead of now (a wrong clock, a hand-made pair) are
 * neither counted among the `retain` nor deleted. `removed` (may be NULL) receives the
 * number of complete backups deleted. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_backup_remote_prune(size_t *removed,
                                                                      capv_backup_remote *remote,
                                                                      unsigned int retain,
                                                                      capv_error *err);

#ifdef __cplusplus
}
#endif

#endif
