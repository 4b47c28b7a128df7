/* SPDX-License-Identifier: Apache-2.0 */
/* Reference-counted, thread-safe library initialisation, and the system clock. */
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "error_int.h"
#include "global_int.h"

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int global_refs; /* guarded by global_lock */
static atomic_bool global_up;
static EVP_MD *md_sha3_256;
static EVP_MD *md_sha256;

capv_status capv_global_init(capv_error *err)
{
    capv_status st = CAPV_OK;
    pthread_mutex_lock(&global_lock);
    if (global_refs == 0) {
        if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL) != 1) {
            st = capvi_err_set(err, CAPV_E_CRYPTO, NULL, "OpenSSL initialisation failed");
            goto out;
        }
        md_sha3_256 = EVP_MD_fetch(NULL, "SHA3-256", NULL);
        md_sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
        if (md_sha3_256 == NULL || md_sha256 == NULL) {
            EVP_MD_free(md_sha3_256);
            EVP_MD_free(md_sha256);
            md_sha3_256 = md_sha256 = NULL;
            ERR_clear_error();
            st = capvi_err_set(err, CAPV_E_CRYPTO, NULL,
                               "OpenSSL provides no SHA3-256/SHA-256 (default provider missing?)");
            goto out;
        }
        /* libcurl (JWKS fetches) must be initialised before any thread uses it. */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            EVP_MD_free(md_sha3_256);
            EVP_MD_free(md_sha256);
            md_sha3_256 = md_sha256 = NULL;
            st = capvi_err_set(err, CAPV_E_INTERNAL, NULL, "libcurl initialisation failed");
            goto out;
        }
        atomic_store(&global_up, true);
    }
    global_refs++;
out:
    pthread_mutex_unlock(&global_lock);
    return capvi_err_done(err, st);
}

void capv_global_shutdown(void)
{
    pthread_mutex_lock(&global_lock);
    if (global_refs > 0 && --global_refs == 0) {
        atomic_store(&global_up, false);
        curl_global_cleanup();
        EVP_MD_free(md_sha3_256);
        EVP_MD_free(md_sha256);
        md_sha3_256 = md_sha256 = NULL;
    }
    pthread_mutex_unlock(&global_lock);
}

bool capvi_global_ready(void)
{
    return atomic_load(&global_up);
}

capv_status capvi_global_require(capv_error *err)
{
    if (!capvi_global_ready())
        return capvi_err_set(err, CAPV_E_NOT_INITIALIZED, NULL,
                             "capv_global_init() must be called first");
    return CAPV_OK;
}

void capvi_openssl_errors_drop(void)
{
    if (ERR_peek_error() != 0)
        ERR_clear_error();
}

const EVP_MD *capvi_global_md(capv_hash_alg alg)
{
    switch (alg) {
    case CAPV_HASH_SHA3_256: return md_sha3_256;
    case CAPV_HASH_SHA256: return md_sha256;
    case CAPV_HASH_BLAKE3: break;
    }
    return NULL;
}

int64_t capv_clock_system(void *user)
{
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
