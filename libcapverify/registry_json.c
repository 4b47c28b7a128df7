/* JSON import and export of the registry (SPEC §3.7):
 * {"registry_version":"1.0","entries":[{id, manifest_hash, proof_hash, timestamp_file,
 * registered_at, signature?, public_key?, kid?, signature_scheme?, policy_hash?}, …]}.
 * Imports are validated (and, on request, signature-checked) before the write transaction,
 * then applied all or nothing. Exports stream one snapshot through a caller's writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_int.h"
#include "registry_int.h"

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
} import_args;

/* An optional string member: absent or null → NULL. */
static capv_status opt_string(const char **out, const cJSON *o, const char *key, size_t index,
                              capv_error *err)
{
    const cJSON *v = capv_json_get(o, key);
    *out = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return CAPV_OK;
    if (!cJSON_IsString(v)) {
        char field[64];
        snprintf(field, sizeof field, "entries[%zu].%s", index, key);
        return capv_err_set(err, CAPV_E_TYPE, field, "%s must be a string or null", field);
    }
    *out = v->valuestring;
    return CAPV_OK;
}

static capv_status read_entry(capv_registry_entry *in, const cJSON *o, size_t i, capv_error *err)
{
    char path[32];
    snprintf(path, sizeof path, "entries[%zu]", i);
    if (!cJSON_IsObject(o))
        return capv_err_set(err, CAPV_E_TYPE, path, "%s is not an object", path);
    capv_status st;
    if ((st = capv_json_get_string(&in->id, o, path, "id", true, err)) != CAPV_OK ||
        (st = capv_json_get_string(&in->manifest_hash, o, path, "manifest_hash", true, err)) !=
            CAPV_OK ||
        (st = capv_json_get_string(&in->proof_hash, o, path, "proof_hash", true, err)) !=
            CAPV_OK ||
        (st = capv_json_get_string(&in->registered_at, o, path, "registered_at", true, err)) !=
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

static capv_status import_run(capv_registry *reg, capv_reg_conn *w, void *arg, capv_error *err)
{
    (void)reg;
    import_args *a = arg;
    a->added = a->existing = 0;
    for (size_t i = 0; i < a->n; i++) {
        const capv_reg_entry_in *e = &a->items[i].e;
        capv_status st = capv_reg_entry_existing(NULL, w, e, true, err);
        if (st == CAPV_E_EXISTS) {
            a->existing++;
        } else if (st != CAPV_OK) {
            return st; /* the error names the entry */
        } else {
            if ((st = capv_reg_entry_write(w, e, err)) != CAPV_OK)
                return st;
            a->added++;
        }
        if (a->progress && (i % 1024 == 1023 || i + 1 == a->n))
            a->progress(a->user, a->n + i + 1, 2 * (uint64_t)a->n);
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
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    cJSON *root = NULL;
    import_args a;
    memset(&a, 0, sizeof a);
    capv_status st = capv_json_parse(&root, data, len, err);
    if (st != CAPV_OK)
        return st;
    const char *ver = NULL;
    const cJSON *entries = NULL;
    if (!cJSON_IsObject(root) ||
        capv_json_get_string(&ver, root, "", "registry_version", true, NULL) != CAPV_OK ||
        capv_json_get_array(&entries, root, "", "entries", true, NULL) != CAPV_OK)
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
        if ((st = capv_reg_entry_prepare(&a.items[a.n].e, &in, reg, 0, &eerr)) != CAPV_OK)
            CAPV_FAIL(err, st, in.id, "entry '%.100s': %s", in.id, eerr.message);
        if ((flags & CAPV_REGISTRY_IMPORT_VERIFY) && in.signature != NULL &&
            (st = capv_registry_entry_verify(&in, &eerr)) != CAPV_OK)
            CAPV_FAIL(err, st == CAPV_E_MALFORMED ? CAPV_E_MALFORMED : CAPV_E_SIGNATURE, in.id,
                      "entry '%.100s': %s", in.id, eerr.message);
        if (progress && (a.n % 1024 == 1023 || a.n + 1 == n))
            progress(user, a.n + 1, 2 * (uint64_t)n);
    }
    capv_reg_write q;
    memset(&q, 0, sizeof q);
    q.run = import_run;
    q.arg = &a;
    q.changes_entries = true;
    capv_reg_submit(reg, &q);
    if ((st = q.st) != CAPV_OK) {
        if (err != NULL)
            *err = q.err;
        goto out;
    }
    if (added)
        *added = a.added;
    if (existing)
        *existing = a.existing;
out:
    free(a.items);
    cJSON_Delete(root);
    return st;
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
        capv_buf_putc(b, ',');
    if (pretty)
        capv_buf_puts(b, "\n      ");
    capv_json_write_string(b, key, strlen(key));
    capv_buf_puts(b, pretty ? ": " : ":");
    if (value != NULL)
        capv_json_write_string(b, value, strlen(value));
    else
        capv_buf_puts(b, "null");
}

capv_status capv_registry_export_json(capv_registry *reg, unsigned int flags,
                                      capv_write_fn write, void *write_user,
                                      capv_progress_fn progress, void *user, capv_error *err)
{
    if (reg == NULL || write == NULL)
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    bool pretty = (flags & CAPV_REGISTRY_EXPORT_PRETTY) != 0;
    exporter x;
    memset(&x, 0, sizeof x);
    x.write = write;
    x.user = write_user;
    capv_reg_conn *c = NULL;
    capv_status st = capv_reg_long_reader_acquire(&c, reg, err);
    if (st != CAPV_OK)
        return st;
    sqlite3_stmt *s = NULL;
    bool in_txn = false;
    uint64_t total = 0, done = 0;
    CAPV_TRY(capv_reg_exec(c->db, "BEGIN", err)); /* one snapshot for count and rows */
    in_txn = true;
    CAPV_TRY(capv_reg_count_db(&total, c->db, "entries", err));
    int rc = sqlite3_prepare_v2(c->db, "SELECT " REG_ENTRY_COLUMNS " FROM entries ORDER BY seq",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        CAPV_FAIL(err, capv_reg_sqlite_error(c->db, rc, "exporting", NULL), NULL,
                  "cannot read the entries: %s", sqlite3_errmsg(c->db));
    capv_buf_puts(&x.b, pretty ? "{\n  \"registry_version\": \"1.0\",\n  \"entries\": ["
                               : "{\"registry_version\":\"1.0\",\"entries\":[");
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *v[10];
        for (int i = 0; i < 10; i++)
            v[i] = (const char *)sqlite3_column_text(s, i + 1);
        if (done > 0)
            capv_buf_putc(&x.b, ',');
        capv_buf_puts(&x.b, pretty ? "\n    {" : "{");
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
        capv_buf_puts(&x.b, pretty ? "\n    }" : "}");
        done++;
        flush(&x, false);
        if (x.failed || x.b.failed)
            break;
        if (progress && (done % 4096 == 0 || done == total))
            progress(user, done, total);
    }
    if (!x.failed && !x.b.failed && rc != SQLITE_DONE)
        CAPV_FAIL(err, capv_reg_sqlite_error(c->db, rc, "exporting", NULL), NULL,
                  "reading the entries failed: %s", sqlite3_errmsg(c->db));
    if (pretty && done > 0)
        capv_buf_puts(&x.b, "\n  ");
    capv_buf_puts(&x.b, pretty ? "]\n}\n" : "]}");
    if (x.b.failed)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    flush(&x, true);
    if (x.failed)
        CAPV_FAIL(err, CAPV_E_IO, NULL, "writing the export failed");
out:
    sqlite3_finalize(s);
    if (in_txn)
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    capv_reg_long_reader_release(reg, c);
    capv_buf_free(&x.b);
    return st;
}

capv_status capv_registry_entry_to_json(char **out, size_t *out_len,
                                        const capv_registry_entry *e, capv_error *err)
{
    if (out == NULL || e == NULL)
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_buf b = CAPV_BUF_INIT;
    capv_buf_putc(&b, '{');
    member(&b, false, "id", e->id, true);
    member(&b, false, "manifest_hash", e->manifest_hash, false);
    member(&b, false, "proof_hash", e->proof_hash, false);
    member(&b, false, "timestamp_file", e->timestamp_file, false);
    member(&b, false, "registered_at", e->registered_at, false);
    const char *const names[] = { "policy_hash", "signature", "public_key", "kid",
                                  "signature_scheme" };
    const char *const values[] = { e->policy_hash, e->signature, e->public_key, e->kid,
                                   e->signature_scheme };
    for (int i = 0; i < 5; i++)
        if (values[i] != NULL)
            member(&b, false, names[i], values[i], false);
    capv_buf_putc(&b, '}');
    *out = (char *)capv_buf_take(&b, out_len);
    return *out ? CAPV_OK : capv_err_nomem(err);
}

capv_status capv_registry_entry_from_json(capv_registry_entry **out, const uint8_t *json,
                                          size_t len, capv_error *err)
{
    if (out == NULL || (json == NULL && len > 0))
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    static const char *const known[] = { "id", "manifest_hash", "proof_hash", "timestamp_file",
                                         "registered_at", "policy_hash", "signature",
                                         "public_key", "kid", "signature_scheme" };
    cJSON *root = NULL;
    capv_status st = capv_json_parse(&root, json, len, err);
    if (st != CAPV_OK)
        return st;
    capv_registry_entry in = CAPV_REGISTRY_ENTRY_INIT;
    const char **slots[] = { &in.id,          &in.manifest_hash, &in.proof_hash,
                             &in.timestamp_file, &in.registered_at, &in.policy_hash,
                             &in.signature,   &in.public_key,    &in.kid,
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
    *out = capv_reg_entry_copy(&in);
    if (*out == NULL)
        st = capv_err_nomem(err);
out:
    cJSON_Delete(root);
    return st;
}
