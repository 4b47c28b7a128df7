/* SPDX-License-Identifier: Apache-2.0 */
/* Bearer tokens: RFC 6750 parsing, validation by the library, scope checks, and the exact
 * answers of docs/auth.md: 401 with WWW-Authenticate for bad tokens, 403 insufficient_scope,
 * 503 (never 401) when no key set can be trusted. Tokens are never logged. */
#include "auth.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon.h"
#include "http.h"
#include "http_status.h"
#include "metrics.h"
#include "ratelimit.h"

#define TOKEN_CACHE_ENTRIES 10000

#define FETCH_LOG_INTERVAL_MS 60000

struct auth {
    capv_jwks *jwks;
    capv_jwt_validator *validator;
    /* auth_tick's view of the refresher, touched only by the thread that calls it */
    uint64_t failures_seen; /* fetch failures already accounted for */
    uint64_t failures_unlogged;
    int64_t logged_ms; /* when the last jwks_fetch_failed line was written */
    bool failing;      /* the last fetch we saw failed */
    /* the successful fetches a scrape last showed: a counter never goes down */
    _Atomic uint64_t refresh_ok_shown;
};

bool auth_create(auth **out, const capvd_config *cfg, bool start, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!cfg->auth_enabled)
        return true;
    auth *a = calloc(1, sizeof *a);
    capv_error err = CAPV_ERROR_INIT;
    char algs[256] = "";
    if (a == NULL)
        return false;
    for (int i = 0; i < cfg->auth_allowed_algs.n; i++) {
        size_t n = strlen(algs);
        snprintf(algs + n, sizeof algs - n, "%s%s", i ? "," : "", cfg->auth_allowed_algs.items[i]);
    }
    if (capv_jwks_new(&a->jwks, cfg->auth_jwks_url, &err) != CAPV_OK)
        goto fail;
    capv_jwks_set_allow_insecure_http(a->jwks, cfg->auth_allow_insecure_http);
    if (capv_jwks_set_ttl(a->jwks, cfg->auth_jwks_cache_ttl_seconds, NULL) != CAPV_OK ||
        capv_jwks_set_refresh_min_interval(a->jwks, cfg->auth_refresh_min_interval_seconds, NULL) !=
            CAPV_OK ||
        capv_jwks_set_max_stale(a->jwks, cfg->auth_max_stale_seconds, NULL) != CAPV_OK ||
        capv_jwks_set_fetch_timeout_ms(a->jwks, cfg->auth_fetch_timeout_ms, NULL) != CAPV_OK) {
        snprintf(err.message, sizeof err.message, "invalid JWKS timing settings");
        goto fail;
    }
    if (*cfg->auth_ca_file && capv_jwks_set_ca_file(a->jwks, cfg->auth_ca_file, &err) != CAPV_OK)
        goto fail;
    if (capv_jwt_validator_new(&a->validator, &err) != CAPV_OK ||
        capv_jwt_validator_set_issuer(a->validator, cfg->auth_issuer, &err) != CAPV_OK ||
        capv_jwt_validator_set_algs(a->validator, algs, &err) != CAPV_OK ||
        capv_jwt_validator_set_cache(a->validator, TOKEN_CACHE_ENTRIES, &err) != CAPV_OK)
        goto fail;
    for (int i = 0; i < cfg->auth_audiences.n; i++)
        if (capv_jwt_validator_add_audience(a->validator, cfg->auth_audiences.items[i], &err) !=
            CAPV_OK)
            goto fail;
    if (capv_jwt_validator_set_leeway(a->validator, cfg->auth_leeway_seconds, &err) != CAPV_OK ||
        capv_jwt_validator_set_max_lifetime(a->validator, cfg->auth_max_lifetime_seconds, &err) !=
            CAPV_OK)
        goto fail;
    capv_jwt_validator_set_jwks(a->validator, a->jwks);
    /* A first fetch now, so a reachable IdP makes us ready at once; failure is not fatal:
     * the refresher keeps trying and /readyz says why. */
    if (start) {
        capv_error ferr = CAPV_ERROR_INIT;
        if (capv_jwks_refresh(a->jwks, &ferr) != CAPV_OK) {
            /* not fatal (above) */
        }
        if (capv_jwks_start_refresher(a->jwks, &err) != CAPV_OK)
            goto fail;
    }
    *out = a;
    return true;
