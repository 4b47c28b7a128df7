/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 3161 timestamps (docs/architecture.md, "Timestamps") against the throwaway TSA that
 * tests/tools/make_tsa.sh creates in <fixtures>/tsa (ctest fixture `fixture.tsa`). Every case
 * asserts the exact status. */
#include <capverify.h>
#include <check.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"
#include "timestamp_int.h"

#define DAY_MS (24LL * 60 * 60 * 1000)

static char tsa_dir[4096];

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
    snprintf(tsa_dir, sizeof tsa_dir, "%s/tsa", tu_fixtures_dir());
}

static void teardown(void)
{
    capv_global_shutdown();
}

static uint8_t *fx(const char *rel, size_t *len)
{
    return tu_read(tsa_dir, rel, len);
}

static capv_tsa_store *store_of(const char *rel)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", tsa_dir, rel);
    capv_tsa_store *s = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capvi_tsa_store_load(&s, path, &err);
    ck_assert_msg(st == CAPV_OK, "loading %s: %d %s", path, st, err.message);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Verifies buffer `tsr` over the fixture file `data_rel` with the CA bundle `ca_rel`. */
static capv_status verify_buf(const uint8_t *tsr, size_t tsr_len, const char *data_rel,
                              const char *ca_rel, int64_t now_ms, int64_t leeway_ms,
                              capv_timestamp_info *info, capv_error *err)
{
    size_t dlen;
    uint8_t *data = fx(data_rel, &dlen);
    capv_tsa_store *s = store_of(ca_rel);
    capv_status st =
        capvi_timestamp_verify(info, s, tsr, tsr_len, data, dlen, now_ms, leeway_ms, err);
    capvi_tsa_store_free(s);
    free(data);
    return st;
}

static capv_status verify_file(const char *tsr_rel, const char *data_rel, const char *ca_rel,
                               int64_t now_ms, int64_t leeway_ms, capv_timestamp_info *info,
                               capv_error *err)
{
    size_t len;
    uint8_t *tsr = fx(tsr_rel, &len);
    capv_status st = verify_buf(tsr, len, data_rel, ca_rel, now_ms, leeway_ms, info, err);
    free(tsr);
    return st;
}

static void assert_info_sane(const capv_timestamp_info *info, const char *alg)
{
    int64_t now = capv_clock_system(NULL);
    ck_assert_str_eq(info->hash_alg, alg);
    ck_assert_msg(info->gen_time_ms > now - DAY_MS && info->gen_time_ms < now + DAY_MS,
                  "genTime %lld is not within a day of now %lld", (long long)info->gen_time_ms,
                  (long long)now);
    ck_assert_str_eq(info->tsa_subject, "O=CAP Verifier Tests, CN=CAP Test TSA");
    ck_assert_uint_gt(strlen(info->serial), 0);
    ck_assert_uint_eq(strspn(info->serial, "0123456789abcdef"), strlen(info->serial));
}

START_TEST(response_ok)
{
    capv_timestamp_info info;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(
        verify_file("data.tsr", "data.txt", "ca.pem", capv_clock_system(NULL), 0, &info, &err),
        CAPV_OK);
    ck_assert_int_eq(err.code, CAPV_OK);
    assert_info_sane(&info, "sha256");
    /* info is optional */
    ck_assert_int_eq(
        verify_file("data.tsr", "data.txt", "ca.pem", capv_clock_system(NULL), 0, NULL, NULL),
        CAPV_OK);
}
END_TEST

START_TEST(bare_token_ok)
{
    capv_timestamp_info info, from_resp;
    int64_t now = capv_clock_system(NULL);
    ck_assert_int_eq(verify_file("data.token.der", "data.txt", "ca.pem", now, 0, &info, NULL),
                     CAPV_OK);
    assert_info_sane(&info, "sha256");
    /* the same token as inside data.tsr */
    ck_assert_int_eq(verify_file("data.tsr", "data.txt", "ca.pem", now, 0, &from_resp, NULL),
                     CAPV_OK);
    ck_assert_int_eq(info.gen_time_ms, from_resp.gen_time_ms);
    ck_assert_str_eq(info.serial, from_resp.serial);
}
END_TEST

START_TEST(sha512_imprint_ok)
{
    capv_timestamp_info info;
    ck_assert_int_eq(verify_file("data_sha512.tsr", "data.txt", "ca.pem", capv_clock_system(NULL),
                                 0, &info, NULL),
                     CAPV_OK);
    assert_info_sane(&info, "sha512");
}
END_TEST

/* A SHA-1 imprint can be collided, so it binds nothing: refused even though the token is
 * authentic and its imprint matches. */
START_TEST(sha1_imprint_not_allowed)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_timestamp_info info;
    ck_assert_int_eq(
        verify_file("data_sha1.tsr", "data.txt", "ca.pem", capv_clock_system(NULL), 0, &info, &err),
        CAPV_E_ALG_NOT_ALLOWED);
    ck_assert_str_eq(err.field, "messageImprint");
    assert_info_sane(&info, "sha1");
}
END_TEST

