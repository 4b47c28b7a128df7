/* SPDX-License-Identifier: Apache-2.0 */
/* Audit logs (docs/formats.md, "Audit logs"): the producer's v1 and v2 hash chains, read line by
 * line within the limits of audit.h and verified from the genesis to the tip. One pass
 * (capvi_audit_scan) serves both the public log object and the verifier's `audit` check, which
 * keeps nothing of the events. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "buf.h"
#include "global_int.h"
#include "json_int.h"
#include "time_int.h"

#define DIGEST_TEXT_LEN 66 /* "0x" + 64 hex digits */

static const char genesis[] = "0x0000000000000000000000000000000000000000000000000000000000000000";

static const char *const v1_fields[] = { "seq", "ts", "event", "details", "prev_digest", "digest" };

/* The v2 fields in the order self_hash covers them (docs/formats.md): optional ones between. */
static const char *const v2_fields[] = { "ts",      "event",         "policy_id",
                                         "ir_hash", "manifest_hash", "result",
                                         "run_id",  "prev_hash",     "self_hash" };
#define V2_HASHED 8 /* every field before self_hash */

typedef struct chain {
    capvi_audit_summary *sum;
    capv_hash_ctx *sha3;
    capv_buf text; /* a v2 event's compact JSON, a v1 event's details */
    char prev[DIGEST_TEXT_LEN + 1];
    size_t line;
    capv_error *err;
} chain;

