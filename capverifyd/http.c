/* SPDX-License-Identifier: Apache-2.0 */
/* Reading requests and writing answers (http.h): the response head every answer shares, the
 * JSON error body, and request bodies read within the memory budget and the connection's
 * deadlines (docs/hardening.md). */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "budget.h"
#include "daemon.h"

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

bool http_id_ok(const char *s, size_t n, size_t max, const char *punct)
{
    /* a final '.' (".", "..", "a.") makes a path segment the strict path check refuses */
    if (n == 0 || n > max || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c < 0x80 && isalnum(c)) && (c == '\0' || strchr(punct, c) == NULL))
            return false;
    }
    return true;
}

bool http_request_id_ok(const char *s, size_t n)
{
    return http_id_ok(s, n, HTTP_REQUEST_ID_MAX, "._-");
}

static const char *reason_phrase(int status)
{
    const char *t = mg_get_response_code_text(NULL, status);
    return t ? t : "";
}

/* An API request holds the daemon's read lock while it uses the verifier and the registry,
 * and a SIGHUP's reload waits for it (with every request behind the reload). So the lock is
 * let go while the request waits for its client: while its body arrives (read_body, which
 * takes it again for the handling) and for good once it answers (put). */
static void lock_leave(req *r)
{
    if (r->locked)
        pthread_rwlock_unlock(&r->d->lock);
    r->locked = false;
}

/* Takes the read lock again after a wait, when the request held it before (`locked`). */
static void lock_again(req *r, bool locked)
{
    if (locked) {
        pthread_rwlock_rdlock(&r->d->lock);
        r->locked = true;
    }
}

/* Writes all of a response (head, then the body unless it went with the head) under one
 * write deadline, from its first byte: a client that reads it too slowly is cut off by the
 * watchdog and the write fails. Without the daemon's lock, which the request does not take
 * again (a reload may be waiting for it, with every new request behind): every response body
 * is the handler's own memory or static, never the verifier's or the registry's, and
 * nothing uses them after the answer. */
static void put(req *r, const char *data, size_t len, const char *more, size_t more_len)
{
    lock_leave(r);
    conn_write_begin(r->cs);
    mg_write(r->conn, data, len);
    if (more_len > 0)
        mg_write(r->conn, more, more_len);
    conn_write_end(r->cs);
}

/* The response head shared by every answer: status, security headers, request id, CORS
 * for a listed origin, and Connection: close whenever the connection must not be reused
 * (an unread request body is never drained: docs/hardening.md). Written to head[0..HEAD_MAX);
 * returns its length, or -1 (never for our own short extra headers). */
#define HEAD_MAX 2048
static int format_head(req *r, char *head, int status, const char *content_type, size_t len,
                       const char *extra)
{
    r->status = status;
    /* the UI's files say how long they may be cached (ui.c) */
    bool api = r->route != ROUTE_HEALTHZ && r->route != ROUTE_READYZ && r->route != ROUTE_METRICS &&
               r->route != ROUTE_UI;
    bool must_close = (r->has_body && !r->body_done) || status == 400 || status == 408 ||
                      atomic_load(&r->d->draining);
    if (must_close)
        mg_disable_connection_keep_alive(r->conn);
    char cors[512] = "";
    if (r->cors_origin != NULL)
        snprintf(cors, sizeof cors,
                 "Access-Control-Allow-Origin: %s\r\n"
                 "Access-Control-Expose-Headers: X-Request-Id, Retry-After, ETag, Location\r\n",
                 r->cors_origin);
    /* a 204 carries no Content-Length (RFC 9110 §8.6), a 304 none either: it would have to
     * be the 200's, which these answers do not know */
    char length[40] = "";
    if (status != 204 && status != 304)
        snprintf(length, sizeof length, "Content-Length: %zu\r\n", len);
    int n =
        snprintf(head, HEAD_MAX,
                 "HTTP/1.1 %d %s\r\n"
                 "%s%s%s"
                 "%s"
                 "X-Content-Type-Options: nosniff\r\n"
                 "X-Request-Id: %s\r\n"
                 "%s%s%s%s%s\r\n",
                 status, reason_phrase(status), content_type ? "Content-Type: " : "",
                 content_type ? content_type : "", content_type ? "\r\n" : "", length, r->id,
                 api ? "Cache-Control: no-store\r\n" : "",
                 r->d->cfg.server_cors_origins.n > 0 && !r->admin_port ? "Vary: Origin\r\n" : "",
                 cors, must_close ? "Connection: close\r\n" : "", extra ? extra : "");
    if (n < 0 || n >= HEAD_MAX) {
        mg_disable_connection_keep_alive(r->conn);
        return -1;
    }
    return n;
}

