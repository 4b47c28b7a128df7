/* SPDX-License-Identifier: Apache-2.0 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool capvi_buf_reserve(capv_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (extra > SIZE_MAX - b->len - 1 || (b->max != 0 && b->len + extra > b->max)) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1; /* room for a terminating NUL */
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void capvi_buf_append(capv_buf *b, const void *data, size_t len)
{
    if (len == 0 || !capvi_buf_reserve(b, len))
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void capvi_buf_putc(capv_buf *b, char c)
{
    if (!capvi_buf_reserve(b, 1))
        return;
    b->data[b->len++] = (uint8_t)c;
}

void capvi_buf_puts(capv_buf *b, const char *s)
{
    capvi_buf_append(b, s, strlen(s));
}

void capvi_buf_put_int(capv_buf *b, int64_t v)
{
    char d[24];
    size_t i = sizeof d;
    /* the magnitude as unsigned: -INT64_MIN does not fit an int64_t */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        d[--i] = '-';
    capvi_buf_append(b, d + i, sizeof d - i);
}

void capvi_buf_printf(capv_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[128];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        capvi_buf_append(b, small, (size_t)n);
        return;
    }
    if (!capvi_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

uint8_t *capvi_buf_take(capv_buf *b, size_t *len)
{
    if (b->failed || !capvi_buf_reserve(b, 0)) {
        capvi_buf_free(b);
        return NULL;
    }
    b->data[b->len] = '\0';
    uint8_t *p = b->data;
    if (len != NULL)
        *len = b->len;
    *b = (capv_buf)CAPV_BUF_INIT;
    return p;
}

void capvi_buf_free(capv_buf *b)
{
    free(b->data);
    *b = (capv_buf)CAPV_BUF_INIT;
}
