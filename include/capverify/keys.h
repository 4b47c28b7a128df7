/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * Ed25519 keys (docs/formats.md, "Keys and trust"): key ids, the trust store, signing keys,
 * and manifest signing. Requires capv_global_init(). */
#ifndef CAPVERIFY_KEYS_H
#define CAPVERIFY_KEYS_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of an Ed25519 public key. Since 0.1. */
#define CAPV_ED25519_PUBLIC_LEN 32
/** Bytes of an Ed25519 signature. Since 0.1. */
#define CAPV_ED25519_SIGNATURE_LEN 64
/** 32 hex digits + NUL. Since 0.1. */
#define CAPV_KID_SIZE 33

/** Our key id: lower-case hex of the first 16 bytes of BLAKE3(raw 32-byte public key).
 * Thread-safe. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_key_id(
    char out[CAPV_KID_SIZE], const uint8_t public_key[CAPV_ED25519_PUBLIC_LEN], capv_error *err);

/** Verifies an Ed25519 signature (RFC 8032, strict: non-canonical S and bad points are
 * rejected). CAPV_OK when valid, CAPV_E_SIGNATURE when not, CAPV_E_MALFORMED when the public
 * key is not a valid encoding (y >= p, not on the curve) or is a point of small order, which
 * no key pair has (and under which some signatures verify for every message). Thread-safe.
 * Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_ed25519_verify(const uint8_t public_key[CAPV_ED25519_PUBLIC_LEN],
                    const uint8_t signature[CAPV_ED25519_SIGNATURE_LEN], const uint8_t *msg,
                    size_t len, capv_error *err);

/* ---- trust store ----------------------------------------------------------------------- */

/** The status a trust store gives a key (its `status` field). Since 0.1. */
typedef enum capv_key_status {
    CAPV_KEY_ACTIVE = 0,  /**< accepted within its validity window */
    CAPV_KEY_RETIRED = 1, /**< accepted for manifests created within its validity window */
    CAPV_KEY_REVOKED = 2  /**< never accepted */
} capv_key_status;

/** A trusted key (borrowed from its store). Since 0.1. */
typedef struct capv_key capv_key;

/** A set of trusted Ed25519 keys. Immutable once loaded; safe to share between threads.
 * Since 0.1. */
typedef struct capv_trust_store capv_trust_store;

/** Loads a trust store from a directory (`*.pub`: raw 32 bytes or "0x" + 64 hex, surrounding
 * whitespace ignored; `*.json`: one cap-key.v1 object; other files ignored), from one such
 * file, or from a JSON file holding an array of cap-key.v1 objects (or {"keys": [...]}).
 * A file that cannot be read or parsed fails the whole load, naming the file in err->field;
 * so does the same key twice. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_trust_store_load(capv_trust_store **out,
                                                                   const char *path,
                                                                   capv_error *err);
/** An empty store, for building one in code with capv_trust_store_add(). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_trust_store_new(capv_trust_store **out,
                                                                  capv_error *err);
/** Adds an active key without validity limits. Not thread-safe: build, then share.
 * Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_trust_store_add(capv_trust_store *store, const uint8_t public_key[CAPV_ED25519_PUBLIC_LEN],
                     const char *owner, capv_error *err);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_trust_store_free(capv_trust_store *store);

/** The number of keys. Since 0.1. */
CAPV_API size_t capv_trust_store_count(const capv_trust_store *store);
/** Key `index` (borrowed, valid while the store lives), or NULL when out of range. Since 0.1. */
CAPV_API const capv_key *capv_trust_store_key(const capv_trust_store *store, size_t index);
/** The entry for a public key, or NULL. Since 0.1. */
CAPV_API const capv_key *capv_trust_store_find(const capv_trust_store *store,
                                               const uint8_t public_key[CAPV_ED25519_PUBLIC_LEN]);

/** The raw public key, 32 bytes. Since 0.1. */
CAPV_API const uint8_t *capv_key_public(const capv_key *key);
/** Our kid (capv_key_id()). Since 0.1. */
CAPV_API const char *capv_key_kid(const capv_key *key);
/** The kid the key file declared, or NULL; differs from capv_key_kid() when the file lies.
 * Since 0.1. */
