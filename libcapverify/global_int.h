/* SPDX-License-Identifier: Apache-2.0 */
/* Library-wide state set up by capv_global_init(): pre-fetched OpenSSL algorithms. */
#ifndef CAPV_GLOBAL_INT_H
#define CAPV_GLOBAL_INT_H

#include <openssl/evp.h>
#include <stdbool.h>

#include <capverify.h>

/* True between a successful capv_global_init() and the matching last shutdown. */
bool capvi_global_ready(void);

/* The pre-fetched message digest for SHA3-256 / SHA-256 (NULL before init). Fetching once
 * avoids OpenSSL 3's per-call provider lookup on hot paths. */
const EVP_MD *capvi_global_md(capv_hash_alg alg);

/* Returns CAPV_E_NOT_INITIALIZED (recorded in err) unless the library is initialised. */
capv_status capvi_global_require(capv_error *err);

/* Empties this thread's OpenSSL error queue after a call whose failure was already turned
 * into a capv_status. Only a queue that holds something is cleared: ERR_clear_error() wipes
 * every slot, several times the cost of looking, on every verification of a hot path. */
void capvi_openssl_errors_drop(void);

#endif