/* Records the first broken line and returns its status. */
static capv_status broken(chain *c, capv_audit_problem problem, capv_status st, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

static capv_status broken(chain *c, capv_audit_problem problem, capv_status st, const char *fmt,
                          ...)
{
    char msg[CAPV_ERROR_MESSAGE_SIZE], field[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(field, sizeof field, "line %zu", c->line);
    c->sum->bad_line = c->line;
    c->sum->problem = problem;
    return capvi_err_set(c->err, st, field, "line %zu: %s", c->line, msg);
}

/* "0x" + 64 lower-case hex digits, as the producers write digests. */
static bool digest_text(const char *s)
{
    if (strlen(s) != DIGEST_TEXT_LEN || s[0] != '0' || s[1] != 'x')
        return false;
    for (size_t i = 2; i < DIGEST_TEXT_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool known_field(const char *name, const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, fields[i]) == 0)
            return true;
    return false;
}

/* A string field: `*out` NULL when absent and optional; a break otherwise. */
static capv_status string_field(chain *c, const char **out, const cJSON *ev, const char *name,
                                bool required)
{
    const cJSON *it = capvi_json_get(ev, name);
    *out = NULL;
    if (it == NULL && !required)
        return CAPV_OK;
    if (it == NULL)
        return broken(c, CAPV_AUDIT_BAD_EVENT, CAPV_E_MISSING, "%s is missing", name);
    if (!cJSON_IsString(it))
        return broken(c, CAPV_AUDIT_BAD_EVENT, CAPV_E_TYPE, "%s must be a string", name);
    *out = it->valuestring;
    return CAPV_OK;
}

static capv_status digest_field(chain *c, const char **out, const cJSON *ev, const char *name)
{
    capv_status st = string_field(c, out, ev, name, true);
    if (st == CAPV_OK && !digest_text(*out))
        return broken(c, CAPV_AUDIT_BAD_EVENT, CAPV_E_HEX,
                      "%s is not 0x + 64 lower-case hex digits", name);
    return st;
}

static capv_status ts_field(chain *c, const char **ts, int64_t *ms, const cJSON *ev)
{
    capv_status st = string_field(c, ts, ev, "ts", true);
    if (st == CAPV_OK && !capvi_time_parse(ms, *ts, strlen(*ts)))
        return broken(c, CAPV_AUDIT_BAD_EVENT, CAPV_E_MALFORMED, "ts is not an RFC 3339 time");
    return st;
}

static capv_status sha3_text(chain *c, const char *s)
{
    return capv_hash_ctx_update(c->sha3, (const uint8_t *)s, strlen(s), c->err);
}

/* The digest an event's fields hash to, as "0x…" text; CAPV_E_NOMEM for the text. */
static capv_status finish_digest(chain *c, char out[CAPV_DIGEST_HEX_SIZE])
{
    uint8_t d[32];
    capv_status st = capv_hash_ctx_final(d, c->sha3, c->err);
    if (st == CAPV_OK)
        capv_digest_format(out, d);
    return st;
}

/* The checks every event ends with: its link to the previous event, then its own digest. */
static capv_status link_and_digest(chain *c, const char *prev_name, const char *prev,
                                   const char *digest_name, const char *digest,
                                   const char *computed)
{
    if (strcmp(prev, c->prev) != 0 && c->line == 1)
        return broken(c, CAPV_AUDIT_PREV_MISMATCH, CAPV_E_MISMATCH,
                      "%s is %.66s, the first event's must be the genesis %s (is the log's "
                      "start cut off?)",
                      prev_name, prev, c->prev);
    if (strcmp(prev, c->prev) != 0)
        return broken(c, CAPV_AUDIT_PREV_MISMATCH, CAPV_E_MISMATCH,
                      "%s is %.66s, the previous event's digest is %s", prev_name, prev, c->prev);
    if (strcmp(digest, computed) != 0)
        return broken(c, CAPV_AUDIT_DIGEST_MISMATCH, CAPV_E_MISMATCH,
                      "%s is %.66s, the event's fields hash to %s", digest_name, digest, computed);
    return CAPV_OK;
}

/* v1: digest = SHA3-256(decimal seq ‖ ts ‖ event ‖ serde_json form of details ‖ prev_digest). */
static capv_status v1_event(chain *c, const cJSON *ev, int64_t *ts_ms, char digest_out[67])
{
    const cJSON *seq = capvi_json_get(ev, "seq");
    const char *ts, *event, *prev, *digest;
    int64_t n = 0;
    capv_status st;
    if (seq == NULL)
        return broken(c, CAPV_AUDIT_BAD_EVENT, CAPV_E_MISSING, "seq is missing");
    if (!cJSON_IsNumber(seq) || seq->valuestring == NULL ||
        strpbrk(seq->valuestring, "-.eE") != NULL ||
        capvi_json_int_value(&n, seq, 0, CAPV_JSON_INT_MAX) != CAPV_OK)
        return broken(c, CAPV_AUDIT_BAD_EVENT, CAPV_E_TYPE,
                      "seq must be a non-negative integer (at most 2^53)");
    if ((st = ts_field(c, &ts, ts_ms, ev)) != CAPV_OK ||
        (st = string_field(c, &event, ev, "event", true)) != CAPV_OK)
        return st;
    const cJSON *details = capvi_json_get(ev, "details");
    if (details == NULL)
        return broken(c, CAPV_AUDIT_BAD_EVENT, CAPV_E_MISSING, "details is missing");
    if ((st = digest_field(c, &prev, ev, "prev_digest")) != CAPV_OK ||
        (st = digest_field(c, &digest, ev, "digest")) != CAPV_OK)
        return st;
    if ((uint64_t)n != (uint64_t)c->line)
        return broken(c, CAPV_AUDIT_SEQ_GAP, CAPV_E_MISMATCH, "seq is %lld, expected %zu",
                      (long long)n, c->line);
    c->text.len = 0;
    capvi_json_write_compact(&c->text, details, CAPVI_JSON_SERDE_VALUE);
    if (c->text.failed)
        return capvi_err_nomem(c->err);
    char decimal[24];
    snprintf(decimal, sizeof decimal, "%lld", (long long)n);
    char computed[CAPV_DIGEST_HEX_SIZE];
    if ((st = sha3_text(c, decimal)) != CAPV_OK || (st = sha3_text(c, ts)) != CAPV_OK ||
        (st = sha3_text(c, event)) != CAPV_OK ||
        (st = capv_hash_ctx_update(c->sha3, c->text.data, c->text.len, c->err)) != CAPV_OK ||
        (st = sha3_text(c, prev)) != CAPV_OK || (st = finish_digest(c, computed)) != CAPV_OK)
        return st;
    if ((st = link_and_digest(c, "prev_digest", prev, "digest", digest, computed)) != CAPV_OK)
        return st;
    memcpy(digest_out, digest, DIGEST_TEXT_LEN + 1);
    return CAPV_OK;
}

/* v2: self_hash = SHA3-256 of the compact JSON of the fields before it, in their order. */
static capv_status v2_event(chain *c, const cJSON *ev, int64_t *ts_ms, const char **policy_id,
                            char digest_out[67])
{
    const char *values[V2_HASHED], *self;
    capv_status st = ts_field(c, &values[0], ts_ms, ev);
    if (st != CAPV_OK || (st = string_field(c, &values[1], ev, "event", true)) != CAPV_OK)
        return st;
    for (size_t i = 2; i < V2_HASHED - 1; i++)
        if ((st = string_field(c, &values[i], ev, v2_fields[i], false)) != CAPV_OK)
            return st;
    if ((st = digest_field(c, &values[V2_HASHED - 1], ev, "prev_hash")) != CAPV_OK ||
        (st = digest_field(c, &self, ev, "self_hash")) != CAPV_OK)
        return st;
    c->text.len = 0;
    capvi_buf_putc(&c->text, '{');
    bool first = true;
    for (size_t i = 0; i < V2_HASHED; i++) {
        if (values[i] == NULL)
            continue;
        if (!first)
            capvi_buf_putc(&c->text, ',');
        first = false;
        capvi_json_write_string(&c->text, v2_fields[i], strlen(v2_fields[i]));
        capvi_buf_putc(&c->text, ':');
        capvi_json_write_string(&c->text, values[i], strlen(values[i]));
    }
    capvi_buf_putc(&c->text, '}');
    if (c->text.failed)
        return capvi_err_nomem(c->err);
    char computed[CAPV_DIGEST_HEX_SIZE];
    if ((st = capv_hash_ctx_update(c->sha3, c->text.data, c->text.len, c->err)) != CAPV_OK ||
        (st = finish_digest(c, computed)) != CAPV_OK)
        return st;
    if ((st = link_and_digest(c, "prev_hash", values[V2_HASHED - 1], "self_hash", self,
                              computed)) != CAPV_OK)
        return st;
    *policy_id = values[2];
    memcpy(digest_out, self, DIGEST_TEXT_LEN + 1);
    return CAPV_OK;
}

/* One line: parsed, its format found (first line) or checked, its fields and links verified. */
static capv_status one_line(chain *c, const uint8_t *line, size_t n, capvi_audit_event_fn fn,
                            void *user)
{
    if (n == 0)
        return broken(c, CAPV_AUDIT_BAD_JSON, CAPV_E_MALFORMED, "empty line");
    cJSON *ev = NULL;
    capv_error jerr = CAPV_ERROR_INIT;
    capv_status st = capvi_json_parse(&ev, line, n, &jerr);
    if (st == CAPV_E_NOMEM)
        return capvi_err_nomem(c->err);
    if (st != CAPV_OK)
        return broken(c, CAPV_AUDIT_BAD_JSON, st, "not strict JSON: %s", jerr.message);
    if (!cJSON_IsObject(ev)) {
        st = broken(c, CAPV_AUDIT_BAD_JSON, CAPV_E_TYPE, "not a JSON object");
        goto out;
    }
    capvi_audit_summary *s = c->sum;
    if (s->format == CAPV_AUDIT_EMPTY) {
        if (capvi_json_get(ev, "seq") != NULL)
            s->format = CAPV_AUDIT_V1;
        else if (capvi_json_get(ev, "self_hash") != NULL)
            s->format = CAPV_AUDIT_V2;
        else {
            st = broken(c, CAPV_AUDIT_BAD_EVENT, CAPV_E_MALFORMED,
                        "neither a v1 event (seq) nor a v2 event (self_hash)");
            goto out;
        }
    }
    bool v1 = s->format == CAPV_AUDIT_V1;
    for (const cJSON *f = ev->child; f; f = f->next)
        if (!(v1 ? known_field(f->string, v1_fields, 6) : known_field(f->string, v2_fields, 9))) {
            st = broken(c, CAPV_AUDIT_BAD_EVENT, CAPV_E_MALFORMED,
                        "unknown field '%.60s' for a %s event", f->string, v1 ? "v1" : "v2");
            goto out;
        }
    int64_t ts_ms = 0;
    const char *policy_id = NULL;
    char digest[DIGEST_TEXT_LEN + 1];
    st = v1 ? v1_event(c, ev, &ts_ms, digest) : v2_event(c, ev, &ts_ms, &policy_id, digest);
    if (st != CAPV_OK)
        goto out;
    memcpy(c->prev, digest, sizeof c->prev);
    s->events++;
    if (fn != NULL)
        st = fn(user, line, n, ts_ms, policy_id);
out:
    cJSON_Delete(ev);
    return st;
}

capv_status capvi_audit_scan(capvi_audit_summary *out, const uint8_t *data, size_t len,
                             const capvi_audit_limits *limits, capvi_audit_event_fn fn, void *user,
                             capv_error *err)
{
    static const capvi_audit_limits defaults = { CAPV_AUDIT_MAX_LINES, CAPV_AUDIT_MAX_LINE_BYTES };
    const capvi_audit_limits *lim = limits != NULL ? limits : &defaults;
    memset(out, 0, sizeof *out);
    if (data == NULL && len > 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    chain c = { out, NULL, CAPV_BUF_INIT, "", 0, err };
    memcpy(c.prev, genesis, sizeof genesis);
    capv_status st = capv_hash_ctx_new(&c.sha3, CAPV_HASH_SHA3_256, err);
    const uint8_t *last = NULL;
    size_t last_len = 0, pos = 0;
    while (st == CAPV_OK && pos < len) {
        if (c.line == lim->max_lines) {
            c.line++;
            st = broken(&c, CAPV_AUDIT_TOO_LARGE, CAPV_E_LIMIT, "more than %zu lines",
                        lim->max_lines);
            break;
        }
        c.line++;
        /* the line's end is looked for within the limit only */
        size_t rest = len - pos;
        size_t window = rest <= lim->max_line_bytes ? rest : lim->max_line_bytes + 1;
        const uint8_t *nl = memchr(data + pos, '\n', window);
        size_t n = nl != NULL ? (size_t)(nl - (data + pos)) : window;
        if (n > lim->max_line_bytes) {
            st = broken(&c, CAPV_AUDIT_TOO_LARGE, CAPV_E_LIMIT, "longer than %zu bytes",
                        lim->max_line_bytes);
            break;
        }
        st = one_line(&c, data + pos, n, fn, user);
        last = data + pos;
        last_len = n;
        pos += n + (nl != NULL ? 1 : 0);
    }
    if (st == CAPV_OK) {
        uint8_t tip[32];
        st = capv_digest_parse(tip, c.prev, strlen(c.prev), err);
        memcpy(out->tip, tip, 32);
        if (st == CAPV_OK && out->events > 0)
            st = capv_hash(out->line_tip, CAPV_HASH_BLAKE3, last, last_len, err);
    }
    capv_hash_ctx_free(c.sha3);
    capvi_buf_free(&c.text);
    return st;
}

capv_status capvi_audit_line_digest(uint8_t out[32], const uint8_t *line, size_t n, capv_error *err)
{
    cJSON *ev = NULL;
    capv_status st = capvi_json_parse(&ev, line, n, err);
    if (st != CAPV_OK)
        return st;
    const cJSON *digest = capvi_json_get(ev, "digest");
    if (digest == NULL)
        digest = capvi_json_get(ev, "self_hash");
    if (cJSON_IsString(digest))
        st = capv_digest_parse(out, digest->valuestring, strlen(digest->valuestring), err);
    else
        st = capvi_err_set(err, CAPV_E_MALFORMED, NULL, "an audit event without its digest");
    cJSON_Delete(ev);
    return st;
}

/* ---- the public log --------------------------------------------------------------------- */

typedef struct audit_event {
    size_t off, len;   /* its line in the log's copy */
    int64_t ts_ms;     /* its ts */
    size_t policy_off; /* its policy_id in `policies`, or SIZE_MAX */
} audit_event;

struct capv_audit_log {
    capv_audit_format format;
    uint8_t *data; /* a copy of the lines */
    size_t len;
    audit_event *events;
    size_t nevents, cap;
    capv_buf policies; /* NUL-terminated policy_ids */
    char tip[CAPV_DIGEST_HEX_SIZE];
    char line_tip[CAPV_DIGEST_HEX_SIZE];
};

static capv_status keep_event(void *user, const uint8_t *line, size_t len, int64_t ts_ms,
                              const char *policy_id)
{
    capv_audit_log *log = user;
    if (log->nevents == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 64;
        audit_event *grown = realloc(log->events, cap * sizeof *grown);
        if (grown == NULL)
            return CAPV_E_NOMEM;
        log->events = grown;
        log->cap = cap;
    }
    audit_event *e = &log->events[log->nevents++];
    e->off = (size_t)(line - log->data);
    e->len = len;
    e->ts_ms = ts_ms;
    e->policy_off = SIZE_MAX;
    if (policy_id != NULL) {
        e->policy_off = log->policies.len;
        capvi_buf_append(&log->policies, policy_id, strlen(policy_id) + 1);
        if (log->policies.failed)
            return CAPV_E_NOMEM;
    }
    return CAPV_OK;
}

capv_status capv_audit_verify(capv_audit_log **out, size_t *bad_line, capv_audit_problem *problem,
                              const uint8_t *data, size_t len, capv_error *err)
{
    if (bad_line != NULL)
        *bad_line = 0;
    if (problem != NULL)
        *problem = CAPV_AUDIT_INTACT;
    if (out == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    capv_audit_log *log = calloc(1, sizeof *log);
    if (log == NULL || (len > 0 && (log->data = malloc(len)) == NULL)) {
        capv_audit_log_free(log);
        return capvi_err_nomem(err);
    }
    if (len > 0)
        memcpy(log->data, data, len);
    log->len = len;
    capvi_audit_summary sum;
    st = capvi_audit_scan(&sum, log->data, len, NULL, keep_event, log, err);
    if (st == CAPV_E_NOMEM)
        capvi_err_nomem(err);
    if (st != CAPV_OK) {
        if (bad_line != NULL)
            *bad_line = sum.bad_line;
        if (problem != NULL)
            *problem = sum.problem;
        capv_audit_log_free(log);
        return capvi_err_done(err, st);
    }
    log->format = sum.format;
    capv_digest_format(log->tip, sum.tip);
    if (sum.events > 0)
        capv_digest_format(log->line_tip, sum.line_tip);
    else
        snprintf(log->line_tip, sizeof log->line_tip, "0x0");
    *out = log;
    return capvi_err_done(err, CAPV_OK);
}

void capv_audit_log_free(capv_audit_log *log)
{
    if (log == NULL)
        return;
    free(log->data);
    free(log->events);
    capvi_buf_free(&log->policies);
    free(log);
}

capv_audit_format capv_audit_log_format(const capv_audit_log *log)
{
    return log ? log->format : CAPV_AUDIT_EMPTY;
}

size_t capv_audit_log_events(const capv_audit_log *log)
{
    return log ? log->nevents : 0;
}

const char *capv_audit_log_tip(const capv_audit_log *log)
{
    return log ? log->tip : NULL;
}

const char *capv_audit_log_line_tip(const capv_audit_log *log)
{
    return log ? log->line_tip : NULL;
}

capv_status capv_audit_log_export(char **out, size_t *out_len, const capv_audit_log *log,
                                  int64_t from_ms, int64_t to_ms, const char *policy_id,
                                  capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out_len != NULL)
        *out_len = 0;
    if (out == NULL || log == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (from_ms > to_ms)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "from", "the range ends before it starts");
    if (policy_id != NULL && log->format == CAPV_AUDIT_V1)
        return capvi_err_set(err, CAPV_E_UNSUPPORTED, "policy_id",
                             "v1 audit events carry no policy_id");
    capv_buf b = CAPV_BUF_INIT;
    for (size_t i = 0; i < log->nevents; i++) {
        const audit_event *e = &log->events[i];
        if (e->ts_ms < from_ms || e->ts_ms > to_ms)
            continue;
        if (policy_id != NULL &&
            (e->policy_off == SIZE_MAX ||
             strcmp((const char *)log->policies.data + e->policy_off, policy_id) != 0))
            continue;
        capvi_buf_append(&b, log->data + e->off, e->len);
        capvi_buf_putc(&b, '\n');
    }
    size_t n = 0;
    uint8_t *text = capvi_buf_take(&b, &n);
    if (text == NULL)
        return capvi_err_nomem(err);
    *out = (char *)text;
    if (out_len != NULL)
        *out_len = n;
    return capvi_err_done(err, CAPV_OK);
}

const char *capv_audit_format_name(capv_audit_format format)
{
    switch (format) {
    case CAPV_AUDIT_EMPTY: return "empty";
    case CAPV_AUDIT_V1: return "v1";
    case CAPV_AUDIT_V2: return "v2";
    }
    return "unknown";
}

const char *capv_audit_problem_name(capv_audit_problem problem)
{
    switch (problem) {
    case CAPV_AUDIT_INTACT: return "intact";
    case CAPV_AUDIT_BAD_JSON: return "bad_json";
    case CAPV_AUDIT_BAD_EVENT: return "bad_event";
    case CAPV_AUDIT_TOO_LARGE: return "too_large";
    case CAPV_AUDIT_SEQ_GAP: return "seq_gap";
    case CAPV_AUDIT_PREV_MISMATCH: return "prev_mismatch";
    case CAPV_AUDIT_DIGEST_MISMATCH: return "digest_mismatch";
    }
    return "unknown";
}