/* Head and body go out in one write when together they fit ONE_WRITE_MAX: with tcp_nodelay
 * every write is a segment of its own, and the client would wake up twice per answer. */
#define ONE_WRITE_MAX 8192

void send_response(req *r, int status, const char *content_type, const char *body, size_t len,
                   const char *extra)
{
    char out[ONE_WRITE_MAX];
    int n = format_head(r, out, status, content_type, len, extra);
    if (n < 0)
        return;
    /* The request's working memory is freed by now; the answer and at most the body's raw
     * bytes remain while a client that reads slowly is waited for (up to the request's
     * deadline): the rest of the budget's reservation is given back first. */
    uint64_t keep = (uint64_t)len + r->body_bytes;
    if (r->reserved > keep) {
        budget_release(r->reserved - keep);
        r->reserved = keep;
    }
    bool with_body =
        len > 0 && (r->ri->request_method == NULL || strcmp(r->ri->request_method, "HEAD") != 0);
    if (with_body && len <= sizeof out - (size_t)n) {
        memcpy(out + n, body, len);
        put(r, out, (size_t)n + len, NULL, 0);
        return;
    }
    put(r, out, (size_t)n, body, with_body ? len : 0);
}

void send_json(req *r, int status, const char *body, size_t len, const char *extra)
{
    send_response(r, status, "application/json; charset=utf-8", body, len, extra);
}

/* RFC 9110 §15.5.6: a 405 response lists the methods the route has. */
const char *http_allow_methods(route rt)
{
    switch (rt) {
    case ROUTE_VERIFY:
    case ROUTE_POLICY_COMPILE:
    case ROUTE_ADMIN_BACKUP: return "POST";
    case ROUTE_REGISTRY_LIST:
    case ROUTE_REGISTRY_POST: return "GET, HEAD, POST";
    default: return "GET, HEAD";
    }
}

/* A JSON string literal of `s`, or NULL (out of memory; never invalid UTF-8 from us). */
static char *quote(const char *s)
{
    char *q = NULL;
    return capv_json_quote(&q, NULL, s, strlen(s), NULL) == CAPV_OK ? q : NULL;
}

