/* SPDX-License-Identifier: Apache-2.0 */
/* Verification verdicts: the peer's packages (shared vectors) and our signed sample with
 * every single tampering of issue #3, each asserting the verdict AND the failing check. */
#include <capverify.h>
#include <capverify/unstable/verify_request.h>
#include <check.h>
#include <malloc.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

#include "json_int.h"
#include "json_write_int.h"
#include "suites.h"
#include "verify_int.h"
#include "testutil.h"

static char sample_dir[4096];

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
    snprintf(sample_dir, sizeof sample_dir, "%s/sample", tu_fixtures_dir());
}

static void teardown(void)
{
    capv_global_shutdown();
}

static int64_t fixed_clock(void *user)
{
    (void)user;
    return INT64_C(4102444800000); /* 2100-01-01: after every token the tests make */
}

static capv_verifier *verifier(bool sample_trust)
{
    capv_verifier *v = NULL;
    char path[4200];
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_verifier_new(&v, NULL), CAPV_OK);
    capv_verifier_set_clock(v, fixed_clock, NULL);
    if (sample_trust) {
        snprintf(path, sizeof path, "%s/trust", sample_dir);
        ck_assert_msg(capv_verifier_load_trust(v, path, &err) == CAPV_OK, "%s", err.message);
        snprintf(path, sizeof path, "%s/policies", sample_dir);
        ck_assert_msg(capv_verifier_load_policy_dir(v, path, &err) == CAPV_OK, "%s", err.message);
        snprintf(path, sizeof path, "%s/tsa/ca.pem", sample_dir);
        ck_assert_msg(capv_verifier_load_tsa_roots(v, path, &err) == CAPV_OK, "%s", err.message);
    }
    return v;
}

static capv_verify_options *accept_mock(void)
{
    capv_verify_options *o = NULL;
    ck_assert_int_eq(capv_verify_options_new(&o, NULL), CAPV_OK);
    ck_assert_int_eq(capv_verify_options_set_mock_policy(o, CAPV_MOCK_ACCEPT, NULL), CAPV_OK);
    return o;
}

static capv_check_status check_of(const capv_report *r, const char *id)
{
    const capv_check *c = capv_report_find_check(r, id);
    ck_assert_msg(c != NULL, "no check %s", id);
    return capv_check_status_of(c);
}

#define ASSERT_CHECK(r, id, want)                                                                  \
    ck_assert_msg(check_of(r, id) == (want), "%s: %s (%s), want %s", id,                           \
                  capv_check_status_name(check_of(r, id)),                                         \
                  capv_check_message(capv_report_find_check(r, id)), capv_check_status_name(want))

static capv_report *verify_path(const capv_verifier *v, const char *path,
                                const capv_verify_options *o)
{
    capv_report *r = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_verify_path(&r, v, path, o, &err) == CAPV_OK, "%s: %s", path, err.message);
    return r;
}

static capv_report *verify_pkg(const capv_verifier *v, const capv_package *p,
                               const capv_verify_options *o)
{
    capv_report *r = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_verify_package(&r, v, p, o, &err) == CAPV_OK, "%s", err.message);
    return r;
}

/* ---- the peer's packages (shared/vectors/peer/README.md) ------------------------------- */

START_TEST(peer_desktop_bundles_fail)
{
    static const char *const zips[] = { "cap-bundle-2025-11-30.zip", "cap-bundle-2025-12-01.zip",
                                        "cap-bundle-2025-12-14.zip" };
    capv_verifier *v = verifier(false);
    char path[4096];
    snprintf(path, sizeof path, "%s/peer/packages/desktop/%s", tu_shared_dir(), zips[_i]);
    capv_report *r = verify_path(v, path, NULL);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    ck_assert_str_eq(capv_report_format(r), "cap-bundle.v1");
    /* the listed files are intact; commitments.json and policy.yml are unlisted */
    ASSERT_CHECK(r, "package.integrity", CAPV_CHECK_WARN);
    /* the manifest was edited after signing, and the proof binds another manifest */
    ASSERT_CHECK(r, "manifest.signature", CAPV_CHECK_FAIL);
    ASSERT_CHECK(r, "proof.binding", CAPV_CHECK_FAIL);
    /* _meta policy_hash "0x0" is a placeholder */
    ASSERT_CHECK(r, "policy.binding", CAPV_CHECK_FAIL);
    ASSERT_CHECK(r, "proof.backend", CAPV_CHECK_WARN); /* simplified_zk */
    if (_i == 2) {
        ck_assert_str_eq(capv_report_manifest_hash(r),
                         "0xe54f3291d3359f02bc6b9995e6c79af54d807f3586c64249bd42b2956f1a3035");
        ck_assert_str_eq(capv_report_proof_hash(r),
                         "0x3c5792562af4d4c6d80c296de910dddd240561542ba26526930df5204e4189f5");
    }
    capv_report_free(r);
    capv_verifier_free(v);
}
END_TEST

/* The desktop signature is a real Ed25519 signature over the manifest as it was before its
 * "proof" member was edited: restoring it makes the signature verify. */
START_TEST(peer_desktop_signature_restored)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/peer/packages/desktop/cap-bundle-2025-12-14.zip",
             tu_shared_dir());
    capv_package *zip = NULL;
    ck_assert_int_eq(capv_package_open(&zip, path, NULL, NULL), CAPV_OK);
    const uint8_t *m;
    size_t mlen;
    ck_assert_int_eq(capv_package_find(&m, &mlen, zip, "manifest.json", NULL), CAPV_OK);
    cJSON *root = NULL;
    ck_assert_int_eq(capvi_json_parse(&root, m, mlen, NULL), CAPV_OK);
    cJSON *proof = cJSON_CreateObject();
    cJSON_AddStringToObject(proof, "type", "none");
    cJSON_AddStringToObject(proof, "status", "pending");
    ck_assert(cJSON_ReplaceItemInObjectCaseSensitive(root, "proof", proof));
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_compact(&b, root, CAPV_JSON_CANON_EMPTY_SIGNATURES);
    size_t clen;
    uint8_t *canon = capvi_buf_take(&b, &clen);
    const cJSON *sig = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "signatures"), 0);
    uint8_t pub[32], s[64];
    const char *ph = cJSON_GetObjectItem(sig, "pubkey_hex")->valuestring;
    const char *sh = cJSON_GetObjectItem(sig, "sig_hex")->valuestring;
    ck_assert_int_eq(capv_hex_decode(pub, 32, ph, strlen(ph), NULL), CAPV_OK);
    ck_assert_int_eq(capv_hex_decode(s, 64, sh, strlen(sh), NULL), CAPV_OK);
    ck_assert_int_eq(capv_ed25519_verify(pub, s, canon, clen, NULL), CAPV_OK);
    /* and the shipped manifest's canonical bytes do not verify */
    uint8_t *shipped = NULL;
    size_t slen;
    ck_assert_int_eq(
        capv_json_canonical(&shipped, &slen, m, mlen, CAPV_JSON_CANON_EMPTY_SIGNATURES, NULL),
        CAPV_OK);
    ck_assert_int_eq(capv_ed25519_verify(pub, s, shipped, slen, NULL), CAPV_E_SIGNATURE);
    capv_free(shipped);
    free(canon);
    cJSON_Delete(root);
    capv_package_free(zip);
}
END_TEST

START_TEST(peer_webui_legacy)
{
    static const char *const paths[] = { "webui-legacy", "webui-legacy.zip" };
    capv_verifier *v = verifier(false);
    char path[4096];
    snprintf(path, sizeof path, "%s/peer/packages/%s", tu_shared_dir(), paths[_i]);
    capv_report *r = verify_path(v, path, NULL);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    ck_assert_str_eq(capv_report_format(r), "legacy");
    ASSERT_CHECK(r, "manifest.signature", CAPV_CHECK_FAIL); /* unsigned */
    ASSERT_CHECK(r, "proof.binding", CAPV_CHECK_PASS);      /* 0x9712ff65... */
    ASSERT_CHECK(r, "manifest.schema", CAPV_CHECK_WARN);    /* manifest.v0 */
    ASSERT_CHECK(r, "proof.container", CAPV_CHECK_PASS);
    ck_assert_ptr_nonnull(
        strstr(capv_check_details(capv_report_find_check(r, "proof.binding")),
               "0x9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d2"));
    /* 2/2 constraints ok: the policy binding is only unknown (not in our store) */
    ASSERT_CHECK(r, "policy.binding", CAPV_CHECK_WARN);
    capv_report_free(r);
    capv_verifier_free(v);
}
END_TEST

START_TEST(peer_multi_unit)
{
    capv_verifier *v = verifier(false);
    char path[4096];
    snprintf(path, sizeof path, "%s/peer/packages/multi-unit", tu_shared_dir());
    capv_report *r = verify_path(v, path, NULL);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    ASSERT_CHECK(r, "package.integrity", CAPV_CHECK_PASS); /* all four _meta hashes match */
    ck_assert_uint_eq(capv_report_unit_count(r), 2);
    for (size_t i = 0; i < 2; i++) {
        const capv_report *u = capv_report_unit(r, i);
        ck_assert_str_eq(capv_report_unit_id(u), i == 0 ? "unit_a" : "unit_b");
        ck_assert_int_eq(capv_report_verdict(u), CAPV_VERDICT_FAIL);
        ASSERT_CHECK(u, "manifest.signature", CAPV_CHECK_FAIL);
        ASSERT_CHECK(u, "manifest.schema", CAPV_CHECK_PASS);
    }
    ck_assert_ptr_null(capv_report_manifest_hash(r));
    capv_report_free(r);
    /* with a token, each unit says it is not matched to a unit, not that there is none */
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_open_dir(&pkg, path, NULL, NULL), CAPV_OK);
    ck_assert_int_eq(
        capv_package_add_member(pkg, "timestamp.tsr", (const uint8_t *)"token", 5, NULL), CAPV_OK);
    r = verify_pkg(v, pkg, NULL);
    for (size_t i = 0; i < 2; i++) {
        const capv_check *c = capv_report_find_check(capv_report_unit(r, i), "timestamp");
        ck_assert_int_eq(capv_check_status_of(c), CAPV_CHECK_SKIP);
        ck_assert_str_eq(capv_check_message(c),
                         "the package's timestamp token is not matched to one of its several "
                         "proof units");
    }
    capv_report_free(r);
    capv_package_free(pkg);
    capv_verifier_free(v);
}
END_TEST

/* The loose manifests of bundle-v2-testout, packaged with the legacy proof. */
START_TEST(peer_unsigned_and_bogus_manifests)
{
    static const char *const names[] = { "unsigned_manifest.json",
                                         "bogus_signature_manifest.json" };
    size_t mlen, plen;
    char rel[256];
    snprintf(rel, sizeof rel, "peer/packages/bundle-v2-testout/%s", names[_i]);
    uint8_t *m = tu_read(tu_shared_dir(), rel, &mlen);
    uint8_t *p = tu_read(tu_shared_dir(), "peer/packages/webui-legacy/proof.dat", &plen);
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_new(&pkg, NULL, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_add_member(pkg, "manifest.json", m, mlen, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_add_member(pkg, "proof.dat", p, plen, NULL), CAPV_OK);
    capv_verifier *v = verifier(false);
    capv_report *r = verify_pkg(v, pkg, NULL);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    ASSERT_CHECK(r, "manifest.signature", CAPV_CHECK_FAIL);
    const char *msg = capv_check_message(capv_report_find_check(r, "manifest.signature"));
    ck_assert_ptr_nonnull(strstr(msg, _i == 0 ? "unsigned" : "malformed"));
    capv_report_free(r);
    capv_verifier_free(v);
    capv_package_free(pkg);
    free(m);
    free(p);
}
END_TEST

/* The legacy package with a policy version of 200 characters, and a proof (proof.v0) bound
 * to that manifest whose statement is `statement`: its report. */
static capv_report *legacy_with_statement(capv_verifier *v, const char *manifest,
                                          const char *manifest_hash, const char *statement)
{
    char proof[1024], b64[1400];
    snprintf(proof, sizeof proof,
             "{\"version\":\"proof.v0\",\"type\":\"mock\",\"statement\":\"%s\","
             "\"manifest_hash\":\"%s\",\"policy_hash\":\"0xd490be94f6f182bd6a00930c65f6f1f5fab70"
             "ddb29116235ae344f064f9b52b3\",\"proof_data\":{},\"status\":\"ok\"}",
             statement, manifest_hash);
    ck_assert_int_eq(capv_base64_encode(b64, sizeof b64, NULL, (const uint8_t *)proof,
                                        strlen(proof), CAPV_BASE64_STD, NULL),
                     CAPV_OK);
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_new(&pkg, NULL, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_add_member(pkg, "manifest.json", (const uint8_t *)manifest,
                                             strlen(manifest), NULL),
                     CAPV_OK);
    ck_assert_int_eq(
        capv_package_add_member(pkg, "proof.dat", (const uint8_t *)b64, strlen(b64), NULL),
        CAPV_OK);
    capv_report *r = verify_pkg(v, pkg, NULL);
    capv_package_free(pkg);
    return r;
}

/* A statement is "policy:" and the manifest's whole policy version, however long. */
START_TEST(proof_statement_whole_version)
{
    size_t len;
    char *m = (char *)tu_read(tu_shared_dir(), "peer/packages/webui-legacy/manifest.json", &len);
    char version[201], *manifest = malloc(len + 256);
    memset(version, 'x', 200);
    version[200] = '\0';
    char *at = strstr(m, "\"lksg.v1\"");
    ck_assert_ptr_nonnull(at);
    snprintf(manifest, len + 256, "%.*s\"%s\"%.*s", (int)(at - m), m, version,
             (int)(len - (size_t)(at - m) - 9), at + 9);
    char whole[256], cut[256];
    snprintf(whole, sizeof whole, "policy:%s", version);
    snprintf(cut, sizeof cut, "%.159s", whole); /* what a 160-byte buffer held */
    capv_verifier *v = verifier(false);
    /* the manifest's hash, as the binding computes it */
    capv_report *r = legacy_with_statement(v, manifest,
                                           "0x"
                                           "00000000000000000000000000000000"
                                           "00000000000000000000000000000000",
                                           whole);
    const char *d = capv_check_details(capv_report_find_check(r, "proof.binding"));
    const char *h = strstr(d, "\"computed_manifest_hash\":\"");
    ck_assert_ptr_nonnull(h);
    char hash[67];
    snprintf(hash, sizeof hash, "%.66s", h + strlen("\"computed_manifest_hash\":\""));
    capv_report_free(r);
    r = legacy_with_statement(v, manifest, hash, whole);
    ASSERT_CHECK(r, "proof.binding", CAPV_CHECK_PASS);
    capv_report_free(r);
    r = legacy_with_statement(v, manifest, hash, cut);
    ASSERT_CHECK(r, "proof.binding", CAPV_CHECK_FAIL);
    ck_assert_ptr_nonnull(
        strstr(capv_check_message(capv_report_find_check(r, "proof.binding")), "statement"));
    capv_report_free(r);
    capv_verifier_free(v);
    free(manifest);
    free(m);
}
END_TEST

/* writes `root` compactly into DIR/NAME */
static void write_json(const char *dir, const char *name, const cJSON *root)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_compact(&b, root, 0);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b.data, 1, b.len, f), b.len);
    fclose(f);
    capvi_buf_free(&b);
}

