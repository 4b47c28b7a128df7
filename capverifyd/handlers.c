/* SPDX-License-Identifier: Apache-2.0 */
/* Route handlers: probes, metrics, the API description, and package verification. */
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capverify.h>
#include <capverify/unstable/verify_request.h>

#include "auth.h"
#include "budget.h"
#include "conn.h"
#include "daemon.h"
#include "entry_count.h"
#include "http.h"
#include "http_status.h"
#include "metrics.h"
#include "multipart.h"
#include "ratelimit.h"
#include "routes.h"
#include "tls.h"

void handle_healthz(req *r)
{
    char body[160];
    int n = snprintf(body, sizeof body, "{\"status\":\"ok\",\"version\":\"%s\"}",
                     capv_version_string());
    send_json(r, 200, body, (size_t)n, NULL);
}

/* What the API port's /readyz says instead of a reason that may name files or addresses. */
#define REASON_ON_ADMIN_PORT "see the admin port's /readyz"

/* Whether the registry is open, writable and healthy; if not, why (into detail: the
 * storage's own reason only when `show_reason`); *open whether it is open (assumed while a
 * reload holds it). Never waits for the lock a SIGHUP reload takes: that waits for the API
 * requests in flight, and a probe must answer meanwhile (docs/hardening.md). */
static bool registry_ready(capvd *d, char *detail, size_t cap, bool *open, bool show_reason)
{
    capv_error err = CAPV_ERROR_INIT;
    bool ok = false;
    *open = true;
    if (pthread_rwlock_tryrdlock(&d->lock) != 0) {
        snprintf(detail, cap, "a reload waits for the requests in flight");
        return false;
    }
    *open = d->registry != NULL;
    if (d->registry == NULL)
        snprintf(detail, cap, "not open");
    else if (capv_registry_is_read_only(d->registry))
        snprintf(detail, cap, "opened read-only");
    else if (capv_registry_health(d->registry, &err) != CAPV_OK)
        snprintf(detail, cap, "%.*s", (int)cap - 1, /* cut to fit */
                 show_reason ? err.message : REASON_ON_ADMIN_PORT);
    else
        ok = true;
    pthread_rwlock_unlock(&d->lock);
    return ok;
}

/* A JSON string literal of `s` into buf (valid UTF-8 expected; anything else is shown as
 * "(unprintable)"). */
static const char *quoted(char *buf, size_t cap, const char *s)
{
    char *q = NULL;
    size_t n = 0;
    if (capv_json_quote(&q, &n, s, strlen(s), NULL) == CAPV_OK)
        snprintf(buf, cap, "%s", q);
    else
        snprintf(buf, cap, "\"(unprintable)\"");
    capv_free(q);
    return buf;
}

/* Readiness: everything a request needs is usable and we are not draining. A storage fault
 * of the registry gates readiness only while every /verify waits for its record: with
 * queued recording verifications go on and the records wait (docs/registry.md#recording-
 * verifications), so the check is shown but does not take the replica out of service. The
 * key-set check also shows the set's age and the last fetch error (docs/auth.md,
 * "Readiness"). */
void handle_readyz(req *r)
{
    capvd *d = r->d;
    auth_readiness jwks;
    auth_ready(d->auth, &jwks);
    /* the API port may face the internet: the reasons that can name files, the identity
     * provider's address or a transport error stay on the admin port (docs/hardening.md,
     * "Error messages") */
    if (!r->admin_port && jwks.last_error[0])
        snprintf(jwks.last_error, sizeof jwks.last_error, "%s", REASON_ON_ADMIN_PORT);
    char jwks_detail[400];
    if (jwks.age_seconds >= 0)
        snprintf(jwks_detail, sizeof jwks_detail, "%s, fetched %lld s ago%s%s", jwks.state,
                 (long long)jwks.age_seconds, jwks.last_error[0] ? "; last fetch failed: " : "",
                 jwks.last_error);
    else
        snprintf(jwks_detail, sizeof jwks_detail, "%s%s%s", jwks.state,
                 jwks.last_error[0] ? "; last fetch failed: " : "", jwks.last_error);
    char registry_detail[96];
    bool registry_open = true;
    bool registry_ok =
        registry_ready(d, registry_detail, sizeof registry_detail, &registry_open, r->admin_port);
    bool registry_gates = !registry_open || d->cfg.registry_record_queue_max == 0 ||
                          !d->cfg.registry_record_verifications;
    struct {
        const char *name;
        bool ok, gates;
        const char *detail;
    } checks[] = {
        { "jwks", jwks.ok, true, jwks_detail },
        { "registry", registry_ok, registry_gates,
          registry_ok ? "open, writable" : registry_detail },
        { "draining", !atomic_load(&d->draining), true,
          atomic_load(&d->draining) ? "shutting down" : "serving" },
        { "trust_store", atomic_load(&d->trust_loaded), true,
          atomic_load(&d->trust_loaded) ? "loaded" : "not loaded" },
    };
    bool ready = true;
    char list[2048], q[900];
    size_t n = 0;
    for (size_t i = 0; i < sizeof checks / sizeof *checks && n < sizeof list; i++) {
        ready = ready && (checks[i].ok || !checks[i].gates);
        n += (size_t)snprintf(
            list + n, sizeof list - n, "%s{\"name\":\"%s\",\"ok\":%s,\"detail\":%s", i ? "," : "",
            checks[i].name, checks[i].ok ? "true" : "false", quoted(q, sizeof q, checks[i].detail));
        if (i == 0 && n < sizeof list && d->auth != NULL)
            n += (size_t)snprintf(
                list + n, sizeof list - n,
                ",\"state\":\"%s\",\"key_set_age_seconds\":%lld,\"last_error\":%s", jwks.state,
                (long long)jwks.age_seconds,
                jwks.last_error[0] ? quoted(q, sizeof q, jwks.last_error) : "null");
        if (n < sizeof list)
            n += (size_t)snprintf(list + n, sizeof list - n, "}");
    }
    char body[2200];
    int m = snprintf(body, sizeof body, "{\"status\":\"%s\",\"checks\":[%s]}",
                     ready ? "ready" : "not_ready", list);
    if (m < 0 || (size_t)m >= sizeof body) { /* cannot happen with these bounded details */
        send_error(r, 500, "internal", "readiness report too long");
        return;
    }
    send_json(r, ready ? 200 : 503, body, (size_t)m, NULL);
}

