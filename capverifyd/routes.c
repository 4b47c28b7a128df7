/* SPDX-License-Identifier: Apache-2.0 */
/* Registry, backup and policy routes (docs/registry.md, docs/policies.md): the library reads
 * the request bodies and writes the answers; failures are answered by answer_failure. Only
 * the backup descriptions are written here, with a minimal JSON writer: the library has no
 * call that writes them. */
#include "routes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capverify.h>
#include <capverify/unstable/policy_request.h>

#include "auth.h"
#include "backup.h"
#include "daemon.h"
#include "entry_count.h"
#include "http.h"
#include "http_status.h"
#include "metrics.h"

/* What building a GET's answer may hold at most, reserved in the memory budget before it is
 * built (docs/hardening.md "Memory budget"): per item of a page (the entry's fields as read
 * and as JSON, every field at its limit and escaped; a recorded verification's; a policy's
 * without its IR), and per byte of a stored IR while it is loaded and written (measured: up
 * to 19 for an IR of tiny literals). */
#define ENTRY_ANSWER_MAX 16384
#define VERIFICATION_ANSWER_MAX 2048
#define POLICY_ANSWER_MAX 1024
#define IR_LOAD_FACTOR 24

/* Sends JSON the library wrote (`st` the status of the call that wrote it) and frees it, or
 * answers the failure. The answer holds at least its own size of the budget while it is
 * written: one larger than its route's reservation (an item above the bound) waits for it. */
static void send_library_json(req *r, int status, capv_status st, char *json, size_t len,
                              const capv_error *err, const char *extra)
{
    if (st != CAPV_OK)
        answer_failure(r, st, err);
    else if (answer_reserve(r, len))
        send_json(r, status, json, len, extra);
    capv_free(json);
}

/* 500 for an answer that could not be written for want of memory. */
static void answer_nomem(req *r)
{
    capv_error err = CAPV_ERROR_INIT;
    err.code = CAPV_E_NOMEM;
    snprintf(err.message, sizeof err.message, "out of memory writing the answer");
    answer_failure(r, CAPV_E_NOMEM, &err);
}

static bool need_registry(req *r)
{
    if (r->d->registry != NULL)
        return true;
    answer_registry_not_open(r);
    return false;
}

/* Reserves `bytes` for building a GET's answer (answer_reserve, which lets the read lock go
 * while it waits), then needs the registry again. False when answered (503). */
static bool room_for_answer(req *r, uint64_t bytes)
{
    return answer_reserve(r, bytes) && need_registry(r);
}

static bool need_json(req *r)
{
    char ct[96];
    content_type(r, ct, sizeof ct);
    if (strcmp(ct, "application/json") == 0)
        return true;
    send_error(r, 415, "unsupported_media_type", "send application/json");
    return false;
}

/* ---- registry ---------------------------------------------------------------------------- */

/* Whether the query string names only the parameters in `known` (NULL-terminated), each
 * once, written exactly so (no percent-encoding, no other case): anything else is answered
 * 400. A parameter misspelt, encoded or given twice would otherwise be dropped or read as
 * another, and answer another question (a list filtered by a manifest_hash left out is every
 * entry). query() refuses a value holding a NUL. */
static bool query_known(req *r, const char *const *known)
{
    const char *q = r->ri->query_string;
    const char *seen[8] = { NULL };
    size_t nseen = 0;
    while (q != NULL && *q != '\0') {
        size_t n = strcspn(q, "&"), k = strcspn(q, "=&");
        const char *name = NULL;
        for (const char *const *m = known; *m != NULL && name == NULL; m++)
            if (strlen(*m) == k && strncmp(q, *m, k) == 0)
                name = *m;
        const char *why = NULL;
        for (size_t i = 0; name != NULL && i < nseen; i++)
            if (seen[i] == name)
                why = "is given twice";
        if (name == NULL)
            why = "is not one of this route's";
        else if (q[k] != '=')
            why = "has no value (name=value)"; /* CivetWeb would read it as absent */
        if (why != NULL) {
            send_error(r, 400, "malformed", "query parameter '%.*s' %s", (int)(k < 64 ? k : 64), q,
                       why);
            return false;
        }
        if (nseen < sizeof seen / sizeof seen[0])
            seen[nseen++] = name;
        q = q[n] == '&' ? q + n + 1 : q + n;
    }
    return true;
}

