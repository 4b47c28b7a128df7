/* SPDX-License-Identifier: Apache-2.0 */
/* The PolicyV2 model (docs/policies.md, "PolicyV2" and "Hashes"): the document tree read
 * into the model, its canonical form and policy_hash, and the helpers that every later
 * stage (lints, compilation, IR loading, evaluation) shares: positioned parse errors, the
 * shape checks of members, operands and adaptivity, sorted name look-ups, and the canonical
 * JSON copies. policy_lint.c and policy.c sit above this file, never the other way round.
 *
 * The hashed forms are what the existing implementation's serde_json::to_string produced
 * for its structs: struct fields in declaration order, optional fields omitted when absent,
 * map-typed inputs sorted by name, and every free-form JSON value (rule operands, predicate
 * expressions) with its object keys sorted, since serde_json::Value keeps a BTreeMap. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_model_int.h"

/* ---- errors with positions ------------------------------------------------------------- */

capv_status capvi_pol_err(const capv_pol_ctx *c, const cJSON *node, bool key, capv_status code,
                          const char *field, const char *fmt, ...)
{
    char msg[CAPV_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    unsigned line, col;
    if (node != NULL && c->doc != NULL && capvi_yaml_find(c->doc, node, &line, &col, key))
        return capvi_err_set(c->err, code, field, "line %u, column %u: %s", line, col, msg);
    return capvi_err_set(c->err, code, field, "%s", msg);
}

/* Appends text to a field path, truncating at the buffer's end. */
static void path_append(char out[CAPV_ERROR_FIELD_SIZE], const char *text)
{
    size_t have = strlen(out), add = strlen(text);
    if (add > CAPV_ERROR_FIELD_SIZE - 1 - have)
        add = CAPV_ERROR_FIELD_SIZE - 1 - have;
    memcpy(out + have, text, add);
    out[have + add] = '\0';
}

void capvi_pol_join(char out[CAPV_ERROR_FIELD_SIZE], const char *path, const char *key)
{
    char tmp[CAPV_ERROR_FIELD_SIZE] = "";
    path_append(tmp, path);
    if (*path)
        path_append(tmp, ".");
    path_append(tmp, key);
    memcpy(out, tmp, CAPV_ERROR_FIELD_SIZE);
}

void capvi_pol_item_path(char out[CAPV_ERROR_FIELD_SIZE], const char *path, size_t i)
{
    char tmp[CAPV_ERROR_FIELD_SIZE] = "", num[32];
    snprintf(num, sizeof num, "[%zu]", i);
    path_append(tmp, path);
    path_append(tmp, num);
    memcpy(out, tmp, CAPV_ERROR_FIELD_SIZE);
}

/* `node` is an object whose keys are all in `allowed` (NULL-terminated). */
capv_status capvi_pol_want_object(const capv_pol_ctx *c, const cJSON *node, const char *path,
                                  const char *const *allowed)
{
    if (!cJSON_IsObject(node))
        return capvi_pol_err(c, node, false, CAPV_E_TYPE, path,
                             "%s must be a mapping (JSON object)", *path ? path : "the document");
    for (const cJSON *m = node->child; m; m = m->next) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(m->string, allowed[i]) == 0;
        if (!ok) {
            char f[CAPV_ERROR_FIELD_SIZE];
            capvi_pol_join(f, path, m->string);
            return capvi_pol_err(c, m, true, CAPV_E_MALFORMED, f, "unknown field \"%s\"%s%s",
                                 CAPV_CLIP(m->string), *path ? " in " : "", path);
        }
    }
    return CAPV_OK;
}

/* A string member. Absent (or null when null_ok) leaves *out NULL. */
capv_status capvi_pol_member_string(const capv_pol_ctx *c, const cJSON *obj, const char *path,
                                    const char *key, bool required, bool null_ok, const char **out)
{
    char f[CAPV_ERROR_FIELD_SIZE];
    capvi_pol_join(f, path, key);
    const cJSON *m = capvi_json_get(obj, key);
    *out = NULL;
    if (m == NULL || (null_ok && cJSON_IsNull(m))) {
        if (required)
            return capvi_pol_err(c, obj, false, CAPV_E_MISSING, f,
                                 "required field \"%s\" is missing", f);
        return CAPV_OK;
    }
    if (!cJSON_IsString(m))
        return capvi_pol_err(c, m, false, CAPV_E_TYPE, f, "%s must be a string%s", f,
                             cJSON_IsNumber(m) || cJSON_IsBool(m) ? " (write it in quotes)" : "");
    *out = m->valuestring;
    return CAPV_OK;
}

capv_status capvi_pol_member(const capv_pol_ctx *c, const cJSON *obj, const char *path,
                             const char *key, const cJSON **out)
{
    *out = capvi_json_get(obj, key);
    if (*out != NULL)
        return CAPV_OK;
    char f[CAPV_ERROR_FIELD_SIZE];
    capvi_pol_join(f, path, key);
    return capvi_pol_err(c, obj, false, CAPV_E_MISSING, f, "required field \"%s\" is missing", f);
}

capv_status capvi_pol_member_array(const capv_pol_ctx *c, const cJSON *obj, const char *path,
                                   const char *key, const cJSON **out)
{
    capv_status st = capvi_pol_member(c, obj, path, key, out);
    if (st != CAPV_OK)
        return st;
    if (!cJSON_IsArray(*out)) {
        char f[CAPV_ERROR_FIELD_SIZE];
        capvi_pol_join(f, path, key);
        return capvi_pol_err(c, *out, false, CAPV_E_TYPE, f, "%s must be a sequence (JSON array)",
                             f);
    }
    return CAPV_OK;
}

static bool chars_ok(const char *s, const char *extra)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s)))
            return false;
    return true;
}

bool capvi_pol_policy_id_ok(const char *s)
{
    return chars_ok(s, "._-");
}

bool capvi_pol_rule_id_ok(const char *s)
{
    return chars_ok(s, "_");
}

/* ---- shared helpers -------------------------------------------------------------------- */

static int name_ref_cmp(const void *a, const void *b)
{
    const capv_name_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c != 0)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

void capvi_name_sort(capv_name_ref *refs, size_t n)
{
    if (n > 1)
        qsort(refs, n, sizeof *refs, name_ref_cmp);
}

