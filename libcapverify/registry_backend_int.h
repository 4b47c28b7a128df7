/* SPDX-License-Identifier: Apache-2.0 */
/* The registry's storage interface (docs/registry.md "Backends"): what the public entry
 * points (registry.c, registry_json.c) and the write path (registry_writer.c) ask of a
 * storage, implemented by SQLite (registry_sqlite.c, the embedded default: one file, one
 * writer process) and PostgreSQL (registry_pgb.c over registry_pg*.c: one database, many
 * replicas). Validation, defaults, signatures, report summaries and the comparisons that
 * tell a retry from a conflict (capvi_reg_entry_compare, capvi_reg_record_compare) happen
 * above it, once, for both; a storage only stores, finds and compares what it found.
 *
 * Writes run on the writer (one at a time per handle) inside begin … commit, each in its own
 * savepoint; reads run on any thread. Every status follows the registry's error contract:
 * CAPV_E_STORAGE for storage faults (with the reason), CAPV_E_BUSY for a lock that did not
 * come, CAPV_E_NOT_FOUND for a look-up that found nothing. */
#ifndef CAPV_REGISTRY_BACKEND_INT_H
#define CAPV_REGISTRY_BACKEND_INT_H

#include "registry_entry_int.h"
#include "registry_record_int.h"

struct capvi_reg_backend {
    const char *name; /* "sqlite", "postgresql" */
    /* How many more times a write runs, each time in a later batch, while the storage
     * answers it CAPV_E_BUSY: a deadlock or a serialization failure among the writers that
     * share the storage, which a new transaction overcomes (docs/registry.md "Writes across
     * replicas"). 0: the storage has no other writer. */
    unsigned int busy_retries;
    void (*close)(capv_registry *reg);

    /* ---- the write path ---- */
    /* `durable`: the commit returns only once the batch is on disk. Otherwise (a batch of
     * queued records only) it may return before, and a later durable commit makes it so. */
    capv_status (*begin)(capv_registry *reg, bool durable, capv_error *err);
    /* Makes every commit so far durable (after commits that were not). */
    capv_status (*sync)(capv_registry *reg, capv_error *err);
    capv_status (*commit)(capv_registry *reg, capv_error *err);
    void (*rollback)(capv_registry *reg);
    capv_status (*savepoint)(capv_registry *reg, capv_error *err);
    capv_status (*release)(capv_registry *reg, capv_error *err);
    capv_status (*rollback_to)(capv_registry *reg, capv_error *err);
    /* Whether the batch's transaction is still open: a storage may roll it back by itself
     * after a fault, and then no write of the batch was committed. */
    bool (*in_transaction)(capv_registry *reg);
    /* A prepared entry: CAPV_OK with *stored (may be NULL) the new row, or CAPV_E_EXISTS /
     * CAPV_E_CONFLICT (capvi_reg_entry_compare) with *stored the row found. */
    capv_status (*entry_add)(capv_registry_entry **stored, capv_registry *reg,
                             const capv_reg_entry_in *e, bool compare_registered_at,
                             capv_error *err);
    /* Prepared records, in order: each gets st (CAPV_OK and seq, CAPV_E_EXISTS,
     * CAPV_E_CONFLICT) and err. A status other than CAPV_OK is the storage's: none of the
     * batch counts as stored. */
    capv_status (*record_batch)(capv_registry *reg, capvi_reg_record **recs, size_t n,
                                capv_error *err);
    /* A validated policy: CAPV_OK, CAPV_E_EXISTS or CAPV_E_CONFLICT. */
    capv_status (*policy_put)(capv_registry *reg, const capv_registry_policy *p,
                              const uint8_t policy_key[32], const uint8_t ir_key[32],
                              const char *created_at, capv_error *err);
    /* Up to `limit` verifications older than before_ms and the report bodies they leave. */
    capv_status (*prune_step)(uint64_t *removed, capv_registry *reg, int64_t before_ms,
                              size_t limit, capv_error *err);
    /* A small real write or round trip: succeeds when the storage works again. */
    capv_status (*probe)(capv_registry *reg, capv_error *err);
    /* A number that changes whenever anyone adds entries or policies to the storage (what
     * a verification looks up), for storages that other processes write (NULL: only this
     * handle writes, and its commits are counted).
     * The writer thread reads it every REG_WATCH_INTERVAL_MS. */
    capv_status (*verdict_mark)(int64_t *mark, capv_registry *reg, capv_error *err);
    /* Whether this handle is the one that runs retention and scheduled backups among all
     * that share the storage (capv_registry_leader). */
    capv_status (*leader)(bool *leader, capv_registry *reg, capv_error *err);

    /* ---- reads, any thread ---- */
    /* By id when id != NULL, else by the digests. */
    capv_status (*entry_get)(capv_registry_entry **out, capv_registry *reg, const char *id,
                             const uint8_t mk[32], const uint8_t pk[32], capv_error *err);
    /* seq > after (manifest key mk only, unless NULL), by seq, at most limit into items. */
    capv_status (*entry_list)(capv_registry_entry **items, size_t *n, capv_registry *reg,
                              const uint8_t *mk, int64_t after, size_t limit, capv_error *err);
    capv_status (*count)(uint64_t *out, capv_registry *reg, capv_registry_table t, capv_error *err);
    capv_status (*verification_get)(capv_registry_verification **out, capv_registry *reg,
                                    const char *request_id, capv_error *err);
    /* `key` a policy hash (digest) or a policy id (its newest version); ir_bytes set. */
    capv_status (*policy_get)(capv_registry_policy **out, capv_registry *reg, const char *key,
                              capv_error *err);
    /* As policy_get, without reading the IR text (ir_json NULL): ir_bytes is its size as the
     * storage knows it, so that nothing the size of the text is allocated. */
    capv_status (*policy_head)(capv_registry_policy **out, capv_registry *reg, const char *key,
                               capv_error *err);
    /* seq < before, with `result` only unless NULL, newest first, at most limit into items
     * (report_json NULL). */
    capv_status (*verification_list)(capv_registry_verification **items, size_t *n,
                                     capv_registry *reg, const char *result, int64_t before,
                                     size_t limit, capv_error *err);
    /* seq > after, by seq, at most limit into items (ir_json NULL, ir_bytes set as by
     * policy_head), their seq into seqs. */
    capv_status (*policy_list)(capv_registry_policy **items, int64_t *seqs, size_t *n,
                               capv_registry *reg, int64_t after, size_t limit, capv_error *err);
};

#endif
