/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's JSON-lines logger (libcapverify/log.c): every line whole and valid JSON, none
 * lost, each thread's lines in the order it ended them, while many threads log at once into a
 * pipe whose reader is slow (so lines queue behind the write in progress and the writers
 * take turns writing the queue), unbuffered and buffered; what buffering delays and what it
 * does not. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <capverify.h>
#include <capverify/unstable/log.h>
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json_int.h"
#include "suites.h"

#define THREADS 8
#define LINES 3000

typedef struct writer {
    capv_logger *lg;
    int id;
} writer;

static void *write_lines(void *arg)
{
    writer *w = arg;
    char pad[200];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < LINES; i++) {
        /* now and then a WARN line, which a buffered logger writes at once */
        capv_log_entry *e =
            capv_log_begin(w->lg, i % 97 == 0 ? CAPV_LOG_WARN : CAPV_LOG_INFO, "test.line");
        capv_log_int(e, "thread", w->id);
        capv_log_int(e, "seq", i);
        capv_log_str(e, "pad", pad + (i % 150)); /* lines of different lengths */
        capv_log_end(e, "line %d of thread %d", i, w->id);
    }
    return NULL;
}

typedef struct reader {
    int fd;
    capv_buf got;
} reader;

/* Reads everything, slowly at first: small reads with pauses, so the pipe fills. */
static void *read_all(void *arg)
{
    reader *r = arg;
    uint8_t chunk[4096];
    for (int n = 0;; n++) {
        ssize_t k = read(r->fd, chunk, n < 200 ? 512 : sizeof chunk);
        if (k <= 0)
            break;
        capvi_buf_append(&r->got, chunk, (size_t)k);
        if (n < 200)
            nanosleep(&(struct timespec){ 0, 200000 }, NULL);
    }
    return NULL;
}

/* _i 0: unbuffered; 1: buffered (5 ms) */
START_TEST(concurrent_lines_whole_and_ordered)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    capv_logger *lg = NULL;
    ck_assert_int_eq(capv_logger_new(&lg, p[1], CAPV_LOG_INFO, NULL), CAPV_OK);
    if (_i == 1)
        ck_assert_int_eq(capv_logger_set_flush_ms(lg, 5, NULL), CAPV_OK);
    reader r = { p[0], CAPV_BUF_INIT };
    pthread_t rt, wt[THREADS];
    writer w[THREADS];
    ck_assert_int_eq(pthread_create(&rt, NULL, read_all, &r), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (writer){ lg, i };
        ck_assert_int_eq(pthread_create(&wt[i], NULL, write_lines, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(wt[i], NULL);
    capv_logger_free(lg);
    close(p[1]);
    pthread_join(rt, NULL);
    close(p[0]);
    ck_assert(!r.got.failed);

    int next[THREADS] = { 0 };
    size_t lines = 0;
    char *text = (char *)r.got.data;
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(text[r.got.len - 1], '\n');
    for (char *line = text; line < text + r.got.len;) {
        char *nl = memchr(line, '\n', (size_t)(text + r.got.len - line));
        ck_assert_ptr_nonnull(nl);
        cJSON *o = NULL;
        ck_assert_msg(capvi_json_parse(&o, (const uint8_t *)line, (size_t)(nl - line), NULL) ==
                          CAPV_OK,
                      "line %zu is not one JSON object: %.80s", lines, line);
        int64_t t = -1, seq = -1;
        ck_assert_int_eq(capvi_json_get_int(&t, o, "", "thread", 0, THREADS - 1, true, NULL),
                         CAPV_OK);
        ck_assert_int_eq(capvi_json_get_int(&seq, o, "", "seq", 0, LINES, true, NULL), CAPV_OK);
        ck_assert_int_eq(seq, next[t]); /* each thread's lines in order, none missing */
        next[t]++;
        cJSON_Delete(o);
        lines++;
        line = nl + 1;
    }
    ck_assert_uint_eq(lines, (size_t)THREADS * LINES);
    capvi_buf_free(&r.got);
}
END_TEST

/* The lines of `text` (len bytes, ending in a newline): each one JSON object with the
 * `event` wanted, in order; returns how many. */
static size_t count_events(const char *text, size_t len, const char *event)
{
    size_t lines = 0;
    for (const char *line = text; line < text + len;) {
        const char *nl = memchr(line, '\n', (size_t)(text + len - line));
        ck_assert_ptr_nonnull(nl);
        cJSON *o = NULL;
        ck_assert_msg(capvi_json_parse(&o, (const uint8_t *)line, (size_t)(nl - line), NULL) ==
                          CAPV_OK,
                      "line %zu is not one JSON object: %.80s", lines, line);
        const char *ev = NULL;
        ck_assert_int_eq(capvi_json_get_string(&ev, o, "", "event", true, NULL), CAPV_OK);
        ck_assert_str_eq(ev, event);
        cJSON_Delete(o);
        lines++;
        line = nl + 1;
    }
    return lines;
}

/* stdout may be a pipe another process made non-blocking: the logger waits for room as it
 * would on a blocking one, and loses nothing. */
START_TEST(nonblocking_descriptor_waited_for)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    (void)fcntl(p[1], F_SETPIPE_SZ, 4096);
    capv_logger *lg = NULL;
    ck_assert_int_eq(capv_logger_new(&lg, p[1], CAPV_LOG_INFO, NULL), CAPV_OK);
    reader r = { p[0], CAPV_BUF_INIT };
    pthread_t rt;
    ck_assert_int_eq(pthread_create(&rt, NULL, read_all, &r), 0);
    char pad[300];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < 200; i++) {
        capv_log_entry *e = capv_log_begin(lg, CAPV_LOG_INFO, "test.line");
        capv_log_str(e, "pad", pad);
        capv_log_end(e, "line %d", i);
    }
    capv_logger_free(lg);
    close(p[1]);
    pthread_join(rt, NULL);
    close(p[0]);
    ck_assert(!r.got.failed);
    ck_assert_ptr_nonnull(r.got.data);
    ck_assert_uint_eq(count_events((const char *)r.got.data, r.got.len, "test.line"), 200);
    capvi_buf_free(&r.got);
}
END_TEST

