/* SPDX-License-Identifier: Apache-2.0 */
/* Rule evaluation over a context (docs/policies.md, "Evaluation"), and the daemon's
 * policy-evaluation request (capverify/unstable/policy_request.h).
 *
 * Variables: the context fields supplier_hashes, ubo_hashes, company_commitment_root,
 * sanctions_root, jurisdiction_root, and the members of `variables`. A variable that is
 * absent or JSON null is undefined, and a rule reading it fails: a check that could not be
 * made never passes. Strings that are digests (docs/formats.md, "Digests": "0x" or
 * "sha3-256:" + 64 hex digits of either case) compare by their 32 bytes; numbers compare
 * by value (1 == 1.0). docs/policies.md has the truth tables. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capverify/unstable/policy_request.h>

#include "c_locale_int.h"
#include "hex_int.h"
#include "policy_int.h"

#define MSG_SIZE 320

static const char *const context_fields[] = { "supplier_hashes", "ubo_hashes",
                                              "company_commitment_root", "sanctions_root",
                                              "jurisdiction_root" };
#define NFIELDS (sizeof context_fields / sizeof context_fields[0])

typedef struct rule_out {
    char *id;
    capv_policy_rule_result status;
    char *message;
} rule_out;

struct capv_policy_eval_result {
    capv_verdict verdict;
    bool adaptive;
    char *policy_id;
    char policy_hash[CAPV_POLICY_HASH_SIZE];
    char ir_hash[CAPV_POLICY_HASH_SIZE];
    rule_out *rules;
    size_t n;
};

/* ---- the context ----------------------------------------------------------------------- */

typedef struct ctxv {
    const cJSON *root;
    const cJSON *vars;    /* NULL when absent */
    capv_name_ref *index; /* the members of vars, sorted (positions index `nodes`) */
    const cJSON **nodes;
    size_t nvars;
} ctxv;

static void ctxv_free(ctxv *cx)
{
    free(cx->index);
    free(cx->nodes);
    cx->index = NULL;
    cx->nodes = NULL;
}

static bool is_field(const char *name)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(name, context_fields[i]) == 0)
            return true;
    return false;
}

static capv_status context_check(ctxv *cx, const cJSON *root, capv_error *err)
{
    memset(cx, 0, sizeof *cx);
    if (!cJSON_IsObject(root))
        return capvi_err_set(err, CAPV_E_TYPE, "context", "the context must be a JSON object");
    for (size_t i = 0; i < NFIELDS; i++) {
        const cJSON *m = capvi_json_get(root, context_fields[i]);
        if (m == NULL || cJSON_IsNull(m))
            continue;
        if (i < 2) {
            bool ok = cJSON_IsArray(m);
            for (const cJSON *e = ok ? m->child : NULL; e; e = e->next)
                ok = ok && cJSON_IsString(e);
            if (!ok)
                return capvi_err_set(err, CAPV_E_TYPE, context_fields[i],
                                     "context %s must be an array of strings or null",
                                     context_fields[i]);
        } else if (!cJSON_IsString(m)) {
            return capvi_err_set(err, CAPV_E_TYPE, context_fields[i],
                                 "context %s must be a string or null", context_fields[i]);
        }
    }
    const cJSON *vars = capvi_json_get(root, "variables");
    if (vars != NULL && cJSON_IsNull(vars))
        vars = NULL;
    if (vars != NULL && !cJSON_IsObject(vars))
        return capvi_err_set(err, CAPV_E_TYPE, "variables",
                             "context variables must be a JSON object or null");
    for (const cJSON *v = vars ? vars->child : NULL; v; v = v->next)
        if (is_field(v->string))
            return capvi_err_set(err, CAPV_E_MALFORMED, "variables",
                                 "variables.%s would shadow the context field %s", v->string,
                                 v->string);
    cx->root = root;
    cx->vars = vars;
    cx->nvars = vars ? (size_t)cJSON_GetArraySize(vars) : 0;
    cx->index = calloc(cx->nvars + 1, sizeof *cx->index);
    cx->nodes = calloc(cx->nvars + 1, sizeof *cx->nodes);
    if (cx->index == NULL || cx->nodes == NULL) {
        ctxv_free(cx);
        return capvi_err_nomem(err);
    }
    size_t i = 0;
    for (const cJSON *v = vars ? vars->child : NULL; v; v = v->next, i++) {
        cx->index[i] = (capv_name_ref){ v->string, i };
        cx->nodes[i] = v;
    }
    capvi_name_sort(cx->index, cx->nvars);
    return CAPV_OK;
}

