#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Disaster-recovery drill (docs/runbook.md, "Disaster recovery"): measures the RTO of losing
# the registry's volume when its backups are copied off-site. Builds a registry of ROWS signed
# entries, backs it up and uploads the backup to an S3-compatible store, deletes the
# database and every local backup (the lost volume), restores from the off-site copy
# (download, sidecar hash, schema and signatures checked, atomic swap), checks the restored
# registry (integrity, every entry signature, the count) and prints each phase's time.
#   scripts/dr-drill.sh BUILD_DIR [ROWS]           (default 1000000)
# The store: with CAPV_BACKUP_S3_URL set (and CAPV_BACKUP_S3_ENDPOINT, _REGION, _PATH_STYLE,
# _CA_FILE, _CREDENTIALS_FILE or AWS_* credentials, as for `capverify registry backup
# --upload`), a prefix of the drill's own under that location, s3://…/dr-drill-<UTC>-<pid>/:
# the made-up registry never becomes the newest copy under the given prefix (the one an
# operator restores after a disaster) and never counts toward the daemons' retention (both
# look at the prefix's own level only). The drill restores exactly the copy it uploaded, and
# removes what it uploaded when it ends, also after a failure or Ctrl-C (DELETEs signed by
# `curl --aws-sigv4`, which needs credentials allowed to delete under the prefix); it then
# checks that its prefix is empty, and exits 1 when it is not (the keys to remove are
# printed). Without CAPV_BACKUP_S3_URL: a throw-away local s3rver (tests/s3/with_s3rver.sh,
# npm packages from scripts/install-deps.sh), where the drill also checks that nothing was
# left beside its prefix. Needs a build with the tests (for tests/reg_tool, which fills the
# registry), python3 and curl.
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

