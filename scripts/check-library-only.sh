#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configures and builds libcapverify alone, as on a machine without CivetWeb: the daemon, the
# CLI and the tests off, and find_package(CivetWeb) disabled (a REQUIRED search for it would
# fail the configure). Then checks that CivetWeb was never searched (no CIVETWEB_* in the
# cache), that the library does not link it, and that it installs with its pkg-config file.
# Usage: scripts/check-library-only.sh [C_COMPILER]     (ctest: build.library_only)
#   CAPV_TEST_JOBS=N   parallel build jobs (default 2)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cc=${1:-}
jobs=${CAPV_TEST_JOBS:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

args=(-DCAPV_BUILD_DAEMON=OFF -DCAPV_BUILD_CLI=OFF -DCAPV_BUILD_TESTS=OFF
      -DCMAKE_DISABLE_FIND_PACKAGE_CivetWeb=ON -DCAPV_WERROR=ON -DCMAKE_BUILD_TYPE=Debug)
[ -n "$cc" ] && args+=(-DCMAKE_C_COMPILER="$cc")
# Debug: no optimiser, the quickest build of the same sources.
if ! cmake -S "$root" -B "$tmp/build" "${args[@]}" >"$tmp/configure.log" 2>&1; then
    cat "$tmp/configure.log"
    echo "FAIL: the library-only configure failed"
    exit 1
fi
cmake --build "$tmp/build" -j"$jobs" >"$tmp/build.log" 2>&1 || {
    tail -50 "$tmp/build.log"
    echo "FAIL: the library-only build failed"
    exit 1
}

failed=0
if grep -qi '^CIVETWEB' "$tmp/build/CMakeCache.txt"; then
    echo "FAIL: a library-only configure searched for CivetWeb:"
    grep -i '^CIVETWEB' "$tmp/build/CMakeCache.txt"
    failed=1
fi
lib=$(find "$tmp/build/libcapverify" -name 'libcapverify.so.*' -type f | head -1)
if [ -z "$lib" ]; then
    echo "FAIL: no libcapverify.so built"
    exit 1
fi
if grep -Eqi 'NEEDED.*civetweb' <<<"$(readelf -dW "$lib")"; then
    echo "FAIL: $lib links CivetWeb"
    failed=1
fi
for t in capverifyd capverify; do
    if [ -n "$(find "$tmp/build" -type f -name "$t")" ]; then
        echo "FAIL: $t was built although it is switched off"
        failed=1
    fi
done
cmake --install "$tmp/build" --prefix "$tmp/prefix" >/dev/null
for f in include/capverify.h include/capverify/version.h; do
    [ -f "$tmp/prefix/$f" ] || { echo "FAIL: $f not installed"; failed=1; }
done
[ -n "$(find "$tmp/prefix" -name libcapverify.pc)" ] || { echo "FAIL: no libcapverify.pc installed"; failed=1; }
[ "$failed" = 0 ] && echo "ok: library-only build ($(basename "$lib")) without CivetWeb, daemon, CLI or tests"
exit "$failed"
