/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: policy evaluation (docs/policies.md). The peer's compiled IR
 * (../shared/vectors/peer/policy/lksg_v1.ir.json) is loaded once with capv_policy_ir_load;
 * the input is the evaluation context (capv_policy_eval, full and adaptive) and also a
 * daemon /verify policy-evaluation body (capv_policy_eval_request_parse, then run against
 * the same IR when it names it, or against its own embedded IR). */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"

#include <capverify/unstable/policy_request.h>

static capv_policy_ir *ir;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_global_init();
    size_t len = 0;
    uint8_t *text = fuzz_read_file(FUZZ_SHARED_DIR(), "peer/policy/lksg_v1.ir.json", &len);
    capv_error err = CAPV_ERROR_INIT;
    FUZZ_SETUP(capv_policy_ir_load(&ir, text, len, &err) == CAPV_OK, "lksg_v1.ir.json: %s",
               err.message);
    free(text);
    return 0;
}

static void check_result(capv_status st, capv_policy_eval_result *r)
{
    if (st != CAPV_OK) {
        FUZZ_ASSERT(r == NULL);
        FUZZ_ASSERT_INPUT_STATUS(st);
        return;
    }
    capv_verdict v = capv_policy_eval_result_verdict(r);
    FUZZ_ASSERT(v == CAPV_VERDICT_OK || v == CAPV_VERDICT_FAIL);
    bool all_pass = true;
    for (size_t i = 0; i < capv_policy_eval_result_rule_count(r); i++) {
        FUZZ_ASSERT(capv_policy_eval_result_rule_id(r, i) != NULL);
        all_pass = all_pass && capv_policy_eval_result_rule_status(r, i) != CAPV_POLICY_RULE_FAIL;
    }
    FUZZ_ASSERT((v == CAPV_VERDICT_OK) == all_pass);
    char *json = NULL;
    FUZZ_ASSERT(capv_policy_eval_result_to_json(&json, NULL, r, CAPV_POLICY_JSON_PRETTY, NULL) ==
                CAPV_OK);
    FUZZ_ASSERT(capv_json_validate((const uint8_t *)json, strlen(json), NULL) == CAPV_OK);
    capv_free(json);
    capv_policy_eval_result_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (unsigned int flags = 0; flags <= CAPV_POLICY_EVAL_ADAPTIVE; flags++) {
        capv_policy_eval_result *r = NULL;
        capv_status st = capv_policy_eval(&r, ir, data, size, flags, NULL);
        check_result(st, r);
    }
    capv_policy_eval_request *req = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_eval_request_parse(&req, data, size, &err);
    if (st != CAPV_OK) {
        FUZZ_ASSERT(req == NULL);
        FUZZ_ASSERT_INPUT_ERROR(st, err);
        return 0;
    }
    const char *id = capv_policy_eval_request_policy_id(req);
    FUZZ_ASSERT((id == NULL) != (capv_policy_eval_request_ir(req) == NULL));
    capv_policy_eval_result *r = NULL;
    st = capv_policy_eval_request_run(&r, req, id ? ir : NULL, &err);
    if (st == CAPV_E_MISMATCH)
        FUZZ_ASSERT(r == NULL && id != NULL && strcmp(id, capv_policy_ir_policy_id(ir)) != 0);
    else
        check_result(st, r);
    capv_policy_eval_request_free(req);
    return 0;
}
