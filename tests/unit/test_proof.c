/* SPDX-License-Identifier: Apache-2.0 */
/* Proof containers (docs/formats.md, "Proofs"): the peer vectors parse to what the format says they
 * hold, and a table of malformed CAPZ headers, JSON proofs and base64 wrappers each fail with the
 * exact status — the same whether or not the caller asks for error detail. */
#include <capverify.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proof_int.h"
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

/* Parses and checks the status twice: with error detail (whose code must agree) and
 * without. The proof is left parsed from the first call when `keep` is non-NULL. */
static capv_status parse_both(capv_proof *keep, const uint8_t *data, size_t len,
                              capv_error *err_out)
{
    capv_proof p;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capvi_proof_parse(&p, data, len, &err);
    if (st != CAPV_OK)
        ck_assert_int_eq(err.code, st);
    capv_proof q;
    capv_status st2 = capvi_proof_parse(&q, data, len, NULL);
    ck_assert_msg(st2 == st, "status %d with error detail, %d without", (int)st, (int)st2);
    capvi_proof_clear(&q);
    if (keep != NULL)
        *keep = p;
    else
        capvi_proof_clear(&p);
    if (err_out != NULL)
        *err_out = err;
    return st;
}

static void assert_digest(const uint8_t d[32], const char *want)
{
    ck_assert_str_eq(tu_hex(d), want);
}

/* A CAPZ v2 container: 78-byte header (vk_hash 0x11.., params_hash 0x22..) + payload. */
static uint8_t *capz(uint8_t backend, const void *payload, size_t plen, size_t *len)
{
    uint8_t *b = malloc(CAPZ_HEADER_LEN + plen + 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b, "CAPZ", 4);
    b[4] = 2;
    b[5] = 0;
    b[6] = backend;
    b[7] = 0;
    memset(b + 8, 0x11, 32);
    memset(b + 40, 0x22, 32);
    b[72] = (uint8_t)plen;
    b[73] = (uint8_t)(plen >> 8);
    b[74] = (uint8_t)(plen >> 16);
    b[75] = (uint8_t)(plen >> 24);
    b[76] = b[77] = 0;
    if (plen > 0)
        memcpy(b + CAPZ_HEADER_LEN, payload, plen);
    *len = CAPZ_HEADER_LEN + plen;
    return b;
}

static void set_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Standard padded base64 of `text`, malloc'd. */
static char *b64(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(CAPV_BASE64_ENCODED_SIZE(n));
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(capv_base64_encode(out, CAPV_BASE64_ENCODED_SIZE(n), NULL,
                                        (const uint8_t *)text, n, CAPV_BASE64_STD, NULL),
                     CAPV_OK);
    return out;
}

#define MH_HEX "9712ff657b040a7e84366a149ee2b2d145ac6bb926455a3d90a7a1eadf9b65d2"
#define PH_HEX "d490be94f6f182bd6a00930c65f6f1f5fab70ddb29116235ae344f064f9b52b3"

/* ---- the peer vectors ------------------------------------------------------------------ */

START_TEST(peer_capz_vector)
{
    size_t len;
    uint8_t *d = tu_read(tu_shared_dir(), "peer/packages/bundle-v2-testout/test_proof.capz", &len);
    ck_assert_uint_eq(len, 157);
    capv_proof p;
    ck_assert_int_eq(parse_both(&p, d, len, NULL), CAPV_OK);
    ck_assert_str_eq(p.container, "capz-v2");
    ck_assert_str_eq(p.backend, "mock");
    ck_assert_int_eq(p.backend_class, CAPV_BACKEND_MOCK);
    ck_assert_uint_eq(p.payload_len, 79);
    ck_assert_int_eq(p.binding, CAPV_BIND_NONE); /* the payload names no manifest */
    ck_assert(!p.has_policy_hash);
    ck_assert_ptr_nonnull(p.statement);
    ck_assert_str_eq(p.statement, "policy:lksg.v1");
    ck_assert_uint_eq(p.constraints, 0);
    ck_assert_uint_eq(p.constraints_failed, 0);
    ck_assert_ptr_null(p.first_failed);
    capvi_proof_clear(&p);
    ck_assert_ptr_null(p.statement);
    capvi_proof_clear(&p); /* twice is harmless */
    free(d);
}
END_TEST

