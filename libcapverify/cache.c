/* SPDX-License-Identifier: Apache-2.0 */
/* Sharded LRU + TTL cache. Each shard has its own lock, hash table and LRU list, so
 * concurrent readers on different keys rarely contend. Counters live in their shard and are
 * updated under its lock (no cache line shared by all threads on every lookup); reading one
 * sums the shards. Shards are cache-line aligned. Small caches
 * (under 64 entries per shard) use fewer shards, down to one, so their LRU order is exact. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "time_int.h"

#define SHARDS 16

typedef struct entry {
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* LRU list, most recent first */
    uint64_t hash;
    int64_t stored_ms;
    size_t key_len;
    size_t len;
    uint8_t *key;
    uint8_t *value;
} entry;

typedef struct shard {
    _Alignas(64) pthread_mutex_t lock;
    entry **table;
    size_t buckets;
    entry *head, *tail;
    size_t entries;
    size_t bytes;
    uint64_t counters[6]; /* hits .. evictions_invalidated, under `lock` */
} shard;

struct capv_cache {
    shard shards[SHARDS];
    unsigned nshards;
    size_t max_entries; /* per shard */
    size_t max_bytes;   /* per shard */
    int64_t ttl_ms;
    capv_clock_fn clock;
    void *clock_user;
    capv_cache_evict_fn on_evict;
    void *evict_user;
};

/* Keys are mostly digests already: they are read eight bytes at a time, each word mixed in
 * with a multiply (byte-at-a-time FNV-1a was most of a token cache hit's look-up), then the
 * bits spread over the whole word with SplitMix64's finaliser (the shard is taken from the
 * top bits, the bucket from the low ones). */
static uint64_t hash_key(const uint8_t *k, size_t n)
{
    const uint64_t m = 0x9e3779b97f4a7c15ULL;
    uint64_t h = 0x243f6a8885a308d3ULL ^ (n * m);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        memcpy(&w, k + i, n - i < 8 ? n - i : 8);
        h = (h ^ w) * m;
        h ^= h >> 32;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

static size_t entry_cost(const entry *e)
{
    return e->key_len + e->len;
}

capv_status capv_cache_new(capv_cache **out, size_t max_entries, size_t max_bytes, int64_t ttl_ms,
                           capv_error *err)
{
    if (out == NULL || max_entries == 0 || max_bytes == 0 || ttl_ms < 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                             "cache bounds must be positive and the TTL non-negative");
    *out = NULL;
    size_t size = (sizeof(capv_cache) + 63) / 64 * 64;
    capv_cache *c = aligned_alloc(64, size);
    if (c == NULL)
        return capvi_err_nomem(err);
    memset(c, 0, size);
    /* Per-shard bounds are rounded down, so the cache as a whole never exceeds the bounds it
     * was given; a shard keeps at least 64 entries and 1 KiB of the byte budget. */
    size_t ns = max_entries / 64;
    if (ns > max_bytes / 1024)
        ns = max_bytes / 1024;
    c->nshards = ns < 1 ? 1 : ns > SHARDS ? SHARDS : (unsigned)ns;
    c->max_entries = max_entries / c->nshards;
    c->max_bytes = max_bytes / c->nshards;
    c->ttl_ms = ttl_ms;
    c->clock = capv_clock_system;
    size_t buckets = 16;
    while (buckets < c->max_entries && buckets < (1u << 20))
        buckets <<= 1;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *s = &c->shards[i];
        s->buckets = buckets;
        s->table = calloc(buckets, sizeof *s->table);
        if (s->table == NULL) {
            capv_cache_free(c); /* frees the shards before this one */
            return capvi_err_nomem(err);
        }
        pthread_mutex_init(&s->lock, NULL);
    }
    *out = c;
    return capvi_err_done(err, CAPV_OK);
}

static void entry_free(entry *e)
{
    free(e->key);
    free(e->value);
    free(e);
}

void capv_cache_free(capv_cache *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *s = &c->shards[i];
        if (s->table == NULL)
            break; /* creation failed here */
        for (entry *e = s->head; e;) {
            entry *n = e->next;
            entry_free(e);
            e = n;
        }
        free(s->table);
        pthread_mutex_destroy(&s->lock);
    }
    free(c);
}

void capv_cache_set_clock(capv_cache *c, capv_clock_fn clock, void *user)
{
    if (c == NULL)
        return;
    c->clock = clock ? clock : capv_clock_system;
    c->clock_user = clock ? user : NULL;
}

