/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 keys and signatures, the trust store (docs/formats.md, "Keys and trust"), and manifest
 * signing. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx_pool_int.h"
#include "file_int.h"
#include "global_int.h"
#include "json_int.h"
#include "keys_int.h"
#include "time_int.h"

#define KEY_FILE_MAX (64u * 1024u)
#define STORE_FILE_MAX (16u * 1024u * 1024u)

struct capv_key {
    uint8_t pub[CAPV_ED25519_PUBLIC_LEN];
    char kid[CAPV_KID_SIZE];
    char *declared_kid;
    char *owner;
    char *source;
    capv_key_status status;
    capvi_instant valid_from; /* to the nanosecond, as written; ms INT64_MIN: none */
    capvi_instant valid_to;   /* ms INT64_MAX: none */
    EVP_PKEY *pkey;           /* prepared for verification */
    capv_ctx_pool *pool;      /* contexts initialised to verify with pkey (NULL: make each) */
};

struct capv_trust_store {
    capv_key *keys;
    size_t count;
    size_t cap;
};

struct capv_signing_key {
    EVP_PKEY *pkey;
    uint8_t pub[CAPV_ED25519_PUBLIC_LEN];
};

static capv_status crypto_fail(capv_error *err, const char *what)
{
    ERR_clear_error();
    return capvi_err_set(err, CAPV_E_CRYPTO, NULL, "OpenSSL: %s failed", what);
}

capv_status capv_key_id(char out[CAPV_KID_SIZE], const uint8_t pub[CAPV_ED25519_PUBLIC_LEN],
                        capv_error *err)
{
    uint8_t d[CAPV_DIGEST_LEN];
    capv_status st = capv_hash(d, CAPV_HASH_BLAKE3, pub, CAPV_ED25519_PUBLIC_LEN, err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    return capvi_err_done(err, capv_hex_encode(out, CAPV_KID_SIZE, d, 16, err));
}

static void free_md_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

/* Verifies with a context from `pool` (a trusted key's; NULL for another key), or a new one. */
static capv_status verify_pkey(EVP_PKEY *pkey, capv_ctx_pool *pool, const uint8_t *sig,
                               const uint8_t *msg, size_t len, capv_error *err)
{
    EVP_MD_CTX *ctx = capvi_ctx_pool_take(pool);
    if (ctx != NULL && !capvi_md_ctx_restart(ctx)) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    if (ctx == NULL) {
        if ((ctx = EVP_MD_CTX_new()) == NULL)
            return capvi_err_nomem(err);
        if (EVP_DigestVerifyInit_ex(ctx, NULL, NULL, NULL, NULL, pkey, NULL) != 1) {
            EVP_MD_CTX_free(ctx);
            return crypto_fail(err, "Ed25519 verify init");
        }
    }
    int r = EVP_DigestVerify(ctx, sig, CAPV_ED25519_SIGNATURE_LEN, msg ? msg : (const uint8_t *)"",
                             len);
    capvi_openssl_errors_drop();
    if (!capvi_ctx_pool_give(pool, ctx))
        EVP_MD_CTX_free(ctx);
    return r == 1 ? CAPV_OK
                  : capvi_err_set(err, CAPV_E_SIGNATURE, NULL, "Ed25519 signature does not verify");
}

static capv_status make_pkey(EVP_PKEY **out, const uint8_t pub[CAPV_ED25519_PUBLIC_LEN],
                             capv_error *err)
{
    *out = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, pub, CAPV_ED25519_PUBLIC_LEN);
    if (*out == NULL) {
        ERR_clear_error();
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "not a valid Ed25519 public key");
    }
    return CAPV_OK;
}

/* What is wrong with an encoded Ed25519 public key, or NULL (RFC 8032 §5.1.3 decoding).
 * OpenSSL 3 decodes A only while verifying: it accepts y >= p and small-order points (with
 * the neutral point as key, R = neutral and S = 0 "verify" any message), and reports a
 * point that is not on the curve as a bad signature. So: y < p and "not of small order" are
 * checked before verifying (`full` = false); "on the curve" is checked only after a failed
 * verification (`full` = true), to tell the caller which failure it was. A check that cannot
 * be computed (allocation failure) reports nothing. */
static const char *ed25519_key_problem(const uint8_t pub[CAPV_ED25519_PUBLIC_LEN], bool full)
{
    /* y >= p = 2^255 - 19 only for 0x7fff...ffed ..= 0x7fff...ffff (little-endian) */
    bool below_p = (pub[31] & 0x7f) != 0x7f || pub[0] < 0xed;
    for (size_t i = 1; i < 31 && !below_p; i++)
        below_p = pub[i] != 0xff;
    if (!below_p)
        return "Ed25519 public key is not canonical (y >= p)";
    uint8_t yb[CAPV_ED25519_PUBLIC_LEN];
    memcpy(yb, pub, sizeof yb);
    int sign = yb[31] >> 7;
    yb[31] &= 0x7f;
    const char *problem = NULL;
    BN_CTX *ctx = BN_CTX_new();
    if (ctx == NULL)
        return NULL;
    BN_CTX_start(ctx);
    BIGNUM *p = BN_CTX_get(ctx), *d = BN_CTX_get(ctx), *y = BN_CTX_get(ctx);
    BIGNUM *y2 = BN_CTX_get(ctx), *u = BN_CTX_get(ctx), *v = BN_CTX_get(ctx);
    BIGNUM *t = BN_CTX_get(ctx), *w = BN_CTX_get(ctx);
    /* p, d = -121665 / 121666, y, y^2 */
    if (w == NULL || !BN_set_bit(p, 255) || !BN_sub_word(p, 19) ||
        BN_lebin2bn(yb, (int)sizeof yb, y) == NULL || !BN_set_word(t, 121666) ||
        BN_mod_inverse(w, t, p, ctx) == NULL || !BN_set_word(t, 121665) || !BN_sub(u, p, t) ||
        !BN_mod_mul(d, w, u, p, ctx) || !BN_mod_sqr(y2, y, p, ctx))
        goto out;
    /* Small order: y = 1 (order 1), y = -1 (2), y = 0 (4), or 2P of order 4, i.e.
     * y(2P) = (y^2 + x^2) / (1 - d x^2 y^2) = 0, which with x^2 = (y^2 - 1) / (d y^2 + 1)
     * is d y^4 + 2 y^2 - 1 = 0 (order 8). No key pair has such a public key. */
    if (!BN_sub(t, p, BN_value_one()))
        goto out;
    if (BN_is_zero(y) || BN_is_one(y) || BN_cmp(y, t) == 0) {
        problem = "Ed25519 public key is a small-order point";
        goto out;
    }
    if (!BN_mod_sqr(u, y2, p, ctx) || !BN_mod_mul(v, d, u, p, ctx) ||
        !BN_mod_lshift1(w, y2, p, ctx) || !BN_mod_add(u, v, w, p, ctx) ||
        !BN_mod_sub(v, u, BN_value_one(), p, ctx))
        goto out;
    if (BN_is_zero(v)) {
        problem = "Ed25519 public key is a small-order point";
        goto out;
    }
    if (!full)
        goto out;
    /* On the curve: x^2 = u / v with u = y^2 - 1, v = d y^2 + 1 (v != 0: d is not a square)
     * has a root (Euler's criterion: (u / v)^((p-1)/2) = 1), and x = 0 only with sign 0. */
    if (!BN_mod_sub(u, y2, BN_value_one(), p, ctx) || !BN_mod_mul(w, d, y2, p, ctx) ||
        !BN_mod_add(v, w, BN_value_one(), p, ctx))
        goto out;
    if (BN_is_zero(u)) {
        if (sign != 0)
            problem = "Ed25519 public key is not a curve point (x = 0 with the sign bit set)";
        goto out;
    }
    if (BN_mod_inverse(w, v, p, ctx) == NULL || !BN_mod_mul(t, u, w, p, ctx) ||
        !BN_rshift1(v, p) /* (p - 1) / 2, p being odd */ || !BN_mod_exp(w, t, v, p, ctx))
        goto out;
    if (!BN_is_one(w))
        problem = "Ed25519 public key is not a curve point";
out:
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    ERR_clear_error();
    return problem;
}

capv_status capv_ed25519_verify(const uint8_t pub[CAPV_ED25519_PUBLIC_LEN],
                                const uint8_t sig[CAPV_ED25519_SIGNATURE_LEN], const uint8_t *msg,
                                size_t len, capv_error *err)
{
    return capvi_err_done(err, capvi_ed25519_verify_with(NULL, pub, sig, msg, len, err));
}

