/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 keys (docs/formats.md, "Keys and trust"): Wycheproof verification vectors, key ids,
 * signing keys and their files, trust store loading, trust decisions, manifest signing, and the RFC
 * 3339 times that key windows are written in. */
#include <capverify.h>
#include <check.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_int.h"
#include "keys_int.h"
#include "suites.h"
#include "testutil.h"
#include "time_int.h"

#define PATH_CAP 512

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
}

static void teardown(void)
{
    capv_global_shutdown();
}

/* ---- helpers ------------------------------------------------------------------------- */

static void join(char out[PATH_CAP], const char *dir, const char *name)
{
    int n = snprintf(out, PATH_CAP, "%s/%s", dir, name);
    ck_assert(n > 0 && n < PATH_CAP);
}

/* A fresh private directory under $TMPDIR (or /tmp). Short, so paths fit err.field. */
static void tmpdir_make(char out[PATH_CAP])
{
    tu_temp_dir(out, PATH_CAP, "capvk");
}

static void rm_tree(const char *dir)
{
    ck_assert_int_eq(tu_remove_tree(dir), 0);
}

static void put_bytes(char path[PATH_CAP], const char *dir, const char *name, const void *data,
                      size_t len)
{
    join(path, dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    if (len > 0)
        ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void put(char path[PATH_CAP], const char *dir, const char *name, const char *text)
{
    put_bytes(path, dir, name, text, strlen(text));
}

/* An arbitrary 32-byte "public key": the trust store stores bytes, it does not decode points. */
static void fake_pub(uint8_t out[CAPV_ED25519_PUBLIC_LEN], uint8_t seed)
{
    for (size_t i = 0; i < CAPV_ED25519_PUBLIC_LEN; i++)
        out[i] = (uint8_t)(seed ^ (i * 37u + 11u));
}

static void pub_hex(char out[2 + 64 + 1], const uint8_t pub[CAPV_ED25519_PUBLIC_LEN])
{
    out[0] = '0';
    out[1] = 'x';
    ck_assert_int_eq(capv_hex_encode(out + 2, 65, pub, CAPV_ED25519_PUBLIC_LEN, NULL), CAPV_OK);
}

/* A cap-key.v1 object for `pub`; `extra` is inserted before "public_key" (with its comma). */
static void cap_key(char *out, size_t cap, const uint8_t pub[CAPV_ED25519_PUBLIC_LEN],
                    const char *extra)
{
    char b64[CAPV_BASE64_ENCODED_SIZE(32)];
    ck_assert_int_eq(capv_base64_encode(b64, sizeof b64, NULL, pub, CAPV_ED25519_PUBLIC_LEN,
                                        CAPV_BASE64_STD, NULL),
                     CAPV_OK);
    int n = snprintf(out, cap,
                     "{\"schema\": \"cap-key.v1\", \"algorithm\": \"ed25519\", %s"
                     "\"public_key\": \"%s\"}",
                     extra, b64);
    ck_assert(n > 0 && (size_t)n < cap);
}

static int64_t t_ms(const char *s)
{
    int64_t ms = 0;
    ck_assert_msg(capvi_time_parse(&ms, s, strlen(s)), "bad test time %s", s);
    return ms;
}

/* A millisecond time as an instant, and an RFC 3339 text as one (to the nanosecond). */
static capvi_instant at(int64_t ms)
{
    return (capvi_instant){ ms, 0 };
}

static capvi_instant t_at(const char *s)
{
    capvi_instant t;
    ck_assert_msg(capvi_time_parse_instant(&t, s, strlen(s)), "bad test time %s", s);
    return t;
}

/* Hex text (even length) into a malloc'd buffer; never NULL, even for "". */
static uint8_t *hex_dup(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    ck_assert_msg(n % 2 == 0, "odd hex length in a vector: %s", hex);
    uint8_t *p = malloc(n / 2 + 1);
    ck_assert_ptr_nonnull(p);
    if (n > 0)
        ck_assert_int_eq(capv_hex_decode(p, n / 2, hex, n, NULL), CAPV_OK);
    *len = n / 2;
    return p;
}

/* ---- 1. Wycheproof ------------------------------------------------------------------- */

/* Every test of Wycheproof's ed25519_test.json, through the one-shot verifier and through
 * the trust store's cached key object. A signature that is not 64 bytes cannot be passed to
 * the API (it takes exactly 64) and counts as rejected. */
START_TEST(wycheproof_ed25519)
{
    size_t len;
    uint8_t *data = tu_read(tu_shared_dir(), "wycheproof/ed25519_test.json", &len);
    cJSON *root = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capvi_json_parse(&root, data, len, &err), CAPV_OK);
    int64_t declared = 0;
    ck_assert_int_eq(
        capvi_json_get_int(&declared, root, "", "numberOfTests", 1, 1000000, true, &err), CAPV_OK);
    const cJSON *groups = NULL;
    ck_assert_int_eq(capvi_json_get_array(&groups, root, "", "testGroups", true, &err), CAPV_OK);

    size_t total = 0, valid = 0, invalid = 0, acceptable = 0, acceptable_ok = 0, bad_len = 0;
    size_t wrong_accepts = 0, wrong_rejects = 0, ngroups = 0;
    for (const cJSON *g = groups->child; g != NULL; g = g->next, ngroups++) {
        /* newer files: publicKey.pk; older ones: key.pk */
        const cJSON *keyobj = capvi_json_get(g, "publicKey");
        if (keyobj == NULL)
            keyobj = capvi_json_get(g, "key");
        ck_assert_ptr_nonnull(keyobj);
        const char *pk_hex = NULL;
        ck_assert_int_eq(capvi_json_get_string(&pk_hex, keyobj, "key", "pk", true, &err), CAPV_OK);
        uint8_t pk[CAPV_ED25519_PUBLIC_LEN];
        ck_assert_int_eq(capv_hex_decode(pk, sizeof pk, pk_hex, strlen(pk_hex), &err), CAPV_OK);

        capv_trust_store *store = NULL;
        ck_assert_int_eq(capv_trust_store_new(&store, &err), CAPV_OK);
        ck_assert_int_eq(capv_trust_store_add(store, pk, "wycheproof", &err), CAPV_OK);
        ck_assert_ptr_nonnull(capv_trust_store_find(store, pk));

        const cJSON *tests = NULL;
        ck_assert_int_eq(capvi_json_get_array(&tests, g, "group", "tests", true, &err), CAPV_OK);
        for (const cJSON *t = tests->child; t != NULL; t = t->next) {
            int64_t tc = 0;
            const char *msg_hex = NULL, *sig_hex = NULL, *result = NULL;
            ck_assert_int_eq(capvi_json_get_int(&tc, t, "test", "tcId", 0, INT32_MAX, true, &err),
                             CAPV_OK);
            ck_assert_int_eq(capvi_json_get_string(&msg_hex, t, "test", "msg", true, &err),
                             CAPV_OK);
            ck_assert_int_eq(capvi_json_get_string(&sig_hex, t, "test", "sig", true, &err),
                             CAPV_OK);
            ck_assert_int_eq(capvi_json_get_string(&result, t, "test", "result", true, &err),
                             CAPV_OK);
            size_t mlen, slen;
            uint8_t *msg = hex_dup(msg_hex, &mlen);
            uint8_t *sig = hex_dup(sig_hex, &slen);

            capv_status plain, cached;
            if (slen != CAPV_ED25519_SIGNATURE_LEN) {
                plain = cached = CAPV_E_SIGNATURE;
                bad_len++;
            } else {
                capv_error_clear(&err);
                plain = capv_ed25519_verify(pk, sig, msg, mlen, &err);
                if (plain != CAPV_OK)
                    ck_assert_int_eq(err.code, plain);
                capv_error_clear(&err);
                cached = capvi_ed25519_verify_with(store, pk, sig, msg, mlen, &err);
                if (mlen == 0) {
                    capv_status nullmsg = capv_ed25519_verify(pk, sig, NULL, 0, NULL);
                    ck_assert_msg(nullmsg == plain,
                                  "tcId %lld: NULL empty message gives %d, "
                                  "not %d",
                                  (long long)tc, nullmsg, plain);
                }
            }
            /* exact statuses: the keys are all well-formed, so only OK or SIGNATURE */
            ck_assert_msg(plain == CAPV_OK || plain == CAPV_E_SIGNATURE,
                          "tcId %lld: unexpected status %s", (long long)tc,
                          capv_status_name(plain));
            ck_assert_msg(cached == plain, "tcId %lld: cached key gives %s, one-shot %s",
                          (long long)tc, capv_status_name(cached), capv_status_name(plain));

            if (strcmp(result, "valid") == 0) {
                valid++;
                if (plain != CAPV_OK) {
                    wrong_rejects++;
                    printf("wycheproof ed25519: tcId %lld valid but rejected\n", (long long)tc);
                }
            } else if (strcmp(result, "invalid") == 0) {
                invalid++;
                if (plain == CAPV_OK) {
                    wrong_accepts++;
                    printf("wycheproof ed25519: tcId %lld invalid but accepted\n", (long long)tc);
                }
            } else if (strcmp(result, "acceptable") == 0) {
                acceptable++;
                if (plain == CAPV_OK)
                    acceptable_ok++;
            } else {
                ck_abort_msg("tcId %lld: unknown result '%s'", (long long)tc, result);
            }
            total++;
            free(msg);
            free(sig);
        }
        capv_trust_store_free(store);
    }
    printf("wycheproof ed25519: %zu groups, %zu tests: %zu valid, %zu invalid, %zu acceptable "
           "(%zu accepted); %zu signatures not 64 bytes; wrong accepts %zu, wrong rejects %zu\n",
           ngroups, total, valid, invalid, acceptable, acceptable_ok, bad_len, wrong_accepts,
           wrong_rejects);
    fflush(stdout);
    ck_assert_uint_eq(total, (size_t)declared);
    ck_assert_uint_eq(valid + invalid + acceptable, total);
    ck_assert_uint_gt(valid, 0);
    ck_assert_uint_gt(invalid, 0);
    ck_assert_uint_eq(wrong_accepts, 0);
    ck_assert_uint_eq(wrong_rejects, 0);
    cJSON_Delete(root);
    free(data);
}
END_TEST

/* Arguments, and public keys that do not decode to a curve point (RFC 8032 §5.1.3):
 * CAPV_E_MALFORMED, not a mere bad signature; through a store's cached key object too. */
START_TEST(ed25519_bad_keys)
{
    uint8_t pub[32] = { 0 }, sig[64] = { 0 };
    const uint8_t *m = (const uint8_t *)"m";
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_ed25519_verify(NULL, sig, NULL, 0, &err), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(err.code, CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_ed25519_verify(pub, NULL, NULL, 0, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_ed25519_verify(pub, sig, NULL, 5, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capvi_ed25519_verify_with(NULL, pub, sig, NULL, 5, NULL), CAPV_E_INVALID_ARG);

    static const struct {
        const char *hex;
        capv_status want;
    } keys[] = {
        /* not an encoding of a point */
        { "0200000000000000000000000000000000000000000000000000000000000000",
          CAPV_E_MALFORMED }, /* y = 2: (y^2-1)/(dy^2+1) is not a square */
        { "0700000000000000000000000000000000000000000000000000000000000000",
          CAPV_E_MALFORMED }, /* y = 7: likewise */
        { "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
          CAPV_E_MALFORMED }, /* y = p: not canonical (OpenSSL alone accepts it) */
        { "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
          CAPV_E_MALFORMED }, /* y = p + 1 */
        { "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
          CAPV_E_MALFORMED }, /* y = 2^255 - 1, sign set */
        { "0100000000000000000000000000000000000000000000000000000000000080",
          CAPV_E_MALFORMED }, /* y = 1, x = 0 with the sign bit set */
        /* points of small order */
        { "0100000000000000000000000000000000000000000000000000000000000000",
          CAPV_E_MALFORMED }, /* neutral point */
        { "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
          CAPV_E_MALFORMED }, /* (0, -1), order 2 */
        { "0000000000000000000000000000000000000000000000000000000000000000",
          CAPV_E_MALFORMED }, /* (sqrt(-1), 0), order 4 */
        { "0000000000000000000000000000000000000000000000000000000000000080",
          CAPV_E_MALFORMED }, /* (-sqrt(-1), 0), order 4 */
        { "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
          CAPV_E_MALFORMED }, /* order 8 */
        { "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
          CAPV_E_MALFORMED }, /* order 8 */
        { "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
          CAPV_E_MALFORMED }, /* order 8 */
        { "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
          CAPV_E_MALFORMED }, /* order 8 */
        /* valid keys: the (zero) signature just does not verify */
        { "0300000000000000000000000000000000000000000000000000000000000000",
          CAPV_E_SIGNATURE }, /* y = 3 */
        { "5866666666666666666666666666666666666666666666666666666666666666",
          CAPV_E_SIGNATURE }, /* the base point */
        { "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
          CAPV_E_SIGNATURE }, /* RFC 8032 test 1 */
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        ck_assert_int_eq(capv_hex_decode(pub, 32, keys[i].hex, 64, NULL), CAPV_OK);
        capv_error_clear(&err);
        capv_status st = capv_ed25519_verify(pub, sig, m, 1, &err);
        ck_assert_msg(st == keys[i].want, "key %zu: got %s, want %s", i, capv_status_name(st),
                      capv_status_name(keys[i].want));
        ck_assert_int_eq(err.code, keys[i].want);
        /* A trust store refuses a non-canonical or small-order key when it is added (so
         * verifying with a trusted key skips the check); a key off the curve is only found
         * out when a signature fails, and reported as malformed then. */
        capv_trust_store *s = NULL;
        ck_assert_int_eq(capv_trust_store_new(&s, NULL), CAPV_OK);
        capv_status add = capv_trust_store_add(s, pub, NULL, NULL);
        if (add != CAPV_OK) {
            ck_assert_int_eq(add, CAPV_E_MALFORMED);
            ck_assert_int_eq(keys[i].want, CAPV_E_MALFORMED);
        } else {
            ck_assert_int_eq(capvi_ed25519_verify_with(s, pub, sig, m, 1, NULL), keys[i].want);
        }
        capv_trust_store_free(s);
    }

    /* With the neutral point as key, R = neutral and S = 0 would satisfy [S]B = R + [k]A
     * for every message: rejected before OpenSSL gets to accept it. */
    memset(pub, 0, sizeof pub);
    pub[0] = 1;
    memset(sig, 0, sizeof sig);
    sig[0] = 1;
    static const char *const anything[] = { "", "pay 100 EUR", "pay 1000000 EUR" };
    for (size_t i = 0; i < sizeof anything / sizeof anything[0]; i++) {
        capv_error_clear(&err);
        ck_assert_int_eq(
            capv_ed25519_verify(pub, sig, (const uint8_t *)anything[i], strlen(anything[i]), &err),
            CAPV_E_MALFORMED);
        ck_assert_ptr_nonnull(strstr(err.message, "small-order"));
    }
}
END_TEST

/* ---- 2. key ids ---------------------------------------------------------------------- */

START_TEST(key_id_known_answers)
{
    uint8_t pub[CAPV_ED25519_PUBLIC_LEN];
    for (size_t i = 0; i < sizeof pub; i++)
        pub[i] = (uint8_t)i;
    char kid[CAPV_KID_SIZE];
    /* b3sum of the bytes 00 01 .. 1f = e528e95798037df410543d9f31e396ec dd458d71...2fb56c65 */
    ck_assert_int_eq(capv_key_id(kid, pub, NULL), CAPV_OK);
    ck_assert_str_eq(kid, "e528e95798037df410543d9f31e396ec");
    uint8_t d[CAPV_DIGEST_LEN];
    char full[65];
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_BLAKE3, pub, sizeof pub, NULL), CAPV_OK);
    ck_assert_int_eq(capv_hex_encode(full, sizeof full, d, sizeof d, NULL), CAPV_OK);
    ck_assert_str_eq(full, "e528e95798037df410543d9f31e396ecdd458d71b157d6014398bae32fb56c65");
    ck_assert_int_eq(strncmp(full, kid, 32), 0);
    ck_assert_uint_eq(strlen(kid), 32);

    /* b3sum of 32 zero bytes = 2ada83c1819a5372dae1238fc1ded123 c8104fda... */
    memset(pub, 0, sizeof pub);
    ck_assert_int_eq(capv_key_id(kid, pub, NULL), CAPV_OK);
    ck_assert_str_eq(kid, "2ada83c1819a5372dae1238fc1ded123");

    /* a generated key: the store's kid is the same function of the key */
    capv_signing_key *k = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&k, NULL), CAPV_OK);
    capv_signing_key_public(pub, k);
    ck_assert_int_eq(capv_key_id(kid, pub, NULL), CAPV_OK);
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_BLAKE3, pub, sizeof pub, NULL), CAPV_OK);
    ck_assert_int_eq(capv_hex_encode(full, sizeof full, d, sizeof d, NULL), CAPV_OK);
    ck_assert_int_eq(strncmp(full, kid, 32), 0);
    capv_trust_store *s = NULL;
    ck_assert_int_eq(capv_trust_store_new(&s, NULL), CAPV_OK);
    ck_assert_int_eq(capv_trust_store_add(s, pub, NULL, NULL), CAPV_OK);
    ck_assert_str_eq(capv_key_kid(capv_trust_store_find(s, pub)), kid);
    ck_assert_ptr_null(capv_key_declared_kid(capv_trust_store_find(s, pub)));
    ck_assert_str_eq(capv_key_owner(capv_trust_store_find(s, pub)), "");
    capv_trust_store_free(s);
    capv_signing_key_free(k);
}
END_TEST

