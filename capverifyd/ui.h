/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: the web UI (docs/ui.md): its compiled-in files under /ui/, "/" redirecting to
 * it, and /ui/config.json, what the UI needs to know before it signs in. */
#ifndef CAPVD_UI_H
#define CAPVD_UI_H

struct req;

/* GET "/", "/ui", "/ui/..." (404 while ui.enabled is false). */
void handle_ui(struct req *r);
/* GET /ui/config.json: {"auth_enabled","issuer","client_id","scopes","version"}. */
void handle_ui_config(struct req *r);

#endif
