/* SPDX-License-Identifier: Apache-2.0 */
/* Registry entries (docs/registry.md, "Entry signatures"): validation, the bytes an entry
 * signature covers, signature checks, library-owned copies, and storing / comparing entries.
 * The one implementation of the entry signature, used by add, import, check and the
 * verifier's `registry` check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hex_int.h"
#include "json_int.h"
#include "registry_backend_int.h"
#include "registry_entry_int.h"
#include "time_int.h"

/* The size of each version of capv_registry_entry (docs/abi.md). */
static const size_t entry_sizes[] = { 0, sizeof(capv_registry_entry) };
_Static_assert(sizeof entry_sizes / sizeof entry_sizes[0] == CAPV_REGISTRY_ENTRY_VERSION + 1,
               "one size per version of capv_registry_entry");

capv_status capvi_reg_entry_read(capv_registry_entry *out, const capv_registry_entry *in,
                                 capv_error *err)
{
    const capv_registry_entry defaults = CAPV_REGISTRY_ENTRY_INIT;
    *out = defaults;
    return capvi_struct_read(out, in, entry_sizes, sizeof entry_sizes / sizeof entry_sizes[0],
                             "capv_registry_entry", err);
}

/* Printable UTF-8 without control characters, at most `max` bytes. */
static bool printable(const char *s, size_t max, bool allow_empty)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
        if (*p < 0x20 || *p == 0x7f || n >= max)
            return false;
    return (allow_empty || n > 0) && capvi_utf8_check((const uint8_t *)s, n, NULL) == CAPV_OK;
}

void capvi_reg_signed_bytes(capv_buf *b, const char *id, const char *mh, const char *ph,
                            const char *ts, const char *at)
{
    capvi_buf_puts(b, "{\"id\":");
    capvi_json_write_string(b, id, strlen(id));
    capvi_buf_puts(b, ",\"manifest_hash\":");
    capvi_json_write_string(b, mh, strlen(mh));
    capvi_buf_puts(b, ",\"proof_hash\":");
    capvi_json_write_string(b, ph, strlen(ph));
    capvi_buf_puts(b, ",\"timestamp_file\":");
    if (ts != NULL)
        capvi_json_write_string(b, ts, strlen(ts));
    else
        capvi_buf_puts(b, "null");
    capvi_buf_puts(b, ",\"registered_at\":");
    capvi_json_write_string(b, at, strlen(at));
    capvi_buf_putc(b, '}');
}

capv_status capv_registry_entry_signed_bytes(uint8_t **out, size_t *out_len,
                                             const capv_registry_entry *entry, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || entry == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_registry_entry e;
    capv_status st = capvi_reg_entry_read(&e, entry, err);
    if (st != CAPV_OK)
        return st;
    if (e.id == NULL || e.manifest_hash == NULL || e.proof_hash == NULL || e.registered_at == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                             "an entry needs id, manifest_hash, proof_hash and registered_at");
    capv_buf b = CAPV_BUF_INIT;
    capvi_reg_signed_bytes(&b, e.id, e.manifest_hash, e.proof_hash, e.timestamp_file,
                           e.registered_at);
    *out = capvi_buf_take(&b, out_len);
    return capvi_err_done(err, *out ? CAPV_OK : capvi_err_nomem(err));
}

capv_status capvi_reg_decode_key_bytes(uint8_t *out, size_t want, const char *text,
                                       const char *field, capv_error *err)
{
    size_t n = 0, len = strlen(text);
    uint8_t buf[CAPV_BASE64_DECODED_MAX(200)];
    /* the lengths tell the encodings apart: base64 text may begin with "0x" too */
    if (len == 2 + 2 * want && text[0] == '0' && text[1] == 'x') {
        if (capv_hex_decode(out, want, text, len, NULL) == CAPV_OK)
            return CAPV_OK;
        return capvi_err_set(err, CAPV_E_HEX, field, "%s must be 0x-hex of %zu bytes", field, want);
    }
    if (len <= 200 &&
        capv_base64_decode(buf, sizeof buf, &n, text, len, CAPV_BASE64_STD, NULL) == CAPV_OK &&
        n == want) {
        memcpy(out, buf, want);
        return CAPV_OK;
    }
    return capvi_err_set(err, CAPV_E_BASE64, field, "%s must be base64 or 0x-hex of %zu bytes",
                         field, want);
}