capv_status capvi_ed25519_verify_with(const capv_trust_store *store,
                                      const uint8_t pub[CAPV_ED25519_PUBLIC_LEN],
                                      const uint8_t sig[CAPV_ED25519_SIGNATURE_LEN],
                                      const uint8_t *msg, size_t len, capv_error *err)
{
    if (pub == NULL || sig == NULL || (msg == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return st;
    /* A trusted key passed the key checks when the store was loaded. */
    const capv_key *k = capv_trust_store_find(store, pub);
    const char *problem = NULL;
    if (k != NULL && k->pkey != NULL) {
        st = verify_pkey(k->pkey, k->pool, sig, msg, len, err);
    } else if ((problem = ed25519_key_problem(pub, false)) != NULL) {
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "%s", problem);
    } else {
        EVP_PKEY *pkey = NULL;
        if ((st = make_pkey(&pkey, pub, err)) != CAPV_OK)
            return st;
        st = verify_pkey(pkey, NULL, sig, msg, len, err);
        EVP_PKEY_free(pkey);
    }
    /* OpenSSL does not decode the point until it verifies, and then reports a bad one as a
     * bad signature: tell the caller which it was (header) */
    if (st == CAPV_E_SIGNATURE && (problem = ed25519_key_problem(pub, true)) != NULL)
        st = capvi_err_set(err, CAPV_E_MALFORMED, NULL, "%s", problem);
    return st;
}

/* ---- trust store ----------------------------------------------------------------------- */

capv_status capv_trust_store_new(capv_trust_store **out, capv_error *err)
{
    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = calloc(1, sizeof **out);
    return capvi_err_done(err, *out ? CAPV_OK : capvi_err_nomem(err));
}

static void key_clear(capv_key *k)
{
    free(k->declared_kid);
    free(k->owner);
    free(k->source);
    EVP_PKEY_free(k->pkey);
    capvi_ctx_pool_free(k->pool);
}

void capv_trust_store_free(capv_trust_store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->count; i++)
        key_clear(&s->keys[i]);
    free(s->keys);
    free(s);
}

/* Takes ownership of the strings in `k` (also on failure). */
static capv_status store_push(capv_trust_store *s, capv_key *k, capv_error *err)
{
    capv_status st = CAPV_OK;
    CAPV_TRY(capv_key_id(k->kid, k->pub, err)); /* first: the conflict message names it */
    const capv_key *dup = capv_trust_store_find(s, k->pub);
    if (dup != NULL)
        CAPV_FAIL(err, CAPV_E_CONFLICT, k->source, "key %s appears twice (%s and %s)", k->kid,
                  dup->source, k->source);
    /* Checked once here, so verification with a trusted key skips it (the hot path). */
    const char *problem = ed25519_key_problem(k->pub, false);
    if (problem != NULL)
        CAPV_FAIL(err, CAPV_E_MALFORMED, k->source, "%s%skey %s: %s", k->source,
                  *k->source ? ": " : "", k->kid, problem);
    CAPV_TRY(make_pkey(&k->pkey, k->pub, err));
    k->pool = capvi_ctx_pool_new(free_md_ctx); /* best effort: NULL makes a context per call */
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        capv_key *nk = realloc(s->keys, cap * sizeof *nk);
        if (nk == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
        s->keys = nk;
        s->cap = cap;
    }
    s->keys[s->count++] = *k;
    return CAPV_OK;
out:
    key_clear(k);
    return st;
}

