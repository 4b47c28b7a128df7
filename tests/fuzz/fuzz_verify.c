/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: whole-package verification of an uploaded zip (capv_verify_zip_memory, what
 * the daemon's POST /verify runs), which reaches the parsers behind the zip loader: _meta
 * layouts, manifests, signatures, proofs, timestamps. The verifier trusts the sample
 * package's signer, policy store and test TSA (examples/packages/make-sample.sh; ctest's
 * fixture.sample: <build>/tests/fixtures/sample), so the sample verifies "ok" and mutations
 * of it travel deep (the real clock: the fixture's timestamp is from when it was made). Any
 * answer must be a report whose JSON is strict,
 * or a MALFORMED-class status. */
#include <string.h>

#include "fuzz.h"

static capv_verifier *verifier;
static capv_verify_options *options;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_global_init();
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/sample", FUZZ_FIXTURES_DIR());
    capv_error err = CAPV_ERROR_INIT;
    FUZZ_SETUP(capv_verifier_new(&verifier, &err) == CAPV_OK, "verifier: %s", err.message);
    snprintf(path, sizeof path, "%s/trust", dir);
    FUZZ_SETUP(capv_verifier_load_trust(verifier, path, &err) == CAPV_OK, "%s: %s", path,
               err.message);
    snprintf(path, sizeof path, "%s/policies", dir);
    FUZZ_SETUP(capv_verifier_load_policy_dir(verifier, path, &err) == CAPV_OK, "%s: %s", path,
               err.message);
    snprintf(path, sizeof path, "%s/tsa/ca.pem", dir);
    FUZZ_SETUP(capv_verifier_load_tsa_roots(verifier, path, &err) == CAPV_OK, "%s: %s", path,
               err.message);
    FUZZ_SETUP(capv_verify_options_new(&options, &err) == CAPV_OK, "options");
    FUZZ_SETUP(capv_verify_options_set_mock_policy(options, CAPV_MOCK_ACCEPT, &err) == CAPV_OK,
               "options");
    return 0;
}

static void check_report(const capv_report *r)
{
    capv_verdict v = capv_report_verdict(r);
    FUZZ_ASSERT(v == CAPV_VERDICT_OK || v == CAPV_VERDICT_WARN || v == CAPV_VERDICT_FAIL);
    FUZZ_ASSERT(capv_report_format(r) != NULL);
    for (size_t i = 0; i < capv_report_check_count(r); i++) {
        const capv_check *c = capv_report_check(r, i);
        FUZZ_ASSERT(capv_check_id(c) != NULL && capv_check_message(c) != NULL);
        /* an ok verdict means every mandatory check ran and passed: nothing failed */
        if (v == CAPV_VERDICT_OK)
            FUZZ_ASSERT(capv_check_status_of(c) != CAPV_CHECK_FAIL);
        const char *d = capv_check_details(c);
        if (d != NULL)
            FUZZ_ASSERT(capv_json_validate((const uint8_t *)d, strlen(d), NULL) == CAPV_OK);
    }
    for (size_t u = 0; u < capv_report_unit_count(r); u++)
        check_report(capv_report_unit(r, u));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    capv_report *r = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_verify_zip_memory(&r, verifier, data, size, options, &err);
    if (st != CAPV_OK) {
        FUZZ_ASSERT(r == NULL);
        FUZZ_ASSERT_INPUT_ERROR(st, err);
        return 0;
    }
    check_report(r);
    char *json = NULL;
    size_t len = 0;
    FUZZ_ASSERT(capv_report_to_json(&json, &len, r, 0, NULL) == CAPV_OK);
    FUZZ_ASSERT(capv_json_validate((const uint8_t *)json, len, NULL) == CAPV_OK);
    /* the pretty form is the same document: made compact again, the same bytes */
    char *pretty = NULL;
    uint8_t *again = NULL;
    size_t plen = 0, alen = 0;
    FUZZ_ASSERT(capv_report_to_json(&pretty, &plen, r, CAPV_REPORT_JSON_PRETTY, NULL) == CAPV_OK);
    FUZZ_ASSERT(capv_json_canonical(&again, &alen, (const uint8_t *)pretty, plen, 0, NULL) ==
                CAPV_OK);
    FUZZ_ASSERT(alen == len && memcmp(again, json, len) == 0);
    capv_free(again);
    capv_free(pretty);
    capv_free(json);
    capv_report_free(r);
    return 0;
}
