/* SPDX-License-Identifier: Apache-2.0 */
/* Arrays in PostgreSQL's binary format (registry_pg_array_int.h), as the server's array_recv
 * reads them, every integer big-endian: the number of dimensions (1, or 0 when empty), a
 * flag set when an element is NULL, the element type's OID, for the one dimension its length
 * and lower bound (1); then each element as its length (-1: NULL) and its bytes in the
 * element type's binary form (text and bytea as they are, int8 and int2 big-endian). */
#include <string.h>

#include "registry_pg_array_int.h"

/* ndim, flags, element type; then the dimension's length and lower bound */
#define ARRAY_HEADER 20u

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void capvi_pg_array_init(capvi_pg_array *a, capvi_pg_elem elem)
{
    *a = (capvi_pg_array){ .b = CAPV_BUF_INIT, .elem = elem };
    a->b.max = INT32_MAX; /* a parameter's length is an int */
    if (capvi_buf_reserve(&a->b, ARRAY_HEADER)) {
        memset(a->b.data, 0, ARRAY_HEADER);
        a->b.len = ARRAY_HEADER;
    }
}

/* Room for an element of `len` bytes after its length word; NULL when memory ran out. */
static uint8_t *element(capvi_pg_array *a, size_t len)
{
    if (!capvi_buf_reserve(&a->b, 4 + len))
        return NULL;
    put32(a->b.data + a->b.len, (uint32_t)len);
    uint8_t *p = a->b.data + a->b.len + 4;
    a->b.len += 4 + len;
    a->n++;
    return p;
}

void capvi_pg_array_bytes(capvi_pg_array *a, const void *data, size_t len)
{
    if (data == NULL) {
        if (capvi_buf_reserve(&a->b, 4)) {
            put32(a->b.data + a->b.len, UINT32_MAX); /* -1 */
            a->b.len += 4;
            a->n++;
            a->nulls = true;
        }
        return;
    }
    uint8_t *p = element(a, len);
    if (p != NULL && len > 0)
        memcpy(p, data, len);
}

void capvi_pg_array_str(capvi_pg_array *a, const char *s)
{
    capvi_pg_array_bytes(a, s, s ? strlen(s) : 0);
}

void capvi_pg_array_int(capvi_pg_array *a, int64_t v)
{
    size_t width = a->elem == CAPVI_PG_INT2 ? 2 : 8;
    uint8_t *p = element(a, width);
    for (size_t i = 0; p != NULL && i < width; i++)
        p[i] = (uint8_t)((uint64_t)v >> (8 * (width - 1 - i)));
}

bool capvi_pg_array_finish(capvi_pg_array *a)
{
    if (a->b.failed || a->b.len < ARRAY_HEADER)
        return false;
    uint8_t *h = a->b.data;
    put32(h + 8, (uint32_t)a->elem);
    put32(h + 4, a->nulls ? 1 : 0);
    if (a->n == 0) { /* no dimensions: the header ends after the element type */
        put32(h, 0);
        a->b.len = 12;
        return true;
    }
    put32(h, 1);
    put32(h + 12, a->n);
    put32(h + 16, 1);
    return true;
}

void capvi_pg_array_free(capvi_pg_array *a)
{
    capvi_buf_free(&a->b);
}
