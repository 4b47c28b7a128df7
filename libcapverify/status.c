/* SPDX-License-Identifier: Apache-2.0 */
/* Names, descriptions and classes of capv_status values. */
#include <capverify.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "utf8_int.h"

static const struct {
    capv_status code;
    const char *name;
    const char *text;
} status_table[] = {
    { CAPV_OK, "ok", "success" },
    { CAPV_E_REJECTED, "rejected", "rejected" },
    { CAPV_E_SIGNATURE, "signature_invalid", "signature does not verify" },
    { CAPV_E_UNTRUSTED, "untrusted", "signed by a key that is not trusted" },
    { CAPV_E_EXPIRED, "expired", "outside its validity period" },
    { CAPV_E_NOT_YET_VALID, "not_yet_valid", "not valid yet" },
    { CAPV_E_REVOKED, "revoked", "revoked" },
    { CAPV_E_MISMATCH, "mismatch", "hash or binding mismatch" },
    { CAPV_E_POLICY, "policy_violation", "policy rule not satisfied" },
    { CAPV_E_ALG_NOT_ALLOWED, "alg_not_allowed", "algorithm not allowed" },
    { CAPV_E_CLAIM, "invalid_claim", "claim not acceptable" },
    { CAPV_E_SCOPE, "insufficient_scope", "required scope missing" },
    { CAPV_E_CONFLICT, "conflict", "already exists with different content" },
    { CAPV_E_EXISTS, "exists", "already exists" },
    { CAPV_E_MALFORMED, "malformed", "malformed input" },
    { CAPV_E_JSON_SYNTAX, "json_syntax", "invalid JSON syntax" },
    { CAPV_E_JSON_DUPLICATE_KEY, "json_duplicate_key", "duplicate JSON object key" },
    { CAPV_E_JSON_UTF8, "json_utf8", "invalid UTF-8" },
    { CAPV_E_JSON_NUL, "json_nul", "\\u0000 escape in JSON string" },
    { CAPV_E_JSON_SURROGATE, "json_surrogate", "lone UTF-16 surrogate in JSON string" },
    { CAPV_E_JSON_TRAILING, "json_trailing", "bytes after the JSON value" },
    { CAPV_E_JSON_DEPTH, "json_depth", "JSON nested too deeply" },
    { CAPV_E_TYPE, "wrong_type", "field has the wrong type" },
    { CAPV_E_RANGE, "out_of_range", "number out of range or not exact" },
    { CAPV_E_MISSING, "missing_field", "required field missing" },
    { CAPV_E_HEX, "bad_hex", "invalid hex" },
    { CAPV_E_BASE64, "bad_base64", "invalid base64" },
    { CAPV_E_LIMIT, "limit_exceeded", "size or count limit exceeded" },
    { CAPV_E_UNSAFE_PATH, "unsafe_path", "unsafe member name" },
    { CAPV_E_UNSUPPORTED_FORMAT, "unsupported_format", "unsupported format or version" },
    { CAPV_E_TRUNCATED, "truncated", "input truncated" },
    { CAPV_E_IO, "io_error", "input/output error" },
    { CAPV_E_NOT_FOUND, "not_found", "not found" },
    { CAPV_E_NETWORK, "network_error", "network error" },
    { CAPV_E_BUSY, "busy", "resource busy" },
    { CAPV_E_UNAVAILABLE, "unavailable", "service unavailable" },
    { CAPV_E_STORAGE, "storage", "the registry's storage failed (corrupt, read-only or full)" },
    { CAPV_E_INVALID_ARG, "invalid_argument", "invalid argument" },
    { CAPV_E_NOT_INITIALIZED, "not_initialized", "capv_global_init() not called" },
    { CAPV_E_UNSUPPORTED, "unsupported", "operation not supported" },
    { CAPV_E_BUFFER_TOO_SMALL, "buffer_too_small", "output buffer too small" },
    { CAPV_E_STATE, "bad_state", "operation not valid in the current state" },
    { CAPV_E_NOMEM, "out_of_memory", "out of memory" },
    { CAPV_E_INTERNAL, "internal_error", "internal error" },
    { CAPV_E_CRYPTO, "crypto_error", "cryptographic library failure" },
};

