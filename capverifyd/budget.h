/* SPDX-License-Identifier: Apache-2.0 */
/* The memory budget of request bodies and their verification (docs/hardening.md): each
 * request is let in when its worst case fits, holds its body's raw bytes while they arrive,
 * then its worst case, and gives it back when it is answered; past the budget it waits a
 * little, then is refused with 503. */
#ifndef CAPVD_BUDGET_H
#define CAPVD_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

void budget_init(uint64_t total_bytes, int64_t wait_ms);

typedef enum budget_result {
    BUDGET_OK,       /* reserved */
    BUDGET_BUSY,     /* no room within the wait: answer 503 with Retry-After */
    BUDGET_TOO_LARGE /* more than the whole budget: it can never run */
} budget_result;

/* Reserves `bytes` once `room` (at least `bytes`) are free: a body holds its raw bytes while it
 * arrives, but is let in only when its worst case fits at that moment, so that the bodies
 * arriving can never hold so much that none of them can grow to its worst case. */
budget_result budget_admit(uint64_t bytes, uint64_t room);
/* Returns a reservation; once large ones were returned, freed heap memory is handed back to
 * the system (malloc_trim, at most once a second) so the resident size returns to its base. */
void budget_release(uint64_t bytes);
/* Makes a trim that budget_release put off (called once a second by the main thread). */
void budget_tick(void);

uint64_t budget_total(void);
uint64_t budget_reserved(void);
/* Requests refused for want of room since start. */
uint64_t budget_rejections(void);

#endif
