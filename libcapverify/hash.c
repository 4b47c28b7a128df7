/* SPDX-License-Identifier: Apache-2.0 */
/* SHA3-256 / SHA-256 through OpenSSL EVP, BLAKE3 through the official C implementation. */
#include <blake3.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <strings.h>

#include "error_int.h"
#include "global_int.h"

struct capv_hash_ctx {
    capv_hash_alg alg;
    EVP_MD_CTX *md; /* SHA3-256, SHA-256 */
    blake3_hasher b3;
};

capv_status capv_hash_alg_from_name(capv_hash_alg *out, const char *name, capv_error *err)
{
    if (out == NULL || name == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (strcasecmp(name, "sha3-256") == 0 || strcasecmp(name, "sha3_256") == 0)
        *out = CAPV_HASH_SHA3_256;
    else if (strcasecmp(name, "sha256") == 0 || strcasecmp(name, "sha-256") == 0)
        *out = CAPV_HASH_SHA256;
    else if (strcasecmp(name, "blake3") == 0)
        *out = CAPV_HASH_BLAKE3;
    else
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "alg", "unknown hash algorithm '%.64s'",
                             name);
    return capvi_err_done(err, CAPV_OK);
}

const char *capv_hash_alg_name(capv_hash_alg alg)
{
    switch (alg) {
    case CAPV_HASH_SHA3_256: return "sha3-256";
    case CAPV_HASH_SHA256: return "sha256";
    case CAPV_HASH_BLAKE3: return "blake3";
    }
    return NULL;
}

static capv_status crypto_fail(capv_error *err, const char *what)
{
    ERR_clear_error();
    return capvi_err_set(err, CAPV_E_CRYPTO, NULL, "OpenSSL %s failed", what);
}

capv_status capv_hash(uint8_t out[CAPV_DIGEST_LEN], capv_hash_alg alg, const uint8_t *data,
                      size_t len, capv_error *err)
{
    if (out == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    if (alg == CAPV_HASH_BLAKE3) {
        blake3_hasher h;
        blake3_hasher_init(&h);
        blake3_hasher_update(&h, data, len);
        blake3_hasher_finalize(&h, out, CAPV_DIGEST_LEN);
        return capvi_err_done(err, CAPV_OK);
    }
    const EVP_MD *md = capvi_global_md(alg);
    if (md == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown hash algorithm %d", (int)alg);
    unsigned int n = 0;
    if (EVP_Digest(data ? (const void *)data : (const void *)"", len, out, &n, md, NULL) != 1 ||
        n != CAPV_DIGEST_LEN)
        return capvi_err_done(err, crypto_fail(err, "digest"));
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_hash_ctx_new(capv_hash_ctx **out, capv_hash_alg alg, capv_error *err)
{
    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    if (capv_hash_alg_name(alg) == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown hash algorithm %d", (int)alg);
    capv_hash_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return capvi_err_nomem(err);
    ctx->alg = alg;
    if (alg == CAPV_HASH_BLAKE3) {
        blake3_hasher_init(&ctx->b3);
    } else {
        ctx->md = EVP_MD_CTX_new();
        if (ctx->md == NULL || EVP_DigestInit_ex2(ctx->md, capvi_global_md(alg), NULL) != 1) {
            capv_hash_ctx_free(ctx);
            return capvi_err_done(err, crypto_fail(err, "digest init"));
        }
    }
    *out = ctx;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_hash_ctx_update(capv_hash_ctx *ctx, const uint8_t *data, size_t len,
                                 capv_error *err)
{
    if (ctx == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (len == 0)
        return capvi_err_done(err, CAPV_OK);
    if (ctx->alg == CAPV_HASH_BLAKE3) {
        blake3_hasher_update(&ctx->b3, data, len);
        return capvi_err_done(err, CAPV_OK);
    }
    if (EVP_DigestUpdate(ctx->md, data, len) != 1)
        return capvi_err_done(err, crypto_fail(err, "digest update"));
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_hash_ctx_final(uint8_t out[CAPV_DIGEST_LEN], capv_hash_ctx *ctx, capv_error *err)
{
    if (ctx == NULL || out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (ctx->alg == CAPV_HASH_BLAKE3) {
        blake3_hasher_finalize(&ctx->b3, out, CAPV_DIGEST_LEN);
        blake3_hasher_init(&ctx->b3);
        return capvi_err_done(err, CAPV_OK);
    }
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx->md, out, &n) != 1 || n != CAPV_DIGEST_LEN)
        return capvi_err_done(err, crypto_fail(err, "digest final"));
    if (EVP_DigestInit_ex2(ctx->md, NULL, NULL) != 1)
        return capvi_err_done(err, crypto_fail(err, "digest reset"));
    return capvi_err_done(err, CAPV_OK);
}

void capv_hash_ctx_free(capv_hash_ctx *ctx)
{
    if (ctx == NULL)
        return;
    EVP_MD_CTX_free(ctx->md);
    free(ctx);
}
