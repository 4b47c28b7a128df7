/* SPDX-License-Identifier: Apache-2.0 */
/* JWT validation throughput on one core (docs/auth.md, "Benchmark"): for RS256, PS256, ES256 and
 * EdDSA, a typical access token (iss, sub, aud, iat, exp, scope, client_id) is validated in a loop
 * through the public API — cold (no token cache: parse, key lookup, signature, claims every time)
 * and warm (verified-token cache hits). Keys and tokens are made here with OpenSSL. Prints
 * "jwt_cold ALG RATE" and "jwt_warm ALG RATE" (tokens/s), and "raw_verify ALG RATE": OpenSSL
 * verifying that algorithm's signatures alone with one prepared context, measured side by
 * side with the cold rate in rounds (the round with the median ratio is printed);
 * bench/run.d/jwt.sh sets them beside `openssl speed` for the same primitive. Not a test. */
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <capverify.h>

#define ROUNDS 5 /* rounds of the cold and raw measurements */

static void die(const char *what)
{
    fprintf(stderr, "bench_jwt: %s failed\n", what);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *b64u(const uint8_t *d, size_t n)
{
    size_t cap = CAPV_BASE64_ENCODED_SIZE(n);
    char *s = malloc(cap);
    if (s == NULL || capv_base64_encode(s, cap, NULL, d, n, CAPV_BASE64_URL, NULL) != CAPV_OK)
        die("base64url");
    return s;
}

static char *bn_b64u(const EVP_PKEY *k, const char *param, size_t pad)
{
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(k, param, &bn))
        die("get bn param");
    size_t n = (size_t)BN_num_bytes(bn);
    if (pad > n)
        n = pad;
    uint8_t buf[1024];
    if (n > sizeof buf || BN_bn2binpad(bn, buf, (int)n) < 0)
        die("bn2bin");
    BN_free(bn);
    return b64u(buf, n);
}

typedef struct alg_case {
    const char *alg;
    const char *kid;
    EVP_PKEY *key;
} alg_case;

static char *sign_token(const alg_case *c)
{
    char header[128], payload[512];
    long long now = (long long)time(NULL);
    snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", c->alg,
             c->kid);
    snprintf(payload, sizeof payload,
             "{\"iss\":\"https://idp.example.test\",\"sub\":\"client-42\",\"aud\":\"capv-api\","
             "\"iat\":%lld,\"exp\":%lld,\"jti\":\"b1e7c4d2a9f03e58\","
             "\"scope\":\"verify:read registry:write\",\"client_id\":\"client-42\"}",
             now, now + 86400);
    char *h = b64u((const uint8_t *)header, strlen(header));
    char *p = b64u((const uint8_t *)payload, strlen(payload));
    size_t in_len = strlen(h) + 1 + strlen(p);
    char *input = malloc(in_len + 1);
    snprintf(input, in_len + 1, "%s.%s", h, p);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ed = strcmp(c->alg, "EdDSA") == 0;
    if (EVP_DigestSignInit(ctx, &pctx, ed ? NULL : EVP_sha256(), NULL, c->key) != 1)
        die("sign init");
    if (strcmp(c->alg, "PS256") == 0 &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1))
        die("pss");
    size_t sig_len = 0;
    if (EVP_DigestSign(ctx, NULL, &sig_len, (const uint8_t *)input, in_len) != 1)
        die("sign size");
    uint8_t *sig = malloc(sig_len);
    if (EVP_DigestSign(ctx, sig, &sig_len, (const uint8_t *)input, in_len) != 1)
        die("sign");
    if (strcmp(c->alg, "ES256") == 0) { /* DER -> r||s */
        const uint8_t *q = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)sig_len);
        if (es == NULL)
            die("d2i_ECDSA_SIG");
        uint8_t rs[64];
        BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32);
        ECDSA_SIG_free(es);
        memcpy(sig, rs, 64);
        sig_len = 64;
    }
    char *s = b64u(sig, sig_len);
    size_t tlen = in_len + 1 + strlen(s);
    char *tok = malloc(tlen + 1);
    snprintf(tok, tlen + 1, "%s.%s", input, s);
    EVP_MD_CTX_free(ctx);
    free(h);
    free(p);
    free(input);
    free(sig);
    free(s);
    return tok;
}

static double rate(capv_jwt_validator *v, const char *tok, double seconds)
{
    size_t len = strlen(tok);
    long n = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 64; i++) {
            capv_jwt_claims *c = NULL;
            if (capv_jwt_validate(&c, NULL, v, (const uint8_t *)tok, len, NULL) != CAPV_OK)
                die("validate");
            capv_jwt_claims_free(c);
        }
        n += 64;
        t = now_s();
    } while (t - t0 < seconds);
    return (double)n / (t - t0);
}

/* OpenSSL's own verify rate for the signature primitive of `alg` with `key`, one context
 * prepared once: RSA (PKCS#1 v1.5 for RS256, PSS for PS256) and ECDSA over a SHA-256 digest,
 * Ed25519 over a message as long as a typical signing input. The primitive alone, without
 * JOSE, base64url or claims; `openssl speed rsa2048` measures PKCS#1 v1.5 only, so PS256 gets
 * its own raw figure here. */
static double raw_rate(const char *alg, EVP_PKEY *key, double seconds)
{
    uint8_t msg[300], sig[512];
    size_t sig_len = sizeof sig, msg_len = sizeof msg;
    memset(msg, 0x5a, sizeof msg);
    bool ed = strcmp(alg, "EdDSA") == 0, pss = strcmp(alg, "PS256") == 0;
    EVP_MD_CTX *ms = NULL, *mv = NULL;
    EVP_PKEY_CTX *s = NULL, *v = NULL;
    if (ed) {
        ms = EVP_MD_CTX_new();
        mv = EVP_MD_CTX_new();
        if (ms == NULL || mv == NULL || EVP_DigestSignInit(ms, NULL, NULL, NULL, key) != 1 ||
            EVP_DigestSign(ms, sig, &sig_len, msg, msg_len) != 1 ||
            EVP_DigestVerifyInit(mv, NULL, NULL, NULL, key) != 1)
            die("raw Ed25519 init");
    } else {
        msg_len = 32; /* a SHA-256 digest */
        s = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        v = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        if (s == NULL || v == NULL || EVP_PKEY_sign_init(s) != 1 || EVP_PKEY_verify_init(v) != 1)
            die("raw init");
        EVP_PKEY_CTX *both[2] = { s, v };
        for (int i = 0; i < 2; i++)
            if (EVP_PKEY_CTX_set_signature_md(both[i], EVP_sha256()) != 1 ||
                (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
                 EVP_PKEY_CTX_set_rsa_padding(both[i], pss ? RSA_PKCS1_PSS_PADDING
                                                           : RSA_PKCS1_PADDING) != 1) ||
                (pss && (EVP_PKEY_CTX_set_rsa_pss_saltlen(both[i], 32) != 1 ||
                         EVP_PKEY_CTX_set_rsa_mgf1_md(both[i], EVP_sha256()) != 1)))
                die("raw parameters");
        if (EVP_PKEY_sign(s, sig, &sig_len, msg, msg_len) != 1)
            die("raw sign");
    }
    long n = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 64; i++)
            if ((ed ? EVP_DigestVerify(mv, sig, sig_len, msg, msg_len)
                    : EVP_PKEY_verify(v, sig, sig_len, msg, msg_len)) != 1)
                die("raw verify");
        n += 64;
        t = now_s();
    } while (t - t0 < seconds);
    EVP_MD_CTX_free(ms);
    EVP_MD_CTX_free(mv);
    EVP_PKEY_CTX_free(s);
    EVP_PKEY_CTX_free(v);
    return (double)n / (t - t0);
}