/* The policy store loads an IR file as every IR is loaded (docs/policies.md): its members in
 * any order, and nothing that is no IR, even with an ir_hash over its own bytes. */
START_TEST(policy_store_loads_ir_as_ir)
{
    size_t len;
    uint8_t *ir = tu_read(tu_shared_dir(), "peer/policy/lksg_v1.ir.json", &len);
    cJSON *root = NULL;
    ck_assert_int_eq(capvi_json_parse(&root, ir, len, NULL), CAPV_OK);
    const char *hash = cJSON_GetObjectItemCaseSensitive(root, "policy_hash")->valuestring;
    uint8_t ph[32];
    ck_assert_int_eq(capv_digest_parse(ph, hash, strlen(hash), NULL), CAPV_OK);
    /* ir_version moved last: the same IR */
    cJSON *irv = cJSON_DetachItemFromObjectCaseSensitive(root, "ir_version");
    cJSON_AddItemToObject(root, "ir_version", irv);
    char dir[] = "/tmp/capv-store-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_json(dir, "reordered.json", root);
    capv_verifier *v = verifier(false);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_verifier_load_policy_dir(v, dir, &err) == CAPV_OK, "%s", err.message);
    ck_assert(capvi_verifier_knows_policy(v, ph));
    capv_verifier_free(v);
    /* not an IR: another version, no rules; its ir_hash the SHA3-256 of its compact form with
     * ir_hash "" (all an older check asked) */
    cJSON *junk = cJSON_CreateObject();
    cJSON_AddStringToObject(junk, "ir_version", "9");
    cJSON_AddStringToObject(junk, "policy_hash", hash);
    cJSON_AddStringToObject(junk, "ir_hash", "");
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_compact(&b, junk, 0);
    uint8_t d[32];
    char hex[CAPV_DIGEST_HEX_SIZE];
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, b.data, b.len, NULL), CAPV_OK);
    capvi_buf_free(&b);
    capv_digest_format(hex, d);
    cJSON_ReplaceItemInObjectCaseSensitive(junk, "ir_hash", cJSON_CreateString(hex));
    char path[4200];
    snprintf(path, sizeof path, "%s/reordered.json", dir);
    unlink(path);
    write_json(dir, "junk.json", junk);
    v = verifier(false);
    ck_assert_int_ne(capv_verifier_load_policy_dir(v, dir, &err), CAPV_OK);
    ck_assert_ptr_nonnull(strstr(err.message, "junk.json"));
    capv_verifier_free(v);
    snprintf(path, sizeof path, "%s/junk.json", dir);
    unlink(path);
    rmdir(dir);
    cJSON_Delete(junk);
    cJSON_Delete(root);
    free(ir);
}
END_TEST

/* ---- our signed sample and its tamperings ---------------------------------------------- */

static capv_package *sample(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/sample", sample_dir);
    capv_package *p = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_package_open_dir(&p, path, NULL, &err) == CAPV_OK, "%s", err.message);
    return p;
}

/* A copy of `src` with member `name` replaced by data (NULL data = removed; a name not in
 * src = added). */
static capv_package *with_member(const capv_package *src, const char *name, const uint8_t *data,
                                 size_t len)
{
    capv_package *p = NULL;
    ck_assert_int_eq(capv_package_new(&p, NULL, NULL), CAPV_OK);
    for (size_t i = 0; i < capv_package_member_count(src); i++) {
        const char *n = capv_package_member_name(src, i);
        size_t l;
        const uint8_t *d = capv_package_member_data(src, i, &l);
        if (strcmp(n, name) != 0)
            ck_assert_int_eq(capv_package_add_member(p, n, d, l, NULL), CAPV_OK);
    }
    if (data != NULL)
        ck_assert_int_eq(capv_package_add_member(p, name, data, len, NULL), CAPV_OK);
    return p;
}

/* Recomputes _meta.json's hash and size of every listed member that is present, and drops
 * listed members that are not — what a forger who controls the package would do. */
static capv_package *rehash_meta(capv_package *p)
{
    const uint8_t *meta;
    size_t len;
    ck_assert_int_eq(capv_package_find(&meta, &len, p, "_meta.json", NULL), CAPV_OK);
    cJSON *root = NULL;
    ck_assert_int_eq(capvi_json_parse(&root, meta, len, NULL), CAPV_OK);
    cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    cJSON *f = files->child;
    while (f != NULL) {
        cJSON *next = f->next;
        const uint8_t *d;
        size_t l;
        if (capv_package_find(&d, &l, p, f->string, NULL) != CAPV_OK) {
            cJSON_DeleteItemFromObjectCaseSensitive(files, f->string);
        } else {
            uint8_t h[32];
            char hex[CAPV_DIGEST_HEX_SIZE];
            ck_assert_int_eq(capv_hash(h, CAPV_HASH_SHA3_256, d, l, NULL), CAPV_OK);
            capv_digest_format(hex, h);
            cJSON_ReplaceItemInObjectCaseSensitive(f, "hash", cJSON_CreateString(hex));
            cJSON_ReplaceItemInObjectCaseSensitive(f, "size", cJSON_CreateNumber((double)l));
        }
        f = next;
    }
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_pretty(&b, root);
    size_t nlen;
    uint8_t *nmeta = capvi_buf_take(&b, &nlen);
    capv_package *out = with_member(p, "_meta.json", nmeta, nlen);
    free(nmeta);
    cJSON_Delete(root);
    capv_package_free(p);
    return out;
}

static uint8_t *member_copy(const capv_package *p, const char *name, size_t *len)
{
    const uint8_t *d;
    ck_assert_int_eq(capv_package_find(&d, len, p, name, NULL), CAPV_OK);
    uint8_t *c = malloc(*len + 1);
    memcpy(c, d, *len);
    c[*len] = 0;
    return c;
}

/* capv_check_details writes a check's text on its first call; threads asking at once all
 * get the one text that was kept, equal to what the report's JSON holds */
typedef struct details_race {
    const capv_check *c;
    const char *got[64];
} details_race;

static void *ask_details(void *arg)
{
    details_race *d = arg;
    for (int i = 0; i < 64; i++)
        d->got[i] = capv_check_details(d->c);
    return NULL;
}

START_TEST(details_written_once)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    char path[4200];
    snprintf(path, sizeof path, "%s/sample.zip", sample_dir);
    for (int round = 0; round < 20; round++) {
        capv_report *r = verify_path(v, path, o);
        const capv_check *c = capv_report_find_check(r, "policy.binding");
        details_race d[4];
        pthread_t th[4];
        for (int t = 0; t < 4; t++) {
            d[t].c = c;
            ck_assert_int_eq(pthread_create(&th[t], NULL, ask_details, &d[t]), 0);
        }
        for (int t = 0; t < 4; t++)
            ck_assert_int_eq(pthread_join(th[t], NULL), 0);
        const char *text = capv_check_details(c);
        ck_assert_ptr_nonnull(text);
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < 64; i++)
                ck_assert_ptr_eq(d[t].got[i], text);
        char *json = NULL;
        ck_assert_int_eq(capv_report_to_json(&json, NULL, r, 0, NULL), CAPV_OK);
        char want[1024];
        snprintf(want, sizeof want, "\"details\":%s}", text);
        ck_assert_msg(strstr(json, want) != NULL, "%s not in %s", want, json);
        capv_free(json);
        capv_report_free(r);
    }
    ck_assert_ptr_null(capv_check_details(NULL));
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* policy.binding knows the policies stored in the verifier's registry as it knows those of a
 * policy directory (docs/policies.md "The verifier's policy store"): a stored copy whose IR
 * does not load does not count, and storing a policy moves the registry's generation, so a
 * cached report that called it unknown is not served again. */
static capv_status store_policy(capv_registry *reg, const char *ir_json, const char *ir_hash)
{
    capv_registry_policy p = CAPV_REGISTRY_POLICY_INIT;
    p.policy_id = "lksg.v1";
    p.policy_version = "1";
    p.policy_hash = "sha3-256:b98c3db55f874476dc749ea32b70bdf5369a0d7bc5364f236e034f1ddcd94638";
    p.ir_hash = ir_hash;
    p.ir_json = ir_json;
    return capv_registry_put_policy(reg, &p, NULL);
}

/* The policy.binding check of the zip's report JSON (through the report cache): its status
 * ("pass", "warn", "fail") and message (the caller frees both). */
static char *zip_binding(const capv_verifier *v, const uint8_t *zip, size_t len,
                         const capv_verify_options *o, bool *cached, char **msg)
{
    char *json = NULL;
    size_t jlen = 0;
    capv_verdict verdict;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_verify_zip_memory_json(&json, &jlen, &verdict, cached, v, zip, len, o, 0,
                                              &err) == CAPV_OK,
                  "%s", err.message);
    cJSON *root = NULL;
    ck_assert_int_eq(capvi_json_parse(&root, (const uint8_t *)json, jlen, NULL), CAPV_OK);
    capv_free(json);
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(root, "checks");
    char *status = NULL;
    const cJSON *c;
    cJSON_ArrayForEach(c, checks)
    {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(c, "id")->valuestring, "policy.binding") == 0) {
            status = strdup(cJSON_GetObjectItemCaseSensitive(c, "status")->valuestring);
            *msg = strdup(cJSON_GetObjectItemCaseSensitive(c, "message")->valuestring);
        }
    }
    cJSON_Delete(root);
    ck_assert_ptr_nonnull(status);
    return status;
}

/* Asserts the zip's policy.binding status; its message into *msg (the caller frees it). */
#define ASSERT_BINDING(want)                                                                       \
    do {                                                                                           \
        char *got_ = zip_binding(v, zip, len, o, &cached, &msg);                                   \
        ck_assert_msg(strcmp(got_, want) == 0, "policy.binding %s: %s", got_, msg);                \
        free(got_);                                                                                \
    } while (0)

START_TEST(policy_known_from_registry)
{
    capv_verifier *v = verifier(false);
    char path[4200];
    capv_error err = CAPV_ERROR_INIT;
    snprintf(path, sizeof path, "%s/trust", sample_dir);
    ck_assert_int_eq(capv_verifier_load_trust(v, path, &err), CAPV_OK);
    capv_registry *reg = NULL;
    ck_assert_int_eq(capv_registry_open(&reg, NULL, NULL, NULL), CAPV_OK);
    capv_verifier_set_registry(v, reg);
    capv_cache *c = NULL;
    ck_assert_int_eq(capv_cache_new(&c, 100, 1 << 24, 0, NULL), CAPV_OK);
    capv_verifier_set_cache(v, c);
    capv_verify_options *o = accept_mock();
    size_t len = 0, irlen = 0;
    uint8_t *zip = tu_read(sample_dir, "sample.zip", &len);
    char *ir = (char *)tu_read(sample_dir, "policies/lksg_v1.ir.json", &irlen);
    const char *ir_hash =
        "sha3-256:df3a3eeb7c72f6204131397e4b0a4b16235f1e20cc66102153ad6d4ee78f892c";
    bool cached = true;
    char *msg = NULL;

    ASSERT_BINDING("warn");
    ck_assert_str_eq(msg, "the policy is unknown to the policy store");
    ck_assert(!cached);
    free(msg);
    ASSERT_BINDING("warn");
    ck_assert(cached);
    free(msg);

    /* a stored copy that is not this policy's IR: not known, and why. Altered after its
     * ir_hash was taken; of an IR version this library does not read (a verdict still, not
     * an error blaming the package); another policy's IR stored under this hash */
    capv_policy *other = NULL;
    const char *other_yaml = "id: other.v1\nversion: '1'\nlegal_basis: [{directive: LkSG}]\n"
                             "description: d\ninputs: {a: {type: hex}}\n"
                             "rules: [{id: r1, op: eq, lhs: a, rhs: a}]\n";
    ck_assert_int_eq(capv_policy_parse(&other, (const uint8_t *)other_yaml, strlen(other_yaml),
                                       CAPV_POLICY_FORMAT_YAML, NULL),
                     CAPV_OK);
    capv_policy_ir *other_ir = NULL;
    ck_assert_int_eq(capv_policy_compile(&other_ir, NULL, other, CAPV_POLICY_LINT_STRICT, NULL),
                     CAPV_OK);
    char *variants[3] = { strdup(ir), strdup(ir),
                          strdup(capv_policy_ir_json(other_ir, CAPV_POLICY_IR_PRETTY, NULL)) };
    const char *variant_hash[3] = { ir_hash, ir_hash, capv_policy_ir_hash(other_ir) };
    const char *why[3] = { "does not hash to its own ir_hash", "ir_version",
                           "the IR is of policy hash" };
    strstr(variants[0], "\"lksg.v1\"")[5] = '2';
    memcpy(strstr(variants[1], "\"1.0\""), "\"9.9\"", 5); /* ir_version */
    for (int k = 0; k < 3; k++) {
        capv_registry_close(reg);
        ck_assert_int_eq(capv_registry_open(&reg, NULL, NULL, NULL), CAPV_OK);
        capv_verifier_set_registry(v, reg);
        ASSERT_BINDING("warn");
        free(msg);
        uint64_t g0 = capv_registry_generation(reg);
        ck_assert_int_eq(store_policy(reg, variants[k], variant_hash[k]), CAPV_OK);
        ck_assert(capv_registry_generation(reg) > g0);
        ASSERT_BINDING("warn");
        ck_assert(!cached);
        ck_assert_msg(strstr(msg, "the registry's copy is damaged") != NULL &&
                          strstr(msg, why[k]) != NULL,
                      "%d: %s", k, msg);
        free(msg);
        free(variants[k]);
    }
    capv_policy_ir_free(other_ir);
    capv_policy_free(other);

    /* the policy itself: known, and strict mode passes it too */
    capv_registry_close(reg);
    reg = NULL;
    ck_assert_int_eq(capv_registry_open(&reg, NULL, NULL, NULL), CAPV_OK);
    capv_verifier_set_registry(v, reg);
    ASSERT_BINDING("warn");
    free(msg);
    ck_assert_int_eq(store_policy(reg, ir, ir_hash), CAPV_OK);
    ASSERT_BINDING("pass");
    ck_assert(!cached);
    free(msg);
    ck_assert_int_eq(capv_verify_options_set(o, CAPV_OPT_STRICT, true, NULL), CAPV_OK);
    ASSERT_BINDING("pass");
    free(msg);

    /* without the registry the verifier knows it no more */
    capv_verifier_set_registry(v, NULL);
    ASSERT_BINDING("fail");
    free(msg);

    free(ir);
    free(zip);
    capv_verify_options_free(o);
    capv_verifier_free(v);
    capv_registry_close(reg);
    capv_cache_free(c);
}
END_TEST

