/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: one HTTP request being handled, and what a handler does with it: read its
 * headers and body, send the answer. Every answer carries the security headers, the request
 * id and, for a listed origin, the CORS headers (docs/hardening.md). */
#ifndef CAPVD_HTTP_H
#define CAPVD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <civetweb.h>

#include "conn.h"
#include "metrics.h"
#include "ratelimit.h"

struct capvd;

/* One request being handled: routing, timing, identity and outcome, for the log line and
 * the metrics written when it completes. */
typedef struct req {
    struct capvd *d;
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    route route;
    bool admin_port;
    conn_state *cs;          /* the connection's deadlines (NULL if untracked) */
    char client[64];         /* client address (X-Forwarded-For only from trusted proxies) */
    char bucket[68];         /* its rate-limit bucket (client_bucket), "" until asked for */
    const char *cors_origin; /* the request's Origin when server.cors_origins lists it */
    bool has_body;           /* the request announced a body */
    bool body_done;          /* ... and it was read to its end */
    uint64_t reserved;       /* bytes held in the memory budget */
    bool locked;             /* holds the daemon's read lock (API routes; see put in http.c) */
    char id[72];
    char subject[128];
    char result[8];      /* ok|warn|fail|error or "" */
    bool has_outcome;    /* /verify past auth: an outcome is counted, "error" if none set */
    uint64_t body_bytes; /* the body's size, once read to its end (body_done) */
    double upload_ms;    /* the time reading it took */
    double verify_ms;    /* /verify: the verification's time (0: none ran) */
    const char *cache;   /* /verify: "hit", "miss" or "none" (no cache for this form) */
    char problems[256];  /* /verify warn/fail: the checks that did not pass */
    char error[96];      /* error code of an error response, or "" */
    int status;
    double started;
} req;

/* ---- request ---- */
/* Monotonic seconds, for request timing. */
double http_mono(void);
const char *header(req *r, const char *name);
/* The media type of Content-Type without parameters, lower-cased, into buf. */
const char *content_type(req *r, char *buf, size_t cap);
/* Whether `n` bytes at `s` are an id that a path segment names as it is: 1..max ASCII
 * letters, digits and characters of `punct`, not ending in '.' (the strict path check takes
 * no percent-encoding and refuses a segment ending in '.': docs/hardening.md, "Strict
 * HTTP"). */
bool http_id_ok(const char *s, size_t n, size_t max, const char *punct);
/* Whether `n` bytes at `s` are a request id of ours: 1..HTTP_REQUEST_ID_MAX characters of
 * [A-Za-z0-9._-], not ending in '.'. A client's X-Request-Id is used when it is one; the ids
 * the daemon makes (32 hex digits) are. The registry records verifications under them, so
 * GET /registry/verifications/{request_id} accepts exactly these. */
#define HTTP_REQUEST_ID_MAX 64
bool http_request_id_ok(const char *s, size_t n);
/* Whether a request that any web page could send without a CORS preflight (a form, a POST
 * without a body) comes from another site: refused where it changes state (http.c). */
bool cross_site(req *r);
/* The client's rate-limit bucket (docs/hardening.md "Rate limits"): its address, an IPv6
 * client's /64; worked out on the first call. */
const char *client_bucket(req *r);

/* What a request body becomes while it is handled: the memory budget holds its raw bytes
 * while it arrives, then its worst case (docs/hardening.md). */
typedef enum body_kind {
    BODY_PACKAGE, /* a zip or JSON package: capv_package_memory_bound() for its size */
    BODY_JSON     /* another JSON request, parsed into a tree */
} body_kind;

/* Answers `Expect: 100-continue` and reads the whole body (at most server.max_body_bytes)
 * within the request's deadline, within the memory budget. It lets the daemon's read lock
 * go meanwhile (as every response does while it is written): what the caller read under
 * the lock before (d->registry, d->verifier) must be read again afterwards. On failure it
 * has answered (413, 408, 400, 503 overloaded, 417) and returns false. */
bool read_body(req *r, body_kind kind, uint8_t **out, size_t *len);
/* A body read as one kind that turned out to be another (a JSON body of POST /verify that is
 * a policy evaluation, not a package): its reservation becomes that kind's worst case for
 * its `len` bytes, waiting for room as read_body does (without the read lock). On failure it
 * has answered (413, 503 overloaded) and returns false. */
bool body_reserve_as(req *r, body_kind kind, size_t len);

/* Makes the request's reservation in the memory budget at least `bytes` before it builds an
 * answer from stored data (a GET's: docs/hardening.md "Memory budget"), waiting for room as
 * read_body does, without the daemon's read lock: what the caller read under the lock before
 * must be read again afterwards. More than the whole budget is capped to it: such an answer
 * is built alone. On failure it has answered 503 overloaded and returns false. */
bool answer_reserve(req *r, uint64_t bytes);

/* ---- responses ---- */
/* Any answer: status, media type (NULL for none), body; extra_headers are "Name: value\r\n"
 * lines. Adds the security headers, request id and CORS headers every answer carries. */
void send_response(req *r, int status, const char *content_type, const char *body, size_t len,
                   const char *extra_headers);
void send_json(req *r, int status, const char *body, size_t len, const char *extra_headers);
/* {"error":{"code":…,"message":…,"request_id":…}}; a 405 lists the route's methods. */
void send_error(req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with extra response headers ("Name: value\r\n" lines), e.g. WWW-Authenticate. */
void send_error_with(req *r, int status, const char *code, const char *extra_headers,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The same with more members in the body after "error": `members` is their JSON text
 * ("\"lints\":[…]"), e.g. the lints of a policy that does not compile. */
void send_error_members(req *r, int status, const char *code, const char *members, const char *fmt,
                        ...) __attribute__((format(printf, 5, 6)));
/* 429 with Retry-After and the header lines `extra` (may be NULL), counted by kind. */
void send_rate_limited(req *r, rl_kind kind, int retry_after, const char *extra);

/* The methods a route answers ("GET, HEAD", "POST", …), for Allow headers. */
const char *http_allow_methods(route rt);

#endif
