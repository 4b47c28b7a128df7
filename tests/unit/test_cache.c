/* SPDX-License-Identifier: Apache-2.0 */
/* The cache (docs/architecture.md, "Caches"): exact counters, LRU order, TTL on an injected clock,
 * entry and byte bounds (also when sharded), invalidation, eviction callbacks, 8 threads at once;
 * and the verifier's report cache: hits, keys that change with options, epoch and registry. */
#include <capverify.h>
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_int.h"
#include "verify_cache_int.h"
#include "suites.h"
#include "testutil.h"

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
}

static void teardown(void)
{
    tu_wall_step(0); /* after a failed test that stepped it (CK_FORK=no runs go on) */
    capv_global_shutdown();
}

static uint64_t ctr(const capv_cache *c, capv_cache_counter which)
{
    return capv_cache_counter_get(c, which);
}

static void put_s(capv_cache *c, const char *k, const char *v)
{
    ck_assert_int_eq(
        capv_cache_put(c, (const uint8_t *)k, strlen(k), (const uint8_t *)v, strlen(v), NULL),
        CAPV_OK);
}

/* CAPV_OK and the value equals `want`, or CAPV_E_NOT_FOUND when want is NULL. */
static void get_s(capv_cache *c, const char *k, const char *want)
{
    uint8_t *v = (uint8_t *)&v;
    size_t n = 999;
    capv_status st = capv_cache_get(&v, &n, c, (const uint8_t *)k, strlen(k), NULL);
    if (want == NULL) {
        ck_assert_msg(st == CAPV_E_NOT_FOUND, "key %s: expected a miss, got %d", k, st);
        ck_assert_ptr_null(v);
        return;
    }
    ck_assert_msg(st == CAPV_OK, "key %s: expected a hit, got %d", k, st);
    ck_assert_uint_eq(n, strlen(want));
    ck_assert_mem_eq(v, want, n);
    ck_assert_int_eq(v[n], '\0');
    capv_free(v);
}

typedef struct evictions {
    int n[3];
} evictions;

static void on_evict(void *user, capv_evict_reason why)
{
    evictions *e = user;
    ck_assert(why >= CAPV_EVICT_SIZE && why <= CAPV_EVICT_INVALIDATED);
    e->n[why]++;
}

START_TEST(bad_arguments)
{
    capv_cache *c = (capv_cache *)&c;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_cache_new(&c, 0, 100, 0, &err), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(err.code, CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_cache_new(&c, 10, 0, 0, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_cache_new(&c, 10, 100, -1, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_cache_new(NULL, 10, 100, 0, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_cache_new(&c, 10, 100, 0, NULL), CAPV_OK);
    uint8_t *v = NULL;
    size_t n;
    ck_assert_int_eq(capv_cache_get(&v, &n, c, NULL, 1, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_cache_get(NULL, &n, c, (const uint8_t *)"k", 1, NULL),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_cache_put(c, NULL, 1, (const uint8_t *)"v", 1, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_cache_put(c, (const uint8_t *)"k", 1, NULL, 1, NULL), CAPV_E_INVALID_ARG);
    /* nothing was counted by refused calls */
    for (int i = 0; i <= CAPV_CACHE_BYTES; i++)
        ck_assert_uint_eq(ctr(c, (capv_cache_counter)i), 0);
    ck_assert(capv_cache_hit_ratio(c) == 0.0); /* not NaN */
    ck_assert_uint_eq(capv_cache_counter_get(NULL, CAPV_CACHE_HITS), 0);
    ck_assert_uint_eq(capv_cache_counter_get(c, (capv_cache_counter)99), 0);
    capv_cache_invalidate(NULL, (const uint8_t *)"k", 1);
    capv_cache_invalidate_all(NULL);
    capv_cache_free(c);
    capv_cache_free(NULL);
}
END_TEST

START_TEST(counters_exact)
{
    capv_cache *c = NULL;
    ck_assert_int_eq(capv_cache_new(&c, 100, 1 << 20, 0, NULL), CAPV_OK);
    evictions ev = { { 0, 0, 0 } };
    capv_cache_set_evict_callback(c, on_evict, &ev);
    get_s(c, "alpha", NULL);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_MISSES), 1);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_HITS), 0);
    put_s(c, "alpha", "one");
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_INSERTS), 1);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_ENTRIES), 1);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_BYTES), 5 + 3);
    get_s(c, "alpha", "one");
    get_s(c, "alpha", "one");
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_HITS), 2);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_MISSES), 1);
    ck_assert(capv_cache_hit_ratio(c) > 0.666 && capv_cache_hit_ratio(c) < 0.667);
    /* a replacement is an insert, never an eviction */
    put_s(c, "alpha", "uno!");
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_INSERTS), 2);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_ENTRIES), 1);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_BYTES), 5 + 4);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_SIZE), 0);
    get_s(c, "alpha", "uno!");
    /* empty values are values */
    put_s(c, "beta", "");
    get_s(c, "beta", "");
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_BYTES), 9 + 4);
    capv_cache_invalidate(c, (const uint8_t *)"alpha", 5);
    capv_cache_invalidate(c, (const uint8_t *)"alpha", 5); /* absent: no-op */
    capv_cache_invalidate(c, (const uint8_t *)"gamma", 5);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_INVALIDATED), 1);
    ck_assert_int_eq(ev.n[CAPV_EVICT_INVALIDATED], 1);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_ENTRIES), 1);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_BYTES), 4);
    get_s(c, "alpha", NULL);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_HITS), 4);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_MISSES), 2);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_SIZE), 0);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_TTL), 0);
    capv_cache_free(c);
}
END_TEST

