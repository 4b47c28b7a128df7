/* SPDX-License-Identifier: Apache-2.0 */
/* Address ranges in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`), as server.trusted_proxies
 * names them (docs/configuration.md), and the test whether a peer or an X-Forwarded-For
 * address lies in one. IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`, what a dual-stack
 * listener reports for an IPv4 peer) are treated as the IPv4 address they carry, on both
 * sides, so `10.0.0.0/8` matches them. The parser of the addresses a request names (its
 * peer's, X-Forwarded-For's) is here too. No allocation, no global state: thread-safe. */
#ifndef CAPVD_CIDR_H
#define CAPVD_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cidr {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* the network address: 4 bytes for AF_INET, 16 for AF_INET6 */
    unsigned prefix;  /* 0..32 (AF_INET) or 0..128 (AF_INET6) */
} cidr;

/* Parses "ADDRESS/PREFIX" (IPv4 prefix 0..32, IPv6 0..128) or a single ADDRESS (a /32 or
 * /128). The address may have no bits set beyond the prefix (`10.0.0.1/8` is refused: it is
 * a typo for `10.0.0.0/8` or for `10.0.0.1/32`). No spaces, no zone ids (`%eth0`), no
 * brackets. Returns false (leaving *out unspecified) when `text` is not such a range. */
bool cidr_parse(cidr *out, const char *text);

/* cidr_parse, but returns NULL on success and otherwise a static English sentence saying
 * what is wrong (for configuration errors). */
const char *cidr_parse_why(cidr *out, const char *text);

/* An IP address: AF_INET (the first 4 bytes of `b`) or AF_INET6. */
typedef struct cidr_ip {
    int family;
    uint8_t b[16];
} cidr_ip;

/* Parses `s[0..len)` as an address is written in X-Forwarded-For and as a peer's: IPv4 (a
 * dotted quad, optionally with ":PORT"), or IPv6 (bare, or in brackets optionally followed
 * by ":PORT"). No spaces, no zone ids. Returns false for anything else. */
bool cidr_ip_parse(cidr_ip *out, const char *s, size_t len);

/* Whether `a` lies in `c`. */
bool cidr_match_ip(const cidr *c, const cidr_ip *a);

#endif
