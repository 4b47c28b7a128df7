#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Backups under load (docs/registry.md#backup): backups taken with the CLI while another
# process writes continuously each pass integrity_check and contain every write acknowledged
# before the backup started; a backup killed midway never leaves a file that looks complete; a
# restore drill round-trips counts and contents; restoring a truncated or tampered backup is
# refused and leaves the database untouched.
#   registry_backup_load.sh CAPVERIFY REG_TOOL
set -uo pipefail
cli=$1 tool=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/capv-backup.XXXXXX")
writer=
cleanup() {
    [ -n "$writer" ] && kill -9 "$writer" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
db=$dir/live.sqlite
log=$dir/acks.log
bk=$dir/backups
: > "$log"

# ---- 1. backups while a writer writes -----------------------------------------------------
"$tool" fill "$db" 4000 || fail "fill"
"$tool" write "$db" "$log" --threads 4 2>"$dir/writer.err" &
writer=$!
sleep 0.3
for i in 1 2 3 4 5; do
    before=$(grep -c $'\n' "$log")  # acknowledged before the backup starts
    info=$("$cli" registry backup --db "$db" --dir "$bk" --json) || fail "backup $i"
    path=$(jq -r .path <<<"$info")
    [ -f "$path" ] || fail "backup $i: no file"
    "$cli" registry check --db "$path" >/dev/null || fail "backup $i: check"
    "$tool" verify --read-only "$path" "$log" --lines "$before" >/dev/null ||
        fail "backup $i: writes acknowledged before it started are missing"
    "$cli" registry restore --check-only --from "$path" >/dev/null || fail "backup $i: verify"
    echo "backup $i: $(jq -r '"\(.entries) entries, \(.verifications) verifications"' <<<"$info"), $before acknowledged writes present"
    sleep 0.1
done
kill -0 "$writer" 2>/dev/null || { cat "$dir/writer.err"; fail "the writer died"; }
kill -9 "$writer"
wait "$writer" 2>/dev/null
writer=
"$tool" verify "$db" "$log" >/dev/null || fail "live database after the load"
[ "$(ls "$bk"/registry-*.json | wc -l)" -eq 5 ] || fail "expected 5 complete backups"

# ---- 2. a killed backup never looks complete ---------------------------------------------
big=$dir/big.sqlite
"$tool" fill "$big" 120000 --unsigned --pad 400 || fail "fill big"  # ~ 70 MB
kb=$dir/killed
# Each kill waits for the backup's temporary file (".registry-….tmp.<pid>.…", written until
# the copy is whole, then renamed) to hold data, so that it lands during the copy: at once in
# odd rounds, after up to 1.5 s more in even ones (which may also find the backup done). A
# round whose temporary file outlives the kill was killed mid-copy; the next backup removes
# it as a dead process's.
midcopy=0
for i in 1 2 3 4 5 6 7 8; do
    "$cli" registry backup --db "$big" --dir "$kb" >/dev/null 2>&1 &
    pid=$!
    tmpf=
    for _ in $(seq 1000); do
        tmpf=$(find "$kb" -maxdepth 1 -name ".registry-*.tmp.$pid.*" -size +0c 2>/dev/null | head -n 1)
        [ -n "$tmpf" ] || ! kill -0 "$pid" 2>/dev/null && break
        sleep 0.01
    done
    if [ $((i % 2)) = 0 ]; then
        ms=$((RANDOM % 1500))
        sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    fi
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [ -n "$tmpf" ] && [ -e "$tmpf" ] && midcopy=$((midcopy + 1))
done
# without a kill during a copy, what follows would pass without testing anything
[ "$midcopy" -ge 1 ] || fail "no kill landed during a copy (no temporary file outlived one)"
listed=$("$cli" registry backup --list --dir "$kb" --json | jq length)
complete=0
for f in "$kb"/registry-*.sqlite; do
    [ -e "$f" ] || continue
    if [ -f "${f%.sqlite}.json" ]; then
        "$cli" registry restore --check-only --from "$f" >/dev/null ||
            fail "$f has a sidecar but does not verify: a killed backup looks complete"
        complete=$((complete + 1))
    fi
done
[ "$listed" -eq "$complete" ] || fail "backup --list shows $listed, $complete are complete"
echo "killed backups: $midcopy killed during the copy, $complete completed before the kill, the rest left nothing that looks complete"
ls -a "$kb" 2>/dev/null | grep -v '^\.*$' | sed 's/^/  /'

# ---- 3. restore drill ----------------------------------------------------------------------
latest=$("$cli" registry backup --list --dir "$bk" --json | jq -r '.[0].path')
target=$dir/restored.sqlite
"$cli" registry restore --db "$target" --from "$latest" >/dev/null || fail "restore drill"
"$cli" registry export --db "$latest" > "$dir/from-backup.json" || fail "export backup"
"$cli" registry export --db "$target" > "$dir/from-restored.json" || fail "export restored"
cmp -s "$dir/from-backup.json" "$dir/from-restored.json" || fail "restore changed the entries"
want=$(jq -r '"\(.[0].entries) \(.[0].verifications)"' < <("$cli" registry backup --list --dir "$bk" --json))
got=$("$cli" registry check --db "$target" --json | jq -r '"\(.entries)"')
[ "${want%% *}" = "$got" ] || fail "restored $got entries, the backup has ${want%% *}"
echo "restore drill: $got entries round-trip, export identical"

# a second restore over it keeps the first as .pre-restore-*
"$cli" registry restore --db "$target" --from "$latest" >/dev/null || fail "second restore"
ls "$target".pre-restore-* >/dev/null 2>&1 || fail "no .pre-restore copy kept"

# ---- 4. refused restores ------------------------------------------------------------------
before=$(sha256sum "$target" | cut -d' ' -f1)
cp "$latest" "$dir/tampered.sqlite"
cp "${latest%.sqlite}.json" "$dir/tampered.json"
printf 'X' | dd of="$dir/tampered.sqlite" bs=1 seek=5000 conv=notrunc 2>/dev/null
"$cli" registry restore --db "$target" --from "$dir/tampered.sqlite" 2>"$dir/err"
rc=$?
[ "$rc" -ne 0 ] || fail "a tampered backup was restored"
grep -q "SHA3-256" "$dir/err" || fail "tampered: unclear error: $(cat "$dir/err")"
cp "$latest" "$dir/short.sqlite"
cp "${latest%.sqlite}.json" "$dir/short.json"
truncate -s 8192 "$dir/short.sqlite"
"$cli" registry restore --db "$target" --from "$dir/short.sqlite" 2>"$dir/err" &&
    fail "a truncated backup was restored"
grep -q "truncated" "$dir/err" || fail "truncated: unclear error: $(cat "$dir/err")"
# truncated with a sidecar rewritten to match: integrity_check refuses it
h=$("$cli" hash --json "$dir/short.sqlite" | jq -r '.[0].digest')
[[ "$h" =~ ^0x[0-9a-f]{64}$ ]] || fail "capverify hash gave '$h'"
jq --arg h "$h" '.sha3_256 = $h | .size_bytes = 8192' "${latest%.sqlite}.json" > "$dir/short.json"
"$cli" registry restore --db "$target" --from "$dir/short.sqlite" 2>"$dir/err" &&
    fail "a truncated backup with a matching sidecar was restored"
echo "truncated backup with a forged sidecar: refused ($(head -c 150 "$dir/err"))"
after=$(sha256sum "$target" | cut -d' ' -f1)
[ "$before" = "$after" ] || fail "a refused restore changed the database"
echo "ok"