/* A write that fails inside a line (here at the file size limit) leaves it unfinished: the
 * next line begins on a line of its own instead of continuing that one. */
START_TEST(failed_write_inside_a_line)
{
    char path[] = "/tmp/capv-test-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    struct rlimit old, small;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = (struct rlimit){ 100, old.rlim_max };
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    capv_logger *lg = NULL;
    ck_assert_int_eq(capv_logger_new(&lg, fd, CAPV_LOG_INFO, NULL), CAPV_OK);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    capv_log_entry *e = capv_log_begin(lg, CAPV_LOG_INFO, "test.cut");
    capv_log_end(e, "longer than the 100 bytes the file may hold: %0100d", 0);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    for (int i = 0; i < 2; i++) {
        e = capv_log_begin(lg, CAPV_LOG_INFO, "test.after");
        capv_log_end(e, "after the limit");
    }
    capv_logger_free(lg);
    char text[1024];
    ssize_t n = pread(fd, text, sizeof text, 0);
    close(fd);
    ck_assert_int_gt(n, 101);
    /* the cut line's first 100 bytes, then the newline that ends it */
    ck_assert(memcmp(text, "{\"timestamp\"", 12) == 0);
    ck_assert_ptr_null(memchr(text, '\n', 100));
    ck_assert_int_eq(text[100], '\n');
    ck_assert_int_eq(text[n - 1], '\n');
    ck_assert_uint_eq(count_events(text + 101, (size_t)n - 101, "test.after"), 2);
}
END_TEST

/* Below the logger's level nothing is written; a level change takes effect at once. */
START_TEST(level_filters)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    capv_logger *lg = NULL;
    ck_assert_int_eq(capv_logger_new(&lg, p[1], CAPV_LOG_WARN, NULL), CAPV_OK);
    ck_assert_ptr_null(capv_log_begin(lg, CAPV_LOG_INFO, "quiet"));
    capv_log_end(capv_log_begin(lg, CAPV_LOG_WARN, "loud"), "shown");
    capv_logger_set_level(lg, CAPV_LOG_DEBUG);
    capv_log_end(capv_log_begin(lg, CAPV_LOG_DEBUG, "debug"), "shown too");
    capv_logger_free(lg);
    close(p[1]);
    char buf[2048];
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_ptr_nonnull(strstr(buf, "\"event\":\"loud\""));
    ck_assert_ptr_nonnull(strstr(buf, "\"event\":\"debug\""));
    ck_assert_ptr_null(strstr(buf, "quiet"));
}
END_TEST

/* What waits in the pipe within `ms` milliseconds (its read end is non-blocking), appended
 * to `got`. */
static void read_within(capv_buf *got, int fd, int ms)
{
    struct pollfd pf = { fd, POLLIN, 0 };
    if (poll(&pf, 1, ms) <= 0)
        return;
    char chunk[4096];
    ssize_t k;
    while ((k = read(fd, chunk, sizeof chunk)) > 0)
        capvi_buf_append(got, chunk, (size_t)k);
}

/* Whether a line of `event` is in what the pipe holds within `ms` milliseconds. */
static bool logged_within(int fd, int ms, const char *event)
{
    capv_buf got = CAPV_BUF_INIT;
    read_within(&got, fd, ms);
    capvi_buf_putc(&got, '\0');
    char want[96];
    snprintf(want, sizeof want, "\"event\":\"%s\"", event);
    bool found = !got.failed && strstr((char *)got.data, want) != NULL;
    capvi_buf_free(&got);
    return found;
}

