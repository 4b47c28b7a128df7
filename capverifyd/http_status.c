/* SPDX-License-Identifier: Apache-2.0 */
/* The one mapping from a library status to an HTTP answer, used by every route
 * (docs/hardening.md, "Error messages"). Client faults (malformed, rejected) carry the
 * library's message: it describes the client's own input. Server faults (unavailable, usage,
 * internal) carry a generic message; the detail, which may name files, hosts or library
 * errors, goes to the log with the request id. */
#include "http_status.h"

#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "http.h"
#include "metrics.h"

/* What a registry failure was doing, for cap_verifier_registry_errors_total{op}. */
static const char *registry_op(route rt)
{
    switch (rt) {
    case ROUTE_VERIFY: return "record";
    case ROUTE_REGISTRY_POST: return "add";
    case ROUTE_POLICY_COMPILE: return "put_policy";
    case ROUTE_POLICY_GET: return "get_policy";
    case ROUTE_ADMIN_BACKUP: return "backup";
    default: return "read";
    }
}

static void log_detail(req *r, capv_status st, const capv_error *err)
{
    capv_log_entry *e = capv_log_begin(r->d->log, CAPV_LOG_ERROR, "request_failed");
    capv_log_str(e, "request_id", r->id);
    capv_log_str(e, "route", route_label(r->route));
    capv_log_str(e, "error", capv_status_name(st));
    if (err->field[0])
        capv_log_str(e, "field", err->field);
    capv_log_end(e, "%s", err->message[0] ? err->message : capv_strerror(st));
}

void answer_failure(req *r, capv_status st, const capv_error *err)
{
    const char *msg = err->message[0] ? err->message : capv_strerror(st);
    switch (capv_status_class_of(st)) {
    case CAPV_CLASS_MALFORMED: send_error(r, 400, "malformed", "%s", msg); return;
    case CAPV_CLASS_REJECTED:
        if (st == CAPV_E_CONFLICT)
            send_error(r, 409, "conflict", "%s", msg);
        else
            send_error(r, 422, "unprocessable", "%s", msg);
        return;
    case CAPV_CLASS_UNAVAILABLE:
        if (st == CAPV_E_NOT_FOUND) {
            send_error(r, 404, "not_found", "%s", msg);
            return;
        }
        if (st == CAPV_E_BUSY) {
            /* concurrent writers kept failing this one (docs/registry.md "Writes across
             * replicas"), or a lock or a database connection it waited for did not come
             * within the busy timeout: nothing about the request is wrong, a retry goes
             * through */
            log_detail(r, st, err);
            send_error_with(r, 503, "busy", "Retry-After: 1\r\n",
                            "the registry is busy (concurrent writes, or a lock it waited for); "
                            "retry");
            return;
        }
        log_detail(r, st, err);
        if (st == CAPV_E_STORAGE) {
            metrics_registry_error(registry_op(r->route));
            send_error(r, 503, "registry_unavailable", "the registry is unavailable");
        } else {
            send_error(r, 503, "unavailable", "a service this request needs is unavailable");
        }
        return;
    default:
        log_detail(r, st, err);
        send_error(r, 500, "internal", "internal error");
        return;
    }
}

void answer_registry_not_open(req *r)
{
    send_error(r, 503, "registry_unavailable", "the registry is not open; retry shortly");
}
