/* CAP packages (SPEC §3.2): a directory, a .zip file, or a zip held in memory, loaded into
 * memory as a set of named members with every safety limit enforced before the work it
 * bounds. Loading does not interpret the members; capv_verify_package() does. */
#ifndef CAPVERIFY_PACKAGE_H
#define CAPVERIFY_PACKAGE_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ---------------------------------------------------------------------------- */

typedef enum capv_limit {
    CAPV_LIMIT_ENTRIES = 1,     /* members (zip entries incl. directories), default 10,000 */
    CAPV_LIMIT_TOTAL_BYTES = 2, /* sum of uncompressed sizes, default 64 MiB (daemon) */
    CAPV_LIMIT_ENTRY_BYTES = 3, /* one member's uncompressed size, default = total */
    CAPV_LIMIT_RATIO = 4        /* uncompressed / compressed size of an entry, default 100 */
} capv_limit;

#define CAPV_DEFAULT_MAX_ENTRIES 10000u
#define CAPV_DEFAULT_MAX_TOTAL_BYTES (64u * 1024u * 1024u)
#define CAPV_CLI_MAX_TOTAL_BYTES (512u * 1024u * 1024u)
#define CAPV_DEFAULT_MAX_RATIO 100u
/* Entries smaller than this are exempt from the ratio limit: they cannot amplify much, and
 * small repetitive JSON legitimately compresses well. */
#define CAPV_RATIO_EXEMPT_BYTES (64u * 1024u)

/* A set of limits. Copied by whoever takes it; immutable while shared. */
typedef struct capv_package_limits capv_package_limits;

/* New limits with the daemon defaults above. */
CAPV_API capv_status capv_package_limits_new(capv_package_limits **out, capv_error *err);
/* Sets one limit; 0 is invalid (CAPV_E_INVALID_ARG). Setting TOTAL_BYTES also lowers
 * ENTRY_BYTES to it when ENTRY_BYTES was larger. */
CAPV_API capv_status capv_package_limits_set(capv_package_limits *limits, capv_limit which,
                                             uint64_t value, capv_error *err);
CAPV_API uint64_t capv_package_limits_get(const capv_package_limits *limits, capv_limit which);
CAPV_API void capv_package_limits_free(capv_package_limits *limits);

/* ---- packages -------------------------------------------------------------------------- */

typedef struct capv_package capv_package;

/* Loaders. `limits` NULL = defaults. Statuses: CAPV_E_LIMIT (a limit exceeded),
 * CAPV_E_UNSAFE_PATH (a name with "..", an absolute path, a backslash, a control character,
 * an empty component, a duplicate, a symlink or special file), CAPV_E_MALFORMED /
 * CAPV_E_TRUNCATED (not a readable zip, CRC or size mismatch), CAPV_E_NOT_FOUND / CAPV_E_IO.
 * err->field names the offending member. The result is immutable; free with
 * capv_package_free(). */
CAPV_API capv_status capv_package_open_dir(capv_package **out, const char *path,
                                           const capv_package_limits *limits, capv_error *err);
CAPV_API capv_status capv_package_open_zip(capv_package **out, const char *path,
                                           const capv_package_limits *limits, capv_error *err);
/* The zip is read from `data` (copied only member by member; `data` may be freed after). */
CAPV_API capv_status capv_package_open_zip_memory(capv_package **out, const uint8_t *data,
                                                  size_t len, const capv_package_limits *limits,
                                                  capv_error *err);
/* A directory or a zip file, by what `path` is. */
CAPV_API capv_status capv_package_open(capv_package **out, const char *path,
                                       const capv_package_limits *limits, capv_error *err);

/* Building a package from members held by the caller (e.g. a JSON upload). Each member is
 * copied and checked like a zip entry (name rules, duplicates, limits). */
CAPV_API capv_status capv_package_new(capv_package **out, const capv_package_limits *limits,
                                      capv_error *err);
CAPV_API capv_status capv_package_add_member(capv_package *pkg, const char *name,
                                             const uint8_t *data, size_t len, capv_error *err);

/* A package sent as JSON, {"package": {"<member name>": "<standard base64>", ...}} (the
 * JSON form of the daemon's POST /verify). Members are checked like zip entries; other
 * top-level keys are CAPV_E_MALFORMED. */
CAPV_API capv_status capv_package_open_json(capv_package **out, const uint8_t *json, size_t len,
                                            const capv_package_limits *limits, capv_error *err);

CAPV_API void capv_package_free(capv_package *pkg);

/* Members, sorted by name (byte order). Borrowed pointers, valid while the package lives. */
CAPV_API size_t capv_package_member_count(const capv_package *pkg);
CAPV_API const char *capv_package_member_name(const capv_package *pkg, size_t index);
CAPV_API const uint8_t *capv_package_member_data(const capv_package *pkg, size_t index,
                                                 size_t *len);
/* Looks a member up by exact name: CAPV_OK or CAPV_E_NOT_FOUND. */
CAPV_API capv_status capv_package_find(const capv_package *pkg, const char *name,
                                       const uint8_t **data, size_t *len);
/* Where the package came from: the path given, or "<memory>". */
CAPV_API const char *capv_package_source(const capv_package *pkg);

#ifdef __cplusplus
}
#endif

#endif
