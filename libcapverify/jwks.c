/* SPDX-License-Identifier: Apache-2.0 */
/* The JWKS source (docs/auth.md): fetch (libcurl or a local file, or a pluggable fetcher), the
 * FRESH -> STALE -> EXPIRED cache of the last good key set, single-flight and rate-limited
 * refetches, and the background refresher thread.
 *
 * Locking: one mutex guards the state below; fetches run outside it, with `fetching` set so
 * there is at most one in flight. Waiters block on `cond` (CLOCK_MONOTONIC) for at most the
 * fetch timeout. Ages (TTLs, staleness, rate limits) are measured on the monotonic clock, so
 * a step of the wall clock neither keeps a set fresh nor expires it; an injected clock
 * (capv_jwks_set_clock, for tests) replaces both. The bounded waits use the real monotonic
 * clock. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "file_int.h"
#include "global_int.h"
#include "jwks_int.h"
#include "net_int.h"
#include "time_int.h"

#define TTL_MIN_S 60
#define TTL_MAX_S 3600
#define REFRESHER_POLL_MS 1000

struct capv_jwks {
    char *location;
    char *shown;  /* the location as messages show it: a URL without user info and query */
    char *path;   /* file sources: the path; NULL for URLs */
    bool is_http; /* http:// (loopback only, when allowed) */
    int64_t ttl_s, min_interval_s, max_stale_s, fetch_timeout_ms;
    bool allow_insecure_http;
    char *ca_file;
    capv_jwks_fetch_fn fetch;
    void *fetch_user;
    capv_clock_fn clock;
    void *clock_user;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    capv_jwk_set *set; /* last good set, or NULL */
    uint8_t digest[CAPV_DIGEST_LEN];
    uint64_t generation;
    int64_t fetched_at_ms;   /* last fetch that installed or confirmed `set` (capvi_age_ms) */
    int64_t fetched_wall_ms; /* the same, on the wall clock (capv_jwks_last_success_ms) */
    int64_t set_ttl_s;       /* TTL in force for `set` */
    int64_t last_attempt_ms; /* capvi_age_ms */
    bool attempted;
    bool fetching;
    capv_error last_error;

    pthread_t thread;
    bool running;
    bool stop;

    atomic_uint_fast64_t counters[5];
};

const char *capv_jwks_state_name(capv_jwks_state s)
{
    switch (s) {
    case CAPV_JWKS_EMPTY: return "empty";
    case CAPV_JWKS_FRESH: return "fresh";
    case CAPV_JWKS_STALE: return "stale";
    case CAPV_JWKS_EXPIRED: return "expired";
    }
    return "unknown";
}

/* Checks an http(s) URL with libcurl's parser (for http, that the host is a loopback one)
 * and gives it as messages, logs and readiness show it (*shown, malloc'd): scheme, host,
 * port and path, without the user info and the query, which may hold credentials. */
