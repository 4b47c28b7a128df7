/* SPDX-License-Identifier: Apache-2.0 */
/* Policy lints (docs/policies.md, "Lints") and the diagnostics container.
 *
 * Codes (docs/policies.md): E1001 activation names an unknown rule, E1002 empty
 * legal_basis (a warning in relaxed mode), E1003 duplicate rule id, E1004 activation names
 * an unknown predicate, E1005 duplicate predicate id, E2001 unknown op, E2002 invalid
 * predicate expression, E2003 rule references an undeclared input, W1002 empty
 * description, W1003 no rules, W2001 unused input. The order is fixed (policy, rules in
 * source order, adaptivity, inputs by name), so the same policy always gives the same list. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_lint_int.h"
#include "policy_model_int.h"

typedef struct diag {
    char code[8];
    capv_policy_lint_level level;
    char *message;
    char *rule_id;
    unsigned line, column; /* in the YAML source; 0 when unknown */
} diag;

struct capv_policy_diagnostics {
    diag *items;
    size_t n, cap;
    size_t errors;
};

/* The YAML positions of a document's nodes, sorted by node: a diagnostic finds the position
 * of what it is about in O(log n), so many findings in a large hostile policy stay cheap. */
typedef struct pos_index {
    const capv_yaml_mark **marks;
    size_t n;
} pos_index;

static int mark_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)(*(const capv_yaml_mark *const *)a)->node;
    uintptr_t y = (uintptr_t)(*(const capv_yaml_mark *const *)b)->node;
    return x < y ? -1 : x > y;
}

static bool pos_index_init(pos_index *ix, const capv_yaml_doc *doc)
{
    ix->n = doc->nmarks;
    ix->marks = calloc(ix->n + 1, sizeof *ix->marks);
    if (ix->marks == NULL)
        return false;
    for (size_t i = 0; i < ix->n; i++)
        ix->marks[i] = &doc->marks[i];
    qsort(ix->marks, ix->n, sizeof *ix->marks, mark_cmp);
    return true;
}

/* The position of `node`: its mapping key's when it has one, else its own. */
static void pos_find(const pos_index *ix, const cJSON *node, unsigned *line, unsigned *col)
{
    *line = *col = 0;
    size_t lo = 0, hi = ix->n;
    while (node != NULL && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uintptr_t at = (uintptr_t)ix->marks[mid]->node;
        if (at == (uintptr_t)node) {
            const capv_yaml_mark *m = ix->marks[mid];
            *line = m->key_line ? m->key_line : m->line;
            *col = m->key_line ? m->key_col : m->col;
            return;
        }
        if (at < (uintptr_t)node)
            lo = mid + 1;
        else
            hi = mid;
    }
}

static bool add(capv_policy_diagnostics *d, const pos_index *ix, const cJSON *node,
                const char *code, capv_policy_lint_level level, const char *rule_id,
                const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static bool add(capv_policy_diagnostics *d, const pos_index *ix, const cJSON *node,
                const char *code, capv_policy_lint_level level, const char *rule_id,
                const char *fmt, ...)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        diag *ni = realloc(d->items, cap * sizeof *ni);
        if (ni == NULL)
            return false;
        d->items = ni;
        d->cap = cap;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag *x = &d->items[d->n];
    snprintf(x->code, sizeof x->code, "%s", code);
    x->level = level;
    pos_find(ix, node, &x->line, &x->column);
    x->message = strdup(msg);
    x->rule_id = rule_id ? strdup(rule_id) : NULL;
    if (x->message == NULL || (rule_id != NULL && x->rule_id == NULL)) {
        free(x->message);
        free(x->rule_id);
        return false;
    }
    d->n++;
    if (level == CAPV_POLICY_LEVEL_ERROR)
        d->errors++;
    return true;
}

/* Look-up tables of one lint run: inputs, rules and predicates by name. */
typedef struct lint_ctx {
    const capv_policy *p;
    capv_name_ref *inputs, *rules, *preds;
    size_t ninputs, npreds;
    bool *used;                /* per input, in document order */
    const cJSON **input_nodes; /* per input, in document order */
    size_t *rule_first;        /* per rule: position of the first rule with its id */
    size_t *pred_first;        /* per predicate: the same for predicate ids */
} lint_ctx;

