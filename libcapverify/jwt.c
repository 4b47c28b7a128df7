/* SPDX-License-Identifier: Apache-2.0 */
/* JWT validation (docs/auth.md): JWS compact parsing, key selection and signature check, claims,
 * the validator and its verified-token cache. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global_int.h"
#include "jwt_int.h"

#define SCOPES_MAX 256u
#define CLAIM_STRING_MAX 4096u
#define CACHE_ENTRY_BYTES 4096u
#define CACHE_TTL_MS (15 * 60 * 1000)
#define CLAIMS_STACK_BYTES 2048 /* a claims tree's memory on the stack */

/* Stable reasons (jwt.h). */
#define R_OK "ok"
#define R_MALFORMED "malformed"
#define R_TOO_LARGE "token_too_large"
#define R_ALG "alg_not_allowed"
#define R_KEY_ALG "key_alg_mismatch"
#define R_CRIT "crit_unsupported"
#define R_KID "unknown_kid"
#define R_SIG "bad_signature"
#define R_EXPIRED "expired"
#define R_NBF "not_yet_valid"
#define R_IAT "iat_in_future"
#define R_NO_EXP "missing_exp"
#define R_CLAIM "bad_claim"
#define R_ISS "bad_issuer"
#define R_AUD "bad_audience"
#define R_LIFETIME "lifetime_too_long"
#define R_SCOPE "insufficient_scope"
#define R_UNAVAILABLE "jwks_unavailable"

const char *capv_jwt_reason_of(capv_status st)
{
    switch (st) {
    case CAPV_OK: return R_OK;
    case CAPV_E_SIGNATURE: return R_SIG;
    case CAPV_E_ALG_NOT_ALLOWED: return R_ALG;
    case CAPV_E_UNTRUSTED: return R_KID;
    case CAPV_E_EXPIRED: return R_EXPIRED;
    case CAPV_E_NOT_YET_VALID: return R_NBF;
    case CAPV_E_CLAIM: return R_CLAIM;
    case CAPV_E_SCOPE: return R_SCOPE;
    default: break;
    }
    switch (capv_status_class_of(st)) {
    case CAPV_CLASS_REJECTED:
    case CAPV_CLASS_MALFORMED: return R_MALFORMED;
    case CAPV_CLASS_UNAVAILABLE: return R_UNAVAILABLE;
    default: return "internal";
    }
}