/* The value of a variable, or NULL when it is undefined (absent or null). */
static const cJSON *lookup(const ctxv *cx, const char *name)
{
    const cJSON *m = NULL;
    if (is_field(name)) {
        m = capvi_json_get(cx->root, name);
    } else {
        const capv_name_ref *r = capvi_name_find(cx->index, cx->nvars, name);
        m = r ? cx->nodes[r->pos] : NULL;
    }
    return m == NULL || cJSON_IsNull(m) ? NULL : m;
}

/* ---- values ---------------------------------------------------------------------------- */

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "null";
}

/* Digest text → its canonical "0x" + lower-case hex form in `out`; false if not a digest. */
static bool digest_norm(const char *s, char out[CAPV_DIGEST_HEX_SIZE])
{
    uint8_t d[32];
    size_t n = strlen(s);
    if ((n != 66 && n != 73) || capv_digest_parse(d, s, n, NULL) != CAPV_OK)
        return false;
    capv_digest_format(out, d);
    return true;
}

/* A number as compared: an integer of i64 (is_int) or, above it, of u64 (is_uint: serde
 * reads such a one as u64, exactly), else the double. */
typedef struct num {
    bool is_int, is_uint;
    int64_t i;
    uint64_t u;
    double d;
} num;

static num num_of(const cJSON *n)
{
    num r = { false, false, 0, 0, n->valuedouble };
    if (capvi_json_int_value(&r.i, n, INT64_MIN, INT64_MAX) == CAPV_OK) {
        r.is_int = true;
        return r;
    }
    const char *lex = n->valuestring;
    if (lex != NULL && lex[0] >= '0' && lex[0] <= '9' && strpbrk(lex, ".eE") == NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(lex, &end, 10);
        if (errno == 0 && end != NULL && *end == '\0') {
            r.is_uint = true;
            r.u = v;
        }
    }
    return r;
}

static num num_count(size_t n)
{
    num r = { true, false, (int64_t)n, 0, (double)n };
    return r;
}

static int num_cmp(num a, num b)
{
    if (a.is_int && b.is_int)
        return a.i < b.i ? -1 : a.i > b.i;
    if (a.is_uint && b.is_uint)
        return a.u < b.u ? -1 : a.u > b.u;
    if (a.is_uint && b.is_int) /* a is above INT64_MAX */
        return 1;
    if (a.is_int && b.is_uint)
        return -1;
    /* long double holds every int64 and uint64 exactly on the targets we build for */
    long double x = a.is_int ? (long double)a.i : a.is_uint ? (long double)a.u : (long double)a.d;
    long double y = b.is_int ? (long double)b.i : b.is_uint ? (long double)b.u : (long double)b.d;
    return x < y ? -1 : x > y;
}

static int member_cmp(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* Appends the canonical key of a value: two values are equal (deep JSON equality, numbers
 * by value, digest strings by their bytes) exactly when their keys are. Allocation failure
 * is recorded in the buffer's sticky flag. */
static void value_key(capv_buf *b, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        char d[CAPV_DIGEST_HEX_SIZE];
        if (digest_norm(v->valuestring, d)) {
            capvi_buf_putc(b, 'x');
            capvi_buf_puts(b, d);
        } else {
            capvi_buf_putc(b, 's');
            capvi_json_write_string(b, v->valuestring, strlen(v->valuestring));
        }
    } else if (cJSON_IsNumber(v)) {
        num n = num_of(v);
        /* integral values in int64 / uint64 range as integers (1 == 1.0), others
         * shortest-exact */
        const double two63 = 9223372036854775808.0; /* 2^63 */
        if (!n.is_int && !n.is_uint && n.d == floor(n.d) && n.d >= -two63 && n.d < two63) {
            n.is_int = true;
            n.i = (int64_t)n.d;
        } else if (!n.is_int && !n.is_uint && n.d == floor(n.d) && n.d >= two63 &&
                   n.d < 2 * two63) {
            n.is_uint = true;
            n.u = (uint64_t)n.d;
        }
        if (n.is_int)
            capvi_buf_printf(b, "n%lld", (long long)n.i);
        else if (n.is_uint)
            capvi_buf_printf(b, "n%llu", (unsigned long long)n.u);
        else {
            char text[40];
            capvi_snprintf(text, sizeof text, "n%.17g", n.d);
            capvi_buf_puts(b, text);
        }
    } else if (cJSON_IsTrue(v)) {
        capvi_buf_putc(b, 't');
    } else if (cJSON_IsFalse(v)) {
        capvi_buf_putc(b, 'f');
    } else if (cJSON_IsArray(v)) {
        capvi_buf_putc(b, '[');
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child)
                capvi_buf_putc(b, ',');
            value_key(b, c);
        }
        capvi_buf_putc(b, ']');
    } else if (cJSON_IsObject(v)) {
        size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
        const cJSON **m = malloc((n ? n : 1) * sizeof *m);
        if (m == NULL) {
            b->failed = true;
            return;
        }
        for (const cJSON *c = v->child; c; c = c->next)
            m[i++] = c;
        qsort(m, n, sizeof *m, member_cmp);
        capvi_buf_putc(b, '{');
        for (i = 0; i < n; i++) {
            if (i > 0)
                capvi_buf_putc(b, ',');
            capvi_json_write_string(b, m[i]->string, strlen(m[i]->string));
            capvi_buf_putc(b, ':');
            value_key(b, m[i]);
        }
        capvi_buf_putc(b, '}');
        free(m);
    } else {
        capvi_buf_putc(b, 'z');
    }
}

