/* capverifyd: shared state of the daemon and the helpers its route handlers use. */
#ifndef CAPVD_DAEMON_H
#define CAPVD_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <capverify.h>
#include <civetweb.h>

#include "auth.h"
#include "config.h"
#include "metrics.h"

typedef struct tls_state tls_state;

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
    char id[72];
    char subject[128];
    char result[8];    /* ok|warn|fail|error or "" */
    char error[96];    /* error code of an error response, or "" */
    int status;
    double started;
} req;

/* ---- responses (server.c) ---- */
void send_json(req *r, int status, const char *body, size_t len, const char *extra_headers);
/* {"error":{"code":…,"message":…,"request_id":…}} */
void send_error(req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with extra response headers ("Name: value\r\n" lines), e.g. WWW-Authenticate. */
void send_error_with(req *r, int status, const char *code, const char *extra_headers,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Reads the whole body, at most server.max_body_bytes; on failure it has answered 413/400
 * itself and returns false. */
bool read_body(req *r, uint8_t **out, size_t *len);
const char *header(req *r, const char *name);
/* The media type of Content-Type without parameters, lower-cased, into buf. */
const char *content_type(req *r, char *buf, size_t cap);

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
