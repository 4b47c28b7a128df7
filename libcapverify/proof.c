/* SPDX-License-Identifier: Apache-2.0 */
/* Proof containers (docs/formats.md, "Proofs"). Only what binds a proof to a manifest and policy is
 * read; bundle-supplied code is never executed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_int.h"
#include "proof_int.h"

#define PROOF_JSON_MAX (16u * 1024u * 1024u)
/* A proof's tree while it is read: a proof.v1 of eight constraint checks fits in 4 KiB. */
#define PROOF_STACK_BYTES 4096

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void classify_backend(capv_proof *p, const char *name)
{
    snprintf(p->backend, sizeof p->backend, "%s", name);
    if (strcasecmp(name, "mock") == 0 || strcasecmp(name, "simplified_zk") == 0)
        p->backend_class = CAPV_BACKEND_MOCK;
    else if (strcasecmp(name, "zkvm") == 0 || strcasecmp(name, "halo2") == 0)
        p->backend_class = CAPV_BACKEND_ZK;
    else
        p->backend_class = CAPV_BACKEND_UNKNOWN;
}

static capv_status read_digest(uint8_t out[32], const cJSON *o, const char *key, bool *present,
                               capv_error *err)
{
    const char *s = NULL;
    capv_status st = capvi_json_get_string(&s, o, "proof", key, false, err);
    if (st != CAPV_OK)
        return st;
    *present = s != NULL;
    if (s != NULL && capv_digest_parse(out, s, strlen(s), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_MALFORMED, key, "proof %s '%.80s' is not a digest", key,
                             s);
    return CAPV_OK;
}

static void note_constraint(capv_proof *p, const char *name, bool ok)
{
    p->constraints++;
    if (ok)
        return;
    if (p->constraints_failed++ == 0)
        p->first_failed = strdup(name ? name : "");
}

/* proof.v0 JSON: {version, type, statement, manifest_hash, policy_hash,
 * proof_data{checked_constraints[{name, ok}]}, status}. */
static capv_status parse_v0(capv_proof *p, const cJSON *o, capv_error *err)
{
    capv_status st;
    bool present = false;
    if ((st = read_digest(p->manifest_hash, o, "manifest_hash", &present, err)) != CAPV_OK)
        return st;
    p->binding = present ? CAPV_BIND_SHA3_CANON : CAPV_BIND_NONE;
    if ((st = read_digest(p->policy_hash, o, "policy_hash", &p->has_policy_hash, err)) != CAPV_OK)
        return st;
    const char *type = NULL, *statement = NULL;
    if ((st = capvi_json_get_string(&type, o, "proof", "type", false, err)) != CAPV_OK ||
        (st = capvi_json_get_string(&statement, o, "proof", "statement", false, err)) != CAPV_OK)
        return st;
    if (p->backend[0] == '\0') {
        classify_backend(p, type ? type : "unknown");
    } else if (type != NULL && p->backend_class != CAPV_BACKEND_MOCK) {
        /* A CAPZ header may claim a real proof system around a payload that calls itself a
         * mock: the weaker claim is the honest one. */
        capv_proof probe;
        memset(&probe, 0, sizeof probe);
        classify_backend(&probe, type);
        if (probe.backend_class == CAPV_BACKEND_MOCK)
            classify_backend(p, type);
    }
    if (statement != NULL && (p->statement = strdup(statement)) == NULL)
        return capvi_err_nomem(err);
    const char *status = NULL;
    if ((st = capvi_json_get_string(&status, o, "proof", "status", false, err)) != CAPV_OK)
        return st;
    if (status != NULL)
        snprintf(p->status, sizeof p->status, "%s", status);
    const cJSON *data = NULL, *checks = NULL;
    if ((st = capvi_json_get_object(&data, o, "proof", "proof_data", false, err)) != CAPV_OK)
        return st;
    if (data != NULL && (st = capvi_json_get_array(&checks, data, "proof.proof_data",
                                                   "checked_constraints", false, err)) != CAPV_OK)
        return st;
    for (const cJSON *c = checks ? checks->child : NULL; c; c = c->next) {
        const char *name = NULL;
        bool ok = false;
        if ((st = capvi_json_get_string(&name, c, "checked_constraints[]", "name", true, err)) !=
                CAPV_OK ||
            (st = capvi_json_get_bool(&ok, c, "checked_constraints[]", "ok", true, err)) != CAPV_OK)
            return st;
        note_constraint(p, name, ok);
    }
    return CAPV_OK;
}

/* proof.v1 JSON: {version, manifest_hash, backend, constraint_checks[{rule, result,
 * witness}], created_at}. */
static capv_status parse_v1(capv_proof *p, const cJSON *o, capv_error *err)
{
    capv_status st;
    bool present = false;
    if ((st = read_digest(p->manifest_hash, o, "manifest_hash", &present, err)) != CAPV_OK)
        return st;
    p->binding = present ? CAPV_BIND_BLAKE3_RAW : CAPV_BIND_NONE;
    const char *backend = NULL;
    if ((st = capvi_json_get_string(&backend, o, "proof", "backend", true, err)) != CAPV_OK)
        return st;
    classify_backend(p, backend);
    const cJSON *checks = NULL;
    if ((st = capvi_json_get_array(&checks, o, "proof", "constraint_checks", false, err)) !=
        CAPV_OK)
        return st;
    for (const cJSON *c = checks ? checks->child : NULL; c; c = c->next) {
        const char *rule = NULL;
        bool ok = false;
        if ((st = capvi_json_get_string(&rule, c, "constraint_checks[]", "rule", true, err)) !=
                CAPV_OK ||
            (st = capvi_json_get_bool(&ok, c, "constraint_checks[]", "result", true, err)) !=
                CAPV_OK)
            return st;
        note_constraint(p, rule, ok);
    }
    return CAPV_OK;
}

static capv_status parse_json_proof(capv_proof *p, const uint8_t *data, size_t len, bool in_capz,
                                    capv_error *err)
{
    /* the tree lives only here: a typical proof's nodes fit on the stack */
    max_align_t mem[PROOF_STACK_BYTES / sizeof(max_align_t)];
    capv_json_arena nodes = CAPV_JSON_ARENA(mem);
    cJSON *o = NULL;
    capv_status st = capvi_json_parse_in(&o, &nodes, data, len, err);
    if (st != CAPV_OK) {
        capvi_json_arena_release(&nodes);
        char msg[CAPV_ERROR_MESSAGE_SIZE];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "proof JSON is malformed: %s", msg);
    }
    const char *version = NULL;
    if (!cJSON_IsObject(o)) {
        st = capvi_err_set(err, CAPV_E_MALFORMED, NULL, "proof JSON is not an object");
    } else if ((st = capvi_json_get_string(&version, o, "proof", "version", true, err)) !=
               CAPV_OK) {
        /* reported as malformed below */
    } else if (strcmp(version, "proof.v0") == 0) {
        if (!in_capz)
            snprintf(p->container, sizeof p->container, "proof.v0");
        st = parse_v0(p, o, err);
    } else if (strcmp(version, "proof.v1") == 0 && !in_capz) {
        snprintf(p->container, sizeof p->container, "proof.v1");
        st = parse_v1(p, o, err);
    } else {
        st = capvi_err_set(err, CAPV_E_MALFORMED, "version", "unknown proof version '%.40s'",
                           version);
    }
    /* the status must not depend on whether the caller asked for detail */
    if (st != CAPV_OK && capv_status_class_of(st) != CAPV_CLASS_INTERNAL) {
        st = CAPV_E_MALFORMED;
        if (err != NULL)
            err->code = st;
    }
    capvi_json_arena_release(&nodes);
    return st;
}