/* Nor a token the TSA signed over SHA-1, with a SHA-256 imprint: its TSTInfo is bound by
 * SHA-1. */
START_TEST(sha1_signer_digest_not_allowed)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_timestamp_info info;
    ck_assert_int_eq(verify_file("data_signer_sha1.tsr", "data.txt", "ca.pem",
                                 capv_clock_system(NULL), 0, &info, &err),
                     CAPV_E_ALG_NOT_ALLOWED);
    ck_assert_str_eq(err.field, "signerInfo");
    ck_assert_ptr_nonnull(strstr(err.message, "sha1"));
    assert_info_sane(&info, "sha256");
}
END_TEST

START_TEST(other_data_mismatch)
{
    capv_timestamp_info info;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(verify_file("data.tsr", "other_data.txt", "ca.pem", capv_clock_system(NULL), 0,
                                 &info, &err),
                     CAPV_E_MISMATCH);
    ck_assert_int_eq(err.code, CAPV_E_MISMATCH);
    ck_assert_str_eq(err.field, "messageImprint");
    /* the token parsed, so info is filled even though it was rejected */
    assert_info_sane(&info, "sha256");
    ck_assert_int_eq(verify_file("data_sha512.tsr", "other_data.txt", "ca.pem",
                                 capv_clock_system(NULL), 0, NULL, NULL),
                     CAPV_E_MISMATCH);
}
END_TEST

START_TEST(other_tsa_untrusted)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_timestamp_info info;
    int64_t now = capv_clock_system(NULL);
    ck_assert_int_eq(verify_file("other_tsa.tsr", "data.txt", "ca.pem", now, 0, &info, &err),
                     CAPV_E_UNTRUSTED);
    ck_assert_int_eq(err.code, CAPV_E_UNTRUSTED);
    ck_assert_str_eq(info.tsa_subject, "O=CAP Verifier Tests, CN=Other Test TSA");
    /* the token itself is sound: its own CA accepts it */
    ck_assert_int_eq(verify_file("other_tsa.tsr", "data.txt", "other_ca.pem", now, 0, NULL, NULL),
                     CAPV_OK);
    /* and ours is not accepted by the other CA */
    ck_assert_int_eq(verify_file("data.tsr", "data.txt", "other_ca.pem", now, 0, NULL, NULL),
                     CAPV_E_UNTRUSTED);
    /* a TSA certificate alone is not a trust anchor: the chain must reach a root */
    ck_assert_int_eq(verify_file("data.tsr", "data.txt", "tsa.pem", now, 0, NULL, NULL),
                     CAPV_E_UNTRUSTED);
}
END_TEST

/* The signer must carry the (critical) timeStamping extended key usage. */
START_TEST(signer_without_timestamping_eku)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_timestamp_info info;
    ck_assert_int_eq(verify_file("noeku.token.der", "data.txt", "ca.pem", capv_clock_system(NULL),
                                 0, &info, &err),
                     CAPV_E_UNTRUSTED);
    ck_assert_str_eq(err.field, "signer");
    ck_assert_ptr_nonnull(strstr(err.message, "purpose"));
    ck_assert_str_eq(info.tsa_subject, "O=CAP Verifier Tests, CN=CAP Test Not-a-TSA");
}
END_TEST

/* RFC 3161 requires the ESS signing-certificate attribute; a plain CMS signature by the
 * right TSA without it is not a timestamp token. */
START_TEST(missing_ess_attribute)
{
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(verify_file("noess.token.der", "data.txt", "ca.pem", capv_clock_system(NULL),
                                 0, NULL, &err),
                     CAPV_E_MALFORMED);
    ck_assert_str_eq(err.field, "signingCertificate");
}
END_TEST

/* The chain is checked at genTime, not at the wall clock: tsa.pem was issued after this
 * token's genTime (2021-06-15T12:00:00.25Z), so it cannot have signed it. */
START_TEST(chain_checked_at_gen_time)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_timestamp_info info;
    ck_assert_int_eq(verify_file("pastgen.token.der", "data.txt", "ca.pem", capv_clock_system(NULL),
                                 0, &info, &err),
                     CAPV_E_UNTRUSTED);
    ck_assert_ptr_nonnull(strstr(err.message, "not yet valid"));
    ck_assert_int_eq(info.gen_time_ms, 1623758400250LL); /* fraction kept as ms */
    ck_assert_str_eq(info.serial, "0123456789abcdef");
    ck_assert_str_eq(info.hash_alg, "sha256");
}
END_TEST

