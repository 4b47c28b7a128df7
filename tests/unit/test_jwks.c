/* SPDX-License-Identifier: Apache-2.0 */
/* The JWKS source (docs/auth.md) with a fake fetcher and a fake clock: FRESH -> STALE ->
 * EXPIRED, unavailable (never "invalid token") after TTL + max_stale, unknown-kid floods,
 * rotation, bad responses never replacing a good set, Cache-Control clamping, the token cache
 * across a key-set change, the background refresher, file sources, and the libcurl fetcher
 * against a loopback HTTP server. */
#include <capverify.h>
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "jwt_int.h"
#include "suites.h"
#include "testutil.h"

#define NOW0_MS INT64_C(1750000000000)

typedef struct fake {
    pthread_mutex_t m;
    int64_t now_ms;
    char *body; /* what the endpoint serves (NULL = down) */
    size_t len; /* body length (may exceed strlen for binary) */
    int64_t max_age;
    int calls;
    int delay_ms; /* simulated latency */
} fake;

static fake F;
static char *full_jwks;    /* tests/vectors/jwt_attacks_jwks.json */
static char *partial_jwks; /* the same without kid rsa-1 */
static cJSON *attacks;

static int64_t fake_clock(void *user)
{
    fake *f = user;
    pthread_mutex_lock(&f->m);
    int64_t t = f->now_ms;
    pthread_mutex_unlock(&f->m);
    return t;
}

static void advance(int64_t ms)
{
    pthread_mutex_lock(&F.m);
    F.now_ms += ms;
    pthread_mutex_unlock(&F.m);
}

static void serve(const char *body, size_t len)
{
    pthread_mutex_lock(&F.m);
    free(F.body);
    F.body = NULL;
    if (body != NULL) {
        F.body = malloc(len + 1);
        ck_assert(F.body != NULL);
        memcpy(F.body, body, len);
        F.body[len] = '\0';
    }
    F.len = len;
    pthread_mutex_unlock(&F.m);
}

static int calls(void)
{
    pthread_mutex_lock(&F.m);
    int c = F.calls;
    pthread_mutex_unlock(&F.m);
    return c;
}

static capv_status fake_fetch(void *user, const char *url, uint8_t **body, size_t *len,
                              int64_t *max_age, capv_error *err)
{
    fake *f = user;
    (void)url;
    pthread_mutex_lock(&f->m);
    f->calls++;
    int delay = f->delay_ms;
    pthread_mutex_unlock(&f->m);
    if (delay > 0) {
        struct timespec ts = { delay / 1000, (long)(delay % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&f->m);
    capv_status st = CAPV_OK;
    if (f->body == NULL) {
        st = CAPV_E_NETWORK;
        if (err) {
            err->code = st;
            snprintf(err->message, sizeof err->message, "connection refused (fake)");
        }
    } else {
        *body = malloc(f->len ? f->len : 1);
        memcpy(*body, f->body, f->len);
        *len = f->len;
        *max_age = f->max_age;
    }
    pthread_mutex_unlock(&f->m);
    return st;
}

static const char *token(const char *name)
{
    for (const cJSON *c = capvi_json_get(attacks, "cases")->child; c; c = c->next)
        if (strcmp(cJSON_GetObjectItem(c, "name")->valuestring, name) == 0)
            return cJSON_GetObjectItem(c, "token")->valuestring;
    ck_abort_msg("no case %s", name);
    return NULL;
}

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
    pthread_mutex_init(&F.m, NULL);
    F.now_ms = NOW0_MS;
    F.calls = 0;
    F.delay_ms = 0;
    F.max_age = -1;
    size_t len;
    full_jwks = (char *)tu_read(tu_vectors_dir(), "jwt_attacks_jwks.json", &len);
    cJSON *doc = NULL;
    ck_assert_int_eq(capvi_json_parse(&doc, (const uint8_t *)full_jwks, len, NULL), CAPV_OK);
    cJSON *keys = cJSON_GetObjectItem(doc, "keys");
    for (int i = cJSON_GetArraySize(keys) - 1; i >= 0; i--)
        if (strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(keys, i), "kid")->valuestring, "rsa-1") ==
            0)
            cJSON_DeleteItemFromArray(keys, i);
    partial_jwks = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    uint8_t *a = tu_read(tu_vectors_dir(), "jwt_attacks.json", &len);
    ck_assert_int_eq(capvi_json_parse(&attacks, a, len, NULL), CAPV_OK);
    free(a);
    serve(full_jwks, strlen(full_jwks));
}

