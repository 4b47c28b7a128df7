/* SPDX-License-Identifier: Apache-2.0 */
/* Pages of recorded verifications and of stored policies (docs/registry.md, "Listing
 * verifications"), on either storage (registry_backend_int.h), and their JSON: what the
 * daemon's GET /registry/verifications and GET /policies answer. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_write_int.h"
#include "registry_backend_int.h"
#include "registry_db_int.h"

#define LIST_LIMIT_MAX 10000

struct capv_registry_verification_page {
    capv_registry_verification **items;
    size_t n;
    int64_t next;
};

struct capv_registry_policy_page {
    capv_registry_policy **items;
    size_t n;
    int64_t next;
};

capv_status capv_registry_list_verifications(capv_registry_verification_page **out,
                                             capv_registry *reg, const char *result, int64_t before,
                                             size_t limit, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || reg == NULL || before < 0 || limit == 0 || limit > LIST_LIMIT_MAX)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                             "invalid arguments (limit must be 1..10000, before >= 0)");
    if (result != NULL && strcmp(result, "ok") != 0 && strcmp(result, "warn") != 0 &&
        strcmp(result, "fail") != 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "result", "result must be ok, warn or fail");
    capv_error lerr_ = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr_;
    capv_registry_verification_page *p = calloc(1, sizeof *p);
    /* one more than asked tells whether a next page exists */
    capv_registry_verification **items = calloc(limit + 1, sizeof *items);
    if (p == NULL || items == NULL || (p->items = calloc(limit, sizeof *p->items)) == NULL) {
        free(p);
        free(items);
        return capvi_err_nomem(err);
    }
    size_t got = 0;
    capv_status st = reg->be->verification_list(items, &got, reg, result, before, limit + 1, err);
    for (size_t i = 0; i < got; i++) {
        if (i < limit)
            p->items[p->n++] = items[i];
        else
            capv_registry_verification_free(items[i]);
    }
    free(items);
    if (st == CAPV_OK && got > limit)
        p->next = p->items[p->n - 1]->seq;
    if (st != CAPV_OK) {
        capv_registry_verification_page_free(p);
        return capvi_reg_note(reg, st, err);
    }
    *out = p;
    return capvi_err_done(err, capvi_reg_note(reg, CAPV_OK, err));
}

size_t capv_registry_verification_page_count(const capv_registry_verification_page *p)
{
    return p ? p->n : 0;
}

const capv_registry_verification *
capv_registry_verification_page_get(const capv_registry_verification_page *p, size_t i)
{
    return p && i < p->n ? p->items[i] : NULL;
}

int64_t capv_registry_verification_page_next(const capv_registry_verification_page *p)
{
    return p ? p->next : 0;
}

void capv_registry_verification_page_free(capv_registry_verification_page *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        capv_registry_verification_free(p->items[i]);
    free(p->items);
    free(p);
}

capv_status capv_registry_list_policies(capv_registry_policy_page **out, capv_registry *reg,
                                        int64_t after, size_t limit, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || reg == NULL || after < 0 || limit == 0 || limit > LIST_LIMIT_MAX)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                             "invalid arguments (limit must be 1..10000, after >= 0)");
    capv_error lerr_ = CAPV_ERROR_INIT;
    if (err == NULL)
        err = &lerr_;
    capv_registry_policy_page *p = calloc(1, sizeof *p);
    capv_registry_policy **items = calloc(limit + 1, sizeof *items);
    int64_t *seqs = calloc(limit + 1, sizeof *seqs);
    if (p == NULL || items == NULL || seqs == NULL ||
        (p->items = calloc(limit, sizeof *p->items)) == NULL) {
        free(p);
        free(items);
        free(seqs);
        return capvi_err_nomem(err);
    }
    size_t got = 0;
    capv_status st = reg->be->policy_list(items, seqs, &got, reg, after, limit + 1, err);
    for (size_t i = 0; i < got; i++) {
        if (i < limit)
            p->items[p->n++] = items[i];
        else
            capv_registry_policy_free(items[i]);
    }
    free(items);
    if (st == CAPV_OK && got > limit)
        p->next = seqs[limit - 1];
    free(seqs);
    if (st != CAPV_OK) {
        capv_registry_policy_page_free(p);
        return capvi_reg_note(reg, st, err);
    }
    *out = p;
    return capvi_err_done(err, capvi_reg_note(reg, CAPV_OK, err));
}

size_t capv_registry_policy_page_count(const capv_registry_policy_page *p)
{
    return p ? p->n : 0;
}

const capv_registry_policy *capv_registry_policy_page_get(const capv_registry_policy_page *p,
                                                          size_t i)
{
    return p && i < p->n ? p->items[i] : NULL;
}

int64_t capv_registry_policy_page_next(const capv_registry_policy_page *p)
{
    return p ? p->next : 0;
}

void capv_registry_policy_page_free(capv_registry_policy_page *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        capv_registry_policy_free(p->items[i]);
    free(p->items);
    free(p);
}

/* ---- JSON -------------------------------------------------------------------------------- */

/* ,"name":"value" (or null) */
static void member(capv_buf *b, const char *name, const char *value)
{
    capvi_buf_printf(b, ",\"%s\":", name);
    if (value != NULL)
        capvi_json_write_string(b, value, strlen(value));
    else
        capvi_buf_puts(b, "null");
}

static capv_status finish(char **out, size_t *out_len, capv_buf *b, int64_t next, capv_error *err)
{
    if (next > 0)
        capvi_buf_printf(b, "],\"next\":%lld}", (long long)next);
    else
        capvi_buf_puts(b, "],\"next\":null}");
    *out = (char *)capvi_buf_take(b, out_len);
    return capvi_err_done(err, *out ? CAPV_OK : capvi_err_nomem(err));
}

capv_status capv_registry_verification_page_to_json(char **out, size_t *out_len,
                                                    const capv_registry_verification_page *page,
                                                    capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || page == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_buf b = CAPV_BUF_INIT;
    capvi_buf_puts(&b, "{\"verifications\":[");
    for (size_t i = 0; i < page->n; i++) {
        const capv_registry_verification *v = page->items[i];
        capvi_buf_printf(&b, "%s{\"seq\":%lld", i ? "," : "", (long long)v->seq);
        member(&b, "request_id", v->request_id);
        member(&b, "subject", v->subject);
        member(&b, "manifest_hash", v->manifest_hash);
        member(&b, "proof_hash", v->proof_hash);
        member(&b, "policy_hash", v->policy_hash);
        member(&b, "result", v->result);
        member(&b, "verified_at", v->verified_at);
        capvi_buf_putc(&b, '}');
    }
    return finish(out, out_len, &b, page->next, err);
}

capv_status capv_registry_policy_page_to_json(char **out, size_t *out_len,
                                              const capv_registry_policy_page *page,
                                              capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || page == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_buf b = CAPV_BUF_INIT;
    capvi_buf_puts(&b, "{\"policies\":[");
    for (size_t i = 0; i < page->n; i++) {
        const capv_registry_policy *pol = page->items[i];
        capvi_buf_puts(&b, i ? ",{\"policy_id\":" : "{\"policy_id\":");
        capvi_json_write_string(&b, pol->policy_id, strlen(pol->policy_id));
        member(&b, "policy_version", pol->policy_version);
        member(&b, "policy_hash", pol->policy_hash);
        member(&b, "ir_hash", pol->ir_hash);
        member(&b, "created_at", pol->created_at);
        capvi_buf_putc(&b, '}');
    }
    return finish(out, out_len, &b, page->next, err);
}