static void vsend_error(req *r, int status, const char *code, const char *extra,
                        const char *members, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

static void vsend_error(req *r, int status, const char *code, const char *extra,
                        const char *members, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    char *qm = quote(msg), *qid = quote(r->id);
    /* Sized to fit: a quoted message grows up to 6x (\u00XX escapes of control bytes a
     * client can put in a URI), and a fixed buffer would send bytes beyond its end. */
    const char *m = qm ? qm : "\"\"", *i = qid ? qid : "\"\"";
    size_t cap = strlen(code) + strlen(m) + strlen(i) + (members ? strlen(members) : 0) + 64;
    char *body = malloc(cap);
    int n = body ? snprintf(body, cap,
                            "{\"error\":{\"code\":\"%s\",\"message\":%s,\"request_id\":%s}%s%s}",
                            code, m, i, members ? "," : "", members ? members : "")
                 : -1;
    capv_free(qm);
    capv_free(qid);
    snprintf(r->error, sizeof r->error, "%s", code);
    send_json(r, status, body ? body : "", n > 0 && (size_t)n < cap ? (size_t)n : 0, extra);
    free(body);
}

void send_error(req *r, int status, const char *code, const char *fmt, ...)
{
    char allow[64];
    if (status == 405)
        snprintf(allow, sizeof allow, "Allow: %s\r\n", http_allow_methods(r->route));
    va_list ap;
    va_start(ap, fmt);
    vsend_error(r, status, code, status == 405 ? allow : NULL, NULL, fmt, ap);
    va_end(ap);
}

void send_error_with(req *r, int status, const char *code, const char *extra_headers,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsend_error(r, status, code, extra_headers, NULL, fmt, ap);
    va_end(ap);
}

void send_error_members(req *r, int status, const char *code, const char *members, const char *fmt,
                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsend_error(r, status, code, NULL, members, fmt, ap);
    va_end(ap);
}

/* ---- request bodies ---------------------------------------------------------------------- */

/* The worst case a body of `len` bytes may cost while its request is handled. */
static uint64_t worst_case(const req *r, body_kind kind, uint64_t len)
{
    uint64_t bound = 0;
    switch (kind) {
    case BODY_PACKAGE: /* the library's bound covers zip and JSON packages alike */
        if (capv_package_memory_bound(&bound, r->d->limits, len, NULL) == CAPV_OK)
            return bound;
        return len * 64;
    case BODY_JSON:
    default:
        /* a parsed JSON tree costs up to ~56 bytes per input byte (docs/hardening.md) */
        return len * 64;
    }
}

#define BUSY_MESSAGE "the server is busy with other requests; retry shortly"

/* Reserves `want` more bytes of the budget for a body of `len` bytes once `room` bytes are
 * free, or answers 413 (they never can be) or 503 (not now). */
static bool reserve_bytes(req *r, uint64_t want, uint64_t room, uint64_t len)
{
    switch (budget_admit(want, room)) {
    case BUDGET_OK: r->reserved += want; return true;
    case BUDGET_TOO_LARGE:
        send_error(r, 413, "body_too_large",
                   "handling a body of %llu bytes needs more memory than the server allows",
                   (unsigned long long)len);
        return false;
    case BUDGET_BUSY:
    default:
        send_error_with(r, 503, "overloaded", "Retry-After: 1\r\n", BUSY_MESSAGE);
        return false;
    }
}

/* A body, read with `held` bytes reserved for its raw bytes, is `len` bytes long: the
 * reservation becomes its worst case, more or less than that. */
static bool reserve_read(req *r, body_kind kind, uint64_t held, uint64_t len)
{
    uint64_t want = worst_case(r, kind, len);
    if (want > budget_total()) /* 413: it never fits, whatever this request holds now */
        return reserve_bytes(r, want, want, len);
    if (want > held)
        return reserve_bytes(r, want - held, want - held, len);
    budget_release(held - want);
    r->reserved -= held - want;
    return true;
}

/* RFC 9110 §10.1.1: a client that sent `Expect: 100-continue` waits for our word before it
 * sends the body. Any other expectation cannot be met. */
static bool answer_expect(req *r)
{
    const char *ex = header(r, "Expect");
    if (ex == NULL)
        return true;
    if (strcasecmp(ex, "100-continue") != 0) {
        send_error(r, 417, "expectation_failed", "only Expect: 100-continue is supported");
        return false;
    }
    if (strcmp(r->ri->http_version, "1.1") == 0)
        put(r, "HTTP/1.1 100 Continue\r\n\r\n", 25, NULL, 0);
    return true;
}

#define BODY_READ_CHUNK CONN_BODY_READ_CHUNK

static void body_timeout(req *r, size_t got)
{
    send_error(r, 408, "request_timeout",
               "the request body did not arrive in time (%zu bytes received)", got);
}

/* Reads the body into *bufp (`cap` bytes, grown up to max + 1 for a chunked body) until it
 * ends or fails; *n is what arrived, *last CivetWeb's last mg_read result. False when memory
 * ran out. */
static bool receive(req *r, long long declared, size_t max, uint8_t **bufp, size_t cap, size_t *n,
                    int *last)
{
    for (;;) {
        if (*n == cap) {
            if (declared >= 0)
                break;
            if (cap >= max + 1)
                break;
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            uint8_t *nb = realloc(*bufp, cap + 1);
            if (nb == NULL)
                return false;
            *bufp = nb;
        }
        /* CivetWeb's mg_read returns only when all it was asked for arrived: small reads
         * let the watchdog see the body's progress */
        size_t want = cap - *n < BODY_READ_CHUNK ? cap - *n : BODY_READ_CHUNK;
        *last = mg_read(r->conn, *bufp + *n, want);
        if (*last <= 0)
            break;
        *n += (size_t)*last;
        conn_body_progress(r->cs, *n);
    }
    return true;
}

/* Whether the body arrived whole and in time; otherwise answers 408, 413 or 400. */
static bool body_complete(req *r, long long declared, size_t max, size_t n, int last)
{
    if (conn_cut_reason(r->cs) != CUT_NONE) {
        body_timeout(r, n);
        return false;
    }
    if (declared < 0 && n > max) {
        send_error(r, 413, "body_too_large", "request body exceeds %zu bytes", max);
        return false;
    }
    if (declared < 0 && last < 0) {
        send_error(r, 400, "malformed", "malformed chunked request body");
        return false;
    }
    if (declared >= 0 && n != (size_t)declared) {
        send_error(r, 400, "malformed", "request body ended after %zu of %lld bytes", n, declared);
        return false;
    }
    return true;
}

double http_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The body read and reserved for (see read_body), without the daemon's lock. It reserves
 * its raw bytes while it arrives (its declared length; a chunked one's length is known only
 * at its end, so the limit's) and its worst case only once it is whole: a slow upload holds
 * the memory its bytes take, not that of its handling (docs/hardening.md "Memory budget").
 * A declared body is let in only when its worst case fits at that moment (and refused
 * before it is read when it never can). */
static bool receive_body(req *r, body_kind kind, long long declared, size_t max, uint8_t **out,
                         size_t *len)
{
    uint64_t raw = declared >= 0 ? (uint64_t)declared : max;
    uint64_t room = declared >= 0 ? worst_case(r, kind, raw) : raw;
    if (!reserve_bytes(r, raw, room, raw) || !answer_expect(r))
        return false;
    size_t cap = declared >= 0 ? (size_t)declared : 65536;
    uint8_t *buf = malloc(cap + 1);
    size_t n = 0;
    int last = 0;
    if (buf == NULL) {
        send_error(r, 500, "internal", "out of memory");
        return false;
    }
    double t0 = http_mono();
    conn_body_begin(r->cs, declared);
    bool received = receive(r, declared, max, &buf, cap, &n, &last);
    conn_body_end(r->cs);
    if (!received) {
        free(buf);
        send_error(r, 500, "internal", "out of memory");
        return false;
    }
    if (!body_complete(r, declared, max, n, last)) {
        free(buf);
        return false;
    }
    /* read to its end: an answer now leaves the connection open */
    r->body_done = true;
    r->body_bytes = n;
    r->upload_ms = (http_mono() - t0) * 1000.0;
    if (!reserve_read(r, kind, raw, n)) {
        free(buf);
        return false;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return true;
}

bool read_body(req *r, body_kind kind, uint8_t **out, size_t *len)
{
    size_t max = (size_t)r->d->cfg.server_max_body_bytes;
    long long declared = r->ri->content_length;
    /* CivetWeb states -1 both for a chunked body and for none at all (neither header, which
     * http_strict.c lets through only as no body): the latter is empty, not of unknown size */
    if (declared < 0 && header(r, "Transfer-Encoding") == NULL)
        declared = 0;
    if (declared > (long long)max) {
        send_error(r, 413, "body_too_large", "request body of %lld bytes exceeds %zu bytes",
                   declared, max);
        return false;
    }
    /* without the lock while the body arrives and waits for room in the budget (its
     * answers and 100 Continue are written then, too); taken again only to handle it */
    bool locked = r->locked;
    lock_leave(r);
    if (!receive_body(r, kind, declared, max, out, len))
        return false;
    lock_again(r, locked);
    return true;
}

bool body_reserve_as(req *r, body_kind kind, size_t len)
{
    bool locked = r->locked;
    lock_leave(r);
    if (!reserve_read(r, kind, r->reserved, len))
        return false;
    lock_again(r, locked);
    return true;
}

bool answer_reserve(req *r, uint64_t bytes)
{
    if (bytes > budget_total())
        bytes = budget_total();
    if (bytes <= r->reserved)
        return true;
    bool locked = r->locked;
    lock_leave(r);
    uint64_t more = bytes - r->reserved;
    if (!reserve_bytes(r, more, more, r->body_bytes))
        return false;
    lock_again(r, locked);
    return true;
}

void send_rate_limited(req *r, rl_kind kind, int retry_after, const char *extra)
{
    ratelimit_count(kind);
    char hdr[64];
    snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", retry_after);
    char *both = NULL;
    if (extra != NULL && asprintf(&both, "%s%s", hdr, extra) < 0)
        both = NULL;
    send_error_with(r, 429, "rate_limited", both != NULL ? both : hdr,
                    "too many requests; retry in %d s", retry_after);
    free(both);
}

/* The rate-limit bucket of the client (docs/hardening.md "Rate limits"): an IPv6 client is
 * its /64, the smallest prefix a network gives one host or site (RFC 6177), so a client that
 * takes a new address of its own for each request is still one client. But an IPv6 address
 * that carries an IPv4 client's address in its last 32 bits, IPv4-mapped (::ffff:0:0/96) or
 * NAT64's well-known prefix (64:ff9b::/96, RFC 6052), is that IPv4 address: each of those
 * prefixes holds every IPv4 client in one /64. Teredo (2001::/32) puts all the clients of
 * one server in one /64: each address is its own bucket. */
const char *client_bucket(req *r)
{
    if (r->bucket[0] != '\0')
        return r->bucket;
    static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
    struct in6_addr a;
    char text[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET6, r->client, &a) != 1 ||
        (a.s6_addr[0] == 0x20 && a.s6_addr[1] == 0x01 && a.s6_addr[2] == 0 && a.s6_addr[3] == 0)) {
        snprintf(r->bucket, sizeof r->bucket, "%s", r->client);
    } else if (IN6_IS_ADDR_V4MAPPED(&a) || memcmp(a.s6_addr, nat64, sizeof nat64) == 0) {
        inet_ntop(AF_INET, &a.s6_addr[12], r->bucket, sizeof r->bucket);
    } else {
        memset(&a.s6_addr[8], 0, 8);
        inet_ntop(AF_INET6, &a, text, sizeof text);
        snprintf(r->bucket, sizeof r->bucket, "%s/64", text);
    }
    return r->bucket;
}

/* The authority the request names: an absolute-form target's, which replaces the Host header
 * (RFC 9112 §3.2.2), else the Host header; NULL when there is none or it does not fit. */
static const char *request_authority(req *r, char *buf, size_t cap)
{
    const char *target = r->ri->request_uri;
    const char *rest = target != NULL && target[0] != '/' ? strstr(target, "://") : NULL;
    if (rest == NULL)
        return header(r, "Host");
    rest += 3;
    size_t n = strcspn(rest, "/");
    if (n >= cap)
        return NULL;
    memcpy(buf, rest, n);
    buf[n] = '\0';
    return buf;
}

/* Whether a request that needs no CORS preflight (a form, a POST without a body) comes from
 * another site. Any web page can send one, and a browser adds the cookies of an
 * authenticating proxy to it (docs/ui.md): allowed from the server's own pages and server.cors_origins, from a browser
 * that says it is the user's own request (Sec-Fetch-Site: none), and from clients that are
 * not browsers (no Sec-Fetch-Site, no Origin). Without Sec-Fetch-Site, Origin's host must be
 * the request's (its Host, or an absolute-form target's authority). */
bool cross_site(req *r)
{
    if (r->cors_origin != NULL)
        return false;
    const char *site = header(r, "Sec-Fetch-Site");
    if (site != NULL)
        return strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0;
    const char *origin = header(r, "Origin");
    if (origin == NULL)
        return false;
    char authority[256];
    const char *host = request_authority(r, authority, sizeof authority);
    const char *rest = strstr(origin, "://");
    return host == NULL || rest == NULL || strcasecmp(rest + 3, host) != 0;
}