static void mark_used(lint_ctx *x, const char *name)
{
    const capv_name_ref *r = capvi_name_find(x->inputs, x->ninputs, name);
    if (r != NULL)
        x->used[r->pos] = true;
}

/* Variables a predicate expression reads. */
static void expr_vars(lint_ctx *x, const cJSON *expr)
{
    const char *v = capvi_policy_operand_var(expr, true);
    if (v != NULL) {
        mark_used(x, v);
        return;
    }
    const cJSON *args = capvi_json_get(expr, "args");
    for (const cJSON *a = cJSON_IsArray(args) ? args->child : NULL; a; a = a->next)
        if ((v = capvi_policy_operand_var(a, true)) != NULL)
            mark_used(x, v);
}

static bool lint_ctx_init(lint_ctx *x, const capv_policy *p)
{
    memset(x, 0, sizeof *x);
    x->p = p;
    x->ninputs = (size_t)cJSON_GetArraySize(p->inputs);
    const cJSON *preds = p->adaptivity ? capvi_json_get(p->adaptivity, "predicates") : NULL;
    x->npreds = preds ? (size_t)cJSON_GetArraySize(preds) : 0;
    x->inputs = calloc(x->ninputs + 1, sizeof *x->inputs);
    x->rules = calloc(p->nrules + 1, sizeof *x->rules);
    x->preds = calloc(x->npreds + 1, sizeof *x->preds);
    x->used = calloc(x->ninputs + 1, sizeof *x->used);
    x->input_nodes = calloc(x->ninputs + 1, sizeof *x->input_nodes);
    x->rule_first = calloc(p->nrules + 1, sizeof *x->rule_first);
    x->pred_first = calloc(x->npreds + 1, sizeof *x->pred_first);
    if (!x->inputs || !x->rules || !x->preds || !x->used || !x->rule_first || !x->pred_first ||
        !x->input_nodes)
        return false;
    size_t i = 0;
    for (const cJSON *in = p->inputs->child; in; in = in->next, i++) {
        x->inputs[i] = (capv_name_ref){ in->string, i };
        x->input_nodes[i] = in;
    }
    for (i = 0; i < p->nrules; i++)
        x->rules[i] = (capv_name_ref){ p->rules[i].id, i };
    i = 0;
    for (const cJSON *pr = preds ? preds->child : NULL; pr; pr = pr->next, i++)
        x->preds[i] = (capv_name_ref){ capvi_json_get(pr, "id")->valuestring, i };
    capvi_name_sort(x->inputs, x->ninputs);
    capvi_name_sort(x->rules, p->nrules);
    capvi_name_sort(x->preds, x->npreds);
    capvi_name_first(x->rules, p->nrules, x->rule_first);
    capvi_name_first(x->preds, x->npreds, x->pred_first);
    return true;
}

static void lint_ctx_free(lint_ctx *x)
{
    free(x->inputs);
    free(x->rules);
    free(x->preds);
    free(x->used);
    free(x->input_nodes);
    free(x->rule_first);
    free(x->pred_first);
}

