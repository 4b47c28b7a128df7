/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * CAP packages (docs/formats.md, "CAP packages"): a directory, a .zip file, or a zip held in
 * memory, loaded as a set of named members with every safety limit enforced before the work it
 * bounds. Loading does not interpret the members; capv_verify_package() does.
 *
 * Memory: a zip package keeps its own copy of the archive (compressed) and the bytes of its
 * small members (each at most 1 MiB, together at most 2 MiB); every other member is
 * decompressed in 64 KiB chunks while loading, for its checks and its SHA3-256, and again
 * when its bytes are asked for. Directory and JSON packages hold every member.
 * capv_package_memory_bound() gives what loading and verifying a body may cost. */
#ifndef CAPVERIFY_PACKAGE_H
#define CAPVERIFY_PACKAGE_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ---------------------------------------------------------------------------- */

/** Since 0.1 (CAPV_LIMIT_VERIFY_BYTES since 0.2). */
typedef enum capv_limit {
    CAPV_LIMIT_ENTRIES = 1,     /**< members (zip entries incl. directories), default 10,000 */
    CAPV_LIMIT_TOTAL_BYTES = 2, /**< sum of uncompressed sizes, default 64 MiB (daemon) */
    CAPV_LIMIT_ENTRY_BYTES = 3, /**< one member's uncompressed size, default = total */
    CAPV_LIMIT_RATIO = 4,       /**< uncompressed / compressed size of an entry, default 100 */
    /** Memory a verification may spend on what it reads whole — _meta.json, manifests,
     * proofs, timestamp tokens, audit logs: their bytes and parse trees — and on the report's
     * details, each priced before it is made from its size and JSON value count; default
     * 16 MiB (daemon), 256 MiB (capv_verify_path's default). A member that does not fit fails
     * its check (package.layout for _meta.json, manifest.schema, proof.container, timestamp,
     * audit);
     * details that do not fit are left out of the report and counted ("<list>_omitted").
     * The package's limits apply when it is verified. Since 0.1. */
    CAPV_LIMIT_VERIFY_BYTES = 5
} capv_limit;

/** @{ */
/** Default limits: the daemon's (DEFAULT) and capv_verify_path()'s (CLI). Since 0.1. */
#define CAPV_DEFAULT_MAX_ENTRIES 10000u
#define CAPV_DEFAULT_MAX_TOTAL_BYTES (64u * 1024u * 1024u)
#define CAPV_CLI_MAX_TOTAL_BYTES (512u * 1024u * 1024u)
#define CAPV_DEFAULT_MAX_RATIO 100u
#define CAPV_DEFAULT_MAX_VERIFY_BYTES (16u * 1024u * 1024u)
#define CAPV_CLI_MAX_VERIFY_BYTES (256u * 1024u * 1024u)
/** @} */
/** Entries smaller than this are exempt from the ratio limit: they cannot amplify much, and
 * small repetitive JSON legitimately compresses well. Since 0.1. */
#define CAPV_RATIO_EXEMPT_BYTES (64u * 1024u)

/** A set of limits. Copied by whoever takes it; immutable while shared. Since 0.1. */
typedef struct capv_package_limits capv_package_limits;

/** New limits with the daemon defaults above; free with capv_package_limits_free().
 * Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_package_limits_new(capv_package_limits **out,
                                                                     capv_error *err);
/** Sets one limit; 0 is invalid (CAPV_E_INVALID_ARG). Setting TOTAL_BYTES also lowers
 * ENTRY_BYTES to it when ENTRY_BYTES was larger. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_package_limits_set(capv_package_limits *limits,
                                                                     capv_limit which,
                                                                     uint64_t value,
                                                                     capv_error *err);
/** The current value of one limit (0 for an unknown `which`). Since 0.1. */
CAPV_API uint64_t capv_package_limits_get(const capv_package_limits *limits, capv_limit which);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_package_limits_free(capv_package_limits *limits);

/* ---- packages -------------------------------------------------------------------------- */

/** A loaded package: immutable, safe to share between threads. Since 0.1. */
typedef struct capv_package capv_package;