START_TEST(lru_order)
{
    capv_cache *c = NULL;
    ck_assert_int_eq(capv_cache_new(&c, 3, 1 << 20, 0, NULL), CAPV_OK);
    evictions ev = { { 0, 0, 0 } };
    capv_cache_set_evict_callback(c, on_evict, &ev);
    put_s(c, "a", "1");
    put_s(c, "b", "2");
    put_s(c, "c", "3");
    get_s(c, "a", "1"); /* a is now the most recently used; b the least */
    put_s(c, "d", "4");
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_SIZE), 1);
    ck_assert_int_eq(ev.n[CAPV_EVICT_SIZE], 1);
    get_s(c, "b", NULL); /* most recent first: d a c */
    get_s(c, "c", "3");  /* c d a */
    put_s(c, "e", "5");  /* evicts a */
    get_s(c, "a", NULL);
    get_s(c, "d", "4");
    get_s(c, "e", "5");
    get_s(c, "c", "3");
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_SIZE), 2);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_ENTRIES), 3);
    /* now c e d; a replacement refreshes recency: d c e, so f evicts e */
    put_s(c, "d", "44");
    put_s(c, "f", "6");
    get_s(c, "e", NULL);
    get_s(c, "d", "44");
    get_s(c, "c", "3");
    get_s(c, "f", "6");
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_SIZE), 3);
    ck_assert_int_eq(ev.n[CAPV_EVICT_SIZE], 3);
    capv_cache_free(c);
}
END_TEST

typedef struct fake_clock {
    int64_t now;
} fake_clock;

static int64_t read_clock(void *user)
{
    return ((fake_clock *)user)->now;
}

START_TEST(ttl_expiry)
{
    capv_cache *c = NULL;
    fake_clock clk = { 1000000 };
    ck_assert_int_eq(capv_cache_new(&c, 10, 1 << 20, 1000, NULL), CAPV_OK);
    capv_cache_set_clock(c, read_clock, &clk);
    evictions ev = { { 0, 0, 0 } };
    capv_cache_set_evict_callback(c, on_evict, &ev);
    put_s(c, "a", "1");
    clk.now += 500;
    put_s(c, "b", "2");
    clk.now += 499; /* a is 999 ms old */
    get_s(c, "a", "1");
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_TTL), 0);
    clk.now += 1; /* a is exactly ttl old: expired */
    get_s(c, "a", NULL);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_TTL), 1);
    ck_assert_int_eq(ev.n[CAPV_EVICT_TTL], 1);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_ENTRIES), 1);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_MISSES), 1);
    get_s(c, "b", "2"); /* 500 ms old; being read does not extend its life */
    clk.now += 500;
    /* b expired; a put sweeps expired entries from the cold end */
    put_s(c, "c", "3");
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_TTL), 2);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_ENTRIES), 1);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_BYTES), 2);
    get_s(c, "b", NULL);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_TTL), 2); /* already gone: a plain miss */
    /* replacing restarts the clock of an entry */
    clk.now += 900;
    put_s(c, "c", "33");
    clk.now += 900;
    get_s(c, "c", "33");
    capv_cache_free(c);

    /* ttl 0: nothing ever expires, however far the clock moves */
    ck_assert_int_eq(capv_cache_new(&c, 10, 1 << 20, 0, NULL), CAPV_OK);
    capv_cache_set_clock(c, read_clock, &clk);
    put_s(c, "k", "v");
    clk.now += INT64_C(1) << 40;
    get_s(c, "k", "v");
    capv_cache_set_clock(c, NULL, NULL); /* back to the system clock */
    get_s(c, "k", "v");
    capv_cache_free(c);
}
END_TEST

