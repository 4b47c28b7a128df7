/* SPDX-License-Identifier: Apache-2.0 */
/* Host names the library lets plain http:// reach (net.c). */
#ifndef CAPV_NET_INT_H
#define CAPV_NET_INT_H

#include <stdbool.h>

/* Whether `host` (as libcurl's URL parser gives it) is this machine: "localhost", "::1"
 * with or without brackets, or an address of 127.0.0.0/8 as a dotted quad. A name that
 * merely begins like one ("127.0.0.1.example.com") is not. */
bool capvi_loopback_host(const char *host);

#endif
