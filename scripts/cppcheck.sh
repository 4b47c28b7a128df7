#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Static analysis of the library, the daemon and the CLI with cppcheck (Debian 12: 2.10).
# Any finding fails. False positives: narrowly in scripts/cppcheck-suppressions.xml (with the
# reason), or at the line with an inline "// cppcheck-suppress <id>" comment.
# Usage: scripts/cppcheck.sh [BUILD_DIR]   (BUILD_DIR: for the generated capverify/version.h)
# ctest: lint.cppcheck. Single process: with -j, cppcheck 2.10 ignores symbolName suppressions.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-}
cd "$root"

command -v cppcheck >/dev/null || { echo "FAIL: cppcheck not found (scripts/install-deps.sh)"; exit 1; }

inc=(-I include -I libcapverify -I capverifyd -I capverify-cli)
[ -n "$build" ] && [ -d "$build/include" ] && inc+=(-I "$build/include")

# C11 as the build compiles (CMAKE_C_STANDARD 11); _GNU_SOURCE as every target defines it.
# Libraries: what POSIX, glibc, OpenSSL, libcurl and SQLite functions allocate, free and
# require, for leak and argument checks.
cppcheck \
    --enable=warning,portability,performance \
    --std=c11 -D_GNU_SOURCE \
    --library=posix,gnu,openssl,libcurl,sqlite3 \
    --inline-suppr \
    --suppress-xml="$root/scripts/cppcheck-suppressions.xml" \
    --error-exitcode=1 \
    --quiet \
    --template='{file}:{line}: {severity}: {message} [{id}]' \
    "${inc[@]}" \
    libcapverify capverifyd capverify-cli
echo "cppcheck: no findings in libcapverify, capverifyd, capverify-cli"