START_TEST(peer_legacy_proof_dat)
{
    size_t len;
    uint8_t *d = tu_read(tu_shared_dir(), "peer/packages/webui-legacy/proof.dat", &len);
    capv_proof p;
    ck_assert_int_eq(parse_both(&p, d, len, NULL), CAPV_OK);
    ck_assert_str_eq(p.container, "proof.v0");
    ck_assert_int_eq(p.binding, CAPV_BIND_SHA3_CANON);
    assert_digest(p.manifest_hash, "0x" MH_HEX);
    ck_assert(p.has_policy_hash);
    assert_digest(p.policy_hash, "0x" PH_HEX);
    ck_assert_str_eq(p.backend, "mock");
    ck_assert_int_eq(p.backend_class, CAPV_BACKEND_MOCK);
    ck_assert_str_eq(p.statement, "policy:lksg.v1");
    ck_assert_uint_eq(p.constraints, 2);
    ck_assert_uint_eq(p.constraints_failed, 0);
    ck_assert_ptr_null(p.first_failed);
    ck_assert_uint_eq(p.payload_len, 0);
    capvi_proof_clear(&p);

    /* surrounding whitespace is allowed */
    uint8_t *ws = malloc(len + 8);
    ck_assert_ptr_nonnull(ws);
    memcpy(ws, " \r\n\t", 4);
    memcpy(ws + 4, d, len);
    memcpy(ws + 4 + len, "\r\n \n", 4);
    ck_assert_int_eq(parse_both(&p, ws, len + 8, NULL), CAPV_OK);
    assert_digest(p.manifest_hash, "0x" MH_HEX);
    capvi_proof_clear(&p);

    /* whitespace inside the base64 text is not */
    memcpy(ws, d, 100);
    ws[100] = '\n';
    memcpy(ws + 101, d + 100, len - 100);
    ck_assert_int_eq(parse_both(NULL, ws, len + 1, NULL), CAPV_E_MALFORMED);
    free(ws);
    free(d);
}
END_TEST

START_TEST(peer_multi_unit_json_v0)
{
    size_t len;
    uint8_t *d = tu_read(tu_shared_dir(), "peer/packages/multi-unit/proof_0.capz", &len);
    capv_proof p;
    ck_assert_int_eq(parse_both(&p, d, len, NULL), CAPV_OK);
    ck_assert_str_eq(p.container, "proof.v0"); /* JSON despite the .capz name */
    ck_assert_int_eq(p.binding, CAPV_BIND_SHA3_CANON);
    assert_digest(p.manifest_hash,
                  "0x30b2802042bd71e269a2b8dc62ebdb5f505f4e832ea72f0e44247efff2152df4");
    ck_assert(p.has_policy_hash);
    assert_digest(p.policy_hash,
                  "0xabc1234567890123456789012345678901234567890123456789012345678901");
    ck_assert_str_eq(p.backend, "mock");
    ck_assert_int_eq(p.backend_class, CAPV_BACKEND_MOCK);
    ck_assert_uint_eq(p.constraints, 0);
    capvi_proof_clear(&p);
    free(d);
}
END_TEST

/* The desktop bundle's proof.capz is JSON proof.v1 (read through the package loader). */
START_TEST(peer_desktop_proof_v1)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/peer/packages/desktop/cap-bundle-2025-12-14.zip",
             tu_shared_dir());
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_open(&pkg, path, NULL, NULL), CAPV_OK);
    const uint8_t *d = NULL;
    size_t len = 0;
    ck_assert_int_eq(capv_package_find(&d, &len, pkg, "proof.capz", NULL), CAPV_OK);
    capv_proof p;
    ck_assert_int_eq(parse_both(&p, d, len, NULL), CAPV_OK);
    ck_assert_str_eq(p.container, "proof.v1");
    ck_assert_str_eq(p.backend, "simplified_zk");
    ck_assert_int_eq(p.backend_class, CAPV_BACKEND_MOCK);
    ck_assert_int_eq(p.binding, CAPV_BIND_BLAKE3_RAW);
    assert_digest(p.manifest_hash,
                  "0x8f8bfe9013a28d6f161f1c4d1638a98578a994f52959f1ff0e21dea14664f2d5");
    ck_assert_uint_eq(p.constraints, 4);
    ck_assert_uint_eq(p.constraints_failed, 0);
    capvi_proof_clear(&p);
    capv_package_free(pkg);
}
END_TEST

/* ---- well-formed proofs built here ----------------------------------------------------- */

