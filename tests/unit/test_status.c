/* SPDX-License-Identifier: Apache-2.0 */
#include <capverify.h>
#include <capverify/unstable/log.h>
#include <capverify/unstable/verify_request.h>
#include <check.h>
#include <string.h>

#include "suites.h"

START_TEST(classes_follow_hundreds)
{
    ck_assert_int_eq(capv_status_class_of(CAPV_OK), CAPV_CLASS_OK);
    ck_assert_int_eq(capv_status_class_of(CAPV_E_SIGNATURE), CAPV_CLASS_REJECTED);
    ck_assert_int_eq(capv_status_class_of(CAPV_E_JSON_DUPLICATE_KEY), CAPV_CLASS_MALFORMED);
    ck_assert_int_eq(capv_status_class_of(CAPV_E_NETWORK), CAPV_CLASS_UNAVAILABLE);
    /* a failed registry disk is the server's fault: 503, never a 400 for the request */
    ck_assert_int_eq(capv_status_class_of(CAPV_E_STORAGE), CAPV_CLASS_UNAVAILABLE);
    ck_assert_int_eq(capv_status_class_of(CAPV_E_INVALID_ARG), CAPV_CLASS_USAGE);
    ck_assert_int_eq(capv_status_class_of(CAPV_E_NOMEM), CAPV_CLASS_INTERNAL);
    ck_assert_int_eq(capv_status_class_of((capv_status)42), CAPV_CLASS_INTERNAL);
    ck_assert_int_eq(capv_status_class_of((capv_status)700), CAPV_CLASS_INTERNAL);
    ck_assert_int_eq(capv_status_class_of((capv_status)299), CAPV_CLASS_MALFORMED);
}
END_TEST

START_TEST(values_are_pinned)
{
    /* The ABI promise: these numbers never change. */
    ck_assert_int_eq(CAPV_OK, 0);
    ck_assert_int_eq(CAPV_E_REJECTED, 100);
    ck_assert_int_eq(CAPV_E_SIGNATURE, 101);
    ck_assert_int_eq(CAPV_E_EXISTS, 112);
    ck_assert_int_eq(CAPV_E_MALFORMED, 200);
    ck_assert_int_eq(CAPV_E_JSON_DEPTH, 207);
    ck_assert_int_eq(CAPV_E_TRUNCATED, 216);
    ck_assert_int_eq(CAPV_E_IO, 300);
    ck_assert_int_eq(CAPV_E_UNAVAILABLE, 304);
    ck_assert_int_eq(CAPV_E_STORAGE, 305);
    ck_assert_int_eq(CAPV_E_INVALID_ARG, 400);
    ck_assert_int_eq(CAPV_E_STATE, 404);
    ck_assert_int_eq(CAPV_E_NOMEM, 500);
    ck_assert_int_eq(CAPV_E_CRYPTO, 502);
}
END_TEST

START_TEST(names_and_messages)
{
    ck_assert_str_eq(capv_status_name(CAPV_OK), "ok");
    ck_assert_str_eq(capv_status_name(CAPV_E_JSON_DUPLICATE_KEY), "json_duplicate_key");
    ck_assert_str_eq(capv_status_name((capv_status)999), "unknown");
    ck_assert_str_eq(capv_status_name(CAPV_E_STORAGE), "storage");
    ck_assert_str_eq(capv_strerror(CAPV_E_STORAGE),
                     "the registry's storage failed (corrupt, read-only or full)");
    ck_assert_str_eq(capv_strerror((capv_status)999), "unknown status");
    ck_assert_str_eq(capv_status_class_name(CAPV_CLASS_UNAVAILABLE), "unavailable");
    /* Every code in the documented ranges that has a name also has a description. */
    for (int v = 0; v < 600; v++) {
        const char *n = capv_status_name((capv_status)v);
        if (strcmp(n, "unknown") != 0)
            ck_assert_str_ne(capv_strerror((capv_status)v), "unknown status");
    }
}
END_TEST