fail:
    snprintf(errbuf, errlen, "auth: %s", err.message);
    auth_free(a);
    return false;
}

void auth_free(auth *a)
{
    if (a == NULL)
        return;
    if (a->jwks != NULL)
        capv_jwks_stop_refresher(a->jwks);
    capv_jwt_validator_free(a->validator);
    capv_jwks_free(a->jwks);
    free(a);
}

/* Logs and counts a rejected request (docs/auth.md, "Logs"): who it came from (the client
 * address) and who its token claims to be. A token that did not validate is peeked at
 * without trust, its fields logged as unverified_*; one that validated but lacks a scope
 * (`claims`) gives its verified fields. `detail` is the library's message, which may name
 * the identity provider or a transport error: it goes to the log, never to the client. */
static void auth_failure(req *r, const char *reason, const char *detail, const char *token,
                         const capv_jwt_claims *claims)
{
    metrics_auth_failure(reason);
    capv_log_entry *e = capv_log_begin(r->d->log, CAPV_LOG_WARN, "auth_failure");
    capv_log_str(e, "request_id", r->id);
    capv_log_str(e, "reason", reason);
    capv_log_str(e, "path", r->ri->local_uri_raw ? r->ri->local_uri_raw : "");
    capv_log_str(e, "client", r->client);
    if (claims != NULL) {
        const char *fields[][2] = { { "iss", capv_jwt_claims_issuer(claims) },
                                    { "kid", capv_jwt_claims_kid(claims) },
                                    { "client_id", capv_jwt_claims_client_id(claims) },
                                    { "subject", capv_jwt_claims_subject(claims) } };
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
            if (fields[i][1] != NULL)
                capv_log_str(e, fields[i][0], fields[i][1]);
    } else if (token != NULL) {
        capv_jwt_peek p = CAPV_JWT_PEEK_INIT;
        if (capv_jwt_peek_unverified(&p, (const uint8_t *)token, strlen(token), NULL) == CAPV_OK) {
            const char *fields[][2] = { { "unverified_iss", p.iss },
                                        { "unverified_kid", p.kid },
                                        { "unverified_alg", p.alg },
                                        { "unverified_client_id", p.client_id },
                                        { "unverified_sub", p.sub } };
            for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
                if (fields[i][1][0])
                    capv_log_str(e, fields[i][0], fields[i][1]);
        }
    }
    if (detail != NULL && *detail)
        capv_log_str(e, "detail", detail);
    capv_log_end(e, "request rejected by authentication: %s", reason);
}

/* The token's subject as the daemon records, logs and rate-limits it (r->subject): at most
 * cap - 1 bytes, cut between two characters (a claim is valid UTF-8: the library's JSON
 * reader refuses anything else), each control character as '?'. The registry takes no
 * other text, and a record it refused would turn the verification into an error. */
static void subject_copy(char *out, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n > cap - 1) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) /* s[n] continues a character */
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[n] = '\0';
}

/* A failed or unauthenticated request counts against its client address; when that bucket
 * is empty the answer is 429 instead. */
static bool address_allows(req *r)
{
    int retry = 0;
    if (ratelimit_take(RL_ADDRESS, client_bucket(r), &retry))
        return true;
    send_rate_limited(r, RL_ADDRESS, retry, NULL);
    return false;
}

static void unauthorized(req *r, const char *reason, const char *description)
{
    if (!address_allows(r))
        return;
    char hdr[400];
    if (strcmp(reason, "missing_token") == 0)
        snprintf(hdr, sizeof hdr, "WWW-Authenticate: Bearer realm=\"cap-verifier\"\r\n");
    else
        snprintf(hdr, sizeof hdr,
                 "WWW-Authenticate: Bearer realm=\"cap-verifier\", error=\"invalid_token\", "
                 "error_description=\"%s\"\r\n",
                 reason);
    send_error_with(r, 401, "unauthorized", hdr, "%s", description);
}

