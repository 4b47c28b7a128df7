#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Memory of one verification (docs/architecture.md, "Packages"): a ~1.5 MB zip whose members
# expand to 60 MiB, verified through capv_verify_zip_memory_json; the growth of the peak RSS
# next to capv_package_memory_bound for that body. Prints; never fails.
#   bench/run.d/memory.sh BUILD_DIR
set -euo pipefail
build=$1
echo "== memory of one verification (a zip of 60 x 1 MiB text members) =="
out=$("$build/bench/bench_memory")
get() { awk -v k="$1" '$1 == k {print $2}' <<<"$out"; }
printf 'zip %s bytes, expanding to %s bytes; capv_package_memory_bound: %s bytes\n' \
    "$(get package_zip_bytes)" "$(get package_expanded_bytes)" "$(get memory_bound_bytes)"
grep '^round' <<<"$out"
