/* SPDX-License-Identifier: Apache-2.0 */
/* The S3 client of s3_int.h: one libcurl easy handle per attempt, signed by libcurl
 * (CURLOPT_AWS_SIGV4), answers read by the bounded XML reader (xml_read_int.h). */
#include "s3_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "file_int.h"
#include "net_int.h"
#include "time_int.h"
#include "xml_read_int.h"

/* Answers kept in memory: listings and small objects are bounded by the caller, error bodies
 * by this. */
#define ERROR_BODY_MAX (64u * 1024u)
#define LIST_PAGE_MAX (16u * 1024u * 1024u)
#define LIST_OBJECTS_MAX 100000u
/* The longest a slow answer (s3_call.slow_answer) may take, in seconds. */
#define SLOW_ANSWER_MAX_S 900L
#define BACKOFF_CAP_MS 30000u
#define CREDENTIALS_MAX (64u * 1024u)

/* SHA-256 of the empty payload (GET, DELETE, an empty POST). */
static const char empty_sha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct capvi_s3 {
    char *endpoint; /* as configured, for messages */
    char *scheme;   /* "https" or "http" */
    char *host;     /* as in a URL ("[::1]" for IPv6) */
    char *port;     /* NULL = the scheme's */
    char *ca_file;
    bool path_style;
    char sigv4[96]; /* "aws:amz:<region>:s3" */
    char *access_key, *secret_key, *session_token;
    unsigned int max_attempts, backoff_ms, timeout_ms;
    capv_cancel_fn cancel;
    void *cancel_user;
};

/* ---- settings and credentials --------------------------------------------------------- */

void capvi_s3_secret_free(char *secret)
{
    if (secret == NULL)
        return;
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
}

void capvi_s3_free(capvi_s3 *s)
{
    if (s == NULL)
        return;
    free(s->endpoint);
    free(s->scheme);
    free(s->host);
    free(s->port);
    free(s->ca_file);
    capvi_s3_secret_free(s->access_key);
    capvi_s3_secret_free(s->secret_key);
    capvi_s3_secret_free(s->session_token);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

const char *capvi_s3_endpoint(const capvi_s3 *s)
{
    return s->endpoint;
}

static bool region_ok(const char *r)
{
    size_t n = strlen(r);
    return n > 0 && n <= 64 && strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Checks the endpoint and region; on success the scheme, host and port (NULL = the scheme's)
 * of the endpoint, to be released with curl_free. */
/* The endpoint as a message may show it: not at all when it holds an '@', whose user
 * information could be credentials (a URL curl cannot parse is not known to have none). */
static const char *shown_endpoint(const char *endpoint)
{
    return strchr(endpoint, '@') != NULL ? "(not shown: it holds an '@')" : endpoint;
}

static capv_status parse_endpoint(char **scheme, char **host, char **port, const char *endpoint,
                                  const char *region, capv_error *err)
{
    *scheme = *host = *port = NULL;
    if (endpoint == NULL || region == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (!region_ok(region))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "region",
                             "region '%.64s' is not a region name (lower-case letters, digits, "
                             "'-')",
                             region);
    capv_status st = CAPV_OK;
    CURLU *u = curl_url();
    char *path = NULL, *query = NULL, *user = NULL;
    if (u == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, host, 0) != CURLUE_OK || *host == NULL || !**host)
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, "endpoint", "endpoint '%.200s' is not a URL",
                  shown_endpoint(endpoint));
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK && user != NULL)
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, "endpoint",
                  "the endpoint must not carry credentials: give them as a credentials file or "
                  "in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY");
    if ((curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && path != NULL &&
         strcmp(path, "/") != 0) ||
        (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK && query != NULL))
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, "endpoint",
                  "endpoint '%.200s' must be scheme://host[:port] without a path or query",
                  shown_endpoint(endpoint));
    if (strcmp(*scheme, "https") != 0 && strcmp(*scheme, "http") != 0)
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, "endpoint", "endpoint '%.200s' is not https://",
                  shown_endpoint(endpoint));
    if (strcmp(*scheme, "http") == 0 && !capvi_loopback_host(*host))
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, "endpoint",
                  "plain http:// is only allowed for a loopback endpoint (tests), not %.100s: "
                  "use https://",
                  *host);
    if (curl_url_get(u, CURLUPART_PORT, port, 0) != CURLUE_OK)
        *port = NULL;
out:
    curl_free(path);
    curl_free(query);
    curl_free(user);
    curl_url_cleanup(u);
    if (st != CAPV_OK) {
        curl_free(*scheme);
        curl_free(*host);
        curl_free(*port);
        *scheme = *host = *port = NULL;
    }
    return st;
}

capv_status capvi_s3_check(const char *endpoint, const char *region, capv_error *err)
{
    char *scheme, *host, *port;
    capv_status st = parse_endpoint(&scheme, &host, &port, endpoint, region, err);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    return st;
}