START_TEST(global_init_is_refcounted)
{
    capv_error err = CAPV_ERROR_INIT;
    uint8_t d[32];
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA256, NULL, 0, &err), CAPV_E_NOT_INITIALIZED);
    ck_assert_int_eq(err.code, CAPV_E_NOT_INITIALIZED);
    ck_assert_int_eq(capv_global_init(&err), CAPV_OK);
    ck_assert_int_eq(capv_global_init(&err), CAPV_OK);
    capv_global_shutdown();
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA256, NULL, 0, NULL), CAPV_OK);
    capv_global_shutdown();
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA256, NULL, 0, NULL), CAPV_E_NOT_INITIALIZED);
    capv_global_shutdown(); /* unbalanced extra shutdown is harmless */
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA256, NULL, 0, NULL), CAPV_OK);
    capv_global_shutdown();
}
END_TEST

START_TEST(error_clear_and_version)
{
    capv_error err = CAPV_ERROR_INIT;
    err.code = CAPV_E_IO;
    strcpy(err.message, "x");
    capv_error_clear(&err);
    ck_assert_int_eq(err.code, CAPV_OK);
    ck_assert_str_eq(err.message, "");
    capv_error_clear(NULL);
    ck_assert_str_eq(capv_version_string(), CAPV_VERSION_STRING);
    ck_assert_int_eq(capv_version_major(), CAPV_VERSION_MAJOR);
    ck_assert_int_eq(capv_version_minor(), CAPV_VERSION_MINOR);
    ck_assert_int_eq(capv_version_patch(), CAPV_VERSION_PATCH);
    ck_assert_ptr_nonnull(capv_version_commit());
    int64_t now = capv_clock_system(NULL);
    ck_assert(now > INT64_C(1700000000000)); /* after 2023, in milliseconds */
}
END_TEST

/* The error reset rule (docs/abi.md, "Errors"): a call that succeeds leaves `err` as
 * CAPV_ERROR_INIT does, even when the same struct holds an earlier failure. For a call of
 * every module, a failure first fills `err`, then a success with the same `err` empties it. */
static void assert_reset(const capv_error *err, const char *what)
{
    ck_assert_msg(err->code == CAPV_OK, "%s: code %d left after success", what, (int)err->code);
    ck_assert_msg(err->message[0] == '\0', "%s: message '%s' left", what, err->message);
    ck_assert_msg(err->field[0] == '\0', "%s: field '%s' left", what, err->field);
    ck_assert_int_eq(err->version, CAPV_ERROR_VERSION);
}

