/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: the probes, /metrics, /openapi.json and POST /verify (handlers.c). Each
 * handler answers its request; library failures go through answer_failure (http_status.h). */
#ifndef CAPVD_HANDLERS_H
#define CAPVD_HANDLERS_H

struct req;

void handle_healthz(struct req *r);
void handle_readyz(struct req *r);
void handle_metrics(struct req *r);
void handle_openapi(struct req *r);
void handle_verify(struct req *r);

#endif