capv_status capvi_s3_new(capvi_s3 **out, const capvi_s3_config *cfg, capv_error *err)
{
    *out = NULL;
    if (cfg->access_key == NULL || cfg->secret_key == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    char *scheme = NULL, *host = NULL, *port = NULL;
    capvi_s3 *s = NULL;
    capv_status st = parse_endpoint(&scheme, &host, &port, cfg->endpoint, cfg->region, err);
    if (st != CAPV_OK)
        return st;
    if ((s = calloc(1, sizeof *s)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    s->path_style = cfg->path_style;
    s->max_attempts = cfg->max_attempts ? cfg->max_attempts : 5;
    s->backoff_ms = cfg->backoff_ms ? cfg->backoff_ms : 500;
    s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 30000;
    s->cancel = cfg->cancel;
    s->cancel_user = cfg->cancel_user;
    snprintf(s->sigv4, sizeof s->sigv4, "aws:amz:%s:s3", cfg->region);
    s->endpoint = strdup(cfg->endpoint);
    s->scheme = strdup(scheme);
    s->host = strdup(host);
    s->port = port ? strdup(port) : NULL;
    s->ca_file = cfg->ca_file && *cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    s->access_key = strdup(cfg->access_key);
    s->secret_key = strdup(cfg->secret_key);
    s->session_token =
        cfg->session_token && *cfg->session_token ? strdup(cfg->session_token) : NULL;
    if (!s->endpoint || !s->scheme || !s->host || (port && !s->port) ||
        (cfg->ca_file && *cfg->ca_file && !s->ca_file) || !s->access_key || !s->secret_key ||
        (cfg->session_token && *cfg->session_token && !s->session_token))
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    *out = s;
    s = NULL;
out:
    capvi_s3_free(s);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    return st;
}

/* Trims ASCII blanks on both ends, in place. */
static char *trim(char *p, char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    *end = '\0';
    return p;
}

/* Reads `path` whole into a buffer of CREDENTIALS_MAX + 1 bytes that is never reallocated (so
 * no copy of a secret is left behind), NUL-terminated. */
static capv_status read_secret_file(char **out, const char *path, capv_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return capvi_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, path,
                             "cannot open the credentials file '%s': %s", path, strerror(errno));
    char *buf = malloc(CREDENTIALS_MAX + 1);
    size_t n = 0;
    capv_status st = CAPV_OK;
    if (buf == NULL)
        st = capvi_err_nomem(err);
    while (st == CAPV_OK && n <= CREDENTIALS_MAX) {
        ssize_t r = read(fd, buf + n, CREDENTIALS_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            st = capvi_err_set(err, CAPV_E_IO, path, "cannot read the credentials file '%s': %s",
                               path, strerror(errno));
        else if (r == 0)
            break;
        else
            n += (size_t)r;
    }
    close(fd);
    if (st == CAPV_OK && n > CREDENTIALS_MAX)
        st = capvi_err_set(err, CAPV_E_LIMIT, path,
                           "the credentials file '%s' is larger than %u "
                           "bytes",
                           path, CREDENTIALS_MAX);
    if (st != CAPV_OK) {
        if (buf != NULL) {
            OPENSSL_cleanse(buf, CREDENTIALS_MAX + 1);
            free(buf);
        }
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    return CAPV_OK;
}

static capv_status credentials_from_file(char **access_key, char **secret_key, char **session_token,
                                         const char *file, const char *profile, capv_error *err)
{
    char *text = NULL;
    capv_status st = read_secret_file(&text, file, err);
    if (st != CAPV_OK)
        return st;
    const char *id = NULL, *secret = NULL, *token = NULL;
    bool in_profile = false, found = false;
    for (char *line = text; line != NULL && *line;) {
        char *nl = strchr(line, '\n');
        char *end = nl ? nl : line + strlen(line);
        char *next = nl ? nl + 1 : NULL;
        char *l = trim(line, end);
        line = next;
        if (*l == '\0' || *l == '#' || *l == ';')
            continue;
        if (*l == '[') {
            size_t n = strlen(l);
            if (n < 2 || l[n - 1] != ']') {
                in_profile = false;
                continue;
            }
            l[n - 1] = '\0';
            in_profile = strcmp(trim(l + 1, l + n - 1), profile) == 0;
            found = found || in_profile;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in_profile || eq == NULL)
            continue;
        char *name = trim(l, eq);
        char *value = trim(eq + 1, eq + 1 + strlen(eq + 1));
        if (strcmp(name, "aws_access_key_id") == 0)
            id = value;
        else if (strcmp(name, "aws_secret_access_key") == 0)
            secret = value;
        else if (strcmp(name, "aws_session_token") == 0)
            token = value;
    }
    if (!found)
        st = capvi_err_set(err, CAPV_E_MISSING, file,
                           "the credentials file '%s' has no [%.64s] profile", file, profile);
    else if (id == NULL || !*id || secret == NULL || !*secret)
        st = capvi_err_set(err, CAPV_E_MISSING, file,
                           "profile [%.64s] of the credentials file '%s' lacks aws_access_key_id "
                           "or aws_secret_access_key",
                           profile, file);
    if (st == CAPV_OK) {
        *access_key = strdup(id);
        *secret_key = strdup(secret);
        *session_token = token && *token ? strdup(token) : NULL;
        if (*access_key == NULL || *secret_key == NULL || (token && *token && !*session_token))
            st = capvi_err_nomem(err);
    }
    OPENSSL_cleanse(text, CREDENTIALS_MAX + 1);
    free(text);
    return st;
}

capv_status capvi_s3_credentials_load(char **access_key, char **secret_key, char **session_token,
                                      const char *file, const char *profile, capv_error *err)
{
    *access_key = *secret_key = *session_token = NULL;
    capv_status st;
    if (file != NULL && *file) {
        st = credentials_from_file(access_key, secret_key, session_token, file,
                                   profile && *profile ? profile : "default", err);
    } else {
        const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY"),
                   *token = getenv("AWS_SESSION_TOKEN");
        if (id == NULL || !*id || secret == NULL || !*secret)
            return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                                 "no S3 credentials: set AWS_ACCESS_KEY_ID and "
                                 "AWS_SECRET_ACCESS_KEY, or give a credentials file");
        *access_key = strdup(id);
        *secret_key = strdup(secret);
        *session_token = token && *token ? strdup(token) : NULL;
        st = *access_key && *secret_key && (!token || !*token || *session_token)
                 ? CAPV_OK
                 : capvi_err_nomem(err);
    }
    if (st != CAPV_OK) {
        capvi_s3_secret_free(*access_key);
        capvi_s3_secret_free(*secret_key);
        capvi_s3_secret_free(*session_token);
        *access_key = *secret_key = *session_token = NULL;
    }
    return st;
}

/* ---- URLs ---------------------------------------------------------------------------- */

void capvi_s3_uri_encode(capv_buf *b, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash)) {
            capvi_buf_putc(b, (char)c);
        } else {
            capvi_buf_putc(b, '%');
            capvi_buf_putc(b, hex[c >> 4]);
            capvi_buf_putc(b, hex[c & 15]);
        }
    }
}