static void log_line(capv_logger *lg, capv_log_level level, const char *event)
{
    capv_log_end(capv_log_begin(lg, level, event), "%s", event);
}

/* A buffered logger holds INFO lines until its interval has passed, writes a WARN line at
 * once with every line before it, in order, and writes what waits when it is flushed or
 * freed. */
START_TEST(buffered_lines)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    capv_logger *lg = NULL;
    ck_assert_int_eq(capv_logger_new(&lg, p[1], CAPV_LOG_INFO, NULL), CAPV_OK);
    ck_assert_int_eq(capv_logger_set_flush_ms(lg, -1, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_logger_set_flush_ms(lg, CAPV_LOG_FLUSH_MS_MAX + 1, NULL),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_logger_set_flush_ms(lg, 1000, NULL), CAPV_OK);
    ck_assert_int_eq(capv_logger_set_flush_ms(lg, 10, NULL), CAPV_E_STATE);
    capv_buf got = CAPV_BUF_INIT;

    log_line(lg, CAPV_LOG_INFO, "first");
    read_within(&got, p[0], 100);
    ck_assert_uint_eq(got.len, 0); /* waits for the interval */
    log_line(lg, CAPV_LOG_WARN, "second");
    read_within(&got, p[0], 0); /* written before capv_log_end returned */
    capvi_buf_putc(&got, '\0');
    char *a = strstr((char *)got.data, "\"event\":\"first\"");
    char *b = strstr((char *)got.data, "\"event\":\"second\"");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert(a < b);
    capvi_buf_free(&got);

    log_line(lg, CAPV_LOG_INFO, "third");
    ck_assert(logged_within(p[0], 5000, "third")); /* the interval passed */
    log_line(lg, CAPV_LOG_INFO, "fourth");
    capv_logger_flush(lg);
    ck_assert(logged_within(p[0], 0, "fourth"));
    log_line(lg, CAPV_LOG_INFO, "fifth");
    capv_logger_free(lg);
    ck_assert(logged_within(p[0], 0, "fifth"));
    close(p[0]);
    close(p[1]);
}
END_TEST

static int64_t fixed_clock(void *user)
{
    return *(const int64_t *)user;
}

/* Every field type as written into a line: the time in milliseconds, integers exactly,
 * numbers with three decimals (rounded, as printf's "%.3f" rounds them), null when not
 * finite. */
START_TEST(field_formats)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    capv_logger *lg = NULL;
    ck_assert_int_eq(capv_logger_new(&lg, p[1], CAPV_LOG_INFO, NULL), CAPV_OK);
    int64_t now = INT64_C(1765745397923);
    capv_logger_set_clock(lg, fixed_clock, &now);
    capv_log_entry *e = capv_log_begin(lg, CAPV_LOG_INFO, "formats");
    capv_log_int(e, "zero", 0);
    capv_log_int(e, "neg", -42);
    capv_log_int(e, "min", INT64_MIN);
    capv_log_int(e, "max", INT64_MAX);
    capv_log_double(e, "d1", 1.5);
    capv_log_double(e, "d2", 12345.6789);
    capv_log_double(e, "d3", -0.25);
    capv_log_double(e, "d4", -0.0001);
    capv_log_double(e, "d5", 0.0009996);
    capv_log_double(e, "d6", 2e16);
    capv_log_double(e, "d7", 1.0 / 0.0);
    capv_log_bool(e, "b", true);
    capv_log_end(e, "%s %d", "done", 7);
    capv_logger_free(lg);
    close(p[1]);
    char buf[2048];
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "{\"timestamp\":\"2025-12-14T20:49:57.923Z\",\"level\":\"INFO\","
                          "\"event\":\"formats\",\"zero\":0,\"neg\":-42,"
                          "\"min\":-9223372036854775808,\"max\":9223372036854775807,"
                          "\"d1\":1.500,\"d2\":12345.679,\"d3\":-0.250,\"d4\":-0.000,"
                          "\"d5\":0.001,\"d6\":20000000000000000.000,\"d7\":null,\"b\":true,"
                          "\"message\":\"done 7\"}\n");
}
END_TEST

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("lines");
    tcase_add_loop_test(tc, concurrent_lines_whole_and_ordered, 0, 2);
    tcase_add_test(tc, buffered_lines);
    tcase_add_test(tc, nonblocking_descriptor_waited_for);
    tcase_add_test(tc, failed_write_inside_a_line);
    tcase_add_test(tc, level_filters);
    tcase_add_test(tc, field_formats);
    suite_add_tcase(s, tc);
    return s;
}
