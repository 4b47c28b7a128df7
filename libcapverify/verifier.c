/* Verifier configuration: trust store, known policies, JSON registry, TSA roots, clock;
 * and verification options. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_int.h"
#include "verify_int.h"

#define CONFIG_FILE_MAX (64u * 1024u * 1024u)

capv_status capv_verifier_new(capv_verifier **out, capv_error *err)
{
    if (out == NULL)
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_verifier *v = calloc(1, sizeof *v);
    if (v == NULL)
        return capv_err_nomem(err);
    v->clock = capv_clock_system;
    *out = v;
    return CAPV_OK;
}

static void registry_clear(capv_verifier *v)
{
    for (size_t i = 0; i < v->nregistry; i++) {
        free(v->registry[i].id);
        free(v->registry[i].signed_bytes);
    }
    free(v->registry);
    v->registry = NULL;
    v->nregistry = 0;
    v->has_registry = false;
}

void capv_verifier_free(capv_verifier *v)
{
    if (v == NULL)
        return;
    capv_trust_store_free(v->trust);
    free(v->policies);
    registry_clear(v);
    capv_tsa_store_free(v->tsa);
    free(v);
}

capv_status capv_verifier_load_trust(capv_verifier *v, const char *path, capv_error *err)
{
    if (v == NULL || path == NULL)
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_trust_store *s = NULL;
    capv_status st = capv_trust_store_load(&s, path, err);
    if (st == CAPV_OK)
        capv_verifier_set_trust_store(v, s);
    return st;
}

void capv_verifier_set_trust_store(capv_verifier *v, capv_trust_store *store)
{
    if (v == NULL)
        return;
    capv_trust_store_free(v->trust);
    v->trust = store;
}

const capv_trust_store *capv_verifier_trust_store(const capv_verifier *v)
{
    return v ? v->trust : NULL;
}

static capv_status add_policy(capv_verifier *v, const uint8_t d[32], capv_error *err)
{
    if (capv_verifier_knows_policy(v, d))
        return CAPV_OK;
    if (v->npolicies == v->cappolicies) {
        size_t cap = v->cappolicies ? v->cappolicies * 2 : 8;
        uint8_t(*p)[32] = realloc(v->policies, cap * sizeof *p);
        if (p == NULL)
            return capv_err_nomem(err);
        v->policies = p;
        v->cappolicies = cap;
    }
    memcpy(v->policies[v->npolicies++], d, 32);
    return CAPV_OK;
}

capv_status capv_verifier_add_policy_hash(capv_verifier *v, const char *hash, capv_error *err)
{
    if (v == NULL || hash == NULL)
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    uint8_t d[32];
    capv_status st = capv_digest_parse(d, hash, strlen(hash), err);
    return st == CAPV_OK ? add_policy(v, d, err) : st;
}

bool capv_verifier_knows_policy(const capv_verifier *v, const uint8_t hash[32])
{
    for (size_t i = 0; v && i < v->npolicies; i++)
        if (memcmp(v->policies[i], hash, 32) == 0)
            return true;
    return false;
}

static capv_status read_whole(uint8_t **out, size_t *len, const char *path, capv_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return capv_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, path,
                            "cannot open '%s': %s", path, strerror(errno));
    capv_buf b = CAPV_BUF_INIT;
    b.max = CONFIG_FILE_MAX;
    uint8_t chunk[16384];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        capv_buf_append(&b, chunk, n);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || b.failed) {
        capv_buf_free(&b);
        return capv_err_set(err, bad ? CAPV_E_IO : CAPV_E_LIMIT, path, "cannot read '%s'", path);
    }
    *out = capv_buf_take(&b, len);
    return *out ? CAPV_OK : capv_err_nomem(err);
}

/* One policy IR v1 file: its ir_hash must be the SHA3-256 of its compact form with ir_hash
 * set to "" (SPEC §5); its policy_hash becomes known. */
