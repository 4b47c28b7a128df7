/* SPDX-License-Identifier: Apache-2.0 */
/* UTF-8 well-formedness, shared by strict JSON (json.c) and error messages (status.c).
 * Depends on nothing, so both can use it without depending on each other. */
#ifndef CAPV_UTF8_INT_H
#define CAPV_UTF8_INT_H

#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at p[0] (a byte >= 0x80), or 0 if invalid:
 * overlong forms, UTF-16 surrogates, code points above U+10FFFF and sequences cut by `avail`
 * are invalid. */
size_t capvi_utf8_seq(const uint8_t *p, size_t avail);

/* Offset of the first byte of s[0..len) that is NUL or not part of well-formed UTF-8, or
 * `len` when there is none. */
size_t capvi_utf8_scan(const uint8_t *s, size_t len);

/* Turns each byte of the NUL-terminated `text` that is not part of well-formed UTF-8 into '?'
 * (input quoted in a message, a character cut where the message was truncated), so texts
 * headed for JSON reports, logs and HTTP answers are UTF-8. capvi_err_set applies it. */
void capvi_text_make_utf8(char *text);

#endif