void capv_cache_set_evict_callback(capv_cache *c, capv_cache_evict_fn fn, void *user)
{
    if (c == NULL)
        return;
    c->on_evict = fn;
    c->evict_user = user;
}

static shard *shard_of(capv_cache *c, uint64_t h)
{
    return &c->shards[(h >> 56) % c->nshards];
}

static void lru_unlink(shard *s, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(shard *s, entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head)
        s->head->prev = e;
    s->head = e;
    if (s->tail == NULL)
        s->tail = e;
}

static entry **find_slot(shard *s, uint64_t h, const uint8_t *k, size_t n)
{
    entry **p = &s->table[h & (s->buckets - 1)];
    while (*p != NULL) {
        entry *e = *p;
        if (e->hash == h && e->key_len == n && memcmp(e->key, k, n) == 0)
            return p;
        p = &e->hnext;
    }
    return p;
}

/* Unlinks and frees an entry under the shard lock; the caller reports the eviction. */
static void remove_entry(shard *s, entry *e)
{
    entry **p = find_slot(s, e->hash, e->key, e->key_len);
    *p = e->hnext;
    lru_unlink(s, e);
    s->entries--;
    s->bytes -= entry_cost(e);
    entry_free(e);
}

/* Counts evictions in the shard; called with its lock held. */
static void count_evictions(shard *s, capv_evict_reason why, uint64_t n)
{
    s->counters[CAPV_CACHE_EVICTIONS_SIZE + (int)why] += n;
}

/* Tells the callback, outside the shard's lock. */
static void report(capv_cache *c, capv_evict_reason why, uint64_t n)
{
    if (n == 0)
        return;
    if (c->on_evict != NULL)
        for (uint64_t i = 0; i < n; i++)
            c->on_evict(c->evict_user, why);
}

static bool expired(const capv_cache *c, const entry *e, int64_t now)
{
    return c->ttl_ms > 0 && now - e->stored_ms >= c->ttl_ms;
}

capv_status capv_cache_get(uint8_t **value, size_t *len, capv_cache *c, const uint8_t *key,
                           size_t key_len, capv_error *err)
{
    if (c == NULL || key == NULL || value == NULL)
        return capvi_err_done(err, CAPV_E_INVALID_ARG);
    *value = NULL;
    if (len != NULL)
        *len = 0;
    uint64_t h = hash_key(key, key_len);
    shard *s = shard_of(c, h);
    int64_t now = capvi_age_ms(c->clock, c->clock_user);
    capv_status st = CAPV_E_NOT_FOUND;
    uint64_t ttl_evicted = 0;
    pthread_mutex_lock(&s->lock);
    entry *e = *find_slot(s, h, key, key_len);
    if (e != NULL && expired(c, e, now)) {
        remove_entry(s, e);
        ttl_evicted = 1;
        e = NULL;
    }
    if (e != NULL) {
        uint8_t *copy = malloc(e->len + 1);
        if (copy == NULL) {
            st = CAPV_E_NOMEM;
        } else {
            memcpy(copy, e->value, e->len);
            copy[e->len] = '\0';
            *value = copy;
            if (len != NULL)
                *len = e->len;
            lru_unlink(s, e);
            lru_push_front(s, e);
            st = CAPV_OK;
        }
    }
    count_evictions(s, CAPV_EVICT_TTL, ttl_evicted);
    if (st != CAPV_E_NOMEM)
        s->counters[st == CAPV_OK ? CAPV_CACHE_HITS : CAPV_CACHE_MISSES]++;
    pthread_mutex_unlock(&s->lock);
    report(c, CAPV_EVICT_TTL, ttl_evicted);
    return capvi_err_done(err, st);
}

