/* SPDX-License-Identifier: Apache-2.0 */
/* The checks of a verification (docs/formats.md, "Verification report"), in order, over a loaded
 * package. Every check is performed or says exactly why it could not be; a verdict is only ok when
 * every mandatory check passed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <capverify/verify.h>
#include <capverify/unstable/verify_request.h>

#include "audit_int.h"
#include "global_int.h"
#include "hex_int.h"
#include "keys_int.h"
#include "proof_int.h"
#include "registry_int.h"
#include "report_int.h"
#include "time_int.h"
#include "verify_cache_int.h"
#include "verify_int.h"

#define META_NAME "_meta.json"
#define TIMESTAMP_NAME "timestamp.tsr"

/* ---- helpers --------------------------------------------------------------------------- */

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cJSON *obj(void)
{
    return cJSON_CreateObject();
}

/* Adds a string member; NULL-safe on the object (allocation failures surface later as a
 * missing detail, never as a wrong verdict). */
static void put_str(cJSON *o, const char *key, const char *value)
{
    if (o != NULL)
        capvi_json_add_string(o, key, value);
}

static void put_bool(cJSON *o, const char *key, bool value)
{
    if (o != NULL)
        capvi_json_add_bool(o, key, value);
}

static void put_num(cJSON *o, const char *key, double value)
{
    if (o != NULL)
        capvi_json_add_number(o, key, value);
}

static void put_hash(cJSON *o, const char *key, const uint8_t d[32])
{
    char hex[CAPV_DIGEST_HEX_SIZE];
    capv_digest_format(hex, d);
    put_str(o, key, hex);
}

static void push_str(cJSON *arr, const char *s)
{
    if (arr != NULL)
        capvi_json_add_string(arr, NULL, s);
}

static bool is_placeholder(const uint8_t d[32])
{
    for (int i = 0; i < 32; i++)
        if (d[i] != 0)
            return false;
    return true;
}

/* ---- layout ---------------------------------------------------------------------------- */

typedef struct unit_spec {
    const char *id;
    const char *manifest_file;
    const char *proof_file;
    const char *policy_hash; /* _meta unit policy_hash text, or NULL */
    const cJSON *depends_on;
} unit_spec;

/* An audit log the `audit` check compares with the manifests, read once per package. */
typedef struct audit_source {
    const char *name; /* the member holding it, or NULL: the log given beside the package */
    bool fits;        /* false when reading it exceeds the verification budget */
    capv_status status;
    capvi_audit_summary sum;
    char message[CAPV_ERROR_MESSAGE_SIZE]; /* why it is broken */
    /* its lines, found when a manifest names a tip before its end (audit_tip_at) and kept
     * for the other units, with the member's bytes */
    capv_member_view view;
    const uint8_t *data;
    size_t *ends; /* ends[i]: where line i + 1 ends (its line feed, or the log's end) */
} audit_source;

typedef struct layout {
    const capv_package *pkg;
    uint64_t budget;  /* what is left of CAPV_LIMIT_VERIFY_BYTES for reading, */
    uint64_t details; /* and for report details (a quarter, so they never starve a check) */
    const char *format;
    cJSON *meta;                /* parsed _meta.json, or NULL */
    capv_json_arena meta_nodes; /* where meta lives */
    unit_spec *units;
    size_t nunits;
    const char *tsr_name;   /* member holding an RFC 3161 token, or NULL */
    const char *audit_name; /* member holding an audit log, or NULL */
    audit_source audit[2];  /* the package's log and the one given beside it */
    size_t naudit;
} layout;

static void layout_clear(layout *l)
{
    for (size_t i = 0; i < l->naudit; i++) {
        capvi_member_view_release(&l->audit[i].view);
        free(l->audit[i].ends);
    }
    capvi_json_arena_release(&l->meta_nodes);
    free(l->units);
    memset(l, 0, sizeof *l);
}

/* ---- memory ---------------------------------------------------------------------------- */

/* What a verification holds beyond the package is paid from CAPV_LIMIT_VERIFY_BYTES before
 * it is made (docs/architecture.md, "Packages"): three quarters for the bytes and parse trees
 * of the members read whole and the units' checks, one quarter for the report's details (so
 * details left out never make a check fail). The prices are upper estimates for glibc malloc on
 * 64-bit, checked against measured peaks by tests/unit/test_verify.c:
 *   VALUE_COST    one value of a parsed JSON text: its cJSON node with its key and number
 *                 text (its string bytes are priced per byte);
 *   REPORT_VALUE  one value in a report detail: its node and key, their compact text, and
 *                 the node that refers to it while the report is written out
 *                 (capv_report_to_json);
 *   REPORT_BYTE   one byte of text in a report detail, escaped, counted in the same places;
 *   UNIT_COST     one unit's checks apart from their lists (ids, messages of at most 512
 *                 bytes, small details), plus its id's text;
 *   TSR_COST      one byte of a DER timestamp token as OpenSSL parses and verifies it. */
#define VALUE_COST 192u
#define REPORT_VALUE 512u
#define REPORT_BYTE 8u
#define UNIT_COST (32u * 1024u)
#define TSR_COST 64u

static bool charge(layout *l, uint64_t n)
{
    if (n > l->budget)
        return false;
    l->budget -= n;
    return true;
}

static void refund(layout *l, uint64_t n)
{
    l->budget += n;
}

/* A parsed JSON text: its strings (at most its size) and its values. */
static uint64_t json_cost(const uint8_t *d, size_t n)
{
    return n + capvi_pkg_json_values(d, n) * VALUE_COST;
}

static uint64_t text_cost(const char *s)
{
    uint64_t n = 0;
    for (; s != NULL && *s; s++)
        n += (unsigned char)*s < 0x20 ? 6u : (*s == '"' || *s == '\\') ? 2u : 1u;
    return n * REPORT_BYTE;
}

/* Pays for a report detail of `values` values holding `a` and `b` (either may be NULL);
 * false when the details' share cannot, and the detail is left out. */
static bool charge_detail(layout *l, uint64_t values, const char *a, const char *b)
{
    uint64_t n = values * REPORT_VALUE + text_cost(a) + text_cost(b);
    if (n > l->details)
        return false;
    l->details -= n;
    return true;
}

static bool has_member(const capv_package *pkg, const char *name)
{
    return capv_package_find(NULL, NULL, pkg, name, NULL) == CAPV_OK;
}

/* Depth-first search for a depends_on cycle; `state`: 0 new, 1 on stack, 2 done. */
static bool unit_cycle(const layout *l, size_t i, unsigned char *state)
{
    if (state[i] == 1)
        return true;
    if (state[i] == 2)
        return false;
    state[i] = 1;
    for (const cJSON *d = l->units[i].depends_on ? l->units[i].depends_on->child : NULL; d;
         d = d->next)
        for (size_t j = 0; j < l->nunits; j++)
            if (cJSON_IsString(d) && strcmp(d->valuestring, l->units[j].id) == 0 &&
                unit_cycle(l, j, state))
                return true;
    state[i] = 2;
    return false;
}

/* Reads the cap-bundle.v1 proof units. Returns a failure message, or NULL when fine. */
static const char *bundle_units(layout *l, const capv_package *pkg, char *msg, size_t cap)
{
    const cJSON *files = NULL, *units = NULL;
    if (capvi_json_get_object(&files, l->meta, "", "files", true, NULL) != CAPV_OK)
        return "_meta.json has no \"files\" object";
    if (capvi_json_get_array(&units, l->meta, "", "proof_units", true, NULL) != CAPV_OK ||
        cJSON_GetArraySize(units) == 0)
        return "_meta.json has no \"proof_units\"";
    size_t n = (size_t)cJSON_GetArraySize(units);
    if (n > 1000)
        return "_meta.json lists more than 1000 proof units";
    l->units = calloc(n, sizeof *l->units);
    if (l->units == NULL)
        return "out of memory";
    for (const cJSON *u = units->child; u; u = u->next) {
        unit_spec *s = &l->units[l->nunits++];
        const cJSON *deps = NULL;
        if (capvi_json_get_string(&s->id, u, "", "id", true, NULL) != CAPV_OK ||
            capvi_json_get_string(&s->manifest_file, u, "", "manifest_file", true, NULL) !=
                CAPV_OK ||
            capvi_json_get_string(&s->proof_file, u, "", "proof_file", true, NULL) != CAPV_OK) {
            snprintf(msg, cap, "proof unit %zu lacks id, manifest_file or proof_file", l->nunits);
            return msg;
        }
        if (capvi_json_get_array(&deps, u, "", "depends_on", false, NULL) != CAPV_OK) {
            snprintf(msg, cap, "proof unit '%s': depends_on must be an array", s->id);
            return msg;
        }
        s->depends_on = deps;
        const cJSON *ph = capvi_json_get(u, "policy_hash");
        if (ph != NULL && !cJSON_IsString(ph)) {
            snprintf(msg, cap, "proof unit '%s': policy_hash must be a string", s->id);
            return msg;
        }
        s->policy_hash = ph ? ph->valuestring : NULL;
        for (size_t j = 0; j + 1 < l->nunits; j++)
            if (strcmp(l->units[j].id, s->id) == 0) {
                snprintf(msg, cap, "proof unit id '%s' is used twice", s->id);
                return msg;
            }
        /* each member is read for one unit only: a member named by many units would be read,
         * decompressed and parsed again for each, up to 1000 times the package's size */
        if (strcmp(s->manifest_file, s->proof_file) == 0) {
            snprintf(msg, cap, "proof unit '%s' names '%s' as its manifest and its proof", s->id,
                     s->proof_file);
            return msg;
        }
        for (size_t j = 0; j + 1 < l->nunits; j++) {
            const unit_spec *t = &l->units[j];
            const char *shared = strcmp(t->manifest_file, s->manifest_file) == 0 ||
                                         strcmp(t->proof_file, s->manifest_file) == 0
                                     ? s->manifest_file
                                 : strcmp(t->manifest_file, s->proof_file) == 0 ||
                                         strcmp(t->proof_file, s->proof_file) == 0
                                     ? s->proof_file
                                     : NULL;
            if (shared != NULL) {
                snprintf(msg, cap, "proof units '%s' and '%s' both name member '%s'", t->id, s->id,
                         shared);
                return msg;
            }
        }
        if (!has_member(pkg, s->manifest_file) || !has_member(pkg, s->proof_file)) {
            snprintf(msg, cap, "proof unit '%s': member '%s' is missing", s->id,
                     has_member(pkg, s->manifest_file) ? s->proof_file : s->manifest_file);
            return msg;
        }
    }
    for (size_t i = 0; i < l->nunits; i++)
        for (const cJSON *d = l->units[i].depends_on ? l->units[i].depends_on->child : NULL; d;
             d = d->next) {
            bool found = false;
            for (size_t j = 0; cJSON_IsString(d) && j < l->nunits; j++)
                found = found || strcmp(d->valuestring, l->units[j].id) == 0;
            if (!found) {
                snprintf(msg, cap, "proof unit '%s' depends on an unknown unit", l->units[i].id);
                return msg;
            }
        }
    unsigned char *state = calloc(l->nunits, 1);
    if (state == NULL)
        return "out of memory";
    bool cycle = false;
    for (size_t i = 0; i < l->nunits && !cycle; i++)
        cycle = unit_cycle(l, i, state);
    free(state);
    if (cycle)
        return "proof units' depends_on form a cycle";
    /* the timestamp token and the audit log: the first member present with role "timestamp"
     * or "audit" (a listed optional one that is absent does not hide another, nor the
     * default names detect_layout falls back on) */
    for (const cJSON *f = files->child; f; f = f->next) {
        const char *role = NULL;
        if (capvi_json_get_string(&role, f, "", "role", false, NULL) != CAPV_OK || role == NULL ||
            !has_member(pkg, f->string))
            continue;
        if (strcmp(role, "timestamp") == 0 && l->tsr_name == NULL)
            l->tsr_name = f->string;
        else if (strcmp(role, "audit") == 0 && l->audit_name == NULL)
            l->audit_name = f->string;
    }
    return NULL;
}

