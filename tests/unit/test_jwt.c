/* SPDX-License-Identifier: Apache-2.0 */
/* JOSE / JWT validation: Wycheproof signature vectors through JWK import and our verify path,
 * Wycheproof JWK-set tests, the RFC 7520 cookbook, the attack catalogue
 * (tests/vectors/jwt_attacks.json), claims, scopes and the verified-token cache. */
#include <capverify.h>
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt_int.h"
#include "suites.h"
#include "testutil.h"

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
}

static void teardown(void)
{
    capv_global_shutdown();
}

static cJSON *load_json(const char *dir, const char *rel)
{
    size_t len;
    uint8_t *data = tu_read(dir, rel, &len);
    cJSON *root = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capvi_json_parse(&root, data, len, &err) == CAPV_OK, "%s: %s", rel, err.message);
    free(data);
    return root;
}

static const char *jstr(const cJSON *obj, const char *key)
{
    const cJSON *m = capvi_json_get(obj, key);
    ck_assert_msg(cJSON_IsString(m), "missing string %s", key);
    return m->valuestring;
}

static uint8_t *unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    ck_assert(n % 2 == 0);
    uint8_t *out = malloc(n / 2 + 1);
    ck_assert(out != NULL);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        ck_assert(sscanf(hex + 2 * i, "%2x", &v) == 1);
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return out;
}

static capv_jwk_set *set_from_json(const cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    ck_assert(text != NULL);
    capv_jwk_set *s = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_jwk_set_parse(&s, (const uint8_t *)text, strlen(text), &err) == CAPV_OK,
                  "%s", err.message);
    cJSON_free(text);
    return s;
}

/* ---- Wycheproof signature vectors ------------------------------------------------------- */

typedef struct wp_case {
    const char *file;
    const char *jwk_member;
    capv_jwt_alg alg;
} wp_case;

static const wp_case wp_cases[] = {
    { "wycheproof/ecdsa_secp256r1_sha256_p1363_test.json", "publicKeyJwk", CAPV_JWT_ALG_ES256 },
    { "wycheproof/rsa_signature_2048_sha256_test.json", "keyJwk", CAPV_JWT_ALG_RS256 },
    { "wycheproof/rsa_pss_2048_sha256_mgf1_32_test.json", "publicKeyJwk", CAPV_JWT_ALG_PS256 },
    { "wycheproof/ed25519_test.json", "publicKeyJwk", CAPV_JWT_ALG_EDDSA },
};

/* Some ECDSA groups give the key only as affine coordinates (wx, wy hex, possibly with a
 * leading 00): the JWK is built from them, as a JWKS publisher would. */
static cJSON *ec_jwk_from_group(const cJSON *pk)
{
    ck_assert_msg(pk != NULL, "group has neither a JWK nor a publicKey");
    cJSON *jwk = cJSON_CreateObject();
    cJSON_AddStringToObject(jwk, "kty", "EC");
    cJSON_AddStringToObject(jwk, "crv", "P-256");
    static const char *const coords[][2] = { { "wx", "x" }, { "wy", "y" } };
    for (int i = 0; i < 2; i++) {
        size_t n;
        uint8_t *v = unhex(jstr(pk, coords[i][0]), &n);
        uint8_t fixed[32] = { 0 };
        size_t skip = 0;
        while (n - skip > 32 && v[skip] == 0)
            skip++;
        ck_assert_uint_le(n - skip, 32);
        memcpy(fixed + 32 - (n - skip), v + skip, n - skip);
        char text[64];
        ck_assert_int_eq(
            capv_base64_encode(text, sizeof text, NULL, fixed, 32, CAPV_BASE64_URL, NULL), CAPV_OK);
        cJSON_AddStringToObject(jwk, coords[i][1], text);
        free(v);
    }
    return jwk;
}

START_TEST(wycheproof_signatures)
{
    const wp_case *wc = &wp_cases[_i];
    cJSON *root = load_json(tu_shared_dir(), wc->file);
    size_t total = 0, valid_ok = 0, invalid_ok = 0, wrong_accept = 0, wrong_reject = 0,
           acceptable = 0;
    const cJSON *groups = capvi_json_get(root, "testGroups");
    ck_assert(cJSON_IsArray(groups));
    for (const cJSON *g = groups->child; g; g = g->next) {
        capv_jwk key;
        capv_error err = CAPV_ERROR_INIT;
        const cJSON *jwk = capvi_json_get(g, wc->jwk_member);
        cJSON *made = NULL;
        if (jwk == NULL)
            jwk = made = ec_jwk_from_group(capvi_json_get(g, "publicKey"));
        ck_assert_msg(capvi_jwk_import(&key, jwk, &err) == CAPV_OK,
                      "%s: group key not imported: %s", wc->file, err.message);
        cJSON_Delete(made);
        const cJSON *tests = capvi_json_get(g, "tests");
        for (const cJSON *t = tests->child; t; t = t->next) {
            size_t mlen, slen;
            uint8_t *msg = unhex(jstr(t, "msg"), &mlen);
            uint8_t *sig = unhex(jstr(t, "sig"), &slen);
            const char *result = jstr(t, "result");
            capv_status st = capvi_jwk_verify(&key, wc->alg, sig, slen, msg, mlen, NULL);
            ck_assert_msg(st == CAPV_OK || st == CAPV_E_SIGNATURE, "tcId %d: status %s",
                          capvi_json_get(t, "tcId")->valueint, capv_status_name(st));
            total++;
            if (strcmp(result, "valid") == 0) {
                if (st == CAPV_OK)
                    valid_ok++;
                else {
                    wrong_reject++;
                    fprintf(stderr, "WRONG REJECT %s tcId %d\n", wc->file,
                            capvi_json_get(t, "tcId")->valueint);
                }
            } else if (strcmp(result, "invalid") == 0) {
                if (st != CAPV_OK)
                    invalid_ok++;
                else {
                    wrong_accept++;
                    fprintf(stderr, "WRONG ACCEPT %s tcId %d\n", wc->file,
                            capvi_json_get(t, "tcId")->valueint);
                }
            } else {
                acceptable++;
                fprintf(stderr, "acceptable %s tcId %d (%s): %s\n", wc->file,
                        capvi_json_get(t, "tcId")->valueint, jstr(t, "comment"),
                        st == CAPV_OK ? "accepted" : "rejected");
            }
            free(msg);
            free(sig);
        }
        capvi_jwk_clear(&key);
    }
    fprintf(stderr,
            "wycheproof %s: %zu tests, %zu valid accepted, %zu invalid rejected, "
            "%zu wrong accepts, %zu wrong rejects, %zu acceptable\n",
            wc->file, total, valid_ok, invalid_ok, wrong_accept, wrong_reject, acceptable);
    ck_assert_uint_gt(total, 100);
    ck_assert_uint_eq(wrong_accept, 0);
    ck_assert_uint_eq(wrong_reject, 0);
    ck_assert_uint_eq(valid_ok + invalid_ok + acceptable, total);
    cJSON_Delete(root);
}
END_TEST

