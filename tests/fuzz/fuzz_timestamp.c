/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: RFC 3161 timestamps (docs/architecture.md, "Timestamps") with capvi_timestamp_verify
 * — a TimeStampResp or a bare TimeStampToken (DER) over a fixed document, against a tiny store
 * holding one test TSA root. The store and the document come from the throwaway test TSA that
 * tests/tools/make_tsa.sh makes (ctest's fixture.tsa: <build>/tests/fixtures/tsa; elsewhere set
 * CAPV_TEST_FIXTURES to a directory holding tsa/), so its tokens verify. Every input is also
 * verified with OpenSSL decoding it whole (capvi_timestamp_verify_whole), which must come to
 * the same status, error and info as the store's decoded certificates. */
#include <string.h>

#include "fuzz.h"
#include "timestamp_int.h"

/* Far in the future, so no token is "from the future"; chains are checked at genTime. */
#define FUZZ_NOW_MS INT64_C(4102444800000)

static capv_tsa_store *store;
static uint8_t *document;
static size_t document_len;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_global_init();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tsa", FUZZ_FIXTURES_DIR());
    size_t len = 0;
    uint8_t *pem = fuzz_read_file(dir, "ca.pem", &len);
    capv_error err = CAPV_ERROR_INIT;
    FUZZ_SETUP(capvi_tsa_store_load_mem(&store, pem, len, &err) == CAPV_OK, "%s/ca.pem: %s", dir,
               err.message);
    free(pem);
    document = fuzz_read_file(dir, "data.txt", &document_len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    capv_timestamp_info info;
    memset(&info, 0, sizeof info);
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capvi_timestamp_verify(&info, store, data, size, document, document_len,
                                            FUZZ_NOW_MS, 0, &err);
    if (st != CAPV_OK)
        FUZZ_ASSERT_INPUT_ERROR(st, err);
    else
        FUZZ_ASSERT(info.gen_time_ms <= FUZZ_NOW_MS);
    capv_timestamp_info whole;
    memset(&whole, 0, sizeof whole);
    capv_error werr = CAPV_ERROR_INIT;
    FUZZ_ASSERT(capvi_timestamp_verify_whole(&whole, store, data, size, document, document_len,
                                             FUZZ_NOW_MS, 0, &werr) == st);
    FUZZ_ASSERT(strcmp(werr.field, err.field) == 0 && strcmp(werr.message, err.message) == 0);
    FUZZ_ASSERT(memcmp(&whole, &info, sizeof info) == 0);
    FUZZ_ASSERT(memchr(info.hash_alg, '\0', sizeof info.hash_alg) != NULL);
    FUZZ_ASSERT(memchr(info.tsa_subject, '\0', sizeof info.tsa_subject) != NULL);
    FUZZ_ASSERT(memchr(info.serial, '\0', sizeof info.serial) != NULL);
    return 0;
}