START_TEST(proof_v1_constructed)
{
    const char *v1 = "{\"version\":\"proof.v1\",\"manifest_hash\":\"sha3-256:" MH_HEX "\","
                     "\"backend\":\"halo2\",\"constraint_checks\":["
                     "{\"rule\":\"r_ok\",\"result\":true,\"witness\":\"0x00\"},"
                     "{\"rule\":\"r_bad\",\"result\":false,\"witness\":\"0x01\"},"
                     "{\"rule\":\"r_bad2\",\"result\":false,\"witness\":\"0x02\"}],"
                     "\"created_at\":\"2025-12-14T20:49:46Z\"}";
    capv_proof p;
    ck_assert_int_eq(parse_both(&p, (const uint8_t *)v1, strlen(v1), NULL), CAPV_OK);
    ck_assert_str_eq(p.container, "proof.v1");
    ck_assert_str_eq(p.backend, "halo2");
    ck_assert_int_eq(p.backend_class, CAPV_BACKEND_ZK);
    ck_assert_int_eq(p.binding, CAPV_BIND_BLAKE3_RAW);
    assert_digest(p.manifest_hash, "0x" MH_HEX);
    ck_assert_uint_eq(p.constraints, 3);
    ck_assert_uint_eq(p.constraints_failed, 2);
    ck_assert_str_eq(p.first_failed, "r_bad");
    capvi_proof_clear(&p);
    ck_assert_ptr_null(p.first_failed);

    /* no manifest binding at all: replayable; an unknown backend is not a parse error */
    const char *unbound = "{\"version\":\"proof.v1\",\"backend\":\"groth16\"}";
    ck_assert_int_eq(parse_both(&p, (const uint8_t *)unbound, strlen(unbound), NULL), CAPV_OK);
    ck_assert_int_eq(p.binding, CAPV_BIND_NONE);
    ck_assert_int_eq(p.backend_class, CAPV_BACKEND_UNKNOWN);
    ck_assert_str_eq(p.backend, "groth16");
    ck_assert_uint_eq(p.constraints, 0);
    capvi_proof_clear(&p);

    const char *zkvm = "{\"version\":\"proof.v1\",\"backend\":\"ZKVM\"}";
    ck_assert_int_eq(parse_both(&p, (const uint8_t *)zkvm, strlen(zkvm), NULL), CAPV_OK);
    ck_assert_int_eq(p.backend_class, CAPV_BACKEND_ZK);
    capvi_proof_clear(&p);
}
END_TEST

START_TEST(proof_v0_failed_constraint)
{
    const char *v0 = "{\"version\":\"proof.v0\",\"type\":\"simplified_zk\",\"statement\":\"s\","
                     "\"manifest_hash\":\"0x" MH_HEX "\",\"proof_data\":{\"checked_constraints\":["
                     "{\"name\":\"require_at_least_one_ubo\",\"ok\":true},"
                     "{\"name\":\"supplier_count_max_10\",\"ok\":false},"
                     "{\"name\":\"third\",\"ok\":false}]},\"status\":\"ok\"}";
    capv_proof p;
    /* as JSON, base64-wrapped, and as a CAPZ payload */
    ck_assert_int_eq(parse_both(&p, (const uint8_t *)v0, strlen(v0), NULL), CAPV_OK);
    ck_assert_str_eq(p.container, "proof.v0");
    ck_assert_int_eq(p.backend_class, CAPV_BACKEND_MOCK);
    ck_assert(!p.has_policy_hash);
    ck_assert_uint_eq(p.constraints, 3);
    ck_assert_uint_eq(p.constraints_failed, 2);
    ck_assert_str_eq(p.first_failed, "supplier_count_max_10");
    capvi_proof_clear(&p);

    char *w = b64(v0);
    ck_assert_int_eq(parse_both(&p, (const uint8_t *)w, strlen(w), NULL), CAPV_OK);
    ck_assert_str_eq(p.container, "proof.v0");
    ck_assert_str_eq(p.first_failed, "supplier_count_max_10");
    capvi_proof_clear(&p);
    free(w);

    size_t len;
    uint8_t *c = capz(0, v0, strlen(v0), &len);
    ck_assert_int_eq(parse_both(&p, c, len, NULL), CAPV_OK);
    ck_assert_str_eq(p.container, "capz-v2");
    ck_assert_str_eq(p.backend, "mock"); /* the header names the backend */
    ck_assert_int_eq(p.binding, CAPV_BIND_SHA3_CANON);
    assert_digest(p.manifest_hash, "0x" MH_HEX);
    ck_assert_uint_eq(p.payload_len, strlen(v0));
    ck_assert_uint_eq(p.constraints_failed, 2);
    capvi_proof_clear(&p);
    free(c);
}
END_TEST

