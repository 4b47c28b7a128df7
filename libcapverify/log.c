/* SPDX-License-Identifier: Apache-2.0 */
/* JSON-lines logging for the daemon (include/capverify/unstable/log.h; the fields are listed
 * in docs/runbook.md, "Logs"). Each line is built in memory, then written whole, in order.
 *
 * Unbuffered (the default): the thread that finds no write in progress writes its line at
 * once, and goes on writing, in one write() each time, the lines other threads queued
 * meanwhile (group write). So a quiet logger writes every line when it is made, a busy one
 * makes fewer system calls than lines, and a slow stdout blocks the one thread writing, not
 * every thread that logs.
 *
 * Buffered (capv_logger_set_flush_ms): lines below WARN wait in memory, and a thread of the
 * logger writes them in one write() at most flush_ms after the first of them, or as soon as
 * FLUSH_BYTES wait (a request line then costs a copy instead of a system call). A WARN or
 * ERROR line is written at once, after every line waiting before it, as unbuffered; freeing
 * the logger writes what waits. Only a crash loses lines: those of the last flush_ms. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <capverify/unstable/log.h>

#include "c_locale_int.h"
#include "file_int.h"
#include "json_int.h"
#include "time_int.h"

/* Bytes of lines that may wait for the write in progress; a thread whose line would go
 * beyond waits for that write to finish (lines are never dropped for lack of room). */
#define PENDING_MAX (4u << 20)
/* Buffered: waiting bytes that are written without waiting for the timer. */
#define FLUSH_BYTES (64u << 10)

struct capv_logger {
    int fd;
    atomic_int level;
    pthread_mutex_t lock;
    pthread_cond_t drained; /* signalled when the writer took the waiting lines */
    bool writing;           /* a thread is writing; others queue their lines in `pending` */
    bool cut;               /* the last write failed inside a line (the writing thread's) */
    capv_buf pending;
    /* buffered: the flushing thread, woken when lines start to wait or FLUSH_BYTES do */
    int flush_ms; /* 0: unbuffered */
    bool stop;
    pthread_t flusher;
    pthread_cond_t wake;
    capv_clock_fn clock;
    void *clock_user;
};

struct capv_log_entry {
    capv_logger *lg;
    capv_log_level level;
    capv_buf b;
};

static const char *const level_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

/* Writes a batch of whole lines (only the writing thread calls this; a stdout made
 * non-blocking is waited for, capvi_write_all_done). A failure never stops the service: the
 * batch's lines from there are lost. One that failed inside a line leaves it unfinished, so
 * the next batch begins with a newline: its first line is not glued to the rest of that one
 * (a full disk, a file size limit). */
static void write_batch(capv_logger *lg, const uint8_t *p, size_t n)
{
    size_t done = 0;
    if (lg->cut) {
        if (capvi_write_all_done(lg->fd, "\n", 1, &done) != 0)
            return;
        lg->cut = false;
    }
    if (capvi_write_all_done(lg->fd, p, n, &done) != 0)
        lg->cut = done > 0 && p[done - 1] != '\n';
}

/* Writes the waiting lines (under the lock, which it releases while writing; `writing` must
 * be false): one batch when `once`, else until none waits. */
static void write_pending(capv_logger *lg, bool once)
{
    lg->writing = true;
    while (lg->pending.len > 0) {
        size_t len = 0;
        uint8_t *batch = capvi_buf_take(&lg->pending, &len);
        pthread_cond_broadcast(&lg->drained);
        if (batch == NULL)
            break;
        pthread_mutex_unlock(&lg->lock);
        write_batch(lg, batch, len);
        free(batch);
        pthread_mutex_lock(&lg->lock);
        if (once)
            break;
    }
    lg->writing = false;
    pthread_cond_broadcast(&lg->drained);
}

/* Under the lock: waits for the write in progress, then writes what still waits
 * (write_pending). */
static void write_after_writer(capv_logger *lg, bool once)
{
    while (lg->writing)
        pthread_cond_wait(&lg->drained, &lg->lock);
    if (lg->pending.len > 0)
        write_pending(lg, once);
}

/* Queues the finished line `line` (taken) after every line queued before it, and writes it
 * now unless the logger is buffered and the line is below WARN (see the top of this file). */
