/* SPDX-License-Identifier: Apache-2.0 */
/* Verifier configuration: trust store, known policies, registry (JSON or SQLite, through the
 * registry module), TSA roots, clock, report cache and epoch; and verification options. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_int.h"
#include "json_int.h"
#include "policy_int.h"
#include "verify_int.h"

#define CONFIG_FILE_MAX (64u * 1024u * 1024u)

/* Epochs are unique in the process, so two verifiers (or one verifier before and after a
 * change) never produce the same report-cache key. */
static atomic_uint_fast64_t next_epoch = 1;

static void bump_epoch(capv_verifier *v)
{
    v->epoch = atomic_fetch_add(&next_epoch, 1);
}

uint64_t capv_verifier_epoch(const capv_verifier *v)
{
    return v ? v->epoch : 0;
}

void capv_verifier_set_cache(capv_verifier *v, capv_cache *cache)
{
    if (v != NULL)
        v->cache = cache;
}

capv_status capv_verifier_new(capv_verifier **out, capv_error *err)
{
    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_verifier *v = calloc(1, sizeof *v);
    if (v == NULL)
        return capvi_err_nomem(err);
    v->clock = capv_clock_system;
    bump_epoch(v);
    *out = v;
    return capvi_err_done(err, CAPV_OK);
}

static void registry_clear(capv_verifier *v)
{
    if (v->owns_registry)
        capv_registry_close(v->registry);
    v->registry = NULL;
    v->owns_registry = false;
}

void capv_verifier_free(capv_verifier *v)
{
    if (v == NULL)
        return;
    capv_trust_store_free(v->trust);
    free(v->policies);
    registry_clear(v);
    capvi_tsa_store_free(v->tsa);
    free(v);
}

