/* SPDX-License-Identifier: Apache-2.0 */
/* Per-key pools of ready OpenSSL contexts (ctx_pool_int.h). */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "ctx_pool_int.h"

/* Enough for the daemon's worker threads verifying with one key at once; a context over the
 * limit is freed after use. */
#define POOL_MAX 16

struct capv_ctx_pool {
    pthread_mutex_t lock;
    void (*free_ctx)(void *);
    size_t count; /* guarded by lock */
    void *ctx[POOL_MAX];
};

capv_ctx_pool *capvi_ctx_pool_new(void (*free_ctx)(void *))
{
    capv_ctx_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    p->free_ctx = free_ctx;
    return p;
}

void capvi_ctx_pool_free(capv_ctx_pool *pool)
{
    if (pool == NULL)
        return;
    for (size_t i = 0; i < pool->count; i++)
        pool->free_ctx(pool->ctx[i]);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

void *capvi_ctx_pool_take(capv_ctx_pool *pool)
{
    if (pool == NULL)
        return NULL;
    void *ctx = NULL;
    pthread_mutex_lock(&pool->lock);
    if (pool->count > 0)
        ctx = pool->ctx[--pool->count];
    pthread_mutex_unlock(&pool->lock);
    return ctx;
}

bool capvi_ctx_pool_give(capv_ctx_pool *pool, void *ctx)
{
    if (pool == NULL || ctx == NULL)
        return false;
    pthread_mutex_lock(&pool->lock);
    bool kept = pool->count < POOL_MAX;
    if (kept)
        pool->ctx[pool->count++] = ctx;
    pthread_mutex_unlock(&pool->lock);
    return kept;
}

bool capvi_md_ctx_restart(void *md_ctx)
{
    return EVP_DigestVerifyInit_ex(md_ctx, NULL, NULL, NULL, NULL, NULL, NULL) == 1;
}
