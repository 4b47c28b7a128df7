/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 3161 timestamp verification (docs/architecture.md, "Timestamps") with OpenSSL's TS API.
 *
 * The order of the checks decides which status a bad token gets, so it is fixed: parse
 * (MALFORMED / REJECTED), CMS signature and chain to the TSA bundle at genTime (UNTRUSTED /
 * SIGNATURE, both from TS_RESP_verify_token), then the message imprint (MISMATCH), then
 * genTime against the injected clock (NOT_YET_VALID). The imprint is compared only once
 * the token is known to be authentic: "for other data" means nothing for a forged token. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error_int.h"
#include "global_int.h"
#include "timestamp_int.h"

/* A TimeStampResp or token larger than this is not a timestamp (real ones are a few KiB). */
#define TSR_MAX_LEN ((size_t)1 << 20)
/* A TSA CA bundle larger than this is refused (the whole Mozilla bundle is ~0.2 MiB). */
#define TSA_BUNDLE_MAX_LEN ((size_t)4 << 20)

/* Certificates decoded from tokens, kept by their DER bytes: OpenSSL 3.0 takes about as long
 * to decode one certificate (its public key goes through the provider decoders) as to verify
 * two Ed25519 signatures, and a TSA embeds the same certificate in every token. A decoded
 * certificate depends on its bytes alone, so keeping it changes no verdict: every token is
 * verified in full, with the same certificates as OpenSSL would decode (docs/architecture.md,
 * "Timestamps"). Bounded: TSA_CERT_SLOTS of at most TSA_CERT_MAX_DER bytes each. */
#define TSA_CERT_SLOTS 16
#define TSA_CERT_MAX_DER ((size_t)16 << 10)

typedef struct cert_slot {
    uint8_t *der; /* NULL: empty */
    size_t len;
    X509 *cert;
    uint64_t used; /* tick of the last use: the least recently used slot is replaced */
} cert_slot;

/* Chains the verification built for a token's signer, kept by the token's certificates: the
 * chain check (ECDSA or RSA of each certificate, the purpose and constraints) is the same for
 * every token of a TSA, and depends on the time only through the validity periods. A chain
 * is reused at a time when each of its certificates is valid, and each other one of the
 * bundle or the token that could have issued one of them: OpenSSL's chain building chooses
 * among those, preferring valid ones, so at such a time it builds this same chain, and every
 * check passes as before. */
#define TSA_CHAIN_SLOTS 16

/* What a kept chain was built for: the signer's place in the pool (the bundle, then the
 * token's certificates), and the token's certificates (DER). */
typedef struct chain_key {
    int signer_at;
    const uint8_t *der;
    size_t len;
} chain_key;

typedef struct chain_slot {
    int signer_at;
    uint8_t *der; /* a copy of the key's; NULL: empty */
    size_t len;
    STACK_OF(X509) * chain;
    time_t from, until; /* the chain and its other possible issuers are valid in
                         * [from, until) */
    uint64_t used;
} chain_slot;

struct capv_tsa_store {
    STACK_OF(X509) * certs; /* at least one certificate */
    pthread_mutex_t lock;   /* guards slots, chains and tick */
    cert_slot slots[TSA_CERT_SLOTS];
    chain_slot chains[TSA_CHAIN_SLOTS];
    uint64_t tick;
};

/* OpenSSL 3.4 renamed the ownership-taking setters; keep the build deprecation-free on both. */
#if OPENSSL_VERSION_NUMBER >= 0x30400000L
#define TS_CTX_SET_STORE(ctx, s) TS_VERIFY_CTX_set0_store((ctx), (s))
#define TS_CTX_SET_CERTS(ctx, c) TS_VERIFY_CTX_set0_certs((ctx), (c))
#else
#define TS_CTX_SET_STORE(ctx, s) TS_VERIFY_CTX_set_store((ctx), (s))
#define TS_CTX_SET_CERTS(ctx, c) TS_VERIFY_CTX_set_certs((ctx), (c))
#endif

/* ---- OpenSSL error queue ----------------------------------------------------------------- */

/* What a failed OpenSSL call left in the thread's error queue. OpenSSL has no iterator over
 * the queue, so it is drained (every exit path clears it anyway). */
typedef struct ossl_errors {
    bool nomem;
    bool cert_verify;      /* TS_R_CERTIFICATE_VERIFY_ERROR: no chain / wrong EKU / expired */
    bool signer_not_found; /* the signer certificate is neither in the token nor the bundle */
    bool signature;        /* TS_R_SIGNATURE_FAILURE */
    bool ess_binding;      /* ESS signing-certificate attribute names another certificate */
    bool ess_format;       /* ESS attribute missing or unreadable */
    bool tsa_name;         /* the token's tsa field names someone other than the signer */
    bool version;          /* TSTInfo version is not 1 */
    bool token_missing;    /* a granted response without token */
    bool token_unexpected; /* a token in a response that was not granted */
    unsigned long last;    /* newest entry, for the message */
    char verify_detail[96];
} ossl_errors;

static void drain_errors(ossl_errors *oe)
{
    memset(oe, 0, sizeof *oe);
    const char *data = NULL;
    int flags = 0;
    unsigned long e;
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
        oe->last = e;
        if (reason == ERR_R_MALLOC_FAILURE)
            oe->nomem = true;
        if (lib == ERR_LIB_TS) {
            switch (reason) {
            case TS_R_CERTIFICATE_VERIFY_ERROR:
                oe->cert_verify = true;
                if (data != NULL && (flags & ERR_TXT_STRING))
                    snprintf(oe->verify_detail, sizeof oe->verify_detail, "%s", data);
                break;
            case TS_R_SIGNATURE_FAILURE: oe->signature = true; break;
            case TS_R_TSA_NAME_MISMATCH: oe->tsa_name = true; break;
            case TS_R_UNSUPPORTED_VERSION: oe->version = true; break;
            case TS_R_TOKEN_NOT_PRESENT: oe->token_missing = true; break;
            case TS_R_TOKEN_PRESENT: oe->token_unexpected = true; break;
            default: break;
            }
        } else if (lib == ERR_LIB_PKCS7 && reason == PKCS7_R_SIGNER_CERTIFICATE_NOT_FOUND) {
            oe->signer_not_found = true;
        } else if (lib == ERR_LIB_ESS) {
            switch (reason) {
            case ESS_R_ESS_CERT_ID_NOT_FOUND:
            case ESS_R_ESS_CERT_ID_WRONG_ORDER:
            case ESS_R_ESS_CERT_DIGEST_ERROR: oe->ess_binding = true; break;
            default: oe->ess_format = true; break;
            }
        }
        data = NULL;
        flags = 0;
    }
}

static const char *reason_text(unsigned long e)
{
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "unknown error";
}

/* Status for a failed parse: allocation failure or malformed input. */
static capv_status parse_failure(capv_error *err, const char *field, const char *what)
{
    ossl_errors oe;
    drain_errors(&oe);
    if (oe.nomem)
        return capvi_err_nomem(err);
    return capvi_err_set(err, CAPV_E_MALFORMED, field, "%s (%s)", what, reason_text(oe.last));
}

