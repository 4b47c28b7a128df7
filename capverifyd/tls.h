/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: in-process TLS (tls.c, docs/tls.md). The certificate is handed to every new
 * handshake by a callback, so SIGHUP or a changed file replaces it without dropping a
 * connection. */
#ifndef CAPVD_TLS_H
#define CAPVD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct tls_state tls_state;

/* Loads cert/key/client CA per the configuration: *out is NULL (and true) without
 * tls.cert_file; false with a message on failure. */
bool tls_create(tls_state **out, const capvd_config *cfg, char *errbuf, size_t errlen);
/* Configures a listener's SSL_CTX (an OpenSSL SSL_CTX *) to take its certificate from `tls`:
 * the body of CivetWeb's init_ssl callback (1 = done, -1 = error). */
int tls_configure(tls_state *tls, void *ssl_ctx);
/* Reloads the certificate and key if asked (force) or if the files changed; returns 1 when a
 * new certificate is now served, 0 when unchanged, -1 on error (the old one stays). */
int tls_reload(tls_state *tls, bool force, char *errbuf, size_t errlen);
void tls_free(tls_state *tls);
/* The served certificate's notAfter (Unix seconds), for
 * cap_verifier_tls_cert_expiry_timestamp_seconds; 0 without TLS. */
int64_t tls_cert_not_after(tls_state *tls);

#endif
