/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: the memory budget that server.memory_budget_bytes = 0 stands for
 * (budget_default.c, docs/configuration.md). */
#ifndef CAPVD_BUDGET_DEFAULT_H
#define CAPVD_BUDGET_DEFAULT_H

#include <stddef.h>
#include <stdint.h>

/* 60 % of the cgroup's memory limit (v2 memory.max, else v1 memory/memory.limit_in_bytes,
 * under /sys/fs/cgroup or $CAPVD_CGROUP_ROOT), or 256 MiB when there is none. Reads the files
 * on every call. */
int64_t capvd_memory_budget_default(void);
/* The same, also writing how it was derived ("60% of /sys/fs/cgroup/memory.max = …") into
 * `why` (may be NULL). */
int64_t capvd_memory_budget_explain(char *why, size_t cap);
/* The cgroup's memory limit in bytes as read above (the smallest of the process's cgroup and
 * its ancestors), 0 when there is none. Reads the files on every call: the metric
 * cap_verifier_memory_limit_bytes. */
int64_t capvd_memory_limit(void);

#endif