START_TEST(gen_time_not_der)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_timestamp_info info;
    ck_assert_int_eq(verify_file("badgen.token.der", "data.txt", "ca.pem", capv_clock_system(NULL),
                                 0, &info, &err),
                     CAPV_E_MALFORMED);
    ck_assert_str_eq(err.field, "genTime");
    ck_assert_int_eq(info.gen_time_ms, 0);
    ck_assert_str_eq(info.hash_alg, "sha256"); /* the rest of the token parsed */
}
END_TEST

/* A store of the bundle a ‖ b. */
static capv_tsa_store *store_of_both(const void *a, size_t a_len, const void *b, size_t b_len)
{
    uint8_t *both = malloc(a_len + b_len);
    ck_assert_ptr_nonnull(both);
    memcpy(both, a, a_len);
    memcpy(both + a_len, b, b_len);
    capv_tsa_store *s = NULL;
    ck_assert_int_eq(capvi_tsa_store_load_mem(&s, both, a_len + b_len, NULL), CAPV_OK);
    free(both);
    return s;
}

START_TEST(bundle_with_both_roots)
{
    size_t a_len, b_len;
    uint8_t *a = fx("ca.pem", &a_len);
    uint8_t *b = fx("other_ca.pem", &b_len);
    capv_tsa_store *s = store_of_both(a, a_len, b, b_len);
    size_t dlen, t1_len, t2_len;
    uint8_t *data = fx("data.txt", &dlen);
    uint8_t *t1 = fx("data.tsr", &t1_len);
    uint8_t *t2 = fx("other_tsa.tsr", &t2_len);
    int64_t now = capv_clock_system(NULL);
    ck_assert_int_eq(capvi_timestamp_verify(NULL, s, t1, t1_len, data, dlen, now, 0, NULL),
                     CAPV_OK);
    ck_assert_int_eq(capvi_timestamp_verify(NULL, s, t2, t2_len, data, dlen, now, 0, NULL),
                     CAPV_OK);
    capvi_tsa_store_free(s);
    free(a);
    free(b);
    free(data);
    free(t1);
    free(t2);
}
END_TEST

START_TEST(gen_time_in_the_future)
{
    capv_timestamp_info info;
    capv_error err = CAPV_ERROR_INIT;
    /* a clock stuck in 1970 sees genTime far in the future */
    ck_assert_int_eq(verify_file("data.tsr", "data.txt", "ca.pem", 0, 0, &info, &err),
                     CAPV_E_NOT_YET_VALID);
    ck_assert_str_eq(err.field, "genTime");
    int64_t gen = info.gen_time_ms;
    ck_assert_int_gt(gen, 0);
    /* leeway boundary: genTime <= now + leeway */
    ck_assert_int_eq(verify_file("data.tsr", "data.txt", "ca.pem", gen - 5000, 5000, NULL, NULL),
                     CAPV_OK);
    ck_assert_int_eq(verify_file("data.tsr", "data.txt", "ca.pem", gen - 5000, 4999, NULL, NULL),
                     CAPV_E_NOT_YET_VALID);
    ck_assert_int_eq(verify_file("data.tsr", "data.txt", "ca.pem", gen, 0, NULL, NULL), CAPV_OK);
    ck_assert_int_eq(verify_file("data.tsr", "data.txt", "ca.pem", 0, gen, NULL, NULL), CAPV_OK);
    /* a huge leeway does not overflow */
    ck_assert_int_eq(
        verify_file("data.tsr", "data.txt", "ca.pem", INT64_MAX - 10, INT64_MAX, NULL, NULL),
        CAPV_OK);
}
END_TEST

/* A flipped byte in the signature value (the last element of the token, and of the
 * response) keeps the DER parseable: the token is well-formed but not authentic, which is
 * CAPV_E_SIGNATURE, not MALFORMED. */
START_TEST(flipped_signature_byte)
{
    const char *files[] = { "data.tsr", "data.token.der" };
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        uint8_t *tsr = fx(files[i], &len);
        ck_assert_uint_gt(len, 100);
        tsr[len - 5] ^= 0x01;
        capv_error err = CAPV_ERROR_INIT;
        capv_timestamp_info info;
        ck_assert_int_eq(
            verify_buf(tsr, len, "data.txt", "ca.pem", capv_clock_system(NULL), 0, &info, &err),
            CAPV_E_SIGNATURE);
        ck_assert_str_eq(err.field, "signature");
        ck_assert_str_eq(info.hash_alg, "sha256");
        free(tsr);
    }
}
END_TEST

/* A changed imprint inside the signed TSTInfo breaks the signature before the imprint is
 * compared: a forged token is SIGNATURE, never "for other data". */
START_TEST(flipped_signed_content_byte)
{
    size_t len, dlen;
    uint8_t *tsr = fx("data.tsr", &len);
    uint8_t *data = fx("data.txt", &dlen);
    uint8_t d[32];
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA256, data, dlen, NULL), CAPV_OK);
    size_t at = len;
    for (size_t i = 0; i + 32 <= len; i++)
        if (memcmp(tsr + i, d, 32) == 0) {
            at = i;
            break;
        }
    ck_assert_msg(at < len, "imprint not found in data.tsr");
    tsr[at + 31] ^= 0x80;
    ck_assert_int_eq(
        verify_buf(tsr, len, "data.txt", "ca.pem", capv_clock_system(NULL), 0, NULL, NULL),
        CAPV_E_SIGNATURE);
    free(tsr);
    free(data);
}
END_TEST

