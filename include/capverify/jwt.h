/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * Bearer-token authentication (docs/auth.md): JWS compact JWTs validated against a JWKS.
 *
 * Three objects:
 * @verbatim
 *   capv_jwk_set        an immutable, parsed JSON Web Key Set (public signature keys only);
 *   capv_jwks           a key-set *source* (https URL or local file) with a cache that moves
 *                       FRESH -> STALE -> EXPIRED, refreshes in the background, refetches on
 *                       an unknown kid (single-flight, rate-limited) and never replaces a good
 *                       set with a bad fetch;
 *   capv_jwt_validator  the validation policy (issuer, audiences, algorithm allow-list,
 *                       leeway, maximum lifetime, clock) plus an optional verified-token cache.
 * @endverbatim
 *
 * Outcomes. capv_jwt_validate() returns CAPV_OK with a claims object, or a REJECTED-class
 * status for anything wrong with the token itself (the front-end answers 401/403), or
 * CAPV_E_UNAVAILABLE when no usable key set could be had (503, never 401). Each rejection also
 * has a stable lower-case machine reason (capv_jwt_reason_*), suitable for a metrics label:
 *
 * @verbatim
 *   reason               status                   meaning
 *   malformed            CAPV_E_REJECTED          not a JWS compact JWT: segments, strict
 *                                                 base64url, strict JSON (duplicate keys...),
 *                                                 header/claim member of the wrong type
 *   token_too_large      CAPV_E_REJECTED          longer than CAPV_JWT_MAX_TOKEN bytes
 *   alg_not_allowed      CAPV_E_ALG_NOT_ALLOWED   header alg not in the allow-list (none and
 *                                                 HS* never are)
 *   key_alg_mismatch     CAPV_E_ALG_NOT_ALLOWED   the kid names a key of another type or alg
 *   crit_unsupported     CAPV_E_REJECTED          a "crit" header names an extension
 *   unknown_kid          CAPV_E_UNTRUSTED         no key in the set matches (after a refetch
 *                                                 when one was allowed)
 *   bad_signature        CAPV_E_SIGNATURE         the signature does not verify
 *   expired              CAPV_E_EXPIRED           now >= exp + leeway
 *   not_yet_valid        CAPV_E_NOT_YET_VALID     now + leeway < nbf
 *   iat_in_future        CAPV_E_NOT_YET_VALID     now + leeway < iat
 *   missing_exp          CAPV_E_CLAIM             no exp claim
 *   bad_claim            CAPV_E_CLAIM             a registered claim has a wrong type/range
 *   bad_issuer           CAPV_E_CLAIM             iss differs from the configured issuer
 *   bad_audience         CAPV_E_CLAIM             no aud value is a configured audience
 *   lifetime_too_long    CAPV_E_CLAIM             exp - (iat or now) > max_lifetime + leeway
 *   insufficient_scope   CAPV_E_SCOPE             (capv_jwt_claims_require_scopes)
 *   jwks_unavailable     CAPV_E_UNAVAILABLE       no key set, or it is EXPIRED
 * @endverbatim
 *
 * `jku`, `x5u`, `x5c` and `jwk` headers are ignored: keys only ever come from the configured
 * key set. Requires capv_global_init(). Since 0.1. */
#ifndef CAPVERIFY_JWT_H
#define CAPVERIFY_JWT_H

#include <stdbool.h>

#include "cache.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest token accepted, bytes. Since 0.1. */
#define CAPV_JWT_MAX_TOKEN (16u * 1024u)
/** Largest JWKS document accepted, bytes. Since 0.1. */
#define CAPV_JWKS_MAX_BYTES (1024u * 1024u)
/** Most keys a JWKS may hold. Since 0.1. */
#define CAPV_JWKS_MAX_KEYS 100u

/** The JWS algorithms this library implements. Only these can ever be allowed. Since 0.1. */
typedef enum capv_jwt_alg {
    CAPV_JWT_ALG_RS256 = 1, /**< RSASSA-PKCS1-v1_5, SHA-256, modulus >= 2048 bits */
    CAPV_JWT_ALG_PS256 = 2, /**< RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32 */
    CAPV_JWT_ALG_ES256 = 3, /**< ECDSA P-256, SHA-256, signature r||s (64 bytes) */
    CAPV_JWT_ALG_EDDSA = 4  /**< Ed25519 (OKP) */
} capv_jwt_alg;

