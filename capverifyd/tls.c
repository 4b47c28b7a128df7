/* SPDX-License-Identifier: Apache-2.0 */
/* In-process TLS for CivetWeb (docs/tls.md). The certificate is not loaded into CivetWeb's
 * SSL_CTX once: a certificate callback hands every new handshake the current certificate,
 * which SIGHUP (or a changed file) replaces without dropping a connection. */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tls.h"

typedef struct file_stamp {
    struct timespec mtime, ctime;
    ino_t ino;
    off_t size;
} file_stamp;

struct tls_state {
    pthread_mutex_t lock;
    X509 *cert;
    STACK_OF(X509) * chain;
    EVP_PKEY *key;
    char *cert_file, *key_file, *client_ca_file;
    bool tls13_only;
    file_stamp cert_stamp, key_stamp;
    int64_t not_after; /* the served certificate's notAfter, Unix seconds */
};

static void openssl_error(char *errbuf, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char detail[256] = "";
    if (e != 0)
        ERR_error_string_n(e, detail, sizeof detail);
    ERR_clear_error();
    snprintf(errbuf, errlen, "%s%s%s", what, detail[0] ? ": " : "", detail);
}

/* Reads a PEM chain (leaf first) and a private key that belongs to it. */
static bool load_pair(const char *cert_file, const char *key_file, X509 **cert,
                      STACK_OF(X509) * *chain, EVP_PKEY **key, char *errbuf, size_t errlen)
{
    *cert = NULL;
    *chain = NULL;
    *key = NULL;
    FILE *f = fopen(cert_file, "r");
    if (f == NULL) {
        snprintf(errbuf, errlen, "tls.cert_file %s: cannot open", cert_file);
        return false;
    }
    *cert = PEM_read_X509(f, NULL, NULL, NULL);
    *chain = sk_X509_new_null();
    X509 *extra;
    while (*cert != NULL && *chain != NULL && (extra = PEM_read_X509(f, NULL, NULL, NULL)))
        sk_X509_push(*chain, extra);
    ERR_clear_error(); /* the loop ends on "no start line" */
    fclose(f);
    if (*cert == NULL || *chain == NULL) {
        snprintf(errbuf, errlen, "tls.cert_file %s: no PEM certificate", cert_file);
        goto fail;
    }
    f = fopen(key_file, "r");
    if (f == NULL) {
        snprintf(errbuf, errlen, "tls.key_file %s: cannot open", key_file);
        goto fail;
    }
    *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (*key == NULL) {
        openssl_error(errbuf, errlen, "tls.key_file: not an unencrypted PEM private key");
        goto fail;
    }
    if (X509_check_private_key(*cert, *key) != 1) {
        openssl_error(errbuf, errlen, "tls.key_file does not belong to tls.cert_file");
        goto fail;
    }
    return true;
fail:
    X509_free(*cert);
    sk_X509_pop_free(*chain, X509_free);
    EVP_PKEY_free(*key);
    *cert = NULL;
    *chain = NULL;
    *key = NULL;
    return false;
}

/* A certificate's notAfter in Unix seconds (0 if unreadable). */
static int64_t not_after_of(const X509 *cert)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

/* What tells a changed file: its modification and change times, inode and size (a file
 * rewritten within one tick of the clock, or copied keeping its time, changes another). */
static file_stamp stamp_of(const char *path)
{
    struct stat sb;
    file_stamp z;
    memset(&z, 0, sizeof z);
    if (stat(path, &sb) == 0) {
        z.mtime = sb.st_mtim;
        z.ctime = sb.st_ctim;
        z.ino = sb.st_ino;
        z.size = sb.st_size;
    }
    return z;
}

static bool same_stamp(file_stamp a, file_stamp b)
{
    return a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec &&
           a.ctime.tv_sec == b.ctime.tv_sec && a.ctime.tv_nsec == b.ctime.tv_nsec &&
           a.ino == b.ino && a.size == b.size;
}