static void teardown(void)
{
    tu_wall_step(0); /* after a failed test that stepped it (CK_FORK=no runs go on) */
    serve(NULL, 0);
    free(full_jwks);
    cJSON_free(partial_jwks);
    cJSON_Delete(attacks);
    pthread_mutex_destroy(&F.m);
    capv_global_shutdown();
}

static capv_jwks *new_jwks(void)
{
    capv_jwks *j = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_jwks_new(&j, "https://idp.example.test/jwks", &err) == CAPV_OK, "%s",
                  err.message);
    capv_jwks_set_fetcher(j, fake_fetch, &F);
    capv_jwks_set_clock(j, fake_clock, &F);
    ck_assert_int_eq(capv_jwks_set_ttl(j, 600, NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwks_set_max_stale(j, 3600, NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwks_set_refresh_min_interval(j, 30, NULL), CAPV_OK);
    return j;
}

/* The attack catalogue's configuration, with the clock of the fake. Its "now" is NOW0. */
static capv_jwt_validator *new_validator(capv_jwks *j)
{
    capv_jwt_validator *v = NULL;
    ck_assert_int_eq(capv_jwt_validator_new(&v, NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwt_validator_set_issuer(v, "https://idp.example.test", NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwt_validator_add_audience(v, "capv-api", NULL), CAPV_OK);
    /* tokens expire NOW0 + 600 s; these tests run for hours of fake time */
    ck_assert_int_eq(capv_jwt_validator_set_leeway(v, 86400, NULL), CAPV_OK);
    capv_jwt_validator_set_clock(v, fake_clock, &F);
    capv_jwt_validator_set_jwks(v, j);
    return v;
}

static capv_status check(capv_jwt_validator *v, const char *name, const char **reason)
{
    const char *t = token(name);
    capv_jwt_claims *c = NULL;
    capv_status st = capv_jwt_validate(&c, reason, v, (const uint8_t *)t, strlen(t), NULL);
    ck_assert((st == CAPV_OK) == (c != NULL));
    capv_jwt_claims_free(c);
    return st;
}

START_TEST(states_fresh_stale_expired)
{
    capv_jwks *j = new_jwks();
    capv_jwt_validator *v = new_validator(j);
    const char *reason = NULL;
    ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_EMPTY);
    ck_assert_int_eq(check(v, "control_RS256", &reason), CAPV_OK);
    ck_assert_int_eq(calls(), 1);
    ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_FRESH);
    ck_assert_uint_eq(capv_jwks_generation(j), 1);
    ck_assert_int_eq(capv_jwks_last_success_ms(j), NOW0_MS);

    /* the endpoint goes down */
    serve(NULL, 0);
    advance(599 * 1000);
    ck_assert_int_eq(check(v, "control_ES256", &reason), CAPV_OK);
    ck_assert_int_eq(calls(), 1); /* fresh: no fetch */
    advance(1000);
    ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_STALE);
    ck_assert_int_eq(check(v, "control_EdDSA", &reason), CAPV_OK); /* served stale */
    ck_assert_int_eq(calls(), 2);                                  /* one refresh attempt */
    ck_assert_int_eq(check(v, "control_PS256", &reason), CAPV_OK);
    ck_assert_int_eq(calls(), 2); /* rate-limited */
    capv_error last = CAPV_ERROR_INIT;
    capv_jwks_last_error(&last, j);
    ck_assert_int_eq(last.code, CAPV_E_NETWORK);
    /* keep asking every minute until TTL + max_stale: always served, ~1 fetch per minute */
    int before = calls();
    for (int m = 1; m < 60; m++) {
        advance(60 * 1000);
        ck_assert_int_eq(check(v, "control_RS256", &reason), CAPV_OK);
    }
    ck_assert_int_eq(calls() - before, 59);
    /* now 600 + 3599 s after the fetch: still stale */
    advance(59 * 1000);
    ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_STALE);
    ck_assert_int_eq(check(v, "control_RS256", &reason), CAPV_OK);
    advance(1000);
    ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_EXPIRED);
    /* expired: unavailable, never a rejection of the token */
    advance(30 * 1000);
    capv_error err = CAPV_ERROR_INIT;
    const char *t = token("control_RS256");
    capv_jwt_claims *c = NULL;
    capv_status st = capv_jwt_validate(&c, &reason, v, (const uint8_t *)t, strlen(t), &err);
    ck_assert_int_eq(st, CAPV_E_UNAVAILABLE);
    ck_assert_int_eq(capv_status_class_of(st), CAPV_CLASS_UNAVAILABLE);
    ck_assert_str_eq(reason, "jwks_unavailable");
    ck_assert_ptr_nonnull(strstr(err.message, "expired"));
    /* even a token that would be rejected is "unavailable" once keys are needed */
    ck_assert_int_eq(check(v, "signed_by_attacker", &reason), CAPV_E_UNAVAILABLE);
    /* malformed tokens are still rejected without keys */
    ck_assert_int_eq(check(v, "alg_none", &reason), CAPV_E_ALG_NOT_ALLOWED);
    /* the endpoint comes back: the next request after the interval recovers */
    serve(full_jwks, strlen(full_jwks));
    advance(30 * 1000);
    ck_assert_int_eq(check(v, "control_RS256", &reason), CAPV_OK);
    ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_FRESH);
    ck_assert_uint_eq(capv_jwks_generation(j), 1); /* same content: same generation */
    capv_jwt_validator_free(v);
    capv_jwks_free(j);
}
END_TEST