/** "RS256", "PS256", "ES256", "EdDSA"; NULL for other values. Since 0.1. */
CAPV_API const char *capv_jwt_alg_name(capv_jwt_alg alg);
/** Exact (case-sensitive, as JOSE) name to value; CAPV_E_UNSUPPORTED for anything else,
 * including "none" and HS*. Since 0.1; `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwt_alg_from_name(capv_jwt_alg *out,
                                                                    const char *name,
                                                                    capv_error *err);

/* ---- key sets --------------------------------------------------------------------------- */

/** @{ */
/** An immutable, reference-counted key set, and one of its keys. Since 0.1. */
typedef struct capv_jwk_set capv_jwk_set;
typedef struct capv_jwk capv_jwk;
/** @} */

/** Parses a JWKS document ({"keys":[...]}, strict JSON, at most CAPV_JWKS_MAX_BYTES and
 * CAPV_JWKS_MAX_KEYS). Keys that are not usable public signature keys are *ignored* and
 * listed with the reason (symmetric or private material, `use` other than "sig", `key_ops`
 * without "verify", unknown `alg`, RSA below 2048 bits or with a weak exponent or a ROCA
 * modulus, EC curve other than P-256 or a point not on it, OKP other than Ed25519, ambiguous
 * duplicate kid, ...). Returns CAPV_OK even when no key is usable (check
 * capv_jwk_set_count); a document that is not a JWKS is CAPV_E_MALFORMED-class, too many
 * keys CAPV_E_LIMIT. Free with capv_jwk_set_free. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwk_set_parse(capv_jwk_set **out,
                                                                const uint8_t *data, size_t len,
                                                                capv_error *err);
/** Releases one reference (sets handed out by capv_jwks_snapshot are shared). NULL: no-op.
 * Since 0.1. */
CAPV_API void capv_jwk_set_free(capv_jwk_set *set);

/** Accepted keys, in document order. Borrowed pointers valid while the set lives. Since 0.1. */
CAPV_API size_t capv_jwk_set_count(const capv_jwk_set *set);
/** Key `i`, or NULL when out of range. Since 0.1. */
CAPV_API const capv_jwk *capv_jwk_set_key(const capv_jwk_set *set, size_t i);
/** The number of ignored keys. Since 0.1. */
CAPV_API size_t capv_jwk_set_ignored_count(const capv_jwk_set *set);
/** Ignored key `i`: its index in the document, kid ("" when absent) and reason (borrowed);
 * each output may be NULL. CAPV_E_INVALID_ARG when `i` is out of range. Since 0.1; outputs
 * first and `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwk_set_ignored(size_t *index, const char **kid,
                                                                  const char **reason,
                                                                  const capv_jwk_set *set, size_t i,
                                                                  capv_error *err);
/** The source generation that produced the set (0 for capv_jwk_set_parse). Since 0.1. */
CAPV_API uint64_t capv_jwk_set_generation(const capv_jwk_set *set);

/** Accessors of an accepted key. kid is "" when the JWK has none. Since 0.1. */
CAPV_API const char *capv_jwk_kid(const capv_jwk *key);
/** "RSA", "EC", "OKP". Since 0.1. */
CAPV_API const char *capv_jwk_kty(const capv_jwk *key);
/** "P-256", "Ed25519" or "". Since 0.1. */
CAPV_API const char *capv_jwk_curve(const capv_jwk *key);
/** The RSA modulus size or the curve size. Since 0.1. */
CAPV_API unsigned int capv_jwk_bits(const capv_jwk *key);
/** Whether the key may verify `alg` (its type fits, and its own `alg`, if any, is `alg`).
 * Since 0.1. */
CAPV_API bool capv_jwk_allows(const capv_jwk *key, capv_jwt_alg alg);