/* Records a rejection: sets the reason and the error, returns the status. */
static capv_status reject(const char **reason, const char *why, capv_error *err, capv_status st,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static capv_status reject(const char **reason, const char *why, capv_error *err, capv_status st,
                          const char *fmt, ...)
{
    char msg[CAPV_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *reason = why;
    return capvi_err_set(err, st, why, "%s", msg);
}

/* Records a rejection in a function with a `st` variable and an `out:` label. */
#define REJECT(why, status, ...)                                                                   \
    do {                                                                                           \
        st = reject(reason, why, err, status, __VA_ARGS__);                                        \
        goto out;                                                                                  \
    } while (0)

/* ---- JWS compact ------------------------------------------------------------------------ */

/* Bytes of a decoded JWS header kept on the stack (headers are usually under 200). */
#define HEADER_STACK_BYTES 384

static capv_status b64u_decode(uint8_t **out, size_t *out_len, const uint8_t *text, size_t len)
{
    size_t cap = CAPV_BASE64_DECODED_MAX(len);
    uint8_t *buf = malloc(cap ? cap : 1);
    if (buf == NULL)
        return CAPV_E_NOMEM;
    capv_status st =
        capv_base64_decode(buf, cap, out_len, (const char *)text, len, CAPV_BASE64_URL, NULL);
    if (st != CAPV_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return CAPV_OK;
}

void capvi_jws_clear(capv_jws *jws)
{
    if (jws == NULL)
        return;
    free(jws->kid_heap);
    free(jws->payload);
    free(jws->sig);
    memset(jws, 0, sizeof *jws);
}

static bool is_hs_or_none(const char *alg)
{
    return (alg[0] == 'H' && alg[1] == 'S') || strcasecmp(alg, "none") == 0;
}

/* The last JOSE header segment a thread parsed, and what it held (docs/auth.md, "Cost of a
 * validation"). Every token an issuer signs with one key carries the same header bytes, so a
 * segment equal to this one, byte for byte, is known without decoding or parsing it: its alg
 * (still checked against the caller's allow-list) and kid. Only headers that parsed, with a
 * kid short enough for the jws itself, are kept. */
#define HEADER_MEMO_BYTES 256
typedef struct header_memo {
    size_t len; /* of text; 0 when empty */
    capv_jwt_alg alg;
    bool has_kid;
    char text[HEADER_MEMO_BYTES];
    char kid[CAPV_JWS_KID_INLINE];
} header_memo;

static _Thread_local header_memo last_header;

static capv_status set_kid(capv_jws *jws, const char *kid)
{
    jws->has_kid = true;
    size_t n = strlen(kid);
    if (n < sizeof jws->kid_inline) {
        memcpy(jws->kid_inline, kid, n + 1);
        return CAPV_OK;
    }
    jws->kid_heap = strdup(kid);
    return jws->kid_heap != NULL ? CAPV_OK : CAPV_E_NOMEM;
}

/* Decodes and checks the header segment token[0..len), setting jws->alg and the kid. */
static capv_status parse_header(capv_jws *jws, const uint8_t *token, size_t len, unsigned int algs,
                                const char **reason, capv_error *err)
{
    header_memo *memo = &last_header;
    if (memo->len == len && memcmp(memo->text, token, len) == 0 &&
        (algs & CAPV_JWT_ALG_BIT(memo->alg)) != 0) {
        jws->alg = memo->alg;
        jws->has_kid = memo->has_kid;
        if (memo->has_kid)
            memcpy(jws->kid_inline, memo->kid, strlen(memo->kid) + 1);
        return CAPV_OK;
    }
    capv_status st;
    uint8_t *hdr = NULL;
    size_t hdr_len = 0;
    /* a typical header fits on the stack; a larger one gets its own buffer */
    uint8_t small[HEADER_STACK_BYTES];
    if (CAPV_BASE64_DECODED_MAX(len) <= sizeof small) {
        st = capv_base64_decode(small, sizeof small, &hdr_len, (const char *)token, len,
                                CAPV_BASE64_URL, NULL);
        hdr = small;
    } else {
        st = b64u_decode(&hdr, &hdr_len, token, len);
    }
    if (st == CAPV_E_NOMEM)
        return capvi_err_nomem(err);
    if (st != CAPV_OK)
        return reject(reason, R_MALFORMED, err, CAPV_E_REJECTED,
                      "JWS header is not strict base64url");
    cJSON *header = NULL;
    capv_error je = CAPV_ERROR_INIT;
    st = capvi_json_parse(&header, hdr, hdr_len, &je);
    if (hdr != small)
        free(hdr);
    if (st == CAPV_E_NOMEM)
        return capvi_err_nomem(err);
    if (st != CAPV_OK)
        return reject(reason, R_MALFORMED, err, CAPV_E_REJECTED, "JWS header: %s", je.message);
    if (!cJSON_IsObject(header))
        REJECT(R_MALFORMED, CAPV_E_REJECTED, "JWS header is not a JSON object");
    const cJSON *alg = capvi_json_get(header, "alg");
    if (!cJSON_IsString(alg))
        REJECT(R_MALFORMED, CAPV_E_REJECTED, "JWS header has no string \"alg\"");
    const char *name = alg->valuestring;
    capv_jwt_alg a = 0;
    if (is_hs_or_none(name) || capv_jwt_alg_from_name(&a, name, NULL) != CAPV_OK ||
        (algs & CAPV_JWT_ALG_BIT(a)) == 0)
        REJECT(R_ALG, CAPV_E_ALG_NOT_ALLOWED, "alg \"%.32s\" is %s", name,
               is_hs_or_none(name) ? "never allowed" : "not in the allow-list");
    jws->alg = a;
    const cJSON *crit = capvi_json_get(header, "crit");
    if (crit != NULL) {
        bool ok = cJSON_IsArray(crit) && crit->child != NULL;
        for (const cJSON *c = ok ? crit->child : NULL; c; c = c->next)
            ok = ok && cJSON_IsString(c);
        if (!ok)
            REJECT(R_MALFORMED, CAPV_E_REJECTED, "\"crit\" must be a non-empty array of strings");
        REJECT(R_CRIT, CAPV_E_REJECTED, "critical header extension \"%.64s\" is not understood",
               crit->child->valuestring);
    }
    const cJSON *kid = capvi_json_get(header, "kid");
    if (kid != NULL && !cJSON_IsString(kid))
        REJECT(R_MALFORMED, CAPV_E_REJECTED, "\"kid\" is not a string");
    /* an empty kid names no key: the token has none, as a JWK with "kid": "" (docs/auth.md,
     * "How a token is validated", step 6) */
    if (kid != NULL && kid->valuestring[0] != '\0' && set_kid(jws, kid->valuestring) != CAPV_OK) {
        st = capvi_err_nomem(err);
        goto out;
    }
    if (len <= sizeof memo->text && jws->kid_heap == NULL) {
        memo->len = len;
        memcpy(memo->text, token, len);
        memo->alg = a;
        memo->has_kid = jws->has_kid;
        if (jws->has_kid)
            memcpy(memo->kid, jws->kid_inline, strlen(jws->kid_inline) + 1);
    }
out:
    cJSON_Delete(header);
    return st;
}

capv_status capvi_jws_parse(capv_jws *jws, const uint8_t *token, size_t len, unsigned int algs,
                            const char **reason, capv_error *err)
{
    capv_status st = CAPV_OK;
    const char *dummy;
    if (reason == NULL)
        reason = &dummy;
    memset(jws, 0, sizeof *jws);
    if (token == NULL && len > 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL token");
    if (len > CAPV_JWT_MAX_TOKEN)
        return reject(reason, R_TOO_LARGE, err, CAPV_E_REJECTED, "token of %zu bytes exceeds %u",
                      len, CAPV_JWT_MAX_TOKEN);
    const uint8_t *d1 = memchr(token, '.', len);
    const uint8_t *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        return reject(reason, R_MALFORMED, err, CAPV_E_REJECTED,
                      "not a JWS compact serialization (three dot-separated parts)");
    size_t h_len = (size_t)(d1 - token), p_len = (size_t)(d2 - d1 - 1);
    size_t s_len = len - (size_t)(d2 + 1 - token);
    if (h_len == 0)
        return reject(reason, R_MALFORMED, err, CAPV_E_REJECTED, "empty JWS header");
    if ((st = parse_header(jws, token, h_len, algs, reason, err)) != CAPV_OK)
        goto out;
    if (s_len == 0) {
        st = reject(reason, R_MALFORMED, err, CAPV_E_REJECTED, "empty JWS signature");
        goto out;
    }
    st = b64u_decode(&jws->payload, &jws->payload_len, d1 + 1, p_len);
    if (st == CAPV_OK)
        st = b64u_decode(&jws->sig, &jws->sig_len, d2 + 1, s_len);
    if (st == CAPV_E_NOMEM) {
        st = capvi_err_nomem(err);
        goto out;
    }
    if (st != CAPV_OK) {
        st = reject(reason, R_MALFORMED, err, CAPV_E_REJECTED,
                    "JWS payload or signature is not strict base64url");
        goto out;
    }
    jws->signing_input = token;
    jws->signing_input_len = (size_t)(d2 - token);
out:
    if (st != CAPV_OK)
        capvi_jws_clear(jws);
    return st;
}

capv_status capvi_jws_verify_with_set(const capv_jws *jws, const capv_jwk_set *set,
                                      const char **reason, capv_error *err)
{
    const capv_jwk *key = NULL;
    const char *dummy;
    if (reason == NULL)
        reason = &dummy;
    size_t n = capv_jwk_set_count(set);
    const char *kid = capvi_jws_kid(jws);
    if (kid != NULL) {
        bool seen = false;
        for (size_t i = 0; i < n && key == NULL; i++) {
            const capv_jwk *k = &set->keys[i];
            if (strcmp(k->kid, kid) != 0)
                continue;
            seen = true;
            if (capv_jwk_allows(k, jws->alg))
                key = k;
        }
        if (key == NULL && seen)
            return reject(reason, R_KEY_ALG, err, CAPV_E_ALG_NOT_ALLOWED,
                          "key \"%.64s\" cannot verify %s", kid, capv_jwt_alg_name(jws->alg));
        if (key == NULL)
            return reject(reason, R_KID, err, CAPV_E_UNTRUSTED,
                          "no key with kid \"%.64s\" in the key set", kid);
    } else {
        size_t fits = 0;
        for (size_t i = 0; i < n; i++)
            if (capv_jwk_allows(&set->keys[i], jws->alg)) {
                key = &set->keys[i];
                fits++;
            }
        if (fits != 1)
            return reject(reason, R_KID, err, CAPV_E_UNTRUSTED,
                          "token has no (or an empty) kid and %zu keys in the set could "
                          "verify %s",
                          fits, capv_jwt_alg_name(jws->alg));
    }
    capv_error ve = CAPV_ERROR_INIT;
    capv_status st = capvi_jwk_verify(key, jws->alg, jws->sig, jws->sig_len, jws->signing_input,
                                      jws->signing_input_len, &ve);
    if (st == CAPV_E_SIGNATURE)
        return reject(reason, R_SIG, err, st, "%s", ve.message);
    if (st == CAPV_E_ALG_NOT_ALLOWED)
        return reject(reason, R_KEY_ALG, err, st, "%s", ve.message);
    if (st != CAPV_OK) {
        *reason = capv_jwt_reason_of(st);
        if (err)
            *err = ve;
    }
    return st;
}

/* ---- claims ----------------------------------------------------------------------------- */

struct capv_jwt_claims {
    int64_t exp, iat, nbf;
    capv_jwt_alg alg;
    const char *sub, *iss, *aud, *client_id, *kid;
    size_t nscopes;
    const char **scopes; /* after the struct, in its allocation */
    char *blob;          /* after the scopes, in the same allocation */
};

/* Serialized claims (the token cache's value and the single constructor's input):
 * a fixed header, then NUL-terminated strings sub, iss, aud, client_id, kid, scopes... */
typedef struct claims_hdr {
    uint32_t magic;
    uint32_t alg;
    int64_t exp, iat, nbf;
    uint32_t present; /* bit 0 sub, 1 client_id, 2 kid */
    uint32_t nscopes;
} claims_hdr;

#define CLAIMS_MAGIC 0x43574a31u /* "CWJ1" */

void capv_jwt_claims_free(capv_jwt_claims *c)
{
    if (c == NULL)
        return;
    free(c);
}

static capv_status claims_decode(capv_jwt_claims **out, const uint8_t *data, size_t len)
{
    claims_hdr h;
    if (len < sizeof h)
        return CAPV_E_INTERNAL;
    memcpy(&h, data, sizeof h);
    if (h.magic != CLAIMS_MAGIC || h.nscopes > SCOPES_MAX || data[len - 1] != '\0')
        return CAPV_E_INTERNAL;
    /* one allocation: the struct, the scope pointers, the strings */
    size_t blen = len - sizeof h;
    capv_jwt_claims *c = calloc(1, sizeof *c + h.nscopes * sizeof *c->scopes + blen);
    if (c == NULL)
        return CAPV_E_NOMEM;
    c->scopes = (const char **)(c + 1);
    c->blob = (char *)(c->scopes + h.nscopes);
    memcpy(c->blob, data + sizeof h, blen);
    const char *strs[5];
    size_t want = 5 + h.nscopes, got = 0;
    for (size_t off = 0; off < blen && got < want; got++) {
        const char *s = c->blob + off;
        if (got < 5)
            strs[got] = s;
        else
            c->scopes[got - 5] = s;
        off += strlen(s) + 1;
    }
    if (got != want) {
        capv_jwt_claims_free(c);
        return CAPV_E_INTERNAL;
    }
    c->alg = (capv_jwt_alg)h.alg;
    c->exp = h.exp;
    c->iat = h.iat;
    c->nbf = h.nbf;
    c->sub = (h.present & 1u) ? strs[0] : NULL;
    c->iss = strs[1];
    c->aud = strs[2];
    c->client_id = (h.present & 2u) ? strs[3] : NULL;
    c->kid = (h.present & 4u) ? strs[4] : NULL;
    c->nscopes = h.nscopes;
    *out = c;
    return CAPV_OK;
}

const char *capv_jwt_claims_subject(const capv_jwt_claims *c)
{
    return c ? c->sub : NULL;
}
const char *capv_jwt_claims_issuer(const capv_jwt_claims *c)
{
    return c ? c->iss : NULL;
}
const char *capv_jwt_claims_audience(const capv_jwt_claims *c)
{
    return c ? c->aud : NULL;
}
const char *capv_jwt_claims_client_id(const capv_jwt_claims *c)
{
    return c ? c->client_id : NULL;
}
const char *capv_jwt_claims_kid(const capv_jwt_claims *c)
{
    return c ? c->kid : NULL;
}
capv_jwt_alg capv_jwt_claims_alg(const capv_jwt_claims *c)
{
    return c ? c->alg : (capv_jwt_alg)0;
}
int64_t capv_jwt_claims_expires(const capv_jwt_claims *c)
{
    return c ? c->exp : 0;
}
int64_t capv_jwt_claims_issued_at(const capv_jwt_claims *c)
{
    return c ? c->iat : INT64_MIN;
}
int64_t capv_jwt_claims_not_before(const capv_jwt_claims *c)
{
    return c ? c->nbf : INT64_MIN;
}
size_t capv_jwt_claims_scope_count(const capv_jwt_claims *c)
{
    return c ? c->nscopes : 0;
}

const char *capv_jwt_claims_scope(const capv_jwt_claims *c, size_t i)
{
    return c && i < c->nscopes ? c->scopes[i] : NULL;
}

bool capv_jwt_claims_has_scope(const capv_jwt_claims *c, const char *scope)
{
    if (c == NULL || scope == NULL)
        return false;
    for (size_t i = 0; i < c->nscopes; i++)
        if (strcmp(c->scopes[i], scope) == 0)
            return true;
    return false;
}

capv_status capv_jwt_claims_require_scopes(const capv_jwt_claims *c, const char *required,
                                           capv_error *err)
{
    if (c == NULL || required == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    const char *p = required;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 0)
            break;
        bool found = false;
        for (size_t i = 0; i < c->nscopes && !found; i++)
            found = strlen(c->scopes[i]) == n && memcmp(c->scopes[i], p, n) == 0;
        if (!found)
            return capvi_err_set(err, CAPV_E_SCOPE, R_SCOPE, "required scope \"%.*s\" not granted",
                                 (int)(n > 64 ? 64 : n), p);
        p += n;
    }
    return capvi_err_done(err, CAPV_OK);
}

/* ---- validator -------------------------------------------------------------------------- */

struct capv_jwt_validator {
    char *issuer;
    char **audiences;
    size_t naud;
    unsigned int algs;
    int64_t leeway_s;
    int64_t max_lifetime_s;
    capv_clock_fn clock;
    void *clock_user;
    capv_jwks *jwks;
    capv_jwk_set *fixed;
    capv_cache *cache;
};

capv_status capv_jwt_validator_new(capv_jwt_validator **out, capv_error *err)
{
    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_jwt_validator *v = calloc(1, sizeof *v);
    if (v == NULL)
        return capvi_err_nomem(err);
    v->algs = CAPV_JWT_ALGS_DEFAULT;
    v->leeway_s = 60;
    v->clock = capv_clock_system;
    *out = v;
    return capvi_err_done(err, CAPV_OK);
}

void capv_jwt_validator_free(capv_jwt_validator *v)
{
    if (v == NULL)
        return;
    free(v->issuer);
    for (size_t i = 0; i < v->naud; i++)
        free(v->audiences[i]);
    free(v->audiences);
    capv_jwk_set_free(v->fixed);
    capv_cache_free(v->cache);
    free(v);
}

/* A check changed: a cached verdict (which skips the checks) was reached under the old
 * ones. */
static void checks_changed(capv_jwt_validator *v)
{
    if (v->cache != NULL)
        capv_cache_invalidate_all(v->cache);
}

capv_status capv_jwt_validator_set_issuer(capv_jwt_validator *v, const char *issuer,
                                          capv_error *err)
{
    if (v == NULL || issuer == NULL || *issuer == '\0')
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "the issuer must be non-empty");
    char *c = strdup(issuer);
    if (c == NULL)
        return capvi_err_nomem(err);
    free(v->issuer);
    v->issuer = c;
    checks_changed(v);
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_jwt_validator_add_audience(capv_jwt_validator *v, const char *aud, capv_error *err)
{
    if (v == NULL || aud == NULL || *aud == '\0')
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "an audience must be non-empty");
    char **na = realloc(v->audiences, (v->naud + 1) * sizeof *na);
    if (na == NULL)
        return capvi_err_nomem(err);
    v->audiences = na;
    if ((na[v->naud] = strdup(aud)) == NULL)
        return capvi_err_nomem(err);
    v->naud++;
    checks_changed(v);
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_jwt_validator_set_algs(capv_jwt_validator *v, const char *list, capv_error *err)
{
    if (v == NULL || list == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    unsigned int mask = 0;
    const char *p = list;
    while (*p) {
        p += strspn(p, ", ");
        size_t n = strcspn(p, ", ");
        if (n == 0)
            break;
        char name[16];
        capv_jwt_alg a;
        if (n >= sizeof name)
            return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown algorithm \"%.*s\"", 16,
                                 p);
        memcpy(name, p, n);
        name[n] = '\0';
        if (is_hs_or_none(name))
            return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                                 "algorithm \"%s\" can never be allowed", name);
        if (capv_jwt_alg_from_name(&a, name, NULL) != CAPV_OK)
            return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                                 "unknown algorithm \"%s\" (RS256, PS256, ES256, EdDSA)", name);
        mask |= CAPV_JWT_ALG_BIT(a);
        p += n;
    }
    if (mask == 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "the algorithm list is empty");
    v->algs = mask;
    checks_changed(v);
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_jwt_validator_set_leeway(capv_jwt_validator *v, int64_t seconds, capv_error *err)
{
    if (v == NULL || seconds < 0 || seconds > 86400)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "leeway", "the leeway must be 0..86400 s");
    v->leeway_s = seconds;
    checks_changed(v);
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_jwt_validator_set_max_lifetime(capv_jwt_validator *v, int64_t seconds,
                                                capv_error *err)
{
    if (v == NULL || seconds < 0 || seconds > INT64_C(100) * 365 * 86400)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "max_lifetime",
                             "the maximum lifetime must be 0..100 years");
    v->max_lifetime_s = seconds;
    checks_changed(v);
    return capvi_err_done(err, CAPV_OK);
}

void capv_jwt_validator_set_clock(capv_jwt_validator *v, capv_clock_fn clock, void *user)
{
    if (v == NULL)
        return;
    v->clock = clock ? clock : capv_clock_system;
    v->clock_user = clock ? user : NULL;
    if (v->cache != NULL)
        capv_cache_set_clock(v->cache, v->clock, v->clock_user);
}

/* Another key source: the cached verdicts of the old one go (their keys may be gone). The
 * cache keys on a set's generation, which only one capv_jwks numbers; fixed sets have none. */
void capv_jwt_validator_set_jwks(capv_jwt_validator *v, capv_jwks *jwks)
{
    if (v == NULL)
        return;
    v->jwks = jwks;
    if (v->cache != NULL)
        capv_cache_invalidate_all(v->cache);
}

void capv_jwt_validator_set_key_set(capv_jwt_validator *v, capv_jwk_set *set)
{
    if (v == NULL)
        return;
    capv_jwk_set_free(v->fixed);
    v->fixed = capvi_jwk_set_ref(set);
    if (v->cache != NULL)
        capv_cache_invalidate_all(v->cache);
}

capv_status capv_jwt_validator_set_cache(capv_jwt_validator *v, size_t max_entries, capv_error *err)
{
    if (v == NULL || max_entries > (SIZE_MAX / CACHE_ENTRY_BYTES))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "bad cache size");
    capv_cache_free(v->cache);
    v->cache = NULL;
    if (max_entries == 0)
        return capvi_err_done(err, CAPV_OK);
    capv_status st =
        capv_cache_new(&v->cache, max_entries, max_entries * CACHE_ENTRY_BYTES, CACHE_TTL_MS, err);
    if (st == CAPV_OK)
        capv_cache_set_clock(v->cache, v->clock, v->clock_user);
    return capvi_err_done(err, st);
}

