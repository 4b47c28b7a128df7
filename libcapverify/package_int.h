/* Package internals shared with the verifier. */
#ifndef CAPV_PACKAGE_INT_H
#define CAPV_PACKAGE_INT_H

#include "error_int.h"

struct capv_package_limits {
    uint64_t entries;
    uint64_t total_bytes;
    uint64_t entry_bytes;
    uint64_t ratio;
};

typedef struct capv_member {
    char *name;
    uint8_t *data;
    size_t len;
} capv_member;

struct capv_package {
    struct capv_package_limits limits;
    capv_member *members; /* sorted by name once loading finished */
    size_t count;
    size_t cap;
    uint64_t total;       /* sum of member sizes */
    uint64_t entries;     /* members + directories seen */
    char *source;
};

/* Default limits (daemon values). */
void capv_package_limits_default(struct capv_package_limits *l);

/* Checks a member name (SPEC §3.2): relative, '/'-separated, no empty, "." or ".."
 * components, no backslash or control characters, valid UTF-8, at most 1024 bytes. */
capv_status capv_package_check_name(const char *name, size_t len, capv_error *err);

#endif
