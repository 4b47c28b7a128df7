/* SPDX-License-Identifier: Apache-2.0 */
/* Policies (docs/policies.md): golden IR bytes and the peer's hashes, policy v1 hashing, every lint
 * code, YAML typing and errors with positions, malformed inputs with exact statuses, IR
 * integrity, evaluation truth tables per operator, adaptivity, requests, and the verifier's
 * policy store reading policy files. */
#include <capverify.h>
#include <capverify/unstable/policy_request.h>
#include <check.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy_int.h"
#include "suites.h"
#include "testutil.h"
#include "verify_int.h"

#define LKSG_V1_POLICY_HASH                                                                        \
    "sha3-256:b98c3db55f874476dc749ea32b70bdf5369a0d7bc5364f236e034f1ddcd94638"
#define LKSG_V1_IR_HASH "sha3-256:df3a3eeb7c72f6204131397e4b0a4b16235f1e20cc66102153ad6d4ee78f892c"
#define LKSG_V2_POLICY_HASH                                                                        \
    "sha3-256:16ad34c3ee21844274f1c792975ca56cbd8e9420f0f7e4d00191a1f255a6cf2f"
#define LKSG_V2_IR_HASH "sha3-256:358817334192887133b3a7949f98b4685eeda102d826f42281e507b2beb8b888"
#define V1_HASH "0xd490be94f6f182bd6a00930c65f6f1f5fab70ddb29116235ae344f064f9b52b3"
/* supplier_root of the peer's csv/suppliers.csv, the one supplier hash of adapt_context */
#define SUPPLIER_ROOT "0xdde3f2c96c5ffc46eef6af7fe449ba6c575b71eff26d0829ce6d48872b2f1610"

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
}

static void teardown(void)
{
    capv_global_shutdown();
}

/* ---- helpers ------------------------------------------------------------------------- */

static capv_policy *parse_text(const char *text, capv_policy_format fmt)
{
    capv_policy *p = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_parse(&p, (const uint8_t *)text, strlen(text), fmt, &err);
    ck_assert_msg(st == CAPV_OK, "parse failed: %s: %s\n%s", capv_status_name(st), err.message,
                  text);
    return p;
}

static capv_policy *parse_vector(const char *rel)
{
    size_t len;
    uint8_t *data = tu_read(tu_shared_dir(), rel, &len);
    capv_policy *p = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_policy_parse(&p, data, len, CAPV_POLICY_FORMAT_AUTO, &err) == CAPV_OK,
                  "%s: %s", rel, err.message);
    free(data);
    return p;
}

static capv_policy_ir *compile_text(const char *text)
{
    capv_policy *p = parse_text(text, CAPV_POLICY_FORMAT_AUTO);
    capv_policy_ir *ir = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_compile(&ir, NULL, p, CAPV_POLICY_LINT_STRICT, &err);
    ck_assert_msg(st == CAPV_OK, "compile failed: %s", err.message);
    capv_policy_free(p);
    return ir;
}

static capv_policy_ir *load_vector_ir(const char *rel)
{
    size_t len;
    uint8_t *data = tu_read(tu_shared_dir(), rel, &len);
    capv_policy_ir *ir = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_policy_ir_load(&ir, data, len, &err) == CAPV_OK, "%s: %s", rel, err.message);
    free(data);
    return ir;
}

static capv_policy_eval_result *eval_text(const capv_policy_ir *ir, const char *ctx, unsigned flags)
{
    capv_policy_eval_result *r = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_eval(&r, ir, (const uint8_t *)ctx, strlen(ctx), flags, &err);
    ck_assert_msg(st == CAPV_OK, "eval failed: %s: %s\n%s", capv_status_name(st), err.message, ctx);
    return r;
}

/* The result of the rule named `id`. */
static capv_policy_rule_result rule_status(const capv_policy_eval_result *r, const char *id,
                                           const char **msg)
{
    for (size_t i = 0; i < capv_policy_eval_result_rule_count(r); i++)
        if (strcmp(capv_policy_eval_result_rule_id(r, i), id) == 0) {
            if (msg != NULL)
                *msg = capv_policy_eval_result_rule_message(r, i);
            return capv_policy_eval_result_rule_status(r, i);
        }
    ck_abort_msg("no rule %s in the result", id);
    return CAPV_POLICY_RULE_FAIL;
}

/* Index of the first diagnostic with `code`, or -1. */
static int find_code(const capv_policy_diagnostics *d, const char *code)
{
    for (size_t i = 0; i < capv_policy_diagnostics_count(d); i++)
        if (strcmp(capv_policy_diagnostic_code(d, i), code) == 0)
            return (int)i;
    return -1;
}

/* ---- 1. golden IR and the peer's hashes ---------------------------------------------- */

START_TEST(golden_ir_bytes)
{
    capv_policy *p = parse_vector("peer/policy/lksg_v1.policy.yml");
    ck_assert_str_eq(capv_policy_id(p), "lksg.v1");
    ck_assert_str_eq(capv_policy_version(p), "1.0");
    ck_assert_str_eq(capv_policy_hash(p), LKSG_V1_POLICY_HASH);
    capv_policy_ir *ir = NULL;
    capv_policy_diagnostics *d = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_policy_compile(&ir, &d, p, CAPV_POLICY_LINT_STRICT, &err), CAPV_OK);
    ck_assert_uint_eq(capv_policy_diagnostics_count(d), 0); /* lint clean (strict) */
    ck_assert_str_eq(capv_policy_ir_hash(ir), LKSG_V1_IR_HASH);
    ck_assert_str_eq(capv_policy_ir_policy_hash(ir), LKSG_V1_POLICY_HASH);
    ck_assert_str_eq(capv_policy_ir_policy_id(ir), "lksg.v1");
    ck_assert_str_eq(capv_policy_ir_policy_version(ir), "1.0");
    ck_assert_uint_eq(capv_policy_ir_rule_count(ir), 1);

    size_t glen, plen;
    uint8_t *golden = tu_read(tu_shared_dir(), "peer/policy/lksg_v1.ir.json", &glen);
    const char *pretty = capv_policy_ir_json(ir, CAPV_POLICY_IR_PRETTY, &plen);
    ck_assert_uint_eq(plen, glen);
    ck_assert_int_eq(memcmp(pretty, golden, glen), 0);
    ck_assert_uint_eq(strlen(pretty), plen);
    ck_assert_int_ne(pretty[plen - 1], '\n');

    /* the compact form is what ir_hash covers once ir_hash is blanked */
    size_t clen;
    const char *compact = capv_policy_ir_json(ir, CAPV_POLICY_IR_COMPACT, &clen);
    ck_assert_ptr_nonnull(strstr(compact, "\"ir_hash\":\"" LKSG_V1_IR_HASH "\"}"));
    ck_assert_ptr_null(strchr(compact, '\n'));

    /* the golden file loads, and its canonical texts are the same bytes */
    capv_policy_ir *loaded = load_vector_ir("peer/policy/lksg_v1.ir.json");
    ck_assert_str_eq(capv_policy_ir_hash(loaded), LKSG_V1_IR_HASH);
    ck_assert_ptr_null(capv_policy_ir_policy_version(loaded));
    ck_assert_str_eq(capv_policy_ir_json(loaded, CAPV_POLICY_IR_PRETTY, NULL), pretty);
    ck_assert_str_eq(capv_policy_ir_json(loaded, CAPV_POLICY_IR_COMPACT, NULL), compact);
    capv_policy_ir_free(loaded);
    free(golden);
    capv_policy_diagnostics_free(d);
    capv_policy_ir_free(ir);
    capv_policy_free(p);
}
END_TEST

START_TEST(v2_vector_hashes)
{
    capv_policy *p = parse_vector("peer/policy/policy.lksg.v2.yml");
    ck_assert_str_eq(capv_policy_id(p), "lksg.demo.v1");
    ck_assert_str_eq(capv_policy_hash(p), LKSG_V2_POLICY_HASH);
    /* non-ASCII stays raw UTF-8 in the hashed bytes */
    ck_assert_ptr_nonnull(strstr(capv_policy_canonical_json(p, NULL), "\"article\":\"\xc2\xa7"
                                                                      "3 Abs. 1\""));
    capv_policy_ir *ir = NULL;
    capv_policy_diagnostics *d = NULL;
    ck_assert_int_eq(capv_policy_compile(&ir, &d, p, CAPV_POLICY_LINT_STRICT, NULL), CAPV_OK);
    ck_assert_str_eq(capv_policy_ir_hash(ir), LKSG_V2_IR_HASH);
    /* no errors; company_commitment_root is declared but unused (W2001) */
    ck_assert_uint_eq(capv_policy_diagnostics_errors(d), 0);
    ck_assert_uint_eq(capv_policy_diagnostics_count(d), 1);
    ck_assert_str_eq(capv_policy_diagnostic_code(d, 0), "W2001");
    ck_assert_ptr_nonnull(strstr(capv_policy_diagnostic_message(d, 0), "company_commitment_root"));
    /* rules sorted by id; the object operand stays {"var": …}; the number stays a literal */
    const char *c = capv_policy_ir_json(ir, CAPV_POLICY_IR_COMPACT, NULL);
    ck_assert_ptr_nonnull(strstr(c, "\"rules\":[{\"id\":\"supplier_count_check\",\"op\":"
                                    "\"range_min\",\"lhs\":{\"var\":\"supplier_hashes\"},"
                                    "\"rhs\":1},{\"id\":\"ubo_not_sanctioned\""));
    /* and the IR round-trips through loading */
    size_t n;
    const char *pretty = capv_policy_ir_json(ir, CAPV_POLICY_IR_PRETTY, &n);
    capv_policy_ir *again = NULL;
    ck_assert_int_eq(capv_policy_ir_load(&again, (const uint8_t *)pretty, n, NULL), CAPV_OK);
    ck_assert_str_eq(capv_policy_ir_hash(again), LKSG_V2_IR_HASH);
    capv_policy_ir_free(again);
    capv_policy_diagnostics_free(d);
    capv_policy_ir_free(ir);
    capv_policy_free(p);
}
END_TEST

/* The JSON form of a policy hashes exactly like its YAML form. */
START_TEST(json_input_same_hash)
{
    const char *rels[] = { "peer/policy/lksg_v1.policy.yml", "peer/policy/policy.lksg.v2.yml" };
    for (size_t i = 0; i < 2; i++) {
        capv_policy *y = parse_vector(rels[i]);
        size_t n;
        const char *canon = capv_policy_canonical_json(y, &n);
        capv_policy *j = NULL;
        capv_error err = CAPV_ERROR_INIT;
        ck_assert_int_eq(
            capv_policy_parse(&j, (const uint8_t *)canon, n, CAPV_POLICY_FORMAT_JSON, &err),
            CAPV_OK);
        ck_assert_str_eq(capv_policy_hash(j), capv_policy_hash(y));
        capv_policy_ir *a = NULL, *b = NULL;
        ck_assert_int_eq(capv_policy_compile(&a, NULL, y, CAPV_POLICY_LINT_STRICT, NULL), CAPV_OK);
        ck_assert_int_eq(capv_policy_compile(&b, NULL, j, CAPV_POLICY_LINT_STRICT, NULL), CAPV_OK);
        ck_assert_str_eq(capv_policy_ir_json(a, CAPV_POLICY_IR_PRETTY, NULL),
                         capv_policy_ir_json(b, CAPV_POLICY_IR_PRETTY, NULL));
        capv_policy_ir_free(a);
        capv_policy_ir_free(b);
        capv_policy_free(j);
        capv_policy_free(y);
    }
    /* AUTO picks JSON for '{' (strict JSON rules apply: duplicate keys rejected) */
    const char *dup = "{\"id\":\"a\",\"id\":\"b\"}";
    capv_policy *p = NULL;
    ck_assert_int_eq(
        capv_policy_parse(&p, (const uint8_t *)dup, strlen(dup), CAPV_POLICY_FORMAT_AUTO, NULL),
        CAPV_E_JSON_DUPLICATE_KEY);
    ck_assert_ptr_null(p);
}
END_TEST

/* A JSON policy's numbers are those serde_json reads, as the existing implementation hashed
 * them: "-0" and integers beyond i64 / u64 are f64s, so they hash (and compile) like their
 * float forms; integers within those ranges stay exact. */
static const char *json_rhs_hash(char out[CAPV_POLICY_HASH_SIZE], const char *rhs, char **ir)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"id\":\"p\",\"version\":\"1\",\"legal_basis\":[{\"directive\":\"LkSG\"}],"
             "\"description\":\"d\",\"inputs\":{\"x\":{\"type\":\"number\"}},"
             "\"rules\":[{\"id\":\"r\",\"op\":\"range_min\",\"lhs\":\"x\",\"rhs\":%s}]}",
             rhs);
    capv_policy *p = parse_text(text, CAPV_POLICY_FORMAT_JSON);
    snprintf(out, CAPV_POLICY_HASH_SIZE, "%s", capv_policy_hash(p));
    if (ir != NULL) {
        capv_policy_ir *c = NULL;
        ck_assert_int_eq(capv_policy_compile(&c, NULL, p, CAPV_POLICY_LINT_RELAXED, NULL), CAPV_OK);
        *ir = strdup(capv_policy_ir_json(c, CAPV_POLICY_IR_COMPACT, NULL));
        capv_policy_ir_free(c);
    }
    capv_policy_free(p);
    return out;
}

