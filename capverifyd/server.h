/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: the two CivetWeb listeners (server.c). The API listener serves every route,
 * the admin listener (server.admin_listen) only the probes and /metrics, on its own workers
 * (docs/hardening.md). */
#ifndef CAPVD_SERVER_H
#define CAPVD_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct capvd;

/* Starts the connection watchdog, the rate limits and the memory budget, then both
 * listeners. False with a message in errbuf when a listener cannot start. */
bool server_start(struct capvd *d, char *errbuf, size_t errlen);
/* Stops both listeners (in parallel) and the watchdog; requests still running fail their
 * next read or write. */
void server_stop(struct capvd *d);

#endif