/* The value of query parameter `name` into *out (NULL when absent). False, answered 400,
 * when it does not fit in buf or holds a NUL (%00): a value cut or ignored would answer
 * another question (a filter by a manifest_hash too long to be one would list every
 * entry; `limit=1%00junk` is not 1). */
static bool query(req *r, const char *name, char *buf, size_t cap, const char **out)
{
    const char *q = r->ri->query_string;
    *out = NULL;
    if (q == NULL)
        return true;
    int n = mg_get_var(q, strlen(q), name, buf, cap);
    if (n >= 0 && memchr(buf, '\0', (size_t)n) != NULL) {
        send_error(r, 400, "malformed", "query parameter '%s' holds a NUL", name);
        return false;
    }
    if (n >= 0)
        *out = buf;
    if (n != -2)
        return true;
    send_error(r, 400, "malformed", "query parameter %s is longer than %zu bytes", name, cap - 1);
    return false;
}

/* The integer query parameter `name` into *out (`def` when absent). False when it is not an
 * integer in [min, max] (answered 400). */
static bool query_int(req *r, const char *name, long long def, long long min, long long max,
                      long long *out)
{
    char buf[32];
    const char *q;
    if (!query(r, name, buf, sizeof buf, &q))
        return false;
    char *end = NULL;
    errno = 0;
    *out = q ? strtoll(q, &end, 10) : def;
    if (q != NULL && (*q == '\0' || *end != '\0' || errno == ERANGE || *out < min || *out > max)) {
        send_error(r, 400, "malformed", "%s must be an integer in %lld..%lld", name, min, max);
        return false;
    }
    return true;
}

void handle_registry_list(req *r)
{
    if (!auth_check(r, "registry:read") || !need_registry(r))
        return;
    static const char *const known[] = { "manifest_hash", "after", "limit", NULL };
    char mh[160];
    const char *manifest;
    long long after, limit;
    if (!query_known(r, known) || !query(r, "manifest_hash", mh, sizeof mh, &manifest) ||
        !query_int(r, "after", 0, 0, INT64_MAX, &after) ||
        !query_int(r, "limit", 100, 1, 1000, &limit) ||
        !room_for_answer(r, (uint64_t)limit * ENTRY_ANSWER_MAX))
        return;
    capv_registry_page *page = NULL;
    capv_error err = CAPV_ERROR_INIT;
    char *json = NULL;
    size_t len = 0;
    capv_status st =
        capv_registry_list(&page, r->d->registry, manifest, after, (size_t)limit, &err);
    if (st == CAPV_OK)
        st = capv_registry_page_to_json(&json, &len, page, &err);
    capv_registry_page_free(page);
    send_library_json(r, 200, st, json, len, &err, NULL);
}

void handle_registry_get(req *r)
{
    if (!auth_check(r, "registry:read") || !need_registry(r))
        return;
    const char *id = r->ri->local_uri_raw + strlen("/registry/entries/");
    capv_registry_entry *e = NULL;
    capv_error err = CAPV_ERROR_INIT;
    char *json = NULL;
    size_t len = 0;
    capv_status st = capv_registry_get(&e, r->d->registry, id, &err);
    if (st == CAPV_OK)
        st = capv_registry_entry_to_json(&json, &len, e, &err);
    capv_registry_entry_free(e);
    send_library_json(r, 200, st, json, len, &err, NULL);
}

/* The report recorded for a request (docs/registry.md#looking-up-a-verification), as the
 * registry stores it: for a /verify of this daemon the body it answered, byte for byte. Its
 * own scope: reports describe what other clients sent. The library writes this handle's
 * queued records before it says "not found", so a look-up right after the /verify finds it;
 * while they cannot be written (the storage fails) the answer is not known: 503. */