/* ---- key-set source --------------------------------------------------------------------- */

/** A source of key sets: a JWKS URL or file, fetched and cached with a TTL, refreshed in
 * the background and on unknown kids. Thread-safe. Since 0.1. */
typedef struct capv_jwks capv_jwks;

/** How current the served key set is (capv_jwks_get_state). Since 0.1. */
typedef enum capv_jwks_state {
    CAPV_JWKS_EMPTY = 0,  /**< no good key set yet */
    CAPV_JWKS_FRESH = 1,  /**< within its TTL */
    CAPV_JWKS_STALE = 2,  /**< past its TTL, still served (refreshing) for up to max_stale */
    CAPV_JWKS_EXPIRED = 3 /**< past TTL + max_stale: not served, validation is unavailable */
} capv_jwks_state;

/** "empty", "fresh", "stale", "expired". Since 0.1. */
CAPV_API const char *capv_jwks_state_name(capv_jwks_state state);

/** Fetches `url` and hands back the body in `*body` (allocated with malloc; the library frees
 * it), its length, and the response's Cache-Control max-age in seconds (-1 when absent, 0 for
 * no-cache/no-store). Returns CAPV_OK or an UNAVAILABLE-class status (CAPV_E_NETWORK, ...) /
 * CAPV_E_LIMIT, with detail in `err`. Called from whichever thread fetches: must be
 * thread-safe. Since 0.1. */
typedef capv_status (*capv_jwks_fetch_fn)(void *user, const char *url, uint8_t **body, size_t *len,
                                          int64_t *max_age_s, capv_error *err);

/** Creates a source for `location`: "https://..." (fetched with libcurl), "http://..." (only
 * when capv_jwks_set_allow_insecure_http is on and the host is a loopback address), or a
 * local file ("file:///abs/path" or a plain path). Nothing is fetched yet. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwks_new(capv_jwks **out, const char *location,
                                                           capv_error *err);
/** Stops the refresher thread (if running) and frees. NULL is a no-op. Since 0.1. */
CAPV_API void capv_jwks_free(capv_jwks *jwks);

/** Settings; call before sharing the object or starting the refresher. Durations in seconds
 * unless named _ms. CAPV_E_INVALID_ARG for out-of-range values.
 *
 * Time to live of a fetched set, default 600 s. Since 0.1; `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwks_set_ttl(capv_jwks *jwks, int64_t seconds,
                                                               capv_error *err);
/** Least time between fetches, default 30 s. Since 0.1; `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwks_set_refresh_min_interval(capv_jwks *jwks,
                                                                                int64_t seconds,
                                                                                capv_error *err);
/** How long past its TTL a set is still served, default 3600 s. Since 0.1; `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwks_set_max_stale(capv_jwks *jwks,
                                                                     int64_t seconds,
                                                                     capv_error *err);
/** Fetch timeout, default 2000 ms. Since 0.1; `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwks_set_fetch_timeout_ms(capv_jwks *jwks,
                                                                            int64_t ms,
                                                                            capv_error *err);
/** Allows "http://" to a loopback host (default off). Since 0.1. */
CAPV_API void capv_jwks_set_allow_insecure_http(capv_jwks *jwks, bool allow);
/** PEM file of CA certificates for the HTTPS endpoint (default: the system store). Copied.
 * Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwks_set_ca_file(capv_jwks *jwks,
                                                                   const char *path,
                                                                   capv_error *err);
/** Replaces the built-in fetcher (libcurl / file reader), e.g. for tests. NULL restores it.
 * Since 0.1. */
CAPV_API void capv_jwks_set_fetcher(capv_jwks *jwks, capv_jwks_fetch_fn fn, void *user);
/** The clock for TTLs, staleness and rate limits (default capv_clock_system, with which ages
 * are measured on CLOCK_MONOTONIC: a step of the wall clock neither keeps a set fresh nor
 * expires it; since 0.2). capv_jwks_last_success_ms is on this clock. Set it before the
 * first fetch: times taken on one clock are not compared with another's. Since 0.1. */
CAPV_API void capv_jwks_set_clock(capv_jwks *jwks, capv_clock_fn clock, void *user);

