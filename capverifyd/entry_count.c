/* SPDX-License-Identifier: Apache-2.0 */
/* The registry's entry count for /metrics (docs/runbook.md, "Registry: inspect"). A count
 * is a query (`SELECT count(*)` on PostgreSQL) that waits for a free reader connection and
 * then for the database, up to the connection's tcp_user_timeout when its host does not
 * answer: a scrape that counted would time out, `up` would fall to 0 on every replica and the
 * fault counters the scrape carries would vanish. So this thread counts, and the scrape
 * exports the last count that succeeded. */
#include "entry_count.h"

#include <pthread.h>
#include <time.h>

#include "daemon.h"

/* How often the entries are counted: the gauge is at most this old. */
#define ENTRY_COUNT_REFRESH_MS 15000
/* How long a scrape waits for a count it asked for after a write of this replica. */
#define ENTRY_COUNT_WAIT_MS 500

static struct {
    pthread_mutex_t m;
    pthread_cond_t wake; /* the thread: a count asked for, or the stop */
    pthread_cond_t done; /* the scrapes: a count ended */
    pthread_t thread;
    bool running, stop, asked, counting;
    uint64_t rounds;           /* counts ended (or skipped) */
    int64_t value;             /* the last count that succeeded, or -1 */
    bool begun;                /* a count has begun, at `added_then` */
    uint64_t added;            /* entries this daemon added (entry_count_added) */
    uint64_t added_then;       /* ...when the last count began */
    capv_registry *using;      /* the handle a PostgreSQL count runs on, outside d->lock */
    capv_registry *close_then; /* ...which entry_count_release left for it to close */
} ec = { .m = PTHREAD_MUTEX_INITIALIZER, .value = -1 };

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec mono_after(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

/* One count, under the rules of a scrape: the read lock only when no reload waits for the
 * write lock (tryrdlock). A SQLite count keeps it (a local file; a reopen closes the handle
 * under the write lock). A PostgreSQL count lets go of it before the query, so that a
 * database that does not answer holds up no reload: a reload that replaces the handle
 * meanwhile leaves its close to this thread (entry_count_release). Returns false when it
 * could not count now (a reload waits, or no registry is open). */
static bool count_once(capvd *d)
{
    if (pthread_rwlock_tryrdlock(&d->lock) != 0)
        return false;
    capv_registry *reg = d->registry;
    if (reg == NULL) {
        pthread_rwlock_unlock(&d->lock);
        return false;
    }
    bool remote = d->cfg.registry_url != NULL && *d->cfg.registry_url;
    pthread_mutex_lock(&ec.m);
    ec.counting = true;
    ec.begun = true;
    ec.added_then = ec.added;
    ec.using = remote ? reg : NULL;
    pthread_mutex_unlock(&ec.m);
    if (remote)
        pthread_rwlock_unlock(&d->lock);
    uint64_t n = 0;
    capv_status st = capv_registry_count(&n, reg, CAPV_REGISTRY_ENTRIES, NULL);
    pthread_mutex_lock(&ec.m);
    if (st == CAPV_OK)
        ec.value = (int64_t)n;
    ec.counting = false;
    ec.using = NULL;
    capv_registry *close_then = ec.close_then;
    ec.close_then = NULL;
    pthread_mutex_unlock(&ec.m);
    if (!remote)
        pthread_rwlock_unlock(&d->lock);
    capv_registry_close(close_then);
    return true;
}

static void *run(void *arg)
{
    capvd *d = arg;
    int64_t due = 0;
    pthread_mutex_lock(&ec.m);
    while (!ec.stop) {
        if (ec.asked || mono_ms() >= due) {
            ec.asked = false;
            pthread_mutex_unlock(&ec.m);
            /* not counted now: tried again in a second */
            due = mono_ms() + (count_once(d) ? ENTRY_COUNT_REFRESH_MS : 1000);
            pthread_mutex_lock(&ec.m);
            ec.rounds++;
            pthread_cond_broadcast(&ec.done);
            continue;
        }
        struct timespec until = mono_after(due - mono_ms());
        pthread_cond_timedwait(&ec.wake, &ec.m, &until);
    }
    pthread_mutex_unlock(&ec.m);
    return NULL;
}

bool entry_count_start(capvd *d)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ec.wake, &attr);
    pthread_cond_init(&ec.done, &attr);
    pthread_condattr_destroy(&attr);
    ec.running = pthread_create(&ec.thread, NULL, run, d) == 0;
    return ec.running;
}

bool entry_count_stop(int wait_ms)
{
    if (!ec.running)
        return true;
    pthread_mutex_lock(&ec.m);
    ec.stop = true;
    pthread_cond_signal(&ec.wake);
    pthread_mutex_unlock(&ec.m);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    deadline.tv_sec += deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    if (pthread_timedjoin_np(ec.thread, NULL, &deadline) != 0) {
        /* only a PostgreSQL count can wait for a server that does not answer; a SQLite
         * count (a large file, a busy lock) ends, and is waited for */
        pthread_mutex_lock(&ec.m);
        bool remote = ec.using != NULL;
        pthread_mutex_unlock(&ec.m);
        if (remote)
            return false;
        pthread_join(ec.thread, NULL);
    }
    ec.running = false;
    return true;
}

void entry_count_added(void)
{
    pthread_mutex_lock(&ec.m);
    ec.added++;
    pthread_mutex_unlock(&ec.m);
}

int64_t entry_count_get(bool ask)
{
    pthread_mutex_lock(&ec.m);
    if (ask && ec.running && !ec.stop && !ec.counting && (!ec.begun || ec.added != ec.added_then)) {
        /* this replica added an entry since: its own entries show at once (another's
         * within ENTRY_COUNT_REFRESH_MS) */
        uint64_t round = ec.rounds;
        ec.asked = true;
        pthread_cond_signal(&ec.wake);
        struct timespec until = mono_after(ENTRY_COUNT_WAIT_MS);
        while (ec.rounds == round && pthread_cond_timedwait(&ec.done, &ec.m, &until) == 0)
            ;
    }
    int64_t v = ec.value;
    pthread_mutex_unlock(&ec.m);
    return v;
}

bool entry_count_release(capv_registry *reg)
{
    if (reg == NULL)
        return false;
    pthread_mutex_lock(&ec.m);
    bool taken = ec.using == reg;
    if (taken)
        ec.close_then = reg;
    pthread_mutex_unlock(&ec.m);
    return taken;
}
