#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The one rule for a test whose tool or server is missing: outside CI it is skipped (exit 77,
# ctest's SKIP_RETURN_CODE), under CI=true it fails (exit 1), since scripts/install-deps.sh
# installs everything the tests need there and a skip would pass CI without testing. A skip
# for a reason CI has too (a sanitizer build, a machine that forbids mounting) is not this
# rule's: such a test says why and skips everywhere.
#
# Sourced (shell tests):  source tests/tools/missing.sh
#   capv_ci               true under CI=true
#   capv_missing WHAT...  "missing WHAT": exits 77, or 1 under CI=true
#   capv_must_run WHY...  the same for another reason CI never has (deb_package.sh: not root)
# Run (other languages):  tests/tools/missing.sh WHAT...   as capv_missing.
# tests/daemon/lib.sh's skip_missing is the same rule for one check of a test.

capv_ci() { [ "${CI:-}" = true ]; }

capv_must_run() {
    if capv_ci; then
        echo "FAIL - $* (CI=true: this test must run there)"
        exit 1
    fi
    echo "skip: $*"
    exit 77
}

capv_missing() {
    capv_must_run "missing $* (scripts/install-deps.sh installs it)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    capv_missing "$@"
fi
