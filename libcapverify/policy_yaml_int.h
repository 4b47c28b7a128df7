/* SPDX-License-Identifier: Apache-2.0 */
/* The bottom of the policy module (policy_yaml.c): policy documents read from YAML or JSON
 * into one tree with node positions, and user text clipped for messages. Every other policy
 * file builds on it; it includes none of theirs. */
#ifndef CAPV_POLICY_YAML_INT_H
#define CAPV_POLICY_YAML_INT_H

#include <stdbool.h>

#include "json_int.h"

/* Where a node came from (1-based line and column), for error messages. */
typedef struct capv_yaml_mark {
    const cJSON *node;
    unsigned line, col;         /* the node itself */
    unsigned key_line, key_col; /* its mapping key (0 when it has none) */
} capv_yaml_mark;

/* A parsed document: the tree plus the positions of its nodes (none for JSON input). */
typedef struct capv_yaml_doc {
    cJSON *root;
    capv_yaml_mark *marks;
    size_t nmarks, capmarks;
} capv_yaml_doc;

/* YAML 1.2 core schema into a tree: quoted and block scalars are strings, plain scalars
 * resolve to null/bool/int/float/string, numbers carry a JSON lexeme (integers in
 * decimal, floats as serde_json prints an f64). Rejects: invalid UTF-8 / NUL
 * (CAPV_E_JSON_UTF8/_NUL), syntax errors (CAPV_E_MALFORMED), aliases and unknown tags
 * (CAPV_E_UNSUPPORTED_FORMAT), duplicate keys (CAPV_E_JSON_DUPLICATE_KEY), complex keys
 * (CAPV_E_TYPE), nesting deeper than 64 (CAPV_E_JSON_DEPTH), non-finite or over-long
 * numbers (CAPV_E_RANGE), more than one document or none (CAPV_E_MALFORMED). Messages
 * start with "line L, column C: ". */
capv_status capvi_yaml_parse(capv_yaml_doc *out, const uint8_t *data, size_t len, capv_error *err);
/* The position of `node`; false when unknown. */
bool capvi_yaml_find(const capv_yaml_doc *doc, const cJSON *node, unsigned *line, unsigned *col,
                     bool key);
void capvi_yaml_doc_free(capv_yaml_doc *doc);

/* A policy-like document in the given format (AUTO: '{' first → JSON, else YAML). */
capv_status capvi_policy_read_doc(capv_yaml_doc *out, const uint8_t *data, size_t len,
                                  capv_policy_format format, capv_error *err);

/* User text for messages: at most 64 bytes, cut on a UTF-8 character boundary, "..."
 * appended when cut. Returns `buf`. CAPV_CLIP(s) uses a temporary buffer. */
#define CAPV_CLIP_SIZE 72
const char *capvi_clip(char buf[CAPV_CLIP_SIZE], const char *s);
#define CAPV_CLIP(s) capvi_clip((char[CAPV_CLIP_SIZE]){ 0 }, (s))

#endif