/* The key of `v`, malloc'd; NULL on allocation failure. */
static char *key_of(const cJSON *v)
{
    capv_buf b = CAPV_BUF_INIT;
    value_key(&b, v);
    size_t n;
    return (char *)capvi_buf_take(&b, &n);
}

/* Deep equality; -1 when memory ran out. */
static int json_equal(const cJSON *a, const cJSON *b)
{
    char *x = key_of(a), *y = key_of(b);
    int r = x && y ? strcmp(x, y) == 0 : -1;
    free(x);
    free(y);
    return r;
}

static void lexeme(char out[40], const cJSON *n)
{
    if (n->valuestring != NULL && strlen(n->valuestring) < 40)
        snprintf(out, 40, "%s", n->valuestring);
    else
        capvi_snprintf(out, 40, "%.17g", n->valuedouble);
}

/* ---- operands -------------------------------------------------------------------------- */

typedef struct operand {
    const cJSON *v;
    const char *name; /* variable name; NULL for a literal */
} operand;

static bool resolve(const ctxv *cx, const cJSON *expr, bool string_is_var, operand *o,
                    char msg[MSG_SIZE])
{
    o->name = capvi_policy_operand_var(expr, string_is_var);
    o->v = expr;
    if (o->name == NULL)
        return true;
    o->v = lookup(cx, o->name);
    if (o->v != NULL)
        return true;
    snprintf(msg, MSG_SIZE, "variable \"%s\" is not defined in the context (absent or null)",
             CAPV_CLIP(o->name));
    return false;
}

static const char *desc(const operand *o)
{
    return o->name ? o->name : "the literal";
}

/* ---- operators ------------------------------------------------------------------------- */

static int cstr_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* non_membership: no element of lhs (value or array) occurs in rhs (value or array). The
 * right side becomes a sorted list of canonical keys, so this is n log n, never n * m. */
