/* Structured logs: one JSON object per line (SPEC §9.3) with `timestamp` (RFC 3339, ms,
 * UTC "Z"), `level` (DEBUG|INFO|WARN|ERROR), `message`, `event`, and any fields the caller
 * adds. Thread-safe: lines from concurrent threads never interleave. The level can change at
 * run time. Never pass tokens, keys or package contents as fields. */
#ifndef CAPVERIFY_LOG_H
#define CAPVERIFY_LOG_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum capv_log_level {
    CAPV_LOG_DEBUG = 0,
    CAPV_LOG_INFO = 1,
    CAPV_LOG_WARN = 2,
    CAPV_LOG_ERROR = 3
} capv_log_level;

typedef struct capv_logger capv_logger;
typedef struct capv_log_entry capv_log_entry;

/* A logger writing to file descriptor `fd` (e.g. 1 for stdout; the descriptor stays the
 * caller's). Since 0.1. */
CAPV_API capv_status capv_logger_new(capv_logger **out, int fd, capv_log_level level,
                                     capv_error *err);
CAPV_API void capv_logger_free(capv_logger *lg);
CAPV_API void capv_logger_set_level(capv_logger *lg, capv_log_level level);
CAPV_API capv_log_level capv_logger_level(const capv_logger *lg);
/* The clock for timestamps (default capv_clock_system). */
CAPV_API void capv_logger_set_clock(capv_logger *lg, capv_clock_fn clock, void *user);
/* Parses "debug" / "info" / "warn" / "error" (any case): 0 on success, -1 otherwise. */
CAPV_API int capv_log_level_parse(capv_log_level *out, const char *name);
CAPV_API const char *capv_log_level_name(capv_log_level level);

/* Builds one line: begin, add fields, then end (which writes and frees it). begin returns
 * NULL when `level` is below the logger's level (every add/end accepts NULL, so callers do
 * not branch). Field keys are written as given; values are escaped. */
CAPV_API capv_log_entry *capv_log_begin(capv_logger *lg, capv_log_level level,
                                        const char *event);
CAPV_API void capv_log_str(capv_log_entry *e, const char *key, const char *value);
CAPV_API void capv_log_int(capv_log_entry *e, const char *key, int64_t value);
CAPV_API void capv_log_double(capv_log_entry *e, const char *key, double value);
CAPV_API void capv_log_bool(capv_log_entry *e, const char *key, int value);
CAPV_API void capv_log_end(capv_log_entry *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif
