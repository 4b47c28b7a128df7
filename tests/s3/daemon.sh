#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# capverifyd's off-site copies (backup.s3.*; docs/registry.md "Off-site copies") against
# s3rver on 127.0.0.1 (tests/s3/lib.sh s3_start, restartable on its port):
#   - --check-config: the settings pass; plain http off loopback, missing credentials fail;
#   - POST /admin/backup -> the backup is uploaded by the uploader thread, with the
#     credentials of backup.s3.credentials_file (a mounted Secret), which never reach a log;
#     cap_verifier_backup_upload_total{result="ok"} and
#     cap_verifier_backup_last_upload_success_timestamp_seconds follow;
#   - the store down: the local backup is still made, the failed upload counted as error and
#     retried (backup.s3.retry_seconds) until the store is back;
#   - backup.s3.retain keeps the store at two copies;
#   - a restart derives both last-success timestamps from the newest local and remote backup,
#     so BackupStale / BackupOffsiteStale do not start from zero;
#   - a backup whose upload had not succeeded before a restart is uploaded after it;
#   - the store down at start, back later: the listing is tried again and sets the
#     last-upload time without an upload;
#   - copies dated in the future (created_at in 2099): not taken as the newest at start (a
#     WARN names them), neither counted nor deleted by the retention after an upload;
#   - SIGTERM while the store hangs on an upload and a scheduled backup runs onto a slow
#     volume: the upload is given up at once, before the backup ends, and the exit is 0
#     (and a SQLite daemon's schedule logs no backup_leader: there is no takeover);
#     SIGTERM while the retention after an upload hangs: no retention warning.
#   daemon.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/../daemon/lib.sh"
source "$(dirname "$0")/lib.sh"
t_init "$@"
s3_init
cd "$TMP" || exit 2
B=$S3_BUCKET
SECRET=never-logged-Zq9xK2
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = %s\n' "$SECRET" >creds
chmod 600 creds

s3_start store
port=$S3_PORT
EP=$S3_ENDPOINT
S3SETS=(--set "backup.s3.url=s3://$B/daemon" --set "backup.s3.endpoint=$EP"
    --set backup.s3.path_style=true --set "backup.s3.credentials_file=$TMP/creds"
    --set backup.s3.retain=2 --set backup.s3.retry_seconds=1 --set backup.interval_seconds=0)
# the daemon gets its credentials from the file only
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

# ---- --check-config ---------------------------------------------------------------------
mkdir -p conf
"$DAEMON" --check-config --config-dir conf "${S3SETS[@]}" --set "backup.dir=$TMP/cbk" \
    --set "registry.path=$TMP/c.sqlite" >out.txt 2>&1
assert_eq "--check-config accepts the backup.s3 settings" "$?" 0
"$DAEMON" --check-config --config-dir conf "${S3SETS[@]}" --set backup.s3.endpoint=http://192.0.2.10:9000 \
    --set "backup.dir=$TMP/cbk" --set "registry.path=$TMP/c.sqlite" >out.txt 2>&1
assert_eq "--check-config: plain http off loopback fails (exit 3)" "$?" 3
assert_match "... naming the key" "$(cat out.txt)" "backup.s3.endpoint: .*only allowed for a loopback"
"$DAEMON" --check-config --config-dir conf "${S3SETS[@]}" --set backup.s3.credentials_file= \
    --set "backup.dir=$TMP/cbk" --set "registry.path=$TMP/c.sqlite" >out.txt 2>&1
assert_eq "--check-config: no credentials at all fails (exit 3)" "$?" 3
assert_match "... naming the key" "$(cat out.txt)" "backup.s3.credentials_file: empty, and AWS_ACCESS_KEY_ID"
printf 'backup:\n  s3:\n    url: s3://%s/daemon\n    endpoint: %s\n    path_style: true\n' "$B" "$EP" \
    >conf/backup.yaml
"$DAEMON" --check-config --config-dir conf --set "backup.s3.credentials_file=$TMP/creds" \
    --set "backup.dir=$TMP/cbk" --set "registry.path=$TMP/c.sqlite" >out.txt 2>&1
