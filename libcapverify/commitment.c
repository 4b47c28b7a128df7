/* SPDX-License-Identifier: Apache-2.0 */
/* Commitments (docs/architecture.md, "Commitments"): supplier, UBO and company roots recomputed
 * from CSV lists.
 *
 * * leaf = BLAKE3(compact JSON of the row's columns, compat string escaping, integers plain) root =
 * BLAKE3("0x" + hex(leaf_1) + "0x" + hex(leaf_2) + ...), BLAKE3("") for no rows company =
 * BLAKE3("0x" + hex(supplier_root) + "0x" + hex(ubo_root)) The peer implementation hashes exactly
 * these byte strings (checked against its vectors). */
#include <inttypes.h>
#include <string.h>

#include "commitment_int.h"
#include "global_int.h"
#include "json_int.h"

/* One member of a leaf object: a text column, or an integer when text is NULL. */
typedef struct leaf_member {
    const char *key;
    const capv_csv_field *text;
    int64_t integer;
} leaf_member;

/* The columns of one list, in leaf key order; `int_col` is the integer column or -1. */
typedef struct list_spec {
    const char *rows_name; /* for messages */
    const char *cols[3];
    int int_col;
} list_spec;

static const list_spec suppliers_spec = { "supplier", { "name", "jurisdiction", "tier" }, 2 };
static const list_spec ubos_spec = { "UBO", { "name", "birthdate", "citizenship" }, -1 };

#define NCOLS (sizeof suppliers_spec.cols / sizeof suppliers_spec.cols[0])

/* Hashes the compact JSON object of `m[0..n)`, using `b` as scratch space. */
static capv_status leaf_digest(uint8_t out[32], capv_buf *b, const leaf_member *m, size_t n,
                               capv_error *err)
{
    b->len = 0;
    for (size_t i = 0; i < n; i++) {
        capvi_buf_putc(b, i ? ',' : '{');
        capvi_json_write_string(b, m[i].key, strlen(m[i].key));
        capvi_buf_putc(b, ':');
        if (m[i].text != NULL && m[i].text->len > 0)
            capvi_json_write_string(b, (const char *)m[i].text->data, m[i].text->len);
        else if (m[i].text != NULL)
            capvi_buf_puts(b, "\"\"");
        else
            capvi_buf_printf(b, "%" PRId64, m[i].integer);
    }
    capvi_buf_putc(b, '}');
    if (b->failed)
        return capvi_err_nomem(err);
    return capv_hash(out, CAPV_HASH_BLAKE3, b->data, b->len, err);
}

static capv_status leaf_once(uint8_t out[32], const leaf_member *m, size_t n, capv_error *err)
{
    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    for (size_t i = 0; i < n; i++)
        if (m[i].text != NULL && m[i].text->data == NULL && m[i].text->len > 0)
            return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_buf b = CAPV_BUF_INIT;
    capv_status st = leaf_digest(out, &b, m, n, err);
    capvi_buf_free(&b);
    return st;
}

capv_status capvi_commitment_supplier_leaf(uint8_t out[32], const capv_csv_field *name,
                                           const capv_csv_field *jurisdiction, int64_t tier,
                                           capv_error *err)
{
    if (name == NULL || jurisdiction == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    const leaf_member m[] = { { "name", name, 0 },
                              { "jurisdiction", jurisdiction, 0 },
                              { "tier", NULL, tier } };
    return leaf_once(out, m, 3, err);
}

capv_status capvi_commitment_ubo_leaf(uint8_t out[32], const capv_csv_field *name,
                                      const capv_csv_field *birthdate,
                                      const capv_csv_field *citizenship, capv_error *err)
{
    if (name == NULL || birthdate == NULL || citizenship == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    const leaf_member m[] = { { "name", name, 0 },
                              { "birthdate", birthdate, 0 },
                              { "citizenship", citizenship, 0 } };
    return leaf_once(out, m, 3, err);
}

bool capvi_commitment_parse_int(int64_t *out, const uint8_t *s, size_t len)
{
    size_t i = 0;
    bool neg = len > 0 && s[0] == '-';
    if (neg)
        i++;
    if (i == len)
        return false;
    /* Accumulate negatively so INT64_MIN is representable. */
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        int d = s[i] - '0';
        if (v < (INT64_MIN + d) / 10)
            return false;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN)
            return false;
        v = -v;
    }
    *out = v;
    return true;
}

