/* SPDX-License-Identifier: Apache-2.0 */
/* The bounded XML reader of xml_read_int.h: one pass over the bytes, a fixed stack of element
 * names, one text buffer for the innermost element. */
#include "xml_read_int.h"

#include <string.h>

typedef struct reader {
    const uint8_t *p, *end;
    char path[CAPVI_XML_MAX_DEPTH * (CAPVI_XML_MAX_NAME + 1) + 1];
    size_t ends[CAPVI_XML_MAX_DEPTH]; /* length of `path` before each open element's name */
    size_t depth;
    bool children[CAPVI_XML_MAX_DEPTH]; /* the open element has child elements */
    char text[CAPVI_XML_MAX_TEXT + 1];
    size_t text_len;
    bool root_done;
    capv_error *err;
} reader;

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_name_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':' || c == '-' || c == '.' || c >= 0x80;
}

static capv_status malformed(reader *r, const char *what)
{
    return capvi_err_set(r->err, CAPV_E_MALFORMED, NULL, "XML answer is not well-formed: %s", what);
}

/* Skips to just past `marker` (a comment's or a processing instruction's end). */
static bool skip_past(reader *r, const char *marker)
{
    size_t n = strlen(marker);
    for (; r->p + n <= r->end; r->p++)
        if (memcmp(r->p, marker, n) == 0) {
            r->p += n;
            return true;
        }
    return false;
}

/* Appends to the current element's text. The text of an element with children (its
 * indentation) is never reported: only a leaf's is kept, and only its length is bounded. */
static capv_status append_text(reader *r, const char *s, size_t n)
{
    if (r->children[r->depth - 1])
        return CAPV_OK;
    if (r->text_len + n > CAPVI_XML_MAX_TEXT)
        return capvi_err_set(r->err, CAPV_E_LIMIT, NULL,
                             "XML answer has a text longer than %u bytes", CAPVI_XML_MAX_TEXT);
    memcpy(r->text + r->text_len, s, n);
    r->text_len += n;
    return CAPV_OK;
}

