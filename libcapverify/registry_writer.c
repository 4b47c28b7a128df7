/* SPDX-License-Identifier: Apache-2.0 */
/* The registry's write path (docs/registry.md, "Connections and the single writer"): every
 * write is a request run in its own savepoint inside a batch transaction on the one
 * read-write connection, so one refused write does not undo the others. Without a writer
 * thread a request is a batch of one. With one, callers on any thread queue a write and
 * wait; the writer takes everything queued (up to max_batch), runs it in a single
 * transaction, commits — one fsync for the whole batch — and only then wakes the callers. A
 * write is therefore acknowledged only once it is durable, at the throughput of group
 * commit. Checkpoints happen on this connection too (SQLite's auto-checkpoint runs in the
 * committing connection), so no second connection ever writes or checkpoints.
 *
 * Retention (docs/registry.md): between write batches the writer also removes verifications
 * older than the handle's retention, at most REG_PRUNE_BATCH per transaction so a queued
 * write never waits long behind it; while a step finds a full batch the next follows after
 * the next write batch, otherwise it looks again after prune_interval_ms.
 *
 * Health: while a storage fault is current, the writer tries a one-row write every
 * REG_PROBE_INTERVAL_MS; when it commits, the fault is cleared, and queued records waiting
 * out their pause after a failure go at once (records_resume). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry_writer_int.h"
#include "time_int.h"

/* ---- write execution ------------------------------------------------------------------- */

/* A status that says the storage failed, not the write: a record is worth writing again. */
static bool transient(capv_status st)
{
    return st == CAPV_E_STORAGE || st == CAPV_E_BUSY || st == CAPV_E_IO || st == CAPV_E_NOMEM;
}

/* The batch reqs[0..n) was not committed after all. Every answer judged inside its
 * transaction is void: a write that succeeded, and an entry or record found there already
 * (CAPV_E_EXISTS) or with other content (CAPV_E_CONFLICT), which an earlier write of the same
 * batch may have made. Each is undone for its caller and fails with `st`, so the caller
 * retries instead of being told of content that was never stored. */
static void batch_abort(capv_reg_write **reqs, size_t n, capv_status st, const capv_error *e)
{
    for (size_t i = 0; i < n; i++) {
        capv_status was = reqs[i]->st;
        if (was != CAPV_OK && was != CAPV_E_EXISTS && was != CAPV_E_CONFLICT)
            continue;
        if (reqs[i]->undo)
            reqs[i]->undo(reqs[i]->arg);
        reqs[i]->st = st;
        reqs[i]->err = *e;
    }
}

/* Runs one write (recs: records, all in one statement where the storage has one) in its own
 * savepoint; returns whether the storage still holds the batch's transaction. */
static bool run_one(capv_registry *reg, capv_reg_write *q, capvi_reg_record **recs, size_t nrec,
                    capv_reg_write **rq, bool *fault)
{
    const capvi_reg_backend *be = reg->be;
    capv_error_clear(&q->err);
    q->st = be->savepoint(reg, &q->err);
    if (q->st == CAPV_OK) {
        q->st = recs == NULL ? q->run(reg, q->arg, &q->err)
                             : be->record_batch(reg, recs, nrec, &q->err);
    }
    /* each record's own answer, or the batch's failure (its savepoint's too: a record that
     * never reached the storage must not pass for written) */
    for (size_t i = 0; i < nrec; i++) {
        rq[i]->st = q->st == CAPV_OK ? recs[i]->st : q->st;
        rq[i]->err = q->st == CAPV_OK ? recs[i]->err : q->err;
        rq[i]->shared = q->st != CAPV_OK && !rq[i]->alone;
    }
    if (q->st == CAPV_E_STORAGE) {
        *fault = true;
        capvi_reg_note(reg, q->st, &q->err);
    }
    if (!be->in_transaction(reg))
        return false;
    if (q->st != CAPV_OK)
        be->rollback_to(reg, NULL);
    be->release(reg, NULL);
    return true;
}

/* The status of a batch whose transaction the storage lost while it ran write q: q's own
 * status when that is the storage's failure, else CAPV_E_STORAGE. What q answered itself (a
 * conflict, say) is no answer for the other writes. */
static capv_status batch_lost(const capv_reg_write *q, capv_error *berr)
{
    if (transient(q->st)) {
        *berr = q->err;
        return q->st;
    }
    return capvi_err_set(berr, CAPV_E_STORAGE, NULL,
                         "the registry rolled the write transaction back");
}

/* The order in which the writes of a batch that are not records run: the other writes in
 * their queue order, then the entries by their keys. Writers sharing a storage (replicas on
 * one PostgreSQL database) thus take the locks of the entries they add in one order, so two
 * batches never wait for each other in a cycle, a deadlock the server would break only
 * after a second by failing one of the writes. The writes of one batch are concurrent:
 * any order among them is one their callers could have met. */