/* Wycheproof JSON Web Key tests: each group is a key set and JWS tokens that must be accepted
 * or rejected. Valid HS* tokens are rejected here by design (docs/auth.md: HS* never allowed) and
 * must be rejected for exactly that reason. */
START_TEST(wycheproof_json_web_keys)
{
    cJSON *root = load_json(tu_shared_dir(), "wycheproof/json_web_key_test.json");
    size_t total = 0, accepted = 0, rejected = 0, policy = 0;
    for (const cJSON *g = capvi_json_get(root, "testGroups")->child; g; g = g->next) {
        const cJSON *ks = capvi_json_get(g, "public");
        if (ks == NULL)
            ks = capvi_json_get(g, "private");
        capv_jwk_set *set = set_from_json(ks);
        for (const cJSON *t = capvi_json_get(g, "tests")->child; t; t = t->next) {
            const char *jws_text = jstr(t, "jws");
            bool valid = strcmp(jstr(t, "result"), "valid") == 0;
            int id = capvi_json_get(t, "tcId")->valueint;
            capv_jws jws;
            const char *reason = NULL;
            capv_status st = capvi_jws_parse(&jws, (const uint8_t *)jws_text, strlen(jws_text),
                                             CAPV_JWT_ALGS_DEFAULT, &reason, NULL);
            if (st == CAPV_OK) {
                st = capvi_jws_verify_with_set(&jws, set, &reason, NULL);
                capvi_jws_clear(&jws);
            }
            total++;
            bool hs = strstr(jws_text, "eyJhbGciOiJIUz") == jws_text; /* {"alg":"HS */
            if (valid && hs) {
                ck_assert_msg(st == CAPV_E_ALG_NOT_ALLOWED, "tcId %d: %s", id, reason);
                policy++;
            } else if (valid) {
                ck_assert_msg(st == CAPV_OK, "tcId %d wrongly rejected: %s", id, reason);
                accepted++;
            } else {
                ck_assert_msg(st != CAPV_OK, "tcId %d wrongly accepted", id);
                ck_assert_int_eq(capv_status_class_of(st), CAPV_CLASS_REJECTED);
                rejected++;
            }
            fprintf(stderr, "jwk tcId %2d %-8s %-22s -> %s\n", id, valid ? "valid" : "invalid",
                    jstr(t, "comment"), reason);
        }
        capv_jwk_set_free(set);
    }
    fprintf(stderr,
            "wycheproof json_web_key: %zu tests, %zu valid accepted, %zu invalid "
            "rejected, %zu valid HS* rejected by the allow-list, 0 wrong accepts\n",
            total, accepted, rejected, policy);
    ck_assert_uint_eq(total, 26);
    ck_assert_uint_eq(accepted, 1);
    ck_assert_uint_eq(policy, 4);
    cJSON_Delete(root);
}
END_TEST

/* What the JWK importer says about the Wycheproof key-set groups. */
START_TEST(jwk_ignored_reasons)
{
    static const struct {
        const char *comment;
        const char *reason_part;
    } want[] = {
        { "jws_rsa_roca_key", "ROCA" },
        { "keysize_too_small", "below 2048" },
        { "exponentOne", "exponent" },
        { "wrong_algorithm", "alg \"ES521\"" },
        { "invalid_algorithm", "alg \"ES224\"" },
        { "invalid_use", "use \"enc\"" },
        { "invalid_point", "not on P-256" },
        { "wrong_curve", "P-384" },
        { "wrong_kty", "RSA key" },
        { "invalid_aes_gcm_key", "symmetric" },
    };
    cJSON *root = load_json(tu_shared_dir(), "wycheproof/json_web_key_test.json");
    size_t checked = 0;
    for (const cJSON *g = capvi_json_get(root, "testGroups")->child; g; g = g->next) {
        const char *comment = jstr(g, "comment");
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
            if (strcmp(comment, want[i].comment) != 0)
                continue;
            const cJSON *ks = capvi_json_get(g, "public");
            capv_jwk_set *set = set_from_json(ks ? ks : capvi_json_get(g, "private"));
            ck_assert_uint_eq(capv_jwk_set_count(set), 0);
            ck_assert_uint_eq(capv_jwk_set_ignored_count(set), 1);
            const char *reason = NULL;
            ck_assert_int_eq(capv_jwk_set_ignored(NULL, NULL, &reason, set, 0, NULL), CAPV_OK);
            ck_assert_msg(strstr(reason, want[i].reason_part) != NULL, "%s: %s", comment, reason);
            capv_jwk_set_free(set);
            checked++;
        }
    }
    ck_assert_uint_eq(checked, 10);
    cJSON_Delete(root);
}
END_TEST