START_TEST(empty_and_unreachable_is_unavailable)
{
    serve(NULL, 0);
    capv_jwks *j = new_jwks();
    capv_jwt_validator *v = new_validator(j);
    const char *reason = NULL;
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(check(v, "control_RS256", &reason), CAPV_E_UNAVAILABLE);
        advance(10);
    }
    ck_assert_str_eq(reason, "jwks_unavailable");
    ck_assert_int_eq(calls(), 1); /* 1000 requests in 10 s: one fetch */
    ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_EMPTY);
    ck_assert_ptr_null(capv_jwks_snapshot(j));
    capv_jwt_validator_free(v);
    capv_jwks_free(j);
}
END_TEST

START_TEST(unknown_kid_flood)
{
    capv_jwks *j = new_jwks();
    capv_jwt_validator *v = new_validator(j);
    const char *reason = NULL;
    ck_assert_int_eq(check(v, "control_ES256", &reason), CAPV_OK);
    ck_assert_int_eq(calls(), 1);
    /* 1,000 requests per second with unknown kids for 60 s of fake time */
    for (int i = 0; i < 60000; i++) {
        ck_assert_int_eq(check(v, i % 2 ? "kid_path_traversal" : "kid_sql_injection", &reason),
                         CAPV_E_UNTRUSTED);
        advance(1);
    }
    ck_assert_str_eq(reason, "unknown_kid");
    /* at most one fetch per refresh_min_interval (30 s): at t=0 and t=30 */
    ck_assert_int_le(calls() - 1, 2);
    ck_assert_int_ge(calls() - 1, 1);
    ck_assert_uint_eq(capv_jwks_counter_get(j, CAPV_JWKS_KID_REFETCHES), (uint64_t)(calls() - 1));
    ck_assert_uint_gt(capv_jwks_counter_get(j, CAPV_JWKS_RATE_LIMITED), 50000);
    capv_jwt_validator_free(v);
    capv_jwks_free(j);
}
END_TEST

