/* SPDX-License-Identifier: Apache-2.0 */
/* The Check suites of the unit test runner; one ctest entry per suite. */
#ifndef CAPV_TEST_SUITES_H
#define CAPV_TEST_SUITES_H

#include <check.h>

Suite *status_suite(void);
Suite *hash_suite(void);
Suite *encoding_suite(void);
Suite *json_suite(void);
Suite *canonical_suite(void);
Suite *commitment_suite(void);
Suite *timestamp_suite(void);
Suite *package_suite(void);
Suite *proof_suite(void);
Suite *keys_suite(void);
Suite *verify_suite(void);
Suite *audit_suite(void);
Suite *cache_suite(void);
Suite *registry_suite(void);
Suite *registry_pg_suite(void);
Suite *registry_async_suite(void);
Suite *registry_backup_suite(void);
Suite *registry_contract_suite(void);
Suite *registry_contract_pg_suite(void);
Suite *policy_suite(void);
Suite *jwt_suite(void);
Suite *jwks_suite(void);
Suite *backup_remote_suite(void);
Suite *log_suite(void);

#endif
