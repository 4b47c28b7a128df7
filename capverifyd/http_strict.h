/* SPDX-License-Identifier: Apache-2.0 */
/* Strict HTTP/1.1 request checks run before any handler (docs/hardening.md). */
#ifndef CAPVD_HTTP_STRICT_H
#define CAPVD_HTTP_STRICT_H

#include <stdbool.h>

#include <civetweb.h>

/* NULL when the request head is acceptable, else why it is not (for the 400 message):
 * Content-Length with Transfer-Encoding, Transfer-Encoding other than exactly "chunked",
 * repeated Transfer-Encoding / Content-Length / Host, a Content-Length that is not all
 * digits, whitespace before a header colon, obs-fold, HTTP/1.1 without Host, and versions
 * other than 1.0 and 1.1. `ri` must be CivetWeb's request info of the current request. */
const char *http_strict_violation(const struct mg_request_info *ri);

/* NULL when `path` (the raw, undecoded request path) is canonical: it starts with '/', and
 * has no percent-encoding, backslash, control or non-ASCII byte, empty segment ("//"),
 * "." or ".." segment, or segment ending in '.'. Else why not. */
const char *http_path_violation(const char *path);

#endif
