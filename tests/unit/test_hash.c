/* SPDX-License-Identifier: Apache-2.0 */
#include <capverify.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
}

static void teardown(void)
{
    capv_global_shutdown();
}

static void check_hex(capv_hash_alg alg, const char *msg, const char *want)
{
    uint8_t d[32];
    ck_assert_int_eq(capv_hash(d, alg, (const uint8_t *)msg, strlen(msg), NULL), CAPV_OK);
    char hex[65];
    ck_assert_int_eq(capv_hex_encode(hex, sizeof hex, d, 32, NULL), CAPV_OK);
    ck_assert_str_eq(hex, want);
}

/* Known answers: FIPS 202 / FIPS 180-4 examples. */
START_TEST(sha3_known_answers)
{
    check_hex(CAPV_HASH_SHA3_256, "",
              "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
    check_hex(CAPV_HASH_SHA3_256, "abc",
              "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
    check_hex(CAPV_HASH_SHA3_256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
              "41c0dba2a9d6240849100376a8235e2c82e1b9998a999e21db32dd97496d3376");
}
END_TEST

START_TEST(sha256_known_answers)
{
    check_hex(CAPV_HASH_SHA256, "",
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_hex(CAPV_HASH_SHA256, "abc",
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_hex(CAPV_HASH_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(sha3_million_a_streaming)
{
    capv_hash_ctx *ctx = NULL;
    ck_assert_int_eq(capv_hash_ctx_new(&ctx, CAPV_HASH_SHA3_256, NULL), CAPV_OK);
    uint8_t chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(capv_hash_ctx_update(ctx, chunk, sizeof chunk, NULL), CAPV_OK);
    uint8_t d[32];
    ck_assert_int_eq(capv_hash_ctx_final(d, ctx, NULL), CAPV_OK);
    char hex[65];
    ck_assert_int_eq(capv_hex_encode(hex, sizeof hex, d, 32, NULL), CAPV_OK);
    ck_assert_str_eq(hex, "5c8875ae474a3634ba4fd55ec85bffd661f32aca75c6d699d0cdcb6c115891c1");
    /* final resets: the context hashes a new message */
    ck_assert_int_eq(capv_hash_ctx_update(ctx, (const uint8_t *)"abc", 3, NULL), CAPV_OK);
    ck_assert_int_eq(capv_hash_ctx_final(d, ctx, NULL), CAPV_OK);
    ck_assert_int_eq(capv_hex_encode(hex, sizeof hex, d, 32, NULL), CAPV_OK);
    ck_assert_str_eq(hex, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
    capv_hash_ctx_free(ctx);
    capv_hash_ctx_free(NULL);
}
END_TEST

/* The official BLAKE3 vectors (tests/vectors/blake3_official.txt), one-shot and streamed in
 * uneven pieces through every algorithm's context. */
START_TEST(blake3_official_vectors)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/blake3_official.txt", tu_vectors_dir());
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char line[256];
    int cases = 0;
    uint8_t *input = malloc(102400);
    ck_assert_ptr_nonnull(input);
    for (size_t i = 0; i < 102400; i++)
        input[i] = (uint8_t)(i % 251);
    capv_hash_ctx *ctx = NULL;
    ck_assert_int_eq(capv_hash_ctx_new(&ctx, CAPV_HASH_BLAKE3, NULL), CAPV_OK);
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        size_t n;
        char want[65];
        ck_assert_int_eq(sscanf(line, "%zu %64s", &n, want), 2);
        ck_assert(n <= 102400);
        uint8_t d[32];
        char hex[65];
        ck_assert_int_eq(capv_hash(d, CAPV_HASH_BLAKE3, input, n, NULL), CAPV_OK);
        ck_assert_int_eq(capv_hex_encode(hex, sizeof hex, d, 32, NULL), CAPV_OK);
        ck_assert_msg(strcmp(hex, want) == 0, "len %zu: %s != %s", n, hex, want);
        for (size_t off = 0, step = 1; off < n; off += step, step = step * 3 + 1) {
            size_t take = step > n - off ? n - off : step;
            ck_assert_int_eq(capv_hash_ctx_update(ctx, input + off, take, NULL), CAPV_OK);
        }
        ck_assert_int_eq(capv_hash_ctx_final(d, ctx, NULL), CAPV_OK);
        ck_assert_int_eq(capv_hex_encode(hex, sizeof hex, d, 32, NULL), CAPV_OK);
        ck_assert_msg(strcmp(hex, want) == 0, "streamed len %zu", n);
        cases++;
    }
    fclose(f);
    free(input);
    capv_hash_ctx_free(ctx);
    ck_assert_int_ge(cases, 20);
}
END_TEST

START_TEST(streaming_equals_one_shot)
{
    uint8_t buf[5000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    capv_hash_alg algs[] = { CAPV_HASH_SHA3_256, CAPV_HASH_SHA256, CAPV_HASH_BLAKE3 };
    for (size_t a = 0; a < 3; a++) {
        uint8_t one[32], two[32];
        ck_assert_int_eq(capv_hash(one, algs[a], buf, sizeof buf, NULL), CAPV_OK);
        capv_hash_ctx *ctx = NULL;
        ck_assert_int_eq(capv_hash_ctx_new(&ctx, algs[a], NULL), CAPV_OK);
        ck_assert_int_eq(capv_hash_ctx_update(ctx, buf, 1, NULL), CAPV_OK);
        ck_assert_int_eq(capv_hash_ctx_update(ctx, NULL, 0, NULL), CAPV_OK);
        ck_assert_int_eq(capv_hash_ctx_update(ctx, buf + 1, 4095, NULL), CAPV_OK);
        ck_assert_int_eq(capv_hash_ctx_update(ctx, buf + 4096, 904, NULL), CAPV_OK);
        ck_assert_int_eq(capv_hash_ctx_final(two, ctx, NULL), CAPV_OK);
        ck_assert_mem_eq(one, two, 32);
        capv_hash_ctx_free(ctx);
    }
}
END_TEST

START_TEST(bad_arguments)
{
    uint8_t d[32];
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_hash(d, (capv_hash_alg)99, NULL, 0, &err), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA256, NULL, 5, NULL), CAPV_E_INVALID_ARG);
    capv_hash_ctx *ctx = (capv_hash_ctx *)d;
    ck_assert_int_eq(capv_hash_ctx_new(&ctx, (capv_hash_alg)0, NULL), CAPV_E_INVALID_ARG);
    ck_assert_ptr_null(ctx);
    capv_hash_alg alg;
    ck_assert_int_eq(capv_hash_alg_from_name(&alg, "BLAKE3", NULL), CAPV_OK);
    ck_assert_int_eq(alg, CAPV_HASH_BLAKE3);
    ck_assert_int_eq(capv_hash_alg_from_name(&alg, "sha-256", NULL), CAPV_OK);
    ck_assert_int_eq(alg, CAPV_HASH_SHA256);
    ck_assert_int_eq(capv_hash_alg_from_name(&alg, "md5", NULL), CAPV_E_INVALID_ARG);
    ck_assert_str_eq(capv_hash_alg_name(CAPV_HASH_SHA3_256), "sha3-256");
    ck_assert_ptr_null(capv_hash_alg_name((capv_hash_alg)7));
}
END_TEST

Suite *hash_suite(void)
{
    Suite *s = suite_create("hash");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sha3_known_answers);
    tcase_add_test(tc, sha256_known_answers);
    tcase_add_test(tc, sha3_million_a_streaming);
    tcase_add_test(tc, blake3_official_vectors);
    tcase_add_test(tc, streaming_equals_one_shot);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
