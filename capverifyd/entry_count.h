/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: the registry's entry count for /metrics (cap_verifier_registry_entries), kept
 * by a thread of its own so that a scrape never waits for the database (docs/runbook.md,
 * "Registry: inspect"). */
#ifndef CAPVD_ENTRY_COUNT_H
#define CAPVD_ENTRY_COUNT_H

#include <stdbool.h>
#include <stdint.h>

#include <capverify.h>

struct capvd;

/* Starts the thread that counts the entries of d->registry at once and then every
 * ENTRY_COUNT_REFRESH_MS. False when it could not be started (the gauge is then absent). */
bool entry_count_start(struct capvd *d);

/* Stops it: true once it has ended (a count on a SQLite registry is waited for); false
 * while, after wait_ms, it still waits for a PostgreSQL server, with the registry handle it
 * counts on still in use. */
bool entry_count_stop(int wait_ms);

/* This daemon added an entry (POST /registry/entries answered 201). */
void entry_count_added(void);

/* The last count that succeeded, or -1 before the first. With `ask` (a scrape of the admin
 * port), when this daemon added an entry since the last count began, a count is asked for
 * and waited for at most ENTRY_COUNT_WAIT_MS, unless one is already under way (the database
 * may not answer); the API port's /metrics, open to clients, never starts one. Called
 * without d->lock. */
int64_t entry_count_get(bool ask);

/* A handle a reload replaced or the shutdown closes: false when the caller closes it; true
 * when a count still uses it, which then closes it when the count returns. */
bool entry_count_release(capv_registry *reg);

#endif