capv_status capv_trust_store_add(capv_trust_store *s, const uint8_t pub[CAPV_ED25519_PUBLIC_LEN],
                                 const char *owner, capv_error *err)
{
    if (s == NULL || pub == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_key k = { .status = CAPV_KEY_ACTIVE,
                   .valid_from = { INT64_MIN, 0 },
                   .valid_to = { INT64_MAX, 0 } };
    memcpy(k.pub, pub, sizeof k.pub);
    k.owner = strdup(owner ? owner : "");
    k.source = strdup("");
    if (k.owner == NULL || k.source == NULL) {
        key_clear(&k);
        return capvi_err_nomem(err);
    }
    return capvi_err_done(err, store_push(s, &k, err));
}

static capv_status parse_time_field(capvi_instant *out, const cJSON *obj, const char *key,
                                    const char *source, capv_error *err)
{
    const char *s = NULL;
    capv_status st = capvi_json_get_string(&s, obj, "", key, false, err);
    if (st != CAPV_OK || s == NULL)
        return st;
    if (!capvi_time_parse_instant(out, s, strlen(s)))
        return capvi_err_set(err, CAPV_E_MALFORMED, source, "%s: %s is not an RFC 3339 time",
                             source, key);
    return CAPV_OK;
}

/* One cap-key.v1 object. */
static capv_status parse_cap_key(capv_trust_store *s, const cJSON *o, const char *source,
                                 capv_error *err)
{
    capv_status st = CAPV_OK;
    capv_key k = { .status = CAPV_KEY_ACTIVE,
                   .valid_from = { INT64_MIN, 0 },
                   .valid_to = { INT64_MAX, 0 } };
    const char *schema = NULL, *alg = NULL, *status = NULL, *pk = NULL, *kid = NULL, *owner = NULL;
    if (!cJSON_IsObject(o))
        CAPV_FAIL(err, CAPV_E_MALFORMED, source, "%s: a key must be a JSON object", source);
    CAPV_TRY(capvi_json_get_string(&schema, o, "", "schema", false, err));
    if (schema != NULL && strcmp(schema, "cap-key.v1") != 0)
        CAPV_FAIL(err, CAPV_E_UNSUPPORTED_FORMAT, source, "%s: unknown key schema '%s'", source,
                  schema);
    CAPV_TRY(capvi_json_get_string(&alg, o, "", "algorithm", false, err));
    if (alg != NULL && strcasecmp(alg, "ed25519") != 0)
        CAPV_FAIL(err, CAPV_E_UNSUPPORTED_FORMAT, source, "%s: algorithm '%s' is not ed25519",
                  source, alg);
    CAPV_TRY(capvi_json_get_string(&pk, o, "", "public_key", true, err));
    size_t n = 0;
    uint8_t raw[CAPV_BASE64_DECODED_MAX(64)];
    if (capv_base64_decode(raw, sizeof raw, &n, pk, strlen(pk), CAPV_BASE64_STD, NULL) != CAPV_OK ||
        n != CAPV_ED25519_PUBLIC_LEN)
        CAPV_FAIL(err, CAPV_E_MALFORMED, source,
                  "%s: public_key must be standard base64 of 32 bytes", source);
    memcpy(k.pub, raw, sizeof k.pub);
    CAPV_TRY(capvi_json_get_string(&status, o, "", "status", false, err));
    if (status == NULL || strcmp(status, "active") == 0)
        k.status = CAPV_KEY_ACTIVE;
    else if (strcmp(status, "retired") == 0)
        k.status = CAPV_KEY_RETIRED;
    else if (strcmp(status, "revoked") == 0)
        k.status = CAPV_KEY_REVOKED;
    else
        CAPV_FAIL(err, CAPV_E_MALFORMED, source, "%s: unknown status '%s'", source, status);
    CAPV_TRY(parse_time_field(&k.valid_from, o, "valid_from", source, err));
    CAPV_TRY(parse_time_field(&k.valid_to, o, "valid_to", source, err));
    if (capvi_instant_cmp(k.valid_from, k.valid_to) > 0)
        CAPV_FAIL(err, CAPV_E_MALFORMED, source, "%s: valid_from is after valid_to", source);
    /* a retired key signs what was created before its retirement: without that time it
     * would be an active key under another name */
    if (k.status == CAPV_KEY_RETIRED && k.valid_to.ms == INT64_MAX)
        CAPV_FAIL(err, CAPV_E_MALFORMED, source,
                  "%s: a retired key needs valid_to, the time it was retired (manifests created "
                  "until then are accepted)",
                  source);
    CAPV_TRY(capvi_json_get_string(&kid, o, "", "kid", false, err));
    CAPV_TRY(capvi_json_get_string(&owner, o, "", "owner", false, err));
    k.owner = strdup(owner ? owner : "");
    k.source = strdup(source);
    k.declared_kid = kid ? strdup(kid) : NULL;
    if (k.owner == NULL || k.source == NULL || (kid && k.declared_kid == NULL))
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    return store_push(s, &k, err);
out:
    key_clear(&k);
    /* the JSON readers name the member; a trust store error names the file (header) */
    if (err != NULL && strcmp(err->field, source) != 0) {
        char msg[CAPV_ERROR_MESSAGE_SIZE];
        snprintf(msg, sizeof msg, "%s", err->message);
        capvi_err_set(err, st, source, "%s: %s", source, msg);
    }
    return st;
}

static capv_status load_json_keys(capv_trust_store *s, const uint8_t *data, size_t len,
                                  const char *source, bool single, capv_error *err)
{
    cJSON *root = NULL;
    capv_status st = capvi_json_parse(&root, data, len, err);
    if (st != CAPV_OK) {
        char msg[CAPV_ERROR_MESSAGE_SIZE];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return capvi_err_set(err, st, source, "%s: %s", source, msg);
    }
    const cJSON *list = root;
    if (!single && cJSON_IsObject(root) && capvi_json_get(root, "public_key") == NULL)
        list = capvi_json_get(root, "keys");
    if (cJSON_IsObject(list) && list == root) {
        st = parse_cap_key(s, root, source, err);
    } else if (cJSON_IsArray(list)) {
        for (const cJSON *k = list->child; k && st == CAPV_OK; k = k->next)
            st = parse_cap_key(s, k, source, err);
    } else {
        st = capvi_err_set(err, CAPV_E_MALFORMED, source,
                           "%s: expected a cap-key.v1 object or a list of them", source);
    }
    cJSON_Delete(root);
    return st;
}

static capv_status load_pub_file(capv_trust_store *s, const uint8_t *data, size_t len,
                                 const char *source, capv_error *err)
{
    capv_key k = { .status = CAPV_KEY_ACTIVE,
                   .valid_from = { INT64_MIN, 0 },
                   .valid_to = { INT64_MAX, 0 } };
    /* 32 bytes are always a raw key: the text form needs at least 66, and a raw key may
     * well begin with the bytes "0x" */
    if (len == CAPV_ED25519_PUBLIC_LEN) {
        memcpy(k.pub, data, sizeof k.pub);
    } else {
        const char *t = (const char *)data;
        while (len > 0 && (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')) {
            t++;
            len--;
        }
        while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\t' || t[len - 1] == '\n' ||
                           t[len - 1] == '\r'))
            len--;
        if (len != 66 || t[0] != '0' || t[1] != 'x' ||
            capv_hex_decode(k.pub, sizeof k.pub, t, len, NULL) != CAPV_OK)
            return capvi_err_set(err, CAPV_E_MALFORMED, source,
                                 "%s: expected 32 raw bytes or 0x + 64 hex digits", source);
    }
    k.owner = strdup("");
    k.source = strdup(source);
    if (k.owner == NULL || k.source == NULL) {
        key_clear(&k);
        return capvi_err_nomem(err);
    }
    return store_push(s, &k, err);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

static bool is_key_file(const char *name)
{
    return has_suffix(name, ".pub") || has_suffix(name, ".json");
}

capv_status capv_trust_store_load(capv_trust_store **out, const char *path, capv_error *err)
{
    if (out == NULL || path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    capv_trust_store *s = NULL;
    char **names = NULL;
    size_t nnames = 0;
    uint8_t *data = NULL;
    CAPV_TRY(capv_trust_store_new(&s, err));
    struct stat sb;
    if (stat(path, &sb) != 0)
        CAPV_FAIL(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, path,
                  "cannot open trust store '%s': %s", path, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) {
        size_t len;
        CAPV_TRY(capvi_file_read(&data, &len, path, STORE_FILE_MAX, "trust store", err));
        if (has_suffix(path, ".pub"))
            CAPV_TRY(load_pub_file(s, data, len, path, err));
        else
            CAPV_TRY(load_json_keys(s, data, len, path, false, err));
        goto out;
    }
    CAPV_TRY(capvi_dir_list(&names, &nnames, path, is_key_file, err));
    for (size_t i = 0; i < nnames; i++) {
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, names[i]);
        size_t len;
        CAPV_TRY(capvi_file_read(&data, &len, file, KEY_FILE_MAX, "key file", err));
        if (has_suffix(names[i], ".pub"))
            CAPV_TRY(load_pub_file(s, data, len, file, err));
        else
            CAPV_TRY(load_json_keys(s, data, len, file, true, err));
        free(data);
        data = NULL;
    }
out:
    capvi_dir_list_free(names, nnames);
    free(data);
    if (st != CAPV_OK)
        capv_trust_store_free(s);
    else
        *out = s;
    return capvi_err_done(err, st);
}

size_t capv_trust_store_count(const capv_trust_store *s)
{
    return s ? s->count : 0;
}

const capv_key *capv_trust_store_key(const capv_trust_store *s, size_t i)
{
    return s && i < s->count ? &s->keys[i] : NULL;
}

const capv_key *capv_trust_store_find(const capv_trust_store *s,
                                      const uint8_t pub[CAPV_ED25519_PUBLIC_LEN])
{
    if (s == NULL || pub == NULL)
        return NULL;
    for (size_t i = 0; i < s->count; i++)
        if (memcmp(s->keys[i].pub, pub, CAPV_ED25519_PUBLIC_LEN) == 0)
            return &s->keys[i];
    return NULL;
}

capv_status capvi_trust_decide(const capv_key **key, const capv_trust_store *store,
                               const uint8_t pub[CAPV_ED25519_PUBLIC_LEN], capvi_instant created)
{
    const capv_key *k = capv_trust_store_find(store, pub);
    *key = k;
    if (k == NULL)
        return CAPV_E_UNTRUSTED;
    if (k->status == CAPV_KEY_REVOKED)
        return CAPV_E_REVOKED;
    if (created.ms == INT64_MIN && (k->valid_from.ms != INT64_MIN || k->valid_to.ms != INT64_MAX))
        return CAPV_E_MISSING; /* no time to judge a bounded window by */
    if (capvi_instant_cmp(created, k->valid_from) < 0)
        return CAPV_E_NOT_YET_VALID;
    if (capvi_instant_cmp(created, k->valid_to) > 0)
        return CAPV_E_EXPIRED;
    return CAPV_OK;
}

const uint8_t *capv_key_public(const capv_key *k)
{
    return k ? k->pub : NULL;
}
const char *capv_key_kid(const capv_key *k)
{
    return k ? k->kid : NULL;
}
const char *capv_key_declared_kid(const capv_key *k)
{
    return k ? k->declared_kid : NULL;
}
const char *capv_key_owner(const capv_key *k)
{
    return k ? k->owner : NULL;
}
const char *capv_key_source(const capv_key *k)
{
    return k ? k->source : NULL;
}
capv_key_status capv_key_status_of(const capv_key *k)
{
    return k ? k->status : CAPV_KEY_REVOKED;
}
int64_t capv_key_valid_from(const capv_key *k)
{
    return k ? k->valid_from.ms : INT64_MAX;
}
int64_t capv_key_valid_to(const capv_key *k)
{
    return k ? k->valid_to.ms : INT64_MIN;
}

const char *capv_key_status_name(capv_key_status status)
{
    switch (status) {
    case CAPV_KEY_ACTIVE: return "active";
    case CAPV_KEY_RETIRED: return "retired";
    case CAPV_KEY_REVOKED: return "revoked";
    }
    return "unknown";
}

/* ---- signing keys ---------------------------------------------------------------------- */

static capv_status signing_key_wrap(capv_signing_key **out, EVP_PKEY *pkey, capv_error *err)
{
    capv_signing_key *k = calloc(1, sizeof *k);
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return capvi_err_nomem(err);
    }
    k->pkey = pkey;
    size_t n = sizeof k->pub;
    if (EVP_PKEY_get_raw_public_key(pkey, k->pub, &n) != 1 || n != sizeof k->pub) {
        capv_signing_key_free(k);
        return crypto_fail(err, "reading the public key");
    }
    *out = k;
    return CAPV_OK;
}