# ---- the store, for the clean-up: s3://BUCKET/PREFIX, the CLI's settings ---------------------
given=${CAPV_BACKUP_S3_URL%/}
case $given in
s3://?*) ;;
*) echo "dr-drill: CAPV_BACKUP_S3_URL='$given' is not s3://BUCKET[/PREFIX]" >&2; exit 2 ;;
esac
bucket=${given#s3://}
bucket=${bucket%%/*}
base=${given#"s3://$bucket"}
base=${base#/}
sub="${base:+$base/}dr-drill-$(date -u +%Y%m%dT%H%M%SZ)-$$"
export CAPV_BACKUP_S3_URL="s3://$bucket/$sub"
region=${CAPV_BACKUP_S3_REGION:-us-east-1}
endpoint=${CAPV_BACKUP_S3_ENDPOINT:-https://s3.$region.amazonaws.com}
endpoint=${endpoint%/}
path_style=false
case ${CAPV_BACKUP_S3_PATH_STYLE:-false} in [Tt][Rr][Uu][Ee]) path_style=true ;; esac

# s3_curl METHOD KEY [QUERY]: one request to the store, signed (SigV4) by curl as the CLI's
# are by libcurl; the credentials go to curl on its standard input, not its command line.
s3_curl() {
    local method=$1 key=$2 query=${3:-} enc url ak sk tok
    enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="/-_.~"))' "$key")
    if $path_style; then
        url="$endpoint/$bucket${enc:+/$enc}"
    else
        url="${endpoint%%://*}://$bucket.${endpoint#*://}/$enc"
    fi
    if [ -n "${CAPV_BACKUP_S3_CREDENTIALS_FILE:-}" ]; then
        read -r ak sk tok < <(awk -F= '
            /^[ \t]*\[/ { sect = $0; gsub(/[ \t\[\]]/, "", sect); next }
            sect == "default" { k = $1; v = $0; sub(/^[^=]*=/, "", v); gsub(/[ \t\r]/, "", k); gsub(/[ \t\r]/, "", v); c[k] = v }
            END { print c["aws_access_key_id"], c["aws_secret_access_key"], c["aws_session_token"] }' \
            "$CAPV_BACKUP_S3_CREDENTIALS_FILE")
    else
        ak=${AWS_ACCESS_KEY_ID:-} sk=${AWS_SECRET_ACCESS_KEY:-} tok=${AWS_SESSION_TOKEN:-}
    fi
    {
        printf 'user = "%s:%s"\n' "$ak" "$sk"
        [ -z "$tok" ] || printf 'header = "x-amz-security-token: %s"\n' "$tok"
    } | curl -sS -f --max-time 60 -X "$method" --aws-sigv4 "aws:amz:$region:s3" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
        ${CAPV_BACKUP_S3_CA_FILE:+--cacert "$CAPV_BACKUP_S3_CA_FILE"} -K - "$url${query:+?$query}"
}

# s3_keys PREFIX: the keys under s3://BUCKET/PREFIX (one page of up to 1000 is plenty here)
s3_keys() {
    local q
    q=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="-_.~"))' "$1")
    s3_curl GET "" "list-type=2&prefix=$q" |
        python3 -c 'import re, sys; [print(k) for k in re.findall(r"<Key>([^<]*)</Key>", sys.stdin.read())]'
}

work=$(mktemp -d "${TMPDIR:-/tmp}/capv-dr-drill.XXXXXX")
name="" # the backup's registry-<UTC>, once it exists
rname="" # its name in the store (registry-<UTC>-<16 hex digits of its SHA3-256>): what may be there
# What the drill uploaded goes again, the sidecar first (a file without it is no backup); then
# the drill's prefix must be empty.
cleanup() {
    local rc=$? left
    trap - EXIT INT TERM
    if [ -n "$rname" ]; then
        s3_curl DELETE "$sub/$rname.json" >/dev/null || true
        s3_curl DELETE "$sub/$rname.sqlite" >/dev/null || true
    fi
    if ! left=$(s3_keys "$sub/"); then
        echo "dr-drill: cannot list s3://$bucket/$sub/ to check it is empty" >&2
        rc=1
    elif [ -n "$left" ]; then
        echo "dr-drill: could not remove from the store (remove by hand):" >&2
        sed "s|^|  s3://$bucket/|" <<<"$left" >&2
        rc=1
    elif [ -n "${CAPV_DR_DRILL_INNER:-}" ] && [ -n "$(s3_keys "${base:+$base/}")" ]; then
        echo "dr-drill: objects left under s3://$bucket/$base/" >&2
        rc=1
    elif [ -n "$rname" ]; then
        echo "removed the drill's copy from the store"
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
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

echo "== DR drill: $rows entries, off-site store $CAPV_BACKUP_S3_URL/ (the drill's own prefix) =="
phase build "$tool" fill "$db" "$rows"
size=$(stat -c %s "$db")
phase backup "$cli" registry backup --db "$db" --dir "$work/volume/backups"
name=$(basename "$(ls "$work"/volume/backups/registry-*.sqlite)" .sqlite)
rname=$name-$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["sha3_256"][2:18])' \
    "$work/volume/backups/$name.json")
phase upload "$cli" registry backup --upload --dir "$work/volume/backups" --json
# exactly the copy uploaded: whatever else the store holds is not the drill's
remote=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if "{\"path\"" in line:
        print(json.loads(line[line.index("{\"path\""):])["uploaded"]["url"])
        break' "$work/upload.log")
[ "$remote" = "s3://$bucket/$sub/$rname.sqlite" ] || { echo "dr-drill: uploaded '$remote', not $rname" >&2; exit 1; }
# the given prefix does not list it (an error listing it is no failure of the drill)
if "$cli" registry backup --list --remote --s3-url "$given" --json 2>/dev/null |
    python3 -c 'import json, sys; sys.exit(0 if any(b["url"] == sys.argv[1] for b in json.load(sys.stdin)) else 1)' "$remote"; then
    echo "dr-drill: s3://$bucket/${base:+$base/} lists the drill's copy" >&2
    exit 1
fi
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
