/* SPDX-License-Identifier: Apache-2.0 */
/* A small client of the S3 REST API over libcurl easy handles (s3.c), for the off-site
 * copies of registry backups (backup_remote.c; docs/registry.md, "Off-site copies").
 *
 * Requests are signed by libcurl (CURLOPT_AWS_SIGV4 "aws:amz:<region>:s3"); this file never
 * computes a signature. libcurl 7.88 signs the path and query exactly as given and hashes
 * only in-memory POST fields as the payload, so every request here carries its own
 * x-amz-content-sha256 (the real SHA-256 of its payload, which S3 checks), its query already
 * in canonical form (names sorted, values percent-encoded as SigV4 wants) and its key
 * percent-encoded the same way: the bytes sent are the bytes signed.
 *
 * Each request is retried, with exponential backoff and jitter, on connection failures,
 * timeouts and the answers a store gives when busy (408, 429, 500, 502, 503, 504,
 * RequestTimeout, a checksum mismatch in transit); at most `max_attempts` times.
 *
 * A handle is immutable once made, and each call uses its own curl handle: calls may run on
 * any number of threads at once. Credentials are kept only in the handle (wiped when it is
 * freed) and never appear in an error message. */
#ifndef CAPV_S3_INT_H
#define CAPV_S3_INT_H

#include <stdbool.h>

#include <capverify/backup_remote.h>

#include "buf.h"
#include "error_int.h"

typedef struct capvi_s3 capvi_s3;

/* What capvi_s3_new copies. */
typedef struct capvi_s3_config {
    const char *endpoint; /* https://HOST[:PORT] (http:// on a loopback host only) */
    const char *region;
    bool path_style;
    const char *ca_file;                                 /* NULL = the system store */
    const char *access_key, *secret_key, *session_token; /* session_token may be NULL */
    unsigned int max_attempts, backoff_ms, timeout_ms;
    capv_cancel_fn cancel;
    void *cancel_user;
} capvi_s3_config;

/* Checks the endpoint (https, or http on a loopback host: 127.0.0.0/8, ::1, localhost) and
 * copies the settings. CAPV_E_INVALID_ARG for a bad endpoint or region. */
capv_status capvi_s3_new(capvi_s3 **out, const capvi_s3_config *cfg, capv_error *err);
/* The checks of capvi_s3_new on the endpoint and region alone. */
capv_status capvi_s3_check(const char *endpoint, const char *region, capv_error *err);
/* Wipes the credentials and frees. NULL is a no-op. */
void capvi_s3_free(capvi_s3 *s);

/* The endpoint as configured (for messages; it holds no secret). */
const char *capvi_s3_endpoint(const capvi_s3 *s);

/* Credentials from an AWS shared-credentials file (INI: [profile] with aws_access_key_id,
 * aws_secret_access_key and optionally aws_session_token) when `file` is given, else from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN. The three outputs are
 * malloc'd (token NULL when there is none); free them with capvi_s3_secret_free. Errors name
 * the file and the profile, never a value: CAPV_E_NOT_FOUND / CAPV_E_IO (file), CAPV_E_MISSING
 * (a key is absent from the profile), CAPV_E_INVALID_ARG (no file and no variables). */
capv_status capvi_s3_credentials_load(char **access_key, char **secret_key, char **session_token,
                                      const char *file, const char *profile, capv_error *err);
/* Wipes and frees a secret string. NULL is a no-op. */
void capvi_s3_secret_free(char *secret);

/* The percent-encoding of SigV4 (RFC 3986 unreserved characters kept, '/' kept when
 * `keep_slash`), appended to `b`. */
void capvi_s3_uri_encode(capv_buf *b, const char *s, bool keep_slash);

/* An object of a listing. */
typedef struct capvi_s3_object {
    char *key;
    uint64_t size;
    int64_t last_modified_ms;
} capvi_s3_object;

typedef struct capvi_s3_listing {
    capvi_s3_object *items;
    size_t n;
} capvi_s3_listing;

void capvi_s3_listing_free(capvi_s3_listing *l);

/* Every object whose key starts with `prefix` (ListObjectsV2, following continuation tokens;
 * at most 100000 objects, else CAPV_E_LIMIT). */
capv_status capvi_s3_list(capvi_s3_listing *out, capvi_s3 *s, const char *bucket,
                          const char *prefix, capv_error *err);

/* The body of an object, at most `max` bytes (CAPV_E_LIMIT beyond); free with free(). The
 * object's Last-Modified (ms, 0 when absent) goes to `*last_modified_ms` (may be NULL). */
capv_status capvi_s3_get_bytes(uint8_t **body, size_t *len, int64_t *last_modified_ms, capvi_s3 *s,
                               const char *bucket, const char *key, size_t max, capv_error *err);

/* Writes the body of an object to `fd` from offset 0 (truncated first and again before each
 * retry); `*size` receives the bytes written. At most `max` bytes (CAPV_E_LIMIT beyond). */
capv_status capvi_s3_get_to_fd(uint64_t *size, capvi_s3 *s, const char *bucket, const char *key,
                               int fd, uint64_t max, capv_progress_fn progress, void *user,
                               capv_error *err);

/* HEAD of an object: its size, and its x-amz-meta-sha3-256 ("" when it has none; a longer
 * value is left out too). CAPV_E_NOT_FOUND when there is no such object. */
#define CAPVI_S3_META_SHA3_SIZE 72
capv_status capvi_s3_head(uint64_t *size, char sha3[CAPVI_S3_META_SHA3_SIZE], capvi_s3 *s,
                          const char *bucket, const char *key, capv_error *err);

/* Body of an upload: `len` bytes from memory (`data`), or from `fd` at `offset` when data is
 * NULL. `sha256` is its digest: sent as x-amz-content-sha256 and x-amz-checksum-sha256. */
typedef struct capvi_s3_body {
    const uint8_t *data;
    int fd;
    uint64_t offset, len;
    const uint8_t *sha256;
} capvi_s3_body;

/* PUT of a whole object; `headers` (NULL-terminated, may be NULL) are added ("x-amz-meta-…:
 * …"). `progress` gets bytes sent of body->len plus `progress_base` of `progress_total`. */
capv_status capvi_s3_put(capvi_s3 *s, const char *bucket, const char *key,
                         const capvi_s3_body *body, const char *const *headers,
                         capv_progress_fn progress, void *user, uint64_t progress_base,
                         uint64_t progress_total, capv_error *err);

/* CreateMultipartUpload (x-amz-checksum-algorithm SHA256); `*upload_id` is malloc'd. */
capv_status capvi_s3_multipart_create(char **upload_id, capvi_s3 *s, const char *bucket,
                                      const char *key, const char *const *headers, capv_error *err);
/* UploadPart `number` (1..10000); `etag` receives the part's ETag as the store gave it. */
#define CAPVI_S3_ETAG_SIZE 130
capv_status capvi_s3_multipart_part(char etag[CAPVI_S3_ETAG_SIZE], capvi_s3 *s, const char *bucket,
                                    const char *key, const char *upload_id, unsigned int number,
                                    const capvi_s3_body *body, capv_progress_fn progress,
                                    void *user, uint64_t progress_base, uint64_t progress_total,
                                    capv_error *err);
/* A part as CompleteMultipartUpload lists it. */
typedef struct capvi_s3_part {
    char etag[CAPVI_S3_ETAG_SIZE];
    uint8_t sha256[32];
} capvi_s3_part;
/* CompleteMultipartUpload of parts 1..n (also an error inside a 200 answer, as S3 may send). */
capv_status capvi_s3_multipart_complete(capvi_s3 *s, const char *bucket, const char *key,
                                        const char *upload_id, const capvi_s3_part *parts, size_t n,
                                        capv_error *err);
/* AbortMultipartUpload (one attempt per retry policy; also while cancelled). */
capv_status capvi_s3_multipart_abort(capvi_s3 *s, const char *bucket, const char *key,
                                     const char *upload_id, capv_error *err);

/* DELETE of an object (a missing object is CAPV_OK, as S3 answers 204). */
capv_status capvi_s3_delete(capvi_s3 *s, const char *bucket, const char *key, capv_error *err);

#endif
