#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Off-site copies through the CLI (docs/registry.md, "Off-site copies") against real
# components on 127.0.0.1: s3rver (tests/s3/with_s3rver.sh, or s3_start), Debian's AWS CLI,
# and tests/s3/fault_proxy.py, which checks every request's AWS Signature V4 as S3 does.
#   - round trip: backup --upload, backup --list --remote, restore --from s3://, the restored
#     registry exports exactly what the original does; a restore that fails after the rename
#     says the database was replaced;
#   - two backups of one second under the same local name (two replicas): two copies in the
#     store, each with its own name, both verified;
#   - interop both ways: what we upload, `aws s3 cp` downloads with the SHA3-256 of its
#     sidecar; what `aws s3 cp` uploads, our restore accepts with its sidecar and refuses
#     without; --require-signed / --trust refuse an unsigned or foreign object before it
#     lands in --dir;
#   - multipart with small parts through the signature-checking proxy, and one real upload
#     above the 64 MiB threshold (two parts of the default size);
#   - HTTPS with a private CA (--s3-ca-file), refused without it;
#   - remote retention (a copy named the old way counted and pruned too); a file without sidecar stored just now (an upload under way) is not
#     pruned; an upload whose retention the store refuses is printed and exits 1;
#   - faults: endpoint down (local backup kept, exit 5), server killed in the middle of a
#     multipart upload (no sidecar: never listed, the abort was sent), a part that keeps
#     failing (upload aborted), 403 (a wrong secret: SignatureDoesNotMatch; a policy that
#     denies; an unknown key id), a bucket that does not exist; the secret never printed;
#   - a download killed during its verification lists nothing; Ctrl-C during a restore
#     from the store leaves nothing beside the database.
#   with_s3rver.sh cli.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
#   (CAPV_REG_TOOL: tests/tools/reg_tool, to fill a registry quickly)
source "$(dirname "$0")/../daemon/lib.sh"
source "$(dirname "$0")/lib.sh"
# t_init clears CAPV_* (the daemon reads them): what with_s3rver.sh and ctest set, first
EP=${CAPV_TEST_S3_ENDPOINT:-}
B=${CAPV_TEST_S3_BUCKET:-}
REG_TOOL=${CAPV_REG_TOOL:-}
t_init "$@"
s3_init
[ -n "$EP" ] || { echo "run me through tests/s3/with_s3rver.sh" >&2; exit 2; }
[ -x "$REG_TOOL" ] || { echo "CAPV_REG_TOOL: the reg_tool helper" >&2; exit 2; }
cd "$TMP" || exit 2
S3=(--s3-endpoint "$EP" --s3-path-style)

# a registry of 2000 entries with padding (about 8 MB), and its export to compare with
"$REG_TOOL" fill live.sqlite 2000 --unsigned --pad 3000 >/dev/null 2>&1
check "a registry to back up" test -s live.sqlite
"$CLI" registry export --db live.sqlite >live.json

# ---- round trip -------------------------------------------------------------------------
# --upload without a store: refused before a backup is taken that could not go off-site
env -u CAPV_BACKUP_S3_URL "$CLI" registry backup --db live.sqlite --dir nostore --upload \
    "${S3[@]}" >/dev/null 2>err.txt
assert_eq "backup --upload without --s3-url: exit 3" "$?" 3
check "... and no backup was taken" test ! -e nostore
out=$("$CLI" registry backup --db live.sqlite --dir bk --upload --s3-url "s3://$B/prod" "${S3[@]}" \
    --json 2>err.txt)
assert_eq "backup --upload exits 0" "$?" 0
local_path=$(head -n 1 <<<"$out" | jq -r .path)
name=$(basename "$local_path" .sqlite)
# the store's name: the local one (the second of created_at) and 16 hex digits of the SHA3-256
rname=$name-$(head -n 1 <<<"$out" | jq -r .sha3_256 | cut -c3-18)
assert_eq "the upload names the object by time and content" \
    "$(sed -n 2p <<<"$out" | jq -r .uploaded.url)" "s3://$B/prod/$rname.sqlite"
