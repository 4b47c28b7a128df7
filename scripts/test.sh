#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the whole test suite: a warnings-as-errors build with every ctest entry, then the
# same suite built with AddressSanitizer + UndefinedBehaviorSanitizer. The static and build
# checks (ctest label "lint": include cycles, cppcheck, clang-format, ABI, hardening, the
# library-only build) and the slow system suites (label "system": several daemons on one
# PostgreSQL database under load) run in the first pass only.
#   CAPV_TEST_SANITIZE=0   skip the sanitizer pass (quicker local runs)
#   CAPV_TEST_JOBS=N       parallel build/test jobs (default: number of cores)
# Dependencies come from scripts/install-deps.sh.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# Debian's interpreters first: scripts/install-deps.sh installs the Python modules the tests
# import for /usr/bin/python3; another python3 earlier in PATH (pyenv) may lack them.
export PATH="/usr/bin:$PATH"
jobs=${CAPV_TEST_JOBS:-$(nproc)}

configure_and_build() {
    local dir=$1
    shift
    cmake -S "$root" -B "$dir" -DCAPV_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
}

run_suite() {
    local dir=$1 label=$2
    shift 2
    echo "=== $label ==="
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@"
}

# A failing suite does not stop the other pass: one CI run reports every failure.
status=0
configure_and_build "$root/build-test" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAPV_BUILD_STATIC=ON
run_suite "$root/build-test" "test suite (RelWithDebInfo, -Werror)" || status=1

if [ "${CAPV_TEST_SANITIZE:-1}" != 0 ]; then
    configure_and_build "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug \
        -DCAPV_SANITIZE=address,undefined
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    run_suite "$root/build-asan" "test suite under ASan+UBSan" -LE 'lint|system' || status=1
fi
exit "$status"