/* With the default clock an entry's age is measured on the monotonic clock: a step of the
 * wall clock, forward or back, neither ends its life nor extends it. */
START_TEST(ttl_ignores_wall_clock_steps)
{
    capv_cache *c = NULL;
    ck_assert_int_eq(capv_cache_new(&c, 10, 1 << 20, 60000, NULL), CAPV_OK);
    put_s(c, "a", "1");
    tu_wall_step(INT64_C(2) * 3600 * 1000);
    get_s(c, "a", "1");
    tu_wall_step(-INT64_C(2) * 3600 * 1000);
    get_s(c, "a", "1");
    tu_wall_step(0);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_TTL), 0);
    capv_cache_free(c);
}
END_TEST

START_TEST(byte_bound)
{
    capv_cache *c = NULL;
    ck_assert_int_eq(capv_cache_new(&c, 50, 100, 0, NULL), CAPV_OK);
    char key[16], val[32];
    memset(val, 'x', 20);
    val[20] = '\0';
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "key-%05d", i); /* 9 bytes, + 21 of value = 30 */
        ck_assert_int_eq(capv_cache_put(c, (const uint8_t *)key, 9, (const uint8_t *)val, 21, NULL),
                         CAPV_OK);
        ck_assert_uint_le(ctr(c, CAPV_CACHE_BYTES), 100);
    }
    /* 30 bytes each: three fit in 100 */
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_ENTRIES), 3);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_BYTES), 90);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_SIZE), 7);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_INSERTS), 10);
    /* the newest three survived */
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "key-%05d", i);
        uint8_t *v = NULL;
        size_t n = 0;
        capv_status st = capv_cache_get(&v, &n, c, (const uint8_t *)key, 9, NULL);
        ck_assert_int_eq(st, i >= 7 ? CAPV_OK : CAPV_E_NOT_FOUND);
        capv_free(v);
    }
    /* one larger entry makes room for itself by evicting as many as needed */
    uint8_t big[80];
    memset(big, 'y', sizeof big);
    ck_assert_int_eq(capv_cache_put(c, (const uint8_t *)"big", 3, big, sizeof big, NULL), CAPV_OK);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_BYTES), 83);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_ENTRIES), 1);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_SIZE), 10);
    /* an entry larger than the bound is refused and changes nothing */
    uint8_t huge[101];
    memset(huge, 'z', sizeof huge);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_cache_put(c, (const uint8_t *)"h", 1, huge, 100, &err), CAPV_E_LIMIT);
    ck_assert_int_eq(err.code, CAPV_E_LIMIT);
    ck_assert_int_eq(capv_cache_put(c, (const uint8_t *)"h", 1, huge, SIZE_MAX, NULL),
                     CAPV_E_LIMIT); /* no overflow in key_len + len */
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_INSERTS), 11);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_ENTRIES), 1);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_BYTES), 83);
    get_s(c, "h", NULL);
    /* a replacement too large to store still removes the old value: never a stale one */
    ck_assert_int_eq(capv_cache_put(c, (const uint8_t *)"big", 3, huge, 100, NULL), CAPV_E_LIMIT);
    get_s(c, "big", NULL);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_ENTRIES), 0);
    capv_cache_free(c);
}
END_TEST

/* Sharded caches never hold more than the configured bounds in total (per-shard shares are
 * rounded down, not up), and still use most of them. */
