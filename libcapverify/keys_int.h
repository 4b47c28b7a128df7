/* SPDX-License-Identifier: Apache-2.0 */
/* Trust decisions shared by the verifier (manifest signatures, registry entries). */
#ifndef CAPV_KEYS_INT_H
#define CAPV_KEYS_INT_H

#include "error_int.h"
#include "time_int.h"

/* Whether `public_key` may sign something created at `created` (docs/formats.md, "Keys and
 * trust"; compared with the key's window to the nanosecond): CAPV_OK, CAPV_E_UNTRUSTED (not in
 * the store), CAPV_E_REVOKED, CAPV_E_NOT_YET_VALID, CAPV_E_EXPIRED, or CAPV_E_MISSING when
 * created.ms is INT64_MIN (no time known) and the key's window is bounded. `*key` receives
 * the store entry when there is one. */
capv_status capvi_trust_decide(const capv_key **key, const capv_trust_store *store,
                               const uint8_t public_key[CAPV_ED25519_PUBLIC_LEN],
                               capvi_instant created);

/* Ed25519 verification with the store's prepared key object when the key is in `store`
 * (saves decoding the point on every call); `store` may be NULL. */
capv_status capvi_ed25519_verify_with(const capv_trust_store *store,
                                      const uint8_t public_key[CAPV_ED25519_PUBLIC_LEN],
                                      const uint8_t sig[CAPV_ED25519_SIGNATURE_LEN],
                                      const uint8_t *msg, size_t len, capv_error *err);

#endif
