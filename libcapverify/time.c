/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 3339 parsing and formatting without locale or timezone state; monotonic time. */
#include <string.h>
#include <time.h>

#include <capverify.h>

#include "error_int.h"
#include "time_int.h"

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), without timegm's global state. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool capvi_time_parse(int64_t *ms, const char *s, size_t len)
{
    capvi_instant t;
    if (!capvi_time_parse_instant(&t, s, len))
        return false;
    *ms = t.ms;
    return true;
}

int capvi_instant_cmp(capvi_instant a, capvi_instant b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    return a.ns < b.ns ? -1 : a.ns > b.ns;
}

bool capvi_time_parse_instant(capvi_instant *t, const char *s, size_t len)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, mo, d, h, mi, se;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60)
        return false;
    if (d > mdays[mo - 1] + (mo == 2 && leap(y)))
        return false;
    size_t i = 19;
    int32_t frac_ns = 0; /* of the second; digits beyond the ninth are cut */
    if (i < len && s[i] == '.') {
        i++;
        size_t start = i;
        int32_t scale = 100000000;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            frac_ns += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start)
            return false;
    }
    int offset_min = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != len)
        return false;
    if (se == 60) {
        /* a leap second (…:60, whatever its fraction) is read as the last nanosecond of the
         * second before it: after every time written with :59, before the next minute
         * (docs/formats.md) */
        se = 59;
        frac_ns = 999999999;
    }
    int64_t secs =
        days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - (int64_t)offset_min * 60;
    t->ms = secs * 1000 + frac_ns / 1000000;
    t->ns = frac_ns % 1000000;
    return true;
}

/* Times outside years 0000..9999 are clamped to them: gmtime_r() fails (leaving `tm`
 * unset) when the year does not fit an int, and the output must stay a 4-digit-year RFC 3339
 * time that capvi_time_parse() reads back. */
#define TIME_MIN_MS INT64_C(-62167219200000) /* 0000-01-01T00:00:00.000Z */
#define TIME_MAX_MS INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */

static void split(int64_t ms, struct tm *tm, int *millis)
{
    if (ms < TIME_MIN_MS)
        ms = TIME_MIN_MS;
    else if (ms > TIME_MAX_MS)
        ms = TIME_MAX_MS;
    int64_t secs = ms / 1000;
    int64_t rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs--;
    }
    time_t t = (time_t)secs;
    gmtime_r(&t, tm);
    *millis = (int)rem;
}

/* `n` (0 <= n < 10^width) as `width` decimal digits at `p`; returns the end. */
static char *put_digits(char *p, int n, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + n % 10);
        n /= 10;
    }
    return p + width;
}

/* YYYY-MM-DDTHH:MM:SS of `tm` (a year in 0000..9999, as split() gives) at `p`; returns the
 * end. Written digit by digit: this runs for every log line and every recorded verification. */
static char *date_time(char *p, const struct tm *tm)
{
    p = put_digits(p, tm->tm_year + 1900, 4);
    *p++ = '-';
    p = put_digits(p, tm->tm_mon + 1, 2);
    *p++ = '-';
    p = put_digits(p, tm->tm_mday, 2);
    *p++ = 'T';
    p = put_digits(p, tm->tm_hour, 2);
    *p++ = ':';
    p = put_digits(p, tm->tm_min, 2);
    *p++ = ':';
    return put_digits(p, tm->tm_sec, 2);
}

void capvi_time_format_ms(char out[32], int64_t ms)
{
    struct tm tm;
    int millis;
    split(ms, &tm, &millis);
    char *p = date_time(out, &tm);
    *p++ = '.';
    p = put_digits(p, millis, 3);
    memcpy(p, "Z", 2);
}

void capvi_time_format_s(char out[32], int64_t ms)
{
    struct tm tm;
    int millis;
    split(ms, &tm, &millis);
    memcpy(date_time(out, &tm), "Z", 2);
}

int64_t capvi_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t capvi_age_ms(capv_clock_fn clock, void *user)
{
    return clock == capv_clock_system ? capvi_mono_ms() : clock(user);
}

void capvi_mono_deadline(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

capv_status capv_rfc3339_parse(int64_t *out_ms, const char *text, size_t len, capv_error *err)
{
    if (out_ms == NULL || text == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (!capvi_time_parse(out_ms, text, len))
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "not an RFC 3339 time: '%.*s'",
                             len > 64 ? 64 : (int)len, text);
    return capvi_err_done(err, CAPV_OK);
}

void capv_rfc3339_format(char out[CAPV_RFC3339_SIZE], int64_t ms)
{
    capvi_time_format_s(out, ms);
}