CAPV_API const char *capv_key_declared_kid(const capv_key *key);
/** The owner, "" when unknown. Since 0.1. */
CAPV_API const char *capv_key_owner(const capv_key *key);
/** The file the key came from, or "". Since 0.1. */
CAPV_API const char *capv_key_source(const capv_key *key);
/** The key's status in its store. Since 0.1. */
CAPV_API capv_key_status capv_key_status_of(const capv_key *key);
/** Validity window in ms since the epoch; INT64_MIN / INT64_MAX when open. The store
 * compares times with the window to the nanosecond, as written in the key file (since 0.2):
 * these getters drop what lies below the millisecond. Since 0.1. */
CAPV_API int64_t capv_key_valid_from(const capv_key *key);
/** End of the validity window (see capv_key_valid_from). Since 0.1. */
CAPV_API int64_t capv_key_valid_to(const capv_key *key);
/** "active", "retired", "revoked" (static). Since 0.1. */
CAPV_API const char *capv_key_status_name(capv_key_status status);

/* ---- signing keys ---------------------------------------------------------------------- */

/** An Ed25519 private key. Wiped from memory when freed. Since 0.1. */
typedef struct capv_signing_key capv_signing_key;

/** A new random key (OpenSSL's generator). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_signing_key_generate(capv_signing_key **out,
                                                                       capv_error *err);
/** Reads a PEM PKCS#8 Ed25519 private key ("BEGIN PRIVATE KEY", as `openssl genpkey
 * -algorithm ed25519` writes). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_signing_key_load(capv_signing_key **out,
                                                                   const char *path,
                                                                   capv_error *err);
/** Writes the key as PEM PKCS#8 to a new file with mode 0600; an existing file is never
 * overwritten (CAPV_E_EXISTS). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_signing_key_save(const capv_signing_key *key,
                                                                   const char *path,
                                                                   capv_error *err);
/** Copies the public half into `out`. Since 0.1; `out` first since 0.2. */
CAPV_API void capv_signing_key_public(uint8_t out[CAPV_ED25519_PUBLIC_LEN],
                                      const capv_signing_key *key);
/** Signs `msg` (Ed25519, RFC 8032) into `sig`. Thread-safe. Since 0.1; `sig` first since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_signing_key_sign(uint8_t sig[CAPV_ED25519_SIGNATURE_LEN], const capv_signing_key *key,
                      const uint8_t *msg, size_t len, capv_error *err);
/** Wipes and frees the key. NULL is a no-op. Since 0.1. */
CAPV_API void capv_signing_key_free(capv_signing_key *key);

/** A cap-key.v1 JSON document (pretty, trailing newline) describing the public half of `key`:
 * kid, owner, created_at = now, valid_from / valid_to (INT64_MIN / INT64_MAX = omitted;
 * whole seconds written as such, other times with their milliseconds since 0.2),
 * algorithm "ed25519", status "active", usage ["manifest-signing"], public_key (base64),
 * fingerprint ("blake3:" + full BLAKE3 hex of the key). Caller frees with capv_free.
 * Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_signing_key_cap_key_json(
    char **out, const capv_signing_key *key, const char *owner, int64_t now_ms,
    int64_t valid_from_ms, int64_t valid_to_ms, capv_error *err);

/** Appends an Ed25519 signature by `key` to a manifest (docs/formats.md, "Keys and trust"): the
 * signature covers the compat canonical bytes with "signatures" replaced by [] (a missing
 * "signatures" member is first added as [] at the end). Output: the manifest pretty-printed (2
 * spaces, trailing newline), caller-owned (capv_free). Existing signatures are kept. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_manifest_sign(uint8_t **out, size_t *out_len,
                                                                const uint8_t *manifest, size_t len,
                                                                const capv_signing_key *key,
                                                                const char *signer,
                                                                capv_error *err);

#ifdef __cplusplus
}
#endif

#endif