static capv_status op_non_membership(capv_policy_rule_result *res, char msg[MSG_SIZE],
                                     const operand *l, const operand *r, capv_error *err)
{
    bool lsingle = !cJSON_IsArray(l->v), rsingle = !cJSON_IsArray(r->v);
    const cJSON *lone = lsingle ? l->v : l->v->child;
    const cJSON *rone = rsingle ? r->v : r->v->child;
    size_t nl = lsingle ? 1 : (size_t)cJSON_GetArraySize(l->v);
    size_t nr = rsingle ? 1 : (size_t)cJSON_GetArraySize(r->v);
    char **set = calloc(nr ? nr : 1, sizeof *set);
    size_t k = 0, hit = SIZE_MAX, i = 0;
    bool oom = set == NULL;
    for (const cJSON *y = rone; y && !oom; y = rsingle ? NULL : y->next)
        oom = (set[k++] = key_of(y)) == NULL;
    if (!oom)
        qsort(set, nr, sizeof *set, cstr_cmp);
    for (const cJSON *x = lone; x && !oom && hit == SIZE_MAX; x = lsingle ? NULL : x->next, i++) {
        char *key = key_of(x);
        if (key == NULL) {
            oom = true;
            break;
        }
        if (bsearch(&key, set, nr, sizeof *set, cstr_cmp) != NULL)
            hit = i;
        free(key);
    }
    for (size_t j = 0; set != NULL && j < k; j++)
        free(set[j]);
    free(set);
    if (oom)
        return capvi_err_nomem(err);
    if (hit != SIZE_MAX) {
        *res = CAPV_POLICY_RULE_FAIL;
        if (lsingle)
            snprintf(msg, MSG_SIZE, "%s occurs in %s", CAPV_CLIP(desc(l)), CAPV_CLIP(desc(r)));
        else if (l->name != NULL)
            snprintf(msg, MSG_SIZE, "%s[%zu] occurs in %s", CAPV_CLIP(l->name), hit,
                     CAPV_CLIP(desc(r)));
        else
            snprintf(msg, MSG_SIZE, "element %zu of the literal occurs in %s", hit,
                     CAPV_CLIP(desc(r)));
        return CAPV_OK;
    }
    *res = CAPV_POLICY_RULE_PASS;
    snprintf(msg, MSG_SIZE, "none of the %zu value%s of %s occurs in %s (%zu value%s)", nl,
             nl == 1 ? "" : "s", CAPV_CLIP(desc(l)), CAPV_CLIP(desc(r)), nr, nr == 1 ? "" : "s");
    return CAPV_OK;
}

static capv_status op_eq(capv_policy_rule_result *res, char msg[MSG_SIZE], const operand *l,
                         const operand *r, capv_error *err)
{
    int eq = json_equal(l->v, r->v);
    if (eq < 0)
        return capvi_err_nomem(err);
    *res = eq ? CAPV_POLICY_RULE_PASS : CAPV_POLICY_RULE_FAIL;
    snprintf(msg, MSG_SIZE, "%s %s %s", CAPV_CLIP(desc(l)), eq ? "equals" : "does not equal",
             CAPV_CLIP(desc(r)));
    return CAPV_OK;
}

/* range_min: lhs (a number, or an array counted by its elements) >= rhs (a number). */
static void op_range_min(capv_policy_rule_result *res, char msg[MSG_SIZE], const operand *l,
                         const operand *r)
{
    *res = CAPV_POLICY_RULE_FAIL;
    if (!cJSON_IsNumber(l->v) && !cJSON_IsArray(l->v)) {
        snprintf(msg, MSG_SIZE,
                 "range_min needs a number (or an array, counted) on the left; "
                 "%s is %s",
                 CAPV_CLIP(desc(l)), type_name(l->v));
        return;
    }
    if (!cJSON_IsNumber(r->v)) {
        snprintf(msg, MSG_SIZE, "range_min needs a number on the right; %s is %s",
                 CAPV_CLIP(desc(r)), type_name(r->v));
        return;
    }
    char rl[40];
    lexeme(rl, r->v);
    if (cJSON_IsArray(l->v)) {
        size_t n = (size_t)cJSON_GetArraySize(l->v);
        bool ok = num_cmp(num_count(n), num_of(r->v)) >= 0;
        *res = ok ? CAPV_POLICY_RULE_PASS : CAPV_POLICY_RULE_FAIL;
        snprintf(msg, MSG_SIZE, "%s has %zu element%s, %s %s", CAPV_CLIP(desc(l)), n,
                 n == 1 ? "" : "s", ok ? "at least" : "fewer than", rl);
        return;
    }
    char ll[40];
    lexeme(ll, l->v);
    bool ok = num_cmp(num_of(l->v), num_of(r->v)) >= 0;
    *res = ok ? CAPV_POLICY_RULE_PASS : CAPV_POLICY_RULE_FAIL;
    snprintf(msg, MSG_SIZE, "%s = %s %s %s", CAPV_CLIP(desc(l)), ll, ok ? ">=" : "<", rl);
}

/* ---- predicates ------------------------------------------------------------------------ */

typedef enum { PRED_FALSE, PRED_TRUE, PRED_ERROR } pred_value;