/* scheme://[bucket.]host[:port]/[bucket/]key[?query] */
static char *make_url(const capvi_s3 *s, const char *bucket, const char *key, const char *query)
{
    capv_buf u = CAPV_BUF_INIT;
    capvi_buf_printf(&u, "%s://", s->scheme);
    if (!s->path_style) {
        capvi_buf_puts(&u, bucket);
        capvi_buf_putc(&u, '.');
    }
    capvi_buf_puts(&u, s->host);
    if (s->port != NULL)
        capvi_buf_printf(&u, ":%s", s->port);
    capvi_buf_putc(&u, '/');
    if (s->path_style) {
        capvi_s3_uri_encode(&u, bucket, false);
        if (key != NULL)
            capvi_buf_putc(&u, '/');
    }
    if (key != NULL)
        capvi_s3_uri_encode(&u, key, true);
    if (query != NULL && *query) {
        capvi_buf_putc(&u, '?');
        capvi_buf_puts(&u, query);
    }
    return (char *)capvi_buf_take(&u, NULL);
}

/* ---- one request, with retries ----------------------------------------------------------- */

typedef struct s3_call {
    const char *method; /* GET, HEAD, PUT, POST, DELETE */
    const char *bucket;
    const char *key; /* NULL: the bucket itself */
    const char *query;
    const capvi_s3_body *body; /* NULL: no payload */
    bool checksum;             /* x-amz-checksum-sha256 of the body */
    const char *content_type;
    const char *const *headers;
    size_t max_body; /* an answer kept in memory */
    int out_fd;      /* >= 0: a 2xx answer's body goes there */
    uint64_t max_out;
    capv_progress_fn progress;
    void *user;
    uint64_t base, total;
    bool error_in_200; /* a 200 answer may be an <Error> document (CompleteMultipartUpload) */
    bool slow_answer;  /* the store may work for minutes, sending white space meanwhile */
} s3_call;

typedef struct s3_answer {
    long status;
    capv_buf body;
    uint64_t written;
    char etag[CAPVI_S3_ETAG_SIZE];
    int64_t last_modified_ms;
    int64_t content_length;                  /* -1: not stated */
    char meta_sha3[CAPVI_S3_META_SHA3_SIZE]; /* x-amz-meta-sha3-256, or "" */
    /* from an <Error> body */
    char code[64];
    char message[160];
    char bucket_name[128];
    char request_time[40], server_time[40]; /* of a RequestTimeTooSkewed */
} s3_answer;

typedef struct xfer {
    capvi_s3 *s;
    const s3_call *call;
    s3_answer *ans;
    CURL *curl;
    uint64_t sent;
    int io_errno; /* a local read or write failed */
    bool too_big; /* the answer exceeded its bound */
    bool cancelled;
} xfer;

static size_t on_read(char *buf, size_t size, size_t nitems, void *user)
{
    xfer *x = user;
    const capvi_s3_body *b = x->call->body;
    size_t want = size * nitems;
    uint64_t left = b->len - x->sent;
    if (want > left)
        want = (size_t)left;
    if (want == 0)
        return 0;
    if (b->data != NULL) {
        memcpy(buf, b->data + x->sent, want);
    } else {
        ssize_t r;
        do
            r = pread(b->fd, buf, want, (off_t)(b->offset + x->sent));
        while (r < 0 && errno == EINTR);
        if (r <= 0) {
            x->io_errno = r < 0 ? errno : EIO; /* a file that shrank is a read error too */
            return CURL_READFUNC_ABORT;
        }
        want = (size_t)r;
    }
    x->sent += want;
    return want;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *user)
{
    xfer *x = user;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
    if (x->call->out_fd >= 0 && code >= 200 && code < 300) {
        if (x->ans->written + n > x->call->max_out) {
            x->too_big = true;
            return 0;
        }
        int e = capvi_write_all(x->call->out_fd, data, n);
        if (e != 0) {
            x->io_errno = e;
            return 0;
        }
        x->ans->written += n;
        return n;
    }
    if (code < 200 || code >= 300) {
        /* an error answer: its first ERROR_BODY_MAX bytes hold S3's code, if any; the rest
         * (a proxy's large error page) is dropped, so that its status still decides whether
         * to retry */
        size_t room = ERROR_BODY_MAX -
                      (x->ans->body.len < ERROR_BODY_MAX ? x->ans->body.len : ERROR_BODY_MAX);
        capvi_buf_append(&x->ans->body, data, n < room ? n : room);
        return x->ans->body.failed ? 0 : n;
    }
    if (x->ans->body.len + n > x->call->max_body) {
        x->too_big = true;
        return 0;
    }
    capvi_buf_append(&x->ans->body, data, n);
    return x->ans->body.failed ? 0 : n;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *user)
{
    xfer *x = user;
    size_t n = size * nitems;
    const char *colon = memchr(data, ':', n);
    if (colon == NULL)
        return n;
    size_t name_len = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t vlen = (size_t)(end - v);
    if (name_len == 4 && strncasecmp(data, "ETag", 4) == 0 && vlen < CAPVI_S3_ETAG_SIZE) {
        memcpy(x->ans->etag, v, vlen);
        x->ans->etag[vlen] = '\0';
    } else if (name_len == 14 && strncasecmp(data, "Content-Length", 14) == 0 && vlen > 0 &&
               vlen <= 18) { /* no overflow; 10^18 bytes is beyond any object */
        int64_t len = 0;
        for (size_t i = 0; i < vlen && len >= 0; i++)
            len = v[i] >= '0' && v[i] <= '9' ? len * 10 + (v[i] - '0') : -1;
        x->ans->content_length = len;
    } else if (name_len == 19 && strncasecmp(data, "x-amz-meta-sha3-256", 19) == 0 &&
               vlen < CAPVI_S3_META_SHA3_SIZE) {
        memcpy(x->ans->meta_sha3, v, vlen);
        x->ans->meta_sha3[vlen] = '\0';
    } else if (name_len == 13 && strncasecmp(data, "Last-Modified", 13) == 0 && vlen < 64) {
        char date[64];
        memcpy(date, v, vlen);
        date[vlen] = '\0';
        time_t t = curl_getdate(date, NULL);
        x->ans->last_modified_ms = t > 0 ? (int64_t)t * 1000 : 0;
    }
    return n;
}