/* Decodes the reference at r->p ('&') and appends it. */
static capv_status reference(reader *r)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {
        { "lt;", '<' }, { "gt;", '>' }, { "amp;", '&' }, { "quot;", '"' }, { "apos;", '\'' }
    };
    r->p++;
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        size_t n = strlen(named[i].name);
        if ((size_t)(r->end - r->p) >= n && memcmp(r->p, named[i].name, n) == 0) {
            r->p += n;
            return append_text(r, &named[i].c, 1);
        }
    }
    if (r->p >= r->end || *r->p != '#')
        return malformed(r, "an entity other than lt, gt, amp, quot, apos");
    r->p++;
    bool hex = r->p < r->end && *r->p == 'x';
    if (hex)
        r->p++;
    unsigned long cp = 0;
    size_t digits = 0;
    for (; r->p < r->end && *r->p != ';'; r->p++, digits++) {
        int v;
        uint8_t c = *r->p;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (hex && c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            return malformed(r, "a bad character reference");
        if (digits >= 8)
            return malformed(r, "a character reference out of range");
        cp = cp * (hex ? 16u : 10u) + (unsigned long)v;
    }
    if (r->p >= r->end || digits == 0 || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return malformed(r, "a bad character reference");
    r->p++; /* ';' */
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return append_text(r, u, n);
}

/* Reads an element name at r->p into `name` (NUL-terminated). */
static capv_status read_name(reader *r, char name[CAPVI_XML_MAX_NAME + 1])
{
    size_t n = 0;
    while (r->p < r->end && is_name_char(*r->p)) {
        if (n == CAPVI_XML_MAX_NAME)
            return capvi_err_set(r->err, CAPV_E_LIMIT, NULL,
                                 "XML answer has an element name longer than %u bytes",
                                 CAPVI_XML_MAX_NAME);
        name[n++] = (char)*r->p++;
    }
    name[n] = '\0';
    return n > 0 ? CAPV_OK : malformed(r, "a tag without a name");
}

/* Skips the attributes of a start tag up to '>' or "/>"; *empty tells which. */
static capv_status skip_attributes(reader *r, bool *empty)
{
    for (;;) {
        while (r->p < r->end && is_space(*r->p))
            r->p++;
        if (r->p >= r->end)
            return malformed(r, "an unclosed start tag");
        if (*r->p == '>') {
            r->p++;
            *empty = false;
            return CAPV_OK;
        }
        if (*r->p == '/') {
            if (r->p + 1 >= r->end || r->p[1] != '>')
                return malformed(r, "a stray '/' in a start tag");
            r->p += 2;
            *empty = true;
            return CAPV_OK;
        }
        char name[CAPVI_XML_MAX_NAME + 1];
        capv_status st = read_name(r, name);
        if (st != CAPV_OK)
            return st;
        while (r->p < r->end && is_space(*r->p))
            r->p++;
        if (r->p >= r->end || *r->p != '=')
            return malformed(r, "an attribute without a value");
        r->p++;
        while (r->p < r->end && is_space(*r->p))
            r->p++;
        if (r->p >= r->end || (*r->p != '"' && *r->p != '\''))
            return malformed(r, "an unquoted attribute value");
        uint8_t q = *r->p++;
        while (r->p < r->end && *r->p != q) {
            if (*r->p == '<')
                return malformed(r, "'<' in an attribute value");
            r->p++;
        }
        if (r->p >= r->end)
            return malformed(r, "an unterminated attribute value");
        r->p++;
    }
}

static capv_status open_element(reader *r, const char *name)
{
    if (r->root_done)
        return malformed(r, "a second root element");
    if (r->depth == CAPVI_XML_MAX_DEPTH)
        return capvi_err_set(r->err, CAPV_E_LIMIT, NULL, "XML answer nests deeper than %u elements",
                             CAPVI_XML_MAX_DEPTH);
    if (r->depth > 0)
        r->children[r->depth - 1] = true;
    size_t at = strlen(r->path);
    r->ends[r->depth] = at;
    if (r->depth > 0)
        r->path[at++] = '/';
    memcpy(r->path + at, name, strlen(name) + 1);
    r->children[r->depth] = false;
    r->depth++;
    r->text_len = 0;
    return CAPV_OK;
}

static capv_status close_element(reader *r, capvi_xml_fn fn, void *user)
{
    size_t d = r->depth - 1;
    capv_status st;
    if (r->children[d]) {
        st = fn(user, r->path, NULL, 0);
    } else {
        r->text[r->text_len] = '\0';
        st = fn(user, r->path, r->text, r->text_len);
    }
    r->path[r->ends[d]] = '\0';
    r->depth = d;
    r->text_len = 0;
    if (d == 0)
        r->root_done = true;
    return st;
}

capv_status capvi_xml_read(const uint8_t *data, size_t len, capvi_xml_fn fn, void *user,
                           capv_error *err)
{
    if (data == NULL || fn == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    reader r;
    memset(&r, 0, sizeof r);
    r.p = data;
    r.end = data + len;
    r.err = err;
    capv_status st = CAPV_OK;
    while (r.p < r.end) {
        if (*r.p != '<') {
            if (*r.p == '&') {
                if (r.depth == 0)
                    return malformed(&r, "text outside the root element");
                if ((st = reference(&r)) != CAPV_OK)
                    return st;
                continue;
            }
            if (r.depth == 0) {
                if (!is_space(*r.p))
                    return malformed(&r, "text outside the root element");
                r.p++;
                continue;
            }
            if (*r.p == 0)
                return malformed(&r, "a NUL byte");
            if ((st = append_text(&r, (const char *)r.p, 1)) != CAPV_OK)
                return st;
            r.p++;
            continue;
        }
        /* markup */
        size_t left = (size_t)(r.end - r.p);
        if (left >= 4 && memcmp(r.p, "<!--", 4) == 0) {
            r.p += 4;
            if (!skip_past(&r, "-->"))
                return malformed(&r, "an unterminated comment");
            continue;
        }
        if (left >= 2 && r.p[1] == '?') {
            r.p += 2;
            if (!skip_past(&r, "?>"))
                return malformed(&r, "an unterminated processing instruction");
            continue;
        }
        if (left >= 2 && r.p[1] == '!')
            return malformed(&r, "DOCTYPE, CDATA and declarations are not accepted");
        char name[CAPVI_XML_MAX_NAME + 1];
        if (left >= 2 && r.p[1] == '/') {
            r.p += 2;
            if ((st = read_name(&r, name)) != CAPV_OK)
                return st;
            while (r.p < r.end && is_space(*r.p))
                r.p++;
            if (r.p >= r.end || *r.p != '>')
                return malformed(&r, "an unclosed end tag");
            r.p++;
            if (r.depth == 0 ||
                strcmp(r.path + r.ends[r.depth - 1] + (r.depth > 1 ? 1 : 0), name) != 0)
                return malformed(&r, "an end tag that does not match its start tag");
            if ((st = close_element(&r, fn, user)) != CAPV_OK)
                return st;
            continue;
        }
        r.p++;
        bool empty = false;
        if ((st = read_name(&r, name)) != CAPV_OK ||
            (st = skip_attributes(&r, &empty)) != CAPV_OK ||
            (st = open_element(&r, name)) != CAPV_OK)
            return st;
        if (empty && (st = close_element(&r, fn, user)) != CAPV_OK)
            return st;
    }
    if (r.depth != 0)
        return malformed(&r, "an unclosed element");
    if (!r.root_done)
        return malformed(&r, "no root element");
    return CAPV_OK;
}
