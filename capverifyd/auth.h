/* SPDX-License-Identifier: Apache-2.0 */
/* Bearer-token authentication of API routes (docs/auth.md): the glue between the requests
 * and the library's JWT validator and JWKS source. */
#ifndef CAPVD_AUTH_H
#define CAPVD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <capverify.h>
#include <capverify/unstable/log.h>

#include "config.h"

typedef struct auth auth;
struct req;
struct metrics_sources;

/* NULL in *out (and true) when auth.enabled is false. With `start`, fetches the key set
 * once and starts the background refresher; without it only validates the settings
 * (--check-config). */
bool auth_create(auth **out, const capvd_config *cfg, bool start, char *errbuf, size_t errlen);
void auth_free(auth *a);

/* Authenticates the request and checks `scope` (NULL = any valid token). True when the
 * request may proceed; otherwise the 401 / 403 / 503 answer has been sent. */
bool auth_check(struct req *r, const char *scope);

/* What /readyz shows of the key set (docs/auth.md, "Readiness"). */
typedef struct auth_readiness {
    bool ok;              /* a usable key set (fresh or stale); true when auth is off */
    const char *state;    /* "disabled", "empty", "fresh", "stale", "expired" */
    int64_t age_seconds;  /* since the last successful fetch; -1 when none */
    char last_error[256]; /* the last fetch's failure, "" when it succeeded */
} auth_readiness;
void auth_ready(auth *a, auth_readiness *out);
/* Re-reads a file:// key set; for https it refreshes now. A failure is logged
 * (event jwks_reload); the current set stays. */
void auth_reload(auth *a, capv_logger *log);
/* Called once a second: logs key-set fetch failures of the background refresher (event
 * jwks_fetch_failed, at most one line a minute while they go on, with their count) and the
 * recovery after them (jwks_fetch_recovered). */
void auth_tick(auth *a, capv_logger *log, int64_t now_ms);
void auth_fill_metrics(auth *a, struct metrics_sources *src);

#endif