START_TEST(truncated_der_malformed)
{
    size_t len;
    uint8_t *tsr = fx("data.tsr", &len);
    int64_t now = capv_clock_system(NULL);
    size_t cuts[] = { len - 1, len / 2, 10, 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        capv_timestamp_info info;
        ck_assert_int_eq(verify_buf(tsr, cuts[i], "data.txt", "ca.pem", now, 0, &info, NULL),
                         CAPV_E_MALFORMED);
        ck_assert_int_eq(info.gen_time_ms, 0); /* nothing parsed */
    }
    free(tsr);
}
END_TEST

START_TEST(trailing_bytes_malformed)
{
    const char *files[] = { "data.tsr", "data.token.der" };
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        uint8_t *tsr = fx(files[i], &len);
        uint8_t *longer = malloc(len + 1);
        ck_assert_ptr_nonnull(longer);
        memcpy(longer, tsr, len);
        longer[len] = 0;
        ck_assert_int_eq(verify_buf(longer, len + 1, "data.txt", "ca.pem", capv_clock_system(NULL),
                                    0, NULL, NULL),
                         CAPV_E_MALFORMED);
        free(longer);
        free(tsr);
    }
}
END_TEST

START_TEST(empty_and_garbage_malformed)
{
    static const uint8_t one = 0;
    int64_t now = capv_clock_system(NULL);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(verify_buf(&one, 0, "data.txt", "ca.pem", now, 0, NULL, &err),
                     CAPV_E_MALFORMED);
    ck_assert_int_eq(verify_buf(NULL, 0, "data.txt", "ca.pem", now, 0, NULL, NULL),
                     CAPV_E_MALFORMED);
    const char *json = "{\"version\":\"tsr.v1\"}";
    ck_assert_int_eq(
        verify_buf((const uint8_t *)json, strlen(json), "data.txt", "ca.pem", now, 0, NULL, &err),
        CAPV_E_MALFORMED);
    ck_assert_int_eq(err.code, CAPV_E_MALFORMED);
    /* text is neither a response nor a token */
    size_t len;
    uint8_t *txt = fx("data.txt", &len);
    ck_assert_int_eq(verify_buf(txt, len, "data.txt", "ca.pem", now, 0, NULL, NULL),
                     CAPV_E_MALFORMED);
    free(txt);
}
END_TEST

START_TEST(response_status)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_timestamp_info info;
    int64_t now = capv_clock_system(NULL);
    ck_assert_int_eq(verify_file("rejected.tsr", "data.txt", "ca.pem", now, 0, &info, &err),
                     CAPV_E_REJECTED);
    ck_assert_str_eq(err.field, "status");
    ck_assert_ptr_nonnull(strstr(err.message, "rejection"));
    ck_assert_int_eq(info.gen_time_ms, 0);
    ck_assert_int_eq(verify_file("granted_no_token.tsr", "data.txt", "ca.pem", now, 0, NULL, &err),
                     CAPV_E_MALFORMED);
    ck_assert_str_eq(err.field, "timeStampToken");
}
END_TEST

START_TEST(oversize_limit)
{
    size_t max = (size_t)1 << 20;
    uint8_t *big = calloc(1, max + 1);
    ck_assert_ptr_nonnull(big);
    int64_t now = capv_clock_system(NULL);
    ck_assert_int_eq(verify_buf(big, max + 1, "data.txt", "ca.pem", now, 0, NULL, NULL),
                     CAPV_E_LIMIT);
    /* exactly at the limit it is read, and zeros are not a token */
    ck_assert_int_eq(verify_buf(big, max, "data.txt", "ca.pem", now, 0, NULL, NULL),
                     CAPV_E_MALFORMED);
    free(big);
}
END_TEST