/* Status for a failed TS_RESP_verify_token(): the queue says which check failed. */
static capv_status verify_failure(capv_error *err)
{
    ossl_errors oe;
    drain_errors(&oe);
    if (oe.nomem)
        return capvi_err_nomem(err);
    if (oe.cert_verify)
        return capvi_err_set(err, CAPV_E_UNTRUSTED, "signer",
                             "TSA certificate does not chain to the TSA CA bundle with the "
                             "timeStamping usage at genTime (%s)",
                             oe.verify_detail[0] ? oe.verify_detail : "verify error");
    if (oe.signer_not_found)
        return capvi_err_set(err, CAPV_E_UNTRUSTED, "signer",
                             "TSA certificate is neither in the token nor in the TSA CA bundle");
    if (oe.ess_format)
        return capvi_err_set(err, CAPV_E_MALFORMED, "signingCertificate",
                             "token lacks a readable ESS signing-certificate attribute (%s)",
                             reason_text(oe.last));
    if (oe.ess_binding)
        return capvi_err_set(err, CAPV_E_SIGNATURE, "signingCertificate",
                             "ESS signing-certificate attribute names another certificate");
    if (oe.signature)
        return capvi_err_set(err, CAPV_E_SIGNATURE, "signature", "token signature does not verify");
    if (oe.tsa_name)
        return capvi_err_set(err, CAPV_E_UNTRUSTED, "tsa",
                             "token names a TSA other than its signer");
    if (oe.version)
        return capvi_err_set(err, CAPV_E_UNSUPPORTED_FORMAT, "version", "TSTInfo version is not 1");
    /* Structural problems found by the verifier (no signer, detached content, ...). */
    return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "token cannot be verified (%s)",
                         reason_text(oe.last));
}

/* ---- TSA certificate store --------------------------------------------------------------- */

void capvi_tsa_store_free(capv_tsa_store *store)
{
    if (store == NULL)
        return;
    for (size_t i = 0; i < TSA_CERT_SLOTS; i++) {
        free(store->slots[i].der);
        X509_free(store->slots[i].cert);
    }
    for (size_t i = 0; i < TSA_CHAIN_SLOTS; i++) {
        free(store->chains[i].der);
        sk_X509_pop_free(store->chains[i].chain, X509_free);
    }
    pthread_mutex_destroy(&store->lock);
    sk_X509_pop_free(store->certs, X509_free);
    free(store);
}

static capv_tsa_store *store_new(void)
{
    capv_tsa_store *store = calloc(1, sizeof *store);
    if (store == NULL)
        return NULL;
    if (pthread_mutex_init(&store->lock, NULL) != 0) {
        free(store);
        return NULL;
    }
    if ((store->certs = sk_X509_new_null()) == NULL) {
        capvi_tsa_store_free(store);
        return NULL;
    }
    return store;
}

size_t capvi_tsa_store_decoded(const capv_tsa_store *store, size_t *chains)
{
    capv_tsa_store *s = (capv_tsa_store *)store; /* the lock guards state reading changes */
    size_t n = 0, c = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < TSA_CERT_SLOTS; i++)
        n += s->slots[i].der != NULL;
    for (size_t i = 0; i < TSA_CHAIN_SLOTS; i++)
        c += s->chains[i].der != NULL;
    pthread_mutex_unlock(&s->lock);
    if (chains != NULL)
        *chains = c;
    return n;
}

/* A certificate time as X509_cmp_time reads it (RFC 5280: UTCTime YYMMDDHHMMSSZ or
 * GeneralizedTime YYYYMMDDHHMMSSZ), in seconds since the epoch. */
static bool cert_time(time_t *out, const ASN1_TIME *t)
{
    int type = ASN1_STRING_type(t), len = ASN1_STRING_length(t);
    const unsigned char *d = ASN1_STRING_get0_data(t);
    if (d == NULL ||
        !((type == V_ASN1_UTCTIME && len == 13) || (type == V_ASN1_GENERALIZEDTIME && len == 15)))
        return false;
    for (int i = 0; i < len - 1; i++)
        if (d[i] < '0' || d[i] > '9')
            return false;
    struct tm tm;
    if (d[len - 1] != 'Z' || ASN1_TIME_to_tm(t, &tm) != 1)
        return false;
    *out = timegm(&tm);
    return true;
}

/* Narrows [*from, *until) to the times at which X509_verify_cert finds `cert` valid
 * (notBefore <= t < notAfter); false when its times cannot be read so. */
static bool narrow_to(time_t *from, time_t *until, const X509 *cert)
{
    time_t nb, na;
    if (!cert_time(&nb, X509_get0_notBefore(cert)) || !cert_time(&na, X509_get0_notAfter(cert)))
        return false;
    if (nb > *from)
        *from = nb;
    if (na < *until)
        *until = na;
    return true;
}

/* The certificate of DER bytes der[0..len), decoded (a new reference), or NULL when they are
 * not exactly one certificate. */