capv_status capv_signing_key_generate(capv_signing_key **out, capv_error *err)
{
    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (pkey == NULL)
        return capvi_err_done(err, crypto_fail(err, "Ed25519 key generation"));
    return capvi_err_done(err, signing_key_wrap(out, pkey, err));
}

/* Encrypted keys are not supported: without a callback OpenSSL would prompt on the
 * terminal for a passphrase, which a library (or the daemon) must never do. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

capv_status capv_signing_key_load(capv_signing_key **out, const char *path, capv_error *err)
{
    if (out == NULL || path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    uint8_t *data = NULL;
    size_t len = 0;
    if ((st = capvi_file_read(&data, &len, path, KEY_FILE_MAX, "private key", err)) != CAPV_OK)
        return capvi_err_done(err, st);
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(data, len);
    free(data);
    ERR_clear_error();
    if (pkey == NULL)
        return capvi_err_set(err, CAPV_E_MALFORMED, path,
                             "'%s' is not a PEM private key (unencrypted PKCS#8)", path);
    if (!EVP_PKEY_is_a(pkey, "ED25519")) {
        EVP_PKEY_free(pkey);
        return capvi_err_set(err, CAPV_E_UNSUPPORTED_FORMAT, path, "'%s' is not an Ed25519 key",
                             path);
    }
    return capvi_err_done(err, signing_key_wrap(out, pkey, err));
}

capv_status capv_signing_key_save(const capv_signing_key *key, const char *path, capv_error *err)
{
    if (key == NULL || path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return capvi_err_set(err, errno == EEXIST ? CAPV_E_EXISTS : CAPV_E_IO, path,
                             "cannot create '%s': %s", path, strerror(errno));
    capv_status st = CAPV_OK;
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long n = 0;
    if (bio == NULL || PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        (n = BIO_get_mem_data(bio, &pem)) <= 0) {
        st = crypto_fail(err, "PEM encoding");
    } else {
        st = capvi_file_write_all(fd, pem, (size_t)n, path, err);
        OPENSSL_cleanse(pem, (size_t)n);
    }
    BIO_free(bio);
    if (st == CAPV_OK && fsync(fd) != 0)
        st = capvi_err_set(err, CAPV_E_IO, path, "cannot sync '%s'", path);
    close(fd);
    if (st != CAPV_OK)
        unlink(path);
    return capvi_err_done(err, st);
}

void capv_signing_key_public(uint8_t out[CAPV_ED25519_PUBLIC_LEN], const capv_signing_key *key)
{
    if (key != NULL && out != NULL)
        memcpy(out, key->pub, CAPV_ED25519_PUBLIC_LEN);
}

capv_status capv_signing_key_sign(uint8_t sig[CAPV_ED25519_SIGNATURE_LEN],
                                  const capv_signing_key *key, const uint8_t *msg, size_t len,
                                  capv_error *err)
{
    if (key == NULL || sig == NULL || (msg == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return capvi_err_nomem(err);
    size_t n = CAPV_ED25519_SIGNATURE_LEN;
    capv_status st = CAPV_OK;
    if (EVP_DigestSignInit_ex(ctx, NULL, NULL, NULL, NULL, key->pkey, NULL) != 1 ||
        EVP_DigestSign(ctx, sig, &n, msg ? msg : (const uint8_t *)"", len) != 1 ||
        n != CAPV_ED25519_SIGNATURE_LEN)
        st = crypto_fail(err, "Ed25519 signing");
    EVP_MD_CTX_free(ctx);
    return capvi_err_done(err, st);
}

void capv_signing_key_free(capv_signing_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->pkey); /* OpenSSL wipes private key material on free */
    OPENSSL_cleanse(key, sizeof *key);
    free(key);
}

