/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: packages uploaded as JSON, {"package": {"<name>": "<base64>", ...}}
 * (capv_package_open_json, the JSON form of the daemon's POST /verify), with the daemon's
 * default limits. */
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
    capv_package *pkg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_package_open_json(&pkg, data, size, NULL, &err);
    if (st != CAPV_OK) {
        FUZZ_ASSERT(pkg == NULL);
        FUZZ_ASSERT_INPUT_ERROR(st, err);
        return 0;
    }
    const char *prev = NULL;
    for (size_t i = 0; i < capv_package_member_count(pkg); i++) {
        const char *name = capv_package_member_name(pkg, i);
        size_t len = 0;
        const uint8_t *bytes = capv_package_member_data(pkg, i, &len);
        FUZZ_ASSERT(name != NULL && (bytes != NULL || len == 0));
        FUZZ_ASSERT(prev == NULL || strcmp(prev, name) < 0);
        prev = name;
    }
    capv_package_free(pkg);
    return 0;
}
