/* SPDX-License-Identifier: Apache-2.0 */
/* The two CivetWeb listeners: routing to the handlers, request bookkeeping (ids, client
 * addresses, logs, metrics), CORS preflights and the early rate limit. Never sets
 * document_root and never uses the form-request API: Debian's CivetWeb 1.15 has unpatched
 * CVEs behind both. */
#include "server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "budget.h"
#include "budget_default.h"
#include "daemon.h"
#include "handlers.h"
#include "http.h"
#include "http_strict.h"
#include "ratelimit.h"
#include "routes.h"
#include "tls.h"
#include "ui.h"

/* Random bytes for our request ids (public values, not secrets), drawn from the kernel a
 * pool at a time per thread: a getrandom() system call per request was about 1 % of the
 * daemon's CPU on a cached /verify. Zeros when the kernel has none to give. */
static void id_random(uint8_t *out, size_t n)
{
    static _Thread_local uint8_t pool[256];
    static _Thread_local size_t left;
    if (left < n) {
        /* up to 256 bytes come whole, and are not interrupted by signals (getrandom(2)) */
        if (getrandom(pool, sizeof pool, 0) != (ssize_t)sizeof pool) {
            memset(out, 0, n);
            return;
        }
        left = sizeof pool;
    }
    memcpy(out, pool + sizeof pool - left, n);
    left -= n;
}

/* X-Request-Id: the client's when it is ≤ 64 characters of [A-Za-z0-9._-], else ours: 32 hex
 * digits, the first 12 the time in Unix milliseconds and the rest random (the layout of a
 * UUIDv7), so ids sort by time and the registry's request-id index grows at its end instead
 * of touching a random page per recorded verification (docs/registry.md). */
static void request_id(req *r)
{
    const char *in = header(r, "X-Request-Id");
    if (in != NULL && http_request_id_ok(in, strlen(in))) {
        snprintf(r->id, sizeof r->id, "%s", in);
        return;
    }
    uint8_t rnd[16];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    for (int i = 0; i < 6; i++)
        rnd[i] = (uint8_t)(ms >> (8 * (5 - i)));
    id_random(rnd + 6, sizeof rnd - 6);
    if (capv_hex_encode(r->id, sizeof r->id, rnd, sizeof rnd, NULL) != CAPV_OK)
        snprintf(r->id, sizeof r->id, "-");
}

static route route_of(const char *method, const char *uri, bool *allowed)
{
    *allowed = true;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    route rt = ROUTE_OTHER;
    const char *slash;
    if (strcmp(uri, "/healthz") == 0)
        rt = ROUTE_HEALTHZ, *allowed = get;
    else if (strcmp(uri, "/readyz") == 0)
        rt = ROUTE_READYZ, *allowed = get;
    else if (strcmp(uri, "/metrics") == 0)
        rt = ROUTE_METRICS, *allowed = get;
    else if (strcmp(uri, "/openapi.json") == 0)
        rt = ROUTE_OPENAPI, *allowed = get;
    else if (strcmp(uri, "/verify") == 0)
        rt = ROUTE_VERIFY, *allowed = post;
    /* GET /policy/compile is the stored policy "compile" (a valid policy id) */
    else if (strcmp(uri, "/policy/compile") == 0 && !get)
        rt = ROUTE_POLICY_COMPILE, *allowed = post;
    else if (strncmp(uri, "/policy/", 8) == 0 && uri[8] != '\0' && strchr(uri + 8, '/') == NULL)
        rt = ROUTE_POLICY_GET, *allowed = get;
    else if (strcmp(uri, "/registry/entries") == 0)
        rt = post ? ROUTE_REGISTRY_POST : ROUTE_REGISTRY_LIST, *allowed = get || post;
    else if (strncmp(uri, "/registry/entries/", 18) == 0 && uri[18] != '\0' &&
             strchr(uri + 18, '/') == NULL)
        rt = ROUTE_REGISTRY_GET, *allowed = get;
    else if (strcmp(uri, "/admin/backup") == 0)
        rt = ROUTE_ADMIN_BACKUP, *allowed = post;
    else if (strcmp(uri, "/admin/backups") == 0)
        rt = ROUTE_ADMIN_BACKUPS, *allowed = get;
    else if (strncmp(uri, "/registry/verifications/", 24) == 0 && uri[24] != '\0' &&
             strchr(uri + 24, '/') == NULL)
        rt = ROUTE_REGISTRY_VERIFICATION, *allowed = get;
    else if (strcmp(uri, "/registry/verifications") == 0)
        rt = ROUTE_REGISTRY_VERIFICATIONS, *allowed = get;
    else if (strncmp(uri, "/registry/entries/", 18) == 0 && uri[18] != '\0' &&
             (slash = strchr(uri + 18, '/')) != NULL && slash > uri + 18 &&
             strcmp(slash, "/signature") == 0)
        rt = ROUTE_REGISTRY_SIGNATURE, *allowed = get;
    else if (strcmp(uri, "/policies") == 0)
        rt = ROUTE_POLICY_LIST, *allowed = get;
    else if (strcmp(uri, "/ui/config.json") == 0)
        rt = ROUTE_UI_CONFIG, *allowed = get;
    /* the web UI (docs/ui.md): "/" redirects to it, "/ui/..." are its files */
    else if (strcmp(uri, "/") == 0 || strcmp(uri, "/ui") == 0 || strncmp(uri, "/ui/", 4) == 0)
        rt = ROUTE_UI, *allowed = get;
    return rt;
}

