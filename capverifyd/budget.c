/* SPDX-License-Identifier: Apache-2.0 */
/* The memory budget (docs/hardening.md). */
#include "budget.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* Freed memory is handed back to the system (docs/hardening.md): at once when one request
 * returns TRIM_LARGE or more (a large answer: each worker thread's malloc arena would
 * otherwise keep the most it ever held, and the arenas together more than the budget); else
 * once TRIM_AFTER_BYTES were returned since the last trim and nothing is reserved any more,
 * at most every TRIM_INTERVAL_MS (malloc_trim walks the whole heap, and under a stream of
 * small requests "nothing reserved" comes thousands of times a second). A trim put off for
 * the interval is made by budget_tick, once a second. */
#define TRIM_LARGE ((uint64_t)32 << 20)
#define TRIM_AFTER_BYTES (4u << 20)
#define TRIM_INTERVAL_MS 1000

static struct {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    uint64_t total, reserved, released_since_trim;
    int64_t last_trim_ms;
    int64_t wait_ms;
    atomic_uint_fast64_t rejections;
} b = { .lock = PTHREAD_MUTEX_INITIALIZER, .freed = PTHREAD_COND_INITIALIZER };

void budget_init(uint64_t total_bytes, int64_t wait_ms)
{
    b.total = total_bytes;
    b.wait_ms = wait_ms;
    /* glibc raises its mmap threshold after large frees, so later large buffers come from
     * the heap and stay resident after they are freed. A fixed threshold keeps request
     * bodies and expanded members in mappings that go back to the system on free. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

/* The end of a wait of wait_ms from now, on the monotonic clock (a step of the wall clock is
 * no wait). */
static struct timespec wait_end(void)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += b.wait_ms / 1000;
    until.tv_nsec += (b.wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

budget_result budget_admit(uint64_t bytes, uint64_t room)
{
    if (room < bytes)
        room = bytes;
    if (room > b.total) {
        atomic_fetch_add(&b.rejections, 1);
        return BUDGET_TOO_LARGE;
    }
    pthread_mutex_lock(&b.lock);
    if (b.reserved + room > b.total) { /* the clock is read only when there is a wait */
        struct timespec until = wait_end();
        int rc = 0;
        while (b.reserved + room > b.total && rc == 0)
            rc = pthread_cond_clockwait(&b.freed, &b.lock, CLOCK_MONOTONIC, &until);
    }
    bool ok = b.reserved + room <= b.total;
    if (ok)
        b.reserved += bytes;
    pthread_mutex_unlock(&b.lock);
    if (!ok)
        atomic_fetch_add(&b.rejections, 1);
    return ok ? BUDGET_OK : BUDGET_BUSY;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Under the lock, after `bytes` were returned: whether a trim is due now (and then it counts
 * as made). */
static bool trim_due(uint64_t bytes)
{
    if (bytes < TRIM_LARGE && (b.reserved != 0 || b.released_since_trim < TRIM_AFTER_BYTES))
        return false;
    int64_t now = mono_ms();
    if (bytes < TRIM_LARGE && now - b.last_trim_ms < TRIM_INTERVAL_MS)
        return false;
    b.released_since_trim = 0;
    b.last_trim_ms = now;
    return true;
}

void budget_release(uint64_t bytes)
{
    pthread_mutex_lock(&b.lock);
    b.reserved = bytes > b.reserved ? 0 : b.reserved - bytes;
    b.released_since_trim += bytes;
    bool trim = trim_due(bytes);
    pthread_cond_broadcast(&b.freed);
    pthread_mutex_unlock(&b.lock);
    if (trim)
        malloc_trim(0);
}

void budget_tick(void)
{
    pthread_mutex_lock(&b.lock);
    bool trim = trim_due(0);
    pthread_mutex_unlock(&b.lock);
    if (trim)
        malloc_trim(0);
}

uint64_t budget_total(void)
{
    return b.total;
}

uint64_t budget_reserved(void)
{
    pthread_mutex_lock(&b.lock);
    uint64_t r = b.reserved;
    pthread_mutex_unlock(&b.lock);
    return r;
}

uint64_t budget_rejections(void)
{
    return atomic_load(&b.rejections);
}