uint64_t capv_jwt_validator_cache_counter(const capv_jwt_validator *v, capv_cache_counter which)
{
    return v && v->cache ? capv_cache_counter_get(v->cache, which) : 0;
}

/* The claims check_claims reads, and their names. */
enum { C_EXP, C_NBF, C_IAT, C_ISS, C_SUB, C_CLIENT_ID, C_AZP, C_AUD, C_SCOPE, C_SCP, C_COUNT };
static const char *const claim_names[C_COUNT] = { "exp",       "nbf", "iat", "iss",   "sub",
                                                  "client_id", "azp", "aud", "scope", "scp" };

/* m[C_…]: those members of the object `claims`, or NULL, found in one pass (a parsed object
 * has no duplicate names) instead of a look-up by name each. */
static void claims_members(const cJSON *m[C_COUNT], const cJSON *claims)
{
    for (int i = 0; i < C_COUNT; i++)
        m[i] = NULL;
    for (const cJSON *c = claims->child; c != NULL; c = c->next)
        for (int i = 0; i < C_COUNT; i++)
            if (c->string[0] == claim_names[i][0] && strcmp(c->string, claim_names[i]) == 0) {
                m[i] = c;
                break;
            }
}

/* A NumericDate claim `m` (named `name`; NULL when absent): a JSON number of seconds
 * (fractions are truncated) in [0, 2^53]. */