START_TEST(json_numbers_as_serde_reads_them)
{
    char a[CAPV_POLICY_HASH_SIZE], b[CAPV_POLICY_HASH_SIZE];
    char *ir = NULL;
    ck_assert_str_eq(json_rhs_hash(a, "-0", &ir), json_rhs_hash(b, "-0.0", NULL));
    ck_assert_ptr_nonnull(strstr(ir, "\"rhs\":-0.0}"));
    free(ir);
    ck_assert_str_ne(json_rhs_hash(a, "-0", NULL), json_rhs_hash(b, "0", NULL));
    ck_assert_str_eq(json_rhs_hash(a, "18446744073709551616", NULL),
                     json_rhs_hash(b, "1.8446744073709552e19", NULL));
    ck_assert_str_eq(json_rhs_hash(a, "-9223372036854775809", NULL),
                     json_rhs_hash(b, "-9.223372036854776e18", NULL));
    /* the largest u64 and the smallest i64 stay integers */
    ck_assert_str_ne(json_rhs_hash(a, "18446744073709551615", NULL),
                     json_rhs_hash(b, "1.8446744073709552e19", NULL));
    ck_assert_str_ne(json_rhs_hash(a, "-9223372036854775808", NULL),
                     json_rhs_hash(b, "-9.223372036854776e18", NULL));
    /* a compile request's "policy" object (POST /policy/compile) reads them alike */
    const char *body = "{\"policy\":{\"id\":\"p\",\"version\":\"1\",\"legal_basis\":[{"
                       "\"directive\":\"LkSG\"}],\"description\":\"d\",\"inputs\":{\"x\":{"
                       "\"type\":\"number\"}},\"rules\":[{\"id\":\"r\",\"op\":\"range_min\","
                       "\"lhs\":\"x\",\"rhs\":-0}]}}";
    capv_policy_compile_request *req = NULL;
    ck_assert_int_eq(
        capv_policy_compile_request_parse(&req, (const uint8_t *)body, strlen(body), NULL),
        CAPV_OK);
    ck_assert_str_eq(capv_policy_hash(capv_policy_compile_request_policy(req)),
                     json_rhs_hash(b, "-0.0", NULL));
    capv_policy_compile_request_free(req);
    /* an IR read back (capv_policy_ir_load) holds the numbers its producer read: one written
     * with "-0" is the IR of "-0.0" */
    char *ir0 = NULL;
    json_rhs_hash(a, "-0", &ir0);
    char *p0 = strstr(ir0, "-0.0}");
    ck_assert_ptr_nonnull(p0);
    memmove(p0 + 2, p0 + 4, strlen(p0 + 4) + 1); /* "-0.0}" -> "-0}" */
    capv_policy_ir *back = NULL;
    ck_assert_int_eq(capv_policy_ir_load(&back, (const uint8_t *)ir0, strlen(ir0), NULL), CAPV_OK);
    ck_assert_ptr_nonnull(strstr(capv_policy_ir_json(back, CAPV_POLICY_IR_COMPACT, NULL), "-0.0}"));
    capv_policy_ir_free(back);
    free(ir0);
    /* inside an object operand too */
    ck_assert_str_eq(json_rhs_hash(a, "{\"k\":[-0]}", NULL),
                     json_rhs_hash(b, "{\"k\":[-0.0]}", NULL));
}
END_TEST

START_TEST(determinism_and_order)
{
    /* the same policy written in another order: inputs sorted, rules sorted by id in IR;
     * the policy_hash keeps the rules' source order */
    const char *a = "id: p\nversion: '1'\nlegal_basis: [{directive: LkSG}]\ndescription: d\n"
                    "inputs: {x: {type: number}, y: {type: number}}\n"
                    "rules:\n  - {id: b_rule, op: eq, lhs: x, rhs: y}\n"
                    "  - {id: a_rule, op: range_min, lhs: x, rhs: 1}\n";
    const char *b = "version: '1'\nid: p\ndescription: d\nlegal_basis: [{directive: LkSG}]\n"
                    "inputs: {y: {type: number}, x: {type: number}}\n"
                    "rules:\n  - {op: eq, id: b_rule, rhs: y, lhs: x}\n"
                    "  - {rhs: 1, id: a_rule, lhs: x, op: range_min}\n";
    const char *c = "id: p\nversion: '1'\nlegal_basis: [{directive: LkSG}]\ndescription: d\n"
                    "inputs: {x: {type: number}, y: {type: number}}\n"
                    "rules:\n  - {id: a_rule, op: range_min, lhs: x, rhs: 1}\n"
                    "  - {id: b_rule, op: eq, lhs: x, rhs: y}\n";
    capv_policy *pa = parse_text(a, CAPV_POLICY_FORMAT_YAML);
    capv_policy *pb = parse_text(b, CAPV_POLICY_FORMAT_YAML);
    capv_policy *pc = parse_text(c, CAPV_POLICY_FORMAT_YAML);
    ck_assert_str_eq(capv_policy_hash(pa), capv_policy_hash(pb));
    ck_assert_str_ne(capv_policy_hash(pa), capv_policy_hash(pc));
    capv_policy_ir *ia = NULL, *ia2 = NULL, *ic = NULL;
    ck_assert_int_eq(capv_policy_compile(&ia, NULL, pa, CAPV_POLICY_LINT_STRICT, NULL), CAPV_OK);
    ck_assert_int_eq(capv_policy_compile(&ia2, NULL, pa, CAPV_POLICY_LINT_STRICT, NULL), CAPV_OK);
    ck_assert_int_eq(capv_policy_compile(&ic, NULL, pc, CAPV_POLICY_LINT_STRICT, NULL), CAPV_OK);
    ck_assert_str_eq(capv_policy_ir_json(ia, CAPV_POLICY_IR_PRETTY, NULL),
                     capv_policy_ir_json(ia2, CAPV_POLICY_IR_PRETTY, NULL));
    const char *ja = capv_policy_ir_json(ia, CAPV_POLICY_IR_COMPACT, NULL);
    ck_assert_ptr_nonnull(strstr(ja, "\"rules\":[{\"id\":\"a_rule\""));
    /* same rules, different policy_hash, so a different IR */
    ck_assert_str_ne(capv_policy_ir_hash(ia), capv_policy_ir_hash(ic));
    /* object operands are written with sorted keys */
    capv_policy_ir *io =
        compile_text("id: p\nversion: '1'\nlegal_basis: [{directive: LkSG}]\ndescription: d\n"
                     "inputs: {x: {type: string}}\nrules:\n"
                     "  - {id: r, op: eq, lhs: x, rhs: {zz: 1, aa: [2, {y: 1, b: 0}]}}\n");
    ck_assert_ptr_nonnull(strstr(capv_policy_ir_json(io, CAPV_POLICY_IR_COMPACT, NULL),
                                 "\"rhs\":{\"aa\":[2,{\"b\":0,\"y\":1}],\"zz\":1}"));
    capv_policy_ir_free(io);
    capv_policy_ir_free(ia);
    capv_policy_ir_free(ia2);
    capv_policy_ir_free(ic);
    capv_policy_free(pa);
    capv_policy_free(pb);
    capv_policy_free(pc);
}
END_TEST

/* ---- 2. policy v1 -------------------------------------------------------------------- */

START_TEST(v1_hash_vector)
{
    size_t len;
    uint8_t *data = tu_read(tu_shared_dir(), "peer/policy/policy.lksg.v1.yml", &len);
    char h[CAPV_DIGEST_HEX_SIZE];
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_policy_v1_hash(h, data, len, CAPV_POLICY_FORMAT_YAML, &err), CAPV_OK);
    ck_assert_str_eq(h, V1_HASH);
    ck_assert_int_eq(capv_policy_v1_hash(h, data, len, CAPV_POLICY_FORMAT_AUTO, &err), CAPV_OK);
    ck_assert_str_eq(h, V1_HASH);
    /* the internal store hash agrees and names the format */
    uint8_t d[32];
    const char *kind = NULL;
    ck_assert_int_eq(capvi_policy_source_hash(d, &kind, data, len, CAPV_POLICY_FORMAT_AUTO, &err),
                     CAPV_OK);
    ck_assert_str_eq(tu_hex(d), V1_HASH);
    ck_assert_str_eq(kind, "policy v1");
    free(data);

    /* the same policy as JSON, keys in another order: same hash (field order is fixed) */
    const char *json = "{\"notes\":\"Demo policy for testing Tag 3 proof system\","
                       "\"constraints\":{\"supplier_count_max\":10,"
                       "\"require_at_least_one_ubo\":true},\"name\":\"LkSG Demo Policy\","
                       "\"created_at\":\"2025-10-25T09:00:00Z\",\"version\":\"lksg.v1\"}";
    ck_assert_int_eq(
        capv_policy_v1_hash(h, (const uint8_t *)json, strlen(json), CAPV_POLICY_FORMAT_AUTO, &err),
        CAPV_OK);
    ck_assert_str_eq(h, V1_HASH);

    /* optional constraints change the hash; notes defaults to "" */
    const char *more = "version: lksg.v1\nname: n\ncreated_at: '2025-10-25T09:00:00Z'\n"
                       "constraints:\n  require_at_least_one_ubo: false\n"
                       "  supplier_count_max: 3\n  ubo_count_min: 1\n"
                       "  require_statement_roots: [supplier_root]\n";
    char h2[CAPV_DIGEST_HEX_SIZE];
    ck_assert_int_eq(
        capv_policy_v1_hash(h2, (const uint8_t *)more, strlen(more), CAPV_POLICY_FORMAT_YAML, &err),
        CAPV_OK);
    ck_assert_str_ne(h2, V1_HASH);

    static const struct {
        const char *text;
        capv_status want;
    } bad[] = {
        { "version: v\nname: n\ncreated_at: c\nconstraints: {require_at_least_one_ubo: true}\n",
          CAPV_E_MISSING },
        { "version: v\nname: n\ncreated_at: c\nconstraints: {require_at_least_one_ubo: 1, "
          "supplier_count_max: 1}\n",
          CAPV_E_TYPE },
        { "version: v\nname: n\ncreated_at: c\nconstraints: {require_at_least_one_ubo: true, "
          "supplier_count_max: -1}\n",
          CAPV_E_RANGE },
        { "version: v\nname: n\ncreated_at: c\nconstraints: {require_at_least_one_ubo: true, "
          "supplier_count_max: 1.5}\n",
          CAPV_E_RANGE },
        { "version: v\nname: n\ncreated_at: c\nextra: 1\nconstraints: "
          "{require_at_least_one_ubo: true, supplier_count_max: 1}\n",
          CAPV_E_MALFORMED },
        { "version: 1\nname: n\ncreated_at: c\nconstraints: {require_at_least_one_ubo: true, "
          "supplier_count_max: 1}\n",
          CAPV_E_TYPE },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        capv_error_clear(&err);
        capv_status st = capv_policy_v1_hash(h, (const uint8_t *)bad[i].text, strlen(bad[i].text),
                                             CAPV_POLICY_FORMAT_YAML, &err);
        ck_assert_msg(st == bad[i].want, "case %zu: got %s (%s)", i, capv_status_name(st),
                      err.message);
        ck_assert_int_eq(err.code, st);
        ck_assert_str_eq(h, "");
    }
    /* JSON -0 is a float to serde_json, not the u32 0; YAML -0 is the integer 0 */
    const char *minus0 = "{\"version\":\"v\",\"name\":\"n\",\"created_at\":\"c\",\"constraints\":{"
                         "\"require_at_least_one_ubo\":true,\"supplier_count_max\":-0}}";
    ck_assert_int_eq(capv_policy_v1_hash(h, (const uint8_t *)minus0, strlen(minus0),
                                         CAPV_POLICY_FORMAT_JSON, NULL),
                     CAPV_E_RANGE);
    const char *ymin0 = "version: v\nname: n\ncreated_at: c\nconstraints: "
                        "{require_at_least_one_ubo: true, supplier_count_max: -0}\n";
    ck_assert_int_eq(capv_policy_v1_hash(h, (const uint8_t *)ymin0, strlen(ymin0),
                                         CAPV_POLICY_FORMAT_YAML, NULL),
                     CAPV_OK);
}
END_TEST

/* ---- 3. lints ------------------------------------------------------------------------ */

/* A clean policy to derive minimal lint triggers from. */
#define CLEAN_HEAD "id: t.p\nversion: '1'\nlegal_basis: [{directive: LkSG}]\ndescription: d\n"
#define CLEAN_INPUTS "inputs: {a: {type: array, items: hex}, b: {type: hex}}\n"
#define CLEAN_RULE "  - {id: r1, op: non_membership, lhs: a, rhs: b}\n"

static const struct lint_case {
    const char *code;
    capv_policy_lint_mode mode;
    capv_policy_lint_level level;
    const char *rule_id; /* expected rule_id of the diagnostic, NULL for none */
    const char *text;
} lint_cases[] = {
    { "E1001", CAPV_POLICY_LINT_STRICT, CAPV_POLICY_LEVEL_ERROR, NULL,
      CLEAN_HEAD CLEAN_INPUTS "rules:\n" CLEAN_RULE
                              "adaptivity:\n  predicates: [{id: p, expr: true}]\n"
                              "  activations: [{when: p, rules: [r1, nope]}]\n" },
    { "E1002", CAPV_POLICY_LINT_STRICT, CAPV_POLICY_LEVEL_ERROR, NULL,
      "id: t.p\nversion: '1'\nlegal_basis: []\ndescription: d\n" CLEAN_INPUTS
      "rules:\n" CLEAN_RULE },
    { "E1002", CAPV_POLICY_LINT_RELAXED, CAPV_POLICY_LEVEL_WARNING, NULL,
      "id: t.p\nversion: '1'\nlegal_basis: []\ndescription: d\n" CLEAN_INPUTS
      "rules:\n" CLEAN_RULE },
    { "E1003", CAPV_POLICY_LINT_STRICT, CAPV_POLICY_LEVEL_ERROR, "r1",
      CLEAN_HEAD CLEAN_INPUTS "rules:\n" CLEAN_RULE CLEAN_RULE },
    { "E1004", CAPV_POLICY_LINT_STRICT, CAPV_POLICY_LEVEL_ERROR, NULL,
      CLEAN_HEAD CLEAN_INPUTS "rules:\n" CLEAN_RULE
                              "adaptivity:\n  predicates: [{id: p, expr: true}]\n"
                              "  activations: [{when: q, rules: [r1]}]\n" },
    { "E1005", CAPV_POLICY_LINT_STRICT, CAPV_POLICY_LEVEL_ERROR, NULL,
      CLEAN_HEAD CLEAN_INPUTS
      "rules:\n" CLEAN_RULE
      "adaptivity:\n  predicates: [{id: p, expr: true}, {id: p, expr: false}]\n"
      "  activations: [{when: p, rules: [r1]}]\n" },
    { "E2001", CAPV_POLICY_LINT_STRICT, CAPV_POLICY_LEVEL_ERROR, "r1",
      CLEAN_HEAD CLEAN_INPUTS "rules:\n  - {id: r1, op: membership, lhs: a, rhs: b}\n" },
    { "E2002", CAPV_POLICY_LINT_STRICT, CAPV_POLICY_LEVEL_ERROR, NULL,
      CLEAN_HEAD CLEAN_INPUTS
      "rules:\n" CLEAN_RULE "adaptivity:\n  predicates: [{id: p, expr: {func: ge, args: [1, 2]}}]\n"
      "  activations: [{when: p, rules: [r1]}]\n" },
    { "E2002", CAPV_POLICY_LINT_STRICT, CAPV_POLICY_LEVEL_ERROR, NULL,
      CLEAN_HEAD CLEAN_INPUTS
      "rules:\n" CLEAN_RULE
      "adaptivity:\n  predicates: [{id: p, expr: {func: eq, args: [{var: n, default: 1}, 1]}}]\n"
      "  activations: [{when: p, rules: [r1]}]\n" },
    { "E2003", CAPV_POLICY_LINT_STRICT, CAPV_POLICY_LEVEL_ERROR, "r1",
      CLEAN_HEAD CLEAN_INPUTS "rules:\n  - {id: r1, op: non_membership, lhs: a, rhs: c}\n"
                              "  - {id: r2, op: eq, lhs: b, rhs: 1}\n" },
    { "W1002", CAPV_POLICY_LINT_STRICT, CAPV_POLICY_LEVEL_WARNING, NULL,
      "id: t.p\nversion: '1'\nlegal_basis: [{directive: LkSG}]\n" CLEAN_INPUTS
      "rules:\n" CLEAN_RULE },
    { "W1003", CAPV_POLICY_LINT_STRICT, CAPV_POLICY_LEVEL_WARNING, NULL,
      CLEAN_HEAD "inputs: {}\nrules: []\n" },
    { "W2001", CAPV_POLICY_LINT_STRICT, CAPV_POLICY_LEVEL_WARNING, NULL,
      CLEAN_HEAD "inputs: {a: {type: array}, b: {type: hex}, unused: {type: string}}\n"
                 "rules:\n" CLEAN_RULE },
};

START_TEST(lint_clean_policy)
{
    const char *clean = CLEAN_HEAD CLEAN_INPUTS
        "rules:\n" CLEAN_RULE
        "adaptivity:\n  predicates: [{id: p, expr: {func: gt, args: [n, 1]}}]\n"
        "  activations: [{when: p, rules: [r1]}]\n";
    capv_policy *p = parse_text(clean, CAPV_POLICY_FORMAT_YAML);
    for (int mode = 0; mode < 2; mode++) {
        capv_policy_diagnostics *d = NULL;
        ck_assert_int_eq(capv_policy_lint(&d, p, (capv_policy_lint_mode)mode, NULL), CAPV_OK);
        ck_assert_uint_eq(capv_policy_diagnostics_count(d), 0);
        for (size_t i = 0; i < sizeof lint_cases / sizeof lint_cases[0]; i++)
            ck_assert_int_eq(find_code(d, lint_cases[i].code), -1);
        capv_policy_diagnostics_free(d);
    }
    capv_policy_free(p);
}
END_TEST

START_TEST(lint_each_code)
{
    const struct lint_case *c = &lint_cases[_i];
    capv_policy *p = parse_text(c->text, CAPV_POLICY_FORMAT_YAML);
    capv_policy_diagnostics *d = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_policy_lint(&d, p, c->mode, &err), CAPV_OK);
    int at = find_code(d, c->code);
    ck_assert_msg(at >= 0, "%s not reported", c->code);
    /* minimal: the trigger is the only finding */
    ck_assert_msg(capv_policy_diagnostics_count(d) == 1, "%s: %zu diagnostics (first %s)", c->code,
                  capv_policy_diagnostics_count(d), capv_policy_diagnostic_code(d, 0));
    ck_assert_int_eq(capv_policy_diagnostic_level(d, (size_t)at), c->level);
    ck_assert_ptr_nonnull(capv_policy_diagnostic_message(d, (size_t)at));
    if (c->rule_id == NULL)
        ck_assert_ptr_null(capv_policy_diagnostic_rule_id(d, (size_t)at));
    else
        ck_assert_str_eq(capv_policy_diagnostic_rule_id(d, (size_t)at), c->rule_id);

    /* errors stop compilation with MALFORMED and hand the diagnostics out; warnings do not */
    capv_policy_ir *ir = (capv_policy_ir *)&ir;
    capv_policy_diagnostics *cd = NULL;
    capv_status st = capv_policy_compile(&ir, &cd, p, c->mode, &err);
    ck_assert_ptr_nonnull(cd);
    ck_assert_uint_eq(capv_policy_diagnostics_count(cd), capv_policy_diagnostics_count(d));
    if (c->level == CAPV_POLICY_LEVEL_ERROR) {
        ck_assert_int_eq(st, CAPV_E_MALFORMED);
        ck_assert_int_eq(err.code, CAPV_E_MALFORMED);
        ck_assert_str_eq(err.field, c->code);
        ck_assert_ptr_null(ir);
        ck_assert_uint_eq(capv_policy_diagnostics_errors(cd), 1);
    } else {
        ck_assert_int_eq(st, CAPV_OK);
        ck_assert_ptr_nonnull(ir);
        ck_assert_uint_eq(capv_policy_diagnostics_errors(cd), 0);
    }
    capv_policy_ir_free(ir);
    capv_policy_diagnostics_free(cd);
    capv_policy_diagnostics_free(d);
    capv_policy_free(p);
}
END_TEST

/* Where each lint_cases diagnostic points (line, column; 0 = no position): the key of the
 * value it is about (the rule's "op:", the unused input's name), else the value itself (a
 * rule id in an activation's list); W1002 is about a description the policy leaves out. */
static const unsigned lint_positions[][2] = {
    { 10, 39 }, { 3, 1 },  { 3, 1 },  { 8, 6 }, { 10, 18 }, { 9, 38 }, { 7, 14 },
    { 9, 24 },  { 9, 24 }, { 7, 42 }, { 0, 0 }, { 6, 1 },   { 5, 44 },
};

START_TEST(lint_position_each_code)
{
    ck_assert_uint_eq(sizeof lint_positions / sizeof lint_positions[0],
                      sizeof lint_cases / sizeof lint_cases[0]);
    const struct lint_case *c = &lint_cases[_i];
    capv_policy *p = parse_text(c->text, CAPV_POLICY_FORMAT_YAML);
    capv_policy_diagnostics *d = NULL;
    ck_assert_int_eq(capv_policy_lint(&d, p, c->mode, NULL), CAPV_OK);
    int at = find_code(d, c->code);
    ck_assert_int_ge(at, 0);
    unsigned line = 99, col = 99;
    bool has = capv_policy_diagnostic_position(d, (size_t)at, &line, &col);
    ck_assert_msg(line == lint_positions[_i][0] && col == lint_positions[_i][1],
                  "%s: at %u:%u, want %u:%u", c->code, line, col, lint_positions[_i][0],
                  lint_positions[_i][1]);
    ck_assert(has == (lint_positions[_i][0] > 0));
    /* out of range: no position, both 0 */
    ck_assert(!capv_policy_diagnostic_position(d, 99, &line, &col));
    ck_assert_uint_eq(line + col, 0);
    capv_policy_diagnostics_free(d);
    capv_policy_free(p);
}
END_TEST

/* A policy read from JSON has no positions: its diagnostics carry none, in JSON neither. */
START_TEST(lint_json_input_has_no_position)
{
    const char *text = "{\"id\":\"t.p\",\"version\":\"1\",\"legal_basis\":[{\"directive\":"
                       "\"LkSG\"}],\"description\":\"d\",\"inputs\":{\"a\":{\"type\":"
                       "\"array\"},\"b\":{\"type\":\"hex\"}},\"rules\":[{\"id\":\"r1\","
                       "\"op\":\"membership\",\"lhs\":\"a\",\"rhs\":\"b\"}]}";
    capv_policy *p = parse_text(text, CAPV_POLICY_FORMAT_JSON);
    capv_policy_diagnostics *d = NULL;
    ck_assert_int_eq(capv_policy_lint(&d, p, CAPV_POLICY_LINT_STRICT, NULL), CAPV_OK);
    ck_assert_int_ge(find_code(d, "E2001"), 0);
    ck_assert(!capv_policy_diagnostic_position(d, (size_t)find_code(d, "E2001"), NULL, NULL));
    char *json = NULL;
    ck_assert_int_eq(capv_policy_diagnostics_to_json(&json, NULL, d, NULL), CAPV_OK);
    ck_assert_ptr_null(strstr(json, "\"line\""));
    capv_free(json);
    capv_policy_diagnostics_free(d);
    capv_policy_free(p);
}
END_TEST

START_TEST(lint_json_shape)
{
    capv_policy *p = parse_text(lint_cases[6].text, CAPV_POLICY_FORMAT_YAML); /* E2001 */
    capv_policy_diagnostics *d = NULL;
    ck_assert_int_eq(capv_policy_lint(&d, p, CAPV_POLICY_LINT_STRICT, NULL), CAPV_OK);
    char *json = NULL;
    size_t n = 0;
    ck_assert_int_eq(capv_policy_diagnostics_to_json(&json, &n, d, NULL), CAPV_OK);
    ck_assert_str_eq(json, "[{\"code\":\"E2001\",\"level\":\"error\","
                           "\"message\":\"rule \\\"r1\\\": "
                           "unknown op \\\"membership\\\" (allowed: non_membership, eq, "
                           "range_min)\",\"rule_id\":\"r1\",\"line\":7,\"column\":14}]");
    ck_assert_uint_eq(n, strlen(json));
    ck_assert_int_eq(capv_json_validate((const uint8_t *)json, n, NULL), CAPV_OK);
    capv_free(json);
    capv_policy_diagnostics_free(d);
    capv_policy_free(p);

    /* E1002 without a rule: rule_id null; the empty list is [] */
    p = parse_text(lint_cases[1].text, CAPV_POLICY_FORMAT_YAML);
    ck_assert_int_eq(capv_policy_lint(&d, p, CAPV_POLICY_LINT_STRICT, NULL), CAPV_OK);
    ck_assert_int_eq(capv_policy_diagnostics_to_json(&json, NULL, d, NULL), CAPV_OK);
    ck_assert_ptr_nonnull(strstr(json, "\"level\":\"error\""));
    ck_assert_ptr_nonnull(strstr(json, "\"rule_id\":null,\"line\":3,\"column\":1}"));
    capv_free(json);
    capv_policy_diagnostics_free(d);
    capv_policy_free(p);
    p = parse_vector("peer/policy/lksg_v1.policy.yml");
    ck_assert_int_eq(capv_policy_lint(&d, p, CAPV_POLICY_LINT_STRICT, NULL), CAPV_OK);
    ck_assert_int_eq(capv_policy_diagnostics_to_json(&json, NULL, d, NULL), CAPV_OK);
    ck_assert_str_eq(json, "[]");
    capv_free(json);
    capv_policy_diagnostics_free(d);
    capv_policy_free(p);
    ck_assert_int_eq(capv_policy_lint(&d, NULL, CAPV_POLICY_LINT_STRICT, NULL), CAPV_E_INVALID_ARG);
}
END_TEST

/* ---- 4. YAML typing and errors ------------------------------------------------------- */

static void check_yaml_typing(void)
{
    const char *text =
        CLEAN_HEAD "inputs: {a: {type: string}}\nrules:\n"
                   "  - id: r\n    op: eq\n    lhs: a\n"
                   "    rhs:\n      - 1.0\n      - \"1.0\"\n      - yes\n      - ~\n"
                   "      - null\n      - ''\n      - 0x10\n      - 0o17\n      - 1e3\n"
                   "      - 007\n      - -0\n      - +5\n      - 1.50\n      - !!str 12\n"
                   "      - !!float 2\n      - True\n      - FALSE\n      - .5\n"
                   "      - 2025-10-25\n      - -07\n      - 00\n      - 0b101\n      - -0x10\n"
                   "      - +0x1F\n      - -0o7\n      - 00.5\n      - 0B1\n      - -0x0\n"
                   "      - -0x8000000000000000\n      - 18446744073709551615\n"
                   "      - -9223372036854775808\n"
                   "      - |\n        block\n";
    capv_policy *p = parse_text(text, CAPV_POLICY_FORMAT_YAML);
    const char *canon = capv_policy_canonical_json(p, NULL);
    ck_assert_msg(strstr(canon,
                         "\"rhs\":[1.0,\"1.0\",\"yes\",null,null,\"\",16,15,1000.0,\"007\",0,5,"
                         "1.5,\"12\",2.0,true,false,0.5,\"2025-10-25\",\"-07\",\"00\",5,-16,"
                         "31,-7,0.5,\"0B1\",0,-9223372036854775808,18446744073709551615,"
                         "-9223372036854775808,\"block\\n\"]") != NULL,
                  "%s", canon);
    capv_policy_free(p);
}

START_TEST(yaml_core_schema_typing)
{
    check_yaml_typing();
}
END_TEST

START_TEST(yaml_errors_have_positions)
{
    static const struct {
        const char *text;
        capv_status want;
        const char *where; /* substring of the message */
        const char *field;
    } cases[] = {
        /* syntax */
        { "id: x\nversion: [1\n", CAPV_E_MALFORMED, "line 3, column 1", "3:1" },
        { "id: x\n  bad: indent\n", CAPV_E_MALFORMED, "line 2, column 6", "2:6" },
        /* tree */
        { "id: x\nversion: '1'\nid: y\n", CAPV_E_JSON_DUPLICATE_KEY, "line 3, column 1", "3:1" },
        { "id: x\nversion: *a\n", CAPV_E_UNSUPPORTED_FORMAT, "line 2, column 10", "2:10" },
        { "id: x\nx: .inf\n", CAPV_E_RANGE, "line 2, column 4", "2:4" },
        /* integers serde_yaml reads as 128-bit ones, which serde_json's values refuse */
        { "id: x\nx: 18446744073709551616\n", CAPV_E_RANGE, "fit 64 bits", "2:4" },
        { "id: x\nx: -9223372036854775809\n", CAPV_E_RANGE, "fit 64 bits signed", "2:4" },
        /* model */
        { "id: x\nversion: 1.0\n", CAPV_E_TYPE, "line 2, column 10", "version" },
        { "id: Bad\n", CAPV_E_MALFORMED, "line 1, column 5", "id" },
        { CLEAN_HEAD CLEAN_INPUTS "rules:\n  - {id: r1, lhs: a, rhs: b}\n", CAPV_E_MISSING,
          "line 7, column 5", "rules[0].op" },
        { CLEAN_HEAD CLEAN_INPUTS "rules:\n" CLEAN_RULE "  - {id: r2, op: eq, lhs: a, rhs: b,\n"
                                  "     weight: 2}\n",
          CAPV_E_MALFORMED, "line 9, column 6", "rules[1].weight" },
        { CLEAN_HEAD "inputs:\n  a: {type: list}\n", CAPV_E_MALFORMED, "line 6, column 13",
          "inputs.a.type" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        capv_policy *p = (capv_policy *)&p;
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = capv_policy_parse(&p, (const uint8_t *)cases[i].text,
                                           strlen(cases[i].text), CAPV_POLICY_FORMAT_YAML, &err);
        ck_assert_msg(st == cases[i].want, "case %zu: got %s (%s)", i, capv_status_name(st),
                      err.message);
        ck_assert_ptr_null(p);
        ck_assert_int_eq(err.code, st);
        ck_assert_msg(strstr(err.message, cases[i].where) != NULL, "case %zu: message '%s'", i,
                      err.message);
        ck_assert_str_eq(err.field, cases[i].field);
    }
}
END_TEST

/* A UTF-8 byte order mark before YAML is not content: the same policy, the same positions;
 * in AUTO, a mark before '{' is YAML (a flow mapping), not JSON, which refuses the mark. */
START_TEST(yaml_byte_order_mark)
{
    static const char bom[] = "\xEF\xBB\xBF";
    const char *plain = CLEAN_HEAD CLEAN_INPUTS "rules:\n" CLEAN_RULE;
    char text[1024];
    snprintf(text, sizeof text, "%s%s", bom, plain);
    for (int f = 0; f < 2; f++) {
        capv_policy_format fmt = f ? CAPV_POLICY_FORMAT_AUTO : CAPV_POLICY_FORMAT_YAML;
        capv_policy *a = parse_text(plain, fmt), *b = parse_text(text, fmt);
        ck_assert_str_eq(capv_policy_canonical_json(a, NULL), capv_policy_canonical_json(b, NULL));
        capv_policy_free(a);
        capv_policy_free(b);
    }
    snprintf(text, sizeof text, "%sid: x\n  bad: indent\n", bom);
    capv_policy *p = (capv_policy *)&p;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(
        capv_policy_parse(&p, (const uint8_t *)text, strlen(text), CAPV_POLICY_FORMAT_YAML, &err),
        CAPV_E_MALFORMED);
    ck_assert_str_eq(err.field, "2:6");
    snprintf(text, sizeof text,
             "%s{id: t.p, version: '1', legal_basis: [{directive: LkSG}], inputs: {}, rules: []}",
             bom);
    p = parse_text(text, CAPV_POLICY_FORMAT_AUTO);
    capv_policy_free(p);
    ck_assert_int_eq(
        capv_policy_parse(&p, (const uint8_t *)text, strlen(text), CAPV_POLICY_FORMAT_JSON, &err),
        CAPV_E_JSON_SYNTAX);
}
END_TEST

static const struct malformed_case {
    const char *text;
    size_t len; /* 0 = strlen */
    capv_policy_format fmt;
    capv_status want;
} malformed[] = {
    { "", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_MALFORMED }, /* no document */
    { "# only a comment\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_MALFORMED },
    { "id: a\n---\nid: b\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_MALFORMED }, /* two documents */
    { "a: &x 1\nb: *x\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_UNSUPPORTED_FORMAT },
    { "id: !custom x\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_UNSUPPORTED_FORMAT },
    { "!custom id: x\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_UNSUPPORTED_FORMAT }, /* on a key */
    { "!!binary id: x\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_UNSUPPORTED_FORMAT },
    { "id: !<str> 12\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_UNSUPPORTED_FORMAT }, /* verbatim */
    { "id: !!int abc\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_TYPE },
    { "id: \xff\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_JSON_UTF8 },
    { "id: a\0b\n", 8, CAPV_POLICY_FORMAT_YAML, CAPV_E_JSON_NUL },
    { "id: \"a\\0b\"\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_JSON_NUL }, /* escaped NUL */
    { "x: 1e999\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_RANGE },
    { "x: .nan\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_RANGE },
    { "x: 0x1ffffffffffffffff\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_RANGE },
    { "x: -0x8000000000000001\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_RANGE },
    { "? [a]\n: b\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_TYPE }, /* complex key */
    { "- id: a\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_TYPE },    /* not a mapping */
    { "id: [unclosed\n", 0, CAPV_POLICY_FORMAT_YAML, CAPV_E_MALFORMED },
    { "{\"id\":1}", 0, CAPV_POLICY_FORMAT_JSON, CAPV_E_TYPE },
    { "{\"id\":\"a\"} x", 0, CAPV_POLICY_FORMAT_JSON, CAPV_E_JSON_TRAILING },
    { "{\"id\":\"a\",", 0, CAPV_POLICY_FORMAT_JSON, CAPV_E_JSON_SYNTAX },
    { "{\"id\":\"a\\u0000\"}", 0, CAPV_POLICY_FORMAT_JSON, CAPV_E_JSON_NUL },
    { "id: a\nversion: '1'\nlegal_basis: []\ninputs: {}\n", 0, CAPV_POLICY_FORMAT_YAML,
      CAPV_E_MISSING }, /* no rules */
    { "id: a\nversion: '1'\ninputs: {}\nrules: []\n", 0, CAPV_POLICY_FORMAT_YAML,
      CAPV_E_MISSING }, /* no legal_basis */
    { "id: a\nversion: '1'\nlegal_basis: {}\ninputs: {}\nrules: []\n", 0, CAPV_POLICY_FORMAT_YAML,
      CAPV_E_TYPE },
    { "id: a\nversion: '1'\nlegal_basis: [{law: x}]\ninputs: {}\nrules: []\n", 0,
      CAPV_POLICY_FORMAT_YAML, CAPV_E_MALFORMED },
    { "id: a\nversion: '1'\nlegal_basis: []\ninputs: {}\nrules: []\nextra: 1\n", 0,
      CAPV_POLICY_FORMAT_YAML, CAPV_E_MALFORMED },
    { "id: a\nversion: '1'\nlegal_basis: []\ninputs: {}\nrules: [{id: r-1, op: eq, lhs: 1, "
      "rhs: 1}]\n",
      0, CAPV_POLICY_FORMAT_YAML, CAPV_E_MALFORMED },
    { "id: a\nversion: '1'\nlegal_basis: []\ninputs: {}\nrules: [{id: r, op: eq, lhs: 1}]\n", 0,
      CAPV_POLICY_FORMAT_YAML, CAPV_E_MISSING },
    { "id: a\nversion: '1'\nlegal_basis: []\ninputs: {}\nrules: [{id: r, op: 1, lhs: 1, "
      "rhs: 1}]\n",
      0, CAPV_POLICY_FORMAT_YAML, CAPV_E_TYPE },
    { "id: a\nversion: '1'\nlegal_basis: []\ninputs: {}\nrules: [{id: r, op: eq, "
      "lhs: {var: x, y: 1}, rhs: 1}]\n",
      0, CAPV_POLICY_FORMAT_YAML, CAPV_E_MALFORMED },
    { "id: a\nversion: '1'\nlegal_basis: []\ninputs: {x: {type: hex, extra: 1}}\nrules: []\n", 0,
      CAPV_POLICY_FORMAT_YAML, CAPV_E_MALFORMED },
    { "id: a\nversion: '1'\nlegal_basis: []\ninputs: {x: {}}\nrules: []\n", 0,
      CAPV_POLICY_FORMAT_YAML, CAPV_E_MISSING },
    { "id: a\nversion: '1'\nlegal_basis: []\ninputs: {}\nrules: []\nadaptivity: "
      "{predicates: []}\n",
      0, CAPV_POLICY_FORMAT_YAML, CAPV_E_MISSING },
    { "id: a\nversion: '1'\nlegal_basis: []\ninputs: {}\nrules: []\nadaptivity: "
      "{predicates: [], activations: [{when: p, rules: [1]}]}\n",
      0, CAPV_POLICY_FORMAT_YAML, CAPV_E_TYPE },
    { "id: a\nversion: '1'\nlegal_basis: []\ninputs: {}\nrules: []\ndescription: 5\n", 0,
      CAPV_POLICY_FORMAT_YAML, CAPV_E_TYPE },
};

START_TEST(malformed_policies)
{
    const struct malformed_case *c = &malformed[_i];
    size_t len = c->len ? c->len : strlen(c->text);
    capv_policy *p = (capv_policy *)&p;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_parse(&p, (const uint8_t *)c->text, len, c->fmt, &err);
    ck_assert_msg(st == c->want, "case %d: got %s (%s), want %s", _i, capv_status_name(st),
                  err.message, capv_status_name(c->want));
    ck_assert_int_eq(err.code, st);
    ck_assert_ptr_null(p);
    ck_assert(err.message[0] != '\0');
}
END_TEST

START_TEST(yaml_deep_nesting)
{
    char text[256] = "id: ";
    size_t n = strlen(text);
    for (int i = 0; i < 70; i++)
        text[n++] = '[';
    for (int i = 0; i < 70; i++)
        text[n++] = ']';
    text[n] = '\0';
    capv_policy *p = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_policy_parse(&p, (const uint8_t *)text, n, CAPV_POLICY_FORMAT_YAML, &err),
                     CAPV_E_JSON_DEPTH);
    /* 60 levels (below the limit) get through the tree: the model rejects the type */
    n = 4;
    for (int i = 0; i < 60; i++)
        text[n++] = '[';
    for (int i = 0; i < 60; i++)
        text[n++] = ']';
    text[n] = '\0';
    ck_assert_int_eq(capv_policy_parse(&p, (const uint8_t *)text, n, CAPV_POLICY_FORMAT_YAML, &err),
                     CAPV_E_TYPE);
    ck_assert_int_eq(
        capv_policy_parse(NULL, (const uint8_t *)text, n, CAPV_POLICY_FORMAT_YAML, &err),
        CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_policy_parse(&p, (const uint8_t *)text, n, (capv_policy_format)9, &err),
                     CAPV_E_INVALID_ARG);
}
END_TEST

/* ---- 5. IR integrity ----------------------------------------------------------------- */

/* `text` with the first `from` replaced by `to` (malloc'd). */
static char *replaced(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "'%s' not in the text", from);
    size_t head = (size_t)(at - text), tail = strlen(at + strlen(from));
    char *out = malloc(head + strlen(to) + tail + 1);
    ck_assert_ptr_nonnull(out);
    memcpy(out, text, head);
    memcpy(out + head, to, strlen(to));
    memcpy(out + head + strlen(to), at + strlen(from), tail + 1);
    return out;
}

/* The golden IR with the first `from` replaced by `to`. */
static char *golden_with(const char *from, const char *to)
{
    size_t len;
    char *g = (char *)tu_read(tu_shared_dir(), "peer/policy/lksg_v1.ir.json", &len);
    char *out = replaced(g, from, to);
    free(g);
    return out;
}

START_TEST(ir_tampering_rejected)
{
    static const struct {
        const char *from, *to;
        capv_status want;
    } cases[] = {
        /* content changed, ir_hash kept */
        { "\"op\": \"non_membership\"", "\"op\": \"eq\"", CAPV_E_MISMATCH },
        { "\"var\": \"sanctions_root\"", "\"var\": \"ubo_hashes\"", CAPV_E_MISMATCH },
        { "\"policy_id\": \"lksg.v1\"", "\"policy_id\": \"lksg.v2\"", CAPV_E_MISMATCH },
        { "b98c3db5", "b98c3db6", CAPV_E_MISMATCH },
        /* ir_hash changed */
        { "df3a3eeb", "df3a3eec", CAPV_E_MISMATCH },
        { "\"ir_hash\": \"sha3-256:df3a", "\"ir_hash\": \"sha3-256:DF3A", CAPV_E_HEX },
        { "\"ir_hash\": \"sha3-256:", "\"ir_hash\": \"0x", CAPV_E_HEX },
        /* shape */
        { "\"ir_version\": \"1.0\"", "\"ir_version\": \"2.0\"", CAPV_E_UNSUPPORTED_FORMAT },
        { "\"op\": \"non_membership\"", "\"op\": \"membership\"", CAPV_E_MALFORMED },
        { "\"ir_version\": \"1.0\",", "\"ir_version\": \"1.0\", \"x\": 1,", CAPV_E_MALFORMED },
        { "\"policy_id\": \"lksg.v1\",", "", CAPV_E_MISSING },
        { "\"rules\": [", "\"rules\": 5, \"r\": [", CAPV_E_MALFORMED },
        { "\"id\": \"no_sanctions\"", "\"id\": 5", CAPV_E_TYPE },
        { "\"var\": \"supplier_hashes\"", "\"var\": \"supplier_hashes\", \"x\": 1",
          CAPV_E_MALFORMED },
        { "\"rules\": [", "\"rules\": [,", CAPV_E_JSON_SYNTAX },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = golden_with(cases[i].from, cases[i].to);
        capv_policy_ir *ir = (capv_policy_ir *)&ir;
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = capv_policy_ir_load(&ir, (const uint8_t *)text, strlen(text), &err);
        ck_assert_msg(st == cases[i].want, "case %zu: got %s (%s), want %s", i,
                      capv_status_name(st), err.message, capv_status_name(cases[i].want));
        ck_assert_int_eq(err.code, st);
        ck_assert_ptr_null(ir);
        free(text);
    }
    /* layout is not content: the compact, reordered or re-indented IR still loads */
    capv_policy_ir *ir = load_vector_ir("peer/policy/lksg_v1.ir.json");
    const char *compact = capv_policy_ir_json(ir, CAPV_POLICY_IR_COMPACT, NULL);
    capv_policy_ir *again = NULL;
    ck_assert_int_eq(capv_policy_ir_load(&again, (const uint8_t *)compact, strlen(compact), NULL),
                     CAPV_OK);
    capv_policy_ir_free(again);
    char *moved = golden_with("\"ir_version\": \"1.0\",\n", "");
    char *reordered = replaced(moved, "\"ir_hash\"", "\"ir_version\":\"1.0\",\"ir_hash\"");
    ck_assert_ptr_null(strstr(reordered, "{\n    \"ir_version\""));
    ck_assert_int_eq(
        capv_policy_ir_load(&again, (const uint8_t *)reordered, strlen(reordered), NULL), CAPV_OK);
    ck_assert_str_eq(capv_policy_ir_hash(again), LKSG_V1_IR_HASH);
    capv_policy_ir_free(again);
    free(reordered);
    free(moved);
    capv_policy_ir_free(ir);
}
END_TEST

/* ---- 6. evaluation ------------------------------------------------------------------- */

/* One rule op(a, b) over variables a and b. */
static capv_policy_ir *binary_ir(const char *op)
{
    char text[512];
    snprintf(text, sizeof text,
             CLEAN_HEAD "inputs: {a: {type: string}, b: {type: string}}\n"
                        "rules:\n  - {id: r, op: %s, lhs: a, rhs: b}\n",
             op);
    return compile_text(text);
}

#define D1 "0xab00000000000000000000000000000000000000000000000000000000000001"
#define D1U "0xAB00000000000000000000000000000000000000000000000000000000000001"
#define D1S "sha3-256:ab00000000000000000000000000000000000000000000000000000000000001"
#define D2 "0xab00000000000000000000000000000000000000000000000000000000000002"
#define UNDEF NULL

static const struct eval_case {
    const char *op;
    const char *a, *b; /* JSON values; NULL = not in the context */
    capv_policy_rule_result want;
    const char *msg; /* substring of the rule message, or NULL */
} eval_cases[] = {
    /* non_membership: value vs array on both sides */
    { "non_membership", "\"x\"", "\"y\"", CAPV_POLICY_RULE_PASS, "none of the 1 value of a" },
    { "non_membership", "\"x\"", "\"x\"", CAPV_POLICY_RULE_FAIL, "a occurs in b" },
    { "non_membership", "\"x\"", "[\"y\",\"z\"]", CAPV_POLICY_RULE_PASS, NULL },
    { "non_membership", "\"x\"", "[\"y\",\"x\"]", CAPV_POLICY_RULE_FAIL, "a occurs in b" },
    { "non_membership", "[\"x\",\"y\"]", "\"y\"", CAPV_POLICY_RULE_FAIL, "a[1] occurs in b" },
    { "non_membership", "[\"x\",\"y\"]", "\"z\"", CAPV_POLICY_RULE_PASS, NULL },
    { "non_membership", "[\"x\",\"y\"]", "[\"z\",\"y\"]", CAPV_POLICY_RULE_FAIL, "a[1]" },
    { "non_membership", "[\"x\",\"y\"]", "[\"z\",\"w\"]", CAPV_POLICY_RULE_PASS,
      "none of the 2 values of a occurs in b (2 values)" },
    { "non_membership", "[]", "[\"x\"]", CAPV_POLICY_RULE_PASS, NULL },
    { "non_membership", "[\"x\"]", "[]", CAPV_POLICY_RULE_PASS, NULL },
    /* digests compare by bytes; other types by deep equality */
    { "non_membership", "[\"" D1U "\"]", "[\"" D1 "\"]", CAPV_POLICY_RULE_FAIL, NULL },
    { "non_membership", "\"" D1S "\"", "\"" D1 "\"", CAPV_POLICY_RULE_FAIL, NULL },
    { "non_membership", "\"" D1 "\"", "[\"" D2 "\"]", CAPV_POLICY_RULE_PASS, NULL },
    { "non_membership", "\"X\"", "\"x\"", CAPV_POLICY_RULE_PASS, NULL }, /* not a digest */
    { "non_membership", "1", "[1.0]", CAPV_POLICY_RULE_FAIL, NULL },
    { "non_membership", "1", "[\"1\"]", CAPV_POLICY_RULE_PASS, NULL },
    { "non_membership", "[[1,2]]", "[[1,2]]", CAPV_POLICY_RULE_FAIL, NULL },
    { "non_membership", "{\"k\":1}", "[{\"k\":1.0}]", CAPV_POLICY_RULE_FAIL, NULL },
    { "non_membership", "true", "[false]", CAPV_POLICY_RULE_PASS, NULL },
    /* the sorted look-up path (more than 8 strings on the right) */
    { "non_membership", "[\"q\",\"" D1U "\"]",
      "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"" D1 "\"]", CAPV_POLICY_RULE_FAIL,
      "a[1] occurs in b" },
    { "non_membership", "[\"q\",1,\"" D2 "\"]",
      "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"" D1 "\"]", CAPV_POLICY_RULE_PASS, NULL },
    /* undefined */
    { "non_membership", UNDEF, "[\"x\"]", CAPV_POLICY_RULE_FAIL, "variable \"a\" is not defined" },
    { "non_membership", "[\"x\"]", UNDEF, CAPV_POLICY_RULE_FAIL, "variable \"b\" is not defined" },
    { "non_membership", "[\"x\"]", "null", CAPV_POLICY_RULE_FAIL, "variable \"b\" is not defined" },

    /* eq: deep JSON equality */
    { "eq", "1", "1", CAPV_POLICY_RULE_PASS, "a equals b" },
    { "eq", "1", "1.0", CAPV_POLICY_RULE_PASS, NULL },
    { "eq", "1", "2", CAPV_POLICY_RULE_FAIL, "a does not equal b" },
    { "eq", "1", "\"1\"", CAPV_POLICY_RULE_FAIL, NULL },
    { "eq", "\"x\"", "[\"x\"]", CAPV_POLICY_RULE_FAIL, NULL },
    { "eq", "[\"x\"]", "\"x\"", CAPV_POLICY_RULE_FAIL, NULL },
    { "eq", "[\"x\",\"y\"]", "[\"x\",\"y\"]", CAPV_POLICY_RULE_PASS, NULL },
    { "eq", "[\"x\",\"y\"]", "[\"y\",\"x\"]", CAPV_POLICY_RULE_FAIL, NULL },
    { "eq", "[\"x\"]", "[\"x\",\"x\"]", CAPV_POLICY_RULE_FAIL, NULL },
    { "eq", "{\"k\":1,\"j\":[2]}", "{\"j\":[2.0],\"k\":1}", CAPV_POLICY_RULE_PASS, NULL },
    { "eq", "{\"k\":1}", "{\"k\":1,\"j\":2}", CAPV_POLICY_RULE_FAIL, NULL },
    { "eq", "{\"k\":1,\"j\":2}", "{\"k\":1}", CAPV_POLICY_RULE_FAIL, NULL },
    { "eq", "true", "true", CAPV_POLICY_RULE_PASS, NULL },
    { "eq", "true", "false", CAPV_POLICY_RULE_FAIL, NULL },
    { "eq", "true", "1", CAPV_POLICY_RULE_FAIL, NULL },
    { "eq", "\"" D1U "\"", "\"" D1S "\"", CAPV_POLICY_RULE_PASS, NULL },
    { "eq", "9007199254740993", "9007199254740992", CAPV_POLICY_RULE_FAIL, NULL },
    /* a whole double up to 2^63 equals the integer of its value (range_min agrees) */
    { "eq", "9210000000000000000.0", "9210000000000000000", CAPV_POLICY_RULE_PASS, NULL },
    { "eq", "-9223372036854775808.0", "-9223372036854775808", CAPV_POLICY_RULE_PASS, NULL },
    /* integers above INT64_MAX are u64s, compared exactly (not through a double) */
    { "eq", "18446744073709551614", "18446744073709551615", CAPV_POLICY_RULE_FAIL, NULL },
    { "eq", "18446744073709551615", "18446744073709551615", CAPV_POLICY_RULE_PASS, NULL },
    { "eq", "9223372036854775809", "9223372036854775808", CAPV_POLICY_RULE_FAIL, NULL },
    { "eq", "9223372036854775808.0", "9223372036854775808", CAPV_POLICY_RULE_PASS, NULL },
    { "non_membership", "[18446744073709551614]", "[18446744073709551615]", CAPV_POLICY_RULE_PASS,
      NULL },
    { "non_membership", "[18446744073709551615]", "[18446744073709551615]", CAPV_POLICY_RULE_FAIL,
      NULL },
    { "eq", UNDEF, "1", CAPV_POLICY_RULE_FAIL, "variable \"a\" is not defined" },
    { "eq", "null", "null", CAPV_POLICY_RULE_FAIL, "is not defined" },

    /* range_min: number (or array, counted) >= number */
    { "range_min", "5", "3", CAPV_POLICY_RULE_PASS, "a = 5 >= 3" },
    { "range_min", "3", "3", CAPV_POLICY_RULE_PASS, NULL },
    { "range_min", "2", "3", CAPV_POLICY_RULE_FAIL, "a = 2 < 3" },
    { "range_min", "2.5", "2", CAPV_POLICY_RULE_PASS, NULL },
    { "range_min", "-1", "-0.5", CAPV_POLICY_RULE_FAIL, NULL },
    { "range_min", "9007199254740993", "9007199254740992", CAPV_POLICY_RULE_PASS, NULL },
    { "range_min", "18446744073709551614", "18446744073709551615", CAPV_POLICY_RULE_FAIL, NULL },
    { "range_min", "18446744073709551615", "18446744073709551614", CAPV_POLICY_RULE_PASS, NULL },
    { "range_min", "9223372036854775808", "9223372036854775807", CAPV_POLICY_RULE_PASS, NULL },
    { "range_min", "9223372036854775807", "9223372036854775808", CAPV_POLICY_RULE_FAIL, NULL },
    { "range_min", "-1", "18446744073709551615", CAPV_POLICY_RULE_FAIL, NULL },
    { "range_min", "[\"x\",\"y\",\"z\"]", "3", CAPV_POLICY_RULE_PASS,
      "a has 3 elements, at least 3" },
    { "range_min", "[\"x\"]", "2", CAPV_POLICY_RULE_FAIL, "a has 1 element, fewer than 2" },
    { "range_min", "[]", "0", CAPV_POLICY_RULE_PASS, NULL },
    { "range_min", "[]", "0.5", CAPV_POLICY_RULE_FAIL, NULL },
    /* wrong types fail with a reason */
    { "range_min", "\"5\"", "3", CAPV_POLICY_RULE_FAIL, "a is a string" },
    { "range_min", "true", "1", CAPV_POLICY_RULE_FAIL, "a is a boolean" },
    { "range_min", "{\"n\":5}", "1", CAPV_POLICY_RULE_FAIL, "a is an object" },
    { "range_min", "5", "\"3\"", CAPV_POLICY_RULE_FAIL, "b is a string" },
    { "range_min", "5", "[1]", CAPV_POLICY_RULE_FAIL, "b is an array" },
    { "range_min", "[1,2]", "[1]", CAPV_POLICY_RULE_FAIL, "b is an array" },
    { "range_min", UNDEF, "1", CAPV_POLICY_RULE_FAIL, "variable \"a\" is not defined" },
    { "range_min", "1", UNDEF, CAPV_POLICY_RULE_FAIL, "variable \"b\" is not defined" },
};

static void check_eval_case(int i)
{
    const struct eval_case *c = &eval_cases[i];
    capv_policy_ir *ir = binary_ir(c->op);
    char ctx[1024];
    int n = snprintf(ctx, sizeof ctx, "{\"variables\":{%s%s%s%s%s%s}}", c->a ? "\"a\":" : "",
                     c->a ? c->a : "", c->a && c->b ? "," : "", c->b ? "\"b\":" : "",
                     c->b ? c->b : "", "");
    ck_assert(n > 0 && (size_t)n < sizeof ctx);
    capv_policy_eval_result *r = eval_text(ir, ctx, 0);
    const char *msg = NULL;
    capv_policy_rule_result got = rule_status(r, "r", &msg);
    ck_assert_msg(got == c->want, "case %d %s(%s, %s): got %s (%s)", i, c->op,
                  c->a ? c->a : "undefined", c->b ? c->b : "undefined",
                  capv_policy_rule_result_name(got), msg);
    if (c->msg != NULL)
        ck_assert_msg(strstr(msg, c->msg) != NULL, "case %d: message '%s' lacks '%s'", i, msg,
                      c->msg);
    ck_assert_int_eq(capv_policy_eval_result_verdict(r),
                     c->want == CAPV_POLICY_RULE_PASS ? CAPV_VERDICT_OK : CAPV_VERDICT_FAIL);
    capv_policy_eval_result_free(r);
    capv_policy_ir_free(ir);
}

START_TEST(eval_truth_table)
{
    check_eval_case(_i);
}
END_TEST

/* A host program that sets a locale whose decimal point is a comma changes nothing: numbers
 * in YAML, JSON, canonical forms and rule messages are read and written with '.'
 * (docs/architecture.md, "Numbers and the locale"). */
START_TEST(numbers_ignore_locale)
{
    tu_comma_locale();
    check_yaml_typing();
    for (int i = 0; i < (int)(sizeof eval_cases / sizeof eval_cases[0]); i++)
        check_eval_case(i);
    capv_policy_ir *ir = binary_ir("range_min");
    capv_policy_eval_result *r = eval_text(ir, "{\"variables\":{\"a\":0.25,\"b\":0.5}}", 0);
    const char *msg = NULL;
    ck_assert_int_eq(rule_status(r, "r", &msg), CAPV_POLICY_RULE_FAIL);
    ck_assert_msg(strstr(msg, "0.25 < 0.5") != NULL, "message: %s", msg);
    capv_policy_eval_result_free(r);
    capv_policy_ir_free(ir);
    setlocale(LC_NUMERIC, "C");
}
END_TEST

/* Larger mixed lists: numbers, objects and digests on both sides, the hit at the very end;
 * and many variables (look-ups are indexed, not scanned). */
START_TEST(eval_large_membership)
{
    capv_policy_ir *ir = binary_ir("non_membership");
    enum { N = 3000 };
    capv_buf b = CAPV_BUF_INIT;
    capvi_buf_puts(&b, "{\"variables\":{\"a\":[");
    for (int i = 0; i < N; i++)
        capvi_buf_printf(&b, "%s{\"k\":%d,\"v\":[%d.5]},%d", i ? "," : "", i, i, i * 2 + 1);
    capvi_buf_puts(&b, ",{\"v\":[1.0, \"" D1U "\"],\"k\":\"last\"}],\"b\":[");
    for (int i = 0; i < N; i++)
        capvi_buf_printf(&b, "%s%d.0,{\"v\":[%d.5],\"k\":%d.0}", i ? "," : "", i * 2, i + N, i + 1);
    capvi_buf_puts(&b, ",{\"k\":\"last\",\"v\":[1,\"" D1S "\"]}]");
    for (int i = 0; i < N; i++)
        capvi_buf_printf(&b, ",\"x%d\":%d", i, i);
    capvi_buf_puts(&b, "}}");
    size_t len;
    char *ctx = (char *)capvi_buf_take(&b, &len);
    ck_assert_ptr_nonnull(ctx);
    capv_policy_eval_result *r = eval_text(ir, ctx, 0);
    const char *msg = NULL;
    /* every earlier element differs (odd vs even numbers, k and v shifted); the last object
     * equals its counterpart: keys reordered, 1 vs 1.0, digest case and prefix */
    ck_assert_int_eq(rule_status(r, "r", &msg), CAPV_POLICY_RULE_FAIL);
    char want[64];
    snprintf(want, sizeof want, "a[%d] occurs in b", 2 * N);
    ck_assert_str_eq(msg, want);
    capv_policy_eval_result_free(r);
    free(ctx);
    capv_policy_ir_free(ir);
}
END_TEST

/* Literals on either side, and the context's own fields as variables. */
START_TEST(eval_literals_and_fields)
{
    capv_policy_ir *ir = compile_text(
        CLEAN_HEAD "inputs: {supplier_hashes: {type: array}, ubo_hashes: {type: array}, "
                   "jurisdiction_root: {type: hex}}\n"
                   "rules:\n"
                   "  - {id: enough, op: range_min, lhs: supplier_hashes, rhs: 2}\n"
                   "  - {id: literal_left, op: non_membership, lhs: [\"" D1 "\"],\n"
                   "     rhs: ubo_hashes}\n"
                   "  - {id: root_is, op: eq, lhs: jurisdiction_root,\n"
                   "     rhs: {var: jurisdiction_root}}\n");
    capv_policy_eval_result *r =
        eval_text(ir,
                  "{\"supplier_hashes\":[\"" D1 "\",\"" D2 "\"],\"ubo_hashes\":[\"" D2 "\"],"
                  "\"jurisdiction_root\":\"" D1 "\"}",
                  0);
    ck_assert_int_eq(rule_status(r, "enough", NULL), CAPV_POLICY_RULE_PASS);
    ck_assert_int_eq(rule_status(r, "literal_left", NULL), CAPV_POLICY_RULE_PASS);
    ck_assert_int_eq(rule_status(r, "root_is", NULL), CAPV_POLICY_RULE_PASS);
    ck_assert_int_eq(capv_policy_eval_result_verdict(r), CAPV_VERDICT_OK);
    /* rules come back in IR order (by id) */
    ck_assert_str_eq(capv_policy_eval_result_rule_id(r, 0), "enough");
    ck_assert_str_eq(capv_policy_eval_result_rule_id(r, 1), "literal_left");
    ck_assert_str_eq(capv_policy_eval_result_rule_id(r, 2), "root_is");
    ck_assert_ptr_null(capv_policy_eval_result_rule_id(r, 3));
    capv_policy_eval_result_free(r);
    /* a variable called like a field is not looked up in `variables` */
    r = eval_text(ir, "{\"ubo_hashes\":[\"" D1U "\"],\"variables\":{\"x\":1}}", 0);
    const char *msg = NULL;
    ck_assert_int_eq(rule_status(r, "enough", &msg), CAPV_POLICY_RULE_FAIL);
    ck_assert_ptr_nonnull(strstr(msg, "supplier_hashes"));
    ck_assert_int_eq(rule_status(r, "literal_left", &msg), CAPV_POLICY_RULE_FAIL);
    ck_assert_str_eq(msg, "element 0 of the literal occurs in ubo_hashes");
    capv_policy_eval_result_free(r);
    capv_policy_ir_free(ir);
    /* a value left out of the policy (`rhs:` with nothing) is the literal null: the rule
     * fails, it never passes for every context */
    ir = compile_text(CLEAN_HEAD "inputs: {supplier_hashes: {type: array}}\n"
                                 "rules:\n"
                                 "  - {id: forgotten, op: non_membership, lhs: supplier_hashes,\n"
                                 "     rhs: }\n");
    r = eval_text(ir, "{\"supplier_hashes\":[\"" D1 "\"]}", 0);
    ck_assert_int_eq(rule_status(r, "forgotten", &msg), CAPV_POLICY_RULE_FAIL);
    ck_assert_str_eq(msg, "the rhs is the literal null: nothing to compare");
    capv_policy_eval_result_free(r);
    capv_policy_ir_free(ir);
}
END_TEST

START_TEST(eval_malformed_context)
{
    capv_policy_ir *ir = binary_ir("eq");
    static const struct {
        const char *ctx;
        capv_status want;
    } cases[] = {
        { "[]", CAPV_E_TYPE },
        { "\"x\"", CAPV_E_TYPE },
        { "{\"supplier_hashes\":\"0x00\"}", CAPV_E_TYPE },
        { "{\"supplier_hashes\":[1]}", CAPV_E_TYPE },
        { "{\"sanctions_root\":[]}", CAPV_E_TYPE },
        { "{\"variables\":[]}", CAPV_E_TYPE },
        { "{\"variables\":{\"sanctions_root\":\"x\"}}", CAPV_E_MALFORMED },
        { "{\"variables\":{}", CAPV_E_JSON_SYNTAX },
        { "{\"variables\":{},\"variables\":{}}", CAPV_E_JSON_DUPLICATE_KEY },
        { "", CAPV_E_JSON_SYNTAX },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        capv_policy_eval_result *r = (capv_policy_eval_result *)&r;
        capv_error err = CAPV_ERROR_INIT;
        capv_status st =
            capv_policy_eval(&r, ir, (const uint8_t *)cases[i].ctx, strlen(cases[i].ctx), 0, &err);
        ck_assert_msg(st == cases[i].want, "case %zu: got %s (%s)", i, capv_status_name(st),
                      err.message);
        ck_assert_int_eq(err.code, st);
        ck_assert_ptr_null(r);
    }
    capv_policy_eval_result *r = NULL;
    ck_assert_int_eq(capv_policy_eval(&r, ir, (const uint8_t *)"{}", 2, 0x80, NULL),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_policy_eval(&r, NULL, (const uint8_t *)"{}", 2, 0, NULL),
                     CAPV_E_INVALID_ARG);
    /* unknown context fields are ignored; null and absent fields are undefined */
    r = eval_text(ir, "{\"supplier_hashes\":null,\"other\":5,\"variables\":{\"a\":1,\"b\":1}}", 0);
    ck_assert_int_eq(capv_policy_eval_result_verdict(r), CAPV_VERDICT_OK);
    capv_policy_eval_result_free(r);
    capv_policy_ir_free(ir);
}
END_TEST

/* The peer's adapt_context with the peer's IR. The IR has one rule, no_sanctions:
 * non_membership(supplier_hashes, sanctions_root). The context gives one supplier hash but
 * sanctions_root null — no sanctions list was provided, so nobody checked the suppliers
 * against one. The honest answer is fail (undefined variable), in both modes (the IR has no
 * adaptivity). With a sanctions root that differs from the supplier hash the rule passes;
 * with the supplier's own hash (in upper case) it fails. */
START_TEST(eval_peer_adapt_context)
{
    capv_policy_ir *ir = load_vector_ir("peer/policy/lksg_v1.ir.json");
    size_t len;
    uint8_t *ctx = tu_read(tu_shared_dir(), "peer/context/adapt_context.json", &len);
    for (unsigned flags = 0; flags <= CAPV_POLICY_EVAL_ADAPTIVE; flags++) {
        capv_policy_eval_result *r = NULL;
        ck_assert_int_eq(capv_policy_eval(&r, ir, ctx, len, flags, NULL), CAPV_OK);
        ck_assert_int_eq(capv_policy_eval_result_verdict(r), CAPV_VERDICT_FAIL);
        ck_assert_uint_eq(capv_policy_eval_result_rule_count(r), 1);
        const char *msg = NULL;
        ck_assert_int_eq(rule_status(r, "no_sanctions", &msg), CAPV_POLICY_RULE_FAIL);
        ck_assert_str_eq(msg, "variable \"sanctions_root\" is not defined in the context "
                              "(absent or null)");
        char *json = NULL;
        ck_assert_int_eq(capv_policy_eval_result_to_json(&json, NULL, r, 0, NULL), CAPV_OK);
        char want[1024];
        snprintf(want, sizeof want,
                 "{\"result\":\"fail\",\"policy_id\":\"lksg.v1\",\"policy_hash\":\"%s\","
                 "\"ir_hash\":\"%s\",\"adaptive\":%s,\"rules\":[{\"id\":\"no_sanctions\","
                 "\"result\":\"fail\",\"message\":\"variable \\\"sanctions_root\\\" is not "
                 "defined in the context (absent or null)\"}]}",
                 LKSG_V1_POLICY_HASH, LKSG_V1_IR_HASH, flags ? "true" : "false");
        ck_assert_str_eq(json, want);
        capv_free(json);
        capv_policy_eval_result_free(r);
    }
    free(ctx);
    capv_policy_eval_result *r = eval_text(
        ir, "{\"supplier_hashes\":[\"" SUPPLIER_ROOT "\"],\"sanctions_root\":\"" D1 "\"}", 0);
    ck_assert_int_eq(capv_policy_eval_result_verdict(r), CAPV_VERDICT_OK);
    ck_assert_str_eq(capv_policy_eval_result_rule_message(r, 0),
                     "none of the 1 value of supplier_hashes occurs in sanctions_root (1 value)");
    capv_policy_eval_result_free(r);
    r = eval_text(ir,
                  "{\"supplier_hashes\":[\"" D1 "\",\"" SUPPLIER_ROOT "\"],"
                  "\"sanctions_root\":\"0xDDE3F2C96C5FFC46EEF6AF7FE449BA6C575B71EFF26D0829"
                  "CE6D48872B2F1610\"}",
                  0);
    ck_assert_int_eq(capv_policy_eval_result_verdict(r), CAPV_VERDICT_FAIL);
    ck_assert_str_eq(capv_policy_eval_result_rule_message(r, 0),
                     "supplier_hashes[1] occurs in sanctions_root");
    capv_policy_eval_result_free(r);
    capv_policy_ir_free(ir);

    /* the v2 vector over the same context: one supplier passes the count, the sanctions
     * check cannot be made */
    capv_policy *p = parse_vector("peer/policy/policy.lksg.v2.yml");
    ck_assert_int_eq(capv_policy_compile(&ir, NULL, p, CAPV_POLICY_LINT_STRICT, NULL), CAPV_OK);
    ctx = tu_read(tu_shared_dir(), "peer/context/adapt_context.json", &len);
    ck_assert_int_eq(capv_policy_eval(&r, ir, ctx, len, 0, NULL), CAPV_OK);
    ck_assert_int_eq(rule_status(r, "supplier_count_check", NULL), CAPV_POLICY_RULE_PASS);
    ck_assert_int_eq(rule_status(r, "ubo_not_sanctioned", NULL), CAPV_POLICY_RULE_FAIL);
    ck_assert_int_eq(capv_policy_eval_result_verdict(r), CAPV_VERDICT_FAIL);
    capv_policy_eval_result_free(r);
    free(ctx);
    capv_policy_ir_free(ir);
    capv_policy_free(p);
}
END_TEST

#define ADAPTIVE_POLICY                                                                            \
    CLEAN_HEAD "inputs: {a: {type: array}, b: {type: array}}\n"                                    \
               "rules:\n"                                                                          \
               "  - {id: always, op: non_membership, lhs: a, rhs: b}\n"                            \
               "  - {id: high, op: range_min, lhs: a, rhs: 2}\n"                                   \
               "  - {id: low, op: range_min, lhs: a, rhs: 1}\n"                                    \
               "  - {id: flagged, op: eq, lhs: a, rhs: b}\n"                                       \
               "adaptivity:\n"                                                                     \
               "  predicates:\n"                                                                   \
               "    - {id: is_high, expr: {func: gt, args: [risk, 5]}}\n"                          \
               "    - {id: is_low, expr: {func: lt, args: [risk, {var: limit}]}}\n"                \
               "    - {id: flag, expr: flagged}\n"                                                 \
               "    - {id: never, expr: false}\n"                                                  \
               "  activations:\n"                                                                  \
               "    - {when: is_high, rules: [high]}\n"                                            \
               "    - {when: is_low, rules: [low]}\n"                                              \
               "    - {when: flag, rules: [flagged]}\n"                                            \
               "    - {when: never, rules: [high]}\n"

START_TEST(eval_adaptivity)
{
    capv_policy_ir *ir = compile_text(ADAPTIVE_POLICY);
    const char *msg = NULL;
    /* off: every rule is evaluated, whatever the predicates say */
    const char *ctx = "{\"variables\":{\"a\":[\"x\"],\"b\":[\"y\"],\"risk\":7,\"limit\":5,"
                      "\"flagged\":false}}";
    capv_policy_eval_result *r = eval_text(ir, ctx, 0);
    ck_assert_int_eq(rule_status(r, "always", NULL), CAPV_POLICY_RULE_PASS);
    ck_assert_int_eq(rule_status(r, "high", NULL), CAPV_POLICY_RULE_FAIL); /* 1 < 2 */
    ck_assert_int_eq(rule_status(r, "low", NULL), CAPV_POLICY_RULE_PASS);
    ck_assert_int_eq(rule_status(r, "flagged", NULL), CAPV_POLICY_RULE_FAIL);
    ck_assert_int_eq(capv_policy_eval_result_verdict(r), CAPV_VERDICT_FAIL);
    capv_policy_eval_result_free(r);

    /* on, risk 7: is_high true → high evaluated (fails); is_low false → low skipped;
     * flag false → flagged skipped; always is named by no activation → evaluated */
    r = eval_text(ir, ctx, CAPV_POLICY_EVAL_ADAPTIVE);
    ck_assert_int_eq(rule_status(r, "always", NULL), CAPV_POLICY_RULE_PASS);
    ck_assert_int_eq(rule_status(r, "high", NULL), CAPV_POLICY_RULE_FAIL);
    ck_assert_int_eq(rule_status(r, "low", &msg), CAPV_POLICY_RULE_SKIPPED);
    ck_assert_str_eq(msg, "not activated: no predicate activating it is true");
    ck_assert_int_eq(rule_status(r, "flagged", NULL), CAPV_POLICY_RULE_SKIPPED);
    ck_assert_int_eq(capv_policy_eval_result_verdict(r), CAPV_VERDICT_FAIL);
    capv_policy_eval_result_free(r);

    /* on, risk 3: high skipped (is_high false, never false), low evaluated and passes;
     * a skipped rule does not fail the verdict */
    r = eval_text(ir,
                  "{\"variables\":{\"a\":[\"x\"],\"b\":[\"y\"],\"risk\":3,\"limit\":5,"
                  "\"flagged\":false}}",
                  CAPV_POLICY_EVAL_ADAPTIVE);
    ck_assert_int_eq(rule_status(r, "high", NULL), CAPV_POLICY_RULE_SKIPPED);
    ck_assert_int_eq(rule_status(r, "low", NULL), CAPV_POLICY_RULE_PASS);
    ck_assert_int_eq(capv_policy_eval_result_verdict(r), CAPV_VERDICT_OK);
    char *json = NULL;
    ck_assert_int_eq(capv_policy_eval_result_to_json(&json, NULL, r, 0, NULL), CAPV_OK);
    ck_assert_ptr_nonnull(strstr(json, "\"adaptive\":true"));
    ck_assert_ptr_nonnull(strstr(json, "{\"id\":\"high\",\"result\":\"skipped\""));
    capv_free(json);
    capv_policy_eval_result_free(r);

    /* on, boolean variable true: flagged evaluated */
    r = eval_text(ir,
                  "{\"variables\":{\"a\":[\"x\"],\"b\":[\"x\"],\"risk\":5,\"limit\":5,"
                  "\"flagged\":true}}",
                  CAPV_POLICY_EVAL_ADAPTIVE);
    ck_assert_int_eq(rule_status(r, "flagged", NULL), CAPV_POLICY_RULE_PASS);
    ck_assert_int_eq(rule_status(r, "high", NULL), CAPV_POLICY_RULE_SKIPPED); /* 5 > 5 false */
    ck_assert_int_eq(rule_status(r, "low", NULL), CAPV_POLICY_RULE_SKIPPED);  /* 5 < 5 false */
    ck_assert_int_eq(rule_status(r, "always", NULL), CAPV_POLICY_RULE_FAIL);
    capv_policy_eval_result_free(r);

    /* on, predicates that cannot be evaluated: the rules they would activate fail, they are
     * never silently skipped */
    r = eval_text(ir,
                  "{\"variables\":{\"a\":[\"x\"],\"b\":[\"y\"],\"risk\":\"7\","
                  "\"flagged\":1}}",
                  CAPV_POLICY_EVAL_ADAPTIVE);
    ck_assert_int_eq(rule_status(r, "high", &msg), CAPV_POLICY_RULE_FAIL);
    ck_assert_str_eq(msg, "not evaluated: its activation predicate \"is_high\" could not be "
                          "evaluated: gt needs numbers; risk is a string");
    ck_assert_int_eq(rule_status(r, "low", &msg), CAPV_POLICY_RULE_FAIL);
    ck_assert_ptr_nonnull(strstr(msg, "variable \"limit\" is not defined"));
    ck_assert_int_eq(rule_status(r, "flagged", &msg), CAPV_POLICY_RULE_FAIL);
    ck_assert_ptr_nonnull(strstr(msg, "variable \"flagged\" is a number, not a boolean"));
    ck_assert_int_eq(rule_status(r, "always", NULL), CAPV_POLICY_RULE_PASS);
    ck_assert_int_eq(capv_policy_eval_result_verdict(r), CAPV_VERDICT_FAIL);
    capv_policy_eval_result_free(r);
    capv_policy_ir_free(ir);

    /* eq predicates compare resolved values */
    ir = compile_text(CLEAN_HEAD
                      "inputs: {a: {type: number}}\nrules:\n"
                      "  - {id: r, op: range_min, lhs: a, rhs: 10}\n"
                      "adaptivity:\n  predicates: [{id: de, expr: {func: eq, args: [country, "
                      "{var: home}]}}]\n  activations: [{when: de, rules: [r]}]\n");
    r = eval_text(ir, "{\"variables\":{\"a\":1,\"country\":\"DE\",\"home\":\"DE\"}}",
                  CAPV_POLICY_EVAL_ADAPTIVE);
    ck_assert_int_eq(rule_status(r, "r", NULL), CAPV_POLICY_RULE_FAIL);
    capv_policy_eval_result_free(r);
    r = eval_text(ir, "{\"variables\":{\"a\":1,\"country\":\"FR\",\"home\":\"DE\"}}",
                  CAPV_POLICY_EVAL_ADAPTIVE);
    ck_assert_int_eq(rule_status(r, "r", NULL), CAPV_POLICY_RULE_SKIPPED);
    ck_assert_int_eq(capv_policy_eval_result_verdict(r), CAPV_VERDICT_OK);
    capv_policy_eval_result_free(r);
    capv_policy_ir_free(ir);
}
END_TEST

/* Adaptivity survives compile → JSON → load with the same hash and behaviour. */
START_TEST(adaptive_ir_round_trip)
{
    capv_policy_ir *ir = compile_text(ADAPTIVE_POLICY);
    size_t n;
    const char *text = capv_policy_ir_json(ir, CAPV_POLICY_IR_PRETTY, &n);
    ck_assert_ptr_nonnull(strstr(text, "\"adaptivity\": {\n    \"predicates\": [\n"));
    ck_assert_ptr_nonnull(strstr(text, "\"expr\": {\n          \"args\": [\n            \"risk\",\n"
                                       "            5\n          ],\n          \"func\": \"gt\""));
    capv_policy_ir *again = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_policy_ir_load(&again, (const uint8_t *)text, n, &err), CAPV_OK);
    ck_assert_str_eq(capv_policy_ir_hash(again), capv_policy_ir_hash(ir));
    capv_policy_eval_result *r = eval_text(again,
                                           "{\"variables\":{\"a\":[\"x\"],\"b\":[],"
                                           "\"risk\":3,\"limit\":5,\"flagged\":false}}",
                                           CAPV_POLICY_EVAL_ADAPTIVE);
    ck_assert_int_eq(rule_status(r, "low", NULL), CAPV_POLICY_RULE_PASS);
    ck_assert_int_eq(rule_status(r, "high", NULL), CAPV_POLICY_RULE_SKIPPED);
    capv_policy_eval_result_free(r);
    capv_policy_ir_free(again);

    /* IR whose adaptivity would fail the lints is malformed when loaded */
    const char *bad_ir[] = {
        "{\"ir_version\":\"1.0\",\"policy_id\":\"p\",\"policy_hash\":\"" LKSG_V1_POLICY_HASH
        "\",\"rules\":[],\"adaptivity\":{\"predicates\":[],\"activations\":[{\"when\":\"x\","
        "\"rules\":[]}]},\"ir_hash\":\"" LKSG_V1_IR_HASH "\"}",
        "{\"ir_version\":\"1.0\",\"policy_id\":\"p\",\"policy_hash\":\"" LKSG_V1_POLICY_HASH
        "\",\"rules\":[],\"adaptivity\":{\"predicates\":[{\"id\":\"x\",\"expr\":true}],"
        "\"activations\":[{\"when\":\"x\",\"rules\":[\"r\"]}]},\"ir_hash\":\"" LKSG_V1_IR_HASH
        "\"}",
        "{\"ir_version\":\"1.0\",\"policy_id\":\"p\",\"policy_hash\":\"" LKSG_V1_POLICY_HASH
        "\",\"rules\":[],\"adaptivity\":{\"predicates\":[{\"id\":\"x\",\"expr\":5}],"
        "\"activations\":[]},\"ir_hash\":\"" LKSG_V1_IR_HASH "\"}",
        "{\"ir_version\":\"1.0\",\"policy_id\":\"p\",\"policy_hash\":\"" LKSG_V1_POLICY_HASH
        "\",\"rules\":[],\"adaptivity\":{\"predicates\":[{\"id\":\"x\",\"expr\":{\"func\":"
        "\"eq\",\"args\":[{\"var\":\"a\",\"default\":1},1]}}],\"activations\":[]},\"ir_hash\":"
        "\"" LKSG_V1_IR_HASH "\"}",
    };
    for (size_t i = 0; i < sizeof bad_ir / sizeof bad_ir[0]; i++) {
        again = (capv_policy_ir *)&again;
        ck_assert_int_eq(
            capv_policy_ir_load(&again, (const uint8_t *)bad_ir[i], strlen(bad_ir[i]), &err),
            CAPV_E_MALFORMED);
        ck_assert_ptr_null(again);
    }
    capv_policy_ir_free(ir);
}
END_TEST

/* ---- 7. /verify evaluation requests -------------------------------------------------- */

START_TEST(eval_requests)
{
    size_t len;
    char *golden = (char *)tu_read(tu_shared_dir(), "peer/policy/lksg_v1.ir.json", &len);
    char *ctx = (char *)tu_read(tu_shared_dir(), "peer/context/adapt_context.json", &len);
    size_t cap = strlen(golden) + strlen(ctx) + 256;
    char *body = malloc(cap);
    ck_assert_ptr_nonnull(body);
    capv_error err = CAPV_ERROR_INIT;

    /* mode B */
    snprintf(body, cap,
             "{\"ir\":%s,\"context\":%s,\"backend\":\"mock\",\"options\":"
             "{\"adaptive\":true,\"check_registry\":false}}",
             golden, ctx);
    capv_policy_eval_request *req = NULL;
    ck_assert_int_eq(
        capv_policy_eval_request_parse(&req, (const uint8_t *)body, strlen(body), &err), CAPV_OK);
    ck_assert_ptr_null(capv_policy_eval_request_policy_id(req));
    ck_assert_ptr_nonnull(capv_policy_eval_request_ir(req));
    ck_assert_str_eq(capv_policy_ir_hash(capv_policy_eval_request_ir(req)), LKSG_V1_IR_HASH);
    ck_assert_uint_eq(capv_policy_eval_request_flags(req), CAPV_POLICY_EVAL_ADAPTIVE);
    capv_policy_eval_result *r = NULL;
    ck_assert_int_eq(capv_policy_eval_request_run(&r, req, NULL, &err), CAPV_OK);
    ck_assert_int_eq(capv_policy_eval_result_verdict(r), CAPV_VERDICT_FAIL);
    capv_policy_eval_result_free(r);
    capv_policy_ir *other = load_vector_ir("peer/policy/lksg_v1.ir.json");
    ck_assert_int_eq(capv_policy_eval_request_run(&r, req, other, &err), CAPV_E_INVALID_ARG);
    capv_policy_eval_request_free(req);

    /* mode A: the caller supplies the stored IR */
    snprintf(body, cap,
             "{\"policy_id\":\"lksg.v1\",\"context\":{\"supplier_hashes\":[],"
             "\"sanctions_root\":\"" D1 "\"}}");
    ck_assert_int_eq(
        capv_policy_eval_request_parse(&req, (const uint8_t *)body, strlen(body), &err), CAPV_OK);
    ck_assert_str_eq(capv_policy_eval_request_policy_id(req), "lksg.v1");
    ck_assert_ptr_null(capv_policy_eval_request_ir(req));
    ck_assert_uint_eq(capv_policy_eval_request_flags(req), 0);
    ck_assert_int_eq(capv_policy_eval_request_run(&r, req, NULL, &err), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_policy_eval_request_run(&r, req, other, &err), CAPV_OK);
    ck_assert_int_eq(capv_policy_eval_result_verdict(r), CAPV_VERDICT_OK);
    capv_policy_eval_result_free(r);
    capv_policy_eval_request_free(req);
    snprintf(body, cap, "{\"policy_id\":\"other\",\"context\":{}}");
    ck_assert_int_eq(
        capv_policy_eval_request_parse(&req, (const uint8_t *)body, strlen(body), &err), CAPV_OK);
    ck_assert_int_eq(capv_policy_eval_request_run(&r, req, other, &err), CAPV_E_MISMATCH);
    capv_policy_eval_request_free(req);
    /* a policy store finds a policy by its hash too: the IR's policy hash, either form */
    const char *ph = capv_policy_ir_policy_hash(other);
    ck_assert_ptr_nonnull(strchr(ph, ':'));
    char ids[3][80];
    snprintf(ids[0], sizeof ids[0], "%s", ph);
    snprintf(ids[1], sizeof ids[1], "0x%s", strchr(ph, ':') + 1);
    snprintf(ids[2], sizeof ids[2], "%s", ids[1]);
    ids[2][10] = ids[2][10] == '0' ? '1' : '0'; /* another hash */
    for (int form = 0; form < 3; form++) {
        const char *id = ids[form];
        snprintf(body, cap, "{\"policy_id\":\"%s\",\"context\":{}}", id);
        ck_assert_int_eq(
            capv_policy_eval_request_parse(&req, (const uint8_t *)body, strlen(body), &err),
            CAPV_OK);
        ck_assert_int_eq(capv_policy_eval_request_run(&r, req, other, &err),
                         form == 2 ? CAPV_E_MISMATCH : CAPV_OK);
        capv_policy_eval_result_free(r);
        r = NULL;
        capv_policy_eval_request_free(req);
    }
    capv_policy_ir_free(other);

    /* bad bodies */
    char *tampered = golden_with("\"op\": \"non_membership\"", "\"op\": \"eq\"");
    size_t bigcap = strlen(tampered) + 64;
    char *big = malloc(bigcap);
    ck_assert_ptr_nonnull(big);
    snprintf(big, bigcap, "{\"ir\":%s,\"context\":{}}", tampered);
    const struct {
        const char *body;
        capv_status want;
    } cases[] = {
        { "{\"context\":{}}", CAPV_E_MALFORMED },
        { "{\"policy_id\":\"a\",\"ir\":{},\"context\":{}}", CAPV_E_MALFORMED },
        { "{\"policy_id\":\"a\"}", CAPV_E_MISSING },
        { "{\"policy_id\":\"a\",\"context\":[]}", CAPV_E_TYPE },
        { "{\"policy_id\":\"a\",\"context\":{\"ubo_hashes\":5}}", CAPV_E_TYPE },
        { "{\"policy_id\":1,\"context\":{}}", CAPV_E_TYPE },
        { "{\"policy_id\":\"a\",\"context\":{},\"options\":{\"adaptive\":1}}", CAPV_E_TYPE },
        { "{\"policy_id\":\"a\",\"context\":{},\"options\":{\"fast\":true}}", CAPV_E_MALFORMED },
        { "{\"policy_id\":\"a\",\"context\":{},\"package\":{}}", CAPV_E_MALFORMED },
        { "{\"ir\":{\"ir_version\":\"1.0\"},\"context\":{}}", CAPV_E_MISSING },
        { "[]", CAPV_E_TYPE },
        { "{", CAPV_E_JSON_SYNTAX },
        { big, CAPV_E_MISMATCH },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        req = (capv_policy_eval_request *)&req;
        capv_error_clear(&err);
        capv_status st = capv_policy_eval_request_parse(&req, (const uint8_t *)cases[i].body,
                                                        strlen(cases[i].body), &err);
        ck_assert_msg(st == cases[i].want, "case %zu: got %s (%s)", i, capv_status_name(st),
                      err.message);
        ck_assert_int_eq(err.code, st);
        ck_assert_ptr_null(req);
    }
    free(big);
    free(tampered);
    free(body);
    free(ctx);
    free(golden);
}
END_TEST

START_TEST(compile_requests)
{
    size_t len;
    uint8_t *yaml = tu_read(tu_shared_dir(), "peer/policy/lksg_v1.policy.yml", &len);
    char b64[2048], body[4096];
    ck_assert_uint_lt(CAPV_BASE64_ENCODED_SIZE(len), sizeof b64);
    ck_assert_int_eq(capv_base64_encode(b64, sizeof b64, NULL, yaml, len, CAPV_BASE64_STD, NULL),
                     CAPV_OK);
    free(yaml);
    capv_error err = CAPV_ERROR_INIT;
    capv_policy_compile_request *req = NULL;

    snprintf(body, sizeof body, "{\"policy_yaml\":\"%s\",\"persist\":true}", b64);
    ck_assert_int_eq(
        capv_policy_compile_request_parse(&req, (const uint8_t *)body, strlen(body), &err),
        CAPV_OK);
    const capv_policy *p = capv_policy_compile_request_policy(req);
    ck_assert_str_eq(capv_policy_hash(p), LKSG_V1_POLICY_HASH);
    ck_assert_int_eq(capv_policy_compile_request_lint_mode(req), CAPV_POLICY_LINT_STRICT);
    ck_assert_int_eq(capv_policy_compile_request_persist(req), 1);
    capv_policy_ir *ir = NULL;
    ck_assert_int_eq(
        capv_policy_compile(&ir, NULL, p, capv_policy_compile_request_lint_mode(req), &err),
        CAPV_OK);
    ck_assert_str_eq(capv_policy_ir_hash(ir), LKSG_V1_IR_HASH);
    capv_policy_ir_free(ir);
    capv_policy_compile_request_free(req);

    /* the JSON form: the v2 vector as an object, relaxed */
    capv_policy *v2 = parse_vector("peer/policy/policy.lksg.v2.yml");
    snprintf(body, sizeof body, "{\"lint_mode\":\"relaxed\",\"policy\":%s}",
             capv_policy_canonical_json(v2, NULL));
    ck_assert_int_eq(
        capv_policy_compile_request_parse(&req, (const uint8_t *)body, strlen(body), &err),
        CAPV_OK);
    ck_assert_str_eq(capv_policy_hash(capv_policy_compile_request_policy(req)),
                     LKSG_V2_POLICY_HASH);
    ck_assert_int_eq(capv_policy_compile_request_lint_mode(req), CAPV_POLICY_LINT_RELAXED);
    ck_assert_int_eq(capv_policy_compile_request_persist(req), 0);
    capv_policy_compile_request_free(req);
    capv_policy_free(v2);

    /* "id: x\nversion: 1\n" in base64: a YAML problem keeps its position */
    const char *bad_yaml = "{\"policy_yaml\":\"aWQ6IHgKdmVyc2lvbjogMQo=\"}";
    ck_assert_int_eq(
        capv_policy_compile_request_parse(&req, (const uint8_t *)bad_yaml, strlen(bad_yaml), &err),
        CAPV_E_TYPE);
    ck_assert_ptr_nonnull(strstr(err.message, "line 2, column 10"));
    static const struct {
        const char *body;
        capv_status want;
    } cases[] = {
        { "{}", CAPV_E_MALFORMED },
        { "{\"policy_yaml\":\"aWQ6IHgK\",\"policy\":{}}", CAPV_E_MALFORMED },
        { "{\"policy_yaml\":\"not base64!\"}", CAPV_E_BASE64 },
        { "{\"policy_yaml\":\"aWQ6IHgK\",\"lint_mode\":\"lenient\"}", CAPV_E_MALFORMED },
        { "{\"policy_yaml\":\"aWQ6IHgK\",\"persist\":\"yes\"}", CAPV_E_TYPE },
        { "{\"policy_yaml\":\"aWQ6IHgK\",\"extra\":1}", CAPV_E_MALFORMED },
        { "{\"policy_yaml\":5}", CAPV_E_TYPE },
        { "{\"policy\":{\"id\":\"x\"}}", CAPV_E_MISSING },
        { "{\"policy\":[]}", CAPV_E_TYPE },
        { "[]", CAPV_E_TYPE },
        { "{\"policy\":", CAPV_E_JSON_SYNTAX },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        req = (capv_policy_compile_request *)&req;
        capv_error_clear(&err);
        capv_status st = capv_policy_compile_request_parse(&req, (const uint8_t *)cases[i].body,
                                                           strlen(cases[i].body), &err);
        ck_assert_msg(st == cases[i].want, "case %zu: got %s (%s)", i, capv_status_name(st),
                      err.message);
        ck_assert_int_eq(err.code, st);
        ck_assert_ptr_null(req);
    }
}
END_TEST

/* ---- the daemon's compile answer, and errors reset on success ------------------------- */

START_TEST(compile_answer_json)
{
    capv_error err = CAPV_ERROR_INIT;
    /* lksg_v1: no lints, persisted */
    capv_policy *p = parse_vector("peer/policy/lksg_v1.policy.yml");
    capv_policy_ir *ir = NULL;
    capv_policy_diagnostics *d = NULL;
    ck_assert_int_eq(capv_policy_compile(&ir, &d, p, CAPV_POLICY_LINT_STRICT, &err), CAPV_OK);
    char *json = NULL, *want = NULL;
    size_t len = 0, irlen = 0;
    const char *compact = capv_policy_ir_json(ir, CAPV_POLICY_IR_COMPACT, &irlen);
    size_t cap = irlen + 1024;
    want = malloc(cap);
    ck_assert_ptr_nonnull(want);
    /* exactly the 200 body the daemon's POST /policy/compile answered */
    snprintf(want, cap,
             "{\"policy_id\":\"lksg.v1\",\"policy_version\":\"1.0\",\"policy_hash\":\"%s\","
             "\"ir_hash\":\"%s\",\"ir\":%s,\"lints\":[],\"persisted\":true}",
             LKSG_V1_POLICY_HASH, LKSG_V1_IR_HASH, compact);
    ck_assert_int_eq(capv_policy_compile_answer_json(&json, &len, ir, d, true, &err), CAPV_OK);
    ck_assert_str_eq(json, want);
    ck_assert_uint_eq(len, strlen(want));
    capv_free(json);
    /* no diagnostics object: "lints":[] all the same */
    ck_assert_int_eq(capv_policy_compile_answer_json(&json, NULL, ir, NULL, true, &err), CAPV_OK);
    ck_assert_str_eq(json, want);
    capv_free(json);
    capv_policy_diagnostics_free(d);
    capv_policy_ir_free(ir);
    capv_policy_free(p);

    /* policy.lksg.v2: its one warning (W2001) in "lints", not persisted */
    p = parse_vector("peer/policy/policy.lksg.v2.yml");
    ck_assert_int_eq(capv_policy_compile(&ir, &d, p, CAPV_POLICY_LINT_STRICT, &err), CAPV_OK);
    char *lints = NULL;
    ck_assert_int_eq(capv_policy_diagnostics_to_json(&lints, NULL, d, &err), CAPV_OK);
    ck_assert_ptr_nonnull(strstr(lints, "\"W2001\""));
    compact = capv_policy_ir_json(ir, CAPV_POLICY_IR_COMPACT, &irlen);
    free(want);
    cap = irlen + strlen(lints) + 1024;
    want = malloc(cap);
    ck_assert_ptr_nonnull(want);
    snprintf(want, cap,
             "{\"policy_id\":\"%s\",\"policy_version\":\"%s\",\"policy_hash\":\"%s\","
             "\"ir_hash\":\"%s\",\"ir\":%s,\"lints\":%s,\"persisted\":false}",
             capv_policy_id(p), capv_policy_version(p), LKSG_V2_POLICY_HASH, LKSG_V2_IR_HASH,
             compact, lints);
    ck_assert_int_eq(capv_policy_compile_answer_json(&json, NULL, ir, d, false, &err), CAPV_OK);
    ck_assert_str_eq(json, want);
    capv_free(json);
    capv_free(lints);
    capv_policy_diagnostics_free(d);
    capv_policy_ir_free(ir);
    capv_policy_free(p);

    /* IR loaded from JSON has no policy version: null */
    ir = load_vector_ir("peer/policy/lksg_v1.ir.json");
    ck_assert_int_eq(capv_policy_compile_answer_json(&json, NULL, ir, NULL, false, &err), CAPV_OK);
    ck_assert_ptr_nonnull(strstr(json, "\"policy_version\":null,"));
    capv_free(json);
    json = (char *)&json;
    ck_assert_int_eq(capv_policy_compile_answer_json(&json, NULL, NULL, NULL, false, &err),
                     CAPV_E_INVALID_ARG);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(err.code, CAPV_E_INVALID_ARG);
    capv_policy_ir_free(ir);
    free(want);
}
END_TEST

/* An error left over from an earlier failure. */
static void stale(capv_error *err)
{
    err->code = CAPV_E_INTERNAL;
    snprintf(err->field, sizeof err->field, "stale.field");
    snprintf(err->message, sizeof err->message, "a stale message");
}

/* `st` is CAPV_OK and `err` looks as CAPV_ERROR_INIT left it. */
static void clean(capv_status st, const capv_error *err, const char *what)
{
    ck_assert_msg(st == CAPV_OK, "%s: %s (%s)", what, capv_status_name(st), err->message);
    ck_assert_msg(err->version == CAPV_ERROR_VERSION && err->code == CAPV_OK &&
                      err->field[0] == '\0' && err->message[0] == '\0',
                  "%s succeeded but left err = {%d, '%s', '%s'}", what, (int)err->code, err->field,
                  err->message);
}

#define CLEAN(call)                                                                                \
    do {                                                                                           \
        stale(&err);                                                                               \
        clean((call), &err, #call);                                                                \
    } while (0)

START_TEST(error_reset_on_success)
{
    capv_error err = CAPV_ERROR_INIT;
    size_t len;
    uint8_t *yaml = tu_read(tu_shared_dir(), "peer/policy/policy.lksg.v2.yml", &len);
    capv_policy *p = NULL;
    CLEAN(capv_policy_parse(&p, yaml, len, CAPV_POLICY_FORMAT_AUTO, &err));
    capv_policy_diagnostics *d = NULL;
    CLEAN(capv_policy_lint(&d, p, CAPV_POLICY_LINT_STRICT, &err));
    char *json = NULL;
    CLEAN(capv_policy_diagnostics_to_json(&json, NULL, d, &err));
    capv_free(json);
    capv_policy_diagnostics_free(d);
    capv_policy_ir *ir = NULL, *loaded = NULL;
    CLEAN(capv_policy_compile(&ir, &d, p, CAPV_POLICY_LINT_STRICT, &err));
    CLEAN(capv_policy_compile_answer_json(&json, NULL, ir, d, false, &err));
    capv_free(json);
    capv_policy_diagnostics_free(d);
    size_t irlen = 0;
    const char *irjson = capv_policy_ir_json(ir, CAPV_POLICY_IR_COMPACT, &irlen);
    CLEAN(capv_policy_ir_load(&loaded, (const uint8_t *)irjson, irlen, &err));
    const char *ctx = "{\"supplier_hashes\":[],\"ubo_hashes\":[]}";
    capv_policy_eval_result *r = NULL;
    CLEAN(capv_policy_eval(&r, loaded, (const uint8_t *)ctx, strlen(ctx), 0, &err));
    CLEAN(capv_policy_eval_result_to_json(&json, NULL, r, 0, &err));
    capv_free(json);
    capv_policy_eval_result_free(r);
    char hex[CAPV_DIGEST_HEX_SIZE];
    uint8_t *v1 = tu_read(tu_shared_dir(), "peer/policy/policy.lksg.v1.yml", &len);
    CLEAN(capv_policy_v1_hash(hex, v1, len, CAPV_POLICY_FORMAT_AUTO, &err));
    free(v1);
    /* the unstable request calls too */
    char body[8192];
    snprintf(body, sizeof body, "{\"lint_mode\":\"relaxed\",\"policy\":%s}",
             capv_policy_canonical_json(p, NULL));
    capv_policy_compile_request *creq = NULL;
    CLEAN(capv_policy_compile_request_parse(&creq, (const uint8_t *)body, strlen(body), &err));
    capv_policy_compile_request_free(creq);
    snprintf(body, sizeof body, "{\"ir\":%s,\"context\":%s}", irjson, ctx);
    capv_policy_eval_request *ereq = NULL;
    CLEAN(capv_policy_eval_request_parse(&ereq, (const uint8_t *)body, strlen(body), &err));
    CLEAN(capv_policy_eval_request_run(&r, ereq, NULL, &err));
    capv_policy_eval_result_free(r);
    capv_policy_eval_request_free(ereq);
    capv_policy_ir_free(loaded);
    capv_policy_ir_free(ir);
    capv_policy_free(p);
    free(yaml);
}
END_TEST

/* ---- 8. the verifier's policy store reads policy files -------------------------------- */

static void copy_vector(const char *dir, const char *rel, const char *name)
{
    size_t len;
    uint8_t *data = tu_read(tu_shared_dir(), rel, &len);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    free(data);
}

static void put_text(const char *dir, const char *name, const char *text)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static bool knows(const capv_verifier *v, const char *hash)
{
    uint8_t d[32];
    ck_assert_int_eq(capv_digest_parse(d, hash, strlen(hash), NULL), CAPV_OK);
    return capvi_verifier_knows_policy(v, d);
}

START_TEST(policy_dir_reads_policy_files)
{
    char dir[] = "/tmp/capvpol.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    copy_vector(dir, "peer/policy/policy.lksg.v1.yml", "policy.lksg.v1.yml");
    copy_vector(dir, "peer/policy/policy.lksg.v2.yml", "demo.yaml");
    copy_vector(dir, "peer/policy/lksg_v1.ir.json", "lksg_v1.ir.json");
    put_text(dir, "README.txt", "not a policy");
    capv_verifier *v = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_verifier_new(&v, &err), CAPV_OK);
    ck_assert(!knows(v, V1_HASH));
    ck_assert_int_eq(capv_verifier_load_policy_dir(v, dir, &err), CAPV_OK);
    ck_assert(knows(v, V1_HASH));             /* policy v1 → 0x hash */
    ck_assert(knows(v, LKSG_V2_POLICY_HASH)); /* PolicyV2 → policy_hash */
    ck_assert(knows(v, LKSG_V1_POLICY_HASH)); /* IR file → policy_hash */
    ck_assert(!knows(v, LKSG_V1_IR_HASH));
    capv_verifier_free(v);

    /* a policy with lint errors is not trusted: the load fails and names the file */
    put_text(dir, "broken.yml", CLEAN_HEAD CLEAN_INPUTS "rules:\n" CLEAN_RULE CLEAN_RULE);
    ck_assert_int_eq(capv_verifier_new(&v, &err), CAPV_OK);
    ck_assert_int_eq(capv_verifier_load_policy_dir(v, dir, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err.message, "broken.yml"));
    ck_assert_ptr_nonnull(strstr(err.message, "E1003"));
    capv_verifier_free(v);
    ck_assert_int_eq(tu_remove_tree(dir), 0);
}
END_TEST

Suite *policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("compile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, golden_ir_bytes);
    tcase_add_test(tc, v2_vector_hashes);
    tcase_add_test(tc, json_input_same_hash);
    tcase_add_test(tc, json_numbers_as_serde_reads_them);
    tcase_add_test(tc, determinism_and_order);
    tcase_add_test(tc, v1_hash_vector);
    suite_add_tcase(s, tc);

    tc = tcase_create("lint");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, lint_clean_policy);
    tcase_add_test(tc, numbers_ignore_locale);
    tcase_add_loop_test(tc, lint_each_code, 0, (int)(sizeof lint_cases / sizeof lint_cases[0]));
    tcase_add_test(tc, lint_json_shape);
    tcase_add_loop_test(tc, lint_position_each_code, 0,
                        (int)(sizeof lint_cases / sizeof lint_cases[0]));
    tcase_add_test(tc, lint_json_input_has_no_position);
    suite_add_tcase(s, tc);

    tc = tcase_create("input");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, yaml_core_schema_typing);
    tcase_add_test(tc, yaml_byte_order_mark);
    tcase_add_test(tc, yaml_errors_have_positions);
    tcase_add_loop_test(tc, malformed_policies, 0, (int)(sizeof malformed / sizeof malformed[0]));
    tcase_add_test(tc, yaml_deep_nesting);
    tcase_add_test(tc, ir_tampering_rejected);
    suite_add_tcase(s, tc);

    tc = tcase_create("eval");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, eval_truth_table, 0, (int)(sizeof eval_cases / sizeof eval_cases[0]));
    tcase_add_test(tc, eval_large_membership);
    tcase_add_test(tc, eval_literals_and_fields);
    tcase_add_test(tc, eval_malformed_context);
    tcase_add_test(tc, eval_peer_adapt_context);
    tcase_add_test(tc, eval_adaptivity);
    tcase_add_test(tc, adaptive_ir_round_trip);
    tcase_add_test(tc, eval_requests);
    tcase_add_test(tc, compile_requests);
    tcase_add_test(tc, compile_answer_json);
    tcase_add_test(tc, error_reset_on_success);
    suite_add_tcase(s, tc);

    tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, policy_dir_reads_policy_files);
    suite_add_tcase(s, tc);
    return s;
}
