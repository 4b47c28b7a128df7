/* SPDX-License-Identifier: Apache-2.0 */
/* Commitments (docs/architecture.md, "Commitments") against the peer implementation's vectors, and
 * the strict CSV reader behind them. */
#include <capverify.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commitment_int.h"
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

typedef capv_status (*root_fn)(uint8_t root[32], size_t *count, const uint8_t *csv, size_t len,
                               capv_error *err);

/* Root of a vector file, asserting success and the row count. */
static void file_root(uint8_t root[32], root_fn fn, const char *rel, size_t want_count)
{
    size_t len = 0;
    uint8_t *csv = tu_read(tu_shared_dir(), rel, &len);
    capv_error err = CAPV_ERROR_INIT;
    size_t count = 12345;
    capv_status st = fn(root, &count, csv, len, &err);
    free(csv);
    ck_assert_msg(st == CAPV_OK, "%s: %s (%d)", rel, err.message, (int)st);
    ck_assert_uint_eq(count, want_count);
}

static const capv_csv_field *text(capv_csv_field *f, const char *s)
{
    f->data = (const uint8_t *)s;
    f->len = strlen(s);
    return f;
}

START_TEST(supplier_vectors)
{
    uint8_t root[32], leaf[32];
    file_root(root, capv_commitment_suppliers_csv, "peer/csv/suppliers.csv", 5);
    ck_assert_str_eq(tu_hex(root),
                     "0xdde3f2c96c5ffc46eef6af7fe449ba6c575b71eff26d0829ce6d48872b2f1610");
    capv_csv_field a, b;
    ck_assert_int_eq(
        capvi_commitment_supplier_leaf(leaf, text(&a, "ACME GmbH"), text(&b, "DE"), 1, NULL),
        CAPV_OK);
    ck_assert_str_eq(tu_hex(leaf),
                     "0x31942afffb1e91955bc3ba208797f071874c442f4133bb9e49cce062580b40d3");
    /* The first row alone: root = BLAKE3 of that leaf's "0x" hex text. */
    const char *one = "name,jurisdiction,tier\nACME GmbH,DE,1\n";
    size_t count = 0;
    ck_assert_int_eq(
        capv_commitment_suppliers_csv(root, &count, (const uint8_t *)one, strlen(one), NULL),
        CAPV_OK);
    ck_assert_uint_eq(count, 1);
    uint8_t want[32];
    const char *leaf_hex = "0x31942afffb1e91955bc3ba208797f071874c442f4133bb9e49cce062580b40d3";
    ck_assert_int_eq(
        capv_hash(want, CAPV_HASH_BLAKE3, (const uint8_t *)leaf_hex, strlen(leaf_hex), NULL),
        CAPV_OK);
    ck_assert_mem_eq(root, want, 32);
}
END_TEST

START_TEST(ubo_and_company_vectors)
{
    uint8_t s[32], u[32], c[32];
    file_root(s, capv_commitment_suppliers_csv, "peer/csv/suppliers.csv", 5);
    file_root(u, capv_commitment_ubos_csv, "peer/csv/ubos.csv", 2);
    ck_assert_str_eq(tu_hex(u),
                     "0xf89ea642046c73faa32494ed30672c7a7a7f764e399d1fb6d1c342ff3e7bf846");
    ck_assert_int_eq(capv_commitment_company(c, s, u, NULL), CAPV_OK);
    ck_assert_str_eq(tu_hex(c),
                     "0x83a8779d0d7e3a7590133318265569f2651a4f8090afcae880741efcfc898ae5");
    /* Order matters: supplier root first. */
    ck_assert_int_eq(capv_commitment_company(c, u, s, NULL), CAPV_OK);
    ck_assert_str_ne(tu_hex(c),
                     "0x83a8779d0d7e3a7590133318265569f2651a4f8090afcae880741efcfc898ae5");
}
END_TEST

/* Quoted fields, non-ASCII names, commas inside quotes, extra columns. */
START_TEST(utf8_vectors)
{
    uint8_t s[32], u[32], c[32];
    file_root(s, capv_commitment_suppliers_csv, "peer/csv/test-suppliers-utf8.csv", 8);
    ck_assert_str_eq(tu_hex(s),
                     "0x1164025be48436b7c4eb817e29374edfec5d2adfa354d1706edb4137e240a737");
    file_root(u, capv_commitment_ubos_csv, "peer/csv/test-ubos-utf8.csv", 12);
    ck_assert_str_eq(tu_hex(u),
                     "0xc10d537c408b4d7f6e81de6c09d41a8113204e0d294b6e6c18798672998ddb17");
    ck_assert_int_eq(capv_commitment_company(c, s, u, NULL), CAPV_OK);
    ck_assert_str_eq(tu_hex(c),
                     "0x53581b00c595f29e0ef3f6f017e885e2d8a8b78b5c5ddf77547411b43cabea48");
}
END_TEST