static bool cancelled(const capvi_s3 *s)
{
    return s->cancel != NULL && s->cancel(s->cancel_user);
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    xfer *x = user;
    if (cancelled(x->s)) {
        x->cancelled = true;
        return 1;
    }
    const s3_call *c = x->call;
    if (c->progress != NULL) {
        uint64_t now = (uint64_t)(c->out_fd >= 0 ? dlnow : ulnow);
        c->progress(c->user, c->base + now, c->total);
    }
    return 0;
}

/* Keeps Code, Message and BucketName of an <Error> answer. */
static capv_status on_error_xml(void *user, const char *path, const char *text, size_t len)
{
    s3_answer *a = user;
    if (text == NULL)
        return CAPV_OK;
    char *dst = NULL;
    size_t cap = 0;
    if (strcmp(path, "Error/Code") == 0) {
        dst = a->code;
        cap = sizeof a->code;
    } else if (strcmp(path, "Error/Message") == 0) {
        dst = a->message;
        cap = sizeof a->message;
    } else if (strcmp(path, "Error/BucketName") == 0) {
        dst = a->bucket_name;
        cap = sizeof a->bucket_name;
    } else if (strcmp(path, "Error/RequestTime") == 0) {
        dst = a->request_time;
        cap = sizeof a->request_time;
    } else if (strcmp(path, "Error/ServerTime") == 0) {
        dst = a->server_time;
        cap = sizeof a->server_time;
    }
    if (dst != NULL) {
        size_t n = len < cap - 1 ? len : cap - 1;
        for (size_t i = 0; i < n; i++) /* shown in messages and logs: printable ASCII only */
            dst[i] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
        dst[n] = '\0';
    }
    return CAPV_OK;
}

static void parse_error_body(s3_answer *a)
{
    a->code[0] = a->message[0] = a->bucket_name[0] = '\0';
    a->request_time[0] = a->server_time[0] = '\0';
    if (a->body.len > 0 && !a->body.failed)
        (void)capvi_xml_read(a->body.data, a->body.len, on_error_xml, a, NULL);
}

static bool retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY: return true;
    default: return false;
    }
}

static bool retryable_answer(const s3_answer *a)
{
    switch (a->status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504: return true;
    default: break;
    }
    /* a timeout reading our body, and checksums that did not survive the transit */
    return strcmp(a->code, "RequestTimeout") == 0 || strcmp(a->code, "BadDigest") == 0 ||
           strcmp(a->code, "XAmzContentSHA256Mismatch") == 0 ||
           strcmp(a->code, "InternalError") == 0 || strcmp(a->code, "SlowDown") == 0;
}

/* Sleeps `ms`, in slices, returning early (false) when cancelled. */
static bool backoff_sleep(const capvi_s3 *s, unsigned int ms)
{
    while (ms > 0) {
        if (cancelled(s))
            return false;
        unsigned int step = ms < 50 ? ms : 50;
        struct timespec ts = { 0, (long)step * 1000000L };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        ms -= step;
    }
    return !cancelled(s);
}

/* The delay before attempt `attempt` + 1: backoff_ms * 2^(attempt-1), capped, with jitter
 * (between half and all of it) so that many clients do not retry in step. */
static unsigned int backoff_ms(const capvi_s3 *s, unsigned int attempt)
{
    uint64_t d = s->backoff_ms;
    for (unsigned int i = 1; i < attempt && d < BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > BACKOFF_CAP_MS)
        d = BACKOFF_CAP_MS;
    unsigned char r[2] = { 0, 0 };
    if (RAND_bytes(r, sizeof r) != 1)
        r[0] = r[1] = 0xff;
    uint64_t half = d / 2;
    return (unsigned int)(half + ((uint64_t)(r[0] << 8 | r[1]) * (d - half)) / 65535u);
}

static void hex32(char out[65], const uint8_t d[32])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
}

/* The headers of a request (all signed by libcurl). NULL when out of memory. */
static struct curl_slist *make_headers(const capvi_s3 *s, const s3_call *c)
{
    struct curl_slist *h = NULL, *t;
    char line[256];
    char hex[65];
    if (c->body != NULL && c->body->sha256 != NULL)
        hex32(hex, c->body->sha256);
    else
        memcpy(hex, empty_sha256, sizeof hex);
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", hex);
    if ((t = curl_slist_append(h, line)) == NULL)
        goto fail;
    h = t;
    if (c->checksum && c->body != NULL && c->body->sha256 != NULL) {
        char b64[CAPV_BASE64_ENCODED_SIZE(32)];
        if (capv_base64_encode(b64, sizeof b64, NULL, c->body->sha256, 32, CAPV_BASE64_STD, NULL) !=
            CAPV_OK)
            goto fail;
        snprintf(line, sizeof line, "x-amz-checksum-sha256: %s", b64);
        if ((t = curl_slist_append(h, line)) == NULL)
            goto fail;
        h = t;
    }
    if (c->content_type != NULL) {
        snprintf(line, sizeof line, "Content-Type: %s", c->content_type);
        if ((t = curl_slist_append(h, line)) == NULL)
            goto fail;
        h = t;
    }
    if (s->session_token != NULL) {
        size_t n = strlen(s->session_token) + 32;
        char *tok = malloc(n);
        if (tok == NULL)
            goto fail;
        snprintf(tok, n, "x-amz-security-token: %s", s->session_token);
        t = curl_slist_append(h, tok);
        OPENSSL_cleanse(tok, n);
        free(tok);
        if (t == NULL)
            goto fail;
        h = t;
    }
    for (const char *const *e = c->headers; e != NULL && *e != NULL; e++) {
        if ((t = curl_slist_append(h, *e)) == NULL)
            goto fail;
        h = t;
    }
    return h;
fail:
    curl_slist_free_all(h);
    return NULL;
}

/* "s3://bucket/key" for messages (buffer of 256 bytes). */
static void where(char out[256], const s3_call *c)
{
    snprintf(out, 256, "s3://%.100s%s%.140s", c->bucket, c->key ? "/" : "", c->key ? c->key : "");
}

