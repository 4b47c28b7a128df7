/* SPDX-License-Identifier: Apache-2.0 */
/* Package internals shared with the verifier. */
#ifndef CAPV_PACKAGE_INT_H
#define CAPV_PACKAGE_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "error_int.h"

struct capv_package_limits {
    uint64_t entries;
    uint64_t total_bytes;
    uint64_t entry_bytes;
    uint64_t ratio;
    uint64_t verify_bytes; /* CAPV_LIMIT_VERIFY_BYTES */
};

/* How zip members are read (docs/architecture.md, "Packages"): in chunks of CAPV_PKG_CHUNK
 * bytes; a member's bytes are kept at load only when it is at most CAPV_PKG_KEEP_MEMBER and
 * the kept bytes stay within CAPV_PKG_KEEP_TOTAL; every other member is decompressed again
 * when its bytes are asked for. */
#define CAPV_PKG_CHUNK ((size_t)64 * 1024)
#define CAPV_PKG_KEEP_MEMBER ((uint64_t)1024 * 1024)
#define CAPV_PKG_KEEP_TOTAL ((uint64_t)2 * 1024 * 1024)

typedef struct capv_member {
    char *name;
    /* The bytes. Held members (every member of directory and JSON packages, zip members
     * kept at load) have them from the start and never change. A zip member that was not
     * kept (`stream`) has NULL until capv_package_member_data() loads it; that pointer is
     * read and written under the package's lock. */
    uint8_t *data;
    size_t len;
    bool stream;
    uint64_t zindex;  /* entry index in the archive (zip packages) */
    bool has_sha3;    /* under the package's lock */
    uint8_t sha3[32]; /* SHA3-256 of the bytes: computed while loading a zip */
} capv_member;

struct capv_package {
    struct capv_package_limits limits;
    capv_member *members; /* sorted by name once loading finished */
    size_t count;
    size_t cap;
    uint64_t total;   /* sum of member sizes */
    uint64_t entries; /* members + directories seen */
    char *source;
    /* zip packages: the archive stays open over the package's own copy of its bytes */
    struct zip *za;
    uint8_t *zbuf;
    size_t zlen;
    uint64_t kept;        /* bytes of zip members kept at load */
    pthread_mutex_t lock; /* guards za, stream members' data and has_sha3/sha3 */
};

/* Default limits (daemon values). */
void capvi_package_limits_default(struct capv_package_limits *l);

/* Checks a member name (docs/formats.md, "CAP packages"): relative, '/'-separated, no empty, "." or
 * ".." components, no backslash or control characters, valid UTF-8, at most 1024 bytes. */
capv_status capvi_package_check_name(const char *name, size_t len, capv_error *err);

/* An upper bound of the number of values in a JSON text (cJSON makes one node per value):
 * 1 + the ',', '[' and '{' outside strings, whatever the text is, so a parse can be priced
 * before it is done. The counter takes the text in pieces; capvi_pkg_json_values whole. */
typedef struct capv_json_counter {
    uint64_t values;
    bool in_string;
    bool escaped;
} capv_json_counter;

#define CAPV_JSON_COUNTER_INIT                                                                     \
    {                                                                                              \
        1, false, false                                                                            \
    }

void capvi_pkg_json_count(capv_json_counter *c, const uint8_t *d, size_t len);
uint64_t capvi_pkg_json_values(const uint8_t *d, size_t len);

/* Index of the member named `name`: true when there is one. */
bool capvi_package_index(const capv_package *p, const char *name, size_t *index);

/* SHA3-256 of member `index`'s bytes, without holding them: zip members have it from the
 * load; held members are hashed once. */
capv_status capvi_package_member_sha3(const capv_package *p, size_t index, uint8_t out[32],
                                      capv_error *err);

/* A member's bytes for one use. `data` is borrowed from the package when the member is held
 * (or was loaded by capv_package_member_data); otherwise the member is decompressed again
 * into `owned`, checked against its load-time SHA3-256, and freed by
 * capvi_member_view_release(), so reading does not grow the package. */
typedef struct capv_member_view {
    const uint8_t *data;
    size_t len;
    uint8_t *owned;
} capv_member_view;

capv_status capvi_package_member_view(const capv_package *p, size_t index, capv_member_view *v,
                                      capv_error *err);
void capvi_member_view_release(capv_member_view *v);

#endif
