/* SPDX-License-Identifier: Apache-2.0 */
/* Debian's libcivetweb 1.15 loads OpenSSL at run time through the 1.1 API: it dlopen()s
 * "libssl.so" and looks up SSL_get_peer_certificate, which OpenSSL 3 renamed to
 * SSL_get1_peer_certificate (same semantics: the caller owns a reference). Without it the
 * first HTTPS request crashes the daemon. This library is what "libssl.so" resolves to for
 * capverifyd (found through its DT_RPATH): it defines the missing name and depends on the
 * real libssl.so.3, so every other symbol CivetWeb looks up resolves there. */
#include <openssl/ssl.h>

/* OpenSSL 3's headers map the old name to the new one with a macro; we need the real symbol. */
#undef SSL_get_peer_certificate

__attribute__((visibility("default"))) X509 *SSL_get_peer_certificate(const SSL *s);

X509 *SSL_get_peer_certificate(const SSL *s)
{
    return SSL_get1_peer_certificate(s);
}
