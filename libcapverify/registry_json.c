/* SPDX-License-Identifier: Apache-2.0 */
/* JSON import and export of the registry (docs/registry.md, "JSON import / export"):
 * {"registry_version":"1.0","entries":[{id, manifest_hash, proof_hash, timestamp_file,
 * registered_at, signature?, public_key?, kid?, signature_scheme?, policy_hash?}, …]}.
 * Imports are validated (and, on request, signature-checked) before the write transaction,
 * then applied all or nothing. Exports stream one snapshot through a caller's writer.
 *
 * Also entries and pages of entries as JSON, and the summary stored instead of a recorded
 * report over the size cap (docs/registry.md, "Recorded reports"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_entry_int.h"
#include "registry_json_int.h"
#include "registry_writer_int.h"

#define EXPORT_CHUNK (64u * 1024u)

typedef struct import_item {
    capv_reg_entry_in e;
} import_item;

typedef struct import_args {
    import_item *items;
    size_t n;
    size_t added, existing;
    capv_progress_fn progress;
    void *user;
    uint64_t reported; /* the furthest progress reported: a run again is not reported twice */
} import_args;

/* An optional string member: absent or null → NULL. */
static capv_status opt_string(const char **out, const cJSON *o, const char *key, size_t index,
                              capv_error *err)
{
    const cJSON *v = capvi_json_get(o, key);
    *out = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return CAPV_OK;
    if (!cJSON_IsString(v)) {
        char field[64];
        snprintf(field, sizeof field, "entries[%zu].%s", index, key);
        return capvi_err_set(err, CAPV_E_TYPE, field, "%s must be a string or null", field);
    }
    *out = v->valuestring;
    return CAPV_OK;
}

static capv_status read_entry(capv_registry_entry *in, const cJSON *o, size_t i, capv_error *err)
{
    char path[32];
    snprintf(path, sizeof path, "entries[%zu]", i);
    if (!cJSON_IsObject(o))
        return capvi_err_set(err, CAPV_E_TYPE, path, "%s is not an object", path);
    capv_status st;
    if ((st = capvi_json_get_string(&in->id, o, path, "id", true, err)) != CAPV_OK ||
        (st = capvi_json_get_string(&in->manifest_hash, o, path, "manifest_hash", true, err)) !=
            CAPV_OK ||
        (st = capvi_json_get_string(&in->proof_hash, o, path, "proof_hash", true, err)) !=
            CAPV_OK ||
        (st = capvi_json_get_string(&in->registered_at, o, path, "registered_at", true, err)) !=
            CAPV_OK ||
        (st = opt_string(&in->timestamp_file, o, "timestamp_file", i, err)) != CAPV_OK ||
        (st = opt_string(&in->policy_hash, o, "policy_hash", i, err)) != CAPV_OK ||
        (st = opt_string(&in->signature, o, "signature", i, err)) != CAPV_OK ||
        (st = opt_string(&in->public_key, o, "public_key", i, err)) != CAPV_OK ||
        (st = opt_string(&in->kid, o, "kid", i, err)) != CAPV_OK ||
        (st = opt_string(&in->signature_scheme, o, "signature_scheme", i, err)) != CAPV_OK)
        return st;
    return CAPV_OK;
}

static capv_status import_run(capv_registry *reg, void *arg, capv_error *err)
{
    import_args *a = arg;
    a->added = a->existing = 0;
    for (size_t i = 0; i < a->n; i++) {
        const capv_reg_entry_in *e = &a->items[i].e;
        capv_status st = reg->be->entry_add(NULL, reg, e, true, err);
        if (st == CAPV_E_EXISTS)
            a->existing++;
        else if (st != CAPV_OK)
            return st; /* the error names the entry */
        else
            a->added++;
        uint64_t done = a->n + i + 1;
        if (a->progress && (i % 1024 == 1023 || i + 1 == a->n) && done > a->reported) {
            a->reported = done;
            a->progress(a->user, done, 2 * (uint64_t)a->n);
        }
    }
    return CAPV_OK;
}

