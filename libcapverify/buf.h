/* SPDX-License-Identifier: Apache-2.0 */
/* A growable byte buffer with a sticky failure flag, so writers can append many pieces and
 * check for allocation failure (or a size cap) once at the end. */
#ifndef CAPV_BUF_H
#define CAPV_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct capv_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max; /* 0 = unbounded; else appending past it fails */
    bool failed;
} capv_buf;

#define CAPV_BUF_INIT                                                                              \
    {                                                                                              \
        NULL, 0, 0, 0, false                                                                       \
    }

bool capvi_buf_reserve(capv_buf *b, size_t extra);
void capvi_buf_append(capv_buf *b, const void *data, size_t len);
void capvi_buf_putc(capv_buf *b, char c);
void capvi_buf_puts(capv_buf *b, const char *s);
/* Appends `v` in decimal (as "%lld" would). */
void capvi_buf_put_int(capv_buf *b, int64_t v);
/* Appends printf-formatted text. */
void capvi_buf_printf(capv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NUL-terminates and hands the storage to the caller (free with free()); the buffer is reset.
 * Returns NULL if any earlier operation failed. */
uint8_t *capvi_buf_take(capv_buf *b, size_t *len);
void capvi_buf_free(capv_buf *b);

#endif