static bool is_probe(route rt)
{
    return rt == ROUTE_HEALTHZ || rt == ROUTE_READYZ || rt == ROUTE_METRICS;
}

static void finish(req *r)
{
    /* a verification that got no verdict or evaluation (a malformed form, a body too large
     * or too slow, no memory for it): an error outcome, like one that could not run */
    if (r->has_outcome && r->result[0] == '\0') {
        snprintf(r->result, sizeof r->result, "error");
        metrics_outcome(OUTCOME_ERROR);
    }
    double secs = http_mono() - r->started;
    metrics_http_response(r->route, r->status, secs);
    /* probes are frequent and a not-ready answer is their job, not a server error */
    capv_log_level lvl = is_probe(r->route) ? CAPV_LOG_DEBUG
                         : r->status >= 500 ? CAPV_LOG_ERROR
                                            : CAPV_LOG_INFO;
    const char *path = r->ri->local_uri_raw ? r->ri->local_uri_raw : "";
    capv_log_entry *e = capv_log_begin(r->d->log, lvl, "http_request");
    capv_log_str(e, "request_id", r->id);
    capv_log_str(e, "method", r->ri->request_method ? r->ri->request_method : "");
    capv_log_str(e, "path", path);
    capv_log_str(e, "route", route_label(r->route));
    capv_log_int(e, "status", r->status);
    capv_log_double(e, "duration_ms", secs * 1000.0);
    capv_log_str(e, "client", r->client);
    if (r->result[0])
        capv_log_str(e, "result", r->result);
    if (r->subject[0])
        capv_log_str(e, "subject", r->subject);
    if (r->body_done) {
        capv_log_int(e, "body_bytes", (int64_t)r->body_bytes);
        capv_log_double(e, "upload_ms", r->upload_ms);
    }
    if (r->cache != NULL) {
        capv_log_double(e, "verify_ms", r->verify_ms);
        capv_log_str(e, "cache", r->cache);
    }
    if (r->problems[0])
        capv_log_str(e, "failed_checks", r->problems);
    if (r->error[0])
        capv_log_str(e, "error", r->error);
    cut_reason cut = conn_cut_reason(r->cs);
    if (cut != CUT_NONE)
        capv_log_str(e, "cut", cut_reason_name(cut));
    capv_log_end(e, "%s %s -> %d", r->ri->request_method ? r->ri->request_method : "-",
                 route_label(r->route), r->status);
}

/* Whether `a` is a trusted proxy's address (server.trusted_proxies). */
static bool trusted(const capvd *d, const cidr_ip *a)
{
    for (int i = 0; i < d->nproxies; i++)
        if (cidr_match_ip(&d->proxies[i], a))
            return true;
    return false;
}

/* The client's address: the peer's, unless the peer is a trusted proxy; then the
 * right-most address of X-Forwarded-For (its headers from the last, each read from the
 * right) that is not a trusted proxy itself, in canonical form. The entries left of it are
 * the client's to write, so nothing of them counts, their length neither; an entry that is
 * not an address (a port after it is allowed) ends the walk at the last trusted hop. */
