/* The two CivetWeb listeners, routing, request bookkeeping (ids, logs, metrics) and the
 * response helpers. Never sets document_root and never uses the form-request API (SPEC §9.4:
 * Debian's 1.15 has unpatched CVEs behind both). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "daemon.h"

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *header(req *r, const char *name)
{
    return mg_get_header(r->conn, name);
}

const char *content_type(req *r, char *buf, size_t cap)
{
    const char *ct = header(r, "Content-Type");
    size_t i = 0;
    if (ct != NULL)
        for (; ct[i] && ct[i] != ';' && i + 1 < cap; i++)
            buf[i] = (char)tolower((unsigned char)ct[i]);
    while (i > 0 && buf[i - 1] == ' ')
        i--;
    buf[i] = '\0';
    return buf;
}

static const char *reason_phrase(int status)
{
    const char *t = mg_get_response_code_text(NULL, status);
    return t ? t : "";
}

void send_json(req *r, int status, const char *body, size_t len, const char *extra)
{
    r->status = status;
    bool api = r->route != ROUTE_HEALTHZ && r->route != ROUTE_READYZ && r->route != ROUTE_METRICS;
    /* After a 413 the unread body is not ours to read (CivetWeb would otherwise drain however
     * many bytes the client sends); while draining, no idle keep-alive connection may be left
     * for a client to send a request on just as the listeners close. */
    bool must_close = status == 413 || atomic_load(&r->d->draining);
    if (must_close)
        mg_disable_connection_keep_alive(r->conn);
    mg_printf(r->conn,
              "HTTP/1.1 %d %s\r\n"
              "Content-Type: application/json; charset=utf-8\r\n"
              "Content-Length: %zu\r\n"
              "X-Content-Type-Options: nosniff\r\n"
              "X-Request-Id: %s\r\n"
              "%s%s%s",
              status, reason_phrase(status), len, r->id, api ? "Cache-Control: no-store\r\n" : "",
              must_close ? "Connection: close\r\n" : "", extra ? extra : "");
    mg_printf(r->conn, "\r\n");
    if (strcmp(r->ri->request_method, "HEAD") != 0)
        mg_write(r->conn, body, len);
}

/* RFC 9110 §15.5.6: a 405 response lists the methods the route has. */
static const char *allow_header(route rt)
{
    switch (rt) {
    case ROUTE_VERIFY:
    case ROUTE_POLICY_COMPILE:
    case ROUTE_ADMIN_BACKUP: return "Allow: POST\r\n";
    case ROUTE_REGISTRY_LIST:
    case ROUTE_REGISTRY_POST: return "Allow: GET, HEAD, POST\r\n";
    default: return "Allow: GET, HEAD\r\n";
    }
}

