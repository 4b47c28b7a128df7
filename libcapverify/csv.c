/* SPDX-License-Identifier: Apache-2.0 */
/* Strict RFC 4180 CSV reader (see csv_int.h). A single forward pass over the input: each byte
 * is looked at a bounded number of times, nothing recurses. */
#include "csv_int.h"

#include <stdlib.h>
#include <string.h>

#include "json_int.h"

void capvi_csv_init(capv_csv_reader *r, const uint8_t *in, size_t len)
{
    memset(r, 0, sizeof *r);
    r->in = in;
    r->len = len;
    r->cur_line = 1;
    r->line = 1;
    r->text = (capv_buf)CAPV_BUF_INIT;
}

void capvi_csv_free(capv_csv_reader *r)
{
    if (r == NULL)
        return;
    capvi_buf_free(&r->text);
    free(r->ends);
    free(r->fv);
    r->ends = NULL;
    r->fv = NULL;
    r->fields = NULL;
    r->nfields = 0;
    r->cap = 0;
}

bool capvi_csv_field_eq(const capv_csv_field *f, const char *s)
{
    size_t n = strlen(s);
    return f->len == n && (n == 0 || memcmp(f->data, s, n) == 0);
}

static capv_status bad(capv_error *err, size_t line, const char *what)
{
    return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "line %zu: %s", line, what);
}

/* Makes room for field number `n` (0-based) in the field tables. */
static capv_status grow_fields(capv_csv_reader *r, size_t n, capv_error *err)
{
    if (n < r->cap)
        return CAPV_OK;
    if (n >= CAPV_CSV_MAX_FIELDS)
        return capvi_err_set(err, CAPV_E_LIMIT, NULL, "line %zu: more than %d fields in a record",
                             r->cur_line, CAPV_CSV_MAX_FIELDS);
    size_t cap = r->cap ? r->cap * 2 : 16;
    if (cap > CAPV_CSV_MAX_FIELDS)
        cap = CAPV_CSV_MAX_FIELDS;
    size_t *ends = realloc(r->ends, cap * sizeof *ends);
    if (ends == NULL)
        return capvi_err_nomem(err);
    r->ends = ends;
    capv_csv_field *fv = realloc(r->fv, cap * sizeof *fv);
    if (fv == NULL)
        return capvi_err_nomem(err);
    r->fv = fv;
    r->cap = cap;
    return CAPV_OK;
}

/* Reads a quoted field starting at the opening quote; leaves pos after the closing quote. */
static capv_status read_quoted(capv_csv_reader *r, capv_error *err)
{
    size_t open_line = r->cur_line;
    r->pos++;            /* opening quote */
    size_t run = r->pos; /* start of the pending run of literal bytes */
    while (r->pos < r->len) {
        uint8_t c = r->in[r->pos];
        if (c == '"') {
            capvi_buf_append(&r->text, r->in + run, r->pos - run);
            if (r->pos + 1 < r->len && r->in[r->pos + 1] == '"') {
                capvi_buf_putc(&r->text, '"');
                r->pos += 2;
                run = r->pos;
                continue;
            }
            r->pos++; /* closing quote */
            if (r->pos < r->len) {
                uint8_t n = r->in[r->pos];
                bool crlf = n == '\r' && r->pos + 1 < r->len && r->in[r->pos + 1] == '\n';
                if (n != ',' && n != '\n' && !crlf)
                    return bad(err, r->cur_line, "unexpected character after a closing quote");
            }
            return CAPV_OK;
        }
        if (c == 0)
            return bad(err, r->cur_line, "NUL byte");
        if (c == '\n')
            r->cur_line++;
        r->pos++;
    }
    return bad(err, open_line, "unterminated quoted field");
}

/* Reads an unquoted field; leaves pos at the separator, newline or end of input. */
static capv_status read_plain(capv_csv_reader *r, capv_error *err)
{
    size_t start = r->pos;
    while (r->pos < r->len) {
        uint8_t c = r->in[r->pos];
        if (c == ',' || c == '\n')
            break;
        if (c == '\r') {
            if (r->pos + 1 < r->len && r->in[r->pos + 1] == '\n')
                break;
            return bad(err, r->cur_line, "carriage return not followed by line feed");
        }
        if (c == '"')
            return bad(err, r->cur_line, "quote inside an unquoted field");
        if (c == 0)
            return bad(err, r->cur_line, "NUL byte");
        r->pos++;
    }
    capvi_buf_append(&r->text, r->in + start, r->pos - start);
    return CAPV_OK;
}

capv_status capvi_csv_next(capv_csv_reader *r, bool *got, capv_error *err)
{
    capv_status st = CAPV_OK;
    *got = false;
    if (r->pos == 0 && r->len >= 3 && r->in[0] == 0xEF && r->in[1] == 0xBB && r->in[2] == 0xBF)
        return bad(err, 1, "UTF-8 byte order mark at the start of the file is not allowed");
    if (r->pos >= r->len)
        return CAPV_OK;

    r->line = r->cur_line;
    r->text.len = 0;
    size_t n = 0;
    for (;;) {
        CAPV_TRY(grow_fields(r, n, err));
        size_t field_line = r->cur_line;
        if (r->pos < r->len && r->in[r->pos] == '"')
            CAPV_TRY(read_quoted(r, err));
        else
            CAPV_TRY(read_plain(r, err));
        if (r->text.failed)
            return capvi_err_nomem(err);
        size_t begin = n ? r->ends[n - 1] : 0;
        if (r->text.len > begin &&
            capvi_utf8_check(r->text.data + begin, r->text.len - begin, NULL) != CAPV_OK)
            return bad(err, field_line, "invalid UTF-8");
        r->ends[n++] = r->text.len;
        if (r->pos >= r->len)
            break; /* final record without a newline */
        uint8_t c = r->in[r->pos];
        if (c == ',') {
            r->pos++; /* a ',' at the very end starts one more (empty) field */
            continue;
        }
        r->pos += c == '\r' ? 2 : 1; /* CRLF (checked by the field readers) or LF */
        r->cur_line++;
        break;
    }

    if (r->expect == 0) {
        r->expect = n;
    } else if (n != r->expect) {
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL,
                             "line %zu: record has %zu field%s, the header has %zu", r->line, n,
                             n == 1 ? "" : "s", r->expect);
    }
    /* Pointers are made only now: the text buffer may move while the record grows. */
    for (size_t i = 0; i < n; i++) {
        size_t begin = i ? r->ends[i - 1] : 0;
        r->fv[i].data = r->text.data != NULL ? r->text.data + begin : (const uint8_t *)"";
        r->fv[i].len = r->ends[i] - begin;
    }
    r->fields = r->fv;
    r->nfields = n;
    *got = true;
out:
    return st;
}