/* Detects the layout (docs/formats.md, "CAP packages"). CAPV_E_MALFORMED when nothing looks like a
 * CAP package; otherwise CAPV_OK with `*problem` set when the layout is recognisable but broken. */
static capv_status detect_layout(layout *l, const capv_package *pkg, const char **problem,
                                 char *msg, size_t cap, capv_error *err)
{
    memset(l, 0, sizeof *l);
    l->pkg = pkg;
    l->details = pkg->limits.verify_bytes / 4;
    l->budget = pkg->limits.verify_bytes - l->details;
    *problem = NULL;
    size_t mi;
    if (capvi_package_index(pkg, META_NAME, &mi)) {
        l->format = "unknown";
        /* the bytes are needed only while the tree is built; the tree lasts the run */
        uint64_t n = pkg->members[mi].len;
        bool fits = charge(l, n);
        capv_member_view v = { NULL, 0, NULL };
        capv_error jerr = CAPV_ERROR_INIT;
        capv_status pst = CAPV_OK;
        if (fits) {
            capv_status st = capvi_package_member_view(pkg, mi, &v, err);
            if (st != CAPV_OK)
                return st;
            fits = charge(l, json_cost(v.data, v.len));
            if (fits)
                pst = capvi_json_parse_in(&l->meta, &l->meta_nodes, v.data, v.len, &jerr);
            capvi_member_view_release(&v);
            refund(l, n);
        }
        if (!fits) {
            snprintf(msg, cap,
                     "_meta.json (%llu bytes) needs more memory than the verification "
                     "limit of %llu bytes",
                     (unsigned long long)n, (unsigned long long)pkg->limits.verify_bytes);
            *problem = msg;
            return CAPV_OK;
        }
        if (pst == CAPV_E_NOMEM)
            return capvi_err_nomem(err);
        if (pst != CAPV_OK) {
            snprintf(msg, cap, "_meta.json is not valid JSON: %s", jerr.message);
            *problem = msg;
            return CAPV_OK;
        }
        const char *schema = NULL, *bv = NULL;
        capvi_json_get_string(&schema, l->meta, "", "schema", false, NULL);
        capvi_json_get_string(&bv, l->meta, "", "bundle_version", false, NULL);
        if (schema != NULL && strcmp(schema, "cap-bundle.v1") == 0) {
            l->format = "cap-bundle.v1";
            *problem = bundle_units(l, pkg, msg, cap);
        } else if (bv != NULL && strncmp(bv, "cap-proof.v2", 12) == 0) {
            l->format = "cap-proof.v2";
            const cJSON *hashes = NULL;
            if (capvi_json_get_object(&hashes, l->meta, "", "hashes", true, NULL) != CAPV_OK)
                *problem = "_meta.json has no \"hashes\" object";
            else if (!has_member(pkg, "manifest.json") || !has_member(pkg, "proof.capz"))
                *problem = "cap-proof.v2 needs manifest.json and proof.capz";
            if ((l->units = calloc(1, sizeof *l->units)) == NULL)
                return capvi_err_nomem(err);
            l->nunits = 1;
            l->units[0] = (unit_spec){ "main", "manifest.json", "proof.capz", NULL, NULL };
        } else {
            snprintf(msg, cap,
                     "_meta.json names no known layout (schema '%s', bundle_version "
                     "'%s')",
                     schema ? schema : "", bv ? bv : "");
            *problem = msg;
        }
    } else if (has_member(pkg, "manifest.json") && has_member(pkg, "proof.dat")) {
        l->format = "legacy";
        if ((l->units = calloc(1, sizeof *l->units)) == NULL)
            return capvi_err_nomem(err);
        l->nunits = 1;
        l->units[0] = (unit_spec){ "main", "manifest.json", "proof.dat", NULL, NULL };
    } else {
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL,
                             "not a CAP package: no _meta.json, and no manifest.json + proof.dat");
    }
    if (l->tsr_name == NULL && has_member(pkg, TIMESTAMP_NAME))
        l->tsr_name = TIMESTAMP_NAME;
    if (l->audit_name == NULL && has_member(pkg, CAPV_AUDIT_V1_FILE))
        l->audit_name = CAPV_AUDIT_V1_FILE;
    else if (l->audit_name == NULL && has_member(pkg, CAPV_AUDIT_V2_FILE))
        l->audit_name = CAPV_AUDIT_V2_FILE;
    return CAPV_OK;
}

/* ---- package.integrity ----------------------------------------------------------------- */

/* Adds a {file, problem} detail to `list`, when the budget pays for it. */
static void add_mismatch(layout *l, cJSON *list, const char *name, const char *why, size_t *omitted)
{
    if (!charge_detail(l, 3, name, why)) {
        (*omitted)++;
        return;
    }
    cJSON *m = obj();
    put_str(m, "file", name);
    put_str(m, "problem", why);
    if (list && m)
        cJSON_AddItemToArray(list, m);
    else
        cJSON_Delete(m);
}

static capv_status check_integrity(capv_report *r, const capv_package *pkg, layout *l)
{
    cJSON *d = obj();
    cJSON *mismatches = d ? capvi_json_add_container(d, "mismatches", false) : NULL;
    cJSON *unlisted = d ? capvi_json_add_container(d, "unlisted", false) : NULL;
    size_t bad = 0, extra = 0, verified = 0, omitted_bad = 0, omitted_extra = 0;
    char first[300] = "";
    const cJSON *files = NULL;
    bool code_present = false;

    if (strcmp(l->format, "cap-bundle.v1") == 0) {
        capvi_json_get_object(&files, l->meta, "", "files", true, NULL);
        for (const cJSON *f = files ? files->child : NULL; f; f = f->next) {
            const char *name = f->string, *hash = NULL;
            bool optional = false;
            int64_t size = -1;
            uint8_t want[32], got[32];
            size_t idx;
            const char *why = NULL;
            /* the digests were taken while the package loaded: no member is read here */
            if (capvi_json_get_string(&hash, f, "", "hash", true, NULL) != CAPV_OK ||
                capv_digest_parse(want, hash, strlen(hash), NULL) != CAPV_OK)
                why = "listed hash is not a 0x SHA3-256 digest";
            else if (capvi_json_get_bool(&optional, f, "", "optional", false, NULL) != CAPV_OK ||
                     capvi_json_get_int(&size, f, "", "size", 0, INT64_MAX, false, NULL) != CAPV_OK)
                why = "listed size/optional are ill-typed";
            else if (!capvi_package_index(pkg, name, &idx))
                why = optional ? NULL : "listed but missing";
            else if (size >= 0 && (uint64_t)size != pkg->members[idx].len)
                why = "size differs";
            else if (capvi_package_member_sha3(pkg, idx, got, NULL) != CAPV_OK)
                why = "cannot hash";
            else if (memcmp(want, got, 32) != 0)
                why = "SHA3-256 differs";
            else
                verified++;
            if (why != NULL) {
                if (bad++ == 0)
                    snprintf(first, sizeof first, "%s: %s", name, why);
                add_mismatch(l, mismatches, name, why, &omitted_bad);
            }
        }
    } else if (strcmp(l->format, "cap-proof.v2") == 0) {
        const cJSON *hashes = NULL;
        capvi_json_get_object(&hashes, l->meta, "", "hashes", true, NULL);
        static const char *const pairs[][2] = { { "manifest_sha3", "manifest.json" },
                                                { "proof_sha3", "proof.capz" } };
        for (int i = 0; i < 2; i++) {
            const char *hash = NULL;
            size_t idx;
            uint8_t want[32], got[32];
            const char *why = NULL;
            if (capvi_json_get_string(&hash, hashes, "", pairs[i][0], true, NULL) != CAPV_OK ||
                capv_digest_parse(want, hash, strlen(hash), NULL) != CAPV_OK)
                why = "hash missing or not a digest";
            else if (!capvi_package_index(pkg, pairs[i][1], &idx))
                why = "missing";
            else if (capvi_package_member_sha3(pkg, idx, got, NULL) != CAPV_OK ||
                     memcmp(want, got, 32) != 0)
                why = "SHA3-256 differs";
            else
                verified++;
            if (why != NULL && bad++ == 0)
                snprintf(first, sizeof first, "%s: %s", pairs[i][1], why);
            if (why != NULL)
                add_mismatch(l, mismatches, pairs[i][1], why, &omitted_bad);
        }
    }

    /* members the layout does not account for */
    for (size_t i = 0; i < capv_package_member_count(pkg); i++) {
        const char *name = capv_package_member_name(pkg, i);
        bool known = strcmp(name, META_NAME) == 0;
        if (files != NULL)
            known = known || capvi_json_get(files, name) != NULL;
        else
            for (size_t u = 0; u < l->nunits; u++)
                known = known || strcmp(name, l->units[u].manifest_file) == 0 ||
                        strcmp(name, l->units[u].proof_file) == 0;
        if (files == NULL && l->tsr_name && strcmp(name, l->tsr_name) == 0)
            known = true;
        if (files == NULL && l->audit_name && strcmp(name, l->audit_name) == 0)
            known = true;
        if (known)
            continue;
        extra++;
        if (charge_detail(l, 1, name, NULL))
            push_str(unlisted, name);
        else
            omitted_extra++;
        size_t n = strlen(name);
        if (n > 5 && strcmp(name + n - 5, ".wasm") == 0)
            code_present = true;
    }
    put_num(d, "verified", (double)verified);
    if (omitted_bad > 0)
        put_num(d, "mismatches_omitted", (double)omitted_bad);
    if (omitted_extra > 0)
        put_num(d, "unlisted_omitted", (double)omitted_extra);

    if (bad > 0)
        return capvi_report_add(r, "package.integrity", CAPV_CHECK_FAIL, d,
                                "%zu listed file(s) fail integrity; first: %s", bad, first);
    if (extra > 0)
        return capvi_report_add(r, "package.integrity", CAPV_CHECK_WARN, d,
                                "%zu member(s) not listed in the package metadata%s", extra,
                                code_present ? " (bundle-supplied code is never executed)" : "");
    if (strcmp(l->format, "legacy") == 0)
        return capvi_report_add(r, "package.integrity", CAPV_CHECK_SKIP, d,
                                "the legacy layout lists no hashes");
    return capvi_report_add(r, "package.integrity", CAPV_CHECK_PASS, d,
                            "%zu listed file(s) match their SHA3-256 and size", verified);
}

/* ---- per-unit checks ------------------------------------------------------------------- */

typedef struct unit_ctx {
    layout *layout;
    const capv_verifier *v;
    const capv_verify_options *o;
    capv_report *r;
    const unit_spec *spec;
    size_t midx, pidx, tidx; /* the members of the manifest, the proof, the token */
    bool has_tsr;
    capv_member_view mv, pv, tv;
    const uint8_t *m; /* the manifest's bytes once read (NULL: not read) */
    size_t mlen;
    const uint8_t *p; /* the proof's */
    size_t plen;
    const uint8_t *tsr; /* the timestamp token's */
    size_t tsrlen;
    uint64_t charged; /* paid for what the unit read, given back when it ends */
    uint8_t manifest_sha3[32];
    uint8_t proof_sha3[32];
    cJSON *manifest;                /* NULL if it is not JSON */
    capv_json_arena manifest_nodes; /* where manifest lives */
    bool has_created;
    capvi_instant created; /* to the nanosecond: key windows compare with it */
    bool has_policy_hash;  /* manifest.policy.hash is a digest */
    uint8_t policy_hash[32];
    const char *policy_version;
    const char *policy_name; /* the manifest's policy.name, for the report */
    const char *anchor_kind;
    enum { TAIL_INVALID, TAIL_DIGEST, TAIL_NONE } audit_tail_kind; /* NONE: "0x0", no log */
    uint8_t audit_tail[32];                                        /* audit.tail_digest */
    int64_t audit_count; /* audit.events_count, -1 when not valid */
    bool has_anchor_tip; /* time_anchor.audit_tip_hex is present, */
    bool anchor_tip_ok;  /* and a digest */
    uint8_t anchor_tip[32];
    uint8_t *canonical; /* compat canonical bytes with signatures [] */
    size_t canonical_len;
    bool proof_ok;
    capv_proof proof;
    capv_error err; /* detail when a check could not be performed at all */
} unit_ctx;

