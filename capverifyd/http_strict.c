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

/* After the last parsed header line (value, then NULs over CR LF) the head must end: the
 * next byte is the blank line's CR or LF (or the NUL CivetWeb wrote over its final LF).
 * Anything else is a line CivetWeb did not parse: an obs-fold continuation or a header
 * beyond its limit. */
static bool unparsed_lines(const struct mg_request_info *ri)
{
    if (ri->num_headers <= 0)
        return false;
    const struct mg_header *last = &ri->http_headers[ri->num_headers - 1];
    const char *p = last->value + strlen(last->value);
    int nuls = 0;
    while (*p == '\0' && nuls < 2) {
        p++;
        nuls++;
    }
    return !(*p == '\r' || *p == '\n' || *p == '\0');
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
    if (unparsed_lines(ri))
        return "obsolete line folding or too many header lines";
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