/* A header claiming a real proof system around a payload that calls itself a mock counts as
 * the mock it is: the weaker claim wins. A mock header around any payload stays a mock. */
START_TEST(capz_header_cannot_upgrade_a_mock)
{
    static const char v0[] = "{\"version\":\"proof.v0\",\"type\":\"mock\"}";
    capv_proof p;
    size_t len;
    uint8_t *c = capz(2, v0, strlen(v0), &len); /* halo2 */
    ck_assert_int_eq(capvi_proof_parse(&p, c, len, NULL), CAPV_OK);
    ck_assert_int_eq(p.backend_class, CAPV_BACKEND_MOCK);
    ck_assert_str_eq(p.backend, "mock");
    capvi_proof_clear(&p);
    free(c);
    static const char zk[] = "{\"version\":\"proof.v0\",\"type\":\"zkvm\"}";
    c = capz(0, zk, strlen(zk), &len); /* mock header, payload claims zkvm */
    ck_assert_int_eq(capvi_proof_parse(&p, c, len, NULL), CAPV_OK);
    ck_assert_int_eq(p.backend_class, CAPV_BACKEND_MOCK);
    capvi_proof_clear(&p);
    free(c);
}
END_TEST

START_TEST(capz_opaque_payloads)
{
    static const struct {
        uint8_t backend;
        const char *name;
        capv_backend_class cls;
    } backends[] = { { 0, "mock", CAPV_BACKEND_MOCK },
                     { 1, "zkvm", CAPV_BACKEND_ZK },
                     { 2, "halo2", CAPV_BACKEND_ZK } };
    const uint8_t receipt[] = { 0x00, 0x01, 0xfe, 0x7b, 0x22, 0x5b, 0x00 };
    for (size_t i = 0; i < 3; i++) {
        size_t len;
        uint8_t *c = capz(backends[i].backend, receipt, sizeof receipt, &len);
        capv_proof p;
        ck_assert_int_eq(parse_both(&p, c, len, NULL), CAPV_OK);
        ck_assert_str_eq(p.container, "capz-v2");
        ck_assert_str_eq(p.backend, backends[i].name);
        ck_assert_int_eq(p.backend_class, backends[i].cls);
        ck_assert_int_eq(p.binding, CAPV_BIND_NONE);
        ck_assert_uint_eq(p.payload_len, sizeof receipt);
        capvi_proof_clear(&p);
        free(c);
    }
    /* an empty payload */
    size_t len;
    uint8_t *c = capz(1, NULL, 0, &len);
    capv_proof p;
    ck_assert_int_eq(parse_both(&p, c, len, NULL), CAPV_OK);
    ck_assert_uint_eq(p.payload_len, 0);
    ck_assert_int_eq(p.binding, CAPV_BIND_NONE);
    capvi_proof_clear(&p);
    free(c);
}
END_TEST

/* ---- malformed CAPZ containers --------------------------------------------------------- */

typedef struct {
    const char *why;
    size_t off; /* byte to change */
    uint8_t val;
} capz_byte;