static int64_t clock_at;

static int64_t settable_clock(void *user)
{
    (void)user;
    return clock_at;
}

/* A timestamp token dated after now fails now and passes later: that verdict is not cached,
 * or the cache would serve it on after the token became good. */
START_TEST(token_from_the_future_not_cached)
{
    capv_verifier *v = verifier(true);
    capv_verifier_set_clock(v, settable_clock, NULL);
    capv_cache *c = NULL;
    ck_assert_int_eq(capv_cache_new(&c, 100, 1 << 22, 0, NULL), CAPV_OK);
    capv_verifier_set_cache(v, c);
    capv_verify_options *o = accept_mock();
    size_t len;
    uint8_t *zip = tu_read(sample_dir, "sample.zip", &len);
    capv_report *r = NULL;
    clock_at = 1000; /* 1970: the token's genTime is decades ahead */
    ck_assert_int_eq(capv_verify_zip_memory(&r, v, zip, len, o, NULL), CAPV_OK);
    ck_assert_int_eq(check_of(r, "timestamp"), CAPV_CHECK_FAIL);
    capv_report_free(r);
    ck_assert_uint_eq(capv_cache_counter_get(c, CAPV_CACHE_INSERTS), 0);
    clock_at = fixed_clock(NULL);
    ck_assert_int_eq(capv_verify_zip_memory(&r, v, zip, len, o, NULL), CAPV_OK);
    ck_assert_int_eq(check_of(r, "timestamp"), CAPV_CHECK_PASS);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_OK);
    capv_report_free(r);
    ck_assert_uint_eq(capv_cache_counter_get(c, CAPV_CACHE_INSERTS), 1); /* this one is */
    free(zip);
    capv_verify_options_free(o);
    capv_verifier_free(v);
    capv_cache_free(c);
}
END_TEST

START_TEST(sample_ok)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    char path[4200];
    snprintf(path, sizeof path, "%s/sample.zip", sample_dir);
    capv_report *r = verify_path(v, path, o);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_OK);
    for (size_t i = 0; i < capv_report_check_count(r); i++) {
        const capv_check *c = capv_report_check(r, i);
        /* no registry, and no audit log (audit_log_in_package has one) */
        capv_check_status want =
            strcmp(capv_check_id(c), "registry") == 0 || strcmp(capv_check_id(c), "audit") == 0
                ? CAPV_CHECK_SKIP
                : CAPV_CHECK_PASS;
        ck_assert_msg(capv_check_status_of(c) == want, "%s: %s", capv_check_id(c),
                      capv_check_message(c));
    }
    /* what the manifest calls its policy, for readers of the report (docs/formats.md) */
    const char *pd = capv_check_details(capv_report_find_check(r, "policy.binding"));
    ck_assert_ptr_nonnull(pd);
    ck_assert_msg(strstr(pd, "\"policy_name\":\"LkSG supplier screening\","
                             "\"policy_version\":\"lksg.v1\"") != NULL,
                  "%s", pd);
    capv_report_free(r);
    /* by default a mock proof is only a warning, never ok */
    r = verify_path(v, path, NULL);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_WARN);
    ASSERT_CHECK(r, "proof.backend", CAPV_CHECK_WARN);
    capv_report_free(r);
    ck_assert_int_eq(capv_verify_options_set_mock_policy(o, CAPV_MOCK_FAIL, NULL), CAPV_OK);
    r = verify_path(v, path, o);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    ASSERT_CHECK(r, "proof.backend", CAPV_CHECK_FAIL);
    capv_report_free(r);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* Flips one character of the manifest's policy name (valid JSON stays valid JSON). */
static capv_package *manifest_flipped(const capv_package *src)
{
    size_t len;
    uint8_t *m = member_copy(src, "manifest.json", &len);
    char *at = strstr((char *)m, "LkSG supplier screening");
    ck_assert_ptr_nonnull(at);
    at[0] = 'l';
    capv_package *p = with_member(src, "manifest.json", m, len);
    free(m);
    return p;
}

START_TEST(tamper_manifest_byte)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    capv_package *base = sample();
    capv_package *p = manifest_flipped(base);
    capv_report *r = verify_pkg(v, p, o);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    ASSERT_CHECK(r, "package.integrity", CAPV_CHECK_FAIL);
    ASSERT_CHECK(r, "manifest.signature", CAPV_CHECK_FAIL);
    capv_report_free(r);
    /* the forger re-hashes _meta.json: integrity passes, the signature still fails */
    p = rehash_meta(p);
    r = verify_pkg(v, p, o);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    ASSERT_CHECK(r, "package.integrity", CAPV_CHECK_PASS);
    ASSERT_CHECK(r, "manifest.signature", CAPV_CHECK_FAIL);
    ASSERT_CHECK(r, "proof.binding", CAPV_CHECK_FAIL);
    ASSERT_CHECK(r, "timestamp", CAPV_CHECK_FAIL); /* the token covers the original bytes */
    capv_report_free(r);
    capv_package_free(p);
    capv_package_free(base);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* A proof whose own status is not "ok" (here "no", the same length: the CAPZ payload keeps
 * its size) fails the policy binding, whatever else holds. */
START_TEST(proof_status_not_ok)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    capv_package *base = sample();
    size_t len;
    uint8_t *proof = member_copy(base, "proof.capz", &len);
    uint8_t *at = memmem(proof, len, "\"status\":\"ok\"", 13);
    ck_assert_ptr_nonnull(at);
    memcpy(at + 10, "no", 2);
    capv_package *p = rehash_meta(with_member(base, "proof.capz", proof, len));
    capv_report *r = verify_pkg(v, p, o);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    ASSERT_CHECK(r, "policy.binding", CAPV_CHECK_FAIL);
    ck_assert_str_eq(capv_check_message(capv_report_find_check(r, "policy.binding")),
                     "the proof's status is 'no', not 'ok'");
    capv_report_free(r);
    capv_package_free(p);
    capv_package_free(base);
    free(proof);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

START_TEST(tamper_proof_swapped)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    capv_package *base = sample();
    size_t len;
    uint8_t *other = tu_read(tu_shared_dir(), "peer/packages/multi-unit/proof_0.capz", &len);
    capv_package *p = rehash_meta(with_member(base, "proof.capz", other, len));
    capv_report *r = verify_pkg(v, p, o);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    ASSERT_CHECK(r, "package.integrity", CAPV_CHECK_PASS);
    ASSERT_CHECK(r, "manifest.signature", CAPV_CHECK_PASS);
    ASSERT_CHECK(r, "proof.binding", CAPV_CHECK_FAIL);
    capv_report_free(r);
    capv_package_free(p);
    capv_package_free(base);
    free(other);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* Re-signs the committed unsigned template with a key the verifier does not trust. */
START_TEST(tamper_untrusted_signer)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    capv_package *base = sample();
    size_t len, slen;
    char rel[256];
    snprintf(rel, sizeof rel, "examples/packages/sample/manifest.json");
    uint8_t *tmpl = tu_read(CAPV_SOURCE_DIR, rel, &len);
    capv_signing_key *k = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&k, NULL), CAPV_OK);
    uint8_t *signed_m = NULL;
    ck_assert_int_eq(capv_manifest_sign(&signed_m, &slen, tmpl, len, k, "Mallory", NULL), CAPV_OK);
    capv_package *resigned = with_member(base, "manifest.json", signed_m, slen);
    capv_package *p = rehash_meta(with_member(resigned, "timestamp.tsr", NULL, 0));
    capv_package_free(resigned);
    capv_report *r = verify_pkg(v, p, o);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    ASSERT_CHECK(r, "package.integrity", CAPV_CHECK_PASS);
    ASSERT_CHECK(r, "proof.binding", CAPV_CHECK_PASS); /* same canonical bytes */
    ASSERT_CHECK(r, "manifest.signature", CAPV_CHECK_FAIL);
    ck_assert_ptr_nonnull(
        strstr(capv_check_message(capv_report_find_check(r, "manifest.signature")),
               "not in the trust store"));
    capv_report_free(r);
    /* --allow-untrusted turns it into a warning, never into ok */
    ck_assert_int_eq(capv_verify_options_set(o, CAPV_OPT_ALLOW_UNTRUSTED, 1, NULL), CAPV_OK);
    r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "manifest.signature", CAPV_CHECK_WARN);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_WARN);
    capv_report_free(r);
    capv_package_free(p);
    capv_package_free(base);
    capv_signing_key_free(k);
    capv_free(signed_m);
    free(tmpl);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* The sample co-signed by a second key that the trust store holds as revoked: the trusted
 * signature does not cover for it. */
START_TEST(revoked_cosigner_fails)
{
    capv_package *base = sample();
    size_t len, slen;
    uint8_t *m = member_copy(base, "manifest.json", &len);
    capv_signing_key *k = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&k, NULL), CAPV_OK);
    uint8_t *signed_m = NULL;
    ck_assert_int_eq(capv_manifest_sign(&signed_m, &slen, m, len, k, "Mallory", NULL), CAPV_OK);
    capv_package *p = rehash_meta(with_member(base, "manifest.json", signed_m, slen));
    char dir[] = "/tmp/capv-trust-XXXXXX", path[512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *json = NULL;
    ck_assert_int_eq(
        capv_signing_key_cap_key_json(&json, k, "Mallory", 0, INT64_MIN, INT64_MAX, NULL), CAPV_OK);
    cJSON *kj = NULL;
    ck_assert_int_eq(capvi_json_parse(&kj, (const uint8_t *)json, strlen(json), NULL), CAPV_OK);
    cJSON_ReplaceItemInObjectCaseSensitive(kj, "status", cJSON_CreateString("revoked"));
    char *text = cJSON_Print(kj);
    snprintf(path, sizeof path, "%s/mallory.json", dir);
    tu_write_file(path, text);
    size_t klen;
    uint8_t *sample_key = tu_read(tu_fixtures_dir(), "sample/trust/sample-signer.json", &klen);
    char path2[512];
    snprintf(path2, sizeof path2, "%s/sample-signer.json", dir);
    tu_write_file(path2, (const char *)sample_key);
    capv_verifier *v = verifier(true);
    ck_assert_int_eq(capv_verifier_load_trust(v, dir, NULL), CAPV_OK);
    capv_verify_options *o = accept_mock();
    capv_report *r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "manifest.signature", CAPV_CHECK_FAIL);
    ck_assert_str_eq(capv_check_message(capv_report_find_check(r, "manifest.signature")),
                     "1 signature(s) by a revoked or out-of-window key; Mallory: key revoked");
    capv_report_free(r);
    ck_assert_int_eq(tu_remove_tree(dir), 0);
    free(sample_key);
    cJSON_free(text);
    cJSON_Delete(kj);
    capv_free(json);
    capv_package_free(p);
    capv_package_free(base);
    capv_signing_key_free(k);
    capv_free(signed_m);
    free(m);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* A trust store holding the sample signer's key with another status or window (a NULL bound:
 * none). */
static capv_verifier *verifier_with_key_json(const char *status, const char *from, const char *to)
{
    size_t len;
    char rel[256];
    snprintf(rel, sizeof rel, "sample/trust/sample-signer.json");
    uint8_t *json = tu_read(tu_fixtures_dir(), rel, &len);
    cJSON *k = NULL;
    ck_assert_int_eq(capvi_json_parse(&k, json, len, NULL), CAPV_OK);
    cJSON_ReplaceItemInObjectCaseSensitive(k, "status", cJSON_CreateString(status));
    /* NULL: no bound */
    cJSON_DeleteItemFromObjectCaseSensitive(k, "valid_from");
    cJSON_DeleteItemFromObjectCaseSensitive(k, "valid_to");
    if (from != NULL)
        cJSON_AddItemToObject(k, "valid_from", cJSON_CreateString(from));
    if (to != NULL)
        cJSON_AddItemToObject(k, "valid_to", cJSON_CreateString(to));
    char dir[] = "/tmp/capv-trust-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/key.json", dir);
    FILE *f = fopen(path, "w");
    char *text = cJSON_Print(k);
    fputs(text, f);
    fclose(f);
    free(text);
    cJSON_Delete(k);
    free(json);
    capv_verifier *v = verifier(true);
    ck_assert_int_eq(capv_verifier_load_trust(v, dir, NULL), CAPV_OK);
    unlink(path);
    rmdir(dir);
    return v;
}

START_TEST(tamper_key_status_and_window)
{
    static const struct {
        const char *status, *from, *to;
        capv_check_status want;
    } cases[] = {
        { "revoked", "2026-01-01T00:00:00Z", "2035-12-30T00:00:00Z", CAPV_CHECK_FAIL },
        { "active", "2026-04-01T00:00:00Z", "2035-12-30T00:00:00Z", CAPV_CHECK_FAIL },
        { "active", "2025-01-01T00:00:00Z", "2026-03-01T00:00:00Z", CAPV_CHECK_FAIL },
        { "retired", "2025-01-01T00:00:00Z", "2026-06-01T00:00:00Z", CAPV_CHECK_PASS },
        { "active", "2026-03-02T09:30:00Z", "2026-03-02T09:30:00Z", CAPV_CHECK_PASS },
    };
    capv_verifier *v = verifier_with_key_json(cases[_i].status, cases[_i].from, cases[_i].to);
    capv_verify_options *o = accept_mock();
    ck_assert_int_eq(capv_verify_options_set(o, CAPV_OPT_ALLOW_UNTRUSTED, 1, NULL),
                     CAPV_OK); /* must not rescue these */
    capv_package *p = sample();
    capv_report *r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "manifest.signature", cases[_i].want);
    ck_assert_int_eq(capv_report_verdict(r),
                     cases[_i].want == CAPV_CHECK_PASS ? CAPV_VERDICT_OK : CAPV_VERDICT_FAIL);
    capv_report_free(r);
    capv_package_free(p);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