static pred_value eval_predicate(const ctxv *cx, const cJSON *expr, char why[MSG_SIZE])
{
    const char *bad = NULL;
    if (!capvi_policy_predicate_valid(expr, &bad)) {
        snprintf(why, MSG_SIZE, "invalid expression: %s", bad);
        return PRED_ERROR;
    }
    if (cJSON_IsBool(expr))
        return cJSON_IsTrue(expr) ? PRED_TRUE : PRED_FALSE;
    operand o;
    if (capvi_policy_operand_var(expr, true) != NULL) {
        if (!resolve(cx, expr, true, &o, why))
            return PRED_ERROR;
        if (!cJSON_IsBool(o.v)) {
            snprintf(why, MSG_SIZE, "variable \"%s\" is %s, not a boolean", CAPV_CLIP(o.name),
                     type_name(o.v));
            return PRED_ERROR;
        }
        return cJSON_IsTrue(o.v) ? PRED_TRUE : PRED_FALSE;
    }
    const char *func = capvi_json_get(expr, "func")->valuestring;
    const cJSON *args = capvi_json_get(expr, "args");
    operand a, b;
    if (!resolve(cx, args->child, true, &a, why) || !resolve(cx, args->child->next, true, &b, why))
        return PRED_ERROR;
    if (strcmp(func, "eq") == 0) {
        int eq = json_equal(a.v, b.v);
        if (eq < 0)
            snprintf(why, MSG_SIZE, "out of memory");
        return eq < 0 ? PRED_ERROR : eq ? PRED_TRUE : PRED_FALSE;
    }
    if (!cJSON_IsNumber(a.v) || !cJSON_IsNumber(b.v)) {
        const operand *x = cJSON_IsNumber(a.v) ? &b : &a;
        snprintf(why, MSG_SIZE, "%s needs numbers; %s is %s", func, CAPV_CLIP(desc(x)),
                 type_name(x->v));
        return PRED_ERROR;
    }
    int c = num_cmp(num_of(a.v), num_of(b.v));
    return (strcmp(func, "lt") == 0 ? c < 0 : c > 0) ? PRED_TRUE : PRED_FALSE;
}

/* ---- evaluation ------------------------------------------------------------------------ */

void capv_policy_eval_result_free(capv_policy_eval_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->rules[i].id);
        free(r->rules[i].message);
    }
    free(r->rules);
    free(r->policy_id);
    free(r);
}

/* Adaptive mode: per rule, whether an activation names it, whether one with a true
 * predicate does, and the first one whose predicate could not be evaluated. One pass over
 * the activations with sorted rule look-ups. */
typedef struct activation_state {
    bool *named, *active;
    const capv_ir_activation **failed;
} activation_state;

static bool activation_state_build(activation_state *s, const capv_policy_ir *ir,
                                   const pred_value *pv)
{
    size_t n = ir->nrules;
    capv_name_ref *refs = calloc(n + 1, sizeof *refs);
    s->named = calloc(n + 1, sizeof *s->named);
    s->active = calloc(n + 1, sizeof *s->active);
    s->failed = calloc(n + 1, sizeof *s->failed);
    bool ok = refs && s->named && s->active && s->failed;
    for (size_t i = 0; ok && i < n; i++)
        refs[i] = (capv_name_ref){ ir->rules[i].id, i };
    if (ok)
        capvi_name_sort(refs, n);
    for (size_t a = 0; ok && a < ir->nactivations; a++) {
        const capv_ir_activation *act = &ir->activations[a];
        pred_value v = act->predicate < ir->npredicates ? pv[act->predicate] : PRED_ERROR;
        for (const cJSON *r = act->rules->child; r; r = r->next) {
            const capv_name_ref *hit = capvi_name_find(refs, n, r->valuestring);
            if (hit == NULL)
                continue;
            s->named[hit->pos] = true;
            if (v == PRED_TRUE)
                s->active[hit->pos] = true;
            else if (v == PRED_ERROR && s->failed[hit->pos] == NULL)
                s->failed[hit->pos] = act;
        }
    }
    free(refs);
    return ok;
}

static void activation_state_free(activation_state *s)
{
    free(s->named);
    free(s->active);
    free(s->failed);
}