static X509 *decoded_cert(const capv_tsa_store *store, const uint8_t *der, size_t len)
{
    capv_tsa_store *s = (capv_tsa_store *)store;
    X509 *cert = NULL;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < TSA_CERT_SLOTS && cert == NULL; i++) {
        cert_slot *c = &s->slots[i];
        if (c->der != NULL && c->len == len && memcmp(c->der, der, len) == 0 &&
            X509_up_ref(c->cert) == 1) {
            c->used = ++s->tick;
            cert = c->cert;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (cert != NULL)
        return cert;

    const unsigned char *p = der;
    cert = d2i_X509(NULL, &p, (long)len);
    if (cert == NULL || p != der + len) {
        X509_free(cert);
        return NULL;
    }
    uint8_t *copy = len <= TSA_CERT_MAX_DER ? malloc(len) : NULL;
    if (copy == NULL || X509_up_ref(cert) != 1) {
        free(copy);
        return cert; /* used once, not kept */
    }
    memcpy(copy, der, len);
    pthread_mutex_lock(&s->lock);
    cert_slot *victim = NULL;
    bool kept = false; /* by another thread that decoded the same bytes meanwhile */
    for (size_t i = 0; i < TSA_CERT_SLOTS && !kept; i++) {
        cert_slot *c = &s->slots[i];
        kept = c->der != NULL && c->len == len && memcmp(c->der, der, len) == 0;
        if (victim == NULL || (victim->der != NULL && (c->der == NULL || c->used < victim->used)))
            victim = c;
    }
    uint8_t *old_der = copy;
    X509 *old_cert = cert; /* the slot's reference, when not kept */
    if (!kept) {
        old_der = victim->der;
        old_cert = victim->cert;
        *victim = (cert_slot){ .der = copy, .len = len, .cert = cert, .used = ++s->tick };
    }
    pthread_mutex_unlock(&s->lock);
    free(old_der);
    X509_free(old_cert);
    return cert;
}

capv_status capvi_tsa_store_load_mem(capv_tsa_store **out, const uint8_t *pem, size_t len,
                                     capv_error *err)
{
    capv_status st = CAPV_OK;
    capv_tsa_store *store = NULL;
    BIO *bio = NULL;
    X509 *cert = NULL;

    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    if (pem == NULL && len > 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    CAPV_TRY(capvi_global_require(err));
    ERR_clear_error();
    if (len > TSA_BUNDLE_MAX_LEN)
        CAPV_FAIL(err, CAPV_E_LIMIT, NULL, "TSA CA bundle is larger than %zu bytes",
                  TSA_BUNDLE_MAX_LEN);
    if (len == 0)
        CAPV_FAIL(err, CAPV_E_MALFORMED, NULL, "TSA CA bundle is empty");

    if ((store = store_new()) == NULL) {
        st = capvi_err_nomem(err);
        goto out;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        st = capvi_err_nomem(err);
        goto out;
    }
    for (;;) {
        cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (cert == NULL) {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE &&
                sk_X509_num(store->certs) > 0) {
                ERR_clear_error(); /* the normal end of the bundle */
                break;
            }
            if (e == 0 ||
                (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
                ERR_clear_error();
                CAPV_FAIL(err, CAPV_E_MALFORMED, NULL,
                          "TSA CA bundle holds no PEM CERTIFICATE block");
            }
            st = parse_failure(err, NULL, "TSA CA bundle has an unreadable certificate");
            goto out;
        }
        if (sk_X509_push(store->certs, cert) <= 0) {
            st = capvi_err_nomem(err);
            goto out;
        }
        cert = NULL;
    }
    *out = store;
    store = NULL;
out:
    X509_free(cert);
    BIO_free(bio);
    capvi_tsa_store_free(store);
    ERR_clear_error();
    return st;
}

/* Thread-safe strerror for messages. */
static const char *errno_text(int e, char *buf, size_t cap)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(e, buf, cap);
#else
    if (strerror_r(e, buf, cap) != 0)
        snprintf(buf, cap, "errno %d", e);
    return buf;
#endif
}

capv_status capvi_tsa_store_load(capv_tsa_store **out, const char *pem_file, capv_error *err)
{
    capv_status st = CAPV_OK;
    int fd = -1;
    uint8_t *buf = NULL;
    char ebuf[128];

    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    if (pem_file == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    CAPV_TRY(capvi_global_require(err));

    fd = open(pem_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        CAPV_FAIL(err, (e == ENOENT || e == ENOTDIR) ? CAPV_E_NOT_FOUND : CAPV_E_IO, NULL,
                  "cannot open TSA CA bundle %s: %s", pem_file, errno_text(e, ebuf, sizeof ebuf));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        CAPV_FAIL(err, CAPV_E_IO, NULL, "cannot stat TSA CA bundle %s: %s", pem_file,
                  errno_text(e, ebuf, sizeof ebuf));
    }
    if (!S_ISREG(sb.st_mode))
        CAPV_FAIL(err, CAPV_E_IO, NULL, "TSA CA bundle %s is not a regular file", pem_file);
    if (sb.st_size < 0 || (uintmax_t)sb.st_size > TSA_BUNDLE_MAX_LEN)
        CAPV_FAIL(err, CAPV_E_LIMIT, NULL, "TSA CA bundle %s is larger than %zu bytes", pem_file,
                  TSA_BUNDLE_MAX_LEN);

    /* One spare byte tells a file that grew after fstat() from one that did not. */
    size_t cap = (size_t)sb.st_size + 1, len = 0;
    buf = malloc(cap);
    if (buf == NULL) {
        st = capvi_err_nomem(err);
        goto out;
    }
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            CAPV_FAIL(err, CAPV_E_IO, NULL, "cannot read TSA CA bundle %s: %s", pem_file,
                      errno_text(e, ebuf, sizeof ebuf));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len == cap)
        CAPV_FAIL(err, CAPV_E_IO, NULL, "TSA CA bundle %s changed while being read", pem_file);
    st = capvi_tsa_store_load_mem(out, buf, len, err);
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return st;
}

/* ---- Token fields -------------------------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    /* Proleptic Gregorian calendar, days relative to 1970-01-01. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t digits(const unsigned char *p, size_t n)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

/* genTime as RFC 3161 §2.4.2 requires it: GeneralizedTime "YYYYMMDDhhmmss[.f+]Z" (UTC,
 * seconds present, optional fraction). Milliseconds since the epoch, fraction truncated. */
static bool gen_time_ms(int64_t *out, const ASN1_GENERALIZEDTIME *t)
{
    if (t == NULL || ASN1_STRING_type(t) != V_ASN1_GENERALIZEDTIME)
        return false;
    const unsigned char *p = ASN1_STRING_get0_data(t);
    int ilen = ASN1_STRING_length(t);
    if (p == NULL || ilen < 15)
        return false;
    size_t len = (size_t)ilen;
    for (size_t i = 0; i < 14; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    size_t pos = 14;
    int64_t ms = 0;
    if (p[pos] == '.') {
        size_t start = ++pos;
        while (pos < len && p[pos] >= '0' && p[pos] <= '9') {
            if (pos - start < 3)
                ms = ms * 10 + (p[pos] - '0');
            pos++;
        }
        if (pos == start)
            return false;
        for (size_t k = pos - start; k < 3; k++)
            ms *= 10;
    }
    if (pos + 1 != len || p[pos] != 'Z')
        return false;

    int64_t year = digits(p, 4), mon = digits(p + 4, 2), day = digits(p + 6, 2);
    int64_t hour = digits(p + 8, 2), min = digits(p + 10, 2), sec = digits(p + 12, 2);
    static const int64_t mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (mon < 1 || mon > 12 || hour > 23 || min > 59 || sec > 59 || day < 1)
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[mon - 1] + (mon == 2 && leap ? 1 : 0))
        return false;
    int64_t days = days_from_civil(year, mon, day);
    *out = ((days * 24 + hour) * 60 + min) * 60000 + sec * 1000 + ms;
    return true;
}

/* Lower-case short name of the imprint algorithm ("sha256"), or its dotted OID. */
static void alg_name(char *out, size_t cap, const ASN1_OBJECT *obj)
{
    int nid = OBJ_obj2nid(obj);
    const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
    if (sn != NULL)
        snprintf(out, cap, "%s", sn);
    else if (OBJ_obj2txt(out, (int)cap, obj, 1) < 0)
        snprintf(out, cap, "unknown");
    for (char *c = out; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
}

/* Imprint algorithms accepted: SHA-2 and SHA-3 only (MD5 and SHA-1 imprints can be
 * collided, so a token over them binds nothing). */
static bool imprint_alg_allowed(int nid)
{
    switch (nid) {
    case NID_sha224:
    case NID_sha256:
    case NID_sha384:
    case NID_sha512:
    case NID_sha512_224:
    case NID_sha512_256:
    case NID_sha3_224:
    case NID_sha3_256:
    case NID_sha3_384:
    case NID_sha3_512: return true;
    default: return false;
    }
}

/* Serial number in lower-case hex (big-endian magnitude, "-" if negative); overlong serials
 * are cut with "...". */
static void serial_hex(char *out, size_t cap, const ASN1_INTEGER *serial)
{
    static const char hexd[] = "0123456789abcdef";
    out[0] = '\0';
    if (serial == NULL || cap < 8)
        return;
    const unsigned char *p = ASN1_STRING_get0_data(serial);
    int ilen = ASN1_STRING_length(serial);
    size_t n = ilen > 0 && p != NULL ? (size_t)ilen : 0, pos = 0;
    if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER)
        out[pos++] = '-';
    if (n == 0) {
        out[pos++] = '0';
    } else {
        size_t room = (cap - pos - 1) / 2, take = n <= room ? n : (cap - pos - 4) / 2;
        for (size_t i = 0; i < take; i++) {
            out[pos++] = hexd[p[i] >> 4];
            out[pos++] = hexd[p[i] & 15];
        }
        if (take < n) {
            memcpy(out + pos, "...", 3);
            pos += 3;
        }
    }
    out[pos] = '\0';
}

/* Subject of the signing certificate on one line, ASCII only ("O=..., CN=..."). */
static capv_status subject_line(char *out, size_t cap, X509 *cert, capv_error *err)
{
    out[0] = '\0';
    BIO *mem = BIO_new(BIO_s_mem());
    if (mem == NULL)
        return capvi_err_nomem(err);
    unsigned long flags = (unsigned long)XN_FLAG_ONELINE & ~(unsigned long)XN_FLAG_SPC_EQ;
    char *text = NULL;
    long n = 0;
    if (X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, flags) >= 0)
        n = BIO_get_mem_data(mem, &text);
    if (n > 0 && text != NULL) {
        size_t len = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)text[i];
            out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        }
        out[len] = '\0';
    }
    BIO_free(mem);
    return CAPV_OK;
}

