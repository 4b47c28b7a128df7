/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: the one mapping from a library status to an HTTP answer (http_status.c), used
 * by every route: rejected 422 `unprocessable` (409 for a conflict), malformed 400, unavailable 503 (404 for
 * not found; `busy` with Retry-After), usage and internal 500 (docs/hardening.md, "Error
 * messages"). */
#ifndef CAPVD_HTTP_STATUS_H
#define CAPVD_HTTP_STATUS_H

#include <capverify.h>

struct req;

/* Answers a failed library call. Client faults carry the library's message; server faults a
 * generic one, the detail goes to the log with the request id. */
void answer_failure(struct req *r, capv_status st, const capv_error *err);
/* 503 registry_unavailable: a SIGHUP could not reopen the registry (main.c tries again). */
void answer_registry_not_open(struct req *r);

#endif