/* One attempt: CURLE_* of the transfer, the answer in `a`. */
static CURLcode attempt_once(capvi_s3 *s, const s3_call *c, s3_answer *a, xfer *x,
                             char errbuf[CURL_ERROR_SIZE])
{
    char *url = make_url(s, c->bucket, c->key, c->query);
    struct curl_slist *headers = make_headers(s, c);
    CURL *h = curl_easy_init();
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    if (url == NULL || headers == NULL || h == NULL)
        goto out;
    x->curl = h;
    long timeout_s = (long)(s->timeout_ms + 999) / 1000;
    /* A slow answer (CompleteMultipartUpload: S3 answers 200 at once, then assembles the
     * object for up to minutes, sending a space now and then) is far below any speed limit:
     * it gets none, a bound on the whole call instead, and TCP keep-alive probes to find a
     * peer that is gone. */
    long low_speed = c->slow_answer ? 0L : 1024L;
    long whole_s = c->slow_answer ? SLOW_ANSWER_MAX_S : 0L;
    /* No CURLOPT_PATH_AS_IS: libcurl 8.14 and later refuse it beside CURLOPT_AWS_SIGV4, and
     * the dot-segment removal it turns off changes none of our keys (backup_remote.c refuses
     * "." and ".." segments and "//"). */
    bool ok =
        curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, s->scheme) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, low_speed) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, timeout_s) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_TIMEOUT, whole_s) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, c->slow_answer ? 1L : 0L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, timeout_s) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, timeout_s) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_USERAGENT, "capverify/" CAPV_VERSION_STRING) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_USERNAME, s->access_key) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret_key) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEDATA, x) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_HEADERDATA, x) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, x) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) == CURLE_OK &&
        (s->ca_file == NULL || curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file) == CURLE_OK);
    if (ok && strcmp(c->method, "PUT") == 0) {
        ok = curl_easy_setopt(h, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_READDATA, x) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                              (curl_off_t)(c->body ? c->body->len : 0)) == CURLE_OK;
    } else if (ok && strcmp(c->method, "POST") == 0) {
        ok = curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_READDATA, x) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                              (curl_off_t)(c->body ? c->body->len : 0)) == CURLE_OK;
    } else if (ok && strcmp(c->method, "DELETE") == 0) {
        ok = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE") == CURLE_OK;
    } else if (ok && strcmp(c->method, "HEAD") == 0) {
        ok = curl_easy_setopt(h, CURLOPT_NOBODY, 1L) == CURLE_OK;
    }
    if (!ok) {
        rc = CURLE_FAILED_INIT;
        goto out;
    }
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
out:
    if (h != NULL)
        curl_easy_cleanup(h);
    x->curl = NULL;
    curl_slist_free_all(headers);
    free(url);
    return rc;
}

static void answer_reset(s3_answer *a)
{
    capvi_buf_free(&a->body);
    memset(a, 0, sizeof *a);
    a->content_length = -1;
}

/* The status for a final non-2xx answer. */
static capv_status answer_error(const capvi_s3 *s, const s3_call *c, const s3_answer *a,
                                unsigned int attempts, capv_error *err)
{
    char at[256];
    where(at, c);
    const char *code = a->code[0] ? a->code : "no error code";
    const char *msg = a->message[0] ? a->message : "";
    /* S3 refuses a request signed more than 15 minutes away from its own clock with a 403:
     * the credentials are fine, the clocks are not (docs/registry.md, "Off-site copies") */
    if (strcmp(a->code, "RequestTimeTooSkewed") == 0)
        return capvi_err_set(err, CAPV_E_UNAVAILABLE, c->key,
                             "%ld RequestTimeTooSkewed: the clocks of this machine and of the "
                             "store differ too much (the store's time %s, the request's %s): "
                             "set this machine's clock (NTP); refused: %s %s",
                             a->status, a->server_time[0] ? a->server_time : "not stated",
                             a->request_time[0] ? a->request_time : "not stated", c->method, at);
    if (a->status == 403)
        return capvi_err_set(err, CAPV_E_UNAVAILABLE, c->key,
                             "access denied to %s (403 %s%s%s): check the credentials, the "
                             "region and the bucket policy",
                             at, code, *msg ? ": " : "", msg);
    if (strcmp(a->code, "NoSuchBucket") == 0)
        return capvi_err_set(err, CAPV_E_NOT_FOUND, c->bucket,
                             "bucket '%s' does not exist at %s (NoSuchBucket)",
                             a->bucket_name[0] ? a->bucket_name : c->bucket, s->endpoint);
    if (a->status == 404)
        return capvi_err_set(err, CAPV_E_NOT_FOUND, c->key, "no object %s (404 %s)", at, code);
    if (strcmp(a->code, "BadDigest") == 0 || strcmp(a->code, "XAmzContentSHA256Mismatch") == 0 ||
        strcmp(a->code, "InvalidDigest") == 0)
        return capvi_err_set(err, CAPV_E_MISMATCH, c->key,
                             "the store computed another checksum for %s (%ld %s) after %u "
                             "attempts",
                             at, a->status, code, attempts);
    return capvi_err_set(err, CAPV_E_UNAVAILABLE, c->key, "%s %s: the store answered %ld %s%s%s%s",
                         c->method, at, a->status, code, *msg ? ": " : "", msg,
                         attempts > 1 ? " (after retries)" : "");
}

