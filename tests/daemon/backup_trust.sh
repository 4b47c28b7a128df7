#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Backups you can trust, through capverifyd and the CLI, tried as an attacker would
# (docs/registry.md "Backup", "Restore", "Signed backups", "Connections and the single writer"):
# 1. the writer lock is the database file's: while capverifyd holds registry.sqlite, the CLI
#    cannot write it through a symbolic link or a hard link (here or in another directory) —
#    add, migrate and restore exit 5 "held by another writer" — and reading still works;
# 2. links planted at every temporary name a backup once used (".registry-<UTC>.sqlite.tmp.
#    <pid>", the sidecar's, ".verify-<pid>.tmp", "<db>.restore-tmp.<pid>") and at its next
#    final names: POST /admin/backup, restore and --check-only never write through them (the
#    targets keep their bytes), the backups are regular files, GET /admin/backups and
#    `backup --list` list no link;
# 3. backup.signing_key_file: a missing or unusable key stops --check-config and the start;
#    the sidecar is signed (signer_kid in POST /admin/backup, GET /admin/backups, the log);
#    SIGHUP reads a rotated key; `registry restore --require-signed --trust DIR` restores it,
#    and refuses an unsigned backup, one signed by a key not in DIR, and an altered sidecar,
#    leaving the database byte for byte as it was; `registry backup --sign-key` signs too;
# 4. the issue's attack: a backup with a trigger that empties the registry on the next
#    recorded verification and a recomputed sidecar is refused by restore, --check-only and
#    check (exit 2), and the database stays as it was.
#   backup_trust.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib.sh"
t_init "$@"
T_DOCUMENT_ALL=1 # every answer is checked against docs/api/openapi.json at t_done (lib.sh)
command -v sqlite3 >/dev/null || { skip_missing "backup trust" "sqlite3"; t_done; }

# cli EXPECTED_EXIT NAME ARGS...: runs the CLI; output in $TMP/cli.out, $TMP/cli.err.
cli() {
    local want=$1 name=$2
    shift 2
    "$CLI" "$@" >"$TMP/cli.out" 2>"$TMP/cli.err"
    assert_eq "$name: exit $want" "$?" "$want"
}

# sidecar_recompute BACKUP: the sidecar made to fit the file again (sha3_256, size_bytes), as
# whoever can write the backup directory could do; the signature (if any) is left as it was.
sidecar_recompute() {
    python3 - "$1" <<'PY'
import hashlib, json, sys
b = sys.argv[1]
s = b[: -len(".sqlite")] + ".json"
doc = json.load(open(s))
data = open(b, "rb").read()
doc["sha3_256"] = "0x" + hashlib.sha3_256(data).hexdigest()
doc["size_bytes"] = len(data)
open(s, "w").write(json.dumps(doc, indent=2) + "\n")
PY
}

sum_of() { sha256sum "$1" | cut -d' ' -f1; }

KEYS=$TMP/keys
mkdir -p "$KEYS/trust" "$KEYS/other-trust"
"$CLI" keys gen --out "$KEYS/backup" --owner backups >/dev/null &&
    "$CLI" keys gen --out "$KEYS/rotated" --owner backups >/dev/null &&
    "$CLI" keys gen --out "$KEYS/foreign" --owner someone-else >/dev/null ||
    { fail "make keys with capverify keys gen"; t_done; }
cp "$KEYS/backup.json" "$KEYS/rotated.json" "$KEYS/trust/"
cp "$KEYS/foreign.json" "$KEYS/other-trust/"
KID=$("$CLI" keys kid "$KEYS/backup.pub")
KID2=$("$CLI" keys kid "$KEYS/rotated.pub")
FKID=$("$CLI" keys kid "$KEYS/foreign.pub")

# ---- 3a. the key is checked before anything starts --------------------------------------------
mkdir -p "$TMP/noconf"
"$DAEMON" --config-dir "$TMP/noconf" --check-config --set "backup.signing_key_file=$TMP/none.pem" \
    >"$TMP/cc.out" 2>"$TMP/cc.err"
