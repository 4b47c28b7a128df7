#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fuzzes with the libFuzzer targets of a -DCAPV_FUZZ=ON build, one target after the other,
# each for SECONDS on one core (docs/fuzzing.md):
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]     (default: every target)
#
# Each target's new inputs go to BUILD_DIR/fuzz-runs/<target>/corpus (the committed corpus
# and the generated seeds are read, never written); a finding is saved as
# BUILD_DIR/fuzz-runs/<target>/crash-*, leak-*, timeout-* or oom-* and its log is kept.
# Prints one line per target; exits 1 when any target found something. CAPV_FUZZ_FLAGS adds
# libFuzzer flags (e.g. "-use_value_profile=1 -jobs=2"). The generated seeds
# (BUILD_DIR/tests/fuzz-seeds) come from ctest's fixture.fuzz_seeds: run
#   ctest --test-dir BUILD_DIR -R '^fuzz\.'   first.
set -uo pipefail

[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2; exit 2; }
build=$(cd "$1" && pwd)
secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    # every target: the list the build makes them from (CAPV_FUZZ_TARGETS in CMakeLists.txt)
    read -ra targets <<<"$(sed -n '/^set(CAPV_FUZZ_TARGETS/,/)/p' "$here/CMakeLists.txt" |
        sed 's/^set(CAPV_FUZZ_TARGETS//; s/).*//' | tr -s ' \n' ' ')"
    [ ${#targets[@]} -gt 0 ] || { echo "no CAPV_FUZZ_TARGETS in $here/CMakeLists.txt" >&2; exit 2; }
fi

# Inputs as large as the formats need: whole packages for the package targets.
max_len() {
    case $1 in
    zip | verify | package_json) echo 65536 ;;
    jwt) echo 20000 ;;
    *) echo 16384 ;;
    esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
found=0
printf '%-15s %10s %8s %8s %8s  %s\n' target execs exec/s cov corpus result
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/fuzz_$t
    [ -x "$bin" ] || { echo "$t: $bin not built (configure with -DCAPV_FUZZ=ON)" >&2; exit 2; }
    out=$build/fuzz-runs/$t
    mkdir -p "$out/corpus"
    seeds=("$here/corpus/$t")
    [ -d "$build/tests/fuzz-seeds/$t" ] && seeds+=("$build/tests/fuzz-seeds/$t")
    read -ra extra <<<"${CAPV_FUZZ_FLAGS:-}"
    "$bin" -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/" "${extra[@]}" \
        "$out/corpus" "${seeds[@]}" \
        >"$out/log" 2>&1
    rc=$?
    execs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$out/log")
    speed=$(awk '/^stat::average_exec_per_sec:/ {print $2}' "$out/log")
    last=$(grep -E '^#[0-9]+' "$out/log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    result=ok
    if [ $rc -ne 0 ]; then
        found=1
        result="FOUND (exit $rc):"
        for f in "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* "$out"/slow-unit-*; do
            [ -e "$f" ] && result+=" $(basename "$f")"
        done
    fi
    printf '%-15s %10s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" \
        "${corp:-?}" "$result"
done
exit $found
