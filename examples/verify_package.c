/* SPDX-License-Identifier: Apache-2.0 */
/* Example: verify a CAP package (a .zip or a directory) against a trust store and print every
 * check, as an auditor's script would.
 *   cc verify_package.c $(pkg-config --cflags --libs libcapverify) -o verify_package
 *   ./verify_package PACKAGE TRUST_DIR [POLICY_DIR [TSA_CA.pem]]
 * Exit status: 0 ok, 1 warn, 2 fail, 3 usage, 4 the package could not be verified at all. */
#include <stdio.h>

#include <capverify.h>

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: %s PACKAGE TRUST_DIR [POLICY_DIR [TSA_CA.pem]]\n", argv[0]);
        return 3;
    }
    capv_error err = CAPV_ERROR_INIT;
    if (capv_global_init(&err) != CAPV_OK) {
        fprintf(stderr, "init: %s\n", err.message);
        return 4;
    }
    int rc = 4;
    capv_verifier *v = NULL;
    capv_trust_store *trust = NULL;
    capv_report *report = NULL;
    /* The verifier holds what a verification trusts: signer keys, known policies, TSA roots. */
    if (capv_verifier_new(&v, &err) != CAPV_OK ||
        capv_trust_store_load(&trust, argv[2], &err) != CAPV_OK) {
        fprintf(stderr, "%s: %s\n", err.field[0] ? err.field : argv[2], err.message);
        goto out;
    }
    capv_verifier_take_trust_store(v, trust); /* the verifier owns it now */
    if (argc > 3 && capv_verifier_load_policy_dir(v, argv[3], &err) != CAPV_OK) {
        fprintf(stderr, "%s: %s\n", argv[3], err.message);
        goto out;
    }
    if (argc > 4 && capv_verifier_load_tsa_roots(v, argv[4], &err) != CAPV_OK) {
        fprintf(stderr, "%s: %s\n", argv[4], err.message);
        goto out;
    }
    /* A non-OK status means no answer (not a package, unreadable); a "fail" verdict is an
     * answer and comes with CAPV_OK. */
    if (capv_verify_path(&report, v, argv[1], NULL, &err) != CAPV_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], err.message);
        goto out;
    }
    capv_verdict verdict = capv_report_verdict(report);
    printf("%s: %s\n", argv[1], capv_verdict_name(verdict));
    for (size_t i = 0; i < capv_report_check_count(report); i++) {
        const capv_check *c = capv_report_check(report, i);
        printf("  %-5s %-22s %s\n", capv_check_status_name(capv_check_status_of(c)),
               capv_check_id(c), capv_check_message(c));
    }
    rc = verdict == CAPV_VERDICT_OK ? 0 : verdict == CAPV_VERDICT_WARN ? 1 : 2;
out:
    capv_report_free(report);
    capv_verifier_free(v);
    capv_global_shutdown();
    return rc;
}