/* Parses a DER TimeStampResp, else a bare TimeStampToken (CMS ContentInfo). On success
 * exactly one of *resp / *bare is set and *token points into it. */
static capv_status parse_input(TS_RESP **resp, PKCS7 **bare, PKCS7 **token, const uint8_t *in,
                               size_t len, capv_error *err)
{
    const unsigned char *p = in;
    *resp = d2i_TS_RESP(NULL, &p, (long)len);
    if (*resp != NULL) {
        if (p != in + len)
            return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "%zu bytes after the TimeStampResp",
                                 (size_t)(in + len - p));
        return CAPV_OK;
    }
    /* d2i_TS_RESP() itself checks that a token is present exactly when the status grants. */
    ossl_errors oe;
    drain_errors(&oe);
    if (oe.nomem)
        return capvi_err_nomem(err);
    if (oe.token_missing)
        return capvi_err_set(err, CAPV_E_MALFORMED, "timeStampToken",
                             "response status is granted but it carries no token");
    if (oe.token_unexpected)
        return capvi_err_set(err, CAPV_E_MALFORMED, "timeStampToken",
                             "response status is not granted but it carries a token");

    p = in;
    *bare = d2i_PKCS7(NULL, &p, (long)len);
    if (*bare == NULL) {
        size_t i = 0;
        while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n'))
            i++;
        if (i < len && in[i] == '{') {
            ERR_clear_error();
            return capvi_err_set(err, CAPV_E_MALFORMED, NULL,
                                 "JSON (e.g. a tsr.v1 timestamp) is not an RFC 3161 token");
        }
        return parse_failure(err, NULL, "not a DER TimeStampResp or TimeStampToken");
    }
    if (p != in + len)
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL, "%zu bytes after the TimeStampToken",
                             (size_t)(in + len - p));
    *token = *bare;
    return CAPV_OK;
}

/* ---- Certificates out of the token ------------------------------------------------------- */

/* A DER element: tag (low-tag-number form), header and content lengths. */
typedef struct der_elem {
    uint8_t tag;
    size_t at, hl, cl; /* offset of the header in the input; header and content lengths */
} der_elem;

/* The element at d[at..end): definite, minimal length within `end`. */
static bool der_read(der_elem *e, const uint8_t *d, size_t at, size_t end)
{
    if (at >= end || end - at < 2 || (d[at] & 0x1f) == 0x1f)
        return false;
    size_t len = d[at + 1], hl = 2;
    if (len >= 0x80) {
        size_t k = len & 0x7f;
        /* indefinite (k == 0), longer than a token may be, or not minimal */
        if (k == 0 || k > 3 || end - at - 2 < k || d[at + 2] == 0)
            return false;
        len = 0;
        for (size_t i = 0; i < k; i++)
            len = len << 8 | d[at + 2 + i];
        if (len < 0x80)
            return false;
        hl += k;
    }
    if (len > end - at - hl)
        return false;
    *e = (der_elem){ .tag = d[at], .at = at, .hl = hl, .cl = len };
    return true;
}

static size_t der_end(const der_elem *e)
{
    return e->at + e->hl + e->cl;
}

/* A DER length, minimal; the number of bytes written to out (at most 4). */
static size_t der_put_len(uint8_t *out, size_t len)
{
    if (len < 0x80) {
        out[0] = (uint8_t)len;
        return 1;
    }
    size_t k = len > 0xffff ? 3 : len > 0xff ? 2 : 1;
    out[0] = (uint8_t)(0x80 | k);
    for (size_t i = 0; i < k; i++)
        out[1 + i] = (uint8_t)(len >> (8 * (k - 1 - i)));
    return 1 + k;
}

#define TOKEN_CERTS_MAX 8 /* certificates taken out of a token; more: OpenSSL decodes them */

/* Where a token's certificates are: the elements that enclose them (the response, the
 * ContentInfo, its [0], the SignedData), the SignedData's `certificates` [0] and each
 * certificate in it. A shape this walk does not know is left whole to OpenSSL. */
typedef struct token_shape {
    der_elem outer[4];
    size_t nouter;
    der_elem field;
    der_elem cert[TOKEN_CERTS_MAX];
    size_t ncerts;
} token_shape;

static bool find_token_certs(token_shape *t, const uint8_t *d, size_t len)
{
    static const uint8_t signed_data[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                           0xf7, 0x0d, 0x01, 0x07, 0x02 };
    der_elem top, e;
    t->nouter = 0;
    t->ncerts = 0;
    if (!der_read(&top, d, 0, len) || top.tag != 0x30 || der_end(&top) != len ||
        !der_read(&e, d, top.hl, len))
        return false;
    der_elem ci = top; /* a bare token is a ContentInfo */
    if (e.tag == 0x30) {
        /* TimeStampResp: PKIStatusInfo, then the token, the last element */
        if (!der_read(&ci, d, der_end(&e), len) || ci.tag != 0x30 || der_end(&ci) != len)
            return false;
        t->outer[t->nouter++] = top;
    }
    t->outer[t->nouter++] = ci;
    size_t at = ci.at + ci.hl;
    if (ci.cl < sizeof signed_data || memcmp(d + at, signed_data, sizeof signed_data) != 0)
        return false;
    der_elem content, sd;
    if (!der_read(&content, d, at + sizeof signed_data, len) || content.tag != 0xa0 ||
        der_end(&content) != der_end(&ci) ||
        !der_read(&sd, d, content.at + content.hl, der_end(&content)) || sd.tag != 0x30 ||
        der_end(&sd) != der_end(&content))
        return false;
    t->outer[t->nouter++] = content;
    t->outer[t->nouter++] = sd;
    /* SignedData: version, digestAlgorithms, encapContentInfo, then certificates [0] */
    static const uint8_t before[] = { 0x02, 0x31, 0x30 };
    at = sd.at + sd.hl;
    for (size_t i = 0; i < sizeof before; i++, at = der_end(&e))
        if (!der_read(&e, d, at, der_end(&sd)) || e.tag != before[i])
            return false;
    if (!der_read(&t->field, d, at, der_end(&sd)) || t->field.tag != 0xa0)
        return false;
    for (at = t->field.at + t->field.hl; at < der_end(&t->field); at = der_end(&e)) {
        if (t->ncerts == TOKEN_CERTS_MAX || !der_read(&e, d, at, der_end(&t->field)) ||
            e.tag != 0x30)
            return false;
        t->cert[t->ncerts++] = e;
    }
    return t->ncerts > 0;
}

/* The input without the token's certificates field, the enclosing lengths shortened: the
 * same response or token, with the certificates to be given to the verification instead. */