START_TEST(jwk_set_limits)
{
    capv_jwk_set *s = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_jwk_set_parse(&s, (const uint8_t *)"[]", 2, &err), CAPV_E_TYPE);
    ck_assert_int_eq(capv_jwk_set_parse(&s, (const uint8_t *)"{}", 2, &err), CAPV_E_MISSING);
    ck_assert_int_eq(capv_jwk_set_parse(&s, (const uint8_t *)"{\"keys\":{}}", 11, &err),
                     CAPV_E_TYPE);
    const char *dup = "{\"keys\":[],\"keys\":[]}";
    ck_assert_int_eq(capv_jwk_set_parse(&s, (const uint8_t *)dup, strlen(dup), &err),
                     CAPV_E_JSON_DUPLICATE_KEY);
    /* 101 keys */
    char *big = malloc(101 * 4 + 16);
    ck_assert(big != NULL);
    strcpy(big, "{\"keys\":[");
    for (int i = 0; i < 101; i++)
        strcat(big, i ? ",{}" : "{}");
    strcat(big, "]}");
    ck_assert_int_eq(capv_jwk_set_parse(&s, (const uint8_t *)big, strlen(big), &err), CAPV_E_LIMIT);
    free(big);
    /* over 1 MiB */
    size_t n = CAPV_JWKS_MAX_BYTES + 1;
    uint8_t *huge = malloc(n);
    ck_assert(huge != NULL);
    memset(huge, ' ', n);
    ck_assert_int_eq(capv_jwk_set_parse(&s, huge, n, &err), CAPV_E_LIMIT);
    free(huge);
    ck_assert_ptr_null(s);
    /* an empty set parses, with no usable key */
    ck_assert_int_eq(capv_jwk_set_parse(&s, (const uint8_t *)"{\"keys\":[]}", 11, &err), CAPV_OK);
    ck_assert_uint_eq(capv_jwk_set_count(s), 0);
    capv_jwk_set_free(s);
}
END_TEST

/* ---- RFC 7520 cookbook ------------------------------------------------------------------ */

static capv_status cookbook_verify(const char *token, const capv_jwk_set *set, const char **reason,
                                   capv_jws *keep)
{
    capv_jws jws;
    capv_status st = capvi_jws_parse(&jws, (const uint8_t *)token, strlen(token),
                                     CAPV_JWT_ALGS_DEFAULT, reason, NULL);
    if (st != CAPV_OK)
        return st;
    st = capvi_jws_verify_with_set(&jws, set, reason, NULL);
    if (keep != NULL && st == CAPV_OK)
        *keep = jws;
    else
        capvi_jws_clear(&jws);
    return st;
}

START_TEST(cookbook_rs256_verifies)
{
    cJSON *ex = load_json(tu_shared_dir(), "jose-cookbook/jws/4_1.rsa_v15_signature.json");
    cJSON *key = load_json(tu_shared_dir(), "jose-cookbook/jwk/3_3.rsa_public_key.json");
    cJSON *keys = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(keys, "keys");
    cJSON_AddItemToArray(arr, capvi_json_duplicate(key));
    capv_jwk_set *set = set_from_json(keys);
    ck_assert_uint_eq(capv_jwk_set_count(set), 1);
    ck_assert_str_eq(capv_jwk_kid(capv_jwk_set_key(set, 0)), "bilbo.baggins@hobbiton.example");
    const char *compact = jstr(capvi_json_get(ex, "output"), "compact");
    const char *reason = NULL;
    capv_jws jws;
    ck_assert_int_eq(cookbook_verify(compact, set, &reason, &jws), CAPV_OK);
    const char *payload = jstr(capvi_json_get(ex, "input"), "payload");
    ck_assert_uint_eq(jws.payload_len, strlen(payload));
    ck_assert(memcmp(jws.payload, payload, jws.payload_len) == 0);
    ck_assert_int_eq(jws.alg, CAPV_JWT_ALG_RS256);
    capvi_jws_clear(&jws);
    /* one flipped signature character fails */
    char *bad = strdup(compact);
    char *last = bad + strlen(bad) - 3;
    *last = *last == 'A' ? 'B' : 'A';
    ck_assert_int_eq(cookbook_verify(bad, set, &reason, NULL), CAPV_E_SIGNATURE);
    ck_assert_str_eq(reason, "bad_signature");
    free(bad);
    capv_jwk_set_free(set);
    cJSON_Delete(keys);
    cJSON_Delete(key);
    cJSON_Delete(ex);
}
END_TEST

START_TEST(cookbook_eddsa_verifies)
{
    cJSON *ex = load_json(tu_shared_dir(), "jose-cookbook/curve25519/jws.json");
    const cJSON *jwk = capvi_json_get(capvi_json_get(ex, "input"), "key");
    /* the example key carries "d": such a set is refused, the public part is used */
    cJSON *keys = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(keys, "keys"), capvi_json_duplicate(jwk));
    capv_jwk_set *priv = set_from_json(keys);
    ck_assert_uint_eq(capv_jwk_set_count(priv), 0);
    const char *reason = NULL;
    ck_assert_int_eq(capv_jwk_set_ignored(NULL, NULL, &reason, priv, 0, NULL), CAPV_OK);
    ck_assert_ptr_nonnull(strstr(reason, "private key material"));
    capv_jwk_set_free(priv);
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(cJSON_GetObjectItem(keys, "keys"), 0), "d");
    capv_jwk_set *set = set_from_json(keys);
    ck_assert_uint_eq(capv_jwk_set_count(set), 1);
    const char *compact = jstr(capvi_json_get(ex, "output"), "compact");
    capv_jws jws;
    ck_assert_int_eq(cookbook_verify(compact, set, &reason, &jws), CAPV_OK);
    ck_assert_int_eq(jws.alg, CAPV_JWT_ALG_EDDSA);
    ck_assert_uint_eq(jws.payload_len, strlen("Example of Ed25519 signing"));
    capvi_jws_clear(&jws);
    capv_jwk_set_free(set);
    cJSON_Delete(keys);
    cJSON_Delete(ex);
}
END_TEST