capv_status_class capv_status_class_of(capv_status status)
{
    int v = (int)status;
    if (v == 0)
        return CAPV_CLASS_OK;
    if (v < 100 || v > 599)
        return CAPV_CLASS_INTERNAL;
    return (capv_status_class)(v / 100);
}

const char *capv_status_class_name(capv_status_class cls)
{
    switch (cls) {
    case CAPV_CLASS_OK: return "ok";
    case CAPV_CLASS_REJECTED: return "rejected";
    case CAPV_CLASS_MALFORMED: return "malformed";
    case CAPV_CLASS_UNAVAILABLE: return "unavailable";
    case CAPV_CLASS_USAGE: return "usage";
    case CAPV_CLASS_INTERNAL: return "internal";
    }
    return "unknown";
}

const char *capv_status_name(capv_status status)
{
    for (size_t i = 0; i < sizeof status_table / sizeof status_table[0]; i++)
        if (status_table[i].code == status)
            return status_table[i].name;
    return "unknown";
}

const char *capv_strerror(capv_status status)
{
    for (size_t i = 0; i < sizeof status_table / sizeof status_table[0]; i++)
        if (status_table[i].code == status)
            return status_table[i].text;
    return "unknown status";
}

void capv_error_clear(capv_error *err)
{
    capvi_err_clear(err);
}

/* capv_error never grows, so it is written and copied whole, version included (status.h,
 * docs/abi.md): appending a field would make every call write past an older caller's. */
_Static_assert(CAPV_ERROR_VERSION == 1 &&
                   sizeof(capv_error) == offsetof(capv_error, message) + CAPV_ERROR_MESSAGE_SIZE,
               "capv_error never grows (include/capverify/status.h)");

capv_status capvi_err_set(capv_error *err, capv_status code, const char *field, const char *fmt,
                          ...)
{
    if (err == NULL)
        return code;
    err->version = CAPV_ERROR_VERSION;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    } else {
        snprintf(err->message, sizeof err->message, "%s", capv_strerror(code));
    }
    capvi_text_make_utf8(err->field);
    capvi_text_make_utf8(err->message);
    return code;
}

capv_status capvi_err_nomem(capv_error *err)
{
    return capvi_err_set(err, CAPV_E_NOMEM, NULL, NULL);
}

void capvi_err_clear(capv_error *err)
{
    if (err == NULL)
        return;
    err->version = CAPV_ERROR_VERSION;
    err->code = CAPV_OK;
    err->field[0] = '\0';
    err->message[0] = '\0';
}

capv_status capvi_err_done(capv_error *err, capv_status st)
{
    if (err == NULL)
        return st;
    if (st == CAPV_OK)
        capvi_err_clear(err);
    else if (err->code != st)
        capvi_err_set(err, st, NULL, NULL); /* a failure nothing described: its generic text */
    return st;
}

/* ---- versioned public structs (docs/abi.md) ------------------------------------------ */

capv_status capvi_struct_size(size_t *size, unsigned int version, const size_t *sizes, size_t n,
                              const char *what, capv_error *err)
{
    *size = 0;
    if (version == 0 || version >= n)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "version",
                             "%s version %u is not supported (this library knows 1 to %zu; "
                             "initialise the struct with its _INIT macro)",
                             what, version, n - 1);
    *size = sizes[version];
    return CAPV_OK;
}

capv_status capvi_struct_read(void *out, const void *in, const size_t *sizes, size_t n,
                              const char *what, capv_error *err)
{
    unsigned int version = 0, mine = 0;
    size_t size = 0;
    memcpy(&version, in, sizeof version);
    capv_status st = capvi_struct_size(&size, version, sizes, n, what, err);
    if (st != CAPV_OK)
        return st;
    memcpy(&mine, out, sizeof mine);
    memcpy(out, in, size); /* the fields of the caller's version; the rest keep defaults */
    memcpy(out, &mine, sizeof mine);
    return CAPV_OK;
}

void capvi_struct_write(void *out, const void *full, size_t size)
{
    unsigned int version;
    memcpy(&version, out, sizeof version);
    memcpy(out, full, size);
    memcpy(out, &version, sizeof version);
}

void capv_free(void *ptr)
{
    free(ptr);
}