static void emit(capv_logger *lg, uint8_t *line, size_t len, capv_log_level level)
{
    bool buffered = lg->flush_ms > 0 && level < CAPV_LOG_WARN;
    pthread_mutex_lock(&lg->lock);
    while ((lg->writing || lg->flush_ms > 0) && lg->pending.len > 0 &&
           lg->pending.len + len > PENDING_MAX) {
        if (lg->flush_ms > 0)
            pthread_cond_signal(&lg->wake);
        pthread_cond_wait(&lg->drained, &lg->lock);
    }
    bool was_empty = lg->pending.len == 0;
    capvi_buf_append(&lg->pending, line, len);
    if (lg->pending.failed) /* out of memory: this line is lost, the queued ones kept */
        lg->pending.failed = false;
    if (buffered) {
        if (was_empty || lg->pending.len >= FLUSH_BYTES)
            pthread_cond_signal(&lg->wake);
    } else if (lg->flush_ms > 0) {
        /* a WARN or ERROR line of a buffered logger is written before this returns; lines
         * that arrive during the write are the flushing thread's */
        write_after_writer(lg, true);
        if (lg->pending.len > 0)
            pthread_cond_signal(&lg->wake);
    } else if (!lg->writing) {
        write_pending(lg, false);
    }
    pthread_mutex_unlock(&lg->lock);
    free(line); /* not under the lock every request thread's line waits for */
}

/* The flushing thread of a buffered logger: from the first waiting line, flush_ms (or until
 * FLUSH_BYTES wait), then one write of all of them; at stop, everything left. */
static void *flush_main(void *arg)
{
    capv_logger *lg = arg;
    pthread_mutex_lock(&lg->lock);
    for (;;) {
        while (!lg->stop && lg->pending.len == 0)
            pthread_cond_wait(&lg->wake, &lg->lock);
        if (!lg->stop && lg->pending.len < FLUSH_BYTES) {
            struct timespec dl;
            capvi_mono_deadline(&dl, lg->flush_ms);
            while (!lg->stop && lg->pending.len < FLUSH_BYTES &&
                   pthread_cond_timedwait(&lg->wake, &lg->lock, &dl) == 0)
                ;
        }
        write_after_writer(lg, !lg->stop); /* after a WARN or ERROR line's writer */
        if (lg->stop && lg->pending.len == 0)
            break;
    }
    pthread_mutex_unlock(&lg->lock);
    return NULL;
}

capv_status capv_logger_new(capv_logger **out, int fd, capv_log_level level, capv_error *err)
{
    if (out == NULL || fd < 0 || level < CAPV_LOG_DEBUG || level > CAPV_LOG_ERROR)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "invalid logger arguments");
    capv_logger *lg = calloc(1, sizeof *lg);
    if (lg == NULL)
        return capvi_err_nomem(err);
    lg->fd = fd;
    atomic_init(&lg->level, (int)level);
    pthread_mutex_init(&lg->lock, NULL);
    pthread_cond_init(&lg->drained, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&lg->wake, &ca);
    pthread_condattr_destroy(&ca);
    lg->pending = (capv_buf)CAPV_BUF_INIT;
    lg->clock = capv_clock_system;
    *out = lg;
    return capvi_err_done(err, CAPV_OK);
}

void capv_logger_free(capv_logger *lg)
{
    if (lg == NULL)
        return;
    if (lg->flush_ms > 0) { /* the flushing thread writes what waits, then ends */
        pthread_mutex_lock(&lg->lock);
        lg->stop = true;
        pthread_cond_signal(&lg->wake);
        pthread_mutex_unlock(&lg->lock);
        pthread_join(lg->flusher, NULL);
    }
    pthread_cond_destroy(&lg->wake);
    pthread_cond_destroy(&lg->drained);
    pthread_mutex_destroy(&lg->lock);
    capvi_buf_free(&lg->pending);
    free(lg);
}

capv_status capv_logger_set_flush_ms(capv_logger *lg, int flush_ms, capv_error *err)
{
    if (lg == NULL || flush_ms < 0 || flush_ms > CAPV_LOG_FLUSH_MS_MAX)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "the flush interval must be 0..%d ms",
                             CAPV_LOG_FLUSH_MS_MAX);
    if (lg->flush_ms > 0)
        return capvi_err_set(err, CAPV_E_STATE, NULL,
                             "the logger is buffered already (its interval is set once)");
    if (flush_ms == 0)
        return capvi_err_done(err, CAPV_OK);
    lg->flush_ms = flush_ms;
    int rc = pthread_create(&lg->flusher, NULL, flush_main, lg);
    if (rc != 0) {
        lg->flush_ms = 0;
        return capvi_err_set(err, CAPV_E_INTERNAL, NULL, "cannot start the log flushing thread: %s",
                             strerror(rc));
    }
    return capvi_err_done(err, CAPV_OK);
}

void capv_logger_flush(capv_logger *lg)
{
    if (lg == NULL)
        return;
    pthread_mutex_lock(&lg->lock);
    write_after_writer(lg, false);
    pthread_mutex_unlock(&lg->lock);
}

void capv_logger_set_level(capv_logger *lg, capv_log_level level)
{
    if (lg != NULL && level >= CAPV_LOG_DEBUG && level <= CAPV_LOG_ERROR)
        atomic_store(&lg->level, (int)level);
}

capv_log_level capv_logger_level(const capv_logger *lg)
{
    return lg ? (capv_log_level)atomic_load(&((capv_logger *)lg)->level) : CAPV_LOG_ERROR;
}