static capv_status parse_capz(capv_proof *p, const uint8_t *d, size_t len, capv_error *err)
{
    snprintf(p->container, sizeof p->container, "capz-v2");
    if (len < CAPZ_HEADER_LEN)
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "CAPZ header truncated (%zu bytes)", len);
    uint16_t version = (uint16_t)(d[4] | d[5] << 8);
    if (version != 2)
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "unsupported CAPZ version %u", version);
    static const char *const backends[] = { "mock", "zkvm", "halo2" };
    if (d[6] > 2)
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "unknown CAPZ backend %u", d[6]);
    classify_backend(p, backends[d[6]]);
    if (d[7] != 0 || d[76] != 0 || d[77] != 0)
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "CAPZ reserved bytes are not zero");
    uint32_t payload_len = le32(d + 72);
    if (payload_len > CAPZ_MAX_PAYLOAD || payload_len > len - CAPZ_HEADER_LEN)
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL,
                             "CAPZ payload_len %u exceeds the %zu bytes present", payload_len,
                             len - CAPZ_HEADER_LEN);
    if (payload_len < len - CAPZ_HEADER_LEN)
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL,
                             "%zu trailing bytes after the CAPZ payload",
                             len - CAPZ_HEADER_LEN - payload_len);
    p->payload_len = payload_len;
    const uint8_t *payload = d + CAPZ_HEADER_LEN;
    /* A payload that is JSON (any JSON value: an array or a string is then a malformed
     * proof.v0), or that starts like a JSON object, is read as proof.v0; any other payload is
     * opaque proof-system data that carries no manifest binding we could check. */
    size_t i = 0;
    while (i < payload_len &&
           (payload[i] == ' ' || payload[i] == '\n' || payload[i] == '\t' || payload[i] == '\r'))
        i++;
    bool json = i < payload_len && payload[i] == '{';
    cJSON *o = NULL;
    if (!json && i < payload_len && capvi_json_parse(&o, payload, payload_len, NULL) == CAPV_OK) {
        json = true;
        cJSON_Delete(o);
    }
    if (json)
        return parse_json_proof(p, payload, payload_len, true, err);
    p->binding = CAPV_BIND_NONE;
    return CAPV_OK;
}