assert_eq "--check-config reads the nested YAML form (backup: s3: url:)" "$?" 0
rm conf/backup.yaml

# ---- upload after a backup ----------------------------------------------------------------
scrape() { curl -s --max-time 5 "$D_ADMIN_URL/metrics" >metrics.txt; }
# log_has REGEX: up to 5 s for a line of the daemon's log matching REGEX. The uploader logs
# after it counts (the metrics can be seen first), and INFO lines are written together
# every logging.flush_ms.
log_has() {
    local i
    for i in $(seq 1 50); do
        grep -q "$1" "$D_LOG" && return 0
        sleep 0.1
    done
    return 1
}
# wait_metric SERIES MIN: up to 60 s for SERIES >= MIN
wait_metric() {
    local i
    for i in $(seq 1 300); do
        scrape
        local v
        v=$(metric metrics.txt "$1")
        if [ -n "$v" ] && awk -v a="$v" -v b="$2" 'BEGIN { exit !(a >= b) }'; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}
# store_key LOCAL_BACKUP: its key in the store: the local name (the second of created_at) and
# 16 hex digits of its SHA3-256
store_key() { echo "daemon/$(basename "$1" .sqlite)-$(jq -r .sha3_256 "${1%.sqlite}.json" | cut -c3-18).sqlite"; }
OK='cap_verifier_backup_upload_total{result="ok"}'
ERR='cap_verifier_backup_upload_total{result="error"}'
LAST_UP=cap_verifier_backup_last_upload_success_timestamp_seconds
LAST_BK=cap_verifier_backup_last_success_timestamp_seconds

daemon_start d1 "${S3SETS[@]}" || { t_done; }
scrape
assert_eq "metrics: no upload yet" "$(metric metrics.txt "$OK"):$(metric metrics.txt "$ERR")" "0:0"
assert_eq "metrics: no copy in the store yet" "$(metric metrics.txt "$LAST_UP")" 0.000
req POST "$D_URL/admin/backup"
assert_eq "POST /admin/backup: 201" "$STATUS" 201
first=$(body_json .path)
t0=$(date +%s)
wait_metric "$OK" 1
assert_eq "the backup is uploaded: upload_total{result=\"ok\"} 1" "$(metric metrics.txt "$OK")" 1
up=$(metric metrics.txt "$LAST_UP")
assert_le "... last_upload_success_timestamp is now" "$((t0 - 5))" "$up"
n=$(basename "$(store_key "$first")" .sqlite)
ls=$(AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws_s3 "$EP" s3 ls "s3://$B/daemon/" | awk '{print $4}' | tr '\n' ' ')
assert_eq "... file and sidecar in the store" "$ls" "$n.json $n.sqlite "
check "... logged as event backup_upload" log_has '"event":"backup_upload".*off-site copy stored'

# ---- the store down ----------------------------------------------------------------------
stop_pid "$S3_PID"
sleep 1.1 # a new backup name
req POST "$D_URL/admin/backup"
assert_eq "store down: POST /admin/backup still makes the local backup (201)" "$STATUS" 201
second=$(body_json .path)
wait_metric "$ERR" 1
assert_le "... the failed upload is counted as error" 1 "$(metric metrics.txt "$ERR")"
check "... the local backup is kept and complete" test -s "${second%.sqlite}.json"
check "... logged as an error that keeps the local backup" \
    log_has '"event":"backup_upload".*local backup is kept'
check "... and a retry is planned" log_has '"event":"backup_upload_retry"'
s3_start store --port "$port"
wait_metric "$OK" 2
assert_eq "store back: the retry uploads it (upload_total{result=\"ok\"} 2)" "$(metric metrics.txt "$OK")" 2
sleep 1.1
req POST "$D_URL/admin/backup"
third=$(body_json .path)
wait_metric "$OK" 3
remote=$(AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=$SECRET "$CLI" registry backup --list --remote \
    --s3-url "s3://$B/daemon" --s3-endpoint "$EP" --s3-path-style --json)
assert_eq "backup.s3.retain=2: two copies in the store" "$(jq length <<<"$remote")" 2
assert_eq "... the newest is the last backup" "$(jq -r '.[0].key' <<<"$remote")" "$(store_key "$third")"
check "the secret never reaches a log" bash -c "! grep -q '$SECRET' '$D_LOG' '$D_DIR/stderr.log'"

