/* SPDX-License-Identifier: Apache-2.0 */
/* The report cache of the verifier (docs/architecture.md, "Verification entry points"): key =
 * BLAKE3 of (package bytes ‖ options ‖ verifier epoch ‖ registry generation), value = the
 * verdict digit, the checks that did not pass and a NUL, then the compact report JSON. A hit is
 * turned back into a report (capv_verify_zip_memory) or served as JSON as it is
 * (capv_verify_zip_memory_json), with its problems for a log line kept beside it instead of
 * read from the JSON again (a parse of the whole report on every cached request). This file
 * only keys, reads and writes entries: the entry points in verify.c decide when to verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capverify/verify.h>
#include <capverify/unstable/verify_request.h>

#include "json_int.h"
#include "report_int.h"
#include "time_int.h"
#include "verify_cache_int.h"
#include "verify_int.h"

/* BLAKE3: every cached /verify hashes its whole body, several times faster than SHA3-256 */
static const char key_domain[] = "capverify.report-cache.v3";

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Every option that can change a report, in a fixed layout. */
static size_t options_bytes(uint8_t out[64], const capv_verify_options *o)
{
    size_t n = 0;
    out[n++] = (uint8_t)((o->require_signature ? 1u : 0u) | (o->require_timestamp ? 2u : 0u) |
                         (o->check_registry ? 4u : 0u) | (o->strict ? 8u : 0u) |
                         (o->allow_untrusted ? 16u : 0u) | (o->has_limits ? 32u : 0u));
    out[n++] = (uint8_t)o->mock;
    struct capv_package_limits l;
    if (o->has_limits)
        l = o->limits;
    else
        capvi_package_limits_default(&l);
    put_u64(out + n, l.entries);
    put_u64(out + n + 8, l.total_bytes);
    put_u64(out + n + 16, l.entry_bytes);
    put_u64(out + n + 24, l.ratio);
    put_u64(out + n + 32, (uint64_t)o->leeway_s);
    put_u64(out + n + 40, l.verify_bytes);
    return n + 48;
}

/* The body comes first, from the start of BLAKE3's first chunk: the hasher then takes it in
 * whole chunks instead of copying it through its block buffer, 1.9 against 3.1 µs for a
 * 2.6 KB package here. Everything else follows in a trailer of fixed length that ends with
 * the body's and the audit log's lengths, so two different inputs never share their bytes:
 *   body ‖ audit log ‖ options (50) ‖ epoch (8) ‖ registry generation (8)
 *        ‖ audit log given (1) ‖ its length (8) ‖ body length (8) ‖ key_domain with its NUL */
capv_status capvi_verify_cache_key(uint8_t key[32], const capv_verifier *v, const uint8_t *data,
                                   size_t len, const capv_verify_options *o, capv_error *err)
{
    capv_verify_options defaults;
    if (o == NULL) {
        capvi_verify_options_default(&defaults);
        o = &defaults;
    }
    bool audit = o->audit_log != NULL;
    uint8_t trailer[64 + 16 + 17 + sizeof key_domain];
    size_t n = options_bytes(trailer, o);
    put_u64(trailer + n, v->epoch);
    put_u64(trailer + n + 8, v->registry ? capv_registry_generation(v->registry) : 0);
    n += 16;
    trailer[n++] = audit ? 1 : 0;
    put_u64(trailer + n, audit ? (uint64_t)o->audit_log_len : 0);
    put_u64(trailer + n + 8, (uint64_t)len);
    n += 16;
    memcpy(trailer + n, key_domain, sizeof key_domain);
    n += sizeof key_domain;
    capv_hash_ctx *h = NULL;
    capv_status st = capv_hash_ctx_new(&h, CAPV_HASH_BLAKE3, err);
    if (st == CAPV_OK && len > 0)
        st = capv_hash_ctx_update(h, data, len, err);
    if (st == CAPV_OK && audit && o->audit_log_len > 0)
        st = capv_hash_ctx_update(h, o->audit_log, o->audit_log_len, err);
    if (st == CAPV_OK)
        st = capv_hash_ctx_update(h, trailer, n, err);
    if (st == CAPV_OK)
        st = capv_hash_ctx_final(key, h, err);
    capv_hash_ctx_free(h);
    return st;
}

/* ---- report from its JSON -------------------------------------------------------------- */

static bool check_status_of(capv_check_status *out, const char *name)
{
    static const char *const names[] = { "pass", "warn", "fail", "skip" };
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (capv_check_status)i;
            return true;
        }
    return false;
}

static bool verdict_of(capv_verdict *out, const char *name)
{
    static const char *const names[] = { "ok", "warn", "fail" };
    for (int i = 0; i < 3; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (capv_verdict)i;
            return true;
        }
    return false;
}

