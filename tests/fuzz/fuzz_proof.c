/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: proof containers (docs/formats.md, "Proofs") — CAPZ v2, proof.v0 (base64 JSON or
 * JSON) and proof.v1 JSON — through capvi_proof_parse, as verification reads a package's proof
 * file. */
#include <string.h>

#include "fuzz.h"
#include "proof_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_global_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    capv_proof p;
    memset(&p, 0, sizeof p);
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capvi_proof_parse(&p, data, size, &err);
    if (st != CAPV_OK) {
        FUZZ_ASSERT_INPUT_ERROR(st, err);
    } else {
        FUZZ_ASSERT(memchr(p.container, '\0', sizeof p.container) != NULL);
        FUZZ_ASSERT(memchr(p.backend, '\0', sizeof p.backend) != NULL);
        FUZZ_ASSERT(p.constraints_failed <= p.constraints);
        if (p.statement != NULL)
            (void)strlen(p.statement);
        if (p.first_failed != NULL)
            (void)strlen(p.first_failed);
    }
    capvi_proof_clear(&p);
    return 0;
}