static void fill_sharded(capv_cache *c, size_t n, size_t max_entries, size_t max_bytes)
{
    for (uint32_t i = 0; i < n; i++) {
        uint8_t key[4] = { (uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), (uint8_t)(i >> 24) };
        ck_assert_int_eq(capv_cache_put(c, key, 4, (const uint8_t *)"0123456789abcdef", 16, NULL),
                         CAPV_OK);
        ck_assert_uint_le(ctr(c, CAPV_CACHE_ENTRIES), max_entries);
        ck_assert_uint_le(ctr(c, CAPV_CACHE_BYTES), max_bytes);
    }
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_BYTES), 20 * ctr(c, CAPV_CACHE_ENTRIES));
}

START_TEST(sharded_bounds)
{
    /* the entry bound binds */
    static const size_t bounds[] = { 1000, 1023, 200, 129, 5000 };
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
        capv_cache *c = NULL;
        ck_assert_int_eq(capv_cache_new(&c, bounds[b], bounds[b] * 1000, 0, NULL), CAPV_OK);
        fill_sharded(c, 20 * (uint32_t)bounds[b], bounds[b], bounds[b] * 1000);
        ck_assert_uint_ge(ctr(c, CAPV_CACHE_ENTRIES), bounds[b] * 8 / 10);
        capv_cache_free(c);
    }
    /* the byte bound binds (entries of 20 bytes) */
    static const size_t bytes[] = { 19799, 19800, 19801, 20007, 4799, 100000 };
    for (size_t b = 0; b < sizeof bytes / sizeof bytes[0]; b++) {
        capv_cache *c = NULL;
        ck_assert_int_eq(capv_cache_new(&c, 10000, bytes[b], 0, NULL), CAPV_OK);
        fill_sharded(c, 20000, 10000, bytes[b]);
        ck_assert_uint_ge(ctr(c, CAPV_CACHE_BYTES), bytes[b] * 8 / 10);
        capv_cache_free(c);
    }
}
END_TEST

START_TEST(invalidate_all)
{
    capv_cache *c = NULL;
    ck_assert_int_eq(capv_cache_new(&c, 4096, 1 << 24, 0, NULL), CAPV_OK);
    evictions ev = { { 0, 0, 0 } };
    capv_cache_set_evict_callback(c, on_evict, &ev);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        put_s(c, key, "value");
    }
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_ENTRIES), 1000);
    capv_cache_invalidate_all(c);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_ENTRIES), 0);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_BYTES), 0);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_INVALIDATED), 1000);
    ck_assert_int_eq(ev.n[CAPV_EVICT_INVALIDATED], 1000);
    ck_assert_int_eq(ev.n[CAPV_EVICT_SIZE], 0);
    for (int i = 0; i < 1000; i += 97) {
        snprintf(key, sizeof key, "k%d", i);
        get_s(c, key, NULL);
    }
    put_s(c, "k1", "again");
    get_s(c, "k1", "again");
    capv_cache_invalidate_all(c);
    capv_cache_invalidate_all(c);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_EVICTIONS_INVALIDATED), 1001);
    capv_cache_free(c);
}
END_TEST

/* ---- concurrency ----------------------------------------------------------------------- */

#define THREADS 8
#define OPS 20000
#define KEYS 512

typedef struct worker {
    capv_cache *c;
    unsigned int seed;
    uint64_t gets, hits, misses, puts;
    int corrupt;
} worker;

/* Values carry their key, so a torn or misattributed value is detected. */
static void value_for(uint8_t v[40], uint32_t k)
{
    for (int i = 0; i < 40; i++)
        v[i] = (uint8_t)(k * 31u + (uint32_t)i);
}

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < OPS; i++) {
        w->seed = w->seed * 1103515245u + 12345u;
        uint32_t k = (w->seed >> 8) % KEYS;
        uint8_t key[4] = { (uint8_t)k, (uint8_t)(k >> 8), 'k', '!' };
        if ((w->seed >> 4) % 4 == 0) {
            uint8_t v[40];
            value_for(v, k);
            if (capv_cache_put(w->c, key, 4, v, sizeof v, NULL) == CAPV_OK)
                w->puts++;
        } else {
            uint8_t *v = NULL, want[40];
            size_t n = 0;
            capv_status st = capv_cache_get(&v, &n, w->c, key, 4, NULL);
            w->gets++;
            if (st == CAPV_OK) {
                w->hits++;
                value_for(want, k);
                if (n != 40 || memcmp(v, want, 40) != 0)
                    w->corrupt++;
                capv_free(v);
            } else if (st == CAPV_E_NOT_FOUND) {
                w->misses++;
            } else {
                w->corrupt++;
            }
        }
        if (i % 5000 == 4999 && w->seed % 7 == 0)
            capv_cache_invalidate(w->c, key, 4);
    }
    return NULL;
}