/** Loaders. `limits` NULL = defaults. Statuses: CAPV_E_LIMIT (a limit exceeded),
 * CAPV_E_UNSAFE_PATH (a name with "..", an absolute path, a backslash, NUL, a control
 * character (C0, DEL, C1), an empty component, a duplicate, a symlink or special file),
 * CAPV_E_MALFORMED / CAPV_E_TRUNCATED (not a readable zip, CRC or size mismatch, a
 * compression method but deflate and stored, an encrypted entry), CAPV_E_NOT_FOUND / CAPV_E_IO.
 * err->field names the offending member. The result is immutable; free with
 * capv_package_free().
 *
 * A directory. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_package_open_dir(
    capv_package **out, const char *path, const capv_package_limits *limits, capv_error *err);
/** A zip file. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_package_open_zip(
    capv_package **out, const char *path, const capv_package_limits *limits, capv_error *err);
/** A zip read from `data`, which the package copies (`data` may be freed after). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_package_open_zip_memory(capv_package **out, const uint8_t *data, size_t len,
                             const capv_package_limits *limits, capv_error *err);
/** A directory or a zip file, by what `path` is. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_package_open(capv_package **out, const char *path,
                                                               const capv_package_limits *limits,
                                                               capv_error *err);

/** Building a package from members held by the caller (e.g. a JSON upload): an empty package,
 * then each member copied and checked like a zip entry (name rules, duplicates, limits).
 * Not thread-safe while being built. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_package_new(capv_package **out,
                                                              const capv_package_limits *limits,
                                                              capv_error *err);
/** Adds one member (copied). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_package_add_member(capv_package *pkg,
                                                                     const char *name,
                                                                     const uint8_t *data,
                                                                     size_t len, capv_error *err);

/** A package sent as JSON, {"package": {"<member name>": "<standard base64>", ...}} (the
 * JSON form of the daemon's POST /verify, see capv_verify_json_form()). Members are checked
 * like zip entries; other top-level keys are CAPV_E_MALFORMED. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_package_open_json(capv_package **out, const uint8_t *json, size_t len,
                       const capv_package_limits *limits, capv_error *err);

/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_package_free(capv_package *pkg);

/** Members, sorted by name (byte order). Borrowed pointers, valid while the package lives.
 * The bytes of a zip member that was not kept are decompressed on the first call and then
 * held by the package until it is freed: asking for every member of a large zip costs its
 * expanded size. member_data returns NULL when that fails (out of memory). Safe to call from
 * several threads on the same package.
 *
 * The number of members. Since 0.1. */
CAPV_API size_t capv_package_member_count(const capv_package *pkg);
/** The name of member `index`, or NULL when out of range. Since 0.1. */
CAPV_API const char *capv_package_member_name(const capv_package *pkg, size_t index);
/** The bytes of member `index` and their length in `*len`, or NULL. Since 0.1. */
CAPV_API const uint8_t *capv_package_member_data(const capv_package *pkg, size_t index,
                                                 size_t *len);
/** Looks a member up by exact name: CAPV_OK or CAPV_E_NOT_FOUND; `*data` and `*len` (each may
 * be NULL; with `data` NULL nothing is decompressed) receive its bytes as above, which can
 * also fail with CAPV_E_NOMEM. Since 0.1; outputs first and `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_package_find(const uint8_t **data, size_t *len,
                                                               const capv_package *pkg,
                                                               const char *name, capv_error *err);
/** Where the package came from: the path given, or "<memory>". Since 0.1. */
CAPV_API const char *capv_package_source(const capv_package *pkg);

/** An upper bound, in bytes, of the memory the library holds while it loads and verifies a
 * package body of `body_len` bytes under `limits` (NULL = defaults): a zip
 * (capv_verify_zip_memory, capv_verify_zip_memory_json) or a JSON package
 * (capv_verify_package_json), the report and its JSON text included; the caller's own copy
 * of the body and a report cache's entries are not. For a server to reserve before it reads
 * a body. With B = body_len, E = CAPV_LIMIT_ENTRIES, V = CAPV_LIMIT_VERIFY_BYTES:
 *
 * @verbatim
 *   zip  = 4 B                       the package's copy of the archive; names, comments and
 *                                    extra fields as libzip and the package hold them
 *        + min(E, B / 46 + 1) 2 KiB  libzip's and the package's records of an entry (a
 *                                    central directory record takes at least 46 bytes)
 *        + 3 MiB + 64 KiB            kept members (2 MiB), one read chunk, the decompressor
 *                                    and a local header's extra fields
 *   json = 2 B                       the parsed body's strings and the decoded members
 *        + min(E, B / 6 + 1) 512     a member's node, key and record ("a":"", is 6 bytes)
 *   bound = max(zip, json) + V + 1 MiB (the verification's fixed state)
 * @endverbatim
 *
 * V bounds everything verification makes from what it reads (parse trees, report details),
 * because it is charged before it is made. Members are hashed by streaming, so nothing in
 * the bound grows with how far they expand: with the default limits a 1.5 MB zip expanding
 * to 60 MiB is bounded by about 46 MiB (20 MiB for 10,000 entries, 16 MiB for V), not by
 * 150 MiB (B x ratio). The constants were measured against glibc malloc on 64-bit Linux with
 * hostile archives (tests/unit/test_verify.c). Always CAPV_OK but for `out` NULL
 * (CAPV_E_INVALID_ARG). Thread-safe. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_package_memory_bound(
    uint64_t *out, const capv_package_limits *limits, uint64_t body_len, capv_error *err);

#ifdef __cplusplus
}
#endif

#endif