/* Evaluates over a parsed context tree. */
static capv_status eval_tree(capv_policy_eval_result **out, const capv_policy_ir *ir,
                             const cJSON *context, unsigned int flags, capv_error *err)
{
    *out = NULL;
    if (flags & ~CAPV_POLICY_EVAL_ADAPTIVE)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown flags 0x%x", flags);
    ctxv cx;
    capv_status st = context_check(&cx, context, err);
    if (st != CAPV_OK)
        return st;
    capv_policy_eval_result *res = calloc(1, sizeof *res);
    pred_value *pv = NULL;
    char(*pwhy)[MSG_SIZE] = NULL;
    activation_state as = { NULL, NULL, NULL };
    if (res == NULL || (res->policy_id = strdup(ir->policy_id)) == NULL ||
        (res->rules = calloc(ir->nrules ? ir->nrules : 1, sizeof *res->rules)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    memcpy(res->policy_hash, ir->policy_hash, sizeof res->policy_hash);
    memcpy(res->ir_hash, ir->ir_hash, sizeof res->ir_hash);
    res->adaptive = (flags & CAPV_POLICY_EVAL_ADAPTIVE) != 0;
    bool adaptive = res->adaptive && ir->has_adaptivity;
    if (adaptive) {
        size_t np = ir->npredicates ? ir->npredicates : 1;
        pv = calloc(np, sizeof *pv);
        pwhy = calloc(np, sizeof *pwhy);
        if (pv == NULL || pwhy == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
        for (size_t i = 0; i < ir->npredicates; i++)
            pv[i] = eval_predicate(&cx, ir->predicates[i].expr, pwhy[i]);
        if (!activation_state_build(&as, ir, pv))
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    }
    res->verdict = CAPV_VERDICT_OK;
    for (size_t i = 0; i < ir->nrules; i++) {
        const capv_ir_rule *rule = &ir->rules[i];
        rule_out *ro = &res->rules[i];
        char msg[MSG_SIZE] = "";
        capv_policy_rule_result rr = CAPV_POLICY_RULE_FAIL;
        bool evaluate = true;
        if (adaptive && as.named[i] && !as.active[i]) {
            const capv_ir_activation *failed = as.failed[i];
            evaluate = false;
            if (failed != NULL) {
                rr = CAPV_POLICY_RULE_FAIL; /* it may have been required: never skip it */
                snprintf(msg, sizeof msg,
                         "not evaluated: its activation predicate \"%s\" could not be "
                         "evaluated: %s",
                         CAPV_CLIP(failed->when),
                         failed->predicate < ir->npredicates ? pwhy[failed->predicate]
                                                             : "unknown predicate");
            } else {
                rr = CAPV_POLICY_RULE_SKIPPED;
                snprintf(msg, sizeof msg, "not activated: no predicate activating it is true");
            }
        }
        if (evaluate) {
            operand l, r;
            if (!resolve(&cx, rule->lhs, false, &l, msg) ||
                !resolve(&cx, rule->rhs, false, &r, msg)) {
                rr = CAPV_POLICY_RULE_FAIL;
            } else if ((l.name == NULL && cJSON_IsNull(l.v)) ||
                       (r.name == NULL && cJSON_IsNull(r.v))) {
                /* a value left out of the policy (`rhs:` with nothing): as with an undefined
                 * variable, a check that cannot be made never passes */
                rr = CAPV_POLICY_RULE_FAIL;
                snprintf(msg, sizeof msg, "the %s is the literal null: nothing to compare",
                         l.name == NULL && cJSON_IsNull(l.v) ? "lhs" : "rhs");
            } else {
                switch (rule->op) {
                case CAPV_POLICY_OP_NON_MEMBERSHIP:
                    CAPV_TRY(op_non_membership(&rr, msg, &l, &r, err));
                    break;
                case CAPV_POLICY_OP_EQ: CAPV_TRY(op_eq(&rr, msg, &l, &r, err)); break;
                case CAPV_POLICY_OP_RANGE_MIN: op_range_min(&rr, msg, &l, &r); break;
                case CAPV_POLICY_OP_UNKNOWN:
                    rr = CAPV_POLICY_RULE_FAIL;
                    snprintf(msg, sizeof msg, "unknown op");
                    break;
                }
            }
        }
        ro->status = rr;
        if ((ro->id = strdup(rule->id)) == NULL || (ro->message = strdup(msg)) == NULL) {
            free(ro->id);
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
        }
        res->n++;
        if (rr == CAPV_POLICY_RULE_FAIL)
            res->verdict = CAPV_VERDICT_FAIL;
    }
out:
    free(pv);
    free(pwhy);
    activation_state_free(&as);
    ctxv_free(&cx);
    if (st != CAPV_OK) {
        capv_policy_eval_result_free(res);
        return st;
    }
    *out = res;
    return CAPV_OK;
}

capv_status capv_policy_eval(capv_policy_eval_result **out, const capv_policy_ir *ir,
                             const uint8_t *context, size_t len, unsigned int flags,
                             capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || ir == NULL || (context == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    cJSON *root = NULL;
    capv_status st = capvi_json_parse(&root, context, len, err);
    if (st != CAPV_OK)
        return st;
    st = eval_tree(out, ir, root, flags, err);
    cJSON_Delete(root);
    return capvi_err_done(err, st);
}

capv_verdict capv_policy_eval_result_verdict(const capv_policy_eval_result *r)
{
    return r ? r->verdict : CAPV_VERDICT_FAIL;
}

size_t capv_policy_eval_result_rule_count(const capv_policy_eval_result *r)
{
    return r ? r->n : 0;
}

const char *capv_policy_eval_result_rule_id(const capv_policy_eval_result *r, size_t i)
{
    return r && i < r->n ? r->rules[i].id : NULL;
}

capv_policy_rule_result capv_policy_eval_result_rule_status(const capv_policy_eval_result *r,
                                                            size_t i)
{
    return r && i < r->n ? r->rules[i].status : CAPV_POLICY_RULE_FAIL;
}

const char *capv_policy_eval_result_rule_message(const capv_policy_eval_result *r, size_t i)
{
    return r && i < r->n ? r->rules[i].message : NULL;
}

const char *capv_policy_rule_result_name(capv_policy_rule_result s)
{
    switch (s) {
    case CAPV_POLICY_RULE_PASS: return "pass";
    case CAPV_POLICY_RULE_FAIL: return "fail";
    case CAPV_POLICY_RULE_SKIPPED: return "skipped";
    }
    return "unknown";
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

capv_status capv_policy_eval_result_to_json(char **out, size_t *out_len,
                                            const capv_policy_eval_result *r, unsigned int flags,
                                            capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || r == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (flags & ~CAPV_POLICY_JSON_PRETTY)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown flags 0x%x", flags);
    cJSON *o = cJSON_CreateObject(), *rules = NULL;
    bool ok = o && put(o, "result", cJSON_CreateString(capv_verdict_name(r->verdict))) &&
              put(o, "policy_id", cJSON_CreateString(r->policy_id)) &&
              put(o, "policy_hash", cJSON_CreateString(r->policy_hash)) &&
              put(o, "ir_hash", cJSON_CreateString(r->ir_hash)) &&
              put(o, "adaptive", cJSON_CreateBool(r->adaptive)) &&
              put(o, "rules", rules = cJSON_CreateArray());
    for (size_t i = 0; ok && i < r->n; i++) {
        cJSON *x = cJSON_CreateObject();
        ok = x != NULL && cJSON_AddItemToArray(rules, x);
        if (!ok)
            cJSON_Delete(x);
        ok = ok && put(x, "id", cJSON_CreateString(r->rules[i].id)) &&
             put(x, "result",
                 cJSON_CreateString(capv_policy_rule_result_name(r->rules[i].status))) &&
             put(x, "message", cJSON_CreateString(r->rules[i].message));
    }
    capv_buf b = CAPV_BUF_INIT;
    if (ok) {
        if (flags & CAPV_POLICY_JSON_PRETTY)
            capvi_json_write_pretty(&b, o);
        else
            capvi_json_write_compact(&b, o, 0);
    }
    cJSON_Delete(o);
    size_t n = 0;
    *out = ok ? (char *)capvi_buf_take(&b, &n) : NULL;
    capvi_buf_free(&b);
    if (*out == NULL)
        return capvi_err_nomem(err);
    if (out_len != NULL)
        *out_len = n;
    return capvi_err_done(err, CAPV_OK);
}

/* ---- /verify policy-evaluation requests ------------------------------------------------ */

struct capv_policy_eval_request {
    char *policy_id;
    capv_policy_ir *ir;
    cJSON *context;
    unsigned int flags;
};

void capv_policy_eval_request_free(capv_policy_eval_request *req)
{
    if (req == NULL)
        return;
    free(req->policy_id);
    capv_policy_ir_free(req->ir);
    cJSON_Delete(req->context);
    free(req);
}

capv_status capv_policy_eval_request_parse(capv_policy_eval_request **out, const uint8_t *body,
                                           size_t len, capv_error *err)
{
    static const char *const top[] = { "policy_id", "ir", "context", "options", "backend" };
    static const char *const opts[] = { "adaptive", "check_timestamp", "check_registry" };
    if (out != NULL)
        *out = NULL;
    if (out == NULL || (body == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    cJSON *root = NULL;
    capv_policy_eval_request *req = NULL;
    capv_status st = CAPV_OK;
    CAPV_TRY(capvi_json_parse(&root, body, len, err));
    if (!cJSON_IsObject(root))
        CAPV_FAIL(err, CAPV_E_TYPE, "", "the request must be a JSON object");
    for (const cJSON *m = root->child; m; m = m->next) {
        bool known = false;
        for (size_t i = 0; i < sizeof top / sizeof top[0] && !known; i++)
            known = strcmp(m->string, top[i]) == 0;
        if (!known)
            CAPV_FAIL(err, CAPV_E_MALFORMED, m->string, "unknown field \"%s\" in the request",
                      CAPV_CLIP(m->string));
    }
    const char *pid = NULL, *backend = NULL;
    const cJSON *ir = NULL, *options = NULL, *context = NULL;
    bool adaptive = false;
    CAPV_TRY(capvi_json_get_string(&pid, root, "", "policy_id", false, err));
    CAPV_TRY(capvi_json_get_object(&ir, root, "", "ir", false, err));
    CAPV_TRY(capvi_json_get_object(&context, root, "", "context", true, err));
    CAPV_TRY(capvi_json_get_object(&options, root, "", "options", false, err));
    CAPV_TRY(capvi_json_get_string(&backend, root, "", "backend", false, err));
    if ((pid == NULL) == (ir == NULL))
        CAPV_FAIL(err, CAPV_E_MALFORMED, "policy_id",
                  "the request needs exactly one of \"policy_id\" and \"ir\"");
    for (const cJSON *m = options ? options->child : NULL; m; m = m->next) {
        bool known = false;
        for (size_t i = 0; i < sizeof opts / sizeof opts[0] && !known; i++)
            known = strcmp(m->string, opts[i]) == 0;
        if (!known)
            CAPV_FAIL(err, CAPV_E_MALFORMED, m->string, "unknown option \"%s\"",
                      CAPV_CLIP(m->string));
        if (!cJSON_IsBool(m))
            CAPV_FAIL(err, CAPV_E_TYPE, m->string, "option \"%s\" must be a boolean", m->string);
    }
    CAPV_TRY(capvi_json_get_bool(&adaptive, options, "options", "adaptive", false, err));
    ctxv cx;
    CAPV_TRY(context_check(&cx, context, err));
    ctxv_free(&cx);
    if ((req = calloc(1, sizeof *req)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    req->flags = adaptive ? CAPV_POLICY_EVAL_ADAPTIVE : 0;
    if (pid != NULL && (req->policy_id = strdup(pid)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    if (ir != NULL) /* the request's own tree: the IR's numbers may be rewritten in it */
        CAPV_TRY(
            capvi_policy_ir_from_tree(&req->ir, cJSON_GetObjectItemCaseSensitive(root, "ir"), err));
    req->context = cJSON_DetachItemFromObjectCaseSensitive(root, "context");
out:
    cJSON_Delete(root);
    if (st != CAPV_OK) {
        capv_policy_eval_request_free(req);
        return st;
    }
    *out = req;
    return capvi_err_done(err, CAPV_OK);
}

const char *capv_policy_eval_request_policy_id(const capv_policy_eval_request *req)
{
    return req ? req->policy_id : NULL;
}

const capv_policy_ir *capv_policy_eval_request_ir(const capv_policy_eval_request *req)
{
    return req ? req->ir : NULL;
}

unsigned int capv_policy_eval_request_flags(const capv_policy_eval_request *req)
{
    return req ? req->flags : 0;
}

capv_status capv_policy_eval_request_run(capv_policy_eval_result **out,
                                         const capv_policy_eval_request *req,
                                         const capv_policy_ir *ir, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || req == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (req->ir != NULL) {
        if (ir != NULL)
            return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                                 "the request embeds its IR: pass ir = NULL");
        ir = req->ir;
    } else {
        if (ir == NULL)
            return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                                 "the request names policy_id %s: pass its IR", req->policy_id);
        /* the policy store finds a policy by its hash too */
        if (strcmp(ir->policy_id, req->policy_id) != 0 &&
            !capvi_digest_same(req->policy_id, ir->policy_hash))
            return capvi_err_set(err, CAPV_E_MISMATCH, "policy_id",
                                 "the IR is for policy %s, the request names %s", ir->policy_id,
                                 CAPV_CLIP(req->policy_id));
    }
    return capvi_err_done(err, eval_tree(out, ir, req->context, req->flags, err));
}
