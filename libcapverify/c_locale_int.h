/* SPDX-License-Identifier: Apache-2.0 */
/* Numbers read and written in the C locale (c_locale.c), whatever locale the host program
 * set with setlocale(3): JSON, YAML, the policy engine's canonical forms and the log always
 * use '.' as the decimal point (docs/architecture.md, "Numbers and the locale"). */
#ifndef CAPV_C_LOCALE_INT_H
#define CAPV_C_LOCALE_INT_H

#include <stddef.h>

/* strtod(3) in the C locale. */
double capvi_strtod(const char *s, char **end);

/* snprintf(3) in the C locale. */
int capvi_snprintf(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