START_TEST(store_load_errors)
{
    capv_tsa_store *s = (capv_tsa_store *)&s;
    capv_error err = CAPV_ERROR_INIT;
    char path[4200];

    snprintf(path, sizeof path, "%s/no-such-ca.pem", tsa_dir);
    ck_assert_int_eq(capvi_tsa_store_load(&s, path, &err), CAPV_E_NOT_FOUND);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(err.code, CAPV_E_NOT_FOUND);

    ck_assert_int_eq(capvi_tsa_store_load(&s, tsa_dir, NULL), CAPV_E_IO); /* a directory */
    ck_assert_ptr_null(s);

    snprintf(path, sizeof path, "%s/data.txt", tsa_dir);
    ck_assert_int_eq(capvi_tsa_store_load(&s, path, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_null(s);
    snprintf(path, sizeof path, "%s/data.tsr", tsa_dir); /* DER, not PEM */
    ck_assert_int_eq(capvi_tsa_store_load(&s, path, NULL), CAPV_E_MALFORMED);

    ck_assert_int_eq(capvi_tsa_store_load_mem(&s, (const uint8_t *)"", 0, NULL), CAPV_E_MALFORMED);
    size_t len;
    uint8_t *pem = fx("ca.pem", &len);
    /* a certificate block cut in half */
    ck_assert_int_eq(capvi_tsa_store_load_mem(&s, pem, len / 2, NULL), CAPV_E_MALFORMED);
    /* a corrupted base64 body */
    pem[40] = '!';
    ck_assert_int_eq(capvi_tsa_store_load_mem(&s, pem, len, NULL), CAPV_E_MALFORMED);
    ck_assert_ptr_null(s);
    free(pem);
    /* a key is PEM, but holds no certificate */
    pem = fx("tsa.key", &len);
    ck_assert_int_eq(capvi_tsa_store_load_mem(&s, pem, len, NULL), CAPV_E_MALFORMED);
    free(pem);

    uint8_t *huge = calloc(1, ((size_t)4 << 20) + 1);
    ck_assert_ptr_nonnull(huge);
    ck_assert_int_eq(capvi_tsa_store_load_mem(&s, huge, ((size_t)4 << 20) + 1, NULL), CAPV_E_LIMIT);
    free(huge);
}
END_TEST

START_TEST(bad_arguments)
{
    size_t len, dlen;
    uint8_t *tsr = fx("data.tsr", &len);
    uint8_t *data = fx("data.txt", &dlen);
    capv_tsa_store *s = store_of("ca.pem");
    ck_assert_int_eq(capvi_timestamp_verify(NULL, NULL, tsr, len, data, dlen, 0, 0, NULL),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capvi_timestamp_verify(NULL, s, NULL, len, data, dlen, 0, 0, NULL),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capvi_timestamp_verify(NULL, s, tsr, len, NULL, dlen, 0, 0, NULL),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capvi_timestamp_verify(NULL, s, tsr, len, data, dlen, 0, -1, NULL),
                     CAPV_E_INVALID_ARG);
    capvi_tsa_store_free(s);
    capvi_tsa_store_free(NULL);
    ck_assert_int_eq(capvi_tsa_store_load(NULL, "x", NULL), CAPV_E_INVALID_ARG);
    s = (capv_tsa_store *)&s;
    ck_assert_int_eq(capvi_tsa_store_load(&s, NULL, NULL), CAPV_E_INVALID_ARG);
    ck_assert_ptr_null(s);
    s = (capv_tsa_store *)&s;
    ck_assert_int_eq(capvi_tsa_store_load_mem(&s, NULL, 1, NULL), CAPV_E_INVALID_ARG);
    ck_assert_ptr_null(s);
    free(tsr);
    free(data);
}
END_TEST

/* The certificates a token embeds are taken from the store's decoded ones; OpenSSL decoding
 * the whole input must come to exactly the same outcome: status, field, message and info. */
static void assert_same_outcome(const capv_tsa_store *s, const uint8_t *tsr, size_t len,
                                const uint8_t *data, size_t dlen, int64_t now, const char *what,
                                size_t at)
{
    capv_timestamp_info a, b;
    capv_error ea = CAPV_ERROR_INIT, eb = CAPV_ERROR_INIT;
    capv_status sa = capvi_timestamp_verify(&a, s, tsr, len, data, dlen, now, 0, &ea);
    capv_status sb = capvi_timestamp_verify_whole(&b, s, tsr, len, data, dlen, now, 0, &eb);
    ck_assert_msg(sa == sb && strcmp(ea.field, eb.field) == 0 &&
                      strcmp(ea.message, eb.message) == 0 && memcmp(&a, &b, sizeof a) == 0,
                  "%s (%zu): %d %s '%s' against OpenSSL's %d %s '%s'", what, at, sa, ea.field,
                  ea.message, sb, eb.field, eb.message);
}

START_TEST(decoded_certs_agree_with_openssl)
{
    static const char *const tokens[] = {
        "data.tsr",          "data.token.der",       "data_sha512.tsr",
        "data_sha1.tsr",     "data_signer_sha1.tsr", "other_tsa.tsr",
        "noeku.token.der",   "noess.token.der",      "badgen.token.der",
        "pastgen.token.der", "rejected.tsr",         "granted_no_token.tsr"
    };
    static const char *const bundles[] = { "ca.pem", "other_ca.pem", "tsa.pem" };
    size_t dlen;
    uint8_t *data = fx("data.txt", &dlen);
    int64_t now = capv_clock_system(NULL);
    for (size_t b = 0; b < sizeof bundles / sizeof bundles[0]; b++) {
        capv_tsa_store *s = store_of(bundles[b]);
        for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
            size_t len;
            uint8_t *tsr = fx(tokens[i], &len);
            assert_same_outcome(s, tsr, len, data, dlen, now, tokens[i], 0);
            free(tsr);
        }
        capvi_tsa_store_free(s);
    }
    /* every byte of a response and of a bare token changed, and every prefix of the
     * response: lengths, tags, the certificate, the signature */
    capv_tsa_store *s = store_of("ca.pem");
    const char *files[] = { "data.tsr", "data.token.der" };
    for (size_t f = 0; f < 2; f++) {
        size_t len;
        uint8_t *tsr = fx(files[f], &len);
        for (size_t at = 0; at < len; at++) {
            static const uint8_t flips[] = { 0x01, 0x80 };
            for (size_t k = 0; k < sizeof flips; k++) {
                tsr[at] ^= flips[k];
                assert_same_outcome(s, tsr, len, data, dlen, now, files[f], at);
                tsr[at] ^= flips[k];
            }
            if (f == 0)
                assert_same_outcome(s, tsr, at, data, dlen, now, "prefix of data.tsr", at);
            /* a SEQUENCE turned OCTET STRING (same length): e.g. an ESS attribute's value */
            if (tsr[at] == 0x30) {
                tsr[at] = 0x04;
                assert_same_outcome(s, tsr, len, data, dlen, now, "SEQUENCE as OCTET STRING", at);
                tsr[at] = 0x30;
            }
        }
        free(tsr);
    }
    capvi_tsa_store_free(s);
    free(data);
}
END_TEST

/* A DER element's header at d[at..): *hl its length, returns its content's length. */
static size_t der_head(const uint8_t *d, size_t at, size_t *hl)
{
    size_t n = d[at + 1];
    if (n < 0x80) {
        *hl = 2;
        return n;
    }
    size_t len = 0;
    for (size_t i = 0; i < (n & 0x7f); i++)
        len = len << 8 | d[at + 2 + i];
    *hl = 2 + (n & 0x7f);
    return len;
}

/* Writes tag and content length (long form, two bytes) to out; returns 4. */
static size_t der_put_head(uint8_t *out, uint8_t tag, size_t len)
{
    out[0] = tag;
    out[1] = 0x82;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
}

/* The bare token tok[0..len) (ContentInfo { OID, [0] { SignedData } }) with a second
 * certificates field right after the first: a copy of it, or an empty one. */
static uint8_t *with_second_certs_field(const uint8_t *tok, size_t len, bool empty, size_t *out_len)
{
    size_t hl, ci_hl, c_hl, sd_hl, at;
    der_head(tok, 0, &ci_hl);
    at = ci_hl + 2 + tok[ci_hl + 1]; /* past the OID */
    der_head(tok, at, &c_hl);
    size_t sd_at = at + c_hl;
    der_head(tok, sd_at, &sd_hl);
    size_t f = sd_at + sd_hl;
    for (int i = 0; i < 3; i++) { /* version, digestAlgorithms, encapContentInfo */
        size_t cl = der_head(tok, f, &hl);
        f += hl + cl;
    }
    ck_assert_uint_eq(tok[f], 0xa0);
    size_t f_len = der_head(tok, f, &hl);
    f_len += hl;
    static const uint8_t empty_field[] = { 0xa0, 0x00 };
    const uint8_t *extra = empty ? empty_field : tok + f;
    size_t extra_len = empty ? sizeof empty_field : f_len;
    size_t sd_cl = len - sd_at - sd_hl + extra_len;
    uint8_t *out = malloc(len + extra_len + 12), *o = out;
    ck_assert_ptr_nonnull(out);
    o += der_put_head(o, 0x30, sd_cl + 4 + 4 + (at - ci_hl));
    memcpy(o, tok + ci_hl, at - ci_hl);
    o += at - ci_hl;
    o += der_put_head(o, 0xa0, sd_cl + 4);
    o += der_put_head(o, 0x30, sd_cl);
    memcpy(o, tok + sd_at + sd_hl, f + f_len - (sd_at + sd_hl));
    o += f + f_len - (sd_at + sd_hl);
    memcpy(o, extra, extra_len);
    o += extra_len;
    memcpy(o, tok + f + f_len, len - (f + f_len));
    o += len - (f + f_len);
    *out_len = (size_t)(o - out);
    return out;
}

/* A token whose certificates field comes twice (the second one a copy, or empty) is not
 * SignedData; OpenSSL refuses it, and so must the path that takes the first field out. */
START_TEST(second_certs_field_malformed)
{
    size_t len, dlen;
    uint8_t *tok = fx("data.token.der", &len);
    uint8_t *data = fx("data.txt", &dlen);
    capv_tsa_store *s = store_of("ca.pem");
    int64_t now = capv_clock_system(NULL);
    for (int empty = 0; empty < 2; empty++) {
        size_t vlen;
        uint8_t *v = with_second_certs_field(tok, len, empty, &vlen);
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = capvi_timestamp_verify(NULL, s, v, vlen, data, dlen, now, 0, &err);
        ck_assert_msg(st == CAPV_E_MALFORMED, "second field %s: %d %s", empty ? "empty" : "a copy",
                      st, err.message);
        assert_same_outcome(s, v, vlen, data, dlen, now, "second certificates field", 0);
        free(v);
    }
    capvi_tsa_store_free(s);
    free(data);
    free(tok);
}
END_TEST

/* Where the DER of the certificate in PEM file `rel` is within buf[0..len). */
static size_t cert_offset(const char *rel, const uint8_t *buf, size_t len, size_t *cert_len)
{
    size_t plen;
    uint8_t *pem = fx(rel, &plen);
    BIO *bio = BIO_new_mem_buf(pem, (int)plen);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    unsigned char *der = NULL;
    int n = x ? i2d_X509(x, &der) : -1;
    ck_assert_int_gt(n, 0);
    size_t at = len;
    for (size_t i = 0; i + (size_t)n <= len && at == len; i++)
        if (memcmp(buf + i, der, (size_t)n) == 0)
            at = i;
    ck_assert_msg(at < len, "%s is not in the token", rel);
    *cert_len = (size_t)n;
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(bio);
    free(pem);
    return at;
}

/* The store keeps each certificate it decoded once, and at most 16 of them; and the chain of
 * a signer that verified, not of one that did not. */
START_TEST(decoded_certs_kept_and_bounded)
{
    size_t chains = 0;
    size_t len, olen, dlen;
    uint8_t *tsr = fx("data.tsr", &len);
    uint8_t *other = fx("other_tsa.tsr", &olen);
    uint8_t *data = fx("data.txt", &dlen);
    int64_t now = capv_clock_system(NULL);
    capv_tsa_store *s = store_of("ca.pem");
    ck_assert_uint_eq(capvi_tsa_store_decoded(s, NULL), 0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(capvi_timestamp_verify(NULL, s, tsr, len, data, dlen, now, 0, NULL),
                         CAPV_OK);
        ck_assert_uint_eq(capvi_tsa_store_decoded(s, NULL), 1);
    }
    ck_assert_int_eq(capvi_timestamp_verify(NULL, s, other, olen, data, dlen, now, 0, NULL),
                     CAPV_E_UNTRUSTED);
    ck_assert_uint_eq(capvi_tsa_store_decoded(s, &chains), 2);
    ck_assert_uint_eq(chains, 1);
    /* 20 other certificates: the TSA's with a byte of its signature changed. Each decodes,
     * none chains, and the store keeps the 16 last. */
    size_t clen, at = cert_offset("tsa.pem", tsr, len, &clen);
    for (size_t k = 1; k <= 20; k++) {
        tsr[at + clen - k] ^= 0x01;
        capv_error err = CAPV_ERROR_INIT;
        ck_assert_int_eq(capvi_timestamp_verify(NULL, s, tsr, len, data, dlen, now, 0, &err),
                         CAPV_E_UNTRUSTED);
        assert_same_outcome(s, tsr, len, data, dlen, now, "changed certificate", k);
        tsr[at + clen - k] ^= 0x01;
    }
    ck_assert_uint_eq(capvi_tsa_store_decoded(s, &chains), 16);
    ck_assert_uint_eq(chains, 1);
    ck_assert_int_eq(capvi_timestamp_verify(NULL, s, tsr, len, data, dlen, now, 0, NULL), CAPV_OK);
    capvi_tsa_store_free(s);
    free(tsr);
    free(other);
    free(data);
}
END_TEST

/* A kept chain serves only at times when every certificate is valid: pastgen.token.der has
 * the same TSA certificate as data.tsr, and a genTime before it was issued. */
START_TEST(kept_chain_only_within_validity)
{
    size_t len, plen, dlen, chains = 0;
    uint8_t *tsr = fx("data.token.der", &len);
    uint8_t *past = fx("pastgen.token.der", &plen);
    uint8_t *data = fx("data.txt", &dlen);
    int64_t now = capv_clock_system(NULL);
    capv_tsa_store *s = store_of("ca.pem");
    ck_assert_int_eq(capvi_timestamp_verify(NULL, s, tsr, len, data, dlen, now, 0, NULL), CAPV_OK);
    ck_assert_uint_eq(capvi_tsa_store_decoded(s, &chains), 1);
    ck_assert_uint_eq(chains, 1);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capvi_timestamp_verify(NULL, s, past, plen, data, dlen, now, 0, &err),
                     CAPV_E_UNTRUSTED);
    ck_assert_ptr_nonnull(strstr(err.message, "not yet valid"));
    ck_assert_uint_eq(capvi_tsa_store_decoded(s, &chains), 1); /* the same certificate */
    assert_same_outcome(s, past, plen, data, dlen, now, "pastgen.token.der", 0);
    ck_assert_int_eq(capvi_timestamp_verify(NULL, s, tsr, len, data, dlen, now, 0, NULL), CAPV_OK);
    capvi_tsa_store_free(s);
    free(tsr);
    free(past);
    free(data);
}
END_TEST