START_TEST(capz_malformed_headers)
{
    static const capz_byte bytes[] = {
        { "magic 'CAPX' (then not base64 either)", 3, 'X' },
        { "magic 'capz'", 0, 'c' },
        { "version 1", 4, 1 },
        { "version 3", 4, 3 },
        { "version 0", 4, 0 },
        { "version 0x0102", 5, 1 },
        { "backend 3", 6, 3 },
        { "backend 255", 6, 255 },
        { "reserved byte", 7, 1 },
        { "first padding byte", 76, 1 },
        { "second padding byte", 77, 0x80 },
    };
    const char *payload = "{\"version\":\"proof.v0\",\"type\":\"mock\"}";
    size_t plen = strlen(payload), len;
    uint8_t *good = capz(0, payload, plen, &len);
    ck_assert_int_eq(parse_both(NULL, good, len, NULL), CAPV_OK);
    for (size_t i = 0; i < sizeof bytes / sizeof bytes[0]; i++) {
        uint8_t *c = malloc(len);
        ck_assert_ptr_nonnull(c);
        memcpy(c, good, len);
        c[bytes[i].off] = bytes[i].val;
        capv_error err;
        capv_status st = parse_both(NULL, c, len, &err);
        ck_assert_msg(st == CAPV_E_MALFORMED, "%s: status %d (%s)", bytes[i].why, (int)st,
                      err.message);
        free(c);
    }

    /* payload_len: one more than present, far more, above 100,000,000, less than present */
    static const struct {
        const char *why;
        uint32_t value;
    } lens[] = { { "lying payload_len (+1)", 0 },
                 { "payload_len 0xffffffff", 0xffffffffu },
                 { "payload_len 100,000,001", 100000001u },
                 { "payload_len 100,000,000", 100000000u },
                 { "payload_len one short (a trailing byte)", 1 } };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t *c = malloc(len);
        ck_assert_ptr_nonnull(c);
        memcpy(c, good, len);
        uint32_t v = lens[i].value;
        if (i == 0)
            v = (uint32_t)plen + 1;
        else if (i == 4)
            v = (uint32_t)plen - 1;
        set_le32(c + 72, v);
        capv_error err;
        capv_status st = parse_both(NULL, c, len, &err);
        ck_assert_msg(st == CAPV_E_MALFORMED, "%s: status %d (%s)", lens[i].why, (int)st,
                      err.message);
        free(c);
    }

    /* trailing bytes after the payload */
    uint8_t *t = malloc(len + 3);
    ck_assert_ptr_nonnull(t);
    memcpy(t, good, len);
    memcpy(t + len, "\n\0x", 3);
    for (size_t extra = 1; extra <= 3; extra++)
        ck_assert_int_eq(parse_both(NULL, t, len + extra, NULL), CAPV_E_MALFORMED);
    free(t);

    /* every truncation: the header (4..77 bytes), and the payload */
    for (size_t n = 0; n < len; n++) {
        capv_error err;
        capv_status st = parse_both(NULL, good, n, &err);
        ck_assert_msg(st == CAPV_E_MALFORMED, "truncated at %zu: status %d (%s)", n, (int)st,
                      err.message);
    }
    free(good);
}
END_TEST