static uint8_t *without_certs(size_t *out_len, const token_shape *t, const uint8_t *d, size_t len)
{
    size_t cut = der_end(&t->field) - t->field.at;
    uint8_t *out = malloc(len), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < t->nouter; i++) {
        const der_elem *e = &t->outer[i];
        *o++ = e->tag;
        o += der_put_len(o, e->cl - cut);
        size_t from = e->at + e->hl, to = i + 1 < t->nouter ? t->outer[i + 1].at : t->field.at;
        memcpy(o, d + from, to - from);
        o += to - from;
    }
    memcpy(o, d + der_end(&t->field), len - der_end(&t->field));
    o += len - der_end(&t->field);
    *out_len = (size_t)(o - out);
    return out;
}

/* The response or token of in[0..len), parsed with its certificates taken from the store's
 * decoded ones (parse_input's result; *certs gets them, in the token's order, and *der their
 * DER, der_len bytes within `in`). False, with nothing set, when the input does not have that
 * shape or anything fails: the caller then lets OpenSSL parse the input whole, and so reports
 * its faults exactly as before. */
static bool parse_with_decoded_certs(TS_RESP **resp, PKCS7 **bare, PKCS7 **token,
                                     STACK_OF(X509) * *certs, const uint8_t **der, size_t *der_len,
                                     const capv_tsa_store *store, const uint8_t *in, size_t len)
{
    token_shape t;
    if (!find_token_certs(&t, in, len))
        return false;
    size_t slen = 0;
    uint8_t *stripped = without_certs(&slen, &t, in, len);
    STACK_OF(X509) *list = sk_X509_new_null();
    capv_error ignored = CAPV_ERROR_INIT;
    bool ok = stripped != NULL && list != NULL &&
              parse_input(resp, bare, token, stripped, slen, &ignored) == CAPV_OK;
    /* A second certificates field after the first is out of place, where OpenSSL refuses
     * the input; without the first it would be in place, so it must not be there. */
    const PKCS7 *signed_token = *resp != NULL ? TS_RESP_get_token(*resp) : *token;
    ok = ok && signed_token != NULL && PKCS7_type_is_signed(signed_token) &&
         signed_token->d.sign != NULL && signed_token->d.sign->cert == NULL;
    for (size_t i = 0; ok && i < t.ncerts; i++) {
        X509 *cert = decoded_cert(store, in + t.cert[i].at, der_end(&t.cert[i]) - t.cert[i].at);
        ok = cert != NULL && sk_X509_push(list, cert) > 0;
        if (!ok)
            X509_free(cert);
    }
    if (ok) {
        *certs = list;
        list = NULL;
        *der = in + t.field.at + t.field.hl;
        *der_len = t.field.cl;
    } else {
        TS_RESP_free(*resp);
        PKCS7_free(*bare);
        *resp = NULL;
        *bare = NULL;
        *token = NULL;
    }
    sk_X509_pop_free(list, X509_free);
    free(stripped);
    ERR_clear_error();
    return ok;
}

/* Checks the PKIStatus of a response; sets *token to the response's token. */
static capv_status check_status(PKCS7 **token, TS_RESP *resp, capv_error *err)
{
    static const char *const names[] = { "granted", "grantedWithMods",   "rejection",
                                         "waiting", "revocationWarning", "revocationNotification" };
    const ASN1_INTEGER *status = TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp));
    int64_t v = -1;
    if (status == NULL || ASN1_INTEGER_get_int64(&v, status) != 1) {
        ERR_clear_error();
        return capvi_err_set(err, CAPV_E_MALFORMED, "status", "unreadable PKIStatus");
    }
    if (v != 0 && v != 1) {
        /* The TSA's own words, reduced to printable ASCII, help the operator. */
        char text[96] = "";
        const STACK_OF(ASN1_UTF8STRING) *texts =
            TS_STATUS_INFO_get0_text(TS_RESP_get_status_info(resp));
        if (texts != NULL && sk_ASN1_UTF8STRING_num(texts) > 0) {
            const ASN1_UTF8STRING *s = sk_ASN1_UTF8STRING_value(texts, 0);
            const unsigned char *d = ASN1_STRING_get0_data(s);
            int n = ASN1_STRING_length(s);
            size_t k = 0;
            for (int i = 0; d != NULL && i < n && k + 1 < sizeof text; i++)
                text[k++] = (d[i] >= 0x20 && d[i] < 0x7f) ? (char)d[i] : '?';
            text[k] = '\0';
        }
        return capvi_err_set(
            err, CAPV_E_REJECTED, "status", "TSA did not grant the timestamp: status %s%s%s%s",
            v >= 0 && v <= 5 ? names[v] : "unknown", text[0] ? " (" : "", text, text[0] ? ")" : "");
    }
    *token = TS_RESP_get_token(resp);
    if (*token == NULL)
        return capvi_err_set(err, CAPV_E_MALFORMED, "timeStampToken",
                             "response status is granted but it carries no token");
    return CAPV_OK;
}

/* Fills `info` from the parsed token; *gen_ms receives genTime. `pool`: the certificates
 * the signer is looked up in before the token's own. */
static capv_status read_fields(capv_timestamp_info *info, int64_t *gen_ms, PKCS7 *token,
                               TS_TST_INFO *tst, STACK_OF(X509) * pool, capv_error *err)
{
    capv_status st = CAPV_OK;
    STACK_OF(X509) *signers = NULL;

    if (info != NULL) {
        const ASN1_OBJECT *obj = NULL;
        X509_ALGOR_get0(&obj, NULL, NULL,
                        TS_MSG_IMPRINT_get_algo(TS_TST_INFO_get_msg_imprint(tst)));
        if (obj != NULL)
            alg_name(info->hash_alg, sizeof info->hash_alg, obj);
        serial_hex(info->serial, sizeof info->serial, TS_TST_INFO_get_serial(tst));
        /* The subject is information only; a missing signer certificate is reported by
         * the verification that follows. */
        signers = PKCS7_get0_signers(token, pool, 0);
        if (signers != NULL && sk_X509_num(signers) == 1)
            CAPV_TRY(subject_line(info->tsa_subject, sizeof info->tsa_subject,
                                  sk_X509_value(signers, 0), err));
    }
    if (!gen_time_ms(gen_ms, TS_TST_INFO_get_time(tst)))
        CAPV_FAIL(err, CAPV_E_MALFORMED, "genTime",
                  "genTime is not a UTC GeneralizedTime YYYYMMDDhhmmss[.f]Z");
    if (info != NULL)
        info->gen_time_ms = *gen_ms;
out:
    sk_X509_free(signers);
    ERR_clear_error();
    return st;
}

/* ---- The token's signature ---------------------------------------------------------------- */

static bool slot_is(const chain_slot *c, const chain_key *key)
{
    return c->der != NULL && c->signer_at == key->signer_at && c->len == key->len &&
           memcmp(c->der, key->der, key->len) == 0;
}

/* The chain kept for `key`: a new reference to it when it is valid at `t`, else NULL. */
static STACK_OF(X509) * kept_chain(const capv_tsa_store *store, const chain_key *key, time_t t)
{
    capv_tsa_store *s = (capv_tsa_store *)store;
    STACK_OF(X509) *chain = NULL;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < TSA_CHAIN_SLOTS; i++) {
        chain_slot *c = &s->chains[i];
        if (slot_is(c, key)) {
            if (c->from <= t && t < c->until && (chain = X509_chain_up_ref(c->chain)) != NULL)
                c->used = ++s->tick;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return chain;
}

/* Narrows [*from, *until) to the validity of each of `certs` that could issue a certificate
 * of `chain` (its subject is that certificate's issuer): the candidates OpenSSL's chain
 * building chooses from. False when a time cannot be read. */
static bool narrow_to_issuers(time_t *from, time_t *until, STACK_OF(X509) * certs,
                              STACK_OF(X509) * chain)
{
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *c = sk_X509_value(certs, i);
        for (int k = 0; k < sk_X509_num(chain); k++) {
            if (X509_NAME_cmp(X509_get_subject_name(c),
                              X509_get_issuer_name(sk_X509_value(chain, k))) != 0)
                continue;
            if (!narrow_to(from, until, c))
                return false;
            break;
        }
    }
    return true;
}

