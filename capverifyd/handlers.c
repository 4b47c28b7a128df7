/* Route handlers: probes, metrics, the API description, and package verification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

void handle_healthz(req *r)
{
    char body[160];
    int n = snprintf(body, sizeof body, "{\"status\":\"ok\",\"version\":\"%s\"}",
                     capv_version_string());
    send_json(r, 200, body, (size_t)n, NULL);
}

/* Readiness: everything a request needs is usable and we are not draining. */
void handle_readyz(req *r)
{
    capvd *d = r->d;
    char jwks_detail[64];
    bool jwks_ok = auth_ready(d->auth, jwks_detail, sizeof jwks_detail);
    pthread_rwlock_rdlock(&d->lock);
    bool registry_ok = d->registry != NULL && !capv_registry_is_read_only(d->registry);
    pthread_rwlock_unlock(&d->lock);
    struct {
        const char *name;
        bool ok;
        const char *detail;
    } checks[] = {
        { "jwks", jwks_ok, jwks_detail },
        { "registry", registry_ok, registry_ok ? "open, writable" : "not open" },
        { "draining", !atomic_load(&d->draining),
          atomic_load(&d->draining) ? "shutting down" : "serving" },
        { "trust_store", atomic_load(&d->trust_loaded),
          atomic_load(&d->trust_loaded) ? "loaded" : "not loaded" },
    };
    bool ready = true;
    char list[900];
    size_t n = 0;
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
        ready = ready && checks[i].ok;
        n += (size_t)snprintf(list + n, sizeof list - n,
                              "%s{\"name\":\"%s\",\"ok\":%s,\"detail\":\"%s\"}", i ? "," : "",
                              checks[i].name, checks[i].ok ? "true" : "false", checks[i].detail);
    }
    char body[1024];
    int m = snprintf(body, sizeof body, "{\"status\":\"%s\",\"checks\":[%s]}",
                     ready ? "ready" : "not_ready", list);
    send_json(r, ready ? 200 : 503, body, (size_t)m, NULL);
}

void handle_metrics(req *r)
{
    capvd *d = r->d;
    if (!r->admin_port && d->cfg.auth_metrics_requires_scope && !auth_check(r, "metrics:read"))
        return;
    metrics_sources src = { .report = cache_view_of(d->cache), .jwks_keys = -1,
                            .registry_entries = -1 };
    auth_fill_metrics(d->auth, &src);
    pthread_rwlock_rdlock(&d->lock);
    uint64_t entries = 0;
    if (d->registry != NULL &&
        capv_registry_count(&entries, d->registry, CAPV_REGISTRY_ENTRIES, NULL) == CAPV_OK)
        src.registry_entries = (int64_t)entries;
    pthread_rwlock_unlock(&d->lock);
    size_t len = 0;
    char *text = metrics_render(&src, &len);
    if (text == NULL) {
        send_error(r, 500, "internal", "out of memory");
        return;
    }
    r->status = 200;
    mg_printf(r->conn,
              "HTTP/1.1 200 OK\r\n"
              "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
              "Content-Length: %zu\r\n"
              "X-Content-Type-Options: nosniff\r\n"
              "X-Request-Id: %s\r\n\r\n",
              len, r->id);
    if (strcmp(r->ri->request_method, "HEAD") != 0)
        mg_write(r->conn, text, len);
    free(text);
}

void handle_openapi(req *r)
{
    if (r->d->openapi == NULL) {
        send_error(r, 404, "not_found", "the API description is not installed");
        return;
    }
    send_json(r, 200, r->d->openapi, r->d->openapi_len, NULL);
}

/* ---- /verify ----------------------------------------------------------------------------- */

static outcome outcome_of(capv_verdict v)
{
    return v == CAPV_VERDICT_OK ? OUTCOME_OK : v == CAPV_VERDICT_WARN ? OUTCOME_WARN : OUTCOME_FAIL;
}

static void answer_status(req *r, capv_status st, const capv_error *err)
{
    const char *msg = err->message[0] ? err->message : capv_strerror(st);
    switch (capv_status_class_of(st)) {
    case CAPV_CLASS_MALFORMED:
        send_error(r, 400, "malformed", "%s", msg);
        break;
    case CAPV_CLASS_UNAVAILABLE:
        send_error(r, 503, "unavailable", "%s", msg);
        break;
    default:
        send_error(r, 500, "internal", "%s", msg);
    }
    snprintf(r->result, sizeof r->result, "error");
    metrics_outcome(OUTCOME_ERROR);
}

/* After the answer is sent: one row per verification (SPEC §8), acknowledged by the
 * registry's writer after its batch committed. A failure is logged, never hidden. */
static void record(req *r, const char *json, size_t len)
{
    capvd *d = r->d;
    if (d->registry == NULL || !d->cfg.registry_record_verifications)
        return;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_record_report_json(NULL, d->registry, json, len, r->id,
                                                      r->subject[0] ? r->subject : NULL, &err);
    if (st != CAPV_OK && st != CAPV_E_EXISTS) {
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "record_failed");
        capv_log_str(e, "request_id", r->id);
        capv_log_str(e, "error", capv_status_name(st));
        capv_log_end(e, "verification not recorded: %s", err.message);
    }
}

static void answer_report(req *r, capv_verdict v, const char *json, size_t len)
{
    snprintf(r->result, sizeof r->result, "%s", capv_verdict_name(v));
    metrics_outcome(outcome_of(v));
    send_json(r, 200, json, len, NULL);
    record(r, json, len);
}

void handle_verify(req *r)
{
    capvd *d = r->d;
    if (!auth_check(r, "verify:run"))
        return;
    char ct[96];
    content_type(r, ct, sizeof ct);
    bool zip = strcmp(ct, "application/zip") == 0 || strcmp(ct, "application/x-zip-compressed") == 0;
    bool json = strcmp(ct, "application/json") == 0;
    if (!zip && !json) {
        send_error(r, 415, "unsupported_media_type",
                   "send application/zip (a package) or application/json");
        return;
    }
    uint8_t *body = NULL;
    size_t len = 0;
    if (!read_body(r, &body, &len))
        return;
    capv_error err = CAPV_ERROR_INIT;
    char *text = NULL;
    size_t tlen = 0;
    capv_verdict v = CAPV_VERDICT_FAIL;
    capv_status st;
    if (zip) {
        /* the library consults and fills the report cache attached to the verifier */
        st = capv_verify_zip_memory_json(&text, &tlen, &v, NULL, d->verifier, body, len,
                                         d->opts, 0, &err);
    } else {
        capv_report *rep = NULL;
        st = capv_verify_package_json(&rep, d->verifier, body, len, d->opts, &err);
        if (st == CAPV_E_MALFORMED && strcmp(err.field, "package") == 0) {
            /* not the package form: the policy-evaluation form (SPEC §5) */
            handle_policy_eval(r, body, len);
            free(body);
            return;
        }
        if (st == CAPV_OK) {
            st = capv_report_to_json(&text, &tlen, rep, 0, &err);
            v = capv_report_verdict(rep);
        }
        capv_report_free(rep);
    }
    free(body);
    if (st != CAPV_OK)
        answer_status(r, st, &err);
    else
        answer_report(r, v, text, tlen);
    capv_free(text);
}