typedef struct flood_arg {
    capv_jwt_validator *v;
    int rejected;
} flood_arg;

static void *flood_thread(void *p)
{
    flood_arg *a = p;
    for (int i = 0; i < 200; i++) {
        const char *t = token("kid_url");
        capv_jwt_claims *c = NULL;
        if (capv_jwt_validate(&c, NULL, a->v, (const uint8_t *)t, strlen(t), NULL) ==
            CAPV_E_UNTRUSTED)
            a->rejected++;
        capv_jwt_claims_free(c);
    }
    return NULL;
}

START_TEST(unknown_kid_flood_threads_single_flight)
{
    capv_jwks *j = new_jwks();
    capv_jwt_validator *v = new_validator(j);
    ck_assert_int_eq(capv_jwks_refresh(j, NULL), CAPV_OK);
    advance(31 * 1000);
    F.delay_ms = 100; /* a slow endpoint: all threads arrive while the fetch is in flight */
    pthread_t th[8];
    flood_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (flood_arg){ v, 0 };
        ck_assert_int_eq(pthread_create(&th[i], NULL, flood_thread, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(args[i].rejected, 200);
    }
    ck_assert_int_eq(calls(), 2); /* the initial refresh + exactly one refetch */
    capv_jwt_validator_free(v);
    capv_jwks_free(j);
}
END_TEST

START_TEST(rotation_new_kid_after_one_refetch)
{
    serve(partial_jwks, strlen(partial_jwks));
    capv_jwks *j = new_jwks();
    capv_jwt_validator *v = new_validator(j);
    ck_assert_int_eq(capv_jwt_validator_set_cache(v, 64, NULL), CAPV_OK);
    const char *reason = NULL;
    ck_assert_int_eq(check(v, "control_ES256", &reason), CAPV_OK);
    ck_assert_int_eq(check(v, "control_ES256", &reason), CAPV_OK);
    ck_assert_uint_eq(capv_jwt_validator_cache_counter(v, CAPV_CACHE_HITS), 1);
    ck_assert_uint_eq(capv_jwks_generation(j), 1);
    /* the IdP rotates: rsa-1 appears */
    serve(full_jwks, strlen(full_jwks));
    advance(31 * 1000);
    ck_assert_int_eq(check(v, "control_RS256", &reason), CAPV_OK);
    ck_assert_int_eq(calls(), 2);
    ck_assert_uint_eq(capv_jwks_generation(j), 2);
    ck_assert_uint_eq(capv_jwks_counter_get(j, CAPV_JWKS_KID_REFETCHES), 1);
    /* the key-set change invalidates cached tokens: verified again, then cached again */
    uint64_t hits = capv_jwt_validator_cache_counter(v, CAPV_CACHE_HITS);
    ck_assert_int_eq(check(v, "control_ES256", &reason), CAPV_OK);
    ck_assert_uint_eq(capv_jwt_validator_cache_counter(v, CAPV_CACHE_HITS), hits);
    ck_assert_int_eq(check(v, "control_ES256", &reason), CAPV_OK);
    ck_assert_uint_eq(capv_jwt_validator_cache_counter(v, CAPV_CACHE_HITS), hits + 1);
    /* the old key disappears: tokens signed with it are refused after the next refresh */
    serve(partial_jwks, strlen(partial_jwks));
    ck_assert_int_eq(capv_jwks_refresh(j, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_jwks_generation(j), 3);
    ck_assert_int_eq(check(v, "control_RS256", &reason), CAPV_E_UNTRUSTED);
    ck_assert_str_eq(reason, "unknown_kid");
    capv_jwt_validator_free(v);
    capv_jwks_free(j);
}
END_TEST

START_TEST(bad_responses_never_replace_good_set)
{
    capv_jwks *j = new_jwks();
    capv_jwt_validator *v = new_validator(j);
    ck_assert_int_eq(capv_jwks_refresh(j, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_jwks_generation(j), 1);
    char *many = malloc(101 * 3 + 16);
    strcpy(many, "{\"keys\":[");
    for (int i = 0; i < 101; i++)
        strcat(many, i ? ",{}" : "{}");
    strcat(many, "]}");
    size_t big_len = CAPV_JWKS_MAX_BYTES + 10;
    char *big = malloc(big_len);
    memset(big, ' ', big_len);
    memcpy(big, "{\"keys\":[]}", 11);
    static const struct {
        const char *body;
        capv_status want;
    } bad[] = {
        { "not json", CAPV_E_JSON_SYNTAX },
        { "", CAPV_E_JSON_SYNTAX },
        { "{}", CAPV_E_MISSING },
        { "{\"keys\":[]}", CAPV_E_MALFORMED },
        { "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}", CAPV_E_MALFORMED },
        { "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}", CAPV_E_MALFORMED },
        { "{\"keys\":[],\"keys\":[]}", CAPV_E_JSON_DUPLICATE_KEY },
        { "<html>502 Bad Gateway</html>", CAPV_E_JSON_SYNTAX },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        serve(bad[i].body, strlen(bad[i].body));
        capv_error err = CAPV_ERROR_INIT;
        ck_assert_msg(capv_jwks_refresh(j, &err) == bad[i].want, "%s: %s", bad[i].body,
                      err.message);
    }
    serve(many, strlen(many));
    ck_assert_int_eq(capv_jwks_refresh(j, NULL), CAPV_E_LIMIT);
    serve(big, big_len);
    ck_assert_int_eq(capv_jwks_refresh(j, NULL), CAPV_E_LIMIT);
    free(many);
    free(big);
    ck_assert_uint_eq(capv_jwks_generation(j), 1);
    ck_assert_uint_eq(capv_jwks_counter_get(j, CAPV_JWKS_FETCH_FAILURES), 10);
    capv_jwk_set *s = capv_jwks_snapshot(j);
    ck_assert_uint_eq(capv_jwk_set_count(s), 4);
    capv_jwk_set_free(s);
    const char *reason = NULL;
    ck_assert_int_eq(check(v, "control_RS256", &reason), CAPV_OK);
    /* bad responses do not extend the set's life either */
    advance(601 * 1000);
    ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_STALE);
    capv_jwt_validator_free(v);
    capv_jwks_free(j);
}
END_TEST

START_TEST(cache_control_clamped)
{
    static const struct {
        int64_t max_age, want;
    } cases[] = { { -1, 600 }, { 0, 60 }, { 10, 60 }, { 300, 300 }, { 100000, 3600 } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        capv_jwks *j = new_jwks();
        F.max_age = cases[i].max_age;
        ck_assert_int_eq(capv_jwks_refresh(j, NULL), CAPV_OK);
        ck_assert_int_eq(capv_jwks_current_ttl(j), cases[i].want);
        advance((cases[i].want - 1) * 1000);
        ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_FRESH);
        advance(1000);
        ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_STALE);
        capv_jwks_free(j);
    }
}
END_TEST

