/* SPDX-License-Identifier: Apache-2.0 */
/* Compiled policies (docs/policies.md): compilation of a PolicyV2 to IR v1 and the ir_hash,
 * IR loading with the integrity check, the hash of the older policy v1 format, the hash a
 * policy file stands for in the verifier's policy store, and the daemon's compile request
 * and answer (capverify/unstable/policy_request.h). Above the model (policy_model.c) and
 * the lints (policy_lint.c). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capverify/unstable/policy_request.h>

#include "policy_int.h"
#include "policy_lint_int.h"

/* "sha3-256:" + 64 lower-case hex digits, as IR v1 writes its hashes. */
static bool hash_text_ok(const char *s)
{
    if (strncmp(s, "sha3-256:", 9) != 0 || strlen(s) != 9 + 64)
        return false;
    for (s += 9; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

/* ---- POST /policy/compile bodies (unstable) -------------------------------------------- */

struct capv_policy_compile_request {
    capv_policy *policy;
    capv_policy_lint_mode mode;
    bool persist;
};

void capv_policy_compile_request_free(capv_policy_compile_request *req)
{
    if (req == NULL)
        return;
    capv_policy_free(req->policy);
    free(req);
}

capv_status capv_policy_compile_request_parse(capv_policy_compile_request **out,
                                              const uint8_t *body, size_t len, capv_error *err)
{
    static const char *const top[] = { "policy_yaml", "policy", "lint_mode", "persist", NULL };
    if (out != NULL)
        *out = NULL;
    if (out == NULL || (body == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    cJSON *root = NULL;
    uint8_t *yaml = NULL;
    capv_policy_compile_request *req = NULL;
    capv_pol_ctx c = { NULL, err };
    capv_status st = CAPV_OK;
    CAPV_TRY(capvi_json_parse(&root, body, len, err));
    CAPV_TRY(capvi_pol_want_object(&c, root, "", top));
    const char *b64 = NULL, *mode = NULL;
    const cJSON *pol = NULL;
    bool persist = false;
    CAPV_TRY(capvi_json_get_string(&b64, root, "", "policy_yaml", false, err));
    CAPV_TRY(capvi_json_get_object(&pol, root, "", "policy", false, err));
    CAPV_TRY(capvi_json_get_string(&mode, root, "", "lint_mode", false, err));
    CAPV_TRY(capvi_json_get_bool(&persist, root, "", "persist", false, err));
    if ((b64 == NULL) == (pol == NULL))
        CAPV_FAIL(err, CAPV_E_MALFORMED, "policy",
                  "the request needs exactly one of \"policy_yaml\" and \"policy\"");
    if ((req = calloc(1, sizeof *req)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    req->persist = persist;
    if (mode == NULL || strcmp(mode, "strict") == 0)
        req->mode = CAPV_POLICY_LINT_STRICT;
    else if (strcmp(mode, "relaxed") == 0)
        req->mode = CAPV_POLICY_LINT_RELAXED;
    else
        CAPV_FAIL(err, CAPV_E_MALFORMED, "lint_mode",
                  "lint_mode must be \"strict\" or \"relaxed\"");
    if (b64 != NULL) {
        size_t n = strlen(b64), ylen = 0;
        if ((yaml = malloc(CAPV_BASE64_DECODED_MAX(n))) == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
        if (capv_base64_decode(yaml, CAPV_BASE64_DECODED_MAX(n), &ylen, b64, n, CAPV_BASE64_STD,
                               NULL) != CAPV_OK)
            CAPV_FAIL(err, CAPV_E_BASE64, "policy_yaml", "policy_yaml is not standard base64");
        CAPV_TRY(capv_policy_parse(&req->policy, yaml, ylen, CAPV_POLICY_FORMAT_AUTO, err));
    } else {
        capv_yaml_doc doc = { 0 };
        doc.root = cJSON_DetachItemFromObjectCaseSensitive(root, "policy");
        /* JSON: the numbers serde_json read (capvi_policy_read_doc) */
        if (!capvi_json_serde_numbers(doc.root)) {
            cJSON_Delete(doc.root);
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
        }
        CAPV_TRY(capvi_policy_from_doc(&req->policy, &doc, err));
    }
out:
    free(yaml);
    cJSON_Delete(root);
    if (st != CAPV_OK) {
        capv_policy_compile_request_free(req);
        return st;
    }
    *out = req;
    return capvi_err_done(err, CAPV_OK);
}

const capv_policy *capv_policy_compile_request_policy(const capv_policy_compile_request *req)
{
    return req ? req->policy : NULL;
}

capv_policy_lint_mode capv_policy_compile_request_lint_mode(const capv_policy_compile_request *req)
{
    return req ? req->mode : CAPV_POLICY_LINT_STRICT;
}

bool capv_policy_compile_request_persist(const capv_policy_compile_request *req)
{
    return req != NULL && req->persist;
}

capv_status capv_policy_compile_answer_json(char **out, size_t *out_len, const capv_policy_ir *ir,
                                            const capv_policy_diagnostics *diags, bool persisted,
                                            capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || ir == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    char *lints = NULL;
    size_t lints_len = 0;
    capv_status st = CAPV_OK;
    if (diags != NULL &&
        (st = capv_policy_diagnostics_to_json(&lints, &lints_len, diags, err)) != CAPV_OK)
        return st;
    /* the order and form of the daemon's answer (docs/policies.md, "For the daemon") */
    const char *const keys[] = { "policy_id", "policy_version", "policy_hash", "ir_hash" };
    const char *const values[] = { ir->policy_id, ir->source_version, ir->policy_hash,
                                   ir->ir_hash };
    capv_buf b = CAPV_BUF_INIT;
    for (size_t i = 0; i < 4; i++) {
        capvi_buf_printf(&b, "%s\"%s\":", i ? "," : "{", keys[i]);
        if (values[i] != NULL)
            capvi_json_write_string(&b, values[i], strlen(values[i]));
        else
            capvi_buf_puts(&b, "null");
    }
    capvi_buf_puts(&b, ",\"ir\":");
    capvi_buf_append(&b, ir->compact, ir->compact_len);
    capvi_buf_puts(&b, ",\"lints\":");
    if (lints != NULL)
        capvi_buf_append(&b, lints, lints_len);
    else
        capvi_buf_puts(&b, "[]");
    capvi_buf_puts(&b, persisted ? ",\"persisted\":true}" : ",\"persisted\":false}");
    capv_free(lints);
    *out = (char *)capvi_buf_take(&b, out_len);
    return capvi_err_done(err, *out != NULL ? CAPV_OK : capvi_err_nomem(err));
}

/* ---- IR v1 ----------------------------------------------------------------------------- */

/* {"ir_version":"1.0","policy_id":…,"policy_hash":…,"rules":[]} — the caller fills rules,
 * then adds adaptivity (optional) and ir_hash. */
static cJSON *ir_begin(const char *policy_id, const char *policy_hash, cJSON **rules)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && capvi_pol_put(o, "ir_version", cJSON_CreateString("1.0")) &&
              capvi_pol_put(o, "policy_id", cJSON_CreateString(policy_id)) &&
              capvi_pol_put(o, "policy_hash", cJSON_CreateString(policy_hash)) &&
              capvi_pol_put(o, "rules", *rules = cJSON_CreateArray());
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static bool ir_add_rule(cJSON *rules, const char *id, const char *op, cJSON *lhs, cJSON *rhs)
{
    cJSON *ro = cJSON_CreateObject();
    if (!capvi_pol_push(rules, ro) || !capvi_pol_put(ro, "id", cJSON_CreateString(id)) ||
        !capvi_pol_put(ro, "op", cJSON_CreateString(op))) {
        cJSON_Delete(lhs);
        cJSON_Delete(rhs);
        return false;
    }
    if (!capvi_pol_put(ro, "lhs", lhs)) {
        cJSON_Delete(rhs);
        return false;
    }
    return capvi_pol_put(ro, "rhs", rhs);
}

/* A policy operand in IR: a string names a variable, anything else is a literal. */
static cJSON *ir_operand(const cJSON *v)
{
    if (!cJSON_IsString(v))
        return capvi_json_sorted_copy(v);
    cJSON *o = cJSON_CreateObject();
    if (o != NULL && !capvi_pol_put(o, "var", cJSON_CreateString(v->valuestring))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

void capv_policy_ir_free(capv_policy_ir *ir)
{
    if (ir == NULL)
        return;
    cJSON_Delete(ir->tree);
    free(ir->pretty);
    free(ir->compact);
    free(ir->source_version);
    free(ir->rules);
    free(ir->predicates);
    free(ir->activations);
    free(ir);
}

/* Indexes a canonical IR tree (whose shape is known good). */
static capv_status ir_index(capv_policy_ir *ir, capv_error *err)
{
    const cJSON *t = ir->tree;
    ir->policy_id = capvi_json_get(t, "policy_id")->valuestring;
    const cJSON *rules = capvi_json_get(t, "rules");
    size_t n = (size_t)cJSON_GetArraySize(rules);
    ir->rules = calloc(n ? n : 1, sizeof *ir->rules);
    if (ir->rules == NULL)
        return capvi_err_nomem(err);
    for (const cJSON *r = rules->child; r; r = r->next) {
        capv_ir_rule *x = &ir->rules[ir->nrules++];
        x->id = capvi_json_get(r, "id")->valuestring;
        x->op = capvi_policy_op_of(capvi_json_get(r, "op")->valuestring);
        x->lhs = capvi_json_get(r, "lhs");
        x->rhs = capvi_json_get(r, "rhs");
    }
    const cJSON *a = capvi_json_get(t, "adaptivity");
    if (a == NULL)
        return CAPV_OK;
    ir->has_adaptivity = true;
    const cJSON *preds = capvi_json_get(a, "predicates"), *acts = capvi_json_get(a, "activations");
    size_t np = (size_t)cJSON_GetArraySize(preds), na = (size_t)cJSON_GetArraySize(acts);
    ir->predicates = calloc(np ? np : 1, sizeof *ir->predicates);
    ir->activations = calloc(na ? na : 1, sizeof *ir->activations);
    if (ir->predicates == NULL || ir->activations == NULL)
        return capvi_err_nomem(err);
    for (const cJSON *p = preds->child; p; p = p->next) {
        capv_ir_predicate *x = &ir->predicates[ir->npredicates++];
        x->id = capvi_json_get(p, "id")->valuestring;
        x->expr = capvi_json_get(p, "expr");
    }
    size_t n_refs = 0;
    capv_name_ref *refs = capvi_pol_id_refs(preds, "id", &n_refs);
    if (refs == NULL)
        return capvi_err_nomem(err);
    for (const cJSON *w = acts->child; w; w = w->next) {
        capv_ir_activation *x = &ir->activations[ir->nactivations++];
        x->when = capvi_json_get(w, "when")->valuestring;
        x->rules = capvi_json_get(w, "rules");
        const capv_name_ref *hit = capvi_name_find(refs, n_refs, x->when);
        x->predicate = hit ? hit->pos : SIZE_MAX;
    }
    free(refs);
    return CAPV_OK;
}

/* Completes an IR: appends ir_hash "", hashes the compact form, compares with `expected`
 * (when not NULL), fills the hash in and renders the texts. Takes `tree`. */
static capv_status ir_finish(capv_policy_ir **out, cJSON *tree, const char *expected,
                             const char *source_version, capv_error *err)
{
    capv_policy_ir *ir = calloc(1, sizeof *ir);
    capv_status st = CAPV_OK;
    if (ir == NULL || !capvi_pol_put(tree, "ir_hash", cJSON_CreateString(""))) {
        cJSON_Delete(tree);
        free(ir);
        return capvi_err_nomem(err);
    }
    ir->tree = tree;
    CAPV_TRY(capvi_pol_hash_tree(ir->ir_hash, tree, NULL, NULL, err));
    if (expected != NULL && (strlen(expected) != strlen(ir->ir_hash) ||
                             CRYPTO_memcmp(expected, ir->ir_hash, strlen(ir->ir_hash)) != 0))
        CAPV_FAIL(err, CAPV_E_MISMATCH, "ir_hash",
                  "ir_hash does not match the IR content (tampered or not IR v1)");
    cJSON *h = cJSON_CreateString(ir->ir_hash);
    if (h == NULL || !cJSON_ReplaceItemInObjectCaseSensitive(tree, "ir_hash", h)) {
        cJSON_Delete(h);
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    }
    snprintf(ir->policy_hash, sizeof ir->policy_hash, "%s",
             capvi_json_get(tree, "policy_hash")->valuestring);
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_compact(&b, tree, 0);
    ir->compact = (char *)capvi_buf_take(&b, &ir->compact_len);
    capvi_json_write_pretty(&b, tree);
    ir->pretty = (char *)capvi_buf_take(&b, &ir->pretty_len);
    if (ir->compact == NULL || ir->pretty == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    if (source_version != NULL && (ir->source_version = strdup(source_version)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    CAPV_TRY(ir_index(ir, err));
out:
    if (st != CAPV_OK) {
        capv_policy_ir_free(ir);
        return st;
    }
    *out = ir;
    return CAPV_OK;
}

typedef struct rule_ref {
    const capv_policy_rule *r;
    size_t index;
} rule_ref;

static int rule_ref_cmp(const void *a, const void *b)
{
    const rule_ref *x = a, *y = b;
    int c = strcmp(x->r->id, y->r->id);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index; /* stable */
}

capv_status capv_policy_compile(capv_policy_ir **out, capv_policy_diagnostics **diags_out,
                                const capv_policy *p, capv_policy_lint_mode mode, capv_error *err)
{
    if (diags_out != NULL)
        *diags_out = NULL;
    if (out != NULL)
        *out = NULL;
    if (out == NULL || p == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_policy_diagnostics *d = NULL;
    rule_ref *order = NULL;
    cJSON *tree = NULL;
    capv_status st = CAPV_OK;
    CAPV_TRY(capvi_policy_lint_run(&d, p, mode, err));
    size_t nerr = capv_policy_diagnostics_errors(d);
    if (nerr > 0) {
        size_t i = 0;
        while (capv_policy_diagnostic_level(d, i) != CAPV_POLICY_LEVEL_ERROR)
            i++;
        CAPV_FAIL(err, CAPV_E_MALFORMED, capv_policy_diagnostic_code(d, i),
                  "policy %s has %zu lint error%s; first: %s %s", p->id, nerr, nerr == 1 ? "" : "s",
                  capv_policy_diagnostic_code(d, i), capv_policy_diagnostic_message(d, i));
    }
    order = calloc(p->nrules ? p->nrules : 1, sizeof *order);
    if (order == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    for (size_t i = 0; i < p->nrules; i++)
        order[i] = (rule_ref){ &p->rules[i], i };
    if (p->nrules > 1)
        qsort(order, p->nrules, sizeof *order, rule_ref_cmp);
    cJSON *rules = NULL;
    if ((tree = ir_begin(p->id, p->hash, &rules)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    for (size_t i = 0; i < p->nrules; i++) {
        const capv_policy_rule *r = order[i].r;
        if (!ir_add_rule(rules, r->id, r->op, ir_operand(r->lhs), ir_operand(r->rhs)))
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    }
    if (p->adaptivity != NULL &&
        !capvi_pol_put(tree, "adaptivity", capvi_pol_adaptivity_copy(p->adaptivity)))
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    st = ir_finish(out, tree, NULL, p->version, err);
    tree = NULL;
out:
    cJSON_Delete(tree);
    free(order);
    if (diags_out != NULL)
        *diags_out = d;
    else
        capv_policy_diagnostics_free(d);
    return capvi_err_done(err, st);
}

/* IR is compiled output: what lints reject at the source (duplicate ids, activations naming
 * unknown predicates or rules) is malformed here. Sorted look-ups: never quadratic. */
static capv_status ir_check_refs(const cJSON *rules, const cJSON *a, capv_error *err)
{
    size_t nr = 0, np = 0, i;
    capv_name_ref *rr = capvi_pol_id_refs(rules, "id", &nr), *pr = NULL;
    capv_status st = CAPV_OK;
    if (rr == NULL)
        return capvi_err_nomem(err);
    for (i = 1; i < nr; i++)
        if (strcmp(rr[i].key, rr[i - 1].key) == 0)
            CAPV_FAIL(err, CAPV_E_MALFORMED, "rules", "duplicate rule id \"%s\"",
                      CAPV_CLIP(rr[i].key));
    if (a == NULL)
        goto out;
    if ((pr = capvi_pol_id_refs(capvi_json_get(a, "predicates"), "id", &np)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    for (i = 1; i < np; i++)
        if (strcmp(pr[i].key, pr[i - 1].key) == 0)
            CAPV_FAIL(err, CAPV_E_MALFORMED, "adaptivity.predicates",
                      "duplicate predicate id \"%s\"", CAPV_CLIP(pr[i].key));
    i = 0;
    for (const cJSON *x = capvi_json_get(a, "activations")->child; x; x = x->next, i++) {
        char path[CAPV_ERROR_FIELD_SIZE];
        const char *when = capvi_json_get(x, "when")->valuestring;
        capvi_pol_item_path(path, "adaptivity.activations", i);
        if (capvi_name_find(pr, np, when) == NULL)
            CAPV_FAIL(err, CAPV_E_MALFORMED, path, "activation names unknown predicate \"%s\"",
                      CAPV_CLIP(when));
        for (const cJSON *rid = capvi_json_get(x, "rules")->child; rid; rid = rid->next)
            if (capvi_name_find(rr, nr, rid->valuestring) == NULL)
                CAPV_FAIL(err, CAPV_E_MALFORMED, path, "activation names unknown rule \"%s\"",
                          CAPV_CLIP(rid->valuestring));
    }
out:
    free(rr);
    free(pr);
    return st;
}

capv_status capvi_policy_ir_from_tree(capv_policy_ir **out, cJSON *root, capv_error *err)
{
    static const char *const top[] = { "ir_version", "policy_id", "rules", "policy_hash",
                                       "adaptivity", "ir_hash",   NULL };
    static const char *const rkeys[] = { "id", "op", "lhs", "rhs", NULL };
    capv_pol_ctx c = { NULL, err };
    const char *irv = NULL, *pid = NULL, *ph = NULL, *ih = NULL;
    const cJSON *rules = NULL;
    char path[CAPV_ERROR_FIELD_SIZE], f[CAPV_ERROR_FIELD_SIZE];
    capv_status st;
    *out = NULL;
    if (!capvi_json_serde_numbers(root))
        return capvi_err_nomem(err);
    if ((st = capvi_pol_want_object(&c, root, "", top)) != CAPV_OK ||
        (st = capvi_pol_member_string(&c, root, "", "ir_version", true, false, &irv)) != CAPV_OK)
        return st;
    if (strcmp(irv, "1.0") != 0)
        return capvi_err_set(err, CAPV_E_UNSUPPORTED_FORMAT, "ir_version",
                             "ir_version \"%s\" is not supported (only \"1.0\")", CAPV_CLIP(irv));
    if ((st = capvi_pol_member_string(&c, root, "", "policy_id", true, false, &pid)) != CAPV_OK ||
        (st = capvi_pol_member_string(&c, root, "", "policy_hash", true, false, &ph)) != CAPV_OK ||
        (st = capvi_pol_member_string(&c, root, "", "ir_hash", true, false, &ih)) != CAPV_OK ||
        (st = capvi_pol_member_array(&c, root, "", "rules", &rules)) != CAPV_OK)
        return st;
    if (!capvi_pol_policy_id_ok(pid))
        return capvi_err_set(err, CAPV_E_MALFORMED, "policy_id",
                             "policy_id \"%s\" must match ^[a-z0-9._-]+$", CAPV_CLIP(pid));
    if (!hash_text_ok(ph))
        return capvi_err_set(err, CAPV_E_HEX, "policy_hash",
                             "policy_hash must be \"sha3-256:\" + 64 lower-case hex digits");
    if (!hash_text_ok(ih))
        return capvi_err_set(err, CAPV_E_HEX, "ir_hash",
                             "ir_hash must be \"sha3-256:\" + 64 lower-case hex digits");
    size_t i = 0;
    for (const cJSON *r = rules->child; r; r = r->next, i++) {
        const char *id = NULL, *op = NULL;
        const cJSON *lhs, *rhs;
        capvi_pol_item_path(path, "rules", i);
        if ((st = capvi_pol_want_object(&c, r, path, rkeys)) != CAPV_OK ||
            (st = capvi_pol_member_string(&c, r, path, "id", true, false, &id)) != CAPV_OK ||
            (st = capvi_pol_member_string(&c, r, path, "op", true, false, &op)) != CAPV_OK ||
            (st = capvi_pol_member(&c, r, path, "lhs", &lhs)) != CAPV_OK ||
            (st = capvi_pol_member(&c, r, path, "rhs", &rhs)) != CAPV_OK)
            return st;
        capvi_pol_join(f, path, "id");
        if (!capvi_pol_rule_id_ok(id))
            return capvi_err_set(err, CAPV_E_MALFORMED, f, "rule id \"%s\" must match ^[a-z0-9_]+$",
                                 CAPV_CLIP(id));
        capvi_pol_join(f, path, "op");
        if (capvi_policy_op_of(op) == CAPV_POLICY_OP_UNKNOWN)
            return capvi_err_set(err, CAPV_E_MALFORMED, f,
                                 "unknown op \"%s\" (non_membership, eq, range_min)",
                                 CAPV_CLIP(op));
        capvi_pol_join(f, path, "lhs");
        if ((st = capvi_pol_check_operand(&c, lhs, f)) != CAPV_OK)
            return st;
        capvi_pol_join(f, path, "rhs");
        if ((st = capvi_pol_check_operand(&c, rhs, f)) != CAPV_OK)
            return st;
    }
    const cJSON *a = capvi_json_get(root, "adaptivity");
    if (a != NULL && cJSON_IsNull(a))
        a = NULL;
    if (a != NULL) {
        if ((st = capvi_pol_check_adaptivity(&c, a)) != CAPV_OK)
            return st;
        const cJSON *preds = capvi_json_get(a, "predicates");
        i = 0;
        for (const cJSON *p = preds->child; p; p = p->next, i++) {
            const char *why, *pidp = capvi_json_get(p, "id")->valuestring;
            capvi_pol_item_path(path, "adaptivity.predicates", i);
            if (!capvi_policy_predicate_valid(capvi_json_get(p, "expr"), &why))
                return capvi_err_set(err, CAPV_E_MALFORMED, path, "predicate \"%s\": expr %s",
                                     CAPV_CLIP(pidp), why);
        }
    }
    if ((st = ir_check_refs(rules, a, err)) != CAPV_OK)
        return st;

    cJSON *tree = NULL, *irules = NULL;
    if ((tree = ir_begin(pid, ph, &irules)) == NULL)
        return capvi_err_nomem(err);
    for (const cJSON *r = rules->child; r; r = r->next)
        if (!ir_add_rule(irules, capvi_json_get(r, "id")->valuestring,
                         capvi_json_get(r, "op")->valuestring,
                         capvi_json_sorted_copy(capvi_json_get(r, "lhs")),
                         capvi_json_sorted_copy(capvi_json_get(r, "rhs")))) {
            cJSON_Delete(tree);
            return capvi_err_nomem(err);
        }
    if (a != NULL && !capvi_pol_put(tree, "adaptivity", capvi_pol_adaptivity_copy(a))) {
        cJSON_Delete(tree);
        return capvi_err_nomem(err);
    }
    return ir_finish(out, tree, ih, NULL, err);
}

capv_status capv_policy_ir_load(capv_policy_ir **out, const uint8_t *data, size_t len,
                                capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    cJSON *root = NULL;
    capv_status st = capvi_json_parse(&root, data, len, err);
    if (st != CAPV_OK)
        return st;
    st = capvi_policy_ir_from_tree(out, root, err);
    cJSON_Delete(root);
    return capvi_err_done(err, st);
}

const char *capv_policy_ir_policy_id(const capv_policy_ir *ir)
{
    return ir ? ir->policy_id : NULL;
}

const char *capv_policy_ir_policy_hash(const capv_policy_ir *ir)
{
    return ir ? ir->policy_hash : NULL;
}

const char *capv_policy_ir_hash(const capv_policy_ir *ir)
{
    return ir ? ir->ir_hash : NULL;
}

const char *capv_policy_ir_policy_version(const capv_policy_ir *ir)
{
    return ir ? ir->source_version : NULL;
}

size_t capv_policy_ir_rule_count(const capv_policy_ir *ir)
{
    return ir ? ir->nrules : 0;
}

const char *capv_policy_ir_json(const capv_policy_ir *ir, unsigned int flags, size_t *len)
{
    bool pretty = (flags & CAPV_POLICY_IR_PRETTY) != 0;
    if (len != NULL)
        *len = ir ? (pretty ? ir->pretty_len : ir->compact_len) : 0;
    if (ir == NULL)
        return NULL;
    return pretty ? ir->pretty : ir->compact;
}

/* ---- policy v1 ------------------------------------------------------------------------- */

/* An unsigned 32-bit integer member written as an integer (serde's u32). */
static capv_status v1_u32(const capv_pol_ctx *c, const cJSON *obj, const char *key, bool required,
                          cJSON *dst)
{
    char f[CAPV_ERROR_FIELD_SIZE];
    capvi_pol_join(f, "constraints", key);
    const cJSON *m = capvi_json_get(obj, key);
    if (m == NULL || (!required && cJSON_IsNull(m))) {
        if (required)
            return capvi_pol_err(c, obj, false, CAPV_E_MISSING, f,
                                 "required field \"%s\" is missing", f);
        return CAPV_OK;
    }
    int64_t v = 0;
    if (!cJSON_IsNumber(m) || strpbrk(m->valuestring ? m->valuestring : ".", ".eE") != NULL ||
        capvi_json_int_value(&v, m, 0, UINT32_MAX) != CAPV_OK)
        return capvi_pol_err(c, m, false, cJSON_IsNumber(m) ? CAPV_E_RANGE : CAPV_E_TYPE, f,
                             "%s must be an integer in [0, 4294967295]", f);
    char lex[24];
    snprintf(lex, sizeof lex, "%lld", (long long)v);
    return capvi_pol_put(dst, key, capvi_json_number_lexeme(lex)) ? CAPV_OK
                                                                  : capvi_err_nomem(c->err);
}

static capv_status v1_tree(cJSON **out, const capv_pol_ctx *c, const cJSON *root)
{
    static const char *const top[] = {
        "version", "name", "created_at", "constraints", "notes", NULL
    };
    static const char *const ckeys[] = { "require_at_least_one_ubo", "supplier_count_max",
                                         "ubo_count_min", "require_statement_roots", NULL };
    const char *version, *name, *created, *notes;
    const cJSON *cons = NULL;
    capv_status st;
    *out = NULL;
    if ((st = capvi_pol_want_object(c, root, "", top)) != CAPV_OK ||
        (st = capvi_pol_member_string(c, root, "", "version", true, false, &version)) != CAPV_OK ||
        (st = capvi_pol_member_string(c, root, "", "name", true, false, &name)) != CAPV_OK ||
        (st = capvi_pol_member_string(c, root, "", "created_at", true, false, &created)) !=
            CAPV_OK ||
        (st = capvi_pol_member_string(c, root, "", "notes", false, false, &notes)) != CAPV_OK ||
        (st = capvi_pol_member(c, root, "", "constraints", &cons)) != CAPV_OK ||
        (st = capvi_pol_want_object(c, cons, "constraints", ckeys)) != CAPV_OK)
        return st;
    const cJSON *req = NULL, *roots = NULL;
    if ((st = capvi_pol_member(c, cons, "constraints", "require_at_least_one_ubo", &req)) !=
        CAPV_OK)
        return st;
    if (!cJSON_IsBool(req))
        return capvi_pol_err(c, req, false, CAPV_E_TYPE, "constraints.require_at_least_one_ubo",
                             "constraints.require_at_least_one_ubo must be a boolean");
    roots = capvi_json_get(cons, "require_statement_roots");
    if (roots != NULL && cJSON_IsNull(roots))
        roots = NULL;
    if (roots != NULL) {
        bool ok = cJSON_IsArray(roots);
        for (const cJSON *r = ok ? roots->child : NULL; r; r = r->next)
            ok = ok && cJSON_IsString(r);
        if (!ok)
            return capvi_pol_err(c, roots, false, CAPV_E_TYPE,
                                 "constraints.require_statement_roots",
                                 "constraints.require_statement_roots must be an array of strings");
    }
    cJSON *o = cJSON_CreateObject(), *co = NULL;
    bool ok = o && capvi_pol_put(o, "version", cJSON_CreateString(version)) &&
              capvi_pol_put(o, "name", cJSON_CreateString(name)) &&
              capvi_pol_put(o, "created_at", cJSON_CreateString(created)) &&
              capvi_pol_put(o, "constraints", co = cJSON_CreateObject()) &&
              capvi_pol_put(co, "require_at_least_one_ubo", cJSON_CreateBool(cJSON_IsTrue(req)));
    if (!ok) {
        cJSON_Delete(o);
        return capvi_err_nomem(c->err);
    }
    if ((st = v1_u32(c, cons, "supplier_count_max", true, co)) != CAPV_OK ||
        (st = v1_u32(c, cons, "ubo_count_min", false, co)) != CAPV_OK) {
        cJSON_Delete(o);
        return st;
    }
    if ((roots != NULL &&
         !capvi_pol_put(co, "require_statement_roots", capvi_json_sorted_copy(roots))) ||
        !capvi_pol_put(o, "notes", cJSON_CreateString(notes ? notes : ""))) {
        cJSON_Delete(o);
        return capvi_err_nomem(c->err);
    }
    *out = o;
    return CAPV_OK;
}

static capv_status v1_hash_doc(uint8_t out[32], const capv_yaml_doc *doc, capv_error *err)
{
    capv_pol_ctx c = { doc, err };
    cJSON *tree = NULL;
    capv_status st = v1_tree(&tree, &c, doc->root);
    if (st != CAPV_OK)
        return st;
    char h[CAPV_POLICY_HASH_SIZE];
    st = capvi_pol_hash_tree(h, tree, NULL, NULL, err);
    cJSON_Delete(tree);
    if (st == CAPV_OK)
        st = capv_digest_parse(out, h, strlen(h), err);
    return st;
}

capv_status capv_policy_v1_hash(char out[CAPV_DIGEST_HEX_SIZE], const uint8_t *data, size_t len,
                                capv_policy_format format, capv_error *err)
{
    if (out == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    out[0] = '\0';
    capv_yaml_doc doc;
    capv_status st = capvi_policy_read_doc(&doc, data, len, format, err);
    if (st != CAPV_OK)
        return st;
    uint8_t d[32];
    st = v1_hash_doc(d, &doc, err);
    capvi_yaml_doc_free(&doc);
    if (st == CAPV_OK)
        capv_digest_format(out, d);
    return capvi_err_done(err, st);
}

capv_status capvi_policy_source_hash(uint8_t out[32], const char **kind, const uint8_t *data,
                                     size_t len, capv_policy_format format, capv_error *err)
{
    capv_yaml_doc doc;
    capv_status st = capvi_policy_read_doc(&doc, data, len, format, err);
    if (st != CAPV_OK)
        return st;
    const cJSON *root = doc.root;
    if (cJSON_IsObject(root) && capvi_json_get(root, "constraints") != NULL &&
        capvi_json_get(root, "rules") == NULL) {
        if (kind != NULL)
            *kind = "policy v1";
        st = v1_hash_doc(out, &doc, err);
        capvi_yaml_doc_free(&doc);
        return st;
    }
    if (kind != NULL)
        *kind = "policy v2";
    capv_policy *p = NULL;
    capv_policy_ir *ir = NULL;
    if ((st = capvi_policy_from_doc(&p, &doc, err)) != CAPV_OK)
        return st;
    st = capv_policy_compile(&ir, NULL, p, CAPV_POLICY_LINT_STRICT, err);
    if (st == CAPV_OK)
        st = capv_digest_parse(out, p->hash, strlen(p->hash), err);
    capv_policy_ir_free(ir);
    capv_policy_free(p);
    return st;
}