static capv_jwt_validator *validator(capv_jwk_set *set, size_t cache)
{
    capv_jwt_validator *v = NULL;
    if (capv_jwt_validator_new(&v, NULL) != CAPV_OK ||
        capv_jwt_validator_set_issuer(v, "https://idp.example.test", NULL) != CAPV_OK ||
        capv_jwt_validator_add_audience(v, "capv-api", NULL) != CAPV_OK ||
        capv_jwt_validator_set_cache(v, cache, NULL) != CAPV_OK)
        die("validator");
    capv_jwt_validator_set_key_set(v, set);
    return v;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    const char *only = argc > 2 ? argv[2] : NULL; /* one algorithm, cold only (profiling) */
    if (capv_global_init(NULL) != CAPV_OK)
        die("init");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (rsa == NULL || ec == NULL || ed == NULL)
        die("keygen");
    uint8_t edpub[32];
    size_t edlen = sizeof edpub;
    if (!EVP_PKEY_get_raw_public_key(ed, edpub, &edlen))
        die("raw public key");
    char *n = bn_b64u(rsa, OSSL_PKEY_PARAM_RSA_N, 0), *e = bn_b64u(rsa, OSSL_PKEY_PARAM_RSA_E, 0);
    char *x = bn_b64u(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32),
         *y = bn_b64u(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    char *ex = b64u(edpub, 32);
    char jwks[4096];
    snprintf(
        jwks, sizeof jwks,
        "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa-1\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"},"
        "{\"kty\":\"EC\",\"kid\":\"ec-1\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
        "{\"kty\":\"OKP\",\"kid\":\"ed-1\",\"crv\":\"Ed25519\",\"x\":\"%s\"}]}",
        n, e, x, y, ex);
    capv_jwk_set *set = NULL;
    capv_error err = CAPV_ERROR_INIT;
    if (capv_jwk_set_parse(&set, (const uint8_t *)jwks, strlen(jwks), &err) != CAPV_OK ||
        capv_jwk_set_count(set) != 3) {
        fprintf(stderr, "jwks: %s\n", err.message);
        return 1;
    }
    alg_case cases[] = { { "RS256", "rsa-1", rsa },
                         { "PS256", "rsa-1", rsa },
                         { "ES256", "ec-1", ec },
                         { "EdDSA", "ed-1", ed } };
    capv_jwt_validator *cold = validator(set, 0), *warm = validator(set, 1000);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (only != NULL && strcmp(only, cases[i].alg) != 0)
            continue;
        char *tok = sign_token(&cases[i]);
        /* cold and raw side by side in each round, the round with the median ratio
         * printed: a neighbour's burst on a shared machine then slows both figures of a
         * ratio alike instead of one of them */
        double c[ROUNDS], w[ROUNDS];
        int order[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            c[r] = rate(cold, tok, seconds / ROUNDS);
            w[r] = raw_rate(cases[i].alg, cases[i].key, seconds / ROUNDS);
            order[r] = r;
        }
        for (int a = 1; a < ROUNDS; a++) /* by ratio c/w: insertion sort of indices */
            for (int b = a; b > 0 && c[order[b]] / w[order[b]] < c[order[b - 1]] / w[order[b - 1]];
                 b--) {
                int t = order[b];
                order[b] = order[b - 1];
                order[b - 1] = t;
            }
        int m = order[ROUNDS / 2];
        printf("jwt_cold %s %.0f\n", cases[i].alg, c[m]);
        printf("raw_verify %s %.0f\n", cases[i].alg, w[m]);
        if (only != NULL) {
            free(tok);
            continue;
        }
        printf("jwt_warm %s %.0f\n", cases[i].alg, rate(warm, tok, seconds));
        printf("token_bytes %s %zu\n", cases[i].alg, strlen(tok));
        fflush(stdout);
        free(tok);
    }
    capv_jwt_validator_free(cold);
    capv_jwt_validator_free(warm);
    capv_jwk_set_free(set);
    free(n);
    free(e);
    free(x);
    free(y);
    free(ex);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
    capv_global_shutdown();
    return 0;
}
