#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Registry durability (docs/registry.md): a writer process adding entries and recording
# verifications from several threads (batched commits, synchronous=FULL) is killed with
# SIGKILL at a random moment, again and again. After every kill the database must pass
# integrity_check, and every write the writer acknowledged (logged only after its batch's
# COMMIT returned) must be present.
#   registry_durability.sh REG_TOOL [ROUNDS]   (default 24; CAPV_DURABILITY_ROUNDS overrides)
set -uo pipefail
tool=$1
rounds=${CAPV_DURABILITY_ROUNDS:-${2:-24}}
dir=$(mktemp -d "${TMPDIR:-/tmp}/capv-durability.XXXXXX")
trap 'rm -rf "$dir"' EXIT
db=$dir/registry.sqlite
log=$dir/acks.log
: > "$log"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

prev=0
for ((r = 1; r <= rounds; r++)); do
    threads=$((1 + r % 4))
    "$tool" write "$db" "$log" --threads "$threads" 2>"$dir/writer.err" &
    pid=$!
    # 50..450 ms: sometimes right after opening or migrating, mostly mid-batch
    sleep "0.$(printf '%03d' $((50 + RANDOM % 400)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ -s "$dir/writer.err" ]; then
        cat "$dir/writer.err" >&2
        fail "round $r: the writer reported an error before it was killed"
    fi
    out=$("$tool" verify "$db" "$log") || { echo "$out"; fail "round $r: after SIGKILL"; }
    acks=$(grep -c $'\n' "$log")
    echo "round $r ($threads threads): $out"
    [ "$acks" -ge "$prev" ] || fail "the acknowledgement log shrank"
    prev=$acks
done
[ "$prev" -gt 0 ] || fail "no write was ever acknowledged"
echo "ok: $rounds kills, $prev acknowledged writes all present, integrity ok after each"
