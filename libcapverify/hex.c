/* SPDX-License-Identifier: Apache-2.0 */
/* Hex digests and byte strings (docs/formats.md, "Digests"). */
#include <string.h>

#include "error_int.h"
#include "hex_int.h"

static const char hex_digits[] = "0123456789abcdef";

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void capv_digest_format(char out[CAPV_DIGEST_HEX_SIZE], const uint8_t digest[32])
{
    out[0] = '0';
    out[1] = 'x';
    for (size_t i = 0; i < 32; i++) {
        out[2 + 2 * i] = hex_digits[digest[i] >> 4];
        out[3 + 2 * i] = hex_digits[digest[i] & 0xf];
    }
    out[66] = '\0';
}

capv_status capv_hex_encode(char *out, size_t cap, const uint8_t *data, size_t len, capv_error *err)
{
    if (out == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (len > (SIZE_MAX - 1) / 2 || cap < 2 * len + 1)
        return capvi_err_set(err, CAPV_E_BUFFER_TOO_SMALL, NULL,
                             "%zu bytes need %zu characters of hex", len, 2 * len + 1);
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex_digits[data[i] >> 4];
        out[2 * i + 1] = hex_digits[data[i] & 0xf];
    }
    out[2 * len] = '\0';
    return capvi_err_done(err, CAPV_OK);
}

/* Decodes exactly 2*want hex digits from text (no prefix handling). */
static capv_status decode_digits(uint8_t *out, size_t want, const char *text, size_t len,
                                 capv_error *err)
{
    if (len != 2 * want)
        return capvi_err_set(err, CAPV_E_HEX, NULL, "expected %zu hex digits, got %zu", 2 * want,
                             len);
    for (size_t i = 0; i < want; i++) {
        int hi = hex_value(text[2 * i]);
        int lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return capvi_err_set(err, CAPV_E_HEX, NULL, "invalid hex digit at position %zu",
                                 hi < 0 ? 2 * i : 2 * i + 1);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return CAPV_OK;
}

capv_status capv_digest_parse(uint8_t out[32], const char *text, size_t len, capv_error *err)
{
    if (out == NULL || (text == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (len >= 2 && text[0] == '0' && text[1] == 'x') {
        text += 2;
        len -= 2;
    } else if (len >= 9 && memcmp(text, "sha3-256:", 9) == 0) {
        text += 9;
        len -= 9;
    } else {
        /* 64 bare digits could be any 32 bytes; a digest says what it is (docs/formats.md) */
        return capvi_err_set(err, CAPV_E_HEX, NULL,
                             "a digest is \"0x\" or \"sha3-256:\" and 64 hex digits");
    }
    uint8_t tmp[32];
    capv_status st = decode_digits(tmp, 32, text, len, err);
    if (st == CAPV_OK)
        memcpy(out, tmp, 32);
    return capvi_err_done(err, st);
}

capv_status capv_hex_decode(uint8_t *out, size_t want, const char *text, size_t len,
                            capv_error *err)
{
    if (out == NULL || (text == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (len >= 2 && text[0] == '0' && text[1] == 'x') {
        text += 2;
        len -= 2;
    }
    return capvi_err_done(err, decode_digits(out, want, text, len, err));
}

bool capvi_digest_is(const char *text, const uint8_t want[32])
{
    uint8_t have[32];
    return text != NULL && capv_digest_parse(have, text, strlen(text), NULL) == CAPV_OK &&
           memcmp(have, want, 32) == 0;
}

bool capvi_digest_same(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    uint8_t d[32];
    return capv_digest_parse(d, b, strlen(b), NULL) == CAPV_OK && capvi_digest_is(a, d);
}
