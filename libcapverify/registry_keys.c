/* SPDX-License-Identifier: Apache-2.0 */
/* The entry keys a SQLite registry's writer keeps in memory (registry_keys_int.h,
 * docs/registry.md "Look-ups of packages without an entry"). */
#include "registry_keys_int.h"

#include <stdlib.h>
#include <string.h>

#define KEYS_MIN_SLOTS 64u

/* The keys are digests: 8 bytes of each are uniform already, and a pair's fingerprint is
 * never 0 (the empty slot). */
static uint64_t fingerprint(const uint8_t mk[32], const uint8_t pk[32])
{
    uint64_t a, b;
    memcpy(&a, mk, 8);
    memcpy(&b, pk + 8, 8);
    uint64_t f = a ^ (b << 29 | b >> 35);
    return f ? f : 1;
}

/* The slot that holds `f`, or the empty one where it would go. */
static size_t find_slot(const uint64_t *slot, size_t cap, uint64_t f)
{
    size_t i = (size_t)f & (cap - 1);
    while (slot[i] != 0 && slot[i] != f)
        i = (i + 1) & (cap - 1);
    return i;
}

/* Puts `f` into the slots; true when it was not there yet. */
static bool put(uint64_t *slot, size_t cap, uint64_t f)
{
    size_t i = find_slot(slot, cap, f);
    bool added = slot[i] == 0;
    slot[i] = f;
    return added;
}

static void turn_off(capvi_reg_keys *k)
{
    free(k->slot);
    k->slot = NULL;
    k->cap = k->n = 0;
}

/* Room for `n` fingerprints at most half full, or turned off. */
static bool reserve(capvi_reg_keys *k, size_t n)
{
    size_t cap = KEYS_MIN_SLOTS;
    while (cap < 2 * n && cap < REG_KEYS_MAX_SLOTS)
        cap *= 2;
    if (cap < 2 * n) {
        turn_off(k);
        return false;
    }
    if (cap <= k->cap)
        return true;
    uint64_t *slot = calloc(cap, sizeof *slot);
    if (slot == NULL) {
        turn_off(k);
        return false;
    }
    for (size_t i = 0; i < k->cap; i++)
        if (k->slot[i] != 0)
            put(slot, cap, k->slot[i]);
    free(k->slot);
    k->slot = slot;
    k->cap = cap;
    return true;
}

void capvi_reg_keys_init(capvi_reg_keys *k)
{
    memset(k, 0, sizeof *k);
    pthread_rwlock_init(&k->lock, NULL);
}

void capvi_reg_keys_free(capvi_reg_keys *k)
{
    turn_off(k);
    pthread_rwlock_destroy(&k->lock);
}

int capvi_reg_keys_load(capvi_reg_keys *k, sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT manifest_key, proof_key FROM entries", -1, &s, NULL);
    pthread_rwlock_wrlock(&k->lock);
    turn_off(k);
    bool kept = rc == SQLITE_OK && reserve(k, 0);
    while (kept && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const uint8_t *mk = sqlite3_column_blob(s, 0), *pk = sqlite3_column_blob(s, 1);
        /* the schema's CHECKs make both 32 bytes */
        kept = mk != NULL && pk != NULL && sqlite3_column_bytes(s, 0) == 32 &&
               sqlite3_column_bytes(s, 1) == 32 && reserve(k, k->n + 1);
        if (kept && put(k->slot, k->cap, fingerprint(mk, pk)))
            k->n++;
    }
    if (!kept || rc != SQLITE_DONE)
        turn_off(k);
    pthread_rwlock_unlock(&k->lock);
    sqlite3_finalize(s);
    /* a set given up on a row (SQLITE_ROW) is no error: look-ups ask the database */
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

void capvi_reg_keys_add(capvi_reg_keys *k, const uint8_t manifest_key[32],
                        const uint8_t proof_key[32])
{
    pthread_rwlock_wrlock(&k->lock);
    if (k->cap != 0 && reserve(k, k->n + 1) &&
        put(k->slot, k->cap, fingerprint(manifest_key, proof_key)))
        k->n++;
    pthread_rwlock_unlock(&k->lock);
}

bool capvi_reg_keys_maybe(capvi_reg_keys *k, const uint8_t manifest_key[32],
                          const uint8_t proof_key[32])
{
    uint64_t f = fingerprint(manifest_key, proof_key);
    pthread_rwlock_rdlock(&k->lock);
    bool maybe = k->cap == 0 || k->slot[find_slot(k->slot, k->cap, f)] == f;
    pthread_rwlock_unlock(&k->lock);
    return maybe;
}
