/* SPDX-License-Identifier: Apache-2.0 */
/* Verification reports: the C tree and its JSON rendering (docs/formats.md, "Verification report"). */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capverify/verify.h>
#include <capverify/unstable/verify_request.h>

#include "json_read_int.h"
#include "report_int.h"
#include "time_int.h"

capv_status capvi_report_init(capv_report *r, const char *unit_id)
{
    memset(r, 0, sizeof *r);
    snprintf(r->format, sizeof r->format, "unknown");
    r->unit_id = strdup(unit_id ? unit_id : "");
    return r->unit_id ? CAPV_OK : CAPV_E_NOMEM;
}

void capvi_report_clear(capv_report *r)
{
    for (size_t i = 0; i < r->nchecks; i++) {
        free(r->checks[i].id);
        free(r->checks[i].message);
        cJSON_Delete(r->checks[i].details);
        free(atomic_load_explicit(&r->checks[i].details_text, memory_order_relaxed));
    }
    free(r->checks);
    for (size_t i = 0; i < r->nunits; i++)
        capvi_report_clear(&r->units[i]);
    free(r->units);
    free(r->unit_id);
    free(r->manifest_hash);
    free(r->proof_hash);
    free(r->policy_hash);
    memset(r, 0, sizeof *r);
}

void capv_report_free(capv_report *r)
{
    if (r == NULL)
        return;
    capvi_report_clear(r);
    free(r);
}

capv_status capvi_report_add(capv_report *r, const char *id, capv_check_status status,
                             cJSON *details, const char *fmt, ...)
{
    if (r->nchecks == r->capchecks) {
        size_t cap = r->capchecks ? r->capchecks * 2 : 12;
        struct capv_check *c = realloc(r->checks, cap * sizeof *c);
        if (c == NULL) {
            cJSON_Delete(details);
            return CAPV_E_NOMEM;
        }
        r->checks = c;
        r->capchecks = cap;
    }
    struct capv_check *c = &r->checks[r->nchecks];
    memset(c, 0, sizeof *c);
    atomic_init(&c->details_text, NULL);
    char msg[512];
    if (strchr(fmt, '%') == NULL) { /* a fixed sentence (most of them): no formatting */
        size_t n = strlen(fmt);
        n = n < sizeof msg ? n : sizeof msg - 1;
        memcpy(msg, fmt, n);
        msg[n] = '\0';
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    capvi_text_make_utf8(msg);
    c->id = strdup(id);
    c->message = strdup(msg);
    c->status = status;
    c->details = details;
    if (c->id == NULL || c->message == NULL) {
        free(c->id);
        free(c->message);
        cJSON_Delete(details);
        return CAPV_E_NOMEM;
    }
    r->nchecks++;
    return CAPV_OK;
}

capv_status capvi_report_set_hash(char **field, const uint8_t digest[32])
{
    char hex[CAPV_DIGEST_HEX_SIZE];
    capv_digest_format(hex, digest);
    free(*field);
    *field = strdup(hex);
    return *field ? CAPV_OK : CAPV_E_NOMEM;
}

void capvi_report_finish(capv_report *r)
{
    capv_verdict v = CAPV_VERDICT_OK;
    for (size_t i = 0; i < r->nunits; i++) {
        capvi_report_finish(&r->units[i]);
        if (r->units[i].verdict > v)
            v = r->units[i].verdict;
    }
    for (size_t i = 0; i < r->nchecks; i++) {
        if (r->checks[i].status == CAPV_CHECK_FAIL)
            v = CAPV_VERDICT_FAIL;
        else if (r->checks[i].status == CAPV_CHECK_WARN && v == CAPV_VERDICT_OK)
            v = CAPV_VERDICT_WARN;
    }
    r->verdict = v;
}

capv_verdict capv_report_verdict(const capv_report *r)
{
    return r ? r->verdict : CAPV_VERDICT_FAIL;
}

const char *capv_report_format(const capv_report *r)
{
    return r ? r->format : NULL;
}
const char *capv_report_manifest_hash(const capv_report *r)
{
    return r ? r->manifest_hash : NULL;
}
const char *capv_report_proof_hash(const capv_report *r)
{
    return r ? r->proof_hash : NULL;
}
const char *capv_report_policy_hash(const capv_report *r)
{
    return r ? r->policy_hash : NULL;
}
int64_t capv_report_verified_at(const capv_report *r)
{
    return r ? r->verified_at : 0;
}
int64_t capv_report_duration_ms(const capv_report *r)
{
    return r ? r->duration_ms : 0;
}
size_t capv_report_check_count(const capv_report *r)
{
    return r ? r->nchecks : 0;
}
size_t capv_report_unit_count(const capv_report *r)
{
    return r ? r->nunits : 0;
}
const char *capv_report_unit_id(const capv_report *r)
{
    return r ? r->unit_id : NULL;
}

const capv_check *capv_report_check(const capv_report *r, size_t i)
{
    return r && i < r->nchecks ? &r->checks[i] : NULL;
}

const capv_check *capv_report_find_check(const capv_report *r, const char *id)
{
    for (size_t i = 0; r && id && i < r->nchecks; i++)
        if (strcmp(r->checks[i].id, id) == 0)
            return &r->checks[i];
    return NULL;
}

const capv_report *capv_report_unit(const capv_report *r, size_t i)
{
    return r && i < r->nunits ? &r->units[i] : NULL;
}

const char *capv_check_id(const capv_check *c)
{
    return c ? c->id : NULL;
}
capv_check_status capv_check_status_of(const capv_check *c)
{
    return c ? c->status : CAPV_CHECK_FAIL;
}
const char *capv_check_message(const capv_check *c)
{
    return c ? c->message : NULL;
}
const char *capv_check_details(const capv_check *c)
{
    if (c == NULL || c->details == NULL)
        return NULL;
    /* the text is a cache of the tree, written once: a thread that loses the race to store
     * its copy frees it and returns the winner's */
    struct capv_check *m = (struct capv_check *)c;
    char *text = atomic_load_explicit(&m->details_text, memory_order_acquire);
    if (text != NULL)
        return text;
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_compact(&b, c->details, 0);
    if ((text = (char *)capvi_buf_take(&b, NULL)) == NULL)
        return NULL;
    char *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&m->details_text, &expected, text,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        free(text);
        text = expected;
    }
    return text;
}

const char *capv_verdict_name(capv_verdict v)
{
    switch (v) {
    case CAPV_VERDICT_OK: return "ok";
    case CAPV_VERDICT_WARN: return "warn";
    case CAPV_VERDICT_FAIL: return "fail";
    }
    return "unknown";
}

const char *capv_check_status_name(capv_check_status s)
{
    switch (s) {
    case CAPV_CHECK_PASS: return "pass";
    case CAPV_CHECK_WARN: return "warn";
    case CAPV_CHECK_FAIL: return "fail";
    case CAPV_CHECK_SKIP: return "skip";
    }
    return "unknown";
}

/* The report's JSON is written from a tree that borrows everything it can from the report:
 * member names are literals (cJSON_AddItemToObjectCS), strings and details are references
 * into the report (cJSON_Create*Reference), so building it costs one node per value and
 * cJSON_Delete frees only those nodes. The tree lives only while it is written. */

/* Adds `item` (which may be NULL: out of memory) to `o` as member `key`, a literal. */
static bool add(cJSON *o, const char *key, cJSON *item)
{
    if (item != NULL && cJSON_AddItemToObjectCS(o, key, item))
        return true;
    cJSON_Delete(item);
    return false;
}

/* A NULL `value` fails, as cJSON_AddStringToObject does (the writer needs a string). */
static bool add_str(cJSON *o, const char *key, const char *value)
{
    return value != NULL && add(o, key, cJSON_CreateStringReference(value));
}

static bool add_str_or_null(cJSON *o, const char *key, const char *value)
{
    return add(o, key, value ? cJSON_CreateStringReference(value) : cJSON_CreateNull());
}

static cJSON *checks_json(const capv_report *r)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < r->nchecks; i++) {
        const struct capv_check *c = &r->checks[i];
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            cJSON_Delete(a);
            return NULL;
        }
        if (!add_str(o, "id", c->id) || !add_str(o, "status", capv_check_status_name(c->status)) ||
            !add_str(o, "message", c->message) ||
            !add(o, "details",
                 c->details ? cJSON_CreateObjectReference(c->details->child)
                            : cJSON_CreateObject())) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static bool add_hashes(cJSON *o, const capv_report *r)
{
    return add_str_or_null(o, "manifest_hash", r->manifest_hash) &&
           add_str_or_null(o, "proof_hash", r->proof_hash) &&
           add_str_or_null(o, "policy_hash", r->policy_hash);
}

capv_status capv_report_to_json(char **out, size_t *out_len, const capv_report *r,
                                unsigned int flags, capv_error *err)
{
    if (out == NULL || r == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *units = NULL, *verifier = NULL;
    char t[32];
    bool ok = o && add_str(o, "result", capv_verdict_name(r->verdict)) &&
              add_str(o, "format", r->format) && add_hashes(o, r) &&
              add(o, "units", units = cJSON_CreateArray());
    for (size_t i = 0; ok && i < r->nunits; i++) {
        const capv_report *u = &r->units[i];
        cJSON *uo = cJSON_CreateObject();
        ok = uo && cJSON_AddItemToArray(units, uo) && add_str(uo, "id", u->unit_id) &&
             add_str(uo, "result", capv_verdict_name(u->verdict)) && add_hashes(uo, u) &&
             add(uo, "checks", checks_json(u));
    }
    ok = ok && add(o, "checks", checks_json(r));
    capvi_time_format_ms(t, r->verified_at);
    ok = ok && add(o, "verifier", verifier = cJSON_CreateObject()) &&
         add_str(verifier, "name", "libcapverify") &&
         add_str(verifier, "version", capv_version_string()) && add_str(o, "verified_at", t) &&
         add(o, "duration_ms", cJSON_CreateNumber((double)r->duration_ms));
    capv_buf b = CAPV_BUF_INIT;
    if (ok) {
        if (flags & CAPV_REPORT_JSON_PRETTY)
            capvi_json_write_pretty(&b, o);
        else
            capvi_json_write_compact(&b, o, 0);
    }
    cJSON_Delete(o);
    if (!ok) {
        capvi_buf_free(&b);
        return capvi_err_nomem(err);
    }
    *out = (char *)capvi_buf_take(&b, out_len);
    return capvi_err_done(err, *out ? CAPV_OK : capvi_err_nomem(err));
}

/* ---- problems for a log line ------------------------------------------------------------ */

typedef struct problems {
    char *out;
    size_t cap, used;
    bool full;
} problems;

/* Appends "[unit/]id:status" (or marks the list cut). */
static void problem_add(problems *p, const char *unit, const char *id, const char *status)
{
    char item[160];
    int n = snprintf(item, sizeof item, "%s%s%s%s:%s", p->used ? "," : "", unit ? unit : "",
                     unit ? "/" : "", id, status);
    for (int i = 0; i < n; i++)
        if ((unsigned char)item[i] < 0x20 || (unsigned char)item[i] >= 0x7f)
            item[i] = '?';
    if (p->full || n < 0 || (size_t)n >= sizeof item || p->used + (size_t)n + 4 > p->cap) {
        if (!p->full)
            memcpy(p->out + p->used, "...", 4);
        p->full = true;
        return;
    }
    memcpy(p->out + p->used, item, (size_t)n + 1);
    p->used += (size_t)n;
}

static bool problems_of(problems *p, const cJSON *checks, const char *unit)
{
    if (!cJSON_IsArray(checks))
        return false;
    for (const cJSON *c = checks->child; c; c = c->next) {
        const cJSON *id = capvi_json_get(c, "id"), *st = capvi_json_get(c, "status");
        if (!cJSON_IsString(id) || !cJSON_IsString(st))
            return false;
        if (strcmp(st->valuestring, "warn") == 0 || strcmp(st->valuestring, "fail") == 0)
            problem_add(p, unit, id->valuestring, st->valuestring);
    }
    return true;
}

/* A unit's name in a problem: its id, cut to 47 bytes. */
static void unit_name(char name[48], const char *id)
{
    snprintf(name, 48, "%s", id);
}

static void report_checks_problems(problems *p, const capv_report *r, const char *unit)
{
    for (size_t i = 0; i < r->nchecks; i++)
        if (r->checks[i].status == CAPV_CHECK_WARN || r->checks[i].status == CAPV_CHECK_FAIL)
            problem_add(p, unit, r->checks[i].id, capv_check_status_name(r->checks[i].status));
}

bool capvi_report_problems(char *out, size_t cap, const capv_report *r)
{
    out[0] = '\0';
    problems p = { out, cap, 0, false };
    report_checks_problems(&p, r, NULL);
    for (size_t i = 0; i < r->nunits; i++) {
        char name[48];
        unit_name(name, r->units[i].unit_id);
        report_checks_problems(&p, &r->units[i], name);
    }
    return !p.full;
}

capv_status capv_report_json_problems(char *out, size_t cap, const char *json, size_t len,
                                      capv_error *err)
{
    if (out == NULL || cap < 4 || (json == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument or cap < 4");
    out[0] = '\0';
    cJSON *o = NULL;
    capv_status st = capvi_json_parse(&o, (const uint8_t *)json, len, err);
    if (st != CAPV_OK)
        return st;
    problems p = { out, cap, 0, false };
    bool ok = problems_of(&p, capvi_json_get(o, "checks"), NULL);
    const cJSON *units = capvi_json_get(o, "units");
    ok = ok && (units == NULL || cJSON_IsArray(units));
    for (const cJSON *u = ok && units ? units->child : NULL; ok && u; u = u->next) {
        const cJSON *uid = capvi_json_get(u, "id");
        char name[48];
        ok = cJSON_IsString(uid);
        if (ok) {
            unit_name(name, uid->valuestring);
            ok = problems_of(&p, capvi_json_get(u, "checks"), name);
        }
    }
    cJSON_Delete(o);
    if (!ok) {
        out[0] = '\0';
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "not a verification report");
    }
    return capvi_err_done(err, CAPV_OK);
}
