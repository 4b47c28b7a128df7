#include <capverify.h>
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

Suite *status_suite(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, classes_follow_hundreds);
    tcase_add_test(tc, values_are_pinned);
    tcase_add_test(tc, names_and_messages);
    tcase_add_test(tc, global_init_is_refcounted);
    tcase_add_test(tc, error_clear_and_version);
    suite_add_tcase(s, tc);
    return s;
}