START_TEST(capz_malformed_payloads)
{
    static const struct {
        const char *why;
        const char *payload;
    } cases[] = {
        { "JSON array", "[1,2]" },
        { "JSON array after whitespace", " \n[{\"version\":\"proof.v0\"}]" },
        { "JSON string", "\"proof.v0\"" },
        { "JSON number", "42" },
        { "JSON null", "null" },
        { "broken JSON object", "{\"version\":\"proof.v0\"" },
        { "JSON object with trailing bytes", "{\"version\":\"proof.v0\"} x" },
        { "proof.v1 inside CAPZ", "{\"version\":\"proof.v1\",\"backend\":\"mock\"}" },
        { "no version", "{\"type\":\"mock\"}" },
        { "proof.v0 with a bad manifest_hash",
          "{\"version\":\"proof.v0\",\"manifest_hash\":\"0x1234\"}" },
        { "duplicate key", "{\"version\":\"proof.v0\",\"version\":\"proof.v0\"}" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *c = capz(0, cases[i].payload, strlen(cases[i].payload), &len);
        capv_error err;
        capv_status st = parse_both(NULL, c, len, &err);
        ck_assert_msg(st == CAPV_E_MALFORMED, "%s: status %d (%s)", cases[i].why, (int)st,
                      err.message);
        free(c);
    }
}
END_TEST

/* ---- malformed JSON and base64 proofs -------------------------------------------------- */

START_TEST(json_malformed)
{
    static const struct {
        const char *why;
        const char *json;
    } cases[] = {
        { "not an object", "[{\"version\":\"proof.v0\"}]" },
        { "an object then more", "{\"version\":\"proof.v0\"}{}" },
        { "not JSON", "{version:proof.v0}" },
        { "no version", "{\"type\":\"mock\"}" },
        { "numeric version", "{\"version\":0}" },
        { "unknown version", "{\"version\":\"proof.v2\",\"backend\":\"mock\"}" },
        { "version case", "{\"version\":\"Proof.v0\"}" },
        { "duplicate key", "{\"version\":\"proof.v0\",\"version\":\"proof.v1\"}" },
        { "v0 manifest_hash not a digest",
          "{\"version\":\"proof.v0\",\"manifest_hash\":\"0x" MH_HEX "0\"}" },
        { "v0 manifest_hash short", "{\"version\":\"proof.v0\",\"manifest_hash\":\"0x1234\"}" },
        { "v0 manifest_hash a number", "{\"version\":\"proof.v0\",\"manifest_hash\":5}" },
        { "v0 manifest_hash null", "{\"version\":\"proof.v0\",\"manifest_hash\":null}" },
        { "v0 policy_hash placeholder", "{\"version\":\"proof.v0\",\"policy_hash\":\"0x0\"}" },
        { "v0 type not a string", "{\"version\":\"proof.v0\",\"type\":true}" },
        { "v0 statement not a string", "{\"version\":\"proof.v0\",\"statement\":[]}" },
        { "v0 proof_data not an object", "{\"version\":\"proof.v0\",\"proof_data\":[]}" },
        { "v0 constraints not an array",
          "{\"version\":\"proof.v0\",\"proof_data\":{\"checked_constraints\":{}}}" },
        { "v0 constraint without ok",
          "{\"version\":\"proof.v0\",\"proof_data\":{\"checked_constraints\":"
          "[{\"name\":\"a\"}]}}" },
        { "v0 constraint ok as a string",
          "{\"version\":\"proof.v0\",\"proof_data\":{\"checked_constraints\":"
          "[{\"name\":\"a\",\"ok\":\"true\"}]}}" },
        { "v0 constraint without name",
          "{\"version\":\"proof.v0\",\"proof_data\":{\"checked_constraints\":[{\"ok\":true}]}}" },
        { "v0 constraint not an object",
          "{\"version\":\"proof.v0\",\"proof_data\":{\"checked_constraints\":[true]}}" },
        { "v1 missing backend", "{\"version\":\"proof.v1\",\"manifest_hash\":\"0x" MH_HEX "\"}" },
        { "v1 backend a number", "{\"version\":\"proof.v1\",\"backend\":2}" },
        { "v1 manifest_hash not a digest",
          "{\"version\":\"proof.v1\",\"backend\":\"mock\",\"manifest_hash\":\"blake3:00\"}" },
        { "v1 checks not an array",
          "{\"version\":\"proof.v1\",\"backend\":\"mock\",\"constraint_checks\":{}}" },
        { "v1 check without result",
          "{\"version\":\"proof.v1\",\"backend\":\"mock\",\"constraint_checks\":"
          "[{\"rule\":\"a\"}]}" },
        { "v1 check result a number",
          "{\"version\":\"proof.v1\",\"backend\":\"mock\",\"constraint_checks\":"
          "[{\"rule\":\"a\",\"result\":1}]}" },
        { "v1 check without rule",
          "{\"version\":\"proof.v1\",\"backend\":\"mock\",\"constraint_checks\":"
          "[{\"result\":true}]}" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *j = cases[i].json;
        capv_error err;
        capv_status st = parse_both(NULL, (const uint8_t *)j, strlen(j), &err);
        ck_assert_msg(st == CAPV_E_MALFORMED, "%s: status %d (%s)", cases[i].why, (int)st,
                      err.message);
        /* the same wrapped in base64 (legacy proof.dat) */
        char *w = b64(j);
        st = parse_both(NULL, (const uint8_t *)w, strlen(w), &err);
        ck_assert_msg(st == CAPV_E_MALFORMED, "base64 of %s: status %d (%s)", cases[i].why, (int)st,
                      err.message);
        free(w);
    }
}
END_TEST

START_TEST(base64_and_empty_malformed)
{
    const char *v0 = "{\"version\":\"proof.v0\",\"type\":\"mock\"}";   /* 36 bytes */
    const char *v0b = "{\"version\":\"proof.v0\",\"type\":\"mock\" }"; /* 37: needs '==' */
    char *w = b64(v0b);
    size_t n = strlen(w);
    ck_assert_str_eq(w + n - 2, "==");
    ck_assert_int_eq(parse_both(NULL, (const uint8_t *)w, n, NULL), CAPV_OK);

    capv_error err;
    /* padding missing, half missing, doubled */
    ck_assert_int_eq(parse_both(NULL, (const uint8_t *)w, n - 2, &err), CAPV_E_MALFORMED);
    ck_assert_int_eq(parse_both(NULL, (const uint8_t *)w, n - 1, &err), CAPV_E_MALFORMED);
    char *more = malloc(n + 3);
    ck_assert_ptr_nonnull(more);
    memcpy(more, w, n);
    memcpy(more + n, "==", 3);
    ck_assert_int_eq(parse_both(NULL, (const uint8_t *)more, n + 2, &err), CAPV_E_MALFORMED);
    /* padding in the middle */
    memcpy(more, w, n + 1);
    more[8] = '=';
    ck_assert_int_eq(parse_both(NULL, (const uint8_t *)more, n, &err), CAPV_E_MALFORMED);
    free(more);
    free(w);

    /* the URL-safe alphabet is not standard base64 */
    w = b64(v0);
    char *url = strdup(w);
    ck_assert_ptr_nonnull(url);
    int changed = 0;
    for (char *c = url; *c; c++) {
        if (*c == '+' || *c == '/') {
            *c = *c == '+' ? '-' : '_';
            changed++;
        }
    }
    if (changed == 0)
        url[0] = '-';
    ck_assert_int_eq(parse_both(NULL, (const uint8_t *)url, strlen(url), &err), CAPV_E_MALFORMED);
    free(url);
    free(w);

    /* base64 of something that is not a proof.v0 */
    static const char *not_v0[] = {
        "{\"version\":\"proof.v1\",\"backend\":\"mock\"}",
        "not json at all",
        "",
    };
    for (size_t i = 0; i < sizeof not_v0 / sizeof not_v0[0]; i++) {
        w = b64(not_v0[i]);
        capv_status st = parse_both(NULL, (const uint8_t *)w, strlen(w), &err);
        ck_assert_msg(st == CAPV_E_MALFORMED, "base64 of '%s': status %d", not_v0[i], (int)st);
        free(w);
    }

    /* empty, whitespace only, binary noise */
    ck_assert_int_eq(parse_both(NULL, NULL, 0, &err), CAPV_E_MALFORMED);
    ck_assert_int_eq(parse_both(NULL, (const uint8_t *)"", 0, &err), CAPV_E_MALFORMED);
    ck_assert_int_eq(parse_both(NULL, (const uint8_t *)" \t\r\n \n", 6, &err), CAPV_E_MALFORMED);
    const uint8_t noise[] = { 0x00, 0xff, 0x7b, 0x10, 0x80 };
    ck_assert_int_eq(parse_both(NULL, noise, sizeof noise, &err), CAPV_E_MALFORMED);
    ck_assert_int_eq(parse_both(NULL, (const uint8_t *)"{", 1, &err), CAPV_E_MALFORMED);
}
END_TEST

/* A non-CAPZ proof larger than any legitimate JSON proof is refused without parsing. */
START_TEST(oversized_json_proof)
{
    size_t n = 16u * 1024u * 1024u + 1u;
    uint8_t *d = malloc(n);
    ck_assert_ptr_nonnull(d);
    memset(d, ' ', n);
    d[0] = '{';
    d[n - 1] = '}';
    capv_error err = CAPV_ERROR_INIT;
    capv_proof p;
    ck_assert_int_eq(capvi_proof_parse(&p, d, n, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err.message, "too large"));
    capvi_proof_clear(&p);
    /* one byte less is parsed, and is merely an object without a version */
    d[n - 2] = '}';
    ck_assert_int_eq(capvi_proof_parse(&p, d, n - 1, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err.message, "version"));
    capvi_proof_clear(&p);
    free(d);
}
END_TEST

Suite *proof_suite(void)
{
    Suite *s = suite_create("proof");
    TCase *tc = tcase_create("vectors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, peer_capz_vector);
    tcase_add_test(tc, peer_legacy_proof_dat);
    tcase_add_test(tc, peer_multi_unit_json_v0);
    tcase_add_test(tc, peer_desktop_proof_v1);
    tcase_add_test(tc, proof_v1_constructed);
    tcase_add_test(tc, proof_v0_failed_constraint);
    tcase_add_test(tc, capz_header_cannot_upgrade_a_mock);
    tcase_add_test(tc, capz_opaque_payloads);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, capz_malformed_headers);
    tcase_add_test(tc, capz_malformed_payloads);
    tcase_add_test(tc, json_malformed);
    tcase_add_test(tc, base64_and_empty_malformed);
    tcase_add_test(tc, oversized_json_proof);
    suite_add_tcase(s, tc);
    return s;
}