/** Fetches once with the configured fetcher and limits, without parsing or caching (the CLI's
 * `jwks fetch`). `*body` is caller-owned (free with capv_free). Thread-safe. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwks_fetch(uint8_t **body, size_t *len,
                                                             capv_jwks *jwks, capv_error *err);

/** Fetches and installs a key set now, subject only to single-flight (a concurrent fetch is
 * waited for, up to the fetch timeout). A failed fetch, a malformed, oversized or empty set
 * leaves the current set in place and returns the failure. Thread-safe. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwks_refresh(capv_jwks *jwks, capv_error *err);

/** Starts the background refresher thread owned by `jwks`: it refetches shortly before the
 * TTL ends and, after a failure, every refresh_min_interval (at least 1 s). Thread-safe;
 * starting twice is a no-op; capv_jwks_free stops it. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwks_start_refresher(capv_jwks *jwks,
                                                                       capv_error *err);
/** Stops the refresher thread and waits for it. Thread-safe. Since 0.1. */
CAPV_API void capv_jwks_stop_refresher(capv_jwks *jwks);

/** Current state (from the injected clock). Thread-safe. Since 0.1. */
CAPV_API capv_jwks_state capv_jwks_get_state(capv_jwks *jwks);
/** The current set (a new reference: release with capv_jwk_set_free), or NULL when EMPTY.
 * Does not fetch and also returns an EXPIRED set (for inspection). Thread-safe. Since 0.1. */
CAPV_API capv_jwk_set *capv_jwks_snapshot(capv_jwks *jwks);
/** Generation of the installed set: starts at 0 (none), +1 whenever a fetched set with
 * different content is installed. Thread-safe. Since 0.1. */
CAPV_API uint64_t capv_jwks_generation(capv_jwks *jwks);
/** When the current set was last confirmed by a successful fetch (ms since the epoch, 0 when
 * never). Thread-safe. Since 0.1. */
CAPV_API int64_t capv_jwks_last_success_ms(capv_jwks *jwks);
/** The current set's TTL in seconds. Thread-safe. Since 0.1. */
CAPV_API int64_t capv_jwks_current_ttl(capv_jwks *jwks);
/** Copies the last fetch failure into `out` (code CAPV_OK when the last fetch succeeded).
 * Thread-safe. Since 0.1; `out` first since 0.2. */
CAPV_API void capv_jwks_last_error(capv_error *out, capv_jwks *jwks);

/** A counter of a key-set source (capv_jwks_counter_get). Since 0.1. */
typedef enum capv_jwks_counter {
    CAPV_JWKS_FETCHES = 0,        /**< fetch attempts */
    CAPV_JWKS_FETCH_FAILURES = 1, /**< attempts that did not install or confirm a set */
    CAPV_JWKS_SETS_INSTALLED = 2, /**< generation changes */
    CAPV_JWKS_KID_REFETCHES = 3,  /**< fetches caused by an unknown kid */
    CAPV_JWKS_RATE_LIMITED = 4    /**< fetches refused by refresh_min_interval */
} capv_jwks_counter;
/** A counter's current value. Thread-safe. Since 0.1. */
CAPV_API uint64_t capv_jwks_counter_get(capv_jwks *jwks, capv_jwks_counter which);

/* ---- claims ----------------------------------------------------------------------------- */

/** The claims of a validated token. Since 0.1. */
typedef struct capv_jwt_claims capv_jwt_claims;

/** Caller-owned; NULL is a no-op. Since 0.1. */
CAPV_API void capv_jwt_claims_free(capv_jwt_claims *claims);
/** Borrowed strings valid while the claims live. sub / client_id (client_id or azp) / kid are
 * NULL when absent; issuer and audience (the configured audience that matched) never are.
 * Since 0.1. */
