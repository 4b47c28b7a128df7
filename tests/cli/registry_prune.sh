#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# capverify registry prune, as an operator uses it: verifications recorded before a date go,
# with the stored reports only they used; entries, policies and newer verifications stay.
# Exit codes and the --json output are checked too.
#   registry_prune.sh CAPVERIFY VECTORS
set -uo pipefail
cli=$1 vectors=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/capv-prune.XXXXXX")
trap 'rm -rf "$dir"' EXIT
source "$(dirname "$0")/lib_expect.sh"
q() { sqlite3 "$db" "$1" || fail "sqlite3: $1"; }

db=$dir/r.sqlite
pkg=$vectors/peer/packages/webui-legacy
expect 0 "$cli" registry init --db "$db"
expect 0 "$cli" registry add --db "$db" --manifest-hash "0x$(printf '1%.0s' {1..64})" \
    --proof-hash "0x$(printf '2%.0s' {1..64})"
# two verifications recorded now (their reports differ in verified_at: two bodies) ...
expect 2 "$cli" verify --registry "$db" --record "$pkg" "$pkg.zip"
[ "$(q 'SELECT count(*) FROM reports')" = 2 ] || fail "two report bodies"
# ... and three recorded in 2020, two of them sharing a report nobody else uses
q "INSERT INTO reports (sha3, bytes, summary, json) VALUES (randomblob(32), 2, 0, '{}');
   INSERT INTO verifications (request_id, result, verified_at, verified_ms, report_id) VALUES
     ('old-1', 'ok', '2020-01-01T00:00:00Z', 1577836800000, last_insert_rowid()),
     ('old-2', 'ok', '2020-06-01T00:00:00Z', 1590969600000, last_insert_rowid()),
     ('old-3', 'warn', '2020-12-31T23:59:59Z', 1609459199000, NULL);"

# ---- usage ---------------------------------------------------------------------------------
expect 3 "$cli" registry prune --db "$db"
[[ "$err" == *"--before DATE is required"* ]] || fail "no --before: $err"
expect 3 "$cli" registry prune --db "$db" --before "last week"
[[ "$err" == *"not an RFC 3339 time"* ]] || fail "bad date: $err"
expect 3 "$cli" registry prune --db "$db" --before 2020-13-01
expect 3 "$cli" registry prune --db "$db" --before 2021-01-01 --frobnicate
expect 0 "$cli" registry prune --help
[[ "$out" == *"prune --before DATE"* ]] || fail "help: $out"
expect 5 "$cli" registry prune --registry "$dir/none.sqlite" --before 2021-01-01
[[ "$err" == *"does not exist"* ]] || fail "missing database: $err"

# ---- pruning -------------------------------------------------------------------------------
# an offset is honoured: 2020-06-01T02:00:00+02:00 is midnight UTC, old-2 is not before it
expect 0 "$cli" registry prune --db "$db" --before 2020-06-01T02:00:00+02:00 --json
[ "$out" = '{"removed":1,"before":"2020-06-01T00:00:00Z"}' ] || fail "prune by offset: $out"
[ "$(q 'SELECT count(*) FROM reports')" = 3 ] || fail "a body still used by old-2 was removed"
# --registry is --db
expect 0 "$cli" registry prune --registry "$db" --before 2021-01-01
[ "$out" = "removed 2 verification(s) recorded before 2021-01-01T00:00:00Z" ] ||
    fail "prune: $out"
[ "$(q 'SELECT count(*) FROM verifications')" = 2 ] || fail "recent verifications kept"
[ "$(q 'SELECT count(*) FROM reports')" = 2 ] || fail "the body only old rows used must go"
expect 0 "$cli" registry prune --db "$db" --before 2021-01-01 --json
[ "$out" = '{"removed":0,"before":"2021-01-01T00:00:00Z"}' ] || fail "nothing left: $out"
# everything before a future date: no verification and no report body is left; entries stay
expect 0 "$cli" registry prune --db "$db" --before 2999-01-01 --json
[ "$(jq -r .removed <<<"$out")" = 2 ] || fail "prune all: $out"
[ "$(q 'SELECT count(*) FROM verifications')" = 0 ] || fail "verifications left"
[ "$(q 'SELECT count(*) FROM reports')" = 0 ] || fail "report bodies left"
[ "$(q 'SELECT count(*) FROM entries')" = 1 ] || fail "an entry was pruned"
expect 0 "$cli" registry check --db "$db"
echo "ok: $n commands"
