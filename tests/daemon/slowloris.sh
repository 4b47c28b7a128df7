#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Slow clients cannot starve the probes (docs/hardening.md): slowhttptest holds 600 slowloris
# connections against the API port (8 worker threads, so the API is starved) for 12 s, while
# /healthz on the admin port, polled every 200 ms, answers 200 within 100 ms every time.
# Bounded: 600 connections, 12 s, loopback only.
#   slowloris.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib.sh"
t_init "$@"
command -v slowhttptest >/dev/null ||
    { fail "slowhttptest is installed (scripts/install-deps.sh)"; t_done; }

CONNECTIONS=600
DURATION=12
# one descriptor per connection for slowhttptest, and room for the daemon (it inherits this)
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
assert_le "the fd limit allows $CONNECTIONS connections" $((CONNECTIONS + 100)) "$(ulimit -n)"

daemon_start slowloris --set server.threads=8 --set server.admin_threads=2 || t_done

timeout $((DURATION + 20)) slowhttptest -H -c $CONNECTIONS -r 300 -i 5 -x 24 -p 1 \
    -l $DURATION -t GET -u "$D_URL/healthz" -g -o "$TMP/slow" >"$TMP/slow.out" 2>&1 &
ATTACK=$!
t_track "$ATTACK"
sleep 3 # the connections ramp up at 300/s

# poll: admin /healthz every 200 ms (must answer), API /healthz once a second (may starve)
: >"$TMP/admin.txt"
: >"$TMP/api.txt"
i=0
while kill -0 "$ATTACK" 2>/dev/null && [ $i -lt $(((DURATION + 5) * 5)) ]; do
    curl -s -o /dev/null --max-time 1 -w '%{http_code} %{time_total}\n' \
        "$D_ADMIN_URL/healthz" >>"$TMP/admin.txt"
    if [ $((i % 5)) = 0 ]; then
        curl -s -o /dev/null --max-time 0.5 -w '%{http_code}\n' "$D_URL/healthz" >>"$TMP/api.txt"
    fi
    i=$((i + 1))
    sleep 0.2
done
daemon_wait_exit "$ATTACK" 30

polls=$(wc -l <"$TMP/admin.txt")
assert_le "admin /healthz was polled throughout (≥ 30 polls)" 30 "$polls"
assert_eq "every admin /healthz answered 200" \
    "$(awk '$1 != 200' "$TMP/admin.txt" | wc -l | tr -d ' ')" 0
slowest=$(sort -k2 -g "$TMP/admin.txt" | tail -n 1 | awk '{ print $2 }')
assert_le "every admin /healthz answered within 100 ms (slowest ${slowest:-?} s)" "${slowest:-9}" 0.1

# the attack was real: many connections held, the API starved
if [ -s "$TMP/slow.csv" ]; then
    held=$(awk -F, 'NR > 1 && $4 + 0 > m { m = $4 + 0 } END { print m + 0 }' "$TMP/slow.csv")
    opened=$(awk -F, 'NR > 1 && $3 + $4 > m { m = $3 + $4 } END { print m + 0 }' "$TMP/slow.csv")
    assert_le "slowhttptest opened ≥ 500 connections to the API port ($opened)" 500 "$opened"
    assert_le "slowhttptest held far more connections than worker threads ($held)" 100 "$held"
else
    fail "slowhttptest wrote its statistics" "$(tail -n 5 "$TMP/slow.out")"
fi
starved=$(awk '$1 != 200' "$TMP/api.txt" | wc -l | tr -d ' ')
assert_le "the API port was starved during the attack ($starved probes failed)" 1 "$starved"

# after the attack the API serves again
if wait_healthz "$D_URL" "$D_PID"; then
    pass "the API port recovers after the attack"
else
    fail "the API port recovers after the attack"
fi
daemon_stop
t_done