START_TEST(concurrent_threads)
{
    capv_cache *c = NULL;
    /* 256 entries → 4 shards; half the key space fits */
    ck_assert_int_eq(capv_cache_new(&c, 256, 1 << 20, 0, NULL), CAPV_OK);
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].c = c;
        w[i].seed = 0x9e3779b9u * (unsigned int)(i + 1);
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    uint64_t gets = 0, hits = 0, misses = 0, puts = 0;
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ck_assert_int_eq(w[i].corrupt, 0);
        gets += w[i].gets;
        hits += w[i].hits;
        misses += w[i].misses;
        puts += w[i].puts;
    }
    ck_assert_uint_eq(gets + puts, (uint64_t)THREADS * OPS);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_HITS), hits);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_MISSES), misses);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_INSERTS), puts);
    ck_assert_uint_gt(hits, 0);
    ck_assert_uint_gt(misses, 0);
    /* the entry counter agrees with what is actually there */
    uint64_t entries = ctr(c, CAPV_CACHE_ENTRIES);
    ck_assert_uint_le(entries, 256);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_BYTES), entries * 44);
    uint64_t present = 0;
    for (uint32_t k = 0; k < KEYS; k++) {
        uint8_t key[4] = { (uint8_t)k, (uint8_t)(k >> 8), 'k', '!' };
        uint8_t *v = NULL;
        size_t n;
        if (capv_cache_get(&v, &n, c, key, 4, NULL) == CAPV_OK)
            present++;
        capv_free(v);
    }
    ck_assert_uint_eq(present, entries);
    capv_cache_free(c);
}
END_TEST

/* ---- the verifier's report cache ------------------------------------------------------- */

static uint8_t *webui_zip(size_t *len)
{
    return tu_read(tu_shared_dir(), "peer/packages/webui-legacy.zip", len);
}

static char *report_json(const capv_report *r)
{
    char *s = NULL;
    ck_assert_int_eq(capv_report_to_json(&s, NULL, r, 0, NULL), CAPV_OK);
    return s;
}

static const char *check_details(const capv_report *r, const char *id)
{
    const char *d = capv_check_details(capv_report_find_check(r, id));
    return d ? d : "{}";
}