assert_eq "--check-config: a missing backup.signing_key_file exits 3" "$?" 3
check "--check-config names backup.signing_key_file" \
    grep -q "backup.signing_key_file.*cannot open" "$TMP/cc.err" "$TMP/cc.out"
"$DAEMON" --config-dir "$TMP/noconf" --check-config \
    --set "backup.signing_key_file=$KEYS/backup.json" >"$TMP/cc.out" 2>"$TMP/cc.err"
assert_eq "--check-config: a file that is no private key exits 3" "$?" 3
check "... and says backup.signing_key_file" grep -q "backup.signing_key_file" "$TMP/cc.err"
"$DAEMON" --config-dir "$TMP/noconf" --check-config \
    --set "backup.signing_key_file=$KEYS/backup.key" >"$TMP/cc.out" 2>"$TMP/cc.err"
assert_eq "--check-config: a usable key: exit 0" "$?" 0
check "the key's content is never printed" \
    bash -c "! grep -q 'PRIVATE KEY' '$TMP/cc.out' '$TMP/cc.err'"

daemon_start main --set "backup.signing_key_file=$KEYS/backup.key" --set backup.interval_seconds=0 ||
    t_done
DB=$D_DIR/registry.sqlite
BK=$D_DIR/backups
export CAPV_REGISTRY_PATH=$DB
M=0x$(printf '1%.0s' {1..64})
P=0x$(printf '2%.0s' {1..64})
req POST "$D_URL/registry/entries" -H 'Content-Type: application/json' \
    --data-binary "{\"manifest_hash\":\"$M\",\"proof_hash\":\"$P\"}"
assert_eq "an entry registered through the daemon: 201" "$STATUS" 201

# ---- 1. the writer lock, through other names ---------------------------------------------------
ln -s "$DB" "$TMP/link.sqlite"
ln "$DB" "$D_DIR/hard.sqlite"
mkdir -p "$TMP/other"
ln "$DB" "$TMP/other/renamed.sqlite"
M2=0x$(printf '3%.0s' {1..64})
for alias in "$DB" "$TMP/link.sqlite" "$D_DIR/hard.sqlite" "$TMP/other/renamed.sqlite"; do
    cli 5 "registry add through $alias while the daemon writes" registry add --db "$alias" \
        --manifest-hash "$M2" --proof-hash "$M2"
    check "... says the registry is held by another writer" \
        grep -q "held by another writer" "$TMP/cli.err"
    cli 5 "registry migrate through $alias" registry migrate --db "$alias"
done
# a reader through the symbolic link reads the live registry (SQLite resolves the link and
# shares the writer's WAL); through a hard link it would read a WAL of its own: stale
cli 0 "registry list through the symbolic link (read-only)" registry list --db "$TMP/link.sqlite" \
    --json
assert_eq "... sees the entry the daemon wrote" "$(jq -r '.entries | length' "$TMP/cli.out")" 1
cli 5 "registry add through the symbolic link" registry add --db "$TMP/link.sqlite" \
    --manifest-hash "$M2" --proof-hash "$M2"
check "... names the file the link reaches" grep -qF "(the file '$(readlink -f "$DB")')" \
    "$TMP/cli.err"
cli 5 "registry restore through the symbolic link" registry restore --db "$TMP/link.sqlite" \
    --from /nonexistent.sqlite
check "no lock file is made beside any name" \
    bash -c "! ls '$D_DIR'/*.lock '$TMP'/*.lock '$TMP/other'/*.lock 2>/dev/null | grep -q ."
rm -f "$D_DIR/hard.sqlite" "$TMP/other/renamed.sqlite"

# ---- 2. planted links at temporary and final names ---------------------------------------------
mkdir -p "$BK"
printf 'precious, not a registry\n' >"$TMP/victim"
VSUM=$(sum_of "$TMP/victim")
now=$(date +%s)
for i in 0 1 2 3 4 5 6 7 8 9 10; do
    ts=$(date -u -d "@$((now + i))" +%Y%m%dT%H%M%SZ)
    for name in ".registry-$ts.sqlite.tmp.$D_PID" ".registry-$ts.json.tmp.$D_PID" \
        "registry-$ts.json.tmp.$D_PID" "registry-$ts.sqlite"; do
        ln -s "$TMP/victim" "$BK/$name"
    done