START_TEST(background_refresher)
{
    capv_jwks *j = new_jwks();
    ck_assert_int_eq(capv_jwks_start_refresher(j, NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwks_start_refresher(j, NULL), CAPV_OK); /* idempotent */
    for (int i = 0; i < 300 && capv_jwks_get_state(j) != CAPV_JWKS_FRESH; i++)
        usleep(10000);
    ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_FRESH);
    ck_assert_int_eq(calls(), 1);
    int64_t first = capv_jwks_last_success_ms(j);
    /* at 80 % of the TTL the refresher fetches again (it polls at least every second) */
    advance(479 * 1000);
    usleep(1300 * 1000);
    ck_assert_int_eq(calls(), 1);
    advance(2 * 1000);
    /* until the refresher has installed what it fetched: the server counting the request is
     * not enough, the set is dated when it is installed (a clock advanced before that would
     * make it fresh again) */
    for (int i = 0; i < 1000 && capv_jwks_last_success_ms(j) == first; i++)
        usleep(10000);
    ck_assert_int_eq(calls(), 2);
    ck_assert_int_gt(capv_jwks_last_success_ms(j), first);
    /* with a refresher, a stale set is served without the request fetching */
    serve(NULL, 0);
    advance(700 * 1000);
    capv_jwt_validator *v = new_validator(j);
    const char *reason = NULL;
    int before = calls();
    ck_assert_int_eq(check(v, "control_RS256", &reason), CAPV_OK);
    ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_STALE);
    for (int i = 0; i < 1000 && calls() == before; i++) /* 10 s: valgrind is slow */
        usleep(10000);
    ck_assert_int_gt(calls(), before); /* the refresher tried */
    capv_jwks_stop_refresher(j);
    capv_jwks_stop_refresher(j);
    capv_jwt_validator_free(v);
    capv_jwks_free(j);
}
END_TEST