START_TEST(report_cache_hits)
{
    size_t len;
    uint8_t *zip = webui_zip(&len);
    capv_verifier *v = NULL;
    capv_cache *c = NULL;
    ck_assert_int_eq(capv_verifier_new(&v, NULL), CAPV_OK);
    ck_assert_int_eq(capv_cache_new(&c, 100, 1 << 22, 0, NULL), CAPV_OK);
    capv_verifier_set_cache(v, c);
    capv_report *a = NULL, *b = NULL;
    ck_assert_int_eq(capv_verify_zip_memory(&a, v, zip, len, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_MISSES), 1);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_INSERTS), 1);
    ck_assert_int_eq(capv_verify_zip_memory(&b, v, zip, len, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_HITS), 1);
    /* the cached report is the same report: verdict, checks, details, units, JSON */
    ck_assert_int_eq(capv_report_verdict(a), CAPV_VERDICT_FAIL);
    ck_assert_int_eq(capv_report_verdict(b), capv_report_verdict(a));
    ck_assert_str_eq(capv_report_format(b), capv_report_format(a));
    ck_assert_str_eq(capv_report_manifest_hash(b), capv_report_manifest_hash(a));
    ck_assert_str_eq(capv_report_proof_hash(b), capv_report_proof_hash(a));
    ck_assert_uint_eq(capv_report_check_count(b), capv_report_check_count(a));
    for (size_t i = 0; i < capv_report_check_count(a); i++) {
        const capv_check *x = capv_report_check(a, i), *y = capv_report_check(b, i);
        ck_assert_str_eq(capv_check_id(y), capv_check_id(x));
        ck_assert_int_eq(capv_check_status_of(y), capv_check_status_of(x));
        ck_assert_str_eq(capv_check_message(y), capv_check_message(x));
        ck_assert_str_eq(check_details(b, capv_check_id(x)), check_details(a, capv_check_id(x)));
    }
    ck_assert(capv_report_verified_at(b) == capv_report_verified_at(a));
    char *ja = report_json(a), *jb = report_json(b);
    ck_assert_str_eq(jb, ja);
    capv_free(ja);
    capv_free(jb);

    /* the JSON fast path: a hit, compact and pretty, identical to the report's own JSON */
    char *j = NULL;
    size_t jl = 0;
    capv_verdict vd = CAPV_VERDICT_OK;
    bool cached = false;
    ck_assert_int_eq(capv_verify_zip_memory_json(&j, &jl, &vd, &cached, v, zip, len, NULL, 0, NULL),
                     CAPV_OK);
    ck_assert(cached);
    ck_assert_int_eq(vd, CAPV_VERDICT_FAIL);
    ja = report_json(a);
    ck_assert_str_eq(j, ja);
    ck_assert_uint_eq(jl, strlen(ja));
    capv_free(j);
    capv_free(ja);
    ck_assert_int_eq(capv_verify_zip_memory_json(&j, &jl, &vd, &cached, v, zip, len, NULL,
                                                 CAPV_REPORT_JSON_PRETTY, NULL),
                     CAPV_OK);
    ck_assert(cached);
    ck_assert_int_eq(capv_report_to_json(&ja, NULL, a, CAPV_REPORT_JSON_PRETTY, NULL), CAPV_OK);
    ck_assert_str_eq(j, ja);
    capv_free(j);
    capv_free(ja);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_HITS), 3);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_INSERTS), 1);

    /* without a cache: the same answer, nothing cached */
    capv_verifier_set_cache(v, NULL);
    ck_assert_int_eq(capv_verify_zip_memory_json(&j, &jl, &vd, &cached, v, zip, len, NULL, 0, NULL),
                     CAPV_OK);
    ck_assert(!cached);
    ck_assert_int_eq(vd, CAPV_VERDICT_FAIL);
    ck_assert_ptr_nonnull(strstr(j, "\"result\":\"fail\""));
    capv_free(j);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_HITS) + ctr(c, CAPV_CACHE_MISSES), 4);

    /* not a package: an error, and nothing is cached */
    capv_verifier_set_cache(v, c);
    ck_assert_int_eq(capv_verify_zip_memory_json(&j, &jl, &vd, &cached, v,
                                                 (const uint8_t *)"not a zip", 9, NULL, 0, NULL),
                     CAPV_E_MALFORMED);
    ck_assert_ptr_null(j);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_INSERTS), 1);
    ck_assert_int_eq(
        capv_verify_zip_memory_json(NULL, &jl, &vd, &cached, v, zip, len, NULL, 0, NULL),
        CAPV_E_INVALID_ARG);
    capv_report_free(a);
    capv_report_free(b);
    capv_verifier_free(v);
    capv_cache_free(c);
    free(zip);
}
END_TEST

/* One lookup through the JSON path; returns whether it was a hit. */
static bool lookup(capv_verifier *v, const uint8_t *zip, size_t len, const capv_verify_options *o,
                   char **json)
{
    capv_verdict vd;
    bool cached = false;
    ck_assert_int_eq(capv_verify_zip_memory_json(json, NULL, &vd, &cached, v, zip, len, o, 0, NULL),
                     CAPV_OK);
    return cached;
}

/* The key of (body, audit log): bytes moved between the two, or an empty log against none,
 * give other keys (verify_cache.c: the trailer ends with both lengths). */
START_TEST(report_cache_key_boundaries)
{
    capv_verifier *v = NULL;
    ck_assert_int_eq(capv_verifier_new(&v, NULL), CAPV_OK);
    capv_verify_options *o = NULL;
    ck_assert_int_eq(capv_verify_options_new(&o, NULL), CAPV_OK);
    static const uint8_t text[] = "abcdefgh";
    const struct {
        size_t body; /* bytes of text in the body */
        int log;     /* -1: no audit log; else the next bytes of text in it */
    } cases[] = { { 8, -1 }, { 7, 1 }, { 8, 0 }, { 0, 8 }, { 0, -1 }, { 0, 0 }, { 4, 4 } };
    enum { N = sizeof cases / sizeof *cases };
    uint8_t keys[N][32];
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(
            capv_verify_options_set_audit_log(o, cases[i].log < 0 ? NULL : text + cases[i].body,
                                              cases[i].log < 0 ? 0 : (size_t)cases[i].log, NULL),
            CAPV_OK);
        ck_assert_int_eq(capvi_verify_cache_key(keys[i], v, text, cases[i].body, o, NULL), CAPV_OK);
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(memcmp(keys[i], keys[j], 32) != 0, "cases %zu and %zu share a key", j, i);
    }
    /* the same input, the same key */
    uint8_t again[32];
    ck_assert_int_eq(capvi_verify_cache_key(again, v, text, cases[N - 1].body, o, NULL), CAPV_OK);
    ck_assert_mem_eq(again, keys[N - 1], 32);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

START_TEST(report_cache_keys)
{
    size_t len;
    uint8_t *zip = webui_zip(&len);
    capv_verifier *v = NULL;
    capv_cache *c = NULL;
    capv_verify_options *strict = NULL;
    ck_assert_int_eq(capv_verifier_new(&v, NULL), CAPV_OK);
    ck_assert_int_eq(capv_cache_new(&c, 100, 1 << 22, 0, NULL), CAPV_OK);
    ck_assert_int_eq(capv_verify_options_new(&strict, NULL), CAPV_OK);
    ck_assert_int_eq(capv_verify_options_set(strict, CAPV_OPT_STRICT, 1, NULL), CAPV_OK);
    capv_verifier_set_cache(v, c);
    char *j1 = NULL, *j2 = NULL;
    ck_assert_int_eq(lookup(v, zip, len, NULL, &j1), 0);
    ck_assert_int_eq(lookup(v, zip, len, NULL, &j2), 1);
    capv_free(j2);
    /* other options: another key */
    ck_assert_int_eq(lookup(v, zip, len, strict, &j2), 0);
    capv_free(j2);
    ck_assert_int_eq(lookup(v, zip, len, strict, &j2), 1);
    capv_free(j2);
    /* other bytes: another key */
    size_t olen;
    uint8_t *other =
        tu_read(tu_shared_dir(), "peer/packages/desktop/cap-bundle-2025-12-14.zip", &olen);
    ck_assert_int_eq(lookup(v, other, olen, NULL, &j2), 0);
    ck_assert_str_ne(j2, j1);
    capv_free(j2);
    ck_assert_int_eq(lookup(v, other, olen, NULL, &j2), 1);
    capv_free(j2);
    free(other);

    /* a configuration change moves the epoch: no stale verdict is served */
    uint64_t e0 = capv_verifier_epoch(v);
    cJSON *root = NULL;
    ck_assert_int_eq(capvi_json_parse(&root, (const uint8_t *)j1, strlen(j1), NULL), CAPV_OK);
    const char *policy = cJSON_GetObjectItemCaseSensitive(root, "policy_hash")->valuestring;
    ck_assert_ptr_nonnull(policy);
    ck_assert_int_eq(capv_verifier_add_policy_hash(v, policy, NULL), CAPV_OK);
    cJSON_Delete(root);
    ck_assert(capv_verifier_epoch(v) != e0);
    ck_assert_int_eq(lookup(v, zip, len, NULL, &j2), 0);
    ck_assert_str_ne(j2, j1); /* policy.binding changed from unknown to known */
    ck_assert_ptr_nonnull(strstr(j1, "unknown to the policy store"));
    ck_assert_ptr_null(strstr(j2, "unknown to the policy store"));
    capv_free(j2);
    ck_assert_int_eq(lookup(v, zip, len, NULL, &j2), 1);
    capv_free(j2);
    uint64_t e1 = capv_verifier_epoch(v);
    capv_trust_store *ts = NULL;
    ck_assert_int_eq(capv_trust_store_new(&ts, NULL), CAPV_OK);
    capv_verifier_take_trust_store(v, ts);
    ck_assert(capv_verifier_epoch(v) != e1);
    ck_assert_int_eq(lookup(v, zip, len, NULL, &j2), 0);
    capv_free(j2);

    /* two verifiers never share an epoch, so they may share a cache */
    capv_verifier *w = NULL;
    ck_assert_int_eq(capv_verifier_new(&w, NULL), CAPV_OK);
    ck_assert(capv_verifier_epoch(w) != capv_verifier_epoch(v));
    capv_verifier_set_cache(w, c);
    ck_assert_int_eq(lookup(w, zip, len, NULL, &j2), 0);
    /* the same configuration as v had at first: the same report, apart from the time */
    ck_assert_ptr_nonnull(strstr(j1, ",\"verifier\":"));
    size_t upto = (size_t)(strstr(j1, ",\"verifier\":") - j1);
    ck_assert_int_eq(strncmp(j2, j1, upto), 0);
    capv_free(j2);
    capv_verifier_free(w);

    /* the registry's generation is part of the key: registering the package changes its
     * registry check, and the cached report is not served */
    capv_registry *reg = NULL;
    ck_assert_int_eq(capv_registry_open(&reg, NULL, NULL, NULL), CAPV_OK);
    capv_verifier_set_registry(v, reg);
    ck_assert_int_eq(lookup(v, zip, len, NULL, &j2), 0);
    ck_assert_ptr_nonnull(strstr(j2, "no registry entry"));
    capv_free(j2);
    ck_assert_int_eq(lookup(v, zip, len, NULL, &j2), 1);
    ck_assert_int_eq(capvi_json_parse(&root, (const uint8_t *)j2, strlen(j2), NULL), CAPV_OK);
    capv_free(j2);
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.manifest_hash = cJSON_GetObjectItemCaseSensitive(root, "manifest_hash")->valuestring;
    e.proof_hash = cJSON_GetObjectItemCaseSensitive(root, "proof_hash")->valuestring;
    uint64_t g0 = capv_registry_generation(reg);
    ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);
    cJSON_Delete(root);
    ck_assert(capv_registry_generation(reg) > g0);
    ck_assert_int_eq(lookup(v, zip, len, NULL, &j2), 0);
    ck_assert_ptr_nonnull(strstr(j2, "is unsigned"));
    capv_free(j2);
    /* recording verifications does not change verdicts, so it keeps the cache warm */
    uint64_t g1 = capv_registry_generation(reg);
    capv_registry_verification rv = CAPV_REGISTRY_VERIFICATION_INIT;
    rv.result = "fail";
    ck_assert_int_eq(capv_registry_record(NULL, reg, &rv, NULL), CAPV_OK);
    ck_assert(capv_registry_generation(reg) == g1);
    ck_assert_int_eq(lookup(v, zip, len, NULL, &j2), 1);
    capv_free(j2);

    capv_free(j1);
    capv_verifier_free(v);
    capv_registry_close(reg);
    capv_verify_options_free(strict);
    capv_cache_free(c);
    free(zip);
}
END_TEST

/* A cache too small for a report still verifies: the report is just not kept. */
START_TEST(report_cache_too_small)
{
    size_t len;
    uint8_t *zip = webui_zip(&len);
    capv_verifier *v = NULL;
    capv_cache *c = NULL;
    ck_assert_int_eq(capv_verifier_new(&v, NULL), CAPV_OK);
    ck_assert_int_eq(capv_cache_new(&c, 10, 64, 0, NULL), CAPV_OK);
    capv_verifier_set_cache(v, c);
    for (int i = 0; i < 2; i++) {
        capv_report *r = NULL;
        ck_assert_int_eq(capv_verify_zip_memory(&r, v, zip, len, NULL, NULL), CAPV_OK);
        ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
        capv_report_free(r);
    }
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_MISSES), 2);
    ck_assert_uint_eq(ctr(c, CAPV_CACHE_INSERTS), 0);
    capv_verifier_free(v);
    capv_cache_free(c);
    free(zip);
}
END_TEST

Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, counters_exact);
    tcase_add_test(tc, lru_order);
    tcase_add_test(tc, ttl_expiry);
    tcase_add_test(tc, ttl_ignores_wall_clock_steps);
    tcase_add_test(tc, byte_bound);
    tcase_add_test(tc, sharded_bounds);
    tcase_add_test(tc, invalidate_all);
    tcase_add_test(tc, concurrent_threads);
    tcase_add_test(tc, report_cache_hits);
    tcase_add_test(tc, report_cache_keys);
    tcase_add_test(tc, report_cache_key_boundaries);
    tcase_add_test(tc, report_cache_too_small);
    suite_add_tcase(s, tc);
    return s;
}