capv_status capv_cache_put(capv_cache *c, const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t len, capv_error *err)
{
    if (c == NULL || key == NULL || (value == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    /* a value that cannot be stored still replaces the key's old one: it is gone */
    if (len > c->max_bytes || key_len > c->max_bytes - len) {
        capv_cache_invalidate(c, key, key_len);
        return capvi_err_set(err, CAPV_E_LIMIT, NULL,
                             "a %zu-byte value with a %zu-byte key "
                             "exceeds the cache's per-shard byte bound of %zu",
                             len, key_len, c->max_bytes);
    }
    entry *n = calloc(1, sizeof *n);
    if (n != NULL) {
        n->key = malloc(key_len ? key_len : 1);
        n->value = malloc(len ? len : 1);
    }
    if (n == NULL || n->key == NULL || n->value == NULL) {
        if (n != NULL)
            entry_free(n);
        capv_cache_invalidate(c, key, key_len);
        return capvi_err_nomem(err);
    }
    memcpy(n->key, key, key_len);
    if (len)
        memcpy(n->value, value, len);
    n->key_len = key_len;
    n->len = len;
    n->hash = hash_key(key, key_len);
    int64_t now = capvi_age_ms(c->clock, c->clock_user);
    n->stored_ms = now;
    shard *s = shard_of(c, n->hash);
    uint64_t by_size = 0, by_ttl = 0;
    pthread_mutex_lock(&s->lock);
    entry *old = *find_slot(s, n->hash, key, key_len);
    if (old != NULL) /* a replacement is an insert, not an eviction */
        remove_entry(s, old);
    /* expired entries at the cold end go first, then least recently used ones */
    while (s->tail != NULL && expired(c, s->tail, now)) {
        remove_entry(s, s->tail);
        by_ttl++;
    }
    while (s->tail != NULL &&
           (s->entries + 1 > c->max_entries || s->bytes + entry_cost(n) > c->max_bytes)) {
        remove_entry(s, s->tail);
        by_size++;
    }
    entry **slot = find_slot(s, n->hash, key, key_len);
    *slot = n;
    lru_push_front(s, n);
    s->entries++;
    s->bytes += entry_cost(n);
    s->counters[CAPV_CACHE_INSERTS]++;
    count_evictions(s, CAPV_EVICT_TTL, by_ttl);
    count_evictions(s, CAPV_EVICT_SIZE, by_size);
    pthread_mutex_unlock(&s->lock);
    report(c, CAPV_EVICT_TTL, by_ttl);
    report(c, CAPV_EVICT_SIZE, by_size);
    return capvi_err_done(err, CAPV_OK);
}

void capv_cache_invalidate(capv_cache *c, const uint8_t *key, size_t key_len)
{
    if (c == NULL || key == NULL)
        return;
    uint64_t h = hash_key(key, key_len);
    shard *s = shard_of(c, h);
    uint64_t n = 0;
    pthread_mutex_lock(&s->lock);
    entry *e = *find_slot(s, h, key, key_len);
    if (e != NULL) {
        remove_entry(s, e);
        n = 1;
    }
    count_evictions(s, CAPV_EVICT_INVALIDATED, n);
    pthread_mutex_unlock(&s->lock);
    report(c, CAPV_EVICT_INVALIDATED, n);
}

void capv_cache_invalidate_all(capv_cache *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard *s = &c->shards[i];
        uint64_t n = 0;
        pthread_mutex_lock(&s->lock);
        while (s->tail != NULL) {
            remove_entry(s, s->tail);
            n++;
        }
        count_evictions(s, CAPV_EVICT_INVALIDATED, n);
        pthread_mutex_unlock(&s->lock);
        report(c, CAPV_EVICT_INVALIDATED, n);
    }
}

uint64_t capv_cache_counter_get(const capv_cache *c, capv_cache_counter which)
{
    if (c == NULL || (int)which < 0 || (int)which > 7)
        return 0;
    capv_cache *m = (capv_cache *)c; /* the locks are not part of the value */
    uint64_t sum = 0;
    for (unsigned i = 0; i < m->nshards; i++) {
        shard *s = &m->shards[i];
        pthread_mutex_lock(&s->lock);
        sum += which == CAPV_CACHE_ENTRIES ? (uint64_t)s->entries
               : which == CAPV_CACHE_BYTES ? (uint64_t)s->bytes
                                           : s->counters[which];
        pthread_mutex_unlock(&s->lock);
    }
    return sum;
}

double capv_cache_hit_ratio(const capv_cache *c)
{
    if (c == NULL)
        return 0.0;
    /* hits and misses of each shard read together, so the ratio is of one moment */
    capv_cache *m = (capv_cache *)c;
    uint64_t h = 0, n = 0;
    for (unsigned i = 0; i < m->nshards; i++) {
        shard *s = &m->shards[i];
        pthread_mutex_lock(&s->lock);
        h += s->counters[CAPV_CACHE_HITS];
        n += s->counters[CAPV_CACHE_HITS] + s->counters[CAPV_CACHE_MISSES];
        pthread_mutex_unlock(&s->lock);
    }
    return n == 0 ? 0.0 : (double)h / (double)n;
}