START_TEST(tamper_unlisted_member)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    capv_package *base = sample();
    capv_package *p = with_member(base, "verifier.wasm", (const uint8_t *)"\0asm", 4);
    capv_report *r = verify_pkg(v, p, o);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_WARN);
    ASSERT_CHECK(r, "package.integrity", CAPV_CHECK_WARN);
    ck_assert_ptr_nonnull(strstr(capv_check_message(capv_report_find_check(r, "package.integrity")),
                                 "never executed"));
    capv_report_free(r);
    capv_package_free(p);
    capv_package_free(base);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

START_TEST(tamper_timestamp_other_data)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    capv_package *base = sample();
    /* a genuine token from the same TSA, but over other data */
    char path[4300];
    snprintf(path, sizeof path, "%s/tsa/other.tsr", sample_dir);
    char cmd[20000];
    snprintf(cmd, sizeof cmd, "%s/tests/tools/make_tsa.sh %s/tsa --stamp %s/sample/proof.capz %s",
             CAPV_SOURCE_DIR, sample_dir, sample_dir, path);
    ck_assert_int_eq(system(cmd), 0);
    size_t len;
    uint8_t *tok = tu_read(sample_dir, "tsa/other.tsr", &len);
    capv_package *p = rehash_meta(with_member(base, "timestamp.tsr", tok, len));
    capv_report *r = verify_pkg(v, p, o);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    ASSERT_CHECK(r, "timestamp", CAPV_CHECK_FAIL);
    ck_assert_ptr_nonnull(
        strstr(capv_check_details(capv_report_find_check(r, "timestamp")), "mismatch"));
    ASSERT_CHECK(r, "manifest.signature", CAPV_CHECK_PASS);
    capv_report_free(r);
    capv_package_free(p);
    capv_package_free(base);
    free(tok);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* The token is the first present member with role "timestamp", else timestamp.tsr: a listed
 * token that is absent (optional) does not hide the one that is there, and an invalid one
 * fails rather than being skipped. */
START_TEST(timestamp_role_of_absent_member)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    capv_package *base = sample();
    static const uint8_t junk[] = "not an RFC 3161 token";
    capv_package *p = with_member(base, "timestamp.tsr", junk, sizeof junk - 1);
    const uint8_t *meta;
    size_t len;
    ck_assert_int_eq(capv_package_find(&meta, &len, p, "_meta.json", NULL), CAPV_OK);
    cJSON *root = NULL;
    ck_assert_int_eq(capvi_json_parse(&root, meta, len, NULL), CAPV_OK);
    cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    cJSON *tsr = cJSON_GetObjectItemCaseSensitive(files, "timestamp.tsr");
    uint8_t h[32];
    char hex[CAPV_DIGEST_HEX_SIZE];
    ck_assert_int_eq(capv_hash(h, CAPV_HASH_SHA3_256, junk, sizeof junk - 1, NULL), CAPV_OK);
    capv_digest_format(hex, h);
    cJSON_ReplaceItemInObjectCaseSensitive(tsr, "role", cJSON_CreateString("other"));
    cJSON_ReplaceItemInObjectCaseSensitive(tsr, "hash", cJSON_CreateString(hex));
    cJSON_ReplaceItemInObjectCaseSensitive(tsr, "size", cJSON_CreateNumber(sizeof junk - 1));
    cJSON *absent = cJSON_CreateObject();
    cJSON_AddStringToObject(absent, "role", "timestamp");
    cJSON_AddStringToObject(absent, "hash", hex);
    cJSON_AddBoolToObject(absent, "optional", 1);
    cJSON_AddItemToObject(files, "stamp.tsr", absent);
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_pretty(&b, root);
    size_t nlen;
    uint8_t *nmeta = capvi_buf_take(&b, &nlen);
    capv_package *q = with_member(p, "_meta.json", nmeta, nlen);
    capv_report *r = verify_pkg(v, q, o);
    ASSERT_CHECK(r, "package.integrity", CAPV_CHECK_PASS);
    ASSERT_CHECK(r, "timestamp", CAPV_CHECK_FAIL);
    capv_report_free(r);
    capv_package_free(q);
    free(nmeta);
    cJSON_Delete(root);
    capv_package_free(p);
    capv_package_free(base);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

START_TEST(tamper_timestamp_other_tsa)
{
    /* the configured roots are another CA: our TSA's token is not trusted */
    capv_verifier *v = verifier(true);
    char path[4300];
    snprintf(path, sizeof path, "%s/tsa/other_ca.pem", tu_fixtures_dir());
    ck_assert_int_eq(capv_verifier_load_tsa_roots(v, path, NULL), CAPV_OK);
    capv_verify_options *o = accept_mock();
    capv_package *p = sample();
    capv_report *r = verify_pkg(v, p, o);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    ASSERT_CHECK(r, "timestamp", CAPV_CHECK_FAIL);
    ck_assert_ptr_nonnull(
        strstr(capv_check_details(capv_report_find_check(r, "timestamp")), "untrusted"));
    capv_report_free(r);
    capv_package_free(p);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* Registry JSON (docs/registry.md, "Entry signatures"): entries signed by the sample key over
 * BLAKE3 of the compact entry JSON. */
static void write_registry(const char *path, const capv_package *p, bool sign, bool corrupt,
                           const char *at)
{
    const uint8_t *m, *pr;
    size_t ml, pl;
    ck_assert_int_eq(capv_package_find(&m, &ml, p, "manifest.json", NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_find(&pr, &pl, p, "proof.capz", NULL), CAPV_OK);
    uint8_t mh[32], ph[32];
    ck_assert_int_eq(capv_hash(mh, CAPV_HASH_SHA3_256, m, ml, NULL), CAPV_OK);
    ck_assert_int_eq(capv_hash(ph, CAPV_HASH_SHA3_256, pr, pl, NULL), CAPV_OK);
    char mhex[CAPV_DIGEST_HEX_SIZE], phex[CAPV_DIGEST_HEX_SIZE];
    capv_digest_format(mhex, mh);
    capv_digest_format(phex, ph);
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"id\":\"e1\",\"manifest_hash\":\"%s\",\"proof_hash\":\"%s\","
             "\"timestamp_file\":null,\"registered_at\":\"%s\"}",
             mhex, phex, at);
    char sig_b64[100] = "", pub_b64[60] = "";
    if (sign) {
        capv_signing_key *k = NULL;
        char kp[4300];
        snprintf(kp, sizeof kp, "%s/keys/sample-signer.key", sample_dir);
        ck_assert_int_eq(capv_signing_key_load(&k, kp, NULL), CAPV_OK);
        uint8_t d[32], sig[64], pub[32];
        ck_assert_int_eq(capv_hash(d, CAPV_HASH_BLAKE3, (const uint8_t *)msg, strlen(msg), NULL),
                         CAPV_OK);
        ck_assert_int_eq(capv_signing_key_sign(sig, k, d, 32, NULL), CAPV_OK);
        if (corrupt)
            sig[10] ^= 1;
        capv_signing_key_public(pub, k);
        ck_assert_int_eq(
            capv_base64_encode(sig_b64, sizeof sig_b64, NULL, sig, 64, CAPV_BASE64_STD, NULL),
            CAPV_OK);
        ck_assert_int_eq(
            capv_base64_encode(pub_b64, sizeof pub_b64, NULL, pub, 32, CAPV_BASE64_STD, NULL),
            CAPV_OK);
        capv_signing_key_free(k);
    }
    FILE *f = fopen(path, "w");
    fprintf(f,
            "{\"registry_version\":\"1.0\",\"entries\":[{\"id\":\"e1\",\"manifest_hash\":\"%s\","
            "\"proof_hash\":\"%s\",\"timestamp_file\":null,\"registered_at\":\"%s\"",
            mhex, phex, at);
    if (sign)
        fprintf(f, ",\"signature\":\"%s\",\"public_key\":\"%s\",\"signature_scheme\":\"ed25519\"",
                sig_b64, pub_b64);
    fprintf(f, "}]}");
    fclose(f);
}

START_TEST(registry_entries)
{
    /* the signer's key as the trust store holds it (key NULL: the sample's store as it is;
     * "none": an empty store); the entry was registered on 2026-03-03 */
    static const struct {
        bool sign, corrupt;
        const char *key, *from, *to;
        capv_check_status want;
        const char *says;
        const char *registered_at; /* NULL: 2026-03-03T00:00:00Z */
    } cases[] = {
        { true, false, NULL, NULL, NULL, CAPV_CHECK_PASS, "validly signed by a trusted key", NULL },
        { true, true, NULL, NULL, NULL, CAPV_CHECK_FAIL, "invalid signature", NULL },
        { false, false, NULL, NULL, NULL, CAPV_CHECK_WARN, "unsigned", NULL },
        { true, false, "none", NULL, NULL, CAPV_CHECK_WARN, "by a key not in the trust store",
          NULL },
        { true, false, "revoked", "2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z", CAPV_CHECK_FAIL,
          "by a revoked key", NULL },
        { true, false, "active", "2020-01-01T00:00:00Z", "2026-03-02T23:59:59Z", CAPV_CHECK_WARN,
          "by a key no longer valid when it was registered", NULL },
        { true, false, "active", "2026-03-03T00:00:01Z", "2030-01-01T00:00:00Z", CAPV_CHECK_WARN,
          "by a key not yet valid when it was registered", NULL },
        { true, false, "retired", "2020-01-01T00:00:00Z", "2026-03-03T00:00:00Z", CAPV_CHECK_PASS,
          "validly signed by a trusted key", NULL },
        /* registered_at not a time: the window cannot be judged */
        { true, false, "active", NULL, "2026-03-02T23:59:59Z", CAPV_CHECK_WARN,
          "its registered_at, not a time, cannot be judged by", "sometime" },
        { true, false, "active", NULL, NULL, CAPV_CHECK_PASS, "validly signed by a trusted key",
          "sometime" },
    };
    capv_verifier *v = cases[_i].key == NULL ? verifier(true)
                       : strcmp(cases[_i].key, "none") == 0
                           ? verifier(false)
                           : verifier_with_key_json(cases[_i].key, cases[_i].from, cases[_i].to);
    capv_verify_options *o = accept_mock();
    capv_package *p = sample();
    char path[] = "/tmp/capv-registry-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    write_registry(path, p, cases[_i].sign, cases[_i].corrupt,
                   cases[_i].registered_at ? cases[_i].registered_at : "2026-03-03T00:00:00Z");
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_verifier_load_registry_json(v, path, &err) == CAPV_OK, "%s", err.message);
    capv_report *r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "registry", cases[_i].want);
    const char *says = capv_check_message(capv_report_find_check(r, "registry"));
    ck_assert_msg(strstr(says, cases[_i].says) != NULL, "%s", says);
    capv_report_free(r);
    /* a package with no entry: skip, or warn when the registry check is required */
    capv_package *other = manifest_flipped(p);
    r = verify_pkg(v, other, o);
    ASSERT_CHECK(r, "registry", CAPV_CHECK_SKIP);
    capv_report_free(r);
    ck_assert_int_eq(capv_verify_options_set(o, CAPV_OPT_CHECK_REGISTRY, 1, NULL), CAPV_OK);
    r = verify_pkg(v, other, o);
    ASSERT_CHECK(r, "registry", CAPV_CHECK_WARN);
    capv_report_free(r);
    capv_package_free(other);
    unlink(path);
    capv_package_free(p);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* An entry's look-up keys changed behind its signature (which covers the hashes as text) so
 * that it is found for another package: that package must not pass by it. */
START_TEST(registry_entry_keys_changed)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    capv_package *p = sample(), *other = manifest_flipped(p);
    char dir[256], json[320], db[320];
    tu_temp_dir(dir, sizeof dir, "capvkeys");
    snprintf(json, sizeof json, "%s/r.json", dir);
    snprintf(db, sizeof db, "%s/r.sqlite", dir);
    write_registry(json, p, true, false, "2026-03-03T00:00:00Z");
    capv_registry *reg = tu_registry_open(db, CAPV_REGISTRY_CREATE);
    size_t len;
    uint8_t *text = tu_read(dir, "r.json", &len);
    ck_assert_int_eq(capv_registry_import_json(NULL, NULL, reg, text, len, 0, NULL, NULL, NULL),
                     CAPV_OK);
    free(text);
    capv_registry_close(reg);
    const uint8_t *m;
    size_t ml;
    uint8_t mk[32];
    ck_assert_int_eq(capv_package_find(&m, &ml, other, "manifest.json", NULL), CAPV_OK);
    ck_assert_int_eq(capv_hash(mk, CAPV_HASH_SHA3_256, m, ml, NULL), CAPV_OK);
    sqlite3 *raw = NULL;
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(raw, "UPDATE entries SET manifest_key = ?", -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(s, 1, mk, 32, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(raw);
    ck_assert_int_eq(capv_verifier_load_registry(v, db, NULL), CAPV_OK);
    capv_report *r = verify_pkg(v, other, o);
    ASSERT_CHECK(r, "registry", CAPV_CHECK_FAIL);
    const char *says = capv_check_message(capv_report_find_check(r, "registry"));
    ck_assert_msg(strstr(says, "not this package's") != NULL, "%s", says);
    capv_report_free(r);
    capv_verifier_free(v);
    tu_remove_tree(dir);
    capv_package_free(other);
    capv_package_free(p);
    capv_verify_options_free(o);
}
END_TEST

/* A registry that cannot be read (here its file overwritten behind the open handle): the
 * registry check warns that it could not look, with the reason, and the report is not
 * cached (docs/registry.md, "The registry out of reach"); it is no 503-like failure. */
START_TEST(registry_out_of_reach)
{
    capv_verifier *v = verifier(true);
    /* v2 knows no policy: policy.binding asks the registry's policy store */
    capv_verifier *v2 = verifier(false);
    char trust[4200];
    snprintf(trust, sizeof trust, "%s/trust", sample_dir);
    ck_assert_int_eq(capv_verifier_load_trust(v2, trust, NULL), CAPV_OK);
    capv_verify_options *o = accept_mock();
    capv_package *p = sample();
    char dir[256], db[320];
    tu_temp_dir(dir, sizeof dir, "capvreach");
    snprintf(db, sizeof db, "%s/r.sqlite", dir);
    capv_registry_close(tu_registry_open(db, CAPV_REGISTRY_CREATE));
    ck_assert_int_eq(capv_verifier_load_registry(v, db, NULL), CAPV_OK);
    ck_assert_int_eq(capv_verifier_load_registry(v2, db, NULL), CAPV_OK);
    struct stat st;
    ck_assert_int_eq(stat(db, &st), 0);
    FILE *f = fopen(db, "r+");
    ck_assert_ptr_nonnull(f);
    for (off_t i = 0; i < st.st_size; i++)
        fputc('x', f);
    fclose(f);
    capv_report *r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "registry", CAPV_CHECK_WARN);
    const capv_check *c = capv_report_find_check(r, "registry");
    ck_assert_msg(strstr(capv_check_message(c), "the registry cannot be read") != NULL, "%s",
                  capv_check_message(c));
    char *json = NULL;
    ck_assert_int_eq(capv_report_to_json(&json, NULL, r, 0, NULL), CAPV_OK);
    ck_assert_msg(strstr(json, "\"error\":\"storage\"") != NULL, "%s", json);
    free(json);
    capv_report_free(r);
    /* policy.binding warns, and fails under strict (an unknown policy fails there) */
    r = verify_pkg(v2, p, o);
    ASSERT_CHECK(r, "policy.binding", CAPV_CHECK_WARN);
    c = capv_report_find_check(r, "policy.binding");
    ck_assert_msg(strstr(capv_check_message(c), "the registry cannot be read") != NULL, "%s",
                  capv_check_message(c));
    capv_report_free(r);
    ck_assert_int_eq(capv_verify_options_set(o, CAPV_OPT_STRICT, 1, NULL), CAPV_OK);
    r = verify_pkg(v2, p, o);
    ASSERT_CHECK(r, "policy.binding", CAPV_CHECK_FAIL);
    ASSERT_CHECK(r, "registry", CAPV_CHECK_WARN);
    capv_report_free(r);
    capv_verifier_free(v);
    capv_verifier_free(v2);
    tu_remove_tree(dir);
    capv_package_free(p);
    capv_verify_options_free(o);
}
END_TEST

