/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: the registry, backup and policy routes (routes.c), and the policy-evaluation
 * form of POST /verify. Each handler answers its request; library failures go through
 * answer_failure (http_status.h). */
#ifndef CAPVD_ROUTES_H
#define CAPVD_ROUTES_H

#include <stddef.h>
#include <stdint.h>

struct req;

void handle_registry_list(struct req *r);
void handle_registry_get(struct req *r);
void handle_registry_post(struct req *r);
/* GET /registry/verifications/{request_id}: the stored report of a recorded request. */
void handle_registry_verification(struct req *r);
/* GET /registry/verifications: recorded verifications, newest first, by result. */
void handle_registry_verifications(struct req *r);
/* GET /registry/entries/{id}/signature: whether the entry's signature verifies and its key
 * is trusted. */
void handle_registry_signature(struct req *r);
/* GET /policies: the stored policies. */
void handle_policy_list(struct req *r);
void handle_admin_backup(struct req *r);
void handle_admin_backups(struct req *r);
void handle_policy_compile(struct req *r);
void handle_policy_get(struct req *r);
/* POST /verify with a policy-evaluation body (docs/policies.md): `body` is the request's. */
void handle_policy_eval(struct req *r, const uint8_t *body, size_t len);

#endif