static capv_status numeric_date(int64_t *out, bool *present, const cJSON *m, const char *name,
                                const char **reason, capv_error *err)
{
    *present = m != NULL;
    if (m == NULL)
        return CAPV_OK;
    double d = m->valuedouble;
    if (!cJSON_IsNumber(m) || !isfinite(d) || d < 0 || d > (double)CAPV_JSON_INT_MAX)
        return reject(reason, R_CLAIM, err, CAPV_E_CLAIM,
                      "\"%s\" must be a NumericDate (seconds in [0, 2^53])", name);
    /* the double of an integer of at most 2^53 is exact, so this is the integer written, or
     * the whole seconds of a fraction */
    *out = (int64_t)floor(d);
    return CAPV_OK;
}

static capv_status opt_string(const char **out, const cJSON *m, const char *name,
                              const char **reason, capv_error *err)
{
    *out = NULL;
    if (m == NULL)
        return CAPV_OK;
    if (!cJSON_IsString(m) || strlen(m->valuestring) > CLAIM_STRING_MAX)
        return reject(reason, R_CLAIM, err, CAPV_E_CLAIM, "\"%s\" must be a string", name);
    *out = m->valuestring;
    return CAPV_OK;
}

/* Appends the space-delimited scope tokens of `text` to b, counting them. */
static capv_status split_scopes(capv_buf *b, uint32_t *count, const char *text, const char **reason,
                                capv_error *err)
{
    const char *p = text;
    while (*p) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        if (n == 0)
            break;
        if (++*count > SCOPES_MAX)
            return reject(reason, R_CLAIM, err, CAPV_E_CLAIM, "more than %u scopes", SCOPES_MAX);
        capvi_buf_append(b, p, n);
        capvi_buf_putc(b, '\0');
        p += n;
    }
    return CAPV_OK;
}

