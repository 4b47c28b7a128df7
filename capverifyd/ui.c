/* SPDX-License-Identifier: Apache-2.0 */
/* The web UI (ui.h, docs/ui.md). Every answer of a UI route carries the UI's security headers:
 * a Content-Security-Policy that lets the page load scripts, styles and images from this
 * origin only, never inline ones, connect to this origin and, for signing in, to the identity
 * provider's (its discovery document at the issuer, its token endpoint); no framing; no
 * referrer to other origins. */
#include "ui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capverify.h>

#include "daemon.h"
#include "http.h"
#include "ui_assets.h"

/* index.html names the build; files under /ui/v/<build>/ never change */
#define CACHE_FOREVER "public, max-age=31536000, immutable"
#define CACHE_REVALIDATE "no-cache"

/* The origin of the identity provider's token endpoint that the UI may connect to:
 * ui.token_origin, else the issuer's origin; "" when the UI does not sign in (no auth, no
 * ui.client_id, or an issuer without an origin). Returns out. */
static const char *token_origin(const capvd_config *c, char *out, size_t cap)
{
    out[0] = '\0';
    if (!c->auth_enabled || !*c->ui_client_id || !*c->auth_issuer)
        return out;
    if (*c->ui_token_origin)
        snprintf(out, cap, "%s", c->ui_token_origin);
    else
        capvd_issuer_origin(c->auth_issuer, out, cap);
    return out;
}

/* The UI's headers ("Name: value\r\n" lines) into buf, with Cache-Control `cache` unless
 * NULL (answers of ROUTE_UI_CONFIG, like every API answer, get no-store from send_response). */
static const char *ui_headers(req *r, char *buf, size_t cap, const char *cache)
{
    const capvd_config *c = &r->d->cfg;
    char issuer[300] = "", token[300];
    /* the UI signs in at the issuer only with a client id: else it needs no connection */
    if (*token_origin(c, token, sizeof token))
        capvd_issuer_origin(c->auth_issuer, issuer, sizeof issuer);
    if (strcmp(token, issuer) == 0)
        token[0] = '\0';
    /* nothing the UI does not use: its own scripts, styles and icon, fetches to the daemon
     * and the identity provider */
    snprintf(buf, cap,
             "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
             "img-src 'self'; connect-src 'self'%s%s%s%s; frame-ancestors 'none'; "
             "base-uri 'none'; form-action 'self'\r\n"
             "Referrer-Policy: same-origin\r\n"
             "X-Frame-Options: DENY\r\n"
             "%s%s%s",
             issuer[0] ? " " : "", issuer, token[0] ? " " : "", token,
             cache ? "Cache-Control: " : "", cache ? cache : "", cache ? "\r\n" : "");
    return buf;
}

const char *ui_config_headers(req *r, char *buf, size_t cap)
{
    return ui_headers(r, buf, cap, NULL);
}

static void ui_not_found(req *r, const char *why)
{
    char hdr[UI_HEADERS_CAP];
    send_error_with(r, 404, "not_found",
                    ui_headers(r, hdr, sizeof hdr, r->route == ROUTE_UI ? "no-store" : NULL), "%s",
                    why);
}

static const ui_asset *find_asset(const char *name)
{
    for (size_t i = 0; i < ui_asset_count; i++)
        if (strcmp(ui_assets[i].name, name) == 0)
            return &ui_assets[i];
    return NULL;
}

/* Whether If-None-Match names `etag` (or is "*"). */
static bool not_modified(req *r, const char *etag)
{
    const char *inm = header(r, "If-None-Match");
    return inm != NULL && (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0);
}

void handle_ui(req *r)
{
    const char *path = r->ri->local_uri_raw;
    char hdr[UI_HEADERS_CAP], extra[UI_HEADERS_CAP + 256];
    if (!r->d->cfg.ui_enabled) {
        ui_not_found(r, "no route: the web UI is off (ui.enabled)");
        return;
    }
    if (strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0) {
        snprintf(extra, sizeof extra, "Location: /ui/\r\n%s",
                 ui_headers(r, hdr, sizeof hdr, "no-store"));
        send_response(r, 302, NULL, NULL, 0, extra);
        return;
    }
    const char *name = path + strlen("/ui/");
    bool versioned = false;
    if (strncmp(name, "v/", 2) == 0) {
        size_t idlen = strlen(ui_build_id);
        if (strncmp(name + 2, ui_build_id, idlen) != 0 || name[2 + idlen] != '/') {
            ui_not_found(r, "no such UI file: it belongs to another build of capverifyd "
                            "(reload the page)");
            return;
        }
        name += 2 + idlen + 1;
        versioned = true;
    }
    if (*name == '\0')
        name = "index.html";
    const ui_asset *a = find_asset(name);
    if (a == NULL) {
        ui_not_found(r, "no such UI file");
        return;
    }
    bool index = strcmp(a->name, "index.html") == 0;
    snprintf(
        extra, sizeof extra, "ETag: %s\r\n%s", a->etag,
        ui_headers(r, hdr, sizeof hdr, versioned && !index ? CACHE_FOREVER : CACHE_REVALIDATE));
    if (not_modified(r, a->etag)) {
        send_response(r, 304, NULL, NULL, 0, extra);
        return;
    }
    send_response(r, 200, a->content_type, (const char *)a->data, a->len, extra);
}

/* A JSON string literal of `s`, or null for "" (out of memory: null too). */
static char *json_or_null(const char *s)
{
    char *q = NULL;
    if (*s && capv_json_quote(&q, NULL, s, strlen(s), NULL) == CAPV_OK)
        return q;
    capv_free(q);
    return NULL;
}

void handle_ui_config(req *r)
{
    const capvd_config *c = &r->d->cfg;
    if (!c->ui_enabled) {
        ui_not_found(r, "no route: the web UI is off (ui.enabled)");
        return;
    }
    char scopes[1024] = "";
    size_t n = 0;
    for (int i = 0; i < c->ui_scopes.n && n < sizeof scopes; i++)
        n += (size_t)snprintf(scopes + n, sizeof scopes - n, "%s%s", i ? " " : "",
                              c->ui_scopes.items[i]);
    char origin[300];
    char *issuer = json_or_null(c->auth_enabled ? c->auth_issuer : "");
    char *client = json_or_null(c->auth_enabled ? c->ui_client_id : "");
    char *qscopes = json_or_null(scopes);
    char *token = json_or_null(token_origin(c, origin, sizeof origin));
    size_t cap = 256 + (issuer ? strlen(issuer) : 0) + (client ? strlen(client) : 0) +
                 (qscopes ? strlen(qscopes) : 0) + (token ? strlen(token) : 0);
    char *body = malloc(cap);
    if (body == NULL) {
        send_error(r, 500, "internal", "out of memory");
    } else {
        int len =
            snprintf(body, cap,
                     "{\"auth_enabled\":%s,\"issuer\":%s,\"client_id\":%s,\"scopes\":%s,"
                     "\"token_origin\":%s,\"max_body_bytes\":%lld,\"version\":\"%s\"}",
                     c->auth_enabled ? "true" : "false", issuer ? issuer : "null",
                     client ? client : "null", qscopes ? qscopes : "\"\"", token ? token : "null",
                     (long long)c->server_max_body_bytes, capv_version_string());
        char hdr[UI_HEADERS_CAP];
        send_json(r, 200, body, (size_t)len, ui_headers(r, hdr, sizeof hdr, NULL));
    }
    free(body);
    capv_free(issuer);
    capv_free(client);
    capv_free(qscopes);
    capv_free(token);
}