done
for pid in $$ $((D_PID + 1)) $((D_PID + 2)); do
    ln -s "$TMP/victim" "$BK/.verify-$pid.tmp"
    ln -s "$TMP/victim" "$BK/.restore-$pid.tmp"
done
req POST "$D_URL/admin/backup"
assert_eq "POST /admin/backup with links planted everywhere: 201" "$STATUS" 201
B1=$(body_json .path)
assert_eq "the backup is signed by backup.signing_key_file's key" "$(body_json .signer_kid)" "$KID"
assert_eq "the planted links' target keeps its bytes" "$(sum_of "$TMP/victim")" "$VSUM"
check "the backup is a regular file" test -f "$B1" -a ! -L "$B1"
check "its sidecar is a regular file" test -f "${B1%.sqlite}.json" -a ! -L "${B1%.sqlite}.json"
check "it did not take a name a link holds" bash -c "[[ '$B1' == *-[0-9].sqlite ]]"
# a link at a backup name with a valid sidecar for the file it reaches: still no backup
ln -s "$B1" "$BK/registry-20990101T000000Z.sqlite"
cp "${B1%.sqlite}.json" "$BK/registry-20990101T000000Z.json"
req GET "$D_URL/admin/backups"
assert_eq "GET /admin/backups lists the one backup, no link" "$(body_json '.backups | length')" 1
assert_eq "... the real one" "$(body_json '.backups[0].path')" "$B1"
assert_eq "... with its signer" "$(body_json '.backups[0].signer_kid')" "$KID"
cli 0 "registry backup --list" registry backup --list --dir "$BK" --json
assert_eq "backup --list: one backup, signed by $KID" "$(jq -r 'map(.signer_kid) | join(",")' "$TMP/cli.out")" "$KID"
check "the log names the signer, never the key" grep -q "\"signer_kid\":\"$KID\"" "$D_LOG"
check "no private key in the log" bash -c "! grep -q 'PRIVATE KEY' '$D_LOG'"
cli 0 "restore --check-only --require-signed --trust (links planted at its old names)" \
    registry restore --check-only --from "$B1" --require-signed --trust "$KEYS/trust" --json
assert_eq "--check-only names the signer" "$(jq -r .signer_kid "$TMP/cli.out")" "$KID"
assert_eq "the planted links' target keeps its bytes" "$(sum_of "$TMP/victim")" "$VSUM"

# ---- 3. signed backups: rotation, refusals, restore ---------------------------------------------
# rotation: the configured file gets another key; SIGHUP reads it
cp "$KEYS/rotated.key" "$KEYS/backup.key.new" && mv "$KEYS/backup.key.new" "$KEYS/backup.key"
kill -HUP "$D_PID"
sleep 1
req POST "$D_URL/admin/backup"
assert_eq "POST /admin/backup after SIGHUP with a rotated key: 201" "$STATUS" 201
B2=$(body_json .path)
assert_eq "... signed by the rotated key" "$(body_json .signer_kid)" "$KID2"
cli 0 "CLI backup --sign-key (the daemon keeps writing)" registry backup --dir "$BK" \
    --sign-key "$KEYS/foreign.key" --json
BF=$(jq -r .path "$TMP/cli.out")
assert_eq "... signed by that key" "$(jq -r .signer_kid "$TMP/cli.out")" "$FKID"
cli 0 "CLI backup unsigned" registry backup --dir "$BK" --json
BU=$(jq -r .path "$TMP/cli.out")
assert_eq "... has no signer" "$(jq -r '.signer_kid // "none"' "$TMP/cli.out")" none
cli 5 "restore while the daemon holds the database" registry restore --from "$B2" \
    --require-signed --trust "$KEYS/trust"