static bool hash_field(char **dst, const cJSON *o, const char *key)
{
    const cJSON *v = capvi_json_get(o, key);
    if (v == NULL || cJSON_IsNull(v))
        return true;
    if (!cJSON_IsString(v))
        return false;
    return (*dst = strdup(v->valuestring)) != NULL;
}

/* Fills hashes, verdict and checks of `r` from a report (or unit) object. */
static bool fill(capv_report *r, const cJSON *o)
{
    const char *result = NULL;
    const cJSON *checks = NULL;
    if (capvi_json_get_string(&result, o, "", "result", true, NULL) != CAPV_OK ||
        !verdict_of(&r->verdict, result) || !hash_field(&r->manifest_hash, o, "manifest_hash") ||
        !hash_field(&r->proof_hash, o, "proof_hash") ||
        !hash_field(&r->policy_hash, o, "policy_hash") ||
        capvi_json_get_array(&checks, o, "", "checks", true, NULL) != CAPV_OK)
        return false;
    for (const cJSON *c = checks->child; c; c = c->next) {
        const char *id = NULL, *status = NULL, *message = NULL;
        const cJSON *details = NULL;
        capv_check_status cs;
        if (capvi_json_get_string(&id, c, "", "id", true, NULL) != CAPV_OK ||
            capvi_json_get_string(&status, c, "", "status", true, NULL) != CAPV_OK ||
            capvi_json_get_string(&message, c, "", "message", true, NULL) != CAPV_OK ||
            capvi_json_get_object(&details, c, "", "details", false, NULL) != CAPV_OK ||
            !check_status_of(&cs, status))
            return false;
        cJSON *d = NULL;
        if (details != NULL && details->child != NULL &&
            (d = capvi_json_duplicate(details)) == NULL)
            return false;
        if (capvi_report_add(r, id, cs, d, "%s", message) != CAPV_OK)
            return false;
    }
    return true;
}

static capv_status report_from_json(capv_report **out, const uint8_t *json, size_t len)
{
    cJSON *root = NULL;
    capv_status st = capvi_json_parse(&root, json, len, NULL);
    if (st != CAPV_OK)
        return st;
    capv_report *r = malloc(sizeof *r);
    bool ok = r != NULL && capvi_report_init(r, "") == CAPV_OK;
    if (r != NULL && !ok) {
        free(r);
        r = NULL;
    }
    const char *format = NULL, *at = NULL;
    const cJSON *units = NULL;
    int64_t duration = 0;
    ok = ok && capvi_json_get_string(&format, root, "", "format", true, NULL) == CAPV_OK &&
         capvi_json_get_string(&at, root, "", "verified_at", true, NULL) == CAPV_OK &&
         capvi_time_parse(&r->verified_at, at, strlen(at)) &&
         capvi_json_get_int(&duration, root, "", "duration_ms", INT64_MIN, INT64_MAX, true, NULL) ==
             CAPV_OK &&
         capvi_json_get_array(&units, root, "", "units", true, NULL) == CAPV_OK && fill(r, root);
    if (ok) {
        snprintf(r->format, sizeof r->format, "%s", format);
        r->duration_ms = duration;
        size_t n = (size_t)cJSON_GetArraySize(units);
        if (n > 0 && (r->units = calloc(n, sizeof *r->units)) == NULL)
            ok = false;
        for (const cJSON *u = units->child; ok && u; u = u->next) {
            const char *id = NULL;
            ok = capvi_json_get_string(&id, u, "", "id", true, NULL) == CAPV_OK &&
                 capvi_report_init(&r->units[r->nunits], id) == CAPV_OK;
            if (ok) {
                r->nunits++;
                ok = fill(&r->units[r->nunits - 1], u);
            }
        }
    }
    cJSON_Delete(root);
    if (!ok) {
        capv_report_free(r);
        return r == NULL ? CAPV_E_NOMEM : CAPV_E_MALFORMED;
    }
    *out = r;
    return CAPV_OK;
}

/* ---- entries ------------------------------------------------------------------------- */

/* The longest list of problems an entry keeps; a longer one is read from the JSON. */
#define PROBLEMS_KEPT_MAX 512
/* The problems field of an entry whose list is not kept (problems are printable ASCII). */
#define PROBLEMS_NOT_KEPT "\x01"

