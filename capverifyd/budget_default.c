/* SPDX-License-Identifier: Apache-2.0 */
/* The memory budget used when server.memory_budget_bytes is 0 (docs/configuration.md):
 * 60 % of the memory limit of the process's cgroup, so request bodies never push the process
 * into the OOM killer, or 256 MiB when no limit is set.
 *
 * The limit is read under /sys/fs/cgroup, or under $CAPVD_CGROUP_ROOT when that is set (tests
 * point it at a fake tree): cgroup v2 `memory.max` ("max" = no limit), else cgroup v1
 * `memory/memory.limit_in_bytes`. The process's own cgroup comes from /proc/self/cgroup; its
 * directory and each ancestor up to the root are read and the smallest limit wins (a parent,
 * e.g. a Kubernetes pod, may set it). In a container with its own cgroup namespace the
 * process's cgroup is the root of the tree it sees, so that is the file read. */
#include "budget_default.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_LIMIT_BUDGET ((int64_t)256 * 1024 * 1024)
/* cgroup v1 reports "no limit" as a page-rounded LONG_MAX; nothing real is this large */
#define UNLIMITED_FROM ((int64_t)1 << 60)

enum { LIMIT_MISSING, LIMIT_NONE, LIMIT_SET };

/* Reads the first line of `path`: LIMIT_SET with *bytes, LIMIT_NONE for "max" or a v1
 * "unlimited" value, LIMIT_MISSING when the file cannot be read or holds anything else. */
static int read_limit(const char *path, int64_t *bytes)
{
    char line[64];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return LIMIT_MISSING;
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!got)
        return LIMIT_MISSING;
    line[strcspn(line, " \t\r\n")] = '\0';
    if (strcmp(line, "max") == 0)
        return LIMIT_NONE;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(line, &end, 10);
    if (errno != 0 || end == line || *end != '\0' || v <= 0)
        return LIMIT_MISSING;
    if (v >= UNLIMITED_FROM)
        return LIMIT_NONE;
    *bytes = (int64_t)v;
    return LIMIT_SET;
}

/* The cgroup path of this process in the v2 hierarchy (`v2`) or in the v1 memory
 * controller's, from /proc/self/cgroup; "" when not found (the root is then read). */
static void own_cgroup(char *out, size_t cap, bool v2)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (f == NULL)
        return;
    char line[4096];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        /* "ID:CONTROLLERS:PATH" */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c2 = '\0';
        const char *ctrls = c1 + 1, *path = c2 + 1;
        bool match = false;
        if (v2) {
            match = strcmp(line, "0") == 0 && *ctrls == '\0';
        } else {
            for (const char *p = ctrls; *p && !match;) {
                size_t n = strcspn(p, ",");
                match = n == 6 && strncmp(p, "memory", 6) == 0;
                p += n + (p[n] == ',');
            }
        }
        if (match && path[0] == '/') {
            snprintf(out, cap, "%s", strcmp(path, "/") == 0 ? "" : path);
            break;
        }
    }
    fclose(f);
}

/* The smallest limit in `file` of `dir`/`cg` and each ancestor up to `dir`. Returns
 * LIMIT_MISSING when no level has the file; the file holding the limit goes to `where`. */
static int tree_limit(const char *dir, const char *cg, const char *file, int64_t *bytes,
                      char *where, size_t wcap)
{
    char sub[4096];
    snprintf(sub, sizeof sub, "%s", cg);
    int found = LIMIT_MISSING;
    for (;;) {
        char path[8192];
        int64_t v = 0;
        snprintf(path, sizeof path, "%s%s/%s", dir, sub, file);
        int r = read_limit(path, &v);
        if (r != LIMIT_MISSING && found == LIMIT_MISSING)
            found = LIMIT_NONE;
        if (r == LIMIT_SET && (found != LIMIT_SET || v < *bytes)) {
            found = LIMIT_SET;
            *bytes = v;
            snprintf(where, wcap, "%s", path);
        }
        char *slash = strrchr(sub, '/');
        if (sub[0] == '\0')
            break;
        if (slash == NULL)
            slash = sub;
        *slash = '\0';
    }
    return found;
}

/* The cgroup's memory limit: LIMIT_SET with *limit and the file in `where`, else LIMIT_NONE
 * or LIMIT_MISSING; *root is the tree read. */
static int cgroup_limit(int64_t *limit, char *where, size_t wcap, const char **root)
{
    *root = getenv("CAPVD_CGROUP_ROOT");
    if (*root == NULL || **root == '\0')
        *root = "/sys/fs/cgroup";
    char cg[4096], dir[4096];
    own_cgroup(cg, sizeof cg, true);
    int r = tree_limit(*root, cg, "memory.max", limit, where, wcap);
    if (r == LIMIT_MISSING) {
        own_cgroup(cg, sizeof cg, false);
        snprintf(dir, sizeof dir, "%s/memory", *root);
        r = tree_limit(dir, cg, "memory.limit_in_bytes", limit, where, wcap);
    }
    return r;
}

int64_t capvd_memory_limit(void)
{
    const char *root = NULL;
    char where[8192];
    int64_t limit = 0;
    return cgroup_limit(&limit, where, sizeof where, &root) == LIMIT_SET ? limit : 0;
}

int64_t capvd_memory_budget_explain(char *why, size_t cap)
{
    const char *root = NULL;
    char where[8192] = "";
    int64_t limit = 0;
    int r = cgroup_limit(&limit, where, sizeof where, &root);
    if (r != LIMIT_SET) {
        if (why != NULL)
            snprintf(why, cap, "256 MiB: %s under %s",
                     r == LIMIT_NONE ? "the cgroup sets no memory limit"
                                     : "no cgroup memory limit found",
                     root);
        return NO_LIMIT_BUDGET;
    }
    int64_t budget = limit * 3 / 5; /* limit < 2^60: no overflow */
    if (why != NULL)
        snprintf(why, cap, "60%% of %" PRId64 " in %s", limit, where);
    return budget;
}

int64_t capvd_memory_budget_default(void)
{
    return capvd_memory_budget_explain(NULL, 0);
}
