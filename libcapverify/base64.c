/* SPDX-License-Identifier: Apache-2.0 */
/* Strict base64 (RFC 4648 §4, padded) and base64url (§5, unpadded, as JOSE uses it).
 * Accepts exactly the canonical encodings: no whitespace, no stray '=', no missing or extra
 * padding, and zero trailing bits in the last symbol. */
#include <string.h>

#include "error_int.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define BASE64_AVX2 1
#include <immintrin.h>
#endif

static const char alpha_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char alpha_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Symbol value + 1 of every byte; 0 for a byte that is not a symbol of the alphabet. The two
 * alphabets share their first 62 symbols. */
#define VALUE1_ALNUM                                                                               \
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,        \
    ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, \
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23,            \
    ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,            \
    ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37,            \
    ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44,            \
    ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51,            \
    ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58,            \
    ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62
static const uint8_t value1_std[256] = { VALUE1_ALNUM, ['+'] = 63, ['/'] = 64 };
static const uint8_t value1_url[256] = { VALUE1_ALNUM, ['-'] = 63, ['_'] = 64 };

#ifdef BASE64_AVX2
/* Decodes blocks of 32 symbols into 24 bytes each with AVX2, as long as every symbol of a
 * block is in the alphabet; returns the symbols consumed (a multiple of 32). The scalar loop
 * goes on from there, and finds and reports a bad symbol at its exact position. A JWT's
 * RSA signature is 342 symbols: this is most of its base64url cost gone. Each symbol's value
 * is itself plus the offset of its range (bytes of 0x80 and up compare as negative and fall
 * in none); pairs of 6-bit values are merged into 12 bits, pairs of those into 24, whose
 * three bytes are then gathered in order. */
__attribute__((target("avx2"))) static size_t decode_avx2(uint8_t *out, const unsigned char *s,
                                                          size_t n, bool url)
{
    const __m256i order = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
                                           2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
    /* (lo, hi) bounds of the three ranges, exclusive, and their offsets */
    const __m256i up_lo = _mm256_set1_epi8('A' - 1), up_hi = _mm256_set1_epi8('Z' + 1),
                  up_add = _mm256_set1_epi8(-'A');
    const __m256i low_lo = _mm256_set1_epi8('a' - 1), low_hi = _mm256_set1_epi8('z' + 1),
                  low_add = _mm256_set1_epi8(26 - 'a');
    const __m256i dig_lo = _mm256_set1_epi8('0' - 1), dig_hi = _mm256_set1_epi8('9' + 1),
                  dig_add = _mm256_set1_epi8(52 - '0');
    /* the two symbols of values 62 and 63, which differ between the alphabets */
    const char c62 = url ? '-' : '+', c63 = url ? '_' : '/';
    const __m256i s62 = _mm256_set1_epi8(c62), s63 = _mm256_set1_epi8(c63),
                  add62 = _mm256_set1_epi8((char)(62 - c62)),
                  add63 = _mm256_set1_epi8((char)(63 - c63));
    const __m256i merge12 = _mm256_set1_epi32(0x01400140), merge24 = _mm256_set1_epi32(0x00011000);
    size_t i = 0;
    for (; i + 32 <= n; i += 32, out += 24) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(s + i));
        __m256i up = _mm256_and_si256(_mm256_cmpgt_epi8(c, up_lo), _mm256_cmpgt_epi8(up_hi, c));
        __m256i low = _mm256_and_si256(_mm256_cmpgt_epi8(c, low_lo), _mm256_cmpgt_epi8(low_hi, c));
        __m256i dig = _mm256_and_si256(_mm256_cmpgt_epi8(c, dig_lo), _mm256_cmpgt_epi8(dig_hi, c));
        __m256i is62 = _mm256_cmpeq_epi8(c, s62), is63 = _mm256_cmpeq_epi8(c, s63);
        __m256i ok = _mm256_or_si256(_mm256_or_si256(up, low),
                                     _mm256_or_si256(dig, _mm256_or_si256(is62, is63)));
        if ((uint32_t)_mm256_movemask_epi8(ok) != UINT32_MAX)
            break;
        __m256i off = _mm256_or_si256(
            _mm256_or_si256(_mm256_and_si256(up, up_add), _mm256_and_si256(low, low_add)),
            _mm256_or_si256(
                _mm256_and_si256(dig, dig_add),
                _mm256_or_si256(_mm256_and_si256(is62, add62), _mm256_and_si256(is63, add63))));
        __m256i v = _mm256_add_epi8(c, off);
        v = _mm256_madd_epi16(_mm256_maddubs_epi16(v, merge12), merge24);
        v = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, order), lanes);
        /* the 24 bytes, without touching the 8 after them */
        _mm_storeu_si128((__m128i *)out, _mm256_castsi256_si128(v));
        _mm_storel_epi64((__m128i *)(out + 16), _mm256_extracti128_si256(v, 1));
    }
    return i;
}
#endif