# A SIGHUP opens the registry again only when its file was replaced (restore --force): a
# read-write open of a large file takes a second, which the requests behind it would wait for.
check "a SIGHUP with the registry's file as it was: reloaded" sighup_reload
check "... without opening the registry again" \
    bash -c "! grep -q 'its file was replaced' '$D_LOG'"
M3=0x$(printf '4%.0s' {1..64})
req POST "$D_URL/registry/entries" -H 'Content-Type: application/json' \
    --data-binary "{\"manifest_hash\":\"$M3\",\"proof_hash\":\"$P\"}"
assert_eq "an entry registered after the backup: 201" "$STATUS" 201
# the metrics' record counters go on across the reopen: they are counters
written() {
    curl -s --max-time 10 "$D_ADMIN_URL/metrics" |
        awk '$1 == "cap_verifier_registry_records_written_total" { print $2 }'
}
req POST "$D_URL/verify" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
assert_eq "a verification before the reopen: 200" "$STATUS" 200
for _ in $(seq 50); do
    w0=$(written)
    [ "${w0:-0}" -ge 1 ] && break
    sleep 0.1
done
assert_le "... recorded: records_written_total >= 1" 1 "${w0:-0}"
cli 0 "restore --force of that backup while the daemon holds the database" registry restore \
    --from "$B2" --force
check "a SIGHUP after it: reloaded" sighup_reload
check "... opening the replaced file" grep -q 'registry reopened: its file was replaced' "$D_LOG"
assert_le "... records_written_total did not start again at 0" "${w0:-0}" "$(written)"
req GET "$D_URL/registry/entries"
assert_eq "... whose entries the daemon now answers (the later one is gone)" \
    "$(body_json '.entries | length')" 1
daemon_stop main

# with no writer left, a database with two names is still refused to writers
ln "$DB" "$TMP/other/renamed.sqlite"
cli 5 "registry add through a hard link, no daemon running" registry add \
    --db "$TMP/other/renamed.sqlite" --manifest-hash "$M2" --proof-hash "$M2"
check "... says the file has 2 hard links" grep -q "has 2 hard links" "$TMP/cli.err"
cli 5 "registry add through the first name" registry add --manifest-hash "$M2" --proof-hash "$M2"
rm -f "$TMP/other/renamed.sqlite"

SUM=$(sum_of "$DB")
cli 3 "--require-signed without --trust is a usage error" registry restore --from "$B2" \
    --require-signed
cli 2 "restore --require-signed of an unsigned backup" registry restore --from "$BU" \
    --require-signed --trust "$KEYS/trust"
check "... says it is not signed" grep -q "is not signed" "$TMP/cli.err"
cli 2 "restore --require-signed of a backup signed by a key not in DIR" registry restore \
    --from "$BF" --require-signed --trust "$KEYS/trust"
check "... names the foreign key" grep -q "$FKID" "$TMP/cli.err"
cp "$B2" "$BK/altered.sqlite"
sed 's/libcapverify/libcapverifx/' "${B2%.sqlite}.json" >"$BK/altered.json"
cli 2 "restore of a signed backup whose sidecar was altered (even without --require-signed)" \
    registry restore --from "$BK/altered.sqlite"
check "... says the signature does not verify" grep -q "changed after it was signed" "$TMP/cli.err"
assert_eq "the refused restores left the database byte for byte" "$(sum_of "$DB")" "$SUM"
cli 0 "restore --require-signed --trust of the daemon's signed backup" registry restore \
    --from "$B2" --require-signed --trust "$KEYS/trust" --json
check "the old database is kept" test -f "$(jq -r .previous "$TMP/cli.out")"
cli 0 "check of the restored registry" registry check --json
assert_eq "check: no schema difference, no foreign key violation" \
    "$(jq -r '"\(.schema_differences) \(.foreign_key_violations) \(.ok)"' "$TMP/cli.out")" "0 0 true"