/* A refresh_min_interval of 0 lets every unknown kid refetch, but the refresher retries a
 * failing source a second apart, not in a loop. */
START_TEST(refresher_retries_a_second_apart)
{
    capv_jwks *j = new_jwks();
    ck_assert_int_eq(capv_jwks_set_refresh_min_interval(j, 0, NULL), CAPV_OK);
    serve(NULL, 0);
    ck_assert_int_eq(capv_jwks_start_refresher(j, NULL), CAPV_OK);
    for (int i = 0; i < 300 && calls() == 0; i++)
        usleep(10000);
    usleep(300 * 1000);
    ck_assert_int_eq(calls(), 1); /* the fake clock stands still */
    advance(1000);
    for (int i = 0; i < 300 && calls() == 1; i++) /* the refresher polls every second */
        usleep(10000);
    ck_assert_int_eq(calls(), 2);
    capv_jwks_stop_refresher(j);
    capv_jwks_free(j);
}
END_TEST

/* With the default clock the set's age is measured on the monotonic clock: a step of the
 * wall clock neither expires the set nor keeps it fresh; the time of the last success is
 * wall time. */
START_TEST(ages_ignore_wall_clock_steps)
{
    capv_jwks *j = NULL;
    ck_assert_int_eq(capv_jwks_new(&j, "https://idp.example.test/jwks", NULL), CAPV_OK);
    capv_jwks_set_fetcher(j, fake_fetch, &F);
    ck_assert_int_eq(capv_jwks_set_ttl(j, 600, NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwks_set_max_stale(j, 600, NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwks_refresh(j, NULL), CAPV_OK);
    int64_t fetched = capv_jwks_last_success_ms(j);
    ck_assert_int_lt(llabs(fetched - capv_clock_system(NULL)), 5000);
    tu_wall_step(INT64_C(3) * 3600 * 1000);
    ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_FRESH);
    tu_wall_step(-INT64_C(3) * 3600 * 1000);
    ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_FRESH);
    tu_wall_step(0);
    ck_assert_int_eq(capv_jwks_last_success_ms(j), fetched);
    capv_jwks_free(j);
}
END_TEST

