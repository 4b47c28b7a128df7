/* SPDX-License-Identifier: Apache-2.0 */
/* Comparing digests written as text (hex.c, docs/formats.md "Digests"): any form
 * capv_digest_parse reads names the same 32 bytes. */
#ifndef CAPV_HEX_INT_H
#define CAPV_HEX_INT_H

#include <stdbool.h>
#include <stdint.h>

/* Whether `text` (NULL: no) is a digest naming `want`. */
bool capvi_digest_is(const char *text, const uint8_t want[32]);
/* Whether two digest texts name the same digest; two NULLs are the same. */
bool capvi_digest_same(const char *a, const char *b);

#endif
