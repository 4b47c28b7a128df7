/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * UNSTABLE: structured logs for the project's own front-ends (capverifyd): one JSON object per
 * line (docs/runbook.md, "Logs") with `timestamp` (RFC 3339, ms, UTC "Z"), `level`
 * (DEBUG|INFO|WARN|ERROR), `message`, `event`, and any fields the caller adds. Thread-safe:
 * lines from concurrent threads never interleave. The level can change at run time. Never
 * pass tokens, keys or package contents as fields.
 *
 * These calls are OUTSIDE the ABI promise (docs/abi.md, "Stable and unstable"): they serve the
 * daemon and may change or disappear in any release, including patch releases, without a
 * SONAME change. The umbrella header <capverify.h> does not include this file; include it
 * explicitly, after <capverify.h>. The functions are exported (capv_*) so that capverifyd
 * links against the shared library like any program; do not use them in programs that must
 * keep working with newer libcapverify versions.
 *
 * Conventions as in the stable headers: functions returning capv_status are
 * CAPV_WARN_UNUSED_RESULT, outputs first, `capv_error *err` last and reset on success.
 * Since 0.2 (the declarations were in the stable capverify/log.h in 0.1). */
#ifndef CAPVERIFY_UNSTABLE_LOG_H
#define CAPVERIFY_UNSTABLE_LOG_H

#include <stdbool.h>

#include "../status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Severity of a log line, lowest first. Since 0.1. */
typedef enum capv_log_level {
    CAPV_LOG_DEBUG = 0, /**< "DEBUG" */
    CAPV_LOG_INFO = 1,  /**< "INFO" */
    CAPV_LOG_WARN = 2,  /**< "WARN" */
    CAPV_LOG_ERROR = 3  /**< "ERROR" */
} capv_log_level;

/** @{ */
/** A logger, and one line being built. Since 0.1. */
typedef struct capv_logger capv_logger;
typedef struct capv_log_entry capv_log_entry;
/** @} */

/** A logger writing lines of `level` and above to file descriptor `fd` (e.g. 1 for stdout; the
 * descriptor stays the caller's). Free with capv_logger_free(). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_logger_new(capv_logger **out, int fd,
                                                             capv_log_level level, capv_error *err);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_logger_free(capv_logger *lg);
/** The longest flush interval capv_logger_set_flush_ms() accepts, in milliseconds. */
#define CAPV_LOG_FLUSH_MS_MAX 10000
/** Buffers the lines below CAPV_LOG_WARN: a thread of the logger writes them, in one write(),
 * at most `flush_ms` milliseconds after the first of them (sooner when 64 KiB wait). A WARN
 * or ERROR line is still written before its capv_log_end() returns, after every line that
 * waited; capv_logger_free() writes what waits. A crash loses the lines of the last
 * `flush_ms`. 0 (the default) writes every line when it ends. Call once, before sharing the
 * logger: CAPV_E_STATE when it is buffered already, CAPV_E_INVALID_ARG outside
 * 0..CAPV_LOG_FLUSH_MS_MAX. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_logger_set_flush_ms(capv_logger *lg, int flush_ms,
                                                                      capv_error *err);
/** Writes every line that waits (a buffered logger's) before it returns; safe while other
 * threads log. NULL is a no-op. Since 0.2. */
CAPV_API void capv_logger_flush(capv_logger *lg);
/** Changes the level; safe while other threads log. Since 0.1. */
CAPV_API void capv_logger_set_level(capv_logger *lg, capv_log_level level);
/** The current level. Since 0.1. */
CAPV_API capv_log_level capv_logger_level(const capv_logger *lg);
/** The clock for timestamps (default capv_clock_system). Set before sharing. Since 0.1. */
CAPV_API void capv_logger_set_clock(capv_logger *lg, capv_clock_fn clock, void *user);
/** Parses "debug" / "info" / "warn" / "error" (any case); CAPV_E_INVALID_ARG otherwise.
 * Since 0.1; returns capv_status and takes `err` since 0.2 (was int 0 / -1). */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_log_level_parse(capv_log_level *out,
                                                                  const char *name,
                                                                  capv_error *err);
/** "debug", "info", "warn", "error" (static), or "unknown". Since 0.1. */
CAPV_API const char *capv_log_level_name(capv_log_level level);

/** Builds one line: begin, add fields, then end (which writes and frees it). begin returns
 * NULL when `level` is below the logger's level (every add/end accepts NULL, so callers do
 * not branch). Field keys are written as given; values are escaped. Since 0.1. */
CAPV_API capv_log_entry *capv_log_begin(capv_logger *lg, capv_log_level level, const char *event);
/** A string field. Since 0.1. */
CAPV_API void capv_log_str(capv_log_entry *e, const char *key, const char *value);
/** An integer field. Since 0.1. */
CAPV_API void capv_log_int(capv_log_entry *e, const char *key, int64_t value);
/** A number field, with three decimals (null when not finite). Since 0.1. */
CAPV_API void capv_log_double(capv_log_entry *e, const char *key, double value);
/** A boolean field. Since 0.1; `value` is bool since 0.2 (was int). */
CAPV_API void capv_log_bool(capv_log_entry *e, const char *key, bool value);
/** Writes the line with the printf-formatted message and frees the entry. Lines are written in
 * the order their entries end; while another thread is writing, the line joins a queue that
 * thread writes next, in one write() with the others (so the call may return before its line
 * is written, and a thread may write lines of others). Since 0.1. */
CAPV_API void capv_log_end(capv_log_entry *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif
