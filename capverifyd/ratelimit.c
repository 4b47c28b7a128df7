/* SPDX-License-Identifier: Apache-2.0 */
/* Token buckets per subject and per client address (docs/hardening.md). The table is split
 * into stripes with a lock each; a stripe holds at most STRIPE_MAX buckets, and when it is
 * full the bucket idle longest is forgotten (a forgotten bucket comes back full, which is
 * what an idle client's bucket would be anyway once it has been idle for burst/rate). */
#include "ratelimit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STRIPES 64
#define STRIPE_MAX 2048
#define KEY_MAX 160

typedef struct bucket {
    char key[KEY_MAX];
    rl_kind kind;
    double tokens;
    int64_t last_ms;
} bucket;

typedef struct stripe {
    pthread_mutex_t lock;
    bucket *b;
    size_t n, cap;
} stripe;

static struct {
    double rate, burst;
    stripe s[STRIPES];
    atomic_uint_fast64_t limited[RL_KIND_COUNT];
} rl;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ratelimit_init(int64_t per_second, int64_t burst)
{
    rl.rate = (double)per_second;
    rl.burst = (double)(burst > 0 ? burst : per_second);
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&rl.s[i].lock, NULL);
}

bool ratelimit_enabled(void)
{
    return rl.rate > 0;
}

const char *rl_kind_name(rl_kind k)
{
    return k == RL_SUBJECT ? "subject" : "address";
}

static uint64_t hash(rl_kind kind, const char *key)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* The bucket of (kind, key) refilled to now, created full when new; NULL only when memory
 * runs out. Called with the stripe locked. */
static bucket *find(stripe *s, rl_kind kind, const char *key, int64_t now)
{
    bucket *hit = NULL;
    size_t oldest = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->b[i].kind == kind && strcmp(s->b[i].key, key) == 0) {
            hit = &s->b[i];
            break;
        }
        if (s->b[i].last_ms < s->b[oldest].last_ms)
            oldest = i;
    }
    if (hit == NULL) {
        if (s->n == s->cap && s->cap < STRIPE_MAX) {
            size_t cap = s->cap ? s->cap * 2 : 16;
            bucket *nb = realloc(s->b, cap * sizeof *nb);
            if (nb != NULL) {
                s->b = nb;
                s->cap = cap;
            }
        }
        if (s->n < s->cap)
            hit = &s->b[s->n++];
        else if (s->n > 0)
            hit = &s->b[oldest];
        else
            return NULL;
        memset(hit, 0, sizeof *hit);
        hit->kind = kind;
        size_t len = strlen(key);
        if (len >= KEY_MAX)
            len = KEY_MAX - 1;
        memcpy(hit->key, key, len);
        hit->tokens = rl.burst;
        hit->last_ms = now;
        return hit;
    }
    /* `now` was read before the lock: a thread that took it after a later reader's refill
     * has nothing to add, and must not move the bucket's time back */
    if (now > hit->last_ms) {
        double refill = (double)(now - hit->last_ms) * rl.rate / 1000.0;
        hit->tokens = hit->tokens + refill > rl.burst ? rl.burst : hit->tokens + refill;
        hit->last_ms = now;
    }
    return hit;
}

static int retry_after(const bucket *b)
{
    double missing = 1.0 - b->tokens;
    int s = (int)(missing / rl.rate + 0.999);
    return s < 1 ? 1 : s;
}

static bool access_bucket(rl_kind kind, const char *key, bool take, int *retry_after_s)
{
    *retry_after_s = 0;
    if (rl.rate <= 0)
        return true;
    char k[KEY_MAX];
    size_t len = strlen(key);
    if (len >= KEY_MAX)
        len = KEY_MAX - 1;
    memcpy(k, key, len);
    k[len] = '\0';
    stripe *s = &rl.s[hash(kind, k) % STRIPES];
    int64_t now = mono_ms();
    pthread_mutex_lock(&s->lock);
    bucket *b = find(s, kind, k, now);
    bool ok = b == NULL || b->tokens >= 1.0;
    if (ok && take && b != NULL)
        b->tokens -= 1.0;
    if (!ok)
        *retry_after_s = retry_after(b);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

bool ratelimit_take(rl_kind kind, const char *key, int *retry_after_s)
{
    return access_bucket(kind, key, true, retry_after_s);
}

bool ratelimit_exhausted(rl_kind kind, const char *key, int *retry_after_s)
{
    return !access_bucket(kind, key, false, retry_after_s);
}

uint64_t ratelimit_limited_total(rl_kind k)
{
    return k < RL_KIND_COUNT ? atomic_load(&rl.limited[k]) : 0;
}

void ratelimit_count(rl_kind k)
{
    if (k < RL_KIND_COUNT)
        atomic_fetch_add(&rl.limited[k], 1);
}