/* PEM of a self-signed P-256 certificate named `subject` (NULL: "CN=Expired Test Root"),
 * valid for a day ten years ago. */
static char *expired_root_pem(const X509_NAME *subject, size_t *len)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    ck_assert_ptr_nonnull(key);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(name);
    if (subject == NULL)
        ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                    (const unsigned char *)"Expired Test Root", -1,
                                                    -1, 0),
                         1);
    ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
    ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
    ck_assert_int_eq(X509_set_subject_name(x, subject ? subject : name), 1);
    ck_assert_int_eq(X509_set_issuer_name(x, subject ? subject : name), 1);
    ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), -3650L * 86400));
    ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), -3649L * 86400));
    ck_assert_int_eq(X509_set_pubkey(x, key), 1);
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    BIO *mem = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_X509(mem, x), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(mem, &data);
    char *pem = malloc((size_t)n);
    ck_assert_ptr_nonnull(pem);
    memcpy(pem, data, (size_t)n);
    *len = (size_t)n;
    BIO_free(mem);
    X509_NAME_free(name);
    X509_free(x);
    EVP_PKEY_free(key);
    return pem;
}

/* A chain is kept for the times at which it and every other possible issuer of its
 * certificates are valid: an expired root of another name in the bundle changes nothing,
 * one named as the TSA's root is a candidate OpenSSL passes over only while it is expired,
 * so the chain is then checked every time. */
