/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * A generic, thread-safe cache (docs/architecture.md, "Caches"): sharded LRU with a TTL, bounded by
 * entries and bytes, with hit / miss / insert / eviction counters. Keys and values are byte
 * strings, copied in and out, so a value read by one thread is never freed under it by another. */
#ifndef CAPVERIFY_CACHE_H
#define CAPVERIFY_CACHE_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A bounded, thread-safe key-value cache with LRU eviction and an optional TTL (the
 * daemon's verdict and token caches). Since 0.1. */
typedef struct capv_cache capv_cache;

/** Why an entry left the cache (capv_cache_evict_fn). Since 0.1. */
typedef enum capv_evict_reason {
    CAPV_EVICT_SIZE = 0,       /**< made room (entries or bytes bound) */
    CAPV_EVICT_TTL = 1,        /**< expired */
    CAPV_EVICT_INVALIDATED = 2 /**< removed by capv_cache_invalidate / _invalidate_all */
} capv_evict_reason;

/** A counter of the cache (capv_cache_counter_get). Since 0.1. */
typedef enum capv_cache_counter {
    CAPV_CACHE_HITS = 0,                  /**< look-ups that found a value */
    CAPV_CACHE_MISSES = 1,                /**< look-ups that did not */
    CAPV_CACHE_INSERTS = 2,               /**< values stored */
    CAPV_CACHE_EVICTIONS_SIZE = 3,        /**< evictions for CAPV_EVICT_SIZE */
    CAPV_CACHE_EVICTIONS_TTL = 4,         /**< evictions for CAPV_EVICT_TTL */
    CAPV_CACHE_EVICTIONS_INVALIDATED = 5, /**< evictions for CAPV_EVICT_INVALIDATED */
    CAPV_CACHE_ENTRIES = 6,               /**< current */
    CAPV_CACHE_BYTES = 7                  /**< current: keys + values */
} capv_cache_counter;

/** Creates a cache holding at most `max_entries` entries and `max_bytes` bytes of keys plus
 * values; entries older than `ttl_ms` are never returned (0 = no TTL). Both bounds must be
 * positive. The cache is split into shards, each with its share of both bounds: as many as
 * `max_entries` / 64 and `max_bytes` / 1024 allow, from 1 to 16. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_cache_new(capv_cache **out, size_t max_entries,
                                                            size_t max_bytes, int64_t ttl_ms,
                                                            capv_error *err);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_cache_free(capv_cache *cache);

/** The clock for TTLs (default capv_clock_system, with which ages are measured on
 * CLOCK_MONOTONIC: a step of the wall clock neither keeps an entry nor ends it; since 0.2).
 * Set before the first put and before sharing the cache. Since 0.1. */
CAPV_API void capv_cache_set_clock(capv_cache *cache, capv_clock_fn clock, void *user);

/** Called (outside the cache's locks) for every eviction, e.g. to log event=cache_evict.
 * Set before sharing the cache. Since 0.1. */
typedef void (*capv_cache_evict_fn)(void *user, capv_evict_reason reason);
/** Sets the eviction callback (NULL removes it). Since 0.1. */
CAPV_API void capv_cache_set_evict_callback(capv_cache *cache, capv_cache_evict_fn fn, void *user);

/** Looks `key` up. On a hit returns CAPV_OK and a copy of the value in `*value` (caller frees
 * with capv_free; NUL-terminated for convenience, `*len` excludes it); on a miss
 * CAPV_E_NOT_FOUND. Thread-safe. Since 0.1; outputs first and `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_cache_get(uint8_t **value, size_t *len,
                                                            capv_cache *cache, const uint8_t *key,
                                                            size_t key_len, capv_error *err);
/** Inserts or replaces. An entry (key and value) larger than its shard's share of the byte
 * bound (capv_cache_new) is not stored (CAPV_E_LIMIT); neither is one that memory cannot be
 * found for (CAPV_E_NOMEM). Either way the key's old value is removed. Thread-safe. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_cache_put(capv_cache *cache, const uint8_t *key,
                                                            size_t key_len, const uint8_t *value,
                                                            size_t len, capv_error *err);
/** Removes one entry (no-op when absent). Thread-safe. Since 0.1. */
CAPV_API void capv_cache_invalidate(capv_cache *cache, const uint8_t *key, size_t key_len);
/** Removes every entry. Thread-safe. Since 0.1. */
CAPV_API void capv_cache_invalidate_all(capv_cache *cache);

/** A counter's current value. Thread-safe. Since 0.1. */
CAPV_API uint64_t capv_cache_counter_get(const capv_cache *cache, capv_cache_counter which);
/** hits / (hits + misses), 0 when nothing was looked up yet (never NaN). Thread-safe.
 * Since 0.1. */
CAPV_API double capv_cache_hit_ratio(const capv_cache *cache);

#ifdef __cplusplus
}
#endif

#endif