/* ---- 3. signing keys ----------------------------------------------------------------- */

START_TEST(sign_verify_round_trip)
{
    capv_signing_key *k = NULL, *other = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_signing_key_generate(&k, &err), CAPV_OK);
    ck_assert_int_eq(capv_signing_key_generate(&other, &err), CAPV_OK);
    uint8_t pub[32], opub[32], sig[64], sig2[64];
    capv_signing_key_public(pub, k);
    capv_signing_key_public(opub, other);
    ck_assert(memcmp(pub, opub, 32) != 0);

    uint8_t msg[] = "CAP manifest bytes";
    size_t mlen = sizeof msg - 1;
    ck_assert_int_eq(capv_signing_key_sign(sig, k, msg, mlen, &err), CAPV_OK);
    ck_assert_int_eq(capv_ed25519_verify(pub, sig, msg, mlen, &err), CAPV_OK);
    /* Ed25519 is deterministic */
    ck_assert_int_eq(capv_signing_key_sign(sig2, k, msg, mlen, &err), CAPV_OK);
    ck_assert_mem_eq(sig, sig2, 64);

    msg[3] ^= 0x01;
    capv_error_clear(&err);
    ck_assert_int_eq(capv_ed25519_verify(pub, sig, msg, mlen, &err), CAPV_E_SIGNATURE);
    ck_assert_int_eq(err.code, CAPV_E_SIGNATURE);
    msg[3] ^= 0x01;
    ck_assert_int_eq(capv_ed25519_verify(pub, sig, msg, mlen - 1, NULL), CAPV_E_SIGNATURE);
    sig[40] ^= 0x80;
    ck_assert_int_eq(capv_ed25519_verify(pub, sig, msg, mlen, NULL), CAPV_E_SIGNATURE);
    sig[40] ^= 0x80;
    ck_assert_int_eq(capv_ed25519_verify(opub, sig, msg, mlen, NULL), CAPV_E_SIGNATURE);
    ck_assert_int_eq(capv_ed25519_verify(pub, sig, msg, mlen, NULL), CAPV_OK);

    /* the empty message, given as NULL */
    ck_assert_int_eq(capv_signing_key_sign(sig, k, NULL, 0, &err), CAPV_OK);
    ck_assert_int_eq(capv_ed25519_verify(pub, sig, NULL, 0, &err), CAPV_OK);
    ck_assert_int_eq(capv_ed25519_verify(pub, sig, (const uint8_t *)"", 0, &err), CAPV_OK);
    ck_assert_int_eq(capv_ed25519_verify(pub, sig, (const uint8_t *)"x", 1, &err),
                     CAPV_E_SIGNATURE);

    /* through a store holding the key, and one that does not */
    capv_trust_store *s = NULL;
    ck_assert_int_eq(capv_trust_store_new(&s, NULL), CAPV_OK);
    ck_assert_int_eq(capv_trust_store_add(s, pub, "me", NULL), CAPV_OK);
    ck_assert_int_eq(capvi_ed25519_verify_with(s, pub, sig, NULL, 0, NULL), CAPV_OK);
    ck_assert_int_eq(capvi_ed25519_verify_with(s, opub, sig, NULL, 0, NULL), CAPV_E_SIGNATURE);
    capv_trust_store_free(s);

    ck_assert_int_eq(capv_signing_key_sign(sig, NULL, msg, mlen, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_signing_key_sign(NULL, k, msg, mlen, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_signing_key_sign(sig, k, NULL, 1, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_signing_key_generate(NULL, NULL), CAPV_E_INVALID_ARG);
    capv_signing_key_free(NULL);
    capv_signing_key_free(other);
    capv_signing_key_free(k);
}
END_TEST

static void write_pem(const char *path, EVP_PKEY *pkey, bool encrypted)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (encrypted)
        ck_assert_int_eq(
            PEM_write_PKCS8PrivateKey(f, pkey, EVP_aes_256_cbc(), "secret", 6, NULL, NULL), 1);
    else
        ck_assert_int_eq(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
    ck_assert_int_eq(fclose(f), 0);
}

static void load_fails(const char *path, capv_status want)
{
    capv_signing_key *k = (capv_signing_key *)&k; /* must be reset to NULL */
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_signing_key_load(&k, path, &err), want);
    ck_assert_ptr_null(k);
    ck_assert_int_eq(err.code, want);
    ck_assert_str_eq(err.field, path);
}

START_TEST(signing_key_files)
{
    char dir[PATH_CAP], path[PATH_CAP], other[PATH_CAP];
    tmpdir_make(dir);
    capv_signing_key *k = NULL, *back = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_signing_key_generate(&k, &err), CAPV_OK);
    uint8_t pub[32], pub2[32], sig[64];
    capv_signing_key_public(pub, k);

    join(path, dir, "signing.pem");
    ck_assert_int_eq(capv_signing_key_save(k, path, &err), CAPV_OK);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq((unsigned)(sb.st_mode & 07777), 0600u);
    size_t len;
    uint8_t *pem = tu_read(dir, "signing.pem", &len);
    ck_assert_int_eq(strncmp((char *)pem, "-----BEGIN PRIVATE KEY-----\n", 28), 0);
    free(pem);

    /* never overwritten */
    capv_error_clear(&err);
    ck_assert_int_eq(capv_signing_key_save(k, path, &err), CAPV_E_EXISTS);
    ck_assert_int_eq(err.code, CAPV_E_EXISTS);
    ck_assert_str_eq(err.field, path);
    ck_assert_int_eq(capv_signing_key_load(&back, path, &err), CAPV_OK);
    capv_signing_key_public(pub2, back);
    ck_assert_mem_eq(pub, pub2, 32);
    ck_assert_int_eq(capv_signing_key_sign(sig, back, (const uint8_t *)"abc", 3, &err), CAPV_OK);
    ck_assert_int_eq(capv_ed25519_verify(pub, sig, (const uint8_t *)"abc", 3, &err), CAPV_OK);
    capv_signing_key_free(back);

    /* in a directory that does not exist: cannot create */
    join(other, dir, "nodir/signing.pem");
    ck_assert_int_eq(capv_signing_key_save(k, other, NULL), CAPV_E_IO);
    ck_assert_int_eq(capv_signing_key_save(NULL, other, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_signing_key_save(k, NULL, NULL), CAPV_E_INVALID_ARG);

    /* not PEM, empty, a public key */
    put(other, dir, "junk.pem", "this is not a key\n");
    load_fails(other, CAPV_E_MALFORMED);
    put(other, dir, "empty.pem", "");
    load_fails(other, CAPV_E_MALFORMED);
    put(other, dir, "pub.pem",
        "-----BEGIN PUBLIC KEY-----\n"
        "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
        "-----END PUBLIC KEY-----\n");
    load_fails(other, CAPV_E_MALFORMED);

    /* other algorithms: well-formed PEM, wrong kind of key */
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ck_assert_ptr_nonnull(ec);
    join(other, dir, "ec.pem");
    write_pem(other, ec, false);
    load_fails(other, CAPV_E_UNSUPPORTED_FORMAT);
    EVP_PKEY_free(ec);
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    ck_assert_ptr_nonnull(rsa);
    join(other, dir, "rsa.pem");
    write_pem(other, rsa, false);
    load_fails(other, CAPV_E_UNSUPPORTED_FORMAT);
    EVP_PKEY_free(rsa);
    EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    ck_assert_ptr_nonnull(x);
    join(other, dir, "x25519.pem");
    write_pem(other, x, false);
    load_fails(other, CAPV_E_UNSUPPORTED_FORMAT);
    EVP_PKEY_free(x);

    /* an encrypted Ed25519 key is refused without asking for a passphrase: OpenSSL's default
     * prompt reads the terminal or, without one, stdin, so offer the right passphrase on
     * stdin: a library that prompts would load the key */
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ck_assert_ptr_nonnull(ed);
    join(other, dir, "encrypted.pem");
    write_pem(other, ed, true);
    int fds[2], saved = dup(STDIN_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(write(fds[1], "secret\n", 7), 7);
    close(fds[1]);
    ck_assert_int_ge(dup2(fds[0], STDIN_FILENO), 0);
    close(fds[0]);
    load_fails(other, CAPV_E_MALFORMED);
    ck_assert_int_ge(dup2(saved, STDIN_FILENO), 0);
    close(saved);
    /* the same key unencrypted, as `openssl genpkey -algorithm ed25519` writes it */
    join(other, dir, "openssl.pem");
    write_pem(other, ed, false);
    ck_assert_int_eq(capv_signing_key_load(&back, other, &err), CAPV_OK);
    size_t n = sizeof pub;
    ck_assert_int_eq(EVP_PKEY_get_raw_public_key(ed, pub, &n), 1);
    capv_signing_key_public(pub2, back);
    ck_assert_mem_eq(pub, pub2, 32);
    capv_signing_key_free(back);
    EVP_PKEY_free(ed);

    join(other, dir, "missing.pem");
    load_fails(other, CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capv_signing_key_load(NULL, other, NULL), CAPV_E_INVALID_ARG);

    capv_signing_key_free(k);
    rm_tree(dir);
}
END_TEST

/* ---- 4. trust store loading ---------------------------------------------------------- */

START_TEST(trust_store_directory)
{
    char dir[PATH_CAP], path[PATH_CAP], text[1024], hex[67];
    tmpdir_make(dir);
    capv_error err = CAPV_ERROR_INIT;
    uint8_t p1[32], p2[32], p3[32], p4[32], p5[32], unknown[32];
    fake_pub(p1, 1);
    fake_pub(p2, 2);
    fake_pub(p4, 4);
    fake_pub(p5, 5);
    fake_pub(unknown, 9);

    put_bytes(path, dir, "a.pub", p1, 32);
    pub_hex(hex, p2);
    snprintf(text, sizeof text, " \t\r\n%s\r\n  \n", hex);
    put(path, dir, "b.pub", text);

    capv_signing_key *k3 = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&k3, NULL), CAPV_OK);
    capv_signing_key_public(p3, k3);
    int64_t from3 = t_ms("2025-01-01T00:00:00Z"), to3 = t_ms("2026-01-01T00:00:00Z");
    char *json3 = NULL;
    ck_assert_int_eq(capv_signing_key_cap_key_json(&json3, k3, "Alice Example",
                                                   t_ms("2025-06-01T12:00:00Z"), from3, to3, &err),
                     CAPV_OK);
    put(path, dir, "c.json", json3);

    cap_key(text, sizeof text, p4,
            "\"kid\": \"00112233445566778899aabbccddeeff\", \"owner\": \"Bob\", "
            "\"status\": \"retired\", \"valid_from\": \"2024-01-01T00:00:00Z\", "
            "\"valid_to\": \"2025-06-30T23:59:59.999+00:00\",");
    put(path, dir, "d.json", text);
    cap_key(text, sizeof text, p5, "\"status\": \"revoked\",");
    put(path, dir, "e.json", text);

    /* ignored: other names, and a directory */
    put(path, dir, "README", "not a key at all {");
    put(path, dir, "notes.txt", "0x1234");
    put(path, dir, "a.pub.bak", "garbage");
    join(path, dir, "sub");
    ck_assert_int_eq(mkdir(path, 0700), 0);

    capv_trust_store *s = NULL;
    ck_assert_int_eq(capv_trust_store_load(&s, dir, &err), CAPV_OK);
    ck_assert_uint_eq(capv_trust_store_count(s), 5);
    /* files in name order */
    join(path, dir, "a.pub");
    ck_assert_str_eq(capv_key_source(capv_trust_store_key(s, 0)), path);
    join(path, dir, "e.json");
    ck_assert_str_eq(capv_key_source(capv_trust_store_key(s, 4)), path);
    ck_assert_ptr_null(capv_trust_store_key(s, 5));
    ck_assert_ptr_null(capv_trust_store_find(s, unknown));

    char kid[CAPV_KID_SIZE];
    const capv_key *k = capv_trust_store_find(s, p1);
    ck_assert_ptr_nonnull(k);
    ck_assert_mem_eq(capv_key_public(k), p1, 32);
    ck_assert_int_eq(capv_key_id(kid, p1, NULL), CAPV_OK);
    ck_assert_str_eq(capv_key_kid(k), kid);
    ck_assert_ptr_null(capv_key_declared_kid(k));
    ck_assert_str_eq(capv_key_owner(k), "");
    ck_assert_int_eq(capv_key_status_of(k), CAPV_KEY_ACTIVE);
    ck_assert(capv_key_valid_from(k) == INT64_MIN);
    ck_assert(capv_key_valid_to(k) == INT64_MAX);

    k = capv_trust_store_find(s, p2);
    ck_assert_ptr_nonnull(k);
    ck_assert_mem_eq(capv_key_public(k), p2, 32);
    join(path, dir, "b.pub");
    ck_assert_str_eq(capv_key_source(k), path);

    k = capv_trust_store_find(s, p3);
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(capv_key_id(kid, p3, NULL), CAPV_OK);
    ck_assert_str_eq(capv_key_kid(k), kid);
    ck_assert_ptr_nonnull(capv_key_declared_kid(k));
    ck_assert_str_eq(capv_key_declared_kid(k), kid);
    ck_assert_str_eq(capv_key_owner(k), "Alice Example");
    ck_assert_int_eq(capv_key_status_of(k), CAPV_KEY_ACTIVE);
    ck_assert(capv_key_valid_from(k) == from3);
    ck_assert(capv_key_valid_to(k) == to3);

    k = capv_trust_store_find(s, p4);
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(capv_key_status_of(k), CAPV_KEY_RETIRED);
    ck_assert_str_eq(capv_key_owner(k), "Bob");
    ck_assert_str_eq(capv_key_declared_kid(k), "00112233445566778899aabbccddeeff");
    ck_assert_str_ne(capv_key_declared_kid(k), capv_key_kid(k));
    ck_assert(capv_key_valid_from(k) == t_ms("2024-01-01T00:00:00Z"));
    ck_assert(capv_key_valid_to(k) == t_ms("2025-06-30T23:59:59.999Z"));

    k = capv_trust_store_find(s, p5);
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(capv_key_status_of(k), CAPV_KEY_REVOKED);

    ck_assert_str_eq(capv_key_status_name(CAPV_KEY_ACTIVE), "active");
    ck_assert_str_eq(capv_key_status_name(CAPV_KEY_RETIRED), "retired");
    ck_assert_str_eq(capv_key_status_name(CAPV_KEY_REVOKED), "revoked");
    capv_trust_store_free(s);
    capv_trust_store_free(NULL);

    /* the cap-key.v1 document we write */
    cJSON *o = NULL;
    ck_assert_int_eq(capvi_json_parse(&o, (const uint8_t *)json3, strlen(json3), &err), CAPV_OK);
    ck_assert_uint_gt(strlen(json3), 0);
    ck_assert_int_eq(json3[strlen(json3) - 1], '\n');
    const char *v = NULL;
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "schema", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, "cap-key.v1");
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "kid", true, NULL), CAPV_OK);
    ck_assert_int_eq(capv_key_id(kid, p3, NULL), CAPV_OK);
    ck_assert_str_eq(v, kid);
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "owner", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, "Alice Example");
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "created_at", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, "2025-06-01T12:00:00Z");
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "valid_from", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, "2025-01-01T00:00:00Z");
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "valid_to", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, "2026-01-01T00:00:00Z");
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "algorithm", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, "ed25519");
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "status", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, "active");
    const cJSON *usage = NULL;
    ck_assert_int_eq(capvi_json_get_array(&usage, o, "", "usage", true, NULL), CAPV_OK);
    ck_assert_int_eq(cJSON_GetArraySize(usage), 1);
    ck_assert_str_eq(cJSON_GetArrayItem(usage, 0)->valuestring, "manifest-signing");
    char b64[CAPV_BASE64_ENCODED_SIZE(32)];
    ck_assert_int_eq(capv_base64_encode(b64, sizeof b64, NULL, p3, 32, CAPV_BASE64_STD, NULL),
                     CAPV_OK);
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "public_key", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, b64);
    uint8_t d[32];
    char fp[80] = "blake3:";
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_BLAKE3, p3, 32, NULL), CAPV_OK);
    ck_assert_int_eq(capv_hex_encode(fp + 7, sizeof fp - 7, d, 32, NULL), CAPV_OK);
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "fingerprint", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, fp);
    cJSON_Delete(o);
    capv_free(json3);

    /* open windows are omitted */
    ck_assert_int_eq(capv_signing_key_cap_key_json(&json3, k3, NULL, 0, INT64_MIN, INT64_MAX, &err),
                     CAPV_OK);
    ck_assert_int_eq(capvi_json_parse(&o, (const uint8_t *)json3, strlen(json3), &err), CAPV_OK);
    ck_assert_ptr_null(capvi_json_get(o, "valid_from"));
    ck_assert_ptr_null(capvi_json_get(o, "valid_to"));
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "created_at", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, "1970-01-01T00:00:00Z");
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "owner", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, "");
    cJSON_Delete(o);
    capv_free(json3);
    /* a bound with milliseconds keeps them: cut to the second, valid_from would move earlier */
    ck_assert_int_eq(capv_signing_key_cap_key_json(&json3, k3, NULL, 0,
                                                   t_ms("2026-01-01T00:00:00.900Z"),
                                                   t_ms("2026-06-30T23:59:59.999Z"), &err),
                     CAPV_OK);
    ck_assert_int_eq(capvi_json_parse(&o, (const uint8_t *)json3, strlen(json3), &err), CAPV_OK);
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "valid_from", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, "2026-01-01T00:00:00.900Z");
    ck_assert_int_eq(capvi_json_get_string(&v, o, "", "valid_to", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, "2026-06-30T23:59:59.999Z");
    cJSON_Delete(o);
    capv_free(json3);
    ck_assert_int_eq(capv_signing_key_cap_key_json(NULL, k3, NULL, 0, 0, 0, NULL),
                     CAPV_E_INVALID_ARG);
    capv_signing_key_free(k3);
    rm_tree(dir);
}
END_TEST