# ---- a restart derives the timestamps ------------------------------------------------------
scrape
before_up=$(metric metrics.txt "$LAST_UP")
daemon_stop "capverifyd (first run)"
daemon_start d1 "${S3SETS[@]}" || { t_done; }
newest_local=$("$CLI" registry backup --list --dir "$D_DIR/backups" --json | jq -r '.[0].created_at')
want_bk=$(date -d "$newest_local" +%s)
uploaded=$(jq -r '.[0].uploaded_at' <<<"$remote")
want_up=$(date -d "$uploaded" +%s)
wait_metric "$LAST_UP" 1
got_bk=$(metric metrics.txt "$LAST_BK")
got_up=$(metric metrics.txt "$LAST_UP")
assert_eq "after a restart last_success_timestamp = the newest local backup" "${got_bk%.*}" "$want_bk"
assert_eq "... last_upload_success_timestamp = the newest complete copy in the store" "${got_up%.*}" "$want_up"
assert_le "... not later than before the restart" "$got_up" "$before_up"
assert_eq "... and the counters start at zero" "$(metric metrics.txt "$OK")" 0
daemon_stop "capverifyd (second run)"

# the store down at start: the local time still comes back, the upload time stays unknown
stop_pid "$S3_PID"
daemon_start d1 "${S3SETS[@]}" || { t_done; }
for _ in $(seq 1 100); do
    grep -q '"event":"backup_upload_seed"' "$D_LOG" && break
    sleep 0.2
done
check "store down at start: a warning, not a failure" \
    grep -q '"event":"backup_upload_seed".*cannot list the off-site copies' "$D_LOG"
scrape
assert_eq "... last_success_timestamp still from the local backups" "$(metric metrics.txt "$LAST_BK" | cut -d. -f1)" "$want_bk"
# a backup whose upload fails, then a restart before its retry: the next start uploads it
sleep 1.1
req POST "$D_URL/admin/backup"
assert_eq "store down: a backup (201)" "$STATUS" 201
fourth=$(body_json .path)
daemon_stop "capverifyd (third run)"
s3_start store --port "$port"
daemon_start d1 "${S3SETS[@]}" || { t_done; }
wait_metric "$OK" 1
check "after the restart the backup the store lacks is queued" \
    log_has '"event":"backup_upload_catch_up".*no off-site copy yet'
remote=$(AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=$SECRET "$CLI" registry backup --list --remote \
    --s3-url "s3://$B/daemon" --s3-endpoint "$EP" --s3-path-style --json)
assert_eq "... and uploaded: the newest copy in the store" "$(jq -r '.[0].key' <<<"$remote")" \
    "$(store_key "$fourth")"
daemon_stop "capverifyd (fourth run)"

# ---- the store down at start, back later ------------------------------------------------
# A daemon with no local backup (nothing to catch up, so nothing to upload) starts while the
# store is down: the listing at start fails, and is tried again (backup.s3.retry_seconds=1,
# doubling) until the store is back; then the last-upload time is the store's newest copy,
# without an upload. Before, it stayed 0 until the next upload, and BackupOffsiteStale with
# it.
stop_pid "$S3_PID"
daemon_start d2 "${S3SETS[@]}" || t_done
for _ in $(seq 1 150); do # its requests are retried for a few seconds first
    grep -q '"event":"backup_upload_seed"' "$D_LOG" && break
    sleep 0.2
done
check "store down at start: the listing fails (a warning)" \
    grep -q '"event":"backup_upload_seed".*cannot list the off-site copies' "$D_LOG"
scrape
assert_eq "... the last-upload time unknown (0)" "$(metric metrics.txt "$LAST_UP")" 0.000
s3_start store --port "$port"
remote=$(AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=$SECRET "$CLI" registry backup --list --remote \
    --s3-url "s3://$B/daemon" --s3-endpoint "$EP" --s3-path-style --json)