/* Same input, verifier and options: the same report (apart from time and duration). */
START_TEST(report_deterministic)
{
    capv_verifier *v = verifier(true);
    capv_package *p = sample();
    char *a = NULL, *b = NULL;
    for (int i = 0; i < 2; i++) {
        capv_report *r = verify_pkg(v, p, NULL);
        ck_assert_int_eq(capv_report_to_json(i ? &b : &a, NULL, r, 0, NULL), CAPV_OK);
        capv_report_free(r);
    }
    char *da = strstr(a, "\"duration_ms\""), *db = strstr(b, "\"duration_ms\"");
    ck_assert_ptr_nonnull(da);
    ck_assert_ptr_nonnull(db);
    *da = *db = '\0';
    ck_assert_str_eq(a, b);
    ck_assert_ptr_nonnull(strstr(a, "\"verified_at\":\"2100-01-01T00:00:00.000Z\""));
    ck_assert_ptr_nonnull(strstr(a, "\"result\":\"warn\""));
    capv_free(a);
    capv_free(b);
    capv_package_free(p);
    capv_verifier_free(v);
}
END_TEST

START_TEST(not_a_package)
{
    capv_verifier *v = verifier(false);
    capv_package *p = NULL;
    ck_assert_int_eq(capv_package_new(&p, NULL, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_add_member(p, "readme.txt", (const uint8_t *)"hi", 2, NULL),
                     CAPV_OK);
    capv_report *r = (capv_report *)1;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_verify_package(&r, v, p, NULL, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(err.message, "not a CAP package"));
    ck_assert_int_eq(capv_verify_path(&r, v, "/nonexistent/pkg.zip", NULL, &err), CAPV_E_NOT_FOUND);
    capv_package_free(p);
    capv_verifier_free(v);
}
END_TEST

/* ---- memory (docs/architecture.md, "Packages") ----------------------------------------- */

/* A copy of `src` whose limits allow `verify_bytes` for verification, plus `extra` unlisted
 * members. */
static capv_package *with_budget(const capv_package *src, uint64_t verify_bytes, size_t extra)
{
    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_VERIFY_BYTES, verify_bytes, NULL),
                     CAPV_OK);
    capv_package *p = NULL;
    ck_assert_int_eq(capv_package_new(&p, l, NULL), CAPV_OK);
    capv_package_limits_free(l);
    for (size_t i = 0; i < capv_package_member_count(src); i++) {
        size_t n;
        const uint8_t *d = capv_package_member_data(src, i, &n);
        ck_assert_int_eq(capv_package_add_member(p, capv_package_member_name(src, i), d, n, NULL),
                         CAPV_OK);
    }
    for (size_t i = 0; i < extra; i++) {
        char name[64];
        snprintf(name, sizeof name, "evidence/unlisted-%04zu.txt", i);
        ck_assert_int_eq(capv_package_add_member(p, name, (const uint8_t *)"x", 1, NULL), CAPV_OK);
    }
    return p;
}

static bool memory_failure(const capv_check *c)
{
    return capv_check_status_of(c) == CAPV_CHECK_FAIL &&
           strstr(capv_check_message(c), "more memory than the verification limit") != NULL;
}

/* Shrinking the verification budget never changes what a check finds: a member that does not
 * fit fails its own check with a message saying so (its dependents skip), and report details
 * that do not fit are left out and counted. */
START_TEST(memory_budget_never_changes_findings)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    capv_package *base = sample();
    capv_package *p = with_budget(base, CAPV_DEFAULT_MAX_VERIFY_BYTES, 300);
    capv_report *control = verify_pkg(v, p, o);
    capv_package_free(p);
    ck_assert_int_eq(capv_report_verdict(control), CAPV_VERDICT_WARN); /* the unlisted members */
    ASSERT_CHECK(control, "package.integrity", CAPV_CHECK_WARN);
    ASSERT_CHECK(control, "timestamp", CAPV_CHECK_PASS);
    ck_assert_ptr_null(strstr(
        capv_check_details(capv_report_find_check(control, "package.integrity")), "_omitted"));
    bool omitted = false, failed[5] = { false };
    static const char *const readers[] = { "package.layout", "manifest.schema", "proof.container",
                                           "timestamp" };
    for (uint64_t budget = 1024 * 1024; budget >= 4096; budget -= 4096) {
        p = with_budget(base, budget, 300);
        capv_report *r = verify_pkg(v, p, o);
        const char *why = NULL;
        for (size_t k = 0; k < 4; k++) {
            const capv_check *c = capv_report_find_check(r, readers[k]);
            if (c != NULL && memory_failure(c)) {
                failed[k] = true;
                why = readers[k];
            }
        }
        if (why == NULL) {
            /* nothing failed for memory: every check as in the control */
            ck_assert_uint_eq(capv_report_check_count(r), capv_report_check_count(control));
            for (size_t i = 0; i < capv_report_check_count(r); i++) {
                const capv_check *c = capv_report_check(r, i), *w = capv_report_check(control, i);
                ck_assert_str_eq(capv_check_id(c), capv_check_id(w));
                ck_assert_msg(capv_check_status_of(c) == capv_check_status_of(w),
                              "budget %llu: %s is %s: %s", (unsigned long long)budget,
                              capv_check_id(c), capv_check_status_name(capv_check_status_of(c)),
                              capv_check_message(c));
            }
            if (strstr(capv_check_details(capv_report_find_check(r, "package.integrity")),
                       "\"unlisted_omitted\":") != NULL)
                omitted = true;
        } else {
            ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
            for (size_t i = 0; i < capv_report_check_count(r); i++) {
                const capv_check *c = capv_report_check(r, i);
                capv_check_status want =
                    capv_check_status_of(capv_report_find_check(control, capv_check_id(c)));
                ck_assert_msg(capv_check_status_of(c) == want || memory_failure(c) ||
                                  capv_check_status_of(c) == CAPV_CHECK_SKIP,
                              "budget %llu: %s is %s: %s", (unsigned long long)budget,
                              capv_check_id(c), capv_check_status_name(capv_check_status_of(c)),
                              capv_check_message(c));
            }
        }
        capv_report_free(r);
        capv_package_free(p);
    }
    ck_assert_msg(omitted, "no budget left details out");
    ck_assert_msg(failed[0] && failed[1] && failed[2] && failed[3],
                  "failures seen: layout %d, manifest %d, proof %d, timestamp %d", failed[0],
                  failed[1], failed[2], failed[3]);
    capv_report_free(control);
    capv_package_free(base);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* A zip writer for packages too large to hold expanded in the test either. */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} mbuf;

static void mb_put(mbuf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        ck_assert_ptr_nonnull(p);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void mb_le(mbuf *b, uint32_t v, size_t n)
{
    uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    mb_put(b, x, n);
}

typedef struct {
    mbuf z, cd;
    uint32_t n;
} mzip;

static void mzip_add(mzip *w, const char *name, const uint8_t *d, size_t len, bool deflated)
{
    uLong cap = compressBound((uLong)len) + 64;
    uint8_t *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    size_t clen = len;
    if (deflated) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
        zs.next_in = (Bytef *)(uintptr_t)d;
        zs.avail_in = (uInt)len;
        zs.next_out = out;
        zs.avail_out = (uInt)cap;
        ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
        clen = zs.total_out;
        deflateEnd(&zs);
    } else {
        memcpy(out, d, len);
    }
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), d, (uInt)len);
    uint32_t offset = (uint32_t)w->z.len, nl = (uint32_t)strlen(name);
    for (int central = 0; central < 2; central++) {
        mbuf *b = central ? &w->cd : &w->z;
        mb_le(b, central ? 0x02014b50u : 0x04034b50u, 4);
        if (central)
            mb_le(b, 3u << 8 | 20, 2);
        mb_le(b, 20, 2);
        mb_le(b, 0, 2);
        mb_le(b, deflated ? 8 : 0, 2);
        mb_le(b, 0, 2);
        mb_le(b, 0x21, 2);
        mb_le(b, crc, 4);
        mb_le(b, (uint32_t)clen, 4);
        mb_le(b, (uint32_t)len, 4);
        mb_le(b, nl, 2);
        mb_le(b, 0, 2);
        if (central) {
            mb_le(b, 0, 4); /* comment, disk */
            mb_le(b, 0, 2);
            mb_le(b, (uint32_t)0100644 << 16, 4);
            mb_le(b, offset, 4);
        }
        mb_put(b, name, nl);
    }
    mb_put(&w->z, out, clen);
    free(out);
    w->n++;
}

static uint8_t *mzip_finish(mzip *w, size_t *len)
{
    uint32_t start = (uint32_t)w->z.len;
    mb_put(&w->z, w->cd.p, w->cd.len);
    mb_le(&w->z, 0x06054b50u, 4);
    mb_le(&w->z, 0, 4);
    mb_le(&w->z, w->n, 2);
    mb_le(&w->z, w->n, 2);
    mb_le(&w->z, (uint32_t)w->cd.len, 4);
    mb_le(&w->z, start, 4);
    mb_le(&w->z, 0, 2);
    free(w->cd.p);
    *len = w->z.len;
    return w->z.p;
}

/* Text of 8-word lines, each written 16 times: deflate makes about 40:1 of it. */
static void fill_text(uint8_t *d, size_t len, unsigned seed)
{
    static const char *const words[16] = { "supplier", "ubo",  "region", "EU",     "DE",   "FR",
                                           "status",   "ok",   "audit",  "record", "hash", "lksg",
                                           "policy",   "risk", "low",    "high" };
    uint64_t s = seed + 1u;
    size_t at = 0;
    while (at < len) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        char line[128];
        size_t ll = 0;
        for (int k = 0; k < 8; k++)
            ll += (size_t)snprintf(line + ll, sizeof line - ll, "%s%s", k ? " " : "",
                                   words[(s >> (8 + 4 * k)) & 15]);
        line[ll++] = '\n';
        for (int r = 0; r < 16 && at < len; r++) {
            size_t n = ll < len - at ? ll : len - at;
            memcpy(d + at, line, n);
            at += n;
        }
    }
}

/* The sample's members plus `parts` listed 1 MiB text members, as a deflated zip. */
static uint8_t *big_sample_zip(size_t parts, size_t *len)
{
    capv_package *s = sample();
    mzip w;
    memset(&w, 0, sizeof w);
    size_t mlen;
    const uint8_t *meta = NULL;
    ck_assert_int_eq(capv_package_find(&meta, &mlen, s, "_meta.json", NULL), CAPV_OK);
    cJSON *root = NULL;
    ck_assert_int_eq(capvi_json_parse(&root, meta, mlen, NULL), CAPV_OK);
    cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    uint8_t *part = malloc(1024 * 1024);
    ck_assert_ptr_nonnull(part);
    for (size_t i = 0; i < parts; i++) {
        char name[64], hex[CAPV_DIGEST_HEX_SIZE];
        uint8_t h[32];
        snprintf(name, sizeof name, "evidence/part-%02zu.txt", i);
        fill_text(part, 1024 * 1024, (unsigned)i);
        mzip_add(&w, name, part, 1024 * 1024, true);
        ck_assert_int_eq(capv_hash(h, CAPV_HASH_SHA3_256, part, 1024 * 1024, NULL), CAPV_OK);
        capv_digest_format(hex, h);
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "role", "evidence");
        cJSON_AddStringToObject(f, "hash", hex);
        cJSON_AddNumberToObject(f, "size", 1024 * 1024);
        cJSON_AddItemToObject(files, name, f);
    }
    free(part);
    for (size_t i = 0; i < capv_package_member_count(s); i++) {
        size_t n;
        const uint8_t *d = capv_package_member_data(s, i, &n);
        if (strcmp(capv_package_member_name(s, i), "_meta.json") != 0)
            mzip_add(&w, capv_package_member_name(s, i), d, n, true);
    }
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_pretty(&b, root);
    size_t nlen;
    uint8_t *nmeta = capvi_buf_take(&b, &nlen);
    mzip_add(&w, "_meta.json", nmeta, nlen, true);
    free(nmeta);
    cJSON_Delete(root);
    capv_package_free(s);
    return mzip_finish(&w, len);
}

/* RSS cannot be measured under valgrind or AddressSanitizer (their own memory). */
static bool rss_measurable(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return false;
#elif defined(RUNNING_ON_VALGRIND)
    return !RUNNING_ON_VALGRIND;
#else
    return true;
#endif
}

static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, kl) == 0 && line[kl] == ':')
            v = atol(line + kl + 1);
    fclose(f);
    ck_assert_int_ge(v, 0);
    return v;
}

