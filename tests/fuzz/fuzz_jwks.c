/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: JSON Web Key Sets (docs/auth.md) with capv_jwk_set_parse, as a key set fetched
 * from an identity provider is read. Every accepted key must answer its accessors, every
 * ignored one must have a reason. */
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
    capv_jwk_set *set = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_jwk_set_parse(&set, data, size, &err);
    if (st != CAPV_OK) {
        FUZZ_ASSERT(set == NULL);
        FUZZ_ASSERT_INPUT_ERROR(st, err);
        return 0;
    }
    size_t count = capv_jwk_set_count(set);
    FUZZ_ASSERT(count <= CAPV_JWKS_MAX_KEYS);
    for (size_t i = 0; i < count; i++) {
        const capv_jwk *k = capv_jwk_set_key(set, i);
        FUZZ_ASSERT(k != NULL);
        const char *kty = capv_jwk_kty(k);
        FUZZ_ASSERT(capv_jwk_kid(k) != NULL && kty != NULL && capv_jwk_curve(k) != NULL);
        FUZZ_ASSERT(strcmp(kty, "RSA") == 0 || strcmp(kty, "EC") == 0 || strcmp(kty, "OKP") == 0);
        if (strcmp(kty, "RSA") == 0)
            FUZZ_ASSERT(capv_jwk_bits(k) >= 2048);
        bool any = false;
        for (int a = CAPV_JWT_ALG_RS256; a <= CAPV_JWT_ALG_EDDSA; a++)
            any = any || capv_jwk_allows(k, (capv_jwt_alg)a);
        FUZZ_ASSERT(any);
    }
    for (size_t i = 0; i < capv_jwk_set_ignored_count(set); i++) {
        size_t index = 0;
        const char *kid = NULL, *reason = NULL;
        FUZZ_ASSERT(capv_jwk_set_ignored(&index, &kid, &reason, set, i, NULL) == CAPV_OK);
        FUZZ_ASSERT(kid != NULL && reason != NULL && *reason != '\0');
    }
    capv_jwk_set_free(set);
    return 0;
}
