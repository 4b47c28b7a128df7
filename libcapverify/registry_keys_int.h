/* SPDX-License-Identifier: Apache-2.0 */
/* The (manifest, proof) keys of every entry of a SQLite registry whose writer thread runs in
 * this handle (docs/registry.md, "Look-ups of packages without an entry"). The handle holds
 * the writer lock, so every entry is written through it: a look-up of a package that has no
 * entry, as most fresh verifications are, is answered from memory instead of a read
 * transaction. A set of 64-bit fingerprints of the pair: "absent" is certain, "present" may
 * be a false positive (about one look-up in 2^64 / entries) and is asked of the database. */
#ifndef CAPV_REGISTRY_KEYS_INT_H
#define CAPV_REGISTRY_KEYS_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many slots (8 bytes each; the set is at most half full): a registry with more
 * entries than half of it asks the database for every look-up. */
#define REG_KEYS_MAX_SLOTS (1u << 22)

typedef struct capvi_reg_keys {
    pthread_rwlock_t lock;
    uint64_t *slot; /* open addressing, linear probing; 0 = empty */
    size_t cap;     /* a power of two; 0: not kept (every look-up asks the database) */
    size_t n;
} capvi_reg_keys;

void capvi_reg_keys_init(capvi_reg_keys *k);
void capvi_reg_keys_free(capvi_reg_keys *k);

/* Loads the keys of every entry through `db` (the writer's connection, before the writer
 * starts); returns SQLITE_OK or the failed query's code. A set that cannot be kept (too many
 * entries, out of memory) stays off: look-ups then ask the database, as without it. */
int capvi_reg_keys_load(capvi_reg_keys *k, sqlite3 *db);

/* Adds an entry's keys, before the entry is written: a look-up that sees the entry's commit
 * sees its keys, and a write that rolls back leaves a false positive, which costs one
 * database look-up. When the set cannot grow it is turned off. */
void capvi_reg_keys_add(capvi_reg_keys *k, const uint8_t manifest_key[32],
                        const uint8_t proof_key[32]);

/* false only when the set is kept and no entry has these keys. */
bool capvi_reg_keys_maybe(capvi_reg_keys *k, const uint8_t manifest_key[32],
                          const uint8_t proof_key[32]);

#endif