void capvi_verify_cache_put(const capv_verifier *v, const uint8_t key[32], const capv_report *r,
                            const char *json, size_t len)
{
    if (v->cache == NULL || capvi_report_now_bound(r))
        return;
    char problems[PROBLEMS_KEPT_MAX];
    if (!capvi_report_problems(problems, sizeof problems, r))
        memcpy(problems, PROBLEMS_NOT_KEPT, sizeof PROBLEMS_NOT_KEPT);
    size_t plen = strlen(problems);
    uint8_t *val = malloc(2 + plen + len);
    if (val == NULL)
        return;
    val[0] = (uint8_t)('0' + (int)capv_report_verdict(r));
    memcpy(val + 1, problems, plen + 1);
    memcpy(val + 2 + plen, json, len);
    /* an entry the cache refuses (larger than its byte bound) is simply not cached */
    if (capv_cache_put(v->cache, key, 32, val, 2 + plen + len, NULL) != CAPV_OK) {
    }
    free(val);
}

/* An entry's parts, pointing into its value. */
typedef struct entry {
    capv_verdict verdict;
    const char *problems; /* PROBLEMS_NOT_KEPT when not kept */
    const uint8_t *json;
    size_t json_len;
} entry;

/* A cache hit: CAPV_OK with the value and its parts, or CAPV_E_NOT_FOUND (a value that does
 * not read as an entry is dropped). */
static capv_status lookup(uint8_t **val, size_t *len, entry *e, const capv_verifier *v,
                          const uint8_t key[32])
{
    if (v->cache == NULL)
        return CAPV_E_NOT_FOUND;
    capv_status st = capv_cache_get(val, len, v->cache, key, 32, NULL);
    if (st != CAPV_OK)
        return st;
    const uint8_t *nul = *len >= 3 ? memchr(*val + 1, '\0', *len - 1) : NULL;
    if (nul == NULL || (*val)[0] < '0' || (*val)[0] > '2' || nul + 1 == *val + *len) {
        capv_free(*val);
        *val = NULL;
        capv_cache_invalidate(v->cache, key, 32);
        return CAPV_E_NOT_FOUND;
    }
    e->verdict = (capv_verdict)((*val)[0] - '0');
    e->problems = (const char *)*val + 1;
    e->json = nul + 1;
    e->json_len = (size_t)(*val + *len - e->json);
    return CAPV_OK;
}

capv_status capvi_verify_cache_get_report(capv_report **out, const capv_verifier *v,
                                          const uint8_t key[32])
{
    uint8_t *val = NULL;
    size_t vlen = 0;
    entry e;
    if (lookup(&val, &vlen, &e, v, key) != CAPV_OK)
        return CAPV_E_NOT_FOUND;
    capv_status st = report_from_json(out, e.json, e.json_len);
    capv_free(val);
    if (st != CAPV_OK) {
        capv_cache_invalidate(v->cache, key, 32); /* unreadable: verify afresh */
        return CAPV_E_NOT_FOUND;
    }
    return CAPV_OK;
}

capv_status capvi_verify_cache_get_json(char **json, size_t *json_len, capv_verdict *verdict,
                                        char *problems, size_t problems_cap, const capv_verifier *v,
                                        const uint8_t key[32], bool pretty)
{
    uint8_t *val = NULL;
    size_t vlen = 0;
    entry e;
    if (lookup(&val, &vlen, &e, v, key) != CAPV_OK)
        return CAPV_E_NOT_FOUND;
    /* a kept list of L bytes is what a buffer of L + 4 or more gets (capvi_report_problems);
     * a list not kept, or a smaller buffer, is served from the JSON */
    bool problems_read = false;
    if (problems != NULL) {
        size_t plen = strlen(e.problems);
        problems_read = strcmp(e.problems, PROBLEMS_NOT_KEPT) == 0 || plen + 4 > problems_cap;
        if (!problems_read)
            memcpy(problems, e.problems, plen + 1);
    }
    char *text = NULL;
    size_t tlen = 0;
    if (!pretty) {
        /* the JSON alone, NUL-terminated in place */
        tlen = e.json_len;
        memmove(val, e.json, tlen);
        val[tlen] = '\0';
        text = (char *)val;
    } else {
        cJSON *root = NULL;
        if (capvi_json_parse(&root, e.json, e.json_len, NULL) == CAPV_OK) {
            capv_buf b = CAPV_BUF_INIT;
            capvi_json_write_pretty(&b, root);
            text = (char *)capvi_buf_take(&b, &tlen);
        }
        cJSON_Delete(root);
        capv_free(val);
    }
    if (text == NULL) {
        capv_cache_invalidate(v->cache, key, 32);
        return CAPV_E_NOT_FOUND;
    }
    if (problems_read &&
        capv_report_json_problems(problems, problems_cap, text, tlen, NULL) != CAPV_OK)
        problems[0] = '\0';
    *json = text;
    *json_len = tlen;
    *verdict = e.verdict;
    return CAPV_OK;
}
