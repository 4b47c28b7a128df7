/* SPDX-License-Identifier: Apache-2.0 */
/* Strict HTTP/1.1 request checks (docs/hardening.md). CivetWeb 1.15 parses leniently: it
 * drops spaces before a header colon, stops reading headers at an obs-fold line without
 * saying so, takes the first of repeated headers and reads "+5" as a Content-Length. A
 * request a proxy in front of us could read differently (request smuggling) is refused
 * here, before any handler, with 400 and a closed connection.
 *
 * CivetWeb parses the head in place: it ends each header name with a NUL written over the
 * colon (and over every space before it) and each line with NULs over CR and LF, and its
 * header name and value pointers point into that one buffer. The checks below read the
 * bytes between those pointers, so what CivetWeb normalised away is still seen. */
#include "http_strict.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Bytes between the end of a header name and the start of its value: one NUL (the colon)
 * then optional spaces. More NULs mean spaces stood before the colon. */
static bool space_before_colon(const struct mg_header *h)
{
    const char *p = h->name + strlen(h->name) + 1;
    for (; p < h->value; p++)
        if (*p == '\0')
            return true;
    return false;
}

/* A line of the head that ends in LF alone, not CR LF: RFC 9112 §2.2 lets a recipient take
 * it as a line end, and CivetWeb does, but a proxy that does not reads the head's lines (and
 * so the body's start) differently. CivetWeb writes a NUL over each CR and LF, and a line's
 * value is not trimmed, so between the end of one line's content and the next header name
 * stand exactly two NULs for CR LF and one for LF alone. The last header line is judged by
 * unparsed_lines. */
static bool lf_alone(const struct mg_request_info *ri)
{
    if (ri->num_headers <= 0)
        return false;
    const char *end = ri->http_version + strlen(ri->http_version);
    if (ri->http_headers[0].name - end == 1)
        return true;
    for (int i = 0; i + 1 < ri->num_headers; i++) {
        const char *v = ri->http_headers[i].value;
        if (ri->http_headers[i + 1].name - (v + strlen(v)) != 2)
            return true;
    }
    return false;
}

/* After the last parsed header line (its value, then NULs over CR LF) the head must end with
 * the blank line: its CR, then the NUL CivetWeb wrote over its LF. Anything else is a line
 * CivetWeb did not parse (an obs-fold continuation, a header beyond its limit) or a head
 * whose last lines end in LF alone. Called after lf_alone: a head whose request line ends in
 * LF alone has been refused, so the third byte read here lies inside a head of CR LF lines,
 * or right after a head that switched to LF alone only at its end (inside CivetWeb's buffer
 * unless that head fills all of it). */
static bool unparsed_lines(const struct mg_request_info *ri)
{
    if (ri->num_headers <= 0)
        return false;
    const struct mg_header *last = &ri->http_headers[ri->num_headers - 1];
    const char *p = last->value + strlen(last->value);
    return !(p[1] == '\0' && p[2] == '\r');
}

/* Between the request line's HTTP version and the first header name CivetWeb writes NULs
 * over every space, tab, CR and LF: more than CR LF means the first header line began with
 * whitespace, which a proxy may ignore as a line of its own (RFC 9112 §2.2) while CivetWeb
 * reads the header, or the request line ended in whitespace. */
static bool space_before_first_header(const struct mg_request_info *ri)
{
    if (ri->num_headers <= 0)
        return false;
    const char *end = ri->http_version + strlen(ri->http_version);
    const char *name = ri->http_headers[0].name;
    return name < end || name - end > 2;
}

static bool all_digits(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

const char *http_strict_violation(const struct mg_request_info *ri)
{
    if (ri->http_version == NULL ||
        (strcmp(ri->http_version, "1.1") != 0 && strcmp(ri->http_version, "1.0") != 0))
        return "unsupported HTTP version";
    int te = 0, cl = 0, host = 0;
    const char *te_value = NULL, *cl_value = NULL;
    for (int i = 0; i < ri->num_headers; i++) {
        const struct mg_header *h = &ri->http_headers[i];
        if (space_before_colon(h))
            return "whitespace before a header colon";
        if (strcasecmp(h->name, "Transfer-Encoding") == 0) {
            te++;
            te_value = h->value;
        } else if (strcasecmp(h->name, "Content-Length") == 0) {
            cl++;
            cl_value = h->value;
        } else if (strcasecmp(h->name, "Host") == 0) {
            host++;
        }
    }
    if (lf_alone(ri))
        return "a line of the head ends in LF alone, not CR LF";
    if (unparsed_lines(ri))
        return "obsolete line folding, too many header lines, or a head ending in LF alone";
    if (space_before_first_header(ri))
        return "whitespace before the first header line";
    if (te > 0 && cl > 0)
        return "both Content-Length and Transfer-Encoding";
    if (te > 1)
        return "more than one Transfer-Encoding header";
    if (te == 1 && strcasecmp(te_value, "chunked") != 0)
        return "Transfer-Encoding other than chunked";
    if (te == 1 && strcmp(ri->http_version, "1.0") == 0)
        return "Transfer-Encoding in an HTTP/1.0 request";
    if (cl > 1)
        return "more than one Content-Length header";
    if (cl == 1 && !all_digits(cl_value))
        return "Content-Length is not a decimal number";
    if (host > 1)
        return "more than one Host header";
    if (host == 0 && strcmp(ri->http_version, "1.1") == 0)
        return "HTTP/1.1 request without Host";
    return NULL;
}

const char *http_path_violation(const char *path)
{
    if (path == NULL || path[0] != '/')
        return "the request target is not an absolute path";
    for (const char *p = path; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%')
            return "percent-encoded characters in the path";
        if (c == '\\')
            return "backslash in the path";
        if (c < 0x21 || c >= 0x7f)
            return "control, space or non-ASCII character in the path";
        if (c == '/' && p[1] == '/')
            return "empty path segment";
    }
    /* every segment: not "." or "..", and no segment ends in '.' (Windows-style aliases) */
    for (const char *seg = path + 1; *seg;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n > 0 && seg[n - 1] == '.')
            return "a path segment ends with a dot";
        if (end == NULL)
            break;
        seg = end + 1;
    }
    return NULL;
}