/* Appends the scopes of `scope` (space-delimited) or else `scp` (an array, or a string as
 * some providers send it) to b, counting them. */
static capv_status collect_scopes(capv_buf *b, uint32_t *count, const cJSON *scope,
                                  const cJSON *scp, const char **reason, capv_error *err)
{
    *count = 0;
    if (scope != NULL) {
        if (!cJSON_IsString(scope))
            return reject(reason, R_CLAIM, err, CAPV_E_CLAIM, "\"scope\" must be a string");
        return split_scopes(b, count, scope->valuestring, reason, err);
    }
    if (scp == NULL)
        return CAPV_OK;
    if (cJSON_IsString(scp))
        return split_scopes(b, count, scp->valuestring, reason, err);
    if (!cJSON_IsArray(scp))
        return reject(reason, R_CLAIM, err, CAPV_E_CLAIM, "\"scp\" must be an array of strings");
    for (const cJSON *s = scp->child; s; s = s->next) {
        if (!cJSON_IsString(s) || s->valuestring[0] == '\0' || strchr(s->valuestring, ' '))
            return reject(reason, R_CLAIM, err, CAPV_E_CLAIM,
                          "\"scp\" must be an array of scope tokens");
        if (++*count > SCOPES_MAX)
            return reject(reason, R_CLAIM, err, CAPV_E_CLAIM, "more than %u scopes", SCOPES_MAX);
        capvi_buf_puts(b, s->valuestring);
        capvi_buf_putc(b, '\0');
    }
    return CAPV_OK;
}

