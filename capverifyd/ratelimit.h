/* SPDX-License-Identifier: Apache-2.0 */
/* Token-bucket rate limits (docs/hardening.md): one bucket per authenticated subject and
 * one per client address, each refilled at server.rate_limit_per_second up to
 * server.rate_limit_burst. Thread-safe; memory is bounded (idle buckets are forgotten). */
#ifndef CAPVD_RATELIMIT_H
#define CAPVD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef enum rl_kind { RL_SUBJECT, RL_ADDRESS, RL_KIND_COUNT } rl_kind;

/* rate 0 disables limiting (every take succeeds). */
void ratelimit_init(int64_t per_second, int64_t burst);
bool ratelimit_enabled(void);

/* Takes one token from the bucket of (kind, key). True when the request may go on; false
 * when the bucket is empty, with *retry_after_s the whole seconds until a token is back. */
bool ratelimit_take(rl_kind kind, const char *key, int *retry_after_s);
/* Whether the bucket is empty now, without taking (same *retry_after_s). */
bool ratelimit_exhausted(rl_kind kind, const char *key, int *retry_after_s);

const char *rl_kind_name(rl_kind k);
uint64_t ratelimit_limited_total(rl_kind k);
/* Counts one refused request (the caller answered 429). */
void ratelimit_count(rl_kind k);

#endif
