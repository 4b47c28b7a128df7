/* SPDX-License-Identifier: Apache-2.0 */
/* The registry on PostgreSQL (docs/registry.md "PostgreSQL backend"): the storage
 * operations of registry_backend_int.h on a capvi_pg handle (registry_pg*.c), so that every
 * public entry point, the writer thread and the record queue work the same on both storages. */
#include <stdlib.h>
#include <string.h>

#include "registry_pg_int.h"
#include "registry_pg_list_int.h"
#include "registry_pgb_int.h"

/* A write that the server failed as a deadlock's victim, a serialization failure or a lock
 * timeout (CAPV_E_BUSY) runs again this many times at most, each time in a new batch. */
#define PG_BUSY_RETRIES 3

capv_status capvi_reg_pg_open(capv_registry *reg, const char *url, const capv_registry_options *o,
                              capv_error *err)
{
    reg->be = &capvi_reg_pg;
    capvi_pg_options po = {
        .url = url,
        .password_file = o->password_file,
        .read_only = reg->read_only,
        .migrate = (o->flags & CAPV_REGISTRY_NO_MIGRATE) == 0,
        .readers = o->readers ? o->readers : 1,
        .connect_timeout_ms = o->busy_timeout_ms,
    };
    capv_status st = capvi_pg_open(&reg->pg, &po, err);
    if (st != CAPV_OK)
        return st;
    reg->found_version = capvi_pg_found_version(reg->pg);
    if ((reg->path = strdup(capvi_pg_location(reg->pg))) == NULL)
        return capvi_err_nomem(err);
    return CAPV_OK;
}

static void pg_close(capv_registry *reg)
{
    capvi_pg_close(reg->pg);
    reg->pg = NULL;
}

static capv_status pg_begin(capv_registry *reg, bool durable, capv_error *err)
{
    return capvi_pg_begin(reg->pg, durable, err);
}

/* Commits made with synchronous_commit off reach the disk through the server's WAL writer
 * within three times its wal_writer_delay (200 ms by default) by themselves. */
static capv_status pg_sync(capv_registry *reg, capv_error *err)
{
    (void)reg;
    (void)err;
    return CAPV_OK;
}

static capv_status pg_commit(capv_registry *reg, capv_error *err)
{
    return capvi_pg_commit(reg->pg, err);
}

static void pg_rollback(capv_registry *reg)
{
    capvi_pg_rollback(reg->pg);
}

static capv_status pg_savepoint(capv_registry *reg, capv_error *err)
{
    return capvi_pg_savepoint(reg->pg, err);
}

static capv_status pg_release(capv_registry *reg, capv_error *err)
{
    return capvi_pg_release(reg->pg, err);
}

static capv_status pg_rollback_to(capv_registry *reg, capv_error *err)
{
    return capvi_pg_rollback_to(reg->pg, err);
}

static bool pg_in_transaction(capv_registry *reg)
{
    return capvi_pg_in_transaction(reg->pg);
}

static capv_status pg_entry_add(capv_registry_entry **stored, capv_registry *reg,
                                const capv_reg_entry_in *e, bool compare_registered_at,
                                capv_error *err)
{
    return capvi_pg_entry_add(stored, reg->pg, e, compare_registered_at, err);
}

static capv_status pg_record_batch(capv_registry *reg, capvi_reg_record **recs, size_t n,
                                   capv_error *err)
{
    capv_status st = capvi_pg_record(reg->pg, recs, n);
    /* a failure of the whole batch is carried by every record */
    if (st != CAPV_OK && err != NULL && n > 0)
        *err = recs[0]->err;
    return st;
}

static capv_status pg_policy_put(capv_registry *reg, const capv_registry_policy *p,
                                 const uint8_t policy_key[32], const uint8_t ir_key[32],
                                 const char *created_at, capv_error *err)
{
    return capvi_pg_policy_put(reg->pg, p, policy_key, ir_key, created_at, err);
}

static capv_status pg_prune_step(uint64_t *removed, capv_registry *reg, int64_t before_ms,
                                 size_t limit, capv_error *err)
{
    return capvi_pg_prune_step(removed, reg->pg, before_ms, limit, err);
}

static capv_status pg_probe(capv_registry *reg, capv_error *err)
{
    char at[CAPV_RFC3339_SIZE];
    capvi_reg_now(reg, at);
    return capvi_pg_probe(reg->pg, at, err);
}

static capv_status pg_verdict_mark(int64_t *mark, capv_registry *reg, capv_error *err)
{
    return capvi_pg_verdict_mark(mark, reg->pg, err);
}

static capv_status pg_leader(bool *leader, capv_registry *reg, capv_error *err)
{
    if (reg->read_only) {
        *leader = false;
        return CAPV_OK;
    }
    return capvi_pg_leader(leader, reg->pg, err);
}

static capv_status pg_entry_get(capv_registry_entry **out, capv_registry *reg, const char *id,
                                const uint8_t mk[32], const uint8_t pk[32], capv_error *err)
{
    return capvi_pg_entry_get(out, reg->pg, id, mk, pk, err);
}

static capv_status pg_entry_list(capv_registry_entry **items, size_t *n, capv_registry *reg,
                                 const uint8_t *mk, int64_t after, size_t limit, capv_error *err)
{
    return capvi_pg_entry_list(items, n, reg->pg, mk, after, limit, err);
}

static capv_status pg_count(uint64_t *out, capv_registry *reg, capv_registry_table t,
                            capv_error *err)
{
    return capvi_pg_count(out, reg->pg, t, err);
}

static capv_status pg_verification_get(capv_registry_verification **out, capv_registry *reg,
                                       const char *request_id, capv_error *err)
{
    return capvi_pg_verification_get(out, reg->pg, request_id, err);
}

static capv_status pg_policy_get(capv_registry_policy **out, capv_registry *reg, const char *key,
                                 capv_error *err)
{
    return capvi_pg_policy_get(out, reg->pg, key, err);
}

static capv_status pg_policy_head(capv_registry_policy **out, capv_registry *reg, const char *key,
                                  capv_error *err)
{
    return capvi_pg_policy_head(out, reg->pg, key, err);
}

static capv_status pg_verification_list(capv_registry_verification **items, size_t *n,
                                        capv_registry *reg, const char *result, int64_t before,
                                        size_t limit, capv_error *err)
{
    return capvi_pg_verification_list(items, n, reg->pg, result, before, limit, err);
}

static capv_status pg_policy_list(capv_registry_policy **items, int64_t *seqs, size_t *n,
                                  capv_registry *reg, int64_t after, size_t limit, capv_error *err)
{
    return capvi_pg_policy_list(items, seqs, n, reg->pg, after, limit, err);
}

const capvi_reg_backend capvi_reg_pg = {
    .name = "postgresql",
    .busy_retries = PG_BUSY_RETRIES,
    .close = pg_close,
    .begin = pg_begin,
    .sync = pg_sync,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .release = pg_release,
    .rollback_to = pg_rollback_to,
    .in_transaction = pg_in_transaction,
    .entry_add = pg_entry_add,
    .record_batch = pg_record_batch,
    .policy_put = pg_policy_put,
    .prune_step = pg_prune_step,
    .probe = pg_probe,
    .verdict_mark = pg_verdict_mark,
    .leader = pg_leader,
    .entry_get = pg_entry_get,
    .entry_list = pg_entry_list,
    .count = pg_count,
    .verification_get = pg_verification_get,
    .policy_get = pg_policy_get,
    .policy_head = pg_policy_head,
    .verification_list = pg_verification_list,
    .policy_list = pg_policy_list,
};