capv_status capvi_reg_entry_sig_material(uint8_t sig[64], uint8_t pub[32], const char *signature,
                                         const char *public_key, const char *scheme,
                                         capv_error *err)
{
    if (signature == NULL)
        return capvi_err_set(err, CAPV_E_MISSING, "signature", "the entry is unsigned");
    if (scheme != NULL && strcasecmp(scheme, "ed25519") != 0)
        return capvi_err_set(err, CAPV_E_MALFORMED, "signature_scheme",
                             "unsupported signature_scheme '%.40s'", scheme);
    if (public_key == NULL)
        return capvi_err_set(err, CAPV_E_MALFORMED, "public_key",
                             "the entry is signed but names no public key");
    if (capvi_reg_decode_key_bytes(sig, 64, signature, "signature", NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_MALFORMED, "signature",
                             "the signature is not base64 or 0x-hex of 64 bytes");
    if (capvi_reg_decode_key_bytes(pub, 32, public_key, "public_key", NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_MALFORMED, "public_key",
                             "the public key is not base64 or 0x-hex of 32 bytes");
    return CAPV_OK;
}

static capv_status verify_material(const uint8_t sig[64], const uint8_t pub[32], const uint8_t *msg,
                                   size_t len, capv_error *err)
{
    uint8_t d[32];
    capv_status st = capv_hash(d, CAPV_HASH_BLAKE3, msg, len, err);
    if (st != CAPV_OK)
        return st;
    st = capv_ed25519_verify(pub, sig, d, 32, NULL);
    if (st == CAPV_E_SIGNATURE)
        return capvi_err_set(err, st, "signature", "the entry signature does not verify");
    if (st == CAPV_E_MALFORMED)
        return capvi_err_set(err, st, "public_key", "the public key is not an Ed25519 point");
    return st == CAPV_OK ? CAPV_OK
                         : capvi_err_set(err, st, NULL, "cannot verify: %s", capv_strerror(st));
}

capv_status capv_registry_entry_verify(const capv_registry_entry *entry, capv_error *err)
{
    if (entry == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_registry_entry e;
    capv_status st = capvi_reg_entry_read(&e, entry, err);
    if (st != CAPV_OK)
        return st;
    if (e.id == NULL || e.manifest_hash == NULL || e.proof_hash == NULL || e.registered_at == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                             "an entry needs id, manifest_hash, proof_hash and registered_at");
    uint8_t sig[64], pub[32];
    st = capvi_reg_entry_sig_material(sig, pub, e.signature, e.public_key, e.signature_scheme, err);
    if (st != CAPV_OK)
        return st;
    capv_buf b = CAPV_BUF_INIT;
    capvi_reg_signed_bytes(&b, e.id, e.manifest_hash, e.proof_hash, e.timestamp_file,
                           e.registered_at);
    if (b.failed) {
        capvi_buf_free(&b);
        return capvi_err_nomem(err);
    }
    st = verify_material(sig, pub, b.data, b.len, err);
    capvi_buf_free(&b);
    return capvi_err_done(err, st);
}

/* An id derived from the two hashes, shaped as an RFC 9562 version 8 UUID: the same
 * registration always gets the same id, so a retry cannot create a second one. */
static capv_status derive_id(char out[40], const uint8_t mk[32], const uint8_t pk[32],
                             capv_error *err)
{
    uint8_t in[21 + 64], d[32];
    memcpy(in, "capverify.entry-id.v1", 21);
    memcpy(in + 21, mk, 32);
    memcpy(in + 53, pk, 32);
    capv_status st = capv_hash(d, CAPV_HASH_SHA3_256, in, sizeof in, err);
    if (st != CAPV_OK)
        return st;
    d[6] = (uint8_t)((d[6] & 0x0f) | 0x80);
    d[8] = (uint8_t)((d[8] & 0x3f) | 0x80);
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", d[0],
             d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13],
             d[14], d[15]);
    return CAPV_OK;
}

/* Whether `id` has the shape derive_id writes: a version 8 UUID in lower case. */
static bool derived_shape(const char *id)
{
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = id[i];
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return id[36] == '\0' && id[14] == '8' && strchr("89ab", id[19]) != NULL;
}

capv_status capvi_reg_entry_prepare(capv_reg_entry_in *e, const capv_registry_entry *in,
                                    const capv_registry *reg, unsigned int flags, capv_error *err)
{
    memset(e, 0, sizeof *e);
    if (in->manifest_hash == NULL)
        return capvi_err_set(err, CAPV_E_MISSING, "manifest_hash", "manifest_hash is required");
    if (in->proof_hash == NULL)
        return capvi_err_set(err, CAPV_E_MISSING, "proof_hash", "proof_hash is required");
    if (capv_digest_parse(e->manifest_key, in->manifest_hash, strlen(in->manifest_hash), NULL) !=
        CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, "manifest_hash",
                             "manifest_hash is not a 0x / sha3-256: digest of 64 hex digits");
    if (capv_digest_parse(e->proof_key, in->proof_hash, strlen(in->proof_hash), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, "proof_hash",
                             "proof_hash is not a 0x / sha3-256: digest of 64 hex digits");
    if (flags & REG_PREP_CANONICAL) {
        capv_digest_format(e->mh_buf, e->manifest_key);
        capv_digest_format(e->ph_buf, e->proof_key);
        e->manifest_hash = e->mh_buf;
        e->proof_hash = e->ph_buf;
    } else {
        e->manifest_hash = in->manifest_hash;
        e->proof_hash = in->proof_hash;
    }
    if (in->id != NULL) {
        if (!printable(in->id, 256, false))
            return capvi_err_set(err, CAPV_E_MALFORMED, "id",
                                 "id must be 1..256 printable characters");
        /* An id of the derived shape must be the one these hashes derive: another pair's
         * would take that pair's id before it is registered (docs/registry.md). */
        if ((flags & REG_PREP_STRICT) && derived_shape(in->id)) {
            capv_status st = derive_id(e->id_buf, e->manifest_key, e->proof_key, err);
            if (st != CAPV_OK)
                return st;
            if (strcmp(e->id_buf, in->id) != 0)
                return capvi_err_set(err, CAPV_E_MALFORMED, "id",
                                     "id '%s' has the form of a derived id but these hashes "
                                     "derive '%s'",
                                     in->id, e->id_buf);
        }
        e->id = in->id;
        e->id_given = true;
    } else {
        capv_status st = derive_id(e->id_buf, e->manifest_key, e->proof_key, err);
        if (st != CAPV_OK)
            return st;
        e->id = e->id_buf;
    }
    if (in->timestamp_file != NULL && !printable(in->timestamp_file, 4096, true))
        return capvi_err_set(err, CAPV_E_MALFORMED, "timestamp_file",
                             "timestamp_file must be printable text");
    e->timestamp_file = in->timestamp_file;
    if (in->registered_at != NULL) {
        int64_t ms;
        /* at most 64 bytes either way: what an import takes back (docs/registry.md) */
        size_t n = strlen(in->registered_at);
        if (n > 64 || ((flags & REG_PREP_STRICT)
                           ? capv_rfc3339_parse(&ms, in->registered_at, n, NULL) != CAPV_OK
                           : !printable(in->registered_at, 64, false)))
            return capvi_err_set(err, CAPV_E_MALFORMED, "registered_at",
                                 "registered_at must be an RFC 3339 time");
        e->registered_at = in->registered_at;
        e->registered_at_given = true;
    } else {
        capvi_reg_now(reg, e->at_buf);
        e->registered_at = e->at_buf;
    }
    uint8_t tmp[64];
    if (in->policy_hash != NULL &&
        capv_digest_parse(tmp, in->policy_hash, strlen(in->policy_hash), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, "policy_hash", "policy_hash is not a digest");
    e->policy_hash = in->policy_hash;
    capv_status st;
    if (in->signature != NULL &&
        (st = capvi_reg_decode_key_bytes(tmp, 64, in->signature, "signature", err)) != CAPV_OK)
        return st;
    if (in->public_key != NULL &&
        (st = capvi_reg_decode_key_bytes(tmp, 32, in->public_key, "public_key", err)) != CAPV_OK)
        return st;
    e->signature = in->signature;
    e->public_key = in->public_key;
    if (in->kid != NULL && !printable(in->kid, 128, false))
        return capvi_err_set(err, CAPV_E_MALFORMED, "kid",
                             "kid must be 1..128 printable characters");
    e->kid = in->kid;
    if (in->signature_scheme != NULL) {
        if (strcasecmp(in->signature_scheme, "ed25519") != 0)
            return capvi_err_set(err, CAPV_E_UNSUPPORTED_FORMAT, "signature_scheme",
                                 "entry '%s': unsupported signature_scheme '%.40s'", e->id,
                                 in->signature_scheme);
        e->scheme = "ed25519";
    }
    return CAPV_OK;
}

/* ---- library-owned entries ------------------------------------------------------------- */

capv_registry_entry *capvi_reg_entry_from_texts(int64_t seq, const char *const text[10])
{
    capv_registry_entry tmp;
    const char **dst[10] = { &tmp.id,
                             &tmp.manifest_hash,
                             &tmp.proof_hash,
                             &tmp.timestamp_file,
                             &tmp.registered_at,
                             &tmp.policy_hash,
                             &tmp.signature,
                             &tmp.public_key,
                             &tmp.kid,
                             &tmp.signature_scheme };
    capv_registry_entry *e = capvi_reg_pack_strings(sizeof *e, dst, text, 10);
    if (e == NULL)
        return NULL;
    tmp.version = CAPV_REGISTRY_ENTRY_VERSION;
    tmp.seq = seq;
    *e = tmp;
    return e;
}

capv_registry_entry *capvi_reg_entry_copy(const capv_registry_entry *in)
{
    const char *const text[10] = { in->id,
                                   in->manifest_hash,
                                   in->proof_hash,
                                   in->timestamp_file,
                                   in->registered_at,
                                   in->policy_hash,
                                   in->signature,
                                   in->public_key,
                                   in->kid,
                                   in->signature_scheme };
    return capvi_reg_entry_from_texts(in->seq, text);
}

capv_registry_entry *capvi_reg_entry_from_row(sqlite3_stmt *s)
{
    const char *text[10];
    for (int i = 0; i < 10; i++)
        text[i] = capvi_reg_col_text(s, i + 1);
    return capvi_reg_entry_from_texts(sqlite3_column_int64(s, 0), text);
}

void capv_registry_entry_free(capv_registry_entry *e)
{
    free(e);
}

/* ---- storing and comparing ------------------------------------------------------------- */

static bool same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

capv_status capvi_reg_entry_compare(const capv_registry_entry *stored, const capv_reg_entry_in *e,
                                    bool by_id, bool compare_registered_at, capv_error *err)
{
    bool same =
        !by_id && (!e->id_given || same_text(stored->id, e->id)) &&
        same_text(stored->timestamp_file, e->timestamp_file) &&
        capvi_digest_same(stored->policy_hash, e->policy_hash) &&
        (!compare_registered_at || same_text(stored->registered_at, e->registered_at)) &&
        (e->signature == NULL || e->signed_here || same_text(stored->signature, e->signature)) &&
        (e->public_key == NULL || e->signed_here || same_text(stored->public_key, e->public_key)) &&
        (e->kid == NULL || e->signed_here || same_text(stored->kid, e->kid));
    const char *id = stored->id ? stored->id : "";
    if (same)
        return capvi_err_set(err, CAPV_E_EXISTS, id,
                             "entry '%s' is already registered for these hashes", id);
    if (by_id)
        return capvi_err_set(err, CAPV_E_CONFLICT, id,
                             "entry id '%s' is already used for other hashes", id);
    return capvi_err_set(err, CAPV_E_CONFLICT, id,
                         "entry '%s' is registered for these hashes with other content; it is "
                         "never overwritten",
                         id);
}

capv_status capvi_reg_entry_existing(capv_registry_entry **stored, capv_reg_conn *w,
                                     const capv_reg_entry_in *e, bool compare_registered_at,
                                     capv_error *err)
{
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, w, REG_ST_ENTRY_BY_KEYS, err);
    if (st != CAPV_OK)
        return st;
    sqlite3_bind_blob(s, 1, e->manifest_key, 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, e->proof_key, 32, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    bool by_id = false;
    if (rc == SQLITE_DONE) {
        /* the id may be taken by an entry for other hashes */
        sqlite3_reset(s);
        if ((st = capvi_reg_stmt(&s, w, REG_ST_ENTRY_BY_ID, err)) != CAPV_OK)
            return st;
        sqlite3_bind_text(s, 1, e->id, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        by_id = true;
    }
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        return CAPV_OK;
    }
    if (rc != SQLITE_ROW) {
        st = capvi_reg_sqlite_error(w->db, rc, "looking up an entry", err);
        sqlite3_reset(s);
        return st;
    }
    capv_registry_entry *row = capvi_reg_entry_from_row(s);
    sqlite3_reset(s);
    if (row == NULL)
        return capvi_err_nomem(err);
    st = capvi_reg_entry_compare(row, e, by_id, compare_registered_at, err);
    if (stored != NULL)
        *stored = row;
    else
        capv_registry_entry_free(row);
    return st;
}

capv_status capvi_reg_entry_write(capv_reg_conn *w, const capv_reg_entry_in *e, capv_error *err)
{
    sqlite3_stmt *s = NULL;
    capv_status st = capvi_reg_stmt(&s, w, REG_ST_ENTRY_INSERT, err);
    if (st != CAPV_OK)
        return st;
    sqlite3_bind_text(s, 1, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, e->manifest_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, e->proof_hash, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, e->manifest_key, 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, e->proof_key, 32, SQLITE_STATIC);
    const char *opt[] = { e->timestamp_file, e->registered_at, e->policy_hash, e->signature,
                          e->public_key,     e->kid,           e->scheme };
    for (int i = 0; i < 7; i++)
        if (opt[i] != NULL)
            sqlite3_bind_text(s, 6 + i, opt[i], -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return CAPV_OK;
    return capvi_reg_sqlite_error(w->db, rc, "storing an entry", err);
}

capv_status capvi_reg_entry_keys_match(const char *mh, const char *ph, const void *mk,
                                       size_t mk_len, const void *pk, size_t pk_len)
{
    uint8_t m[32], p[32];
    if (mh == NULL || ph == NULL || capv_digest_parse(m, mh, strlen(mh), NULL) != CAPV_OK ||
        capv_digest_parse(p, ph, strlen(ph), NULL) != CAPV_OK)
        return CAPV_E_HEX;
    return mk_len == 32 && pk_len == 32 && memcmp(m, mk, 32) == 0 && memcmp(p, pk, 32) == 0
               ? CAPV_OK
               : CAPV_E_MISMATCH;
}

capv_status capvi_reg_lookup_signed(capv_reg_signed *out, capv_registry *reg,
                                    const uint8_t manifest_hash[32], const uint8_t proof_hash[32],
                                    capv_error *err)
{
    memset(out, 0, sizeof *out);
    capv_error lerr = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr;
    capv_registry_entry *e = NULL;
    capv_status st = reg->be->entry_get(&e, reg, NULL, manifest_hash, proof_hash, err);
    if (st == CAPV_OK) {
        capv_buf b = CAPV_BUF_INIT;
        capvi_reg_signed_bytes(&b, e->id ? e->id : "", e->manifest_hash ? e->manifest_hash : "",
                               e->proof_hash ? e->proof_hash : "", e->timestamp_file,
                               e->registered_at ? e->registered_at : "");
        out->id = strdup(e->id ? e->id : "");
        out->signed_bytes = capvi_buf_take(&b, &out->signed_len);
        if (out->id == NULL || out->signed_bytes == NULL) {
            st = capvi_err_nomem(err);
        } else {
            capv_error merr = CAPV_ERROR_INIT;
            out->material =
                capvi_reg_entry_sig_material(out->signature, out->public_key, e->signature,
                                             e->public_key, e->signature_scheme, &merr);
            snprintf(out->problem, sizeof out->problem, "%s", merr.message);
            if (e->registered_at == NULL ||
                !capvi_time_parse_instant(&out->registered, e->registered_at,
                                          strlen(e->registered_at)))
                out->registered = (capvi_instant){ INT64_MIN, 0 };
            /* found by the keys, signed over the text: an entry whose keys were changed
             * behind its signature names another package, signed or not */
            if (capvi_reg_entry_keys_match(e->manifest_hash, e->proof_hash, manifest_hash, 32,
                                           proof_hash, 32) != CAPV_OK) {
                out->material = CAPV_E_MISMATCH;
                snprintf(out->problem, sizeof out->problem,
                         "its hashes are not this package's (its look-up keys were changed)");
            }
        }
        capv_registry_entry_free(e);
    }
    if (st != CAPV_OK)
        capvi_reg_signed_clear(out);
    return capvi_reg_note(reg, st, err);
}

void capvi_reg_signed_clear(capv_reg_signed *s)
{
    free(s->id);
    free(s->signed_bytes);
    s->id = NULL;
    s->signed_bytes = NULL;
}
