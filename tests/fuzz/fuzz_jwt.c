/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: bearer-token validation (docs/auth.md, docs/fuzzing.md) with capv_jwt_validate.
 *
 * Two ways in, chosen by the first byte:
 *   a token (anything not starting with '{'): validated as the daemon would, against the
 *     attack catalogue's fixed key set and configuration (tests/vectors/jwt_attacks*.json,
 *     loaded once), at the catalogue's fixed "now";
 *   '{' — "HEADER\0CLAIMS": the driver signs base64url(HEADER).base64url(CLAIMS) with an
 *     Ed25519 key made at start-up (kid "fuzz" in a second key set), so the fuzzer reaches
 *     the header and claim checks behind a valid signature, which it could never forge.
 * The result must be OK with claims or a REJECTED-class status with a reason, never
 * UNAVAILABLE (a key set is always there). */
#include <openssl/evp.h>
#include <string.h>

#include "fuzz.h"
#include "json_int.h"

static int64_t now_ms;
static capv_jwt_validator *catalogue;
static capv_jwt_validator *signed_v;
static EVP_PKEY *signer;

static int64_t fixed_clock(void *user)
{
    (void)user;
    return now_ms;
}

static capv_jwt_validator *validator(const cJSON *cfg, capv_jwk_set *set)
{
    capv_jwt_validator *v = NULL;
    FUZZ_SETUP(capv_jwt_validator_new(&v, NULL) == CAPV_OK, "validator");
    const cJSON *iss = capvi_json_get(cfg, "issuer"), *auds = capvi_json_get(cfg, "audiences");
    const cJSON *algs = capvi_json_get(cfg, "algs");
    FUZZ_SETUP(cJSON_IsString(iss) && cJSON_IsArray(auds) && cJSON_IsString(algs),
               "jwt_attacks.json: config");
    FUZZ_SETUP(capv_jwt_validator_set_issuer(v, iss->valuestring, NULL) == CAPV_OK, "issuer");
    for (const cJSON *a = auds->child; a; a = a->next)
        FUZZ_SETUP(capv_jwt_validator_add_audience(v, a->valuestring, NULL) == CAPV_OK, "aud");
    FUZZ_SETUP(capv_jwt_validator_set_algs(v, algs->valuestring, NULL) == CAPV_OK, "algs");
    FUZZ_SETUP(capv_jwt_validator_set_leeway(v, capvi_json_get(cfg, "leeway")->valueint, NULL) ==
                   CAPV_OK,
               "leeway");
    FUZZ_SETUP(capv_jwt_validator_set_max_lifetime(v, capvi_json_get(cfg, "max_lifetime")->valueint,
                                                   NULL) == CAPV_OK,
               "lifetime");
    capv_jwt_validator_set_clock(v, fixed_clock, NULL);
    capv_jwt_validator_set_key_set(v, set);
    return v;
}

static capv_jwk_set *fuzz_key_set(void)
{
    signer = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    FUZZ_SETUP(signer != NULL, "Ed25519 key generation");
    uint8_t pub[32];
    size_t publen = sizeof pub;
    FUZZ_SETUP(EVP_PKEY_get_raw_public_key(signer, pub, &publen) == 1, "raw public key");
    char x[CAPV_BASE64_ENCODED_SIZE(32)];
    FUZZ_SETUP(capv_base64_encode(x, sizeof x, NULL, pub, publen, CAPV_BASE64_URL, NULL) == CAPV_OK,
               "base64url");
    char jwks[256];
    int n = snprintf(jwks, sizeof jwks,
                     "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"fuzz\","
                     "\"use\":\"sig\",\"alg\":\"EdDSA\",\"x\":\"%s\"}]}",
                     x);
    capv_jwk_set *set = NULL;
    FUZZ_SETUP(capv_jwk_set_parse(&set, (const uint8_t *)jwks, (size_t)n, NULL) == CAPV_OK &&
                   capv_jwk_set_count(set) == 1,
               "fuzz key set");
    return set;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_global_init();
    size_t len = 0;
    uint8_t *text = fuzz_read_file(FUZZ_VECTORS_DIR(), "jwt_attacks.json", &len);
    cJSON *doc = NULL;
    FUZZ_SETUP(capvi_json_parse(&doc, text, len, NULL) == CAPV_OK, "jwt_attacks.json");
    free(text);
    const cJSON *cfg = capvi_json_get(doc, "config");
    now_ms = (int64_t)capvi_json_get(cfg, "now")->valuedouble * 1000;
    text = fuzz_read_file(FUZZ_VECTORS_DIR(), "jwt_attacks_jwks.json", &len);
    capv_jwk_set *set = NULL;
    FUZZ_SETUP(capv_jwk_set_parse(&set, text, len, NULL) == CAPV_OK, "jwt_attacks_jwks.json");
    free(text);
    catalogue = validator(cfg, set);
    capv_jwk_set_free(set);
    set = fuzz_key_set();
    signed_v = validator(cfg, set);
    capv_jwk_set_free(set);
    cJSON_Delete(doc);
    return 0;
}