static int run_order_cmp(const void *a, const void *b)
{
    const capv_reg_write *x = *(capv_reg_write *const *)a, *y = *(capv_reg_write *const *)b;
    if ((x->order_key != NULL) != (y->order_key != NULL))
        return x->order_key != NULL ? 1 : -1;
    int c = x->order_key != NULL ? memcmp(x->order_key, y->order_key, 64) : 0;
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Whether the batch's commit must wait for the disk: anything but queued records does, and
 * queued records too once REG_RECORD_SYNC_MS has passed since the last commit that waited.
 * (A commit that did not wait is made durable by the writer within that time even when no
 * batch follows: writer_sync.) */
static bool batch_durable(capv_registry *reg, capv_reg_write **reqs, size_t n, int64_t now)
{
    if (now - atomic_load(&reg->synced_ms) >= REG_RECORD_SYNC_MS)
        return true;
    for (size_t i = 0; i < n; i++)
        if (!reqs[i]->queued)
            return true;
    return false;
}

/* Whether the storage takes verification records now (*taken): a sentinel record, in a
 * savepoint rolled back at once, so it is never stored. Returns CAPV_OK while the storage
 * still holds the transaction, else the status it was lost with (and *berr). */
static capv_status sentinel_record(capv_registry *reg, bool *taken, bool *fault, capv_error *berr)
{
    const capvi_reg_backend *be = reg->be;
    capvi_reg_record r;
    memset(&r, 0, sizeof r);
    snprintf(r.request_id, sizeof r.request_id, "capverify-sentinel");
    snprintf(r.result, sizeof r.result, "ok");
    r.ms = capvi_reg_now_ms(reg);
    capv_rfc3339_format(r.at, r.ms);
    capvi_reg_record *one = &r;
    capv_reg_write q;
    memset(&q, 0, sizeof q);
    q.st = be->savepoint(reg, &q.err);
    if (q.st == CAPV_OK)
        q.st = be->record_batch(reg, &one, 1, &q.err);
    if (q.st == CAPV_E_STORAGE) {
        *fault = true;
        capvi_reg_note(reg, q.st, &q.err);
    }
    if (!be->in_transaction(reg))
        return batch_lost(&q, berr);
    be->rollback_to(reg, NULL);
    be->release(reg, NULL);
    *taken = q.st == CAPV_OK;
    return CAPV_OK;
}

/* Runs the records rq[0..nrec) (recs: theirs): those that are not alone in one statement,
 * then each alone one in its own. Returns CAPV_OK while the storage still holds the
 * transaction, else the status it was lost with (and *berr). */
static capv_status run_records(capv_registry *reg, capvi_reg_record **recs, capv_reg_write **rq,
                               size_t nrec, bool *fault, capv_error *berr)
{
    /* the alone ones to the end, the others keeping their order */
    size_t together = 0;
    for (size_t i = 0; i < nrec; i++) {
        if (rq[i]->alone)
            continue;
        capv_reg_write *w = rq[i];
        capvi_reg_record *r = recs[i];
        memmove(rq + together + 1, rq + together, (i - together) * sizeof *rq);
        memmove(recs + together + 1, recs + together, (i - together) * sizeof *recs);
        rq[together] = w;
        recs[together++] = r;
    }
    for (size_t k = 0; k < nrec;) {
        size_t step = k < together ? together : 1;
        capv_reg_write q;
        memset(&q, 0, sizeof q);
        if (!run_one(reg, &q, recs + k, step, rq + k, fault))
            return batch_lost(&q, berr);
        k += step;
    }
    return CAPV_OK;
}

bool capvi_reg_execute_batch(capv_registry *reg, capv_reg_write **reqs, size_t n)
{
    const capvi_reg_backend *be = reg->be;
    capv_error berr = CAPV_ERROR_INIT;
    int64_t now = capvi_mono_ms();
    bool durable = batch_durable(reg, reqs, n, now);
    capv_status st = capvi_reg_note(reg, be->begin(reg, durable, &berr), &berr);
    bool any = false, verdicts = false, fault = false;
    /* the records of the batch go to the storage together, ahead of the other writes (they
     * are independent of them): one multi-row statement where the storage has one */
    capvi_reg_record **recs = NULL;
    capv_reg_write **rq = NULL, **run = NULL; /* the records; the other writes, in run order */
    size_t nrec = 0;
    for (size_t i = 0; i < n; i++) {
        reqs[i]->pos = i;
        nrec += reqs[i]->rec != NULL;
    }
    if (st == CAPV_OK) {
        recs = malloc(n * sizeof *recs);
        rq = malloc(n * sizeof *rq);
        if (recs == NULL || rq == NULL)
            st = capvi_err_nomem(&berr);
    }
    if (st == CAPV_OK) {
        run = rq + nrec;
        for (size_t i = 0, k = 0, m = 0; i < n; i++) {
            if (reqs[i]->rec != NULL) {
                rq[k] = reqs[i];
                recs[k++] = reqs[i]->rec;
            } else {
                run[m++] = reqs[i];
            }
        }
        qsort(run, n - nrec, sizeof *run, run_order_cmp);
    }
    for (size_t i = 0; i < n; i++)
        if (reqs[i]->rec == NULL)
            reqs[i]->st = CAPV_E_STATE; /* not run yet: nothing to undo */
    bool alone = false, taken = false;  /* records of the batch went in */
    if (st == CAPV_OK && nrec > 0) {
        st = run_records(reg, recs, rq, nrec, &fault, &berr);
        for (size_t i = 0; st == CAPV_OK && i < nrec; i++) {
            taken = taken || rq[i]->st == CAPV_OK;
            alone = alone || rq[i]->alone;
        }
        any = taken;
    }
    for (size_t i = 0; st != CAPV_OK && i < n; i++) {
        reqs[i]->st = st;
        reqs[i]->err = berr;
    }
    for (size_t i = 0; st == CAPV_OK && i < n - nrec; i++) {
        capv_reg_write *q = run[i];
        if (!run_one(reg, q, NULL, 0, NULL, &fault)) {
            /* the storage rolled the whole transaction back itself (SQLite may on
             * SQLITE_FULL or an I/O error): the earlier writes of this batch are gone too,
             * and a later one would run in a transaction of its own */
            st = batch_lost(q, &berr);
            batch_abort(reqs, n, st, &berr);
            for (size_t j = i + 1; j < n - nrec; j++) {
                run[j]->st = st;
                run[j]->err = berr;
            }
            any = false;
            break;
        }
        if (q->st == CAPV_OK) {
            any = true;
            verdicts = verdicts || q->changes_verdicts;
        }
    }
    /* a record failing alone says something about itself only while the storage takes
     * verification records: others of the batch, or else a sentinel */
    if (st == CAPV_OK && alone && !taken) {
        st = sentinel_record(reg, &taken, &fault, &berr);
        if (st != CAPV_OK)
            batch_abort(reqs, n, st, &berr);
    }
    free(recs);
    free(rq);
    if (st != CAPV_OK) {
        be->rollback(reg);
        return false;
    }
    /* Only now, with the batch durable, may any of its writes be acknowledged. */
    if (any) {
        st = be->commit(reg, &berr);
    } else {
        be->rollback(reg);
    }
    if (st != CAPV_OK) {
        be->rollback(reg);
        batch_abort(reqs, n, st, &berr);
        capvi_reg_note(reg, st, &berr);
        return false;
    }
    /* the writes this batch answered for good: one that failed (a deadlock victim, say)
     * counts when a later batch runs it again */
    uint64_t answered = 0;
    for (size_t i = 0; i < n; i++)
        answered += reqs[i]->st == CAPV_OK || reqs[i]->st == CAPV_E_EXISTS ||
                    reqs[i]->st == CAPV_E_CONFLICT;
    atomic_fetch_add(&reg->writes, answered);
    if (any) {
        atomic_fetch_add(&reg->commits, 1);
        if (durable) {
            atomic_store(&reg->synced_ms, now);
            atomic_store(&reg->unsynced, false);
        } else {
            atomic_store(&reg->unsynced, true);
        }
        /* the storage works again, unless a write of this very batch said otherwise */
        if (!fault)
            capvi_reg_fault_clear(reg);
    }
    if (verdicts)
        atomic_fetch_add(&reg->generation, 1);
    return taken;
}

static void submit_once(capv_registry *reg, capv_reg_write *req)
{
    if (reg->read_only) {
        req->st = capvi_err_set(&req->err, CAPV_E_STATE, NULL,
                                "the registry is open read-only; writes need the writer");
        return;
    }
    pthread_mutex_lock(&reg->qlock);
    /* while the writer stops, it still drains its queue; new writes take the direct path
     * (serialized with it by wlock) */
    bool threaded = reg->writer_running && !reg->stopping;
    if (threaded) {
        req->next = NULL;
        req->done = false;
        pthread_cond_init(&req->cond, NULL);
        if (reg->qtail)
            reg->qtail->next = req;
        else
            reg->qhead = req;
        reg->qtail = req;
        pthread_cond_signal(&reg->qcond);
        while (!req->done)
            pthread_cond_wait(&req->cond, &reg->qlock);
        pthread_mutex_unlock(&reg->qlock);
        pthread_cond_destroy(&req->cond);
        return;
    }
    pthread_mutex_unlock(&reg->qlock);
    pthread_mutex_lock(&reg->wlock);
    capv_reg_write *one = req;
    capvi_reg_execute_batch(reg, &one, 1);
    pthread_mutex_unlock(&reg->wlock);
}

void capvi_reg_submit(capv_registry *reg, capv_reg_write *req)
{
    submit_once(reg, req);
    /* again in a new batch: the one that failed has ended and released its locks */
    for (unsigned int i = 0; !req->once && i < reg->be->busy_retries && req->st == CAPV_E_BUSY; i++)
        submit_once(reg, req);
}

capv_status capvi_reg_write_result(const capv_reg_write *q, capv_error *err)
{
    if (err != NULL && q->st != CAPV_OK)
        *err = q->err;
    return q->st;
}

/* ---- pruning --------------------------------------------------------------------------- */

typedef struct prune_args {
    int64_t before_ms;
    uint64_t removed;
} prune_args;

/* A write that prunes one batch. Nothing to prune is CAPV_E_NOT_FOUND: nothing to commit,
 * and a commit of nothing must not count as "the storage works again". */
static capv_status prune_run(capv_registry *reg, void *arg, capv_error *err)
{
    prune_args *a = arg;
    capv_status st = reg->be->prune_step(&a->removed, reg, a->before_ms, REG_PRUNE_BATCH, err);
    if (st == CAPV_OK && a->removed == 0)
        return capvi_err_set(err, CAPV_E_NOT_FOUND, NULL, "nothing to prune");
    return st;
}

static void prune_undo(void *arg)
{
    ((prune_args *)arg)->removed = 0;
}

static void prune_request(capv_reg_write *q, prune_args *a, int64_t before_ms)
{
    memset(q, 0, sizeof *q);
    memset(a, 0, sizeof *a);
    a->before_ms = before_ms;
    q->run = prune_run;
    q->undo = prune_undo;
    q->arg = a;
}

capv_status capv_registry_prune(uint64_t *removed, capv_registry *reg, int64_t before_ms,
                                capv_error *err)
{
    if (removed != NULL)
        *removed = 0;
    if (reg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (reg->read_only)
        return capvi_err_set(err, CAPV_E_STATE, NULL,
                             "the registry is open read-only; pruning needs the writer");
    uint64_t total = 0;
    capv_status st = CAPV_OK;
    /* another prune's step (the leader's retention, on PostgreSQL) is waited out for the busy
     * timeout, a few milliseconds at a time: steps are short */
    int64_t busy_until = capvi_mono_ms() + reg->busy_ms;
    /* one small transaction per batch, queued like any write: others run in between */
    for (;;) {
        capv_reg_write q;
        prune_args a;
        prune_request(&q, &a, before_ms);
        capvi_reg_submit(reg, &q);
        if (q.st == CAPV_E_NOT_FOUND)
            break;
        if (q.st == CAPV_E_BUSY && capvi_mono_ms() < busy_until) {
            struct timespec pause = { 0, 20 * 1000000L };
            nanosleep(&pause, NULL);
            continue;
        }
        if (q.st != CAPV_OK) {
            st = capvi_reg_write_result(&q, err);
            break;
        }
        busy_until = capvi_mono_ms() + reg->busy_ms;
        total += a.removed;
        atomic_fetch_add(&reg->pruned, a.removed);
        if (a.removed < REG_PRUNE_BATCH)
            break;
    }
    if (removed != NULL)
        *removed = total;
    return capvi_err_done(err, st);
}

capv_status capv_registry_set_retention(capv_registry *reg, int64_t max_age_ms, capv_error *err)
{
    if (reg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (max_age_ms < 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "max_age_ms",
                             "the retention must be 0 (forever) or positive");
    atomic_store(&reg->retention_ms, max_age_ms);
    capvi_reg_writer_kick(reg);
    return capvi_err_done(err, CAPV_OK);
}

/* ---- the writer thread ----------------------------------------------------------------- */

/* Under qlock: whether a retention step is due (`next` = monotonic ms, 0 = at once). */
static bool prune_due(capv_registry *reg, int64_t next)
{
    if (atomic_load(&reg->retention_ms) <= 0 || reg->stopping)
        return false;
    return reg->prune_now || next == 0 || capvi_mono_ms() >= next;
}

/* One retention step (at most REG_PRUNE_BATCH rows, one transaction). Returns whether it
 * removed a full batch, i.e. there is probably more. */
static bool writer_prune(capv_registry *reg)
{
    int64_t age = atomic_load(&reg->retention_ms);
    if (age <= 0)
        return false;
    /* with a shared storage, only its leader prunes (docs/registry.md "Leadership") */
    bool leader = false;
    if (reg->be->leader(&leader, reg, NULL) != CAPV_OK || !leader)
        return false;
    capv_reg_write q;
    prune_args a;
    prune_request(&q, &a, capvi_reg_now_ms(reg) - age);
    pthread_mutex_lock(&reg->wlock);
    capv_reg_write *one = &q;
    capvi_reg_execute_batch(reg, &one, 1); /* a storage fault is noted for the health */
    pthread_mutex_unlock(&reg->wlock);
    if (q.st != CAPV_OK)
        return false;
    atomic_fetch_add(&reg->pruned, a.removed);
    return a.removed == REG_PRUNE_BATCH;
}

/* Under qlock: whether a health probe is due. `*next` (monotonic ms) is 0 while none is
 * scheduled; a fault schedules one REG_PROBE_INTERVAL_MS ahead. */
static bool probe_due(capv_registry *reg, int64_t *next)
{
    if (reg->stopping || !capvi_reg_fault_get(reg, NULL)) {
        *next = 0;
        return false;
    }
    int64_t now = capvi_mono_ms();
    if (*next == 0) {
        *next = now + REG_PROBE_INTERVAL_MS;
        return false;
    }
    return now >= *next;
}

/* Whether the storage's entries and policies are to be looked at now (storages others write,
 * while the writer is not stopping); *next is when next. */
static bool watch_due(capv_registry *reg, int64_t *next)
{
    if (reg->be->verdict_mark == NULL || reg->stopping) {
        *next = 0;
        return false;
    }
    int64_t now = capvi_mono_ms();
    if (*next == 0)
        *next = now; /* at once: the mark the handle starts from */
    return now >= *next;
}

/* Entries and policies another process added move the generation. A storage that cannot be
 * asked now is asked again next time (the writes the handle makes meanwhile fail too). */
static void writer_watch(capv_registry *reg)
{
    int64_t mark = 0;
    pthread_mutex_lock(&reg->wlock);
    capv_status st = reg->be->verdict_mark(&mark, reg, NULL);
    pthread_mutex_unlock(&reg->wlock);
    if (st != CAPV_OK)
        return;
    if (reg->verdict_mark >= 0 && mark != reg->verdict_mark)
        atomic_fetch_add(&reg->generation, 1);
    reg->verdict_mark = mark;
}

static capv_status probe_run(capv_registry *reg, void *arg, capv_error *err)
{
    (void)arg;
    return reg->be->probe(reg, err);
}

/* A small real write (and commit): if it goes through, the storage works again and the
 * executor clears the fault; if not, the fault stays, with the new reason. */
static void writer_probe(capv_registry *reg)
{
    capv_reg_write q;
    memset(&q, 0, sizeof q);
    q.run = probe_run;
    capv_reg_write *one = &q;
    pthread_mutex_lock(&reg->wlock);
    capvi_reg_execute_batch(reg, &one, 1);
    pthread_mutex_unlock(&reg->wlock);
}

/* ---- asynchronous recording ------------------------------------------------------------ */

capvi_reg_body *capvi_reg_body_new(const char *text, size_t len)
{
    capvi_reg_body *b = malloc(sizeof *b + len + 1);
    if (b == NULL)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    memcpy(b->text, text, len);
    b->text[len] = '\0';
    return b;
}

capvi_reg_body *capvi_reg_body_get(capvi_reg_body *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void capvi_reg_body_put(capvi_reg_body *b)
{
    if (b != NULL && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

void capvi_reg_queued_free(capv_reg_queued *q)
{
    capvi_reg_body_put(q->body);
    free(q);
}

bool capvi_reg_queue_enabled(capv_registry *reg)
{
    return reg->rq_max > 0 && reg->writer_running;
}

/* Under qlock: a record left the queue for good (`how`: written, rejected or dropped). It
 * goes onto *done, freed by the caller once qlock is released: a batch's records were
 * allocated by the request threads, and freeing them takes those threads' malloc arena
 * locks, which every /verify waiting for qlock would otherwise wait for as well. */
static void record_finished(capv_registry *reg, capv_reg_queued *q, atomic_uint_fast64_t *how,
                            capv_reg_queued **done)
{
    atomic_fetch_add(how, 1);
    reg->rq_out++;
    atomic_store(&reg->rq_depth, (size_t)(reg->rq_in - reg->rq_out));
    q->next = *done;
    *done = q;
}

/* Under qlock: whether the queue holds record_queue_max records (waiting or being written). */
static bool queue_full(const capv_registry *reg)
{
    return reg->rq_in - reg->rq_out >= reg->rq_max;
}

/* Under qlock, the queue full: while the storage takes records, waits up to
 * REG_QUEUE_WAIT_MS for room, so that the writer sets the pace instead of records being
 * lost; while it fails, returns at once. */
static void wait_for_room(capv_registry *reg)
{
    int64_t end = capvi_mono_ms() + REG_QUEUE_WAIT_MS;
    struct timespec dl = { (time_t)(end / 1000), (long)(end % 1000) * 1000000L };
    pthread_cond_signal(&reg->qcond); /* a full queue is due at once (records_due) */
    while (queue_full(reg) && !reg->rq_failing && reg->writer_running && !reg->stopping)
        if (pthread_cond_timedwait(&reg->rq_cond, &reg->qlock, &dl) != 0)
            break;
}

capv_status capvi_reg_enqueue(capv_registry *reg, capv_reg_queued *q, capv_error *err)
{
    pthread_mutex_lock(&reg->qlock);
    if (reg->writer_running && !reg->stopping && queue_full(reg))
        wait_for_room(reg);
    if (!reg->writer_running || reg->stopping) {
        /* the writer is leaving: this record is written now, on the caller's thread, and
         * durably (no writer remains to make it so later) */
        pthread_mutex_unlock(&reg->qlock);
        q->w.queued = false;
        capvi_reg_submit(reg, &q->w);
        capv_status st = capvi_reg_write_result(&q->w, err);
        capvi_reg_queued_free(q);
        return st == CAPV_E_EXISTS ? CAPV_OK : st;
    }
    if (queue_full(reg)) {
        atomic_fetch_add(&reg->rq_dropped, 1);
        pthread_mutex_unlock(&reg->qlock);
        capv_status st = capvi_err_set(err, CAPV_E_BUSY, "request_id",
                                       "the record queue is full (%zu records waiting for the "
                                       "storage): verification '%s' is not recorded",
                                       reg->rq_max, q->rec.request_id);
        capvi_reg_queued_free(q);
        return st;
    }
    q->next = NULL;
    if (reg->rq_tail)
        reg->rq_tail->next = q;
    else
        reg->rq_head = q;
    reg->rq_tail = q;
    q->ticket = ++reg->rq_in;
    atomic_store(&reg->rq_depth, (size_t)(reg->rq_in - reg->rq_out));
    /* the writer learns of a first record (to set its flush deadline) and of a full batch */
    if (++reg->rq_len == 1) {
        reg->rq_oldest_ms = capvi_mono_ms();
        pthread_cond_signal(&reg->qcond);
    } else if (reg->rq_len == reg->max_batch) {
        pthread_cond_signal(&reg->qcond);
    }
    pthread_mutex_unlock(&reg->qlock);
    return CAPV_OK;
}

/* Under qlock: the monotonic time the first suspect waiting beside the queue is due (0:
 * none waits). Closing, after REG_STOP_GRACE_MS, every one is (to be dropped). */
static int64_t suspects_deadline(const capv_registry *reg)
{
    int64_t at = 0;
    for (const capv_reg_queued *q = reg->rs_head; q != NULL; q = q->next)
        if (at == 0 || q->retry_ms < at)
            at = q->retry_ms;
    if (at != 0 && reg->stopping && reg->rq_stop_ms < at)
        at = reg->rq_stop_ms;
    return at;
}

/* Under qlock: whether records are to be written now (or, closing, dropped). */
static bool records_due(capv_registry *reg, int64_t now)
{
    int64_t s = suspects_deadline(reg);
    if (s != 0 && now >= s)
        return true;
    if (reg->stopping && now >= reg->rq_stop_ms && reg->rq_len != 0)
        return true;
    if (reg->rq_len == 0 || now < reg->rq_retry_ms)
        return false;
    return reg->stopping || reg->rq_len >= reg->max_batch || queue_full(reg) ||
           now >= reg->rq_oldest_ms + reg->rq_flush_ms;
}

/* Under qlock: the monotonic time records become due (0: none waits). */
static int64_t records_deadline(const capv_registry *reg)
{
    int64_t at = 0, s = suspects_deadline(reg);
    if (reg->rq_len != 0) {
        at = reg->rq_oldest_ms + reg->rq_flush_ms;
        if (at < reg->rq_retry_ms)
            at = reg->rq_retry_ms;
        if (reg->stopping && reg->rq_stop_ms < at) /* then they are dropped (drop_rest) */
            at = reg->rq_stop_ms;
    }
    return s != 0 && (at == 0 || s < at) ? s : at;
}

/* Without qlock: frees a list of finished records (record_finished). */
static void free_records(capv_reg_queued *q)
{
    while (q != NULL) {
        capv_reg_queued *next = q->next;
        capvi_reg_queued_free(q);
        q = next;
    }
}

/* Under qlock, closing after REG_STOP_GRACE_MS: every record still waiting, in the queue or
 * beside it, is dropped without another try (one begun now could take as long as the
 * storage's own timeout). Returns them, for the caller to free without qlock. */
static capv_reg_queued *drop_rest(capv_registry *reg)
{
    capv_reg_queued *done = NULL;
    capv_reg_queued *lists[] = { reg->rq_head, reg->rs_head };
    for (size_t l = 0; l < 2; l++)
        for (capv_reg_queued *q = lists[l], *next; q != NULL; q = next) {
            next = q->next;
            record_finished(reg, q, &reg->rq_dropped, &done);
        }
    reg->rq_head = reg->rq_tail = reg->rs_head = NULL;
    reg->rq_len = reg->rs_len = 0;
    pthread_cond_broadcast(&reg->rq_cond);
    return done;
}

/* Under qlock: detaches up to `room` queued records, in their order, and returns the first
 * (a NULL-terminated list); take_prepare makes them a batch once qlock is released. All of
 * them, the usual case, leave in one step: the records were written by the request threads,
 * and touching each under qlock would hold up every /verify queueing one. */
static capv_reg_queued *take_records(capv_registry *reg, size_t room)
{
    capv_reg_queued *first = reg->rq_head;
    if (first == NULL || room == 0)
        return NULL;
    if (reg->rq_len <= room) {
        reg->rq_head = reg->rq_tail = NULL;
        reg->rq_len = 0;
        return first;
    }
    capv_reg_queued *last = first;
    for (size_t k = 1; k < room; k++)
        last = last->next;
    reg->rq_head = last->next;
    last->next = NULL;
    reg->rq_len -= room;
    reg->rq_oldest_ms = capvi_mono_ms();
    return first;
}

/* Under qlock: detaches up to `room` suspects whose time has come (suspects_deadline) and
 * returns the first (a NULL-terminated list). */
static capv_reg_queued *take_suspects(capv_registry *reg, size_t room, int64_t now)
{
    bool all = reg->stopping && now >= reg->rq_stop_ms;
    capv_reg_queued *taken = NULL, **tail = &taken;
    for (capv_reg_queued **p = &reg->rs_head; *p != NULL && room > 0;) {
        capv_reg_queued *q = *p;
        if (!all && q->retry_ms > now) {
            p = &q->next;
            continue;
        }
        *p = q->next;
        q->next = NULL;
        *tail = q;
        tail = &q->next;
        reg->rs_len--;
        room--;
    }
    return taken;
}

/* The lowest ticket among `low` (0: none yet) and the records of the list `q`. */
static uint64_t lowest_ticket(uint64_t low, const capv_reg_queued *q)
{
    for (; q != NULL; q = q->next)
        if (low == 0 || q->ticket < low)
            low = q->ticket;
    return low;
}

/* Without qlock: the records taken (take_records, take_suspects) into b[n..], a suspect to
 * run alone; returns the new n. */
static size_t take_prepare(capv_reg_write **b, size_t n, capv_reg_queued *q)
{
    for (; q != NULL; q = q->next) {
        memset(&q->w.err, 0, sizeof q->w.err);
        q->w.alone = q->suspect;
        q->w.shared = false;
        b[n++] = &q->w;
    }
    return n;
}

/* A failure that may be the record's own rather than the storage's (an error the server
 * does not classify, or its memory for this record): one that recurs while the storage
 * takes other writes will recur for ever. */
static bool record_fault(capv_status st)
{
    return st == CAPV_E_IO || st == CAPV_E_NOMEM;
}

/* Under qlock: suspect q failed on its own again (a strike). Returns whether it is to be
 * refused; else it waits beside the queue for its own retry time. */
static bool suspect_struck(capv_registry *reg, capv_reg_queued *q, int64_t now)
{
    if (q->strikes++ == 0)
        q->first_strike_ms = now;
    if (q->strikes >= REG_RECORD_STRIKES && now - q->first_strike_ms >= REG_RECORD_POISON_MS)
        return true;
    q->backoff_ms = q->backoff_ms == 0                     ? REG_RETRY_MIN_MS
                    : q->backoff_ms * 2 > REG_RETRY_MAX_MS ? REG_RETRY_MAX_MS
                                                           : q->backoff_ms * 2;
    q->retry_ms = now + q->backoff_ms;
    q->next = reg->rs_head;
    reg->rs_head = q;
    reg->rs_len++;
    return false;
}

/* Under qlock, after the batch ran (`taken`: the storage took verification records in it):
 * the records among b[first..n) are finished, or put back at the head of the queue, in their
 * order. A statement that failed for its records otherwise than on the storage may have
 * failed for one of them: they become suspects, run alone from then on, and are retried at
 * once. A suspect that fails on its own while the storage takes records waits beside the
 * queue, so the records behind it go on, and is refused after REG_RECORD_STRIKES such
 * failures over REG_RECORD_POISON_MS (suspect_struck). Only a failure of the storage makes
 * the queue pause (100 ms, doubling to 5 s). Returns the finished ones, for the caller to
 * free without qlock (record_finished). */
static capv_reg_queued *records_done(capv_registry *reg, capv_reg_write **b, size_t first, size_t n,
                                     bool taken, bool *paused)
{
    capv_reg_queued *back = NULL, **tail = &back, *done = NULL;
    size_t nback = 0;
    bool pause = false;
    int64_t now = capvi_mono_ms();
    bool give_up = reg->stopping && now >= reg->rq_stop_ms;
    for (size_t i = first; i < n; i++) {
        capv_reg_queued *q = (capv_reg_queued *)((char *)b[i] - offsetof(capv_reg_queued, w));
        capv_status st = q->w.st;
        if (st == CAPV_OK || st == CAPV_E_EXISTS) {
            record_finished(reg, q, &reg->rq_written, &done);
            continue;
        }
        if (q->w.shared && st != CAPV_E_STORAGE && st != CAPV_E_BUSY) {
            q->suspect = true;
        } else if (!transient(st)) {
            record_finished(reg, q, &reg->rq_rejected, &done);
            continue;
        } else if (q->w.alone && record_fault(st) && taken && !give_up) {
            if (suspect_struck(reg, q, now))
                record_finished(reg, q, &reg->rq_rejected, &done);
            continue;
        } else {
            pause = true;
        }
        if (give_up) {
            record_finished(reg, q, &reg->rq_dropped, &done);
        } else {
            *tail = q;
            tail = &q->next;
            nback++;
        }
    }
    if (!pause && n > first) {
        reg->rq_backoff_ms = REG_RETRY_MIN_MS;
        reg->rq_failing = false;
    }
    if (nback > 0) {
        *tail = reg->rq_head;
        reg->rq_head = back;
        if (reg->rq_tail == NULL)
            reg->rq_tail = (capv_reg_queued *)((char *)tail - offsetof(capv_reg_queued, next));
        reg->rq_len += nback;
        reg->rq_oldest_ms = now - reg->rq_flush_ms; /* due again at once, or after the pause */
    }
    if (pause) {
        reg->rq_failing = true;
        if (reg->rq_backoff_ms < REG_RETRY_MIN_MS)
            reg->rq_backoff_ms = REG_RETRY_MIN_MS;
        reg->rq_retry_ms = now + reg->rq_backoff_ms;
        reg->rq_backoff_ms =
            reg->rq_backoff_ms * 2 > REG_RETRY_MAX_MS ? REG_RETRY_MAX_MS : reg->rq_backoff_ms * 2;
    }
    *paused = pause;
    pthread_cond_broadcast(&reg->rq_cond);
    return done;
}

/* Under qlock: the records' pause after a failure on the storage ends once a write commits
 * after it began (`paused_at`: reg->commits then): the health probe's, an entry's. The
 * storage answers again, and the records are due at once instead of up to REG_RETRY_MAX_MS
 * later (docs/registry.md "Recording verifications"). */
static void records_resume(capv_registry *reg, uint64_t paused_at)
{
    if (!reg->rq_failing || atomic_load(&reg->commits) == paused_at)
        return;
    reg->rq_failing = false;
    reg->rq_retry_ms = 0;
    reg->rq_backoff_ms = REG_RETRY_MIN_MS;
}

/* Under qlock: whether a record queued no later than `ticket` is still waiting: in the
 * queue, beside it (a suspect) or in the batch being written. Records do not finish in
 * their order (a suspect waits while those behind it go on), so counting the finished ones
 * does not tell. */
static bool waiting_up_to(const capv_registry *reg, uint64_t ticket)
{
    if (reg->rq_taken_min != 0 && reg->rq_taken_min <= ticket)
        return true;
    for (const capv_reg_queued *q = reg->rs_head; q != NULL; q = q->next)
        if (q->ticket <= ticket)
            return true;
    /* appended in ticket order; only records put back after a failed batch (at the head)
     * can stand before lower ones */
    for (const capv_reg_queued *q = reg->rq_head; q != NULL; q = q->next)
        if (q->ticket <= ticket)
            return true;
    return false;
}

capv_status capv_registry_flush(capv_registry *reg, int timeout_ms, capv_error *err)
{
    if (reg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t end = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + timeout_ms;
    pthread_mutex_lock(&reg->qlock);
    uint64_t target = reg->rq_in;
    reg->rq_oldest_ms = 0; /* due at once */
    pthread_cond_signal(&reg->qcond);
    while (waiting_up_to(reg, target)) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&reg->rq_cond, &reg->qlock);
            continue;
        }
        struct timespec dl = { (time_t)(end / 1000), (long)(end % 1000) * 1000000L };
        if (pthread_cond_timedwait(&reg->rq_cond, &reg->qlock, &dl) != 0 &&
            waiting_up_to(reg, target)) {
            size_t waiting = (size_t)(reg->rq_in - reg->rq_out);
            pthread_mutex_unlock(&reg->qlock);
            return capvi_err_set(err, CAPV_E_BUSY, NULL,
                                 "%zu queued records are not written yet (the storage fails?)",
                                 waiting);
        }
    }
    pthread_mutex_unlock(&reg->qlock);
    return capvi_err_done(err, CAPV_OK);
}

/* ---- the writer thread ----------------------------------------------------------------- */

/* The monotonic ms by which commits that did not wait for the disk are to be made durable
 * (0: there are none). */
static int64_t sync_deadline(capv_registry *reg)
{
    return atomic_load(&reg->unsynced) ? atomic_load(&reg->synced_ms) + REG_RECORD_SYNC_MS : 0;
}

/* Makes the commits that did not wait for the disk durable: when their time is up and no
 * batch came to do it, and when the writer stops. A failure is noted in the health and
 * tried again at the next deadline. */
static void writer_sync(capv_registry *reg)
{
    pthread_mutex_lock(&reg->wlock);
    if (atomic_load(&reg->unsynced)) {
        capv_error err = CAPV_ERROR_INIT;
        int64_t now = capvi_mono_ms();
        if (capvi_reg_note(reg, reg->be->sync(reg, &err), &err) == CAPV_OK)
            atomic_store(&reg->unsynced, false);
        atomic_store(&reg->synced_ms, now);
    }
    pthread_mutex_unlock(&reg->wlock);
}

/* Under qlock: waits for work until the earliest of the writer's deadlines. */
static void writer_wait(capv_registry *reg, int64_t next_prune, int64_t next_probe,
                        int64_t next_watch)
{
    /* no pruning while stopping (prune_due): its time would wake the writer in a loop */
    int64_t deadline = atomic_load(&reg->retention_ms) > 0 && !reg->stopping ? next_prune : 0;
    int64_t rd = records_deadline(reg), sd = sync_deadline(reg);
    if (sd > 0 && (deadline == 0 || sd < deadline))
        deadline = sd;
    if (next_probe > 0 && (deadline == 0 || next_probe < deadline))
        deadline = next_probe;
    if (next_watch > 0 && (deadline == 0 || next_watch < deadline))
        deadline = next_watch;
    if (rd > 0 && (deadline == 0 || rd < deadline))
        deadline = rd;
    if (deadline > 0) {
        struct timespec ts = { (time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000L };
        pthread_cond_timedwait(&reg->qcond, &reg->qlock, &ts);
    } else {
        pthread_cond_wait(&reg->qcond, &reg->qlock);
    }
}

static void *writer_main(void *arg)
{
    capv_registry *reg = arg;
    capv_reg_write **batch = calloc(reg->max_batch, sizeof *batch);
    int64_t next_prune = 0, next_probe = 0, next_watch = 0;
    uint64_t paused_at = 0; /* reg->commits when the records' pause began */
    pthread_mutex_lock(&reg->qlock);
    for (;;) {
        records_resume(reg, paused_at);
        bool due = prune_due(reg, next_prune);
        bool probe = probe_due(reg, &next_probe);
        bool watch = watch_due(reg, &next_watch);
        bool rdue = records_due(reg, capvi_mono_ms());
        if (reg->qhead == NULL && !rdue && !due && !probe && !watch) {
            int64_t sd = sync_deadline(reg);
            bool leaving = reg->stopping && reg->rq_len == 0 && reg->rs_len == 0;
            if (sd > 0 && (leaving || capvi_mono_ms() >= sd)) {
                pthread_mutex_unlock(&reg->qlock);
                writer_sync(reg);
                pthread_mutex_lock(&reg->qlock);
                if (leaving)
                    break; /* once: a failing storage does not hold the close up */
                continue;
            }
            if (leaving)
                break;
            writer_wait(reg, next_prune, next_probe, next_watch);
            continue;
        }
        if (due)
            reg->prune_now = false;
        size_t n = 0;
        size_t cap = batch ? reg->max_batch : 1;
        capv_reg_write *one = NULL;
        capv_reg_write **b = batch ? batch : &one;
        while (reg->qhead != NULL && n < cap) {
            b[n++] = reg->qhead;
            reg->qhead = reg->qhead->next;
        }
        if (reg->qhead == NULL)
            reg->qtail = NULL;
        /* queued records ride along in any batch once their pause after a failure is over */
        /* the suspects whose time has come first (few; under load the queue would leave
         * them no room) */
        int64_t now = capvi_mono_ms();
        capv_reg_queued *gone = reg->stopping && now >= reg->rq_stop_ms ? drop_rest(reg) : NULL;
        size_t first_record = n, waiting = reg->rs_len;
        capv_reg_queued *suspects = take_suspects(reg, cap - n, now);
        size_t room = cap - n - (waiting - reg->rs_len);
        capv_reg_queued *taken = now >= reg->rq_retry_ms ? take_records(reg, room) : NULL;
        reg->rq_taken_min = lowest_ticket(lowest_ticket(0, suspects), taken);
        pthread_mutex_unlock(&reg->qlock);
        free_records(gone);
        n = take_prepare(b, n, suspects);
        n = take_prepare(b, n, taken);

        if (n > 0) {
            pthread_mutex_lock(&reg->wlock);
            bool took = capvi_reg_execute_batch(reg, b, n);
            pthread_mutex_unlock(&reg->wlock);
            pthread_mutex_lock(&reg->qlock);
            for (size_t i = 0; i < first_record; i++) {
                b[i]->done = true;
                pthread_cond_signal(&b[i]->cond);
            }
            reg->rq_taken_min = 0;
            bool paused = false;
            capv_reg_queued *done = records_done(reg, b, first_record, n, took, &paused);
            if (paused)
                paused_at = atomic_load(&reg->commits);
            pthread_mutex_unlock(&reg->qlock);
            free_records(done);
        }
        /* retention after the callers are answered, one small transaction at a time */
        bool more = due && writer_prune(reg);
        if (probe)
            writer_probe(reg);
        if (watch)
            writer_watch(reg);

        pthread_mutex_lock(&reg->qlock);
        if (watch)
            next_watch = capvi_mono_ms() + REG_WATCH_INTERVAL_MS;
        if (due)
            next_prune = more ? 0 : capvi_mono_ms() + reg->prune_interval_ms;
        if (probe)
            next_probe = 0; /* rescheduled while the fault lasts */
    }
    pthread_mutex_unlock(&reg->qlock);
    free(batch);
    return NULL;
}

capv_status capvi_reg_writer_start(capv_registry *reg, capv_error *err)
{
    if (reg->read_only)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "a read-only registry has no writer");
    pthread_mutex_lock(&reg->qlock);
    reg->stopping = false;
    int rc = pthread_create(&reg->writer, NULL, writer_main, reg);
    reg->writer_running = rc == 0;
    pthread_mutex_unlock(&reg->qlock);
    return rc == 0 ? CAPV_OK
                   : capvi_err_set(err, CAPV_E_INTERNAL, NULL, "cannot start the writer thread");
}

void capvi_reg_writer_kick(capv_registry *reg)
{
    pthread_mutex_lock(&reg->qlock);
    reg->prune_now = true;
    pthread_cond_broadcast(&reg->qcond);
    pthread_mutex_unlock(&reg->qlock);
}

void capvi_reg_writer_stop(capv_registry *reg)
{
    pthread_mutex_lock(&reg->qlock);
    if (!reg->stopping) {
        reg->stopping = true;
        reg->rq_stop_ms = capvi_mono_ms() + REG_STOP_GRACE_MS;
    }
    pthread_cond_broadcast(&reg->qcond);
    bool join = reg->writer_running && !reg->writer_joining;
    if (join)
        reg->writer_joining = true;
    else /* another caller joins the thread: return once it has */
        while (reg->writer_joining)
            pthread_cond_wait(&reg->rq_cond, &reg->qlock);
    pthread_mutex_unlock(&reg->qlock);
    if (!join)
        return;
    /* the writer drains both queues before it exits: no queued write is dropped, and a
     * queued record only when the storage still fails after REG_STOP_GRACE_MS */
    pthread_join(reg->writer, NULL);
    pthread_mutex_lock(&reg->qlock);
    reg->writer_running = false;
    reg->writer_joining = false;
    pthread_cond_broadcast(&reg->rq_cond);
    pthread_mutex_unlock(&reg->qlock);
}
