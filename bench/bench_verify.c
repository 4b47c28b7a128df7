/* SPDX-License-Identifier: Apache-2.0 */
/* Library verification throughput (docs/architecture.md, "Benchmarks").
 *
 *   bench_verify SECONDS
 * a typical package (the sample manifest signed with one Ed25519 key, a CAPZ proof,
 * cap-bundle.v1 metadata) verified in a loop on one core through the public API: prints
 * packages/s, which bench/run sets beside OpenSSL's raw Ed25519 verify rate.
 *
 *   bench_verify SECONDS ZIP TRUST_DIR POLICY_DIR TSA_CA THREADS [no-timestamp]
 * a zip capverifyd's benchmark sends (bench/run.d/daemon.sh: the signed sample, RFC 3161
 * timestamped, or with `no-timestamp` the same without its token) verified from memory on
 * THREADS threads with the daemon's trust settings and no report cache: the most an uncached
 * /verify could reach on this machine with no HTTP, authentication or recording at all.
 * Prints packages/s over all threads. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <capverify.h>

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n)
        exit(1);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(capv_status st, const char *what)
{
    if (st != CAPV_OK) {
        fprintf(stderr, "%s: %s\n", what, capv_strerror(st));
        exit(1);
    }
}

/* Whether every check of `r` passed or was skipped, except that the timestamp check may
 * warn when `timestamp_may_warn` (the sample names a TSA anchor; a package without a token
 * warns there). Prints the first other check on stderr. */
static bool expected_checks(const capv_report *r, bool timestamp_may_warn, const char *what)
{
    for (size_t i = 0; i < capv_report_check_count(r); i++) {
        const capv_check *c = capv_report_check(r, i);
        capv_check_status st = capv_check_status_of(c);
        if (st == CAPV_CHECK_PASS || st == CAPV_CHECK_SKIP ||
            (timestamp_may_warn && st == CAPV_CHECK_WARN &&
             strcmp(capv_check_id(c), "timestamp") == 0))
            continue;
        fprintf(stderr, "%s: %s %s: %s\n", what, capv_check_id(c), capv_check_status_name(st),
                capv_check_message(c));
        return false;
    }
    return true;
}

/* ---- the daemon's package on several threads ------------------------------------------ */

typedef struct zip_run {
    const capv_verifier *v;
    const capv_verify_options *o;
    const uint8_t *zip;
    size_t len;
    double seconds;
    long count;
} zip_run;

static void *zip_loop(void *arg)
{
    zip_run *z = arg;
    double start = now_s();
    while (now_s() - start < z->seconds) {
        for (int i = 0; i < 20; i++) {
            capv_report *r = NULL;
            check(capv_verify_zip_memory(&r, z->v, z->zip, z->len, z->o, NULL), "verify zip");
            capv_report_free(r);
        }
        z->count += 20;
    }
    return NULL;
}