static void client_address(req *r)
{
    capvd *d = r->d;
    snprintf(r->client, sizeof r->client, "%s", r->ri->remote_addr);
    cidr_ip a;
    if (d->nproxies == 0 || !cidr_ip_parse(&a, r->client, strlen(r->client)) || !trusted(d, &a))
        return;
    for (int i = r->ri->num_headers - 1; i >= 0; i--) {
        const struct mg_header *h = &r->ri->http_headers[i];
        if (strcasecmp(h->name, "X-Forwarded-For") != 0)
            continue;
        const char *v = h->value, *p = v + strlen(v);
        for (;;) {
            const char *start = p;
            while (start > v && start[-1] != ',')
                start--;
            const char *b = start, *e = p;
            while (b < e && (*b == ' ' || *b == '\t'))
                b++;
            while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            char addr[INET6_ADDRSTRLEN];
            if (!cidr_ip_parse(&a, b, (size_t)(e - b)) ||
                inet_ntop(a.family, a.b, addr, sizeof addr) == NULL)
                return;
            snprintf(r->client, sizeof r->client, "%s", addr);
            if (!trusted(d, &a))
                return;
            if (start == v)
                break;     /* every entry of this header a trusted hop: on to the one before */
            p = start - 1; /* the comma */
        }
    }
}

/* The request's Origin when server.cors_origins lists it (exact match), else NULL. */
static const char *allowed_origin(req *r)
{
    const cfg_list *l = &r->d->cfg.server_cors_origins;
    const char *origin = header(r, "Origin");
    if (r->admin_port || origin == NULL || l->n == 0)
        return NULL;
    for (int i = 0; i < l->n; i++)
        if (strcmp(origin, l->items[i]) == 0)
            return origin;
    return NULL;
}

/* OPTIONS on an API route: a CORS preflight from a listed origin is allowed the route's
 * methods and our request headers; any other OPTIONS only learns the methods. */
static void answer_options(req *r)
{
    char extra[600];
    int n = snprintf(extra, sizeof extra, "Allow: %s\r\n", http_allow_methods(r->route));
    if (r->cors_origin != NULL && header(r, "Access-Control-Request-Method") != NULL)
        snprintf(extra + n, sizeof extra - (size_t)n,
                 "Access-Control-Allow-Methods: %s\r\n"
                 "Access-Control-Allow-Headers: Authorization, Content-Type, X-Request-Id, "
                 "If-None-Match\r\n"
                 "Access-Control-Max-Age: 600\r\n",
                 http_allow_methods(r->route));
    send_response(r, 204, NULL, NULL, 0, extra);
}

/* Without authentication every API request counts against its client address. With it, a
 * client address whose bucket is empty (from unauthenticated or failed requests) is refused
 * before a token-less request costs anything; auth_check charges the rest, and the routes
 * that never ask for a token (the API description, the UI's configuration) count against
 * the address here. */
static bool rate_limit_early(req *r)
{
    int retry = 0;
    /* the UI's static files cost nothing to serve, and a page load fetches several */
    if (!ratelimit_enabled() || is_probe(r->route) || r->route == ROUTE_UI)
        return true;
    if (r->d->auth == NULL || r->route == ROUTE_OPENAPI || r->route == ROUTE_UI_CONFIG) {
        if (ratelimit_take(RL_ADDRESS, client_bucket(r), &retry))
            return true;
    } else {
        if (header(r, "Authorization") != NULL ||
            !ratelimit_exhausted(RL_ADDRESS, client_bucket(r), &retry))
            return true;
    }
    /* the UI's configuration answers as the UI does (docs/ui.md) */
    char ui[UI_HEADERS_CAP];
    send_rate_limited(r, RL_ADDRESS, retry,
                      r->route == ROUTE_UI_CONFIG ? ui_config_headers(r, ui, sizeof ui) : NULL);
    return false;
}