# ---- 4. the issue's attack: a trigger that empties the registry --------------------------------
cp "$B2" "$BK/evil.sqlite"
cp "${B2%.sqlite}.json" "$BK/evil.json"
sqlite3 "$BK/evil.sqlite" "CREATE TRIGGER wipe AFTER INSERT ON verifications BEGIN DELETE FROM verifications; DELETE FROM entries; END;"
python3 - "$BK/evil.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc.pop("signature", None) # an unsigned sidecar, as before signing existed
open(sys.argv[1], "w").write(json.dumps(doc, indent=2) + "\n")
PY
sidecar_recompute "$BK/evil.sqlite"
SUM=$(sum_of "$DB")
cli 2 "restore of the backup with the trigger" registry restore --from "$BK/evil.sqlite"
check "... names the trigger" grep -q "unexpected trigger 'wipe' on table 'verifications'" \
    "$TMP/cli.err"
check "... says the database was not changed" grep -q "was not changed" "$TMP/cli.err"
cli 2 "restore --check-only of it" registry restore --check-only --from "$BK/evil.sqlite"
cli 2 "check of it" registry check --db "$BK/evil.sqlite"
check "check reports the trigger" grep -q "trigger 'wipe'" "$TMP/cli.out" "$TMP/cli.err"
assert_eq "the database is byte for byte as it was" "$(sum_of "$DB")" "$SUM"
# the restored registry keeps its entries when the daemon records a verification
daemon_start main "${SAMPLE_ARGS[@]}" --set registry.record_queue_max=0 || t_done
req POST "$D_URL/verify" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip" \
    -H 'X-Request-Id: sync-1'
assert_eq "a verification recorded after the refused restore: 200" "$STATUS" 200
# recorded before the answer: a request id already recorded for another verification is a
# 409, the report not given (queued recording answers 200 and refuses the record)
tampered_zip "$SAMPLE/sample.zip" "$TMP/tampered.zip"
req POST "$D_URL/verify" -H 'Content-Type: application/zip' -H 'X-Request-Id: sync-1' \
    --data-binary "@$TMP/tampered.zip"
assert_eq "synchronous recording: another verification under a recorded request id: 409" \
    "$STATUS $(body_json .error.code)" "409 conflict"
assert_match "... saying why" "$(body_json .error.message)" "recorded with other content"
daemon_stop main
assert_eq "the registry still has its entry" "$(sqlite3 "file:$DB?mode=ro" 'select count(*) from entries')" 1
assert_eq "the planted links' target keeps its bytes" "$(sum_of "$TMP/victim")" "$VSUM"

# ---- 5. a SIGHUP that cannot reopen the registry ----------------------------------------------
# The file is closed (its writer lock released) and cannot be opened again: the daemon says
# so on /readyz, and the main thread opens it again within seconds of its being whole,
# without another SIGHUP; verifications are recorded again.
daemon_start reopen "${SAMPLE_ARGS[@]}" --set backup.interval_seconds=0 || t_done
RDB=$D_DIR/registry.sqlite
registry_check() { # the registry check of /readyz: "ok detail"
    req GET "$D_ADMIN_URL/readyz"
    body_json '.checks[] | select(.name == "registry") | "\(.ok) \(.detail)"'
}
wait_registry() { # wait_registry WANT TENTHS: up to TENTHS / 10 s for registry_check = WANT
    local i
    for i in $(seq "$2"); do
        [ "$(registry_check)" = "$1" ] && return
        sleep 0.1
    done
}
# A SIGHUP's reload waits for the API requests in flight, but not while they wait for their
# client (docs/hardening.md): neither a slow upload nor a client that does not read its
# answers holds up the reload, or the requests behind it.
head -c 98304 /dev/zero >"$TMP/slow.bin"
curl -s -o /dev/null -w '%{http_code}' --limit-rate 8k -H 'Content-Type: application/zip' \
    -H 'Expect:' --data-binary "@$TMP/slow.bin" "$D_URL/verify" >"$TMP/slow.code" &
SLOW=$!
# eighty answers of /openapi.json (9 MB) asked for on one connection, none read
python3 - "$D_API" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 80)
time.sleep(14)
PY
READER=$!
sleep 1
before=$(reloads)
t0=$(date +%s%N)
kill -HUP "$D_PID"
for _ in $(seq 30); do
    [ "$(reloads)" -gt "$before" ] && break
    sleep 0.1