typedef struct {
    const char *name;
    const char *text; /* NULL: `raw`/`raw_len` */
    size_t raw_len;
    capv_status want;
    capv_status want_alone; /* loaded as a single file path; CAPV_OK = same as `want` */
} bad_file;

/* Each bad file beside a good key fails the whole load, naming the bad file. */
START_TEST(trust_store_bad_files)
{
    uint8_t good[32], other[32], raw[40];
    fake_pub(good, 1);
    fake_pub(other, 2);
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)(0xa0 + i);
    char hex[67], hex63[80], hex_junk[96], hex_nox[80], same_text[96];
    pub_hex(hex, other);
    snprintf(hex63, sizeof hex63, "%.65s\n", hex); /* 0x + 63 digits */
    snprintf(hex_junk, sizeof hex_junk, "%s junk\n", hex);
    snprintf(hex_nox, sizeof hex_nox, "%s\n", hex + 2);
    pub_hex(same_text, good);
    char good_kid[CAPV_KID_SIZE];
    ck_assert_int_eq(capv_key_id(good_kid, good, NULL), CAPV_OK);

    char rsa[512], schema[512], status[512], order[512], badtime[512], notime[512], short_b64[512],
        dup[512], badtype[512], url_b64[512];
    /* cap_key() writes "algorithm" itself: build this one by hand */
    snprintf(rsa, sizeof rsa,
             "{\"schema\": \"cap-key.v1\", \"algorithm\": \"rsa\", "
             "\"public_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}");
    snprintf(schema, sizeof schema,
             "{\"schema\": \"cap-key.v2\", "
             "\"public_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}");
    cap_key(status, sizeof status, other, "\"status\": \"suspended\",");
    cap_key(order, sizeof order, other,
            "\"valid_from\": \"2025-02-01T00:00:00Z\", \"valid_to\": \"2025-01-31T23:59:59Z\",");
    cap_key(badtime, sizeof badtime, other, "\"valid_from\": \"yesterday\",");
    cap_key(notime, sizeof notime, other, "\"valid_to\": \"2025-02-29T00:00:00Z\",");
    snprintf(short_b64, sizeof short_b64,
             "{\"public_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\"}"); /* 31 */
    snprintf(url_b64, sizeof url_b64,
             "{\"public_key\": \"____AwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}");
    cap_key(dup, sizeof dup, good, "\"owner\": \"same key again\",");
    cap_key(badtype, sizeof badtype, other, "\"status\": 1,");

    const bad_file cases[] = {
        { "bad.pub", hex63, 0, CAPV_E_MALFORMED, CAPV_OK },
        { "bad.pub", NULL, 33, CAPV_E_MALFORMED, CAPV_OK },
        { "bad.pub", NULL, 31, CAPV_E_MALFORMED, CAPV_OK },
        { "bad.pub", hex_junk, 0, CAPV_E_MALFORMED, CAPV_OK },
        { "bad.pub", hex_nox, 0, CAPV_E_MALFORMED, CAPV_OK },
        { "bad.pub", "", 0, CAPV_E_MALFORMED, CAPV_OK },
        { "bad.pub", "0xzz\n", 0, CAPV_E_MALFORMED, CAPV_OK },
        { "bad.json", rsa, 0, CAPV_E_UNSUPPORTED_FORMAT, CAPV_OK },
        { "bad.json", schema, 0, CAPV_E_UNSUPPORTED_FORMAT, CAPV_OK },
        { "bad.json", status, 0, CAPV_E_MALFORMED, CAPV_OK },
        { "bad.json", order, 0, CAPV_E_MALFORMED, CAPV_OK },
        { "bad.json", badtime, 0, CAPV_E_MALFORMED, CAPV_OK },
        { "bad.json", notime, 0, CAPV_E_MALFORMED, CAPV_OK },
        { "bad.json", short_b64, 0, CAPV_E_MALFORMED, CAPV_OK },
        { "bad.json", url_b64, 0, CAPV_E_MALFORMED, CAPV_OK },
        /* alone, an object without public_key is read as a {"keys": [...]} list */
        { "bad.json", "{\"schema\": \"cap-key.v1\"}", 0, CAPV_E_MISSING, CAPV_E_MALFORMED },
        { "bad.json", badtype, 0, CAPV_E_TYPE, CAPV_OK },
        { "bad.json", "[1]", 0, CAPV_E_MALFORMED, CAPV_OK },
        { "bad.json", "not json", 0, CAPV_E_JSON_SYNTAX, CAPV_OK },
        { "bad.json", "{\"a\": 1, \"a\": 2}", 0, CAPV_E_JSON_DUPLICATE_KEY, CAPV_OK },
        /* the same key twice: raw .pub, then text .pub or cap-key.v1 */
        { "b.pub", same_text, 0, CAPV_E_CONFLICT, CAPV_OK },
        { "dup.json", dup, 0, CAPV_E_CONFLICT, CAPV_OK },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[PATH_CAP], path[PATH_CAP];
        tmpdir_make(dir);
        put_bytes(path, dir, "a.pub", good, 32);
        if (cases[i].text != NULL)
            put(path, dir, cases[i].name, cases[i].text);
        else
            put_bytes(path, dir, cases[i].name, raw, cases[i].raw_len);
        capv_trust_store *s = (capv_trust_store *)&s;
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = capv_trust_store_load(&s, dir, &err);
        ck_assert_msg(st == cases[i].want, "case %zu (%s): got %s, want %s (%s)", i, cases[i].name,
                      capv_status_name(st), capv_status_name(cases[i].want), err.message);
        ck_assert_ptr_null(s);
        ck_assert_int_eq(err.code, cases[i].want);
        ck_assert_msg(strcmp(err.field, path) == 0, "case %zu: field '%s', want '%s'", i, err.field,
                      path);
        ck_assert_msg(strstr(err.message, cases[i].name) != NULL,
                      "case %zu: message '%s' does not name the file", i, err.message);
        if (cases[i].want == CAPV_E_CONFLICT)
            ck_assert_msg(strstr(err.message, good_kid) != NULL,
                          "case %zu: message '%s' does not name the key", i, err.message);
        /* the same file loaded on its own fails the same way (except a duplicate of a.pub) */
        if (cases[i].want != CAPV_E_CONFLICT) {
            capv_status alone =
                cases[i].want_alone != CAPV_OK ? cases[i].want_alone : cases[i].want;
            capv_error_clear(&err);
            ck_assert_int_eq(capv_trust_store_load(&s, path, &err), alone);
            ck_assert_ptr_null(s);
            ck_assert_str_eq(err.field, path);
        }
        rm_tree(dir);
    }
}
END_TEST

