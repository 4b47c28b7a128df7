/* SPDX-License-Identifier: Apache-2.0 */
/* CIDR ranges for server.trusted_proxies (docs/configuration.md): parsing with inet_pton
 * (strict: dotted-quad IPv4 without leading zeros, RFC 4291 IPv6) and prefix matching. */
#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* An IPv4-mapped IPv6 address becomes the IPv4 one. */
static void unmap(cidr_ip *a)
{
    if (a->family == AF_INET6 && memcmp(a->b, v4mapped_prefix, 12) == 0) {
        memmove(a->b, a->b + 12, 4);
        memset(a->b + 4, 0, 12);
        a->family = AF_INET;
    }
}

/* `text[0..len)` as an address (no brackets, no zone id). */
static bool addr_parse(cidr_ip *a, const char *text, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, buf, a->b) == 1) {
        a->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, buf, a->b) == 1) {
        a->family = AF_INET6;
        return true;
    }
    return false;
}

static bool prefix_equal(const uint8_t *x, const uint8_t *y, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(x, y, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (x[whole] & mask) == (y[whole] & mask);
}

static bool host_bits_clear(const uint8_t *b, size_t nbytes, unsigned bits)
{
    for (size_t i = 0; i < nbytes; i++) {
        unsigned lo = (unsigned)i * 8;
        unsigned keep = bits >= lo + 8 ? 0xffu
                        : bits <= lo   ? 0u
                                       : (0xffu << (lo + 8 - bits)) & 0xffu;
        if ((b[i] & ~keep) != 0)
            return false;
    }
    return true;
}

const char *cidr_parse_why(cidr *out, const char *text)
{
    if (text == NULL || *text == '\0')
        return "empty";
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    cidr_ip a;
    if (memchr(text, '%', alen) != NULL)
        return "zone ids (%...) are not allowed";
    if (!addr_parse(&a, text, alen))
        return "not an IPv4 or IPv6 address (IPv6 without brackets)";
    unsigned width = a.family == AF_INET ? 32 : 128, prefix = width;
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t n = strlen(p);
        if (n == 0 || n > 3 || strspn(p, "0123456789") != n)
            return "the prefix length after '/' must be a decimal number";
        prefix = 0;
        for (; *p; p++)
            prefix = prefix * 10 + (unsigned)(*p - '0');
        if (prefix > width)
            return a.family == AF_INET ? "an IPv4 prefix length is at most 32"
                                       : "an IPv6 prefix length is at most 128";
    }
    if (!host_bits_clear(a.b, width / 8, prefix))
        return "address bits are set beyond the prefix length (the network address has them "
               "zero; a single host is ADDRESS/32 or ADDRESS/128)";
    /* ::ffff:a.b.c.d/96+n is the IPv4 range a.b.c.d/n */
    if (a.family == AF_INET6 && prefix >= 96 && memcmp(a.b, v4mapped_prefix, 12) == 0) {
        unmap(&a);
        prefix -= 96;
    }
    out->family = a.family;
    memset(out->addr, 0, sizeof out->addr);
    memcpy(out->addr, a.b, a.family == AF_INET ? 4 : 16);
    out->prefix = prefix;
    return NULL;
}

bool cidr_parse(cidr *out, const char *text)
{
    return cidr_parse_why(out, text) == NULL;
}

/* Whether `ip` lies in `c`: an IPv4-mapped `ip` as the IPv4 address it carries. */
bool cidr_match_ip(const cidr *c, const cidr_ip *ip)
{
    if (c == NULL || ip == NULL)
        return false;
    cidr_ip a = *ip;
    unmap(&a);
    if (c->family == AF_INET)
        return a.family == AF_INET && prefix_equal(c->addr, a.b, c->prefix);
    if (c->family != AF_INET6)
        return false;
    if (a.family == AF_INET) { /* compare in the form a dual-stack socket reports it */
        uint8_t m[16];
        memcpy(m, v4mapped_prefix, 12);
        memcpy(m + 12, a.b, 4);
        return prefix_equal(c->addr, m, c->prefix);
    }
    return prefix_equal(c->addr, a.b, c->prefix);
}

/* Whether s[0..len) is a port number (decimal, 0..65535, at most 5 digits). */
static bool port_ok(const char *s, size_t len)
{
    if (len == 0 || len > 5)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v <= 65535;
}

bool cidr_ip_parse(cidr_ip *out, const char *s, size_t len)
{
    if (s == NULL || len == 0 || memchr(s, '%', len) != NULL)
        return false;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return false;
        size_t after = len - (size_t)(close + 1 - s);
        if (after > 0 && (close[1] != ':' || !port_ok(close + 2, after - 1)))
            return false;
        return addr_parse(out, s + 1, (size_t)(close - s - 1)) && out->family == AF_INET6;
    }
    const char *colon = memchr(s, ':', len);
    if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)) == NULL) {
        /* one colon: IPv4 and a port */
        size_t alen = (size_t)(colon - s);
        return port_ok(colon + 1, len - alen - 1) && addr_parse(out, s, alen) &&
               out->family == AF_INET;
    }
    return addr_parse(out, s, len);
}
