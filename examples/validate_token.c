/* SPDX-License-Identifier: Apache-2.0 */
/* Example: validate a bearer token (a JWT) against a JWKS file, as a service behind OAuth2
 * does for each request. The token is read from standard input, never from the command line
 * (where other users could see it).
 *   cc validate_token.c $(pkg-config --cflags --libs libcapverify) -o validate_token
 *   ./validate_token JWKS.json ISSUER AUDIENCE < token
 * Exit status: 0 valid, 2 rejected, 3 usage, 4 the key set could not be used. */
#include <stdio.h>
#include <string.h>

#include <capverify.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s JWKS.json ISSUER AUDIENCE < token\n", argv[0]);
        return 3;
    }
    char token[CAPV_JWT_MAX_TOKEN + 2];
    size_t len = fread(token, 1, sizeof token - 1, stdin);
    while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r'))
        len--;
    capv_error err = CAPV_ERROR_INIT;
    if (capv_global_init(&err) != CAPV_OK) {
        fprintf(stderr, "init: %s\n", err.message);
        return 4;
    }
    int rc = 4;
    capv_jwks *jwks = NULL;
    capv_jwt_validator *validator = NULL;
    capv_jwt_claims *claims = NULL;
    /* A file:// source; an https:// URL would be fetched and refreshed the same way. */
    if (capv_jwks_new(&jwks, argv[1], &err) != CAPV_OK ||
        capv_jwks_refresh(jwks, &err) != CAPV_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], err.message);
        goto out;
    }
    if (capv_jwt_validator_new(&validator, &err) != CAPV_OK ||
        capv_jwt_validator_set_issuer(validator, argv[2], &err) != CAPV_OK ||
        capv_jwt_validator_add_audience(validator, argv[3], &err) != CAPV_OK) {
        fprintf(stderr, "validator: %s\n", err.message);
        goto out;
    }
    capv_jwt_validator_set_jwks(validator, jwks);
    const char *reason = NULL;
    capv_status st =
        capv_jwt_validate(&claims, &reason, validator, (const uint8_t *)token, len, &err);
    if (st != CAPV_OK) {
        /* "unavailable" (no usable key set) is not "rejected": a server answers 503, not 401 */
        printf("rejected: %s (%s)\n", reason, err.message);
        rc = capv_status_class_of(st) == CAPV_CLASS_UNAVAILABLE ? 4 : 2;
        goto out;
    }
    const char *sub = capv_jwt_claims_subject(claims);
    printf("valid: sub=%s alg=%s kid=%s scopes=", sub ? sub : "-",
           capv_jwt_alg_name(capv_jwt_claims_alg(claims)),
           capv_jwt_claims_kid(claims) ? capv_jwt_claims_kid(claims) : "-");
    for (size_t i = 0; i < capv_jwt_claims_scope_count(claims); i++)
        printf("%s%s", i ? "," : "", capv_jwt_claims_scope(claims, i));
    printf("\n");
    rc = 0;
out:
    capv_jwt_claims_free(claims);
    capv_jwt_validator_free(validator);
    capv_jwks_free(jwks);
    capv_global_shutdown();
    return rc;
}
