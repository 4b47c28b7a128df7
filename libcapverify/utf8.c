/* SPDX-License-Identifier: Apache-2.0 */
/* UTF-8 well-formedness (RFC 3629), without dependencies. */
#include <string.h>

#include "utf8_int.h"

size_t capvi_utf8_seq(const uint8_t *p, size_t avail)
{
    uint8_t c = p[0];
    size_t n;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (avail < n)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

size_t capvi_utf8_scan(const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        if (s[i] == 0)
            return i;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = capvi_utf8_seq(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

/* Messages and fields quote input (member names, keys) and are cut to their buffers, so
 * they may hold bytes that are not UTF-8, or half a character at the cut. */
void capvi_text_make_utf8(char *text)
{
    unsigned char *s = (unsigned char *)text;
    size_t len = strlen(text);
    for (size_t i = 0; i < len;) {
        size_t n = s[i] < 0x80 ? 1 : capvi_utf8_seq(s + i, len - i);
        if (n == 0)
            s[i++] = '?';
        else
            i += n;
    }
}