done
t1=$(date +%s%N)
assert_eq "a reload beside a slow upload and a client that reads nothing: done" \
    "$(reloads)" $((before + 1))
assert_le "... at once (ms)" $(((t1 - t0) / 1000000)) 3000
check "... while the upload is still on its way" kill -0 "$SLOW"
check "... and the reader still connected" kill -0 "$READER"
req GET "$D_URL/registry/entries"
assert_eq "an API request meanwhile: 200" "$STATUS" 200
assert_le "... at once (ms)" "$(awk -v t="$TIME" 'BEGIN { printf "%d", t * 1000 }')" 1000
assert_eq "/readyz meanwhile: registry open" "$(registry_check)" "true open, writable"
wait "$SLOW"
assert_eq "the slow upload is answered (not a package: 400)" "$(cat "$TMP/slow.code")" 400
kill "$READER" 2>/dev/null
wait "$READER" 2>/dev/null
# the file with its WAL and shared memory, which SQLite would read beside whatever stands
# at the name (the WAL's pages over the file's)
for f in "" -wal -shm; do
    [ -e "$RDB$f" ] && mv "$RDB$f" "$TMP/aside.sqlite$f"
done
head -c 4096 /dev/zero | tr '\0' x >"$RDB" # no database
kill -HUP "$D_PID"
wait_registry "false not open" 50
assert_eq "after the failed reopen, /readyz: registry not open" "$(registry_check)" "false not open"
check "... and the log says it is tried again" grep -q "registry not reopened (tried again" "$D_LOG"
req POST "$D_URL/verify" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
assert_eq "a verification meanwhile: 503 (it could not be recorded)" \
    "$STATUS $(body_json .error.code)" "503 registry_unavailable"
req GET "$D_URL/registry/entries"
assert_eq "a registry route meanwhile: 503 registry_unavailable" \
    "$STATUS $(body_json .error.code)" "503 registry_unavailable"
req POST "$D_URL/verify" -H 'Content-Type: application/json' \
    --data-binary '{"policy_id":"lksg.v1","context":{}}'
assert_eq "a stored policy's evaluation meanwhile: 503 registry_unavailable" \
    "$STATUS $(body_json .error.code)" "503 registry_unavailable"
rm -f "$RDB" "$RDB-wal" "$RDB-shm"
for f in "" -wal -shm; do
    [ -e "$TMP/aside.sqlite$f" ] && mv "$TMP/aside.sqlite$f" "$RDB$f"
done
wait_registry "true open, writable" 150
assert_eq "once the file is whole again, /readyz: registry open" "$(registry_check)" \
    "true open, writable"
check "... and the log says it was reopened" grep -q '"registry reopened"' "$D_LOG"
req POST "$D_URL/verify" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
assert_eq "a verification after the reopen: 200" "$STATUS" 200
RID=$(hdr X-Request-Id)
daemon_stop reopen
assert_eq "... recorded in the reopened registry" \
    "$(sqlite3 "file:$RDB?mode=ro" "select count(*) from verifications where request_id = '$RID'")" 1

# without recording, a verification still reads the registry (its entries): none is answered
# while the registry is not open, or the registry check would be skipped
daemon_start norecord "${SAMPLE_ARGS[@]}" --set backup.interval_seconds=0 \
    --set registry.record_verifications=false || t_done
RDB=$D_DIR/registry.sqlite
for f in "" -wal -shm; do
    [ -e "$RDB$f" ] && mv "$RDB$f" "$TMP/aside2.sqlite$f"
done
head -c 4096 /dev/zero | tr '\0' x >"$RDB"
kill -HUP "$D_PID"
wait_registry "false not open" 50
req POST "$D_URL/verify" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
assert_eq "not recording, a verification while the registry is not open: 503" \
    "$STATUS $(body_json .error.code)" "503 registry_unavailable"
daemon_stop norecord
t_done