CAPV_API const char *capv_jwt_claims_subject(const capv_jwt_claims *claims);
/** The issuer (iss). Since 0.1. */
CAPV_API const char *capv_jwt_claims_issuer(const capv_jwt_claims *claims);
/** The configured audience that matched. Since 0.1. */
CAPV_API const char *capv_jwt_claims_audience(const capv_jwt_claims *claims);
/** client_id, else azp; NULL when neither. Since 0.1. */
CAPV_API const char *capv_jwt_claims_client_id(const capv_jwt_claims *claims);
/** The key id of the header, or NULL when it has none (or an empty one). Since 0.1. */
CAPV_API const char *capv_jwt_claims_kid(const capv_jwt_claims *claims);
/** The algorithm that verified the signature. Since 0.1. */
CAPV_API capv_jwt_alg capv_jwt_claims_alg(const capv_jwt_claims *claims);
/** exp / iat / nbf in seconds since the epoch; iat and nbf are INT64_MIN when absent.
 * Since 0.1. */
CAPV_API int64_t capv_jwt_claims_expires(const capv_jwt_claims *claims);
/** iat, or INT64_MIN. Since 0.1. */
CAPV_API int64_t capv_jwt_claims_issued_at(const capv_jwt_claims *claims);
/** nbf, or INT64_MIN. Since 0.1. */
CAPV_API int64_t capv_jwt_claims_not_before(const capv_jwt_claims *claims);
/** Scopes from the space-delimited `scope` string or the `scp` array, in token order.
 * Since 0.1. */
CAPV_API size_t capv_jwt_claims_scope_count(const capv_jwt_claims *claims);
/** Scope `i`, or NULL when out of range. Since 0.1. */
CAPV_API const char *capv_jwt_claims_scope(const capv_jwt_claims *claims, size_t i);
/** Whether `scope` was granted. Since 0.1. */
CAPV_API bool capv_jwt_claims_has_scope(const capv_jwt_claims *claims, const char *scope);
/** CAPV_OK when every space-delimited scope of `required` is granted, else CAPV_E_SCOPE
 * (reason "insufficient_scope") naming the first missing one. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwt_claims_require_scopes(
    const capv_jwt_claims *claims, const char *required, capv_error *err);

/* ---- validator -------------------------------------------------------------------------- */

/** Validates bearer JWTs: signature against a key source, issuer, audience, times,
 * algorithms. Configure from one thread, then share: capv_jwt_validate is thread-safe.
 * Since 0.1. */
typedef struct capv_jwt_validator capv_jwt_validator;

/** Defaults: algorithms RS256, PS256, ES256, EdDSA; leeway 60 s; no max lifetime; system
 * clock; no token cache. The issuer, at least one audience and a key source are required
 * before validating (CAPV_E_STATE otherwise). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwt_validator_new(capv_jwt_validator **out,
                                                                    capv_error *err);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_jwt_validator_free(capv_jwt_validator *v);

/** Setters; call before sharing. Strings are copied.
 *
 * The required issuer. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwt_validator_set_issuer(capv_jwt_validator *v,
                                                                           const char *issuer,
                                                                           capv_error *err);
/** One more accepted audience. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwt_validator_add_audience(capv_jwt_validator *v,
                                                                             const char *audience,
                                                                             capv_error *err);
/** Replaces the allow-list with the comma/space-separated names in `list` ("RS256,ES256").
 * Unknown names, "none" and HS* are CAPV_E_INVALID_ARG; an empty list too. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwt_validator_set_algs(capv_jwt_validator *v,
                                                                         const char *list,
                                                                         capv_error *err);
/** Allowed clock skew, default 60 s. Since 0.1; `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwt_validator_set_leeway(capv_jwt_validator *v,
                                                                           int64_t seconds,
                                                                           capv_error *err);
/** Longest accepted token lifetime; 0 = no limit. Since 0.1; `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_jwt_validator_set_max_lifetime(capv_jwt_validator *v, int64_t seconds, capv_error *err);
/** The clock (default capv_clock_system). Since 0.1. */
CAPV_API void capv_jwt_validator_set_clock(capv_jwt_validator *v, capv_clock_fn clock, void *user);
/** Keys come from `jwks` (borrowed: it must outlive the validator; it may be shared by several
 * validators). The token cache's verdicts of an earlier key source are dropped. Since 0.1. */
