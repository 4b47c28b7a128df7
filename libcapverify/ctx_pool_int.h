/* SPDX-License-Identifier: Apache-2.0 */
/* A small thread-safe stack of ready OpenSSL contexts (ctx_pool.c), kept per key so a
 * verification reuses an initialised context instead of building one every call: OpenSSL 3
 * spends a provider fetch and several allocations on each initialisation. Which contexts a
 * pool holds (what "ready" means) is its owner's business. */
#ifndef CAPV_CTX_POOL_INT_H
#define CAPV_CTX_POOL_INT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct capv_ctx_pool capv_ctx_pool;

/* A pool whose leftover contexts are released with `free_ctx`; NULL when out of memory. */
capv_ctx_pool *capvi_ctx_pool_new(void (*free_ctx)(void *));

/* Frees the pool and every context it holds; NULL is a no-op. */
void capvi_ctx_pool_free(capv_ctx_pool *pool);

/* Takes a context out of the pool, or returns NULL when it is empty (or `pool` is NULL): the
 * caller then makes one. Thread-safe. */
void *capvi_ctx_pool_take(capv_ctx_pool *pool);

/* Puts a context taken (or made) by the caller back. False when the pool is full or NULL:
 * the context stays the caller's to free. Thread-safe. */
bool capvi_ctx_pool_give(capv_ctx_pool *pool, void *ctx);

/* Readies a pooled EVP_MD_CTX on which EVP_DigestVerifyInit was done for its next one-shot
 * EVP_DigestVerify: from OpenSSL 3.2 on, a one-shot verification finishes its context, and
 * a second one on it fails. An initialisation whose parameters are all NULL keeps the key
 * and resets the state (OpenSSL 3.0 and later; about 25 ns). False when it fails: the
 * context is then no use. */
bool capvi_md_ctx_restart(void *md_ctx);

#endif