static const char *const manifest_known_keys[] = {
    "version",
    "created_at",
    "supplier_root",
    "ubo_root",
    "company_commitment_root",
    "policy",
    "audit",
    "proof",
    "signatures",
    "time_anchor",
    "sanctions_root",
    "jurisdiction_root",
    "extensions",
};

typedef struct schema_errs {
    layout *l;
    cJSON *list;
    size_t n;
    size_t omitted;
    char first[256];
} schema_errs;

static void schema_err(schema_errs *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void schema_err(schema_errs *e, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (e->n++ == 0)
        snprintf(e->first, sizeof e->first, "%s", msg);
    if (charge_detail(e->l, 1, msg, NULL))
        push_str(e->list, msg);
    else
        e->omitted++;
}

static const char *str_field(const cJSON *o, const char *key, bool required, schema_errs *e,
                             const char *path)
{
    const cJSON *it = capvi_json_get(o, key);
    if (it == NULL) {
        if (required)
            schema_err(e, "%s%s is missing", path, key);
        return NULL;
    }
    if (!cJSON_IsString(it)) {
        schema_err(e, "%s%s must be a string", path, key);
        return NULL;
    }
    return it->valuestring;
}

static bool digest_field(uint8_t out[32], const cJSON *o, const char *key, bool required,
                         schema_errs *e, const char *path)
{
    const char *s = str_field(o, key, required, e, path);
    if (s == NULL)
        return false;
    if (strncmp(s, "0x", 2) != 0 || capv_digest_parse(out, s, strlen(s), NULL) != CAPV_OK) {
        schema_err(e, "%s%s must be 0x + 64 hex digits", path, key);
        return false;
    }
    return true;
}

static const cJSON *obj_field(const cJSON *o, const char *key, bool required, schema_errs *e)
{
    const cJSON *it = capvi_json_get(o, key);
    if (it == NULL) {
        if (required)
            schema_err(e, "%s is missing", key);
        return NULL;
    }
    if (!cJSON_IsObject(it)) {
        schema_err(e, "%s must be an object", key);
        return NULL;
    }
    return it;
}

typedef uint64_t (*cost_fn)(const uint8_t *d, size_t n);

/* Reads member `idx` for the unit when the budget pays for its bytes and for what `cost`
 * says handling them takes; `*fits` is false when it cannot. */
static capv_status read_priced(unit_ctx *u, size_t idx, capv_member_view *v, cost_fn cost,
                               bool *fits)
{
    layout *l = u->layout;
    uint64_t n = l->pkg->members[idx].len;
    *fits = false;
    if (!charge(l, n))
        return CAPV_OK;
    capv_status st = capvi_package_member_view(l->pkg, idx, v, &u->err);
    if (st != CAPV_OK) {
        refund(l, n);
        return st;
    }
    uint64_t c = cost(v->data, v->len);
    if (!charge(l, c)) {
        capvi_member_view_release(v);
        refund(l, n);
        return CAPV_OK;
    }
    u->charged += n + c;
    *fits = true;
    return CAPV_OK;
}

static capv_status too_large(unit_ctx *u, const char *check, const char *name, size_t idx)
{
    return capvi_report_add(u->r, check, CAPV_CHECK_FAIL, NULL,
                            "%s (%zu bytes) needs more memory than the verification limit of "
                            "%llu bytes",
                            name, u->layout->pkg->members[idx].len,
                            (unsigned long long)u->layout->pkg->limits.verify_bytes);
}

/* The manifest's tree, and its compat canonical bytes: at most twice the text (a number may
 * be written longer), in a buffer that doubles as it grows. */
static uint64_t manifest_cost(const uint8_t *d, size_t n)
{
    return json_cost(d, n) + 6u * (uint64_t)n;
}

static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* A proof as capvi_proof_parse reads it (proof.c): a CAPZ payload or a JSON text is parsed as
 * it is; anything else is decoded from base64 first, and the decoded text parsed. */
static uint64_t proof_cost(const uint8_t *d, size_t n)
{
    if (n >= 4 && memcmp(d, "CAPZ", 4) == 0)
        return n > CAPZ_HEADER_LEN ? json_cost(d + CAPZ_HEADER_LEN, n - CAPZ_HEADER_LEN) : 0;
    size_t a = 0, b = n;
    while (a < b && is_ws(d[a]))
        a++;
    while (b > a && is_ws(d[b - 1]))
        b--;
    if (a < b && d[a] == '{')
        return json_cost(d, n);
    /* the decoded text's values, counted a piece at a time: the strict decoder accepts a
     * text exactly when it accepts its 4-character groups one piece at a time */
    capv_json_counter c = CAPV_JSON_COUNTER_INIT;
    uint8_t piece[3072];
    size_t decoded = 0;
    for (size_t i = a; i < b; i += 4096) {
        size_t k = 0, len = b - i < 4096 ? b - i : 4096;
        if (capv_base64_decode(piece, sizeof piece, &k, (const char *)d + i, len, CAPV_BASE64_STD,
                               NULL) != CAPV_OK)
            return CAPV_BASE64_DECODED_MAX(b - a); /* only the buffer is made */
        capvi_pkg_json_count(&c, piece, k);
        decoded += k;
    }
    return CAPV_BASE64_DECODED_MAX(b - a) + decoded + c.values * VALUE_COST;
}

/* OpenSSL's structures for a DER token; a JSON tsr.v1 is only looked at. */
static uint64_t tsr_cost(const uint8_t *d, size_t n)
{
    size_t i = 0;
    while (i < n && is_ws(d[i]))
        i++;
    return i < n && d[i] == '{' ? 0 : (uint64_t)n * TSR_COST;
}

static capv_status check_manifest_schema(unit_ctx *u)
{
    bool fits;
    capv_status st = read_priced(u, u->midx, &u->mv, manifest_cost, &fits);
    if (st != CAPV_OK)
        return st;
    if (!fits)
        return too_large(u, "manifest.schema", u->spec->manifest_file, u->midx);
    u->m = u->mv.data;
    u->mlen = u->mv.len;
    capv_error jerr = CAPV_ERROR_INIT;
    if (capvi_json_parse_in(&u->manifest, &u->manifest_nodes, u->m, u->mlen, &jerr) != CAPV_OK) {
        if (jerr.code == CAPV_E_NOMEM)
            return CAPV_E_NOMEM; /* no verdict on the manifest */
        cJSON *d = obj();
        put_str(d, "error", capv_status_name(jerr.code));
        return capvi_report_add(u->r, "manifest.schema", CAPV_CHECK_FAIL, d,
                                "%s is not strict JSON: %s", u->spec->manifest_file, jerr.message);
    }
    if (!cJSON_IsObject(u->manifest)) {
        u->manifest = NULL;
        return capvi_report_add(u->r, "manifest.schema", CAPV_CHECK_FAIL, NULL,
                                "the manifest is not a JSON object");
    }
    cJSON *d = obj();
    schema_errs e = { u->layout, d ? capvi_json_add_container(d, "errors", false) : NULL, 0, 0,
                      "" };
    cJSON *unknown = d ? capvi_json_add_container(d, "unknown_keys", false) : NULL;
    size_t unknown_omitted = 0;
    const cJSON *m = u->manifest;
    uint8_t tmp[32];

    const char *version = str_field(m, "version", true, &e, "");
    bool old = false;
    if (version != NULL) {
        put_str(d, "version", version);
        if (strcmp(version, "manifest.v0") == 0)
            old = true;
        else if (strcmp(version, "manifest.v1.0") != 0)
            schema_err(&e, "unsupported manifest version '%.40s'", version);
    }
    const char *created = str_field(m, "created_at", true, &e, "");
    if (created != NULL) {
        u->has_created = capvi_time_parse_instant(&u->created, created, strlen(created));
        if (!u->has_created)
            schema_err(&e, "%s is not an RFC 3339 time", "created_at");
    }
    digest_field(tmp, m, "supplier_root", true, &e, "");
    digest_field(tmp, m, "ubo_root", true, &e, "");
    digest_field(tmp, m, "company_commitment_root", true, &e, "");
    const cJSON *policy = obj_field(m, "policy", true, &e);
    if (policy != NULL) {
        u->policy_name = str_field(policy, "name", true, &e, "policy.");
        u->policy_version = str_field(policy, "version", true, &e, "policy.");
        u->has_policy_hash = digest_field(u->policy_hash, policy, "hash", true, &e, "policy.");
    }
    const cJSON *audit = obj_field(m, "audit", true, &e);
    u->audit_count = -1;
    if (audit != NULL) {
        /* "0x0": the desktop variant's manifest without a log (docs/formats.md, "Audit logs") */
        const cJSON *td = capvi_json_get(audit, "tail_digest");
        if (cJSON_IsString(td) && strcmp(td->valuestring, "0x0") == 0)
            u->audit_tail_kind = TAIL_NONE;
        else if (digest_field(u->audit_tail, audit, "tail_digest", true, &e, "audit."))
            u->audit_tail_kind = TAIL_DIGEST;
        int64_t count;
        const cJSON *ec = capvi_json_get(audit, "events_count");
        if (ec == NULL)
            schema_err(&e, "%s is missing", "audit.events_count");
        else if (capvi_json_int_value(&count, ec, 0, CAPV_JSON_INT_MAX) != CAPV_OK)
            schema_err(&e, "%s must be a non-negative integer", "audit.events_count");
        else
            u->audit_count = count;
    }
    const cJSON *proof = obj_field(m, "proof", true, &e);
    if (proof != NULL) {
        str_field(proof, "type", true, &e, "proof.");
        str_field(proof, "status", true, &e, "proof.");
    }
    const cJSON *sigs = capvi_json_get(m, "signatures");
    if (sigs == NULL)
        schema_err(&e, "%s is missing", "signatures");
    else if (!cJSON_IsArray(sigs))
        schema_err(&e, "%s must be an array", "signatures");
    const cJSON *anchor = obj_field(m, "time_anchor", false, &e);
    if (anchor != NULL) {
        const char *kind = str_field(anchor, "kind", true, &e, "time_anchor.");
        if (kind != NULL && strcmp(kind, "tsa") != 0 && strcmp(kind, "blockchain") != 0 &&
            strcmp(kind, "file") != 0 && strcmp(kind, "none") != 0)
            schema_err(&e, "time_anchor.kind '%.20s' is not tsa|blockchain|file|none", kind);
        u->anchor_kind = kind;
        str_field(anchor, "reference", false, &e, "time_anchor.");
        const char *tip = str_field(anchor, "audit_tip_hex", false, &e, "time_anchor.");
        u->has_anchor_tip = tip != NULL;
        u->anchor_tip_ok =
            tip != NULL && capv_digest_parse(u->anchor_tip, tip, strlen(tip), NULL) == CAPV_OK;
        if (tip != NULL && !u->anchor_tip_ok)
            schema_err(&e, "%s must be a digest", "time_anchor.audit_tip_hex");
        const char *at = str_field(anchor, "created_at", false, &e, "time_anchor.");
        int64_t ms;
        if (at != NULL && !capvi_time_parse(&ms, at, strlen(at)))
            schema_err(&e, "%s is not an RFC 3339 time", "time_anchor.created_at");
    }
    if (capvi_json_get(m, "sanctions_root"))
        digest_field(tmp, m, "sanctions_root", false, &e, "");
    if (capvi_json_get(m, "jurisdiction_root"))
        digest_field(tmp, m, "jurisdiction_root", false, &e, "");
    obj_field(m, "extensions", false, &e);

    size_t nunknown = 0;
    char unknown_names[200] = "";
    for (const cJSON *c = m->child; c; c = c->next) {
        bool known = false;
        for (size_t i = 0; i < sizeof manifest_known_keys / sizeof *manifest_known_keys; i++)
            known = known || strcmp(c->string, manifest_known_keys[i]) == 0;
        if (known)
            continue;
        if (charge_detail(u->layout, 1, c->string, NULL))
            push_str(unknown, c->string);
        else
            unknown_omitted++;
        size_t used = strlen(unknown_names);
        snprintf(unknown_names + used, sizeof unknown_names - used, "%s%s", nunknown ? ", " : "",
                 c->string);
        nunknown++;
    }
    if (e.omitted > 0)
        put_num(d, "errors_omitted", (double)e.omitted);
    if (unknown_omitted > 0)
        put_num(d, "unknown_keys_omitted", (double)unknown_omitted);

    if (e.n > 0)
        return capvi_report_add(u->r, "manifest.schema", CAPV_CHECK_FAIL, d,
                                "%zu schema error(s); first: %s", e.n, e.first);
    if (old || nunknown > 0) {
        char msg[400] = "";
        if (old)
            snprintf(msg, sizeof msg, "older format manifest.v0");
        if (nunknown > 0) {
            size_t used = strlen(msg);
            snprintf(msg + used, sizeof msg - used, "%sunknown top-level key(s): %s",
                     old ? "; " : "", unknown_names);
        }
        return capvi_report_add(u->r, "manifest.schema", CAPV_CHECK_WARN, d, "%s", msg);
    }
    return capvi_report_add(u->r, "manifest.schema", CAPV_CHECK_PASS, d,
                            "manifest.v1.0 fields and formats are valid");
}

static capv_status make_canonical(unit_ctx *u)
{
    if (u->manifest == NULL || u->canonical != NULL)
        return CAPV_OK;
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_compact(&b, u->manifest, CAPV_JSON_CANON_EMPTY_SIGNATURES);
    u->canonical = capvi_buf_take(&b, &u->canonical_len);
    return u->canonical ? CAPV_OK : CAPV_E_NOMEM;
}

static const char *trust_reason(capv_status st)
{
    switch (st) {
    case CAPV_OK: return "trusted";
    case CAPV_E_UNTRUSTED: return "key not in the trust store";
    case CAPV_E_REVOKED: return "key revoked";
    case CAPV_E_NOT_YET_VALID: return "manifest created before the key's validity";
    case CAPV_E_EXPIRED: return "manifest created after the key's validity";
    case CAPV_E_MISSING: return "no creation time to judge the key's validity by";
    default: return "not trusted";
    }
}

static capv_status check_signature(unit_ctx *u)
{
    if (u->manifest == NULL)
        return capvi_report_add(u->r, "manifest.signature", CAPV_CHECK_SKIP, NULL,
                                "the manifest could not be read");
    const cJSON *sigs = capvi_json_get(u->manifest, "signatures");
    size_t n = cJSON_IsArray(sigs) ? (size_t)cJSON_GetArraySize(sigs) : 0;
    if (n == 0) {
        if (u->o->require_signature)
            return capvi_report_add(u->r, "manifest.signature", CAPV_CHECK_FAIL, NULL,
                                    "the manifest is unsigned");
        return capvi_report_add(u->r, "manifest.signature", CAPV_CHECK_WARN, NULL,
                                "the manifest is unsigned (signatures not required)");
    }
    capv_status st = make_canonical(u);
    if (st != CAPV_OK)
        return st;
    cJSON *d = obj();
    cJSON *list = d ? capvi_json_add_container(d, "signatures", false) : NULL;
    size_t invalid = 0, malformed = 0, trusted = 0, untrusted_only = 0, distrusted = 0;
    size_t omitted = 0;
    char first_problem[200] = "", first_distrusted[200] = "";
    const capv_trust_store *ts = u->v->trust;
    capvi_instant created = u->has_created ? u->created : (capvi_instant){ INT64_MIN, 0 };
    for (const cJSON *s = sigs->child; s; s = s->next) {
        cJSON *sd = obj();
        const char *alg = NULL, *signer = NULL, *pub_hex = NULL, *sig_hex = NULL;
        uint8_t pub[32], sig[64];
        const char *problem = NULL;
        if (!cJSON_IsObject(s) ||
            capvi_json_get_string(&alg, s, "", "alg", true, NULL) != CAPV_OK ||
            capvi_json_get_string(&signer, s, "", "signer", true, NULL) != CAPV_OK ||
            capvi_json_get_string(&pub_hex, s, "", "pubkey_hex", true, NULL) != CAPV_OK ||
            capvi_json_get_string(&sig_hex, s, "", "sig_hex", true, NULL) != CAPV_OK) {
            problem = "malformed signature entry (needs alg, signer, pubkey_hex, sig_hex)";
            malformed++;
        } else if (strcasecmp(alg, "ed25519") != 0) {
            problem = "unsupported signature algorithm";
            malformed++;
        } else if (strncmp(pub_hex, "0x", 2) != 0 || strncmp(sig_hex, "0x", 2) != 0 ||
                   capv_hex_decode(pub, 32, pub_hex, strlen(pub_hex), NULL) != CAPV_OK ||
                   capv_hex_decode(sig, 64, sig_hex, strlen(sig_hex), NULL) != CAPV_OK) {
            problem = "pubkey_hex / sig_hex are not 0x + 64 / 128 hex digits";
            malformed++;
        }
        put_str(sd, "signer", signer);
        put_str(sd, "alg", alg);
        if (problem == NULL) {
            char kid[CAPV_KID_SIZE];
            if (capv_key_id(kid, pub, NULL) == CAPV_OK)
                put_str(sd, "kid", kid);
            capv_status vs =
                capvi_ed25519_verify_with(ts, pub, sig, u->canonical, u->canonical_len, NULL);
            if (vs != CAPV_OK && vs != CAPV_E_SIGNATURE && vs != CAPV_E_MALFORMED) {
                /* out of memory, or OpenSSL failing: no verdict on the signature */
                cJSON_Delete(sd);
                cJSON_Delete(d);
                return vs;
            }
            put_bool(sd, "valid", vs == CAPV_OK);
            if (vs != CAPV_OK) {
                invalid++;
                problem = vs == CAPV_E_MALFORMED ? "public key is not a valid Ed25519 point"
                                                 : "signature does not verify over the manifest";
            } else {
                const capv_key *key = NULL;
                capv_status tr = capvi_trust_decide(&key, ts, pub, created);
                put_bool(sd, "trusted", tr == CAPV_OK);
                put_str(sd, "trust", trust_reason(tr));
                if (key != NULL)
                    put_str(sd, "key_status", capv_key_status_name(capv_key_status_of(key)));
                if (tr == CAPV_OK)
                    trusted++;
                else if (tr == CAPV_E_UNTRUSTED)
                    untrusted_only++;
                else if (distrusted++ == 0)
                    snprintf(first_distrusted, sizeof first_distrusted, "%s%s%s",
                             signer ? signer : "", signer ? ": " : "", trust_reason(tr));
                if (tr != CAPV_OK)
                    problem = trust_reason(tr);
            }
        }
        if (problem != NULL) {
            put_str(sd, "problem", problem);
            if (first_problem[0] == '\0')
                snprintf(first_problem, sizeof first_problem, "%s%s%s", signer ? signer : "",
                         signer ? ": " : "", problem);
        }
        /* signer, alg, kid, valid, trusted, trust, key_status, problem */
        if (!charge_detail(u->layout, 9, signer, alg)) {
            omitted++;
            cJSON_Delete(sd);
        } else if (list != NULL && sd != NULL) {
            cJSON_AddItemToArray(list, sd);
        } else {
            cJSON_Delete(sd);
        }
    }
    if (omitted > 0)
        put_num(d, "signatures_omitted", (double)omitted);
    if (malformed + invalid > 0)
        return capvi_report_add(u->r, "manifest.signature", CAPV_CHECK_FAIL, d,
                                "%zu of %zu signature(s) invalid or malformed; %s",
                                malformed + invalid, n, first_problem);
    /* a revoked or out-of-window key fails the check, a trusted co-signer or not */
    if (distrusted > 0)
        return capvi_report_add(u->r, "manifest.signature", CAPV_CHECK_FAIL, d,
                                "%zu signature(s) by a revoked or out-of-window key; %s",
                                distrusted, first_distrusted);
    if (trusted > 0)
        return capvi_report_add(u->r, "manifest.signature", CAPV_CHECK_PASS, d,
                                "%zu valid signature(s) by trusted key(s)", trusted);
    if (untrusted_only > 0 && u->o->allow_untrusted)
        return capvi_report_add(u->r, "manifest.signature", CAPV_CHECK_WARN, d,
                                "valid signature(s), but no signing key is trusted (allowed)");
    return capvi_report_add(u->r, "manifest.signature", CAPV_CHECK_FAIL, d,
                            "no valid signature by a trusted key; %s", first_problem);
}

static capv_status check_proof_container(unit_ctx *u)
{
    bool fits;
    capv_status st = read_priced(u, u->pidx, &u->pv, proof_cost, &fits);
    if (st != CAPV_OK)
        return st;
    if (!fits)
        return too_large(u, "proof.container", u->spec->proof_file, u->pidx);
    u->p = u->pv.data;
    u->plen = u->pv.len;
    capv_error perr = CAPV_ERROR_INIT;
    if (capvi_proof_parse(&u->proof, u->p, u->plen, &perr) != CAPV_OK) {
        if (perr.code == CAPV_E_NOMEM)
            return CAPV_E_NOMEM;
        return capvi_report_add(u->r, "proof.container", CAPV_CHECK_FAIL, NULL, "%s: %s",
                                u->spec->proof_file, perr.message);
    }
    u->proof_ok = true;
    cJSON *d = obj();
    put_str(d, "container", u->proof.container);
    put_str(d, "backend", u->proof.backend);
    if (strcmp(u->proof.container, "capz-v2") == 0)
        put_num(d, "payload_len", u->proof.payload_len);
    if (u->proof.backend_class == CAPV_BACKEND_UNKNOWN) {
        u->proof_ok = false;
        return capvi_report_add(u->r, "proof.container", CAPV_CHECK_FAIL, d,
                                "unknown proof backend '%s'", u->proof.backend);
    }
    return capvi_report_add(u->r, "proof.container", CAPV_CHECK_PASS, d, "%s proof, backend %s",
                            u->proof.container, u->proof.backend);
}

static capv_status check_proof_binding(unit_ctx *u)
{
    if (!u->proof_ok)
        return capvi_report_add(u->r, "proof.binding", CAPV_CHECK_SKIP, NULL,
                                "the proof could not be read");
    const capv_proof *p = &u->proof;
    if (p->binding == CAPV_BIND_NONE)
        return capvi_report_add(u->r, "proof.binding", CAPV_CHECK_FAIL, NULL,
                                "the proof names no manifest: it could be replayed with any "
                                "manifest");
    cJSON *d = obj();
    uint8_t got[32];
    capv_status st;
    if (p->binding == CAPV_BIND_BLAKE3_RAW) {
        put_str(d, "rule", "blake3(manifest file)");
        if (u->m == NULL)
            return capvi_report_add(u->r, "proof.binding", CAPV_CHECK_SKIP, d,
                                    "the manifest could not be read");
        if ((st = capv_hash(got, CAPV_HASH_BLAKE3, u->m, u->mlen, NULL)) != CAPV_OK) {
            cJSON_Delete(d);
            return st;
        }
    } else {
        put_str(d, "rule", "sha3-256(compat canonical manifest, signatures [])");
        if (u->manifest == NULL)
            return capvi_report_add(u->r, "proof.binding", CAPV_CHECK_SKIP, d,
                                    "the manifest could not be read");
        if ((st = make_canonical(u)) != CAPV_OK ||
            (st = capv_hash(got, CAPV_HASH_SHA3_256, u->canonical, u->canonical_len, NULL)) !=
                CAPV_OK) {
            cJSON_Delete(d);
            return st;
        }
    }
    put_hash(d, "proof_manifest_hash", p->manifest_hash);
    put_hash(d, "computed_manifest_hash", got);
    if (memcmp(got, p->manifest_hash, 32) != 0)
        return capvi_report_add(u->r, "proof.binding", CAPV_CHECK_FAIL, d,
                                "the proof is for another manifest (manifest_hash differs)");
    if (p->has_policy_hash) {
        put_hash(d, "proof_policy_hash", p->policy_hash);
        if (!u->has_policy_hash || memcmp(p->policy_hash, u->policy_hash, 32) != 0)
            return capvi_report_add(u->r, "proof.binding", CAPV_CHECK_FAIL, d,
                                    "the proof's policy_hash differs from the manifest's policy");
    }
    if (p->statement != NULL && u->policy_version != NULL) {
        if (charge_detail(u->layout, 1, p->statement, NULL))
            put_str(d, "statement", p->statement);
        /* "policy:" and the whole version, however long */
        if (strncmp(p->statement, "policy:", 7) != 0 ||
            strcmp(p->statement + 7, u->policy_version) != 0)
            return capvi_report_add(u->r, "proof.binding", CAPV_CHECK_FAIL, d,
                                    "the proof's statement '%.60s' is not 'policy:%.53s'",
                                    p->statement, u->policy_version);
    }
    return capvi_report_add(u->r, "proof.binding", CAPV_CHECK_PASS, d,
                            "the proof is bound to this manifest%s",
                            p->has_policy_hash ? " and its policy" : "");
}

static capv_status check_proof_backend(unit_ctx *u)
{
    if (!u->proof_ok)
        return capvi_report_add(u->r, "proof.backend", CAPV_CHECK_SKIP, NULL,
                                "the proof could not be read");
    cJSON *d = obj();
    put_str(d, "backend", u->proof.backend);
    if (u->proof.backend_class == CAPV_BACKEND_MOCK) {
        switch (u->o->mock) {
        case CAPV_MOCK_ACCEPT:
            return capvi_report_add(u->r, "proof.backend", CAPV_CHECK_PASS, d,
                                    "backend '%s' accepted by policy (no cryptographic assurance)",
                                    u->proof.backend);
        case CAPV_MOCK_FAIL:
            return capvi_report_add(u->r, "proof.backend", CAPV_CHECK_FAIL, d,
                                    "backend '%s' gives no cryptographic assurance",
                                    u->proof.backend);
        case CAPV_MOCK_WARN: break;
        }
        return capvi_report_add(u->r, "proof.backend", CAPV_CHECK_WARN, d,
                                "backend '%s' gives no cryptographic assurance", u->proof.backend);
    }
    return capvi_report_add(u->r, "proof.backend", u->o->strict ? CAPV_CHECK_FAIL : CAPV_CHECK_WARN,
                            d, "backend '%s' proofs cannot be checked by this verifier",
                            u->proof.backend);
}

/* A registry that cannot be reached or read (CAPV_E_STORAGE: a database down, a disk
 * fault) answers none of a check's questions: the check says it could not look, with the
 * reason, at `status` (what the unanswered question would give at worst), and the report is
 * not cached, so the next verification asks again (docs/registry.md, "The registry out of
 * reach"). Any other failure is returned. */
static capv_status registry_out_of_reach(unit_ctx *u, const char *check, capv_check_status status,
                                         cJSON *d, const char *what)
{
    u->r->now_bound = true;
    put_str(d, "error", capv_status_name(CAPV_E_STORAGE));
    capv_status st = capvi_report_add(
        u->r, check, status, d, "%s: the registry cannot be read (%.300s)", what, u->err.message);
    capv_error_clear(&u->err);
    return st;
}

/* Whether the registry's policy store keeps the manifest's policy (docs/policies.md, "The
 * verifier's policy store"): its stored IR must load as a directory's IR file does, ir_hash
 * recomputed, and be the IR of that very policy. A stored copy that is not (*damaged, its
 * reason) does not make the policy known. A registry that cannot be read is no answer (the
 * status is returned), never a verdict. */
static capv_status registry_knows_policy(bool *known, capv_error *damaged, unit_ctx *u)
{
    char hex[CAPV_DIGEST_HEX_SIZE];
    capv_digest_format(hex, u->policy_hash);
    capv_registry_policy *p = NULL;
    capv_policy_ir *ir = NULL;
    *known = false;
    capv_status st = capv_registry_get_policy(&p, u->v->registry, hex, damaged);
    if (st == CAPV_E_NOT_FOUND) {
        capv_error_clear(damaged);
        return CAPV_OK;
    }
    if (st != CAPV_OK) {
        u->err = *damaged;
        return st;
    }
    st = capvi_reg_policy_ir(&ir, p, damaged);
    if (st == CAPV_OK && !capvi_digest_is(capv_policy_ir_policy_hash(ir), u->policy_hash))
        capvi_err_set(damaged, CAPV_E_MISMATCH, "policy_hash",
                      "stored under this policy hash, the IR is of policy hash %.80s",
                      capv_policy_ir_policy_hash(ir));
    else if (st == CAPV_OK)
        *known = true;
    capv_policy_ir_free(ir);
    capv_registry_policy_free(p);
    if (st == CAPV_E_NOMEM) {
        u->err = *damaged;
        return st;
    }
    if (*known)
        capv_error_clear(damaged);
    return CAPV_OK;
}

static capv_status check_policy_binding(unit_ctx *u)
{
    cJSON *d = obj();
    /* what the manifest calls its policy, for readers of the report (docs/formats.md) */
    if (u->policy_name != NULL && charge_detail(u->layout, 1, u->policy_name, NULL))
        put_str(d, "policy_name", u->policy_name);
    if (u->policy_version != NULL && charge_detail(u->layout, 1, u->policy_version, NULL))
        put_str(d, "policy_version", u->policy_version);
    if (u->spec->policy_hash != NULL) {
        uint8_t meta[32];
        if (charge_detail(u->layout, 1, u->spec->policy_hash, NULL))
            put_str(d, "meta_policy_hash", u->spec->policy_hash);
        if (capv_digest_parse(meta, u->spec->policy_hash, strlen(u->spec->policy_hash), NULL) !=
                CAPV_OK ||
            is_placeholder(meta))
            return capvi_report_add(u->r, "policy.binding", CAPV_CHECK_FAIL, d,
                                    "the package metadata names placeholder policy hash '%.70s'",
                                    u->spec->policy_hash);
        if (u->has_policy_hash && memcmp(meta, u->policy_hash, 32) != 0)
            return capvi_report_add(u->r, "policy.binding", CAPV_CHECK_FAIL, d,
                                    "the package metadata and the manifest name different "
                                    "policies");
    }
    if (!u->has_policy_hash) {
        cJSON_Delete(d);
        return capvi_report_add(u->r, "policy.binding",
                                u->manifest ? CAPV_CHECK_FAIL : CAPV_CHECK_SKIP, NULL,
                                "the manifest names no valid policy hash");
    }
    put_hash(d, "policy_hash", u->policy_hash);
    if (is_placeholder(u->policy_hash))
        return capvi_report_add(u->r, "policy.binding", CAPV_CHECK_FAIL, d,
                                "the manifest names a placeholder policy hash");
    if (u->proof_ok) {
        put_num(d, "constraints", (double)u->proof.constraints);
        put_num(d, "constraints_failed", (double)u->proof.constraints_failed);
        if (u->proof.status[0] != '\0')
            put_str(d, "proof_status", u->proof.status);
        if (u->proof.status[0] != '\0' && strcmp(u->proof.status, "ok") != 0)
            return capvi_report_add(u->r, "policy.binding", CAPV_CHECK_FAIL, d,
                                    "the proof's status is '%s', not 'ok'", u->proof.status);
        if (u->proof.constraints_failed > 0)
            return capvi_report_add(u->r, "policy.binding", CAPV_CHECK_FAIL, d,
                                    "%zu of %zu constraint(s) not ok; first: %s",
                                    u->proof.constraints_failed, u->proof.constraints,
                                    u->proof.first_failed ? u->proof.first_failed : "");
    }
    bool known = capvi_verifier_knows_policy(u->v, u->policy_hash);
    capv_error damaged = CAPV_ERROR_INIT;
    if (!known && u->v->registry != NULL) {
        capv_status st = registry_knows_policy(&known, &damaged, u);
        if (st == CAPV_E_STORAGE) {
            put_bool(d, "known", false);
            /* strict: an unknown policy fails, and this one may be unknown */
            return registry_out_of_reach(u, "policy.binding",
                                         u->o->strict ? CAPV_CHECK_FAIL : CAPV_CHECK_WARN, d,
                                         "the policy is not in the policy directory, and the "
                                         "registry's policy store was not asked");
        }
        if (st != CAPV_OK) {
            cJSON_Delete(d);
            return st;
        }
    }
    put_bool(d, "known", known);
    if (!known)
        return capvi_report_add(u->r, "policy.binding",
                                u->o->strict ? CAPV_CHECK_FAIL : CAPV_CHECK_WARN, d,
                                "the policy is unknown to the policy store%s%.300s%s",
                                damaged.code ? " (the registry's copy is damaged: " : "",
                                damaged.message, damaged.code ? ")" : "");
    return capvi_report_add(
        u->r, "policy.binding", CAPV_CHECK_PASS, d, "the policy is known%s",
        u->proof_ok && u->proof.constraints ? " and every checked constraint is ok" : "");
}

static capv_status check_timestamp(unit_ctx *u, int64_t now_ms)
{
    if (!u->has_tsr) {
        /* a bundle of several units has one token at most, for no unit in particular
         * (docs/formats.md) */
        const char *none = u->layout->tsr_name != NULL
                               ? "the package's timestamp token is not matched to one of its "
                                 "several proof units"
                               : "no timestamp token in the package";
        if (u->anchor_kind != NULL && strcmp(u->anchor_kind, "tsa") == 0)
            return capvi_report_add(u->r, "timestamp", CAPV_CHECK_WARN, NULL,
                                    "the manifest names a TSA time anchor, but %s", none);
        return capvi_report_add(u->r, "timestamp",
                                u->o->require_timestamp ? CAPV_CHECK_WARN : CAPV_CHECK_SKIP, NULL,
                                "%s", none);
    }
    bool fits;
    capv_status rst = read_priced(u, u->tidx, &u->tv, tsr_cost, &fits);
    if (rst != CAPV_OK)
        return rst;
    if (!fits)
        return too_large(u, "timestamp", u->layout->tsr_name, u->tidx);
    u->tsr = u->tv.data;
    u->tsrlen = u->tv.len;
    size_t i = 0;
    while (i < u->tsrlen &&
           (u->tsr[i] == ' ' || u->tsr[i] == '\n' || u->tsr[i] == '\r' || u->tsr[i] == '\t'))
        i++;
    if (i < u->tsrlen && u->tsr[i] == '{')
        return capvi_report_add(u->r, "timestamp", CAPV_CHECK_WARN, NULL,
                                "unverifiable timestamp: a JSON tsr.v1 carries an unkeyed hash");
    if (u->v->tsa == NULL)
        return capvi_report_add(u->r, "timestamp", u->o->strict ? CAPV_CHECK_FAIL : CAPV_CHECK_WARN,
                                NULL,
                                "a timestamp token is present but no TSA roots are configured");
    if (u->m == NULL)
        return capvi_report_add(u->r, "timestamp", CAPV_CHECK_SKIP, NULL,
                                "the manifest could not be read");
    capv_timestamp_info info;
    memset(&info, 0, sizeof info);
    capv_error terr = CAPV_ERROR_INIT;
    capv_status st = capvi_timestamp_verify(&info, u->v->tsa, u->tsr, u->tsrlen, u->m, u->mlen,
                                            now_ms, u->o->leeway_s * 1000, &terr);
    if (st == CAPV_E_NOMEM)
        return st;
    cJSON *d = obj();
    if (info.gen_time_ms != 0) {
        char t[32];
        capvi_time_format_ms(t, info.gen_time_ms);
        put_str(d, "gen_time", t);
        put_str(d, "hash_alg", info.hash_alg);
        put_str(d, "tsa", info.tsa_subject);
        put_str(d, "serial", info.serial);
    }
    if (st != CAPV_OK) {
        /* a token dated after now passes later: that verdict holds for now only */
        if (st == CAPV_E_NOT_YET_VALID)
            u->r->now_bound = true;
        put_str(d, "error", capv_status_name(st));
        return capvi_report_add(u->r, "timestamp", CAPV_CHECK_FAIL, d, "timestamp invalid: %s",
                                terr.message);
    }
    return capvi_report_add(u->r, "timestamp", CAPV_CHECK_PASS, d,
                            "RFC 3161 token over the manifest from a trusted TSA");
}

/* The registry check: the entry for (manifest_hash, proof_hash) and its signature
 * (docs/registry.md, "Entry signatures"), through the registry module (a JSON registry in
 * memory, SQLite or PostgreSQL). A registry out of reach warns, as an entry not found does
 * (registry_out_of_reach);
 * any other failure to read it is no answer (the status is returned), never a verdict. */
static capv_status check_registry(unit_ctx *u)
{
    capv_registry *reg = u->v->registry;
    if (reg == NULL)
        return capvi_report_add(u->r, "registry",
                                u->o->check_registry ? CAPV_CHECK_WARN : CAPV_CHECK_SKIP, NULL,
                                "no registry configured");
    capv_reg_signed e;
    capv_status st = capvi_reg_lookup_signed(&e, reg, u->manifest_sha3, u->proof_sha3, &u->err);
    if (st == CAPV_E_NOT_FOUND)
        return capvi_report_add(u->r, "registry",
                                u->o->check_registry ? CAPV_CHECK_WARN : CAPV_CHECK_SKIP, NULL,
                                "no registry entry for this manifest and proof");
    if (st == CAPV_E_STORAGE)
        return registry_out_of_reach(u, "registry", CAPV_CHECK_WARN, obj(), "no entry looked up");
    if (st != CAPV_OK)
        return st;
    cJSON *d = obj();
    put_str(d, "entry_id", e.id);
    if (e.material == CAPV_E_MISSING) {
        st = capvi_report_add(u->r, "registry", CAPV_CHECK_WARN, d,
                              "registry entry '%s' is unsigned", e.id);
        goto out;
    }
    if (e.material != CAPV_OK) {
        st = capvi_report_add(u->r, "registry", CAPV_CHECK_FAIL, d, "registry entry '%s': %s", e.id,
                              e.problem);
        goto out;
    }
    uint8_t digest[32];
    if ((st = capv_hash(digest, CAPV_HASH_BLAKE3, e.signed_bytes, e.signed_len, NULL)) != CAPV_OK) {
        cJSON_Delete(d);
        goto out;
    }
    st = capvi_ed25519_verify_with(u->v->trust, e.public_key, e.signature, digest, 32, NULL);
    if (st != CAPV_OK && st != CAPV_E_SIGNATURE && st != CAPV_E_MALFORMED) {
        cJSON_Delete(d); /* out of memory, or OpenSSL failing: no verdict */
        goto out;
    }
    if (st != CAPV_OK) {
        st = capvi_report_add(u->r, "registry", CAPV_CHECK_FAIL, d,
                              "registry entry '%s' has an invalid signature", e.id);
        goto out;
    }
    /* trusted as the manifest's signers are, at the entry's registration time: a revoked
     * key fails (as every signature by it does), one not in the store or outside its
     * validity then warns */
    const capv_key *key = NULL;
    capv_status tr = capvi_trust_decide(&key, u->v->trust, e.public_key, e.registered);
    put_bool(d, "signer_trusted", tr == CAPV_OK);
    if (key != NULL)
        put_str(d, "key_status", capv_key_status_name(capv_key_status_of(key)));
    const char *why = tr == CAPV_E_UNTRUSTED       ? "a key not in the trust store"
                      : tr == CAPV_E_REVOKED       ? "a revoked key"
                      : tr == CAPV_E_NOT_YET_VALID ? "a key not yet valid when it was registered"
                      : tr == CAPV_E_EXPIRED       ? "a key no longer valid when it was registered"
                      : tr == CAPV_E_MISSING
                          ? "a key whose validity its registered_at, not a time, "
                            "cannot be judged by"
                          : "a trusted key";
    if (tr == CAPV_OK)
        st = capvi_report_add(u->r, "registry", CAPV_CHECK_PASS, d,
                              "registry entry '%s' is validly signed by %s", e.id, why);
    else
        st = capvi_report_add(u->r, "registry",
                              tr == CAPV_E_REVOKED ? CAPV_CHECK_FAIL : CAPV_CHECK_WARN, d,
                              "registry entry '%s' is validly signed, but by %s", e.id, why);
out:
    capvi_reg_signed_clear(&e);
    return st;
}

/* ---- audit ------------------------------------------------------------------------------ */

/* What verifying a log costs beyond its bytes: one line's parse tree and text at a time (the
 * text of a v1 event's details at most 5 times its line, in a buffer that doubles), so the
 * largest line read (lines after the CAPV_AUDIT_MAX_LINES-th, or from one longer than
 * CAPV_AUDIT_MAX_LINE_BYTES on, are never parsed). Stops before the first line costing more
 * than `cap`: *fit is where that line begins, n when every line fits. */
static uint64_t audit_cost(const uint8_t *d, size_t n, uint64_t cap, size_t *fit)
{
    uint64_t worst = 0;
    size_t pos = 0, lines = 0;
    *fit = n;
    while (pos < n && lines < CAPV_AUDIT_MAX_LINES) {
        const uint8_t *nl = memchr(d + pos, '\n', n - pos);
        size_t k = nl != NULL ? (size_t)(nl - (d + pos)) : n - pos;
        if (k > CAPV_AUDIT_MAX_LINE_BYTES) /* the scan stops before this line */
            break;
        uint64_t c = json_cost(d + pos, k) + 10u * (uint64_t)k;
        if (c > cap) {
            *fit = pos;
            break;
        }
        if (c > worst)
            worst = c;
        pos += k + 1;
        lines++;
    }
    return worst;
}

/* Verifies one log into `s`; only the summary is kept. A log with a line the budget cannot
 * parse is too large (s->fits false), unless it breaks before that line: then it is broken
 * there, as it would be with any budget. */
static capv_status scan_audit(layout *l, audit_source *s, const uint8_t *d, size_t n,
                              capv_error *err)
{
    size_t fit;
    uint64_t c = audit_cost(d, n, l->budget, &fit);
    s->fits = charge(l, c); /* c is within the budget */
    if (!s->fits)
        return CAPV_OK;
    capv_error aerr = CAPV_ERROR_INIT;
    s->status = capvi_audit_scan(&s->sum, d, fit, NULL, NULL, NULL, &aerr);
    refund(l, c);
    if (s->status != CAPV_OK && s->sum.bad_line == 0) /* no answer: resources */
        return capvi_err_set(err, s->status, NULL, "%s", aerr.message);
    if (fit < n && s->status == CAPV_OK) {
        s->fits = false; /* intact up to the line it cannot pay for */
        return CAPV_OK;
    }
    snprintf(s->message, sizeof s->message, "%s", aerr.message);
    return CAPV_OK;
}

/* The package's log and the one given beside it, each verified once for all units. */
static capv_status read_audit_logs(layout *l, const capv_verify_options *o, capv_error *err)
{
    size_t idx;
    if (l->audit_name != NULL && capvi_package_index(l->pkg, l->audit_name, &idx)) {
        audit_source *s = &l->audit[l->naudit++];
        s->name = l->audit_name;
        uint64_t n = l->pkg->members[idx].len;
        if (charge(l, n)) { /* else s->fits stays false */
            capv_member_view v = { NULL, 0, NULL };
            capv_status st = capvi_package_member_view(l->pkg, idx, &v, err);
            if (st == CAPV_OK)
                st = scan_audit(l, s, v.data, v.len, err);
            capvi_member_view_release(&v);
            refund(l, n);
            if (st != CAPV_OK)
                return st;
        }
    }
    if (o->audit_log != NULL) {
        audit_source *s = &l->audit[l->naudit++];
        return scan_audit(l, s, o->audit_log, o->audit_log_len, err);
    }
    return CAPV_OK;
}

/* The log's tip after its first `n` events (0 < n < its events) and the BLAKE3 of its n-th
 * line, for a manifest that names a tip before the log's end: a producer's log goes on after
 * the manifest it built (docs/formats.md, "Audit logs"). The chain verified, so the digest
 * the line carries is its tip. The lines are found on the first call and kept, with the
 * member's bytes, for the other units. *fits false: the verification limit cannot pay for
 * that. */
static capv_status audit_tip_at(uint8_t tip[32], uint8_t line_tip[32], bool *fits, layout *l,
                                audit_source *s, const capv_verify_options *o, size_t n,
                                capv_error *err)
{
    *fits = true;
    if (s->ends == NULL) {
        size_t idx = 0, len = o->audit_log_len;
        uint64_t bytes = 0, cost = (uint64_t)s->sum.events * sizeof *s->ends;
        if (s->name != NULL) {
            if (!capvi_package_index(l->pkg, s->name, &idx))
                return capvi_err_set(err, CAPV_E_INTERNAL, NULL, "the audit log member vanished");
            bytes = l->pkg->members[idx].len;
        }
        if (!charge(l, bytes + cost)) { /* held to the end of the verification */
            *fits = false;
            return CAPV_OK;
        }
        if ((s->ends = malloc(cost)) == NULL)
            return capvi_err_nomem(err);
        s->data = o->audit_log;
        if (s->name != NULL) {
            capv_status st = capvi_package_member_view(l->pkg, idx, &s->view, err);
            if (st != CAPV_OK) {
                free(s->ends);
                s->ends = NULL;
                return st;
            }
            s->data = s->view.data;
            len = s->view.len;
        }
        size_t pos = 0;
        for (size_t i = 0; i < s->sum.events; i++) {
            const uint8_t *nl = memchr(s->data + pos, '\n', len - pos);
            s->ends[i] = nl != NULL ? (size_t)(nl - s->data) : len;
            pos = s->ends[i] + 1;
        }
    }
    size_t start = n == 1 ? 0 : s->ends[n - 2] + 1;
    const uint8_t *line = s->data + start;
    size_t k = s->ends[n - 1] - start;
    uint64_t c = json_cost(line, k);
    if (!charge(l, c)) {
        *fits = false;
        return CAPV_OK;
    }
    capv_status st = capvi_audit_line_digest(tip, line, k, err);
    refund(l, c);
    return st == CAPV_OK ? capv_hash(line_tip, CAPV_HASH_BLAKE3, line, k, err) : st;
}

/* Whether `want` names the tip of a chain: the chain's tip, or (the desktop variant) the
 * BLAKE3 of its last line (`line_tip`, NULL without events). The rule that matched, or NULL. */
static const char *tip_rule(const uint8_t tip[32], const uint8_t *line_tip, const uint8_t want[32])
{
    if (memcmp(want, tip, 32) == 0)
        return "chain tip";
    if (line_tip != NULL && memcmp(want, line_tip, 32) == 0)
        return "blake3(last line)";
    return NULL;
}

/* Compares an intact log with the manifest: *why is the problem, or NULL when the log holds
 * the chain the manifest names (and goes on *after events past it). */
static capv_status audit_mismatch(const char **why, size_t *after, unit_ctx *u, audit_source *s,
                                  cJSON *sd, char *buf, size_t cap)
{
    *why = NULL;
    *after = 0;
    if (u->audit_tail_kind != TAIL_DIGEST || u->audit_count < 0) {
        *why = "the manifest names no valid audit tip and event count to compare with";
        return CAPV_OK;
    }
    size_t events = s->sum.events;
    const uint8_t *tip = s->sum.tip, *line_tip = events > 0 ? s->sum.line_tip : NULL;
    /* a log that went on after the manifest: its chain as it stood after events_count */
    uint8_t at[32] = { 0 }, at_line[32];
    bool prefix = (uint64_t)u->audit_count < (uint64_t)events &&
                  tip_rule(tip, line_tip, u->audit_tail) == NULL;
    if (prefix) {
        size_t n = (size_t)u->audit_count;
        bool fits = true;
        if (n > 0) {
            capv_status st = audit_tip_at(at, at_line, &fits, u->layout, s, u->o, n, &u->err);
            if (st != CAPV_OK)
                return st;
        }
        if (!fits) {
            *why = "finding its tip after the manifest's audit.events_count needs more memory "
                   "than the verification limit";
            return CAPV_OK;
        }
        tip = at;
        line_tip = n > 0 ? at_line : NULL;
    }
    const char *rule = tip_rule(tip, line_tip, u->audit_tail);
    if (rule == NULL) {
        char have[CAPV_DIGEST_HEX_SIZE], want[CAPV_DIGEST_HEX_SIZE];
        capv_digest_format(have, tip);
        capv_digest_format(want, u->audit_tail);
        if (prefix)
            snprintf(buf, cap,
                     "its tip after %lld event(s), the manifest's audit.events_count, is %s, "
                     "not the manifest's audit.tail_digest %s (nor is its tip after all %zu)",
                     (long long)u->audit_count, have, want, events);
        else
            snprintf(buf, cap, "its tip %s is not the manifest's audit.tail_digest %s", have, want);
        *why = buf;
        return CAPV_OK;
    }
    put_str(sd, "rule", rule);
    if (!prefix && (uint64_t)u->audit_count != (uint64_t)events) {
        snprintf(buf, cap, "it holds %zu event(s), the manifest's audit.events_count is %lld",
                 events, (long long)u->audit_count);
        *why = buf;
        return CAPV_OK;
    }
    if (u->has_anchor_tip &&
        (!u->anchor_tip_ok || tip_rule(tip, line_tip, u->anchor_tip) == NULL)) {
        *why = "the manifest's time_anchor.audit_tip_hex does not name its tip";
        return CAPV_OK;
    }
    if (prefix) {
        *after = events - (size_t)u->audit_count;
        put_num(sd, "events_after", (double)*after);
    }
    return CAPV_OK;
}

/* The `audit` check (docs/formats.md, "Audit logs"): every log present is intact and is the
 * one the manifest names. */
static capv_status check_audit(unit_ctx *u)
{
    layout *l = u->layout;
    capv_check_status absent = u->o->strict ? CAPV_CHECK_WARN : CAPV_CHECK_SKIP;
    if (l->naudit == 0)
        return capvi_report_add(u->r, "audit", absent, NULL, "%s",
                                u->audit_tail_kind == TAIL_NONE
                                    ? "the manifest records no audit log (tail_digest 0x0)"
                                    : "no audit log in or beside the package");
    if (u->manifest == NULL)
        return capvi_report_add(u->r, "audit", CAPV_CHECK_SKIP, NULL,
                                "the manifest could not be read");
    cJSON *d = obj();
    cJSON *logs = d ? capvi_json_add_container(d, "logs", false) : NULL;
    size_t broken = 0, unbound = 0, omitted = 0, later = 0;
    char first[400] = "", buf[300];
    for (size_t i = 0; i < l->naudit; i++) {
        audit_source *s = &l->audit[i];
        const char *source = s->name ? s->name : "beside the package";
        const char *why = NULL;
        bool is_broken = true;
        cJSON *sd = obj();
        put_str(sd, "source", source);
        if (!s->fits) {
            why = "it needs more memory than the verification limit";
        } else if (s->status != CAPV_OK) {
            put_num(sd, "line", (double)s->sum.bad_line);
            put_str(sd, "break", capv_audit_problem_name(s->sum.problem));
            why = s->message;
        } else {
            put_str(sd, "format", capv_audit_format_name(s->sum.format));
            put_num(sd, "events", (double)s->sum.events);
            put_hash(sd, "tip", s->sum.tip);
            if (s->sum.events > 0)
                put_hash(sd, "line_tip", s->sum.line_tip);
            is_broken = false;
            static const uint8_t genesis[32] = { 0 };
            if (u->audit_tail_kind == TAIL_NONE) {
                why = "the manifest records no audit log (tail_digest 0x0): this one is not "
                      "bound to it";
                unbound++;
            } else if (u->audit_tail_kind == TAIL_DIGEST && u->audit_count == 0 &&
                       s->sum.events > 0 && memcmp(u->audit_tail, genesis, 32) == 0) {
                /* every chain starts there: the manifest names none of its events */
                why = "the manifest names the genesis and no events: this log is not bound to "
                      "it";
                unbound++;
            } else {
                size_t after = 0;
                capv_status st = audit_mismatch(&why, &after, u, s, sd, buf, sizeof buf);
                if (st != CAPV_OK) {
                    cJSON_Delete(sd);
                    cJSON_Delete(d);
                    return st;
                }
                is_broken = why != NULL;
                if (after > later)
                    later = after;
            }
        }
        if (why != NULL) {
            put_str(sd, "problem", why);
            if (first[0] == '\0')
                snprintf(first, sizeof first, "%s: %s", source, why);
        }
        broken += is_broken ? 1 : 0;
        if (!charge_detail(l, 10, source, why)) {
            omitted++;
            cJSON_Delete(sd);
        } else if (logs != NULL && sd != NULL) {
            cJSON_AddItemToArray(logs, sd);
        } else {
            cJSON_Delete(sd);
        }
    }
    if (omitted > 0)
        put_num(d, "logs_omitted", (double)omitted);
    if (u->audit_tail_kind == TAIL_DIGEST)
        put_hash(d, "tail_digest", u->audit_tail);
    if (u->audit_count >= 0)
        put_num(d, "events_count", (double)u->audit_count);
    if (broken > 0)
        return capvi_report_add(u->r, "audit", CAPV_CHECK_FAIL, d, "%s", first);
    if (unbound > 0)
        return capvi_report_add(u->r, "audit", CAPV_CHECK_WARN, d, "%s", first);
    const char *which = l->naudit > 1 ? "each" : "the";
    const char *format = capv_audit_format_name(l->audit[0].sum.format);
    if (later > 0)
        return capvi_report_add(u->r, "audit", CAPV_CHECK_PASS, d,
                                "%s audit log (%s, %zu event(s)) is intact and holds the "
                                "manifest's tip; %zu later event(s) are not the manifest's",
                                which, format, l->audit[0].sum.events, later);
    return capvi_report_add(u->r, "audit", CAPV_CHECK_PASS, d,
                            "%s audit log (%s, %zu event(s)) is intact and ends at the "
                            "manifest's tip",
                            which, format, l->audit[0].sum.events);
}

static capv_status verify_unit(unit_ctx *u, int64_t now_ms)
{
    capv_status st;
    const capv_package *pkg = u->layout->pkg;
    if ((st = capvi_package_member_sha3(pkg, u->midx, u->manifest_sha3, &u->err)) != CAPV_OK ||
        (st = capvi_package_member_sha3(pkg, u->pidx, u->proof_sha3, &u->err)) != CAPV_OK ||
        (st = capvi_report_set_hash(&u->r->manifest_hash, u->manifest_sha3)) != CAPV_OK ||
        (st = capvi_report_set_hash(&u->r->proof_hash, u->proof_sha3)) != CAPV_OK)
        return st;
    if ((st = check_manifest_schema(u)) != CAPV_OK)
        return st;
    if (u->has_policy_hash &&
        (st = capvi_report_set_hash(&u->r->policy_hash, u->policy_hash)) != CAPV_OK)
        return st;
    if ((st = check_signature(u)) != CAPV_OK || (st = check_proof_container(u)) != CAPV_OK ||
        (st = check_proof_binding(u)) != CAPV_OK || (st = check_proof_backend(u)) != CAPV_OK ||
        (st = check_policy_binding(u)) != CAPV_OK || (st = check_timestamp(u, now_ms)) != CAPV_OK ||
        (st = check_registry(u)) != CAPV_OK)
        return st;
    return check_audit(u);
}

static void unit_clear(unit_ctx *u)
{
    capvi_json_arena_release(&u->manifest_nodes);
    free(u->canonical);
    capvi_proof_clear(&u->proof);
    capvi_member_view_release(&u->mv);
    capvi_member_view_release(&u->pv);
    capvi_member_view_release(&u->tv);
    refund(u->layout, u->charged);
}

static const char *const unit_check_ids[] = {
    "manifest.schema", "manifest.signature", "proof.container", "proof.binding", "proof.backend",
    "policy.binding",  "timestamp",          "registry",        "audit",
};

static capv_status skip_unit_checks(capv_report *r, const char *why)
{
    for (size_t i = 0; i < sizeof unit_check_ids / sizeof *unit_check_ids; i++) {
        capv_status st = capvi_report_add(r, unit_check_ids[i], CAPV_CHECK_SKIP, NULL, "%s", why);
        if (st != CAPV_OK)
            return st;
    }
    return CAPV_OK;
}

/* A report for a package whose layout failed: the reason, and every other check skipped. */
static capv_status layout_failure(capv_report *r, const char *why)
{
    capv_status st = capvi_report_add(r, "package.layout", CAPV_CHECK_FAIL, NULL, "%s", why);
    if (st == CAPV_OK)
        st = capvi_report_add(r, "package.integrity", CAPV_CHECK_SKIP, NULL,
                              "the package layout failed");
    if (st == CAPV_OK)
        st = skip_unit_checks(r, "the package layout failed");
    return st;
}

static capv_report *report_new(void)
{
    capv_report *r = malloc(sizeof *r);
    if (r != NULL && capvi_report_init(r, "") != CAPV_OK) {
        free(r);
        r = NULL;
    }
    return r;
}

static capv_status run(capv_report *r, const capv_verifier *v, const capv_package *pkg,
                       const capv_verify_options *o, int64_t now_ms, capv_error *err)
{
    layout l;
    const char *problem = NULL;
    char msg[300];
    capv_status st = detect_layout(&l, pkg, &problem, msg, sizeof msg, err);
    if (st != CAPV_OK)
        goto out;
    snprintf(r->format, sizeof r->format, "%s", l.format);
    /* every unit's checks, and the package's own */
    uint64_t units_cost = UNIT_COST;
    for (size_t i = 0; problem == NULL && i < l.nunits; i++)
        units_cost += UNIT_COST + text_cost(l.units[i].id);
    if (problem == NULL && !charge(&l, units_cost)) {
        snprintf(msg, sizeof msg,
                 "%zu proof unit(s) need more memory than the verification limit of %llu bytes",
                 l.nunits, (unsigned long long)pkg->limits.verify_bytes);
        problem = msg;
    }
    if (problem != NULL) {
        st = layout_failure(r, problem);
        goto out;
    }
    cJSON *ld = obj();
    put_num(ld, "units", (double)l.nunits);
    put_num(ld, "members", (double)capv_package_member_count(pkg));
    CAPV_TRY(capvi_report_add(r, "package.layout", CAPV_CHECK_PASS, ld,
                              "%s layout with %zu "
                              "proof unit(s)",
                              l.format, l.nunits));
    CAPV_TRY(check_integrity(r, pkg, &l));
    CAPV_TRY(read_audit_logs(&l, o, err));

    bool multi = l.nunits > 1;
    if (multi) {
        r->units = calloc(l.nunits, sizeof *r->units);
        if (r->units == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    }
    for (size_t i = 0; i < l.nunits; i++) {
        capv_report *target = r;
        if (multi) {
            CAPV_TRY(capvi_report_init(&r->units[i], l.units[i].id));
            r->nunits++;
            target = &r->units[i];
        }
        unit_ctx u;
        memset(&u, 0, sizeof u);
        u.v = v;
        u.o = o;
        u.r = target;
        u.spec = &l.units[i];
        u.layout = &l;
        /* the layout made sure both exist */
        if (!capvi_package_index(pkg, u.spec->manifest_file, &u.midx) ||
            !capvi_package_index(pkg, u.spec->proof_file, &u.pidx))
            CAPV_FAIL(err, CAPV_E_INTERNAL, NULL, "proof unit members vanished");
        u.has_tsr = !multi && l.tsr_name != NULL && capvi_package_index(pkg, l.tsr_name, &u.tidx);
        st = verify_unit(&u, now_ms);
        unit_clear(&u);
        if (st != CAPV_OK) {
            if (u.err.code == st && err != NULL)
                *err = u.err;
            else
                capvi_err_set(err, st, NULL, NULL);
            goto out;
        }
    }
out:
    layout_clear(&l);
    return st;
}

capv_status capv_verify_package(capv_report **out, const capv_verifier *v, const capv_package *pkg,
                                const capv_verify_options *opts, capv_error *err)
{
    if (out == NULL || v == NULL || pkg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    capv_verify_options defaults;
    if (opts == NULL) {
        capvi_verify_options_default(&defaults);
        opts = &defaults;
    }
    int64_t start = monotonic_ms();
    int64_t now = v->clock(v->clock_user);
    capv_report *r = report_new();
    if (r == NULL)
        return capvi_err_nomem(err);
    st = run(r, v, pkg, opts, now, err);
    if (st != CAPV_OK) {
        capv_report_free(r);
        return capvi_err_done(err, st);
    }
    capvi_report_finish(r);
    r->verified_at = now;
    r->duration_ms = monotonic_ms() - start;
    *out = r;
    return capvi_err_done(err, CAPV_OK);
}

/* ---- package identity and request forms -------------------------------------------- */

/* The manifest's policy.hash as "0x…", or "" when the manifest is not JSON, names no policy
 * digest, or does not fit the verification budget (as the report's policy_hash would be). */
static capv_status manifest_policy_hash(char out[CAPV_DIGEST_HEX_SIZE], layout *l, size_t midx,
                                        capv_error *err)
{
    out[0] = '\0';
    uint64_t n = l->pkg->members[midx].len;
    if (!charge(l, n))
        return CAPV_OK;
    capv_member_view v = { NULL, 0, NULL };
    capv_status st = capvi_package_member_view(l->pkg, midx, &v, err);
    if (st != CAPV_OK)
        return st;
    cJSON *root = NULL;
    if (charge(l, json_cost(v.data, v.len)) &&
        capvi_json_parse(&root, v.data, v.len, NULL) == CAPV_OK) {
        const cJSON *policy = capvi_json_get(root, "policy");
        const cJSON *hash = capvi_json_get(policy, "hash");
        uint8_t d[32];
        if (cJSON_IsString(hash) &&
            capv_digest_parse(d, hash->valuestring, strlen(hash->valuestring), NULL) == CAPV_OK)
            capv_digest_format(out, d);
    }
    cJSON_Delete(root);
    capvi_member_view_release(&v);
    return CAPV_OK;
}

capv_status capv_package_hashes(char manifest_hash[CAPV_DIGEST_HEX_SIZE],
                                char proof_hash[CAPV_DIGEST_HEX_SIZE],
                                char policy_hash[CAPV_DIGEST_HEX_SIZE], const capv_package *pkg,
                                capv_error *err)
{
    if (manifest_hash == NULL || proof_hash == NULL || pkg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    manifest_hash[0] = proof_hash[0] = '\0';
    if (policy_hash != NULL)
        policy_hash[0] = '\0';
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    layout l;
    const char *problem = NULL;
    char msg[300];
    size_t mi = 0, pi = 0;
    uint8_t d[32];
    CAPV_TRY(detect_layout(&l, pkg, &problem, msg, sizeof msg, err));
    if (problem != NULL)
        CAPV_FAIL(err, CAPV_E_MALFORMED, "package.layout", "%s", problem);
    if (l.nunits != 1)
        CAPV_FAIL(err, CAPV_E_MALFORMED, "_meta.json",
                  "a bundle of %zu proof units has no single manifest and proof", l.nunits);
    if (!capvi_package_index(pkg, l.units[0].manifest_file, &mi) ||
        !capvi_package_index(pkg, l.units[0].proof_file, &pi))
        CAPV_FAIL(err, CAPV_E_INTERNAL, NULL, "proof unit members vanished");
    CAPV_TRY(capvi_package_member_sha3(pkg, mi, d, err));
    capv_digest_format(manifest_hash, d);
    CAPV_TRY(capvi_package_member_sha3(pkg, pi, d, err));
    capv_digest_format(proof_hash, d);
    if (policy_hash != NULL)
        CAPV_TRY(manifest_policy_hash(policy_hash, &l, mi, err));
out:
    layout_clear(&l);
    if (st != CAPV_OK) {
        manifest_hash[0] = proof_hash[0] = '\0';
        if (policy_hash != NULL)
            policy_hash[0] = '\0';
    }
    return capvi_err_done(err, st);
}

capv_status capv_verify_json_form(capv_json_form *out, const uint8_t *body, size_t len,
                                  capv_error *err)
{
    static const char *const keys[] = { "package", "policy_id", "ir", "context", NULL };
    if (out == NULL || (body == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = (capv_json_form)0;
    unsigned int found = 0;
    bool object = false;
    capv_status st = capvi_json_scan_keys(&found, &object, body, len, keys, err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    if (!object)
        return capvi_err_set(err, CAPV_E_MALFORMED, "", "a JSON verification request is an object");
    if (found & 1u)
        *out = CAPV_JSON_FORM_PACKAGE;
    else if (found & (2u | 4u | 8u))
        *out = CAPV_JSON_FORM_POLICY_EVAL;
    else
        return capvi_err_set(err, CAPV_E_MALFORMED, "package",
                             "neither a package ({\"package\": {...}}) nor a policy evaluation "
                             "(\"policy_id\" or \"ir\", and \"context\")");
    return capvi_err_done(err, CAPV_OK);
}

/* Loading failures that are verdicts rather than unreadable input (docs/formats.md, "CAP
 * packages"): a report whose package.layout check failed. Other loading failures are returned as
 * they are. */
static capv_status load_result(capv_report **out, const capv_verifier *v, capv_package *pkg,
                               capv_status load_st, const capv_error *lerr,
                               const capv_verify_options *opts, capv_error *err)
{
    if (load_st == CAPV_OK) {
        capv_status st = capv_verify_package(out, v, pkg, opts, err);
        capv_package_free(pkg);
        return st;
    }
    if (load_st != CAPV_E_LIMIT && load_st != CAPV_E_UNSAFE_PATH) {
        if (err != NULL)
            *err = *lerr;
        return load_st;
    }
    capv_report *r = report_new();
    if (r == NULL)
        return capvi_err_nomem(err);
    if (layout_failure(r, lerr->message) != CAPV_OK) {
        capv_report_free(r);
        return capvi_err_nomem(err);
    }
    capvi_report_finish(r);
    r->verified_at = v->clock(v->clock_user);
    *out = r;
    return CAPV_OK;
}

capv_status capv_verify_path(capv_report **out, const capv_verifier *v, const char *path,
                             const capv_verify_options *opts, capv_error *err)
{
    if (out == NULL || v == NULL || path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    struct capv_package_limits limits;
    if (opts != NULL && opts->has_limits) {
        limits = opts->limits;
    } else {
        capvi_package_limits_default(&limits);
        limits.total_bytes = limits.entry_bytes = CAPV_CLI_MAX_TOTAL_BYTES;
        limits.verify_bytes = CAPV_CLI_MAX_VERIFY_BYTES;
    }
    capv_package *pkg = NULL;
    capv_error lerr = CAPV_ERROR_INIT;
    capv_status st = capv_package_open(&pkg, path, &limits, &lerr);
    return capvi_err_done(err, load_result(out, v, pkg, st, &lerr, opts, err));
}

/* A zip held in memory, verified without the report cache (arguments already checked). */
static capv_status zip_memory_nocache(capv_report **out, const capv_verifier *v,
                                      const uint8_t *data, size_t len,
                                      const capv_verify_options *opts, capv_error *err)
{
    capv_package *pkg = NULL;
    capv_error lerr = CAPV_ERROR_INIT;
    capv_status st = capv_package_open_zip_memory(
        &pkg, data, len, opts && opts->has_limits ? &opts->limits : NULL, &lerr);
    return load_result(out, v, pkg, st, &lerr, opts, err);
}

capv_status capv_verify_zip_memory(capv_report **out, const capv_verifier *v, const uint8_t *data,
                                   size_t len, const capv_verify_options *opts, capv_error *err)
{
    if (out == NULL || v == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    if (v->cache == NULL)
        return capvi_err_done(err, zip_memory_nocache(out, v, data, len, opts, err));
    uint8_t key[32];
    capv_status st = capvi_verify_cache_key(key, v, data, len, opts, err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    if (capvi_verify_cache_get_report(out, v, key) == CAPV_OK)
        return capvi_err_done(err, CAPV_OK);
    capv_report *r = NULL;
    if ((st = zip_memory_nocache(&r, v, data, len, opts, err)) != CAPV_OK)
        return capvi_err_done(err, st);
    char *json = NULL;
    size_t jlen = 0;
    if (capv_report_to_json(&json, &jlen, r, 0, NULL) == CAPV_OK)
        capvi_verify_cache_put(v, key, r, json, jlen);
    capv_free(json);
    *out = r;
    return capvi_err_done(err, CAPV_OK);
}

/* capv_verify_zip_memory_json, and with `problems` (cap >= 4) the checks that did not pass. */
static capv_status zip_json(char **json, size_t *json_len, capv_verdict *verdict, bool *cached,
                            char *problems, size_t problems_cap, const capv_verifier *v,
                            const uint8_t *data, size_t len, const capv_verify_options *opts,
                            unsigned int flags, capv_error *err)
{
    *json = NULL;
    if (json_len)
        *json_len = 0;
    if (cached)
        *cached = false;
    if (problems != NULL)
        problems[0] = '\0';
    bool pretty = (flags & CAPV_REPORT_JSON_PRETTY) != 0;
    uint8_t key[32] = { 0 };
    capv_status st;
    size_t tlen = 0;
    if (v->cache != NULL) {
        if ((st = capvi_verify_cache_key(key, v, data, len, opts, err)) != CAPV_OK)
            return st;
        if (capvi_verify_cache_get_json(json, &tlen, verdict, problems, problems_cap, v, key,
                                        pretty) == CAPV_OK) {
            if (json_len)
                *json_len = tlen;
            if (cached)
                *cached = true;
            return CAPV_OK;
        }
    }
    capv_report *r = NULL;
    if ((st = zip_memory_nocache(&r, v, data, len, opts, err)) != CAPV_OK)
        return st;
    char *text = NULL;
    st = capv_report_to_json(&text, &tlen, r, 0, err);
    if (st == CAPV_OK)
        capvi_verify_cache_put(v, key, r, text, tlen);
    if (st == CAPV_OK && pretty) {
        capv_free(text);
        text = NULL;
        st = capv_report_to_json(&text, &tlen, r, CAPV_REPORT_JSON_PRETTY, err);
    }
    *verdict = capv_report_verdict(r);
    if (st == CAPV_OK && problems != NULL)
        capvi_report_problems(problems, problems_cap, r);
    capv_report_free(r);
    if (st != CAPV_OK)
        return st;
    *json = text;
    if (json_len)
        *json_len = tlen;
    return CAPV_OK;
}

capv_status capv_verify_zip_memory_json(char **json, size_t *json_len, capv_verdict *verdict,
                                        bool *cached, const capv_verifier *v, const uint8_t *data,
                                        size_t len, const capv_verify_options *opts,
                                        unsigned int flags, capv_error *err)
{
    if (json == NULL || verdict == NULL || v == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    return capvi_err_done(
        err, zip_json(json, json_len, verdict, cached, NULL, 0, v, data, len, opts, flags, err));
}

capv_status capv_verify_zip_memory_json_problems(char **json, size_t *json_len,
                                                 capv_verdict *verdict, bool *cached,
                                                 char *problems, size_t problems_cap,
                                                 const capv_verifier *v, const uint8_t *data,
                                                 size_t len, const capv_verify_options *opts,
                                                 capv_error *err)
{
    if (json != NULL)
        *json = NULL;
    if (json == NULL || verdict == NULL || problems == NULL || problems_cap < 4 || v == NULL ||
        (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument or problems_cap < 4");
    return capvi_err_done(err, zip_json(json, json_len, verdict, cached, problems, problems_cap, v,
                                        data, len, opts, 0, err));
}

capv_status capv_verify_package_json(capv_report **out, const capv_verifier *v, const uint8_t *json,
                                     size_t len, const capv_verify_options *opts, capv_error *err)
{
    if (out == NULL || v == NULL || (json == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_package *pkg = NULL;
    capv_error lerr = CAPV_ERROR_INIT;
    capv_status st = capv_package_open_json(&pkg, json, len,
                                            opts && opts->has_limits ? &opts->limits : NULL, &lerr);
    return capvi_err_done(err, load_result(out, v, pkg, st, &lerr, opts, err));
}
