/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * Status codes, status classes, and the caller-owned error detail struct.
 *
 * Every fallible libcapverify function returns a capv_status. Values are pinned and never
 * reused: new codes are only appended. The hundreds digit is the class:
 * @verbatim
 *   1xx REJECTED    the input was understood and is not acceptable (bad signature, expired)
 *   2xx MALFORMED   the input could not be parsed or violates its format
 *   3xx UNAVAILABLE something needed could not be reached or read (I/O, network, busy)
 *   4xx USAGE       the caller used the API wrongly (bad argument, wrong state)
 *   5xx INTERNAL    resource exhaustion or a bug
 * @endverbatim
 * "Rejected" must never be confused with "could not check": a front-end maps REJECTED to a
 * negative answer and UNAVAILABLE to "try again later". */
#ifndef CAPVERIFY_STATUS_H
#define CAPVERIFY_STATUS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Since 0.1; codes are only ever appended (each code's value is pinned). */
typedef enum capv_status {
    CAPV_OK = 0, /**< success */

    /* 1xx rejected */
    CAPV_E_REJECTED = 100,        /**< generic rejection */
    CAPV_E_SIGNATURE = 101,       /**< a signature does not verify */
    CAPV_E_UNTRUSTED = 102,       /**< valid, but by a key that is not trusted */
    CAPV_E_EXPIRED = 103,         /**< outside its validity period */
    CAPV_E_NOT_YET_VALID = 104,   /**< before its validity period */
    CAPV_E_REVOKED = 105,         /**< key or entry revoked */
    CAPV_E_MISMATCH = 106,        /**< a hash or binding does not match */
    CAPV_E_POLICY = 107,          /**< a policy rule is not satisfied */
    CAPV_E_ALG_NOT_ALLOWED = 108, /**< algorithm not in the allow-list */
    CAPV_E_CLAIM = 109,           /**< a token claim is not acceptable */
    CAPV_E_SCOPE = 110,           /**< a required scope is missing */
    CAPV_E_CONFLICT = 111,        /**< exists with different content */
    CAPV_E_EXISTS = 112,          /**< exists with the same content (idempotent retry) */

    /* 2xx malformed */
    CAPV_E_MALFORMED = 200,          /**< generic format violation */
    CAPV_E_JSON_SYNTAX = 201,        /**< not JSON (RFC 8259 grammar) */
    CAPV_E_JSON_DUPLICATE_KEY = 202, /**< an object repeats a key */
    CAPV_E_JSON_UTF8 = 203,          /**< invalid UTF-8 */
    CAPV_E_JSON_NUL = 204,           /**< `\u0000` escape */
    CAPV_E_JSON_SURROGATE = 205,     /**< lone or misordered UTF-16 surrogate escape */
    CAPV_E_JSON_TRAILING = 206,      /**< bytes after the top-level value */
    CAPV_E_JSON_DEPTH = 207,         /**< nested deeper than the limit */
    CAPV_E_TYPE = 208,               /**< a field has the wrong type */
    CAPV_E_RANGE = 209,              /**< a number is out of range or not exact */
    CAPV_E_MISSING = 210,            /**< a required field is absent */
    CAPV_E_HEX = 211,                /**< bad hex / digest text */
    CAPV_E_BASE64 = 212,             /**< bad base64 / base64url text */
    CAPV_E_LIMIT = 213,              /**< a size or count limit is exceeded */
    CAPV_E_UNSAFE_PATH = 214,        /**< unsafe member name in a package */
    CAPV_E_UNSUPPORTED_FORMAT = 215, /**< a version or variant this library does not read */
    CAPV_E_TRUNCATED = 216,          /**< input ends early */

    /* 3xx unavailable */
    CAPV_E_IO = 300,          /**< read/write failure */
    CAPV_E_NOT_FOUND = 301,   /**< a file, key or entry does not exist */
    CAPV_E_NETWORK = 302,     /**< network failure or timeout */
    CAPV_E_BUSY = 303,        /**< locked or in use elsewhere */
    CAPV_E_UNAVAILABLE = 304, /**< a needed service or key set is not usable */
    CAPV_E_STORAGE = 305,     /**< the registry's storage failed: corrupt, read-only, full,
                                     * I/O error (a server fault, never the request's) */

    /* 4xx usage */
    CAPV_E_INVALID_ARG = 400,      /**< bad argument (NULL, unknown enum value, ...) */
    CAPV_E_NOT_INITIALIZED = 401,  /**< capv_global_init() was not called */
    CAPV_E_UNSUPPORTED = 402,      /**< operation not supported in this build or mode */
    CAPV_E_BUFFER_TOO_SMALL = 403, /**< the output buffer is too small */
    CAPV_E_STATE = 404,            /**< call not valid in the object's current state */

    /* 5xx internal */
    CAPV_E_NOMEM = 500,    /**< allocation failed */
    CAPV_E_INTERNAL = 501, /**< a bug: an invariant does not hold */
    CAPV_E_CRYPTO = 502    /**< the crypto library failed unexpectedly */
} capv_status;

