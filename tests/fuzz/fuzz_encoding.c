/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: the text encodings of CAP formats (docs/formats.md) — strict base64 and base64url,
 * hex, digests, RFC 3339 times. The decoders accept exactly the canonical texts, so every
 * accepted text must come back byte for byte from the matching encoder. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_global_init();
    return 0;
}

static void check_base64(const char *text, size_t len, capv_base64_variant variant)
{
    size_t cap = CAPV_BASE64_DECODED_MAX(len);
    uint8_t *bin = malloc(cap ? cap : 1);
    FUZZ_SETUP(bin != NULL, "out of memory");
    size_t n = 0;
    capv_status st = capv_base64_decode(bin, cap, &n, text, len, variant, NULL);
    if (st == CAPV_OK) {
        FUZZ_ASSERT(n <= cap);
        size_t ecap = CAPV_BASE64_ENCODED_SIZE(n);
        char *again = malloc(ecap);
        FUZZ_SETUP(again != NULL, "out of memory");
        size_t elen = 0;
        FUZZ_ASSERT(capv_base64_encode(again, ecap, &elen, bin, n, variant, NULL) == CAPV_OK);
        FUZZ_ASSERT(elen == len && memcmp(again, text, len) == 0);
        free(again);
        /* the exact size suffices; one byte less does not */
        if (n > 0) {
            size_t n2 = 0;
            FUZZ_ASSERT(capv_base64_decode(bin, n - 1, &n2, text, len, variant, NULL) ==
                        CAPV_E_BUFFER_TOO_SMALL);
        }
    } else {
        FUZZ_ASSERT(st == CAPV_E_BASE64);
    }
    free(bin);
}

static bool same_hex(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (tolower((unsigned char)a[i]) != (unsigned char)b[i])
            return false;
    return true;
}

static void check_hex(const char *text, size_t len)
{
    size_t digits = len >= 2 && text[0] == '0' && text[1] == 'x' ? len - 2 : len;
    size_t want = digits / 2;
    uint8_t *bin = malloc(want ? want : 1);
    FUZZ_SETUP(bin != NULL, "out of memory");
    capv_status st = capv_hex_decode(bin, want, text, len, NULL);
    if (st == CAPV_OK) {
        FUZZ_ASSERT(digits % 2 == 0);
        char *again = malloc(2 * want + 1);
        FUZZ_SETUP(again != NULL, "out of memory");
        FUZZ_ASSERT(capv_hex_encode(again, 2 * want + 1, bin, want, NULL) == CAPV_OK);
        FUZZ_ASSERT(same_hex(text + (len - digits), again, digits));
        free(again);
    } else {
        FUZZ_ASSERT(st == CAPV_E_HEX);
    }
    free(bin);

    uint8_t digest[32];
    st = capv_digest_parse(digest, text, len, NULL);
    if (st == CAPV_OK) {
        char hex[CAPV_DIGEST_HEX_SIZE];
        capv_digest_format(hex, digest);
        FUZZ_ASSERT(len >= 64 && same_hex(text + len - 64, hex + 2, 64));
    } else {
        FUZZ_ASSERT(st == CAPV_E_HEX);
    }
}

static void check_time(const char *text, size_t len)
{
    int64_t ms = 0, again = 0;
    if (capv_rfc3339_parse(&ms, text, len, NULL) != CAPV_OK)
        return;
    char out[CAPV_RFC3339_SIZE];
    capv_rfc3339_format(out, ms);
    FUZZ_ASSERT(strlen(out) < CAPV_RFC3339_SIZE);
    FUZZ_ASSERT(capv_rfc3339_parse(&again, out, strlen(out), NULL) == CAPV_OK);
    /* the formatted form has whole seconds */
    FUZZ_ASSERT(again <= ms && ms - again < 1000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    check_base64(text, size, CAPV_BASE64_STD);
    check_base64(text, size, CAPV_BASE64_URL);
    check_hex(text, size);
    check_time(text, size);
    return 0;
}