static int zip_mode(double seconds, char **argv)
{
    size_t len;
    uint8_t *zip = slurp(argv[2], &len);
    capv_verifier *v = NULL;
    capv_trust_store *ts = NULL;
    capv_verify_options *o = NULL;
    capv_error err = CAPV_ERROR_INIT;
    check(capv_verifier_new(&v, NULL), "verifier");
    if (capv_trust_store_load(&ts, argv[3], &err) != CAPV_OK) {
        fprintf(stderr, "%s: %s\n", argv[3], err.message);
        return 1;
    }
    capv_verifier_take_trust_store(v, ts);
    check(capv_verifier_load_policy_dir(v, argv[4], NULL), "policies");
    check(capv_verifier_load_tsa_roots(v, argv[5], NULL), "TSA roots");
    check(capv_verify_options_new(&o, NULL), "options");
    check(capv_verify_options_set_mock_policy(o, CAPV_MOCK_ACCEPT, NULL), "options");
    capv_report *r = NULL;
    check(capv_verify_zip_memory(&r, v, zip, len, o, NULL), "verify zip");
    bool no_timestamp = argv[7] != NULL && strcmp(argv[7], "no-timestamp") == 0;
    if (!expected_checks(r, no_timestamp, argv[2]))
        return 1;
    capv_report_free(r);
    int n = atoi(argv[6]);
    if (n < 1 || n > 256)
        n = 1;
    zip_run runs[256];
    pthread_t th[256];
    for (int i = 0; i < n; i++) {
        runs[i] = (zip_run){ v, o, zip, len, seconds, 0 };
        if (pthread_create(&th[i], NULL, zip_loop, &runs[i]) != 0)
            return 1;
    }
    long total = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        total += runs[i].count;
    }
    printf("verify_zip_per_s %.0f threads=%d\n", (double)total / seconds, n);
    capv_verify_options_free(o);
    capv_verifier_free(v);
    free(zip);
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    check(capv_global_init(NULL), "init");
    if (argc == 7 || argc == 8) {
        int rc = zip_mode(seconds, argv);
        capv_global_shutdown();
        return rc;
    }
    size_t mlen, plen, slen;
    uint8_t *tmpl = slurp(CAPV_SOURCE_DIR "/examples/packages/sample/manifest.json", &mlen);
    uint8_t *proof = slurp(CAPV_SOURCE_DIR "/examples/packages/sample/proof.capz", &plen);

    capv_signing_key *key = NULL;
    uint8_t *manifest = NULL, pub[32], mh[32], ph[32];
    check(capv_signing_key_generate(&key, NULL), "keygen");
    check(capv_manifest_sign(&manifest, &slen, tmpl, mlen, key, "bench", NULL), "sign");
    capv_signing_key_public(pub, key);
    check(capv_hash(mh, CAPV_HASH_SHA3_256, manifest, slen, NULL), "hash");
    check(capv_hash(ph, CAPV_HASH_SHA3_256, proof, plen, NULL), "hash");
    char mhex[CAPV_DIGEST_HEX_SIZE], phex[CAPV_DIGEST_HEX_SIZE], meta[1024];
    capv_digest_format(mhex, mh);
    capv_digest_format(phex, ph);
    int n = snprintf(meta, sizeof meta,
                     "{\"schema\":\"cap-bundle.v1\",\"bundle_id\":\"bench\",\"created_at\":"
                     "\"2026-03-02T09:31:00Z\",\"files\":{\"manifest.json\":{\"role\":\"manifest\","
                     "\"hash\":\"%s\",\"size\":%zu},\"proof.capz\":{\"role\":\"proof\",\"hash\":"
                     "\"%s\",\"size\":%zu}},\"proof_units\":[{\"id\":\"main\",\"manifest_file\":"
                     "\"manifest.json\",\"proof_file\":\"proof.capz\",\"policy_hash\":"
                     "\"0xb98c3db55f874476dc749ea32b70bdf5369a0d7bc5364f236e034f1ddcd94638\"}]}",
                     mhex, slen, phex, plen);

    capv_package *pkg = NULL;
    check(capv_package_new(&pkg, NULL, NULL), "package");
    check(capv_package_add_member(pkg, "_meta.json", (uint8_t *)meta, (size_t)n, NULL), "meta");
    check(capv_package_add_member(pkg, "manifest.json", manifest, slen, NULL), "manifest");
    check(capv_package_add_member(pkg, "proof.capz", proof, plen, NULL), "proof");

    capv_verifier *v = NULL;
    capv_trust_store *ts = NULL;
    capv_verify_options *o = NULL;
    check(capv_verifier_new(&v, NULL), "verifier");
    check(capv_trust_store_new(&ts, NULL), "trust");
    check(capv_trust_store_add(ts, pub, "bench", NULL), "trust add");
    capv_verifier_take_trust_store(v, ts);
    check(capv_verifier_add_policy_hash(
              v, "0xb98c3db55f874476dc749ea32b70bdf5369a0d7bc5364f236e034f1ddcd94638", NULL),
          "policy");
    check(capv_verify_options_new(&o, NULL), "options");
    check(capv_verify_options_set_mock_policy(o, CAPV_MOCK_ACCEPT, NULL), "options");

    /* sanity: every check runs and passes, except the timestamp check, which warns because
     * the sample names a TSA anchor and this package deliberately carries no token (one
     * Ed25519 signature is the typical package of docs/architecture.md, "Benchmarks") */
    capv_report *r = NULL;
    check(capv_verify_package(&r, v, pkg, o, NULL), "verify");
    if (!expected_checks(r, true, "bench package"))
        return 1;
    capv_report_free(r);

    long count = 0;
    double start = now_s(), elapsed = 0;
    while (elapsed < seconds) {
        for (int i = 0; i < 100; i++) {
            check(capv_verify_package(&r, v, pkg, o, NULL), "verify");
            capv_report_free(r);
        }
        count += 100;
        elapsed = now_s() - start;
    }
    printf("verify_package_per_s %.0f\n", (double)count / elapsed);
    printf("package_bytes manifest=%zu proof=%zu meta=%d\n", slen, plen, n);

    capv_verify_options_free(o);
    capv_verifier_free(v);
    capv_package_free(pkg);
    capv_signing_key_free(key);
    capv_free(manifest);
    free(tmpl);
    free(proof);
    capv_global_shutdown();
    return 0;
}