static capv_status perform(capvi_s3 *s, const s3_call *c, s3_answer *a, capv_error *err)
{
    char at[256];
    where(at, c);
    for (unsigned int attempt = 1;; attempt++) {
        answer_reset(a);
        if (c->out_fd >= 0 && (ftruncate(c->out_fd, 0) != 0 || lseek(c->out_fd, 0, SEEK_SET) != 0))
            return capvi_err_set(err, CAPV_E_IO, NULL, "cannot rewind the download file: %s",
                                 strerror(errno));
        xfer x = { .s = s, .call = c, .ans = a };
        char errbuf[CURL_ERROR_SIZE];
        errbuf[0] = '\0';
        CURLcode rc = attempt_once(s, c, a, &x, errbuf);
        bool last = attempt >= s->max_attempts;
        if (x.cancelled || (rc == CURLE_ABORTED_BY_CALLBACK && cancelled(s)))
            return capvi_err_set(err, CAPV_E_UNAVAILABLE, c->key, "%s %s: cancelled", c->method,
                                 at);
        if (x.io_errno != 0)
            return capvi_err_set(err, CAPV_E_IO, c->key, "%s %s: local file: %s", c->method, at,
                                 strerror(x.io_errno));
        if (x.too_big)
            return capvi_err_set(err, CAPV_E_LIMIT, c->key,
                                 "%s %s: the answer is larger than expected", c->method, at);
        if (rc == CURLE_OUT_OF_MEMORY || a->body.failed)
            return capvi_err_nomem(err);
        if (rc != CURLE_OK) {
            if (retryable_curl(rc) && !last) {
                if (!backoff_sleep(s, backoff_ms(s, attempt)))
                    return capvi_err_set(err, CAPV_E_UNAVAILABLE, c->key, "%s %s: cancelled",
                                         c->method, at);
                continue;
            }
            return capvi_err_set(err, CAPV_E_NETWORK, c->key,
                                 "%s %s: cannot reach %s: %s (%u attempt%s)", c->method, at,
                                 s->endpoint, errbuf[0] ? errbuf : curl_easy_strerror(rc), attempt,
                                 attempt == 1 ? "" : "s");
        }
        bool ok = a->status >= 200 && a->status < 300;
        if (ok && c->error_in_200 && a->body.len > 0) {
            parse_error_body(a);
            if (a->code[0]) {
                ok = false;
                a->status = 500; /* S3: an error inside a 200 answer is to be retried */
            }
        }
        if (ok)
            return CAPV_OK;
        parse_error_body(a);
        if (retryable_answer(a) && !last) {
            if (!backoff_sleep(s, backoff_ms(s, attempt)))
                return capvi_err_set(err, CAPV_E_UNAVAILABLE, c->key, "%s %s: cancelled", c->method,
                                     at);
            continue;
        }
        return answer_error(s, c, a, attempt, err);
    }
}

static s3_call call_init(const char *method, const char *bucket, const char *key)
{
    s3_call c;
    memset(&c, 0, sizeof c);
    c.method = method;
    c.bucket = bucket;
    c.key = key;
    c.out_fd = -1;
    return c;
}

/* ---- the operations ------------------------------------------------------------------- */

void capvi_s3_listing_free(capvi_s3_listing *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].key);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

typedef struct list_state {
    capvi_s3_listing *out;
    size_t cap;
    capvi_s3_object cur;
    bool truncated;
    char *next_token;
    capv_error *err;
} list_state;

static capv_status on_list_xml(void *user, const char *path, const char *text, size_t len)
{
    list_state *ls = user;
    if (strcmp(path, "ListBucketResult/Contents/Key") == 0 && text != NULL) {
        free(ls->cur.key);
        if ((ls->cur.key = strdup(text)) == NULL)
            return capvi_err_nomem(ls->err);
    } else if (strcmp(path, "ListBucketResult/Contents/Size") == 0 && text != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (len == 0 || *end != '\0' || errno != 0 || text[0] == '-')
            return capvi_err_set(ls->err, CAPV_E_MALFORMED, NULL,
                                 "listing: an object size that is not a number");
        ls->cur.size = v;
    } else if (strcmp(path, "ListBucketResult/Contents/LastModified") == 0 && text != NULL) {
        if (!capvi_time_parse(&ls->cur.last_modified_ms, text, len))
            ls->cur.last_modified_ms = 0;
    } else if (strcmp(path, "ListBucketResult/Contents") == 0) {
        if (ls->cur.key == NULL)
            return capvi_err_set(ls->err, CAPV_E_MALFORMED, NULL, "listing: an object without Key");
        if (ls->out->n >= LIST_OBJECTS_MAX)
            return capvi_err_set(ls->err, CAPV_E_LIMIT, NULL,
                                 "listing: more than %u objects under the prefix",
                                 LIST_OBJECTS_MAX);
        if (ls->out->n == ls->cap) {
            size_t cap = ls->cap ? ls->cap * 2 : 64;
            capvi_s3_object *p = realloc(ls->out->items, cap * sizeof *p);
            if (p == NULL)
                return capvi_err_nomem(ls->err);
            ls->out->items = p;
            ls->cap = cap;
        }
        ls->out->items[ls->out->n++] = ls->cur;
        memset(&ls->cur, 0, sizeof ls->cur);
    } else if (strcmp(path, "ListBucketResult/IsTruncated") == 0 && text != NULL) {
        ls->truncated = strcmp(text, "true") == 0;
    } else if (strcmp(path, "ListBucketResult/NextContinuationToken") == 0 && text != NULL) {
        free(ls->next_token);
        if ((ls->next_token = strdup(text)) == NULL)
            return capvi_err_nomem(ls->err);
    }
    return CAPV_OK;
}

