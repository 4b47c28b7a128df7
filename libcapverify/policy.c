/* Policies (SPEC §5): the PolicyV2 model read from YAML or JSON, its canonical form and
 * policy_hash, compilation to IR v1 and the ir_hash, IR loading with the integrity check,
 * and the hash of the older policy v1 format.
 *
 * The hashed forms are what the existing implementation's serde_json::to_string produced
 * for its structs: struct fields in declaration order, optional fields omitted when absent,
 * map-typed inputs sorted by name, and every free-form JSON value (rule operands, predicate
 * expressions) with its object keys sorted, since serde_json::Value keeps a BTreeMap. */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

/* ---- errors with positions ------------------------------------------------------------- */

typedef struct pctx {
    const capv_yaml_doc *doc; /* NULL or without marks for JSON input */
    capv_error *err;
} pctx;

static capv_status perr(const pctx *c, const cJSON *node, bool key, capv_status code,
                        const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static capv_status perr(const pctx *c, const cJSON *node, bool key, capv_status code,
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

static void join(char out[CAPV_ERROR_FIELD_SIZE], const char *path, const char *key)
{
    char tmp[CAPV_ERROR_FIELD_SIZE] = "";
    path_append(tmp, path);
    if (*path)
        path_append(tmp, ".");
    path_append(tmp, key);
    memcpy(out, tmp, CAPV_ERROR_FIELD_SIZE);
}

static void item_path(char out[CAPV_ERROR_FIELD_SIZE], const char *path, size_t i)
{
    char tmp[CAPV_ERROR_FIELD_SIZE] = "", num[32];
    snprintf(num, sizeof num, "[%zu]", i);
    path_append(tmp, path);
    path_append(tmp, num);
    memcpy(out, tmp, CAPV_ERROR_FIELD_SIZE);
}

/* `node` is an object whose keys are all in `allowed` (NULL-terminated). */
static capv_status want_object(const pctx *c, const cJSON *node, const char *path,
                               const char *const *allowed)
{
    if (!cJSON_IsObject(node))
        return perr(c, node, false, CAPV_E_TYPE, path, "%s must be a mapping (JSON object)",
                    *path ? path : "the document");
    for (const cJSON *m = node->child; m; m = m->next) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(m->string, allowed[i]) == 0;
        if (!ok) {
            char f[CAPV_ERROR_FIELD_SIZE];
            join(f, path, m->string);
            return perr(c, m, true, CAPV_E_MALFORMED, f, "unknown field \"%s\"%s%s",
                        CAPV_CLIP(m->string), *path ? " in " : "", path);
        }
    }
    return CAPV_OK;
}

/* A string member. Absent (or null when null_ok) leaves *out NULL. */
static capv_status member_string(const pctx *c, const cJSON *obj, const char *path, const char *key,
                                 bool required, bool null_ok, const char **out)
{
    char f[CAPV_ERROR_FIELD_SIZE];
    join(f, path, key);
    const cJSON *m = capvi_json_get(obj, key);
    *out = NULL;
    if (m == NULL || (null_ok && cJSON_IsNull(m))) {
        if (required)
            return perr(c, obj, false, CAPV_E_MISSING, f, "required field \"%s\" is missing", f);
        return CAPV_OK;
    }
    if (!cJSON_IsString(m))
        return perr(c, m, false, CAPV_E_TYPE, f, "%s must be a string%s", f,
                    cJSON_IsNumber(m) || cJSON_IsBool(m) ? " (write it in quotes)" : "");
    *out = m->valuestring;
    return CAPV_OK;
}

static capv_status member(const pctx *c, const cJSON *obj, const char *path, const char *key,
                          const cJSON **out)
{
    *out = capvi_json_get(obj, key);
    if (*out != NULL)
        return CAPV_OK;
    char f[CAPV_ERROR_FIELD_SIZE];
    join(f, path, key);
    return perr(c, obj, false, CAPV_E_MISSING, f, "required field \"%s\" is missing", f);
}

static capv_status member_array(const pctx *c, const cJSON *obj, const char *path, const char *key,
                                const cJSON **out)
{
    capv_status st = member(c, obj, path, key, out);
    if (st != CAPV_OK)
        return st;
    if (!cJSON_IsArray(*out)) {
        char f[CAPV_ERROR_FIELD_SIZE];
        join(f, path, key);
        return perr(c, *out, false, CAPV_E_TYPE, f, "%s must be a sequence (JSON array)", f);
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

static bool policy_id_ok(const char *s)
{
    return chars_ok(s, "._-");
}

static bool rule_id_ok(const char *s)
{
    return chars_ok(s, "_");
}

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
static capv_name_ref *id_refs(const cJSON *arr, const char *member, size_t *n)
{
    *n = (size_t)cJSON_GetArraySize(arr);
    capv_name_ref *refs = calloc(*n ? *n : 1, sizeof *refs);
    size_t i = 0;
    for (const cJSON *x = refs ? arr->child : NULL; x; x = x->next, i++)
        refs[i] = (capv_name_ref){capvi_json_get(x, member)->valuestring, i};
    capvi_name_sort(refs, refs ? *n : 0);
    return refs;
}

const char *capvi_clip(char buf[CAPV_CLIP_SIZE], const char *s)
{
    size_t n = strlen(s), cut = n;
    if (n > 64) {
        cut = 64;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
    }
    memcpy(buf, s, cut);
    memcpy(buf + cut, n > cut ? "..." : "", n > cut ? 4 : 1);
    return buf;
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
static capv_status check_operand(const pctx *c, const cJSON *v, const char *f)
{
    if (cJSON_IsObject(v) && capvi_json_get(v, "var") != NULL &&
        capvi_policy_operand_var(v, false) == NULL)
        return perr(c, v, false, CAPV_E_MALFORMED, f,
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
    return true;
}

static bool put(cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL)
        return false;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

static bool push(cJSON *arr, cJSON *item)
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
            if (!put(o, m[i]->string, capvi_json_sorted_copy(m[i]))) {
                cJSON_Delete(o);
                o = NULL;
            }
        free(m);
        return o;
    }
    if (cJSON_IsArray(item)) {
        cJSON *a = cJSON_CreateArray();
        for (const cJSON *c = item->child; a != NULL && c; c = c->next)
            if (!push(a, capvi_json_sorted_copy(c))) {
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
static capv_status hash_tree(char out[CAPV_POLICY_HASH_SIZE], const cJSON *tree, char **text,
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
        capv_hex_encode(out + 9, CAPV_POLICY_HASH_SIZE - 9, d, sizeof d);
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
static cJSON *adaptivity_copy(const cJSON *a)
{
    cJSON *o = cJSON_CreateObject(), *preds = cJSON_CreateArray(), *acts = cJSON_CreateArray();
    bool ok = o && preds && acts;
    if (!ok) {
        cJSON_Delete(o);
        cJSON_Delete(preds);
        cJSON_Delete(acts);
        return NULL;
    }
    ok = put(o, "predicates", preds);
    if (!ok)
        cJSON_Delete(acts);
    ok = ok && put(o, "activations", acts);
    const cJSON *pa = capvi_json_get(a, "predicates"), *aa = capvi_json_get(a, "activations");
    for (const cJSON *p = pa ? pa->child : NULL; ok && p; p = p->next) {
        cJSON *po = cJSON_CreateObject();
        ok = push(preds, po) &&
             put(po, "id", cJSON_CreateString(capvi_json_get(p, "id")->valuestring)) &&
             put(po, "expr", capvi_json_sorted_copy(capvi_json_get(p, "expr")));
    }
    for (const cJSON *x = aa ? aa->child : NULL; ok && x; x = x->next) {
        cJSON *xo = cJSON_CreateObject(), *rules = NULL;
        ok = push(acts, xo) &&
             put(xo, "when", cJSON_CreateString(capvi_json_get(x, "when")->valuestring)) &&
             put(xo, "rules", rules = cJSON_CreateArray());
        for (const cJSON *r = ok ? capvi_json_get(x, "rules")->child : NULL; ok && r; r = r->next)
            ok = push(rules, cJSON_CreateString(r->valuestring));
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Checks the shape of an adaptivity object (policy or IR). */
static capv_status check_adaptivity(const pctx *c, const cJSON *a)
{
    static const char *const akeys[] = {"predicates", "activations", NULL};
    static const char *const pkeys[] = {"id", "expr", NULL};
    static const char *const xkeys[] = {"when", "rules", NULL};
    capv_status st = want_object(c, a, "adaptivity", akeys);
    const cJSON *preds = NULL, *acts = NULL;
    if (st == CAPV_OK)
        st = member_array(c, a, "adaptivity", "predicates", &preds);
    if (st == CAPV_OK)
        st = member_array(c, a, "adaptivity", "activations", &acts);
    size_t i = 0;
    for (const cJSON *p = preds ? preds->child : NULL; st == CAPV_OK && p; p = p->next, i++) {
        char path[CAPV_ERROR_FIELD_SIZE];
        const char *id = NULL;
        const cJSON *expr = NULL;
        item_path(path, "adaptivity.predicates", i);
        if ((st = want_object(c, p, path, pkeys)) == CAPV_OK &&
            (st = member_string(c, p, path, "id", true, false, &id)) == CAPV_OK &&
            (st = member(c, p, path, "expr", &expr)) == CAPV_OK && id[0] == '\0')
            st = perr(c, p, false, CAPV_E_MALFORMED, path, "%s.id must not be empty", path);
    }
    i = 0;
    for (const cJSON *x = acts ? acts->child : NULL; st == CAPV_OK && x; x = x->next, i++) {
        char path[CAPV_ERROR_FIELD_SIZE], f[CAPV_ERROR_FIELD_SIZE];
        const char *when = NULL;
        const cJSON *rules = NULL;
        item_path(path, "adaptivity.activations", i);
        if ((st = want_object(c, x, path, xkeys)) != CAPV_OK ||
            (st = member_string(c, x, path, "when", true, false, &when)) != CAPV_OK ||
            (st = member_array(c, x, path, "rules", &rules)) != CAPV_OK)
            break;
        size_t j = 0;
        for (const cJSON *r = rules->child; r; r = r->next, j++) {
            if (!cJSON_IsString(r)) {
                join(f, path, "rules");
                item_path(f, f, j);
                st = perr(c, r, false, CAPV_E_TYPE, f, "%s must be a rule id (string)", f);
                break;
            }
        }
    }
    return st;
}

/* ---- PolicyV2 -------------------------------------------------------------------------- */

static capv_status parse_model(capv_policy *p, const pctx *c)
{
    static const char *const top[] = {"id",     "version", "legal_basis", "description",
                                      "inputs", "rules",   "adaptivity",  NULL};
    static const char *const lbkeys[] = {"directive", "article", NULL};
    static const char *const inkeys[] = {"type", "items", NULL};
    static const char *const rkeys[] = {"id", "op", "lhs", "rhs", NULL};
    const cJSON *root = p->doc.root, *rules = NULL;
    char path[CAPV_ERROR_FIELD_SIZE], f[CAPV_ERROR_FIELD_SIZE];
    capv_status st;
    size_t i;

    if (cJSON_IsObject(root) && capvi_json_get(root, "constraints") != NULL &&
        capvi_json_get(root, "rules") == NULL)
        return perr(c, capvi_json_get(root, "constraints"), true, CAPV_E_UNSUPPORTED_FORMAT,
                    "constraints",
                    "this is a policy v1 file (version, name, constraints), not a PolicyV2: it "
                    "has no rules; its hash is capv_policy_v1_hash / `capverify policy hash`");
    if ((st = want_object(c, root, "", top)) != CAPV_OK ||
        (st = member_string(c, root, "", "id", true, false, &p->id)) != CAPV_OK)
        return st;
    if (!policy_id_ok(p->id))
        return perr(c, capvi_json_get(root, "id"), false, CAPV_E_MALFORMED, "id",
                    "id \"%s\" must match ^[a-z0-9._-]+$", CAPV_CLIP(p->id));
    if ((st = member_string(c, root, "", "version", true, false, &p->version)) != CAPV_OK ||
        (st = member_string(c, root, "", "description", false, false, &p->description)) !=
            CAPV_OK ||
        (st = member_array(c, root, "", "legal_basis", &p->legal_basis)) != CAPV_OK)
        return st;
    if (p->description == NULL)
        p->description = "";
    i = 0;
    for (const cJSON *lb = p->legal_basis->child; lb; lb = lb->next, i++) {
        const char *s;
        item_path(path, "legal_basis", i);
        if ((st = want_object(c, lb, path, lbkeys)) != CAPV_OK ||
            (st = member_string(c, lb, path, "directive", false, true, &s)) != CAPV_OK ||
            (st = member_string(c, lb, path, "article", false, true, &s)) != CAPV_OK)
            return st;
    }

    if ((st = member(c, root, "", "inputs", &p->inputs)) != CAPV_OK)
        return st;
    if (!cJSON_IsObject(p->inputs))
        return perr(c, p->inputs, false, CAPV_E_TYPE, "inputs",
                    "inputs must be a mapping (JSON object)");
    for (const cJSON *in = p->inputs->child; in; in = in->next) {
        const char *type, *items;
        join(path, "inputs", in->string);
        if (in->string[0] == '\0')
            return perr(c, in, true, CAPV_E_MALFORMED, path, "an input name must not be empty");
        if ((st = want_object(c, in, path, inkeys)) != CAPV_OK ||
            (st = member_string(c, in, path, "type", true, false, &type)) != CAPV_OK ||
            (st = member_string(c, in, path, "items", false, true, &items)) != CAPV_OK)
            return st;
        if (strcmp(type, "hex") != 0 && strcmp(type, "array") != 0 && strcmp(type, "string") != 0 &&
            strcmp(type, "number") != 0 && strcmp(type, "boolean") != 0) {
            join(f, path, "type");
            return perr(c, capvi_json_get(in, "type"), false, CAPV_E_MALFORMED, f,
                        "%s \"%s\" must be hex, array, string, number or boolean", f,
                        CAPV_CLIP(type));
        }
    }

    if ((st = member_array(c, root, "", "rules", &rules)) != CAPV_OK)
        return st;
    size_t n = (size_t)cJSON_GetArraySize(rules);
    p->rules = calloc(n ? n : 1, sizeof *p->rules);
    if (p->rules == NULL)
        return capvi_err_nomem(c->err);
    for (const cJSON *r = rules->child; r; r = r->next) {
        capv_policy_rule *pr = &p->rules[p->nrules];
        item_path(path, "rules", p->nrules);
        if ((st = want_object(c, r, path, rkeys)) != CAPV_OK ||
            (st = member_string(c, r, path, "id", true, false, &pr->id)) != CAPV_OK ||
            (st = member_string(c, r, path, "op", true, false, &pr->op)) != CAPV_OK ||
            (st = member(c, r, path, "lhs", &pr->lhs)) != CAPV_OK ||
            (st = member(c, r, path, "rhs", &pr->rhs)) != CAPV_OK)
            return st;
        if (!rule_id_ok(pr->id)) {
            join(f, path, "id");
            return perr(c, capvi_json_get(r, "id"), false, CAPV_E_MALFORMED, f,
                        "rule id \"%s\" must match ^[a-z0-9_]+$", CAPV_CLIP(pr->id));
        }
        join(f, path, "lhs");
        if ((st = check_operand(c, pr->lhs, f)) != CAPV_OK)
            return st;
        join(f, path, "rhs");
        if ((st = check_operand(c, pr->rhs, f)) != CAPV_OK)
            return st;
        p->nrules++;
    }

    const cJSON *a = capvi_json_get(root, "adaptivity");
    if (a != NULL && !cJSON_IsNull(a)) {
        if ((st = check_adaptivity(c, a)) != CAPV_OK)
            return st;
        p->adaptivity = a;
    }
    return CAPV_OK;
}

/* The canonical policy object of SPEC §5 (what policy_hash covers). */
static cJSON *policy_tree(const capv_policy *p)
{
    cJSON *o = cJSON_CreateObject(), *lb = NULL, *in = NULL, *rules = NULL;
    bool ok = o && put(o, "id", cJSON_CreateString(p->id)) &&
              put(o, "version", cJSON_CreateString(p->version)) &&
              put(o, "legal_basis", lb = cJSON_CreateArray());
    for (const cJSON *x = ok ? p->legal_basis->child : NULL; ok && x; x = x->next) {
        cJSON *xo = cJSON_CreateObject();
        ok = push(lb, xo);
        static const char *const keys[] = {"directive", "article"};
        for (size_t k = 0; ok && k < 2; k++) {
            const cJSON *v = capvi_json_get(x, keys[k]);
            if (cJSON_IsString(v))
                ok = put(xo, keys[k], cJSON_CreateString(v->valuestring));
        }
    }
    ok = ok && put(o, "description", cJSON_CreateString(p->description)) &&
         put(o, "inputs", in = cJSON_CreateObject());
    if (ok) {
        size_t n;
        bool oom;
        const cJSON **m = sorted_members(p->inputs, &n, &oom);
        ok = !oom;
        for (size_t i = 0; ok && i < n; i++) {
            cJSON *io = cJSON_CreateObject();
            const cJSON *items = capvi_json_get(m[i], "items");
            ok = put(in, m[i]->string, io) &&
                 put(io, "type", cJSON_CreateString(capvi_json_get(m[i], "type")->valuestring));
            if (ok && cJSON_IsString(items))
                ok = put(io, "items", cJSON_CreateString(items->valuestring));
        }
        free(m);
    }
    ok = ok && put(o, "rules", rules = cJSON_CreateArray());
    for (size_t i = 0; ok && i < p->nrules; i++) {
        cJSON *ro = cJSON_CreateObject();
        ok = push(rules, ro) && put(ro, "id", cJSON_CreateString(p->rules[i].id)) &&
             put(ro, "op", cJSON_CreateString(p->rules[i].op)) &&
             put(ro, "lhs", capvi_json_sorted_copy(p->rules[i].lhs)) &&
             put(ro, "rhs", capvi_json_sorted_copy(p->rules[i].rhs));
    }
    if (ok && p->adaptivity != NULL)
        ok = put(o, "adaptivity", adaptivity_copy(p->adaptivity));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Takes `doc`. */
static capv_status policy_from_doc(capv_policy **out, capv_yaml_doc *doc, capv_error *err)
{
    capv_policy *p = calloc(1, sizeof *p);
    if (p == NULL) {
        capvi_yaml_doc_free(doc);
        return capvi_err_nomem(err);
    }
    p->doc = *doc;
    memset(doc, 0, sizeof *doc);
    pctx c = {&p->doc, err};
    capv_status st = parse_model(p, &c);
    if (st == CAPV_OK) {
        cJSON *tree = policy_tree(p);
        st = tree ? hash_tree(p->hash, tree, &p->canonical, &p->canonical_len, err)
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
    if (out == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_yaml_doc doc;
    capv_status st = capvi_policy_read_doc(&doc, data, len, format, err);
    if (st != CAPV_OK)
        return st;
    return policy_from_doc(out, &doc, err);
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

/* ---- POST /policy/compile bodies ------------------------------------------------------- */

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
    static const char *const top[] = {"policy_yaml", "policy", "lint_mode", "persist", NULL};
    if (out == NULL || (body == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    cJSON *root = NULL;
    uint8_t *yaml = NULL;
    capv_policy_compile_request *req = NULL;
    pctx c = {NULL, err};
    capv_status st = CAPV_OK;
    CAPV_TRY(capvi_json_parse(&root, body, len, err));
    CAPV_TRY(want_object(&c, root, "", top));
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
        capv_yaml_doc doc = {0};
        doc.root = cJSON_DetachItemFromObjectCaseSensitive(root, "policy");
        CAPV_TRY(policy_from_doc(&req->policy, &doc, err));
    }
out:
    free(yaml);
    cJSON_Delete(root);
    if (st != CAPV_OK) {
        capv_policy_compile_request_free(req);
        return st;
    }
    *out = req;
    return CAPV_OK;
}

const capv_policy *capv_policy_compile_request_policy(const capv_policy_compile_request *req)
{
    return req ? req->policy : NULL;
}

capv_policy_lint_mode capv_policy_compile_request_lint_mode(const capv_policy_compile_request *req)
{
    return req ? req->mode : CAPV_POLICY_LINT_STRICT;
}

int capv_policy_compile_request_persist(const capv_policy_compile_request *req)
{
    return req && req->persist;
}

/* ---- IR v1 ----------------------------------------------------------------------------- */

/* {"ir_version":"1.0","policy_id":…,"policy_hash":…,"rules":[]} — the caller fills rules,
 * then adds adaptivity (optional) and ir_hash. */
static cJSON *ir_begin(const char *policy_id, const char *policy_hash, cJSON **rules)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && put(o, "ir_version", cJSON_CreateString("1.0")) &&
              put(o, "policy_id", cJSON_CreateString(policy_id)) &&
              put(o, "policy_hash", cJSON_CreateString(policy_hash)) &&
              put(o, "rules", *rules = cJSON_CreateArray());
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static bool ir_add_rule(cJSON *rules, const char *id, const char *op, cJSON *lhs, cJSON *rhs)
{
    cJSON *ro = cJSON_CreateObject();
    if (!push(rules, ro) || !put(ro, "id", cJSON_CreateString(id)) ||
        !put(ro, "op", cJSON_CreateString(op))) {
        cJSON_Delete(lhs);
        cJSON_Delete(rhs);
        return false;
    }
    if (!put(ro, "lhs", lhs)) {
        cJSON_Delete(rhs);
        return false;
    }
    return put(ro, "rhs", rhs);
}

/* A policy operand in IR: a string names a variable, anything else is a literal. */
static cJSON *ir_operand(const cJSON *v)
{
    if (!cJSON_IsString(v))
        return capvi_json_sorted_copy(v);
    cJSON *o = cJSON_CreateObject();
    if (o != NULL && !put(o, "var", cJSON_CreateString(v->valuestring))) {
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
    capv_name_ref *refs = id_refs(preds, "id", &n_refs);
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
    if (ir == NULL || !put(tree, "ir_hash", cJSON_CreateString(""))) {
        cJSON_Delete(tree);
        free(ir);
        return capvi_err_nomem(err);
    }
    ir->tree = tree;
    CAPV_TRY(hash_tree(ir->ir_hash, tree, NULL, NULL, err));
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
    if (out == NULL || p == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
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
        order[i] = (rule_ref){&p->rules[i], i};
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
    if (p->adaptivity != NULL && !put(tree, "adaptivity", adaptivity_copy(p->adaptivity)))
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
    return st;
}

/* IR is compiled output: what lints reject at the source (duplicate ids, activations naming
 * unknown predicates or rules) is malformed here. Sorted look-ups: never quadratic. */
static capv_status ir_check_refs(const cJSON *rules, const cJSON *a, capv_error *err)
{
    size_t nr = 0, np = 0, i;
    capv_name_ref *rr = id_refs(rules, "id", &nr), *pr = NULL;
    capv_status st = CAPV_OK;
    if (rr == NULL)
        return capvi_err_nomem(err);
    for (i = 1; i < nr; i++)
        if (strcmp(rr[i].key, rr[i - 1].key) == 0)
            CAPV_FAIL(err, CAPV_E_MALFORMED, "rules", "duplicate rule id \"%s\"",
                      CAPV_CLIP(rr[i].key));
    if (a == NULL)
        goto out;
    if ((pr = id_refs(capvi_json_get(a, "predicates"), "id", &np)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    for (i = 1; i < np; i++)
        if (strcmp(pr[i].key, pr[i - 1].key) == 0)
            CAPV_FAIL(err, CAPV_E_MALFORMED, "adaptivity.predicates",
                      "duplicate predicate id \"%s\"", CAPV_CLIP(pr[i].key));
    i = 0;
    for (const cJSON *x = capvi_json_get(a, "activations")->child; x; x = x->next, i++) {
        char path[CAPV_ERROR_FIELD_SIZE];
        const char *when = capvi_json_get(x, "when")->valuestring;
        item_path(path, "adaptivity.activations", i);
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

capv_status capvi_policy_ir_from_tree(capv_policy_ir **out, const cJSON *root, capv_error *err)
{
    static const char *const top[] = {"ir_version", "policy_id", "rules", "policy_hash",
                                      "adaptivity", "ir_hash",   NULL};
    static const char *const rkeys[] = {"id", "op", "lhs", "rhs", NULL};
    pctx c = {NULL, err};
    const char *irv = NULL, *pid = NULL, *ph = NULL, *ih = NULL;
    const cJSON *rules = NULL;
    char path[CAPV_ERROR_FIELD_SIZE], f[CAPV_ERROR_FIELD_SIZE];
    capv_status st;
    *out = NULL;
    if ((st = want_object(&c, root, "", top)) != CAPV_OK ||
        (st = member_string(&c, root, "", "ir_version", true, false, &irv)) != CAPV_OK)
        return st;
    if (strcmp(irv, "1.0") != 0)
        return capvi_err_set(err, CAPV_E_UNSUPPORTED_FORMAT, "ir_version",
                            "ir_version \"%s\" is not supported (only \"1.0\")", CAPV_CLIP(irv));
    if ((st = member_string(&c, root, "", "policy_id", true, false, &pid)) != CAPV_OK ||
        (st = member_string(&c, root, "", "policy_hash", true, false, &ph)) != CAPV_OK ||
        (st = member_string(&c, root, "", "ir_hash", true, false, &ih)) != CAPV_OK ||
        (st = member_array(&c, root, "", "rules", &rules)) != CAPV_OK)
        return st;
    if (!policy_id_ok(pid))
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
        item_path(path, "rules", i);
        if ((st = want_object(&c, r, path, rkeys)) != CAPV_OK ||
            (st = member_string(&c, r, path, "id", true, false, &id)) != CAPV_OK ||
            (st = member_string(&c, r, path, "op", true, false, &op)) != CAPV_OK ||
            (st = member(&c, r, path, "lhs", &lhs)) != CAPV_OK ||
            (st = member(&c, r, path, "rhs", &rhs)) != CAPV_OK)
            return st;
        join(f, path, "id");
        if (!rule_id_ok(id))
            return capvi_err_set(err, CAPV_E_MALFORMED, f, "rule id \"%s\" must match ^[a-z0-9_]+$",
                                CAPV_CLIP(id));
        join(f, path, "op");
        if (capvi_policy_op_of(op) == CAPV_POLICY_OP_UNKNOWN)
            return capvi_err_set(err, CAPV_E_MALFORMED, f,
                                "unknown op \"%s\" (non_membership, eq, range_min)", CAPV_CLIP(op));
        join(f, path, "lhs");
        if ((st = check_operand(&c, lhs, f)) != CAPV_OK)
            return st;
        join(f, path, "rhs");
        if ((st = check_operand(&c, rhs, f)) != CAPV_OK)
            return st;
    }
    const cJSON *a = capvi_json_get(root, "adaptivity");
    if (a != NULL && cJSON_IsNull(a))
        a = NULL;
    if (a != NULL) {
        if ((st = check_adaptivity(&c, a)) != CAPV_OK)
            return st;
        const cJSON *preds = capvi_json_get(a, "predicates");
        i = 0;
        for (const cJSON *p = preds->child; p; p = p->next, i++) {
            const char *why, *pidp = capvi_json_get(p, "id")->valuestring;
            item_path(path, "adaptivity.predicates", i);
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
    if (a != NULL && !put(tree, "adaptivity", adaptivity_copy(a))) {
        cJSON_Delete(tree);
        return capvi_err_nomem(err);
    }
    return ir_finish(out, tree, ih, NULL, err);
}

capv_status capv_policy_ir_load(capv_policy_ir **out, const uint8_t *data, size_t len,
                                capv_error *err)
{
    if (out == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    cJSON *root = NULL;
    capv_status st = capvi_json_parse(&root, data, len, err);
    if (st != CAPV_OK)
        return st;
    st = capvi_policy_ir_from_tree(out, root, err);
    cJSON_Delete(root);
    return st;
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
static capv_status v1_u32(const pctx *c, const cJSON *obj, const char *key, bool required,
                          cJSON *dst)
{
    char f[CAPV_ERROR_FIELD_SIZE];
    join(f, "constraints", key);
    const cJSON *m = capvi_json_get(obj, key);
    if (m == NULL || (!required && cJSON_IsNull(m))) {
        if (required)
            return perr(c, obj, false, CAPV_E_MISSING, f, "required field \"%s\" is missing", f);
        return CAPV_OK;
    }
    int64_t v = 0;
    if (!cJSON_IsNumber(m) || strpbrk(m->valuestring ? m->valuestring : ".", ".eE") != NULL ||
        capvi_json_int_value(&v, m, 0, UINT32_MAX) != CAPV_OK)
        return perr(c, m, false, cJSON_IsNumber(m) ? CAPV_E_RANGE : CAPV_E_TYPE, f,
                    "%s must be an integer in [0, 4294967295]", f);
    char lex[24];
    snprintf(lex, sizeof lex, "%lld", (long long)v);
    return put(dst, key, capvi_json_number_lexeme(lex)) ? CAPV_OK : capvi_err_nomem(c->err);
}

static capv_status v1_tree(cJSON **out, const pctx *c, const cJSON *root)
{
    static const char *const top[] = {"version",     "name",  "created_at",
                                      "constraints", "notes", NULL};
    static const char *const ckeys[] = {"require_at_least_one_ubo", "supplier_count_max",
                                        "ubo_count_min", "require_statement_roots", NULL};
    const char *version, *name, *created, *notes;
    const cJSON *cons = NULL;
    capv_status st;
    *out = NULL;
    if ((st = want_object(c, root, "", top)) != CAPV_OK ||
        (st = member_string(c, root, "", "version", true, false, &version)) != CAPV_OK ||
        (st = member_string(c, root, "", "name", true, false, &name)) != CAPV_OK ||
        (st = member_string(c, root, "", "created_at", true, false, &created)) != CAPV_OK ||
        (st = member_string(c, root, "", "notes", false, false, &notes)) != CAPV_OK ||
        (st = member(c, root, "", "constraints", &cons)) != CAPV_OK ||
        (st = want_object(c, cons, "constraints", ckeys)) != CAPV_OK)
        return st;
    const cJSON *req = NULL, *roots = NULL;
    if ((st = member(c, cons, "constraints", "require_at_least_one_ubo", &req)) != CAPV_OK)
        return st;
    if (!cJSON_IsBool(req))
        return perr(c, req, false, CAPV_E_TYPE, "constraints.require_at_least_one_ubo",
                    "constraints.require_at_least_one_ubo must be a boolean");
    roots = capvi_json_get(cons, "require_statement_roots");
    if (roots != NULL && cJSON_IsNull(roots))
        roots = NULL;
    if (roots != NULL) {
        bool ok = cJSON_IsArray(roots);
        for (const cJSON *r = ok ? roots->child : NULL; r; r = r->next)
            ok = ok && cJSON_IsString(r);
        if (!ok)
            return perr(c, roots, false, CAPV_E_TYPE, "constraints.require_statement_roots",
                        "constraints.require_statement_roots must be an array of strings");
    }
    cJSON *o = cJSON_CreateObject(), *co = NULL;
    bool ok = o && put(o, "version", cJSON_CreateString(version)) &&
              put(o, "name", cJSON_CreateString(name)) &&
              put(o, "created_at", cJSON_CreateString(created)) &&
              put(o, "constraints", co = cJSON_CreateObject()) &&
              put(co, "require_at_least_one_ubo", cJSON_CreateBool(cJSON_IsTrue(req)));
    if (!ok) {
        cJSON_Delete(o);
        return capvi_err_nomem(c->err);
    }
    if ((st = v1_u32(c, cons, "supplier_count_max", true, co)) != CAPV_OK ||
        (st = v1_u32(c, cons, "ubo_count_min", false, co)) != CAPV_OK) {
        cJSON_Delete(o);
        return st;
    }
    if ((roots != NULL && !put(co, "require_statement_roots", capvi_json_sorted_copy(roots))) ||
        !put(o, "notes", cJSON_CreateString(notes ? notes : ""))) {
        cJSON_Delete(o);
        return capvi_err_nomem(c->err);
    }
    *out = o;
    return CAPV_OK;
}

static capv_status v1_hash_doc(uint8_t out[32], const capv_yaml_doc *doc, capv_error *err)
{
    pctx c = {doc, err};
    cJSON *tree = NULL;
    capv_status st = v1_tree(&tree, &c, doc->root);
    if (st != CAPV_OK)
        return st;
    char h[CAPV_POLICY_HASH_SIZE];
    st = hash_tree(h, tree, NULL, NULL, err);
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
    return st;
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
    if ((st = policy_from_doc(&p, &doc, err)) != CAPV_OK)
        return st;
    st = capv_policy_compile(&ir, NULL, p, CAPV_POLICY_LINT_STRICT, err);
    if (st == CAPV_OK)
        st = capv_digest_parse(out, p->hash, strlen(p->hash), err);
    capv_policy_ir_free(ir);
    capv_policy_free(p);
    return st;
}
