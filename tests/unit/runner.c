/* SPDX-License-Identifier: Apache-2.0 */
/* Runs one Check suite by name: `capv_unit <suite>` (ctest runs each as its own test). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"

static const struct {
    const char *name;
    Suite *(*make)(void);
} suites[] = {
    /* clang-format off: one suite per line */
    { "status", status_suite },
    { "hash", hash_suite },
    { "encoding", encoding_suite },
    { "json", json_suite },
    { "canonical", canonical_suite },
    { "commitment", commitment_suite },
    { "timestamp", timestamp_suite },
    { "package", package_suite },
    { "proof", proof_suite },
    { "keys", keys_suite },
    { "verify", verify_suite },
    { "audit", audit_suite },
    { "cache", cache_suite },
    { "registry", registry_suite },
    { "registry_pg", registry_pg_suite },
    { "registry_async", registry_async_suite },
    { "registry_backup", registry_backup_suite },
    { "registry_contract", registry_contract_suite },
    { "registry_contract_pg", registry_contract_pg_suite },
    { "policy", policy_suite },
    { "jwt", jwt_suite },
    { "jwks", jwks_suite },
    { "backup_remote", backup_remote_suite },
    { "log", log_suite },
    /* clang-format on */
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SUITE\nsuites:", argv[0]);
        for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
            fprintf(stderr, " %s", suites[i].name);
        fprintf(stderr, "\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        if (strcmp(argv[1], suites[i].name) != 0)
            continue;
        SRunner *sr = srunner_create(suites[i].make());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    }
    fprintf(stderr, "unknown suite '%s'\n", argv[1]);
    return 2;
}
