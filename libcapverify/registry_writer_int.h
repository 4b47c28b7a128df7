/* SPDX-License-Identifier: Apache-2.0 */
/* The registry's write path (registry_writer.c, docs/registry.md "The writer thread"): write
 * requests, the batch executor, submission (to the writer thread or directly), the writer
 * thread itself, and pruning. Above the connection layer (registry_db_int.h), beside the
 * entries (registry_entry_int.h); neither knows the other. */
#ifndef CAPV_REGISTRY_WRITER_INT_H
#define CAPV_REGISTRY_WRITER_INT_H

#include <stdatomic.h>

#include "registry_backend_int.h"

/* A unit of work for the write connection, run inside a transaction (in its own savepoint).
 * `run` returns CAPV_OK when it changed something that must be committed; any other status
 * rolls its savepoint back. If the enclosing commit then fails, `undo` (may be NULL) releases
 * what `run` produced for the caller. */
struct capv_reg_write {
    capv_status (*run)(capv_registry *reg, void *arg, capv_error *err);
    capvi_reg_record *rec; /* instead of run: a verification record (batched together) */
    bool queued;           /* rec was queued (asynchronous recording): nobody waits for it */
    /* rec runs in a savepoint of its own, not in one statement with the batch's other
     * records (a suspect: capv_reg_queued) */
    bool alone;
    void (*undo)(void *arg);
    void *arg;
    bool changes_verdicts; /* entries or policies: a successful run bumps the generation */
    bool once;             /* `run` cannot start over: never run again (busy_retries) */
    /* an entry's manifest and proof keys (64 bytes, the caller's), or NULL: the batch runs
     * such writes in their order (docs/registry.md "Writes across replicas") */
    const uint8_t *order_key;
    /* filled by the executor */
    capv_status st;
    capv_error err;
    size_t pos;  /* the write's place in its batch */
    bool shared; /* st is the failure of rec's statement, which it did not run in alone */
    /* writer-thread queue */
    struct capv_reg_write *next;
    bool done;
    pthread_cond_t cond;
};

/* A report body shared by the registry's memo of recent report texts and the queued records
 * that carry it (a cached verdict recorded again and again): immutable, freed by the last
 * capvi_reg_body_put. */
typedef struct capvi_reg_body {
    atomic_size_t refs;
    size_t len;
    char text[]; /* len bytes and a NUL */
} capvi_reg_body;

/* A body of a copy of text[0..len) with one reference, or NULL when out of memory. */
capvi_reg_body *capvi_reg_body_new(const char *text, size_t len);
/* Another reference to `b` (returned); capvi_reg_body_put gives one back (NULL: nothing). */
capvi_reg_body *capvi_reg_body_get(capvi_reg_body *b);
void capvi_reg_body_put(capvi_reg_body *b);

/* A verification record waiting for the writer (asynchronous recording): `w` runs `rec`;
 * the subject lives in the same allocation, and the body too unless `body` holds it (a
 * reference, given back with the record). The writer frees it once written or refused
 * (capvi_reg_queued_free); a batch that failed on the storage is retried
 * (docs/registry.md). */
typedef struct capv_reg_queued {
    capv_reg_write w;
    capvi_reg_record rec;
    capvi_reg_body *body;
    /* A suspect: a statement it ran in with other records failed otherwise than on the
     * storage, perhaps for it. It runs alone from then on, and after each failure of its
     * own (CAPV_E_IO, CAPV_E_NOMEM, while the same transaction committed other writes: a
     * strike) it waits beside the queue (reg->rs_head) until retry_ms, doubling its pause
     * from REG_RETRY_MIN_MS to REG_RETRY_MAX_MS; the records behind it go on. */
    bool suspect;
    uint64_t ticket; /* its place in the queue (reg->rq_in once it was queued) */
    unsigned int strikes;
    int backoff_ms;
    int64_t first_strike_ms, retry_ms;
    struct capv_reg_queued *next;
} capv_reg_queued;

void capvi_reg_queued_free(capv_reg_queued *q);

/* How long a record waits at most before the writer takes it when no batch fills up, and
 * the pauses after a batch failed on the storage (doubling; a write that commits meanwhile,
 * the health probe's or an entry's, ends the pause). */
#define REG_DEFAULT_FLUSH_MS 5
/* A batch of queued records only commits without waiting for the disk, unless the last
 * commit that waited is this old (docs/registry.md "Durability"): such a record is lost on
 * a power failure of the database's machine for at most this long, never on a crash of the
 * process. Entries, policies and records whose caller waits always commit durably. */
#define REG_RECORD_SYNC_MS 1000
#define REG_RETRY_MIN_MS 100
#define REG_RETRY_MAX_MS 5000
/* A suspect record with this many strikes, the first at least REG_RECORD_POISON_MS ago, is
 * refused: it fails on its own while the storage takes everything else, and would for ever
 * (docs/registry.md "Recording verifications"). A failure that lasts a few seconds does
 * not refuse a record. */
#define REG_RECORD_STRIKES 3u
#define REG_RECORD_POISON_MS 5000
/* A caller finding the queue full while the storage takes records waits this long at most
 * for room before its record is dropped (back-pressure; docs/registry.md). */
#define REG_QUEUE_WAIT_MS 1000
/* When the handle closes, queued records are retried this long, then dropped (counted). */
#define REG_STOP_GRACE_MS 10000
/* A look-up by request id that misses while records are queued waits this long at most for
 * them (capv_registry_get_verification: a handle finds what it recorded). */
#define REG_READ_WAIT_MS 1000

/* Whether records are queued (asynchronous recording with a running writer thread). */
bool capvi_reg_queue_enabled(capv_registry *reg);
/* Queues a record, taking ownership: CAPV_OK, or CAPV_E_BUSY when the queue is full (the
 * record is dropped and counted). */
capv_status capvi_reg_enqueue(capv_registry *reg, capv_reg_queued *q, capv_error *err);

/* Verifications removed per pruning transaction. */
#define REG_PRUNE_BATCH 1000u
/* While a storage fault is current, the writer thread tries a small write this often, so the
 * health recovers when the storage does, also when no other write comes (a registry that is
 * not ready gets no traffic). */
#define REG_PROBE_INTERVAL_MS 1000
/* How often the writer thread asks a storage that other processes write whether entries or
 * policies were added (capvi_reg_backend.verdict_mark): a change moves
 * capv_registry_generation, so caches keyed by it drop what another replica's entry or
 * policy made stale within about this long. */
#define REG_WATCH_INTERVAL_MS 1000

/* Executes a write: on the writer thread when it runs (waiting until its batch committed),
 * else directly in one transaction; once more, up to the storage's busy_retries times,
 * while it fails with CAPV_E_BUSY. Its status is in req->st / req->err. */
void capvi_reg_submit(capv_registry *reg, capv_reg_write *req);
/* The batch executor used by both paths; called with wlock held. Returns whether the storage
 * took verification records: committed ones of the batch, or a sentinel (when the batch has
 * records run alone and none of them went in). */
bool capvi_reg_execute_batch(capv_registry *reg, capv_reg_write **reqs, size_t n);
/* A submitted write's status, its error copied to `err` on failure. */
capv_status capvi_reg_write_result(const capv_reg_write *q, capv_error *err);

capv_status capvi_reg_writer_start(capv_registry *reg, capv_error *err);
void capvi_reg_writer_stop(capv_registry *reg);
/* Wakes the writer thread to prune at once (retention changed). No-op without one. */
void capvi_reg_writer_kick(capv_registry *reg);

#endif