const capv_name_ref *capvi_name_find(const capv_name_ref *refs, size_t n, const char *key)
{
    size_t lo = 0, hi = n; /* first index whose key >= key */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(refs[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(refs[lo].key, key) == 0 ? &refs[lo] : NULL;
}

void capvi_name_first(const capv_name_ref *refs, size_t n, size_t *first)
{
    for (size_t k = 0, start = 0; k < n; k++) {
        if (k > 0 && strcmp(refs[k].key, refs[k - 1].key) != 0)
            start = k;
        first[refs[k].pos] = refs[start].pos;
    }
}

/* Fills refs[] with the "id" members of the objects in `arr`. */
capv_name_ref *capvi_pol_id_refs(const cJSON *arr, const char *member, size_t *n)
{
    *n = (size_t)cJSON_GetArraySize(arr);
    capv_name_ref *refs = calloc(*n ? *n : 1, sizeof *refs);
    size_t i = 0;
    for (const cJSON *x = refs ? arr->child : NULL; x; x = x->next, i++)
        refs[i] = (capv_name_ref){ capvi_json_get(x, member)->valuestring, i };
    capvi_name_sort(refs, refs ? *n : 0);
    return refs;
}

capv_policy_op capvi_policy_op_of(const char *name)
{
    if (strcmp(name, "non_membership") == 0)
        return CAPV_POLICY_OP_NON_MEMBERSHIP;
    if (strcmp(name, "eq") == 0)
        return CAPV_POLICY_OP_EQ;
    if (strcmp(name, "range_min") == 0)
        return CAPV_POLICY_OP_RANGE_MIN;
    return CAPV_POLICY_OP_UNKNOWN;
}

const char *capvi_policy_operand_var(const cJSON *operand, bool string_is_var)
{
    if (string_is_var && cJSON_IsString(operand))
        return operand->valuestring;
    if (cJSON_IsObject(operand) && operand->child != NULL && operand->child->next == NULL &&
        strcmp(operand->child->string, "var") == 0 && cJSON_IsString(operand->child) &&
        operand->child->valuestring[0] != '\0')
        return operand->child->valuestring;
    return NULL;
}

/* An operand object that mentions "var" must be exactly {"var": "<name>"}: anything else
 * would be read as a variable by some readers and as a literal by others. */
capv_status capvi_pol_check_operand(const capv_pol_ctx *c, const cJSON *v, const char *f)
{
    if (cJSON_IsObject(v) && capvi_json_get(v, "var") != NULL &&
        capvi_policy_operand_var(v, false) == NULL)
        return capvi_pol_err(c, v, false, CAPV_E_MALFORMED, f,
                             "%s: an object with \"var\" must be exactly {\"var\": \"<name>\"}", f);
    return CAPV_OK;
}

bool capvi_policy_predicate_valid(const cJSON *expr, const char **why)
{
    *why = NULL;
    if (cJSON_IsBool(expr))
        return true;
    if (cJSON_IsString(expr)) {
        if (expr->valuestring[0] != '\0')
            return true;
        *why = "an empty variable name";
        return false;
    }
    if (capvi_policy_operand_var(expr, false) != NULL)
        return true;
    if (!cJSON_IsObject(expr)) {
        *why = "must be a boolean, a variable name or {func, args}";
        return false;
    }
    const cJSON *func = capvi_json_get(expr, "func"), *args = capvi_json_get(expr, "args");
    size_t n = 0;
    for (const cJSON *m = expr->child; m; m = m->next)
        n++;
    if (func == NULL || args == NULL || n != 2) {
        *why = "an object must be exactly {\"func\": …, \"args\": [a, b]}";
        return false;
    }
    if (!cJSON_IsString(func) ||
        (strcmp(func->valuestring, "lt") != 0 && strcmp(func->valuestring, "gt") != 0 &&
         strcmp(func->valuestring, "eq") != 0)) {
        *why = "func must be \"lt\", \"gt\" or \"eq\"";
        return false;
    }
    if (!cJSON_IsArray(args) || cJSON_GetArraySize(args) != 2) {
        *why = "args must be an array of two operands";
        return false;
    }
    /* as for a rule's operands (capvi_pol_check_operand) */
    for (const cJSON *a = args->child; a != NULL; a = a->next)
        if (cJSON_IsObject(a) && capvi_json_get(a, "var") != NULL &&
            capvi_policy_operand_var(a, false) == NULL) {
            *why = "an argument with \"var\" must be exactly {\"var\": \"<name>\"}";
            return false;
        }
    return true;
}

bool capvi_pol_put(cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL)
        return false;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

bool capvi_pol_push(cJSON *arr, cJSON *item)
{
    if (item == NULL)
        return false;
    if (!cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

static int member_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

/* The members of an object sorted by key (caller frees the array; NULL + *n = 0 if none). */
static const cJSON **sorted_members(const cJSON *obj, size_t *n, bool *oom)
{
    *n = 0;
    *oom = false;
    for (const cJSON *m = obj->child; m; m = m->next)
        (*n)++;
    if (*n == 0)
        return NULL;
    const cJSON **v = malloc(*n * sizeof *v);
    if (v == NULL) {
        *oom = true;
        return NULL;
    }
    size_t i = 0;
    for (const cJSON *m = obj->child; m; m = m->next)
        v[i++] = m;
    qsort(v, *n, sizeof *v, member_cmp);
    return v;
}

cJSON *capvi_json_sorted_copy(const cJSON *item)
{
    if (cJSON_IsObject(item)) {
        size_t n;
        bool oom;
        const cJSON **m = sorted_members(item, &n, &oom);
        cJSON *o = oom ? NULL : cJSON_CreateObject();
        for (size_t i = 0; o != NULL && i < n; i++)
            if (!capvi_pol_put(o, m[i]->string, capvi_json_sorted_copy(m[i]))) {
                cJSON_Delete(o);
                o = NULL;
            }
        free(m);
        return o;
    }
    if (cJSON_IsArray(item)) {
        cJSON *a = cJSON_CreateArray();
        for (const cJSON *c = item->child; a != NULL && c; c = c->next)
            if (!capvi_pol_push(a, capvi_json_sorted_copy(c))) {
                cJSON_Delete(a);
                a = NULL;
            }
        return a;
    }
    if (cJSON_IsString(item))
        return cJSON_CreateString(item->valuestring);
    if (cJSON_IsNumber(item))
        return item->valuestring ? capvi_json_number_lexeme(item->valuestring)
                                 : cJSON_CreateNumber(item->valuedouble);
    if (cJSON_IsTrue(item))
        return cJSON_CreateTrue();
    if (cJSON_IsFalse(item))
        return cJSON_CreateFalse();
    return cJSON_CreateNull();
}

/* "sha3-256:" + hex of SHA3-256(compact JSON of tree). */
capv_status capvi_pol_hash_tree(char out[CAPV_POLICY_HASH_SIZE], const cJSON *tree, char **text,
                                size_t *text_len, capv_error *err)
{
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_compact(&b, tree, 0);
    size_t n = 0;
    char *compact = (char *)capvi_buf_take(&b, &n);
    if (compact == NULL)
        return capvi_err_nomem(err);
    uint8_t d[CAPV_DIGEST_LEN];
    capv_status st = capv_hash(d, CAPV_HASH_SHA3_256, (const uint8_t *)compact, n, err);
    if (st == CAPV_OK) {
        memcpy(out, "sha3-256:", 9);
        st = capv_hex_encode(out + 9, CAPV_POLICY_HASH_SIZE - 9, d, sizeof d, err);
    }
    if (st == CAPV_OK && text != NULL) {
        *text = compact;
        *text_len = n;
    } else {
        free(compact);
    }
    return st;
}

/* {"predicates":[{id, expr}], "activations":[{when, rules}]} in canonical form. */
cJSON *capvi_pol_adaptivity_copy(const cJSON *a)
{
    cJSON *o = cJSON_CreateObject(), *preds = cJSON_CreateArray(), *acts = cJSON_CreateArray();
    bool ok = o && preds && acts;
    if (!ok) {
        cJSON_Delete(o);
        cJSON_Delete(preds);
        cJSON_Delete(acts);
        return NULL;
    }
    ok = capvi_pol_put(o, "predicates", preds);
    if (!ok)
        cJSON_Delete(acts);
    ok = ok && capvi_pol_put(o, "activations", acts);
    const cJSON *pa = capvi_json_get(a, "predicates"), *aa = capvi_json_get(a, "activations");
    for (const cJSON *p = pa ? pa->child : NULL; ok && p; p = p->next) {
        cJSON *po = cJSON_CreateObject();
        ok = capvi_pol_push(preds, po) &&
             capvi_pol_put(po, "id", cJSON_CreateString(capvi_json_get(p, "id")->valuestring)) &&
             capvi_pol_put(po, "expr", capvi_json_sorted_copy(capvi_json_get(p, "expr")));
    }
    for (const cJSON *x = aa ? aa->child : NULL; ok && x; x = x->next) {
        cJSON *xo = cJSON_CreateObject(), *rules = NULL;
        ok =
            capvi_pol_push(acts, xo) &&
            capvi_pol_put(xo, "when", cJSON_CreateString(capvi_json_get(x, "when")->valuestring)) &&
            capvi_pol_put(xo, "rules", rules = cJSON_CreateArray());
        for (const cJSON *r = ok ? capvi_json_get(x, "rules")->child : NULL; ok && r; r = r->next)
            ok = capvi_pol_push(rules, cJSON_CreateString(r->valuestring));
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Checks the shape of an adaptivity object (policy or IR). */
capv_status capvi_pol_check_adaptivity(const capv_pol_ctx *c, const cJSON *a)
{
    static const char *const akeys[] = { "predicates", "activations", NULL };
    static const char *const pkeys[] = { "id", "expr", NULL };
    static const char *const xkeys[] = { "when", "rules", NULL };
    capv_status st = capvi_pol_want_object(c, a, "adaptivity", akeys);
    const cJSON *preds = NULL, *acts = NULL;
    if (st == CAPV_OK)
        st = capvi_pol_member_array(c, a, "adaptivity", "predicates", &preds);
    if (st == CAPV_OK)
        st = capvi_pol_member_array(c, a, "adaptivity", "activations", &acts);
    size_t i = 0;
    for (const cJSON *p = preds ? preds->child : NULL; st == CAPV_OK && p; p = p->next, i++) {
        char path[CAPV_ERROR_FIELD_SIZE];
        const char *id = NULL;
        const cJSON *expr = NULL;
        capvi_pol_item_path(path, "adaptivity.predicates", i);
        if ((st = capvi_pol_want_object(c, p, path, pkeys)) == CAPV_OK &&
            (st = capvi_pol_member_string(c, p, path, "id", true, false, &id)) == CAPV_OK &&
            (st = capvi_pol_member(c, p, path, "expr", &expr)) == CAPV_OK && id[0] == '\0')
            st =
                capvi_pol_err(c, p, false, CAPV_E_MALFORMED, path, "%s.id must not be empty", path);
    }
    i = 0;
    for (const cJSON *x = acts ? acts->child : NULL; st == CAPV_OK && x; x = x->next, i++) {
        char path[CAPV_ERROR_FIELD_SIZE], f[CAPV_ERROR_FIELD_SIZE];
        const char *when = NULL;
        const cJSON *rules = NULL;
        capvi_pol_item_path(path, "adaptivity.activations", i);
        if ((st = capvi_pol_want_object(c, x, path, xkeys)) != CAPV_OK ||
            (st = capvi_pol_member_string(c, x, path, "when", true, false, &when)) != CAPV_OK ||
            (st = capvi_pol_member_array(c, x, path, "rules", &rules)) != CAPV_OK)
            break;
        size_t j = 0;
        for (const cJSON *r = rules->child; r; r = r->next, j++) {
            if (!cJSON_IsString(r)) {
                capvi_pol_join(f, path, "rules");
                capvi_pol_item_path(f, f, j);
                st = capvi_pol_err(c, r, false, CAPV_E_TYPE, f, "%s must be a rule id (string)", f);
                break;
            }
        }
    }
    return st;
}

/* ---- PolicyV2 -------------------------------------------------------------------------- */

static capv_status parse_model(capv_policy *p, const capv_pol_ctx *c)
{
    static const char *const top[] = { "id",     "version", "legal_basis", "description",
                                       "inputs", "rules",   "adaptivity",  NULL };
    static const char *const lbkeys[] = { "directive", "article", NULL };
    static const char *const inkeys[] = { "type", "items", NULL };
    static const char *const rkeys[] = { "id", "op", "lhs", "rhs", NULL };
    const cJSON *root = p->doc.root, *rules = NULL;
    char path[CAPV_ERROR_FIELD_SIZE], f[CAPV_ERROR_FIELD_SIZE];
    capv_status st;
    size_t i;

    if (cJSON_IsObject(root) && capvi_json_get(root, "constraints") != NULL &&
        capvi_json_get(root, "rules") == NULL)
        return capvi_pol_err(
            c, capvi_json_get(root, "constraints"), true, CAPV_E_UNSUPPORTED_FORMAT, "constraints",
            "this is a policy v1 file (version, name, constraints), not a PolicyV2: it "
            "has no rules; its hash is capv_policy_v1_hash / `capverify policy hash`");
    if ((st = capvi_pol_want_object(c, root, "", top)) != CAPV_OK ||
        (st = capvi_pol_member_string(c, root, "", "id", true, false, &p->id)) != CAPV_OK)
        return st;
    if (!capvi_pol_policy_id_ok(p->id))
        return capvi_pol_err(c, capvi_json_get(root, "id"), false, CAPV_E_MALFORMED, "id",
                             "id \"%s\" must match ^[a-z0-9._-]+$", CAPV_CLIP(p->id));
    if ((st = capvi_pol_member_string(c, root, "", "version", true, false, &p->version)) !=
            CAPV_OK ||
        (st = capvi_pol_member_string(c, root, "", "description", false, false, &p->description)) !=
            CAPV_OK ||
        (st = capvi_pol_member_array(c, root, "", "legal_basis", &p->legal_basis)) != CAPV_OK)
        return st;
    if (p->description == NULL)
        p->description = "";
    i = 0;
    for (const cJSON *lb = p->legal_basis->child; lb; lb = lb->next, i++) {
        const char *s;
        capvi_pol_item_path(path, "legal_basis", i);
        if ((st = capvi_pol_want_object(c, lb, path, lbkeys)) != CAPV_OK ||
            (st = capvi_pol_member_string(c, lb, path, "directive", false, true, &s)) != CAPV_OK ||
            (st = capvi_pol_member_string(c, lb, path, "article", false, true, &s)) != CAPV_OK)
            return st;
    }

    if ((st = capvi_pol_member(c, root, "", "inputs", &p->inputs)) != CAPV_OK)
        return st;
    if (!cJSON_IsObject(p->inputs))
        return capvi_pol_err(c, p->inputs, false, CAPV_E_TYPE, "inputs",
                             "inputs must be a mapping (JSON object)");
    for (const cJSON *in = p->inputs->child; in; in = in->next) {
        const char *type, *items;
        capvi_pol_join(path, "inputs", in->string);
        if (in->string[0] == '\0')
            return capvi_pol_err(c, in, true, CAPV_E_MALFORMED, path,
                                 "an input name must not be empty");
        if ((st = capvi_pol_want_object(c, in, path, inkeys)) != CAPV_OK ||
            (st = capvi_pol_member_string(c, in, path, "type", true, false, &type)) != CAPV_OK ||
            (st = capvi_pol_member_string(c, in, path, "items", false, true, &items)) != CAPV_OK)
            return st;
        if (strcmp(type, "hex") != 0 && strcmp(type, "array") != 0 && strcmp(type, "string") != 0 &&
            strcmp(type, "number") != 0 && strcmp(type, "boolean") != 0) {
            capvi_pol_join(f, path, "type");
            return capvi_pol_err(c, capvi_json_get(in, "type"), false, CAPV_E_MALFORMED, f,
                                 "%s \"%s\" must be hex, array, string, number or boolean", f,
                                 CAPV_CLIP(type));
        }
    }

    if ((st = capvi_pol_member_array(c, root, "", "rules", &rules)) != CAPV_OK)
        return st;
    size_t n = (size_t)cJSON_GetArraySize(rules);
    p->rules = calloc(n ? n : 1, sizeof *p->rules);
    if (p->rules == NULL)
        return capvi_err_nomem(c->err);
    for (const cJSON *r = rules->child; r; r = r->next) {
        capv_policy_rule *pr = &p->rules[p->nrules];
        capvi_pol_item_path(path, "rules", p->nrules);
        if ((st = capvi_pol_want_object(c, r, path, rkeys)) != CAPV_OK ||
            (st = capvi_pol_member_string(c, r, path, "id", true, false, &pr->id)) != CAPV_OK ||
            (st = capvi_pol_member_string(c, r, path, "op", true, false, &pr->op)) != CAPV_OK ||
            (st = capvi_pol_member(c, r, path, "lhs", &pr->lhs)) != CAPV_OK ||
            (st = capvi_pol_member(c, r, path, "rhs", &pr->rhs)) != CAPV_OK)
            return st;
        if (!capvi_pol_rule_id_ok(pr->id)) {
            capvi_pol_join(f, path, "id");
            return capvi_pol_err(c, capvi_json_get(r, "id"), false, CAPV_E_MALFORMED, f,
                                 "rule id \"%s\" must match ^[a-z0-9_]+$", CAPV_CLIP(pr->id));
        }
        capvi_pol_join(f, path, "lhs");
        if ((st = capvi_pol_check_operand(c, pr->lhs, f)) != CAPV_OK)
            return st;
        capvi_pol_join(f, path, "rhs");
        if ((st = capvi_pol_check_operand(c, pr->rhs, f)) != CAPV_OK)
            return st;
        p->nrules++;
    }

    const cJSON *a = capvi_json_get(root, "adaptivity");
    if (a != NULL && !cJSON_IsNull(a)) {
        if ((st = capvi_pol_check_adaptivity(c, a)) != CAPV_OK)
            return st;
        p->adaptivity = a;
    }
    return CAPV_OK;
}

/* The canonical policy object (docs/policies.md, "Hashes"): what policy_hash covers. */
static cJSON *policy_tree(const capv_policy *p)
{
    cJSON *o = cJSON_CreateObject(), *lb = NULL, *in = NULL, *rules = NULL;
    bool ok = o && capvi_pol_put(o, "id", cJSON_CreateString(p->id)) &&
              capvi_pol_put(o, "version", cJSON_CreateString(p->version)) &&
              capvi_pol_put(o, "legal_basis", lb = cJSON_CreateArray());
    for (const cJSON *x = ok ? p->legal_basis->child : NULL; ok && x; x = x->next) {
        cJSON *xo = cJSON_CreateObject();
        ok = capvi_pol_push(lb, xo);
        static const char *const keys[] = { "directive", "article" };
        for (size_t k = 0; ok && k < 2; k++) {
            const cJSON *v = capvi_json_get(x, keys[k]);
            if (cJSON_IsString(v))
                ok = capvi_pol_put(xo, keys[k], cJSON_CreateString(v->valuestring));
        }
    }
    ok = ok && capvi_pol_put(o, "description", cJSON_CreateString(p->description)) &&
         capvi_pol_put(o, "inputs", in = cJSON_CreateObject());
    if (ok) {
        size_t n;
        bool oom;
        const cJSON **m = sorted_members(p->inputs, &n, &oom);
        ok = !oom;
        for (size_t i = 0; ok && i < n; i++) {
            cJSON *io = cJSON_CreateObject();
            const cJSON *items = capvi_json_get(m[i], "items");
            ok = capvi_pol_put(in, m[i]->string, io) &&
                 capvi_pol_put(io, "type",
                               cJSON_CreateString(capvi_json_get(m[i], "type")->valuestring));
            if (ok && cJSON_IsString(items))
                ok = capvi_pol_put(io, "items", cJSON_CreateString(items->valuestring));
        }
        free(m);
    }
    ok = ok && capvi_pol_put(o, "rules", rules = cJSON_CreateArray());
    for (size_t i = 0; ok && i < p->nrules; i++) {
        cJSON *ro = cJSON_CreateObject();
        ok = capvi_pol_push(rules, ro) &&
             capvi_pol_put(ro, "id", cJSON_CreateString(p->rules[i].id)) &&
             capvi_pol_put(ro, "op", cJSON_CreateString(p->rules[i].op)) &&
             capvi_pol_put(ro, "lhs", capvi_json_sorted_copy(p->rules[i].lhs)) &&
             capvi_pol_put(ro, "rhs", capvi_json_sorted_copy(p->rules[i].rhs));
    }
    if (ok && p->adaptivity != NULL)
        ok = capvi_pol_put(o, "adaptivity", capvi_pol_adaptivity_copy(p->adaptivity));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Takes `doc`. */
capv_status capvi_policy_from_doc(capv_policy **out, capv_yaml_doc *doc, capv_error *err)
{
    capv_policy *p = calloc(1, sizeof *p);
    if (p == NULL) {
        capvi_yaml_doc_free(doc);
        return capvi_err_nomem(err);
    }
    p->doc = *doc;
    memset(doc, 0, sizeof *doc);
    capv_pol_ctx c = { &p->doc, err };
    capv_status st = parse_model(p, &c);
    if (st == CAPV_OK) {
        cJSON *tree = policy_tree(p);
        st = tree ? capvi_pol_hash_tree(p->hash, tree, &p->canonical, &p->canonical_len, err)
                  : capvi_err_nomem(err);
        cJSON_Delete(tree);
    }
    if (st != CAPV_OK) {
        capv_policy_free(p);
        return st;
    }
    *out = p;
    return CAPV_OK;
}

capv_status capv_policy_parse(capv_policy **out, const uint8_t *data, size_t len,
                              capv_policy_format format, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_yaml_doc doc;
    capv_status st = capvi_policy_read_doc(&doc, data, len, format, err);
    if (st != CAPV_OK)
        return st;
    return capvi_err_done(err, capvi_policy_from_doc(out, &doc, err));
}

void capv_policy_free(capv_policy *p)
{
    if (p == NULL)
        return;
    capvi_yaml_doc_free(&p->doc);
    free(p->rules);
    free(p->canonical);
    free(p);
}

const char *capv_policy_id(const capv_policy *p)
{
    return p ? p->id : NULL;
}

const char *capv_policy_version(const capv_policy *p)
{
    return p ? p->version : NULL;
}

const char *capv_policy_hash(const capv_policy *p)
{
    return p ? p->hash : NULL;
}

const char *capv_policy_canonical_json(const capv_policy *p, size_t *len)
{
    if (len != NULL)
        *len = p ? p->canonical_len : 0;
    return p ? p->canonical : NULL;
}