bool auth_check(req *r, const char *scope)
{
    auth *a = r->d->auth;
    if (a == NULL)
        return true;
    metrics_auth_request();
    const char *h = header(r, "Authorization");
    if (h == NULL || *h == '\0') {
        auth_failure(r, "missing_token", NULL, NULL, NULL);
        unauthorized(r, "missing_token", "a bearer token is required");
        return false;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        auth_failure(r, "malformed", NULL, NULL, NULL);
        unauthorized(r, "malformed", "the Authorization header is not a Bearer token");
        return false;
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    capv_jwt_claims *claims = NULL;
    const char *reason = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st =
        capv_jwt_validate(&claims, &reason, a->validator, (const uint8_t *)tok, strlen(tok), &err);
    if (st != CAPV_OK) {
        if (reason == NULL)
            reason = capv_jwt_reason_of(st);
        auth_failure(r, reason, err.message, tok, NULL);
        capv_status_class cls = capv_status_class_of(st);
        if (cls == CAPV_CLASS_UNAVAILABLE) {
            /* we cannot tell whether the token is good: never answer 401 for that. It counts
             * against its address as a failed token does: tokens sent while the key set is
             * unusable must not escape the limit (each may wait for a key-set fetch) */
            if (address_allows(r))
                send_error(r, 503, "auth_unavailable",
                           "token validation is temporarily unavailable");
        } else if (cls == CAPV_CLASS_USAGE || cls == CAPV_CLASS_INTERNAL) {
            /* nor for our own fault (out of memory, the crypto library): a 500 whose detail
             * only the log has */
            answer_failure(r, st, &err);
        } else {
            unauthorized(r, reason, err.message[0] ? err.message : reason);
        }
        return false;
    }
    const char *sub = capv_jwt_claims_subject(claims);
    if (sub == NULL)
        sub = capv_jwt_claims_client_id(claims);
    subject_copy(r->subject, sizeof r->subject, sub ? sub : "");
    bool ok = true;
    int retry = 0;
    if (scope != NULL && capv_jwt_claims_require_scopes(claims, scope, &err) != CAPV_OK) {
        auth_failure(r, "insufficient_scope", NULL, NULL, claims);
        if (!address_allows(r)) {
            capv_jwt_claims_free(claims);
            return false;
        }
        char hdr[300];
        snprintf(hdr, sizeof hdr,
                 "WWW-Authenticate: Bearer realm=\"cap-verifier\", error=\"insufficient_scope\", "
                 "scope=\"%s\"\r\n",
                 scope);
        send_error_with(r, 403, "forbidden", hdr, "scope %s is required", scope);
        ok = false;
    } else if (r->route != ROUTE_METRICS && /* a probe: never limited */
               !ratelimit_take(RL_SUBJECT, r->subject, &retry)) {
        send_rate_limited(r, RL_SUBJECT, retry, NULL);
        ok = false;
    }
    capv_jwt_claims_free(claims);
    return ok;
}

/* The age of the key set on the wall clock (the library's own ages are monotonic): after a
 * step back, 0 rather than negative. */
static int64_t set_age_seconds(auth *a, int64_t now_ms)
{
    int64_t last = capv_jwks_last_success_ms(a->jwks);
    return last <= 0 ? -1 : now_ms > last ? (now_ms - last) / 1000 : 0;
}

void auth_ready(auth *a, auth_readiness *out)
{
    memset(out, 0, sizeof *out);
    out->age_seconds = -1;
    if (a == NULL) {
        out->ok = true;
        out->state = "disabled";
        return;
    }
    capv_jwks_state s = capv_jwks_get_state(a->jwks);
    out->ok = s == CAPV_JWKS_FRESH || s == CAPV_JWKS_STALE;
    out->state = capv_jwks_state_name(s);
    out->age_seconds = set_age_seconds(a, capv_clock_system(NULL));
    capv_error err = CAPV_ERROR_INIT;
    capv_jwks_last_error(&err, a->jwks);
    if (err.code != CAPV_OK)
        snprintf(out->last_error, sizeof out->last_error, "%s",
                 err.message[0] ? err.message : capv_status_name(err.code));
}

void auth_reload(auth *a, capv_logger *log)
{
    if (a == NULL)
        return;
    capv_error err = CAPV_ERROR_INIT;
    if (capv_jwks_refresh(a->jwks, &err) != CAPV_OK) {
        /* the current set stays; the refresher retries and /readyz says why */
        capv_log_entry *e = capv_log_begin(log, CAPV_LOG_ERROR, "jwks_reload");
        capv_log_str(e, "state", capv_jwks_state_name(capv_jwks_get_state(a->jwks)));
        capv_log_str(e, "error", err.message);
        capv_log_end(e, "key set not reloaded, the current one stays: %s", err.message);
    }
}

void auth_tick(auth *a, capv_logger *log, int64_t now_ms)
{
    if (a == NULL)
        return;
    uint64_t failures = capv_jwks_counter_get(a->jwks, CAPV_JWKS_FETCH_FAILURES);
    capv_error err = CAPV_ERROR_INIT;
    capv_jwks_last_error(&err, a->jwks);
    capv_jwks_state s = capv_jwks_get_state(a->jwks);
    if (failures > a->failures_seen) {
        a->failures_unlogged += failures - a->failures_seen;
        a->failures_seen = failures;
        bool first = !a->failing;
        a->failing = err.code != CAPV_OK;
        if (a->failing && (first || now_ms - a->logged_ms >= FETCH_LOG_INTERVAL_MS)) {
            bool usable = s == CAPV_JWKS_FRESH || s == CAPV_JWKS_STALE;
            capv_log_entry *e =
                capv_log_begin(log, usable ? CAPV_LOG_WARN : CAPV_LOG_ERROR, "jwks_fetch_failed");
            capv_log_int(e, "failures", (int64_t)a->failures_unlogged);
            capv_log_str(e, "state", capv_jwks_state_name(s));
            capv_log_int(e, "key_set_age_seconds", set_age_seconds(a, now_ms));
            capv_log_str(e, "error", err.message);
            capv_log_end(e, "key set fetch failed (%llu since the last line): %s",
                         (unsigned long long)a->failures_unlogged, err.message);
            a->failures_unlogged = 0;
            a->logged_ms = now_ms;
        }
        return;
    }
    if (a->failing && err.code == CAPV_OK) {
        a->failing = false;
        capv_log_entry *e = capv_log_begin(log, CAPV_LOG_INFO, "jwks_fetch_recovered");
        capv_log_int(e, "failures", (int64_t)a->failures_unlogged);
        capv_log_str(e, "state", capv_jwks_state_name(s));
        capv_log_end(e, "key set fetched again after failures");
        a->failures_unlogged = 0;
    }
}

void auth_fill_metrics(auth *a, metrics_sources *src)
{
    if (a == NULL) {
        src->jwks_keys = -1;
        return;
    }
    capv_jwk_set *set = capv_jwks_snapshot(a->jwks);
    src->jwks_keys = set ? (int64_t)capv_jwk_set_count(set) : 0;
    src->jwks_state = capv_jwks_state_name(capv_jwks_get_state(a->jwks));
    capv_jwk_set_free(set);
    int64_t last = capv_jwks_last_success_ms(a->jwks);
    int64_t now = capv_clock_system(NULL);
    src->jwks_age_seconds = last > 0 && now > last ? (double)(now - last) / 1000.0 : 0.0;
    /* failures first: a fetch is counted before its failure, so every failure read has its
     * fetch in the later read and the difference never wraps; one that fails between the
     * reads shows as a success for a moment, which the next scrape must not take back */
    uint64_t failures = capv_jwks_counter_get(a->jwks, CAPV_JWKS_FETCH_FAILURES);
    uint64_t fetches = capv_jwks_counter_get(a->jwks, CAPV_JWKS_FETCHES);
    uint64_t ok = fetches >= failures ? fetches - failures : 0;
    uint64_t shown = atomic_load(&a->refresh_ok_shown);
    while (ok > shown && !atomic_compare_exchange_weak(&a->refresh_ok_shown, &shown, ok))
        ;
    src->jwks_refresh_ok = ok > shown ? ok : shown;
    src->jwks_refresh_error = failures;
    src->token = (cache_view){
        .enabled = true,
        .hits = capv_jwt_validator_cache_counter(a->validator, CAPV_CACHE_HITS),
        .misses = capv_jwt_validator_cache_counter(a->validator, CAPV_CACHE_MISSES),
        .evict_size = capv_jwt_validator_cache_counter(a->validator, CAPV_CACHE_EVICTIONS_SIZE),
        .evict_ttl = capv_jwt_validator_cache_counter(a->validator, CAPV_CACHE_EVICTIONS_TTL),
        .evict_invalidated =
            capv_jwt_validator_cache_counter(a->validator, CAPV_CACHE_EVICTIONS_INVALIDATED),
        .entries = capv_jwt_validator_cache_counter(a->validator, CAPV_CACHE_ENTRIES),
    };
}