capv_status capv_verifier_load_trust(capv_verifier *v, const char *path, capv_error *err)
{
    if (v == NULL || path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_trust_store *s = NULL;
    capv_status st = capv_trust_store_load(&s, path, err);
    if (st == CAPV_OK)
        capv_verifier_take_trust_store(v, s);
    return capvi_err_done(err, st);
}

void capv_verifier_take_trust_store(capv_verifier *v, capv_trust_store *store)
{
    if (v == NULL)
        return;
    capv_trust_store_free(v->trust);
    v->trust = store;
    bump_epoch(v);
}

const capv_trust_store *capv_verifier_trust_store(const capv_verifier *v)
{
    return v ? v->trust : NULL;
}

static capv_status add_policy(capv_verifier *v, const uint8_t d[32], capv_error *err)
{
    if (capvi_verifier_knows_policy(v, d))
        return CAPV_OK;
    if (v->npolicies == v->cappolicies) {
        size_t cap = v->cappolicies ? v->cappolicies * 2 : 8;
        uint8_t(*p)[32] = realloc(v->policies, cap * sizeof *p);
        if (p == NULL)
            return capvi_err_nomem(err);
        v->policies = p;
        v->cappolicies = cap;
    }
    memcpy(v->policies[v->npolicies++], d, 32);
    bump_epoch(v);
    return CAPV_OK;
}

capv_status capv_verifier_add_policy_hash(capv_verifier *v, const char *hash, capv_error *err)
{
    if (v == NULL || hash == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    uint8_t d[32];
    capv_status st = capv_digest_parse(d, hash, strlen(hash), err);
    return capvi_err_done(err, st == CAPV_OK ? add_policy(v, d, err) : st);
}

bool capvi_verifier_knows_policy(const capv_verifier *v, const uint8_t hash[32])
{
    for (size_t i = 0; v && i < v->npolicies; i++)
        if (memcmp(v->policies[i], hash, 32) == 0)
            return true;
    return false;
}

/* One policy IR v1 file, loaded as every IR is (capv_policy_ir_load: its shape, ir_version,
 * and ir_hash recomputed over the canonical form, docs/policies.md "Hashes"); its
 * policy_hash becomes known. */
static capv_status load_ir(capv_verifier *v, const char *path, capv_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    capv_policy_ir *ir = NULL;
    capv_status st = CAPV_OK;
    CAPV_TRY(capvi_file_read(&data, &len, path, CONFIG_FILE_MAX, "policy", err));
    capv_error lerr = CAPV_ERROR_INIT;
    if ((st = capv_policy_ir_load(&ir, data, len, &lerr)) != CAPV_OK)
        CAPV_FAIL(err, st, path, "%s: %s", path, lerr.message);
    uint8_t ph[32];
    const char *hash = capv_policy_ir_policy_hash(ir);
    if (hash == NULL || capv_digest_parse(ph, hash, strlen(hash), NULL) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_MALFORMED, path, "%s: the IR's policy_hash is not a digest", path);
    st = add_policy(v, ph, err);
out:
    free(data);
    capv_policy_ir_free(ir);
    return st;
}

/* ---- policy source files (policy module, docs/policies.md) ------------------------------
 * "*.yml" / "*.yaml" in the policy directory are policy sources: a PolicyV2 is compiled in
 * strict lint mode (lint errors fail the load: a broken policy is not trusted) and its
 * policy_hash becomes known; an older policy v1 file makes its "0x…" hash known. */
static bool is_policy_source(const char *name)
{
    size_t l = strlen(name);
    return (l > 4 && strcmp(name + l - 4, ".yml") == 0) ||
           (l > 5 && strcmp(name + l - 5, ".yaml") == 0);
}

static capv_status load_policy_source(capv_verifier *v, const char *path, capv_error *err)
{
    uint8_t *data = NULL, hash[32];
    size_t len = 0;
    capv_status st = capvi_file_read(&data, &len, path, CONFIG_FILE_MAX, "policy", err);
    if (st != CAPV_OK)
        return st;
    st = capvi_policy_source_hash(hash, NULL, data, len, CAPV_POLICY_FORMAT_YAML, err);
    free(data);
    if (st != CAPV_OK) {
        char msg[CAPV_ERROR_MESSAGE_SIZE];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return capvi_err_set(err, st, path, "%s: %s", path, msg);
    }
    return add_policy(v, hash, err);
}

static bool is_policy_file(const char *name)
{
    size_t l = strlen(name);
    return (l > 5 && strcmp(name + l - 5, ".json") == 0) || is_policy_source(name);
}

capv_status capv_verifier_load_policy_dir(capv_verifier *v, const char *dir, capv_error *err)
{
    if (v == NULL || dir == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    char **names = NULL;
    size_t n = 0;
    capv_status st = capvi_dir_list(&names, &n, dir, is_policy_file, err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        CAPV_TRY(is_policy_source(names[i]) ? load_policy_source(v, path, err)
                                            : load_ir(v, path, err));
    }
out:
    capvi_dir_list_free(names, n);
    return capvi_err_done(err, st);
}

/* A JSON registry (docs/registry.md, "JSON import / export") read into a private in-memory
 * registry: the same entry code (shapes, signed bytes, signatures) as the SQLite registry.
 * Signatures are not checked at load: a bad one is a verdict of the `registry` check, not a load
 * failure. */
capv_status capv_verifier_load_registry_json(capv_verifier *v, const char *path, capv_error *err)
{
    if (v == NULL || path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    uint8_t *data = NULL;
    size_t len = 0;
    capv_registry *reg = NULL;
    capv_status st = CAPV_OK;
    CAPV_TRY(capvi_file_read(&data, &len, path, CONFIG_FILE_MAX, "registry", err));
    CAPV_TRY(capv_registry_open(&reg, NULL, NULL, err));
    capv_error ierr = CAPV_ERROR_INIT;
    if ((st = capv_registry_import_json(NULL, NULL, reg, data, len, 0, NULL, NULL, &ierr)) !=
        CAPV_OK)
        CAPV_FAIL(err, st, ierr.field[0] ? ierr.field : path, "%s: %s", path, ierr.message);
    registry_clear(v);
    v->registry = reg;
    v->owns_registry = true;
    reg = NULL;
    bump_epoch(v);
out:
    capv_registry_close(reg);
    free(data);
    return capvi_err_done(err, st);
}

capv_status capv_verifier_load_registry(capv_verifier *v, const char *path, capv_error *err)
{
    if (v == NULL || path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return capvi_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, path,
                             "cannot open registry '%s': %s", path, strerror(errno));
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        ;
    fclose(f);
    if (c == '{')
        return capvi_err_done(err, capv_verifier_load_registry_json(v, path, err));
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_READ_ONLY;
    capv_registry *reg = NULL;
    capv_status st = capv_registry_open(&reg, path, &o, err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    registry_clear(v);
    v->registry = reg;
    v->owns_registry = true;
    bump_epoch(v);
    return capvi_err_done(err, CAPV_OK);
}

void capv_verifier_set_registry(capv_verifier *v, capv_registry *reg)
{
    if (v == NULL)
        return;
    registry_clear(v);
    v->registry = reg;
    v->owns_registry = false;
    bump_epoch(v);
}

capv_registry *capv_verifier_registry(const capv_verifier *v)
{
    return v ? v->registry : NULL;
}

capv_status capv_verifier_load_tsa_roots(capv_verifier *v, const char *pem_file, capv_error *err)
{
    if (v == NULL || pem_file == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_tsa_store *s = NULL;
    capv_status st = capvi_tsa_store_load(&s, pem_file, err);
    if (st == CAPV_OK) {
        capvi_tsa_store_free(v->tsa);
        v->tsa = s;
        bump_epoch(v);
    }
    return capvi_err_done(err, st);
}

void capv_verifier_set_clock(capv_verifier *v, capv_clock_fn clock, void *user)
{
    if (v == NULL)
        return;
    v->clock = clock ? clock : capv_clock_system;
    v->clock_user = clock ? user : NULL;
    bump_epoch(v);
}

/* ---- options --------------------------------------------------------------------------- */

void capvi_verify_options_default(capv_verify_options *o)
{
    memset(o, 0, sizeof *o);
    o->require_signature = true;
    o->mock = CAPV_MOCK_WARN;
    o->leeway_s = 300;
}

capv_status capv_verify_options_new(capv_verify_options **out, capv_error *err)
{
    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = malloc(sizeof **out);
    if (*out == NULL)
        return capvi_err_nomem(err);
    capvi_verify_options_default(*out);
    return capvi_err_done(err, CAPV_OK);
}

static bool *option_slot(capv_verify_options *o, capv_option opt)
{
    switch (opt) {
    case CAPV_OPT_REQUIRE_SIGNATURE: return &o->require_signature;
    case CAPV_OPT_REQUIRE_TIMESTAMP: return &o->require_timestamp;
    case CAPV_OPT_CHECK_REGISTRY: return &o->check_registry;
    case CAPV_OPT_STRICT: return &o->strict;
    case CAPV_OPT_ALLOW_UNTRUSTED: return &o->allow_untrusted;
    }
    return NULL;
}

capv_status capv_verify_options_set(capv_verify_options *o, capv_option opt, bool enabled,
                                    capv_error *err)
{
    bool *slot = o ? option_slot(o, opt) : NULL;
    if (slot == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown option %d", (int)opt);
    *slot = enabled;
    return capvi_err_done(err, CAPV_OK);
}

bool capv_verify_options_get(const capv_verify_options *o, capv_option opt)
{
    bool *slot = o ? option_slot((capv_verify_options *)o, opt) : NULL;
    return slot != NULL && *slot;
}

capv_status capv_verify_options_set_mock_policy(capv_verify_options *o, capv_mock_policy p,
                                                capv_error *err)
{
    if (o == NULL || (p != CAPV_MOCK_WARN && p != CAPV_MOCK_FAIL && p != CAPV_MOCK_ACCEPT))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "invalid mock policy");
    o->mock = p;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_verify_options_set_limits(capv_verify_options *o,
                                           const capv_package_limits *limits, capv_error *err)
{
    if (o == NULL || limits == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    o->limits = *limits;
    o->has_limits = true;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_verify_options_set_timestamp_leeway(capv_verify_options *o, int64_t seconds,
                                                     capv_error *err)
{
    if (o == NULL || seconds < 0 || seconds > 86400)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "leeway must be 0..86400 seconds");
    o->leeway_s = seconds;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_verify_options_set_audit_log(capv_verify_options *o, const uint8_t *data,
                                              size_t len, capv_error *err)
{
    if (o == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    o->audit_log = data;
    o->audit_log_len = data != NULL ? len : 0;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_verify_options_copy(capv_verify_options **out, const capv_verify_options *o,
                                     capv_error *err)
{
    if (out == NULL || o == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = malloc(sizeof **out);
    if (*out == NULL)
        return capvi_err_nomem(err);
    **out = *o;
    return capvi_err_done(err, CAPV_OK);
}

void capv_verify_options_free(capv_verify_options *o)
{
    free(o);
}