/** The class of a status (capv_status_class_of): what a caller does about it, by the
 * hundreds digit. Since 0.1. */
typedef enum capv_status_class {
    CAPV_CLASS_OK = 0,          /**< CAPV_OK */
    CAPV_CLASS_REJECTED = 1,    /**< 1xx: understood and not acceptable */
    CAPV_CLASS_MALFORMED = 2,   /**< 2xx: could not be parsed or violates its format */
    CAPV_CLASS_UNAVAILABLE = 3, /**< 3xx: something needed could not be reached or read */
    CAPV_CLASS_USAGE = 4,       /**< 4xx: the caller used the API wrongly */
    CAPV_CLASS_INTERNAL = 5     /**< 5xx: resource exhaustion or a bug */
} capv_status_class;

/** The class of a status. Unknown values (from a newer library) map by their hundreds digit;
 * anything outside 0..599 is INTERNAL. Thread-safe. Since 0.1. */
CAPV_API capv_status_class capv_status_class_of(capv_status status);

/** Stable lower-case identifier of a status ("ok", "json_duplicate_key", ...), suitable for
 * logs, metrics labels and JSON error codes. Static string; "unknown" for unknown values.
 * Thread-safe. Since 0.1. */
CAPV_API const char *capv_status_name(capv_status status);

/** Short English description of a status. Static string. Thread-safe. Since 0.1. */
CAPV_API const char *capv_strerror(capv_status status);

/** Static name of a class: "ok", "rejected", "malformed", "unavailable", "usage", "internal";
 * "unknown" for other values. Thread-safe. Since 0.1. */
CAPV_API const char *capv_status_class_name(capv_status_class cls);

/** The version of capv_error: always 1, capv_error never grows. */
#define CAPV_ERROR_VERSION 1
/** The size of capv_error::message, NUL included. */
#define CAPV_ERROR_MESSAGE_SIZE 256
/** The size of capv_error::field, NUL included. */
#define CAPV_ERROR_FIELD_SIZE 128
/** Detail of a failure, owned by the caller (usually on the stack) and filled by the
 * library. Every function taking `capv_error *err` (always its last parameter) accepts NULL
 * when no detail is wanted. Initialise with CAPV_ERROR_INIT. Never shared between threads by
 * the library. `field` and `message` are NUL-terminated UTF-8: input quoted in them that is
 * not (a hostile member name, a character cut at the buffer's end) shows as '?'.
 *
 * `code` is always the status the function returned: a failure fills the struct, and a
 * success leaves it exactly as CAPV_ERROR_INIT does (code CAPV_OK, field and message ""),
 * whatever an earlier call left in it, so one capv_error can be reused across calls
 * (docs/abi.md, "Errors"; since 0.2 — 0.1 left it untouched on success).
 *
 * Unlike the other versioned structs, capv_error never grows: its layout is version 1's for
 * as long as the SONAME lasts, and more detail would come through new functions. Every call
 * writes it, and the library keeps and copies whole capv_error values (a queued record's, a
 * background job's), so it is one size everywhere; it is therefore written whole, `version`
 * included (1): one declared without CAPV_ERROR_INIT is filled as well (docs/abi.md,
 * "Growing structs"). Since 0.1. */
typedef struct capv_error {
    unsigned int version;                  /**< CAPV_ERROR_VERSION */
    capv_status code;                      /**< same value the function returned */
    char field[CAPV_ERROR_FIELD_SIZE];     /**< where: JSON path, member name, key; or "" */
    char message[CAPV_ERROR_MESSAGE_SIZE]; /**< human-readable, never contains secrets */
} capv_error;

/** Initialiser of a capv_error: the current version, CAPV_OK, field and message "". */
#define CAPV_ERROR_INIT                                                                            \
    {                                                                                              \
        CAPV_ERROR_VERSION, CAPV_OK, "", ""                                                        \
    }

/** Resets an error to the CAPV_ERROR_INIT state. NULL is a no-op. Since 0.1. */
CAPV_API void capv_error_clear(capv_error *err);

/** Library-wide initialisation, reference-counted and thread-safe: each successful call must
 * be balanced by one capv_global_shutdown(). Loads and caches the crypto algorithms the
 * library uses. Functions that need it return CAPV_E_NOT_INITIALIZED when it was not done.
 * Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_global_init(capv_error *err);

/** Releases one capv_global_init(); the last one frees what it loaded. Thread-safe.
 * Since 0.1. */
CAPV_API void capv_global_shutdown(void);

#ifdef __cplusplus
}
#endif

#endif
