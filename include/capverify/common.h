/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * Shared declarations of the libcapverify public headers: export and attribute macros,
 * the injectable clock type, and memory release of library-allocated buffers.
 * RFC 3339 times are in time.h (since 0.2; common.h before). */
#ifndef CAPVERIFY_COMMON_H
#define CAPVERIFY_COMMON_H

#include <stddef.h>
#include <stdint.h>

/** Marks the functions libcapverify exports (default visibility while the library itself is
 * built, empty for its users). */
#if defined(CAPV_BUILDING_LIBRARY) && defined(__GNUC__)
#define CAPV_API __attribute__((visibility("default")))
#else
#define CAPV_API
#endif

/** On every function that returns a capv_status (docs/abi.md, "Results that must be
 * checked"), placed after CAPV_API: a failure never goes unnoticed. */
#if defined(__GNUC__)
#define CAPV_WARN_UNUSED_RESULT __attribute__((warn_unused_result))
#else
#define CAPV_WARN_UNUSED_RESULT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Injectable clock: returns the current time in milliseconds since the Unix epoch (UTC).
 * Objects that need the time take a (capv_clock_fn, user) pair so tests can pin it.
 * Since 0.1. */
typedef int64_t (*capv_clock_fn)(void *user);

/** The default clock: the system's real time (CLOCK_REALTIME). `user` is ignored. Thread-safe.
 * Since 0.1. */
CAPV_API int64_t capv_clock_system(void *user);

/** Releases a buffer that a libcapverify function returned as caller-owned ("free with
 * capv_free" in its comment). NULL is a no-op. Since 0.1. */
CAPV_API void capv_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif
