/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: multipart/form-data request bodies (RFC 7578), so that a plain HTML form can
 * upload a package to POST /verify (docs/ui.md, "Without JavaScript"). The parser is strict
 * and bounded: it reads a body already held in memory (read within the memory budget, like
 * any other body) and never copies a part's content. Anything it does not understand is
 * refused with a reason, never guessed at (docs/hardening.md, "Strict HTTP"). CivetWeb's own
 * form API is not used (server.c says why). */
#ifndef CAPVD_MULTIPART_H
#define CAPVD_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many parts: a form of POST /verify has one field per kind of input. */
#define MULTIPART_MAX_PARTS 8
/* RFC 2046 §5.1.1: a boundary is 1..70 characters. */
#define MULTIPART_BOUNDARY_MAX 70
#define MULTIPART_NAME_MAX 64
#define MULTIPART_FILENAME_MAX 255
#define MULTIPART_TYPE_MAX 127

/* One part: its field name, the optional file name and media type (NUL-terminated copies;
 * "" when absent) and its content, which points into the parsed body. */
typedef struct multipart_part {
    char name[MULTIPART_NAME_MAX + 1];
    char filename[MULTIPART_FILENAME_MAX + 1];
    char content_type[MULTIPART_TYPE_MAX + 1];
    bool has_filename;
    const uint8_t *data;
    size_t len;
} multipart_part;

typedef struct multipart_form {
    multipart_part parts[MULTIPART_MAX_PARTS];
    size_t n;
} multipart_form;

/* The boundary parameter of a Content-Type header value ("multipart/form-data;
 * boundary=XYZ", the value token or quoted) into `out` (MULTIPART_BOUNDARY_MAX + 1 bytes).
 * False, with the reason in `why`, when the media type is not multipart/form-data, the
 * boundary is missing, given twice, empty, longer than 70 characters or holds a character
 * RFC 2046 does not allow. */
bool multipart_boundary(char *out, const char *content_type, char *why, size_t whylen);

/* Parses `body` (`len` bytes) delimited by `boundary` into `form`: every part, in order.
 * Strict: the body starts with the first delimiter (no preamble) and ends with the close
 * delimiter and at most one CRLF (no epilogue); lines end in CRLF; each part has exactly one
 * `Content-Disposition: form-data; name="..."` (optional `filename="..."`; `filename*` is
 * refused, as RFC 7578 §4.2 says), at most one Content-Type, no Content-Transfer-Encoding
 * other than 7bit, 8bit or binary, at most 16 header lines of at most 1024 bytes, no folded
 * lines; field names are 1..64 bytes; at most MULTIPART_MAX_PARTS parts, at least one.
 * Other headers of a part are ignored. False, with the reason in `why`, for anything else.
 * Field names may repeat: what a repeated name means is the caller's decision. */
bool multipart_parse(multipart_form *form, const uint8_t *body, size_t len, const char *boundary,
                     char *why, size_t whylen);

/* The first part named `name`, or NULL; *count (may be NULL) receives how many have it. */
const multipart_part *multipart_field(const multipart_form *form, const char *name, size_t *count);

#endif