START_TEST(kept_chain_and_other_issuers)
{
    size_t ca_len, len, dlen;
    uint8_t *ca = fx("ca.pem", &ca_len);
    uint8_t *tsr = fx("data.tsr", &len);
    uint8_t *data = fx("data.txt", &dlen);
    int64_t now = capv_clock_system(NULL);
    BIO *bio = BIO_new_mem_buf(ca, (int)ca_len);
    X509 *root = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    ck_assert_ptr_nonnull(root);
    for (int same_name = 0; same_name < 2; same_name++) {
        size_t extra_len;
        char *extra = expired_root_pem(same_name ? X509_get_subject_name(root) : NULL, &extra_len);
        capv_tsa_store *s = store_of_both(extra, extra_len, ca, ca_len);
        for (int round = 0; round < 2; round++) {
            ck_assert_int_eq(capvi_timestamp_verify(NULL, s, tsr, len, data, dlen, now, 0, NULL),
                             CAPV_OK);
            assert_same_outcome(s, tsr, len, data, dlen, now, "bundle with an expired root",
                                (size_t)same_name);
        }
        size_t chains = 0;
        ck_assert_uint_eq(capvi_tsa_store_decoded(s, &chains), 1);
        ck_assert_uint_eq(chains, same_name ? 0 : 1);
        capvi_tsa_store_free(s);
        free(extra);
    }
    X509_free(root);
    BIO_free(bio);
    free(ca);
    free(tsr);
    free(data);
}
END_TEST