START_TEST(file_source)
{
    char path[] = "/tmp/capv-jwks-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, full_jwks, strlen(full_jwks)), (ssize_t)strlen(full_jwks));
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "file://%s", path);
    const char *locations[] = { path, url };
    for (int i = 0; i < 2; i++) {
        capv_jwks *j = NULL;
        ck_assert_int_eq(capv_jwks_new(&j, locations[i], NULL), CAPV_OK);
        ck_assert_int_eq(capv_jwks_refresh(j, NULL), CAPV_OK);
        capv_jwk_set *s = capv_jwks_snapshot(j);
        ck_assert_uint_eq(capv_jwk_set_count(s), 4);
        ck_assert_uint_eq(capv_jwk_set_generation(s), 1);
        capv_jwk_set_free(s);
        capv_jwks_free(j);
    }
    capv_jwks *j = NULL;
    ck_assert_int_eq(capv_jwks_new(&j, path, NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwks_refresh(j, NULL), CAPV_OK);
    FILE *f = fopen(path, "w");
    fputs("{\"keys\": [", f);
    fclose(f);
    ck_assert_int_eq(capv_jwks_refresh(j, NULL), CAPV_E_JSON_SYNTAX);
    ck_assert_uint_eq(capv_jwks_generation(j), 1);
    unlink(path);
    ck_assert_int_eq(capv_jwks_refresh(j, NULL), CAPV_E_NOT_FOUND);
    capv_jwks_free(j);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_jwks_new(&j, "file://relative", &err), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_jwks_new(&j, "ftp://x/jwks", &err), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_jwks_new(&j, "http://idp.example.com/jwks", &err), CAPV_E_INVALID_ARG);
    /* a name that only begins like a loopback address is another host */
    ck_assert_int_eq(capv_jwks_new(&j, "http://127.0.0.1.idp.example/jwks", &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_jwks_new(&j, "", &err), CAPV_E_INVALID_ARG);
    ck_assert_ptr_null(j);
}
END_TEST

/* ---- libcurl fetcher against a loopback HTTP server ------------------------------------- */

typedef struct http_server {
    int fd;
    int port;
    pthread_t thread;
    const char *head; /* status line + headers, without the blank line */
    size_t body_len;
    char body_byte; /* body is body_len copies, or `body` when set */
    const char *body;
    int stall_ms; /* wait before answering */
    int served;
} http_server;

static void *http_main(void *p)
{
    http_server *s = p;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char req[4096];
        size_t got = 0;
        while (got < sizeof req - 1) {
            ssize_t n = read(c, req + got, sizeof req - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        if (s->stall_ms > 0)
            usleep((useconds_t)s->stall_ms * 1000);
        char head[512];
        int hl =
            snprintf(head, sizeof head, "%s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     s->head, s->body_len);
        if (send(c, head, (size_t)hl, MSG_NOSIGNAL) < 0) {
            close(c);
            continue;
        }
        if (s->body) {
            if (send(c, s->body, s->body_len, MSG_NOSIGNAL) < 0) {
                close(c);
                continue;
            }
        } else {
            char chunk[8192];
            memset(chunk, s->body_byte, sizeof chunk);
            for (size_t off = 0; off < s->body_len;) {
                size_t n = s->body_len - off < sizeof chunk ? s->body_len - off : sizeof chunk;
                ssize_t w = send(c, chunk, n, MSG_NOSIGNAL);
                if (w <= 0)
                    break;
                off += (size_t)w;
            }
        }
        s->served++;
        close(c);
    }
}

static void http_start(http_server *s)
{
    s->fd = tu_listen_loopback(&s->port);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, http_main, s), 0);
}

static void http_stop(http_server *s)
{
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->thread, NULL);
}

static capv_jwks *http_jwks(const http_server *s, bool allow)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/jwks", s->port);
    capv_jwks *j = NULL;
    ck_assert_int_eq(capv_jwks_new(&j, url, NULL), CAPV_OK);
    capv_jwks_set_allow_insecure_http(j, allow);
    ck_assert_int_eq(capv_jwks_set_fetch_timeout_ms(j, 700, NULL), CAPV_OK);
    return j;
}

