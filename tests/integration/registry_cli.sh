#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# capverify registry … and capverify verify --registry/--record, as an operator uses them:
# exit codes, machine output, the writer lock, the peer's databases.
#   registry_cli.sh CAPVERIFY REG_TOOL VECTORS
set -uo pipefail
cli=$1 tool=$2 vectors=$3
dir=$(mktemp -d "${TMPDIR:-/tmp}/capv-regcli.XXXXXX")
writer=
cleanup() {
    [ -n "$writer" ] && kill -9 "$writer" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
source "$(dirname "$0")/../cli/lib_expect.sh"

db=$dir/r.sqlite
export CAPV_REGISTRY_PATH=$db
M1=0x$(printf '1%.0s' {1..64})
P1=0x$(printf '2%.0s' {1..64})
M2=0x$(printf '3%.0s' {1..64})

# ---- usage -------------------------------------------------------------------------------
expect 3 "$cli" registry
expect 0 "$cli" registry --help
[[ "$out" == *"restore --from BACKUP"* ]] || fail "help text"
expect 3 "$cli" registry frobnicate
expect 3 env -u CAPV_REGISTRY_PATH "$cli" registry list
expect 5 "$cli" registry list --db "$dir/none.sqlite"
[[ "$err" == *"does not exist"* ]] || fail "missing database: $err"
expect 3 "$cli" registry add --manifest-hash "$M1"
expect 3 "$cli" registry restore

# ---- init, add, list, show ---------------------------------------------------------------
expect 0 "$cli" registry init --json
[ "$(jq -r .created <<<"$out")" = true ] || fail "init: $out"
expect 0 "$cli" registry init
[[ "$out" == *"already at schema version 3"* ]] || fail "second init: $out"
expect 0 "$cli" registry add --manifest-hash "$M1" --proof-hash "$P1" --timestamp-file t.tsr --json
[ "$(jq -r .status <<<"$out")" = added ] || fail "add: $out"
id=$(jq -r .entry.id <<<"$out")
expect 0 "$cli" registry add --manifest-hash "$M1" --proof-hash "$P1" --timestamp-file t.tsr
[ "$out" = "exists $id" ] || fail "retry: $out"
expect 2 "$cli" registry add --manifest-hash "$M1" --proof-hash "$P1" --timestamp-file u.tsr
[ "$out" = "conflict $id" ] || fail "conflict: $out"
[[ "$err" == *"never overwritten"* ]] || fail "conflict message: $err"
expect 4 "$cli" registry add --manifest-hash 0x12 --proof-hash "$P1"
# --public-key / --kid go with --signature: with --sign-key (which sets both) or alone they
# would be replaced or stored on an unsigned entry
expect 3 "$cli" registry add --manifest-hash "$M2" --proof-hash "$P1" --sign-key "$dir/regkey.key" --kid other
[[ "$err" == *"go with --signature, not --sign-key"* ]] || fail "add --sign-key --kid: $err"
expect 3 "$cli" registry add --manifest-hash "$M2" --proof-hash "$P1" --kid lonely
[[ "$err" == *"an unsigned entry has neither"* ]] || fail "add --kid alone: $err"
"$cli" keys gen --out "$dir/regkey" --owner registry >/dev/null || fail "keys gen"
expect 0 "$cli" registry add --manifest-hash "$M2" --proof-hash "$P1" --sign-key "$dir/regkey.key" --id signed-one
expect 0 "$cli" registry list --json
[ "$(jq '.entries | length' <<<"$out")" -eq 2 ] || fail "list: $out"
[ "$(jq -r '.entries[1].signature_scheme' <<<"$out")" = ed25519 ] || fail "signed: $out"
expect 0 "$cli" registry list --limit 1 --json
next=$(jq -r .next <<<"$out")
expect 0 "$cli" registry list --limit 1 --after "$next" --json
[ "$(jq -r '.entries[0].id' <<<"$out")" = signed-one ] || fail "page 2: $out"
[ "$(jq -r .next <<<"$out")" = null ] || fail "page 2 next: $out"
expect 0 "$cli" registry show signed-one
[[ "$out" == *"signature        valid"* ]] || fail "show: $out"
expect 0 "$cli" registry show --manifest-hash "$M1" --proof-hash "$P1" --json
[ "$(jq -r .id <<<"$out")" = "$id" ] || fail "show by hashes: $out"
expect 5 "$cli" registry show nope

# ---- check, with a trust store, and after tampering --------------------------------------
expect 0 "$cli" registry check --trust "$dir/regkey.json" --json
[ "$(jq -r .ok <<<"$out")" = true ] || fail "check: $out"
[ "$(jq -r .signed <<<"$out")" = 1 ] || fail "check counts: $out"
"$cli" keys gen --out "$dir/other" >/dev/null
expect 2 "$cli" registry check --trust "$dir/other.json"
[[ "$out" == *"problem: signed-one"*"untrusted"* ]] || fail "untrusted: $out"
cp "$db" "$dir/tampered.sqlite"
sqlite3 "$dir/tampered.sqlite" "UPDATE entries SET registered_at = '1999-01-01T00:00:00Z' WHERE id = 'signed-one'" ||
    fail "sqlite3"
expect 2 "$cli" registry check --db "$dir/tampered.sqlite" --json
[ "$(jq -r '.problems[0].id + " " + .problems[0].code' <<<"$out")" = "signed-one signature_invalid" ] ||
    fail "tampered check: $out"

# ---- export / import ---------------------------------------------------------------------
expect 0 "$cli" registry export --output "$dir/export.json"
jq -e '.registry_version == "1.0" and (.entries | length) == 2' "$dir/export.json" >/dev/null ||
    fail "export: $(cat "$dir/export.json")"
# an existing file is replaced only with --force, the database itself never; a device is
# written into, not replaced; a write error says why
cp "$dir/export.json" "$dir/export.kept"
expect 3 "$cli" registry export --output "$dir/export.json"
[[ "$err" == *"--output exists; --force replaces it"* ]] || fail "export over a file: $err"
expect 0 "$cli" registry export --output "$dir/export.json" --force
cmp -s "$dir/export.json" "$dir/export.kept" || fail "export --force differs"
expect 3 "$cli" registry export --output "$CAPV_REGISTRY_PATH" --force
[[ "$err" == *"names the registry database itself"* ]] || fail "export over its database: $err"
expect 0 "$cli" registry list --json
mkfifo "$dir/fifo"
cat "$dir/fifo" >"$dir/from-fifo" &
expect 0 "$cli" registry export --output "$dir/fifo"
wait
[ -p "$dir/fifo" ] || fail "export replaced the FIFO"
cmp -s "$dir/from-fifo" "$dir/export.kept" || fail "export into a FIFO differs"
# /dev/stdout, standard output redirected to a file: written to it, the file not replaced
"$cli" registry export --output /dev/stdout >"$dir/via-stdout.json" 2>"$dir/stdout.err" ||
    fail "export to /dev/stdout: $(cat "$dir/stdout.err")"
cmp -s "$dir/via-stdout.json" "$dir/export.kept" || fail "export to /dev/stdout differs"
# a symbolic link stays a link: the file it points to is replaced
ln -s export.json "$dir/link.json"
expect 0 "$cli" registry export --output "$dir/link.json" --force
[ -L "$dir/link.json" ] || fail "export replaced the symbolic link"
cmp -s "$dir/export.json" "$dir/export.kept" || fail "export through a link differs"
if ! "$cli" registry export >/dev/full 2>"$dir/full.err"; then
    grep -q "writing stdout: No space left on device" "$dir/full.err" ||
        fail "export to a full stdout: $(cat "$dir/full.err")"
else
    fail "export to a full stdout: exit 0"
fi
ls "$dir" | grep -q '\.tmp\.' && fail "export left a temporary file: $(ls "$dir")"
expect 5 "$cli" registry import --db "$dir/copy.sqlite" "$dir/export.json"
[[ "$err" == *"does not exist"* ]] || fail "import into no database: $err"
expect 0 "$cli" registry init --db "$dir/copy.sqlite"
expect 0 "$cli" registry import --db "$dir/copy.sqlite" "$dir/export.json" --json
[ "$out" = '{"added":2,"existing":0}' ] || fail "import: $out"
expect 0 "$cli" registry import --db "$dir/copy.sqlite" "$dir/export.json" --json
[ "$out" = '{"added":0,"existing":2}' ] || fail "re-import: $out"
expect 0 "$cli" registry export --db "$dir/copy.sqlite"
cmp -s <(printf '%s\n' "$out") "$dir/export.json" || fail "round trip differs"
jq '.entries[1].registered_at = "2000-01-01T00:00:00Z"' "$dir/export.json" > "$dir/bad.json"
expect 0 "$cli" registry init --db "$dir/copy2.sqlite"
expect 2 "$cli" registry import --db "$dir/copy2.sqlite" "$dir/bad.json"
[[ "$err" == *"signed-one"*"does not verify"* ]] || fail "bad import: $err"
expect 0 "$cli" registry list --db "$dir/copy2.sqlite" --json
[ "$(jq '.entries | length' <<<"$out")" -eq 0 ] || fail "a refused import wrote something"
expect 0 "$cli" registry import --db "$dir/copy2.sqlite" "$dir/bad.json" --no-verify
expect 4 "$cli" registry import --db "$dir/copy2.sqlite" "$vectors/peer/packages/webui-legacy/manifest.json"

# ---- the peer's databases: migrate (on copies: the vectors are never written) -------------
for f in empty_registry_v1.sqlite old_schema_registry.sqlite; do
    cp "$vectors/peer/registry/$f" "$dir/$f"
    chmod u+w "$dir/$f"
    expect 5 "$cli" registry list --db "$dir/$f"
    [[ "$err" == *"migrate"* ]] || fail "$f read-only: $err"
    expect 0 "$cli" registry migrate --db "$dir/$f" --json
    [ "$(jq -r '"\(.from_version) \(.legacy) \(.to_version)"' <<<"$out")" = "0 true 3" ] ||
        fail "$f migrate: $out"
    expect 0 "$cli" registry migrate --db "$dir/$f"
    [[ "$out" == *"already at schema version 3"* ]] || fail "$f second migrate: $out"
    expect 0 "$cli" registry check --db "$dir/$f"
done
expect 0 "$cli" registry import --db "$dir/empty_registry_v1.sqlite" "$vectors/peer/registry/empty_registry_v1.json"
expect 0 "$cli" registry export --db "$dir/empty_registry_v1.sqlite"
cmp -s <(printf '%s\n' "$out") "$vectors/peer/registry/empty_registry_v1.json" ||
    fail "export of an empty registry differs from the peer's file"

# ---- verify --registry DB [--record] -----------------------------------------------------
pkg=$vectors/peer/packages/webui-legacy
expect 2 "$cli" verify --registry "$db" --json "$pkg"
[ "$(jq -r '.report.checks[] | select(.id == "registry") | .status' <<<"$out")" = skip ] ||
    fail "verify --registry: $out"
mh=$(jq -r .report.manifest_hash <<<"$out")
ph=$(jq -r .report.proof_hash <<<"$out")
expect 0 "$cli" registry add --manifest-hash "$mh" --proof-hash "$ph" --sign-key "$dir/regkey.key" --id webui
expect 2 "$cli" verify --registry "$db" --trust "$dir/regkey.json" --json "$pkg"
[ "$(jq -r '.report.checks[] | select(.id == "registry") | .status' <<<"$out")" = pass ] ||
    fail "registered: $out"
expect 2 "$cli" verify --registry "$db" --record "$pkg" "$pkg.zip"
[[ "$err" == *"recorded as verification 1"*"recorded as verification 2"* ]] || fail "record: $err"
[ "$(sqlite3 "$db" "SELECT count(*) FROM verifications WHERE result = 'fail' AND subject = 'cli' AND entry_seq IS NOT NULL")" = 2 ] ||
    fail "recorded rows"
expect 3 "$cli" verify --record "$pkg"
expect 3 "$cli" verify --registry "$dir/export.json" --record "$pkg"
# JSON registries keep working, also as the registry file of a verification
expect 2 "$cli" verify --registry "$dir/export.json" --json "$pkg"
[ "$(jq -r '.report.checks[] | select(.id == "registry") | .status' <<<"$out")" = skip ] || fail "json registry"

# ---- the writer lock: a live database is read by the CLI, never written ------------------
"$tool" write "$db" "$dir/acks.log" --threads 2 2>"$dir/writer.err" &
writer=$!
sleep 0.3
expect 0 "$cli" registry list --limit 5
expect 0 "$cli" registry check
expect 0 "$cli" registry backup --dir "$dir/bk" --json
bpath=$(jq -r .path <<<"$out")
# the sidecar under the daemon's name, and under 0.1's
[ "$(jq -r .sidecar_path <<<"$out")" = "${bpath%.sqlite}.json" ] &&
    [ "$(jq -r .sidecar <<<"$out")" = "${bpath%.sqlite}.json" ] &&
    [ -s "${bpath%.sqlite}.json" ] || fail "backup --json sidecar: $out"
expect 5 "$cli" registry add --manifest-hash "$M2" --proof-hash "$M2"
[[ "$err" == *"held by another writer"* ]] || fail "add on a live database: $err"
expect 5 "$cli" verify --registry "$db" --record "$pkg"
expect 2 "$cli" verify --registry "$db" "$pkg"   # read-only: fine
expect 5 "$cli" registry restore --from "$bpath"
[[ "$err" == *"held by a writer"*"--force"* && "$err" == *"was not changed"* ]] ||
    fail "restore on a live database: $err"
kill -9 "$writer"
wait "$writer" 2>/dev/null
writer=
expect 0 "$cli" registry restore --from "$bpath" --json
[ "$(jq -r .previous <<<"$out")" != null ] || fail "restore: $out"
expect 0 "$cli" registry check
expect 0 "$cli" registry backup --list --dir "$dir/bk"
[[ "$out" == *"registry-"*".sqlite"* ]] || fail "backup --list: $out"
echo "ok: $n commands"