/* Keeps `chain`, built for `key`, for the times at which each of its certificates, and each
 * other one of the bundle or `token_certs` that could have issued one of them, is valid
 * (nothing when those times cannot be read). */
static void keep_chain(const capv_tsa_store *store, const chain_key *key,
                       STACK_OF(X509) * token_certs, STACK_OF(X509) * chain)
{
    capv_tsa_store *s = (capv_tsa_store *)store;
    time_t from = (time_t)INT64_MIN, until = (time_t)INT64_MAX;
    bool times = true;
    for (int i = 0; i < sk_X509_num(chain) && times; i++)
        times = narrow_to(&from, &until, sk_X509_value(chain, i));
    if (!times || !narrow_to_issuers(&from, &until, s->certs, chain) ||
        !narrow_to_issuers(&from, &until, token_certs, chain) || from >= until)
        return;
    uint8_t *copy = malloc(key->len ? key->len : 1);
    STACK_OF(X509) *kept = X509_chain_up_ref(chain);
    if (copy == NULL || kept == NULL) {
        free(copy);
        sk_X509_pop_free(kept, X509_free);
        return;
    }
    memcpy(copy, key->der, key->len);
    pthread_mutex_lock(&s->lock);
    chain_slot *victim = NULL;
    for (size_t i = 0; i < TSA_CHAIN_SLOTS; i++) {
        chain_slot *c = &s->chains[i];
        if (slot_is(c, key)) {
            victim = c; /* the same certificates, kept for other times */
            break;
        }
        if (victim == NULL || (victim->der != NULL && (c->der == NULL || c->used < victim->used)))
            victim = c;
    }
    uint8_t *old_der = victim->der;
    STACK_OF(X509) *old_chain = victim->chain;
    *victim = (chain_slot){ .signer_at = key->signer_at,
                            .der = copy,
                            .len = key->len,
                            .chain = kept,
                            .from = from,
                            .until = until,
                            .used = ++s->tick };
    pthread_mutex_unlock(&s->lock);
    free(old_der);
    sk_X509_pop_free(old_chain, X509_free);
}

/* An X509_STORE of the bundle's certificates that verifies at time `t`; NULL with OpenSSL's
 * error left in the queue. */
static X509_STORE *bundle_store(const capv_tsa_store *store, time_t t)
{
    X509_STORE *xs = X509_STORE_new();
    bool ok = xs != NULL;
    for (int i = 0; ok && i < sk_X509_num(store->certs); i++)
        ok = X509_STORE_add_cert(xs, sk_X509_value(store->certs, i)) == 1;
    if (!ok) {
        X509_STORE_free(xs);
        return NULL;
    }
    X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(xs), t);
    return xs;
}

/* The signer's chain to the bundle at `t` with the timeStamping purpose, as OpenSSL's
 * TS_RESP_verify_signature builds it (OpenSSL 3.0, crypto/ts/ts_rsp_verify.c, ts_verify_cert),
 * or one the store kept for the same certificates (`key`, NULL: none) and valid at `t`. NULL
 * with OpenSSL's error raised. */