void handle_registry_verification(req *r)
{
    if (!auth_check(r, "verifications:read"))
        return;
    const char *id = r->ri->local_uri_raw + strlen("/registry/verifications/");
    if (!http_request_id_ok(id, strlen(id))) {
        send_error(r, 400, "malformed",
                   "a request id is 1..%d characters of [A-Za-z0-9._-], not ending in '.'",
                   HTTP_REQUEST_ID_MAX);
        return;
    }
    /* the report as read and its copy answered; one stored under a larger
     * registry.max_report_bytes holds its size when it is sent (send_library_json) */
    if (!need_registry(r) || !room_for_answer(r, 2 * (uint64_t)r->d->cfg.registry_max_report_bytes))
        return;
    char *json = NULL;
    size_t len = 0;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_get_report(&json, &len, r->d->registry, id, &err);
    send_library_json(r, 200, st == CAPV_E_BUSY ? CAPV_E_UNAVAILABLE : st, json, len, &err, NULL);
}

/* Recorded verifications, newest first, optionally of one result (docs/registry.md,
 * "Listing verifications"): who verified what and how it ended, for on-call staff and
 * auditors, hence the scope of the reports themselves. */
void handle_registry_verifications(req *r)
{
    if (!auth_check(r, "verifications:read") || !need_registry(r))
        return;
    static const char *const known[] = { "result", "before", "limit", NULL };
    char rbuf[16];
    const char *result;
    if (!query_known(r, known) || !query(r, "result", rbuf, sizeof rbuf, &result))
        return;
    if (result != NULL && strcmp(result, "ok") != 0 && strcmp(result, "warn") != 0 &&
        strcmp(result, "fail") != 0) {
        send_error(r, 400, "malformed", "result must be ok, warn or fail");
        return;
    }
    long long before, limit;
    if (!query_int(r, "before", 0, 0, INT64_MAX, &before) ||
        !query_int(r, "limit", 50, 1, 1000, &limit) ||
        !room_for_answer(r, (uint64_t)limit * VERIFICATION_ANSWER_MAX))
        return;
    capv_registry_verification_page *page = NULL;
    capv_error err = CAPV_ERROR_INIT;
    char *json = NULL;
    size_t len = 0;
    capv_status st = capv_registry_list_verifications(&page, r->d->registry, result, before,
                                                      (size_t)limit, &err);
    if (st == CAPV_OK)
        st = capv_registry_verification_page_to_json(&json, &len, page, &err);
    capv_registry_verification_page_free(page);
    send_library_json(r, 200, st, json, len, &err, NULL);
}

/* Whether GET /registry/entries/{id} can name the entry: its path takes no
 * percent-encoding, nothing outside ASCII, and no segment ending in '.' (docs/hardening.md,
 * "Strict HTTP"). */
static bool entry_id_servable(const char *id)
{
    return http_id_ok(id, strlen(id), 256, "._~-");
}

/* Registers an entry: 201 when new, 200 when the same entry was already there (a retry),
 * 409 when an entry for these hashes exists with other content. */
void handle_registry_post(req *r)
{
    if (!auth_check(r, "registry:write") || !need_registry(r) || !need_json(r))
        return;
    uint8_t *body = NULL;
    size_t len = 0;
    if (!read_body(r, BODY_JSON, &body, &len))
        return;
    if (!need_registry(r)) { /* a reload while the body arrived could not reopen it */
        free(body);
        return;
    }
    capv_registry_entry *in = NULL, *stored = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_entry_from_json(&in, body, len, &err);
    free(body);
    if (st == CAPV_OK && in->id != NULL && !entry_id_servable(in->id)) {
        capv_registry_entry_free(in);
        send_error(r, 400, "malformed",
                   "id must be 1..256 characters of [A-Za-z0-9._~-], not ending in '.': "
                   "GET /registry/entries/{id} could not name it");
        return;
    }
    if (st == CAPV_OK)
        st = capv_registry_add(&stored, r->d->registry, in, &err);
    capv_registry_entry_free(in);
    if (st != CAPV_OK && st != CAPV_E_EXISTS) {
        capv_registry_entry_free(stored);
        /* an entry whose signature does not verify: 422, well formed but not acceptable */
        answer_failure(r, st, &err);
        return;
    }
    bool added = st == CAPV_OK;
    if (added)
        entry_count_added();
    char loc[512];
    snprintf(loc, sizeof loc, "Location: /registry/entries/%s\r\n", stored->id);
    char *json = NULL;
    size_t jlen = 0;
    st = capv_registry_entry_to_json(&json, &jlen, stored, &err);
    capv_registry_entry_free(stored);
    send_library_json(r, added ? 201 : 200, st, json, jlen, &err, added ? loc : NULL);
}

