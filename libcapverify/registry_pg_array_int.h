/* SPDX-License-Identifier: Apache-2.0 */
/* PostgreSQL array literals as statement parameters (registry_pg_array.c): each column of a
 * batch of rows is one text-format array ("{…}") that the statement reads with unnest() or
 * = ANY(), so a batch costs the server one parse and plan (docs/registry.md "PostgreSQL
 * backend"). Appended to a capv_buf that starts empty; NULL elements are SQL NULL. */
#ifndef CAPV_REGISTRY_PG_ARRAY_INT_H
#define CAPV_REGISTRY_PG_ARRAY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* A text element: quoted, backslash and double quote escaped. */
void capvi_pg_arr_text(capv_buf *b, const char *s, size_t len);
/* A bytea element: "\\x" + hex inside the quotes. */
void capvi_pg_arr_bytes(capv_buf *b, const uint8_t *data, size_t len);
void capvi_pg_arr_int(capv_buf *b, int64_t v);

#endif