START_TEST(curl_fetcher)
{
    http_server s = { .head = "HTTP/1.1 200 OK\r\nCache-Control: public, max-age=120" };
    s.body = full_jwks;
    s.body_len = strlen(full_jwks);
    http_start(&s);
    capv_error err = CAPV_ERROR_INIT;

    /* plain http needs the explicit opt-in */
    capv_jwks *j = http_jwks(&s, false);
    ck_assert_int_eq(capv_jwks_refresh(j, &err), CAPV_E_UNSUPPORTED);
    ck_assert_int_eq(s.served, 0);
    capv_jwks_free(j);

    j = http_jwks(&s, true);
    ck_assert_msg(capv_jwks_refresh(j, &err) == CAPV_OK, "%s", err.message);
    ck_assert_int_eq(capv_jwks_current_ttl(j), 120);
    ck_assert_int_eq(capv_jwks_get_state(j), CAPV_JWKS_FRESH);

    /* HTTP errors */
    s.head = "HTTP/1.1 503 Service Unavailable";
    ck_assert_int_eq(capv_jwks_refresh(j, &err), CAPV_E_NETWORK);
    ck_assert_ptr_nonnull(strstr(err.message, "503"));
    /* the message names the location without its user info and query (credentials) */
    char cred[160];
    snprintf(cred, sizeof cred, "http://svc:S3cretPw@127.0.0.1:%d/jwks?access_token=T0ken", s.port);
    capv_jwks *c = NULL;
    ck_assert_int_eq(capv_jwks_new(&c, cred, NULL), CAPV_OK);
    capv_jwks_set_allow_insecure_http(c, true);
    ck_assert_int_eq(capv_jwks_refresh(c, &err), CAPV_E_NETWORK);
    char want[96];
    snprintf(want, sizeof want, "fetching http://127.0.0.1:%d/jwks: HTTP status 503", s.port);
    ck_assert_str_eq(err.message, want);
    capv_jwks_free(c);
    ck_assert_int_eq(capv_jwks_new(&c, "htps://svc:S3cretPw@idp.example/jwks", &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "S3cretPw") == NULL, "%s", err.message);
    ck_assert_int_eq(capv_jwks_new(&c, "https://svc:S3cretPw@[bad/jwks", &err), CAPV_E_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "S3cretPw") == NULL, "%s", err.message);

    /* more than 1 MiB: cut off */
    s.head = "HTTP/1.1 200 OK";
    s.body = NULL;
    s.body_byte = ' ';
    s.body_len = 2u * 1024u * 1024u;
    ck_assert_int_eq(capv_jwks_refresh(j, &err), CAPV_E_LIMIT);

    /* a server that does not answer in time */
    s.body = full_jwks;
    s.body_len = strlen(full_jwks);
    s.stall_ms = 1500;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(capv_jwks_refresh(j, &err), CAPV_E_NETWORK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(took < 1.4, "fetch took %.2f s with a 0.7 s timeout", took);
    ck_assert_uint_eq(capv_jwks_generation(j), 1); /* none of that replaced the set */
    capv_jwks_free(j);

    /* https to a port where nothing speaks TLS */
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/jwks", s.port);
    ck_assert_int_eq(capv_jwks_new(&j, url, NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwks_set_fetch_timeout_ms(j, 2500, NULL), CAPV_OK);
    s.stall_ms = 0;
    ck_assert_int_eq(capv_jwks_refresh(j, &err), CAPV_E_NETWORK);
    uint8_t *body = NULL;
    size_t len = 0;
    ck_assert_int_eq(capv_jwks_fetch(&body, &len, j, &err), CAPV_E_NETWORK);
    ck_assert_ptr_null(body);
    capv_jwks_free(j);
    http_stop(&s);
}
END_TEST

Suite *jwks_suite(void)
{
    Suite *s = suite_create("jwks");
    TCase *tc = tcase_create("jwks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, states_fresh_stale_expired);
    tcase_add_test(tc, empty_and_unreachable_is_unavailable);
    tcase_add_test(tc, unknown_kid_flood);
    tcase_add_test(tc, unknown_kid_flood_threads_single_flight);
    tcase_add_test(tc, rotation_new_kid_after_one_refetch);
    tcase_add_test(tc, bad_responses_never_replace_good_set);
    tcase_add_test(tc, cache_control_clamped);
    tcase_add_test(tc, background_refresher);
    tcase_add_test(tc, refresher_retries_a_second_apart);
    tcase_add_test(tc, ages_ignore_wall_clock_steps);
    tcase_add_test(tc, file_source);
    tcase_add_test(tc, curl_fetcher);
    suite_add_tcase(s, tc);
    return s;
}