assert_eq "the upload states the backup's SHA3-256" "$(sed -n 2p <<<"$out" | jq -r .uploaded.sha3_256)" \
    "$(head -n 1 <<<"$out" | jq -r .sha3_256)"
list=$("$CLI" registry backup --list --remote --s3-url "s3://$B/prod" "${S3[@]}" --json)
assert_eq "list --remote: one complete backup" "$(jq length <<<"$list")" 1
assert_eq "list --remote: its size" "$(jq -r '.[0].size_bytes' <<<"$list")" "$(stat -c %s "$local_path")"
url=$(jq -r '.[0].url' <<<"$list")
"$CLI" registry restore --db restored.sqlite --from "$url" "${S3[@]}" >restore.out 2>restore.err
assert_eq "restore --from s3:// exits 0" "$?" 0
"$CLI" registry export --db restored.sqlite >restored.json
check "the restored registry exports what the original does" cmp live.json restored.json
assert_eq "the private download directory is gone" \
    "$(find . -maxdepth 1 -name '.capverify-restore-*' | wc -l)" 0
# a restore that fails once the restored file has taken the database's name (here the fsync
# of its directory, failed by an LD_PRELOAD shim): the CLI says the database was replaced and
# where the old one is kept, never "not changed"
if command -v cc >/dev/null && command -v sqlite3 >/dev/null; then
    cat >fsync_shim.c <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
/* fsync of the directory FAIL_DIR_FSYNC (a path without links) fails with EIO */
int fsync(int fd)
{
    const char *want = getenv("FAIL_DIR_FSYNC");
    char link[64], path[4096];
    struct stat sb;
    ssize_t n;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    if (want != NULL && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode) &&
        (n = readlink(link, path, sizeof path - 1)) > 0) {
        path[n] = '\0';
        if (strcmp(path, want) == 0) {
            errno = EIO;
            return -1;
        }
    }
    return (int)syscall(SYS_fsync, fd);
}
EOF
    cc -shared -fPIC -o fsync_shim.so fsync_shim.c
    mkdir -p fsyncfail
    "$CLI" registry init --db fsyncfail/db.sqlite >/dev/null 2>&1
    LD_PRELOAD=$PWD/fsync_shim.so FAIL_DIR_FSYNC=$(pwd -P)/fsyncfail "$CLI" registry restore \
        --db fsyncfail/db.sqlite --from "$url" "${S3[@]}" >/dev/null 2>err.txt
    assert_eq "restore whose directory fsync fails after the rename: exit 5" "$?" 5
    assert_match "... says the database was replaced and where the old one is" "$(cat err.txt)" \
        "the database was replaced; the previous one is kept as fsyncfail/db.sqlite.pre-restore-"
    check "... not that it was not changed" bash -c '! grep -q "not changed" err.txt'
    assert_eq "... the old one is there, empty" \
        "$(sqlite3 fsyncfail/db.sqlite.pre-restore-* 'SELECT count(*) FROM entries')" 0
else
    skip_missing "restore failing after the rename" "a C compiler for the LD_PRELOAD shim, or sqlite3"
fi
"$CLI" registry restore --check-only --from "$url" "${S3[@]}" --dir kept >/dev/null 2>&1
assert_eq "restore --check-only --dir keeps the verified copy as a local backup" \
    "$("$CLI" registry backup --list --dir kept --json | jq length)" 1
"$CLI" registry restore --check-only --from "$url" "${S3[@]}" --dir kept >/dev/null 2>err.txt
assert_eq "... again into the same --dir: a usage error (exit 3), nothing judged" "$?" 3
check "... saying the directory holds it" grep -q "already holds" err.txt
"$CLI" registry restore --check-only --from "s3://$B/prod/not-a-backup" "${S3[@]}" >/dev/null \
    2>err.txt
assert_eq "a location that names no backup: exit 3" "$?" 3

