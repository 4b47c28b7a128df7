/* SPDX-License-Identifier: Apache-2.0 */
/* A strict RFC 4180 CSV reader over untrusted bytes, record by record.
 *
 * Grammar: fields separated by ',', records ended by CRLF or LF (a final record may lack the
 * newline); a field is either unquoted (no '"', no CR, no LF, no ',') or enclosed in '"' with
 * '"' written as '""' and commas/newlines allowed inside. Rejected, with the 1-based line
 * number at the start of err->message ("line 3: ..."):
 *   a '"' inside an unquoted field, anything but ',' or a newline after a closing quote, an
 *   unterminated quoted field, a CR not followed by LF outside quotes, a NUL byte, invalid
 *   UTF-8, a UTF-8 byte order mark at the start, and a record whose number of fields differs
 *   from the first record's (the header). These are CAPV_E_MALFORMED; more than
 *   CAPV_CSV_MAX_FIELDS fields in a record is CAPV_E_LIMIT. Blank lines are records of one
 *   empty field, so they fail the field-count check unless the header has one column.
 *
 * Work is linear in the input; memory is one copy of the largest record plus its field
 * table. The caller bounds the total input size. A reader is used by one thread at a time. */
#ifndef CAPV_CSV_INT_H
#define CAPV_CSV_INT_H

#include <stdbool.h>

#include "buf.h"
#include "error_int.h"

#define CAPV_CSV_MAX_FIELDS 1024

/* One field's text after unquoting: valid UTF-8 without NUL, not NUL-terminated. */
typedef struct capv_csv_field {
    const uint8_t *data;
    size_t len;
} capv_csv_field;

typedef struct capv_csv_reader {
    /* The current record, valid after capvi_csv_next() returned a record and until the next
     * call or capvi_csv_free(). */
    const capv_csv_field *fields;
    size_t nfields;
    size_t line; /* 1-based line on which the current record starts */

    /* private */
    const uint8_t *in;
    size_t len;
    size_t pos;
    size_t cur_line; /* line of the byte at pos */
    size_t expect;   /* field count of the header; 0 before the first record */
    capv_buf text;   /* unquoted field bytes of the current record */
    size_t *ends;    /* end offset of each field in `text` */
    capv_csv_field *fv;
    size_t cap; /* capacity of ends/fv */
} capv_csv_reader;

/* Starts reading `in[0..len)`; the input must outlive the reader. Never fails. */
void capvi_csv_init(capv_csv_reader *r, const uint8_t *in, size_t len);

/* Reads the next record. `*got` is false at the end of the input (then nothing else
 * changes). Empty input has no records. After an error the reader must not be advanced. */
capv_status capvi_csv_next(capv_csv_reader *r, bool *got, capv_error *err);

/* Releases the reader's storage; the reader may then be initialised again. */
void capvi_csv_free(capv_csv_reader *r);

/* Whether a field is exactly the NUL-terminated string `s` (byte comparison). */
bool capvi_csv_field_eq(const capv_csv_field *f, const char *s);

#endif
