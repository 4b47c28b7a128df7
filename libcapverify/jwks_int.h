/* SPDX-License-Identifier: Apache-2.0 */
/* The key-set source (jwks.c), as the validator (jwt.c) uses it. */
#ifndef CAPV_JWKS_INT_H
#define CAPV_JWKS_INT_H

#include "jwk_int.h"

/* The set to validate with (a new reference). Fetches synchronously when there is no set or
 * it has expired, or it is stale and no refresher runs (single-flight, rate-limited).
 * CAPV_E_UNAVAILABLE when no usable set can be had. */
capv_status capvi_jwks_acquire(capv_jwk_set **out, capv_jwks *jwks, capv_error *err);

/* Called after a kid was not found in `seen`: returns a newer set to retry with (a new
 * reference) — installed meanwhile, or refetched now if refresh_min_interval allows (one
 * fetch in flight; others wait for it up to the fetch timeout) — or NULL. */
capv_jwk_set *capvi_jwks_refetch_for_kid(capv_jwks *jwks, const capv_jwk_set *seen);

#endif