capv_status capvi_s3_list(capvi_s3_listing *out, capvi_s3 *s, const char *bucket,
                          const char *prefix, capv_error *err)
{
    out->items = NULL;
    out->n = 0;
    list_state ls = { .out = out, .err = err };
    s3_answer a;
    memset(&a, 0, sizeof a);
    capv_status st = CAPV_OK;
    char *token = NULL;
    unsigned int pages = 0;
    for (;;) {
        /* the query in canonical order: continuation-token, list-type, prefix */
        capv_buf q = CAPV_BUF_INIT;
        if (token != NULL) {
            capvi_buf_puts(&q, "continuation-token=");
            capvi_s3_uri_encode(&q, token, false);
            capvi_buf_putc(&q, '&');
        }
        capvi_buf_puts(&q, "list-type=2&prefix=");
        capvi_s3_uri_encode(&q, prefix ? prefix : "", false);
        char *query = (char *)capvi_buf_take(&q, NULL);
        if (query == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
        s3_call c = call_init("GET", bucket, NULL);
        c.query = query;
        c.max_body = LIST_PAGE_MAX;
        st = perform(s, &c, &a, err);
        free(query);
        if (st != CAPV_OK)
            goto out;
        ls.truncated = false;
        free(ls.next_token);
        ls.next_token = NULL;
        if ((st = capvi_xml_read(a.body.data ? a.body.data : (const uint8_t *)"", a.body.len,
                                 on_list_xml, &ls, err)) != CAPV_OK)
            goto out;
        if (!ls.truncated)
            break;
        if (ls.next_token == NULL || !*ls.next_token)
            CAPV_FAIL(err, CAPV_E_MALFORMED, NULL,
                      "listing: truncated without a NextContinuationToken");
        /* a store that keeps answering one page would be asked forever; one that cycles
         * through pages without objects is stopped by the count of pages */
        if (token != NULL && strcmp(token, ls.next_token) == 0)
            CAPV_FAIL(err, CAPV_E_MALFORMED, NULL,
                      "listing: the store gave the same NextContinuationToken twice");
        if (++pages >= LIST_OBJECTS_MAX)
            CAPV_FAIL(err, CAPV_E_LIMIT, NULL, "listing: more than %u pages", LIST_OBJECTS_MAX);
        free(token);
        token = ls.next_token;
        ls.next_token = NULL;
    }
out:
    free(ls.cur.key);
    free(ls.next_token);
    free(token);
    answer_reset(&a);
    if (st != CAPV_OK)
        capvi_s3_listing_free(out);
    return st;
}

capv_status capvi_s3_get_bytes(uint8_t **body, size_t *len, int64_t *last_modified_ms, capvi_s3 *s,
                               const char *bucket, const char *key, size_t max, capv_error *err)
{
    *body = NULL;
    *len = 0;
    s3_call c = call_init("GET", bucket, key);
    c.max_body = max;
    s3_answer a;
    memset(&a, 0, sizeof a);
    capv_status st = perform(s, &c, &a, err);
    if (st == CAPV_OK) {
        if (last_modified_ms != NULL)
            *last_modified_ms = a.last_modified_ms;
        if (a.body.len == 0 && !capvi_buf_reserve(&a.body, 1))
            st = capvi_err_nomem(err);
        else
            *body = capvi_buf_take(&a.body, len);
        if (st == CAPV_OK && *body == NULL)
            st = capvi_err_nomem(err);
    }
    answer_reset(&a);
    return st;
}

capv_status capvi_s3_head(uint64_t *size, char sha3[CAPVI_S3_META_SHA3_SIZE], capvi_s3 *s,
                          const char *bucket, const char *key, capv_error *err)
{
    *size = 0;
    sha3[0] = '\0';
    s3_call c = call_init("HEAD", bucket, key);
    s3_answer a;
    memset(&a, 0, sizeof a);
    capv_status st = perform(s, &c, &a, err);
    if (st == CAPV_OK && a.content_length < 0)
        st = capvi_err_set(err, CAPV_E_MALFORMED, key, "HEAD %s: the store states no size", key);
    if (st == CAPV_OK) {
        *size = (uint64_t)a.content_length;
        memcpy(sha3, a.meta_sha3, CAPVI_S3_META_SHA3_SIZE);
    }
    answer_reset(&a);
    return st;
}

capv_status capvi_s3_get_to_fd(uint64_t *size, capvi_s3 *s, const char *bucket, const char *key,
                               int fd, uint64_t max, capv_progress_fn progress, void *user,
                               capv_error *err)
{
    *size = 0;
    s3_call c = call_init("GET", bucket, key);
    c.out_fd = fd;
    c.max_out = max;
    c.progress = progress;
    c.user = user;
    c.total = max;
    s3_answer a;
    memset(&a, 0, sizeof a);
    capv_status st = perform(s, &c, &a, err);
    if (st == CAPV_OK)
        *size = a.written;
    answer_reset(&a);
    return st;
}

capv_status capvi_s3_put(capvi_s3 *s, const char *bucket, const char *key,
                         const capvi_s3_body *body, const char *const *headers,
                         capv_progress_fn progress, void *user, uint64_t progress_base,
                         uint64_t progress_total, capv_error *err)
{
    s3_call c = call_init("PUT", bucket, key);
    c.body = body;
    c.checksum = true;
    c.content_type = "application/octet-stream";
    c.headers = headers;
    c.max_body = ERROR_BODY_MAX;
    c.progress = progress;
    c.user = user;
    c.base = progress_base;
    c.total = progress_total;
    s3_answer a;
    memset(&a, 0, sizeof a);
    capv_status st = perform(s, &c, &a, err);
    answer_reset(&a);
    return st;
}

typedef struct upload_id_state {
    char *id;
    capv_error *err;
} upload_id_state;

static capv_status on_initiate_xml(void *user, const char *path, const char *text, size_t len)
{
    upload_id_state *u = user;
    (void)len;
    if (text != NULL && strcmp(path, "InitiateMultipartUploadResult/UploadId") == 0) {
        free(u->id);
        if ((u->id = strdup(text)) == NULL)
            return capvi_err_nomem(u->err);
    }
    return CAPV_OK;
}

capv_status capvi_s3_multipart_create(char **upload_id, capvi_s3 *s, const char *bucket,
                                      const char *key, const char *const *headers, capv_error *err)
{
    *upload_id = NULL;
    static const uint8_t empty[32] = { 0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                       0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
                                       0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
                                       0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55 };
    capvi_s3_body none = { .data = empty, .fd = -1, .len = 0, .sha256 = empty };
    s3_call c = call_init("POST", bucket, key);
    c.query = "uploads=";
    c.body = &none;
    c.content_type = "application/octet-stream";
    c.headers = headers;
    c.max_body = ERROR_BODY_MAX;
    s3_answer a;
    memset(&a, 0, sizeof a);
    capv_status st = perform(s, &c, &a, err);
    upload_id_state u = { NULL, err };
    if (st == CAPV_OK)
        st = capvi_xml_read(a.body.data ? a.body.data : (const uint8_t *)"", a.body.len,
                            on_initiate_xml, &u, err);
    if (st == CAPV_OK && (u.id == NULL || !*u.id))
        st = capvi_err_set(err, CAPV_E_MALFORMED, key,
                           "CreateMultipartUpload answered without an UploadId");
    if (st == CAPV_OK)
        *upload_id = u.id;
    else
        free(u.id);
    answer_reset(&a);
    return st;
}

/* "partNumber=N&uploadId=ID" / "uploadId=ID" in canonical order. */
static char *upload_query(const char *upload_id, unsigned int part)
{
    capv_buf q = CAPV_BUF_INIT;
    if (part > 0)
        capvi_buf_printf(&q, "partNumber=%u&", part);
    capvi_buf_puts(&q, "uploadId=");
    capvi_s3_uri_encode(&q, upload_id, false);
    return (char *)capvi_buf_take(&q, NULL);
}

capv_status capvi_s3_multipart_part(char etag[CAPVI_S3_ETAG_SIZE], capvi_s3 *s, const char *bucket,
                                    const char *key, const char *upload_id, unsigned int number,
                                    const capvi_s3_body *body, capv_progress_fn progress,
                                    void *user, uint64_t progress_base, uint64_t progress_total,
                                    capv_error *err)
{
    etag[0] = '\0';
    char *query = upload_query(upload_id, number);
    if (query == NULL)
        return capvi_err_nomem(err);
    s3_call c = call_init("PUT", bucket, key);
    c.query = query;
    c.body = body;
    c.checksum = true;
    c.max_body = ERROR_BODY_MAX;
    c.progress = progress;
    c.user = user;
    c.base = progress_base;
    c.total = progress_total;
    s3_answer a;
    memset(&a, 0, sizeof a);
    capv_status st = perform(s, &c, &a, err);
    if (st == CAPV_OK && !a.etag[0])
        st = capvi_err_set(err, CAPV_E_MALFORMED, key, "UploadPart %u answered without an ETag",
                           number);
    if (st == CAPV_OK)
        memcpy(etag, a.etag, CAPVI_S3_ETAG_SIZE);
    answer_reset(&a);
    free(query);
    return st;
}

capv_status capvi_s3_multipart_complete(capvi_s3 *s, const char *bucket, const char *key,
                                        const char *upload_id, const capvi_s3_part *parts, size_t n,
                                        capv_error *err)
{
    capv_buf x = CAPV_BUF_INIT;
    capvi_buf_puts(&x,
                   "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (size_t i = 0; i < n; i++) {
        char b64[CAPV_BASE64_ENCODED_SIZE(32)];
        if (capv_base64_encode(b64, sizeof b64, NULL, parts[i].sha256, 32, CAPV_BASE64_STD, NULL) !=
            CAPV_OK) {
            capvi_buf_free(&x);
            return capvi_err_nomem(err);
        }
        capvi_buf_printf(&x, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
        /* an ETag is quoted hex; escape what XML needs anyway */
        for (const char *p = parts[i].etag; *p; p++) {
            if (*p == '"')
                capvi_buf_puts(&x, "&quot;");
            else if (*p == '&')
                capvi_buf_puts(&x, "&amp;");
            else if (*p == '<')
                capvi_buf_puts(&x, "&lt;");
            else
                capvi_buf_putc(&x, *p);
        }
        capvi_buf_printf(&x, "</ETag><ChecksumSHA256>%s</ChecksumSHA256></Part>", b64);
    }
    capvi_buf_puts(&x, "</CompleteMultipartUpload>");
    size_t len = 0;
    uint8_t *xml = capvi_buf_take(&x, &len);
    char *query = upload_query(upload_id, 0);
    uint8_t sha[32];
    capv_status st = CAPV_OK;
    s3_answer a;
    memset(&a, 0, sizeof a);
    if (xml == NULL || query == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    CAPV_TRY(capv_hash(sha, CAPV_HASH_SHA256, xml, len, err));
    capvi_s3_body body = { .data = xml, .fd = -1, .len = len, .sha256 = sha };
    s3_call c = call_init("POST", bucket, key);
    c.query = query;
    c.body = &body;
    c.content_type = "application/xml";
    c.max_body = ERROR_BODY_MAX;
    c.error_in_200 = true;
    c.slow_answer = true;
    st = perform(s, &c, &a, err);
out:
    answer_reset(&a);
    free(xml);
    free(query);
    return st;
}

/* How long the abort of a cancelled upload may wait to connect, and at each stall. */
#define ABORT_CANCELLED_TIMEOUT_MS 3000u

capv_status capvi_s3_multipart_abort(capvi_s3 *s, const char *bucket, const char *key,
                                     const char *upload_id, capv_error *err)
{
    char *query = upload_query(upload_id, 0);
    if (query == NULL)
        return capvi_err_nomem(err);
    /* also after a cancel: the store should drop the parts; without the cancel hook */
    capvi_s3 copy = *s;
    copy.cancel = NULL;
    if (cancelled(s)) { /* a shutdown is waiting: one short try */
        copy.max_attempts = 1;
        if (copy.timeout_ms > ABORT_CANCELLED_TIMEOUT_MS)
            copy.timeout_ms = ABORT_CANCELLED_TIMEOUT_MS;
    }
    s3_call c = call_init("DELETE", bucket, key);
    c.query = query;
    c.max_body = ERROR_BODY_MAX;
    s3_answer a;
    memset(&a, 0, sizeof a);
    capv_status st = perform(&copy, &c, &a, err);
    answer_reset(&a);
    free(query);
    OPENSSL_cleanse(&copy, sizeof copy); /* it shares the pointers: only the struct goes */
    return st;
}

capv_status capvi_s3_delete(capvi_s3 *s, const char *bucket, const char *key, capv_error *err)
{
    s3_call c = call_init("DELETE", bucket, key);
    c.max_body = ERROR_BODY_MAX;
    s3_answer a;
    memset(&a, 0, sizeof a);
    capv_status st = perform(s, &c, &a, err);
    if (st == CAPV_E_NOT_FOUND && strcmp(a.code, "NoSuchBucket") != 0) {
        st = CAPV_OK; /* gone already */
        capvi_err_clear(err);
    }
    answer_reset(&a);
    return st;
}
