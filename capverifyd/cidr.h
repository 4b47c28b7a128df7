/* SPDX-License-Identifier: Apache-2.0 */
/* Address ranges in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`), as server.trusted_proxies
 * names them (docs/configuration.md), and the test whether a peer or an X-Forwarded-For
 * address lies in one. IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`, what a dual-stack
 * listener reports for an IPv4 peer) are treated as the IPv4 address they carry, on both
 * sides, so `10.0.0.0/8` matches them. No allocation, no global state: thread-safe. */
#ifndef CAPVD_CIDR_H
#define CAPVD_CIDR_H

#include <stdbool.h>
#include <stdint.h>

struct sockaddr;

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

/* Whether the address of `sa` (AF_INET or AF_INET6; any other family never matches) lies in
 * `c`. */
bool cidr_match(const cidr *c, const struct sockaddr *sa);

/* Whether the textual address `addr` (IPv4 dotted quad, IPv6, or IPv6 in brackets, as an
 * X-Forwarded-For element; surrounding spaces and tabs are ignored, a port is not) lies in
 * `c`. False for anything that is not an address. */
bool cidr_match_text(const cidr *c, const char *addr);

#endif