/* Checks the claims of a verified payload and serializes the result into `b`. */
static capv_status check_claims(capv_buf *b, const capv_jwt_validator *v, const capv_jws *jws,
                                int64_t now_s, const char **reason, capv_error *err)
{
    capv_status st = CAPV_OK;
    cJSON *c = NULL;
    capv_error je = CAPV_ERROR_INIT;
    /* the tree lives only here: its nodes on the stack (a typical token's take about 1 KB) */
    max_align_t mem[CLAIMS_STACK_BYTES / sizeof(max_align_t)];
    capv_json_arena arena = CAPV_JSON_ARENA(mem);
    st = capvi_json_parse_in(&c, &arena, jws->payload, jws->payload_len, &je);
    if (st == CAPV_E_NOMEM)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    if (st != CAPV_OK)
        REJECT(R_MALFORMED, CAPV_E_REJECTED, "JWT claims: %s", je.message);
    if (!cJSON_IsObject(c))
        REJECT(R_MALFORMED, CAPV_E_REJECTED, "JWT claims are not a JSON object");

    int64_t exp = 0, nbf = INT64_MIN, iat = INT64_MIN;
    bool has_exp, has_nbf, has_iat;
    const char *iss = NULL, *sub = NULL, *client_id = NULL;
    const cJSON *m[C_COUNT];
    claims_members(m, c);
    CAPV_TRY(numeric_date(&exp, &has_exp, m[C_EXP], "exp", reason, err));
    CAPV_TRY(numeric_date(&nbf, &has_nbf, m[C_NBF], "nbf", reason, err));
    CAPV_TRY(numeric_date(&iat, &has_iat, m[C_IAT], "iat", reason, err));
    CAPV_TRY(opt_string(&iss, m[C_ISS], "iss", reason, err));
    CAPV_TRY(opt_string(&sub, m[C_SUB], "sub", reason, err));
    CAPV_TRY(opt_string(&client_id, m[C_CLIENT_ID], "client_id", reason, err));
    if (client_id == NULL)
        CAPV_TRY(opt_string(&client_id, m[C_AZP], "azp", reason, err));
    if (!has_exp)
        REJECT(R_NO_EXP, CAPV_E_CLAIM, "the token has no \"exp\" claim");
    if (!has_nbf)
        nbf = INT64_MIN;
    if (!has_iat)
        iat = INT64_MIN;

    if (iss == NULL || strcmp(iss, v->issuer) != 0)
        REJECT(R_ISS, CAPV_E_CLAIM, "issuer \"%.96s\" is not the configured issuer",
               iss ? iss : "(none)");

    const cJSON *aud = m[C_AUD];
    const char *matched = NULL;
    if (aud != NULL && !cJSON_IsString(aud) && !cJSON_IsArray(aud))
        REJECT(R_CLAIM, CAPV_E_CLAIM, "\"aud\" must be a string or an array of strings");
    for (const cJSON *a = cJSON_IsArray(aud) ? aud->child : aud; a;
         a = cJSON_IsArray(aud) ? a->next : NULL) {
        if (!cJSON_IsString(a))
            REJECT(R_CLAIM, CAPV_E_CLAIM, "\"aud\" must be a string or an array of strings");
        for (size_t i = 0; i < v->naud && matched == NULL; i++)
            if (strcmp(a->valuestring, v->audiences[i]) == 0)
                matched = v->audiences[i];
    }
    if (matched == NULL)
        REJECT(R_AUD, CAPV_E_CLAIM, "%s",
               aud == NULL ? "the token has no \"aud\" claim"
                           : "no \"aud\" value is a configured audience");

    int64_t lw = v->leeway_s;
    if (now_s >= exp + lw)
        REJECT(R_EXPIRED, CAPV_E_EXPIRED, "the token expired at %lld (now %lld, leeway %lld s)",
               (long long)exp, (long long)now_s, (long long)lw);
    if (has_nbf && now_s + lw < nbf)
        REJECT(R_NBF, CAPV_E_NOT_YET_VALID,
               "the token is not valid before %lld (now %lld, leeway %lld s)", (long long)nbf,
               (long long)now_s, (long long)lw);
    if (has_iat && now_s + lw < iat)
        REJECT(R_IAT, CAPV_E_NOT_YET_VALID, "the token was issued in the future (%lld, now %lld)",
               (long long)iat, (long long)now_s);
    if (v->max_lifetime_s > 0) {
        int64_t from = has_iat ? iat : now_s;
        if (exp - from > v->max_lifetime_s + lw)
            REJECT(R_LIFETIME, CAPV_E_CLAIM, "lifetime of %lld s exceeds the maximum of %lld s",
                   (long long)(exp - from), (long long)v->max_lifetime_s);
    }

    claims_hdr h = { CLAIMS_MAGIC, (uint32_t)jws->alg, exp, iat, nbf, 0, 0 };
    const char *kid = capvi_jws_kid(jws);
    h.present = (sub ? 1u : 0u) | (client_id ? 2u : 0u) | (kid ? 4u : 0u);
    capvi_buf_append(b, &h, sizeof h);
    const char *strs[5] = { sub, iss, matched, client_id, kid };
    for (int i = 0; i < 5; i++) {
        capvi_buf_puts(b, strs[i] ? strs[i] : "");
        capvi_buf_putc(b, '\0');
    }
    uint32_t nscopes = 0;
    CAPV_TRY(collect_scopes(b, &nscopes, m[C_SCOPE], m[C_SCP], reason, err));
    if (b->failed)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    memcpy(b->data + offsetof(claims_hdr, nscopes), &nscopes, sizeof nscopes);
out:
    capvi_json_arena_release(&arena);
    return st;
}

