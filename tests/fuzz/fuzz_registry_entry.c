/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: registry entries as JSON (docs/registry.md; the body of the daemon's POST
 * /registry/entries) with capv_registry_entry_from_json. An accepted entry must serialise
 * (capv_registry_entry_to_json), read back to the same JSON, give its signed bytes (when it
 * has an id and registered_at) and have its signature checked with a definite answer. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    capv_registry_entry *e = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_entry_from_json(&e, data, size, &err);
    if (st != CAPV_OK) {
        FUZZ_ASSERT(e == NULL);
        FUZZ_ASSERT_INPUT_ERROR(st, err);
        return 0;
    }
    char *json = NULL, *json2 = NULL;
    size_t jlen = 0, jlen2 = 0;
    FUZZ_ASSERT(capv_registry_entry_to_json(&json, &jlen, e, NULL) == CAPV_OK);
    capv_registry_entry *again = NULL;
    FUZZ_ASSERT(capv_registry_entry_from_json(&again, (const uint8_t *)json, jlen, NULL) ==
                CAPV_OK);
    FUZZ_ASSERT(capv_registry_entry_to_json(&json2, &jlen2, again, NULL) == CAPV_OK);
    FUZZ_ASSERT(jlen == jlen2 && memcmp(json, json2, jlen) == 0);
    /* an entry read from a request gets its id and time when registered: before that it
     * has no signed bytes and no signature to check */
    bool complete = e->id != NULL && e->registered_at != NULL;
    uint8_t *tbs = NULL;
    size_t tlen = 0;
    st = capv_registry_entry_signed_bytes(&tbs, &tlen, e, NULL);
    FUZZ_ASSERT(st == (complete ? CAPV_OK : CAPV_E_INVALID_ARG));
    if (tbs != NULL)
        FUZZ_ASSERT(capv_json_validate(tbs, tlen, NULL) == CAPV_OK);
    st = capv_registry_entry_verify(e, &err);
    if (complete)
        FUZZ_ASSERT(st == CAPV_OK || st == CAPV_E_MISSING ||
                    capv_status_class_of(st) == CAPV_CLASS_REJECTED ||
                    capv_status_class_of(st) == CAPV_CLASS_MALFORMED);
    else
        FUZZ_ASSERT(st == CAPV_E_INVALID_ARG);
    capv_free(tbs);
    capv_free(json);
    capv_free(json2);
    capv_registry_entry_free(again);
    capv_registry_entry_free(e);
    return 0;
}
