/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 3339 timestamps <-> milliseconds since the Unix epoch (UTC); monotonic time. */
#ifndef CAPV_TIME_INT_H
#define CAPV_TIME_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)" (T/Z in either case); fractions beyond
 * milliseconds are truncated. False for anything else, including impossible dates. */
bool capvi_time_parse(int64_t *ms, const char *text, size_t len);

/* A time to the nanosecond, as RFC 3339 fractions may give it: milliseconds since the epoch
 * and the nanoseconds beyond them (0..999999). */
typedef struct capvi_instant {
    int64_t ms;
    int32_t ns;
} capvi_instant;
/* capvi_time_parse to the nanosecond (fraction digits beyond the ninth are cut). */
bool capvi_time_parse_instant(capvi_instant *t, const char *text, size_t len);
/* <0, 0, >0 as a is before, at or after b. */
int capvi_instant_cmp(capvi_instant a, capvi_instant b);

/* Formats as "YYYY-MM-DDTHH:MM:SS.mmmZ" (the style of the logs, docs/runbook.md "Logs") into out
 * (>= 32 bytes). Times outside years 0000..9999 are clamped to them, so the output always parses
 * back. */
void capvi_time_format_ms(char out[32], int64_t ms);
/* Formats as "YYYY-MM-DDTHH:MM:SSZ". */
void capvi_time_format_s(char out[32], int64_t ms);

struct timespec;
/* Milliseconds on CLOCK_MONOTONIC. */
int64_t capvi_mono_ms(void);
/* "Now" for measuring ages (TTLs, staleness, rate limits) on an object with an injectable
 * clock: CLOCK_MONOTONIC when `clock` is the default, capv_clock_system, so that a step of
 * the wall clock neither keeps an entry alive nor ends it; else clock(user), a test's. Only
 * differences of two values mean anything. */
int64_t capvi_age_ms(int64_t (*clock)(void *user), void *user);
/* `ms` milliseconds from now on CLOCK_MONOTONIC, for pthread_cond_timedwait on a condition
 * variable with that clock. */
void capvi_mono_deadline(struct timespec *ts, int64_t ms);

#endif
