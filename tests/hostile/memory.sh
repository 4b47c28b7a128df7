#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Memory budget and early answers (docs/configuration.md server.memory_budget_bytes,
# server.memory_wait_ms, server.max_body_bytes; docs/hardening.md#memory-budget).
# 1. 32 concurrent uploads (curl, in parallel) of one zip whose members expand to ~60 MiB
#    (pseudo-random compressible text: a ~1.5 MB zip, each member's ratio ~40 < 100, total
#    below the 64 MiB package limit), against server.memory_budget_bytes=256 MiB and the
#    default memory_wait_ms, with the report cache off (a cached report would skip the
#    decompression this test is about). Every answer is 200 or 503 (503 with Retry-After and
#    error code "overloaded"), none is dropped, at least one is 200; the daemon's VmRSS,
#    sampled every 50 ms, peaks at ≤ budget + 64 MiB and is back within 32 MiB of the
#    baseline (RSS after one warm-up upload of the same zip) 10 s after the last answer.
#    Two uploads declaring 16 MiB and sent at 64 KiB/s hold only their raw bytes in the
#    budget while they arrive (≤ 33 MiB in all), and an upload beside them gets 200; with ten
#    such uploads arriving (160 MiB held), an eleventh, whose worst case (~104 MiB) does not
#    fit, gets 503 overloaded before it sends its body (Expect: 100-continue).
# 2. Expect: 100-continue: a >1 MiB body that verifies quickly is answered without curl's
#    1-second wait; a request its headers already decide (no token with auth on: 401,
#    Content-Length over server.max_body_bytes: 413, wrong Content-Type: 415) is answered
#    before the body is sent (curl uploads 0 bytes) and the connection is closed.
# 3. A chunked JSON body (its length known only at its end) whose worst case, 64 times its
#    size, is above the whole budget gets 413 body_too_large once it arrived, at once; a
#    small one is let in. A policy evaluation sent to /verify, read as a package (whose
#    bound fits), gets the same 413 when 64 times its size is above the budget. A POST with
#    no body at all holds nothing of the budget (not a chunked body's limit).
# 4. A client that reads nothing of a large answer (a compiled policy of 120,000 rules) holds
#    at most the answer and its body's raw bytes of the budget while the daemon waits to
#    write, not the 64 times its body that its handling reserved.
#   memory.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib_hostile.sh"
h_init "$@"
BUDGET=268435456
N=32
MiB=1048576

"$PY" "$HDIR/mkzip.py" bulk "$SAMPLE/sample.zip" "$TMP/bulk.zip" 6 10 >"$TMP/mk.out" ||
    { fail "build the 60 MiB package"; h_done; }
figure "package $(cat "$TMP/mk.out")"

budget_args=(--set "server.memory_budget_bytes=$BUDGET")
daemon_start_checked memory "${SAMPLE_ARGS[@]}" "${budget_args[@]}" --set cache.enabled=false
rc=$?
if [ "$rc" = 2 ]; then
    # the binary does not know the key yet: measure it without a budget all the same
    echo "note: measuring WITHOUT server.memory_budget_bytes (unknown to this binary)"
    daemon_start memory "${SAMPLE_ARGS[@]}" --set cache.enabled=false || h_done
elif [ "$rc" != 0 ]; then
    h_done
fi

upload() { # upload I: one POST /verify of the package, in the background
    curl -s -o "$TMP/up.$1.body" -D "$TMP/up.$1.headers" -w '%{http_code} %{time_total}\n' \
        --max-time 120 -H 'Content-Type: application/zip' --data-binary "@$TMP/bulk.zip" \
        "$D_URL/verify" >"$TMP/up.$1.code" 2>/dev/null
}

# ---- warm-up and baseline ------------------------------------------------------------------------
upload warm
assert_eq "warm-up upload: 200" "$(cut -d' ' -f1 "$TMP/up.warm.code")" 200
figure "warm-up verdict $(jq -r '.result // .error.code' "$TMP/up.warm.body" 2>/dev/null) in $(cut -d' ' -f2 "$TMP/up.warm.code") s"
sleep 1
baseline=$(rss_kib "$D_PID")

# ---- the burst ---------------------------------------------------------------------------------
"$PY" "$HDIR/rss_sampler.py" "$D_PID" "$TMP/rss.txt" "$TMP/rss.stop" 0.05 150 &
SAMPLER=$!
t_track "$SAMPLER"
sleep 0.2
t0=$(date +%s.%N)
pids=()
for i in $(seq $N); do
    upload "$i" &
    pids+=("$!")
    t_track "$!"
done
for p in "${pids[@]}"; do
    wait "$p"