/* Resets the peak RSS (VmHWM) to the current RSS and returns that, in KiB. */
static long reset_peak(void)
{
    malloc_trim(0);
    FILE *f = fopen("/proc/self/clear_refs", "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs("5", f), 0);
    ck_assert_int_eq(fclose(f), 0);
    return status_kib("VmRSS");
}

/* A 1.5 MB zip whose members expand to 60 MiB verifies with a peak RSS growth of a few MiB,
 * not the 60 MiB that holding every member cost (bench/bench_memory prints the figures), and
 * within capv_package_memory_bound. */
START_TEST(memory_streamed_verification)
{
    bool measure = rss_measurable();
    size_t parts = measure ? 60 : 3, len;
    uint8_t *zip = big_sample_zip(parts, &len);
    if (measure)
        ck_assert_uint_lt(len, 2 * 1024 * 1024);
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    uint64_t bound = 0;
    ck_assert_int_eq(capv_package_memory_bound(&bound, NULL, len, NULL), CAPV_OK);
    long before = measure ? reset_peak() : 0;
    char *json = NULL;
    capv_verdict verdict;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_verify_zip_memory_json(&json, NULL, &verdict, NULL, v, zip, len, o, 0,
                                              &err) == CAPV_OK,
                  "%s", err.message);
    long growth = measure ? status_kib("VmHWM") - before : 0;
    ck_assert_int_eq(verdict, CAPV_VERDICT_OK);
    char want[64];
    snprintf(want, sizeof want, "\"verified\":%zu", parts + 3);
    ck_assert_msg(strstr(json, want) != NULL, "%s", json);
    if (measure) {
        fprintf(stderr,
                "memory_streamed_verification: %zu-byte zip expanding to %zu MiB: peak "
                "RSS growth %ld KiB, bound %llu KiB\n",
                len, parts, growth, (unsigned long long)(bound / 1024));
        ck_assert_int_lt(growth, 24 * 1024);
        ck_assert_uint_le((uint64_t)growth * 1024, bound);
    }
    capv_free(json);
    free(zip);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* Hostile packages stay within capv_package_memory_bound: metadata of as many JSON values as
 * the verification limit allows, and the entry limit's worth of tiny members. */
START_TEST(memory_bound_hostile)
{
    if (!rss_measurable())
        return;
    capv_verifier *v = verifier(false);
    mzip w;
    memset(&w, 0, sizeof w);
    size_t len;
    if (_i == 0) {
        /* 60,000 values: three quarters of the 16 MiB for reading, nearly */
        mbuf m = { 0 };
        const char *head =
            "{\"schema\":\"cap-bundle.v1\",\"files\":{},\"proof_units\":[{\"id\":"
            "\"a\",\"manifest_file\":\"m.json\",\"proof_file\":\"p.json\"}],\"x\":[0";
        mb_put(&m, head, strlen(head));
        for (int i = 1; i < 60000; i++)
            mb_put(&m, ",0", 2);
        mb_put(&m, "]}", 2);
        mzip_add(&w, "_meta.json", m.p, m.len, false);
        free(m.p);
        mzip_add(&w, "m.json", (const uint8_t *)"{}", 2, false);
        mzip_add(&w, "p.json", (const uint8_t *)"{}", 2, false);
    } else {
        const char *meta = "{\"schema\":\"cap-bundle.v1\",\"files\":{},\"proof_units\":[{\"id\":"
                           "\"a\",\"manifest_file\":\"m.json\",\"proof_file\":\"p.json\"}]}";
        mzip_add(&w, "_meta.json", (const uint8_t *)meta, strlen(meta), false);
        mzip_add(&w, "m.json", (const uint8_t *)"{}", 2, false);
        mzip_add(&w, "p.json", (const uint8_t *)"{}", 2, false);
        for (int i = 0; i < 9997; i++) {
            char name[16];
            snprintf(name, sizeof name, "e%05d", i);
            mzip_add(&w, name, (const uint8_t *)"", 0, false);
        }
    }
    uint8_t *zip = mzip_finish(&w, &len);
    uint64_t bound = 0;
    ck_assert_int_eq(capv_package_memory_bound(&bound, NULL, len, NULL), CAPV_OK);
    long before = reset_peak();
    char *json = NULL;
    capv_verdict verdict;
    ck_assert_int_eq(
        capv_verify_zip_memory_json(&json, NULL, &verdict, NULL, v, zip, len, NULL, 0, NULL),
        CAPV_OK);
    long growth = status_kib("VmHWM") - before;
    /* both got as far as the checks that read them */
    ck_assert_ptr_nonnull(strstr(json, "cap-bundle.v1 layout with 1 proof unit"));
    fprintf(stderr,
            "memory_bound_hostile %d: %zu-byte zip: peak RSS growth %ld KiB, bound %llu "
            "KiB\n",
            _i, len, growth, (unsigned long long)(bound / 1024));
    ck_assert_uint_le((uint64_t)growth * 1024, bound);
    capv_free(json);
    free(zip);
    capv_verifier_free(v);
}
END_TEST

/* Each member belongs to one proof unit: two units naming the same manifest or proof, or
 * one naming a member as both, is a layout failure (else a small package could have its
 * members read and parsed again for up to 1000 units). */
/* The JSON report of a bundle whose proof_units are `units`, over members m, n, p and q.json
 * (each "{}"), with its verdict. */
static char *verify_units(capv_verifier *v, const char *units, capv_verdict *verdict)
{
    char meta[512];
    snprintf(meta, sizeof meta, "{\"schema\":\"cap-bundle.v1\",\"files\":{},\"proof_units\":[%s]}",
             units);
    mzip w;
    memset(&w, 0, sizeof w);
    mzip_add(&w, "_meta.json", (const uint8_t *)meta, strlen(meta), false);
    static const char *const names[] = { "m.json", "n.json", "p.json", "q.json" };
    for (size_t k = 0; k < 4; k++)
        mzip_add(&w, names[k], (const uint8_t *)"{}", 2, false);
    size_t len;
    uint8_t *zip = mzip_finish(&w, &len);
    char *json = NULL;
    ck_assert_int_eq(
        capv_verify_zip_memory_json(&json, NULL, verdict, NULL, v, zip, len, NULL, 0, NULL),
        CAPV_OK);
    free(zip);
    return json;
}

START_TEST(units_share_no_member)
{
    static const struct {
        const char *units, *msg;
    } cases[] = {
        { "{\"id\":\"a\",\"manifest_file\":\"m.json\",\"proof_file\":\"p.json\"},"
          "{\"id\":\"b\",\"manifest_file\":\"n.json\",\"proof_file\":\"p.json\"}",
          "proof units 'a' and 'b' both name member 'p.json'" },
        { "{\"id\":\"a\",\"manifest_file\":\"m.json\",\"proof_file\":\"p.json\"},"
          "{\"id\":\"b\",\"manifest_file\":\"p.json\",\"proof_file\":\"q.json\"}",
          "proof units 'a' and 'b' both name member 'p.json'" },
        { "{\"id\":\"a\",\"manifest_file\":\"m.json\",\"proof_file\":\"m.json\"}",
          "proof unit 'a' names 'm.json' as its manifest and its proof" },
    };
    capv_verifier *v = verifier(false);
    capv_verdict verdict;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *json = verify_units(v, cases[i].units, &verdict);
        ck_assert_int_eq(verdict, CAPV_VERDICT_FAIL);
        ck_assert_msg(strstr(json, cases[i].msg) != NULL, "case %zu: %s", i, json);
        capv_free(json);
    }
    /* distinct members: the layout passes */
    char *json =
        verify_units(v,
                     "{\"id\":\"a\",\"manifest_file\":\"m.json\",\"proof_file\":\"p.json\"},"
                     "{\"id\":\"b\",\"manifest_file\":\"n.json\",\"proof_file\":\"q.json\"}",
                     &verdict);
    ck_assert_ptr_nonnull(strstr(json, "cap-bundle.v1 layout with 2 proof unit"));
    capv_free(json);
    capv_verifier_free(v);
}
END_TEST

/* capv_package_hashes gives what a verification report names the package by, without the
 * checks: the sample (a cap-bundle.v1 of one unit), a legacy package (with and without a
 * policy digest); a multi-unit bundle and a non-package are malformed. */
START_TEST(package_hashes_without_verification)
{
    capv_verifier *v = verifier(true);
    capv_package *pkg = sample();
    capv_report *r = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_verify_package(&r, v, pkg, NULL, &err), CAPV_OK);
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE], pol[CAPV_DIGEST_HEX_SIZE];
    ck_assert_int_eq(capv_package_hashes(mh, ph, pol, pkg, &err), CAPV_OK);
    ck_assert_str_eq(mh, capv_report_manifest_hash(r));
    ck_assert_str_eq(ph, capv_report_proof_hash(r));
    ck_assert_ptr_nonnull(capv_report_policy_hash(r));
    ck_assert_str_eq(pol, capv_report_policy_hash(r));
    ck_assert_int_eq(capv_package_hashes(mh, ph, NULL, pkg, &err), CAPV_OK);
    capv_report_free(r);
    /* a legacy package whose manifest is not JSON: hashes, and no policy */
    capv_package *legacy = NULL;
    ck_assert_int_eq(capv_package_new(&legacy, NULL, NULL), CAPV_OK);
    ck_assert_int_eq(
        capv_package_add_member(legacy, "manifest.json", (const uint8_t *)"x", 1, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_hashes(mh, ph, pol, legacy, &err), CAPV_E_MALFORMED);
    ck_assert_str_eq(mh, "");
    ck_assert_int_eq(capv_package_add_member(legacy, "proof.dat", (const uint8_t *)"y", 1, NULL),
                     CAPV_OK);
    ck_assert_int_eq(capv_package_hashes(mh, ph, pol, legacy, &err), CAPV_OK);
    ck_assert_int_eq(err.code, CAPV_OK);
    ck_assert_str_eq(pol, "");
    uint8_t d[32];
    char want[CAPV_DIGEST_HEX_SIZE];
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, (const uint8_t *)"x", 1, NULL), CAPV_OK);
    capv_digest_format(want, d);
    ck_assert_str_eq(mh, want);
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, (const uint8_t *)"y", 1, NULL), CAPV_OK);
    capv_digest_format(want, d);
    ck_assert_str_eq(ph, want);
    capv_package_free(legacy);
    /* several units: no single manifest */
    char path[4096];
    snprintf(path, sizeof path, "%s/peer/packages/multi-unit", tu_shared_dir());
    capv_package *multi = NULL;
    ck_assert_int_eq(capv_package_open_dir(&multi, path, NULL, &err), CAPV_OK);
    ck_assert_int_eq(capv_package_hashes(mh, ph, pol, multi, &err), CAPV_E_MALFORMED);
    ck_assert_str_eq(err.field, "_meta.json");
    ck_assert_str_eq(mh, "");
    capv_package_free(multi);
    capv_package_free(pkg);
    capv_verifier_free(v);
}
END_TEST

/* A package directory as a zip (every member deflated). */
static uint8_t *dir_zip(const char *dir, size_t *len)
{
    capv_package *p = NULL;
    ck_assert_int_eq(capv_package_open_dir(&p, dir, NULL, NULL), CAPV_OK);
    mzip w;
    memset(&w, 0, sizeof w);
    for (size_t i = 0; i < capv_package_member_count(p); i++) {
        const char *name = capv_package_member_name(p, i);
        const uint8_t *d = NULL;
        size_t n = 0;
        ck_assert_int_eq(capv_package_find(&d, &n, p, name, NULL), CAPV_OK);
        mzip_add(&w, name, d, n, true);
    }
    capv_package_free(p);
    return mzip_finish(&w, len);
}

/* capv_verify_zip_memory_json_problems lists, from the report it has at hand, exactly what
 * capv_report_json_problems lists from the JSON: ok, warn, fail, units, a cut list; fresh
 * and from the cache */
START_TEST(zip_json_problems)
{
    char path[4200];
    size_t lens[4];
    uint8_t *zips[4];
    zips[0] = tu_read(sample_dir, "sample.zip", &lens[0]);
    zips[1] = tu_read(tu_shared_dir(), "peer/packages/webui-legacy.zip", &lens[1]);
    snprintf(path, sizeof path, "%s/peer/packages/multi-unit", tu_shared_dir());
    zips[2] = dir_zip(path, &lens[2]);
    zips[3] = tu_read(tu_shared_dir(), "peer/packages/desktop/cap-bundle-2025-12-01.zip", &lens[3]);
    capv_verifier *v = verifier(true);
    capv_verify_options *accept = accept_mock();
    capv_cache *c = NULL;
    ck_assert_int_eq(capv_cache_new(&c, 100, 1 << 22, 0, NULL), CAPV_OK);
    const size_t caps[] = { 256, 24, 4 };
    int seen_warn = 0, seen_fail = 0, seen_units = 0;
    for (int cached = 0; cached < 3; cached++) {
        capv_verifier_set_cache(v, cached ? c : NULL); /* 1: fills the cache, 2: hits it */
        for (size_t z = 0; z < 4; z++)
            for (int o = 0; o < 2; o++)
                for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
                    char *json = NULL, want[256], got[256];
                    size_t jl = 0;
                    capv_verdict vd = CAPV_VERDICT_FAIL;
                    bool hit = true;
                    memset(got, 'x', sizeof got);
                    ck_assert_int_eq(capv_verify_zip_memory_json_problems(
                                         &json, &jl, &vd, &hit, got, caps[k], v, zips[z], lens[z],
                                         o ? accept : NULL, NULL),
                                     CAPV_OK);
                    ck_assert(hit == (cached == 2 || (cached == 1 && k > 0)));
                    ck_assert_uint_eq(jl, strlen(json));
                    ck_assert_int_eq(capv_report_json_problems(want, caps[k], json, jl, NULL),
                                     CAPV_OK);
                    ck_assert_msg(strcmp(got, want) == 0, "zip %zu cap %zu: %s, want %s", z,
                                  caps[k], got, want);
                    ck_assert_int_eq(vd == CAPV_VERDICT_OK, want[0] == '\0');
                    seen_warn += vd == CAPV_VERDICT_WARN;
                    seen_fail += vd == CAPV_VERDICT_FAIL;
                    seen_units += strchr(want, '/') != NULL;
                    capv_free(json);
                }
    }
    ck_assert(seen_warn > 0 && seen_fail > 0 && seen_units > 0);
    /* cached hits around the length L of each whole list: L + 4 bytes and more take the list
     * kept in the cache entry, fewer read it from the JSON; both as from the JSON */
    for (size_t z = 0; z < 4; z++) {
        char full[256], got[256], want[256], *json = NULL;
        size_t jl = 0;
        capv_verdict vd;
        bool hit = false;
        ck_assert_int_eq(capv_verify_zip_memory_json_problems(&json, &jl, &vd, &hit, full,
                                                              sizeof full, v, zips[z], lens[z],
                                                              NULL, NULL),
                         CAPV_OK);
        ck_assert(hit);
        capv_free(json);
        size_t l = strlen(full);
        for (size_t cap = l > 2 ? l + 2 : 4; cap <= l + 6; cap++) {
            ck_assert_int_eq(capv_verify_zip_memory_json_problems(&json, &jl, &vd, &hit, got, cap,
                                                                  v, zips[z], lens[z], NULL, NULL),
                             CAPV_OK);
            ck_assert(hit);
            ck_assert_int_eq(capv_report_json_problems(want, cap, json, jl, NULL), CAPV_OK);
            ck_assert_msg(strcmp(got, want) == 0, "zip %zu cap %zu: %s, want %s", z, cap, got,
                          want);
            ck_assert(cap < l + 4 || strcmp(got, full) == 0);
            capv_free(json);
        }
    }
    char *json = (char *)1, small[3];
    capv_verdict vd;
    ck_assert_int_eq(capv_verify_zip_memory_json_problems(&json, NULL, &vd, NULL, small,
                                                          sizeof small, v, zips[0], lens[0], NULL,
                                                          NULL),
                     CAPV_E_INVALID_ARG);
    ck_assert_ptr_null(json);
    capv_verifier_free(v);
    capv_verify_options_free(accept);
    capv_cache_free(c);
    for (size_t z = 0; z < 4; z++)
        free(zips[z]);
}
END_TEST