#define EMPTY_ROOT "0xaf1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"

START_TEST(empty_lists)
{
    uint8_t root[32];
    size_t count = 99;
    const char *h = "name,jurisdiction,tier\n";
    ck_assert_int_eq(
        capv_commitment_suppliers_csv(root, &count, (const uint8_t *)h, strlen(h), NULL), CAPV_OK);
    ck_assert_uint_eq(count, 0);
    ck_assert_str_eq(tu_hex(root), EMPTY_ROOT);
    /* Header without a newline, other column order. */
    h = "citizenship,name,birthdate";
    count = 99;
    ck_assert_int_eq(capv_commitment_ubos_csv(root, &count, (const uint8_t *)h, strlen(h), NULL),
                     CAPV_OK);
    ck_assert_uint_eq(count, 0);
    ck_assert_str_eq(tu_hex(root), EMPTY_ROOT);
}
END_TEST

/* Same rows written differently (CRLF, quoting, column order, extra columns, no final
 * newline, tier with leading zeros) give the same root as the vector file. */
START_TEST(equivalent_spellings)
{
    uint8_t want[32], root[32];
    file_root(want, capv_commitment_suppliers_csv, "peer/csv/suppliers.csv", 5);
    const char *csv = "extra,tier,\"name\",jurisdiction\r\n"
                      "x,1,ACME GmbH,DE\r\n"
                      ",001,\"Global Supply Inc\",\"US\"\r\n"
                      "\"a,b\",2,Eastern Trading,CN\n"
                      "\"\"\"\",1,Nordic Materials AB,SE\r\n"
                      "\"multi\r\nline\",2,South Asian Textiles,BD";
    size_t count = 0;
    ck_assert_int_eq(
        capv_commitment_suppliers_csv(root, &count, (const uint8_t *)csv, strlen(csv), NULL),
        CAPV_OK);
    ck_assert_uint_eq(count, 5);
    ck_assert_mem_eq(root, want, 32);
}
END_TEST

/* Leaf JSON: compat escaping of quotes and controls, integers normalised through int64. */
START_TEST(leaf_encoding)
{
    capv_csv_field a, b, c;
    uint8_t leaf[32], want[32];
    const char *json = "{\"name\":\"a\\\"b\\\\c\\n\\u001f/\xc3\xa4\",\"jurisdiction\":\"\","
                       "\"tier\":-9223372036854775808}";
    ck_assert_int_eq(capv_hash(want, CAPV_HASH_BLAKE3, (const uint8_t *)json, strlen(json), NULL),
                     CAPV_OK);
    ck_assert_int_eq(capvi_commitment_supplier_leaf(leaf, text(&a, "a\"b\\c\n\x1f/\xc3\xa4"),
                                                    text(&b, ""), INT64_MIN, NULL),
                     CAPV_OK);
    ck_assert_mem_eq(leaf, want, 32);

    json = "{\"name\":\"Max Mustermann\",\"birthdate\":\"1970-05-15\",\"citizenship\":\"DE\"}";
    ck_assert_int_eq(capv_hash(want, CAPV_HASH_BLAKE3, (const uint8_t *)json, strlen(json), NULL),
                     CAPV_OK);
    ck_assert_int_eq(capvi_commitment_ubo_leaf(leaf, text(&a, "Max Mustermann"),
                                               text(&b, "1970-05-15"), text(&c, "DE"), NULL),
                     CAPV_OK);
    ck_assert_mem_eq(leaf, want, 32);

    /* In a CSV: "-0" and "007" are written as 0 and 7. */
    const char *csv = "name,jurisdiction,tier\nX,DE,-0\nY,FR,007\n";
    const char *rows = "name,jurisdiction,tier\nX,DE,0\nY,FR,7\n";
    uint8_t r1[32], r2[32];
    ck_assert_int_eq(
        capv_commitment_suppliers_csv(r1, NULL, (const uint8_t *)csv, strlen(csv), NULL), CAPV_OK);
    ck_assert_int_eq(
        capv_commitment_suppliers_csv(r2, NULL, (const uint8_t *)rows, strlen(rows), NULL),
        CAPV_OK);
    ck_assert_mem_eq(r1, r2, 32);
}
END_TEST