done
t_last=$(date +%s.%N)
burst_rows=$(wc -l <"$TMP/rss.txt")
sleep 10
after=$(rss_kib "$D_PID")
touch "$TMP/rss.stop"
wait "$SAMPLER"
peak=$(head -n "$burst_rows" "$TMP/rss.txt" | awk '$2 > m { m = $2 } END { print m + 0 }')

cat "$TMP"/up.[0-9]*.code >"$TMP/codes.txt"
n200=$(awk '$1 == 200' "$TMP/codes.txt" | wc -l | tr -d ' ')
n503=$(awk '$1 == 503' "$TMP/codes.txt" | wc -l | tr -d ' ')
answered=$(awk '$1 ~ /^[1-5][0-9][0-9]$/' "$TMP/codes.txt" | wc -l | tr -d ' ')
slowest=$(sort -k2 -g "$TMP/codes.txt" | tail -n 1 | awk '{ print $2 }')
figure "burst $N uploads in $(awk -v a="$t0" -v b="$t_last" 'BEGIN { printf "%.1f", b - a }') s: 200=$n200 503=$n503 other=$((N - n200 - n503)) slowest=${slowest}s"
figure "rss_kib baseline $baseline peak $peak after_10s $after (budget $((BUDGET / 1024)) KiB)"
figure "rss_mib baseline $((baseline / 1024)) peak $((peak / 1024)) after_10s $((${after:-0} / 1024))"

assert_eq "every upload got an HTTP answer (none dropped)" "$answered" "$N"
assert_eq "every answer is 200 or 503" "$((n200 + n503))" "$N"
assert_le "at least one upload is served (200)" 1 "$n200"
bad503=""
for i in $(seq $N); do
    [ "$(cut -d' ' -f1 "$TMP/up.$i.code")" = 503 ] || continue
    ra=$(tr -d '\r' <"$TMP/up.$i.headers" | awk -F': *' 'tolower($1) == "retry-after" { print $2 }')
    code=$(jq -r '.error.code' "$TMP/up.$i.body" 2>/dev/null)
    [[ $ra =~ ^[0-9]+$ ]] && [ "$code" = overloaded ] || bad503+=" #$i(Retry-After='$ra' code=$code)"
done
assert_eq "every 503 has Retry-After and error code overloaded" "$bad503" ""
measured_le "peak RSS ≤ budget + 64 MiB (KiB)" "$peak" $(((BUDGET + 64 * MiB) / 1024))
measured_le "RSS 10 s after the burst within 32 MiB of the baseline (KiB)" "${after:-999999999}" \
    $((baseline + 32 * 1024))

# ---- slow uploads hold their raw bytes only ------------------------------------------------------
# Bodies declared at the 16 MiB limit arrive at 64 KiB/s, above the minimum rate: while they
# do, each holds its 16 MiB, not its worst case once handled (about 104 MiB), and an upload
# beside two of them is served. A body is let in only while its worst case fits: beside ten
# of them (160 MiB held) an eleventh is refused, before it sends its body.
slow=()
trickle() { # trickle N: N more slow 16 MiB uploads for 8 s
    local i
    for i in $(seq "$1"); do
        "$PY" "$HDIR/trickle.py" "$D_API" - $((16 * MiB)) 8 65536 >/dev/null &
        slow+=("$!")
        t_track "$!"
    done
}
trickle 2
sleep 1.5
scrape "$TMP/slow.metrics"
reserved=$(metric_sum "$TMP/slow.metrics" cap_verifier_memory_reserved_bytes)
upload beside
figure "two slow 16 MiB uploads: reserved $((reserved / MiB)) MiB; an upload beside them: $(cut -d' ' -f1 "$TMP/up.beside.code")"
assert_le "two slow 16 MiB uploads reserve their raw bytes only (≤ 33 MiB)" "$reserved" $((33 * MiB))
assert_eq "... and an upload beside them is served" "$(cut -d' ' -f1 "$TMP/up.beside.code")" 200
trickle 8
sleep 1
head -c $((16 * MiB)) /dev/zero >"$TMP/16m.bin"
read -r e_status e_upload <<<"$(curl -s -o "$TMP/e11.body" -w '%{http_code} %{size_upload}' \
    --max-time 20 --expect100-timeout 15 -H 'Expect: 100-continue' \
    -H 'Content-Type: application/zip' --data-binary "@$TMP/16m.bin" "$D_URL/verify")"
figure "an eleventh 16 MiB upload beside ten slow ones: $e_status after $e_upload bytes sent"
assert_eq "... is refused, 503 overloaded, before its body (its worst case does not fit)" \
    "$e_status $(jq -r .error.code "$TMP/e11.body" 2>/dev/null) $e_upload" "503 overloaded 0"