START_TEST(trust_store_files)
{
    char dir[PATH_CAP], path[PATH_CAP], o1[512], o2[512], o3[512], text[2048], hex[67];
    tmpdir_make(dir);
    capv_error err = CAPV_ERROR_INIT;
    capv_trust_store *s = NULL;
    uint8_t p1[32], p2[32], p3[32];
    fake_pub(p1, 1);
    fake_pub(p2, 2);
    fake_pub(p3, 3);
    cap_key(o1, sizeof o1, p1, "\"owner\": \"one\",");
    cap_key(o2, sizeof o2, p2, "\"status\": \"retired\", \"valid_to\": \"2026-01-01T00:00:00Z\",");
    cap_key(o3, sizeof o3, p3, "");

    /* a retired key without valid_to (when it was retired) is refused */
    char o4[512];
    cap_key(o4, sizeof o4, p2, "\"status\": \"retired\",");
    put(path, dir, "retired.json", o4);
    s = (capv_trust_store *)&s;
    ck_assert_int_eq(capv_trust_store_load(&s, path, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err.message, "a retired key needs valid_to"));
    ck_assert_int_eq(unlink(path), 0);

    /* a JSON array */
    snprintf(text, sizeof text, "[%s,\n %s]\n", o1, o2);
    put(path, dir, "list.json", text);
    ck_assert_int_eq(capv_trust_store_load(&s, path, &err), CAPV_OK);
    ck_assert_uint_eq(capv_trust_store_count(s), 2);
    ck_assert_str_eq(capv_key_owner(capv_trust_store_key(s, 0)), "one");
    ck_assert_str_eq(capv_key_source(capv_trust_store_key(s, 1)), path);
    ck_assert_int_eq(capv_key_status_of(capv_trust_store_find(s, p2)), CAPV_KEY_RETIRED);
    capv_trust_store_free(s);

    /* {"keys": [...]} */
    snprintf(text, sizeof text, "{\"keys\": [%s, %s, %s]}", o1, o2, o3);
    put(path, dir, "keys.list", text);
    ck_assert_int_eq(capv_trust_store_load(&s, path, &err), CAPV_OK);
    ck_assert_uint_eq(capv_trust_store_count(s), 3);
    ck_assert_ptr_nonnull(capv_trust_store_find(s, p3));
    capv_trust_store_free(s);

    /* one object */
    put(path, dir, "single.json", o3);
    ck_assert_int_eq(capv_trust_store_load(&s, path, &err), CAPV_OK);
    ck_assert_uint_eq(capv_trust_store_count(s), 1);
    ck_assert_mem_eq(capv_key_public(capv_trust_store_key(s, 0)), p3, 32);
    capv_trust_store_free(s);

    /* one .pub, text and raw; a raw key whose first bytes happen to read "0x" */
    pub_hex(hex, p2);
    snprintf(text, sizeof text, "%s\n", hex);
    put(path, dir, "one.pub", text);
    ck_assert_int_eq(capv_trust_store_load(&s, path, &err), CAPV_OK);
    ck_assert_uint_eq(capv_trust_store_count(s), 1);
    ck_assert_mem_eq(capv_key_public(capv_trust_store_key(s, 0)), p2, 32);
    capv_trust_store_free(s);
    uint8_t ox[32];
    fake_pub(ox, 7);
    ox[0] = '0';
    ox[1] = 'x';
    put_bytes(path, dir, "ox.pub", ox, 32);
    ck_assert_int_eq(capv_trust_store_load(&s, path, &err), CAPV_OK);
    ck_assert_uint_eq(capv_trust_store_count(s), 1);
    ck_assert_mem_eq(capv_key_public(capv_trust_store_key(s, 0)), ox, 32);
    capv_trust_store_free(s);

    /* an empty list is an empty store */
    put(path, dir, "empty.list", "[]");
    ck_assert_int_eq(capv_trust_store_load(&s, path, &err), CAPV_OK);
    ck_assert_uint_eq(capv_trust_store_count(s), 0);
    capv_trust_store_free(s);

    /* not a list of keys */
    static const char *const not_lists[] = { "{\"keys\": 5}", "{\"other\": []}", "5", "\"x\"",
                                             "{\"keys\": {}}" };
    for (size_t i = 0; i < sizeof not_lists / sizeof not_lists[0]; i++) {
        put(path, dir, "bad.list", not_lists[i]);
        capv_error_clear(&err);
        ck_assert_int_eq(capv_trust_store_load(&s, path, &err), CAPV_E_MALFORMED);
        ck_assert_ptr_null(s);
        ck_assert_str_eq(err.field, path);
        join(path, dir, "bad.list");
        ck_assert_int_eq(unlink(path), 0);
    }
    /* a key twice in one list */
    snprintf(text, sizeof text, "[%s, %s, %s]", o1, o2, o1);
    put(path, dir, "twice.list", text);
    ck_assert_int_eq(capv_trust_store_load(&s, path, &err), CAPV_E_CONFLICT);
    ck_assert_ptr_null(s);
    ck_assert_str_eq(err.field, path);

    /* missing */
    join(path, dir, "missing.json");
    capv_error_clear(&err);
    ck_assert_int_eq(capv_trust_store_load(&s, path, &err), CAPV_E_NOT_FOUND);
    ck_assert_ptr_null(s);
    ck_assert_str_eq(err.field, path);
    join(path, dir, "nodir/keys");
    ck_assert_int_eq(capv_trust_store_load(&s, path, NULL), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capv_trust_store_load(NULL, path, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_trust_store_load(&s, NULL, NULL), CAPV_E_INVALID_ARG);

    /* an empty directory is an empty store */
    join(path, dir, "emptydir");
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(capv_trust_store_load(&s, path, &err), CAPV_OK);
    ck_assert_uint_eq(capv_trust_store_count(s), 0);
    ck_assert_int_eq(capv_trust_store_add(s, p1, "added", &err), CAPV_OK);
    ck_assert_uint_eq(capv_trust_store_count(s), 1);
    ck_assert_int_eq(capv_trust_store_add(s, p1, "again", &err), CAPV_E_CONFLICT);
    ck_assert_uint_eq(capv_trust_store_count(s), 1);
    ck_assert_int_eq(capv_trust_store_add(NULL, p1, NULL, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_trust_store_add(s, NULL, NULL, NULL), CAPV_E_INVALID_ARG);
    capv_trust_store_free(s);
    ck_assert_uint_eq(capv_trust_store_count(NULL), 0);
    ck_assert_ptr_null(capv_trust_store_find(NULL, p1));
    rm_tree(dir);
}
END_TEST

/* ---- 5. trust decisions -------------------------------------------------------------- */

START_TEST(trust_decide_windows)
{
    char dir[PATH_CAP], path[PATH_CAP], a[512], r[512], t[512], text[2048];
    tmpdir_make(dir);
    uint8_t pa[32], pr[32], pt[32], po[32], unknown[32];
    fake_pub(pa, 1);
    fake_pub(pr, 2);
    fake_pub(pt, 3);
    fake_pub(po, 4);
    fake_pub(unknown, 5);
    cap_key(
        a, sizeof a, pa,
        "\"valid_from\": \"2025-01-01T00:00:00Z\", \"valid_to\": \"2025-12-31T23:59:59.999Z\",");
    cap_key(r, sizeof r, pr,
            "\"status\": \"revoked\", \"valid_from\": \"2025-01-01T00:00:00Z\", "
            "\"valid_to\": \"2025-12-31T23:59:59.999Z\",");
    cap_key(t, sizeof t, pt,
            "\"status\": \"retired\", \"valid_from\": \"2024-01-01T00:00:00+01:00\", "
            "\"valid_to\": \"2025-06-30T00:00:00Z\",");
    snprintf(text, sizeof text, "{\"keys\": [%s, %s, %s]}", a, r, t);
    put(path, dir, "trust.json", text);
    capv_trust_store *s = NULL;
    ck_assert_int_eq(capv_trust_store_load(&s, path, NULL), CAPV_OK);
    ck_assert_int_eq(capv_trust_store_add(s, po, "open", NULL), CAPV_OK);

    const int64_t from = t_ms("2025-01-01T00:00:00Z"), to = t_ms("2025-12-31T23:59:59.999Z");
    const int64_t mid = t_ms("2025-03-01T12:00:00Z");
    const capv_key *k = (const capv_key *)&k;
    ck_assert_int_eq(capvi_trust_decide(&k, s, unknown, at(mid)), CAPV_E_UNTRUSTED);
    ck_assert_ptr_null(k);
    ck_assert_int_eq(capvi_trust_decide(&k, NULL, pa, at(mid)), CAPV_E_UNTRUSTED);
    ck_assert_ptr_null(k);

    ck_assert_int_eq(capvi_trust_decide(&k, s, pa, at(mid)), CAPV_OK);
    ck_assert_ptr_eq(k, capv_trust_store_find(s, pa));
    ck_assert_int_eq(capvi_trust_decide(&k, s, pa, at(from)), CAPV_OK);
    ck_assert_int_eq(capvi_trust_decide(&k, s, pa, at(to)), CAPV_OK);
    ck_assert_int_eq(capvi_trust_decide(&k, s, pa, at(from - 1)), CAPV_E_NOT_YET_VALID);
    ck_assert_ptr_eq(k, capv_trust_store_find(s, pa));
    ck_assert_int_eq(capvi_trust_decide(&k, s, pa, at(to + 1)), CAPV_E_EXPIRED);
    ck_assert_ptr_eq(k, capv_trust_store_find(s, pa));
    /* INT64_MIN is no time at all: a bounded window cannot be judged by it */
    ck_assert_int_eq(capvi_trust_decide(&k, s, pa, at(INT64_MIN)), CAPV_E_MISSING);
    ck_assert_int_eq(capvi_trust_decide(&k, s, pa, at(INT64_MAX)), CAPV_E_EXPIRED);
    /* a leap second comes after every time of the second before it */
    ck_assert_int_eq(capvi_trust_decide(&k, s, pa, t_at("2025-12-31T23:59:60Z")), CAPV_E_EXPIRED);

    /* revocation wins everywhere, inside the window included */
    ck_assert_int_eq(capvi_trust_decide(&k, s, pr, at(mid)), CAPV_E_REVOKED);
    ck_assert_ptr_eq(k, capv_trust_store_find(s, pr));
    ck_assert_int_eq(capvi_trust_decide(&k, s, pr, at(from)), CAPV_E_REVOKED);
    ck_assert_int_eq(capvi_trust_decide(&k, s, pr, at(from - 1)), CAPV_E_REVOKED);
    ck_assert_int_eq(capvi_trust_decide(&k, s, pr, at(to + 1)), CAPV_E_REVOKED);

    /* retired: accepted for what was created inside its window */
    ck_assert_int_eq(capvi_trust_decide(&k, s, pt, at(mid)), CAPV_OK);
    ck_assert_int_eq(capvi_trust_decide(&k, s, pt, at(t_ms("2023-12-31T23:00:00Z"))), CAPV_OK);
    ck_assert_int_eq(capvi_trust_decide(&k, s, pt, at(t_ms("2023-12-31T22:59:59.999Z"))),
                     CAPV_E_NOT_YET_VALID);
    ck_assert_int_eq(capvi_trust_decide(&k, s, pt, at(t_ms("2025-06-30T00:00:00Z"))), CAPV_OK);
    ck_assert_int_eq(capvi_trust_decide(&k, s, pt, at(t_ms("2025-06-30T00:00:00.001Z"))),
                     CAPV_E_EXPIRED);

    /* the window is compared to the nanosecond: a time of the same millisecond as valid_to
     * but after it is past it */
    ck_assert_int_eq(capvi_trust_decide(&k, s, pa, t_at("2025-12-31T23:59:59.9990001Z")),
                     CAPV_E_EXPIRED);
    ck_assert_int_eq(capvi_trust_decide(&k, s, pa, t_at("2025-12-31T23:59:59.999000000Z")),
                     CAPV_OK);
    ck_assert_int_eq(capvi_trust_decide(&k, s, pt, t_at("2025-06-30T00:00:00.000000001Z")),
                     CAPV_E_EXPIRED);
    ck_assert_int_eq(capvi_trust_decide(&k, s, pt, t_at("2023-12-31T22:59:59.9999999Z")),
                     CAPV_E_NOT_YET_VALID);

    /* no window */
    ck_assert_int_eq(capvi_trust_decide(&k, s, po, at(INT64_MIN)), CAPV_OK);
    ck_assert_int_eq(capvi_trust_decide(&k, s, po, at(0)), CAPV_OK);
    ck_assert_int_eq(capvi_trust_decide(&k, s, po, at(INT64_MAX)), CAPV_OK);
    ck_assert_str_eq(capv_key_owner(k), "open");

    capv_trust_store_free(s);
    rm_tree(dir);
}
END_TEST

/* ---- 6. manifest signing ------------------------------------------------------------- */

static uint8_t *canonical(const uint8_t *data, size_t len, size_t *out_len)
{
    uint8_t *c = NULL;
    ck_assert_int_eq(
        capv_json_canonical(&c, out_len, data, len, CAPV_JSON_CANON_EMPTY_SIGNATURES, NULL),
        CAPV_OK);
    return c;
}

/* Checks signature `i` of a signed manifest: fields, and that it verifies over the output's
 * own canonical bytes. */
static void check_signature(const cJSON *root, int i, const uint8_t pub[32], const char *signer,
                            const uint8_t *canon, size_t clen)
{
    const cJSON *sigs = NULL;
    ck_assert_int_eq(capvi_json_get_array(&sigs, root, "", "signatures", true, NULL), CAPV_OK);
    const cJSON *e = cJSON_GetArrayItem(sigs, i);
    ck_assert_ptr_nonnull(e);
    static const char *const order[] = { "alg", "signer", "pubkey_hex", "sig_hex" };
    const cJSON *m = e->child;
    for (size_t j = 0; j < 4; j++, m = m->next) {
        ck_assert_ptr_nonnull(m);
        ck_assert_str_eq(m->string, order[j]);
    }
    ck_assert_ptr_null(m);
    const char *alg = NULL, *who = NULL, *pk = NULL, *sh = NULL;
    ck_assert_int_eq(capvi_json_get_string(&alg, e, "sig", "alg", true, NULL), CAPV_OK);
    ck_assert_int_eq(capvi_json_get_string(&who, e, "sig", "signer", true, NULL), CAPV_OK);
    ck_assert_int_eq(capvi_json_get_string(&pk, e, "sig", "pubkey_hex", true, NULL), CAPV_OK);
    ck_assert_int_eq(capvi_json_get_string(&sh, e, "sig", "sig_hex", true, NULL), CAPV_OK);
    ck_assert_str_eq(alg, "Ed25519");
    ck_assert_str_eq(who, signer);
    char want_pk[67];
    pub_hex(want_pk, pub);
    ck_assert_str_eq(pk, want_pk);
    ck_assert_uint_eq(strlen(sh), 2 + 128);
    ck_assert_int_eq(strncmp(sh, "0x", 2), 0);
    uint8_t sig[64];
    ck_assert_int_eq(capv_hex_decode(sig, sizeof sig, sh, strlen(sh), NULL), CAPV_OK);
    ck_assert_int_eq(capv_ed25519_verify(pub, sig, canon, clen, NULL), CAPV_OK);
    /* and over nothing else */
    ck_assert_int_eq(capv_ed25519_verify(pub, sig, canon, clen - 1, NULL), CAPV_E_SIGNATURE);
}

START_TEST(manifest_sign_peer)
{
    size_t len;
    uint8_t *in = tu_read(tu_shared_dir(), "peer/packages/webui-legacy/manifest.json", &len);
    capv_signing_key *k1 = NULL, *k2 = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&k1, NULL), CAPV_OK);
    ck_assert_int_eq(capv_signing_key_generate(&k2, NULL), CAPV_OK);
    uint8_t pub1[32], pub2[32];
    capv_signing_key_public(pub1, k1);
    capv_signing_key_public(pub2, k2);
    capv_error err = CAPV_ERROR_INIT;

    size_t cin_len;
    uint8_t *cin = canonical(in, len, &cin_len);
    uint8_t d[32];
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, cin, cin_len, NULL), CAPV_OK);
    ck_assert_str_eq(tu_hex(d),
                     "0x9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d2");

    uint8_t *out1 = NULL;
    size_t out1_len = 0;
    ck_assert_int_eq(capv_manifest_sign(&out1, &out1_len, in, len, k1, "Supplier GmbH", &err),
                     CAPV_OK);
    ck_assert_ptr_nonnull(out1);
    ck_assert_uint_eq(strlen((char *)out1), out1_len);
    ck_assert_int_eq(strncmp((char *)out1, "{\n  \"version\": \"manifest.v0\",\n", 30), 0);
    ck_assert_int_eq(strcmp((char *)out1 + out1_len - 3, "\n}\n"), 0);
    cJSON *r1 = NULL;
    ck_assert_int_eq(capvi_json_parse(&r1, out1, out1_len, &err), CAPV_OK);
    const cJSON *sigs = NULL;
    ck_assert_int_eq(capvi_json_get_array(&sigs, r1, "", "signatures", true, NULL), CAPV_OK);
    ck_assert_int_eq(cJSON_GetArraySize(sigs), 1);
    size_t c1_len;
    uint8_t *c1 = canonical(out1, out1_len, &c1_len);
    /* the signed bytes are still the ones the proof binds */
    ck_assert_uint_eq(c1_len, cin_len);
    ck_assert_mem_eq(c1, cin, cin_len);
    check_signature(r1, 0, pub1, "Supplier GmbH", c1, c1_len);

    /* a second signer appends; the first signature is kept and both still verify */
    uint8_t *out2 = NULL;
    size_t out2_len = 0;
    ck_assert_int_eq(capv_manifest_sign(&out2, &out2_len, out1, out1_len, k2, "Auditor", &err),
                     CAPV_OK);
    cJSON *r2 = NULL;
    ck_assert_int_eq(capvi_json_parse(&r2, out2, out2_len, &err), CAPV_OK);
    ck_assert_int_eq(capvi_json_get_array(&sigs, r2, "", "signatures", true, NULL), CAPV_OK);
    ck_assert_int_eq(cJSON_GetArraySize(sigs), 2);
    size_t c2_len;
    uint8_t *c2 = canonical(out2, out2_len, &c2_len);
    ck_assert_uint_eq(c2_len, cin_len);
    ck_assert_mem_eq(c2, cin, cin_len);
    check_signature(r2, 0, pub1, "Supplier GmbH", c2, c2_len);
    check_signature(r2, 1, pub2, "Auditor", c2, c2_len);
    ck_assert_str_eq(cJSON_GetArrayItem(sigs, 0)->child->next->next->next->valuestring,
                     cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r1, "signatures"), 0)
                         ->child->next->next->next->valuestring);

    cJSON_Delete(r2);
    cJSON_Delete(r1);
    capv_free(c2);
    capv_free(c1);
    capv_free(out2);
    capv_free(out1);
    capv_free(cin);
    free(in);
    capv_signing_key_free(k2);
    capv_signing_key_free(k1);
}
END_TEST