START_TEST(parse_int)
{
    static const struct {
        const char *s;
        bool ok;
        int64_t v;
    } cases[] = {
        { "0", true, 0 },
        { "1", true, 1 },
        { "-1", true, -1 },
        { "0042", true, 42 },
        { "9223372036854775807", true, INT64_MAX },
        { "-9223372036854775808", true, INT64_MIN },
        { "9223372036854775808", false, 0 },
        { "-9223372036854775809", false, 0 },
        { "99999999999999999999", false, 0 },
        { "", false, 0 },
        { "-", false, 0 },
        { "+1", false, 0 },
        { " 1", false, 0 },
        { "1 ", false, 0 },
        { "1.0", false, 0 },
        { "1e3", false, 0 },
        { "0x10", false, 0 },
        { "--1", false, 0 },
        { "1_000", false, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = 777;
        bool ok = capvi_commitment_parse_int(&v, (const uint8_t *)cases[i].s, strlen(cases[i].s));
        ck_assert_msg(ok == cases[i].ok, "'%s'", cases[i].s);
        if (ok)
            ck_assert_msg(v == cases[i].v, "'%s'", cases[i].s);
        else
            ck_assert_msg(v == 777, "'%s' wrote its output", cases[i].s);
    }
}
END_TEST

#define LIT(s) s, sizeof(s) - 1

/* Malformed input: exact status, and the line in the message (and column in err.field). */
START_TEST(malformed_csv)
{
    static const struct {
        const char *name;
        bool ubos;
        const char *csv;
        size_t len;
        capv_status want;
        const char *prefix; /* expected start of err.message */
        const char *field;
    } cases[] = {
        { "missing column", false, LIT("name,jurisdiction,tiers\nA,DE,1\n"), CAPV_E_MALFORMED,
          "line 1: missing column 'tier'", "tier" },
        { "missing UBO column", true, LIT("name,birthdate\nA,1970-01-01\n"), CAPV_E_MALFORMED,
          "line 1: missing column 'citizenship'", "citizenship" },
        { "column names are case-sensitive", false, LIT("Name,jurisdiction,tier\n"),
          CAPV_E_MALFORMED, "line 1: missing column 'name'", "name" },
        { "duplicate column", false, LIT("name,jurisdiction,tier,name\nA,DE,1,B\n"),
          CAPV_E_MALFORMED, "line 1: column 'name' appears more than once", "name" },
        { "empty input", false, LIT(""), CAPV_E_MALFORMED, "line 1: empty input", "" },
        { "unterminated quote", false, LIT("name,jurisdiction,tier\nA,DE,1\n\"B,DE,1\nC,DE,1\n"),
          CAPV_E_MALFORMED, "line 3: unterminated quoted field", "" },
        { "stray quote", false, LIT("name,jurisdiction,tier\nA,DE,1\nB\"x,DE,1\n"),
          CAPV_E_MALFORMED, "line 3: quote inside an unquoted field", "" },
        { "text after closing quote", false, LIT("name,jurisdiction,tier\n\"A\"x,DE,1\n"),
          CAPV_E_MALFORMED, "line 2: unexpected character after a closing quote", "" },
        { "space after closing quote", false, LIT("name,jurisdiction,tier\n\"A\" ,DE,1\n"),
          CAPV_E_MALFORMED, "line 2: unexpected character after a closing quote", "" },
        { "bare CR", false, LIT("name,jurisdiction,tier\rA,DE,1\n"), CAPV_E_MALFORMED,
          "line 1: carriage return not followed by line feed", "" },
        { "non-integer tier", false, LIT("name,jurisdiction,tier\nA,DE,1\nB,DE,one\n"),
          CAPV_E_MALFORMED, "line 3: supplier 'tier' is not a decimal integer", "tier" },
        { "fractional tier", false, LIT("name,jurisdiction,tier\nA,DE,1.5\n"), CAPV_E_MALFORMED,
          "line 2: supplier 'tier' is not a decimal integer", "tier" },
        { "plus-signed tier", false, LIT("name,jurisdiction,tier\nA,DE,+1\n"), CAPV_E_MALFORMED,
          "line 2: supplier 'tier' is not a decimal integer", "tier" },
        { "empty tier", false, LIT("name,jurisdiction,tier\nA,DE,\n"), CAPV_E_MALFORMED,
          "line 2: supplier 'tier' is not a decimal integer", "tier" },
        { "tier beyond int64", false, LIT("name,jurisdiction,tier\nA,DE,9223372036854775808\n"),
          CAPV_E_MALFORMED, "line 2: supplier 'tier' is not a decimal integer", "tier" },
        { "invalid UTF-8", false, LIT("name,jurisdiction,tier\nA,DE,1\nM\xfcller,DE,1\n"),
          CAPV_E_MALFORMED, "line 3: invalid UTF-8", "" },
        { "overlong UTF-8", true, LIT("name,birthdate,citizenship\n\"\xc0\xaf\",x,y\n"),
          CAPV_E_MALFORMED, "line 2: invalid UTF-8", "" },
        { "truncated UTF-8 at end", true, LIT("name,birthdate,citizenship\nA,B,\xc3"),
          CAPV_E_MALFORMED, "line 2: invalid UTF-8", "" },
        { "BOM", false, LIT("\xef\xbb\xbfname,jurisdiction,tier\nA,DE,1\n"), CAPV_E_MALFORMED,
          "line 1: UTF-8 byte order mark", "" },
        { "too many fields", false, LIT("name,jurisdiction,tier\nA,DE,1\nB,DE,1,x\n"),
          CAPV_E_MALFORMED, "line 3: record has 4 fields, the header has 3", "" },
        { "too few fields", true, LIT("name,birthdate,citizenship\nA,B\n"), CAPV_E_MALFORMED,
          "line 2: record has 2 fields, the header has 3", "" },
        { "blank line", true, LIT("name,birthdate,citizenship\nA,B,C\n\nD,E,F\n"), CAPV_E_MALFORMED,
          "line 3: record has 1 field, the header has 3", "" },
        { "trailing blank line", true, LIT("name,birthdate,citizenship\nA,B,C\n\n"),
          CAPV_E_MALFORMED, "line 3: record has 1 field, the header has 3", "" },
        { "line counts newlines inside quotes", true,
          LIT("name,birthdate,citizenship\n\"A\nB\",C,D\nE,F\n"), CAPV_E_MALFORMED,
          "line 4: record has 2 fields", "" },
        { "NUL in unquoted field", false, LIT("name,jurisdiction,tier\nA\0B,DE,1\n"),
          CAPV_E_MALFORMED, "line 2: NUL byte", "" },
        { "NUL in quoted field", true, LIT("name,birthdate,citizenship\nA,B,\"\0\"\n"),
          CAPV_E_MALFORMED, "line 2: NUL byte", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len;
        uint8_t root[32];
        size_t count = 99;
        capv_error err = CAPV_ERROR_INIT;
        capv_status st =
            cases[i].ubos
                ? capv_commitment_ubos_csv(root, &count, (const uint8_t *)cases[i].csv, len, &err)
                : capv_commitment_suppliers_csv(root, &count, (const uint8_t *)cases[i].csv, len,
                                                &err);
        ck_assert_msg(st == cases[i].want, "%s: status %d (%s)", cases[i].name, (int)st,
                      err.message);
        ck_assert_int_eq(err.code, cases[i].want);
        ck_assert_msg(strncmp(err.message, cases[i].prefix, strlen(cases[i].prefix)) == 0,
                      "%s: message '%s', want prefix '%s'", cases[i].name, err.message,
                      cases[i].prefix);
        ck_assert_msg(strcmp(err.field, cases[i].field) == 0, "%s: field '%s'", cases[i].name,
                      err.field);
        ck_assert_msg(count == 0, "%s: count set on failure", cases[i].name);
    }
}
END_TEST

/* More than CAPV_CSV_MAX_FIELDS fields in a record is a limit, not an allocation spree. */
START_TEST(field_limit)
{
    size_t n = CAPV_CSV_MAX_FIELDS + 1;
    char *csv = malloc(2 * n + 64);
    ck_assert_ptr_nonnull(csv);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        csv[len++] = 'x';
        csv[len++] = i + 1 < n ? ',' : '\n';
    }
    capv_error err = CAPV_ERROR_INIT;
    uint8_t root[32];
    ck_assert_int_eq(capv_commitment_ubos_csv(root, NULL, (const uint8_t *)csv, len, &err),
                     CAPV_E_LIMIT);
    ck_assert_str_eq(err.message, "line 1: more than 1024 fields in a record");
    /* Exactly the limit is fine (and the required columns are still missing). */
    len -= 2;
    csv[len - 1] = '\n';
    ck_assert_int_eq(capv_commitment_ubos_csv(root, NULL, (const uint8_t *)csv, len, &err),
                     CAPV_E_MALFORMED);
    ck_assert_str_eq(err.field, "name");
    free(csv);
}
END_TEST

/* The reader itself: fields and line numbers of records, quoting, final record. */
START_TEST(csv_reader)
{
    const char *in = "a,\"b\"\"c\",\r\n\"x\ny\",,\"\"\n1,2,3";
    capv_csv_reader r;
    capvi_csv_init(&r, (const uint8_t *)in, strlen(in));
    bool got = false;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capvi_csv_next(&r, &got, &err), CAPV_OK);
    ck_assert(got);
    ck_assert_uint_eq(r.nfields, 3);
    ck_assert_uint_eq(r.line, 1);
    ck_assert(capvi_csv_field_eq(&r.fields[0], "a"));
    ck_assert(capvi_csv_field_eq(&r.fields[1], "b\"c"));
    ck_assert(capvi_csv_field_eq(&r.fields[2], ""));
    ck_assert_int_eq(capvi_csv_next(&r, &got, &err), CAPV_OK);
    ck_assert(got);
    ck_assert_uint_eq(r.line, 2);
    ck_assert(capvi_csv_field_eq(&r.fields[0], "x\ny"));
    ck_assert(capvi_csv_field_eq(&r.fields[1], ""));
    ck_assert(capvi_csv_field_eq(&r.fields[2], ""));
    ck_assert_int_eq(capvi_csv_next(&r, &got, &err), CAPV_OK);
    ck_assert(got);
    ck_assert_uint_eq(r.line, 4);
    ck_assert(capvi_csv_field_eq(&r.fields[2], "3"));
    ck_assert_int_eq(capvi_csv_next(&r, &got, &err), CAPV_OK);
    ck_assert(!got);
    ck_assert_int_eq(capvi_csv_next(&r, &got, &err), CAPV_OK);
    ck_assert(!got);
    capvi_csv_free(&r);

    /* A trailing comma at the end of input is one more, empty field. */
    in = "a,b\nc,";
    capvi_csv_init(&r, (const uint8_t *)in, strlen(in));
    ck_assert_int_eq(capvi_csv_next(&r, &got, &err), CAPV_OK);
    ck_assert_int_eq(capvi_csv_next(&r, &got, &err), CAPV_OK);
    ck_assert(got);
    ck_assert_uint_eq(r.nfields, 2);
    ck_assert(capvi_csv_field_eq(&r.fields[1], ""));
    capvi_csv_free(&r);
    capvi_csv_free(&r); /* idempotent */
}
END_TEST

