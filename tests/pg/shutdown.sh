#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SIGTERM with a full record queue on a PostgreSQL registry (docs/registry.md "Recording
# verifications", "Durability"); run through tests/pg/with_pg.sh, which starts the database:
# PostgreSQL is stopped, and exactly registry.record_queue_max verifications are answered 200
# while their records wait: the queue is full, none dropped. SIGTERM: the daemon's wait for
# the queue ends with every record unwritten (logged), and PostgreSQL is started again while
# the daemon closes the registry (which tries again for 10 s): the daemon exits 0 and every
# record is in the database. (Records queued at SIGTERM on SQLite: tests/daemon/lifecycle.sh.)
#   shutdown.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR
PG_URL=${CAPV_TEST_PG_URL:-}
PG_CTL=${CAPV_TEST_PG_CTL:-}
source "$(dirname "$0")/../daemon/lib.sh"
t_init "$@"
if [ -z "$PG_URL" ] || [ -z "$PG_CTL" ] || ! command -v psql >/dev/null; then
    skip_missing "SIGTERM with a full record queue on PostgreSQL" \
        "a PostgreSQL server, its pg_ctl and psql (run through tests/pg/with_pg.sh)"
    t_done
fi
if ! command -v hey >/dev/null; then
    skip_missing "SIGTERM with a full record queue on PostgreSQL" "hey (Debian package hey)"
    t_done
fi
QUEUE=300 # a multiple of hey's 6 workers (it sends n rounded down to one)

daemon_start q "${SAMPLE_ARGS[@]}" --set "registry.url=$PG_URL" \
    --set "registry.record_queue_max=$QUEUE" || t_done
registry_down() {
    curl -s --max-time 2 "$D_ADMIN_URL/readyz" |
        jq -e '.checks[] | select(.name == "registry") | .ok == false' >/dev/null 2>&1
}
if ! $PG_CTL stop -m fast >/dev/null; then
    fail "PostgreSQL stopped" "$PG_CTL stop -m fast failed"
    t_done
fi
stopped=$(date +%s.%N)
assert_ne "PostgreSQL stopped: the registry check of /readyz goes false" \
    "$(seconds_until "$stopped" 50 registry_down)" ""

# the queue's worth of verifications, answered while their records wait
hey -n "$QUEUE" -c 6 -t 10 -m POST -T application/zip -D "$SAMPLE/sample.zip" "$D_URL/verify" \
    >"$TMP/hey.out" 2>&1
# the status code distribution's line "  [200]<TAB>N responses"
answered=$(awk '$1 == "[200]" { print $2; exit }' "$TMP/hey.out")
awk '/^(Status code|Error) distribution:/ { p = 1 } /^$/ { p = 0 } p { print "# " $0 }' \
    "$TMP/hey.out"
curl -s --max-time 5 "$D_ADMIN_URL/metrics" >"$TMP/metrics"
depth=$(metric "$TMP/metrics" cap_verifier_registry_queue_depth)
echo "# $answered answers 200, $depth records queued at SIGTERM"
assert_eq "every verification is answered 200" "${answered:-0}" "$QUEUE"
assert_eq "the queue is full (registry.record_queue_max records wait)" "$depth" "$QUEUE"
assert_eq "... and no record was dropped" \
    "$(metric "$TMP/metrics" cap_verifier_registry_records_dropped_total)" 0

kill -TERM "$D_PID"
term=$(date +%s.%N)
# the daemon waits 5 s for the queue, logs the records still unwritten and closes the
# registry, which tries again for 10 s: the database comes back during that close
unwritten() { grep '"event":"records_unwritten"' "$D_LOG" | jq -r .records | grep .; }
logged() { unwritten >/dev/null; }
logged=$(seconds_until "$term" 150 logged)
echo "# records_unwritten logged ${logged:-never} s after SIGTERM"
assert_eq "the daemon's wait for the queue ends with the full queue unwritten (log)" \
    "$(unwritten)" "$QUEUE"
if $PG_CTL start >/dev/null; then
    pass "PostgreSQL started again while the daemon closes the registry"
else
    fail "PostgreSQL started again while the daemon closes the registry" "$PG_CTL start failed"
fi
daemon_wait_exit "$D_PID" 40
echo "# the daemon exited $(awk -v a="$term" -v b="$(date +%s.%N)" \
    'BEGIN { printf "%.1f", b - a }') s after SIGTERM"
assert_eq "the daemon exits 0" "$RC" 0
assert_eq "every verification answered 200 is in the database after the exit" \
    "$(psql "$PG_URL" -X -At -c "SELECT count(*) FROM verifications")" "${answered:-none}"
t_done
