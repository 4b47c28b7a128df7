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
    struct {
        const char *name;
        bool ok;
        const char *detail;
    } checks[] = {
        { "jwks", jwks_ok, jwks_detail },
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

/* Cache key: SHA3-256 of (package bytes ‖ verifier generation); the options are fixed for the
 * process, and a new generation (SIGHUP reload of trust / policies) never shares keys with
 * the old one. */
static void cache_key(uint8_t key[32], const uint8_t *body, size_t len, uint64_t generation)
{
    capv_hash_ctx *h = NULL;
    uint8_t gen[8];
    for (int i = 0; i < 8; i++)
        gen[i] = (uint8_t)(generation >> (8 * i));
    memset(key, 0, 32);
    if (capv_hash_ctx_new(&h, CAPV_HASH_SHA3_256, NULL) == CAPV_OK &&
        capv_hash_ctx_update(h, body, len, NULL) == CAPV_OK &&
        capv_hash_ctx_update(h, gen, sizeof gen, NULL) == CAPV_OK)
        capv_hash_ctx_final(key, h, NULL);
    capv_hash_ctx_free(h);
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

static void answer_report(req *r, capv_verdict v, const char *json, size_t len)
{
    snprintf(r->result, sizeof r->result, "%s", capv_verdict_name(v));
    metrics_outcome(outcome_of(v));
    send_json(r, 200, json, len, NULL);
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

    pthread_rwlock_rdlock(&d->lock);
    uint8_t key[32];
    if (d->cache != NULL) {
        cache_key(key, body, len, d->generation);
        uint8_t *hit = NULL;
        size_t hlen = 0;
        if (capv_cache_get(d->cache, key, sizeof key, &hit, &hlen) == CAPV_OK && hlen > 1) {
            pthread_rwlock_unlock(&d->lock);
            answer_report(r, (capv_verdict)(hit[0] - '0'), (const char *)hit + 1, hlen - 1);
            capv_free(hit);
            free(body);
            return;
        }
    }
    capv_report *rep = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st;
    if (zip) {
        st = capv_verify_zip_memory(&rep, d->verifier, body, len, d->opts, &err);
    } else {
        capv_package *pkg = NULL;
        st = capv_package_open_json(&pkg, body, len, d->limits, &err);
        if (st == CAPV_OK) {
            st = capv_verify_package(&rep, d->verifier, pkg, d->opts, &err);
            capv_package_free(pkg);
        } else if (st == CAPV_E_LIMIT || st == CAPV_E_UNSAFE_PATH) {
            /* like a zip: an unsafe package is an answer, not an error */
            st = capv_verify_zip_memory(&rep, d->verifier, NULL, 0, d->opts, &err);
        }
    }
    uint64_t generation = d->generation;
    pthread_rwlock_unlock(&d->lock);
    free(body);
    if (st != CAPV_OK) {
        answer_status(r, st, &err);
        return;
    }
    char *text = NULL;
    size_t tlen = 0;
    st = capv_report_to_json(&text, &tlen, rep, 0, &err);
    capv_verdict v = capv_report_verdict(rep);
    capv_report_free(rep);
    if (st != CAPV_OK) {
        answer_status(r, st, &err);
        return;
    }
    answer_report(r, v, text, tlen);
    if (d->cache != NULL && generation == d->generation) {
        /* the value is the verdict digit followed by the report JSON */
        uint8_t *val = malloc(tlen + 1);
        if (val != NULL) {
            val[0] = (uint8_t)('0' + (int)v);
            memcpy(val + 1, text, tlen);
            capv_cache_put(d->cache, key, sizeof key, val, tlen + 1, NULL);
            free(val);
        }
    }
    capv_free(text);
}