static void sign_fails(const char *text, const capv_signing_key *k, capv_status want)
{
    uint8_t *out = (uint8_t *)&out;
    size_t out_len = 99;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(
        capv_manifest_sign(&out, &out_len, (const uint8_t *)text, strlen(text), k, "x", &err),
        want);
    ck_assert_int_eq(err.code, want);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(out_len, 0);
}

START_TEST(manifest_sign_shapes)
{
    capv_signing_key *k = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&k, NULL), CAPV_OK);
    uint8_t pub[32];
    capv_signing_key_public(pub, k);
    capv_error err = CAPV_ERROR_INIT;

    /* no "signatures": one is added at the end */
    const char *m = "{\"version\": \"manifest.v1.0\", \"n\": 1, \"s\": \"\\u00e9\"}";
    uint8_t *out = NULL;
    size_t out_len = 0;
    ck_assert_int_eq(
        capv_manifest_sign(&out, &out_len, (const uint8_t *)m, strlen(m), k, "me", &err), CAPV_OK);
    size_t clen;
    uint8_t *c = canonical(out, out_len, &clen);
    ck_assert_str_eq(
        (char *)c, "{\"version\":\"manifest.v1.0\",\"n\":1,\"s\":\"\xc3\xa9\",\"signatures\":[]}");
    cJSON *root = NULL;
    ck_assert_int_eq(capvi_json_parse(&root, out, out_len, &err), CAPV_OK);
    ck_assert_str_eq(root->child->next->next->next->string, "signatures");
    check_signature(root, 0, pub, "me", c, clen);
    cJSON_Delete(root);
    capv_free(c);
    capv_free(out);

    sign_fails("{\"signatures\": {}}", k, CAPV_E_TYPE);
    sign_fails("{\"signatures\": \"none\"}", k, CAPV_E_TYPE);
    sign_fails("{\"signatures\": null}", k, CAPV_E_TYPE);
    sign_fails("[{\"signatures\": []}]", k, CAPV_E_TYPE);
    sign_fails("not json", k, CAPV_E_JSON_SYNTAX);
    sign_fails("", k, CAPV_E_JSON_SYNTAX);
    sign_fails("{\"a\": 1, \"a\": 2}", k, CAPV_E_JSON_DUPLICATE_KEY);
    sign_fails("{\"a\": 1} x", k, CAPV_E_JSON_TRAILING);
    ck_assert_int_eq(capv_status_class_of(CAPV_E_JSON_SYNTAX), CAPV_CLASS_MALFORMED);
    ck_assert_int_eq(capv_status_class_of(CAPV_E_TYPE), CAPV_CLASS_MALFORMED);
    uint8_t *out_na = NULL;
    size_t out_na_len = 0;
    ck_assert_int_eq(
        capv_manifest_sign(&out_na, &out_na_len, (const uint8_t *)"{}", 2, NULL, "x", NULL),
        CAPV_E_INVALID_ARG);
    ck_assert_ptr_null(out_na);
    ck_assert_int_eq(capv_manifest_sign(&out, &out_len, (const uint8_t *)"{}", 2, k, NULL, NULL),
                     CAPV_E_INVALID_ARG);
    capv_signing_key_free(k);
}
END_TEST