/* `fail` must fail with a recorded error, `ok` then succeed with the same struct. */
#define FAIL_THEN_OK(fail, ok)                                                                     \
    do {                                                                                           \
        capv_status fst_ = (fail);                                                                 \
        ck_assert_msg(fst_ != CAPV_OK && err.code == fst_ && err.message[0] != '\0',               \
                      "%s: status %d, err.code %d, message '%s'", #fail, (int)fst_, (int)err.code, \
                      err.message);                                                                \
        ck_assert_msg((ok) == CAPV_OK, "%s: %s", #ok, err.message);                                \
        assert_reset(&err, #ok);                                                                   \
    } while (0)

static const char manifest_json[] =
    "{\"version\":\"manifest.v1\",\"policy\":{\"name\":\"p\",\"version\":\"1\",\"hash\":"
    "\"0x1111111111111111111111111111111111111111111111111111111111111111\"},\"signatures\":[]}";

START_TEST(error_reset_on_success)
{
    capv_error err = CAPV_ERROR_INIT;
    /* status / global: a stale failure from before is cleared by a successful init */
    uint8_t d[32];
    FAIL_THEN_OK(capv_hash(d, CAPV_HASH_SHA256, NULL, 0, &err), capv_global_init(&err));
    /* time */
    int64_t ms = 0;
    FAIL_THEN_OK(capv_rfc3339_parse(&ms, "yesterday", 9, &err),
                 capv_rfc3339_parse(&ms, "2025-01-01T00:00:00Z", 20, &err));
    /* hash */
    capv_hash_alg alg;
    FAIL_THEN_OK(capv_hash_alg_from_name(&alg, "md5", &err),
                 capv_hash_alg_from_name(&alg, "sha3-256", &err));
    FAIL_THEN_OK(capv_hash(d, (capv_hash_alg)99, NULL, 0, &err),
                 capv_hash(d, CAPV_HASH_BLAKE3, (const uint8_t *)"x", 1, &err));
    capv_hash_ctx *ctx = NULL;
    FAIL_THEN_OK(capv_hash_ctx_new(&ctx, (capv_hash_alg)99, &err),
                 capv_hash_ctx_new(&ctx, CAPV_HASH_SHA256, &err));
    FAIL_THEN_OK(capv_hash_ctx_update(ctx, NULL, 1, &err),
                 capv_hash_ctx_update(ctx, (const uint8_t *)"x", 1, &err));
    capv_hash_ctx_free(ctx);
    /* encoding */
    char hex[CAPV_DIGEST_HEX_SIZE];
    FAIL_THEN_OK(capv_digest_parse(d, "0x12", 4, &err),
                 capv_digest_parse(d,
                                   "0x"
                                   "00000000"
                                   "00000000000000000000000000000000000000000000000000000000",
                                   66, &err));
    FAIL_THEN_OK(capv_hex_encode(hex, 2, d, 32, &err), capv_hex_encode(hex, 65, d, 32, &err));
    FAIL_THEN_OK(capv_hex_decode(d, 2, "zz", 2, &err), capv_hex_decode(d, 2, "0a0b", 4, &err));
    uint8_t raw[8];
    size_t n = 0;
    FAIL_THEN_OK(capv_base64_decode(raw, sizeof raw, &n, "a", 1, CAPV_BASE64_STD, &err),
                 capv_base64_decode(raw, sizeof raw, &n, "YQ==", 4, CAPV_BASE64_STD, &err));
    char b64[8];
    FAIL_THEN_OK(capv_base64_encode(b64, 2, NULL, raw, 1, CAPV_BASE64_STD, &err),
                 capv_base64_encode(b64, sizeof b64, NULL, raw, 1, CAPV_BASE64_STD, &err));
    /* json */
    FAIL_THEN_OK(capv_json_validate((const uint8_t *)"{", 1, &err),
                 capv_json_validate((const uint8_t *)"{}", 2, &err));
    uint8_t *canon = NULL;
    size_t clen = 0;
    FAIL_THEN_OK(capv_json_canonical(&canon, &clen, (const uint8_t *)"[1,]", 4, 0, &err),
                 capv_json_canonical(&canon, &clen, (const uint8_t *)"[1]", 3, 0, &err));
    capv_free(canon);
    char *quoted = NULL;
    FAIL_THEN_OK(capv_json_quote(&quoted, NULL, "\xff", 1, &err),
                 capv_json_quote(&quoted, NULL, "ok", 2, &err));
    capv_free(quoted);
    /* commitment */
    const char *csv = "name,jurisdiction,tier\nA,DE,1\n";
    FAIL_THEN_OK(capv_commitment_suppliers_csv(d, NULL, (const uint8_t *)"x\n", 2, &err),
                 capv_commitment_suppliers_csv(d, NULL, (const uint8_t *)csv, strlen(csv), &err));
    /* package */
    capv_package_limits *lim = NULL;
    ck_assert_int_eq(capv_package_limits_new(&lim, &err), CAPV_OK);
    FAIL_THEN_OK(capv_package_limits_set(lim, CAPV_LIMIT_ENTRIES, 0, &err),
                 capv_package_limits_set(lim, CAPV_LIMIT_ENTRIES, 100, &err));
    capv_package *pkg = NULL;
    FAIL_THEN_OK(capv_package_open_json(&pkg, (const uint8_t *)"{}", 2, lim, &err),
                 capv_package_new(&pkg, lim, &err));
    capv_package_limits_free(lim);
    FAIL_THEN_OK(capv_package_add_member(pkg, "../x", (const uint8_t *)"x", 1, &err),
                 capv_package_add_member(pkg, "manifest.json", (const uint8_t *)manifest_json,
                                         strlen(manifest_json), &err));
    FAIL_THEN_OK(capv_package_find(NULL, NULL, pkg, "proof.dat", &err),
                 capv_package_find(NULL, NULL, pkg, "manifest.json", &err));
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE], pol[CAPV_DIGEST_HEX_SIZE];
    capv_status st = capv_package_hashes(mh, ph, pol, pkg, &err);
    ck_assert_int_eq(st, CAPV_E_MALFORMED); /* no proof yet: not a CAP package */
    ck_assert_int_eq(err.code, CAPV_E_MALFORMED);
    ck_assert_int_eq(capv_package_add_member(pkg, "proof.dat", (const uint8_t *)"e30=", 4, &err),
                     CAPV_OK);
    FAIL_THEN_OK(capv_package_hashes(mh, ph, pol, NULL, &err),
                 capv_package_hashes(mh, ph, pol, pkg, &err));
    ck_assert_str_eq(pol, "0x1111111111111111111111111111111111111111111111111111111111111111");
    uint64_t bound = 0;
    FAIL_THEN_OK(capv_package_memory_bound(NULL, NULL, 1, &err),
                 capv_package_memory_bound(&bound, NULL, 1, &err));
    /* keys */
    capv_signing_key *sk = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&sk, &err), CAPV_OK);
    uint8_t pub[CAPV_ED25519_PUBLIC_LEN], sig[CAPV_ED25519_SIGNATURE_LEN];
    capv_signing_key_public(pub, sk);
    FAIL_THEN_OK(capv_signing_key_sign(sig, NULL, (const uint8_t *)"m", 1, &err),
                 capv_signing_key_sign(sig, sk, (const uint8_t *)"m", 1, &err));
    FAIL_THEN_OK(capv_ed25519_verify(pub, sig, (const uint8_t *)"n", 1, &err),
                 capv_ed25519_verify(pub, sig, (const uint8_t *)"m", 1, &err));
    capv_signing_key_free(sk);
    capv_trust_store *ts = NULL;
    ck_assert_int_eq(capv_trust_store_new(&ts, &err), CAPV_OK);
    FAIL_THEN_OK(capv_trust_store_add(ts, NULL, "o", &err),
                 capv_trust_store_add(ts, pub, "o", &err));
    char kid[CAPV_KID_SIZE];
    FAIL_THEN_OK(capv_key_id(kid, NULL, &err), capv_key_id(kid, pub, &err));
    /* verify: verifier, options, entry points, report, request forms */
    capv_verifier *v = NULL;
    ck_assert_int_eq(capv_verifier_new(&v, &err), CAPV_OK);
    capv_verifier_take_trust_store(v, ts);
    FAIL_THEN_OK(capv_verifier_add_policy_hash(v, "nope", &err),
                 capv_verifier_add_policy_hash(v, pol, &err));
    capv_verify_options *o = NULL;
    ck_assert_int_eq(capv_verify_options_new(&o, &err), CAPV_OK);
    FAIL_THEN_OK(capv_verify_options_set(o, (capv_option)99, true, &err),
                 capv_verify_options_set(o, CAPV_OPT_STRICT, true, &err));
    ck_assert(capv_verify_options_get(o, CAPV_OPT_STRICT));
    ck_assert(!capv_verify_options_get(o, (capv_option)99));
    capv_report *r = NULL;
    FAIL_THEN_OK(capv_verify_zip_memory(&r, v, (const uint8_t *)"PK", 2, o, &err),
                 capv_verify_package(&r, v, pkg, o, &err));
    char *json = NULL;
    FAIL_THEN_OK(capv_report_to_json(&json, NULL, NULL, 0, &err),
                 capv_report_to_json(&json, NULL, r, 0, &err));
    capv_free(json);
    capv_report_free(r);
    r = NULL;
    FAIL_THEN_OK(capv_verify_path(&r, v, "/nonexistent/package", o, &err),
                 capv_verify_package(&r, v, pkg, NULL, &err));
    capv_report_free(r);
    capv_json_form form;
    const char *body = "{\"package\":{}}";
    FAIL_THEN_OK(capv_verify_json_form(&form, (const uint8_t *)"[]", 2, &err),
                 capv_verify_json_form(&form, (const uint8_t *)body, strlen(body), &err));
    ck_assert_int_eq(form, CAPV_JSON_FORM_PACKAGE);
    capv_verify_options_free(o);
    capv_verifier_free(v);
    capv_package_free(pkg);
    /* cache */
    capv_cache *c = NULL;
    FAIL_THEN_OK(capv_cache_new(&c, 0, 0, 0, &err), capv_cache_new(&c, 10, 1024, 0, &err));
    uint8_t *val = NULL;
    size_t vlen = 0;
    FAIL_THEN_OK(capv_cache_put(c, (const uint8_t *)"k", 1, NULL, 5, &err),
                 capv_cache_put(c, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, &err));
    FAIL_THEN_OK(capv_cache_get(&val, &vlen, c, (const uint8_t *)"x", 1, &err),
                 capv_cache_get(&val, &vlen, c, (const uint8_t *)"k", 1, &err));
    capv_free(val);
    capv_cache_free(c);
    /* jwt */
    capv_jwt_alg a;
    FAIL_THEN_OK(capv_jwt_alg_from_name(&a, "none", &err),
                 capv_jwt_alg_from_name(&a, "EdDSA", &err));
    capv_jwk_set *set = NULL;
    const char *jwks = "{\"keys\":[]}";
    FAIL_THEN_OK(capv_jwk_set_parse(&set, (const uint8_t *)"[]", 2, &err),
                 capv_jwk_set_parse(&set, (const uint8_t *)jwks, strlen(jwks), &err));
    capv_jwk_set_free(set);
    capv_jwks *src = NULL;
    ck_assert_int_eq(capv_jwks_new(&src, "/nonexistent/jwks.json", &err), CAPV_OK);
    FAIL_THEN_OK(capv_jwks_set_ttl(src, 0, &err), capv_jwks_set_ttl(src, 60, &err));
    capv_jwks_free(src);
    capv_jwt_validator *jv = NULL;
    ck_assert_int_eq(capv_jwt_validator_new(&jv, &err), CAPV_OK);
    FAIL_THEN_OK(capv_jwt_validator_set_leeway(jv, -1, &err),
                 capv_jwt_validator_set_leeway(jv, 30, &err));
    FAIL_THEN_OK(capv_jwt_validator_set_algs(jv, "HS256", &err),
                 capv_jwt_validator_set_algs(jv, "EdDSA", &err));
    capv_jwt_validator_free(jv);
    /* log (unstable) */
    capv_log_level level;
    FAIL_THEN_OK(capv_log_level_parse(&level, "loud", &err),
                 capv_log_level_parse(&level, "info", &err));
    capv_global_shutdown();
}
END_TEST

/* err->code is always the returned status, also for a failure nothing described. */
START_TEST(error_code_is_the_status)
{
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_global_init(&err), CAPV_OK);
    capv_cache *c = NULL;
    ck_assert_int_eq(capv_cache_new(&c, 10, 1024, 0, &err), CAPV_OK);
    uint8_t *val = NULL;
    size_t vlen = 0;
    ck_assert_int_eq(capv_cache_get(&val, &vlen, c, (const uint8_t *)"x", 1, &err),
                     CAPV_E_NOT_FOUND);
    ck_assert_int_eq(err.code, CAPV_E_NOT_FOUND);
    ck_assert_str_ne(err.message, "");
    capv_cache_free(c);
    capv_global_shutdown();
}
END_TEST

Suite *status_suite(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, classes_follow_hundreds);
    tcase_add_test(tc, values_are_pinned);
    tcase_add_test(tc, names_and_messages);
    tcase_add_test(tc, global_init_is_refcounted);
    tcase_add_test(tc, error_clear_and_version);
    tcase_add_test(tc, error_reset_on_success);
    tcase_add_test(tc, error_code_is_the_status);
    suite_add_tcase(s, tc);
    return s;
}