/* A window bound as cap-key.v1 text: whole seconds as such, else with its milliseconds, so
 * the window a file gives is the one asked for (it is compared as written, docs/formats.md). */
static void window_bound(char t[32], int64_t ms)
{
    if (ms % 1000 == 0)
        capvi_time_format_s(t, ms);
    else
        capvi_time_format_ms(t, ms);
}

capv_status capv_signing_key_cap_key_json(char **out, const capv_signing_key *key,
                                          const char *owner, int64_t now_ms, int64_t valid_from_ms,
                                          int64_t valid_to_ms, capv_error *err)
{
    if (out == NULL || key == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_status st = CAPV_OK;
    char kid[CAPV_KID_SIZE], b64[CAPV_BASE64_ENCODED_SIZE(32)], t[32];
    char fp[80] = "blake3:";
    uint8_t d[CAPV_DIGEST_LEN];
    CAPV_TRY(capv_key_id(kid, key->pub, err));
    CAPV_TRY(capv_hash(d, CAPV_HASH_BLAKE3, key->pub, sizeof key->pub, err));
    CAPV_TRY(capv_hex_encode(fp + 7, sizeof fp - 7, d, sizeof d, err));
    CAPV_TRY(
        capv_base64_encode(b64, sizeof b64, NULL, key->pub, sizeof key->pub, CAPV_BASE64_STD, err));
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    bool ok = cJSON_AddStringToObject(o, "schema", "cap-key.v1") &&
              cJSON_AddStringToObject(o, "kid", kid) &&
              cJSON_AddStringToObject(o, "owner", owner ? owner : "");
    capvi_time_format_s(t, now_ms);
    ok = ok && cJSON_AddStringToObject(o, "created_at", t);
    if (valid_from_ms != INT64_MIN) {
        window_bound(t, valid_from_ms);
        ok = ok && cJSON_AddStringToObject(o, "valid_from", t);
    }
    if (valid_to_ms != INT64_MAX) {
        window_bound(t, valid_to_ms);
        ok = ok && cJSON_AddStringToObject(o, "valid_to", t);
    }
    cJSON *usage = NULL;
    ok = ok && cJSON_AddStringToObject(o, "algorithm", "ed25519") &&
         cJSON_AddStringToObject(o, "status", "active") &&
         (usage = cJSON_AddArrayToObject(o, "usage")) != NULL &&
         cJSON_AddItemToArray(usage, cJSON_CreateString("manifest-signing")) &&
         cJSON_AddStringToObject(o, "public_key", b64) &&
         cJSON_AddStringToObject(o, "fingerprint", fp);
    if (!ok) {
        cJSON_Delete(o);
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    }
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_pretty(&b, o);
    capvi_buf_putc(&b, '\n');
    cJSON_Delete(o);
    *out = (char *)capvi_buf_take(&b, NULL);
    if (*out == NULL)
        st = capvi_err_nomem(err);
out:
    return capvi_err_done(err, st);
}

capv_status capv_manifest_sign(uint8_t **out, size_t *out_len, const uint8_t *manifest, size_t len,
                               const capv_signing_key *key, const char *signer, capv_error *err)
{
    if (out == NULL || out_len == NULL || key == NULL || signer == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    *out_len = 0;
    capv_status st = CAPV_OK;
    cJSON *root = NULL;
    capv_buf b = CAPV_BUF_INIT;
    uint8_t *canon = NULL;
    CAPV_TRY(capvi_json_parse(&root, manifest, len, err));
    if (!cJSON_IsObject(root))
        CAPV_FAIL(err, CAPV_E_TYPE, "", "a manifest must be a JSON object");
    cJSON *sigs = cJSON_GetObjectItemCaseSensitive(root, "signatures");
    if (sigs == NULL) {
        sigs = cJSON_AddArrayToObject(root, "signatures");
        if (sigs == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    } else if (!cJSON_IsArray(sigs)) {
        CAPV_FAIL(err, CAPV_E_TYPE, "signatures", "\"signatures\" must be an array");
    }
    capvi_json_write_compact(&b, root, CAPV_JSON_CANON_EMPTY_SIGNATURES);
    size_t clen = 0;
    canon = capvi_buf_take(&b, &clen);
    if (canon == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    uint8_t sig[CAPV_ED25519_SIGNATURE_LEN];
    CAPV_TRY(capv_signing_key_sign(sig, key, canon, clen, err));
    char pub_hex[2 + 64 + 1] = "0x", sig_hex[2 + 128 + 1] = "0x";
    CAPV_TRY(capv_hex_encode(pub_hex + 2, sizeof pub_hex - 2, key->pub, sizeof key->pub, err));
    CAPV_TRY(capv_hex_encode(sig_hex + 2, sizeof sig_hex - 2, sig, sizeof sig, err));
    cJSON *entry = cJSON_CreateObject();
    if (entry == NULL || !cJSON_AddStringToObject(entry, "alg", "Ed25519") ||
        !cJSON_AddStringToObject(entry, "signer", signer) ||
        !cJSON_AddStringToObject(entry, "pubkey_hex", pub_hex) ||
        !cJSON_AddStringToObject(entry, "sig_hex", sig_hex) || !cJSON_AddItemToArray(sigs, entry)) {
        cJSON_Delete(entry);
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    }
    capvi_json_write_pretty(&b, root);
    capvi_buf_putc(&b, '\n');
    *out = capvi_buf_take(&b, out_len);
    if (*out == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
out:
    free(canon);
    capvi_buf_free(&b);
    cJSON_Delete(root);
    return capvi_err_done(err, st);
}
