/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: zip packages held in memory (capv_package_open_zip_memory), as the daemon's
 * POST /verify receives them, with the daemon's default limits. Every member of an accepted
 * package is read back and must obey the loader's promises (sorted unique names, found by
 * name). */
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
    capv_status st = capv_package_open_zip_memory(&pkg, data, size, NULL, &err);
    if (st != CAPV_OK) {
        FUZZ_ASSERT(pkg == NULL);
        FUZZ_ASSERT_INPUT_ERROR(st, err);
        return 0;
    }
    size_t total = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < capv_package_member_count(pkg); i++) {
        const char *name = capv_package_member_name(pkg, i);
        size_t len = 0;
        const uint8_t *bytes = capv_package_member_data(pkg, i, &len);
        FUZZ_ASSERT(name != NULL && (bytes != NULL || len == 0));
        FUZZ_ASSERT(prev == NULL || strcmp(prev, name) < 0);
        const uint8_t *found = NULL;
        size_t flen = 0;
        FUZZ_ASSERT(capv_package_find(&found, &flen, pkg, name, NULL) == CAPV_OK);
        FUZZ_ASSERT(found == bytes && flen == len);
        total += len;
        prev = name;
    }
    FUZZ_ASSERT(total <= CAPV_DEFAULT_MAX_TOTAL_BYTES);
    capv_package_free(pkg);
    return 0;
}