want_up=$(date -d "$(jq -r '[.[].uploaded_at] | max' <<<"$remote")" +%s)
wait_metric "$LAST_UP" 1
got_up=$(metric metrics.txt "$LAST_UP")
assert_eq "store back: the listing again sets the last-upload time to the newest copy's" \
    "${got_up%.*}" "$want_up"
assert_eq "... without an upload" "$(metric metrics.txt "$OK"):$(metric metrics.txt "$ERR")" "0:0"
check "... logged once it succeeds" \
    log_has '"event":"backup_upload_seed".*listed again after a failure'
assert_eq "... the failure logged once" \
    "$(grep -c '"event":"backup_upload_seed".*cannot list' "$D_LOG")" 1
daemon_stop "capverifyd (store down at start)"

# ---- copies dated in the future --------------------------------------------------------
# Two pairs whose sidecars' created_at lie in 2099 (a CLI upload from a machine whose clock
# is far ahead, or a pair written by hand): a daemon's start does not take them as the
# newest (BackupStale would stay silent until 2099: the metrics never go down), it warns
# naming them, and its retention after an upload neither counts them (two of them would push
# out every real copy, the new one included) nor deletes them.
aws_d() { AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws_s3 "$EP" "$@"; }
remote=$(AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=$SECRET "$CLI" registry backup --list --remote \
    --s3-url "s3://$B/daemon" --s3-endpoint "$EP" --s3-path-style --json)
real_key=$(jq -r '.[0].key' <<<"$remote")
want_bk=$(date -d "$(jq -r '.[0].created_at' <<<"$remote")" +%s)
aws_d s3 cp "s3://$B/$real_key" ahead.sqlite >/dev/null
aws_d s3 cp "s3://$B/${real_key%.sqlite}.json" ahead-src.json >/dev/null
for day in 01 02; do
    jq -c ".created_at = \"2099-01-${day}T00:00:00.000Z\"" ahead-src.json >"ahead-$day.json"
    aws_d s3 cp ahead.sqlite "s3://$B/daemon/registry-209901${day}T000000Z.sqlite" >/dev/null
    aws_d s3 cp "ahead-$day.json" "s3://$B/daemon/registry-209901${day}T000000Z.json" >/dev/null
done
assert_eq "two future-dated pairs beside two real copies" \
    "$(AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=$SECRET "$CLI" registry backup --list --remote \
        --s3-url "s3://$B/daemon" --s3-endpoint "$EP" --s3-path-style --json | jq length)" 4
daemon_start d3 "${S3SETS[@]}" || t_done
wait_metric "$LAST_UP" 1
wait_metric "$LAST_BK" 1
check "a start warns of the copies dated in the future, naming the newest" \
    log_has '"event":"backup_upload_ahead".*registry-20990102T000000Z.sqlite'
assert_eq "... last_success_timestamp = the newest copy not dated ahead" \
    "$(metric metrics.txt "$LAST_BK" | cut -d. -f1)" "$want_bk"
req POST "$D_URL/admin/backup"
assert_eq "a backup beside them (201)" "$STATUS" 201
ahead_new=$(body_json .path)
wait_metric "$OK" 1
remote=$(AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=$SECRET "$CLI" registry backup --list --remote \
    --s3-url "s3://$B/daemon" --s3-endpoint "$EP" --s3-path-style --json)
assert_eq "retention 2 keeps two real copies, the new one included, and the future-dated ones" \
    "$(jq -r '[.[].key] | sort | join(" ")' <<<"$remote")" \
    "$(printf '%s\n' "$(store_key "$ahead_new")" "$real_key" daemon/registry-20990101T000000Z.sqlite \
        daemon/registry-20990102T000000Z.sqlite | sort | tr '\n' ' ' | sed 's/ $//')"
daemon_stop "capverifyd (copies dated ahead)"
for day in 01 02; do
    aws_d s3 rm "s3://$B/daemon/registry-209901${day}T000000Z.json" >/dev/null
    aws_d s3 rm "s3://$B/daemon/registry-209901${day}T000000Z.sqlite" >/dev/null
done