static void route_request(req *r, const char *path)
{
    capvd *d = r->d;
    bool allowed;
    r->route = route_of(r->ri->request_method, path, &allowed);
    bool options = strcmp(r->ri->request_method, "OPTIONS") == 0;
    if (r->route == ROUTE_OTHER || (r->admin_port && !is_probe(r->route))) {
        r->route = ROUTE_OTHER;
        send_error(r, 404, "not_found", "no route %s", path);
        return;
    }
    if (options && !r->admin_port) {
        answer_options(r);
        return;
    }
    if (!allowed) {
        send_error(r, 405, "method_not_allowed", "%s is not allowed on %s", r->ri->request_method,
                   route_label(r->route));
        return;
    }
    if (!rate_limit_early(r))
        return;
    if (is_probe(r->route)) {
        switch (r->route) {
        case ROUTE_HEALTHZ: handle_healthz(r); break;
        case ROUTE_READYZ: handle_readyz(r); break;
        default: handle_metrics(r); break;
        }
        return;
    }
    /* API routes use the verifier and registry: hold them against a SIGHUP swap (not
     * while waiting for the client: see put in http.c) */
    pthread_rwlock_rdlock(&d->lock);
    r->locked = true;
    switch (r->route) {
    case ROUTE_OPENAPI: handle_openapi(r); break;
    case ROUTE_VERIFY: handle_verify(r); break;
    case ROUTE_POLICY_COMPILE: handle_policy_compile(r); break;
    case ROUTE_POLICY_GET: handle_policy_get(r); break;
    case ROUTE_REGISTRY_LIST: handle_registry_list(r); break;
    case ROUTE_REGISTRY_GET: handle_registry_get(r); break;
    case ROUTE_REGISTRY_POST: handle_registry_post(r); break;
    case ROUTE_ADMIN_BACKUP: handle_admin_backup(r); break;
    case ROUTE_ADMIN_BACKUPS: handle_admin_backups(r); break;
    case ROUTE_REGISTRY_VERIFICATION: handle_registry_verification(r); break;
    case ROUTE_REGISTRY_VERIFICATIONS: handle_registry_verifications(r); break;
    case ROUTE_REGISTRY_SIGNATURE: handle_registry_signature(r); break;
    case ROUTE_POLICY_LIST: handle_policy_list(r); break;
    case ROUTE_UI: handle_ui(r); break;
    case ROUTE_UI_CONFIG: handle_ui_config(r); break;
    default: send_error(r, 404, "not_found", "no route %s", path); break;
    }
    if (r->locked) /* else let go by the answer (put in http.c) */
        pthread_rwlock_unlock(&d->lock);
    r->locked = false;
}

/* Every request of both listeners starts here (CivetWeb's begin_request callback), before
 * CivetWeb's own routing, CORS and body handling. The answer is always ours. */
static int begin_request(struct mg_connection *conn)
{
    const listener *l = mg_get_user_data(mg_get_context(conn));
    capvd *d = l->d;
    req r;
    memset(&r, 0, sizeof r);
    r.d = d;
    r.conn = conn;
    r.ri = mg_get_request_info(conn);
    r.admin_port = l->admin;
    r.started = http_mono();
    r.cs = conn_of(conn);
    conn_request_begin(r.cs, r.ri);
    r.route = ROUTE_OTHER;
    r.has_body = r.ri->content_length > 0 || header(&r, "Transfer-Encoding") != NULL;
    request_id(&r);
    client_address(&r);
    metrics_inflight(1);
    const char *path = r.ri->local_uri_raw;
    const char *bad = http_strict_violation(r.ri);
    if (bad == NULL)
        bad = http_path_violation(path);
    if (bad != NULL) {
        /* nothing of this request is trusted, the connection included */
        send_error(&r, 400, "malformed", "malformed HTTP request: %s", bad);
    } else {
        r.cors_origin = allowed_origin(&r);
        route_request(&r, path);
    }
    if (r.reserved > 0)
        budget_release(r.reserved);
    finish(&r);
    metrics_inflight(-1);
    if (r.has_body && !r.body_done && r.status > 0)
        conn_linger(r.cs);
    return r.status > 0 ? r.status : 500;
}

static void end_request(const struct mg_connection *conn, int status)
{
    (void)status;
    conn_request_end(conn_of(conn));
}

static int init_connection(const struct mg_connection *conn, void **conn_data)
{
    const listener *l = mg_get_user_data(mg_get_context(conn));
    *conn_data = conn_open(conn, l->admin);
    return 0;
}

static void connection_close(const struct mg_connection *conn)
{
    conn_close(conn_of(conn));
}

/* CivetWeb answers requests it could not parse itself (a bad request line, a control
 * character in a header, a head too large); its answer gets our shape: the JSON error body
 * and the security headers, and the connection is closed. */