static capv_status load_ir(capv_verifier *v, const char *path, capv_error *err)
{
    uint8_t *data = NULL, *compact = NULL;
    size_t len = 0, clen = 0;
    cJSON *root = NULL;
    capv_status st = CAPV_OK;
    CAPV_TRY(read_whole(&data, &len, path, err));
    if ((st = capv_json_parse(&root, data, len, err)) != CAPV_OK) {
        char msg[CAPV_ERROR_MESSAGE_SIZE];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        CAPV_FAIL(err, st, path, "%s: %s", path, msg);
    }
    const char *ir_hash = NULL, *policy_hash = NULL, *irv = NULL;
    if (capv_json_get_string(&irv, root, "", "ir_version", true, NULL) != CAPV_OK ||
        capv_json_get_string(&ir_hash, root, "", "ir_hash", true, NULL) != CAPV_OK ||
        capv_json_get_string(&policy_hash, root, "", "policy_hash", true, NULL) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_MALFORMED, path,
                  "%s: not a policy IR (needs ir_version, policy_hash, ir_hash)", path);
    uint8_t want[32], got[32], ph[32];
    if (capv_digest_parse(want, ir_hash, strlen(ir_hash), NULL) != CAPV_OK ||
        capv_digest_parse(ph, policy_hash, strlen(policy_hash), NULL) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_MALFORMED, path, "%s: ir_hash/policy_hash are not digests", path);
    cJSON *empty = cJSON_CreateString("");
    if (empty == NULL || !cJSON_ReplaceItemInObjectCaseSensitive(root, "ir_hash", empty)) {
        cJSON_Delete(empty);
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    }
    capv_buf b = CAPV_BUF_INIT;
    capv_json_write_compact(&b, root, 0);
    if ((compact = capv_buf_take(&b, &clen)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    CAPV_TRY(capv_hash(got, CAPV_HASH_SHA3_256, compact, clen, err));
    if (memcmp(got, want, 32) != 0)
        CAPV_FAIL(err, CAPV_E_MISMATCH, path, "%s: ir_hash does not match the IR (tampered?)",
                  path);
    st = add_policy(v, ph, err);
out:
    free(data);
    free(compact);
    cJSON_Delete(root);
    return st;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

capv_status capv_verifier_load_policy_dir(capv_verifier *v, const char *dir, capv_error *err)
{
    if (v == NULL || dir == NULL)
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    DIR *d = opendir(dir);
    if (d == NULL)
        return capv_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, dir,
                            "cannot open policy directory '%s': %s", dir, strerror(errno));
    capv_status st = CAPV_OK;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (nn == NULL)
                CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
            names = nn;
        }
        if ((names[n] = strdup(de->d_name)) == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
        n++;
    }
    if (n > 1)
        qsort(names, n, sizeof *names, str_cmp);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        CAPV_TRY(load_ir(v, path, err));
    }
out:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return st;
}

/* The byte string an entry signature covers (SPEC §3.7). */
static capv_status entry_signed_bytes(capv_registry_entry *e, const char *id, const char *mh,
                                      const char *ph, const char *ts, const char *at,
                                      capv_error *err)
{
    capv_buf b = CAPV_BUF_INIT;
    capv_buf_puts(&b, "{\"id\":");
    capv_json_write_string(&b, id, strlen(id));
    capv_buf_puts(&b, ",\"manifest_hash\":");
    capv_json_write_string(&b, mh, strlen(mh));
    capv_buf_puts(&b, ",\"proof_hash\":");
    capv_json_write_string(&b, ph, strlen(ph));
    capv_buf_puts(&b, ",\"timestamp_file\":");
    if (ts != NULL)
        capv_json_write_string(&b, ts, strlen(ts));
    else
        capv_buf_puts(&b, "null");
    capv_buf_puts(&b, ",\"registered_at\":");
    capv_json_write_string(&b, at, strlen(at));
    capv_buf_putc(&b, '}');
    e->signed_bytes = capv_buf_take(&b, &e->signed_len);
    return e->signed_bytes ? CAPV_OK : capv_err_nomem(err);
}