capv_status capvi_proof_parse(capv_proof *p, const uint8_t *data, size_t len, capv_error *err)
{
    memset(p, 0, sizeof *p);
    if (len >= 4 && memcmp(data, "CAPZ", 4) == 0)
        return parse_capz(p, data, len, err);
    if (len > PROOF_JSON_MAX)
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "proof of %zu bytes is too large", len);
    size_t a = 0, b = len;
    while (a < b && (data[a] == ' ' || data[a] == '\n' || data[a] == '\t' || data[a] == '\r'))
        a++;
    while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\n' || data[b - 1] == '\t' ||
                     data[b - 1] == '\r'))
        b--;
    if (a < b && data[a] == '{')
        return parse_json_proof(p, data, len, false, err);
    /* proof.v0 as standard base64 of JSON (legacy proof.dat) */
    if (a == b)
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "proof file is empty");
    size_t cap = CAPV_BASE64_DECODED_MAX(b - a), n = 0;
    uint8_t *json = malloc(cap);
    if (json == NULL)
        return capvi_err_nomem(err);
    capv_status st =
        capv_base64_decode(json, cap, &n, (const char *)data + a, b - a, CAPV_BASE64_STD, NULL);
    if (st != CAPV_OK) {
        free(json);
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL,
                             "proof is neither CAPZ, JSON, nor base64 of a JSON proof");
    }
    st = parse_json_proof(p, json, n, false, err);
    if (st == CAPV_OK && strcmp(p->container, "proof.v0") != 0)
        st = capvi_err_set(err, CAPV_E_MALFORMED, NULL, "base64 proofs must be proof.v0");
    free(json);
    return st;
}

void capvi_proof_clear(capv_proof *p)
{
    free(p->statement);
    free(p->first_failed);
    memset(p, 0, sizeof *p);
}