bool tls_create(tls_state **out, const capvd_config *cfg, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!*cfg->tls_cert_file)
        return true;
    tls_state *t = calloc(1, sizeof *t);
    if (t == NULL)
        return false;
    pthread_mutex_init(&t->lock, NULL);
    t->cert_file = strdup(cfg->tls_cert_file);
    t->key_file = strdup(cfg->tls_key_file);
    t->client_ca_file = *cfg->tls_client_ca_file ? strdup(cfg->tls_client_ca_file) : NULL;
    t->tls13_only = strcmp(cfg->tls_min_version, "1.3") == 0;
    if (t->client_ca_file) {
        FILE *f = fopen(t->client_ca_file, "r");
        if (f == NULL) {
            snprintf(errbuf, errlen, "tls.client_ca_file %s: cannot open", t->client_ca_file);
            tls_free(t);
            return false;
        }
        fclose(f);
    }
    if (tls_reload(t, true, errbuf, errlen) < 0) {
        tls_free(t);
        return false;
    }
    *out = t;
    return true;
}

int tls_reload(tls_state *t, bool force, char *errbuf, size_t errlen)
{
    file_stamp cm = stamp_of(t->cert_file), km = stamp_of(t->key_file);
    if (!force && same_stamp(cm, t->cert_stamp) && same_stamp(km, t->key_stamp))
        return 0;
    X509 *cert;
    STACK_OF(X509) * chain;
    EVP_PKEY *key;
    if (!load_pair(t->cert_file, t->key_file, &cert, &chain, &key, errbuf, errlen)) {
        /* a half-written file during rotation: keep serving the old pair; the next change
         * of either file is tried (the caller reports this one) */
        t->cert_stamp = cm;
        t->key_stamp = km;
        return -1;
    }
    pthread_mutex_lock(&t->lock);
    X509 *old_cert = t->cert;
    STACK_OF(X509) *old_chain = t->chain;
    EVP_PKEY *old_key = t->key;
    t->cert = cert;
    t->chain = chain;
    t->key = key;
    t->not_after = not_after_of(cert);
    t->cert_stamp = cm;
    t->key_stamp = km;
    pthread_mutex_unlock(&t->lock);
    X509_free(old_cert);
    sk_X509_pop_free(old_chain, X509_free);
    EVP_PKEY_free(old_key);
    return 1;
}

/* Runs for every handshake: installs the current certificate on this connection. */
static int cert_callback(SSL *ssl, void *arg)
{
    tls_state *t = arg;
    int ok = 0;
    pthread_mutex_lock(&t->lock);
    if (t->cert != NULL && SSL_use_certificate(ssl, t->cert) == 1 &&
        SSL_use_PrivateKey(ssl, t->key) == 1 && SSL_set1_chain(ssl, t->chain) == 1)
        ok = 1;
    pthread_mutex_unlock(&t->lock);
    return ok;
}

int tls_configure(tls_state *t, void *ssl_ctx)
{
    SSL_CTX *ctx = ssl_ctx;
    if (t == NULL)
        return -1;
    SSL_CTX_set_min_proto_version(ctx, t->tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_cert_cb(ctx, cert_callback, t);
    /* CivetWeb sets the session id context only when it configures the context itself: without
     * one, OpenSSL refuses to resume a session whose peer was verified (mTLS), failing the
     * handshake of every client that resumes (docs/tls.md) */
    static const unsigned char sid_ctx[] = "capverifyd";
    if (SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1) != 1) {
        ERR_clear_error();
        return -1;
    }
    if (t->client_ca_file != NULL) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->client_ca_file);
        if (names == NULL || SSL_CTX_load_verify_locations(ctx, t->client_ca_file, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            ERR_clear_error();
            return -1;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return 1; /* the certificate comes from cert_callback; CivetWeb must not load one */
}

void tls_free(tls_state *t)
{
    if (t == NULL)
        return;
    X509_free(t->cert);
    sk_X509_pop_free(t->chain, X509_free);
    EVP_PKEY_free(t->key);
    free(t->cert_file);
    free(t->key_file);
    free(t->client_ca_file);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

int64_t tls_cert_not_after(tls_state *t)
{
    if (t == NULL)
        return 0;
    pthread_mutex_lock(&t->lock);
    int64_t v = t->not_after;
    pthread_mutex_unlock(&t->lock);
    return v;
}
