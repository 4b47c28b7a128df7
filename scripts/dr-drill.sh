#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Disaster-recovery drill (docs/runbook.md, "Disaster recovery"): measures the RTO of losing
# the registry's volume when its backups are copied off-site. Builds a registry of ROWS signed
# entries, backs it up and uploads the backup to an S3-compatible store, deletes the
# database and every local backup (the lost volume), restores from the off-site copy
# (download, sidecar hash, schema and signatures checked, atomic swap), checks the restored
# registry (integrity, every entry signature, the count) and prints each phase's time.
#   scripts/dr-drill.sh BUILD_DIR [ROWS]           (default 1000000)
# The store: with CAPV_BACKUP_S3_URL set (and CAPV_BACKUP_S3_ENDPOINT, credentials as for
# `capverify registry backup --upload`), that one; otherwise a throw-away local s3rver
# (tests/s3/with_s3rver.sh, npm packages from scripts/install-deps.sh). Needs a build with
# the tests (for tests/reg_tool, which fills the registry).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: scripts/dr-drill.sh BUILD_DIR [ROWS]}" && pwd)
rows=${2:-1000000}
cli=$build/capverify-cli/capverify
tool=$build/tests/reg_tool
[ -x "$cli" ] && [ -x "$tool" ] || { echo "dr-drill: no capverify or tests/reg_tool in $build" >&2; exit 2; }

if [ -z "${CAPV_BACKUP_S3_URL:-}" ] && [ -z "${CAPV_DR_DRILL_INNER:-}" ]; then
    # no store given: run the drill again beside a local s3rver
    exec env CAPV_DR_DRILL_INNER=1 "$root/tests/s3/with_s3rver.sh" "$0" "$build" "$rows"
fi
if [ -n "${CAPV_DR_DRILL_INNER:-}" ]; then
    export CAPV_BACKUP_S3_URL="s3://$CAPV_TEST_S3_BUCKET/dr-drill"
    export CAPV_BACKUP_S3_ENDPOINT=$CAPV_TEST_S3_ENDPOINT CAPV_BACKUP_S3_PATH_STYLE=true
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/capv-dr-drill.XXXXXX")
trap 'rm -rf "$work"' EXIT
db=$work/volume/registry.sqlite
mkdir -p "$work/volume"
now() { date +%s.%N; }
declare -A took
phase() { # phase NAME CMD...: runs CMD, records its wall time
    local name=$1 t0 t1
    shift
    t0=$(now)
    "$@" >"$work/$name.log" 2>&1 || { echo "dr-drill: $name failed:" >&2; tail -n 20 "$work/$name.log" >&2; exit 1; }
    t1=$(now)
    took[$name]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    printf '%-8s %8s s\n' "$name" "${took[$name]}"
}

echo "== DR drill: $rows entries, off-site store $CAPV_BACKUP_S3_URL =="
phase build "$tool" fill "$db" "$rows"
size=$(stat -c %s "$db")
phase backup "$cli" registry backup --db "$db" --dir "$work/volume/backups"
phase upload "$cli" registry backup --upload --dir "$work/volume/backups"
remote=$("$cli" registry backup --list --remote --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["url"])')
echo "off-site copy: $remote ($size bytes)"
# the volume is lost: the database, its WAL and every local backup
rm -rf "$work/volume"
mkdir -p "$work/volume"
phase restore "$cli" registry restore --db "$db" --from "$remote"
phase check "$cli" registry check --db "$db"
count=$("$cli" registry list --db "$db" --limit 1 --json >/dev/null && sqlite3 "$db" 'SELECT count(*) FROM entries')
[ "$count" = "$rows" ] || { echo "dr-drill: $count entries restored, want $rows" >&2; exit 1; }
echo "restored entries: $count (every one checked)"
awk -v r="${took[restore]}" -v c="${took[check]}" 'BEGIN {
    printf "RTO (restore from the off-site copy + check): %.1f s\n", r + c }'
