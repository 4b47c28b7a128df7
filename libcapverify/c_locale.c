/* SPDX-License-Identifier: Apache-2.0 */
/* Numbers in the C locale (c_locale_int.h). A program linking the library may call
 * setlocale(LC_NUMERIC, "de_DE.UTF-8"), after which strtod reads "0.5" as 0 and printf
 * writes "0,5": a policy's threshold, a canonical hash or a JSON log line would change with
 * the host's locale. One C locale object, made once, is used for every conversion:
 * strtod_l reads with it, and printing switches the calling thread to it for the call
 * (uselocale is per thread: other threads and the host's own setting are untouched). */
#include "c_locale_int.h"

#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static locale_t c_locale; /* (locale_t)0 when newlocale failed: the calls below then use the
                           * thread's locale, as strtod and snprintf would */

static void make_c_locale(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static locale_t the_c_locale(void)
{
    pthread_once(&once, make_c_locale);
    return c_locale;
}

double capvi_strtod(const char *s, char **end)
{
    locale_t c = the_c_locale();
    return c != (locale_t)0 ? strtod_l(s, end, c) : strtod(s, end);
}

int capvi_snprintf(char *out, size_t size, const char *fmt, ...)
{
    locale_t c = the_c_locale();
    locale_t old = c != (locale_t)0 ? uselocale(c) : (locale_t)0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    if (old != (locale_t)0)
        uselocale(old);
    return n;
}