capv_status capv_registry_import_json(size_t *added, size_t *existing, capv_registry *reg,
                                      const uint8_t *data, size_t len, unsigned int flags,
                                      capv_progress_fn progress, void *user, capv_error *err)
{
    if (added)
        *added = 0;
    if (existing)
        *existing = 0;
    if (reg == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    cJSON *root = NULL;
    import_args a;
    memset(&a, 0, sizeof a);
    capv_status st = capvi_json_parse(&root, data, len, err);
    if (st != CAPV_OK)
        return st;
    const char *ver = NULL;
    const cJSON *entries = NULL;
    if (!cJSON_IsObject(root) ||
        capvi_json_get_string(&ver, root, "", "registry_version", true, NULL) != CAPV_OK ||
        capvi_json_get_array(&entries, root, "", "entries", true, NULL) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_MALFORMED, NULL,
                  "expected {\"registry_version\":\"1.0\",\"entries\":[...]}");
    if (strcmp(ver, "1.0") != 0)
        CAPV_FAIL(err, CAPV_E_UNSUPPORTED_FORMAT, "registry_version",
                  "unsupported registry_version '%.20s' (expected 1.0)", ver);
    size_t n = (size_t)cJSON_GetArraySize(entries);
    a.items = calloc(n ? n : 1, sizeof *a.items);
    if (a.items == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    a.progress = progress;
    a.user = user;
    /* validate (and verify) everything before the write transaction */
    for (const cJSON *o = entries->child; o; o = o->next, a.n++) {
        capv_registry_entry in = CAPV_REGISTRY_ENTRY_INIT;
        capv_error eerr = CAPV_ERROR_INIT;
        CAPV_TRY(read_entry(&in, o, a.n, err));
        if ((st = capvi_reg_entry_prepare(&a.items[a.n].e, &in, reg, 0, &eerr)) != CAPV_OK)
            CAPV_FAIL(err, st, in.id, "entry '%.100s': %s", in.id, eerr.message);
        if ((flags & CAPV_REGISTRY_IMPORT_VERIFY) && in.signature != NULL &&
            (st = capv_registry_entry_verify(&in, &eerr)) != CAPV_OK)
            CAPV_FAIL(err, st, in.id, "entry '%.100s': %s", in.id, eerr.message);
        if (progress && (a.n % 1024 == 1023 || a.n + 1 == n))
            progress(user, a.n + 1, 2 * (uint64_t)n);
    }
    capv_reg_write q;
    memset(&q, 0, sizeof q);
    q.run = import_run;
    q.arg = &a;
    q.changes_verdicts = true;
    capvi_reg_submit(reg, &q);
    if ((st = capvi_reg_write_result(&q, err)) != CAPV_OK)
        goto out;
    if (added)
        *added = a.added;
    if (existing)
        *existing = a.existing;
out:
    free(a.items);
    cJSON_Delete(root);
    return capvi_err_done(err, st);
}

/* ---- export ---------------------------------------------------------------------------- */

typedef struct exporter {
    capv_buf b;
    capv_write_fn write;
    void *user;
    bool failed;
} exporter;

static void flush(exporter *x, bool force)
{
    if (x->failed || x->b.len == 0 || (!force && x->b.len < EXPORT_CHUNK))
        return;
    if (x->write(x->user, x->b.data, x->b.len) != 0)
        x->failed = true;
    x->b.len = 0;
}

static void member(capv_buf *b, bool pretty, const char *key, const char *value, bool first)
{
    if (!first)
        capvi_buf_putc(b, ',');
    if (pretty)
        capvi_buf_puts(b, "\n      ");
    capvi_json_write_string(b, key, strlen(key));
    capvi_buf_puts(b, pretty ? ": " : ":");
    if (value != NULL)
        capvi_json_write_string(b, value, strlen(value));
    else
        capvi_buf_puts(b, "null");
}

capv_status capv_registry_export_json(capv_registry *reg, unsigned int flags, capv_write_fn write,
                                      void *write_user, capv_progress_fn progress, void *user,
                                      capv_error *err)
{
    if (reg == NULL || write == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_error lerr = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr;
    capv_status fst = capvi_reg_require_file(reg, "the JSON export", err);
    if (fst != CAPV_OK)
        return fst;
    bool pretty = (flags & CAPV_REGISTRY_EXPORT_PRETTY) != 0;
    exporter x;
    memset(&x, 0, sizeof x);
    x.write = write;
    x.user = write_user;
    capv_reg_conn *c = NULL;
    capv_status st = capvi_reg_long_reader_acquire(&c, reg, err);
    if (st != CAPV_OK)
        return capvi_reg_note(reg, st, err);
    sqlite3_stmt *s = NULL;
    bool in_txn = false;
    uint64_t total = 0, done = 0;
    CAPV_TRY(capvi_reg_exec(c->db, "BEGIN", err)); /* one snapshot for count and rows */
    in_txn = true;
    CAPV_TRY(capvi_reg_count_db(&total, c->db, "entries", err));
    int rc = sqlite3_prepare_v2(c->db, "SELECT " REG_ENTRY_COLUMNS " FROM entries ORDER BY seq", -1,
                                &s, NULL);
    if (rc != SQLITE_OK) {
        st = capvi_reg_sqlite_error(c->db, rc, "exporting: cannot read the entries", err);
        goto out;
    }
    capvi_buf_puts(&x.b, pretty ? "{\n  \"registry_version\": \"1.0\",\n  \"entries\": ["
                                : "{\"registry_version\":\"1.0\",\"entries\":[");
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *v[10];
        for (int i = 0; i < 10; i++)
            v[i] = (const char *)sqlite3_column_text(s, i + 1);
        if (done > 0)
            capvi_buf_putc(&x.b, ',');
        capvi_buf_puts(&x.b, pretty ? "\n    {" : "{");
        member(&x.b, pretty, "id", v[0], true);
        member(&x.b, pretty, "manifest_hash", v[1], false);
        member(&x.b, pretty, "proof_hash", v[2], false);
        member(&x.b, pretty, "timestamp_file", v[3], false);
        member(&x.b, pretty, "registered_at", v[4], false);
        static const char *const optional[] = { "policy_hash", "signature", "public_key", "kid",
                                                "signature_scheme" };
        for (int i = 0; i < 5; i++)
            if (v[5 + i] != NULL)
                member(&x.b, pretty, optional[i], v[5 + i], false);
        capvi_buf_puts(&x.b, pretty ? "\n    }" : "}");
        done++;
        flush(&x, false);
        if (x.failed || x.b.failed)
            break;
        if (progress && (done % 4096 == 0 || done == total))
            progress(user, done, total);
    }
    if (!x.failed && !x.b.failed && rc != SQLITE_DONE) {
        st = capvi_reg_sqlite_error(c->db, rc, "exporting: reading the entries failed", err);
        goto out;
    }
    if (pretty && done > 0)
        capvi_buf_puts(&x.b, "\n  ");
    capvi_buf_puts(&x.b, pretty ? "]\n}\n" : "]}");
    if (x.b.failed)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    flush(&x, true);
    if (x.failed)
        CAPV_FAIL(err, CAPV_E_IO, NULL, "writing the export failed");
out:
    sqlite3_finalize(s);
    if (in_txn)
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    capvi_reg_long_reader_release(reg, c);
    capvi_buf_free(&x.b);
    return capvi_err_done(err, capvi_reg_note(reg, st, err));
}

/* The JSON object of an entry (capv_registry_entry_to_json) appended to `b`. */
static void entry_json(capv_buf *b, const capv_registry_entry *e)
{
    capvi_buf_putc(b, '{');
    member(b, false, "id", e->id, true);
    member(b, false, "manifest_hash", e->manifest_hash, false);
    member(b, false, "proof_hash", e->proof_hash, false);
    member(b, false, "timestamp_file", e->timestamp_file, false);
    member(b, false, "registered_at", e->registered_at, false);
    const char *const names[] = { "policy_hash", "signature", "public_key", "kid",
                                  "signature_scheme" };
    const char *const values[] = { e->policy_hash, e->signature, e->public_key, e->kid,
                                   e->signature_scheme };
    for (int i = 0; i < 5; i++)
        if (values[i] != NULL)
            member(b, false, names[i], values[i], false);
    capvi_buf_putc(b, '}');
}

capv_status capv_registry_entry_to_json(char **out, size_t *out_len,
                                        const capv_registry_entry *entry, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || entry == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_registry_entry e;
    capv_status st = capvi_reg_entry_read(&e, entry, err);
    if (st != CAPV_OK)
        return st;
    capv_buf b = CAPV_BUF_INIT;
    entry_json(&b, &e);
    *out = (char *)capvi_buf_take(&b, out_len);
    return capvi_err_done(err, *out ? CAPV_OK : capvi_err_nomem(err));
}

capv_status capv_registry_page_to_json(char **out, size_t *out_len, const capv_registry_page *page,
                                       capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || page == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_buf b = CAPV_BUF_INIT;
    capvi_buf_puts(&b, "{\"entries\":[");
    for (size_t i = 0; i < capv_registry_page_count(page); i++) {
        if (i > 0)
            capvi_buf_putc(&b, ',');
        entry_json(&b, capv_registry_page_entry(page, i));
    }
    int64_t next = capv_registry_page_next(page);
    if (next > 0)
        capvi_buf_printf(&b, "],\"next\":%lld}", (long long)next);
    else
        capvi_buf_puts(&b, "],\"next\":null}");
    *out = (char *)capvi_buf_take(&b, out_len);
    return capvi_err_done(err, *out ? CAPV_OK : capvi_err_nomem(err));
}

capv_status capv_registry_entry_from_json(capv_registry_entry **out, const uint8_t *json,
                                          size_t len, capv_error *err)
{
    if (out == NULL || (json == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    static const char *const known[] = { "id",
                                         "manifest_hash",
                                         "proof_hash",
                                         "timestamp_file",
                                         "registered_at",
                                         "policy_hash",
                                         "signature",
                                         "public_key",
                                         "kid",
                                         "signature_scheme" };
    cJSON *root = NULL;
    capv_status st = capvi_json_parse(&root, json, len, err);
    if (st != CAPV_OK)
        return st;
    capv_registry_entry in = CAPV_REGISTRY_ENTRY_INIT;
    const char **slots[] = { &in.id,
                             &in.manifest_hash,
                             &in.proof_hash,
                             &in.timestamp_file,
                             &in.registered_at,
                             &in.policy_hash,
                             &in.signature,
                             &in.public_key,
                             &in.kid,
                             &in.signature_scheme };
    if (!cJSON_IsObject(root))
        CAPV_FAIL(err, CAPV_E_MALFORMED, "", "an entry must be a JSON object");
    for (const cJSON *c = root->child; c; c = c->next) {
        size_t k = 0;
        while (k < 10 && strcmp(c->string, known[k]) != 0)
            k++;
        if (k == 10)
            CAPV_FAIL(err, CAPV_E_MALFORMED, c->string, "unknown entry field '%.60s'", c->string);
        if (cJSON_IsNull(c))
            continue;
        if (!cJSON_IsString(c))
            CAPV_FAIL(err, CAPV_E_TYPE, c->string, "%s must be a string or null", c->string);
        *slots[k] = c->valuestring;
    }
    if (in.manifest_hash == NULL || in.proof_hash == NULL)
        CAPV_FAIL(err, CAPV_E_MISSING, in.manifest_hash ? "proof_hash" : "manifest_hash",
                  "manifest_hash and proof_hash are required");
    *out = capvi_reg_entry_copy(&in);
    if (*out == NULL)
        st = capvi_err_nomem(err);
out:
    cJSON_Delete(root);
    return capvi_err_done(err, st);
}

/* ---- report summaries ------------------------------------------------------------------ */

#define SUMMARY_MESSAGE_MAX 256u /* bytes of a check's message in a summary */
#define SUMMARY_NAME_MAX 128u    /* bytes of a check or unit id */

/* `s` as a JSON string of at most `max` bytes of text, cut on a character boundary (the
 * text comes from the strict parser, so it is UTF-8) and marked with "…" where cut. */
static void put_cut(capv_buf *b, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) {
        capvi_json_write_string(b, s, n);
        return;
    }
    char tmp[SUMMARY_MESSAGE_MAX + 1];
    size_t keep = max - 3;
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--; /* s[keep] continues a character that started before: cut before that one */
    memcpy(tmp, s, keep);
    memcpy(tmp + keep, "\xe2\x80\xa6", 3);
    capvi_json_write_string(b, tmp, keep + 3);
}

static const char *string_member(const cJSON *o, const char *key)
{
    const cJSON *v = capvi_json_get(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void put_check(capv_buf *b, const char *unit, const char *status, const cJSON *check)
{
    const char *id = string_member(check, "id");
    const char *message = string_member(check, "message");
    capvi_buf_putc(b, '{');
    if (unit != NULL) {
        capvi_buf_puts(b, "\"unit\":");
        put_cut(b, unit, SUMMARY_NAME_MAX);
        capvi_buf_putc(b, ',');
    }
    capvi_buf_puts(b, "\"id\":");
    put_cut(b, id ? id : "", SUMMARY_NAME_MAX);
    capvi_buf_printf(b, ",\"status\":\"%s\",\"message\":", status);
    put_cut(b, message ? message : "", SUMMARY_MESSAGE_MAX);
    capvi_buf_putc(b, '}');
}

typedef struct summary_state {
    capv_buf *b;
    size_t cap, reserve;
    size_t listed, omitted;
    bool nomem;
} summary_state;

/* Lists the checks of `checks` (an array) whose status is `status`, each only if it still
 * fits with `reserve` bytes left for the end of the summary; the rest are counted. */
static void add_checks(summary_state *st, const cJSON *checks, const char *unit, const char *status)
{
    if (!cJSON_IsArray(checks))
        return;
    for (const cJSON *c = checks->child; c != NULL; c = c->next) {
        const char *cs = string_member(c, "status");
        if (cs == NULL || strcmp(cs, status) != 0)
            continue;
        capv_buf one = CAPV_BUF_INIT;
        put_check(&one, unit, status, c);
        if (one.failed) {
            st->nomem = true;
            capvi_buf_free(&one);
            return;
        }
        size_t sep = st->listed > 0 ? 1 : 0;
        if (st->b->len + sep + one.len + st->reserve <= st->cap) {
            if (sep)
                capvi_buf_putc(st->b, ',');
            capvi_buf_append(st->b, one.data, one.len);
            st->listed++;
        } else {
            st->omitted++;
        }
        capvi_buf_free(&one);
    }
}

static void put_digest_member(capv_buf *b, const char *key, const char *value)
{
    uint8_t d[32];
    char hex[CAPV_DIGEST_HEX_SIZE];
    if (value == NULL || capv_digest_parse(d, value, strlen(value), NULL) != CAPV_OK)
        return;
    capv_digest_format(hex, d);
    capvi_buf_printf(b, ",\"%s\":\"%s\"", key, hex);
}

capv_status capvi_reg_report_summary(capv_buf *out, const cJSON *report,
                                     const capv_registry_verification *v, const uint8_t sha3[32],
                                     size_t full_len, size_t cap, capv_error *err)
{
    /* the end: "],\"checks_omitted\":" + up to 20 digits + "}" */
    static const char tail[] = "],\"checks_omitted\":";
    capv_buf b = CAPV_BUF_INIT;
    capvi_buf_puts(&b, "{\"summary\":true");
    /* the verification's fields are not validated yet (the writer does that); a summary only
     * carries them in their checked forms, which also bounds its fixed part */
    if (v->result != NULL && (strcmp(v->result, "ok") == 0 || strcmp(v->result, "warn") == 0 ||
                              strcmp(v->result, "fail") == 0))
        capvi_buf_printf(&b, ",\"result\":\"%s\"", v->result);
    put_digest_member(&b, "manifest_hash", v->manifest_hash);
    put_digest_member(&b, "proof_hash", v->proof_hash);
    put_digest_member(&b, "policy_hash", v->policy_hash);
    int64_t ms;
    if (v->verified_at != NULL && strlen(v->verified_at) < CAPV_RFC3339_SIZE + 16 &&
        capv_rfc3339_parse(&ms, v->verified_at, strlen(v->verified_at), NULL) == CAPV_OK) {
        capvi_buf_puts(&b, ",\"verified_at\":");
        capvi_json_write_string(&b, v->verified_at, strlen(v->verified_at));
    }
    char hex[CAPV_DIGEST_HEX_SIZE];
    capv_digest_format(hex, sha3);
    capvi_buf_printf(&b, ",\"report_bytes\":%zu,\"report_sha3_256\":\"%s\",\"checks\":[", full_len,
                     hex);
    summary_state st = { &b, cap, sizeof tail - 1 + 20 + 1, 0, 0, false };
    if (!b.failed && b.len + st.reserve > cap) {
        capvi_buf_free(&b);
        return capvi_err_set(err, CAPV_E_INTERNAL, NULL, "report size cap below the summary");
    }
    /* failures first: they are what a reader of a summary looks for */
    static const char *const statuses[] = { "fail", "warn" };
    const cJSON *units = capvi_json_get(report, "units");
    for (size_t k = 0; k < 2 && report != NULL && !st.nomem; k++) {
        add_checks(&st, capvi_json_get(report, "checks"), NULL, statuses[k]);
        if (cJSON_IsArray(units))
            for (const cJSON *u = units->child; u != NULL && !st.nomem; u = u->next) {
                const char *uid = string_member(u, "id");
                add_checks(&st, capvi_json_get(u, "checks"), uid ? uid : "", statuses[k]);
            }
    }
    capvi_buf_printf(&b, "%s%zu}", tail, st.omitted);
    if (st.nomem || b.failed) {
        capvi_buf_free(&b);
        return capvi_err_nomem(err);
    }
    capvi_buf_append(out, b.data, b.len);
    capvi_buf_free(&b);
    if (out->failed || !capvi_buf_reserve(out, 1))
        return capvi_err_nomem(err);
    out->data[out->len] = '\0';
    return CAPV_OK;
}