capv_status capvi_policy_lint_run(capv_policy_diagnostics **out, const capv_policy *p,
                                  capv_policy_lint_mode mode, capv_error *err)
{
    *out = NULL;
    if (mode != CAPV_POLICY_LINT_STRICT && mode != CAPV_POLICY_LINT_RELAXED)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown lint mode %d", (int)mode);
    capv_policy_diagnostics *d = calloc(1, sizeof *d);
    lint_ctx x;
    pos_index ix = { NULL, 0 };
    bool ok = lint_ctx_init(&x, p) && d != NULL && pos_index_init(&ix, &p->doc);
    const capv_policy_lint_level E = CAPV_POLICY_LEVEL_ERROR, W = CAPV_POLICY_LEVEL_WARNING;
    const cJSON *root = p->doc.root;

    if (ok && cJSON_GetArraySize(p->legal_basis) == 0)
        ok = add(d, &ix, p->legal_basis, "E1002", mode == CAPV_POLICY_LINT_RELAXED ? W : E, NULL,
                 "legal_basis is empty: name the directive or article the policy implements");
    if (ok && p->description[0] == '\0')
        ok = add(d, &ix, capvi_json_get(root, "description"), "W1002", W, NULL,
                 "description is empty");
    if (ok && p->nrules == 0)
        ok = add(d, &ix, capvi_json_get(root, "rules"), "W1003", W, NULL,
                 "rules is empty: every evaluation of the policy passes");

    /* the rules' nodes, in source order as p->rules */
    const cJSON *rnode = capvi_json_get(root, "rules");
    rnode = rnode ? rnode->child : NULL;
    for (size_t i = 0; ok && i < p->nrules; i++, rnode = rnode ? rnode->next : NULL) {
        const capv_policy_rule *r = &p->rules[i];
        if (x.rule_first[i] != i)
            ok = add(d, &ix, capvi_json_get(rnode, "id"), "E1003", E, r->id,
                     "duplicate rule id \"%s\" (rules[%zu] and rules[%zu])", r->id, x.rule_first[i],
                     i);
        if (ok && capvi_policy_op_of(r->op) == CAPV_POLICY_OP_UNKNOWN)
            ok = add(d, &ix, capvi_json_get(rnode, "op"), "E2001", E, r->id,
                     "rule \"%s\": unknown op \"%s\" (allowed: non_membership, eq, "
                     "range_min)",
                     r->id, CAPV_CLIP(r->op));
        const cJSON *sides[2] = { r->lhs, r->rhs };
        for (size_t s = 0; ok && s < 2; s++) {
            const char *v = capvi_policy_operand_var(sides[s], true);
            if (v == NULL)
                continue;
            if (capvi_name_find(x.inputs, x.ninputs, v) != NULL)
                mark_used(&x, v);
            else
                ok = add(d, &ix, sides[s], "E2003", E, r->id,
                         "rule \"%s\": %s references \"%s\", which is not a declared input", r->id,
                         s == 0 ? "lhs" : "rhs", CAPV_CLIP(v));
        }
    }

    if (ok && p->adaptivity != NULL) {
        const cJSON *preds = capvi_json_get(p->adaptivity, "predicates");
        const cJSON *acts = capvi_json_get(p->adaptivity, "activations");
        size_t i = 0;
        for (const cJSON *pr = preds->child; ok && pr; pr = pr->next, i++) {
            const char *id = capvi_json_get(pr, "id")->valuestring, *why = NULL;
            if (x.pred_first[i] != i)
                ok = add(d, &ix, capvi_json_get(pr, "id"), "E1005", E, NULL,
                         "duplicate predicate id \"%s\"", CAPV_CLIP(id));
            const cJSON *expr = capvi_json_get(pr, "expr");
            if (ok && !capvi_policy_predicate_valid(expr, &why))
                ok = add(d, &ix, expr, "E2002", E, NULL, "predicate \"%s\": expr %s", CAPV_CLIP(id),
                         why);
            else if (ok)
                expr_vars(&x, expr);
        }
        for (const cJSON *a = acts->child; ok && a; a = a->next) {
            const char *when = capvi_json_get(a, "when")->valuestring;
            if (capvi_name_find(x.preds, x.npreds, when) == NULL)
                ok = add(d, &ix, capvi_json_get(a, "when"), "E1004", E, NULL,
                         "activation names unknown predicate \"%s\"", CAPV_CLIP(when));
            for (const cJSON *rid = capvi_json_get(a, "rules")->child; ok && rid; rid = rid->next)
                if (capvi_name_find(x.rules, p->nrules, rid->valuestring) == NULL)
                    ok = add(d, &ix, rid, "E1001", E, NULL,
                             "activation \"%s\" names unknown rule \"%s\"", CAPV_CLIP(when),
                             CAPV_CLIP(rid->valuestring));
        }
    }

    /* by name, so the order does not depend on how the inputs were written */
    for (size_t i = 0; ok && i < x.ninputs; i++)
        if (!x.used[x.inputs[i].pos])
            ok = add(d, &ix, x.input_nodes[x.inputs[i].pos], "W2001", W, NULL,
                     "input \"%s\" is declared but no rule or predicate uses it",
                     CAPV_CLIP(x.inputs[i].key));
    lint_ctx_free(&x);
    free(ix.marks);
    if (!ok) {
        capv_policy_diagnostics_free(d);
        return capvi_err_nomem(err);
    }
    *out = d;
    return CAPV_OK;
}

