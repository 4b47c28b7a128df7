/* SPDX-License-Identifier: Apache-2.0 */
/* multipart/form-data (RFC 7578 over RFC 2046 §5.1.1), strictly: see multipart.h. Every
 * read is bounded by the body's length; the body is not assumed NUL-terminated. Built with
 * _GNU_SOURCE (memmem). */
#include "multipart.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define HEADER_LINE_MAX 1024
#define HEADER_LINES_MAX 16

static bool refuse(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool refuse(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (whylen > 0)
        vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return false;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 2046 bchars (a space only inside, never last). */
static bool is_bchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           strchr("'()+_,-./:=? ", c) != NULL;
}

/* RFC 9110 tchar, for header and parameter names. */
static bool is_tchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* `n` bytes at `s` into `out` (cap bytes with the NUL); false when they do not fit. */
static bool copy_text(char *out, size_t cap, const char *s, size_t n)
{
    if (n + 1 > cap)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

/* A parameter list "; a=b; c="d"": the next parameter from *p (up to end). Sets the name and
 * value spans; a quoted value is given without its quotes. *p moves past it. Returns 0 at the
 * end, 1 for a parameter, -1 for a syntax error. */
static int next_param(const char **p, const char *end, const char **name, size_t *name_len,
                      const char **value, size_t *value_len)
{
    const char *s = *p;
    while (s < end && is_ows(*s))
        s++;
    if (s == end)
        return 0;
    if (*s != ';')
        return -1;
    s++;
    while (s < end && is_ows(*s))
        s++;
    *name = s;
    while (s < end && is_tchar(*s))
        s++;
    *name_len = (size_t)(s - *name);
    while (s < end && is_ows(*s))
        s++;
    if (*name_len == 0 || s == end || *s != '=')
        return -1;
    s++;
    while (s < end && is_ows(*s))
        s++;
    if (s < end && *s == '"') {
        /* a quoted string without escapes: browsers percent-encode '"' in names (RFC 7578
         * §4.2) and send a backslash as it is (a Windows file name, C:\Users\…), so a
         * backslash is a character of the value; a client quoting '"' as \" is refused by
         * what follows the '"' */
        const char *q = s + 1;
        while (q < end && *q != '"')
            q++;
        if (q == end || *q != '"')
            return -1;
        *value = s + 1;
        *value_len = (size_t)(q - s - 1);
        s = q + 1;
    } else {
        *value = s;
        while (s < end && *s != ';' && !is_ows(*s))
            s++;
        *value_len = (size_t)(s - *value);
        if (*value_len == 0)
            return -1;
    }
    *p = s;
    return 1;
}

/* A name or file name: no control bytes (a tab included, which a header line may hold). */
static bool printable_span(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static bool span_is(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && strncasecmp(s, word, n) == 0;
}

bool multipart_boundary(char *out, const char *content_type, char *why, size_t whylen)
{
    out[0] = '\0';
    if (content_type == NULL)
        return refuse(why, whylen, "no Content-Type");
    const char *end = content_type + strlen(content_type);
    const char *semi = strchr(content_type, ';');
    const char *mt_end = semi ? semi : end;
    while (mt_end > content_type && is_ows(mt_end[-1]))
        mt_end--;
    if (!span_is(content_type, (size_t)(mt_end - content_type), "multipart/form-data"))
        return refuse(why, whylen, "the media type is not multipart/form-data");
    const char *p = semi ? semi : end, *name, *value;
    size_t nlen, vlen;
    bool found = false;
    int rc;
    while ((rc = next_param(&p, end, &name, &nlen, &value, &vlen)) == 1) {
        if (!span_is(name, nlen, "boundary"))
            continue;
        if (found)
            return refuse(why, whylen, "the Content-Type has more than one boundary");
        found = true;
        if (vlen == 0 || vlen > MULTIPART_BOUNDARY_MAX)
            return refuse(why, whylen, "the boundary must be 1..%d characters",
                          MULTIPART_BOUNDARY_MAX);
        for (size_t i = 0; i < vlen; i++)
            if (!is_bchar(value[i]))
                return refuse(why, whylen, "the boundary holds a character RFC 2046 forbids");
        if (value[vlen - 1] == ' ')
            return refuse(why, whylen, "the boundary ends in a space");
        copy_text(out, MULTIPART_BOUNDARY_MAX + 1, value, vlen);
    }
    if (rc < 0)
        return refuse(why, whylen, "the Content-Type parameters are malformed");
    if (!found)
        return refuse(why, whylen, "the Content-Type has no boundary parameter");
    return true;
}

/* Content-Disposition: form-data; name="…"[; filename="…"] of one part. */
static bool parse_disposition(multipart_part *part, const char *v, size_t n, char *why,
                              size_t whylen)
{
    const char *end = v + n, *semi = memchr(v, ';', n);
    const char *type_end = semi ? semi : end;
    while (type_end > v && is_ows(type_end[-1]))
        type_end--;
    if (!span_is(v, (size_t)(type_end - v), "form-data"))
        return refuse(why, whylen, "a part's Content-Disposition is not form-data");
    const char *p = semi ? semi : end, *name, *value;
    size_t nlen, vlen;
    bool has_name = false;
    int rc;
    while ((rc = next_param(&p, end, &name, &nlen, &value, &vlen)) == 1) {
        if (!printable_span(value, vlen))
            return refuse(why, whylen, "a part's Content-Disposition holds a control character");
        if (span_is(name, nlen, "name")) {
            if (has_name)
                return refuse(why, whylen, "a part has two names");
            if (vlen == 0 || !copy_text(part->name, sizeof part->name, value, vlen))
                return refuse(why, whylen, "a field name must be 1..%d bytes", MULTIPART_NAME_MAX);
            has_name = true;
        } else if (span_is(name, nlen, "filename")) {
            if (part->has_filename)
                return refuse(why, whylen, "a part has two file names");
            if (!copy_text(part->filename, sizeof part->filename, value, vlen))
                return refuse(why, whylen, "a file name is longer than %d bytes",
                              MULTIPART_FILENAME_MAX);
            part->has_filename = true;
        } else if (span_is(name, nlen, "filename*")) {
            return refuse(why, whylen, "filename* is not used in forms (RFC 7578 section 4.2)");
        }
    }
    if (rc < 0)
        return refuse(why, whylen, "a part's Content-Disposition is malformed");
    if (!has_name)
        return refuse(why, whylen, "a part's Content-Disposition has no name");
    return true;
}

/* One header line (without its CRLF) of a part. */
static bool part_header(multipart_part *part, bool *has_disposition, bool *has_type,
                        const char *line, size_t n, char *why, size_t whylen)
{
    if (n > 0 && is_ows(line[0]))
        return refuse(why, whylen, "a part's header line is folded");
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
            return refuse(why, whylen, "a part's header holds a control character");
    size_t k = 0;
    while (k < n && is_tchar(line[k]))
        k++;
    if (k == 0 || k == n || line[k] != ':')
        return refuse(why, whylen, "a part's header line is not \"Name: value\"");
    const char *v = line + k + 1, *end = line + n;
    while (v < end && is_ows(*v))
        v++;
    while (end > v && is_ows(end[-1]))
        end--;
    size_t vlen = (size_t)(end - v);
    if (span_is(line, k, "Content-Disposition")) {
        if (*has_disposition)
            return refuse(why, whylen, "a part has two Content-Disposition headers");
        *has_disposition = true;
        return parse_disposition(part, v, vlen, why, whylen);
    }
    if (span_is(line, k, "Content-Type")) {
        if (*has_type)
            return refuse(why, whylen, "a part has two Content-Type headers");
        *has_type = true;
        if (!copy_text(part->content_type, sizeof part->content_type, v, vlen))
            return refuse(why, whylen, "a part's Content-Type is longer than %d bytes",
                          MULTIPART_TYPE_MAX);
        return true;
    }
    if (span_is(line, k, "Content-Transfer-Encoding") && !span_is(v, vlen, "binary") &&
        !span_is(v, vlen, "8bit") && !span_is(v, vlen, "7bit"))
        return refuse(why, whylen, "a part's Content-Transfer-Encoding is not binary");
    return true; /* other headers do not change what the part holds */
}

/* The headers of a part from `*pos` through their empty line; *pos moves past it. */
static bool part_headers(multipart_part *part, const uint8_t *body, size_t len, size_t *pos,
                         char *why, size_t whylen)
{
    bool has_disposition = false, has_type = false;
    for (int lines = 0;; lines++) {
        size_t rest = len - *pos;
        size_t look = rest < HEADER_LINE_MAX + 2 ? rest : HEADER_LINE_MAX + 2;
        const uint8_t *crlf = memmem(body + *pos, look, "\r\n", 2);
        if (crlf == NULL && look == rest)
            return refuse(why, whylen, "the body ends inside a part's headers");
        if (crlf == NULL)
            return refuse(why, whylen, "a part's header line is longer than %d bytes",
                          HEADER_LINE_MAX);
        size_t n = (size_t)(crlf - (body + *pos));
        const char *line = (const char *)body + *pos;
        *pos += n + 2;
        if (n == 0)
            break;
        if (lines == HEADER_LINES_MAX)
            return refuse(why, whylen, "a part has more than %d header lines", HEADER_LINES_MAX);
        if (!part_header(part, &has_disposition, &has_type, line, n, why, whylen))
            return false;
    }
    if (!has_disposition)
        return refuse(why, whylen, "a part has no Content-Disposition");
    return true;
}

bool multipart_parse(multipart_form *form, const uint8_t *body, size_t len, const char *boundary,
                     char *why, size_t whylen)
{
    memset(form, 0, sizeof *form);
    size_t blen = strlen(boundary);
    if (blen == 0 || blen > MULTIPART_BOUNDARY_MAX)
        return refuse(why, whylen, "the boundary must be 1..%d characters", MULTIPART_BOUNDARY_MAX);
    /* "\r\n--" + boundary: every delimiter but the first, which starts the body */
    char delim[MULTIPART_BOUNDARY_MAX + 5];
    size_t dlen = (size_t)snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    if (len < dlen - 2 || memcmp(body, delim + 2, dlen - 2) != 0)
        return refuse(why, whylen, "the body does not start with the boundary");
    size_t pos = dlen - 2;
    for (;;) {
        /* after a delimiter: "--" closes the form, CRLF starts a part */
        if (len - pos >= 2 && memcmp(body + pos, "--", 2) == 0) {
            pos += 2;
            if (len - pos != 0 && !(len - pos == 2 && memcmp(body + pos, "\r\n", 2) == 0))
                return refuse(why, whylen, "data follows the closing boundary");
            break;
        }
        if (len - pos < 2 || memcmp(body + pos, "\r\n", 2) != 0)
            return refuse(why, whylen, "a boundary is not followed by CRLF or \"--\"");
        pos += 2;
        if (form->n == MULTIPART_MAX_PARTS)
            return refuse(why, whylen, "the form has more than %d parts", MULTIPART_MAX_PARTS);
        multipart_part *part = &form->parts[form->n];
        if (!part_headers(part, body, len, &pos, why, whylen))
            return false;
        const uint8_t *next = memmem(body + pos, len - pos, delim, dlen);
        if (next == NULL)
            return refuse(why, whylen, "the body ends inside a part (no closing boundary)");
        part->data = body + pos;
        part->len = (size_t)(next - (body + pos));
        form->n++;
        pos = (size_t)(next - body) + dlen;
    }
    if (form->n == 0)
        return refuse(why, whylen, "the form has no field");
    return true;
}

const multipart_part *multipart_field(const multipart_form *form, const char *name, size_t *count)
{
    const multipart_part *first = NULL;
    size_t n = 0;
    for (size_t i = 0; i < form->n; i++)
        if (strcmp(form->parts[i].name, name) == 0) {
            if (first == NULL)
                first = &form->parts[i];
            n++;
        }
    if (count != NULL)
        *count = n;
    return first;
}
