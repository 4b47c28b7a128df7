/* capverifyd: shared state of the daemon and the helpers its route handlers use. */
#ifndef CAPVD_DAEMON_H
#define CAPVD_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <capverify.h>
#include <civetweb.h>

#include "auth.h"
#include "cidr.h"
#include "config.h"
#include "conn.h"
#include "metrics.h"
#include "ratelimit.h"

typedef struct tls_state tls_state;
struct capvd;

/* The user data of one CivetWeb context: which daemon, which listener. */
typedef struct listener {
    struct capvd *d;
    bool admin;
} listener;

typedef struct capvd {
    capvd_config cfg;
    capv_logger *log;
    /* The verifier in use and its generation; replaced as a whole on SIGHUP. Requests hold
     * the read lock while they use it. */
    pthread_rwlock_t lock;
    capv_verifier *verifier;
    uint64_t generation;
    capv_verify_options *opts;
    capv_package_limits *limits;
    capv_cache *cache; /* NULL when cache.enabled is false; attached to the verifier */
    capv_registry *registry;          /* the SQLite registry (this process is its writer) */
    capv_signing_key *registry_key;   /* signs new entries, or NULL */
    pthread_mutex_t backup_lock;      /* one backup at a time */
    tls_state *tls;    /* NULL without TLS */
    auth *auth;        /* NULL when auth.enabled is false */
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

/* One request being handled: routing, timing, identity and outcome, for the log line and
 * the metrics written when it completes. */
typedef struct req {
    capvd *d;
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    route route;
    bool admin_port;
    conn_state *cs;       /* the connection's deadlines (NULL if untracked) */
    int64_t head_start;   /* monotonic ms at which this request's head started */
    char client[64];      /* client address (X-Forwarded-For only from trusted proxies) */
    const char *cors_origin; /* the request's Origin when server.cors_origins lists it */
    bool has_body;        /* the request announced a body */
    bool body_done;       /* ... and it was read to its end */
    uint64_t reserved;    /* bytes held in the memory budget */
    char id[72];
    char subject[128];
    char result[8];    /* ok|warn|fail|error or "" */
    char error[96];    /* error code of an error response, or "" */
    int status;
    double started;
} req;

/* ---- responses (server.c) ---- */
/* Any answer: status, media type (NULL for none), body; extra_headers are "Name: value\r\n"
 * lines. Adds the security headers, request id and CORS headers every answer carries. */
void send_response(req *r, int status, const char *content_type, const char *body, size_t len,
                   const char *extra_headers);
void send_json(req *r, int status, const char *body, size_t len, const char *extra_headers);
/* {"error":{"code":…,"message":…,"request_id":…}} */
void send_error(req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with extra response headers ("Name: value\r\n" lines), e.g. WWW-Authenticate. */
void send_error_with(req *r, int status, const char *code, const char *extra_headers,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* What a request body becomes while it is handled: the memory budget reserves its worst
 * case before the body is read (docs/hardening.md). */
typedef enum body_kind {
    BODY_PACKAGE, /* a zip or JSON package: capv_package_memory_bound() for its size */
    BODY_JSON     /* another JSON request, parsed into a tree */
} body_kind;

/* Reserves the body's worst case in the memory budget, answers `Expect: 100-continue`, and
 * reads the whole body (at most server.max_body_bytes) within the request's deadline. On
 * failure it has answered (413, 408, 400, 503 overloaded, 417) and returns false. */
bool read_body(req *r, body_kind kind, uint8_t **out, size_t *len);
const char *header(req *r, const char *name);
/* The media type of Content-Type without parameters, lower-cased, into buf. */
const char *content_type(req *r, char *buf, size_t cap);

/* 429 with Retry-After, counted by kind. */
void send_rate_limited(req *r, rl_kind kind, int retry_after);

/* Answers a failed library call with the one mapping from status to HTTP status
 * (http_status.c). */
void answer_failure(req *r, capv_status st, const capv_error *err);

/* ---- handlers (handlers.c, routes.c) ---- */
void handle_healthz(req *r);
void handle_readyz(req *r);
void handle_metrics(req *r);
void handle_openapi(req *r);
void handle_verify(req *r);
void handle_registry_list(req *r);
void handle_registry_get(req *r);
void handle_registry_post(req *r);
void handle_admin_backup(req *r);
void handle_admin_backups(req *r);
void handle_policy_compile(req *r);
void handle_policy_get(req *r);
void handle_policy_eval(req *r, const uint8_t *body, size_t len);

/* ---- registry backups (main.c) ---- */
/* Takes an online backup into backup.dir with retention; CAPV_E_BUSY when one is running.
 * Updates the backup metrics and logs event=backup. */
capv_status daemon_backup(capvd *d, capv_backup_info **info, capv_error *err);

/* ---- TLS (tls.c) ---- */
/* Loads cert/key/client CA per the configuration; false with a message on failure. */
bool tls_create(tls_state **out, const capvd_config *cfg, char *errbuf, size_t errlen);
/* CivetWeb init_ssl callback: configures an SSL_CTX to take its certificate from `tls`. */
int tls_init_ssl(void *ssl_ctx, void *user);
/* Reloads the certificate and key if asked (force) or if the files changed; returns 1 when a
 * new certificate is now served, 0 when unchanged, -1 on error (the old one stays). */
int tls_reload(tls_state *tls, bool force, char *errbuf, size_t errlen);
void tls_free(tls_state *tls);

/* ---- server lifecycle (server.c) ---- */
bool server_start(capvd *d, char *errbuf, size_t errlen);
void server_stop(capvd *d);

#endif