void handle_metrics(req *r)
{
    capvd *d = r->d;
    if (!r->admin_port && d->cfg.auth_metrics_requires_scope && !auth_check(r, "metrics:read"))
        return;
    static const char *const cut_names[CUT_REASON_COUNT] = {
        "none", "head_timeout", "body_timeout", "body_too_slow", "write_timeout", "pressure",
    };
    metrics_sources src = { .report = cache_view_of(d->cache),
                            .jwks_keys = -1,
                            .registry_entries = -1,
                            .registry_db_bytes = -1,
                            .registry_free_bytes = -1,
                            .registry_fs_bytes = -1,
                            .tls_not_after = tls_cert_not_after(d->tls),
                            .cut_names = cut_names };
    auth_fill_metrics(d->auth, &src);
    /* while a reload waits for the requests in flight (registry_ready), a scrape answers
     * without the registry's series. Nothing here asks the database: the entries are counted
     * by entry_count.c's thread (a database that does not answer would hold the scrape up
     * past its timeout), and the disk usage is a file system's (a PostgreSQL registry
     * answers CAPV_E_UNSUPPORTED at once) */
    bool locked = pthread_rwlock_tryrdlock(&d->lock) == 0;
    capv_registry *reg = locked ? d->registry : NULL;
    uint64_t db_bytes = 0, free_bytes = 0, fs_bytes = 0;
    if (reg != NULL) {
        src.registry_known = true;
        src.registry_queue_depth =
            (int64_t)capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH);
        src.registry_records_dropped = registry_counter(d, reg, CARRIED_DROPPED);
        src.registry_records_rejected = registry_counter(d, reg, CARRIED_REJECTED);
        src.registry_records_written = registry_counter(d, reg, CARRIED_WRITTEN);
        src.registry_storage_faults = registry_counter(d, reg, CARRIED_FAULTS);
        if (capv_registry_disk_usage(&db_bytes, &free_bytes, reg, NULL) == CAPV_OK) {
            src.registry_db_bytes = (int64_t)db_bytes;
            src.registry_free_bytes = (int64_t)free_bytes;
        }
        if (capv_registry_filesystem_size(&fs_bytes, reg, NULL) == CAPV_OK)
            src.registry_fs_bytes = (int64_t)fs_bytes;
    }
    /* a reload that holds or waits for the lock has not closed the registry */
    src.registry_open = locked ? reg != NULL : atomic_load(&d->registry_open);
    if (locked)
        pthread_rwlock_unlock(&d->lock);
    if (reg != NULL)
        src.registry_entries = entry_count_get(r->admin_port);
    src.rate_limited_subject = ratelimit_limited_total(RL_SUBJECT);
    src.rate_limited_address = ratelimit_limited_total(RL_ADDRESS);
    for (int i = 1; i < CUT_REASON_COUNT; i++)
        src.cuts[i] = conn_cut_total((cut_reason)i);
    conn_counts(&src.connections_open, &src.connections_busy);
    src.memory_budget = budget_total();
    src.memory_reserved = budget_reserved();
    src.memory_rejections = budget_rejections();
    size_t len = 0;
    char *text = metrics_render(&src, &len);
    if (text == NULL) {
        send_error(r, 500, "internal", "out of memory");
        return;
    }
    send_response(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, NULL);
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