static STACK_OF(X509) * signer_chain(const capv_tsa_store *store, STACK_OF(X509) * untrusted,
                                     X509 *signer, STACK_OF(X509) * token_certs,
                                     const chain_key *key, time_t t)
{
    STACK_OF(X509) *chain = key != NULL ? kept_chain(store, key, t) : NULL;
    if (chain != NULL)
        return chain;
    X509_STORE *xs = bundle_store(store, t);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    bool ok = xs != NULL && ctx != NULL && X509_STORE_CTX_init(ctx, xs, signer, untrusted) == 1;
    if (ok) {
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_TIMESTAMP_SIGN);
        if (X509_verify_cert(ctx) <= 0) {
            ERR_raise_data(ERR_LIB_TS, TS_R_CERTIFICATE_VERIFY_ERROR, "Verify error:%s",
                           X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        } else if ((chain = X509_STORE_CTX_get1_chain(ctx)) != NULL && key != NULL) {
            keep_chain(store, key, token_certs, chain);
        }
    } else if (ctx == NULL) {
        ERR_raise(ERR_LIB_TS, ERR_R_X509_LIB);
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(xs);
    return chain;
}

/* An ESS signing-certificate attribute of `si` (v1 or v2), decoded; NULL when absent. */
static void *ess_attribute(const PKCS7_SIGNER_INFO *si, int nid)
{
    ASN1_TYPE *attr = PKCS7_get_signed_attribute(si, nid);
    if (attr == NULL || attr->type != V_ASN1_SEQUENCE)
        return NULL;
    const unsigned char *p = attr->value.sequence->data;
    long len = attr->value.sequence->length;
    return nid == NID_id_smime_aa_signingCertificate
               ? (void *)d2i_ESS_SIGNING_CERT(NULL, &p, len)
               : (void *)d2i_ESS_SIGNING_CERT_V2(NULL, &p, len);
}

/* Whether the token's tsa field names the signer: its subject, or one of its alternative
 * names (OpenSSL's ts_check_signer_name). */
static bool names_signer(const GENERAL_NAME *tsa, X509 *signer)
{
    if (tsa->type == GEN_DIRNAME && X509_NAME_cmp(tsa->d.dirn, X509_get_subject_name(signer)) == 0)
        return true;
    bool found = false;
    int idx = -1;
    GENERAL_NAMES *names;
    while (!found && (names = X509_get_ext_d2i(signer, NID_subject_alt_name, NULL, &idx)) != NULL) {
        for (int i = 0; !found && i < sk_GENERAL_NAME_num(names); i++)
            found = GENERAL_NAME_cmp(sk_GENERAL_NAME_value(names, i), (GENERAL_NAME *)tsa) == 0;
        GENERAL_NAMES_free(names);
    }
    return found;
}

/* The checks of TS_RESP_verify_token with TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_SIGNER
 * (OpenSSL 3.0, crypto/ts/ts_rsp_verify.c), in its order and raising its errors, made of
 * OpenSSL's public functions so that the signer's chain can be one the store kept. `pool`:
 * the bundle, then the certificates taken out of the token (`token_certs`, whose DER is
 * certs_der); the token's own certificates follow, as OpenSSL adds them. 1 when it verifies. */
static int token_checks(PKCS7 *token, TS_TST_INFO *tst, const capv_tsa_store *store,
                        STACK_OF(X509) * pool, STACK_OF(X509) * token_certs,
                        const uint8_t *certs_der, size_t certs_der_len, time_t t)
{
    int ok = 0;
    STACK_OF(X509) *signers = NULL, *untrusted = NULL, *chain = NULL;
    ESS_SIGNING_CERT *ss = NULL;
    ESS_SIGNING_CERT_V2 *ssv2 = NULL;
    BIO *p7bio = NULL;
    chain_key key = { .der = certs_der, .len = certs_der_len };

    if (!PKCS7_type_is_signed(token)) {
        ERR_raise(ERR_LIB_TS, TS_R_WRONG_CONTENT_TYPE);
        goto out;
    }
    STACK_OF(PKCS7_SIGNER_INFO) *sinfos = PKCS7_get_signer_info(token);
    if (sinfos == NULL || sk_PKCS7_SIGNER_INFO_num(sinfos) != 1) {
        ERR_raise(ERR_LIB_TS, TS_R_THERE_MUST_BE_ONE_SIGNER);
        goto out;
    }
    PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(sinfos, 0);
    if (PKCS7_get_detached(token)) {
        ERR_raise(ERR_LIB_TS, TS_R_NO_CONTENT);
        goto out;
    }
    signers = PKCS7_get0_signers(token, pool, 0);
    if (signers == NULL || sk_X509_num(signers) != 1)
        goto out;
    X509 *signer = sk_X509_value(signers, 0);
    STACK_OF(X509) *own = token->d.sign->cert;
    if ((untrusted = sk_X509_dup(pool)) == NULL)
        goto out;
    for (int i = 0; i < sk_X509_num(own); i++)
        if (sk_X509_push(untrusted, sk_X509_value(own, i)) <= 0)
            goto out;
    /* a chain is kept only for tokens whose certificates the store gave (none left inside) */
    bool keyed = certs_der != NULL && sk_X509_num(own) <= 0;
    while (keyed && key.signer_at < sk_X509_num(pool) &&
           sk_X509_value(pool, key.signer_at) != signer)
        key.signer_at++;
    if ((chain = signer_chain(store, untrusted, signer, token_certs, keyed ? &key : NULL, t)) ==
        NULL)
        goto out;
    ss = ess_attribute(si, NID_id_smime_aa_signingCertificate);
    ssv2 = ess_attribute(si, NID_id_smime_aa_signingCertificateV2);
    if (OSSL_ESS_check_signing_certs(ss, ssv2, chain, 1) <= 0)
        goto out;
    /* as OpenSSL: a token it cannot digest (p7bio NULL) fails as a bad signature */
    p7bio = PKCS7_dataInit(token, NULL);
    char buf[4096];
    while (BIO_read(p7bio, buf, sizeof buf) > 0)
        continue;
    if (PKCS7_signatureVerify(p7bio, token, si, signer) <= 0) {
        ERR_raise(ERR_LIB_TS, TS_R_SIGNATURE_FAILURE);
        goto out;
    }
    if (TS_TST_INFO_get_version(tst) != 1) {
        ERR_raise(ERR_LIB_TS, TS_R_UNSUPPORTED_VERSION);
        goto out;
    }
    const GENERAL_NAME *tsa = TS_TST_INFO_get_tsa(tst);
    if (tsa != NULL && !names_signer(tsa, signer)) {
        ERR_raise(ERR_LIB_TS, TS_R_TSA_NAME_MISMATCH);
        goto out;
    }
    ok = 1;
out:
    BIO_free_all(p7bio);
    ESS_SIGNING_CERT_free(ss);
    ESS_SIGNING_CERT_V2_free(ssv2);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_free(untrusted);
    sk_X509_free(signers);
    return ok;
}

/* Seconds of genTime, rounded down. */
static time_t gen_secs(int64_t gen_ms)
{
    return (time_t)(gen_ms >= 0 ? gen_ms / 1000 : -((-gen_ms + 999) / 1000));
}

/* CMS signature, ESS signing-certificate binding and the signer's chain to the bundle with
 * the timeStamping EKU, evaluated at genTime: a timestamp stays valid after its TSA
 * certificate expires, and the result does not depend on the wall clock. These are
 * TS_RESP_verify_token's checks, made by token_checks with the store's kept chains; `pool`,
 * `token_certs` and `certs_der` as there. */
static capv_status verify_signature(PKCS7 *token, TS_TST_INFO *tst, const capv_tsa_store *store,
                                    STACK_OF(X509) * pool, STACK_OF(X509) * token_certs,
                                    const uint8_t *certs_der, size_t certs_der_len, int64_t gen_ms,
                                    capv_error *err)
{
    ERR_clear_error();
    capv_status st = CAPV_OK;
    if (token_checks(token, tst, store, pool, token_certs, certs_der, certs_der_len,
                     gen_secs(gen_ms)) != 1)
        st = verify_failure(err);
    ERR_clear_error();
    return st;
}

/* The same checks by OpenSSL's TS_RESP_verify_token itself. */
static capv_status verify_signature_openssl(PKCS7 *token, const capv_tsa_store *store,
                                            STACK_OF(X509) * pool, int64_t gen_ms, capv_error *err)
{
    capv_status st = CAPV_OK;
    X509_STORE *xs = NULL;
    STACK_OF(X509) *untrusted = NULL;
    TS_VERIFY_CTX *ctx = NULL;

    if ((xs = bundle_store(store, gen_secs(gen_ms))) == NULL) {
        ossl_errors oe;
        drain_errors(&oe);
        st = oe.nomem
                 ? capvi_err_nomem(err)
                 : capvi_err_set(err, CAPV_E_CRYPTO, NULL, "cannot make a store of the bundle");
        goto out;
    }
    /* The bundle also serves as the pool of intermediates and of the TSA certificate
     * itself, for tokens that do not embed it (requested without certReq). */
    untrusted = X509_chain_up_ref(pool);
    ctx = TS_VERIFY_CTX_new();
    if (untrusted == NULL || ctx == NULL) {
        st = capvi_err_nomem(err);
        goto out;
    }
    TS_VERIFY_CTX_set_flags(ctx, (int)(TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_SIGNER));
    TS_CTX_SET_STORE(ctx, xs);
    xs = NULL;
    TS_CTX_SET_CERTS(ctx, untrusted);
    untrusted = NULL;
    ERR_clear_error();
    if (TS_RESP_verify_token(ctx, token) != 1) {
        st = verify_failure(err);
        goto out;
    }
out:
    TS_VERIFY_CTX_free(ctx);
    sk_X509_pop_free(untrusted, X509_free);
    X509_STORE_free(xs);
    ERR_clear_error();
    return st;
}

/* The digest the TSA signed with (its SignerInfo's) is one the imprint may use: a token
 * signed over SHA-1 binds its TSTInfo no better than a SHA-1 imprint binds the data. */
static capv_status check_signer_digest(PKCS7 *token, capv_error *err)
{
    PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(token), 0);
    X509_ALGOR *dig = NULL;
    if (si != NULL)
        PKCS7_SIGNER_INFO_get0_algs(si, NULL, &dig, NULL);
    const ASN1_OBJECT *obj = NULL;
    if (dig != NULL)
        X509_ALGOR_get0(&obj, NULL, NULL, dig);
    if (obj != NULL && imprint_alg_allowed(OBJ_obj2nid(obj)))
        return CAPV_OK;
    char name[32] = "unknown";
    if (obj != NULL)
        alg_name(name, sizeof name, obj);
    return capvi_err_set(err, CAPV_E_ALG_NOT_ALLOWED, "signerInfo",
                         "the TSA signed with digest algorithm %s, which is not allowed (SHA-2 "
                         "or SHA-3 required)",
                         name);
}

