/* Filling the caller-owned capv_error, and the cleanup-on-error macro used everywhere. */
#ifndef CAPV_ERROR_INT_H
#define CAPV_ERROR_INT_H

#include <capverify.h>

/* Records `code` with a formatted message and an optional field in `err` (which may be
 * NULL) and returns `code`, so call sites read `return capvi_err_set(err, ...)`. */
capv_status capvi_err_set(capv_error *err, capv_status code, const char *field, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));

/* Same, for a memory allocation failure. */
capv_status capvi_err_nomem(capv_error *err);

/* Turns each byte of the NUL-terminated `text` that is not part of well-formed UTF-8 into '?'
 * (input quoted in a message, a character cut where the message was truncated), so texts
 * headed for JSON reports, logs and HTTP answers are UTF-8. capvi_err_set applies it. */
void capvi_text_make_utf8(char *text);

/* Evaluates a capv_status expression; on failure stores it in the function's `st` and jumps
 * to the function's single `out:` cleanup label. */
#define CAPV_TRY(expr)                    \
    do {                                  \
        capv_status capv_try_s_ = (expr); \
        if (capv_try_s_ != CAPV_OK) {     \
            st = capv_try_s_;             \
            goto out;                     \
        }                                 \
    } while (0)

/* Sets `st` to a recorded error and jumps to `out:`. */
#define CAPV_FAIL(...)               \
    do {                             \
        st = capvi_err_set(__VA_ARGS__); \
        goto out;                    \
    } while (0)

#endif