START_TEST(bad_arguments)
{
    uint8_t root[32];
    size_t count = 5;
    ck_assert_int_eq(capv_commitment_suppliers_csv(NULL, &count, (const uint8_t *)"", 0, NULL),
                     CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_commitment_ubos_csv(root, &count, NULL, 3, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_commitment_company(NULL, root, root, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_commitment_company(root, NULL, root, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_commitment_company(root, root, NULL, NULL), CAPV_E_INVALID_ARG);
    /* NULL, 0 is an empty input, which lacks its header. */
    ck_assert_int_eq(capv_commitment_suppliers_csv(root, NULL, NULL, 0, NULL), CAPV_E_MALFORMED);
}
END_TEST

/* Without capv_global_init() nothing is hashed. */
START_TEST(requires_init)
{
    uint8_t root[32] = { 0 };
    const char *h = "name,jurisdiction,tier\n";
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_commitment_suppliers_csv(root, NULL, (const uint8_t *)h, strlen(h), &err),
                     CAPV_E_NOT_INITIALIZED);
    ck_assert_int_eq(capv_commitment_company(root, root, root, NULL), CAPV_E_NOT_INITIALIZED);
}
END_TEST

Suite *commitment_suite(void)
{
    Suite *s = suite_create("commitment");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, supplier_vectors);
    tcase_add_test(tc, ubo_and_company_vectors);
    tcase_add_test(tc, utf8_vectors);
    tcase_add_test(tc, empty_lists);
    tcase_add_test(tc, equivalent_spellings);
    tcase_add_test(tc, leaf_encoding);
    tcase_add_test(tc, parse_int);
    tcase_add_test(tc, malformed_csv);
    tcase_add_test(tc, field_limit);
    tcase_add_test(tc, csv_reader);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    TCase *raw = tcase_create("uninitialised");
    tcase_add_test(raw, requires_init);
    suite_add_tcase(s, raw);
    return s;
}
