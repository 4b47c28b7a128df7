#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CLI golden tests. Each case directory under CASES holds:
#   cmd       the arguments (one line, shell words), run from the shared vectors directory
#             so paths in the output are relative and stable; $CASE = the case directory
#   exit      the expected exit code
#   stdout    the expected standard output, byte for byte
#   stdin     (optional) fed to the command
# Set CAPV_GOLDEN_UPDATE=1 to rewrite stdout/exit from the current behaviour.
set -uo pipefail
cli=$(realpath "$1") cases=$(realpath "$2")
VECTORS=$(realpath "$3")
export VECTORS
pass=0 fail=0
for c in "$cases"/*/; do
    c=${c%/}
    name=$(basename "$c")
    export CASE=$c
    args=$(cat "$c/cmd")
    input=/dev/null
    [ -f "$c/stdin" ] && input=$c/stdin
    out=$(mktemp)
    eval "set -- $args"
    (cd "$VECTORS" && "$cli" "$@") < "$input" > "$out" 2>/dev/null
    rc=$?
    if [ "${CAPV_GOLDEN_UPDATE:-0}" = 1 ]; then
        cp "$out" "$c/stdout"
        echo "$rc" > "$c/exit"
    fi
    want_rc=$(cat "$c/exit")
    if [ "$rc" = "$want_rc" ] && cmp -s "$out" "$c/stdout"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name: exit $rc (want $want_rc)"
        diff "$c/stdout" "$out" | head -20
    fi
    rm -f "$out"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