wait "${slow[@]}"
rm -f "$TMP/16m.bin"
daemon_stop memory

# ---- Expect: 100-continue ------------------------------------------------------------------------
h_auth_setup
GOOD=$(token expect-client)
MAXBODY=$((2 * MiB))
"$PY" "$HDIR/mkzip.py" pad "$SAMPLE/sample.zip" "$TMP/pad.zip" $((MiB + 200000)) >"$TMP/pad.out"
head -c $((3 * MiB)) /dev/zero >"$TMP/big.bin"
daemon_start expect "${SAMPLE_ARGS[@]}" "${AUTH_ARGS[@]}" \
    --set "server.max_body_bytes=$MAXBODY" || h_done

# expect_curl NAME FILE CONTENT_TYPE [curl args]: sets E_STATUS E_TIME E_UPLOAD
expect_curl() {
    local name=$1 file=$2 ct=$3 out
    shift 3
    out=$(curl -s -o "$TMP/e.body" -w '%{http_code} %{time_total} %{size_upload}' --max-time 10 \
        -H 'Expect: 100-continue' -H "Content-Type: $ct" --data-binary "@$file" "$@" \
        "$D_URL/verify")
    read -r E_STATUS E_TIME E_UPLOAD <<<"$out"
    figure "expect $name: status $E_STATUS time_total ${E_TIME}s size_upload $E_UPLOAD"
}
expect_curl ok "$TMP/pad.zip" application/zip -H "Authorization: Bearer $GOOD"
assert_eq "Expect: 100-continue, $(wc -c <"$TMP/pad.zip") byte package: 200" "$E_STATUS" 200
measured_le "… answered without curl's 1 s Expect wait (time_total, s)" "$E_TIME" 0.5

while read -r name file ct auth want; do
    args=()
    [ "$auth" = token ] && args=(-H "Authorization: Bearer $GOOD")
    expect_curl "$name" "$TMP/$file" "$ct" "${args[@]}"
    assert_eq "$name: $want" "$E_STATUS" "$want"
    assert_eq "$name: answered before the body was sent (size_upload 0)" "$E_UPLOAD" 0
    measured_le "$name: answered at once (time_total, s)" "$E_TIME" 0.5
    tok=""
    [ "$auth" = token ] && tok=$GOOD
    read -r p_status p_closed p_100 p_secs <<<"$("$PY" "$HDIR/expect_probe.py" "$D_API" /verify \
        "$ct" "$(wc -c <"$TMP/$file")" "$tok")"
    figure "expect $name (raw): status $p_status closed $p_closed asked_for_body $p_100 after ${p_secs}s"
    assert_eq "$name (raw headers only): $want without asking for the body (no 100 Continue)" \
        "$p_status $p_100" "$want no"
    assert_match "$name (raw): the connection is closed after the answer" "$p_closed" '^(eof|reset)$'
done <<EOF
no-token pad.zip application/zip none 401
too-large big.bin application/zip token 413
wrong-type pad.zip text/plain token 415
EOF
daemon_stop expect

# ---- 3. a chunked body whose worst case is larger than the whole budget ------------------------
# Its length is known only once it arrived: then 413 (it can never run), not 503 after
# server.memory_wait_ms (which would have the client retry for ever).
daemon_start chunked "${SAMPLE_ARGS[@]}" --set "server.memory_budget_bytes=$((32 * MiB))" \
    --set server.memory_wait_ms=2000 || h_done
"$PY" -c 'import json, sys
print(json.dumps({"rules": [{"id": "r%d" % i, "check": "x" * 40} for i in range(int(sys.argv[1]))]}))' \
    9000 >"$TMP/big.json"
req POST "$D_URL/policy/compile" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary "@$TMP/big.json"
figure "chunked $(wc -c <"$TMP/big.json") byte JSON body, 64 x its size above the 32 MiB budget: $STATUS after $TIME s"
assert_eq "a chunked JSON body whose worst case exceeds the budget: 413" "$STATUS" 413
assert_match "… body_too_large" "$(cat "$TMP/resp.body")" '"code":"body_too_large"'
measured_le "… at once, not after server.memory_wait_ms (s)" "$TIME" 1.5
head -c 2000 "$TMP/big.json" | sed 's/,[^,]*$/]}/' >"$TMP/small.json"
req POST "$D_URL/policy/compile" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary "@$TMP/small.json"
assert_ne "a small chunked JSON body is let in (not 413 or 503)" "$STATUS" 413
assert_ne "… (not 503)" "$STATUS" 503
# Two chunked uploads arriving hold the limit each (16 MiB, all of the budget); a POST
# without any body (neither Content-Length nor Transfer-Encoding) holds nothing: it is
# answered at once, not 503 after server.memory_wait_ms.
"$PY" - "$D_API" 4 <<'PY' &
import socket, sys, time
port, hold = int(sys.argv[1]), float(sys.argv[2])
socks = []
for _ in range(2):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /policy/compile HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n")
    socks.append(s)