/* The message imprint equals the digest of `data` under the token's own algorithm. */
static capv_status check_imprint(TS_TST_INFO *tst, const uint8_t *data, size_t data_len,
                                 capv_error *err)
{
    capv_status st = CAPV_OK;
    EVP_MD *fetched = NULL;
    TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(tst);
    const ASN1_OBJECT *obj = NULL;
    int ptype = V_ASN1_UNDEF;
    const void *pval = NULL;
    X509_ALGOR_get0(&obj, &ptype, &pval, TS_MSG_IMPRINT_get_algo(mi));
    const ASN1_OCTET_STRING *want = TS_MSG_IMPRINT_get_msg(mi);
    int nid = obj != NULL ? OBJ_obj2nid(obj) : NID_undef;
    char name[32] = "unknown";
    if (obj != NULL)
        alg_name(name, sizeof name, obj);

    if (!imprint_alg_allowed(nid))
        CAPV_FAIL(err, CAPV_E_ALG_NOT_ALLOWED, "messageImprint",
                  "message imprint algorithm %s is not allowed (SHA-2 or SHA-3 required)", name);
    if (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL)
        CAPV_FAIL(err, CAPV_E_MALFORMED, "messageImprint",
                  "message imprint algorithm has parameters");

    const EVP_MD *md = NULL;
    if (nid == NID_sha256)
        md = capvi_global_md(CAPV_HASH_SHA256);
    else if (nid == NID_sha3_256)
        md = capvi_global_md(CAPV_HASH_SHA3_256);
    else
        md = fetched = EVP_MD_fetch(NULL, OBJ_nid2sn(nid), NULL);
    if (md == NULL) {
        ossl_errors oe;
        drain_errors(&oe);
        if (oe.nomem)
            st = capvi_err_nomem(err);
        else
            st = capvi_err_set(err, CAPV_E_CRYPTO, NULL, "OpenSSL provides no %s", name);
        goto out;
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data != NULL ? (const void *)data : (const void *)"", data_len, digest, &n, md,
                   NULL) != 1)
        CAPV_FAIL(err, CAPV_E_CRYPTO, NULL, "OpenSSL %s digest failed", name);
    if (want == NULL || ASN1_STRING_length(want) != (int)n)
        CAPV_FAIL(err, CAPV_E_MALFORMED, "messageImprint", "message imprint length does not fit %s",
                  name);
    if (CRYPTO_memcmp(ASN1_STRING_get0_data(want), digest, n) != 0)
        CAPV_FAIL(err, CAPV_E_MISMATCH, "messageImprint",
                  "timestamp is for other data (%s imprint differs)", name);
out:
    EVP_MD_free(fetched);
    ERR_clear_error();
    return st;
}

/* Verification as capvi_timestamp_verify describes; `reuse`: the token's certificates from
 * the store's decoded ones when the input's shape allows it, and the checks made by
 * token_checks with the store's kept chains, else all by OpenSSL. */
static capv_status timestamp_verify(capv_timestamp_info *info, const capv_tsa_store *store,
                                    const uint8_t *tsr, size_t tsr_len, const uint8_t *data,
                                    size_t data_len, int64_t now_ms, int64_t leeway_ms, bool reuse,
                                    capv_error *err)
{
    capv_status st = CAPV_OK;
    TS_RESP *resp = NULL;
    PKCS7 *bare = NULL;
    PKCS7 *token = NULL;                        /* borrowed from resp or bare */
    TS_TST_INFO *tst = NULL, *owned_tst = NULL; /* tst: the response's, or owned_tst */
    STACK_OF(X509) *token_certs = NULL, *pool = NULL;
    const uint8_t *certs_der = NULL;
    size_t certs_der_len = 0;
    int64_t gen_ms = 0;

    if (info != NULL)
        memset(info, 0, sizeof *info);
    if (store == NULL || (tsr == NULL && tsr_len > 0) || (data == NULL && data_len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (leeway_ms < 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "negative leeway");
    CAPV_TRY(capvi_global_require(err));
    ERR_clear_error();

    if (tsr_len > TSR_MAX_LEN)
        CAPV_FAIL(err, CAPV_E_LIMIT, NULL, "timestamp is larger than %zu bytes", TSR_MAX_LEN);
    if (tsr_len == 0)
        CAPV_FAIL(err, CAPV_E_MALFORMED, NULL, "timestamp is empty");

    if (!reuse || !parse_with_decoded_certs(&resp, &bare, &token, &token_certs, &certs_der,
                                            &certs_der_len, store, tsr, tsr_len))
        CAPV_TRY(parse_input(&resp, &bare, &token, tsr, tsr_len, err));
    if (resp != NULL)
        CAPV_TRY(check_status(&token, resp, err));
    pool = store->certs;
    if (token_certs != NULL) {
        if ((pool = sk_X509_dup(store->certs)) == NULL) {
            st = capvi_err_nomem(err);
            goto out;
        }
        for (int i = 0; i < sk_X509_num(token_certs); i++)
            if (sk_X509_push(pool, sk_X509_value(token_certs, i)) <= 0) {
                st = capvi_err_nomem(err);
                goto out;
            }
    }
    /* a response holds its token's TSTInfo already, decoded by d2i_TS_RESP the same way */
    tst = resp != NULL ? TS_RESP_get_tst_info(resp) : (owned_tst = PKCS7_to_TS_TST_INFO(token));
    if (tst == NULL) {
        st = parse_failure(err, "timeStampToken", "token does not hold a TSTInfo");
        goto out;
    }
    CAPV_TRY(read_fields(info, &gen_ms, token, tst, pool, err));
    if (reuse)
        CAPV_TRY(verify_signature(token, tst, store, pool, token_certs, certs_der, certs_der_len,
                                  gen_ms, err));
    else
        CAPV_TRY(verify_signature_openssl(token, store, pool, gen_ms, err));
    CAPV_TRY(check_signer_digest(token, err));
    CAPV_TRY(check_imprint(tst, data, data_len, err));

    int64_t latest = now_ms > INT64_MAX - leeway_ms ? INT64_MAX : now_ms + leeway_ms;
    if (gen_ms > latest)
        CAPV_FAIL(err, CAPV_E_NOT_YET_VALID, "genTime",
                  "genTime %lld is later than now %lld + leeway %lld (ms since the epoch)",
                  (long long)gen_ms, (long long)now_ms, (long long)leeway_ms);
out:
    if (pool != NULL && store != NULL && pool != store->certs)
        sk_X509_free(pool);
    sk_X509_pop_free(token_certs, X509_free);
    TS_TST_INFO_free(owned_tst);
    TS_RESP_free(resp);
    PKCS7_free(bare);
    ERR_clear_error();
    return st;
}

capv_status capvi_timestamp_verify(capv_timestamp_info *info, const capv_tsa_store *store,
                                   const uint8_t *tsr, size_t tsr_len, const uint8_t *data,
                                   size_t data_len, int64_t now_ms, int64_t leeway_ms,
                                   capv_error *err)
{
    return timestamp_verify(info, store, tsr, tsr_len, data, data_len, now_ms, leeway_ms, true,
                            err);
}

capv_status capvi_timestamp_verify_whole(capv_timestamp_info *info, const capv_tsa_store *store,
                                         const uint8_t *tsr, size_t tsr_len, const uint8_t *data,
                                         size_t data_len, int64_t now_ms, int64_t leeway_ms,
                                         capv_error *err)
{
    return timestamp_verify(info, store, tsr, tsr_len, data, data_len, now_ms, leeway_ms, false,
                            err);
}
