/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: PolicyV2 documents (docs/policies.md), YAML or JSON, through capv_policy_parse, the
 * lints, capv_policy_compile in both lint modes, the older policy v1 hash
 * (capv_policy_v1_hash), and the daemon's POST /policy/compile body
 * (capv_policy_compile_request_parse). A compiled IR must load back (capv_policy_ir_load: its
 * ir_hash checks out) in both text forms, give the same ir_hash, and evaluate the peer's sample
 * context (../shared/vectors/peer/context/adapt_context.json) to a definite answer. */
#include <string.h>

#include "fuzz.h"

#include <capverify/unstable/policy_request.h>

static uint8_t *context;
static size_t context_len;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_global_init();
    context = fuzz_read_file(FUZZ_SHARED_DIR(), "peer/context/adapt_context.json", &context_len);
    return 0;
}

static void check_reload(const capv_policy_ir *ir, unsigned int form)
{
    size_t len = 0;
    const char *text = capv_policy_ir_json(ir, form, &len);
    FUZZ_ASSERT(text != NULL);
    capv_policy_ir *back = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_ir_load(&back, (const uint8_t *)text, len, &err);
    if (st != CAPV_OK)
        fprintf(stderr, "reload: %s (%s): %s\n", capv_status_name(st), err.field, err.message);
    FUZZ_ASSERT(st == CAPV_OK);
    FUZZ_ASSERT(strcmp(capv_policy_ir_hash(back), capv_policy_ir_hash(ir)) == 0);
    FUZZ_ASSERT(capv_policy_ir_rule_count(back) == capv_policy_ir_rule_count(ir));
    capv_policy_ir_free(back);
}

static void check_eval(const capv_policy_ir *ir)
{
    for (unsigned int flags = 0; flags <= CAPV_POLICY_EVAL_ADAPTIVE; flags++) {
        capv_policy_eval_result *r = NULL;
        capv_status st = capv_policy_eval(&r, ir, context, context_len, flags, NULL);
        FUZZ_ASSERT(st == CAPV_OK);
        capv_verdict v = capv_policy_eval_result_verdict(r);
        FUZZ_ASSERT(v == CAPV_VERDICT_OK || v == CAPV_VERDICT_FAIL);
        char *json = NULL;
        FUZZ_ASSERT(capv_policy_eval_result_to_json(&json, NULL, r, 0, NULL) == CAPV_OK);
        FUZZ_ASSERT(capv_json_validate((const uint8_t *)json, strlen(json), NULL) == CAPV_OK);
        capv_free(json);
        capv_policy_eval_result_free(r);
    }
}

static void compile(const capv_policy *p, capv_policy_lint_mode mode)
{
    capv_policy_ir *ir = NULL;
    capv_policy_diagnostics *d = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_compile(&ir, &d, p, mode, &err);
    if (st != CAPV_OK) {
        FUZZ_ASSERT(ir == NULL);
        FUZZ_ASSERT(d == NULL || capv_policy_diagnostics_errors(d) > 0 ||
                    capv_status_class_of(st) == CAPV_CLASS_MALFORMED);
        capv_policy_diagnostics_free(d);
        return;
    }
    FUZZ_ASSERT(d == NULL || capv_policy_diagnostics_errors(d) == 0);
    FUZZ_ASSERT(strcmp(capv_policy_ir_policy_hash(ir), capv_policy_hash(p)) == 0);
    check_reload(ir, CAPV_POLICY_IR_COMPACT);
    check_reload(ir, CAPV_POLICY_IR_PRETTY);
    check_eval(ir);
    capv_policy_ir_free(ir);
    capv_policy_diagnostics_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    capv_policy *p = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_parse(&p, data, size, CAPV_POLICY_FORMAT_AUTO, &err);
    if (st != CAPV_OK) {
        FUZZ_ASSERT(p == NULL);
        FUZZ_ASSERT_INPUT_ERROR(st, err);
    } else {
        FUZZ_ASSERT(capv_policy_id(p) != NULL && capv_policy_hash(p) != NULL);
        FUZZ_ASSERT(strlen(capv_policy_hash(p)) == CAPV_POLICY_HASH_SIZE - 1);
        size_t clen = 0;
        const char *canon = capv_policy_canonical_json(p, &clen);
        FUZZ_ASSERT(capv_json_validate((const uint8_t *)canon, clen, NULL) == CAPV_OK);
        capv_policy_diagnostics *d = NULL;
        FUZZ_ASSERT(capv_policy_lint(&d, p, CAPV_POLICY_LINT_STRICT, NULL) == CAPV_OK);
        char *json = NULL;
        FUZZ_ASSERT(capv_policy_diagnostics_to_json(&json, NULL, d, NULL) == CAPV_OK);
        FUZZ_ASSERT(capv_json_validate((const uint8_t *)json, strlen(json), NULL) == CAPV_OK);
        capv_free(json);
        capv_policy_diagnostics_free(d);
        compile(p, CAPV_POLICY_LINT_STRICT);
        compile(p, CAPV_POLICY_LINT_RELAXED);
        capv_policy_free(p);
    }
    /* the daemon's POST /policy/compile body: the policy inline or base64 YAML */
    capv_policy_compile_request *req = NULL;
    st = capv_policy_compile_request_parse(&req, data, size, &err);
    if (st != CAPV_OK) {
        FUZZ_ASSERT(req == NULL);
        FUZZ_ASSERT_INPUT_ERROR(st, err);
    } else {
        capv_policy_lint_mode mode = capv_policy_compile_request_lint_mode(req);
        FUZZ_ASSERT(mode == CAPV_POLICY_LINT_STRICT || mode == CAPV_POLICY_LINT_RELAXED);
        compile(capv_policy_compile_request_policy(req), mode);
        capv_policy_compile_request_free(req);
    }
    char hash[CAPV_DIGEST_HEX_SIZE];
    st = capv_policy_v1_hash(hash, data, size, CAPV_POLICY_FORMAT_AUTO, &err);
    if (st != CAPV_OK)
        FUZZ_ASSERT_INPUT_ERROR(st, err);
    else
        FUZZ_ASSERT(strlen(hash) == CAPV_DIGEST_HEX_SIZE - 1);
    return 0;
}
