/* SPDX-License-Identifier: Apache-2.0 */
#include <capverify.h>
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "suites.h"

static const char D64[] = "9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d2";

START_TEST(digest_accepts_both_prefixes_and_case)
{
    uint8_t a[32], b[32], c[32], d[32];
    char text[128];
    snprintf(text, sizeof text, "0x%s", D64);
    ck_assert_int_eq(capv_digest_parse(a, text, strlen(text), NULL), CAPV_OK);
    ck_assert_int_eq(capv_digest_parse(b, text, strlen(text), NULL), CAPV_OK);
    snprintf(text, sizeof text, "sha3-256:%s", D64);
    ck_assert_int_eq(capv_digest_parse(c, text, strlen(text), NULL), CAPV_OK);
    snprintf(text, sizeof text, "0x%s", D64);
    for (char *p = text + 2; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    ck_assert_int_eq(capv_digest_parse(d, text, strlen(text), NULL), CAPV_OK);
    ck_assert_mem_eq(a, b, 32);
    ck_assert_mem_eq(a, c, 32);
    ck_assert_mem_eq(a, d, 32);
    char out[CAPV_DIGEST_HEX_SIZE];
    capv_digest_format(out, a);
    ck_assert_str_eq(out + 2, D64);
    ck_assert_int_eq(out[0], '0');
    ck_assert_int_eq(out[1], 'x');
}
END_TEST

/* Malformed digests: each must be CAPV_E_HEX and leave the output untouched. */
static const char *const bad_digests[] = {
    "",
    "0x",
    "0x0", /* the peer's placeholder */
    /* no prefix: 64 digits could be any 32 bytes (a digest says what it is) */
    "9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d2",
    "0X9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d2",
    "0x9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d",   /* 63 */
    "0x9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d2a", /* 65 */
    "0x9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65dg",
    " 0x9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d2",
    "0x9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d2\n",
    "SHA3-256:9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d2",
    "sha256:9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d2",
    "0x0x9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65",
    "0x9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65-2",
};

START_TEST(digest_rejects_malformed)
{
    const char *t = bad_digests[_i];
    uint8_t out[32];
    memset(out, 0xAA, sizeof out);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_digest_parse(out, t, strlen(t), &err) == CAPV_E_HEX, "accepted '%s'", t);
    ck_assert_int_eq(err.code, CAPV_E_HEX);
    for (size_t i = 0; i < sizeof out; i++)
        ck_assert_int_eq(out[i], 0xAA);
}
END_TEST

START_TEST(digest_embedded_nul)
{
    char t[66] = "0x9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d2";
    t[10] = '\0';
    uint8_t out[32];
    ck_assert_int_eq(capv_digest_parse(out, t, 66, NULL), CAPV_E_HEX);
}
END_TEST

START_TEST(hex_bytes)
{
    uint8_t key[4];
    ck_assert_int_eq(capv_hex_decode(key, 4, "0xDEADbeef", 10, NULL), CAPV_OK);
    ck_assert_int_eq(key[0], 0xde);
    ck_assert_int_eq(key[3], 0xef);
    ck_assert_int_eq(capv_hex_decode(key, 4, "deadbeef", 8, NULL), CAPV_OK);
    ck_assert_int_eq(capv_hex_decode(key, 4, "deadbee", 7, NULL), CAPV_E_HEX);
    ck_assert_int_eq(capv_hex_decode(key, 4, "deadbeef00", 10, NULL), CAPV_E_HEX);
    ck_assert_int_eq(capv_hex_decode(key, 4, "deadbeeZ", 8, NULL), CAPV_E_HEX);
    char small[8];
    ck_assert_int_eq(capv_hex_encode(small, sizeof small, key, 4, NULL), CAPV_E_BUFFER_TOO_SMALL);
    char ok[9];
    ck_assert_int_eq(capv_hex_encode(ok, sizeof ok, key, 4, NULL), CAPV_OK);
    ck_assert_str_eq(ok, "deadbeef");
}
END_TEST