static capv_status check_url(char **shown, const char *url, bool http, capv_error *err)
{
    static const CURLUPart which[4] = { CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT,
                                        CURLUPART_PATH };
    char *part[4] = { NULL, NULL, NULL, NULL };
    capv_status st = CAPV_OK;
    CURLU *u = curl_url();
    if (u == NULL)
        return capvi_err_nomem(err);
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &part[1], 0) != CURLUE_OK || !*part[1])
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, NULL,
                  "the key set's location is not a valid URL (not repeated here: it may hold "
                  "credentials)");
    if (http && !capvi_loopback_host(part[1]))
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, NULL,
                  "plain http:// is only allowed for a loopback host, not %.100s", part[1]);
    size_t n = 8;
    for (int i = 0; i < 4; i++)
        if (i != 1)
            curl_url_get(u, which[i], &part[i], 0); /* a port not given stays NULL */
    for (int i = 0; i < 4; i++)
        n += part[i] ? strlen(part[i]) : 0;
    if ((*shown = malloc(n)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    snprintf(*shown, n, "%s://%s%s%s%s", part[0] ? part[0] : "", part[1], part[2] ? ":" : "",
             part[2] ? part[2] : "", part[3] ? part[3] : "");
out:
    for (int i = 0; i < 4; i++)
        curl_free(part[i]);
    curl_url_cleanup(u);
    return st;
}

capv_status capv_jwks_new(capv_jwks **out, const char *location, capv_error *err)
{
    if (out == NULL || location == NULL || *location == '\0')
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "a key-set location is required");
    *out = NULL;
    capv_status st = CAPV_OK;
    capv_jwks *j = calloc(1, sizeof *j);
    if (j == NULL)
        return capvi_err_nomem(err);
    j->ttl_s = 600;
    j->min_interval_s = 30;
    j->max_stale_s = 3600;
    j->fetch_timeout_ms = 2000;
    j->clock = capv_clock_system;
    for (int i = 0; i < 5; i++)
        atomic_init(&j->counters[i], 0);
    capv_error_clear(&j->last_error);
    j->last_error.version = CAPV_ERROR_VERSION;
    pthread_mutex_init(&j->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cond, &ca);
    pthread_condattr_destroy(&ca);
    if ((j->location = strdup(location)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    const char *sep = strstr(location, "://");
    if (strncasecmp(location, "https://", 8) == 0 || strncasecmp(location, "http://", 7) == 0) {
        j->is_http = strncasecmp(location, "http://", 7) == 0;
        CAPV_TRY(check_url(&j->shown, location, j->is_http, err));
    } else if (strncmp(location, "file://", 7) == 0) {
        if (location[7] != '/')
            CAPV_FAIL(err, CAPV_E_INVALID_ARG, NULL, "file: URLs must be file:///absolute/path");
        if ((j->path = strdup(location + 7)) == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    } else if (sep != NULL) { /* named by its scheme alone: the rest may hold credentials */
        int n = (int)(sep - location);
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, NULL,
                  "unsupported key-set location %.*s://… (https://, file:// or a path)",
                  n > 16 ? 16 : n, location);
    } else if ((j->path = strdup(location)) == NULL) {
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    }
    *out = j;
    return capvi_err_done(err, CAPV_OK);
out:
    capv_jwks_free(j);
    return capvi_err_done(err, st);
}

void capv_jwks_free(capv_jwks *j)
{
    if (j == NULL)
        return;
    capv_jwks_stop_refresher(j);
    capv_jwk_set_free(j->set);
    pthread_cond_destroy(&j->cond);
    pthread_mutex_destroy(&j->lock);
    free(j->location);
    free(j->shown);
    free(j->path);
    free(j->ca_file);
    free(j);
}

capv_status capv_jwks_set_ttl(capv_jwks *j, int64_t s, capv_error *err)
{
    if (j == NULL || s < 1 || s > 86400)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "ttl", "the TTL must be 1..86400 s");
    j->ttl_s = s;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_jwks_set_refresh_min_interval(capv_jwks *j, int64_t s, capv_error *err)
{
    if (j == NULL || s < 0 || s > 86400)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "refresh_min_interval",
                             "the minimum refresh interval must be 0..86400 s");
    j->min_interval_s = s;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_jwks_set_max_stale(capv_jwks *j, int64_t s, capv_error *err)
{
    if (j == NULL || s < 0 || s > 7 * 86400)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "max_stale",
                             "the maximum staleness must be 0..604800 s");
    j->max_stale_s = s;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_jwks_set_fetch_timeout_ms(capv_jwks *j, int64_t ms, capv_error *err)
{
    if (j == NULL || ms < 1 || ms > 60000)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "fetch_timeout_ms",
                             "the fetch timeout must be 1..60000 ms");
    j->fetch_timeout_ms = ms;
    return capvi_err_done(err, CAPV_OK);
}

void capv_jwks_set_allow_insecure_http(capv_jwks *j, bool allow)
{
    if (j != NULL)
        j->allow_insecure_http = allow;
}

capv_status capv_jwks_set_ca_file(capv_jwks *j, const char *path, capv_error *err)
{
    if (j == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    char *c = NULL;
    if (path != NULL && (c = strdup(path)) == NULL)
        return capvi_err_nomem(err);
    free(j->ca_file);
    j->ca_file = c;
    return capvi_err_done(err, CAPV_OK);
}

void capv_jwks_set_fetcher(capv_jwks *j, capv_jwks_fetch_fn fn, void *user)
{
    if (j == NULL)
        return;
    j->fetch = fn;
    j->fetch_user = fn ? user : NULL;
}

void capv_jwks_set_clock(capv_jwks *j, capv_clock_fn clock, void *user)
{
    if (j == NULL)
        return;
    j->clock = clock ? clock : capv_clock_system;
    j->clock_user = clock ? user : NULL;
}

/* ---- built-in fetchers ------------------------------------------------------------------ */

typedef struct sink {
    capv_buf b;
    bool too_big;
    int64_t max_age;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    size_t n = size * nmemb;
    if (s->b.len + n > CAPV_JWKS_MAX_BYTES) {
        s->too_big = true;
        return 0;
    }
    capvi_buf_append(&s->b, data, n);
    return s->b.failed ? 0 : n;
}

/* Cache-Control: max-age=N (no-cache / no-store count as 0). A new status line (redirects)
 * resets what earlier responses said. */
static size_t on_header(char *data, size_t size, size_t nitems, void *user)
{
    sink *s = user;
    size_t n = size * nitems;
    static const char cc[] = "cache-control:";
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
        s->max_age = -1;
    if (n <= sizeof cc - 1 || strncasecmp(data, cc, sizeof cc - 1) != 0)
        return n;
    char line[512];
    size_t m = n - (sizeof cc - 1) < sizeof line - 1 ? n - (sizeof cc - 1) : sizeof line - 1;
    memcpy(line, data + sizeof cc - 1, m);
    line[m] = '\0';
    for (char *save = NULL, *tok = strtok_r(line, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        if (strncasecmp(tok, "no-cache", 8) == 0 || strncasecmp(tok, "no-store", 8) == 0) {
            s->max_age = 0;
        } else if (strncasecmp(tok, "max-age=", 8) == 0 && s->max_age != 0) {
            int64_t v = 0;
            const char *p = tok + 8;
            if (*p == '"')
                p++;
            if (*p < '0' || *p > '9')
                continue;
            for (; *p >= '0' && *p <= '9'; p++)
                v = v < INT64_C(1) << 40 ? v * 10 + (*p - '0') : v;
            s->max_age = v;
        }
    }
    return n;
}

static capv_status curl_fetch(capv_jwks *j, const char *url, uint8_t **body, size_t *len,
                              int64_t *max_age, capv_error *err)
{
    capv_status st = CAPV_OK;
    sink s = { CAPV_BUF_INIT, false, -1 };
    char errbuf[CURL_ERROR_SIZE] = "";
    if (j->is_http && !j->allow_insecure_http)
        return capvi_err_set(err, CAPV_E_UNSUPPORTED, NULL,
                             "plain http:// key sets need allow_insecure_http (loopback tests)");
    CURL *c = curl_easy_init();
    if (c == NULL)
        return capvi_err_nomem(err);
    long timeout = (long)j->fetch_timeout_ms;
    bool ok =
        curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, j->is_http ? "http" : "https") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CAPV_JWKS_MAX_BYTES) ==
            CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &s) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_USERAGENT, "capverify/" CAPV_VERSION_STRING) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL) == CURLE_OK &&
        (j->ca_file == NULL || curl_easy_setopt(c, CURLOPT_CAINFO, j->ca_file) == CURLE_OK);
    if (!ok)
        CAPV_FAIL(err, CAPV_E_INTERNAL, NULL, "libcurl rejected an option");
    CURLcode rc = curl_easy_perform(c);
    if (s.too_big || rc == CURLE_FILESIZE_EXCEEDED)
        CAPV_FAIL(err, CAPV_E_LIMIT, NULL, "key set response exceeds %u bytes",
                  CAPV_JWKS_MAX_BYTES);
    if (rc != CURLE_OK)
        CAPV_FAIL(err, CAPV_E_NETWORK, NULL, "fetching %.200s: %s", j->shown,
                  errbuf[0] ? errbuf : curl_easy_strerror(rc));
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200)
        CAPV_FAIL(err, CAPV_E_NETWORK, NULL, "fetching %.200s: HTTP status %ld", j->shown, code);
    if (s.b.failed)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    if (s.b.len == 0)
        capvi_buf_append(&s.b, "", 0);
    *body = capvi_buf_take(&s.b, len);
    if (*body == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    *max_age = s.max_age;
out:
    capvi_buf_free(&s.b);
    curl_easy_cleanup(c);
    return st;
}

