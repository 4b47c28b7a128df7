/* SPDX-License-Identifier: Apache-2.0 */
/* Off-site copies (backup_remote.h, docs/registry.md "Off-site copies") below the store: the
 * bounded XML reader on S3's answers (tests/vectors/s3) and on hostile ones, the AWS
 * credentials file, the checks of the options, and the client against a scripted loopback
 * HTTP server: the exact requests (canonical query, payload hash and checksum headers, the
 * signature libcurl adds), continuation tokens, retries on 503, no retry on 403, NoSuchBucket,
 * an unreachable endpoint, the order file-then-sidecar, the names of copies (by time and
 * content: two backups of one second get two), and a failed multipart upload that is
 * aborted and never gets a sidecar; a 403 RequestTimeTooSkewed named as a clock problem; the
 * retention (copies dated in the future neither counted nor deleted, files without sidecar
 * removed only once an hour old). The end-to-end tests against a real S3-compatible server
 * (s3rver) and the AWS CLI are tests/s3/. */
#include <capverify.h>
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net_int.h"
#include "s3_int.h"
#include "suites.h"
#include "testutil.h"
#include "time_int.h"
#include "xml_read_int.h"

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
}

static void teardown(void)
{
    capv_global_shutdown();
}

/* ---- the XML reader ------------------------------------------------------------------- */

typedef struct collected {
    char text[4096];
    int leaves, containers;
} collected;

static capv_status collect(void *user, const char *path, const char *text, size_t len)
{
    collected *c = user;
    size_t at = strlen(c->text);
    if (text == NULL) {
        c->containers++;
        snprintf(c->text + at, sizeof c->text - at, "%s/;", path);
    } else {
        c->leaves++;
        ck_assert_uint_eq(strlen(text), len);
        snprintf(c->text + at, sizeof c->text - at, "%s=%s;", path, text);
    }
    return CAPV_OK;
}

static capv_status xml(collected *c, const char *doc)
{
    memset(c, 0, sizeof *c);
    return capvi_xml_read((const uint8_t *)doc, strlen(doc), collect, c, NULL);
}

START_TEST(xml_reads_s3_answers)
{
    size_t len = 0;
    uint8_t *doc = tu_read(tu_vectors_dir(), "s3/list_page1.xml", &len);
    collected c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(capvi_xml_read(doc, len, collect, &c, NULL), CAPV_OK);
    ck_assert_ptr_nonnull(strstr(c.text, "ListBucketResult/IsTruncated=true;"));
    ck_assert_ptr_nonnull(strstr(c.text, "ListBucketResult/NextContinuationToken="
                                         "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=;"));
    /* &quot; decoded, the end of each Contents reported */
    ck_assert_ptr_nonnull(
        strstr(c.text, "ListBucketResult/Contents/ETag=\"9b2cf535f27731c974343645a3985328\";"));
    ck_assert_int_eq(c.containers, 4); /* 3 x Contents + the root */
    free(doc);

    ck_assert_int_eq(xml(&c, "<a><b>x &amp; y &lt;&gt; &#65;&#x42;&#xe9;&#x1F600;</b><c/></a>"),
                     CAPV_OK);
    ck_assert_str_eq(c.text, "a/b=x & y <> AB\xc3\xa9\xf0\x9f\x98\x80;a/c=;a/;");
    /* attributes (xmlns) skipped, comments and the declaration too */
    ck_assert_int_eq(
        xml(&c, "<?xml version=\"1.0\"?><!-- c --><r xmlns='u' a=\"x>y\"><k>v</k></r>"), CAPV_OK);
    ck_assert_str_eq(c.text, "r/k=v;r/;");
    /* references between children are an element's indentation too: not kept, not counted */
    static char refs[6 * 5000 + 64];
    strcpy(refs, "<r><k>v</k>");
    for (int i = 0; i < 5000; i++)
        strcat(refs, "&#10; ");
    strcat(refs, "<k>w</k></r>");
    ck_assert_int_eq(xml(&c, refs), CAPV_OK);
    ck_assert_str_eq(c.text, "r/k=v;r/k=w;r/;");
}
END_TEST

START_TEST(xml_refuses_hostile_input)
{
    collected c;
    static const char *const malformed[] = {
        "<!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>", /* no DTD, no entity expansion */
        "<r><![CDATA[x]]></r>",
        "<r>&unknown;</r>",
        "<r>&#0;</r>",
        "<r>&#xD800;</r>",
        "<r>&#x110000;</r>",
        "<r>&#12</r>",
        "<a><b></a></b>",
        "<a>",
        "<a></a><b></b>",
        "x<a></a>",
        "<a></a>x",
        "",
        "<a b></a>",
        "<a b=c></a>",
        "<a/ >",
        "</a>",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        capv_error err = CAPV_ERROR_INIT;
        memset(&c, 0, sizeof c);
        capv_status st =
            capvi_xml_read((const uint8_t *)malformed[i], strlen(malformed[i]), collect, &c, &err);
        ck_assert_msg(st == CAPV_E_MALFORMED, "case %zu (%s): %d %s", i, malformed[i], st,
                      err.message);
    }
    /* bounds: depth, name, text */
    char deep[256] = "";
    for (int i = 0; i <= CAPVI_XML_MAX_DEPTH; i++)
        strcat(deep, "<a>");
    ck_assert_int_eq(xml(&c, deep), CAPV_E_LIMIT);
    char name[200] = "<";
    memset(name + 1, 'n', CAPVI_XML_MAX_NAME + 1);
    strcpy(name + 2 + CAPVI_XML_MAX_NAME, "/>");
    ck_assert_int_eq(xml(&c, name), CAPV_E_LIMIT);
    size_t n = CAPVI_XML_MAX_TEXT + 16;
    char *big = malloc(n + 16);
    ck_assert_ptr_nonnull(big);
    strcpy(big, "<a>");
    memset(big + 3, 'x', CAPVI_XML_MAX_TEXT + 1);
    strcpy(big + 4 + CAPVI_XML_MAX_TEXT, "</a>");
    ck_assert_int_eq(xml(&c, big), CAPV_E_LIMIT);
    free(big);
    /* exactly at the bounds is fine */
    char ok[256] = "";
    for (int i = 0; i < CAPVI_XML_MAX_DEPTH; i++)
        strcat(ok, "<a>");
    for (int i = 0; i < CAPVI_XML_MAX_DEPTH; i++)
        strcat(ok, "</a>");
    ck_assert_int_eq(xml(&c, ok), CAPV_OK);
}
END_TEST

/* ---- credentials and options ---------------------------------------------------------- */

START_TEST(credentials_file_and_environment)
{
    char dir[256], path[512];
    tu_temp_dir(dir, sizeof dir, "capv-s3cred");
    snprintf(path, sizeof path, "%s/credentials", dir);
    tu_write_file(path, "# a mounted Secret\n[default]\naws_access_key_id = AKIDDEFAULT\r\n"
                        "aws_secret_access_key=s3cr3t/default+\n\n; other profile\n[ci]\n"
                        "  aws_access_key_id\t=  AKIDCI \naws_secret_access_key = s3cr3t-ci\n"
                        "aws_session_token = T0KEN\n[broken]\naws_access_key_id = X\n");
    char *id = NULL, *secret = NULL, *token = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capvi_s3_credentials_load(&id, &secret, &token, path, NULL, &err), CAPV_OK);
    ck_assert_str_eq(id, "AKIDDEFAULT");
    ck_assert_str_eq(secret, "s3cr3t/default+");
    ck_assert_ptr_null(token);
    capvi_s3_secret_free(id);
    capvi_s3_secret_free(secret);
    ck_assert_int_eq(capvi_s3_credentials_load(&id, &secret, &token, path, "ci", &err), CAPV_OK);
    ck_assert_str_eq(id, "AKIDCI");
    ck_assert_str_eq(secret, "s3cr3t-ci");
    ck_assert_str_eq(token, "T0KEN");
    capvi_s3_secret_free(id);
    capvi_s3_secret_free(secret);
    capvi_s3_secret_free(token);
    /* errors name the file and the profile, never a value */
    ck_assert_int_eq(capvi_s3_credentials_load(&id, &secret, &token, path, "broken", &err),
                     CAPV_E_MISSING);
    ck_assert_ptr_nonnull(strstr(err.message, "[broken]"));
    ck_assert_ptr_null(id);
    ck_assert_int_eq(capvi_s3_credentials_load(&id, &secret, &token, path, "nope", &err),
                     CAPV_E_MISSING);
    ck_assert_ptr_null(strstr(err.message, "s3cr3t"));
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none", dir);
    ck_assert_int_eq(capvi_s3_credentials_load(&id, &secret, &token, missing, NULL, &err),
                     CAPV_E_NOT_FOUND);
    /* no file: the environment */
    ck_assert_int_eq(capvi_s3_credentials_load(&id, &secret, &token, NULL, NULL, &err),
                     CAPV_E_INVALID_ARG);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    ck_assert_int_eq(capvi_s3_credentials_load(&id, &secret, &token, "", NULL, &err), CAPV_OK);
    ck_assert_str_eq(id, "AKIDENV");
    ck_assert_str_eq(secret, "envsecret");
    ck_assert_str_eq(token, "envtoken");
    capvi_s3_secret_free(id);
    capvi_s3_secret_free(secret);
    capvi_s3_secret_free(token);
    tu_remove_tree(dir);
}
END_TEST