static capv_status decode_bytes(uint8_t *out, size_t want, const char *text, capv_error *err,
                                const char *field)
{
    size_t n = 0, len = strlen(text);
    uint8_t buf[CAPV_BASE64_DECODED_MAX(200)];
    if (len >= 2 && text[0] == '0' && text[1] == 'x') {
        if (capv_hex_decode(out, want, text, len, NULL) == CAPV_OK)
            return CAPV_OK;
    } else if (len <= 200 && capv_base64_decode(buf, sizeof buf, &n, text, len, CAPV_BASE64_STD,
                                                NULL) == CAPV_OK &&
               n == want) {
        memcpy(out, buf, want);
        return CAPV_OK;
    }
    return capv_err_set(err, CAPV_E_MALFORMED, field,
                        "registry %s must be base64 or 0x-hex of %zu bytes", field, want);
}

static capv_status parse_entry(capv_registry_entry *e, const cJSON *o, capv_error *err)
{
    const char *id = NULL, *mh = NULL, *ph = NULL, *ts = NULL, *at = NULL, *sig = NULL,
               *pub = NULL, *scheme = NULL;
    capv_status st;
    if (!cJSON_IsObject(o))
        return capv_err_set(err, CAPV_E_MALFORMED, "entries[]", "registry entry is not an object");
    if ((st = capv_json_get_string(&id, o, "entry", "id", true, err)) != CAPV_OK ||
        (st = capv_json_get_string(&mh, o, "entry", "manifest_hash", true, err)) != CAPV_OK ||
        (st = capv_json_get_string(&ph, o, "entry", "proof_hash", true, err)) != CAPV_OK ||
        (st = capv_json_get_string(&at, o, "entry", "registered_at", true, err)) != CAPV_OK ||
        (st = capv_json_get_string(&sig, o, "entry", "signature", false, err)) != CAPV_OK ||
        (st = capv_json_get_string(&pub, o, "entry", "public_key", false, err)) != CAPV_OK ||
        (st = capv_json_get_string(&scheme, o, "entry", "signature_scheme", false, err)) != CAPV_OK)
        return st;
    const cJSON *tsi = capv_json_get(o, "timestamp_file");
    if (tsi != NULL && !cJSON_IsNull(tsi)) {
        if (!cJSON_IsString(tsi))
            return capv_err_set(err, CAPV_E_TYPE, "entry.timestamp_file",
                                "timestamp_file must be a string or null");
        ts = tsi->valuestring;
    }
    if (capv_digest_parse(e->manifest_hash, mh, strlen(mh), NULL) != CAPV_OK ||
        capv_digest_parse(e->proof_hash, ph, strlen(ph), NULL) != CAPV_OK)
        return capv_err_set(err, CAPV_E_MALFORMED, id, "entry '%s': hashes are not digests", id);
    if (scheme != NULL && strcasecmp(scheme, "ed25519") != 0)
        return capv_err_set(err, CAPV_E_UNSUPPORTED_FORMAT, id,
                            "entry '%s': unsupported signature_scheme '%s'", id, scheme);
    if (sig != NULL) {
        if ((st = decode_bytes(e->signature, 64, sig, err, "signature")) != CAPV_OK)
            return st;
        e->has_signature = true;
    }
    if (pub != NULL) {
        if ((st = decode_bytes(e->public_key, 32, pub, err, "public_key")) != CAPV_OK)
            return st;
        e->has_public_key = true;
    }
    if ((e->id = strdup(id)) == NULL)
        return capv_err_nomem(err);
    return entry_signed_bytes(e, id, mh, ph, ts, at, err);
}