static void validate(capv_jwt_validator *v, const uint8_t *token, size_t len)
{
    capv_jwt_claims *claims = NULL;
    const char *reason = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_jwt_validate(&claims, &reason, v, token, len, &err);
    FUZZ_ASSERT(reason != NULL);
    if (st != CAPV_OK) {
        FUZZ_ASSERT(claims == NULL);
        FUZZ_ASSERT(capv_status_class_of(st) == CAPV_CLASS_REJECTED);
        FUZZ_ASSERT(fuzz_text_ok(err.field, sizeof err.field));
        FUZZ_ASSERT(fuzz_text_ok(err.message, sizeof err.message));
        FUZZ_ASSERT(strcmp(reason, "ok") != 0);
        return;
    }
    FUZZ_ASSERT(claims != NULL && strcmp(reason, "ok") == 0);
    FUZZ_ASSERT(capv_jwt_claims_issuer(claims) != NULL);
    FUZZ_ASSERT(capv_jwt_claims_audience(claims) != NULL);
    FUZZ_ASSERT(capv_jwt_alg_name(capv_jwt_claims_alg(claims)) != NULL);
    for (size_t i = 0; i < capv_jwt_claims_scope_count(claims); i++)
        FUZZ_ASSERT(capv_jwt_claims_has_scope(claims, capv_jwt_claims_scope(claims, i)));
    capv_status sst = capv_jwt_claims_require_scopes(claims, "verify:run registry:read", &err);
    FUZZ_ASSERT(sst == CAPV_OK || sst == CAPV_E_SCOPE);
    capv_jwt_claims_free(claims);
}

/* HEADER\0CLAIMS -> a compact JWS signed by the fuzz key. */
static void validate_signed(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t hlen = nul ? (size_t)(nul - data) : size;
    const uint8_t *claims = nul ? nul + 1 : data + size;
    size_t clen = nul ? size - hlen - 1 : 0;
    size_t cap = CAPV_BASE64_ENCODED_SIZE(hlen) + CAPV_BASE64_ENCODED_SIZE(clen) + 128;
    char *jws = malloc(cap);
    FUZZ_SETUP(jws != NULL, "out of memory");
    size_t n = 0, m = 0;
    FUZZ_ASSERT(capv_base64_encode(jws, cap, &n, data, hlen, CAPV_BASE64_URL, NULL) == CAPV_OK);
    jws[n++] = '.';
    FUZZ_ASSERT(capv_base64_encode(jws + n, cap - n, &m, claims, clen, CAPV_BASE64_URL, NULL) ==
                CAPV_OK);
    n += m;
    uint8_t sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    FUZZ_SETUP(ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, signer) == 1 &&
                   EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)jws, n) == 1,
               "Ed25519 sign");
    EVP_MD_CTX_free(ctx);
    jws[n++] = '.';
    FUZZ_ASSERT(capv_base64_encode(jws + n, cap - n, &m, sig, siglen, CAPV_BASE64_URL, NULL) ==
                CAPV_OK);
    n += m;
    validate(signed_v, (const uint8_t *)jws, n);
    free(jws);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == '{')
        validate_signed(data, size);
    else
        validate(catalogue, data, size);
    return 0;
}
