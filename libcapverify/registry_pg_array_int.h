/* SPDX-License-Identifier: Apache-2.0 */
/* Array statement parameters for the PostgreSQL registry (registry_pg_array.c): each column
 * of a batch of rows is one one-dimensional array that the statement reads with unnest() or
 * = ANY(), so a batch costs the server one parse and plan (docs/registry.md "PostgreSQL
 * backend"). The arrays go in PostgreSQL's binary format (the server's array_recv): no
 * quoting, escaping or hex to write, and nothing to parse on the server but lengths. */
#ifndef CAPV_REGISTRY_PG_ARRAY_INT_H
#define CAPV_REGISTRY_PG_ARRAY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The element types (their OIDs in pg_type; the statement casts the parameter to the same
 * array type, e.g. $1::text[], or the server refuses the array). */
typedef enum capvi_pg_elem {
    CAPVI_PG_BYTEA = 17,
    CAPVI_PG_INT8 = 20,
    CAPVI_PG_INT2 = 21,
    CAPVI_PG_TEXT = 25,
} capvi_pg_elem;

typedef struct capvi_pg_array {
    capv_buf b; /* the header (written by capvi_pg_array_finish), then the elements */
    uint32_t n;
    bool nulls;
    capvi_pg_elem elem;
} capvi_pg_array;

/* An empty array of `elem` (free with capvi_pg_array_free). */
void capvi_pg_array_init(capvi_pg_array *a, capvi_pg_elem elem);
/* A text or bytea element of `len` bytes (NULL: SQL NULL), or an integer element (int8 or
 * int2 as the array's type says; an int2 takes the low 16 bits). */
void capvi_pg_array_bytes(capvi_pg_array *a, const void *data, size_t len);
void capvi_pg_array_str(capvi_pg_array *a, const char *s);
void capvi_pg_array_int(capvi_pg_array *a, int64_t v);
/* Completes the header: the array is then a binary parameter of a->b.len bytes at a->b.data
 * (capvi_pg_param_bytes). False when memory ran out on the way. */
bool capvi_pg_array_finish(capvi_pg_array *a);
void capvi_pg_array_free(capvi_pg_array *a);

#endif
