/* The registry's writer thread (SPEC §8): callers on any thread queue a write and wait; the
 * writer takes everything queued (up to max_batch), runs it on the one read-write connection
 * in a single transaction (each write in its own savepoint, so one refused write does not
 * undo the others), commits — one fsync for the whole batch — and only then wakes the
 * callers. A write is therefore acknowledged only once it is durable, at the throughput of
 * group commit. Checkpoints happen on this connection too (SQLite's auto-checkpoint runs in
 * the committing connection), so no second connection ever writes or checkpoints. */
#include <stdlib.h>
#include <string.h>

#include "registry_int.h"

static void *writer_main(void *arg)
{
    capv_registry *reg = arg;
    capv_reg_write **batch = calloc(reg->max_batch, sizeof *batch);
    pthread_mutex_lock(&reg->qlock);
    for (;;) {
        while (reg->qhead == NULL && !reg->stopping)
            pthread_cond_wait(&reg->qcond, &reg->qlock);
        if (reg->qhead == NULL && reg->stopping)
            break;
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
        pthread_mutex_unlock(&reg->qlock);

        pthread_mutex_lock(&reg->wlock);
        capv_reg_execute_batch(reg, b, n);
        pthread_mutex_unlock(&reg->wlock);

        pthread_mutex_lock(&reg->qlock);
        for (size_t i = 0; i < n; i++) {
            b[i]->done = true;
            pthread_cond_signal(&b[i]->cond);
        }
    }
    pthread_mutex_unlock(&reg->qlock);
    free(batch);
    return NULL;
}

capv_status capv_reg_writer_start(capv_registry *reg, capv_error *err)
{
    if (reg->read_only)
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "a read-only registry has no writer");
    pthread_mutex_lock(&reg->qlock);
    reg->stopping = false;
    int rc = pthread_create(&reg->writer, NULL, writer_main, reg);
    reg->writer_running = rc == 0;
    pthread_mutex_unlock(&reg->qlock);
    return rc == 0 ? CAPV_OK
                   : capv_err_set(err, CAPV_E_INTERNAL, NULL, "cannot start the writer thread");
}

void capv_reg_writer_stop(capv_registry *reg)
{
    pthread_mutex_lock(&reg->qlock);
    bool running = reg->writer_running;
    reg->stopping = true;
    pthread_cond_broadcast(&reg->qcond);
    pthread_mutex_unlock(&reg->qlock);
    if (!running)
        return;
    /* the writer drains the queue before it exits: no queued write is dropped */
    pthread_join(reg->writer, NULL);
    pthread_mutex_lock(&reg->qlock);
    reg->writer_running = false;
    pthread_mutex_unlock(&reg->qlock);
}
