/* SPDX-License-Identifier: Apache-2.0 */
/* The verifier's report cache (verify_cache.c): keys and entries. The verification entry
 * points (verify.c) consult it; it never verifies anything itself. */
#ifndef CAPV_VERIFY_CACHE_INT_H
#define CAPV_VERIFY_CACHE_INT_H

#include <stdbool.h>

#include "verify_int.h"

/* The cache key of a zip body verified by `v` with `opts` (NULL = defaults): it changes with
 * the body, every option that can change a report, the verifier's epoch and its registry's
 * generation. */
capv_status capvi_verify_cache_key(uint8_t key[32], const capv_verifier *v, const uint8_t *data,
                                   size_t len, const capv_verify_options *opts, capv_error *err);

/* A cached report under `key`, rebuilt from its JSON (caller frees with capv_report_free):
 * CAPV_OK, or CAPV_E_NOT_FOUND on a miss, without a cache, or when the entry is unreadable
 * (it is then dropped). */
capv_status capvi_verify_cache_get_report(capv_report **out, const capv_verifier *v,
                                          const uint8_t key[32]);

/* A cached report under `key` as JSON text (compact, or `pretty`; caller frees with
 * capv_free) and its verdict: CAPV_OK or CAPV_E_NOT_FOUND as above. With `problems` (cap >= 4),
 * also the checks that did not pass, as capv_report_json_problems() lists them ("" should the
 * JSON not read). */
capv_status capvi_verify_cache_get_json(char **json, size_t *json_len, capv_verdict *verdict,
                                        char *problems, size_t problems_cap, const capv_verifier *v,
                                        const uint8_t key[32], bool pretty);

/* Stores the report `r` under `key`: its verdict, the checks that did not pass (when the list
 * is whole within a few hundred bytes) and `json`, its compact JSON. Best effort: without a
 * cache, out of memory, or an entry the cache refuses (larger than its byte bound) nothing is
 * stored. */
void capvi_verify_cache_put(const capv_verifier *v, const uint8_t key[32], const capv_report *r,
                            const char *json, size_t len);

#endif
