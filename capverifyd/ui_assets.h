/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: the web UI's files (ui/ in the source tree), compiled into the daemon at build
 * time by embed_ui.cmake, which writes ui_assets.c (docs/ui.md, "How it is built"). */
#ifndef CAPVD_UI_ASSETS_H
#define CAPVD_UI_ASSETS_H

#include <stddef.h>

typedef struct ui_asset {
    const char *name;         /* the file's name in ui/ ("index.html", "app.js") */
    const char *content_type; /* from its extension */
    const unsigned char *data;
    size_t len;
    const char *etag; /* a strong ETag: "\"<first 16 hex digits of its SHA-256>\"" */
} ui_asset;

extern const ui_asset ui_assets[];
extern const size_t ui_asset_count;
/* 16 hex digits of a SHA-256 over the names and contents of every file but index.html:
 * index.html loads the others from /ui/v/<ui_build_id>/, which may be cached for good. */
extern const char ui_build_id[];

#endif