/* One row per verification (docs/registry.md#recording-verifications). Queued by default:
 * the writer stores it within registry.record_flush_ms, retrying while the storage fails,
 * and a full queue drops it (counted in cap_verifier_registry_records_dropped_total) while
 * the verdict is still answered. With registry.record_queue_max 0 the record is committed
 * before the answer, and one the registry could not record is a 503. The registry is open
 * (verify_package answers 503 while a SIGHUP could not reopen it): none goes unrecorded. */
static bool record(req *r, const char *json, size_t len)
{
    capvd *d = r->d;
    if (!d->cfg.registry_record_verifications)
        return true;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_record_report_json(NULL, d->registry, json, len, r->id,
                                                      r->subject[0] ? r->subject : NULL, &err);
    if (st == CAPV_OK || st == CAPV_E_EXISTS)
        return true;
    if (st == CAPV_E_BUSY && d->cfg.registry_record_queue_max > 0)
        return true; /* dropped: the queue is full */
    answer_failure(r, st, &err);
    return false;
}

static void answer_report(req *r, capv_verdict v, const char *json, size_t len, const char *extra)
{
    if (!record(r, json, len))
        return; /* an error outcome */
    snprintf(r->result, sizeof r->result, "%s", capv_verdict_name(v));
    metrics_outcome(outcome_of(v));
    send_json(r, 200, json, len, extra);
}

/* Verifies a package (a zip, or the JSON package form) of `len` bytes at `data`, which lies
 * in `body`, with `opts` (NULL: the daemon's), and answers its report with the `extra`
 * headers. Frees `body` as soon as the package has been read. */
static void verify_package(req *r, bool zip, uint8_t *body, const uint8_t *data, size_t len,
                           const capv_verify_options *opts, const char *extra)
{
    capvd *d = r->d;
    /* the registry check reads the registry: without it a verdict would skip that check
     * (a SIGHUP could not reopen it; main.c tries again) */
    if (d->registry == NULL) {
        free(body);
        answer_registry_not_open(r);
        return;
    }
    if (opts == NULL)
        opts = d->opts;
    capv_error err = CAPV_ERROR_INIT;
    char *text = NULL;
    size_t tlen = 0;
    capv_verdict v = CAPV_VERDICT_FAIL;
    capv_status st;
    double t0 = http_mono();
    r->cache = "none";
    if (zip) {
        /* the library consults and fills the report cache attached to the verifier, and
         * lists the log line's problems from the report while it has it */
        bool hit = false;
        st = capv_verify_zip_memory_json_problems(&text, &tlen, &v, &hit, r->problems,
                                                  sizeof r->problems, d->verifier, data, len, opts,
                                                  &err);
        if (d->cache != NULL)
            r->cache = hit ? "hit" : "miss";
    } else {
        capv_report *rep = NULL;
        st = capv_verify_package_json(&rep, d->verifier, data, len, opts, &err);
        if (st == CAPV_OK) {
            st = capv_report_to_json(&text, &tlen, rep, 0, &err);
            v = capv_report_verdict(rep);
        }
        capv_report_free(rep);
        if (st == CAPV_OK && v != CAPV_VERDICT_OK &&
            capv_report_json_problems(r->problems, sizeof r->problems, text, tlen, NULL) != CAPV_OK)
            snprintf(r->problems, sizeof r->problems, "unreadable report");
    }
    free(body);
    r->verify_ms = (http_mono() - t0) * 1000.0;
    if (st != CAPV_OK)
        answer_failure(r, st, &err);
    else
        answer_report(r, v, text, tlen, extra);
    capv_free(text);
}

/* `s` for a message when it is printable ASCII, else "(unprintable)". */
static const char *printable_or(const char *s)
{
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return "(unprintable)";
    return s;
}

/* A form upload (docs/ui.md, "Without JavaScript"): the field `package` holds a zip
 * (recognised by its signature, whatever the file is called) or else a JSON package; the
 * optional field `audit_log` an audit log kept beside it, which the audit check verifies
 * and compares with the manifest (docs/formats.md, "Audit logs"); no other field is known.
 * The report is the one a raw body gets, with Content-Disposition: inline so that a browser
 * shows it. Frees `body`. */