capv_status capv_base64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *text,
                               size_t len, capv_base64_variant variant, capv_error *err)
{
    if (out_len == NULL || (text == NULL && len > 0) || (out == NULL && cap > 0) ||
        (variant != CAPV_BASE64_STD && variant != CAPV_BASE64_URL))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "invalid argument");
    *out_len = 0;
    const unsigned char *s = (const unsigned char *)text;

    size_t data_len = len; /* symbols without padding */
    if (variant == CAPV_BASE64_STD) {
        if (len % 4 != 0)
            return capvi_err_set(err, CAPV_E_BASE64, NULL,
                                 "length %zu is not a multiple of 4 (padding required)", len);
        if (len >= 1 && s[len - 1] == '=')
            data_len--;
        if (len >= 2 && s[len - 2] == '=')
            data_len--;
    } else if (len % 4 == 1) {
        return capvi_err_set(err, CAPV_E_BASE64, NULL, "impossible length %zu", len);
    }
    size_t rem = data_len % 4;
    if (rem == 1)
        return capvi_err_set(err, CAPV_E_BASE64, NULL, "impossible length");
    size_t need = data_len / 4 * 3 + (rem ? rem - 1 : 0);
    if (need > cap)
        return capvi_err_set(err, CAPV_E_BUFFER_TOO_SMALL, NULL, "needs %zu bytes, buffer has %zu",
                             need, cap);

    const uint8_t *value1 = variant == CAPV_BASE64_STD ? value1_std : value1_url;
    size_t o = 0, i = 0;
    uint32_t acc = 0;
#ifdef BASE64_AVX2
    if (data_len >= 32 && __builtin_cpu_supports("avx2")) {
        i = decode_avx2(out, s, data_len, variant == CAPV_BASE64_URL);
        o = i / 4 * 3;
    }
#endif
    for (; i + 4 <= data_len; i += 4) {
        /* a symbol's value; a byte outside the alphabet becomes 0xffffffff (its value + 1
         * is 0), so one test of the top bit covers the four */
        uint32_t a = value1[s[i]] - 1u, b = value1[s[i + 1]] - 1u, c = value1[s[i + 2]] - 1u,
                 d = value1[s[i + 3]] - 1u;
        if ((a | b | c | d) & 0x80000000u)
            break;
        uint32_t v = a << 18 | b << 12 | c << 6 | d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    for (; i < data_len; i++) {
        uint32_t v = value1[s[i]];
        if (v == 0)
            return capvi_err_set(err, CAPV_E_BASE64, NULL, "invalid character at position %zu", i);
        acc = acc << 6 | (v - 1);
        if (i % 4 == 3) {
            out[o++] = (uint8_t)(acc >> 16);
            out[o++] = (uint8_t)(acc >> 8);
            out[o++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (rem == 2) {
        if (acc & 0xf)
            return capvi_err_set(err, CAPV_E_BASE64, NULL, "non-zero trailing bits");
        out[o++] = (uint8_t)(acc >> 4);
    } else if (rem == 3) {
        if (acc & 0x3)
            return capvi_err_set(err, CAPV_E_BASE64, NULL, "non-zero trailing bits");
        out[o++] = (uint8_t)(acc >> 10);
        out[o++] = (uint8_t)(acc >> 2);
    }
    *out_len = o;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_base64_encode(char *out, size_t cap, size_t *out_len, const uint8_t *data,
                               size_t len, capv_base64_variant variant, capv_error *err)
{
    if (out == NULL || (data == NULL && len > 0) ||
        (variant != CAPV_BASE64_STD && variant != CAPV_BASE64_URL))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument or unknown variant");
    if (len > (SIZE_MAX / 4) * 3 - 3)
        return capvi_err_set(err, CAPV_E_BUFFER_TOO_SMALL, NULL, "input too long");
    const char *alpha = variant == CAPV_BASE64_STD ? alpha_std : alpha_url;
    size_t full = len / 3, rem = len % 3;
    size_t need = full * 4 + (rem == 0 ? 0 : variant == CAPV_BASE64_STD ? 4 : rem + 1);
    if (cap < need + 1)
        return capvi_err_set(err, CAPV_E_BUFFER_TOO_SMALL, NULL,
                             "%zu bytes need %zu characters of base64", len, need + 1);
    size_t o = 0;
    for (size_t i = 0; i < full; i++) {
        uint32_t v = (uint32_t)data[3 * i] << 16 | (uint32_t)data[3 * i + 1] << 8 | data[3 * i + 2];
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = alpha[v & 63];
    }
    if (rem) {
        uint32_t v = (uint32_t)data[3 * full] << 16;
        if (rem == 2)
            v |= (uint32_t)data[3 * full + 1] << 8;
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        if (rem == 2)
            out[o++] = alpha[(v >> 6) & 63];
        if (variant == CAPV_BASE64_STD) {
            if (rem == 1)
                out[o++] = '=';
            out[o++] = '=';
        }
    }
    out[o] = '\0';
    if (out_len != NULL)
        *out_len = o;
    return capvi_err_done(err, CAPV_OK);
}
