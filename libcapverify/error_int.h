/* SPDX-License-Identifier: Apache-2.0 */
/* Filling the caller-owned capv_error, and the cleanup-on-error macro used everywhere. */
#ifndef CAPV_ERROR_INT_H
#define CAPV_ERROR_INT_H

#include <capverify.h>

#include "utf8_int.h" /* capvi_text_make_utf8, for messages built elsewhere */

/* Records `code` with a formatted message and an optional field in `err` (which may be
 * NULL) and returns `code`, so call sites read `return capvi_err_set(err, ...)`. */
capv_status capvi_err_set(capv_error *err, capv_status code, const char *field, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

/* Same, for a memory allocation failure. */
capv_status capvi_err_nomem(capv_error *err);

/* The error reset rule (docs/abi.md): a call that succeeds leaves a non-NULL `err` as
 * CAPV_ERROR_INIT would, whatever an earlier call or a recovered internal failure wrote there,
 * because the header promises err->code is the value the function returned. NULL is a no-op. */
void capvi_err_clear(capv_error *err);

/* How every fallible public function returns: `return capvi_err_done(err, st);` clears `err`
 * when `st` is CAPV_OK, leaves the failure recorded in it otherwise (or, when nothing recorded
 * a failure with this code, records its generic text), and returns `st`: err->code is always
 * the returned status. */
capv_status capvi_err_done(capv_error *err, capv_status st);

/* The versioned public structs (docs/abi.md): sizes[v] is the size of version v of a struct
 * (sizes[0] unused, sizes[n - 1] = the current sizeof). `*size` receives the size of the
 * caller's `version`: the library copies no more than that from or to the caller's struct.
 * CAPV_E_INVALID_ARG for version 0 or one newer than the library's. */
capv_status capvi_struct_size(size_t *size, unsigned int version, const size_t *sizes, size_t n,
                              const char *what, capv_error *err);

/* Reads a caller's versioned struct `in` into `out`, which holds the defaults of the current
 * version: the first sizes[in->version] bytes are copied, the rest keep their defaults, and
 * out's version is left as it was (the current one). Every struct starts with its
 * `unsigned int version`. */
capv_status capvi_struct_read(void *out, const void *in, const size_t *sizes, size_t n,
                              const char *what, capv_error *err);

/* Writes the current version's `full` into a caller's versioned struct `out`: the first
 * `size` bytes (capvi_struct_size of the caller's version), out's version left as it was. */
void capvi_struct_write(void *out, const void *full, size_t size);

/* Evaluates a capv_status expression; on failure stores it in the function's `st` and jumps
 * to the function's single `out:` cleanup label. */
#define CAPV_TRY(expr)                                                                             \
    do {                                                                                           \
        capv_status capv_try_s_ = (expr);                                                          \
        if (capv_try_s_ != CAPV_OK) {                                                              \
            st = capv_try_s_;                                                                      \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* Sets `st` to a recorded error and jumps to `out:`. */
#define CAPV_FAIL(...)                                                                             \
    do {                                                                                           \
        st = capvi_err_set(__VA_ARGS__);                                                           \
        goto out;                                                                                  \
    } while (0)

#endif