# ---- two backups of one second ---------------------------------------------------------
# Two replicas (or a daemon and a CLI) back up in the same second, each into its own
# directory and so under the same local name, two registries: in the store each gets its own
# name (by its content), so neither the file nor the sidecar of one replaces the other's,
# and both restore. Until 2026-12-08 both went to one name: the second replaced the first,
# and interleaved PUTs could pair the file of one with the sidecar of the other.
"$REG_TOOL" fill other.sqlite 50 --unsigned >/dev/null 2>&1
"$CLI" registry backup --db live.sqlite --dir same-a --json >sa.json
"$CLI" registry backup --db other.sqlite --dir same-b --json >sb0.json
pa=$(jq -r .path sa.json)
pb=$(jq -r .path sb0.json)
if [ "$pb" != "same-b/$(basename "$pa")" ]; then # the second began in the next second
    mv "$pb" "same-b/$(basename "$pa")"
    jq --arg at "$(jq -r .created_at sa.json)" '.created_at = $at' "${pb%.sqlite}.json" \
        >"same-b/$(basename "${pa%.sqlite}").json"
    rm "${pb%.sqlite}.json"
fi
for d in same-a same-b; do
    "$CLI" registry backup --upload --dir "$d" --s3-url "s3://$B/same" "${S3[@]}" >/dev/null 2>err.txt
    assert_eq "a backup of $d, named as another's of the same second, uploads" "$?" 0
done
list=$("$CLI" registry backup --list --remote --s3-url "s3://$B/same" "${S3[@]}" --json)
assert_eq "... both are listed, under two names" \
    "$(jq -r '[.[].key] | unique | length' <<<"$list")" 2
assert_eq "... with their own SHA3-256" "$(jq -r '[.[].sha3_256] | sort | join(" ")' <<<"$list")" \
    "$(printf '%s\n' "$(jq -r .sha3_256 sa.json)" "$(jq -r .sha3_256 sb0.json)" | sort | tr '\n' ' ' |
        sed 's/ $//')"
for u in $(jq -r '.[].url' <<<"$list"); do
    "$CLI" registry restore --check-only --from "$u" "${S3[@]}" --dir "same-check-$RANDOM" \
        >/dev/null 2>err.txt
    assert_eq "... $(basename "$u") passes verification" "$?" 0
done

# ---- interop with the AWS CLI -----------------------------------------------------------
aws_s3 "$EP" s3 cp "s3://$B/prod/$rname.sqlite" aws.sqlite >/dev/null
aws_s3 "$EP" s3 cp "s3://$B/prod/$rname.json" aws.json >/dev/null
want=$(jq -r .sha3_256 aws.json)
got=0x$(openssl dgst -sha3-256 -r aws.sqlite | cut -d' ' -f1)
assert_eq "aws s3 cp downloads our upload with its sidecar's SHA3-256" "$got" "$want"
assert_eq "... which is also capverify hash's" "$("$CLI" hash --alg sha3-256 aws.sqlite 2>/dev/null |
    grep -o '0x[0-9a-f]\{64\}' | head -n 1)" "$want"
meta=$(aws_s3 "$EP" s3api head-object --bucket "$B" --key "prod/$rname.sqlite" | jq -r '.Metadata["sha3-256"]')
assert_eq "the object carries its SHA3-256 as metadata" "$meta" "$want"

# what the AWS CLI uploads: with its sidecar accepted, without refused
"$CLI" registry backup --db live.sqlite --dir bk2 --json >b2.json
p2=$(jq -r .path b2.json)
n2=$(basename "$p2" .sqlite)
aws_s3 "$EP" s3 cp "$p2" "s3://$B/byaws/$n2.sqlite" >/dev/null
aws_s3 "$EP" s3 cp "${p2%.sqlite}.json" "s3://$B/byaws/$n2.json" >/dev/null
"$CLI" registry restore --db fromaws.sqlite --from "s3://$B/byaws/$n2.sqlite" "${S3[@]}" >/dev/null 2>&1
assert_eq "restore accepts what aws s3 cp uploaded with its sidecar" "$?" 0
"$CLI" registry export --db fromaws.sqlite | cmp -s - live.json
assert_eq "... and it holds the registry" "$?" 0
aws_s3 "$EP" s3 cp "$p2" "s3://$B/nosidecar/$n2.sqlite" >/dev/null
"$CLI" registry restore --db nosidecar.sqlite --from "s3://$B/nosidecar/$n2.sqlite" "${S3[@]}" \
    >/dev/null 2>err.txt
assert_eq "restore refuses an object without sidecar (exit 5)" "$?" 5
assert_match "... saying it has no sidecar" "$(cat err.txt)" "no sidecar"
check "... and nothing was restored" test ! -e nosidecar.sqlite
assert_eq "list --remote does not list it" \
    "$("$CLI" registry backup --list --remote --s3-url "s3://$B/nosidecar" "${S3[@]}" --json | jq length)" 0
# a tampered object: the sidecar's hash refuses it, and the download is removed again
cp "$p2" tampered.sqlite
printf 'X' | dd of=tampered.sqlite bs=1 seek=5000 conv=notrunc 2>/dev/null
aws_s3 "$EP" s3 cp tampered.sqlite "s3://$B/tampered/$n2.sqlite" >/dev/null
aws_s3 "$EP" s3 cp "${p2%.sqlite}.json" "s3://$B/tampered/$n2.json" >/dev/null
"$CLI" registry restore --db tampered-restore.sqlite --from "s3://$B/tampered/$n2.sqlite" "${S3[@]}" \
    --dir tdir >/dev/null 2>err.txt
assert_eq "restore refuses a tampered object (exit 2)" "$?" 2
check "... and leaves no copy of it behind" test -z "$(ls -A tdir 2>/dev/null)"
# --require-signed / --trust: the download applies them already, so an unsigned or a foreign
# backup never lands in --dir (there it would be listed, restorable and uploadable as a local
# backup, and with a forged created_at the newest)
"$CLI" keys gen --out signer --owner backups >/dev/null && "$CLI" keys gen --out foreign \
    --owner someone-else >/dev/null
mkdir -p trust && cp signer.json trust/
"$CLI" registry restore --db rs.sqlite --from "s3://$B/byaws/$n2.sqlite" "${S3[@]}" --dir rsdir \
    --require-signed --trust trust >/dev/null 2>err.txt
assert_eq "restore --require-signed of an unsigned object (exit 2)" "$?" 2
assert_match "... saying it is not signed" "$(cat err.txt)" "not signed"
assert_eq "... it is not kept in --dir" \
    "$("$CLI" registry backup --list --dir rsdir --json | jq length):$(ls -A rsdir)" "0:"
check "... and nothing was restored" test ! -e rs.sqlite
"$CLI" registry restore --check-only --from "s3://$B/byaws/$n2.sqlite" "${S3[@]}" --dir rsdir-c \
    --require-signed --trust trust >/dev/null 2>err.txt
assert_eq "... nor by --check-only (exit 2)" "$?:$(ls -A rsdir-c)" "2:"
"$CLI" registry backup --db live.sqlite --dir fbk --sign-key foreign.key --upload \
    --s3-url "s3://$B/foreign" "${S3[@]}" --json >fb.json 2>err.txt
assert_eq "a backup signed by a foreign key, uploaded" "$?" 0
"$CLI" registry restore --check-only --from "$(sed -n 2p fb.json | jq -r .uploaded.url)" \
    "${S3[@]}" --dir rsdir-f --trust trust >/dev/null 2>err.txt
assert_eq "--trust without its key refuses it (exit 2)" "$?" 2
assert_eq "... and it is not kept in --dir" "$(ls -A rsdir-f)" ""
"$CLI" registry backup --db live.sqlite --dir sbk --sign-key signer.key --upload \
    --s3-url "s3://$B/signed" "${S3[@]}" --json >sb.json 2>err.txt
"$CLI" registry restore --db rs.sqlite --from "$(sed -n 2p sb.json | jq -r .uploaded.url)" \
    "${S3[@]}" --dir rsdir-s --require-signed --trust trust >/dev/null 2>err.txt
assert_eq "a backup signed by a trusted key restores with --require-signed" "$?" 0
assert_eq "... and is kept in --dir" "$("$CLI" registry backup --list --dir rsdir-s --json | jq length)" 1

# ---- multipart through the signature-checking proxy ---------------------------------------
proxy_start sigv4 "$EP" --verify S3RVER:S3RVER
"$CLI" registry backup --upload --dir bk --s3-url "s3://$B/parts" --s3-endpoint "$P_ENDPOINT" \
    --s3-path-style --s3-part-size 1048576 >/dev/null 2>err.txt
assert_eq "a multipart upload (1 MiB parts) passes the SigV4 check" "$?" 0
parts=$(grep -c "partNumber=" "$P_LOG")
assert_le "... in several parts" 3 "$parts"
assert_eq "... every request signed right" "$(grep -vc ' 200$' "$P_LOG")" 0
"$CLI" registry restore --db parts.sqlite --from "s3://$B/parts/$rname.sqlite" --s3-endpoint "$P_ENDPOINT" \
    --s3-path-style >/dev/null 2>&1
assert_eq "... and restores" "$?" 0
AWS_SECRET_ACCESS_KEY=not-the-secret-XYZZY "$CLI" registry backup --list --remote \
    --s3-url "s3://$B/parts" --s3-endpoint "$P_ENDPOINT" --s3-path-style >out.txt 2>err.txt
assert_eq "a wrong secret: 403, exit 5" "$?" 5
assert_match "... SignatureDoesNotMatch, named as access denied" "$(cat err.txt)" \
    "access denied.*403 SignatureDoesNotMatch"
check "... the secret is never printed" bash -c '! grep -q XYZZY out.txt err.txt'
stop_pid "$P_PID"

# ---- a real upload above the 64 MiB threshold ------------------------------------------
"$REG_TOOL" fill big.sqlite 20000 --unsigned --pad 3600 >/dev/null 2>&1
proxy_start count "$EP" # counts the requests
"$CLI" registry backup --db big.sqlite --dir bigbk --upload --s3-url "s3://$B/big" \
    --s3-endpoint "$P_ENDPOINT" --s3-path-style --json >big.json 2>err.txt
assert_eq "a $(($(stat -c %s big.sqlite) / 1048576)) MiB backup uploads" "$?" 0
bigname=$(basename "$(sed -n 2p big.json | jq -r .uploaded.url)")
assert_eq "... in two parts (of the default 64 MiB)" "$(grep -c '^PUT .*partNumber=[12]&.* 200$' "$P_LOG")" 2
stop_pid "$P_PID"
aws_s3 "$EP" s3 cp "s3://$B/big/$bigname" big-aws.sqlite >/dev/null
assert_eq "... and aws s3 cp gets it back with its SHA3-256" \
    "0x$(openssl dgst -sha3-256 -r big-aws.sqlite | cut -d' ' -f1)" "$(head -n 1 big.json | jq -r .sha3_256)"
# a download killed while it is verified lists nothing, and the next one tidies up after it
"$CLI" registry restore --check-only --from "s3://$B/big/$bigname" "${S3[@]}" --dir killed \
    >/dev/null 2>&1 &
dl=$!
for _ in $(seq 1 1200); do
    [ -n "$(find killed -name '.verify.tmp.*' 2>/dev/null)" ] && break
    sleep 0.05
done
check "a download of the big backup reaches its verification" \
    test -n "$(find killed -name '.verify.tmp.*' 2>/dev/null)"
kill -9 "$dl"
wait "$dl" 2>/dev/null
assert_eq "... killed there, it lists no backup" \
    "$("$CLI" registry backup --list --dir killed --json | jq length)" 0
"$CLI" registry restore --check-only --from "s3://$B/big/$bigname" "${S3[@]}" --dir killed \
    >/dev/null 2>&1
assert_eq "... the next download keeps its verified copy" \
    "$?:$("$CLI" registry backup --list --dir killed --json | jq length)" 0:1
assert_eq "... and removes what the killed one left" \
    "$(find killed -mindepth 1 -name '.*' | wc -l)" 0
# Ctrl-C during a restore from the store: the download is cancelled (or a verification
# under way finishes), nothing is restored, and the private copy beside the database goes
mkdir intr
"$SRC/tests/tools/sigint_default.py" "$CLI" registry restore --db intr/restored.sqlite \
    --from "s3://$B/big/$bigname" "${S3[@]}" >/dev/null 2>intr.err &
rs=$!
for _ in $(seq 200); do
    [ -n "$(find intr -maxdepth 1 -name '.capverify-restore-*' 2>/dev/null)" ] && break
    sleep 0.02
done
kill -INT "$rs"
wait "$rs"
assert_eq "Ctrl-C during restore --from: exit 5" "$?" 5
assert_match "... saying why" "$(cat intr.err)" "cancelled|interrupted"
assert_eq "... nothing left beside the database" "$(ls -A intr)" ""
rm -rf big-aws.sqlite big.sqlite killed intr intr.err

# ---- HTTPS with a private CA -----------------------------------------------------------
s3_start tls --tls
"$CLI" registry backup --upload --dir bk --s3-url "s3://$B/tls" --s3-endpoint "$S3_ENDPOINT" \
    --s3-path-style --s3-ca-file "$S3_STORE/tls/ca.pem" >/dev/null 2>err.txt
assert_eq "an https endpoint with --s3-ca-file" "$?" 0
"$CLI" registry backup --list --remote --s3-url "s3://$B/tls" --s3-endpoint "$S3_ENDPOINT" \
    --s3-path-style --s3-attempts 1 >/dev/null 2>err.txt
assert_eq "... without the CA the certificate is refused (exit 5)" "$?" 5
"$CLI" registry backup --list --remote --s3-url "s3://$B/x" --s3-endpoint "http://192.0.2.1:9000" \
    >/dev/null 2>err.txt
assert_eq "plain http:// off loopback is refused before any request (exit 3)" \
    "$?:$(grep -c 'only allowed for a loopback' err.txt)" 3:1
stop_pid "$S3_PID"

# ---- remote retention -------------------------------------------------------------------
# a copy named the old way (the local name, as uploads were named until 2026-12-08), older
# than the three uploads below: counted and pruned like theirs
aws_s3 "$EP" s3 cp "$p2" "s3://$B/ret/$n2.sqlite" >/dev/null
aws_s3 "$EP" s3 cp "${p2%.sqlite}.json" "s3://$B/ret/$n2.json" >/dev/null
assert_eq "a copy named the old way is listed" \
    "$("$CLI" registry backup --list --remote --s3-url "s3://$B/ret" "${S3[@]}" --json | jq -r '.[0].key')" \
    "ret/$n2.sqlite"
for i in 1 2 3; do
    sleep 1.1 # a new name each second
    "$CLI" registry backup --db live.sqlite --dir rbk --upload --s3-url "s3://$B/ret" "${S3[@]}" \
        --s3-retain 2 >/dev/null 2>&1
done
# a file without its sidecar named before anything kept, but stored just now: another
# uploader's between its file and its sidecar (a CLI uploading an older local backup), not
# removed; one stored more than an hour ago is (unit.backup_remote, the scripted store)
aws_s3 "$EP" s3 cp "$p2" "s3://$B/ret/registry-20000101T000000Z.sqlite" >/dev/null
"$CLI" registry backup --upload --dir rbk --s3-url "s3://$B/ret" "${S3[@]}" --s3-retain 2 >/dev/null 2>&1
assert_eq "--s3-retain 2 keeps two complete backups" \
    "$("$CLI" registry backup --list --remote --s3-url "s3://$B/ret" "${S3[@]}" --json | jq length)" 2
keys=$(aws_s3 "$EP" s3 ls "s3://$B/ret/" | awk '{print $4}' | sort | tr '\n' ' ')
assert_eq "... and nothing else but the young file without sidecar: five objects" "$(wc -w <<<"$keys")" 5
assert_eq "... which stays" "$(grep -o 20000101 <<<"$keys" | wc -l)" 1
assert_eq "... the copy named the old way was pruned" "$(grep -c "$n2" <<<"${keys// /$'\n'}")" 0
aws_s3 "$EP" s3 rm "s3://$B/ret/registry-20000101T000000Z.sqlite" >/dev/null
# the upload done, its retention refused (a store that allows no DELETE): the upload's record
# is printed all the same, the retention's error is on stderr, and the exit is 1
proxy_start nodelete "$EP" --deny-method DELETE
sleep 1.1
"$CLI" registry backup --db live.sqlite --dir rbk --upload --s3-url "s3://$B/ret" \
    --s3-endpoint "$P_ENDPOINT" --s3-path-style --s3-retain 1 --json >out.txt 2>err.txt
assert_eq "an upload whose --s3-retain pruning is refused: exit 1" "$?" 1
assert_match "... the upload is printed" "$(sed -n 2p out.txt | jq -r .uploaded.url)" \
    "^s3://$B/ret/registry-.*\.sqlite$"
assert_match "... the retention's failure is on stderr" "$(cat err.txt)" \
    "remote retention: .*403 AccessDenied"
check "... a DELETE was refused" grep -q "^DELETE .* 403$" "$P_LOG"
assert_eq "... and the store holds the new copy beside the two kept" \
    "$("$CLI" registry backup --list --remote --s3-url "s3://$B/ret" "${S3[@]}" --json | jq length)" 3
"$CLI" registry backup --upload --dir rbk --s3-url "s3://$B/ret" --s3-endpoint "$P_ENDPOINT" \
    --s3-path-style --s3-retain 1 >out.txt 2>err.txt
assert_eq "... without --json too: exit 1, the upload's line printed" \
    "$?:$(grep -c '^uploaded s3://' out.txt)" "1:1"
stop_pid "$P_PID"

# ---- faults -----------------------------------------------------------------------------
down=$(free_port)
before=$(ls bkdown 2>/dev/null | wc -l)
start=$(date +%s%N)
"$CLI" registry backup --db live.sqlite --dir bkdown --upload --s3-url "s3://$B/down" \
    --s3-endpoint "http://127.0.0.1:$down" --s3-path-style --s3-attempts 3 >/dev/null 2>err.txt
assert_eq "endpoint down: exit 5" "$?" 5
assert_match "... cannot reach it after 3 attempts" "$(cat err.txt)" "cannot reach .*3 attempts"
assert_match "... the local backup is kept" "$(cat err.txt)" "local backup .* is kept"
assert_eq "... and complete" "$("$CLI" registry backup --list --dir bkdown --json | jq length)" 1
assert_le "... retried with backoff (at least 0.25 s)" 250000000 "$(($(date +%s%N) - start))"

# the server dies in the middle of a multipart upload
s3_start killme
kport=$S3_PORT
proxy_start killer "$S3_ENDPOINT" --kill-on-part 3 --kill-pid "$S3_PID"
"$CLI" registry backup --upload --dir bk --s3-url "s3://$B/mid" --s3-endpoint "$P_ENDPOINT" \
    --s3-path-style --s3-part-size 1048576 --s3-attempts 2 >/dev/null 2>err.txt
assert_eq "server killed mid-multipart: exit 5" "$?" 5
check "... it was killed at part 3" grep -q killed-upstream "$P_LOG"
check "... the client then tried to abort the upload" grep -q "^DELETE .*uploadId=" "$P_LOG"
check "... and no sidecar was sent" bash -c "! grep -q '^PUT .*\.json ' '$P_LOG'"
stop_pid "$P_PID"
s3_start killme --port "$kport"
assert_eq "after a restart nothing is listed as complete" \
    "$("$CLI" registry backup --list --remote --s3-url "s3://$B/mid" "${S3[@]/$EP/$S3_ENDPOINT}" --json | jq length)" 0
assert_eq "... nor is the object there at all" \
    "$(aws_s3 "$S3_ENDPOINT" s3 ls "s3://$B/mid/" | grep -c "$name")" 0
"$CLI" registry backup --upload --dir bk --s3-url "s3://$B/mid" --s3-endpoint "$S3_ENDPOINT" \
    --s3-path-style --s3-part-size 1048576 >/dev/null 2>&1
assert_eq "... and the next upload completes" \
    "$("$CLI" registry backup --list --remote --s3-url "s3://$B/mid" --s3-endpoint "$S3_ENDPOINT" \
        --s3-path-style --json | jq length)" 1
stop_pid "$S3_PID"

# a part that keeps failing: the multipart upload is aborted
proxy_start failpart "$EP" --fail-part 2
"$CLI" registry backup --upload --dir bk --s3-url "s3://$B/failpart" --s3-endpoint "$P_ENDPOINT" \
    --s3-path-style --s3-part-size 1048576 --s3-attempts 2 >/dev/null 2>err.txt
assert_eq "a part failing for good: exit 5" "$?" 5
assert_eq "... part 2 was tried twice" "$(grep -c 'partNumber=2&.* 500$' "$P_LOG")" 2
check "... the upload was aborted (DELETE ?uploadId)" grep -q "^DELETE .*?uploadId=" "$P_LOG"
assert_eq "... nothing listed" \
    "$("$CLI" registry backup --list --remote --s3-url "s3://$B/failpart" "${S3[@]}" --json | jq length)" 0
stop_pid "$P_PID"

# the answer to CompleteMultipartUpload lost on its way back: the object is stored, the
# retry hears an error (S3: 404 NoSuchUpload; s3rver: 500), and the upload is complete all
# the same: the object is there with its size and SHA3-256
proxy_start lose "$EP" --lose-complete-answer
"$CLI" registry backup --upload --dir bk --s3-url "s3://$B/lost" --s3-endpoint "$P_ENDPOINT" \
    --s3-path-style --s3-part-size 1048576 --s3-attempts 2 >/dev/null 2>err.txt
assert_eq "a lost CompleteMultipartUpload answer: the upload succeeds" "$?:$(cat err.txt)" "0:"
check "... the answer was lost" grep -q "answer-lost-200" "$P_LOG"
check "... and Complete sent again" \
    test "$(grep -c '^POST .*uploadId=' "$P_LOG")" -ge 2
assert_eq "... the copy is listed" \
    "$("$CLI" registry backup --list --remote --s3-url "s3://$B/lost" "${S3[@]}" --json | jq length)" 1
check "... and its sidecar stored" grep -q "^PUT .*/lost/registry-.*\.json 200$" "$P_LOG"
stop_pid "$P_PID"

# a bucket policy that denies, and an access key the store does not know
proxy_start deny "$EP" --deny
"$CLI" registry backup --upload --dir bk --s3-url "s3://$B/deny" --s3-endpoint "$P_ENDPOINT" \
    --s3-path-style --s3-attempts 3 >/dev/null 2>err.txt
assert_eq "403 AccessDenied: exit 5" "$?" 5
assert_match "... named" "$(cat err.txt)" "403 AccessDenied"
assert_eq "... not retried" "$(wc -l <"$P_LOG")" 1
stop_pid "$P_PID"
AWS_ACCESS_KEY_ID=NOT-S3RVER "$CLI" registry backup --list --remote --s3-url "s3://$B/prod" "${S3[@]}" \
    >/dev/null 2>err.txt
assert_eq "an unknown access key id (s3rver's own 403): exit 5" "$?" 5
assert_match "... InvalidAccessKeyId" "$(cat err.txt)" "403 InvalidAccessKeyId"

# a bucket that does not exist
"$CLI" registry backup --upload --dir bk --s3-url "s3://no-such-bucket/x" "${S3[@]}" >/dev/null 2>err.txt
assert_eq "a wrong bucket: exit 5" "$?" 5
assert_match "... named" "$(cat err.txt)" "bucket 'no-such-bucket' does not exist"
"$CLI" registry restore --db nb.sqlite --from "s3://no-such-bucket/x/$name.sqlite" "${S3[@]}" \
    >/dev/null 2>err.txt
assert_eq "restore from a wrong bucket: exit 5" "$?" 5
assert_match "... named" "$(cat err.txt)" "bucket 'no-such-bucket' does not exist"

# credentials from a file (a mounted Secret), never printed
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >creds
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$CLI" registry backup --list --remote \
    --s3-url "s3://$B/prod" "${S3[@]}" --s3-credentials-file creds --json >out.txt 2>err.txt
assert_eq "credentials from --s3-credentials-file" "$(jq length out.txt)" 1
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$CLI" registry backup --list --remote \
    --s3-url "s3://$B/prod" "${S3[@]}" >/dev/null 2>err.txt
assert_eq "no credentials at all: exit 3, saying so" "$?:$(grep -c 'no S3 credentials' err.txt)" 3:1

t_done