static capv_status try_new(const char *url, const char *endpoint, const char *region,
                           bool path_style, capv_error *err)
{
    capv_backup_remote_options o = CAPV_BACKUP_REMOTE_OPTIONS_INIT;
    o.url = url;
    o.endpoint = endpoint;
    o.region = region;
    o.path_style = path_style;
    capv_backup_remote *r = NULL;
    capv_status st = capv_backup_remote_new(&r, &o, err);
    ck_assert(st == CAPV_OK ? r != NULL : r == NULL);
    capv_backup_remote_free(r);
    return st;
}

START_TEST(options_are_checked)
{
    capv_error err = CAPV_ERROR_INIT;
    /* no credentials at all */
    ck_assert_int_eq(try_new("s3://bucket", "https://s3.example.com", NULL, false, &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "AWS_ACCESS_KEY_ID"));
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "topsecret", 1);
    ck_assert_int_eq(try_new("s3://bucket/prod", "https://s3.example.com:9000", NULL, false, &err),
                     CAPV_OK);
    ck_assert_int_eq(try_new("s3://bucket", NULL, "eu-west-1", false, &err), CAPV_OK);
    ck_assert_int_eq(try_new("s3://bucket", "http://127.0.0.1:9000", NULL, true, &err), CAPV_OK);
    ck_assert_int_eq(try_new("s3://bucket", "http://[::1]:9000", NULL, true, &err), CAPV_OK);
    ck_assert_int_eq(try_new("s3://bucket", "http://localhost:9000", NULL, true, &err), CAPV_OK);
    /* plain http off loopback, other schemes, paths, credentials in the URL */
    ck_assert_int_eq(try_new("s3://bucket", "http://s3.example.com", NULL, false, &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "loopback"));
    ck_assert_int_eq(try_new("s3://bucket", "http://128.0.0.1", NULL, false, &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(try_new("s3://bucket", "ftp://s3.example.com", NULL, false, &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(try_new("s3://bucket", "https://s3.example.com/path", NULL, false, &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(try_new("s3://bucket", "https://u:p@s3.example.com", NULL, false, &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_ptr_null(strstr(err.message, "u:p"));
    /* nor when curl cannot parse it at all */
    ck_assert_int_eq(
        try_new("s3://bucket", "https://u:s3cr3t pw@s3.example.com", NULL, false, &err),
        CAPV_E_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "s3cr3t") == NULL, "%s", err.message);
    /* bucket and prefix */
    ck_assert_int_eq(try_new("https://bucket", "https://s3.example.com", NULL, false, &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(try_new("s3://", "https://s3.example.com", NULL, false, &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(try_new("s3://Bucket_1", "https://s3.example.com", NULL, false, &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(try_new("s3://Bucket_1", "https://s3.example.com", NULL, true, &err), CAPV_OK);
    ck_assert_int_eq(try_new("s3://bucket/a/../b", "https://s3.example.com", NULL, false, &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(try_new("s3://bucket/a//b", "https://s3.example.com", NULL, false, &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(try_new("s3://bucket", "https://s3.example.com", "US East", false, &err),
                     CAPV_E_INVALID_ARG);
    /* the same rule without credentials (what --check-config runs) */
    unsetenv("AWS_ACCESS_KEY_ID");
    capv_backup_remote_options c = CAPV_BACKUP_REMOTE_OPTIONS_INIT;
    c.url = "s3://bucket/prefix";
    c.endpoint = "http://127.0.0.1:9000";
    ck_assert_int_eq(capv_backup_remote_check_options(&c, &err), CAPV_OK);
    ck_assert_int_eq(err.code, CAPV_OK);
    c.endpoint = "http://minio.example.com:9000";
    ck_assert_int_eq(capv_backup_remote_check_options(&c, &err), CAPV_E_INVALID_ARG);
    ck_assert_str_eq(err.field, "endpoint");
    c.endpoint = NULL;
    c.region = "eu_west";
    ck_assert_int_eq(capv_backup_remote_check_options(&c, &err), CAPV_E_INVALID_ARG);
    ck_assert_str_eq(err.field, "region");
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    /* versions */
    capv_backup_remote_options o = CAPV_BACKUP_REMOTE_OPTIONS_INIT;
    o.url = "s3://bucket";
    capv_backup_remote *r = NULL;
    /* a struct of an unknown version is not read beyond its version field (a pointer of
     * another layout would be followed) */
    o.region = (const char *)1;
    o.version = 0;
    ck_assert_int_eq(capv_backup_remote_new(&r, &o, &err), CAPV_E_INVALID_ARG);
    ck_assert_str_eq(err.field, "version");
    o.version = CAPV_BACKUP_REMOTE_OPTIONS_VERSION + 1;
    ck_assert_int_eq(capv_backup_remote_new(&r, &o, &err), CAPV_E_INVALID_ARG);
    ck_assert_str_eq(err.field, "version");
    ck_assert_int_eq(capv_backup_remote_check_options(&o, &err), CAPV_E_INVALID_ARG);
    ck_assert_str_eq(err.field, "version");
    o.region = NULL;
    o.version = CAPV_BACKUP_REMOTE_OPTIONS_VERSION;
    o.part_size = 100;
    ck_assert_int_eq(capv_backup_remote_new(&r, &o, &err), CAPV_E_INVALID_ARG);
    o.part_size = 0;
    o.multipart_threshold = ((uint64_t)5 << 30) + 1; /* beyond what one PUT may store */
    ck_assert_int_eq(capv_backup_remote_new(&r, &o, &err), CAPV_E_INVALID_ARG);
    ck_assert_str_eq(err.field, "multipart_threshold");
    o.multipart_threshold = 0;
    /* the encoding SigV4 signs */
    capv_buf b = CAPV_BUF_INIT;
    capvi_s3_uri_encode(&b, "a/b c+d=e~f_g.h-i%j\xc3\xa9", true);
    capvi_s3_uri_encode(&b, "|/", false);
    ck_assert_ptr_nonnull(b.data);
    b.data[b.len] = '\0';
    ck_assert_str_eq((char *)b.data, "a/b%20c%2Bd%3De~f_g.h-i%25j%C3%A9%7C%2F");
    capvi_buf_free(&b);
    ck_assert(capvi_loopback_host("127.1.2.3"));
    ck_assert(!capvi_loopback_host("127.0.0.1.example.com"));
    ck_assert(!capvi_loopback_host("10.0.0.1"));
}
END_TEST

/* ---- a scripted loopback HTTP server ------------------------------------------------- */

#define MAX_ANSWERS 24

typedef struct answer {
    const char *status; /* "200 OK" */
    const char *headers;
    const char *body;
    size_t body_len;     /* 0: strlen(body) */
    int drop;            /* close the connection without answering */
    long long head_size; /* > 0: a HEAD answer stating this Content-Length, no body */
    int trickle_ms;      /* > 0: the body's leading spaces are sent one per trickle_ms */
} answer;

typedef struct seen_request {
    char line[600];
    char headers[4096];
    uint64_t body_len;
    uint8_t body_sha256[32];
    char body_head[2048];
} seen_request;

typedef struct script {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t m;
    answer answers[MAX_ANSWERS];
    size_t n_answers;
    seen_request seen[MAX_ANSWERS * 2];
    size_t n_seen;
} script;

static const char *header_value(const char *headers, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = headers; p && *p;) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t l = e ? (size_t)(e - v) : strlen(v);
            if (l >= cap)
                l = cap - 1;
            memcpy(out, v, l);
            out[l] = '\0';
            return out;
        }
        p = strstr(p, "\r\n");
        if (p)
            p += 2;
    }
    return NULL;
}

static void *script_main(void *p)
{
    script *s = p;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char req[8192];
        size_t got = 0;
        char *end = NULL;
        while (got < sizeof req - 1 && end == NULL) {
            ssize_t n = read(c, req + got, sizeof req - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = '\0';
            end = strstr(req, "\r\n\r\n");
        }
        if (end == NULL) {
            close(c);
            continue;
        }
        pthread_mutex_lock(&s->m);
        size_t i = s->n_seen < MAX_ANSWERS * 2 ? s->n_seen++ : MAX_ANSWERS * 2 - 1;
        seen_request *r = &s->seen[i];
        memset(r, 0, sizeof *r);
        char *eol = strstr(req, "\r\n");
        snprintf(r->line, sizeof r->line, "%.*s", (int)(eol - req), req);
        snprintf(r->headers, sizeof r->headers, "%.*s", (int)(end + 2 - (eol + 2)), eol + 2);
        answer a = i < s->n_answers ? s->answers[i]
                                    : (answer){ .status = "500 Internal Server Error", .body = "" };
        pthread_mutex_unlock(&s->m);
        char v[64];
        uint64_t len =
            header_value(r->headers, "Content-Length", v, sizeof v) ? strtoull(v, NULL, 10) : 0;
        if (header_value(r->headers, "Expect", v, sizeof v) != NULL)
            (void)!write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        capv_hash_ctx *h = NULL;
        ck_assert_int_eq(capv_hash_ctx_new(&h, CAPV_HASH_SHA256, NULL), CAPV_OK);
        size_t have = got - (size_t)(end + 4 - req);
        uint64_t body = 0;
        uint8_t *chunk = (uint8_t *)end + 4;
        for (;;) {
            if (have > 0) {
                if (body < sizeof r->body_head - 1) {
                    size_t k = have < sizeof r->body_head - 1 - body
                                   ? have
                                   : sizeof r->body_head - 1 - (size_t)body;
                    memcpy(r->body_head + body, chunk, k);
                }
                ck_assert_int_eq(capv_hash_ctx_update(h, chunk, have, NULL), CAPV_OK);
                body += have;
            }
            if (body >= len)
                break;
            ssize_t n = read(c, req, sizeof req);
            if (n <= 0)
                break;
            chunk = (uint8_t *)req;
            have = (size_t)n;
        }
        r->body_len = body;
        ck_assert_int_eq(capv_hash_ctx_final(r->body_sha256, h, NULL), CAPV_OK);
        capv_hash_ctx_free(h);
        if (a.drop) {
            close(c);
            continue;
        }
        char head[1024];
        size_t bl = a.body_len ? a.body_len : a.body ? strlen(a.body) : 0;
        int hl = snprintf(
            head, sizeof head, "HTTP/1.1 %s\r\n%sContent-Length: %llu\r\nConnection: close\r\n\r\n",
            a.status, a.headers ? a.headers : "",
            a.head_size > 0 ? (unsigned long long)a.head_size : (unsigned long long)bl);
        /* MSG_NOSIGNAL: a client that gives up on a long answer is no reason to stop */
        (void)!send(c, head, (size_t)hl, MSG_NOSIGNAL);
        size_t sent = 0;
        for (; a.trickle_ms > 0 && sent < bl && a.body[sent] == ' '; sent++) {
            (void)!send(c, a.body + sent, 1, MSG_NOSIGNAL);
            usleep((useconds_t)a.trickle_ms * 1000);
        }
        if (bl > sent)
            (void)!send(c, a.body + sent, bl - sent, MSG_NOSIGNAL);
        close(c);
    }
}

static void script_start(script *s)
{
    pthread_mutex_init(&s->m, NULL);
    s->fd = tu_listen_loopback(&s->port);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, script_main, s), 0);
}

static void script_stop(script *s)
{
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->m);
}

static void script_add(script *s, const char *status, const char *headers, const char *body)
{
    ck_assert_uint_lt(s->n_answers, MAX_ANSWERS);
    s->answers[s->n_answers++] = (answer){ .status = status, .headers = headers, .body = body };
}

/* A 200 answer of `len` bytes, which may hold NUL bytes. */
static void script_add_bytes(script *s, const char *body, size_t len)
{
    ck_assert_uint_lt(s->n_answers, MAX_ANSWERS);
    s->answers[s->n_answers++] = (answer){ .status = "200 OK", .body = body, .body_len = len };
}

/* A 200 answer to a HEAD: the object has `size` bytes and the `headers`. */
static void script_add_head(script *s, const char *headers, uint64_t size)
{
    ck_assert_uint_lt(s->n_answers, MAX_ANSWERS);
    s->answers[s->n_answers++] =
        (answer){ .status = "200 OK", .headers = headers, .head_size = (long long)size };
}

static size_t script_seen(script *s)
{
    pthread_mutex_lock(&s->m);
    size_t n = s->n_seen;
    pthread_mutex_unlock(&s->m);
    return n;
}

static capv_backup_remote *remote_timed(const script *s, const char *url, unsigned attempts,
                                        uint64_t part_size, unsigned timeout_ms)
{
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", s ? s->port : 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    capv_backup_remote_options o = CAPV_BACKUP_REMOTE_OPTIONS_INIT;
    o.url = url;
    o.endpoint = endpoint;
    o.region = "eu-central-1";
    o.path_style = true;
    o.max_attempts = attempts;
    o.backoff_ms = 1;
    o.timeout_ms = timeout_ms;
    o.part_size = part_size;
    o.multipart_threshold = part_size;
    capv_backup_remote *r = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_backup_remote_new(&r, &o, &err) == CAPV_OK, "%s", err.message);
    return r;
}

static capv_backup_remote *remote_for(const script *s, const char *url, unsigned attempts,
                                      uint64_t part_size)
{
    return remote_timed(s, url, attempts, part_size, 5000);
}

static char *sidecar_json(uint64_t size, const char *created)
{
    char *s = malloc(512);
    ck_assert_ptr_nonnull(s);
    snprintf(s, 512,
             "{\"format\":\"capverify-backup.v1\",\"created_at\":\"%s\",\"sha3_256\":\"0x%064d\","
             "\"size_bytes\":%llu,\"schema_version\":2,\"entries\":3,\"verifications\":4,"
             "\"tool_version\":\"libcapverify 0.2.0\"}",
             created, 0, (unsigned long long)size);
    return s;
}

START_TEST(list_follows_continuation_and_keeps_complete_backups)
{
    script s;
    memset(&s, 0, sizeof s);
    size_t l1 = 0, l2 = 0;
    char *page1 = (char *)tu_read(tu_vectors_dir(), "s3/list_page1.xml", &l1);
    char *page2 = (char *)tu_read(tu_vectors_dir(), "s3/list_page2.xml", &l2);
    /* the newest by instant, not by text: side2's time, 02:00 UTC on January 2nd written six
     * hours behind UTC, sorts as text below side1's */
    char *side1 = sidecar_json(40960, "2026-01-01T22:00:00.000Z");
    char *side2 = sidecar_json(12288, "2026-01-01T20:00:00-06:00");
    script_add(&s, "200 OK", NULL, page1);
    script_add(&s, "200 OK", NULL, page2);
    script_add(&s, "200 OK", "Last-Modified: Thu, 01 Jan 2026 00:00:05 GMT\r\n", side1);
    script_add(&s, "200 OK", NULL, side2);
    script_start(&s);
    capv_backup_remote *r = remote_for(&s, "s3://capv-backups/prod", 1, 0);
    capv_backup_remote_listing *l = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_backup_remote_list(&l, r, &err) == CAPV_OK, "%s", err.message);
    ck_assert_uint_eq(capv_backup_remote_listing_count(l), 2);
    const capv_backup_remote_info *b = capv_backup_remote_listing_get(l, 0);
    ck_assert_str_eq(b->key, "prod/registry-20260102T000000Z.sqlite");
    ck_assert_str_eq(b->url, "s3://capv-backups/prod/registry-20260102T000000Z.sqlite");
    ck_assert_uint_eq(b->size_bytes, 12288);
    ck_assert_str_eq(b->uploaded_at, "2026-01-02T00:00:05.000Z");
    b = capv_backup_remote_listing_get(l, 1);
    ck_assert_str_eq(b->sidecar_key, "prod/registry-20260101T000000Z.json");
    ck_assert_int_eq(b->schema_version, 2);
    ck_assert_uint_eq(b->entries, 3);
    ck_assert_ptr_null(capv_backup_remote_listing_get(l, 2));
    capv_backup_remote_listing_free(l);
    /* the requests: canonical queries (sorted names, encoded token), signed, with the
     * payload hash of an empty body */
    ck_assert_uint_eq(script_seen(&s), 4);
    ck_assert_str_eq(s.seen[0].line, "GET /capv-backups?list-type=2&prefix=prod%2F HTTP/1.1");
    ck_assert_str_eq(s.seen[1].line,
                     "GET /capv-backups?continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2"
                     "Fwm36Hy4vbOwM%3D&list-type=2&prefix=prod%2F HTTP/1.1");
    ck_assert_str_eq(s.seen[2].line,
                     "GET /capv-backups/prod/registry-20260101T000000Z.json HTTP/1.1");
    char v[512];
    ck_assert_ptr_nonnull(header_value(s.seen[0].headers, "x-amz-content-sha256", v, sizeof v));
    ck_assert_str_eq(v, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert_ptr_nonnull(header_value(s.seen[0].headers, "Authorization", v, sizeof v));
    ck_assert_msg(strncmp(v, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 40) == 0, "%s", v);
    ck_assert_ptr_nonnull(strstr(v, "/eu-central-1/s3/aws4_request"));
    ck_assert_ptr_nonnull(strstr(v, "x-amz-content-sha256"));
    ck_assert_ptr_null(strstr(s.seen[0].headers, "wJalrXUtnFEMI"));
    capv_backup_remote_free(r);
    script_stop(&s);
    free(page1);
    free(page2);
    free(side1);
    free(side2);
}
END_TEST

START_TEST(errors_are_mapped_and_retried)
{
    size_t len = 0;
    char *denied = (char *)tu_read(tu_vectors_dir(), "s3/error_accessdenied.xml", &len);
    char *nobucket = (char *)tu_read(tu_vectors_dir(), "s3/error_nosuchbucket.xml", &len);
    capv_error err = CAPV_ERROR_INIT;
    capv_backup_remote_listing *l = NULL;

    /* 403: not retried, unavailable, the store's code in the message, no secret */
    script s;
    memset(&s, 0, sizeof s);
    script_add(&s, "403 Forbidden", NULL, denied);
    script_start(&s);
    capv_backup_remote *r = remote_for(&s, "s3://capv-backups", 4, 0);
    ck_assert_int_eq(capv_backup_remote_list(&l, r, &err), CAPV_E_UNAVAILABLE);
    ck_assert_int_eq(capv_status_class_of(err.code), CAPV_CLASS_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.message, "access denied"));
    ck_assert_ptr_nonnull(strstr(err.message, "SignatureDoesNotMatch"));
    ck_assert_ptr_null(strstr(err.message, "wJalrXUtnFEMI"));
    ck_assert_ptr_null(strstr(err.message, "AWS4-HMAC-SHA256\n"));
    ck_assert_uint_eq(script_seen(&s), 1);
    capv_backup_remote_free(r);
    script_stop(&s);

    /* a 403 RequestTimeTooSkewed: the clocks, not the credentials (a literal: the body S3
     * sends, tests/vectors/s3 is not this test's to extend) */
    memset(&s, 0, sizeof s);
    script_add(&s, "403 Forbidden", NULL,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>RequestTimeTooSkewed"
               "</Code><Message>The difference between the request time and the current time "
               "is too large.</Message><RequestTime>20261207T120000Z</RequestTime><ServerTime>"
               "2026-12-07T12:20:00Z</ServerTime><MaxAllowedSkewMilliseconds>900000"
               "</MaxAllowedSkewMilliseconds><RequestId>4442587FB7D0A2F9</RequestId></Error>");
    script_start(&s);
    r = remote_for(&s, "s3://capv-backups", 4, 0);
    ck_assert_int_eq(capv_backup_remote_list(&l, r, &err), CAPV_E_UNAVAILABLE);
    ck_assert_msg(strstr(err.message, "RequestTimeTooSkewed") != NULL &&
                      strstr(err.message, "clocks") != NULL &&
                      strstr(err.message, "2026-12-07T12:20:00Z") != NULL,
                  "%s", err.message);
    ck_assert_msg(strstr(err.message, "credentials") == NULL, "%s", err.message);
    ck_assert_uint_eq(script_seen(&s), 1);
    capv_backup_remote_free(r);
    script_stop(&s);

    /* NoSuchBucket: not found, named */
    memset(&s, 0, sizeof s);
    script_add(&s, "404 Not Found", NULL, nobucket);
    script_start(&s);
    r = remote_for(&s, "s3://no-such-bucket", 4, 0);
    ck_assert_int_eq(capv_backup_remote_list(&l, r, &err), CAPV_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.message, "bucket 'no-such-bucket' does not exist"));
    ck_assert_uint_eq(script_seen(&s), 1);
    capv_backup_remote_free(r);
    script_stop(&s);

    /* 503, a dropped connection, then an answer: retried */
    memset(&s, 0, sizeof s);
    script_add(&s, "503 Slow Down", NULL, "<Error><Code>SlowDown</Code></Error>");
    s.answers[s.n_answers++] = (answer){ .drop = 1 };
    script_add(&s, "200 OK", NULL,
               "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
    script_start(&s);
    r = remote_for(&s, "s3://capv-backups", 3, 0);
    ck_assert_msg(capv_backup_remote_list(&l, r, &err) == CAPV_OK, "%s", err.message);
    ck_assert_uint_eq(capv_backup_remote_listing_count(l), 0);
    ck_assert_uint_eq(script_seen(&s), 3);
    capv_backup_remote_listing_free(l);
    capv_backup_remote_free(r);
    script_stop(&s);

    /* a 502 whose error page (a proxy's) is larger than an S3 error: retried all the same */
    memset(&s, 0, sizeof s);
    size_t big = 200 * 1024;
    char *page = malloc(big + 1);
    ck_assert_ptr_nonnull(page);
    memset(page, 'x', big);
    page[big] = '\0';
    script_add(&s, "502 Bad Gateway", "Content-Type: text/html\r\n", page);
    script_add(&s, "200 OK", NULL,
               "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
    script_start(&s);
    r = remote_for(&s, "s3://capv-backups", 3, 0);
    ck_assert_msg(capv_backup_remote_list(&l, r, &err) == CAPV_OK, "%s", err.message);
    ck_assert_uint_eq(script_seen(&s), 2);
    capv_backup_remote_listing_free(l);
    capv_backup_remote_free(r);
    script_stop(&s);
    /* and when it is the last attempt, the error is its status */
    memset(&s, 0, sizeof s);
    script_add(&s, "502 Bad Gateway", NULL, page);
    script_start(&s);
    r = remote_for(&s, "s3://capv-backups", 1, 0);
    ck_assert_int_eq(capv_backup_remote_list(&l, r, &err), CAPV_E_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.message, "502"));
    capv_backup_remote_free(r);
    script_stop(&s);
    free(page);

    /* a store that answers the same truncated page again: refused, not asked forever */
    memset(&s, 0, sizeof s);
    for (int i = 0; i < 3; i++)
        script_add(&s, "200 OK", NULL,
                   "<ListBucketResult><IsTruncated>true</IsTruncated>"
                   "<NextContinuationToken>again</NextContinuationToken></ListBucketResult>");
    script_start(&s);
    r = remote_for(&s, "s3://capv-backups", 1, 0);
    ck_assert_int_eq(capv_backup_remote_list(&l, r, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err.message, "same NextContinuationToken"));
    ck_assert_uint_eq(script_seen(&s), 2);
    capv_backup_remote_free(r);
    script_stop(&s);

    /* 503 until the attempts run out */
    memset(&s, 0, sizeof s);
    for (int i = 0; i < 3; i++)
        script_add(&s, "503 Service Unavailable", NULL, "");
    script_start(&s);
    r = remote_for(&s, "s3://capv-backups", 2, 0);
    ck_assert_int_eq(capv_backup_remote_list(&l, r, &err), CAPV_E_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.message, "503"));
    ck_assert_uint_eq(script_seen(&s), 2);
    capv_backup_remote_free(r);
    script_stop(&s);

    /* nobody listening: a network error after the retries */
    r = remote_for(NULL, "s3://capv-backups", 2, 0);
    ck_assert_int_eq(capv_backup_remote_list(&l, r, &err), CAPV_E_NETWORK);
    ck_assert_ptr_nonnull(strstr(err.message, "2 attempts"));
    capv_backup_remote_free(r);
    free(denied);
    free(nobucket);
}
END_TEST

/* One <Contents> of a listing: `key`, `size` bytes, stored at `stored_ms`. */
static void list_entry(char *out, size_t cap, const char *key, uint64_t size, int64_t stored_ms)
{
    char at[32];
    capvi_time_format_ms(at, stored_ms);
    size_t n = strlen(out);
    snprintf(out + n, cap - n,
             "<Contents><Key>%s</Key><LastModified>%s</LastModified><Size>%llu</Size></Contents>",
             key, at, (unsigned long long)size);
}

START_TEST(prune_leaves_future_copies_and_young_files)
{
    /* three real copies, two dated in 2099 (a clock far ahead, or written by hand), a file
     * without sidecar stored a year ago (an upload that never finished) and one stored just
     * now (another uploader's, between its file and its sidecar), both named before every
     * copy kept */
    int64_t now = capv_clock_system(NULL), old = now - 365LL * 86400 * 1000;
    static const char *const copies[] = { "20260101", "20260102", "20260103", "20990101",
                                          "20990102" };
    static char listing[8192];
    strcpy(listing, "<ListBucketResult><IsTruncated>false</IsTruncated>");
    list_entry(listing, sizeof listing, "p/registry-20250101T000000Z.sqlite", 4096, old);
    list_entry(listing, sizeof listing, "p/registry-20250102T000000Z.sqlite", 4096, now);
    char *sides[5];
    for (size_t i = 0; i < 5; i++) {
        char key[128], created[40];
        snprintf(created, sizeof created, "%.4s-%.2s-%.2sT00:00:00.000Z", copies[i], copies[i] + 4,
                 copies[i] + 6);
        sides[i] = sidecar_json(8192, created);
        snprintf(key, sizeof key, "p/registry-%sT000000Z.json", copies[i]);
        list_entry(listing, sizeof listing, key, strlen(sides[i]), old);
        snprintf(key, sizeof key, "p/registry-%sT000000Z.sqlite", copies[i]);
        list_entry(listing, sizeof listing, key, 8192, old);
    }
    strcat(listing, "</ListBucketResult>");
    script s;
    memset(&s, 0, sizeof s);
    script_add(&s, "200 OK", NULL, listing);
    for (size_t i = 0; i < 5; i++) /* the sidecars, read in key order */
        script_add(&s, "200 OK", NULL, sides[i]);
    for (size_t i = 0; i < 8; i++)
        script_add(&s, "204 No Content", NULL, "");
    script_start(&s);
    capv_backup_remote *r = remote_for(&s, "s3://capv-backups/p", 1, 0);
    size_t removed = 99;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_backup_remote_prune(&removed, r, 2, &err) == CAPV_OK, "%s", err.message);
    /* the newest two real copies stay; the oldest goes, its sidecar first; the future-dated
     * ones are neither counted nor deleted; of the files without sidecar only the old one
     * goes */
    ck_assert_uint_eq(removed, 1);
    ck_assert_uint_eq(script_seen(&s), 1 + 5 + 3);
    ck_assert_str_eq(s.seen[6].line,
                     "DELETE /capv-backups/p/registry-20260101T000000Z.json HTTP/1.1");
    ck_assert_str_eq(s.seen[7].line,
                     "DELETE /capv-backups/p/registry-20260101T000000Z.sqlite HTTP/1.1");
    ck_assert_str_eq(s.seen[8].line,
                     "DELETE /capv-backups/p/registry-20250101T000000Z.sqlite HTTP/1.1");
    capv_backup_remote_free(r);
    script_stop(&s);
    for (size_t i = 0; i < 5; i++)
        free(sides[i]);
}
END_TEST

/* A registry with a few entries backed up into `dir` at the time of `clock` (NULL: now); the
 * backup's description. */
static capv_backup_info *make_backup_at(const char *dir, int entries, capv_clock_fn clock)
{
    char db[512];
    snprintf(db, sizeof db, "%s/live.sqlite", dir);
    capv_registry_options ro = CAPV_REGISTRY_OPTIONS_INIT;
    ro.flags = CAPV_REGISTRY_CREATE;
    ro.clock = clock;
    capv_registry *reg = NULL;
    ck_assert_int_eq(capv_registry_open(&reg, db, &ro, NULL), CAPV_OK);
    for (int i = 0; i < entries; i++) {
        char mh[80], ph[80];
        snprintf(mh, sizeof mh, "0x%064x", i + 1);
        snprintf(ph, sizeof ph, "0x%064x", i + 1000);
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        e.manifest_hash = mh;
        e.proof_hash = ph;
        ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);
    }
    char bdir[600];
    snprintf(bdir, sizeof bdir, "%s/backups", dir);
    ck_assert_int_eq(mkdir(bdir, 0700), 0);
    capv_backup_info *b = NULL;
    ck_assert_int_eq(capv_registry_backup(&b, reg, bdir, 0, NULL, NULL, NULL), CAPV_OK);
    capv_registry_close(reg);
    return b;
}

static capv_backup_info *make_backup(const char *dir, int entries)
{
    return make_backup_at(dir, entries, NULL);
}

/* The name a backup made by the library now has in the store: its local name (the second of
 * its created_at) and the first 16 hex digits of its SHA3-256. */
static void store_name_of(char *out, size_t cap, const capv_backup_info *b, const char *ext)
{
    const char *base = strrchr(b->path, '/') + 1;
    snprintf(out, cap, "%.*s-%.16s%s", (int)(strlen(base) - strlen(".sqlite")), base,
             b->sha3_256 + 2, ext);
}

START_TEST(upload_sends_file_then_sidecar_with_checksums)
{
    char dir[256];
    tu_temp_dir(dir, sizeof dir, "capv-s3up");
    capv_backup_info *b = make_backup(dir, 5);
    script s;
    memset(&s, 0, sizeof s);
    script_add(&s, "200 OK", "ETag: \"e1\"\r\n", "");
    script_add(&s, "200 OK", "ETag: \"e2\"\r\n", "");
    script_start(&s);
    capv_backup_remote *r = remote_for(&s, "s3://capv-backups/site a", 1, 0);
    capv_backup_remote_info *info = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_backup_remote_upload(&info, r, b->path, NULL, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    char name[128], want[512];
    store_name_of(name, sizeof name, b, ".sqlite");
    snprintf(want, sizeof want, "PUT /capv-backups/site%%20a/%s HTTP/1.1", name);
    ck_assert_uint_eq(script_seen(&s), 2);
    ck_assert_str_eq(s.seen[0].line, want);
    store_name_of(name, sizeof name, b, ".json");
    snprintf(want, sizeof want, "PUT /capv-backups/site%%20a/%s HTTP/1.1", name);
    ck_assert_str_eq(s.seen[1].line, want);
    /* the file went whole, its SHA-256 as payload hash and checksum */
    ck_assert_uint_eq(s.seen[0].body_len, b->size_bytes);
    char v[512], b64[64];
    ck_assert_ptr_nonnull(header_value(s.seen[0].headers, "x-amz-content-sha256", v, sizeof v));
    ck_assert_str_eq(v, tu_hex(s.seen[0].body_sha256) + 2);
    ck_assert_int_eq(
        capv_base64_encode(b64, sizeof b64, NULL, s.seen[0].body_sha256, 32, CAPV_BASE64_STD, NULL),
        CAPV_OK);
    ck_assert_ptr_nonnull(header_value(s.seen[0].headers, "x-amz-checksum-sha256", v, sizeof v));
    ck_assert_str_eq(v, b64);
    ck_assert_ptr_nonnull(header_value(s.seen[0].headers, "x-amz-meta-sha3-256", v, sizeof v));
    ck_assert_str_eq(v, b->sha3_256);
    ck_assert_ptr_nonnull(header_value(s.seen[0].headers, "Authorization", v, sizeof v));
    ck_assert_ptr_nonnull(strstr(v, "x-amz-checksum-sha256"));
    ck_assert_ptr_nonnull(strstr(v, "x-amz-meta-sha3-256"));
    /* the sidecar is the local one, byte for byte */
    size_t side_len = 0;
    char *side = (char *)tu_read("", b->sidecar_path, &side_len);
    ck_assert_uint_eq(s.seen[1].body_len, side_len);
    ck_assert_str_eq(s.seen[1].body_head, side);
    ck_assert_str_eq(info->sha3_256, b->sha3_256);
    ck_assert_uint_eq(info->size_bytes, b->size_bytes);
    free(side);
    capv_backup_remote_info_free(info);
    capv_backup_remote_free(r);
    script_stop(&s);

    /* a file that no longer matches its sidecar is never sent */
    FILE *f = fopen(b->path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 200, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    r = remote_for(NULL, "s3://capv-backups", 1, 0);
    ck_assert_int_eq(capv_backup_remote_upload(NULL, r, b->path, NULL, NULL, &err),
                     CAPV_E_MISMATCH);
    /* nor one that is not a complete backup */
    char other[600];
    snprintf(other, sizeof other, "%s/backups/registry-20200101T000000Z.sqlite", dir);
    ck_assert_int_eq(capv_backup_remote_upload(NULL, r, other, NULL, NULL, &err), CAPV_E_NOT_FOUND);
    snprintf(other, sizeof other, "%s/live.sqlite", dir);
    ck_assert_int_eq(capv_backup_remote_upload(NULL, r, other, NULL, NULL, &err),
                     CAPV_E_INVALID_ARG);
    capv_backup_remote_free(r);
    capv_backup_info_free(b);
    tu_remove_tree(dir);
}
END_TEST

/* 2026-03-01T12:00:00.250Z: two registries backing up "in the same second". */
static int64_t same_second(void *user)
{
    (void)user;
    return 1772366400250;
}

START_TEST(same_second_backups_get_their_own_names)
{
    /* two replicas back up in the same second, each into its own directory under the same
     * local name, different registries (bytes): in the store two names, by content, so their
     * PUTs cannot leave the file of one beside the sidecar of the other; the same backup
     * uploaded again keeps its name, and so does a copy downloaded and uploaded again */
    char dir[256], da[300], db[300], into[300];
    tu_temp_dir(dir, sizeof dir, "capv-s3names");
    snprintf(da, sizeof da, "%s/a", dir);
    snprintf(db, sizeof db, "%s/b", dir);
    snprintf(into, sizeof into, "%s/into", dir);
    ck_assert_int_eq(mkdir(da, 0700), 0);
    ck_assert_int_eq(mkdir(db, 0700), 0);
    ck_assert_int_eq(mkdir(into, 0700), 0);
    capv_backup_info *a = make_backup_at(da, 3, same_second);
    capv_backup_info *b = make_backup_at(db, 4, same_second);
    ck_assert_str_eq(strrchr(a->path, '/'), "/registry-20260301T120000Z.sqlite");
    ck_assert_str_eq(strrchr(b->path, '/'), "/registry-20260301T120000Z.sqlite");
    ck_assert_str_ne(a->sha3_256, b->sha3_256);
    size_t side_len = 0, db_len = 0;
    char *side = (char *)tu_read("", a->sidecar_path, &side_len);
    char *bytes = (char *)tu_read("", a->path, &db_len);
    script s;
    memset(&s, 0, sizeof s);
    for (size_t i = 0; i < 6; i++)
        script_add(&s, "200 OK", NULL, "");
    script_add(&s, "200 OK", NULL, side); /* the download of a's copy */
    script_add_bytes(&s, bytes, db_len);
    script_add(&s, "200 OK", NULL, "");
    script_add(&s, "200 OK", NULL, "");
    script_start(&s);
    capv_backup_remote *r = remote_for(&s, "s3://capv-backups/p", 1, 0);
    capv_backup_remote_info *ia = NULL, *ib = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_backup_remote_upload(&ia, r, a->path, NULL, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    ck_assert_msg(capv_backup_remote_upload(&ib, r, b->path, NULL, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    char want[256];
    snprintf(want, sizeof want, "p/registry-20260301T120000Z-%.16s.sqlite", a->sha3_256 + 2);
    ck_assert_str_eq(ia->key, want);
    snprintf(want, sizeof want, "p/registry-20260301T120000Z-%.16s.json", a->sha3_256 + 2);
    ck_assert_str_eq(ia->sidecar_key, want);
    snprintf(want, sizeof want, "p/registry-20260301T120000Z-%.16s.sqlite", b->sha3_256 + 2);
    ck_assert_str_eq(ib->key, want);
    ck_assert_str_ne(ia->key, ib->key);
    snprintf(want, sizeof want, "PUT /capv-backups/%s HTTP/1.1", ib->sidecar_key);
    ck_assert_str_eq(s.seen[3].line, want);
    /* a's backup again: the same objects */
    ck_assert_int_eq(capv_backup_remote_upload(NULL, r, a->path, NULL, NULL, &err), CAPV_OK);
    ck_assert_str_eq(s.seen[4].line, s.seen[0].line);
    ck_assert_str_eq(s.seen[5].line, s.seen[1].line);
    /* downloaded under the store's name, it is a local backup, and goes back under it */
    capv_backup_info *got = NULL;
    ck_assert_msg(capv_backup_remote_download(&got, r, ia->url, into, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    snprintf(want, sizeof want, "/%s", strrchr(ia->key, '/') + 1);
    ck_assert_str_eq(strrchr(got->path, '/'), want);
    capv_backup_list *list = NULL;
    ck_assert_int_eq(capv_registry_backup_list(&list, into, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_backup_list_count(list), 1);
    capv_backup_list_free(list);
    ck_assert_msg(capv_backup_remote_upload(NULL, r, got->path, NULL, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    ck_assert_uint_eq(script_seen(&s), 10);
    ck_assert_str_eq(s.seen[8].line, s.seen[0].line);
    ck_assert_str_eq(s.seen[9].line, s.seen[1].line);
    capv_backup_info_free(got);
    capv_backup_remote_info_free(ia);
    capv_backup_remote_info_free(ib);
    capv_backup_remote_free(r);
    script_stop(&s);
    free(side);
    free(bytes);
    capv_backup_info_free(a);
    capv_backup_info_free(b);
    tu_remove_tree(dir);
}
END_TEST

START_TEST(old_and_new_names_are_listed_and_pruned)
{
    /* a store holding copies named the old way (registry-<UTC>[-n], until 2026-12-08) and the
     * new (registry-<UTC>-<16 hex digits>): all listed, newest first, counted and pruned
     * alike; a file without sidecar of either kind, an hour old and named before the oldest
     * copy kept, removed; a name of neither kind ignored */
    int64_t old = capv_clock_system(NULL) - 365LL * 86400 * 1000;
    static const char *const names[] = { "20260101T000000Z", "20260102T000000Z-0123456789abcdef",
                                         "20260103T000000Z-1",
                                         "20260104T000000Z-fedcba9876543210" };
    static char listing[8192];
    strcpy(listing, "<ListBucketResult><IsTruncated>false</IsTruncated>");
    list_entry(listing, sizeof listing, "p/registry-20251231T000000Z-00000000000000aa.sqlite", 4096,
               old);
    list_entry(listing, sizeof listing, "p/registry-20260105T000000Z-0123456789ABCDEF.json", 100,
               old);
    list_entry(listing, sizeof listing, "p/registry-20260105T000000Z-0123456789ABCDEF.sqlite", 8192,
               old);
    char *sides[4];
    for (size_t i = 0; i < 4; i++) {
        char key[128], created[40];
        snprintf(created, sizeof created, "%.4s-%.2s-%.2sT00:00:00.000Z", names[i], names[i] + 4,
                 names[i] + 6);
        sides[i] = sidecar_json(8192, created);
        snprintf(key, sizeof key, "p/registry-%s.json", names[i]);
        list_entry(listing, sizeof listing, key, strlen(sides[i]), old);
        snprintf(key, sizeof key, "p/registry-%s.sqlite", names[i]);
        list_entry(listing, sizeof listing, key, 8192, old);
    }
    strcat(listing, "</ListBucketResult>");
    script s;
    memset(&s, 0, sizeof s);
    for (size_t round = 0; round < 2; round++) {
        script_add(&s, "200 OK", NULL, listing);
        for (size_t i = 0; i < 4; i++) /* the sidecars, read in key order */
            script_add(&s, "200 OK", NULL, sides[i]);
    }
    for (size_t i = 0; i < 5; i++)
        script_add(&s, "204 No Content", NULL, "");
    script_start(&s);
    capv_backup_remote *r = remote_for(&s, "s3://capv-backups/p", 1, 0);
    capv_backup_remote_listing *l = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_backup_remote_list(&l, r, &err) == CAPV_OK, "%s", err.message);
    ck_assert_uint_eq(capv_backup_remote_listing_count(l), 4);
    for (size_t i = 0; i < 4; i++) {
        char want[128];
        snprintf(want, sizeof want, "p/registry-%s.sqlite", names[3 - i]);
        ck_assert_str_eq(capv_backup_remote_listing_get(l, i)->key, want);
    }
    capv_backup_remote_listing_free(l);
    size_t removed = 99;
    ck_assert_msg(capv_backup_remote_prune(&removed, r, 2, &err) == CAPV_OK, "%s", err.message);
    ck_assert_uint_eq(removed, 2);
    ck_assert_uint_eq(script_seen(&s), 2 * 5 + 5);
    static const char *const deleted[] = {
        "p/registry-20260102T000000Z-0123456789abcdef.json",
        "p/registry-20260102T000000Z-0123456789abcdef.sqlite",
        "p/registry-20260101T000000Z.json",
        "p/registry-20260101T000000Z.sqlite",
        "p/registry-20251231T000000Z-00000000000000aa.sqlite",
    };
    for (size_t i = 0; i < 5; i++) {
        char want[160];
        snprintf(want, sizeof want, "DELETE /capv-backups/%s HTTP/1.1", deleted[i]);
        ck_assert_str_eq(s.seen[10 + i].line, want);
    }
    capv_backup_remote_free(r);
    script_stop(&s);
    for (size_t i = 0; i < 4; i++)
        free(sides[i]);
}
END_TEST

START_TEST(multipart_upload_and_abort)
{
    char dir[256];
    tu_temp_dir(dir, sizeof dir, "capv-s3mp");
    capv_backup_info *b = make_backup(dir, 100);
    /* three or four parts */
    uint64_t part_size = b->size_bytes / 3;
    ck_assert_uint_ge(part_size, 4096);
    uint64_t parts = (b->size_bytes + part_size - 1) / part_size;
    size_t len = 0;
    char *initiate = (char *)tu_read(tu_vectors_dir(), "s3/initiate.xml", &len);

    /* every part, then the completion, then the sidecar */
    script s;
    memset(&s, 0, sizeof s);
    script_add(&s, "200 OK", NULL, initiate);
    for (uint64_t i = 0; i < parts; i++)
        script_add(&s, "200 OK", "ETag: \"p\"\r\n", "");
    script_add(&s, "200 OK", NULL, "<CompleteMultipartUploadResult/>");
    script_add(&s, "200 OK", NULL, "");
    ck_assert_uint_le(s.n_answers, MAX_ANSWERS);
    script_start(&s);
    capv_backup_remote *r = remote_for(&s, "s3://capv-backups", 1, part_size);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_backup_remote_upload(NULL, r, b->path, NULL, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    ck_assert_uint_eq(script_seen(&s), parts + 3);
    ck_assert_ptr_nonnull(strstr(s.seen[0].line, "POST /capv-backups/registry-"));
    ck_assert_ptr_nonnull(strstr(s.seen[0].line, ".sqlite?uploads= HTTP/1.1"));
    char v[512];
    ck_assert_ptr_nonnull(header_value(s.seen[0].headers, "x-amz-checksum-algorithm", v, sizeof v));
    ck_assert_str_eq(v, "SHA256");
    uint64_t total = 0;
    for (uint64_t i = 0; i < parts; i++) {
        char q[200];
        snprintf(q, sizeof q,
                 "?partNumber=%llu&uploadId=VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwb"
                 "G9hZA HTTP/1.1",
                 (unsigned long long)(i + 1));
        ck_assert_msg(strstr(s.seen[1 + i].line, q) != NULL, "%s", s.seen[1 + i].line);
        ck_assert_ptr_nonnull(
            header_value(s.seen[1 + i].headers, "x-amz-content-sha256", v, sizeof v));
        ck_assert_str_eq(v, tu_hex(s.seen[1 + i].body_sha256) + 2);
        total += s.seen[1 + i].body_len;
    }
    ck_assert_uint_eq(total, b->size_bytes);
    const seen_request *done = &s.seen[1 + parts];
    ck_assert_ptr_nonnull(strstr(done->line, "POST /capv-backups/registry-"));
    ck_assert_ptr_nonnull(strstr(done->body_head, "<Part><PartNumber>1</PartNumber><ETag>&quot;p"
                                                  "&quot;</ETag><ChecksumSHA256>"));
    ck_assert_ptr_nonnull(strstr(s.seen[2 + parts].line, ".json HTTP/1.1"));
    capv_backup_remote_free(r);
    script_stop(&s);

    /* a completion that takes longer than the stall timeout, with a space now and then as S3
     * sends them while it assembles the object: waited for */
    memset(&s, 0, sizeof s);
    script_add(&s, "200 OK", NULL, initiate);
    for (uint64_t i = 0; i < parts; i++)
        script_add(&s, "200 OK", "ETag: \"p\"\r\n", "");
    script_add(&s, "200 OK", NULL, "    <CompleteMultipartUploadResult/>");
    s.answers[s.n_answers - 1].trickle_ms = 800;
    script_add(&s, "200 OK", NULL, "");
    script_start(&s);
    r = remote_timed(&s, "s3://capv-backups", 1, part_size, 1000);
    ck_assert_msg(capv_backup_remote_upload(NULL, r, b->path, NULL, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    ck_assert_uint_eq(script_seen(&s), parts + 3);
    ck_assert_ptr_nonnull(strstr(s.seen[2 + parts].line, ".json HTTP/1.1"));
    capv_backup_remote_free(r);
    script_stop(&s);

    /* part 2 fails for good: the upload is aborted, no sidecar is sent */
    memset(&s, 0, sizeof s);
    script_add(&s, "200 OK", NULL, initiate);
    script_add(&s, "200 OK", "ETag: \"p\"\r\n", "");
    script_add(&s, "500 Internal Server Error", NULL, "<Error><Code>InternalError</Code></Error>");
    script_add(&s, "500 Internal Server Error", NULL, "<Error><Code>InternalError</Code></Error>");
    script_add(&s, "204 No Content", NULL, "");
    script_start(&s);
    r = remote_for(&s, "s3://capv-backups", 2, part_size);
    ck_assert_int_eq(capv_backup_remote_upload(NULL, r, b->path, NULL, NULL, &err),
                     CAPV_E_UNAVAILABLE);
    ck_assert_uint_eq(script_seen(&s), 5);
    ck_assert_ptr_nonnull(strstr(s.seen[4].line, "DELETE /capv-backups/registry-"));
    ck_assert_ptr_nonnull(strstr(s.seen[4].line, "?uploadId=VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1"));
    capv_backup_remote_free(r);
    script_stop(&s);

    /* a CompleteMultipartUpload error inside a 200 answer is a failure too */
    char *in200 = (char *)tu_read(tu_vectors_dir(), "s3/error_in_200.xml", &len);
    memset(&s, 0, sizeof s);
    script_add(&s, "200 OK", NULL, initiate);
    for (uint64_t i = 0; i < parts; i++)
        script_add(&s, "200 OK", "ETag: \"p\"\r\n", "");
    script_add(&s, "200 OK", NULL, in200);
    script_add(&s, "204 No Content", NULL, "");
    script_add(&s, "404 Not Found", NULL, "");
    script_start(&s);
    r = remote_for(&s, "s3://capv-backups", 1, part_size);
    ck_assert_int_eq(capv_backup_remote_upload(NULL, r, b->path, NULL, NULL, &err),
                     CAPV_E_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.message, "InternalError"));
    ck_assert_uint_eq(script_seen(&s), parts + 4);
    /* the upload is aborted, and the object is not there */
    ck_assert_ptr_nonnull(strstr(s.seen[parts + 2].line, "DELETE "));
    ck_assert_ptr_nonnull(strstr(s.seen[parts + 3].line, "HEAD /capv-backups/registry-"));
    capv_backup_remote_free(r);
    script_stop(&s);

    /* the completion's answer lost, its retry refused (NoSuchUpload), the abort too, and the
     * object there with the backup's size and SHA3-256: the upload is complete, the sidecar
     * follows; with another size or SHA3-256 it is not */
    char meta[128], other[128];
    snprintf(meta, sizeof meta, "x-amz-meta-sha3-256: %s\r\n", b->sha3_256);
    snprintf(other, sizeof other, "x-amz-meta-sha3-256: 0x%064d\r\n", 0);
    const char *no_upload = "<Error><Code>NoSuchUpload</Code></Error>";
    struct {
        const char *headers;
        uint64_t size;
        capv_status want;
    } heads[] = { { meta, b->size_bytes, CAPV_OK },
                  { other, b->size_bytes, CAPV_E_NOT_FOUND },
                  { meta, b->size_bytes - 1, CAPV_E_NOT_FOUND } };
    for (size_t k = 0; k < sizeof heads / sizeof heads[0]; k++) {
        memset(&s, 0, sizeof s);
        script_add(&s, "200 OK", NULL, initiate);
        for (uint64_t i = 0; i < parts; i++)
            script_add(&s, "200 OK", "ETag: \"p\"\r\n", "");
        s.answers[s.n_answers++] = (answer){ .drop = 1 };
        script_add(&s, "404 Not Found", NULL, no_upload);
        script_add(&s, "404 Not Found", NULL, no_upload);
        script_add_head(&s, heads[k].headers, heads[k].size);
        if (heads[k].want == CAPV_OK)
            script_add(&s, "200 OK", NULL, "");
        script_start(&s);
        r = remote_for(&s, "s3://capv-backups", 2, part_size);
        ck_assert_msg(capv_backup_remote_upload(NULL, r, b->path, NULL, NULL, &err) ==
                          heads[k].want,
                      "%zu: %s", k, err.message);
        ck_assert_uint_eq(script_seen(&s), parts + 5 + (heads[k].want == CAPV_OK));
        ck_assert_ptr_nonnull(strstr(s.seen[parts + 3].line, "DELETE /capv-backups/"));
        ck_assert_ptr_nonnull(strstr(s.seen[parts + 4].line, "HEAD /capv-backups/registry-"));
        if (heads[k].want == CAPV_OK)
            ck_assert_ptr_nonnull(strstr(s.seen[parts + 5].line, "PUT /capv-backups/registry-"));
        capv_backup_remote_free(r);
        script_stop(&s);
    }
    free(in200);
    free(initiate);
    capv_backup_info_free(b);
    tu_remove_tree(dir);
}
END_TEST

/* The download's progress callback: on its first call, another process's sidecar appears
 * at the name the download will place its own. */
static void sidecar_appears(void *user, uint64_t done, uint64_t total)
{
    (void)done;
    (void)total;
    const char *path = user;
    if (access(path, F_OK) == 0)
        return;
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("another's", f);
    fclose(f);
}

START_TEST(download_removes_only_what_it_placed)
{
    char dir[256], into[600], theirs[900], mine[900];
    tu_temp_dir(dir, sizeof dir, "capv-s3down");
    capv_backup_info *b = make_backup(dir, 3);
    snprintf(into, sizeof into, "%s/into", dir);
    ck_assert_int_eq(mkdir(into, 0700), 0);
    const char *db_name = strrchr(b->path, '/') + 1, *side_name = strrchr(b->sidecar_path, '/') + 1;
    snprintf(theirs, sizeof theirs, "%s/%s", into, side_name);
    snprintf(mine, sizeof mine, "%s/%s", into, db_name);
    size_t side_len = 0, db_len = 0;
    char *side = (char *)tu_read("", b->sidecar_path, &side_len);
    char *db = (char *)tu_read("", b->path, &db_len);
    script s;
    memset(&s, 0, sizeof s);
    script_add(&s, "200 OK", NULL, side);
    script_add_bytes(&s, db, db_len);
    script_start(&s);
    capv_backup_remote *r = remote_for(&s, "s3://capv-backups", 1, 0);
    capv_restore_options v = CAPV_RESTORE_OPTIONS_INIT;
    v.progress = sidecar_appears;
    v.progress_user = theirs;
    char location[900];
    snprintf(location, sizeof location, "s3://capv-backups/%s", db_name);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_backup_remote_download(NULL, r, location, into, &v, &err),
                     CAPV_E_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.message, "appeared"));
    /* the file it had placed is gone; the sidecar that is not its own stays */
    ck_assert_int_eq(access(mine, F_OK), -1);
    size_t n = 0;
    char *left = (char *)tu_read("", theirs, &n);
    ck_assert_str_eq(left, "another's");
    free(left);
    capv_backup_remote_free(r);
    script_stop(&s);
    free(side);
    free(db);
    capv_backup_info_free(b);
    tu_remove_tree(dir);
}
END_TEST

static bool cancel_now(void *user)
{
    (void)user;
    return true;
}

START_TEST(cancelled_call)
{
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    capv_backup_remote_options o = CAPV_BACKUP_REMOTE_OPTIONS_INIT;
    o.url = "s3://capv-backups";
    o.endpoint = "http://127.0.0.1:1";
    o.path_style = true;
    o.max_attempts = 50;
    o.backoff_ms = 1000;
    o.cancel = cancel_now;
    capv_backup_remote *r = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_backup_remote_new(&r, &o, &err), CAPV_OK);
    capv_backup_remote_listing *l = NULL;
    ck_assert_int_eq(capv_backup_remote_list(&l, r, &err), CAPV_E_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.message, "cancelled"));
    capv_backup_remote_free(r);
}
END_TEST

Suite *backup_remote_suite(void)
{
    Suite *s = suite_create("backup_remote");
    TCase *tc = tcase_create("backup_remote");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, xml_reads_s3_answers);
    tcase_add_test(tc, xml_refuses_hostile_input);
    tcase_add_test(tc, credentials_file_and_environment);
    tcase_add_test(tc, options_are_checked);
    tcase_add_test(tc, list_follows_continuation_and_keeps_complete_backups);
    tcase_add_test(tc, errors_are_mapped_and_retried);
    tcase_add_test(tc, prune_leaves_future_copies_and_young_files);
    tcase_add_test(tc, upload_sends_file_then_sidecar_with_checksums);
    tcase_add_test(tc, same_second_backups_get_their_own_names);
    tcase_add_test(tc, old_and_new_names_are_listed_and_pruned);
    tcase_add_test(tc, multipart_upload_and_abort);
    tcase_add_test(tc, download_removes_only_what_it_placed);
    tcase_add_test(tc, cancelled_call);
    suite_add_tcase(s, tc);
    return s;
}