static int http_error(struct mg_connection *conn, int status, const char *errmsg)
{
    const listener *l = mg_get_user_data(mg_get_context(conn));
    req r;
    memset(&r, 0, sizeof r);
    r.d = l->d;
    r.conn = conn;
    r.ri = mg_get_request_info(conn);
    r.admin_port = l->admin;
    r.started = http_mono();
    r.cs = conn_of(conn);
    r.route = ROUTE_OTHER;
    r.has_body = true; /* whatever followed is not read */
    uint8_t rnd[16];
    id_random(rnd, sizeof rnd);
    if (capv_hex_encode(r.id, sizeof r.id, rnd, sizeof rnd, NULL) != CAPV_OK)
        snprintf(r.id, sizeof r.id, "-");
    snprintf(r.client, sizeof r.client, "%s", r.ri ? r.ri->remote_addr : "");
    /* CivetWeb asks for a length (411) when a body's framing is missing, e.g. because
     * its Content-Length stood on a folded line it did not parse: a malformed request */
    if (status == 411)
        status = 400;
    const char *code = status == 408   ? "request_timeout"
                       : status == 413 ? "body_too_large"
                       : status >= 500 ? "internal"
                                       : "malformed";
    send_error(&r, status, code, "%s",
               status == 400 ? "malformed HTTP request"
               : errmsg      ? errmsg
                             : "");
    finish(&r);
    return 0;
}

static int log_message(const struct mg_connection *conn, const char *message)
{
    const struct mg_context *ctx = mg_get_context(conn);
    const listener *l = ctx ? mg_get_user_data(ctx) : NULL;
    if (l != NULL) {
        capv_log_entry *e = capv_log_begin(l->d->log, CAPV_LOG_WARN, "http_server");
        capv_log_end(e, "%s", message);
    }
    return 1; /* handled: CivetWeb must not write its own log */
}

/* CivetWeb's init_ssl callback: the listener's SSL_CTX takes its certificate from the
 * daemon's TLS state. */
static int init_ssl(void *ssl_ctx, void *user)
{
    const listener *l = user;
    return tls_configure(l->d->tls, ssl_ctx);
}

/* "host:port" → CivetWeb's listening_ports ("127.0.0.1:8080", "[::1]:8080", "8080"),
 * with "s" appended for TLS. */
static bool listen_spec(char *out, size_t cap, const char *listen, bool tls)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon[1] == '\0')
        return false;
    for (const char *p = colon + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    bool any = (colon - listen == 7 && strncmp(listen, "0.0.0.0", 7) == 0) || colon == listen;
    if (any)
        snprintf(out, cap, "%s%s", colon + 1, tls ? "s" : "");
    else
        snprintf(out, cap, "%s%s", listen, tls ? "s" : "");
    return true;
}