static void verify_form(req *r, uint8_t *body, size_t len, const char *boundary)
{
    multipart_form form;
    char why[200];
    if (!multipart_parse(&form, body, len, boundary, why, sizeof why)) {
        free(body);
        send_error(r, 400, "malformed", "multipart/form-data: %s", why);
        return;
    }
    for (size_t i = 0; i < form.n; i++)
        if (strcmp(form.parts[i].name, "package") != 0 &&
            strcmp(form.parts[i].name, "audit_log") != 0) {
            free(body);
            send_error(r, 400, "malformed",
                       "unknown form field '%s': POST /verify takes the fields 'package' and "
                       "'audit_log'",
                       printable_or(form.parts[i].name));
            return;
        }
    size_t count = 0, logs = 0;
    const multipart_part *pkg = multipart_field(&form, "package", &count);
    const multipart_part *log = multipart_field(&form, "audit_log", &logs);
    /* a file input left empty: a browser sends it as a part with no bytes and an empty file
     * name (HTML's form submission), so a form's optional log picker is no log (docs/ui.md) */
    if (logs == 1 && log->len == 0 && log->has_filename && log->filename[0] == '\0') {
        log = NULL;
        logs = 0;
    }
    const char *problem = pkg == NULL ? "the form has no field 'package'"
                          : count > 1 ? "the form has more than one field 'package'"
                          : !pkg->len ? "the field 'package' is empty (no file chosen?)"
                          : logs > 1  ? "the form has more than one field 'audit_log'"
                          : log != NULL && !log->len
                              ? "the field 'audit_log' is empty (leave it out when there is no log)"
                              : NULL;
    if (problem != NULL) {
        free(body);
        send_error(r, 400, "malformed", "%s", problem);
        return;
    }
    const uint8_t *p = pkg->data;
    bool zip = pkg->len >= 4 && p[0] == 'P' && p[1] == 'K' &&
               ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6));
    capv_json_form jform = CAPV_JSON_FORM_PACKAGE;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = zip ? CAPV_OK : capv_verify_json_form(&jform, p, pkg->len, &err);
    if (st != CAPV_OK) {
        free(body);
        answer_failure(r, st, &err);
        return;
    }
    if (jform != CAPV_JSON_FORM_PACKAGE) {
        free(body);
        send_error(r, 400, "malformed",
                   "a policy evaluation is sent as application/json, not in a form");
        return;
    }
    /* the log is this request's: a copy of the shared options borrows it from the body,
     * which verify_package frees only after verifying */
    capv_verify_options *opts = NULL;
    if (log != NULL &&
        ((st = capv_verify_options_copy(&opts, r->d->opts, &err)) != CAPV_OK ||
         (st = capv_verify_options_set_audit_log(opts, log->data, log->len, &err)) != CAPV_OK)) {
        capv_verify_options_free(opts);
        free(body);
        answer_failure(r, st, &err);
        return;
    }
    verify_package(r, zip, body, p, pkg->len, opts,
                   "Content-Disposition: inline; filename=\"capverify-report.json\"\r\n");
    capv_verify_options_free(opts);
}

void handle_verify(req *r)
{
    if (!auth_check(r, "verify:run"))
        return;
    r->has_outcome = true; /* from here on every answer is an outcome (finish in server.c) */
    char ct[96];
    content_type(r, ct, sizeof ct);
    bool zip =
        strcmp(ct, "application/zip") == 0 || strcmp(ct, "application/x-zip-compressed") == 0;
    bool json = strcmp(ct, "application/json") == 0;
    bool form = strcmp(ct, "multipart/form-data") == 0;
    if (!zip && !json && !form) {
        send_error(r, 415, "unsupported_media_type",
                   "send application/zip (a package), application/json, or multipart/form-data "
                   "with the field 'package'");
        return;
    }
    char boundary[MULTIPART_BOUNDARY_MAX + 1], why[160];
    if (form && !multipart_boundary(boundary, header(r, "Content-Type"), why, sizeof why)) {
        send_error(r, 400, "malformed", "multipart/form-data: %s", why);
        return;
    }
    if (form && cross_site(r)) {
        send_error(r, 403, "forbidden",
                   "a form from another site is refused (Sec-Fetch-Site or Origin); its pages "
                   "may send the package as application/zip from an origin in "
                   "server.cors_origins");
        return;
    }
    /* a form holds the package and a little more: the package's budget covers it */
    uint8_t *body = NULL;
    size_t len = 0;
    if (!read_body(r, BODY_PACKAGE, &body, &len))
        return;
    if (form) {
        verify_form(r, body, len, boundary);
        return;
    }
    /* a JSON body is a package or a policy evaluation (docs/policies.md) */
    capv_json_form jform = CAPV_JSON_FORM_PACKAGE;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = json ? capv_verify_json_form(&jform, body, len, &err) : CAPV_OK;
    if (st == CAPV_OK && jform == CAPV_JSON_FORM_PACKAGE) {
        verify_package(r, zip, body, body, len, NULL, NULL);
        return;
    }
    /* an evaluation request is parsed whole: its worst case is a JSON tree's, which can be
     * far above a package's of the same size (docs/hardening.md) */
    if (st != CAPV_OK)
        answer_failure(r, st, &err);
    else if (body_reserve_as(r, BODY_JSON, len))
        handle_policy_eval(r, body, len);
    free(body);
}
