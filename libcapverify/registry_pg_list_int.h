/* SPDX-License-Identifier: Apache-2.0 */
/* Listings of the PostgreSQL registry (registry_pg_list.c), as the backend's
 * verification_list and policy_list (registry_backend_int.h): newest-first verifications
 * with seq < before (0: no bound) and `result` unless NULL, report_json NULL; policies with
 * seq > after by seq, ir_json NULL, their seq into seqs. At most `limit` into the caller's
 * slots, on a connection of the reader pool. */
#ifndef CAPV_REGISTRY_PG_LIST_INT_H
#define CAPV_REGISTRY_PG_LIST_INT_H

#include "registry_pg_conn_int.h"

capv_status capvi_pg_verification_list(capv_registry_verification **items, size_t *n, capvi_pg *pg,
                                       const char *result, int64_t before, size_t limit,
                                       capv_error *err);
capv_status capvi_pg_policy_list(capv_registry_policy **items, int64_t *seqs, size_t *n,
                                 capvi_pg *pg, int64_t after, size_t limit, capv_error *err);

#endif
