/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 3161 timestamp verification (docs/architecture.md, "Timestamps") with OpenSSL's TS API.
 * Internal to the library; the verifier exposes it through its TSA CA configuration. */
#ifndef CAPV_TIMESTAMP_INT_H
#define CAPV_TIMESTAMP_INT_H

#include <stdint.h>

#include "error_int.h"

/* Trusted TSA roots (and intermediates) loaded from one PEM bundle, immutable after load,
 * and what verifying tokens found: the certificates lately decoded from them and their
 * signers' verified chains (bounded caches, with their own lock). May be shared by
 * threads. */
typedef struct capv_tsa_store capv_tsa_store;

capv_status capvi_tsa_store_load(capv_tsa_store **out, const char *pem_file, capv_error *err);
capv_status capvi_tsa_store_load_mem(capv_tsa_store **out, const uint8_t *pem, size_t len,
                                     capv_error *err);
void capvi_tsa_store_free(capv_tsa_store *store);
/* How many certificates decoded from tokens the store keeps, and (chains, may be NULL) how
 * many verified signer chains (tests). */
size_t capvi_tsa_store_decoded(const capv_tsa_store *store, size_t *chains);

typedef struct capv_timestamp_info {
    int64_t gen_time_ms;   /* genTime of the token, ms since the epoch (UTC) */
    char hash_alg[32];     /* message imprint algorithm, e.g. "sha256" */
    char tsa_subject[256]; /* subject of the signing certificate, one line */
    char serial[80];       /* token serial number, hex */
} capv_timestamp_info;

/* Verifies an RFC 3161 TimeStampResp or a bare TimeStampToken (DER) over `data`:
 * the message imprint equals the digest of `data` under the token's own algorithm, the
 * token's CMS signature verifies, the signer chains to `store` with the timeStamping
 * extended key usage, and genTime <= now_ms + leeway_ms.
 * Statuses: CAPV_E_MALFORMED (not a token / response), CAPV_E_REJECTED (response status is
 * not granted), CAPV_E_MISMATCH (imprint is for other data), CAPV_E_UNTRUSTED (no chain to
 * the store), CAPV_E_SIGNATURE (signature does not verify), CAPV_E_NOT_YET_VALID (genTime in
 * the future). `info` (may be NULL) is filled whenever the token could be parsed.
 * Also: CAPV_E_ALG_NOT_ALLOWED (imprint algorithm is not SHA-2/SHA-3, e.g. SHA-1),
 * CAPV_E_LIMIT (tsr_len > 1 MiB), CAPV_E_UNSUPPORTED_FORMAT (TSTInfo version is not 1).
 * The signer chain is checked at genTime, not at now_ms. The certificates a token embeds
 * are taken from the store's cache of decoded certificates (filled on first sight) when the
 * token is plain DER, and its signer's chain from the store's verified chains when every
 * certificate it could be built from is valid at genTime; the outcome is the same.
 * Thread-safe. */
capv_status capvi_timestamp_verify(capv_timestamp_info *info, const capv_tsa_store *store,
                                   const uint8_t *tsr, size_t tsr_len, const uint8_t *data,
                                   size_t data_len, int64_t now_ms, int64_t leeway_ms,
                                   capv_error *err);
/* The same, with OpenSSL decoding the whole input, the embedded certificates included, and
 * verifying it with TS_RESP_verify_token: what the tests and the fuzz driver compare
 * capvi_timestamp_verify with. */
capv_status capvi_timestamp_verify_whole(capv_timestamp_info *info, const capv_tsa_store *store,
                                         const uint8_t *tsr, size_t tsr_len, const uint8_t *data,
                                         size_t data_len, int64_t now_ms, int64_t leeway_ms,
                                         capv_error *err);

#endif