time.sleep(hold)
PY
holders=$!
sleep 1
req POST "$D_URL/policy/compile" -H 'Content-Type: application/json'
figure "a POST without a body beside two chunked uploads holding the budget: $STATUS after $TIME s"
assert_ne "a POST without a body while the budget is held: not 503" "$STATUS" 503
measured_le "… answered at once (s)" "$TIME" 0.5
wait "$holders"
daemon_stop chunked

# A policy evaluation sent to /verify is read as a package (a 4 MB package's bound, a few
# times its size, fits in 128 MiB), then parsed whole: its worst case is a JSON tree's, 64
# times its size, above the budget.
daemon_start eval "${SAMPLE_ARGS[@]}" --set "server.memory_budget_bytes=$((128 * MiB))" \
    --set server.memory_wait_ms=500 || h_done
"$PY" -c 'import sys
sys.stdout.write("{\"policy_id\":\"x\",\"context\":{},\"z\":[" + ",".join(["0"] * int(sys.argv[1])) + "]}")' \
    2000000 >"$TMP/eval.json"
req POST "$D_URL/verify" -H 'Content-Type: application/json' --data-binary "@$TMP/eval.json"
figure "a $(wc -c <"$TMP/eval.json") byte policy evaluation to /verify, 64 x its size above the 128 MiB budget: $STATUS"
assert_eq "a policy evaluation whose tree could exceed the budget: 413" "$STATUS" 413
assert_match "… body_too_large" "$(cat "$TMP/resp.body")" '"code":"body_too_large"'
daemon_stop eval

# ---- 4. a client that does not read its answer ------------------------------------------------
# A policy of 120,000 rules (a JSON request of 10 MB: 64 times its body reserved while it is
# handled, so a budget of 1 GiB) compiles to an answer larger than the kernel's largest send
# buffer (4 MiB); the client shrinks its receive buffer and, once the answer begins, reads
# nothing, so the daemon waits in the write. Meanwhile the request holds at most its answer
# and its body's raw bytes, not the worst case of its handling.
daemon_start unread "${SAMPLE_ARGS[@]}" --set "server.memory_budget_bytes=$((1024 * MiB))" || h_done
"$PY" - 120000 >"$TMP/many.json" <<'PY'
import json, sys
rules = [{"id": "r%06d" % i, "op": "range_min", "lhs": {"var": "supplier_hashes"}, "rhs": 1}
         for i in range(int(sys.argv[1]))]
print(json.dumps({"policy": {"id": "many.rules", "version": "1.0",
                             "legal_basis": [{"directive": "LkSG", "article": "§3"}],
                             "description": "many rules",
                             "inputs": {"supplier_hashes": {"type": "array", "items": "string"}},
                             "rules": rules}}))
PY
"$PY" - "$D_API" "$TMP/many.json" "$TMP/unread.started" 60 >"$TMP/unread.out" <<'PY' &
import os, socket, sys, time
port, path, started, limit = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
body = open(path, "rb").read()
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.sendall(b"POST /policy/compile HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % len(body) + body)
end = time.time() + limit
while time.time() < end:  # the answer has begun when its first bytes can be peeked at
    try:
        if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
            break
    except BlockingIOError:
        pass
    time.sleep(0.05)
open(started, "w").close()
while not os.path.exists(started + ".done") and time.time() < end:
    time.sleep(0.05)
print(s.recv(200).split(b"\r\n")[0].decode())
PY
unread=$!
body_bytes=$(wc -c <"$TMP/many.json")
for _ in $(seq 600); do [ -e "$TMP/unread.started" ] && break; sleep 0.1; done
sleep 1
scrape "$TMP/unread.metrics"
held=$(metric_sum "$TMP/unread.metrics" cap_verifier_memory_reserved_bytes)
inflight=$(metric_sum "$TMP/unread.metrics" cap_verifier_inflight_requests)
touch "$TMP/unread.started.done"
wait "$unread"
figure "unread answer: body $body_bytes bytes; 1 s after the answer began: $inflight request(s) in flight, $held bytes reserved; the answer began '$(cat "$TMP/unread.out")'"
assert_match "the policy compiled (200)" "$(cat "$TMP/unread.out")" ' 200 '
assert_le "… and its answer was still being written 1 s after it began" 2 "$inflight"
assert_le "a client that does not read holds at most its answer and body: reserved ≤ 4 x body" \
    "$held" $((4 * body_bytes))
daemon_stop unread
h_done