START_TEST(cookbook_outside_allow_list_rejected)
{
    static const char *const files[] = {
        "jose-cookbook/jws/4_2.rsa-pss_signature.json",              /* PS384 */
        "jose-cookbook/jws/4_3.ecdsa_signature.json",                /* ES512 */
        "jose-cookbook/jws/4_4.hmac-sha2_integrity_protection.json", /* HS256 */
    };
    static const char *const algs[] = { "PS384", "ES512", "HS256" };
    cJSON *ex = load_json(tu_shared_dir(), files[_i]);
    const char *compact = jstr(capvi_json_get(ex, "output"), "compact");
    capv_jws jws;
    const char *reason = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capvi_jws_parse(&jws, (const uint8_t *)compact, strlen(compact),
                                     CAPV_JWT_ALGS_DEFAULT, &reason, &err);
    ck_assert_int_eq(st, CAPV_E_ALG_NOT_ALLOWED);
    ck_assert_str_eq(reason, "alg_not_allowed");
    ck_assert_ptr_nonnull(strstr(err.message, algs[_i]));
    /* and no configuration can allow them */
    capv_jwt_validator *v = NULL;
    ck_assert_int_eq(capv_jwt_validator_new(&v, NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwt_validator_set_algs(v, algs[_i], NULL), CAPV_E_INVALID_ARG);
    capv_jwt_validator_free(v);
    cJSON_Delete(ex);
}
END_TEST

/* ---- the attack catalogue --------------------------------------------------------------- */

static int64_t attack_now_ms;

static int64_t attack_clock(void *user)
{
    (void)user;
    return attack_now_ms;
}

static capv_jwt_validator *attack_validator(cJSON **doc_out, capv_jwk_set **set_out)
{
    cJSON *doc = load_json(tu_vectors_dir(), "jwt_attacks.json");
    const cJSON *cfg = capvi_json_get(doc, "config");
    size_t len;
    uint8_t *jwks = tu_read(tu_vectors_dir(), "jwt_attacks_jwks.json", &len);
    capv_jwk_set *set = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_jwk_set_parse(&set, jwks, len, &err) == CAPV_OK, "%s", err.message);
    free(jwks);
    capv_jwt_validator *v = NULL;
    ck_assert_int_eq(capv_jwt_validator_new(&v, NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwt_validator_set_issuer(v, jstr(cfg, "issuer"), NULL), CAPV_OK);
    for (const cJSON *a = capvi_json_get(cfg, "audiences")->child; a; a = a->next)
        ck_assert_int_eq(capv_jwt_validator_add_audience(v, a->valuestring, NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwt_validator_set_algs(v, jstr(cfg, "algs"), NULL), CAPV_OK);
    ck_assert_int_eq(
        capv_jwt_validator_set_leeway(v, capvi_json_get(cfg, "leeway")->valueint, NULL), CAPV_OK);
    ck_assert_int_eq(
        capv_jwt_validator_set_max_lifetime(v, capvi_json_get(cfg, "max_lifetime")->valueint, NULL),
        CAPV_OK);
    attack_now_ms = (int64_t)capvi_json_get(cfg, "now")->valuedouble * 1000;
    capv_jwt_validator_set_clock(v, attack_clock, NULL);
    capv_jwt_validator_set_key_set(v, set);
    *doc_out = doc;
    if (set_out)
        *set_out = set;
    else
        capv_jwk_set_free(set);
    return v;
}

START_TEST(attack_catalogue)
{
    cJSON *doc = NULL;
    capv_jwk_set *set = NULL;
    capv_jwt_validator *v = attack_validator(&doc, &set);
    /* the published set: 4 usable keys; the 1024-bit RSA key and the oct key are ignored */
    ck_assert_uint_eq(capv_jwk_set_count(set), 4);
    ck_assert_uint_eq(capv_jwk_set_ignored_count(set), 2);
    capv_jwk_set_free(set);
    size_t attacks = 0, controls = 0, failures = 0;
    for (const cJSON *c = capvi_json_get(doc, "cases")->child; c; c = c->next) {
        const char *name = jstr(c, "name"), *token = jstr(c, "token");
        const char *want_status = jstr(c, "expect_status"), *want_reason = jstr(c, "expect_reason");
        capv_jwt_claims *claims = NULL;
        const char *reason = NULL;
        capv_error err = CAPV_ERROR_INIT;
        capv_status st =
            capv_jwt_validate(&claims, &reason, v, (const uint8_t *)token, strlen(token), &err);
        bool ok =
            strcmp(capv_status_name(st), want_status) == 0 && strcmp(reason, want_reason) == 0;
        if (strcmp(want_reason, "ok") == 0) {
            controls++;
            ok = ok && claims != NULL && strcmp(capv_jwt_claims_audience(claims), "capv-api") == 0;
        } else {
            attacks++;
            ok = ok && claims == NULL && capv_status_class_of(st) == CAPV_CLASS_REJECTED;
        }
        if (!ok) {
            failures++;
            fprintf(stderr, "ATTACK CASE %s: got %s/%s (%s), want %s/%s\n", name,
                    capv_status_name(st), reason, err.message, want_status, want_reason);
        }
        capv_jwt_claims_free(claims);
    }
    fprintf(stderr,
            "jwt attack catalogue: %zu attacks rejected as expected, %zu controls "
            "accepted, %zu mismatches\n",
            attacks - (failures > attacks ? attacks : 0), controls, failures);
    ck_assert_uint_ge(attacks, 50);
    ck_assert_uint_ge(controls, 4);
    ck_assert_uint_eq(failures, 0);
    capv_jwt_validator_free(v);
    cJSON_Delete(doc);
}
END_TEST

static const char *find_token(const cJSON *doc, const char *name)
{
    for (const cJSON *c = capvi_json_get(doc, "cases")->child; c; c = c->next)
        if (strcmp(jstr(c, "name"), name) == 0)
            return jstr(c, "token");
    ck_abort_msg("no case %s", name);
    return NULL;
}

START_TEST(claims_and_scopes)
{
    cJSON *doc = NULL;
    capv_jwt_validator *v = attack_validator(&doc, NULL);
    const char *token = find_token(doc, "control_ES256");
    capv_jwt_claims *c = NULL;
    const char *reason = NULL;
    ck_assert_int_eq(capv_jwt_validate(&c, &reason, v, (const uint8_t *)token, strlen(token), NULL),
                     CAPV_OK);
    ck_assert_str_eq(reason, "ok");
    ck_assert_str_eq(capv_jwt_claims_subject(c), "client-42");
    ck_assert_str_eq(capv_jwt_claims_client_id(c), "client-42");
    ck_assert_str_eq(capv_jwt_claims_issuer(c), "https://idp.example.test");
    ck_assert_str_eq(capv_jwt_claims_kid(c), "ec-1");
    ck_assert_int_eq(capv_jwt_claims_alg(c), CAPV_JWT_ALG_ES256);
    ck_assert_int_eq(capv_jwt_claims_expires(c), attack_now_ms / 1000 + 600);
    ck_assert_int_eq(capv_jwt_claims_issued_at(c), attack_now_ms / 1000 - 10);
    ck_assert_int_eq(capv_jwt_claims_not_before(c), INT64_MIN);
    ck_assert_uint_eq(capv_jwt_claims_scope_count(c), 2);
    ck_assert_str_eq(capv_jwt_claims_scope(c, 0), "verify:read");
    ck_assert_str_eq(capv_jwt_claims_scope(c, 1), "registry:write");
    ck_assert(capv_jwt_claims_has_scope(c, "registry:write"));
    ck_assert(!capv_jwt_claims_has_scope(c, "registry:read"));
    ck_assert_int_eq(capv_jwt_claims_require_scopes(c, "verify:read registry:write", NULL),
                     CAPV_OK);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_jwt_claims_require_scopes(c, "verify:read admin", &err), CAPV_E_SCOPE);
    ck_assert_ptr_nonnull(strstr(err.message, "admin"));
    ck_assert_str_eq(capv_jwt_reason_of(CAPV_E_SCOPE), "insufficient_scope");
    capv_jwt_claims_free(c);

    token = find_token(doc, "control_scp_array");
    ck_assert_int_eq(capv_jwt_validate(&c, NULL, v, (const uint8_t *)token, strlen(token), NULL),
                     CAPV_OK);
    ck_assert_uint_eq(capv_jwt_claims_scope_count(c), 1);
    ck_assert_str_eq(capv_jwt_claims_scope(c, 0), "verify:read");
    capv_jwt_claims_free(c);

    /* only ES256 allowed: an RS256 token is now rejected for its algorithm */
    ck_assert_int_eq(capv_jwt_validator_set_algs(v, "ES256", NULL), CAPV_OK);
    token = find_token(doc, "control_RS256");
    ck_assert_int_eq(capv_jwt_validate(&c, &reason, v, (const uint8_t *)token, strlen(token), NULL),
                     CAPV_E_ALG_NOT_ALLOWED);
    ck_assert_str_eq(reason, "alg_not_allowed");
    ck_assert_int_eq(capv_jwt_validator_set_algs(v, "none", NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_jwt_validator_set_algs(v, "RS256,HS256", NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_jwt_validator_set_algs(v, "", NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_jwt_validator_set_algs(v, "RS512", NULL), CAPV_E_INVALID_ARG);
    capv_jwt_validator_free(v);
    cJSON_Delete(doc);
}
END_TEST

START_TEST(validator_needs_configuration)
{
    capv_jwt_validator *v = NULL;
    capv_jwt_claims *c = NULL;
    ck_assert_int_eq(capv_jwt_validator_new(&v, NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwt_validate(&c, NULL, v, (const uint8_t *)"a.b.c", 5, NULL),
                     CAPV_E_STATE);
    ck_assert_int_eq(capv_jwt_validator_set_issuer(v, "", NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_jwt_validator_add_audience(v, "", NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_jwt_validator_set_leeway(v, -1, NULL), CAPV_E_INVALID_ARG);
    capv_jwt_validator_free(v);
    capv_jwt_validator_free(NULL);
    capv_jwt_claims_free(NULL);
    capv_jwk_set_free(NULL);
}
END_TEST

START_TEST(token_cache)
{
    cJSON *doc = NULL;
    capv_jwt_validator *v = attack_validator(&doc, NULL);
    ck_assert_int_eq(capv_jwt_validator_set_cache(v, 100, NULL), CAPV_OK);
    const char *token = find_token(doc, "control_PS256");
    for (int i = 0; i < 3; i++) {
        capv_jwt_claims *c = NULL;
        ck_assert_int_eq(
            capv_jwt_validate(&c, NULL, v, (const uint8_t *)token, strlen(token), NULL), CAPV_OK);
        ck_assert_str_eq(capv_jwt_claims_subject(c), "client-42");
        ck_assert_uint_eq(capv_jwt_claims_scope_count(c), 2);
        ck_assert_str_eq(capv_jwt_claims_scope(c, 1), "registry:write");
        capv_jwt_claims_free(c);
    }
    ck_assert_uint_eq(capv_jwt_validator_cache_counter(v, CAPV_CACHE_INSERTS), 1);
    ck_assert_uint_eq(capv_jwt_validator_cache_counter(v, CAPV_CACHE_HITS), 2);
    /* a cached token is never served past exp (+ leeway) */
    int64_t saved = attack_now_ms;
    attack_now_ms += (600 + 60) * 1000;
    capv_jwt_claims *c = NULL;
    const char *reason = NULL;
    ck_assert_int_eq(capv_jwt_validate(&c, &reason, v, (const uint8_t *)token, strlen(token), NULL),
                     CAPV_E_EXPIRED);
    ck_assert_str_eq(reason, "expired");
    ck_assert_ptr_null(c);
    attack_now_ms = saved;
    /* rejected tokens are not cached */
    const char *bad = find_token(doc, "signed_by_attacker");
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(capv_jwt_validate(&c, &reason, v, (const uint8_t *)bad, strlen(bad), NULL),
                         CAPV_E_SIGNATURE);
    ck_assert_uint_eq(capv_jwt_validator_cache_counter(v, CAPV_CACHE_INSERTS), 1);
    /* another fixed key set, without the token's key: its cached verdict goes with the old
     * set (a removed key verifies nothing more) */
    ck_assert_int_eq(capv_jwt_validate(&c, NULL, v, (const uint8_t *)token, strlen(token), NULL),
                     CAPV_OK);
    capv_jwt_claims_free(c);
    ck_assert_int_eq(capv_jwt_validate(&c, NULL, v, (const uint8_t *)token, strlen(token), NULL),
                     CAPV_OK);
    capv_jwt_claims_free(c);
    ck_assert_uint_eq(capv_jwt_validator_cache_counter(v, CAPV_CACHE_HITS), 4); /* cached */
    /* a check changed (here the allow-list, without the token's PS256): cached verdicts go */
    ck_assert_int_eq(capv_jwt_validator_set_algs(v, "RS256", NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwt_validate(&c, &reason, v, (const uint8_t *)token, strlen(token), NULL),
                     CAPV_E_ALG_NOT_ALLOWED);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(capv_jwt_validator_set_algs(v, "RS256,PS256", NULL), CAPV_OK);
    ck_assert_int_eq(capv_jwt_validate(&c, NULL, v, (const uint8_t *)token, strlen(token), NULL),
                     CAPV_OK);
    capv_jwt_claims_free(c);
    ck_assert_int_eq(capv_jwt_validator_set_issuer(v, "https://other.example", NULL), CAPV_OK);
    ck_assert_int_ne(capv_jwt_validate(&c, &reason, v, (const uint8_t *)token, strlen(token), NULL),
                     CAPV_OK);
    ck_assert_ptr_null(c);
    capv_jwk_set *empty = NULL;
    ck_assert_int_eq(capv_jwk_set_parse(&empty, (const uint8_t *)"{\"keys\":[]}", 11, NULL),
                     CAPV_OK);
    capv_jwt_validator_set_key_set(v, empty);
    capv_jwk_set_free(empty);
    ck_assert_int_ne(capv_jwt_validate(&c, &reason, v, (const uint8_t *)token, strlen(token), NULL),
                     CAPV_OK);
    ck_assert_ptr_null(c);
    capv_jwt_validator_free(v);
    cJSON_Delete(doc);
}
END_TEST

typedef struct par_arg {
    capv_jwt_validator *v;
    const char *tokens[4];
    int ok;
} par_arg;

static void *par_main(void *p)
{
    par_arg *a = p;
    for (int i = 0; i < 400; i++) {
        const char *t = a->tokens[i % 4];
        capv_jwt_claims *c = NULL;
        if (capv_jwt_validate(&c, NULL, a->v, (const uint8_t *)t, strlen(t), NULL) == CAPV_OK)
            a->ok++;
        capv_jwt_claims_free(c);
    }
    return NULL;
}

/* Threads share one validator and key set: the prepared per-key verification contexts are
 * copied concurrently (run under the sanitizers). */
START_TEST(concurrent_validation)
{
    cJSON *doc = NULL;
    capv_jwt_validator *v = attack_validator(&doc, NULL);
    pthread_t th[4];
    par_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (par_arg){ v,
                             { find_token(doc, "control_RS256"), find_token(doc, "control_PS256"),
                               find_token(doc, "control_ES256"), find_token(doc, "control_EdDSA") },
                             0 };
        ck_assert_int_eq(pthread_create(&th[i], NULL, par_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(args[i].ok, 400);
    }
    capv_jwt_validator_free(v);
    cJSON_Delete(doc);
}
END_TEST

START_TEST(alg_names)
{
    capv_jwt_alg a;
    ck_assert_int_eq(capv_jwt_alg_from_name(&a, "EdDSA", NULL), CAPV_OK);
    ck_assert_int_eq(a, CAPV_JWT_ALG_EDDSA);
    ck_assert_int_eq(capv_jwt_alg_from_name(&a, "none", NULL), CAPV_E_UNSUPPORTED);
    ck_assert_int_eq(capv_jwt_alg_from_name(&a, "HS256", NULL), CAPV_E_UNSUPPORTED);
    ck_assert_int_eq(capv_jwt_alg_from_name(&a, "eddsa", NULL), CAPV_E_UNSUPPORTED);
    ck_assert_str_eq(capv_jwt_alg_name(CAPV_JWT_ALG_PS256), "PS256");
    ck_assert_ptr_null(capv_jwt_alg_name((capv_jwt_alg)99));
    ck_assert_str_eq(capv_jwt_reason_of(CAPV_E_UNAVAILABLE), "jwks_unavailable");
    ck_assert_str_eq(capv_jwt_reason_of(CAPV_E_SIGNATURE), "bad_signature");
}
END_TEST

/* "b64url(header).b64url(payload).c2ln" into out */
static void peek_token(char *out, size_t cap, const char *header, const char *payload)
{
    size_t n = 0, m = 0;
    ck_assert_int_eq(capv_base64_encode(out, cap, &n, (const uint8_t *)header, strlen(header),
                                        CAPV_BASE64_URL, NULL),
                     CAPV_OK);
    out[n++] = '.';
    ck_assert_int_eq(capv_base64_encode(out + n, cap - n, &m, (const uint8_t *)payload,
                                        strlen(payload), CAPV_BASE64_URL, NULL),
                     CAPV_OK);
    n += m;
    ck_assert_uint_lt(n + 6, cap);
    memcpy(out + n, ".c2ln", 6);
}

START_TEST(peek_unverified)
{
    char tok[2048];
    capv_jwt_peek p = CAPV_JWT_PEEK_INIT;
    capv_error err = CAPV_ERROR_INIT;
    peek_token(tok, sizeof tok, "{\"alg\":\"RS256\",\"kid\":\"k1\"}",
               "{\"iss\":\"https://idp\",\"sub\":\"alice\",\"azp\":\"app\",\"exp\":1}");
    ck_assert_int_eq(capv_jwt_peek_unverified(&p, (const uint8_t *)tok, strlen(tok), &err),
                     CAPV_OK);
    ck_assert_str_eq(p.alg, "RS256");
    ck_assert_str_eq(p.kid, "k1");
    ck_assert_str_eq(p.iss, "https://idp");
    ck_assert_str_eq(p.sub, "alice");
    ck_assert_str_eq(p.client_id, "app"); /* azp when there is no client_id */

    /* hostile text: control and non-ASCII bytes become '?', long values are cut */
    char payload[1024], longv[301];
    memset(longv, 'x', 300);
    longv[300] = '\0';
    snprintf(payload, sizeof payload,
             "{\"iss\":\"a\\u0000b\",\"sub\":\"%s\",\"client_id\":\"c\\u001b\\u00e9\",\"kid\":7}",
             longv);
    peek_token(tok, sizeof tok, "{\"alg\":\"none\",\"kid\":\"\\n\"}", payload);
    ck_assert_int_eq(capv_jwt_peek_unverified(&p, (const uint8_t *)tok, strlen(tok), &err),
                     CAPV_OK);
    ck_assert_str_eq(p.alg, "none");
    ck_assert_str_eq(p.kid, "?");
    ck_assert_str_eq(p.iss, ""); /* "\u0000" is refused by the strict parser: no payload */
    ck_assert_str_eq(p.sub, "");
    snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"client_id\":\"c\\u001b\\u00e9\"}", longv);
    peek_token(tok, sizeof tok, "{\"alg\":\"ES256\",\"kid\":7}", payload);
    ck_assert_int_eq(capv_jwt_peek_unverified(&p, (const uint8_t *)tok, strlen(tok), &err),
                     CAPV_OK);
    ck_assert_str_eq(p.kid, ""); /* not a string */
    ck_assert_uint_eq(strlen(p.sub), CAPV_JWT_PEEK_TEXT - 1);
    ck_assert_str_eq(p.sub + CAPV_JWT_PEEK_TEXT - 4, "...");
    ck_assert_str_eq(p.client_id, "c???");

    /* not a JWS, or too big: every field empty, never an error */
    static const char *const junk[] = { "", "abc", "a.b", "!!.??.x", "e30.e30" };
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        memcpy(p.iss, "stale", 6);
        ck_assert_int_eq(
            capv_jwt_peek_unverified(&p, (const uint8_t *)junk[i], strlen(junk[i]), &err), CAPV_OK);
        ck_assert_str_eq(p.iss, "");
    }
    ck_assert_int_eq(capv_jwt_peek_unverified(&p, NULL, 0, &err), CAPV_OK);
    ck_assert_int_eq(err.code, CAPV_OK);
    /* a version the library does not know: refused, and nothing written */
    p.version = 0;
    memcpy(p.iss, "stale", 6);
    ck_assert_int_eq(capv_jwt_peek_unverified(&p, (const uint8_t *)tok, strlen(tok), &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(err.code, CAPV_E_INVALID_ARG);
    ck_assert_str_eq(err.field, "version");
    ck_assert_str_eq(p.iss, "stale");
    p.version = CAPV_JWT_PEEK_VERSION + 1;
    ck_assert_int_eq(capv_jwt_peek_unverified(&p, (const uint8_t *)tok, strlen(tok), &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_jwt_peek_unverified(NULL, (const uint8_t *)tok, strlen(tok), &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(err.code, CAPV_E_INVALID_ARG);
}
END_TEST

/* Parses `header` as a JWS header with the allow-list `algs`; on success returns the kid
 * (or "(none)") in `kid`. */
static capv_status parse_with_header(char *kid, size_t cap, const char *header, unsigned int algs,
                                     const char **reason)
{
    char tok[2048];
    peek_token(tok, sizeof tok, header, "{}");
    capv_jws jws;
    capv_status st = capvi_jws_parse(&jws, (const uint8_t *)tok, strlen(tok), algs, reason, NULL);
    if (st == CAPV_OK) {
        ck_assert_int_eq(jws.alg, CAPV_JWT_ALG_RS256);
        snprintf(kid, cap, "%s", capvi_jws_kid(&jws) ? capvi_jws_kid(&jws) : "(none)");
        capv_jws moved = jws; /* a copy owns what the original did */
        ck_assert_str_eq(kid, capvi_jws_kid(&moved) ? capvi_jws_kid(&moved) : "(none)");
        capvi_jws_clear(&moved);
    }
    return st;
}

/* A header segment equal to the last one the thread parsed is remembered, not parsed again:
 * it must give what parsing gives, the allow-list still applies, and headers that fail are
 * rejected every time. Each step runs twice in a row (parsed, then remembered). */
START_TEST(header_memo)
{
    unsigned int rs = CAPV_JWT_ALG_BIT(CAPV_JWT_ALG_RS256);
    unsigned int es = CAPV_JWT_ALG_BIT(CAPV_JWT_ALG_ES256);
    static const char k1[] = "{\"alg\":\"RS256\",\"kid\":\"k1\"}";
    const struct {
        const char *header;
        unsigned int algs;
        capv_status want;
        const char *kid_or_reason; /* the kid when accepted, else the reason */
    } steps[] = {
        { k1, rs, CAPV_OK, "k1" },
        { k1, es, CAPV_E_ALG_NOT_ALLOWED, "alg_not_allowed" },         /* RS256 no longer allowed */
        { "{\"alg\":\"RS256\",\"kid\":\"k12\"}", rs, CAPV_OK, "k12" }, /* one byte more */
        { "{\"alg\":\"RS256\",\"kid\":\"k\"}", rs, CAPV_OK, "k" },     /* one byte less */
        { "{\"alg\":\"RS256\"}", rs, CAPV_OK, "(none)" },
        { "{\"alg\":\"RS256\",\"kid\":\"\"}", rs, CAPV_OK, "(none)" }, /* empty: none */
        { "{\"alg\":\"RS256\",\"crit\":[\"exp\"],\"exp\":1}", rs, CAPV_E_REJECTED,
          "crit_unsupported" },
        { "{\"alg\":\"RS256\",\"kid\":\"a\",\"kid\":\"b\"}", rs, CAPV_E_REJECTED, "malformed" },
    };
    char kid[512];
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        for (int round = 0; round < 2; round++) {
            const char *reason = NULL;
            capv_status st =
                parse_with_header(kid, sizeof kid, steps[i].header, steps[i].algs, &reason);
            ck_assert_msg(st == steps[i].want, "step %zu round %d: %d", i, round, (int)st);
            ck_assert_str_eq(st == CAPV_OK ? kid : reason, steps[i].kid_or_reason);
        }
    /* the longest kid the jws holds itself; one too long for it; a header too long to
     * remember */
    static const size_t kid_lens[] = { CAPV_JWS_KID_INLINE - 1, CAPV_JWS_KID_INLINE + 22, 300 };
    char longh[512], longk[301];
    for (size_t i = 0; i < sizeof kid_lens / sizeof kid_lens[0]; i++) {
        memset(longk, 'a' + (int)i, kid_lens[i]);
        longk[kid_lens[i]] = '\0';
        snprintf(longh, sizeof longh, "{\"alg\":\"RS256\",\"kid\":\"%s\"}", longk);
        for (int round = 0; round < 2; round++) {
            ck_assert_int_eq(parse_with_header(kid, sizeof kid, longh, rs, NULL), CAPV_OK);
            ck_assert_str_eq(kid, longk);
        }
    }
}
END_TEST

/* ---- an empty kid ----------------------------------------------------------------------- */

typedef struct ed_key {
    EVP_PKEY *pkey;
    char x[CAPV_BASE64_ENCODED_SIZE(32)];
} ed_key;

static void ed_key_new(ed_key *k)
{
    k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ck_assert_ptr_nonnull(k->pkey);
    uint8_t pub[32];
    size_t n = sizeof pub;
    ck_assert_int_eq(EVP_PKEY_get_raw_public_key(k->pkey, pub, &n), 1);
    ck_assert_int_eq(capv_base64_encode(k->x, sizeof k->x, NULL, pub, n, CAPV_BASE64_URL, NULL),
                     CAPV_OK);
}

/* A compact JWS of `header` and `payload` signed with k. */
static void ed_sign(char *out, size_t cap, const char *header, const char *payload, const ed_key *k)
{
    char h[256], p[256];
    ck_assert_int_eq(capv_base64_encode(h, sizeof h, NULL, (const uint8_t *)header, strlen(header),
                                        CAPV_BASE64_URL, NULL),
                     CAPV_OK);
    ck_assert_int_eq(capv_base64_encode(p, sizeof p, NULL, (const uint8_t *)payload,
                                        strlen(payload), CAPV_BASE64_URL, NULL),
                     CAPV_OK);
    int len = snprintf(out, cap, "%s.%s", h, p);
    ck_assert(len > 0 && (size_t)len < cap);
    uint8_t sig[64];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey), 1);
    ck_assert_int_eq(EVP_DigestSign(ctx, sig, &sig_len, (const uint8_t *)out, (size_t)len), 1);
    EVP_MD_CTX_free(ctx);
    char s[CAPV_BASE64_ENCODED_SIZE(64)];
    ck_assert_int_eq(capv_base64_encode(s, sizeof s, NULL, sig, sig_len, CAPV_BASE64_URL, NULL),
                     CAPV_OK);
    ck_assert((size_t)snprintf(out + len, cap - (size_t)len, ".%s", s) < cap - (size_t)len);
}

/* An empty kid names no key (docs/auth.md, step 6): a token with "kid": "" is validated
 * exactly as one without a kid (exactly one key of the set may fit its alg), and a JWK with
 * "kid": "" is a key without a kid. Until 2026-12-08 "kid": "" took the first kid-less key
 * that fitted, even when several did. Every token is signed by key a, the set's first. */
START_TEST(empty_kid_is_no_kid)
{
    ed_key a, b;
    ed_key_new(&a);
    ed_key_new(&b);
    static const struct {
        const char *kid_a, *kid_b; /* members of the two JWKs ("" none; NULL: no key b) */
        capv_status want;
        const char *reason;
    } cases[] = {
        { "", NULL, CAPV_OK, "ok" },
        { ",\"kid\":\"\"", NULL, CAPV_OK, "ok" },
        { "", "", CAPV_E_UNTRUSTED, "unknown_kid" },
        { ",\"kid\":\"\"", "", CAPV_E_UNTRUSTED, "unknown_kid" },
        { ",\"kid\":\"\"", ",\"kid\":\"\"", CAPV_E_UNTRUSTED, "unknown_kid" },
        { ",\"kid\":\"\"", ",\"kid\":\"b\"", CAPV_E_UNTRUSTED, "unknown_kid" },
        { "", ",\"kid\":\"b\"", CAPV_E_UNTRUSTED, "unknown_kid" },
    };
    static const char *const headers[] = { "{\"alg\":\"EdDSA\",\"kid\":\"\"}",
                                           "{\"alg\":\"EdDSA\"}" };
    static const char payload[] = "{\"iss\":\"https://idp.test\",\"aud\":\"capv-api\","
                                  "\"exp\":4000000000}";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char jwks[512];
        int n = snprintf(jwks, sizeof jwks,
                         "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"%s}", a.x,
                         cases[i].kid_a);
        if (cases[i].kid_b != NULL)
            n += snprintf(jwks + n, sizeof jwks - (size_t)n,
                          ",{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"%s}", b.x,
                          cases[i].kid_b);
        snprintf(jwks + n, sizeof jwks - (size_t)n, "]}");
        capv_jwk_set *set = NULL;
        capv_error err = CAPV_ERROR_INIT;
        ck_assert_msg(capv_jwk_set_parse(&set, (const uint8_t *)jwks, strlen(jwks), &err) ==
                          CAPV_OK,
                      "%s", err.message);
        /* keys with an empty kid are not duplicates of each other: kid-less keys */
        ck_assert_uint_eq(capv_jwk_set_count(set), cases[i].kid_b != NULL ? 2 : 1);
        ck_assert_str_eq(capv_jwk_kid(capv_jwk_set_key(set, 0)), "");
        capv_jwt_validator *v = NULL;
        ck_assert_int_eq(capv_jwt_validator_new(&v, NULL), CAPV_OK);
        ck_assert_int_eq(capv_jwt_validator_set_issuer(v, "https://idp.test", NULL), CAPV_OK);
        ck_assert_int_eq(capv_jwt_validator_add_audience(v, "capv-api", NULL), CAPV_OK);
        capv_jwt_validator_set_key_set(v, set);
        for (size_t h = 0; h < 2; h++) {
            char tok[1024];
            ed_sign(tok, sizeof tok, headers[h], payload, &a);
            capv_jwt_claims *c = NULL;
            const char *reason = NULL;
            capv_status st =
                capv_jwt_validate(&c, &reason, v, (const uint8_t *)tok, strlen(tok), &err);
            ck_assert_msg(st == cases[i].want && strcmp(reason, cases[i].reason) == 0,
                          "case %zu, header %s: %s/%s (%s)", i, headers[h], capv_status_name(st),
                          reason, err.message);
            if (st == CAPV_OK)
                ck_assert_ptr_null(capv_jwt_claims_kid(c));
            capv_jwt_claims_free(c);
        }
        capv_jwt_validator_free(v);
        capv_jwk_set_free(set);
    }
    EVP_PKEY_free(a.pkey);
    EVP_PKEY_free(b.pkey);
}
END_TEST

Suite *jwt_suite(void)
{
    Suite *s = suite_create("jwt");
    TCase *tc = tcase_create("jwt");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, wycheproof_signatures, 0, (int)(sizeof wp_cases / sizeof wp_cases[0]));
    tcase_add_test(tc, wycheproof_json_web_keys);
    tcase_add_test(tc, jwk_ignored_reasons);
    tcase_add_test(tc, jwk_set_limits);
    tcase_add_test(tc, cookbook_rs256_verifies);
    tcase_add_test(tc, cookbook_eddsa_verifies);
    tcase_add_loop_test(tc, cookbook_outside_allow_list_rejected, 0, 3);
    tcase_add_test(tc, attack_catalogue);
    tcase_add_test(tc, claims_and_scopes);
    tcase_add_test(tc, validator_needs_configuration);
    tcase_add_test(tc, token_cache);
    tcase_add_test(tc, concurrent_validation);
    tcase_add_test(tc, alg_names);
    tcase_add_test(tc, peek_unverified);
    tcase_add_test(tc, header_memo);
    tcase_add_test(tc, empty_kid_is_no_kid);
    suite_add_tcase(s, tc);
    return s;
}
