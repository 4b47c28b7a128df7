#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Large answers within the memory budget (docs/hardening.md#memory-budget): GET routes that
# build their answer from stored data reserve what building it may hold before they build it.
# 1. A stored policy of 40,000 rules (an IR of about 5 MB, whose load holds about 65 MB),
#    asked for by 16 clients at once (3 requests each) against a 256 MiB budget with
#    server.memory_wait_ms=500: every answer is 200 or 503 overloaded with Retry-After, some
#    are 503 (each load reserves 24 times the IR: two at a time fit), the refusals are counted
#    in cap_verifier_memory_rejections_total, the daemon's VmRSS peaks at ≤ baseline +
#    budget + 32 MiB (what is held, within the budget; the memory a large answer freed goes
#    back to the system as its reservation ends, or the worker threads' malloc arenas keep it:
#    328 MiB that way on an idle machine, 574 MiB under CI; measured 229-246 MiB; without
#    reservations the 48 loads took 1.2 GB), and /healthz, /readyz and /metrics
#    answer within 0.5 s meanwhile (they never wait for the budget).
# 2. Reads of a stored policy do not take turns: its size comes from the database, without
#    reading the IR (capv_registry_get_policy_head). 4 clients at once, in 3 rounds, ask for
#    the same policy (its IR of part 1) with room for all four loads in a 512 MiB budget and
#    server.memory_wait_ms=0: every answer is 200 and none is counted in
#    cap_verifier_memory_rejections_total. Until 2026-12-08 the IR was read to learn its size,
#    one request at a time, and a read that waited for the one in progress past
#    server.memory_wait_ms was answered 503 overloaded, as if memory were short.
# 3. A registry page of 1,000 entries reserves 1,000 entries' worst case (16 MB) before it is
#    read: beside a chunked upload holding 1 MiB of a 16 MiB budget (server.memory_wait_ms=0)
#    it gets 503 overloaded with Retry-After, even in an empty registry; a page of 10 entries
#    beside it is served.
#   answers.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib_hostile.sh"
h_init "$@"
MiB=1048576
BUDGET=$((256 * MiB))
N=16

"$PY" - 40000 >"$TMP/policy.json" <<'PY'
import json, sys
rules = [{"id": "r%06d" % i, "op": "range_min", "lhs": {"var": "supplier_hashes"}, "rhs": 1}
         for i in range(int(sys.argv[1]))]
print(json.dumps({"persist": True,
                  "policy": {"id": "big.rules", "version": "1.0",
                             "legal_basis": [{"directive": "LkSG", "article": "§3"}],
                             "description": "many rules",
                             "inputs": {"supplier_hashes": {"type": "array", "items": "string"}},
                             "rules": rules}}))
PY
daemon_start policy "${SAMPLE_ARGS[@]}" --set "server.memory_budget_bytes=$BUDGET" \
    --set server.memory_wait_ms=500 || h_done
req POST "$D_URL/policy/compile" -H 'Content-Type: application/json' \
    --data-binary "@$TMP/policy.json"
assert_eq "the 40,000-rule policy is compiled and stored" "$STATUS" 200
curl -s -o "$TMP/ir.json" "$D_URL/policy/big.rules"
ir_bytes=$(wc -c <"$TMP/ir.json")
figure "compile body $(wc -c <"$TMP/policy.json") bytes; stored IR $ir_bytes bytes"
sleep 1.5 # the budget's trim after the compile (at most once a second)
baseline=$(rss_kib "$D_PID")

# ---- 1. many clients ask for the large policy --------------------------------------------------
get_policy() { # get_policy I: three GETs in a row
    local k
    for k in 1 2 3; do
        curl -s -o "$TMP/p.$1.$k.body" -D "$TMP/p.$1.$k.headers" -w '%{http_code}\n' \
            --max-time 60 "$D_URL/policy/big.rules" >"$TMP/p.$1.$k.code"
    done
}
"$PY" "$HDIR/rss_sampler.py" "$D_PID" "$TMP/rss.txt" "$TMP/rss.stop" 0.05 120 &
SAMPLER=$!
t_track "$SAMPLER"
pids=()
for i in $(seq $N); do
    get_policy "$i" &
    pids+=("$!")
    t_track "$!"
done
sleep 0.5
probes=""
for url in "$D_ADMIN_URL/healthz" "$D_ADMIN_URL/readyz" "$D_ADMIN_URL/metrics" "$D_URL/healthz"; do
    probes+=" $(curl -s -o /dev/null -w '%{http_code}:%{time_total}' --max-time 5 "$url")"
done
for p in "${pids[@]}"; do
    wait "$p"
