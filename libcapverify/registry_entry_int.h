/* SPDX-License-Identifier: Apache-2.0 */
/* Registry entries (registry_entry.c, docs/registry.md "Entry signatures"): validation and
 * defaults, the bytes an entry signature covers, signature material, library-owned copies,
 * and storing / comparing entries on the write connection. Above the connection layer
 * (registry_db_int.h); used by the schema migrations, the JSON import, the public entry
 * points, backup / check, and (through registry_int.h) the verifier's registry check. */
#ifndef CAPV_REGISTRY_ENTRY_INT_H
#define CAPV_REGISTRY_ENTRY_INT_H

#include "registry_db_int.h"
#include "time_int.h"

/* Reads a caller's capv_registry_entry of any supported version into `out` (the current
 * version, fields the caller's version lacks at their defaults). CAPV_E_INVALID_ARG for an
 * unsupported version. */
capv_status capvi_reg_entry_read(capv_registry_entry *out, const capv_registry_entry *in,
                                 capv_error *err);

/* An entry checked and normalised for storage. Strings point into the input or `buf`. */
typedef struct capv_reg_entry_in {
    const char *id;
    const char *manifest_hash, *proof_hash;
    uint8_t manifest_key[32], proof_key[32];
    const char *timestamp_file;
    const char *registered_at;
    const char *policy_hash;
    const char *signature, *public_key, *kid, *scheme;
    bool id_given, registered_at_given;
    bool signed_here; /* signed by the registry's key: a retry is compared without it */
    char id_buf[40];
    char mh_buf[67], ph_buf[67];
    char at_buf[32];
} capv_reg_entry_in;

/* Validates an input entry and fills defaults (id derived from the hashes, registered_at =
 * now on `reg`'s clock; reg may be NULL). REG_PREP_CANONICAL rewrites the hashes as "0x" +
 * lower hex (only when no signature covers them); REG_PREP_STRICT applies the rules of
 * entries made here: registered_at is RFC 3339, and an id of the derived shape is the one
 * the hashes derive (imported and legacy entries keep whatever their signature covers, and
 * the ids they were given before that rule). */
#define REG_PREP_CANONICAL 0x1u
#define REG_PREP_STRICT 0x2u
capv_status capvi_reg_entry_prepare(capv_reg_entry_in *out, const capv_registry_entry *in,
                                    const capv_registry *reg, unsigned int flags, capv_error *err);

/* The signed bytes of the given strings (ts may be NULL) appended to `b`. */
void capvi_reg_signed_bytes(capv_buf *b, const char *id, const char *mh, const char *ph,
                            const char *ts, const char *at);

/* Decodes 32/64 bytes written as standard base64 or 0x-hex. */
capv_status capvi_reg_decode_key_bytes(uint8_t *out, size_t want, const char *text,
                                       const char *field, capv_error *err);

/* Signature material of an entry: CAPV_OK (sig/pub decoded), CAPV_E_MISSING (unsigned),
 * CAPV_E_MALFORMED (undecodable, no public key, or another scheme). */
capv_status capvi_reg_entry_sig_material(uint8_t sig[64], uint8_t pub[32], const char *signature,
                                         const char *public_key, const char *scheme,
                                         capv_error *err);

/* Whether an entry's hashes as written (`mh`, `ph`: what its signature covers) are its 32-byte
 * look-up keys (`mk`, `pk` of mk_len and pk_len bytes): CAPV_OK, CAPV_E_MISMATCH (keys
 * changed behind the signature: it would be found for another package), CAPV_E_HEX (a hash
 * that is no digest). */
capv_status capvi_reg_entry_keys_match(const char *mh, const char *ph, const void *mk,
                                       size_t mk_len, const void *pk, size_t pk_len);

/* A library-owned copy of an entry (one allocation; capv_registry_entry_free), and one made
 * from a row of REG_ENTRY_COLUMNS. NULL on OOM. */
capv_registry_entry *capvi_reg_entry_copy(const capv_registry_entry *in);
capv_registry_entry *capvi_reg_entry_from_row(sqlite3_stmt *s);
/* The same from the ten texts of an entry, in the order of capv_registry_entry (id,
 * manifest_hash, proof_hash, timestamp_file, registered_at, policy_hash, signature,
 * public_key, kid, signature_scheme; NULL for absent), whatever storage they come from. */
capv_registry_entry *capvi_reg_entry_from_texts(int64_t seq, const char *const text[10]);

/* Whether a prepared entry may be inserted (on the write connection, inside the write
 * transaction): CAPV_OK when nothing is stored for its hashes or id, CAPV_E_EXISTS when the
 * same entry is (a retry), CAPV_E_CONFLICT when other content is; then `*stored` (may be
 * NULL) receives the stored entry. Compared: id when given, timestamp_file, policy_hash,
 * signature and public_key when given, registered_at when `compare_registered_at`. */
capv_status capvi_reg_entry_existing(capv_registry_entry **stored, capv_reg_conn *w,
                                     const capv_reg_entry_in *e, bool compare_registered_at,
                                     capv_error *err);
/* The comparison behind capvi_reg_entry_existing, for any storage: `stored` was found by
 * the hashes of `e` (by_id false) or, no entry having them, by its id (by_id true).
 * CAPV_E_EXISTS or CAPV_E_CONFLICT, with err set. */
capv_status capvi_reg_entry_compare(const capv_registry_entry *stored, const capv_reg_entry_in *e,
                                    bool by_id, bool compare_registered_at, capv_error *err);
/* Inserts a prepared entry. */
capv_status capvi_reg_entry_write(capv_reg_conn *w, const capv_reg_entry_in *e, capv_error *err);

/* What the verifier's registry check needs about the entry for a pair of hashes. */
typedef struct capv_reg_signed {
    char *id;
    uint8_t *signed_bytes;
    size_t signed_len;
    capv_status material;                  /* capvi_reg_entry_sig_material's result */
    char problem[CAPV_ERROR_MESSAGE_SIZE]; /* why material is not CAPV_OK */
    uint8_t signature[64];
    uint8_t public_key[32];
    capvi_instant registered; /* registered_at; ms INT64_MIN when it is no time */
} capv_reg_signed;

/* CAPV_OK, CAPV_E_NOT_FOUND, or a database error. */
capv_status capvi_reg_lookup_signed(capv_reg_signed *out, capv_registry *reg,
                                    const uint8_t manifest_hash[32], const uint8_t proof_hash[32],
                                    capv_error *err);
void capvi_reg_signed_clear(capv_reg_signed *s);

#endif
