/* SPDX-License-Identifier: Apache-2.0 */
/* PostgreSQL array literals as statement parameters (registry_pg_array_int.h). */
#include "registry_pg_array_int.h"

/* The opening brace before the first element, a comma before the others (the caller closes
 * the array with '}'). */
static void arr_sep(capv_buf *b)
{
    capvi_buf_putc(b, b->len ? ',' : '{');
}

void capvi_pg_arr_text(capv_buf *b, const char *s, size_t len)
{
    arr_sep(b);
    if (s == NULL) {
        capvi_buf_puts(b, "NULL");
        return;
    }
    capvi_buf_putc(b, '"');
    size_t done = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '"' && s[i] != '\\')
            continue;
        capvi_buf_append(b, s + done, i - done);
        capvi_buf_putc(b, '\\');
        done = i;
    }
    capvi_buf_append(b, s + done, len - done);
    capvi_buf_putc(b, '"');
}

void capvi_pg_arr_bytes(capv_buf *b, const uint8_t *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    arr_sep(b);
    if (data == NULL) {
        capvi_buf_puts(b, "NULL");
        return;
    }
    capvi_buf_puts(b, "\"\\\\x");
    if (!capvi_buf_reserve(b, 2 * len))
        return;
    for (size_t i = 0; i < len; i++) {
        b->data[b->len++] = (uint8_t)hex[data[i] >> 4];
        b->data[b->len++] = (uint8_t)hex[data[i] & 15];
    }
    capvi_buf_putc(b, '"');
}

void capvi_pg_arr_int(capv_buf *b, int64_t v)
{
    arr_sep(b);
    capvi_buf_put_int(b, v);
}