void capv_logger_set_clock(capv_logger *lg, capv_clock_fn clock, void *user)
{
    if (lg == NULL)
        return;
    lg->clock = clock ? clock : capv_clock_system;
    lg->clock_user = clock ? user : NULL;
}

capv_status capv_log_level_parse(capv_log_level *out, const char *name, capv_error *err)
{
    if (out == NULL || name == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (capv_log_level)i;
            return capvi_err_done(err, CAPV_OK);
        }
    if (strcasecmp(name, "warning") == 0) {
        *out = CAPV_LOG_WARN;
        return capvi_err_done(err, CAPV_OK);
    }
    return capvi_err_set(err, CAPV_E_INVALID_ARG, "level",
                         "unknown log level '%.32s' (debug, info, warn, error)", name);
}

const char *capv_log_level_name(capv_log_level level)
{
    return level >= CAPV_LOG_DEBUG && level <= CAPV_LOG_ERROR ? level_names[level] : "UNKNOWN";
}

static void key(capv_log_entry *e, const char *k)
{
    capvi_buf_putc(&e->b, ',');
    capvi_json_write_string(&e->b, k, strlen(k));
    capvi_buf_putc(&e->b, ':');
}

/* Strings in logs come from anywhere (paths, peer messages): invalid UTF-8 is replaced so
 * every line stays valid JSON. */
static void safe_string(capv_buf *b, const char *s)
{
    size_t len = strlen(s);
    if (capvi_utf8_check((const uint8_t *)s, len, NULL) == CAPV_OK) {
        capvi_json_write_string(b, s, len);
        return;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        b->failed = true;
        return;
    }
    for (size_t i = 0; i < len; i++)
        copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    capvi_json_write_string(b, copy, len);
    free(copy);
}

capv_log_entry *capv_log_begin(capv_logger *lg, capv_log_level level, const char *event)
{
    if (lg == NULL || (int)level < atomic_load(&lg->level))
        return NULL;
    capv_log_entry *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->lg = lg;
    e->level = level;
    char t[32];
    capvi_time_format_ms(t, lg->clock(lg->clock_user));
    capvi_buf_puts(&e->b, "{\"timestamp\":\"");
    capvi_buf_puts(&e->b, t);
    capvi_buf_puts(&e->b, "\",\"level\":\"");
    capvi_buf_puts(&e->b, capv_log_level_name(level));
    capvi_buf_putc(&e->b, '"');
    if (event != NULL) {
        key(e, "event");
        safe_string(&e->b, event);
    }
    return e;
}

void capv_log_str(capv_log_entry *e, const char *k, const char *value)
{
    if (e == NULL || k == NULL || value == NULL)
        return;
    key(e, k);
    safe_string(&e->b, value);
}

void capv_log_int(capv_log_entry *e, const char *k, int64_t value)
{
    if (e == NULL || k == NULL)
        return;
    key(e, k);
    capvi_buf_put_int(&e->b, value);
}

void capv_log_double(capv_log_entry *e, const char *k, double value)
{
    if (e == NULL || k == NULL)
        return;
    key(e, k);
    if (!isfinite(value)) {
        capvi_buf_puts(&e->b, "null");
        return;
    }
    /* three decimals, written without printf (a few of these go into every request's line);
     * beyond what thousandths in an int64_t hold, printf's own */
    if (fabs(value) >= 9e15) {
        char text[320]; /* DBL_MAX has 309 digits */
        capvi_snprintf(text, sizeof text, "%.3f", value);
        capvi_buf_puts(&e->b, text);
        return;
    }
    int64_t m = llround(value * 1000.0);
    if (m < 0) {
        capvi_buf_putc(&e->b, '-');
        m = -m;
    } else if (signbit(value)) {
        capvi_buf_putc(&e->b, '-'); /* as printf writes -0.0001: "-0.000" */
    }
    char frac[4] = { '.', (char)('0' + m / 100 % 10), (char)('0' + m / 10 % 10),
                     (char)('0' + m % 10) };
    capvi_buf_put_int(&e->b, m / 1000);
    capvi_buf_append(&e->b, frac, sizeof frac);
}

void capv_log_bool(capv_log_entry *e, const char *k, bool value)
{
    if (e == NULL || k == NULL)
        return;
    key(e, k);
    capvi_buf_puts(&e->b, value ? "true" : "false");
}

void capv_log_end(capv_log_entry *e, const char *fmt, ...)
{
    if (e == NULL)
        return;
    char msg[1024] = "";
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    key(e, "message");
    safe_string(&e->b, msg);
    capvi_buf_puts(&e->b, "}\n");
    size_t len = 0;
    uint8_t *line = capvi_buf_take(&e->b, &len);
    capv_logger *lg = e->lg;
    capv_log_level level = e->level;
    free(e);
    if (line == NULL)
        return;
    emit(lg, line, len, level);
}