capv_status capv_verifier_load_registry_json(capv_verifier *v, const char *path,
                                             capv_error *err)
{
    if (v == NULL || path == NULL)
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    uint8_t *data = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    capv_status st = CAPV_OK;
    registry_clear(v);
    CAPV_TRY(read_whole(&data, &len, path, err));
    CAPV_TRY(capv_json_parse(&root, data, len, err));
    const char *ver = NULL;
    const cJSON *entries = NULL;
    if (capv_json_get_string(&ver, root, "", "registry_version", true, NULL) != CAPV_OK ||
        strcmp(ver, "1.0") != 0 ||
        capv_json_get_array(&entries, root, "", "entries", true, NULL) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_MALFORMED, path,
                  "%s: expected {\"registry_version\":\"1.0\",\"entries\":[...]}", path);
    size_t n = (size_t)cJSON_GetArraySize(entries);
    v->registry = calloc(n ? n : 1, sizeof *v->registry);
    if (v->registry == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    for (const cJSON *e = entries->child; e; e = e->next) {
        v->nregistry++;
        CAPV_TRY(parse_entry(&v->registry[v->nregistry - 1], e, err));
    }
    v->has_registry = true;
out:
    if (st != CAPV_OK)
        registry_clear(v);
    free(data);
    cJSON_Delete(root);
    return st;
}

const capv_registry_entry *capv_verifier_find_entry(const capv_verifier *v,
                                                     const uint8_t manifest_hash[32],
                                                     const uint8_t proof_hash[32])
{
    for (size_t i = 0; v && i < v->nregistry; i++)
        if (memcmp(v->registry[i].manifest_hash, manifest_hash, 32) == 0 &&
            memcmp(v->registry[i].proof_hash, proof_hash, 32) == 0)
            return &v->registry[i];
    return NULL;
}

capv_status capv_verifier_load_tsa_roots(capv_verifier *v, const char *pem_file, capv_error *err)
{
    if (v == NULL || pem_file == NULL)
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_tsa_store *s = NULL;
    capv_status st = capv_tsa_store_load(&s, pem_file, err);
    if (st == CAPV_OK) {
        capv_tsa_store_free(v->tsa);
        v->tsa = s;
    }
    return st;
}

void capv_verifier_set_clock(capv_verifier *v, capv_clock_fn clock, void *user)
{
    if (v == NULL)
        return;
    v->clock = clock ? clock : capv_clock_system;
    v->clock_user = clock ? user : NULL;
}

/* ---- options --------------------------------------------------------------------------- */

void capv_verify_options_default(capv_verify_options *o)
{
    memset(o, 0, sizeof *o);
    o->require_signature = true;
    o->mock = CAPV_MOCK_WARN;
    o->leeway_s = 300;
}

capv_status capv_verify_options_new(capv_verify_options **out, capv_error *err)
{
    if (out == NULL)
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = malloc(sizeof **out);
    if (*out == NULL)
        return capv_err_nomem(err);
    capv_verify_options_default(*out);
    return CAPV_OK;
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

capv_status capv_verify_options_set(capv_verify_options *o, capv_option opt, int enabled,
                                    capv_error *err)
{
    bool *slot = o ? option_slot(o, opt) : NULL;
    if (slot == NULL)
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown option %d", (int)opt);
    *slot = enabled != 0;
    return CAPV_OK;
}

int capv_verify_options_get(const capv_verify_options *o, capv_option opt)
{
    bool *slot = o ? option_slot((capv_verify_options *)o, opt) : NULL;
    return slot ? *slot : -1;
}

capv_status capv_verify_options_set_mock_policy(capv_verify_options *o, capv_mock_policy p,
                                                capv_error *err)
{
    if (o == NULL || (p != CAPV_MOCK_WARN && p != CAPV_MOCK_FAIL && p != CAPV_MOCK_ACCEPT))
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "invalid mock policy");
    o->mock = p;
    return CAPV_OK;
}

capv_status capv_verify_options_set_limits(capv_verify_options *o,
                                           const capv_package_limits *limits, capv_error *err)
{
    if (o == NULL || limits == NULL)
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    o->limits = *limits;
    o->has_limits = true;
    return CAPV_OK;
}

capv_status capv_verify_options_set_timestamp_leeway(capv_verify_options *o, int64_t seconds,
                                                     capv_error *err)
{
    if (o == NULL || seconds < 0 || seconds > 86400)
        return capv_err_set(err, CAPV_E_INVALID_ARG, NULL, "leeway must be 0..86400 seconds");
    o->leeway_s = seconds;
    return CAPV_OK;
}

void capv_verify_options_free(capv_verify_options *o)
{
    free(o);
}
