/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: strict JSON (docs/architecture.md, "Strict JSON"). capv_json_validate and
 * capvi_json_parse must agree; the compat canonical form (capv_json_canonical, with and without
 * emptied signatures) of an accepted value is strict JSON again and a fixed point; the pretty form
 * of the parsed tree canonicalises to the same bytes; capv_json_quote of the raw bytes round-trips. */
#include <string.h>

#include "fuzz.h"
#include "json_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_global_init();
    return 0;
}

static void check_canonical(const uint8_t *data, size_t size, unsigned int flags,
                            const uint8_t *expect, size_t expect_len)
{
    uint8_t *c1 = NULL, *c2 = NULL;
    size_t n1 = 0, n2 = 0;
    FUZZ_ASSERT(capv_json_canonical(&c1, &n1, data, size, flags, NULL) == CAPV_OK);
    FUZZ_ASSERT(c1 != NULL && c1[n1] == '\0');
    FUZZ_ASSERT(capv_json_validate(c1, n1, NULL) == CAPV_OK);
    FUZZ_ASSERT(capv_json_canonical(&c2, &n2, c1, n1, flags, NULL) == CAPV_OK);
    FUZZ_ASSERT(n1 == n2 && memcmp(c1, c2, n1) == 0);
    if (expect != NULL)
        FUZZ_ASSERT(n1 == expect_len && memcmp(c1, expect, n1) == 0);
    capv_free(c1);
    capv_free(c2);
}

static void check_quote(const uint8_t *data, size_t size)
{
    char *q = NULL;
    size_t qlen = 0;
    capv_status st = capv_json_quote(&q, &qlen, (const char *)data, size, NULL);
    if (st != CAPV_OK) {
        FUZZ_ASSERT(st == CAPV_E_JSON_UTF8 || st == CAPV_E_JSON_NUL);
        FUZZ_ASSERT(q == NULL);
        return;
    }
    cJSON *s = NULL;
    FUZZ_ASSERT(capvi_json_parse(&s, (const uint8_t *)q, qlen, NULL) == CAPV_OK);
    FUZZ_ASSERT(cJSON_IsString(s) && strlen(s->valuestring) == size &&
                memcmp(s->valuestring, data, size) == 0);
    cJSON_Delete(s);
    capv_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    capv_error verr = CAPV_ERROR_INIT, perr = CAPV_ERROR_INIT;
    capv_status vst = capv_json_validate(data, size, &verr);
    cJSON *root = NULL;
    capv_status pst = capvi_json_parse(&root, data, size, &perr);
    FUZZ_ASSERT(vst == pst);
    if (pst != CAPV_OK) {
        FUZZ_ASSERT(root == NULL);
        FUZZ_ASSERT_INPUT_ERROR(pst, perr);
        FUZZ_ASSERT(fuzz_text_ok(verr.message, sizeof verr.message));
        uint8_t *c = NULL;
        size_t n = 0;
        FUZZ_ASSERT(capv_json_canonical(&c, &n, data, size, 0, NULL) == pst && c == NULL);
    } else {
        capv_buf pretty = CAPV_BUF_INIT, compact = CAPV_BUF_INIT;
        capvi_json_write_pretty(&pretty, root);
        capvi_json_write_compact(&compact, root, 0);
        size_t plen = 0, clen = 0;
        uint8_t *p = capvi_buf_take(&pretty, &plen);
        uint8_t *c = capvi_buf_take(&compact, &clen);
        FUZZ_ASSERT(p != NULL && c != NULL);
        check_canonical(data, size, 0, c, clen);
        check_canonical(p, plen, 0, c, clen);
        check_canonical(data, size, CAPV_JSON_CANON_EMPTY_SIGNATURES, NULL, 0);
        free(p);
        free(c);
        cJSON_Delete(root);
    }
    check_quote(data, size);
    return 0;
}