/* Which form a JSON /verify body has, from its top-level member names only. */
START_TEST(report_problems_for_logs)
{
    char out[64];
    static const char ok[] = "{\"result\":\"ok\",\"units\":[],\"checks\":[{\"id\":\"a\",\"status\":"
                             "\"pass\"},{\"id\":\"b\",\"status\":\"skip\"}]}";
    ck_assert_int_eq(capv_report_json_problems(out, sizeof out, ok, strlen(ok), NULL), CAPV_OK);
    ck_assert_str_eq(out, "");
    static const char bad[] =
        "{\"result\":\"fail\",\"checks\":[{\"id\":\"package.integrity\",\"status\":\"fail\"},"
        "{\"id\":\"x\",\"status\":\"pass\"},{\"id\":\"timestamp\",\"status\":\"warn\"}],"
        "\"units\":[{\"id\":\"u\\u0007\",\"checks\":[{\"id\":\"policy\",\"status\":\"fail\"}]}]}";
    ck_assert_int_eq(capv_report_json_problems(out, sizeof out, bad, strlen(bad), NULL), CAPV_OK);
    ck_assert_str_eq(out, "package.integrity:fail,timestamp:warn,u?/policy:fail");
    /* cut after the last whole item */
    char small[32];
    ck_assert_int_eq(capv_report_json_problems(small, sizeof small, bad, strlen(bad), NULL),
                     CAPV_OK);
    ck_assert_str_eq(small, "package.integrity:fail...");
    static const char *const notreports[] = { "[]", "{\"checks\":{}}", "{\"checks\":[1]}",
                                              "{\"checks\":[],\"units\":[{}]}", "{" };
    for (size_t i = 0; i < sizeof notreports / sizeof *notreports; i++) {
        capv_error err = CAPV_ERROR_INIT;
        ck_assert_int_ne(
            capv_report_json_problems(out, sizeof out, notreports[i], strlen(notreports[i]), &err),
            CAPV_OK);
        ck_assert_str_eq(out, "");
    }
    ck_assert_int_eq(capv_report_json_problems(out, 3, ok, strlen(ok), NULL), CAPV_E_INVALID_ARG);
}
END_TEST

START_TEST(json_request_forms)
{
    static const struct {
        const char *body;
        capv_status st;
        capv_json_form form;
    } cases[] = {
        { "{\"package\":{}}", CAPV_OK, CAPV_JSON_FORM_PACKAGE },
        { " {\"context\":{},\"package\":{\"a\":\"\"}} ", CAPV_OK, CAPV_JSON_FORM_PACKAGE },
        { "{\"\\u0070ackage\":{}}", CAPV_OK, CAPV_JSON_FORM_PACKAGE }, /* as cJSON reads it */
        { "{\"policy_id\":\"p\",\"context\":{}}", CAPV_OK, CAPV_JSON_FORM_POLICY_EVAL },
        { "{\"ir\":{},\"context\":{}}", CAPV_OK, CAPV_JSON_FORM_POLICY_EVAL },
        { "{\"context\":{\"package\":{}}}", CAPV_OK, CAPV_JSON_FORM_POLICY_EVAL },
        { "{\"packages\":{}}", CAPV_E_MALFORMED, 0 },
        { "{}", CAPV_E_MALFORMED, 0 },
        { "[{\"package\":{}}]", CAPV_E_MALFORMED, 0 },
        { "{\"package\":{}", CAPV_E_JSON_SYNTAX, 0 },
        { "{\"package\":{}} x", CAPV_E_JSON_TRAILING, 0 },
        { "", CAPV_E_JSON_SYNTAX, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        capv_error err = CAPV_ERROR_INIT;
        capv_json_form form = (capv_json_form)0;
        capv_status st = capv_verify_json_form(&form, (const uint8_t *)cases[i].body,
                                               strlen(cases[i].body), &err);
        ck_assert_msg(st == cases[i].st, "%s: %d", cases[i].body, (int)st);
        ck_assert_int_eq(err.code, st);
        if (st == CAPV_OK)
            ck_assert_msg(form == cases[i].form, "%s: form %d", cases[i].body, (int)form);
    }
    capv_error err = CAPV_ERROR_INIT;
    capv_json_form form;
    ck_assert_int_eq(capv_verify_json_form(&form, (const uint8_t *)"{}", 2, &err),
                     CAPV_E_MALFORMED);
    ck_assert_str_eq(err.field, "package");
    ck_assert_int_eq(capv_verify_json_form(NULL, (const uint8_t *)"{}", 2, NULL),
                     CAPV_E_INVALID_ARG);
}
END_TEST

/* ---- the audit check (docs/formats.md, "Audit logs") ------------------------------------- */

#define PEER_AUDIT "peer/audit/agent.audit.jsonl"

static uint8_t *peer_log(size_t *len)
{
    return tu_read(tu_shared_dir(), PEER_AUDIT, len);
}

/* The sample (whose manifest names the peer log's tip and count) with `log` as member `name`,
 * listed in _meta.json with role "audit" when `listed`. */
static capv_package *sample_with_log(const uint8_t *log, size_t len, const char *name, bool listed)
{
    capv_package *base = sample();
    capv_package *p = with_member(base, name, log, len);
    capv_package_free(base);
    if (!listed)
        return p;
    const uint8_t *meta;
    size_t mlen;
    ck_assert_int_eq(capv_package_find(&meta, &mlen, p, "_meta.json", NULL), CAPV_OK);
    cJSON *root = NULL;
    ck_assert_int_eq(capvi_json_parse(&root, meta, mlen, NULL), CAPV_OK);
    cJSON *entry = cJSON_CreateObject();
    cJSON_AddStringToObject(entry, "role", "audit");
    cJSON_AddStringToObject(entry, "hash", "0x00");
    cJSON_AddNumberToObject(entry, "size", 0); /* both set by rehash_meta */
    cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(root, "files"), name, entry);
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_pretty(&b, root);
    cJSON_Delete(root);
    size_t nlen;
    uint8_t *nmeta = capvi_buf_take(&b, &nlen);
    capv_package *out = with_member(p, "_meta.json", nmeta, nlen);
    free(nmeta);
    capv_package_free(p);
    return rehash_meta(out);
}

/* The sample with its manifest's audit fields replaced (its signature no longer verifies:
 * these tests look at the audit check). `anchor_tip` NULL removes audit_tip_hex. */
static capv_package *sample_manifest_audit(const capv_package *src, const char *tail, int events,
                                           const char *anchor_tip)
{
    size_t len;
    uint8_t *m = member_copy(src, "manifest.json", &len);
    cJSON *root = NULL;
    ck_assert_int_eq(capvi_json_parse(&root, m, len, NULL), CAPV_OK);
    free(m);
    cJSON *audit = cJSON_GetObjectItemCaseSensitive(root, "audit");
    cJSON_ReplaceItemInObjectCaseSensitive(audit, "tail_digest", cJSON_CreateString(tail));
    cJSON_ReplaceItemInObjectCaseSensitive(audit, "events_count", cJSON_CreateNumber(events));
    cJSON *anchor = cJSON_GetObjectItemCaseSensitive(root, "time_anchor");
    if (anchor_tip != NULL)
        cJSON_ReplaceItemInObjectCaseSensitive(anchor, "audit_tip_hex",
                                               cJSON_CreateString(anchor_tip));
    else
        cJSON_DeleteItemFromObjectCaseSensitive(anchor, "audit_tip_hex");
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_pretty(&b, root);
    cJSON_Delete(root);
    size_t nlen;
    uint8_t *nm = capvi_buf_take(&b, &nlen);
    capv_package *p = with_member(src, "manifest.json", nm, nlen);
    free(nm);
    return rehash_meta(p);
}

static bool details_have(const capv_report *r, const char *id, const char *text)
{
    const char *d = capv_check_details(capv_report_find_check(r, id));
    return d != NULL && strstr(d, text) != NULL;
}

START_TEST(audit_log_in_package)
{
    static const struct {
        const char *name;
        bool listed;
        capv_check_status integrity;
    } cases[] = {
        { "agent.audit.jsonl", true, CAPV_CHECK_PASS },
        { "logs/trail.jsonl", true, CAPV_CHECK_PASS }, /* any name, by its role */
        { "agent.audit.jsonl", false, CAPV_CHECK_WARN },
        { "audit_chain.jsonl", false, CAPV_CHECK_WARN }, /* the format is read from the lines */
    };
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    size_t len;
    uint8_t *log = peer_log(&len);
    capv_package *p = sample_with_log(log, len, cases[_i].name, cases[_i].listed);
    capv_report *r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_PASS);
    ASSERT_CHECK(r, "package.integrity", cases[_i].integrity);
    ck_assert_int_eq(capv_report_verdict(r),
                     cases[_i].listed ? CAPV_VERDICT_OK : CAPV_VERDICT_WARN);
    ck_assert(details_have(r, "audit", "\"rule\":\"chain tip\""));
    ck_assert(details_have(r, "audit", "\"events\":6"));
    ck_assert(details_have(r, "audit", cases[_i].name));
    capv_report_free(r);
    capv_package_free(p);
    free(log);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* A log given beside the package; none at all is skip (warn in strict mode). */
START_TEST(audit_log_beside)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    capv_package *p = sample();
    capv_report *r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_SKIP);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_OK);
    capv_report_free(r);
    ck_assert_int_eq(capv_verify_options_set(o, CAPV_OPT_STRICT, true, NULL), CAPV_OK);
    r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_WARN);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_WARN);
    capv_report_free(r);
    size_t len;
    uint8_t *log = peer_log(&len);
    capv_verify_options *c = NULL;
    ck_assert_int_eq(capv_verify_options_copy(&c, o, NULL), CAPV_OK);
    ck_assert_int_eq(capv_verify_options_set_audit_log(c, log, len, NULL), CAPV_OK);
    r = verify_pkg(v, p, c);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_PASS);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_OK);
    ck_assert(details_have(r, "audit", "beside the package"));
    capv_report_free(r);
    /* the copy's log is its own: the original still has none */
    r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_WARN);
    capv_report_free(r);
    /* beside a package that carries the same log: both are checked */
    capv_package *with = sample_with_log(log, len, "agent.audit.jsonl", true);
    r = verify_pkg(v, with, c);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_PASS);
    ck_assert_ptr_nonnull(strstr(capv_check_message(capv_report_find_check(r, "audit")), "each"));
    capv_report_free(r);
    /* ... and a different one beside it fails */
    ck_assert_int_eq(capv_verify_options_set_audit_log(c, log, len - 200, NULL), CAPV_OK);
    r = verify_pkg(v, with, c);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_FAIL);
    ck_assert(details_have(r, "audit", "\"source\":\"beside the package\",\"line\":6"));
    capv_report_free(r);
    ck_assert_int_eq(capv_verify_options_set_audit_log(c, NULL, 0, NULL), CAPV_OK);
    ck_assert_int_eq(capv_verify_options_set_audit_log(c, NULL, 3, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_verify_options_set_audit_log(NULL, log, 3, NULL), CAPV_E_INVALID_ARG);
    r = verify_pkg(v, with, c);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_PASS);
    capv_report_free(r);
    capv_package_free(with);
    capv_verify_options_free(c);
    free(log);
    capv_package_free(p);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* A log that is broken, or intact but not the one the manifest names, fails `audit`. */