/* ---- 7. RFC 3339 --------------------------------------------------------------------- */

typedef struct {
    const char *text;
    int64_t ms;
} time_case;

START_TEST(rfc3339_accepted)
{
    static const time_case ok[] = {
        { "1970-01-01T00:00:00Z", 0 },
        { "1970-01-01t00:00:00z", 0 },
        { "1970-01-01T00:00:00+00:00", 0 },
        { "1970-01-01T00:00:00-00:00", 0 },
        { "1970-01-01T01:00:00+01:00", 0 },
        { "2025-12-14T20:49:57.923572+00:00", INT64_C(1765745397923) },
        { "2025-10-25T13:07:41.027357+00:00", INT64_C(1761397661027) },
        { "1985-04-12T23:20:50.52Z", INT64_C(482196050520) },
        { "1996-12-19T16:39:57-08:00", INT64_C(851042397000) },
        { "1937-01-01T12:00:27.87+00:20", INT64_C(-1041337172130) },
        { "2000-03-01T00:00:00+05:30", INT64_C(951849000000) },
        { "2024-02-29t23:59:59.5-00:30", INT64_C(1709252999500) },
        { "2024-02-29T00:00:00Z", INT64_C(1709164800000) },
        { "2000-02-29T00:00:00Z", INT64_C(951782400000) },
        /* a leap second: the last nanosecond of :59 */
        { "2016-12-31T23:59:60Z", INT64_C(1483228799999) },
        { "2016-12-31T23:59:60.25Z", INT64_C(1483228799999) },
        { "2016-12-31T23:59:60.999999999Z", INT64_C(1483228799999) },
        { "1969-12-31T23:59:59.999Z", -1 },
        { "1900-01-01T00:00:00Z", INT64_C(-2208988800000) },
        { "9999-12-31T23:59:59.999Z", INT64_C(253402300799999) },
        { "2025-01-01T00:00:00.123456789Z", INT64_C(1735689600123) }, /* truncated */
        { "2025-01-01T00:00:00.1Z", INT64_C(1735689600100) },
        { "2025-01-01T00:00:00.000000000000000000009Z", INT64_C(1735689600000) },
        { "2025-01-01T00:00:00+23:59", INT64_C(1735689600000) - (23 * 60 + 59) * 60000 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = 12345;
        ck_assert_msg(capvi_time_parse(&ms, ok[i].text, strlen(ok[i].text)), "rejected %s",
                      ok[i].text);
        ck_assert_msg(ms == ok[i].ms, "%s: got %lld, want %lld", ok[i].text, (long long)ms,
                      (long long)ok[i].ms);
        /* the public wrapper agrees */
        ms = 12345;
        ck_assert_int_eq(capv_rfc3339_parse(&ms, ok[i].text, strlen(ok[i].text), NULL), CAPV_OK);
        ck_assert(ms == ok[i].ms);
    }
    /* a leap second, to the nanosecond: after all of :59, before the next minute */
    capvi_instant leap = t_at("2016-12-31T23:59:60.5Z");
    ck_assert_int_eq(capvi_instant_cmp(leap, t_at("2016-12-31T23:59:60Z")), 0);
    ck_assert_int_eq(capvi_instant_cmp(leap, t_at("2016-12-31T23:59:59.999999998Z")), 1);
    ck_assert_int_eq(capvi_instant_cmp(leap, t_at("2017-01-01T00:00:00Z")), -1);
    ck_assert_int_eq(capvi_instant_cmp(t_at("2017-01-01T00:59:60+01:00"), leap), 0);
    /* only `len` bytes are read: the input need not be NUL-terminated */
    const char *longer = "2025-01-01T00:00:00Zgarbage";
    int64_t ms = 0;
    ck_assert(capvi_time_parse(&ms, longer, 20));
    ck_assert(ms == INT64_C(1735689600000));
}
END_TEST

START_TEST(rfc3339_rejected)
{
    static const char *const bad[] = {
        "",
        "2025",
        "2025-02-29T00:00:00Z", /* not a leap year */
        "1900-02-29T00:00:00Z", /* century, not a leap year */
        "2025-04-31T00:00:00Z",
        "2025-13-01T00:00:00Z",
        "2025-00-01T00:00:00Z",
        "2025-01-00T00:00:00Z",
        "2025-01-32T00:00:00Z",
        "2025-01-01T24:00:00Z",
        "2025-01-01T23:60:00Z",
        "2025-01-01T23:59:61Z",
        "2025-01-01T00:00:00",   /* no zone */
        "2025-01-01T00:00:00.5", /* no zone */
        "2025-01-01 00:00:00Z",  /* space for T */
        "2025-01-01T00:00:00ZZ",
        "2025-01-01T00:00:00Z ",
        " 2025-01-01T00:00:00Z",
        "2025-01-01T00:00:00Zgarbage",
        "2025-01-01T00:00:00.Z", /* empty fraction */
        "2025-01-01T00:00:00,5Z",
        "2025-01-01T00:00:00+0100",
        "2025-01-01T00:00:00+01",
        "2025-01-01T00:00:00+01:00x",
        "2025-01-01T00:00:00+24:00",
        "2025-01-01T00:00:00+01:60",
        "2025-01-01T00:00:00 +01:00",
        "2025-1-01T00:00:00Z",
        "2025-01-1T00:00:00Z",
        "25-01-01T00:00:00Z",
        "+025-01-01T00:00:00Z",
        "2025/01/01T00:00:00Z",
        "2025-01-01T00-00-00Z",
        "2025-01-01T0a:00:00Z",
        "2025-01-01T00:00:00UTC",
        "2025-01-01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 777;
        ck_assert_msg(!capvi_time_parse(&ms, bad[i], strlen(bad[i])), "accepted '%s'", bad[i]);
        capv_error err = CAPV_ERROR_INIT;
        ck_assert_int_eq(capv_rfc3339_parse(&ms, bad[i], strlen(bad[i]), &err), CAPV_E_MALFORMED);
        ck_assert_int_eq(err.code, CAPV_E_MALFORMED);
    }
    /* an embedded NUL is a byte like any other */
    int64_t ms = 0;
    ck_assert(!capvi_time_parse(&ms, "2025-01-01T00:00:00Z\0", 21));
    ck_assert(!capvi_time_parse(&ms, "2025-01-01T00:00:00\0Z", 21));
    ck_assert_int_eq(capv_rfc3339_parse(NULL, "1970-01-01T00:00:00Z", 20, NULL),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_rfc3339_parse(&ms, NULL, 0, NULL), CAPV_E_INVALID_ARG);
}
END_TEST

START_TEST(rfc3339_format_round_trip)
{
    char out[32];
    capvi_time_format_ms(out, 0);
    ck_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
    capvi_time_format_s(out, 0);
    ck_assert_str_eq(out, "1970-01-01T00:00:00Z");
    capvi_time_format_ms(out, -1);
    ck_assert_str_eq(out, "1969-12-31T23:59:59.999Z");
    capvi_time_format_s(out, -1);
    ck_assert_str_eq(out, "1969-12-31T23:59:59Z");
    capvi_time_format_ms(out, INT64_C(1765745397923));
    ck_assert_str_eq(out, "2025-12-14T20:49:57.923Z");
    capvi_time_format_s(out, INT64_C(1765745397923));
    ck_assert_str_eq(out, "2025-12-14T20:49:57Z");
    capvi_time_format_ms(out, INT64_C(1709164800000));
    ck_assert_str_eq(out, "2024-02-29T00:00:00.000Z");
    capv_rfc3339_format(out, INT64_C(253402300799999));
    ck_assert_str_eq(out, "9999-12-31T23:59:59Z");

    static const int64_t values[] = { 0,
                                      1,
                                      -1,
                                      999,
                                      -999,
                                      -1000,
                                      -1001,
                                      INT64_C(951782400000),
                                      INT64_C(1765745397923),
                                      INT64_C(-1041337172130),
                                      INT64_C(-2208988800000),
                                      INT64_C(-62135596800000), /* 0001-01-01 */
                                      INT64_C(253402300799999) };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        int64_t v = values[i], back = 0;
        capvi_time_format_ms(out, v);
        ck_assert_uint_eq(strlen(out), 24);
        ck_assert_msg(capvi_time_parse(&back, out, strlen(out)), "cannot parse %s", out);
        ck_assert_msg(back == v, "%s: %lld != %lld", out, (long long)back, (long long)v);
        capvi_time_format_s(out, v);
        ck_assert_uint_eq(strlen(out), 20);
        ck_assert(capvi_time_parse(&back, out, strlen(out)));
        int64_t floor_s = v - (((v % 1000) + 1000) % 1000);
        ck_assert_msg(back == floor_s, "%s: %lld != %lld", out, (long long)back,
                      (long long)floor_s);
    }
    /* outside years 0000..9999: clamped, so the output is still a time this parser reads */
    capvi_time_format_ms(out, INT64_MIN);
    ck_assert_str_eq(out, "0000-01-01T00:00:00.000Z");
    capvi_time_format_ms(out, INT64_MAX);
    ck_assert_str_eq(out, "9999-12-31T23:59:59.999Z");
    capvi_time_format_s(out, INT64_C(-62167219200001));
    ck_assert_str_eq(out, "0000-01-01T00:00:00Z");
    static const int64_t extreme[] = { INT64_MIN, INT64_MAX, INT64_C(253402300800000),
                                       INT64_C(-62167219200001) };
    for (size_t i = 0; i < sizeof extreme / sizeof extreme[0]; i++) {
        int64_t back = 0;
        capvi_time_format_ms(out, extreme[i]);
        ck_assert_msg(capvi_time_parse(&back, out, strlen(out)), "cannot parse %s", out);
        capvi_time_format_s(out, extreme[i]);
        ck_assert_msg(capvi_time_parse(&back, out, strlen(out)), "cannot parse %s", out);
    }
}
END_TEST

Suite *keys_suite(void)
{
    Suite *s = suite_create("keys");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, wycheproof_ed25519);
    tcase_add_test(tc, ed25519_bad_keys);
    tcase_add_test(tc, key_id_known_answers);
    tcase_add_test(tc, sign_verify_round_trip);
    tcase_add_test(tc, signing_key_files);
    tcase_add_test(tc, trust_store_directory);
    tcase_add_test(tc, trust_store_bad_files);
    tcase_add_test(tc, trust_store_files);
    tcase_add_test(tc, trust_decide_windows);
    tcase_add_test(tc, manifest_sign_peer);
    tcase_add_test(tc, manifest_sign_shapes);
    tcase_add_test(tc, rfc3339_accepted);
    tcase_add_test(tc, rfc3339_rejected);
    tcase_add_test(tc, rfc3339_format_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
