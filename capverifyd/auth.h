/* Bearer-token authentication of API routes (docs/auth.md): the glue between the requests
 * and the library's JWT validator and JWKS source. */
#ifndef CAPVD_AUTH_H
#define CAPVD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

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

/* Readiness: a usable key set (fresh or stale). */
bool auth_ready(auth *a, char *detail, size_t cap);
/* Re-reads a file:// key set; for https it refreshes now. */
void auth_reload(auth *a);
void auth_fill_metrics(auth *a, struct metrics_sources *src);

#endif