static void vsend_error(req *r, int status, const char *code, const char *extra,
                        const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void vsend_error(req *r, int status, const char *code, const char *extra,
                        const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    char *qm = NULL, *qid = NULL;
    capv_json_quote(&qm, NULL, msg, strlen(msg), NULL);
    capv_json_quote(&qid, NULL, r->id, strlen(r->id), NULL);
    /* Sized to fit: a quoted message grows up to 6x (\u00XX escapes of control bytes a
     * client can put in a URI), and a fixed buffer would send bytes beyond its end. */
    const char *m = qm ? qm : "\"\"", *i = qid ? qid : "\"\"";
    size_t cap = strlen(code) + strlen(m) + strlen(i) + 64;
    char *body = malloc(cap);
    int n =
        body ? snprintf(body, cap, "{\"error\":{\"code\":\"%s\",\"message\":%s,\"request_id\":%s}}",
                        code, m, i)
             : -1;
    capv_free(qm);
    capv_free(qid);
    snprintf(r->error, sizeof r->error, "%s", code);
    send_json(r, status, body ? body : "", n > 0 && (size_t)n < cap ? (size_t)n : 0, extra);
    free(body);
}

void send_error(req *r, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsend_error(r, status, code, status == 405 ? allow_header(r->route) : NULL, fmt, ap);
    va_end(ap);
}

void send_error_with(req *r, int status, const char *code, const char *extra_headers,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsend_error(r, status, code, extra_headers, fmt, ap);
    va_end(ap);
}

bool read_body(req *r, uint8_t **out, size_t *len)
{
    size_t max = (size_t)r->d->cfg.server_max_body_bytes;
    long long declared = r->ri->content_length;
    if (declared > (long long)max) {
        send_error(r, 413, "body_too_large", "request body of %lld bytes exceeds %zu bytes",
                   declared, max);
        return false;
    }
    size_t cap = declared >= 0 ? (size_t)declared : 65536;
    uint8_t *buf = malloc(cap + 1);
    size_t n = 0;
    if (buf == NULL) {
        send_error(r, 500, "internal", "out of memory");
        return false;
    }
    for (;;) {
        if (n == cap) {
            if (declared >= 0)
                break;
            if (cap >= max + 1) {
                free(buf);
                send_error(r, 413, "body_too_large", "request body exceeds %zu bytes", max);
                return false;
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            uint8_t *nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                free(buf);
                send_error(r, 500, "internal", "out of memory");
                return false;
            }
            buf = nb;
        }
        int got = mg_read(r->conn, buf + n, cap - n);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    if (declared >= 0 && n != (size_t)declared) {
        free(buf);
        send_error(r, 400, "malformed", "request body ended after %zu of %lld bytes", n,
                   declared);
        return false;
    }
    if (declared < 0 && n > max) {
        free(buf);
        send_error(r, 413, "body_too_large", "request body exceeds %zu bytes", max);
        return false;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return true;
}

/* X-Request-Id: the client's when it is ≤ 64 characters of [A-Za-z0-9._-], else ours. */
static void request_id(req *r)
{
    const char *in = header(r, "X-Request-Id");
    if (in != NULL) {
        size_t n = strlen(in);
        bool ok = n > 0 && n <= 64;
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)in[i]) || in[i] == '.' || in[i] == '_' || in[i] == '-';
        if (ok) {
            snprintf(r->id, sizeof r->id, "%s", in);
            return;
        }
    }
    uint8_t rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        memset(rnd, 0, sizeof rnd);
    capv_hex_encode(r->id, sizeof r->id, rnd, sizeof rnd);
}

static route route_of(const char *method, const char *uri, bool *allowed)
{
    *allowed = true;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    route rt = ROUTE_OTHER;
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
    else if (strcmp(uri, "/policy/compile") == 0)
        rt = ROUTE_POLICY_COMPILE, *allowed = post;
    else if (strncmp(uri, "/policy/", 8) == 0 && uri[8] != '\0' && strchr(uri + 8, '/') == NULL)
        rt = ROUTE_POLICY_GET, *allowed = get;
    else if (strcmp(uri, "/registry/entries") == 0)
        rt = post ? ROUTE_REGISTRY_POST : ROUTE_REGISTRY_LIST, *allowed = get || post;
    else if (strncmp(uri, "/registry/entries/", 18) == 0 && uri[18] != '\0')
        rt = ROUTE_REGISTRY_GET, *allowed = get;
    else if (strcmp(uri, "/admin/backup") == 0)
        rt = ROUTE_ADMIN_BACKUP, *allowed = post;
    else if (strcmp(uri, "/admin/backups") == 0)
        rt = ROUTE_ADMIN_BACKUPS, *allowed = get;
    return rt;
}

static void finish(req *r)
{
    double secs = mono() - r->started;
    metrics_http_response(r->route, r->status, secs);
    bool probe = r->route == ROUTE_HEALTHZ || r->route == ROUTE_READYZ ||
                 r->route == ROUTE_METRICS;
    /* probes are frequent and a not-ready answer is their job, not a server error */
    capv_log_level lvl = probe ? CAPV_LOG_DEBUG
                         : r->status >= 500 ? CAPV_LOG_ERROR
                                            : CAPV_LOG_INFO;
    capv_log_entry *e = capv_log_begin(r->d->log, lvl, "http_request");
    capv_log_str(e, "request_id", r->id);
    capv_log_str(e, "method", r->ri->request_method);
    capv_log_str(e, "path", r->ri->local_uri);
    capv_log_str(e, "route", route_label(r->route));
    capv_log_int(e, "status", r->status);
    capv_log_double(e, "duration_ms", secs * 1000.0);
    if (r->result[0])
        capv_log_str(e, "result", r->result);
    if (r->subject[0])
        capv_log_str(e, "subject", r->subject);
    if (r->error[0])
        capv_log_str(e, "error", r->error);
    capv_log_end(e, "%s %s -> %d", r->ri->request_method, route_label(r->route), r->status);
}

static int dispatch(struct mg_connection *conn, void *cbdata, bool admin_port)
{
    capvd *d = cbdata;
    req r;
    memset(&r, 0, sizeof r);
    r.d = d;
    r.conn = conn;
    r.ri = mg_get_request_info(conn);
    r.admin_port = admin_port;
    r.started = mono();
    request_id(&r);
    metrics_inflight(1);
    bool allowed;
    const char *uri = r.ri->local_uri ? r.ri->local_uri : "/";
    r.route = route_of(r.ri->request_method, uri, &allowed);
    bool admin_route = r.route == ROUTE_HEALTHZ || r.route == ROUTE_READYZ ||
                       r.route == ROUTE_METRICS;
    if (r.route == ROUTE_OTHER || (admin_port && !admin_route)) {
        r.route = ROUTE_OTHER;
        send_error(&r, 404, "not_found", "no route %s", uri);
    } else if (!allowed) {
        send_error(&r, 405, "method_not_allowed", "%s is not allowed on %s",
                   r.ri->request_method, route_label(r.route));
    } else if (admin_route) {
        switch (r.route) {
        case ROUTE_HEALTHZ: handle_healthz(&r); break;
        case ROUTE_READYZ: handle_readyz(&r); break;
        default: handle_metrics(&r); break;
        }
    } else {
        /* API routes use the verifier and registry: hold them against a SIGHUP swap */
        pthread_rwlock_rdlock(&d->lock);
        switch (r.route) {
        case ROUTE_OPENAPI: handle_openapi(&r); break;
        case ROUTE_VERIFY: handle_verify(&r); break;
        case ROUTE_POLICY_COMPILE: handle_policy_compile(&r); break;
        case ROUTE_POLICY_GET: handle_policy_get(&r); break;
        case ROUTE_REGISTRY_LIST: handle_registry_list(&r); break;
        case ROUTE_REGISTRY_GET: handle_registry_get(&r); break;
        case ROUTE_REGISTRY_POST: handle_registry_post(&r); break;
        case ROUTE_ADMIN_BACKUP: handle_admin_backup(&r); break;
        case ROUTE_ADMIN_BACKUPS: handle_admin_backups(&r); break;
        default: send_error(&r, 404, "not_found", "no route %s", uri); break;
        }
        pthread_rwlock_unlock(&d->lock);
    }
    finish(&r);
    metrics_inflight(-1);
    return r.status;
}

static int dispatch_api(struct mg_connection *conn, void *cbdata)
{
    return dispatch(conn, cbdata, false);
}

static int dispatch_admin(struct mg_connection *conn, void *cbdata)
{
    return dispatch(conn, cbdata, true);
}

static int log_message(const struct mg_connection *conn, const char *message)
{
    const struct mg_context *ctx = mg_get_context(conn);
    capvd *d = ctx ? mg_get_user_data(ctx) : NULL;
    if (d != NULL) {
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_WARN, "http_server");
        capv_log_end(e, "%s", message);
    }
    return 1; /* handled: CivetWeb must not write its own log */
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
    snprintf(timeout, sizeof timeout, "%lld", (long long)d->cfg.server_request_timeout_ms);
    snprintf(keepalive, sizeof keepalive, "%lld", (long long)d->cfg.server_keep_alive_ms);
    const char *options[] = {
        "listening_ports", ports,
        "num_threads", nthreads,
        "request_timeout_ms", timeout,
        "enable_keep_alive", d->cfg.server_keep_alive_ms > 0 ? "yes" : "no",
        "keep_alive_timeout_ms", keepalive,
        "tcp_nodelay", "1", /* without it keep-alive responses wait ~40 ms (Nagle + ACK) */
        "max_request_size", "16384",
        "enable_directory_listing", "no",
        "decode_url", "yes",
        "ssl_protocol_version", tls ? (strcmp(d->cfg.tls_min_version, "1.3") == 0 ? "4" : "3")
                                    : "0",
        NULL,
    };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.log_message = log_message;
    if (tls)
        cb.init_ssl = tls_init_ssl;
    struct mg_init_data init = { &cb, d, options };
    struct mg_error_data error = { 0 };
    char ebuf[256] = "";
    error.text = ebuf;
    error.text_buffer_size = sizeof ebuf;
    struct mg_context *ctx = mg_start2(&init, &error);
    if (ctx == NULL) {
        snprintf(errbuf, errlen, "cannot listen on %s: %s", listen, ebuf[0] ? ebuf : "unknown");
        return NULL;
    }
    mg_set_request_handler(ctx, "/", admin ? dispatch_admin : dispatch_api, d);
    return ctx;
}

bool server_start(capvd *d, char *errbuf, size_t errlen)
{
    bool tls = d->tls != NULL;
    d->api = start_one(d, d->cfg.server_listen, d->cfg.server_threads, tls, false, errbuf,
                       errlen);
    if (d->api == NULL)
        return false;
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
}
