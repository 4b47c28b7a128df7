/* SPDX-License-Identifier: Apache-2.0 */
/* Listing recorded verifications and stored policies in the PostgreSQL registry
 * (docs/registry.md, "Listing verifications"): the same rows, order and pages as the SQLite
 * storage gives (registry_sqlite.c), on a connection of the reader pool. */
#include <stdint.h>
#include <stdlib.h>

#include "registry_pg_conn_int.h"
#include "registry_pg_list_int.h"
#include "registry_record_int.h"

capv_status capvi_pg_verification_list(capv_registry_verification **items, size_t *n, capvi_pg *pg,
                                       const char *result, int64_t before, size_t limit,
                                       capv_error *err)
{
    *n = 0;
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    capvi_pg_param_int(&p, before > 0 ? before : INT64_MAX);
    capvi_pg_param_int(&p, (int64_t)limit);
    if (result != NULL)
        capvi_pg_param_text(&p, result);
    PGresult *r = NULL;
    capv_status st = capvi_pg_read(
        &r, pg, "listing verifications",
        result ? "SELECT seq, request_id, subject, manifest_hash, proof_hash, policy_hash, result, "
                 "verified_at FROM verifications WHERE seq < $1 AND result = $3 ORDER BY seq "
                 "DESC LIMIT $2"
               : "SELECT seq, request_id, subject, manifest_hash, proof_hash, policy_hash, result, "
                 "verified_at FROM verifications WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
        &p, err);
    for (int i = 0; st == CAPV_OK && i < PQntuples(r) && (size_t)i < limit; i++) {
        /* request_id, subject, manifest_hash, proof_hash, policy_hash, result, -, at */
        const char *text[8] = { NULL };
        for (int k = 0; k < 6; k++)
            text[k] = capvi_pg_text(r, i, k + 1);
        text[7] = capvi_pg_text(r, i, 7);
        if ((items[i] = capvi_reg_verification_from_texts(capvi_pg_int(r, i, 0), text)) == NULL)
            st = capvi_err_nomem(err);
        else
            *n = (size_t)i + 1;
    }
    PQclear(r);
    return st;
}

capv_status capvi_pg_policy_list(capv_registry_policy **items, int64_t *seqs, size_t *n,
                                 capvi_pg *pg, int64_t after, size_t limit, capv_error *err)
{
    *n = 0;
    capvi_pg_params p = CAPVI_PG_PARAMS_INIT;
    capvi_pg_param_int(&p, after);
    capvi_pg_param_int(&p, (int64_t)limit);
    PGresult *r = NULL;
    capv_status st =
        capvi_pg_read(&r, pg, "listing policies",
                      "SELECT seq, policy_id, policy_version, policy_hash, ir_hash, created_at, "
                      "octet_length(ir) FROM policies WHERE seq > $1 ORDER BY seq LIMIT $2",
                      &p, err);
    for (int i = 0; st == CAPV_OK && i < PQntuples(r) && (size_t)i < limit; i++) {
        /* policy_id, policy_version, policy_hash, ir_hash, -, created_at */
        const char *text[6] = { capvi_pg_text(r, i, 1),
                                capvi_pg_text(r, i, 2),
                                capvi_pg_text(r, i, 3),
                                capvi_pg_text(r, i, 4),
                                NULL,
                                capvi_pg_text(r, i, 5) };
        if ((items[i] = capvi_reg_policy_from_texts(text)) == NULL) {
            st = capvi_err_nomem(err);
        } else {
            items[i]->ir_bytes = (uint64_t)capvi_pg_int(r, i, 6);
            seqs[i] = capvi_pg_int(r, i, 0);
            *n = (size_t)i + 1;
        }
    }
    PQclear(r);
    return st;
}