Suite *timestamp_suite(void)
{
    Suite *s = suite_create("timestamp");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, response_ok);
    tcase_add_test(tc, bare_token_ok);
    tcase_add_test(tc, sha512_imprint_ok);
    tcase_add_test(tc, sha1_imprint_not_allowed);
    tcase_add_test(tc, sha1_signer_digest_not_allowed);
    tcase_add_test(tc, other_data_mismatch);
    tcase_add_test(tc, other_tsa_untrusted);
    tcase_add_test(tc, signer_without_timestamping_eku);
    tcase_add_test(tc, missing_ess_attribute);
    tcase_add_test(tc, chain_checked_at_gen_time);
    tcase_add_test(tc, gen_time_not_der);
    tcase_add_test(tc, bundle_with_both_roots);
    tcase_add_test(tc, gen_time_in_the_future);
    tcase_add_test(tc, flipped_signature_byte);
    tcase_add_test(tc, flipped_signed_content_byte);
    tcase_add_test(tc, truncated_der_malformed);
    tcase_add_test(tc, trailing_bytes_malformed);
    tcase_add_test(tc, empty_and_garbage_malformed);
    tcase_add_test(tc, response_status);
    tcase_add_test(tc, oversize_limit);
    tcase_add_test(tc, store_load_errors);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, decoded_certs_agree_with_openssl);
    tcase_add_test(tc, second_certs_field_malformed);
    tcase_add_test(tc, decoded_certs_kept_and_bounded);
    tcase_add_test(tc, kept_chain_only_within_validity);
    tcase_add_test(tc, kept_chain_and_other_issuers);
    suite_add_tcase(s, tc);
    return s;
}