/* ---- backups: a minimal JSON writer ---------------------------------------------------- */

typedef struct jbuf {
    char *p;
    size_t len, cap;
    bool failed;
} jbuf;

static void jput(jbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void jstr(jbuf *b, const char *s)
{
    jput(b, s, strlen(s));
}

/* A JSON string literal, or null. */
static void jquote(jbuf *b, const char *s)
{
    if (s == NULL) {
        jstr(b, "null");
        return;
    }
    char *q = NULL;
    size_t n = 0;
    if (capv_json_quote(&q, &n, s, strlen(s), NULL) == CAPV_OK)
        jput(b, q, n);
    else
        jstr(b, "\"\""); /* not UTF-8: never produced from our own data */
    capv_free(q);
}

static void jnum(jbuf *b, long long v)
{
    char t[32];
    jput(b, t, (size_t)snprintf(t, sizeof t, "%lld", v));
}

static void send_jbuf(req *r, int status, jbuf *b)
{
    if (b->failed) {
        answer_nomem(r);
    } else {
        send_json(r, status, b->p ? b->p : "", b->len, NULL);
    }
    free(b->p);
}

static void backup_json(jbuf *b, const capv_backup_info *i)
{
    jstr(b, "{\"path\":");
    jquote(b, i->path);
    jstr(b, ",\"sidecar_path\":");
    jquote(b, i->sidecar_path);
    jstr(b, ",\"created_at\":");
    jquote(b, i->created_at);
    jstr(b, ",\"sha3_256\":");
    jquote(b, i->sha3_256);
    jstr(b, ",\"size_bytes\":");
    jnum(b, (long long)i->size_bytes);
    jstr(b, ",\"schema_version\":");
    jnum(b, i->schema_version);
    jstr(b, ",\"entries\":");
    jnum(b, (long long)i->entries);
    jstr(b, ",\"verifications\":");
    jnum(b, (long long)i->verifications);
    jstr(b, ",\"tool_version\":");
    jquote(b, i->tool_version);
    if (i->signer_kid != NULL) { /* backup.signing_key_file: a signed sidecar */
        jstr(b, ",\"signer_kid\":");
        jquote(b, i->signer_kid);
    }
    jstr(b, "}");
}

void handle_admin_backup(req *r)
{
    if (!auth_check(r, "backup:create") || !need_registry(r))
        return;
    /* a bodiless POST: with an authenticating proxy's cookies, or without auth, any page
     * could otherwise take backups until retention had pruned every older one */
    if (cross_site(r)) {
        send_error(r, 403, "forbidden",
                   "a backup requested by a page of another site is refused (Sec-Fetch-Site or "
                   "Origin)");
        return;
    }
    capv_backup_info *info = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = backup_run(r->d, false, &info, &err);
    if (st != CAPV_OK) {
        /* another backup is running: a conflict with it, not an unavailable service. Nothing
         * else is the client's fault: a registry whose rows or schema the backup refuses is
         * damage, a 500 with the detail in the log only */
        capv_status_class c = capv_status_class_of(st);
        if (st == CAPV_E_BUSY)
            st = CAPV_E_CONFLICT;
        else if (c == CAPV_CLASS_MALFORMED || c == CAPV_CLASS_REJECTED)
            st = CAPV_E_INTERNAL;
        answer_failure(r, st, &err);
        return;
    }
    jbuf b = { 0 };
    backup_json(&b, info);
    capv_backup_info_free(info);
    send_jbuf(r, 201, &b);
}

void handle_admin_backups(req *r)
{
    if (!auth_check(r, "backup:read"))
        return;
    capv_backup_list *list = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_backup_list(&list, r->d->cfg.backup_dir, &err);
    if (st == CAPV_E_NOT_FOUND) { /* no backup taken yet */
        send_json(r, 200, "{\"backups\":[]}", 14, NULL);
        return;
    }
    if (st != CAPV_OK) {
        answer_failure(r, st, &err);
        return;
    }
    jbuf b = { 0 };
    jstr(&b, "{\"backups\":[");
    for (size_t i = 0; i < capv_backup_list_count(list); i++) {
        if (i)
            jstr(&b, ",");
        backup_json(&b, capv_backup_list_get(list, i));
    }
    jstr(&b, "]}");
    capv_backup_list_free(list);
    send_jbuf(r, 200, &b);
}

/* An entry's signature as the daemon sees it: whether it verifies
 * (capv_registry_entry_verify) and whether its key is one of the trust store's (trust.dir),
 * as `capverify registry check --trust` decides. */
void handle_registry_signature(req *r)
{
    if (!auth_check(r, "registry:read") || !need_registry(r))
        return;
    const char *from = r->ri->local_uri_raw + strlen("/registry/entries/");
    char id[257];
    size_t n = strcspn(from, "/");
    if (n >= sizeof id) {
        send_error(r, 404, "not_found", "no such registry entry");
        return;
    }
    memcpy(id, from, n);
    id[n] = '\0';
    capv_registry_entry *e = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_get(&e, r->d->registry, id, &err);
    if (st != CAPV_OK) {
        answer_failure(r, st, &err);
        return;
    }
    capv_status vst = capv_registry_entry_verify(e, NULL);
    const char *status = vst == CAPV_OK            ? "valid"
                         : vst == CAPV_E_MISSING   ? "unsigned"
                         : vst == CAPV_E_SIGNATURE ? "invalid"
                                                   : "malformed";
    const capv_key *key = NULL;
    uint8_t pk[64];
    size_t pklen = 0;
    const capv_trust_store *store = capv_verifier_trust_store(r->d->verifier);
    bool readable = e->public_key != NULL &&
                    capv_base64_decode(pk, sizeof pk, &pklen, e->public_key, strlen(e->public_key),
                                       CAPV_BASE64_STD, NULL) == CAPV_OK &&
                    pklen == CAPV_ED25519_PUBLIC_LEN;
    if (readable && store != NULL)
        key = capv_trust_store_find(store, pk);
    jbuf b = { 0 };
    jstr(&b, "{\"id\":");
    jquote(&b, e->id);
    jstr(&b, ",\"status\":");
    jquote(&b, status);
    jstr(&b, ",\"signature_scheme\":");
    jquote(&b, e->signature_scheme);
    jstr(&b, ",\"kid\":");
    jquote(&b, e->kid);
    /* trusted: null when there is no key to look up */
    jstr(&b, ",\"trusted\":");
    jstr(&b, !readable ? "null" : key != NULL ? "true" : "false");
    jstr(&b, ",\"key_status\":");
    jquote(&b, key != NULL ? capv_key_status_name(capv_key_status_of(key)) : NULL);
    jstr(&b, ",\"key_owner\":");
    jquote(&b, key != NULL ? capv_key_owner(key) : NULL);
    jstr(&b, "}");
    capv_registry_entry_free(e);
    send_jbuf(r, 200, &b);
}

/* ---- policies ---------------------------------------------------------------------------- */

/* 422 for a policy with lint errors: the error shape plus its "lints". */
static void answer_lint_errors(req *r, const capv_policy_diagnostics *diags, const capv_error *cerr)
{
    char *lints = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_diagnostics_to_json(&lints, NULL, diags, &err);
    if (st != CAPV_OK) {
        answer_failure(r, st, &err);
        return;
    }
    size_t n = strlen("\"lints\":") + strlen(lints) + 1;
    char *members = malloc(n);
    if (members != NULL)
        snprintf(members, n, "\"lints\":%s", lints);
    capv_free(lints);
    if (members == NULL) {
        answer_nomem(r);
        return;
    }
    send_error_members(r, 422, "lint_errors", members, "%s",
                       cerr->message[0] ? cerr->message : "the policy has lint errors");
    free(members);
}

/* "persist": the compiled IR into the policy store. False when that failed (answered). */
static bool persist_ir(req *r, const capv_policy_ir *ir)
{
    if (!need_registry(r))
        return false;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_put_policy_ir(r->d->registry, ir, &err);
    if (st == CAPV_OK || st == CAPV_E_EXISTS)
        return true;
    answer_failure(r, st, &err);
    return false;
}

void handle_policy_compile(req *r)
{
    if (!auth_check(r, "policy:compile") || !need_json(r))
        return;
    uint8_t *body = NULL;
    size_t len = 0;
    if (!read_body(r, BODY_JSON, &body, &len))
        return;
    capv_policy_compile_request *creq = NULL;
    capv_policy_ir *ir = NULL;
    capv_policy_diagnostics *diags = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_compile_request_parse(&creq, body, len, &err);
    free(body);
    if (st == CAPV_OK)
        st = capv_policy_compile(&ir, &diags, capv_policy_compile_request_policy(creq),
                                 capv_policy_compile_request_lint_mode(creq), &err);
    if (st != CAPV_OK && diags != NULL && capv_policy_diagnostics_errors(diags) > 0) {
        answer_lint_errors(r, diags, &err);
    } else if (st != CAPV_OK) {
        answer_failure(r, st, &err);
    } else {
        bool persist = capv_policy_compile_request_persist(creq);
        if (!persist || persist_ir(r, ir)) {
            char *json = NULL;
            size_t jlen = 0;
            st = capv_policy_compile_answer_json(&json, &jlen, ir, diags, persist, &err);
            send_library_json(r, 200, st, json, jlen, &err, NULL);
        }
    }
    capv_policy_diagnostics_free(diags);
    capv_policy_ir_free(ir);
    capv_policy_compile_request_free(creq);
}

/* Stored policies, oldest first (docs/policies.md): their ids, versions and hashes; the IR of
 * one is GET /policy/{hash}. */
void handle_policy_list(req *r)
{
    if (!auth_check(r, "policy:read") || !need_registry(r))
        return;
    static const char *const known[] = { "after", "limit", NULL };
    long long after, limit;
    if (!query_known(r, known) || !query_int(r, "after", 0, 0, INT64_MAX, &after) ||
        !query_int(r, "limit", 100, 1, 1000, &limit) ||
        !room_for_answer(r, (uint64_t)limit * POLICY_ANSWER_MAX))
        return;
    capv_registry_policy_page *page = NULL;
    capv_error err = CAPV_ERROR_INIT;
    char *json = NULL;
    size_t len = 0;
    capv_status st = capv_registry_list_policies(&page, r->d->registry, after, (size_t)limit, &err);
    if (st == CAPV_OK)
        st = capv_registry_policy_page_to_json(&json, &len, page, &err);
    capv_registry_policy_page_free(page);
    send_library_json(r, 200, st, json, len, &err, NULL);
}

/* The IR stored under `id` (the registry is open). One whose hash no longer matches is
 * damage, not a client error. */
static capv_status stored_ir(capv_policy_ir **out, req *r, const char *id, capv_error *err)
{
    capv_status st = capv_registry_get_policy_ir(out, r->d->registry, id, err);
    return st == CAPV_E_MISMATCH ? CAPV_E_INTERNAL : st;
}

/* The size of the IR stored under `id` into *size and its policy hash into key (the
 * registry is open), as the storage measures it: nothing the size of the IR is read, so
 * requests need not take turns (docs/hardening.md "Memory budget"). False when answered. */
static bool stored_ir_size(req *r, const char *id, uint64_t *size, char *key, size_t cap)
{
    capv_registry_policy *p = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_get_policy_head(&p, r->d->registry, id, &err);
    if (st == CAPV_OK) {
        *size = p->ir_bytes;
        snprintf(key, cap, "%s", p->policy_hash);
    }
    capv_registry_policy_free(p);
    if (st != CAPV_OK)
        answer_failure(r, st, &err);
    return st == CAPV_OK;
}

/* The stored IR's size first, then its load within the memory budget (IR_LOAD_FACTOR times
 * that), by its policy hash: the version measured, not one stored meanwhile under the id. The
 * answer is a copy, so that only it is held while a slow client reads it. */
void handle_policy_get(req *r)
{
    if (!auth_check(r, "policy:read") || !need_registry(r))
        return;
    const char *id = r->ri->local_uri_raw + strlen("/policy/");
    uint64_t size = 0;
    char key[160];
    if (!stored_ir_size(r, id, &size, key, sizeof key) ||
        !room_for_answer(r, size * IR_LOAD_FACTOR))
        return;
    capv_policy_ir *ir = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = stored_ir(&ir, r, key, &err);
    if (st != CAPV_OK) {
        answer_failure(r, st, &err);
        return;
    }
    char etag[160];
    snprintf(etag, sizeof etag, "\"ir:%s\"", capv_policy_ir_hash(ir));
    char hdr[200];
    snprintf(hdr, sizeof hdr, "ETag: %s\r\n", etag);
    const char *inm = header(r, "If-None-Match");
    if (inm != NULL && (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0)) {
        send_response(r, 304, NULL, NULL, 0, hdr);
        capv_policy_ir_free(ir);
        return;
    }
    size_t len = 0;
    const char *pretty = capv_policy_ir_json(ir, CAPV_POLICY_IR_PRETTY, &len);
    char *json = malloc(len ? len : 1);
    if (json != NULL)
        memcpy(json, pretty, len);
    capv_policy_ir_free(ir);
    if (json == NULL) {
        answer_nomem(r);
        return;
    }
    send_json(r, 200, json, len, hdr);
    free(json);
}

/* The evaluation's answer: 200 with the result, the verdict logged and counted. */
static void answer_eval(req *r, const capv_policy_eval_result *res)
{
    char *json = NULL;
    size_t jlen = 0;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_eval_result_to_json(&json, &jlen, res, 0, &err);
    if (st != CAPV_OK) {
        answer_failure(r, st, &err);
        return;
    }
    capv_verdict v = capv_policy_eval_result_verdict(res);
    snprintf(r->result, sizeof r->result, "%s", capv_verdict_name(v));
    metrics_outcome(v == CAPV_VERDICT_OK     ? OUTCOME_OK
                    : v == CAPV_VERDICT_WARN ? OUTCOME_WARN
                                             : OUTCOME_FAIL);
    send_json(r, 200, json, jlen, NULL);
    capv_free(json);
}

/* The policy-evaluation form of POST /verify (docs/policies.md): Mode A names a stored
 * policy, Mode B embeds an IR whose ir_hash must match (else 400). */
void handle_policy_eval(req *r, const uint8_t *body, size_t len)
{
    capv_policy_eval_request *ereq = NULL;
    capv_policy_ir *stored = NULL;
    capv_policy_eval_result *res = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_eval_request_parse(&ereq, body, len, &err);
    /* a tampered embedded IR is a bad request, not a verdict */
    if (st == CAPV_E_MISMATCH)
        st = CAPV_E_MALFORMED;
    bool stored_one = st == CAPV_OK && capv_policy_eval_request_ir(ereq) == NULL;
    if (stored_one && !need_registry(r)) {
        capv_policy_eval_request_free(ereq);
        return;
    }
    if (stored_one)
        st = stored_ir(&stored, r, capv_policy_eval_request_policy_id(ereq), &err); /* mode A */
    /* Mode B: the request's own IR is used (the argument must be NULL); Mode A: the stored */
    if (st == CAPV_OK)
        st = capv_policy_eval_request_run(&res, ereq, stored, &err);
    if (st == CAPV_OK)
        answer_eval(r, res);
    else
        answer_failure(r, st, &err); /* an error outcome (finish in server.c) */
    capv_policy_eval_result_free(res);
    capv_policy_ir_free(stored);
    capv_policy_eval_request_free(ereq);
}
