/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: commitment CSV files (docs/architecture.md, "Commitments"), read as both lists:
 * suppliers (capv_commitment_suppliers_csv) and beneficial owners (capv_commitment_ubos_csv). An
 * accepted file gives a root that is deterministic. */
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_global_init();
    return 0;
}

typedef capv_status (*csv_fn)(uint8_t root[32], size_t *count, const uint8_t *csv, size_t len,
                              capv_error *err);

static void check(csv_fn fn, const uint8_t *data, size_t size)
{
    uint8_t root[32], again[32];
    size_t count = 0, count2 = 0;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = fn(root, &count, data, size, &err);
    if (st != CAPV_OK) {
        FUZZ_ASSERT_INPUT_ERROR(st, err);
        return;
    }
    FUZZ_ASSERT(fn(again, &count2, data, size, NULL) == CAPV_OK);
    FUZZ_ASSERT(count == count2 && memcmp(root, again, 32) == 0);
    FUZZ_ASSERT(count <= size); /* at least one byte per row */
    uint8_t company[32];
    FUZZ_ASSERT(capv_commitment_company(company, root, again, NULL) == CAPV_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(capv_commitment_suppliers_csv, data, size);
    check(capv_commitment_ubos_csv, data, size);
    return 0;
}