CAPV_API void capv_jwt_validator_set_jwks(capv_jwt_validator *v, capv_jwks *jwks);
/** Alternatively a fixed set: the validator takes a reference of its own (the caller keeps
 * and releases its own). The token cache's verdicts of an earlier key source are dropped.
 * Since 0.1. */
CAPV_API void capv_jwt_validator_set_key_set(capv_jwt_validator *v, capv_jwk_set *set);
/** Enables the verified-token cache: SHA-256(token) -> claims, at most `max_entries`, never
 * past the token's exp nor across a key-set change. 0 disables it. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwt_validator_set_cache(capv_jwt_validator *v,
                                                                          size_t max_entries,
                                                                          capv_error *err);
/** Counters of the token cache (capv_cache_counter values; 0 when disabled). Since 0.1. */
CAPV_API uint64_t capv_jwt_validator_cache_counter(const capv_jwt_validator *v,
                                                   capv_cache_counter which);

/** Validates `token[0..len)` (surrounding whitespace is not stripped). On CAPV_OK `*claims` is
 * caller-owned. `*reason` (optional) always receives a static reason string ("ok" on
 * success, see the table above). Thread-safe once configured. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwt_validate(capv_jwt_claims **claims,
                                                               const char **reason,
                                                               capv_jwt_validator *v,
                                                               const uint8_t *token, size_t len,
                                                               capv_error *err);

/** The reason string of a status returned by this module when none was captured: the
 * generic mapping (CAPV_E_SIGNATURE -> "bad_signature", CAPV_E_UNAVAILABLE ->
 * "jwks_unavailable", ...). Static. Since 0.1. */
CAPV_API const char *capv_jwt_reason_of(capv_status status);

/* ---- what a rejected token claims (for logs) -------------------------------------------- */

/** The size of each capv_jwt_peek text: at most 128 bytes and the NUL. Since 0.2. */
#define CAPV_JWT_PEEK_TEXT 129
/** The version of capv_jwt_peek that this header describes. */
#define CAPV_JWT_PEEK_VERSION 1
/** Identifying fields of a token that has NOT been validated: for a log line saying who a
 * rejected request claimed to be (docs/auth.md, "Logs"). Nothing here is authenticated. The
 * caller allocates it and sets `version` (CAPV_JWT_PEEK_INIT); the library fills the fields
 * of that version only and never writes past them (docs/abi.md, "Growing structs").
 * Since 0.2 (version 1). */
typedef struct capv_jwt_peek {
    unsigned int version;               /**< CAPV_JWT_PEEK_VERSION, set by the caller */
    char alg[CAPV_JWT_PEEK_TEXT];       /**< header "alg" */
    char kid[CAPV_JWT_PEEK_TEXT];       /**< header "kid" */
    char iss[CAPV_JWT_PEEK_TEXT];       /**< payload "iss" */
    char sub[CAPV_JWT_PEEK_TEXT];       /**< payload "sub" */
    char client_id[CAPV_JWT_PEEK_TEXT]; /**< payload "client_id", else "azp" */
} capv_jwt_peek;

/** Initialiser of a capv_jwt_peek: the current version, every text "". */
#define CAPV_JWT_PEEK_INIT                                                                         \
    {                                                                                              \
        CAPV_JWT_PEEK_VERSION, "", "", "", "", ""                                                  \
    }

/** Fills `out` from `token[0..len)` without checking its signature or claims: each field
 * that is a JSON string in a strictly decodable header or payload, sanitized (bytes outside
 * printable ASCII become '?') and cut to 128 bytes (ending in "..." when cut); the others
 * stay "". A token that is not a compact JWS leaves every field "". Never fails on the token;
 * CAPV_E_INVALID_ARG for a NULL `out`, or a version of 0 or newer than the library's
 * (`err->field` "version"), and then writes nothing in `out`. `out->version` is never
 * changed. Thread-safe. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_jwt_peek_unverified(capv_jwt_peek *out,
                                                                      const uint8_t *token,
                                                                      size_t len, capv_error *err);

#ifdef __cplusplus
}
#endif

#endif