/* Token cache key: SHA-256(token) followed by the key-set generation it was verified with. */
typedef struct cache_key {
    uint8_t digest[CAPV_DIGEST_LEN];
    uint64_t generation;
} cache_key;

capv_status capv_jwt_validate(capv_jwt_claims **out, const char **reason, capv_jwt_validator *v,
                              const uint8_t *token, size_t len, capv_error *err)
{
    capv_status st = CAPV_OK;
    const char *dummy;
    capv_jws jws;
    capv_jwk_set *set = NULL;
    capv_buf b = CAPV_BUF_INIT;
    cache_key ck;
    bool cacheable = false;

    memset(&jws, 0, sizeof jws);
    if (reason == NULL)
        reason = &dummy;
    *reason = "internal";
    if (out == NULL || v == NULL || (token == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    if (v->issuer == NULL || v->naud == 0 || (v->jwks == NULL && v->fixed == NULL))
        return capvi_err_set(err, CAPV_E_STATE, NULL,
                             "the validator needs an issuer, an audience and a key source");
    CAPV_TRY(capvi_global_require(err));
    if (len > CAPV_JWT_MAX_TOKEN)
        return capvi_err_done(err,
                              reject(reason, R_TOO_LARGE, err, CAPV_E_REJECTED,
                                     "token of %zu bytes exceeds %u", len, CAPV_JWT_MAX_TOKEN));
    int64_t now_ms = v->clock(v->clock_user);
    int64_t now_s = now_ms >= 0 ? now_ms / 1000 : -((-now_ms + 999) / 1000);

    if (v->cache != NULL) {
        capv_jwks_state state = v->jwks ? capv_jwks_get_state(v->jwks) : CAPV_JWKS_FRESH;
        memset(&ck, 0, sizeof ck);
        ck.generation = v->jwks ? capv_jwks_generation(v->jwks) : v->fixed->generation;
        cacheable = capv_hash(ck.digest, CAPV_HASH_SHA256, token, len, NULL) == CAPV_OK;
        uint8_t *val = NULL;
        size_t vlen = 0;
        if (cacheable && (state == CAPV_JWKS_FRESH || state == CAPV_JWKS_STALE) &&
            capv_cache_get(&val, &vlen, v->cache, (const uint8_t *)&ck, sizeof ck, NULL) ==
                CAPV_OK) {
            claims_hdr h;
            bool live = vlen >= sizeof h;
            if (live) {
                memcpy(&h, val, sizeof h);
                live = now_s < h.exp + v->leeway_s;
            }
            if (live && claims_decode(out, val, vlen) == CAPV_OK) {
                capv_free(val);
                *reason = R_OK;
                return capvi_err_done(err, CAPV_OK);
            }
            capv_free(val);
            capv_cache_invalidate(v->cache, (const uint8_t *)&ck, sizeof ck);
        }
    }

    CAPV_TRY(capvi_jws_parse(&jws, token, len, v->algs, reason, err));
    if (v->fixed != NULL) {
        set = capvi_jwk_set_ref(v->fixed);
    } else if ((st = capvi_jwks_acquire(&set, v->jwks, err)) != CAPV_OK) {
        *reason = R_UNAVAILABLE;
        goto out;
    }
    st = capvi_jws_verify_with_set(&jws, set, reason, err);
    if (st == CAPV_E_UNTRUSTED && v->jwks != NULL) {
        capv_jwk_set *newer = capvi_jwks_refetch_for_kid(v->jwks, set);
        if (newer != NULL) {
            capv_jwk_set_free(set);
            set = newer;
            if (err != NULL)
                capv_error_clear(err);
            st = capvi_jws_verify_with_set(&jws, set, reason, err);
        }
    }
    if (st != CAPV_OK)
        goto out;
    CAPV_TRY(check_claims(&b, v, &jws, now_s, reason, err));
    st = claims_decode(out, b.data, b.len);
    if (st != CAPV_OK) {
        st = capvi_err_set(err, st, NULL, "claims serialization failed");
        goto out;
    }
    if (v->cache != NULL && cacheable) {
        ck.generation = set->generation;
        /* best effort: a token too large for the cache is validated again next time */
        if (capv_cache_put(v->cache, (const uint8_t *)&ck, sizeof ck, b.data, b.len, NULL) !=
            CAPV_OK) {
        }
    }
    *reason = R_OK;
out:
    capvi_buf_free(&b);
    capv_jwk_set_free(set);
    capvi_jws_clear(&jws);
    return capvi_err_done(err, st);
}

/* ---- unverified peek ------------------------------------------------------------------- */

static void peek_copy(char out[CAPV_JWT_PEEK_TEXT], const cJSON *o, const char *name)
{
    const cJSON *m = capvi_json_get(o, name);
    if (!cJSON_IsString(m))
        return;
    const char *s = m->valuestring;
    size_t n = strlen(s), cap = CAPV_JWT_PEEK_TEXT - 1, keep = n > cap ? cap - 3 : n;
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (n > cap)
        memcpy(out + keep, "...", 3), keep += 3;
    out[keep] = '\0';
}

/* One base64url segment as a JSON object, or NULL. */
static cJSON *peek_segment(const uint8_t *seg, size_t len)
{
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    cJSON *o = NULL;
    if (len == 0 || b64u_decode(&raw, &raw_len, seg, len) != CAPV_OK)
        return NULL;
    if (capvi_json_parse(&o, raw, raw_len, NULL) != CAPV_OK || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = NULL;
    }
    free(raw);
    return o;
}

/* The size of each version of capv_jwt_peek: version v ends where v + 1's first field
 * begins, the current one is the whole struct (docs/abi.md, "Growing structs"). */
static const size_t peek_sizes[] = { 0, sizeof(capv_jwt_peek) };

capv_status capv_jwt_peek_unverified(capv_jwt_peek *out, const uint8_t *token, size_t len,
                                     capv_error *err)
{
    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    size_t size;
    capv_status st =
        capvi_struct_size(&size, out->version, peek_sizes, sizeof peek_sizes / sizeof peek_sizes[0],
                          "capv_jwt_peek", err);
    if (st != CAPV_OK)
        return st;
    /* filled in full here, copied out within the caller's version, whose `version` stays */
    capv_jwt_peek full = CAPV_JWT_PEEK_INIT;
    const uint8_t *d1 = token != NULL && len <= CAPV_JWT_MAX_TOKEN ? memchr(token, '.', len) : NULL;
    const uint8_t *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d2 != NULL) {
        cJSON *h = peek_segment(token, (size_t)(d1 - token));
        cJSON *p = peek_segment(d1 + 1, (size_t)(d2 - d1 - 1));
        peek_copy(full.alg, h, "alg");
        peek_copy(full.kid, h, "kid");
        peek_copy(full.iss, p, "iss");
        peek_copy(full.sub, p, "sub");
        peek_copy(full.client_id, p, "client_id");
        if (full.client_id[0] == '\0')
            peek_copy(full.client_id, p, "azp");
        cJSON_Delete(h);
        cJSON_Delete(p);
    }
    capvi_struct_write(out, &full, size);
    return capvi_err_done(err, CAPV_OK);
}