START_TEST(audit_log_other_tip)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    size_t len;
    uint8_t *log = peer_log(&len);
    /* the first five events: an intact chain whose tip is another */
    size_t five = (size_t)((const uint8_t *)strstr((char *)log, "{\"seq\":6,") - log);
    capv_package *p = sample_with_log(log, five, "agent.audit.jsonl", true);
    capv_report *r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_FAIL);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    ck_assert_ptr_nonnull(strstr(capv_check_message(capv_report_find_check(r, "audit")),
                                 "is not the manifest's audit.tail_digest"));
    ck_assert(details_have(r, "audit", "\"events\":5"));
    capv_report_free(r);
    capv_package_free(p);
    /* a field of line 3 edited */
    char *tampered = malloc(len + 1);
    memcpy(tampered, log, len + 1);
    char *at = strstr(tampered, "\"ubos\"");
    ck_assert_ptr_nonnull(at);
    memcpy(at, "\"UBOs\"", 6);
    p = sample_with_log((const uint8_t *)tampered, len, "agent.audit.jsonl", true);
    r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_FAIL);
    ck_assert(details_have(r, "audit", "\"line\":3,\"break\":\"digest_mismatch\""));
    capv_report_free(r);
    capv_package_free(p);
    free(tampered);
    /* an empty log: the genesis, 0 events */
    p = sample_with_log((const uint8_t *)"", 0, "agent.audit.jsonl", true);
    r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_FAIL);
    capv_report_free(r);
    capv_package_free(p);
    /* broken at line 2, before a line the verification limit cannot parse (32,001 values):
     * reported broken there, not too large; without the break, too large */
    mbuf big = { 0 };
    size_t two = (size_t)((const uint8_t *)strstr((char *)log, "{\"seq\":2,") - log);
    mb_put(&big, log, two);
    mb_put(&big, "x\n[0", 3);
    for (int i = 0; i < 32000; i++)
        mb_put(&big, ",0", 2);
    mb_put(&big, "]\n", 2);
    capv_package *small = sample();
    p = with_budget(small, 4u << 20, 0);
    ck_assert_int_eq(capv_verify_options_set_audit_log(o, big.p, big.len, NULL), CAPV_OK);
    r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_FAIL);
    ck_assert_msg(details_have(r, "audit", "\"line\":2,\"break\":\"bad_json\""), "%s",
                  capv_check_details(capv_report_find_check(r, "audit")));
    capv_report_free(r);
    memmove(big.p + two, big.p + two + 2, big.len - two - 2); /* the break gone */
    big.len -= 2;
    ck_assert_int_eq(capv_verify_options_set_audit_log(o, big.p, big.len, NULL), CAPV_OK);
    r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_FAIL);
    ck_assert(details_have(r, "audit", "needs more memory than the verification limit"));
    capv_report_free(r);
    capv_package_free(p);
    /* the package's log too large to be read at all, the peer log beside it: both reported */
    capv_package *heavy = sample_with_log(big.p, big.len, "agent.audit.jsonl", true);
    p = with_budget(heavy, 128u << 10, 0); /* the units' share paid, 30 KiB left */
    ck_assert_int_eq(capv_verify_options_set_audit_log(o, log, len, NULL), CAPV_OK);
    r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "audit", CAPV_CHECK_FAIL);
    ck_assert_msg(details_have(r, "audit", "\"source\":\"beside the package\",\"format\":\"v1\""),
                  "%s", capv_check_details(capv_report_find_check(r, "audit")));
    ck_assert(details_have(r, "audit", "needs more memory than the verification limit"));
    capv_report_free(r);
    capv_package_free(heavy);
    ck_assert_int_eq(capv_verify_options_set_audit_log(o, NULL, 0, NULL), CAPV_OK);
    capv_package_free(p);
    capv_package_free(small);
    free(big.p);
    free(log);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* A producer's log goes on after the manifest it built (the peer log's sixth event,
 * manifest_built, names the manifest): a manifest naming the chain after its first
 * events_count events passes, the later events counted; another tip there fails. */
START_TEST(audit_log_goes_on)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    size_t len;
    uint8_t *log = peer_log(&len);
    const char *five = strstr((char *)log, "{\"seq\":5,"),
               *six = strstr((char *)log, "{\"seq\":6,");
    ck_assert(five != NULL && six != NULL);
    /* line 5's digest is line 6's prev_digest, line 4's line 5's */
    char tip4[67], tip5[67], blake5[CAPV_DIGEST_HEX_SIZE], genesis[67] = "0x";
    memcpy(tip4, strstr(five, "\"prev_digest\":\"") + 15, 66);
    memcpy(tip5, strstr(six, "\"prev_digest\":\"") + 15, 66);
    tip4[66] = tip5[66] = '\0';
    memset(genesis + 2, '0', 64);
    genesis[66] = '\0';
    uint8_t h[32];
    ck_assert_int_eq(
        capv_hash(h, CAPV_HASH_BLAKE3, (const uint8_t *)five, (size_t)(six - 1 - five), NULL),
        CAPV_OK);
    capv_digest_format(blake5, h);
    static const char tip6[] = "0x7883584e55e1173ac1f5096214dd35d99ff3bdea1e00837ab6e4ccb05db4f598";
    const struct {
        const char *tail;
        int events;
        const char *anchor;
        capv_check_status want;
        const char *text; /* in the details */
    } cases[] = {
        { tip5, 5, tip5, CAPV_CHECK_PASS, "\"rule\":\"chain tip\",\"events_after\":1" },
        { blake5, 5, NULL, CAPV_CHECK_PASS, "\"rule\":\"blake3(last line)\",\"events_after\":1" },
        /* every chain starts at the genesis: a log is bound to no such manifest */
        { genesis, 0, NULL, CAPV_CHECK_WARN, "the manifest names the genesis and no events" },
        { tip4, 5, NULL, CAPV_CHECK_FAIL, "its tip after 5 event(s)" },
        { tip5, 5, tip6, CAPV_CHECK_FAIL, "time_anchor.audit_tip_hex does not name its tip" },
        { tip6, 5, NULL, CAPV_CHECK_FAIL, "it holds 6 event(s)" },
        { tip5, 7, NULL, CAPV_CHECK_FAIL, "is not the manifest's audit.tail_digest" },
    };
    capv_package *in = sample_with_log(log, len, "agent.audit.jsonl", true), *plain = sample();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        for (int beside = 0; beside < 2; beside++) {
            capv_package *p = sample_manifest_audit(beside ? plain : in, cases[i].tail,
                                                    cases[i].events, cases[i].anchor);
            ck_assert_int_eq(
                capv_verify_options_set_audit_log(o, beside ? log : NULL, beside ? len : 0, NULL),
                CAPV_OK);
            capv_report *r = verify_pkg(v, p, o);
            const capv_check *c = capv_report_find_check(r, "audit");
            ck_assert_msg(capv_check_status_of(c) == cases[i].want, "case %zu: %s", i,
                          capv_check_message(c));
            ck_assert_msg(details_have(r, "audit", cases[i].text), "case %zu: %s", i,
                          capv_check_details(c));
            if (cases[i].want == CAPV_CHECK_PASS)
                ck_assert_ptr_nonnull(strstr(capv_check_message(c), "later event(s)"));
            capv_report_free(r);
            capv_package_free(p);
        }
    }
    ck_assert_int_eq(capv_verify_options_set_audit_log(o, NULL, 0, NULL), CAPV_OK);
    capv_package_free(in);
    capv_package_free(plain);
    free(log);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* What the manifest says: another count, another anchor tip, the desktop variant's BLAKE3 tail
 * and its "0x0" for no log. */
START_TEST(audit_manifest_fields)
{
    capv_verifier *v = verifier(true);
    capv_verify_options *o = accept_mock();
    size_t len;
    uint8_t *log = peer_log(&len);
    const char *tip = "0x7883584e55e1173ac1f5096214dd35d99ff3bdea1e00837ab6e4ccb05db4f598";
    uint8_t h[32];
    const char *last = strstr((char *)log, "{\"seq\":6,"); /* without its line feed */
    ck_assert_int_eq(capv_hash(h, CAPV_HASH_BLAKE3, (const uint8_t *)last, strlen(last) - 1, NULL),
                     CAPV_OK);
    char line_tip[CAPV_DIGEST_HEX_SIZE];
    capv_digest_format(line_tip, h);
    capv_package *base = sample_with_log(log, len, "agent.audit.jsonl", true);
    static const struct {
        int tail; /* 0 the chain tip, 1 BLAKE3 of the last line, 2 "0x0", 3 the genesis */
        int events;
        int anchor; /* as tail; -1 none */
        capv_check_status want;
        const char *text; /* in the message or details */
    } cases[] = {
        { 0, 6, 0, CAPV_CHECK_PASS, "chain tip" },
        { 0, 6, -1, CAPV_CHECK_PASS, "chain tip" },
        { 1, 6, 1, CAPV_CHECK_PASS, "blake3(last line)" },
        { 1, 6, 0, CAPV_CHECK_PASS, "blake3(last line)" },
        { 0, 5, 0, CAPV_CHECK_FAIL, "audit.events_count is 5" },
        { 0, 7, -1, CAPV_CHECK_FAIL, "audit.events_count is 7" },
        { 0, 6, 3, CAPV_CHECK_FAIL, "time_anchor.audit_tip_hex" },
        { 3, 6, 0, CAPV_CHECK_FAIL, "is not the manifest's audit.tail_digest" },
        { 2, 0, -1, CAPV_CHECK_WARN, "records no audit log" },
    };
    const char *values[] = { tip, line_tip, "0x0",
                             "0x0000000000000000000000000000000000000000000000000000000000000000" };
    capv_package *p =
        sample_manifest_audit(base, values[cases[_i].tail], cases[_i].events,
                              cases[_i].anchor >= 0 ? values[cases[_i].anchor] : NULL);
    capv_report *r = verify_pkg(v, p, o);
    ASSERT_CHECK(r, "audit", cases[_i].want);
    ck_assert_msg(strstr(capv_check_message(capv_report_find_check(r, "audit")), cases[_i].text) ||
                      details_have(r, "audit", cases[_i].text),
                  "%s", capv_check_message(capv_report_find_check(r, "audit")));
    ASSERT_CHECK(r, "manifest.schema", CAPV_CHECK_PASS); /* "0x0" included */
    capv_report_free(r);
    capv_package_free(p);
    /* without a log, "0x0" is skip */
    if (cases[_i].tail == 2) {
        capv_package *bare = sample();
        p = sample_manifest_audit(bare, "0x0", 0, NULL);
        r = verify_pkg(v, p, o);
        ASSERT_CHECK(r, "audit", CAPV_CHECK_SKIP);
        ck_assert_ptr_nonnull(
            strstr(capv_check_message(capv_report_find_check(r, "audit")), "records no audit log"));
        capv_report_free(r);
        capv_package_free(p);
        capv_package_free(bare);
    }
    capv_package_free(base);
    free(log);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

/* The peer's packages carry no log: `audit` is skip and changes no verdict. */
START_TEST(audit_peer_packages_skip)
{
    static const char *const paths[] = { "desktop/cap-bundle-2025-11-30.zip",
                                         "desktop/cap-bundle-2025-12-14.zip", "webui-legacy",
                                         "multi-unit" };
    capv_verifier *v = verifier(false);
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/peer/packages/%s", tu_shared_dir(), paths[i]);
        capv_report *r = verify_path(v, path, NULL);
        ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
        if (capv_report_unit_count(r) == 0)
            ASSERT_CHECK(r, "audit", CAPV_CHECK_SKIP);
        for (size_t u = 0; u < capv_report_unit_count(r); u++)
            ASSERT_CHECK(capv_report_unit(r, u), "audit", CAPV_CHECK_SKIP);
        capv_report_free(r);
    }
    capv_verifier_free(v);
}
END_TEST

/* The report cache keys include the log given beside the package. */
START_TEST(audit_log_in_cache_key)
{
    capv_verifier *v = verifier(true);
    capv_cache *cache = NULL;
    ck_assert_int_eq(capv_cache_new(&cache, 16, 1 << 20, 0, NULL), CAPV_OK);
    capv_verifier_set_cache(v, cache);
    capv_verify_options *o = accept_mock();
    size_t zlen, len;
    char zpath[4200];
    snprintf(zpath, sizeof zpath, "sample/sample.zip");
    uint8_t *zip = tu_read(tu_fixtures_dir(), zpath, &zlen);
    uint8_t *log = peer_log(&len);
    const struct {
        const uint8_t *log;
        size_t len;
        capv_verdict want;
        bool cached;
    } runs[] = {
        { log, len, CAPV_VERDICT_OK, false },         { log, len - 1, CAPV_VERDICT_OK, false },
        { log, len - 200, CAPV_VERDICT_FAIL, false }, { NULL, 0, CAPV_VERDICT_OK, false },
        { log, len, CAPV_VERDICT_OK, true },
    };
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        ck_assert_int_eq(capv_verify_options_set_audit_log(o, runs[i].log, runs[i].len, NULL),
                         CAPV_OK);
        char *json = NULL;
        capv_verdict verdict;
        bool cached = true;
        ck_assert_int_eq(
            capv_verify_zip_memory_json(&json, NULL, &verdict, &cached, v, zip, zlen, o, 0, NULL),
            CAPV_OK);
        ck_assert_msg(verdict == runs[i].want && cached == runs[i].cached, "run %zu", i);
        capv_free(json);
    }
    free(log);
    free(zip);
    capv_verify_options_free(o);
    capv_verifier_free(v);
    capv_cache_free(cache);
}
END_TEST

Suite *verify_suite(void)
{
    Suite *s = suite_create("verify");
    TCase *tc = tcase_create("peer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, peer_desktop_bundles_fail, 0, 3);
    tcase_add_test(tc, peer_desktop_signature_restored);
    tcase_add_loop_test(tc, peer_webui_legacy, 0, 2);
    tcase_add_test(tc, peer_multi_unit);
    tcase_add_test(tc, zip_json_problems);
    tcase_add_loop_test(tc, peer_unsigned_and_bogus_manifests, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("sample");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sample_ok);
    tcase_add_test(tc, token_from_the_future_not_cached);
    tcase_add_test(tc, policy_known_from_registry);
    tcase_add_test(tc, details_written_once);
    tcase_add_test(tc, proof_statement_whole_version);
    tcase_add_test(tc, policy_store_loads_ir_as_ir);
    tcase_add_test(tc, tamper_manifest_byte);
    tcase_add_test(tc, tamper_proof_swapped);
    tcase_add_test(tc, proof_status_not_ok);
    tcase_add_test(tc, revoked_cosigner_fails);
    tcase_add_test(tc, tamper_untrusted_signer);
    tcase_add_loop_test(tc, tamper_key_status_and_window, 0, 5);
    tcase_add_test(tc, tamper_unlisted_member);
    tcase_add_test(tc, tamper_timestamp_other_data);
    tcase_add_test(tc, tamper_timestamp_other_tsa);
    tcase_add_test(tc, timestamp_role_of_absent_member);
    tcase_add_loop_test(tc, registry_entries, 0, 10);
    tcase_add_test(tc, registry_entry_keys_changed);
    tcase_add_test(tc, registry_out_of_reach);
    tcase_add_test(tc, report_deterministic);
    tcase_add_test(tc, not_a_package);
    tcase_add_test(tc, package_hashes_without_verification);
    tcase_add_test(tc, units_share_no_member);
    tcase_add_test(tc, json_request_forms);
    tcase_add_test(tc, report_problems_for_logs);
    suite_add_tcase(s, tc);
    tc = tcase_create("audit");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, audit_log_in_package, 0, 4);
    tcase_add_test(tc, audit_log_beside);
    tcase_add_test(tc, audit_log_other_tip);
    tcase_add_test(tc, audit_log_goes_on);
    tcase_add_loop_test(tc, audit_manifest_fields, 0, 9);
    tcase_add_test(tc, audit_peer_packages_skip);
    tcase_add_test(tc, audit_log_in_cache_key);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, memory_budget_never_changes_findings);
    tcase_add_test(tc, memory_streamed_verification);
    tcase_add_loop_test(tc, memory_bound_hostile, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
