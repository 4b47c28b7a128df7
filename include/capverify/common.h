/* Shared declarations of the libcapverify public headers: export and attribute macros,
 * the injectable clock type, and memory release of library-allocated buffers. */
#ifndef CAPVERIFY_COMMON_H
#define CAPVERIFY_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(CAPV_BUILDING_LIBRARY) && defined(__GNUC__)
#define CAPV_API __attribute__((visibility("default")))
#else
#define CAPV_API
#endif

/* Verification results and other outcomes that must not be ignored. */
#if defined(__GNUC__)
#define CAPV_WARN_UNUSED_RESULT __attribute__((warn_unused_result))
#else
#define CAPV_WARN_UNUSED_RESULT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Injectable clock: returns the current time in milliseconds since the Unix epoch (UTC).
 * Objects that need the time take a (capv_clock_fn, user) pair so tests can pin it. */
typedef int64_t (*capv_clock_fn)(void *user);

/* The default clock: the system's real time (CLOCK_REALTIME). `user` is ignored. */
CAPV_API int64_t capv_clock_system(void *user);

/* RFC 3339 times as CAP formats use them. Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)"
 * into milliseconds since the epoch: 0 on success, -1 for anything else (impossible dates
 * included). Formats as "YYYY-MM-DDTHH:MM:SSZ" (NUL-terminated, fits CAPV_RFC3339_SIZE). */
#define CAPV_RFC3339_SIZE 32
CAPV_API int capv_rfc3339_parse(int64_t *out_ms, const char *text, size_t len);
CAPV_API void capv_rfc3339_format(char out[CAPV_RFC3339_SIZE], int64_t ms);

/* Releases a buffer that a libcapverify function returned as caller-owned ("free with
 * capv_free" in its comment). NULL is a no-op. */
CAPV_API void capv_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif
