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

bool capvi_report_now_bound(const capv_report *r)
{
    if (r->now_bound)
        return true;
    for (size_t i = 0; i < r->nunits; i++)
        if (capvi_report_now_bound(&r->units[i]))
            return true;
    return false;
}

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
        free(r->checks[i].id); /* and its message */
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
    /* the id and the message share one allocation, the id's (freed with it) */
    size_t idn = strlen(id) + 1, msgn = strlen(msg) + 1;
    c->id = malloc(idn + msgn);
    if (c->id == NULL) {
        cJSON_Delete(details);
        return CAPV_E_NOMEM;
    }
    memcpy(c->id, id, idn);
    c->message = memcpy(c->id + idn, msg, msgn);
    c->status = status;
    c->details = details;
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

/* The report's JSON is written straight from the report: its compact form member by member
 * (a check's details with the compact writer), and the pretty form from a tree of that
 * text, so the report's shape is written in one place. */

static void put_key(capv_buf *b, const char *key)
{
    capvi_json_write_string(b, key, strlen(key));
    capvi_buf_putc(b, ':');
}

static void put_str_member(capv_buf *b, const char *key, const char *value)
{
    put_key(b, key);
    capvi_json_write_string(b, value, strlen(value));
}

static void put_str_or_null(capv_buf *b, const char *key, const char *value)
{
    put_key(b, key);
    if (value != NULL)
        capvi_json_write_string(b, value, strlen(value));
    else
        capvi_buf_puts(b, "null");
}

static void write_hashes(capv_buf *b, const capv_report *r)
{
    put_str_or_null(b, "manifest_hash", r->manifest_hash);
    capvi_buf_putc(b, ',');
    put_str_or_null(b, "proof_hash", r->proof_hash);
    capvi_buf_putc(b, ',');
    put_str_or_null(b, "policy_hash", r->policy_hash);
}

static void write_checks(capv_buf *b, const capv_report *r)
{
    capvi_buf_putc(b, '[');
    for (size_t i = 0; i < r->nchecks; i++) {
        const struct capv_check *c = &r->checks[i];
        capvi_buf_puts(b, i ? ",{" : "{");
        put_str_member(b, "id", c->id);
        capvi_buf_putc(b, ',');
        put_str_member(b, "status", capv_check_status_name(c->status));
        capvi_buf_putc(b, ',');
        put_str_member(b, "message", c->message);
        capvi_buf_putc(b, ',');
        put_key(b, "details");
        if (c->details != NULL)
            capvi_json_write_compact(b, c->details, 0);
        else
            capvi_buf_puts(b, "{}");
        capvi_buf_putc(b, '}');
    }
    capvi_buf_putc(b, ']');
}

static void write_report(capv_buf *b, const capv_report *r)
{
    capvi_buf_putc(b, '{');
    put_str_member(b, "result", capv_verdict_name(r->verdict));
    capvi_buf_putc(b, ',');
    put_str_member(b, "format", r->format);
    capvi_buf_putc(b, ',');
    write_hashes(b, r);
    capvi_buf_puts(b, ",\"units\":[");
    for (size_t i = 0; i < r->nunits; i++) {
        const capv_report *u = &r->units[i];
        capvi_buf_puts(b, i ? ",{" : "{");
        put_str_member(b, "id", u->unit_id);
        capvi_buf_putc(b, ',');
        put_str_member(b, "result", capv_verdict_name(u->verdict));
        capvi_buf_putc(b, ',');
        write_hashes(b, u);
        capvi_buf_putc(b, ',');
        put_key(b, "checks");
        write_checks(b, u);
        capvi_buf_putc(b, '}');
    }
    capvi_buf_puts(b, "],");
    put_key(b, "checks");
    write_checks(b, r);
    capvi_buf_puts(b, ",\"verifier\":{");
    put_str_member(b, "name", "libcapverify");
    capvi_buf_putc(b, ',');
    put_str_member(b, "version", capv_version_string());
    capvi_buf_puts(b, "},");
    char t[32];
    capvi_time_format_ms(t, r->verified_at);
    put_str_member(b, "verified_at", t);
    capvi_buf_puts(b, ",\"duration_ms\":");
    capvi_buf_put_int(b, r->duration_ms);
    capvi_buf_putc(b, '}');
}

/* The pretty form of the compact report text `b` (replaced). */
static capv_status prettify(capv_buf *b, capv_error *err)
{
    capv_json_arena nodes = CAPV_JSON_ARENA_HEAP_ONLY;
    cJSON *tree = NULL;
    capv_status st = capvi_json_parse_in(&tree, &nodes, b->data, b->len, err);
    if (st == CAPV_OK) {
        capv_buf pretty = CAPV_BUF_INIT;
        capvi_json_write_pretty(&pretty, tree);
        capvi_buf_free(b);
        *b = pretty;
    }
    capvi_json_arena_release(&nodes);
    return st;
}

capv_status capv_report_to_json(char **out, size_t *out_len, const capv_report *r,
                                unsigned int flags, capv_error *err)
{
    if (out == NULL || r == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_buf b = CAPV_BUF_INIT;
    write_report(&b, r);
    capv_status st = b.failed ? capvi_err_nomem(err) : CAPV_OK;
    if (st == CAPV_OK && (flags & CAPV_REPORT_JSON_PRETTY))
        st = prettify(&b, err);
    if (st == CAPV_OK && (*out = (char *)capvi_buf_take(&b, out_len)) == NULL)
        st = capvi_err_nomem(err);
    capvi_buf_free(&b);
    return capvi_err_done(err, st);
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
