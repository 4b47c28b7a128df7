#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A replica taking over the scheduled backups of a PostgreSQL registry while its off-site
# uploader is stuck in an upload (docs/registry.md "Leadership", "Off-site copies"); run
# through tests/pg/with_pg.sh, with s3rver (tests/s3/lib.sh) and the fault proxy:
#   - m1 leads and uploads its backup straight to the store;
#   - m2 reaches the store through the proxy, which never answers a PUT of a backup file:
#     a POST /admin/backup answered by m2 starts an upload that hangs (until its retries run
#     out, minutes);
#   - m1 is killed: m2 takes over, lists the store at once (not after that upload) and makes
#     its scheduled backup when due (backup.interval_seconds=10 after its newest backup),
#     while the upload still hangs; SIGTERM then ends m2 at once, exit 0.
# Until 2026-12-08 the takeover's listing waited behind the upload, and with it every
# scheduled backup.
#   takeover.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR
PG_URL=${CAPV_TEST_PG_URL:-}
source "$(dirname "$0")/../daemon/lib.sh"
source "$(dirname "$0")/lib.sh"
t_init "$@"
if [ -z "$PG_URL" ]; then
    skip_missing "a takeover during an upload" "a PostgreSQL server (run through tests/pg/with_pg.sh)"
    t_done
fi
s3_init
cd "$TMP" || exit 2
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >creds
chmod 600 creds
s3_start store || t_done
proxy_start hang "$S3_ENDPOINT" --stall PUT:.sqlite || t_done
SETS=(--set "registry.url=$PG_URL" --set "backup.s3.url=s3://$S3_BUCKET/takeover"
    --set backup.s3.path_style=true --set "backup.s3.credentials_file=$TMP/creds"
    --set backup.interval_seconds=10)
leads() { curl -s --max-time 5 "$1/metrics" | awk '$1 == "cap_verifier_backup_leader" { print $2 }'; }
copies() { aws_s3 "$S3_ENDPOINT" s3 ls "s3://$S3_BUCKET/takeover/" 2>/dev/null | grep -c '\.sqlite$'; }

daemon_start m1 "${SAMPLE_ARGS[@]}" "${SETS[@]}" --set "backup.s3.endpoint=$S3_ENDPOINT" || t_done
M1=$D_PID
M1_URL=$D_URL
M1_ADMIN=$D_ADMIN_URL
sleep 2
daemon_start m2 "${SAMPLE_ARGS[@]}" "${SETS[@]}" --set "backup.s3.endpoint=$P_ENDPOINT" || t_done
M2=$D_PID
M2_URL=$D_URL
M2_DIR=$D_DIR
M2_LOG=$D_LOG
M2_ADMIN=$D_ADMIN_URL
sleep 1
assert_eq "cap_verifier_backup_leader: m1 1, m2 0" "$(leads "$M1_ADMIN") $(leads "$M2_ADMIN")" "1 0"
req POST "$M1_URL/admin/backup"
assert_eq "m1: POST /admin/backup 201" "$STATUS" 201
uploaded() { [ "$(copies)" = 1 ]; }
assert_ne "m1's backup reaches the store" "$(seconds_until "$(date +%s.%N)" 200 uploaded)" ""

# m2, not the leader, answers a backup; its upload hangs at the proxy
req POST "$M2_URL/admin/backup"
assert_eq "m2: POST /admin/backup 201" "$STATUS" 201
stalled() { grep -q '^PUT .*\.sqlite stalled' "$P_LOG"; }
assert_ne "m2's upload hangs" "$(seconds_until "$(date +%s.%N)" 100 stalled)" ""

kill -KILL "$M1"
wait "$M1" 2>/dev/null
gone=$(date +%s.%N)
m2_leads() { grep -q '"event":"backup_leader"' "$M2_LOG"; }
took=$(seconds_until "$gone" 300 m2_leads)
echo "# m2 planned its backups ${took:-never} s after the leader was killed"
assert_ne "m2 takes over while its upload hangs" "$took" ""
[ -n "$took" ] && assert_le "... within 15 s of the leader's going" "$took" 15
assert_eq "... having listed the store" \
    "$(grep '"event":"backup_leader"' "$M2_LOG" | jq -r .store_listed | tail -n 1)" true
backed_up_twice() { # the manual backup and a scheduled one
    [ "$("$CLI" registry backup --list --dir "$M2_DIR/backups" --json 2>/dev/null | jq length)" -ge 2 ]
}
took=$(seconds_until "$gone" 300 backed_up_twice)
echo "# m2 made its scheduled backup ${took:-never} s after the leader was killed"
assert_ne "m2 makes its scheduled backup while the upload still hangs" "$took" ""
check "... which still hangs" bash -c "! grep -q '\"event\":\"backup_upload\"' '$M2_LOG'"
assert_eq "... and m2's cap_verifier_backup_leader is 1" "$(leads "$M2_ADMIN")" 1
kill -TERM "$M2"
daemon_wait_exit "$M2" 20
assert_eq "SIGTERM: m2 exits 0" "$RC" 0
stop_pid "$P_PID"
t_done
