/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: the web UI (docs/ui.md): its compiled-in files under /ui/, "/" redirecting to
 * it, and /ui/config.json, what the UI needs to know before it signs in. */
#ifndef CAPVD_UI_H
#define CAPVD_UI_H

#include <stddef.h>

struct req;

/* GET "/", "/ui", "/ui/..." (404 while ui.enabled is false). */
void handle_ui(struct req *r);
/* GET /ui/config.json: {"auth_enabled","issuer","client_id","scopes","token_origin",
 * "max_body_bytes","version"}. */
void handle_ui_config(struct req *r);
/* The headers every answer of /ui/config.json carries (docs/ui.md), as "Name: value\r\n"
 * lines in buf (UI_HEADERS_CAP bytes), for its answers sent elsewhere (a 429). The cap holds
 * the policy with two origins of up to 300 bytes, and Cache-Control. */
#define UI_HEADERS_CAP 1536
const char *ui_config_headers(struct req *r, char *buf, size_t cap);

#endif