capv_status capv_policy_lint(capv_policy_diagnostics **out, const capv_policy *p,
                             capv_policy_lint_mode mode, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || p == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    return capvi_err_done(err, capvi_policy_lint_run(out, p, mode, err));
}

void capv_policy_diagnostics_free(capv_policy_diagnostics *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].message);
        free(d->items[i].rule_id);
    }
    free(d->items);
    free(d);
}

size_t capv_policy_diagnostics_count(const capv_policy_diagnostics *d)
{
    return d ? d->n : 0;
}

size_t capv_policy_diagnostics_errors(const capv_policy_diagnostics *d)
{
    return d ? d->errors : 0;
}

static const diag *at(const capv_policy_diagnostics *d, size_t i)
{
    return d != NULL && i < d->n ? &d->items[i] : NULL;
}

const char *capv_policy_diagnostic_code(const capv_policy_diagnostics *d, size_t i)
{
    return at(d, i) ? at(d, i)->code : NULL;
}

capv_policy_lint_level capv_policy_diagnostic_level(const capv_policy_diagnostics *d, size_t i)
{
    return at(d, i) ? at(d, i)->level : CAPV_POLICY_LEVEL_ERROR;
}

const char *capv_policy_diagnostic_message(const capv_policy_diagnostics *d, size_t i)
{
    return at(d, i) ? at(d, i)->message : NULL;
}

const char *capv_policy_diagnostic_rule_id(const capv_policy_diagnostics *d, size_t i)
{
    return at(d, i) ? at(d, i)->rule_id : NULL;
}

bool capv_policy_diagnostic_position(const capv_policy_diagnostics *d, size_t i, unsigned *line,
                                     unsigned *column)
{
    const diag *x = at(d, i);
    if (line != NULL)
        *line = x ? x->line : 0;
    if (column != NULL)
        *column = x ? x->column : 0;
    return x != NULL && x->line > 0;
}

const char *capv_policy_lint_level_name(capv_policy_lint_level level)
{
    switch (level) {
    case CAPV_POLICY_LEVEL_ERROR: return "error";
    case CAPV_POLICY_LEVEL_WARNING: return "warning";
    }
    return "unknown";
}

capv_status capv_policy_diagnostics_to_json(char **out, size_t *out_len,
                                            const capv_policy_diagnostics *d, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || d == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_buf b = CAPV_BUF_INIT;
    capvi_buf_putc(&b, '[');
    for (size_t i = 0; i < d->n; i++) {
        const diag *x = &d->items[i];
        capvi_buf_puts(&b, i ? ",{\"code\":" : "{\"code\":");
        capvi_json_write_string(&b, x->code, strlen(x->code));
        capvi_buf_puts(&b, ",\"level\":");
        const char *lvl = capv_policy_lint_level_name(x->level);
        capvi_json_write_string(&b, lvl, strlen(lvl));
        capvi_buf_puts(&b, ",\"message\":");
        capvi_json_write_string(&b, x->message, strlen(x->message));
        capvi_buf_puts(&b, ",\"rule_id\":");
        if (x->rule_id != NULL)
            capvi_json_write_string(&b, x->rule_id, strlen(x->rule_id));
        else
            capvi_buf_puts(&b, "null");
        if (x->line > 0)
            capvi_buf_printf(&b, ",\"line\":%u,\"column\":%u", x->line, x->column);
        capvi_buf_putc(&b, '}');
    }
    capvi_buf_putc(&b, ']');
    size_t n = 0;
    *out = (char *)capvi_buf_take(&b, &n);
    if (*out == NULL)
        return capvi_err_nomem(err);
    if (out_len != NULL)
        *out_len = n;
    return capvi_err_done(err, CAPV_OK);
}