done
touch "$TMP/rss.stop"
wait "$SAMPLER"
peak=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$TMP/rss.txt")
cat "$TMP"/p.*.code >"$TMP/codes.txt"
n200=$(grep -c '^200$' "$TMP/codes.txt")
n503=$(grep -c '^503$' "$TMP/codes.txt")
scrape "$TMP/after.metrics"
rejections=$(metric_sum "$TMP/after.metrics" cap_verifier_memory_rejections_total)
figure "$N clients x 3 GET /policy/big.rules: 200=$n200 503=$n503 rejections=$rejections"
figure "rss_mib baseline $((baseline / 1024)) peak $((peak / 1024)) (budget $((BUDGET / MiB)) MiB)"
figure "probes during the burst (status:seconds):$probes"

assert_eq "every GET is answered 200 or 503" "$((n200 + n503))" $((3 * N))
assert_le "some GETs are served" 1 "$n200"
assert_le "some GETs wait past server.memory_wait_ms and get 503" 1 "$n503"
bad=""
for f in "$TMP"/p.*.code; do
    [ "$(cat "$f")" = 503 ] || continue
    b=${f%.code}
    ra=$(tr -d '\r' <"$b.headers" | awk -F': *' 'tolower($1) == "retry-after" { print $2 }')
    code=$(jq -r .error.code "$b.body" 2>/dev/null)
    [ "$ra $code" = "1 overloaded" ] || bad+=" $(basename "$b")(Retry-After='$ra' code=$code)"
done
assert_eq "every 503 is overloaded with Retry-After: 1" "$bad" ""
sizes=$(for f in "$TMP"/p.*.code; do
    [ "$(cat "$f")" = 200 ] && wc -c <"${f%.code}.body"
done | sort -u)
assert_eq "every 200 is the whole IR" "$sizes" "$ir_bytes"
assert_le "the refusals are counted (cap_verifier_memory_rejections_total)" "$n503" "$rejections"
measured_le "peak RSS ≤ baseline + budget + 32 MiB (KiB)" "$peak" \
    $((baseline + (BUDGET + 32 * MiB) / 1024))
for p in $probes; do
    assert_eq "a probe during the burst answers 200 (${p%%:*})" "${p%%:*}" 200
    measured_le "… within 0.5 s" "${p#*:}" 0.5
done
daemon_stop policy

# ---- 2. policy reads do not take turns --------------------------------------------------------
daemon_start heads "${SAMPLE_ARGS[@]}" --set "registry.path=$TMP/policy/registry.sqlite" \
    --set "server.memory_budget_bytes=$((512 * MiB))" --set server.memory_wait_ms=0 || h_done
for round in 1 2 3; do
    pids=()
    for i in 1 2 3 4; do
        curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 "$D_URL/policy/big.rules" \
            >"$TMP/h.$round.$i.code" &
        pids+=("$!")
        t_track "$!"
    done
    for p in "${pids[@]}"; do
        wait "$p"
    done
done
codes=$(cat "$TMP"/h.*.code | sort | uniq -c | awk '{ printf "%s%s=%s", s, $2, $1; s = " " }')
scrape "$TMP/heads.metrics"
rejections=$(metric_sum "$TMP/heads.metrics" cap_verifier_memory_rejections_total)
figure "3 rounds of 4 simultaneous GET /policy/big.rules, memory_wait_ms=0: $codes," \
    "rejections=$rejections"
assert_eq "simultaneous reads of a policy that fit in the budget are all served" "$codes" "200=12"
assert_eq "… and none is counted as a memory rejection" "$rejections" 0
daemon_stop heads

# ---- 3. registry pages reserve their worst case ------------------------------------------------
# A chunked upload arriving holds server.max_body_bytes (1 MiB) of the 16 MiB budget; a page
# of 1,000 entries, which reserves 1,000 entries' worst case (16,384,000 bytes), does not fit
# beside it, even in an empty registry; a page of 10 entries does.
daemon_start pages "${SAMPLE_ARGS[@]}" --set "server.memory_budget_bytes=$((16 * MiB))" \
    --set "server.max_body_bytes=$MiB" --set server.memory_wait_ms=0 || h_done
"$PY" - "$D_API" 3 <<'PY' &
import socket, sys, time
port, hold = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /policy/compile HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n")
time.sleep(hold)
PY
holder=$!
t_track "$holder"
sleep 0.5
req GET "$D_URL/registry/entries?limit=1000"
page_status=$STATUS
page_error="$(jq -r .error.code "$TMP/resp.body" 2>/dev/null) $(hdr Retry-After)"
req GET "$D_URL/registry/entries?limit=10"
figure "beside an upload holding 1 MiB of a 16 MiB budget: a page of 1,000 entries" \
    "$page_status ($page_error), of 10 entries $STATUS"
assert_eq "a page of 1,000 entries that does not fit: 503 overloaded, Retry-After: 1" \
    "$page_status $page_error" "503 overloaded 1"
assert_eq "a page of 10 entries is served" "$STATUS" 200
wait "$holder"
daemon_stop pages
h_done