static capv_status fetch_body(capv_jwks *j, uint8_t **body, size_t *len, int64_t *max_age,
                              capv_error *err)
{
    *body = NULL;
    *len = 0;
    *max_age = -1;
    capv_status st;
    if (j->fetch != NULL)
        st = j->fetch(j->fetch_user, j->location, body, len, max_age, err);
    else if (j->path != NULL)
        st = capvi_file_read(body, len, j->path, CAPV_JWKS_MAX_BYTES, "key set", err);
    else
        st = curl_fetch(j, j->location, body, len, max_age, err);
    if (st == CAPV_OK && *body == NULL && *len > 0)
        st = capvi_err_set(err, CAPV_E_INTERNAL, NULL, "fetcher returned no body");
    if (st == CAPV_OK && *len > CAPV_JWKS_MAX_BYTES)
        st = capvi_err_set(err, CAPV_E_LIMIT, NULL, "key set of %zu bytes exceeds %u", *len,
                           CAPV_JWKS_MAX_BYTES);
    if (st != CAPV_OK) {
        free(*body);
        *body = NULL;
    }
    return st;
}

capv_status capv_jwks_fetch(uint8_t **body, size_t *len, capv_jwks *j, capv_error *err)
{
    if (body == NULL || len == NULL || j == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    int64_t max_age;
    return capvi_err_done(err, fetch_body(j, body, len, &max_age, err));
}

/* ---- state ------------------------------------------------------------------------------ */

static capv_jwks_state state_locked(const capv_jwks *j, int64_t now)
{
    if (j->set == NULL)
        return CAPV_JWKS_EMPTY;
    int64_t age = now - j->fetched_at_ms;
    if (age < j->set_ttl_s * 1000)
        return CAPV_JWKS_FRESH;
    if (age < (j->set_ttl_s + j->max_stale_s) * 1000)
        return CAPV_JWKS_STALE;
    return CAPV_JWKS_EXPIRED;
}

static bool rate_ok(const capv_jwks *j, int64_t now)
{
    return !j->attempted || now < j->last_attempt_ms ||
           now - j->last_attempt_ms >= j->min_interval_s * 1000;
}

static int64_t ttl_for(const capv_jwks *j, int64_t max_age)
{
    if (max_age < 0)
        return j->ttl_s;
    return max_age < TTL_MIN_S ? TTL_MIN_S : max_age > TTL_MAX_S ? TTL_MAX_S : max_age;
}

static void count(capv_jwks *j, capv_jwks_counter c)
{
    atomic_fetch_add(&j->counters[c], 1);
}

/* One fetch; the caller has set `fetching`. Installs a good, non-empty set with different
 * content, confirms an identical one, and otherwise leaves the current set alone. */
static capv_status do_fetch(capv_jwks *j, capv_error *err)
{
    uint8_t *body = NULL;
    size_t len = 0;
    int64_t max_age = -1;
    capv_jwk_set *parsed = NULL, *old = NULL;
    uint8_t digest[CAPV_DIGEST_LEN];
    capv_error fe = CAPV_ERROR_INIT;
    capv_status st = fetch_body(j, &body, &len, &max_age, &fe);
    if (st == CAPV_OK)
        st = capv_jwk_set_parse(&parsed, body, len, &fe);
    if (st == CAPV_OK && parsed->count == 0) {
        const char *why = parsed->nignored ? parsed->ignored[0].reason : "the set has no keys";
        st = capvi_err_set(&fe, CAPV_E_MALFORMED, NULL, "no usable key in the key set (%s)", why);
    }
    if (st == CAPV_OK)
        st = capv_hash(digest, CAPV_HASH_SHA256, body, len, &fe);
    free(body);

    pthread_mutex_lock(&j->lock);
    int64_t now = capvi_age_ms(j->clock, j->clock_user);
    count(j, CAPV_JWKS_FETCHES);
    if (st == CAPV_OK) {
        if (j->set == NULL || memcmp(digest, j->digest, sizeof digest) != 0) {
            parsed->generation = ++j->generation;
            old = j->set;
            j->set = parsed;
            parsed = NULL;
            memcpy(j->digest, digest, sizeof digest);
            count(j, CAPV_JWKS_SETS_INSTALLED);
        }
        j->fetched_at_ms = now;
        j->fetched_wall_ms = j->clock(j->clock_user);
        j->set_ttl_s = ttl_for(j, max_age);
        capv_error_clear(&j->last_error);
    } else {
        count(j, CAPV_JWKS_FETCH_FAILURES);
        j->last_error = fe;
    }
    j->fetching = false;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    capv_jwk_set_free(old);
    capv_jwk_set_free(parsed);
    if (st != CAPV_OK && err != NULL)
        *err = fe;
    return st;
}

typedef enum flight_outcome { FLIGHT_FETCHED, FLIGHT_JOINED, FLIGHT_LIMITED } flight_outcome;

/* Fetches unless a fetch is in flight (then waits for it, at most the fetch timeout, when
 * `wait`) or the rate limit refuses (unless `force`). */
static capv_status flight(capv_jwks *j, bool wait, bool force, bool for_kid,
                          flight_outcome *outcome, capv_error *err)
{
    pthread_mutex_lock(&j->lock);
    if (j->fetching) {
        if (wait) {
            struct timespec dl;
            capvi_mono_deadline(&dl, j->fetch_timeout_ms);
            while (j->fetching && pthread_cond_timedwait(&j->cond, &j->lock, &dl) != ETIMEDOUT)
                ;
        }
        capv_status st = j->last_error.code;
        if (st != CAPV_OK && err != NULL)
            *err = j->last_error;
        pthread_mutex_unlock(&j->lock);
        *outcome = FLIGHT_JOINED;
        return st;
    }
    int64_t now = capvi_age_ms(j->clock, j->clock_user);
    if (!force && !rate_ok(j, now)) {
        count(j, CAPV_JWKS_RATE_LIMITED);
        pthread_mutex_unlock(&j->lock);
        *outcome = FLIGHT_LIMITED;
        return capvi_err_set(err, CAPV_E_BUSY, NULL,
                             "key set refetch refused: refresh_min_interval not elapsed");
    }
    j->fetching = true;
    j->attempted = true;
    j->last_attempt_ms = now;
    if (for_kid)
        count(j, CAPV_JWKS_KID_REFETCHES);
    pthread_mutex_unlock(&j->lock);
    *outcome = FLIGHT_FETCHED;
    return do_fetch(j, err);
}

capv_status capv_jwks_refresh(capv_jwks *j, capv_error *err)
{
    if (j == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    flight_outcome o;
    return capvi_err_done(err, flight(j, true, true, false, &o, err));
}

capv_jwks_state capv_jwks_get_state(capv_jwks *j)
{
    if (j == NULL)
        return CAPV_JWKS_EMPTY;
    pthread_mutex_lock(&j->lock);
    capv_jwks_state s = state_locked(j, capvi_age_ms(j->clock, j->clock_user));
    pthread_mutex_unlock(&j->lock);
    return s;
}

capv_jwk_set *capv_jwks_snapshot(capv_jwks *j)
{
    if (j == NULL)
        return NULL;
    pthread_mutex_lock(&j->lock);
    capv_jwk_set *s = capvi_jwk_set_ref(j->set);
    pthread_mutex_unlock(&j->lock);
    return s;
}

uint64_t capv_jwks_generation(capv_jwks *j)
{
    if (j == NULL)
        return 0;
    pthread_mutex_lock(&j->lock);
    uint64_t g = j->generation;
    pthread_mutex_unlock(&j->lock);
    return g;
}

int64_t capv_jwks_last_success_ms(capv_jwks *j)
{
    if (j == NULL)
        return 0;
    pthread_mutex_lock(&j->lock);
    int64_t t = j->set ? j->fetched_wall_ms : 0;
    pthread_mutex_unlock(&j->lock);
    return t;
}

int64_t capv_jwks_current_ttl(capv_jwks *j)
{
    if (j == NULL)
        return 0;
    pthread_mutex_lock(&j->lock);
    int64_t t = j->set ? j->set_ttl_s : j->ttl_s;
    pthread_mutex_unlock(&j->lock);
    return t;
}

void capv_jwks_last_error(capv_error *out, capv_jwks *j)
{
    if (j == NULL || out == NULL)
        return;
    pthread_mutex_lock(&j->lock);
    *out = j->last_error;
    pthread_mutex_unlock(&j->lock);
}

uint64_t capv_jwks_counter_get(capv_jwks *j, capv_jwks_counter which)
{
    if (j == NULL || (int)which < 0 || (int)which > 4)
        return 0;
    return atomic_load(&j->counters[which]);
}

/* ---- validator hooks -------------------------------------------------------------------- */

capv_status capvi_jwks_acquire(capv_jwk_set **out, capv_jwks *j, capv_error *err)
{
    *out = NULL;
    pthread_mutex_lock(&j->lock);
    capv_jwks_state s = state_locked(j, capvi_age_ms(j->clock, j->clock_user));
    bool refresher = j->running;
    if (s == CAPV_JWKS_FRESH || (s == CAPV_JWKS_STALE && refresher)) {
        *out = capvi_jwk_set_ref(j->set);
        pthread_mutex_unlock(&j->lock);
        return CAPV_OK;
    }
    pthread_mutex_unlock(&j->lock);
    /* STALE without a refresher: this request refreshes (if the rate limit allows) but is
     * served from the stale set either way. EMPTY / EXPIRED: wait for a fetch. */
    flight_outcome o;
    (void)flight(j, s != CAPV_JWKS_STALE, false, false, &o, NULL);
    pthread_mutex_lock(&j->lock);
    s = state_locked(j, capvi_age_ms(j->clock, j->clock_user));
    if (s == CAPV_JWKS_FRESH || s == CAPV_JWKS_STALE) {
        *out = capvi_jwk_set_ref(j->set);
        pthread_mutex_unlock(&j->lock);
        return CAPV_OK;
    }
    capv_error last = j->last_error;
    pthread_mutex_unlock(&j->lock);
    return capvi_err_set(err, CAPV_E_UNAVAILABLE, "jwks_unavailable", "no usable key set (%s)%s%s",
                         capv_jwks_state_name(s), last.code != CAPV_OK ? ": " : "",
                         last.code != CAPV_OK ? last.message : "");
}

capv_jwk_set *capvi_jwks_refetch_for_kid(capv_jwks *j, const capv_jwk_set *seen)
{
    uint64_t seen_gen = seen ? seen->generation : 0;
    capv_jwk_set *s = NULL;
    pthread_mutex_lock(&j->lock);
    if (j->set != NULL && j->generation != seen_gen)
        s = capvi_jwk_set_ref(j->set);
    pthread_mutex_unlock(&j->lock);
    if (s != NULL)
        return s;
    flight_outcome o;
    (void)flight(j, true, false, true, &o, NULL);
    if (o == FLIGHT_LIMITED)
        return NULL;
    pthread_mutex_lock(&j->lock);
    if (j->set != NULL && j->generation != seen_gen)
        s = capvi_jwk_set_ref(j->set);
    pthread_mutex_unlock(&j->lock);
    return s;
}

/* ---- background refresher --------------------------------------------------------------- */

static void *refresher_main(void *arg)
{
    capv_jwks *j = arg;
    pthread_mutex_lock(&j->lock);
    while (!j->stop) {
        int64_t now = capvi_age_ms(j->clock, j->clock_user);
        int64_t target = 0;
        if (j->set != NULL)
            target = j->fetched_at_ms + j->set_ttl_s * 800; /* at 80 % of the TTL */
        if (j->attempted && j->last_error.code != CAPV_OK) {
            /* at least a second apart, also with a refresh_min_interval of 0 */
            int64_t gap = j->min_interval_s > 0 ? j->min_interval_s * 1000 : 1000;
            int64_t retry = j->last_attempt_ms + gap;
            target = retry > target ? retry : target;
        }
        if (now >= target && !j->fetching) {
            pthread_mutex_unlock(&j->lock);
            flight_outcome o;
            (void)flight(j, false, true, false, &o, NULL);
            pthread_mutex_lock(&j->lock);
            continue;
        }
        int64_t wait = target - now;
        if (wait > REFRESHER_POLL_MS || wait <= 0)
            wait = REFRESHER_POLL_MS;
        struct timespec dl;
        capvi_mono_deadline(&dl, wait);
        pthread_cond_timedwait(&j->cond, &j->lock, &dl);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

capv_status capv_jwks_start_refresher(capv_jwks *j, capv_error *err)
{
    if (j == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_status st = CAPV_OK;
    pthread_mutex_lock(&j->lock);
    if (!j->running) {
        j->stop = false;
        int rc = pthread_create(&j->thread, NULL, refresher_main, j);
        if (rc != 0)
            st = capvi_err_set(err, CAPV_E_INTERNAL, NULL, "cannot start the refresher: %s",
                               strerror(rc));
        else
            j->running = true;
    }
    pthread_mutex_unlock(&j->lock);
    return capvi_err_done(err, st);
}

void capv_jwks_stop_refresher(capv_jwks *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->lock);
    if (!j->running) {
        pthread_mutex_unlock(&j->lock);
        return;
    }
    j->stop = true;
    pthread_cond_broadcast(&j->cond);
    pthread_t t = j->thread;
    pthread_mutex_unlock(&j->lock);
    pthread_join(t, NULL);
    pthread_mutex_lock(&j->lock);
    j->running = false;
    pthread_mutex_unlock(&j->lock);
}