# ---- shutdown during an upload and a scheduled backup ------------------------------------
# The store hangs on every backup file (the fault proxy takes the PUT in and never answers);
# a scheduled backup runs onto a slow volume (the fault shim: 100 ms a write) when SIGTERM
# comes. The upload is cancelled at once, not after the grace period (5 s) or that backup;
# the daemon exits 0 once the backup is written.
proxy_start hang "$EP" --stall PUT:.sqlite || t_done
BK_DIR=$(readlink -f "$TMP/d1/backups")
if ! shim_daemon HOSTILE_FAULT_DIR="$BK_DIR" HOSTILE_FAULT_FLAG="$TMP/slow.flag" \
    HOSTILE_FAULT_DELAY_MS=100; then
    skip_missing "shutdown during an upload and a backup" "a C compiler for the shim: $(cat "$TMP/cc.err")"
else
    # the newest backup is older than the interval: the first tick starts one (fast, the
    # flag is off), whose upload hangs; the next, two seconds later, is slow
    daemon_start d1 "${S3SETS[@]}" --set "backup.s3.endpoint=$P_ENDPOINT" \
        --set backup.interval_seconds=2 --set shutdown.grace_seconds=5 || t_done
    DAEMON=$T_DAEMON
    for _ in $(seq 1 100); do
        grep -q '^PUT .*\.sqlite stalled' "$P_LOG" && break
        sleep 0.1
    done
    touch "$TMP/slow.flag"
    for _ in $(seq 1 100); do
        ls -A "$BK_DIR" | grep -q '\.tmp\.' && break
        sleep 0.05
    done
    check "the store hangs on an upload and a slow scheduled backup runs" \
        bash -c "grep -q '^PUT .*\.sqlite stalled' '$P_LOG' && ls -A '$BK_DIR' | grep -q '\.tmp\.'"
    sigterm_at=$(date +%s.%N)
    kill -TERM "$D_PID"
    daemon_wait_exit "$D_PID" 60
    assert_eq "SIGTERM then: capverifyd exits 0" "$RC" 0
    rm -f "$TMP/slow.flag"
    closed=$(awk '$3 == "closed-by-client" { print $4; exit }' "$P_LOG")
    written=$(jq -r 'select(.event == "backup" and .path != null) | .timestamp' "$D_LOG" | tail -n 1)
    check "... the hanging upload was given up" test -n "$closed"
    assert_le "... within 3 s of SIGTERM (ms)" \
        "$(awk -v a="$sigterm_at" -v b="${closed:-0}" 'BEGIN { printf "%d", (b - a) * 1000 }')" 3000
    check "... before the running backup was written" \
        awk -v c="${closed:-1e12}" -v w="$(date -d "$written" +%s.%N 2>/dev/null || echo 0)" \
        'BEGIN { exit !(c < w) }'
    check "... whose file and sidecar are complete" test -s "$(ls -t "$BK_DIR"/*.json | head -n 1)"
    # a SQLite registry has one daemon: no leadership to take over, no second listing
    check "a SQLite daemon's scheduled backups log no backup_leader" \
        bash -c "! grep -q '\"event\":\"backup_leader\"' '$D_LOG'"
fi
stop_pid "$P_PID"

# ---- shutdown during the retention after an upload ---------------------------------------
# The store hangs on every DELETE: the newest local backup (the store lacks it) is uploaded
# at start, and the retention after it (backup.s3.retain=2; the store holds two) hangs until
# SIGTERM cancels it. The copy is reported stored; the retention the shutdown cut short is
# no warning.
proxy_start prune "$EP" --stall DELETE || t_done
daemon_start d1 "${S3SETS[@]}" --set "backup.s3.endpoint=$P_ENDPOINT" || t_done
for _ in $(seq 1 100); do
    grep -q '^DELETE .* stalled' "$P_LOG" && break
    sleep 0.1
done
check "an upload at start, then its retention hangs" grep -q '^DELETE .* stalled' "$P_LOG"
kill -TERM "$D_PID"
daemon_wait_exit "$D_PID" 30
assert_eq "SIGTERM then: capverifyd exits 0" "$RC" 0
check "... the copy is reported stored" grep -q '"event":"backup_upload".*off-site copy stored' "$D_LOG"
check "... and the cut retention is no warning" bash -c "! grep -q backup_upload_retention '$D_LOG'"
stop_pid "$P_PID"

t_done