static struct mg_context *start_one(capvd *d, const char *listen, int64_t threads, bool tls,
                                    bool admin, char *errbuf, size_t errlen)
{
    char ports[160], nthreads[24], timeout[24], keepalive[24];
    if (!listen_spec(ports, sizeof ports, listen, tls)) {
        snprintf(errbuf, errlen, "invalid listen address '%s' (expected host:port)", listen);
        return NULL;
    }
    snprintf(nthreads, sizeof nthreads, "%lld", (long long)threads);
    /* later than the watchdog's deadlines, which it enforces and counts (docs/hardening.md) */
    snprintf(timeout, sizeof timeout, "%lld",
             (long long)d->cfg.server_request_timeout_ms + CONN_CIVETWEB_TIMEOUT_SLACK_MS);
    snprintf(keepalive, sizeof keepalive, "%lld", (long long)d->cfg.server_keep_alive_ms);
    const char *options[] = {
        "listening_ports",
        ports,
        "num_threads",
        nthreads,
        "request_timeout_ms",
        timeout,
        "enable_keep_alive",
        d->cfg.server_keep_alive_ms > 0 ? "yes" : "no",
        "keep_alive_timeout_ms",
        keepalive,
        "tcp_nodelay",
        "1", /* without it keep-alive responses wait ~40 ms (Nagle + ACK) */
        "max_request_size",
        "16384",
        "enable_directory_listing",
        "no",
        /* routes see the raw path, which must be canonical (http_strict.c) */
        "decode_url",
        "no",
        /* CivetWeb's own CORS preflight answer would allow every origin */
        "access_control_allow_origin",
        "",
        /* an absolute-form request target (GET http://host:port/path) names this server
         * whatever its host, as an origin server must take it (RFC 9112 §3.2.2); CivetWeb
         * otherwise compares the host with its authentication domain and closes the
         * connection without an answer (docs/hardening.md) */
        "enable_auth_domain_check",
        "no",
        "ssl_protocol_version",
        tls ? (strcmp(d->cfg.tls_min_version, "1.3") == 0 ? "4" : "3") : "0",
        NULL,
    };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.log_message = log_message;
    cb.begin_request = begin_request;
    cb.end_request = end_request;
    cb.init_connection = init_connection;
    cb.connection_close = connection_close;
    cb.http_error = http_error;
    if (tls)
        cb.init_ssl = init_ssl;
    listener *l = admin ? &d->admin_listener : &d->api_listener;
    l->d = d;
    l->admin = admin;
    struct mg_init_data init = { &cb, l, options };
    struct mg_error_data error = { 0 };
    char ebuf[256] = "";
    error.text = ebuf;
    error.text_buffer_size = sizeof ebuf;
    struct mg_context *ctx = mg_start2(&init, &error);
    if (ctx == NULL) {
        snprintf(errbuf, errlen, "cannot listen on %s: %s", listen, ebuf[0] ? ebuf : "unknown");
        return NULL;
    }
    struct mg_server_port sp[4];
    int n = mg_get_server_ports(ctx, 4, sp);
    for (int i = 0; i < n; i++)
        conn_watch_port(sp[i].port, admin);
    return ctx;
}

bool server_start(capvd *d, char *errbuf, size_t errlen)
{
    bool tls = d->tls != NULL;
    for (int i = 0; i < d->cfg.server_trusted_proxies.n; i++)
        if (!cidr_parse(&d->proxies[d->nproxies++], d->cfg.server_trusted_proxies.items[i])) {
            snprintf(errbuf, errlen, "server.trusted_proxies: '%s' is not a CIDR range",
                     d->cfg.server_trusted_proxies.items[i]);
            return false;
        }
    ratelimit_init(d->cfg.server_rate_limit_per_second, d->cfg.server_rate_limit_burst);
    budget_init(d->cfg.server_memory_budget_bytes > 0 ? (uint64_t)d->cfg.server_memory_budget_bytes
                                                      : (uint64_t)capvd_memory_budget_default(),
                d->cfg.server_memory_wait_ms);
    conn_limits cl = { .request_timeout_ms = d->cfg.server_request_timeout_ms,
                       .keep_alive_ms = d->cfg.server_keep_alive_ms,
                       .min_body_rate = d->cfg.server_min_body_bytes_per_second,
                       .api_threads = d->cfg.server_threads };
    if (!conn_watch_start(&cl)) {
        snprintf(errbuf, errlen, "cannot start the connection watchdog");
        return false;
    }
    d->api = start_one(d, d->cfg.server_listen, d->cfg.server_threads, tls, false, errbuf, errlen);
    if (d->api == NULL)
        return false;
    conn_api_listening(); /* before the admin listener exists */
    if (*d->cfg.server_admin_listen) {
        /* Probes and scrapes stay plain HTTP: they carry no secrets and kubelet/Prometheus
         * reach them without client certificates. */
        d->admin = start_one(d, d->cfg.server_admin_listen, d->cfg.server_admin_threads, false,
                             true, errbuf, errlen);
        if (d->admin == NULL) {
            mg_stop(d->api);
            d->api = NULL;
            return false;
        }
    }
    return true;
}

static void *stop_context(void *ctx)
{
    mg_stop(ctx);
    return NULL;
}

/* Both listeners stop in parallel: each mg_stop waits out CivetWeb's poll interval. */
void server_stop(capvd *d)
{
    pthread_t t;
    bool threaded = d->admin != NULL && pthread_create(&t, NULL, stop_context, d->admin) == 0;
    if (d->api != NULL)
        mg_stop(d->api);
    if (threaded)
        pthread_join(t, NULL);
    else if (d->admin != NULL)
        mg_stop(d->admin);
    d->api = d->admin = NULL;
    conn_watch_stop();
}