/* RFC 4648 §10 test vectors, both alphabets. */
static const struct {
    const char *plain, *std, *url;
} rfc4648[] = {
    { "", "", "" },
    { "f", "Zg==", "Zg" },
    { "fo", "Zm8=", "Zm8" },
    { "foo", "Zm9v", "Zm9v" },
    { "foob", "Zm9vYg==", "Zm9vYg" },
    { "fooba", "Zm9vYmE=", "Zm9vYmE" },
    { "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

START_TEST(base64_rfc4648_vectors)
{
    uint8_t out[16];
    size_t n;
    char enc[16];
    const char *p = rfc4648[_i].plain;
    ck_assert_int_eq(capv_base64_decode(out, sizeof out, &n, rfc4648[_i].std,
                                        strlen(rfc4648[_i].std), CAPV_BASE64_STD, NULL),
                     CAPV_OK);
    ck_assert_uint_eq(n, strlen(p));
    ck_assert_mem_eq(out, p, n);
    ck_assert_int_eq(capv_base64_decode(out, sizeof out, &n, rfc4648[_i].url,
                                        strlen(rfc4648[_i].url), CAPV_BASE64_URL, NULL),
                     CAPV_OK);
    ck_assert_uint_eq(n, strlen(p));
    ck_assert_mem_eq(out, p, n);
    ck_assert_int_eq(capv_base64_encode(enc, sizeof enc, &n, (const uint8_t *)p, strlen(p),
                                        CAPV_BASE64_STD, NULL),
                     CAPV_OK);
    ck_assert_str_eq(enc, rfc4648[_i].std);
    ck_assert_int_eq(capv_base64_encode(enc, sizeof enc, &n, (const uint8_t *)p, strlen(p),
                                        CAPV_BASE64_URL, NULL),
                     CAPV_OK);
    ck_assert_str_eq(enc, rfc4648[_i].url);
}
END_TEST

START_TEST(base64_alphabets_differ)
{
    const uint8_t raw[] = { 0xfb, 0xff, 0xbf };
    char enc[8];
    ck_assert_int_eq(capv_base64_encode(enc, sizeof enc, NULL, raw, 3, CAPV_BASE64_STD, NULL),
                     CAPV_OK);
    ck_assert_str_eq(enc, "+/+/");
    ck_assert_int_eq(capv_base64_encode(enc, sizeof enc, NULL, raw, 3, CAPV_BASE64_URL, NULL),
                     CAPV_OK);
    ck_assert_str_eq(enc, "-_-_");
    uint8_t out[8];
    size_t n;
    ck_assert_int_eq(capv_base64_decode(out, 8, &n, "-_-_", 4, CAPV_BASE64_STD, NULL),
                     CAPV_E_BASE64);
    ck_assert_int_eq(capv_base64_decode(out, 8, &n, "+/+/", 4, CAPV_BASE64_URL, NULL),
                     CAPV_E_BASE64);
}
END_TEST

/* Malformed base64: each must be rejected with CAPV_E_BASE64. */
static const struct {
    const char *text;
    capv_base64_variant v;
} bad_b64[] = {
    { "Zg=", CAPV_BASE64_STD },                                 /* padding incomplete */
    { "Zg", CAPV_BASE64_STD },                                  /* padding missing */
    { "Zg===", CAPV_BASE64_STD },                               /* too much padding */
    { "Z===", CAPV_BASE64_STD },                                /* impossible */
    { "====", CAPV_BASE64_STD },   { "Zh==", CAPV_BASE64_STD }, /* non-zero trailing bits */
    { "Zm9=", CAPV_BASE64_STD },                                /* non-zero trailing bits */
    { "Zm=v", CAPV_BASE64_STD },                                /* '=' inside */
    { "Zm9v\n", CAPV_BASE64_STD },                              /* whitespace */
    { " Zm9v", CAPV_BASE64_STD },  { "Zm 9v", CAPV_BASE64_STD },
    { "Zm9*", CAPV_BASE64_STD },   { "Zg==Zg==", CAPV_BASE64_STD }, /* padding in the middle */
    { "Zg==", CAPV_BASE64_URL },                                    /* JOSE: no padding */
    { "Zh", CAPV_BASE64_URL },                                      /* trailing bits */
    { "Zm9", CAPV_BASE64_URL },   /* trailing bits (Zm8 is canonical) */
    { "Z", CAPV_BASE64_URL },     /* impossible length */
    { "Zm9vY", CAPV_BASE64_URL }, /* impossible length */
    { "Zm+v", CAPV_BASE64_URL },  /* std alphabet */
    { "Zm9v.", CAPV_BASE64_URL },  { "\xc3\xa9", CAPV_BASE64_URL }, /* non-ASCII */
};

START_TEST(base64_rejects_malformed)
{
    uint8_t out[32];
    size_t n = 77;
    capv_error err = CAPV_ERROR_INIT;
    const char *t = bad_b64[_i].text;
    ck_assert_msg(capv_base64_decode(out, sizeof out, &n, t, strlen(t), bad_b64[_i].v, &err) ==
                      CAPV_E_BASE64,
                  "case %d accepted '%s'", _i, t);
    ck_assert_int_eq(err.code, CAPV_E_BASE64);
    ck_assert_uint_eq(n, 0);
}
END_TEST

/* Every byte value at every position of a text of two 32-symbol blocks and a tail of two
 * quads: decoded exactly when it is a symbol of the variant's alphabet, a bad one reported at
 * its position (the decoder tests a block of 32 symbols, or the four of a quad, at once). */
START_TEST(base64_every_byte_every_position)
{
    static const char *alpha[2] = {
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    };
    capv_base64_variant vs[2] = { CAPV_BASE64_STD, CAPV_BASE64_URL };
    enum { LEN = 72, BYTES = LEN / 4 * 3 };
    for (int v = 0; v < 2; v++) {
        char good[LEN];
        for (size_t i = 0; i < LEN; i++)
            good[i] = alpha[v][(i * 29 + 7) % 64];
        uint8_t want[BYTES];
        size_t n = 0;
        ck_assert_int_eq(capv_base64_decode(want, sizeof want, &n, good, LEN, vs[v], NULL),
                         CAPV_OK);
        for (size_t pos = 0; pos < LEN; pos++)
            for (int b = 0; b < 256; b++) {
                if (b == '=' && vs[v] == CAPV_BASE64_STD && pos >= LEN - 2)
                    continue; /* padding there: the malformed vectors cover it */
                char text[LEN];
                memcpy(text, good, LEN);
                text[pos] = (char)b;
                uint8_t out[BYTES];
                bool symbol = b != 0 && strchr(alpha[v], b) != NULL;
                capv_error err = CAPV_ERROR_INIT;
                capv_status st = capv_base64_decode(out, sizeof out, &n, text, LEN, vs[v], &err);
                ck_assert_msg(st == (symbol ? CAPV_OK : CAPV_E_BASE64),
                              "variant %d, byte 0x%02x at %zu: status %d", v, b, pos, (int)st);
                ck_assert_uint_eq(n, symbol ? BYTES : 0);
                if (!symbol) {
                    char where[48];
                    snprintf(where, sizeof where, "invalid character at position %zu", pos);
                    ck_assert_str_eq(err.message, where);
                    continue;
                }
                /* the changed symbol changes its own six bits and no others */
                unsigned int sym = (unsigned int)(strchr(alpha[v], b) - alpha[v]);
                uint8_t exp[BYTES];
                memcpy(exp, want, sizeof exp);
                for (size_t k = 0; k < 6; k++) {
                    size_t at = pos * 6 + k;
                    uint8_t mask = (uint8_t)(0x80u >> (at % 8));
                    exp[at / 8] =
                        (uint8_t)((exp[at / 8] & ~mask) | (((sym >> (5 - k)) & 1) ? mask : 0));
                }
                ck_assert_mem_eq(out, exp, sizeof exp);
            }
    }
}
END_TEST

START_TEST(base64_buffer_bounds)
{
    uint8_t out[5];
    size_t n;
    ck_assert_int_eq(capv_base64_decode(out, 5, &n, "Zm9vYmFy", 8, CAPV_BASE64_STD, NULL),
                     CAPV_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(capv_base64_decode(out, 5, &n, "Zm9vYmE=", 8, CAPV_BASE64_STD, NULL), CAPV_OK);
    ck_assert_uint_eq(n, 5);
    char enc[8];
    ck_assert_int_eq(
        capv_base64_encode(enc, 8, NULL, (const uint8_t *)"foobar", 6, CAPV_BASE64_STD, NULL),
        CAPV_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(capv_base64_decode(out, 5, &n, "Zg", 2, (capv_base64_variant)9, NULL),
                     CAPV_E_INVALID_ARG);
}
END_TEST

/* Every byte string of length 0..120 round-trips and re-encodes canonically. */
START_TEST(base64_round_trip)
{
    uint8_t raw[120], back[120];
    char enc[168];
    for (size_t len = 0; len <= sizeof raw; len++) {
        for (size_t i = 0; i < len; i++)
            raw[i] = (uint8_t)(i * 37 + len);
        for (int v = CAPV_BASE64_STD; v <= CAPV_BASE64_URL; v++) {
            size_t elen, dlen;
            ck_assert_int_eq(
                capv_base64_encode(enc, sizeof enc, &elen, raw, len, (capv_base64_variant)v, NULL),
                CAPV_OK);
            ck_assert_int_eq(capv_base64_decode(back, sizeof back, &dlen, enc, elen,
                                                (capv_base64_variant)v, NULL),
                             CAPV_OK);
            ck_assert_uint_eq(dlen, len);
            ck_assert_mem_eq(raw, back, len);
        }
    }
}
END_TEST

Suite *encoding_suite(void)
{
    Suite *s = suite_create("encoding");
    TCase *tc = tcase_create("hex");
    tcase_add_test(tc, digest_accepts_both_prefixes_and_case);
    tcase_add_loop_test(tc, digest_rejects_malformed, 0,
                        (int)(sizeof bad_digests / sizeof bad_digests[0]));
    tcase_add_test(tc, digest_embedded_nul);
    tcase_add_test(tc, hex_bytes);
    suite_add_tcase(s, tc);
    tc = tcase_create("base64");
    tcase_add_loop_test(tc, base64_rfc4648_vectors, 0, (int)(sizeof rfc4648 / sizeof rfc4648[0]));
    tcase_add_test(tc, base64_alphabets_differ);
    tcase_add_loop_test(tc, base64_rejects_malformed, 0, (int)(sizeof bad_b64 / sizeof bad_b64[0]));
    tcase_add_test(tc, base64_every_byte_every_position);
    tcase_add_test(tc, base64_buffer_bounds);
    tcase_add_test(tc, base64_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
