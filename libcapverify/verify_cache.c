/* The report cache of the verifier (SPEC §7): key = SHA3-256 of (package bytes ‖ options ‖
 * verifier epoch ‖ registry generation), value = the verdict digit followed by the compact
 * report JSON. A hit is turned back into a report (capv_verify_zip_memory) or served as JSON
 * as it is (capv_verify_zip_memory_json). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_int.h"
#include "report_int.h"
#include "time_int.h"
#include "verify_int.h"

static const char key_domain[] = "capverify.report-cache.v1";

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

static capv_status cache_key(uint8_t key[32], const capv_verifier *v, const uint8_t *data,
                             size_t len, const capv_verify_options *o, capv_error *err)
{
    capv_verify_options defaults;
    if (o == NULL) {
        capvi_verify_options_default(&defaults);
        o = &defaults;
    }
    uint8_t head[8], opt[64], tail[16];
    put_u64(head, (uint64_t)len);
    size_t on = options_bytes(opt, o);
    put_u64(tail, v->epoch);
    put_u64(tail + 8, v->registry ? capv_registry_generation(v->registry) : 0);
    capv_hash_ctx *h = NULL;
    capv_status st = capv_hash_ctx_new(&h, CAPV_HASH_SHA3_256, err);
    if (st == CAPV_OK)
        st = capv_hash_ctx_update(h, (const uint8_t *)key_domain, sizeof key_domain, err);
    if (st == CAPV_OK)
        st = capv_hash_ctx_update(h, head, sizeof head, err);
    if (st == CAPV_OK && len > 0)
        st = capv_hash_ctx_update(h, data, len, err);
    if (st == CAPV_OK)
        st = capv_hash_ctx_update(h, opt, on, err);
    if (st == CAPV_OK)
        st = capv_hash_ctx_update(h, tail, sizeof tail, err);
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
            (d = cJSON_Duplicate(details, true)) == NULL)
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
         capvi_json_get_int(&duration, root, "", "duration_ms", INT64_MIN, INT64_MAX, true,
                           NULL) == CAPV_OK &&
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

/* ---- cached verification --------------------------------------------------------------- */

/* Stores verdict digit + compact JSON under `key`; an entry the cache refuses (too large) is
 * simply not cached. */
static void store(const capv_verifier *v, const uint8_t key[32], capv_verdict verdict,
                  const char *json, size_t len)
{
    uint8_t *val = malloc(len + 1);
    if (val == NULL)
        return;
    val[0] = (uint8_t)('0' + (int)verdict);
    memcpy(val + 1, json, len);
    capv_cache_put(v->cache, key, 32, val, len + 1, NULL);
    free(val);
}

/* A cache hit: CAPV_OK with the value, or CAPV_E_NOT_FOUND. */
static capv_status lookup(uint8_t **val, size_t *len, const capv_verifier *v,
                          const uint8_t key[32])
{
    capv_status st = capv_cache_get(v->cache, key, 32, val, len);
    if (st == CAPV_OK && (*len < 2 || (*val)[0] < '0' || (*val)[0] > '2')) {
        capv_free(*val);
        *val = NULL;
        capv_cache_invalidate(v->cache, key, 32);
        return CAPV_E_NOT_FOUND;
    }
    return st;
}

capv_status capvi_verify_zip_memory_cached(capv_report **out, const capv_verifier *v,
                                          const uint8_t *data, size_t len,
                                          const capv_verify_options *opts, capv_error *err)
{
    uint8_t key[32];
    capv_status st = cache_key(key, v, data, len, opts, err);
    if (st != CAPV_OK)
        return st;
    uint8_t *val = NULL;
    size_t vlen = 0;
    if (lookup(&val, &vlen, v, key) == CAPV_OK) {
        st = report_from_json(out, val + 1, vlen - 1);
        capv_free(val);
        if (st == CAPV_OK)
            return CAPV_OK;
        capv_cache_invalidate(v->cache, key, 32); /* unreadable: verify afresh */
    }
    capv_report *r = NULL;
    if ((st = capvi_verify_zip_memory_nocache(&r, v, data, len, opts, err)) != CAPV_OK)
        return st;
    char *json = NULL;
    size_t jlen = 0;
    if (capv_report_to_json(&json, &jlen, r, 0, NULL) == CAPV_OK)
        store(v, key, capv_report_verdict(r), json, jlen);
    capv_free(json);
    *out = r;
    return CAPV_OK;
}

capv_status capv_verify_zip_memory_json(char **json, size_t *json_len, capv_verdict *verdict,
                                        int *cached, const capv_verifier *v,
                                        const uint8_t *data, size_t len,
                                        const capv_verify_options *opts, unsigned int flags,
                                        capv_error *err)
{
    if (json == NULL || verdict == NULL || v == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *json = NULL;
    if (json_len)
        *json_len = 0;
    if (cached)
        *cached = 0;
    bool pretty = (flags & CAPV_REPORT_JSON_PRETTY) != 0;
    uint8_t key[32] = { 0 };
    capv_status st;
    if (v->cache != NULL) {
        if ((st = cache_key(key, v, data, len, opts, err)) != CAPV_OK)
            return st;
        uint8_t *val = NULL;
        size_t vlen = 0;
        if (lookup(&val, &vlen, v, key) == CAPV_OK) {
            capv_verdict vd = (capv_verdict)(val[0] - '0');
            if (!pretty) {
                /* the value minus its verdict digit, NUL-terminated in place */
                memmove(val, val + 1, vlen - 1);
                val[vlen - 1] = '\0';
                *json = (char *)val;
                if (json_len)
                    *json_len = vlen - 1;
            } else {
                cJSON *root = NULL;
                if (capvi_json_parse(&root, val + 1, vlen - 1, NULL) == CAPV_OK) {
                    capv_buf b = CAPV_BUF_INIT;
                    capvi_json_write_pretty(&b, root);
                    *json = (char *)capvi_buf_take(&b, json_len);
                }
                cJSON_Delete(root);
                capv_free(val);
            }
            if (*json != NULL) {
                *verdict = vd;
                if (cached)
                    *cached = 1;
                return CAPV_OK;
            }
            capv_cache_invalidate(v->cache, key, 32);
        }
    }
    capv_report *r = NULL;
    if ((st = capvi_verify_zip_memory_nocache(&r, v, data, len, opts, err)) != CAPV_OK)
        return st;
    char *text = NULL;
    size_t tlen = 0;
    st = capv_report_to_json(&text, &tlen, r, 0, err);
    if (st == CAPV_OK && v->cache != NULL)
        store(v, key, capv_report_verdict(r), text, tlen);
    if (st == CAPV_OK && pretty) {
        capv_free(text);
        text = NULL;
        st = capv_report_to_json(&text, &tlen, r, CAPV_REPORT_JSON_PRETTY, err);
    }
    *verdict = capv_report_verdict(r);
    capv_report_free(r);
    if (st != CAPV_OK)
        return st;
    *json = text;
    if (json_len)
        *json_len = tlen;
    return CAPV_OK;
}