/* Index of the header column named `name`: missing or repeated is malformed. */
static capv_status find_column(size_t *out, const capv_csv_reader *r, const char *name,
                               capv_error *err)
{
    size_t found = SIZE_MAX;
    for (size_t i = 0; i < r->nfields; i++) {
        if (!capvi_csv_field_eq(&r->fields[i], name))
            continue;
        if (found != SIZE_MAX)
            return capvi_err_set(err, CAPV_E_MALFORMED, name,
                                 "line %zu: column '%s' appears more than once", r->line, name);
        found = i;
    }
    if (found == SIZE_MAX)
        return capvi_err_set(err, CAPV_E_MALFORMED, name, "line %zu: missing column '%s'", r->line,
                             name);
    *out = found;
    return CAPV_OK;
}

static capv_status list_root(uint8_t root[32], size_t *count, const uint8_t *csv, size_t len,
                             const list_spec *spec, capv_error *err)
{
    if (count != NULL)
        *count = 0;
    if (root == NULL || (csv == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_status st = CAPV_OK;
    capv_csv_reader r;
    capvi_csv_init(&r, csv, len);
    capv_buf scratch = CAPV_BUF_INIT;
    capv_hash_ctx *ctx = NULL;
    CAPV_TRY(capv_hash_ctx_new(&ctx, CAPV_HASH_BLAKE3, err));

    bool got = false;
    CAPV_TRY(capvi_csv_next(&r, &got, err));
    if (!got)
        CAPV_FAIL(err, CAPV_E_MALFORMED, NULL, "line 1: empty input, the header row is missing");
    size_t col[NCOLS];
    for (size_t c = 0; c < NCOLS; c++)
        CAPV_TRY(find_column(&col[c], &r, spec->cols[c], err));

    size_t rows = 0;
    for (;;) {
        CAPV_TRY(capvi_csv_next(&r, &got, err));
        if (!got)
            break;
        leaf_member m[NCOLS];
        for (size_t c = 0; c < NCOLS; c++) {
            const capv_csv_field *f = &r.fields[col[c]];
            m[c].key = spec->cols[c];
            m[c].text = f;
            m[c].integer = 0;
            if ((int)c != spec->int_col)
                continue;
            if (!capvi_commitment_parse_int(&m[c].integer, f->data, f->len))
                CAPV_FAIL(err, CAPV_E_MALFORMED, spec->cols[c],
                          "line %zu: %s '%s' is not a decimal integer", r.line, spec->rows_name,
                          spec->cols[c]);
            m[c].text = NULL;
        }
        uint8_t leaf[32];
        CAPV_TRY(leaf_digest(leaf, &scratch, m, NCOLS, err));
        char hex[CAPV_DIGEST_HEX_SIZE];
        capv_digest_format(hex, leaf);
        CAPV_TRY(capv_hash_ctx_update(ctx, (const uint8_t *)hex, CAPV_DIGEST_HEX_SIZE - 1, err));
        rows++;
    }
    CAPV_TRY(capv_hash_ctx_final(root, ctx, err));
    if (count != NULL)
        *count = rows;
out:
    capv_hash_ctx_free(ctx);
    capvi_buf_free(&scratch);
    capvi_csv_free(&r);
    return st;
}

capv_status capv_commitment_suppliers_csv(uint8_t root[32], size_t *count, const uint8_t *csv,
                                          size_t len, capv_error *err)
{
    return capvi_err_done(err, list_root(root, count, csv, len, &suppliers_spec, err));
}

capv_status capv_commitment_ubos_csv(uint8_t root[32], size_t *count, const uint8_t *csv,
                                     size_t len, capv_error *err)
{
    return capvi_err_done(err, list_root(root, count, csv, len, &ubos_spec, err));
}

capv_status capv_commitment_company(uint8_t out[32], const uint8_t supplier_root[32],
                                    const uint8_t ubo_root[32], capv_error *err)
{
    if (out == NULL || supplier_root == NULL || ubo_root == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    char text[2 * (CAPV_DIGEST_HEX_SIZE - 1) + 1];
    capv_digest_format(text, supplier_root);
    capv_digest_format(text + CAPV_DIGEST_HEX_SIZE - 1, ubo_root);
    return capvi_err_done(
        err, capv_hash(out, CAPV_HASH_BLAKE3, (const uint8_t *)text, sizeof text - 1, err));
}
