/* SPDX-License-Identifier: Apache-2.0 */
/* The compat canonical writer against the peer's vectors, and the writers' exact bytes. */
#include <capverify.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_int.h"
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

/* proof.v0 of the legacy webui package binds SHA3-256 of the manifest's compat canonical
 * bytes with "signatures": [] — the peer README states 0x9712ff65... */
START_TEST(webui_manifest_hash)
{
    size_t len;
    uint8_t *m = tu_read(tu_shared_dir(), "peer/packages/webui-legacy/manifest.json", &len);
    uint8_t *canon = NULL;
    size_t clen = 0;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(
        capv_json_canonical(&canon, &clen, m, len, CAPV_JSON_CANON_EMPTY_SIGNATURES, &err),
        CAPV_OK);
    ck_assert_uint_eq(strlen((char *)canon), clen);
    uint8_t d[32];
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, canon, clen, NULL), CAPV_OK);
    ck_assert_str_eq(tu_hex(d),
                     "0x9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d2");
    capv_free(canon);
    free(m);
}
END_TEST

/* The policy IR's ir_hash = SHA3-256 of its compact form with ir_hash set to "". */
START_TEST(ir_hash_reproduced)
{
    size_t len;
    uint8_t *ir = tu_read(tu_shared_dir(), "peer/policy/lksg_v1.ir.json", &len);
    cJSON *root = NULL;
    ck_assert_int_eq(capvi_json_parse(&root, ir, len, NULL), CAPV_OK);
    const char *want = NULL;
    ck_assert_int_eq(capvi_json_get_string(&want, root, "", "ir_hash", true, NULL), CAPV_OK);
    char *want_copy = strdup(want);
    ck_assert(cJSON_ReplaceItemInObjectCaseSensitive(root, "ir_hash", cJSON_CreateString("")));
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_compact(&b, root, 0);
    size_t clen;
    uint8_t *compact = capvi_buf_take(&b, &clen);
    ck_assert_ptr_nonnull(compact);
    uint8_t d[32];
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, compact, clen, NULL), CAPV_OK);
    char got[80];
    char hex[65];
    ck_assert_int_eq(capv_hex_encode(hex, sizeof hex, d, 32, NULL), CAPV_OK);
    snprintf(got, sizeof got, "sha3-256:%s", hex);
    ck_assert_str_eq(got, want_copy);
    ck_assert_str_eq(want_copy,
                     "sha3-256:df3a3eeb7c72f6204131397e4b0a4b16235f1e20cc66102153ad6d4ee78f892c");
    free(compact);
    free(want_copy);
    cJSON_Delete(root);
    free(ir);
}
END_TEST

/* The pretty writer reproduces the peer's IR file byte for byte (2 spaces, no newline). */
START_TEST(ir_pretty_bytes)
{
    size_t len;
    uint8_t *ir = tu_read(tu_shared_dir(), "peer/policy/lksg_v1.ir.json", &len);
    cJSON *root = NULL;
    ck_assert_int_eq(capvi_json_parse(&root, ir, len, NULL), CAPV_OK);
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_pretty(&b, root);
    size_t plen;
    uint8_t *pretty = capvi_buf_take(&b, &plen);
    ck_assert_uint_eq(plen, len);
    ck_assert_mem_eq(pretty, ir, len);
    free(pretty);
    cJSON_Delete(root);
    free(ir);
}
END_TEST

static void canon_eq(const char *in, unsigned flags, const char *want)
{
    uint8_t *out = NULL;
    size_t n = 0;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_json_canonical(&out, &n, (const uint8_t *)in, strlen(in), flags, &err) ==
                      CAPV_OK,
                  "%s: %s", in, err.message);
    ck_assert_uint_eq(n, strlen(want));
    ck_assert_str_eq((char *)out, want);
    capv_free(out);
}

START_TEST(escaping_and_order)
{
    /* document key order kept, whitespace removed */
    canon_eq("{ \"b\" : 1 , \"a\" : [ true , false , null ] }", 0,
             "{\"b\":1,\"a\":[true,false,null]}");
    /* short escapes, \u00xx lower-case for other controls, '/' and non-ASCII raw */
    canon_eq("\"\\b\\f\\n\\r\\t\\u0001\\u001F\\u007f\\/\\\"\\\\\"", 0,
             "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\\\"\\\\\"");
    canon_eq("\"\\u00a7 \\u20ac \\ud83d\\ude00 \xc3\xa9\"", 0,
             "\"\xc2\xa7 \xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9\"");
    /* integers exactly as written, any size within 63 characters */
    canon_eq("[0,-0,12345678901234567890123,-9223372036854775809]", 0,
             "[0,-0,12345678901234567890123,-9223372036854775809]");
    /* non-integers as serde_json prints an f64 */
    canon_eq("[1.0,1.50,1e3,0.001,1e-7,1.5e300,-2.5E+2,100000000000000000000.0,1e16]", 0,
             "[1.0,1.5,1000.0,0.001,1e-7,1.5e300,-250.0,1e20,1e16]");
    /* signatures replaced only at the top level, only with the flag */
    canon_eq("{\"signatures\":[{\"a\":1}],\"x\":{\"signatures\":[2]}}", 0,
             "{\"signatures\":[{\"a\":1}],\"x\":{\"signatures\":[2]}}");
    canon_eq("{\"signatures\":[{\"a\":1}],\"x\":{\"signatures\":[2]}}",
             CAPV_JSON_CANON_EMPTY_SIGNATURES, "{\"signatures\":[],\"x\":{\"signatures\":[2]}}");
    canon_eq("{\"signatures\":null}", CAPV_JSON_CANON_EMPTY_SIGNATURES, "{\"signatures\":[]}");
    canon_eq("[{\"signatures\":[1]}]", CAPV_JSON_CANON_EMPTY_SIGNATURES, "[{\"signatures\":[1]}]");
}
END_TEST

START_TEST(canonical_rejects_bad_input)
{
    uint8_t *out = (uint8_t *)1;
    size_t n = 9;
    ck_assert_int_eq(
        capv_json_canonical(&out, &n, (const uint8_t *)"{\"a\":1,\"a\":1}", 13, 0, NULL),
        CAPV_E_JSON_DUPLICATE_KEY);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(capv_json_canonical(&out, &n, (const uint8_t *)"{}", 2, 0x80, NULL),
                     CAPV_E_INVALID_ARG);
}
END_TEST

START_TEST(quote)
{
    char *q = NULL;
    size_t n;
    ck_assert_int_eq(capv_json_quote(&q, &n, "a\"b\n\xc3\xa9", 6, NULL), CAPV_OK);
    ck_assert_str_eq(q, "\"a\\\"b\\n\xc3\xa9\"");
    ck_assert_uint_eq(n, strlen(q));
    capv_free(q);
    ck_assert_int_eq(capv_json_quote(&q, &n, "\xff", 1, NULL), CAPV_E_JSON_UTF8);
    ck_assert_int_eq(capv_json_quote(&q, &n, "a\0b", 3, NULL), CAPV_E_JSON_NUL);
}
END_TEST

Suite *canonical_suite(void)
{
    Suite *s = suite_create("canonical");
    TCase *tc = tcase_create("vectors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, webui_manifest_hash);
    tcase_add_test(tc, ir_hash_reproduced);
    tcase_add_test(tc, ir_pretty_bytes);
    suite_add_tcase(s, tc);
    tc = tcase_create("writer");
    tcase_add_test(tc, escaping_and_order);
    tcase_add_test(tc, canonical_rejects_bad_input);
    tcase_add_test(tc, quote);
    suite_add_tcase(s, tc);
    return s;
}
