#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Lifecycle and configuration (docs/configuration.md): SIGTERM drains (readiness off at once,
# still serving during the grace period, in-flight requests complete, exit 0), SIGTERM under
# load loses no request, a request still running when shutdown.timeout_seconds ends is cut,
# counted in the log (event=shutdown_cut) and makes the exit status 1, --check-config names
# file, line and key of every mistake, SIGTERM with verification records still queued writes
# every one of them before the exit (docs/registry.md#recording-verifications), the environment overrides files and flags override
# both, and a start with no configuration at all works and warns that authentication is off.
#   lifecycle.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib.sh"
t_init "$@"
T_DOCUMENT_ALL=1 # every answer is checked against docs/api/openapi.json at t_done (lib.sh)

# ---- SIGTERM with records queued ------------------------------------------------------------
# Records wait up to registry.record_flush_ms (the largest, 1 s) unless a full batch (512)
# is queued: 300 quick verifications are still in the queue when SIGTERM comes. (A full
# queue on a PostgreSQL registry that is down at SIGTERM: tests/pg/shutdown.sh.)
if command -v hey >/dev/null; then
    daemon_start queued "${SAMPLE_ARGS[@]}" --set registry.record_flush_ms=1000 || t_done
    hey -n 300 -c 8 -t 10 -m POST -T application/zip -D "$SAMPLE/sample.zip" "$D_URL/verify" \
        >"$TMP/hey-queued.out" 2>&1
    curl -s --max-time 5 "$D_ADMIN_URL/metrics" >"$TMP/queued.metrics"
    depth=$(metric "$TMP/queued.metrics" cap_verifier_registry_queue_depth)
    kill -TERM "$D_PID"
    daemon_wait_exit "$D_PID" 40
    assert_eq "queued: exit 0 after SIGTERM" "$RC" 0
    # the status code distribution's line "  [200]<TAB>N responses" (an error line of hey's
    # may also contain "[200]")
    answered=$(awk '$1 == "[200]" { print $2; exit }' "$TMP/hey-queued.out")
    echo "# queued: $answered answers 200, $depth records queued at SIGTERM"
    assert_le "queued: records were still queued at SIGTERM" 1 "${depth:-0}"
    assert_eq "queued: every verification answered 200 is in the registry after exit" \
        "$(sqlite3 -readonly "$D_DIR/registry.sqlite" 'SELECT count(*) FROM verifications')" \
        "${answered:-none}"
else
    skip_missing "SIGTERM with records queued" "hey (Debian package hey)"
fi

# ---- SIGTERM: readiness, grace, in-flight ------------------------------------------------
GRACE=2
# The upload below is paced slower than server.min_body_bytes_per_second (4096 B/s after the
# first second) would allow: that rule is not under test here, so it is off.
daemon_start drain "${SAMPLE_ARGS[@]}" --set shutdown.grace_seconds=$GRACE \
    --set server.min_body_bytes_per_second=0 || t_done
req GET "$D_ADMIN_URL/readyz"
assert_eq "before SIGTERM /readyz: 200" "$STATUS" 200
# An upload paced to ~3 s: it is in flight when SIGTERM comes and still when the grace
# period ends; it must complete all the same.
size=$(wc -c <"$SAMPLE/sample.zip")
(curl -s -o "$TMP/slow.body" -w '%{http_code}' --max-time 30 --limit-rate $((size / 3)) \
    -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip" \
    "$D_URL/verify" >"$TMP/slow.code") &
SLOW=$!
t_track "$SLOW"
sleep 0.5
kill -TERM "$D_PID"
t_term=$(date +%s.%N)
first503=""
for i in $(seq 50); do
    if [ "$(curl -s -o "$TMP/ready.body" -w '%{http_code}' --max-time 1 "$D_ADMIN_URL/readyz")" = 503 ]; then
        first503=$(date +%s.%N)
        break
    fi
    sleep 0.01
done
assert_ne "after SIGTERM /readyz turns 503" "$first503" ""
[ -n "$first503" ] && assert_le "… within 0.5 s" "$(awk -v a="$t_term" -v b="$first503" 'BEGIN { print b - a }')" 0.5
assert_eq "/readyz names the draining check" \
    "$(jq -r '.status + " " + ([.checks[] | select(.name == "draining") | .ok] | tostring)' "$TMP/ready.body")" \
    "not_ready [false]"
req GET "$D_URL/readyz"
assert_eq "API-port /readyz: 503 too" "$STATUS" 503
req GET "$D_ADMIN_URL/healthz"
assert_eq "while draining, admin /healthz: 200" "$STATUS" 200
req GET "$D_URL/healthz"
assert_eq "while draining, API /healthz (a new connection): 200" "$STATUS" 200
req POST "$D_URL/verify" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
assert_eq "while draining, a new /verify is served: 200 ok" "$STATUS $(body_json .result)" "200 ok"
assert_eq "while draining, responses close their connection" "$(hdr Connection)" close
daemon_wait_exit "$SLOW" 30
assert_eq "the in-flight request completed: 200 ok" \
    "$(cat "$TMP/slow.code") $(jq -r .result "$TMP/slow.body" 2>/dev/null)" "200 ok"
daemon_wait_exit "$D_PID" 40
assert_eq "exit code 0 after SIGTERM" "$RC" 0
t_exit=$(date +%s.%N)
assert_le "the grace period was kept (exit ≥ grace after SIGTERM)" "$GRACE" \
    "$(awk -v a="$t_term" -v b="$t_exit" 'BEGIN { print b - a }')"
check "the drain was logged (draining, stopped)" \
    jq -e -s 'any(.[]; .event == "draining") and any(.[]; .event == "stopped" and .level == "INFO")' "$D_LOG"
check "nothing was cut (no shutdown_cut)" jq -e -s 'all(.[]; .event != "shutdown_cut")' "$D_LOG"

# ---- after the grace period: nothing new is accepted, what was accepted finishes ----------
# Four connections opened before SIGTERM: one that never sends anything, two kept alive
# after a request, and one whose request head is half sent and completed only after the
# grace period. One kept-alive connection begins its next request during the grace period and
# completes its head after it. Both requests are answered in full; the silent and the idle
# connection do not hold the drain (keep_alive_ms is longer than the drain may take); a new
# connection after the grace period is refused, while the admin port still answers.
GRACE=1
daemon_start late "${SAMPLE_ARGS[@]}" --set shutdown.grace_seconds=$GRACE \
    --set server.keep_alive_ms=30000 || t_done
t_term=$(date +%s.%N)
python3 - "$D_API" "$D_ADMIN" "$D_PID" "$D_LOG" >"$TMP/late.client" 2>&1 <<'PY'
import os, signal, socket, sys, time
api, admin, pid, log = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def answer(s):
    s.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data
silent = socket.create_connection(("127.0.0.1", api))
idle = socket.create_connection(("127.0.0.1", api))
idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
print("idle:", answer(idle).split(b"\r\n")[0].decode())
keep = socket.create_connection(("127.0.0.1", api))
keep.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
print("keep-alive:", answer(keep).split(b"\r\n")[0].decode())
late = socket.create_connection(("127.0.0.1", api))
late.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
time.sleep(0.3)
os.kill(pid, signal.SIGTERM)
time.sleep(0.3)
keep.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n") # its next request, half
# the moment the grace period ends (CivetWeb's accept loop may then still be inside a poll
# of up to 2 s on the listening socket: the socket must refuse all the same)
for _ in range(1000):
    if '"not_accepting"' in open(log).read():
        break
    time.sleep(0.01)
try:
    socket.create_connection(("127.0.0.1", api), timeout=2).close()
    print("new API connection: accepted")
except OSError:
    print("new API connection: refused")
probe = socket.create_connection(("127.0.0.1", admin), timeout=5)
probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
print("admin:", answer(probe).split(b"\r\n")[0].decode())
def finish(s, label):
    """Sends the rest of a head and prints the answer's status line and its Connection."""
    try:
        s.sendall(b"Accept: */*\r\n\r\n")
        head = answer(s)
        print(label, head.split(b"\r\n")[0].decode() or "closed",
              "close" if b"\r\nConnection: close\r\n" in head else "keep-alive")
    except OSError as e:
        print(label, e)
finish(late, "late:")
time.sleep(3) # the drain waits for the kept-alive connection's request, not only late's
finish(keep, "keep-alive, next:")
PY
cat "$TMP/late.client" | sed 's/^/# /'
assert_eq "the keep-alive request before SIGTERM: 200" \
    "$(sed -n 's/^keep-alive: //p' "$TMP/late.client")" "HTTP/1.1 200 OK"
assert_eq "after the grace period a new API connection is refused" \
    "$(sed -n 's/^new API connection: //p' "$TMP/late.client")" refused
assert_eq "… while the admin port answers" "$(sed -n 's/^admin: //p' "$TMP/late.client")" \
    "HTTP/1.1 200 OK"
assert_eq "a request whose head ended after the grace period is answered, closing" \
    "$(sed -n 's/^late: //p' "$TMP/late.client")" "HTTP/1.1 200 OK close"
assert_eq "… and one begun on a kept-alive connection during the grace period" \
    "$(sed -n 's/^keep-alive, next: //p' "$TMP/late.client")" "HTTP/1.1 200 OK close"
daemon_wait_exit "$D_PID" 40
t_exit=$(date +%s.%N)
assert_eq "late: exit 0" "$RC" 0
assert_le "… without waiting for the silent and the idle connection (< grace + 6 s)" \
    "$(awk -v a="$t_term" -v b="$t_exit" 'BEGIN { print b - a }')" $((GRACE + 6))
check "late: the listener's close was logged (not_accepting, 1 socket), nothing cut" \
    jq -e -s 'any(.[]; .event == "not_accepting" and .listening_sockets == 1)
        and all(.[]; .event != "shutdown_cut")' "$D_LOG"

# The admin listener on the API's port number at another address keeps answering while the
# API listener accepts no more.
D_ADMIN_HOST=127.0.0.2 daemon_start sameport "${SAMPLE_ARGS[@]}" --set shutdown.grace_seconds=1 \
    --set shutdown.timeout_seconds=5 || t_done
# a connection with a request begun holds the drain, so the listeners are still up to look at
exec {held}<>/dev/tcp/127.0.0.1/"$D_API"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&"$held"
kill -TERM "$D_PID"
sleep 2
assert_eq "same port: after the grace period the API port refuses" \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$D_URL/healthz")" 000
assert_eq "… the admin listener on the same port number answers" \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$D_ADMIN_URL/healthz")" 200
printf '\r\n' >&"$held"
exec {held}>&-
daemon_wait_exit "$D_PID" 20
assert_eq "same port: exit 0" "$RC" 0

# ---- SIGTERM under load: no accepted request is lost ---------------------------------------
if command -v hey >/dev/null; then
    daemon_start load "${SAMPLE_ARGS[@]}" --set shutdown.grace_seconds=4 || t_done
    # 3 s of load from 8 workers; SIGTERM after 1 s, so the load ends within the grace period
    hey -z 3s -c 8 -t 10 -m POST -T application/zip -D "$SAMPLE/sample.zip" "$D_URL/verify" \
        >"$TMP/hey.out" 2>&1 &
    HEY=$!
    t_track "$HEY"
    sleep 1
    kill -TERM "$D_PID"
    daemon_wait_exit "$HEY" 30
    assert_eq "hey finished" "$RC" 0
    responses=$(awk '/Status code distribution/ { f = 1; next } f && /\[[0-9]+\]/ { gsub(/[][]/, "", $1); n[$1] += $2 } END { for (c in n) printf "%s:%d ", c, n[c] }' "$TMP/hey.out")
    ok200=$(sed -n 's/.*\b200:\([0-9]*\).*/\1/p' <<<"$responses")
    assert_match "under load every response was 200" "$responses" '^200:[0-9]+ $'
    assert_le "the load was real (≥ 100 responses)" 100 "${ok200:-0}"
    if grep -q 'Error distribution' "$TMP/hey.out"; then
        fail "no request failed (connection error, reset, timeout)" \
            "$(sed -n '/Error distribution/,$p' "$TMP/hey.out" | head -n 5)"
    else
        pass "no request failed (connection error, reset, timeout)"
    fi
    daemon_wait_exit "$D_PID" 40
    assert_eq "under load: exit code 0 after SIGTERM" "$RC" 0
    served_while_draining=$(jq -s '(map(.event) | index("draining")) as $d
        | if $d == null then 0 else [.[$d:][] | select(.event == "http_request" and .path == "/verify")] | length end' "$D_LOG")
    assert_le "requests were served while draining" 1 "$served_while_draining"
    logged_ok=$(jq -s '[.[] | select(.event == "http_request" and .path == "/verify" and .status == 200)] | length' "$D_LOG")
    assert_eq "every logged /verify was answered to the client (none lost)" "$logged_ok" "${ok200:-0}"
    check "under load: nothing was cut (no shutdown_cut)" \
        jq -e -s 'all(.[]; .event != "shutdown_cut") and any(.[]; .event == "stopped" and .level == "INFO")' "$D_LOG"
else
    fail "hey is installed (scripts/install-deps.sh)"
fi

# ---- a request held open past shutdown.timeout_seconds: cut, counted, exit 1 ---------------
# Neither a body-rate floor nor the request deadline may end the request first: only the
# shutdown timeout does.
CUT_TIMEOUT=1
daemon_start cut --set shutdown.timeout_seconds=$CUT_TIMEOUT --set server.request_timeout_ms=60000 \
    --set server.min_body_bytes_per_second=0 || t_done
# a POST announcing 100000 bytes that sends one byte every 0.2 s (30 s at most)
python3 - "$D_API" >"$TMP/cut.client" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/zip\r\n"
          b"Content-Length: 100000\r\n\r\n")
try:
    for _ in range(150):
        s.sendall(b"P")
        time.sleep(0.2)
    print("never cut")
except OSError as e:
    print("cut: %s" % e)
PY
CUT_CLIENT=$!
t_track "$CUT_CLIENT"
sleep 1 # the request is being read
check "the slow request is in flight" kill -0 "$CUT_CLIENT"
kill -TERM "$D_PID"
t_term=$(date +%s.%N)
daemon_wait_exit "$D_PID" 30
t_exit=$(date +%s.%N)
assert_eq "a request cut at shutdown: exit code 1" "$RC" 1
assert_le "… after about shutdown.timeout_seconds (< timeout + 6 s)" \
    "$(awk -v a="$t_term" -v b="$t_exit" 'BEGIN { print b - a }')" \
    $((CUT_TIMEOUT + 6))
check "an ERROR line event=shutdown_cut counts 1 request" \
    jq -e -s 'any(.[]; .event == "shutdown_cut" and .level == "ERROR" and .requests_cut == 1)' "$D_LOG"
check "… and the stop says so (stopped, ERROR, requests_cut 1)" \
    jq -e -s 'any(.[]; .event == "stopped" and .level == "ERROR" and .requests_cut == 1)' "$D_LOG"
kill -KILL "$CUT_CLIENT" 2>/dev/null
wait "$CUT_CLIENT" 2>/dev/null

# ---- --check-config ------------------------------------------------------------------------
CFG=$TMP/cfg
mkdir -p "$CFG/good"
cat >"$CFG/good/server.yaml" <<'EOF'
server:
  listen: "127.0.0.1:18080"
  threads: 4
  max_body_bytes: 1048576
EOF
cat >"$CFG/good/cache.yaml" <<'EOF'
# comments and empty sections are fine
cache:
  enabled: true
  size: 100
  ttl_seconds: 60
EOF
cat >"$CFG/good/auth.yaml" <<'EOF'
auth:
  enabled: false
  audiences:
    - cap-verifier
    - other
EOF
printf 'logging:\n  level: debug\nshutdown:\n' >"$CFG/good/logging.yml"
check_config() { # check_config DIR [args...]: sets RC and $TMP/cc.out (stdout + stderr)
    local dir=$1
    shift
    "$DAEMON" --config-dir "$dir" "$@" --check-config >"$TMP/cc.out" 2>&1
    RC=$?
}
check_config "$CFG/good"
assert_eq "--check-config on a valid directory: exit 0" "$RC" 0
check "… says the configuration is ok" grep -q 'configuration ok' "$TMP/cc.out"
"$DAEMON" --config-dir "$CFG/good" --print-config --check-config >"$TMP/pc.out" 2>&1
check "--print-config shows values from the files" \
    grep -q '^  threads: 4$' "$TMP/pc.out"
check "--print-config shows YAML lists" grep -q '^  audiences: \["cap-verifier", "other"\]$' "$TMP/pc.out"

# bad_config NAME FILE CONTENT LINE KEY: the error names FILE:LINE and KEY, exit non-zero
bad_config() {
    local name=$1 file=$2 content=$3 line=$4 key=$5
    rm -rf "$CFG/bad"
    cp -r "$CFG/good" "$CFG/bad"
    printf '%s' "$content" >"$CFG/bad/$file"
    check_config "$CFG/bad"
    assert_ne "$name: exit non-zero" "$RC" 0
    if grep -qF "$CFG/bad/$file:$line:" "$TMP/cc.out" && grep -qF "$key" "$TMP/cc.out"; then
        pass "$name: the message names $file:$line and $key"
    else
        fail "$name: the message names $file:$line and $key" "$(cat "$TMP/cc.out")"
    fi
}
bad_config "unknown key" server.yaml $'server:\n  listen: "127.0.0.1:1"\n  bogus_key: 1\n' 3 server.bogus_key
bad_config "unknown section" zz.yaml $'verify:\n  strict: true\nnosuch:\n  x: 1\n' 3 nosuch
bad_config "integer out of range" cache.yaml $'cache:\n  enabled: true\n  size: -5\n' 3 cache.size
bad_config "not an integer" server.yaml $'server:\n  threads: many\n' 2 server.threads
bad_config "not a boolean" auth.yaml $'auth:\n  enabled: maybe\n' 2 auth.enabled
bad_config "not one of the choices" logging.yml $'logging:\n  level: loud\n' 2 logging.level
bad_config "a mapping where a scalar belongs" server.yaml $'server:\n  listen:\n    host: x\n' 3 server.listen
bad_config "YAML syntax" server.yaml $'server:\n  listen: "unterminated\n' 3 YAML
check_config "$CFG/missing-dir"
assert_ne "a missing --config-dir: exit non-zero" "$RC" 0
check_config "$CFG/good" --set server.nope=1
assert_ne "--set of an unknown key: exit non-zero" "$RC" 0
check "… naming it" grep -q 'server.nope' "$TMP/cc.out"

# ---- environment and flags -----------------------------------------------------------------
"$DAEMON" --config-dir "$CFG/good" --print-config --check-config >"$TMP/pc.out" 2>&1
check "file: threads 4" grep -q '^  threads: 4$' "$TMP/pc.out"
CAPV_SERVER_THREADS=6 CAPV_AUTH_AUDIENCES=a,b CAPV_CACHE_ENABLED=false \
    "$DAEMON" --config-dir "$CFG/good" --print-config --check-config >"$TMP/pc.out" 2>&1
check "env CAPV_SERVER_THREADS overrides the file" grep -q '^  threads: 6$' "$TMP/pc.out"
check "env list CAPV_AUTH_AUDIENCES=a,b" grep -q '^  audiences: \["a", "b"\]$' "$TMP/pc.out"
check "env boolean CAPV_CACHE_ENABLED=false" \
    bash -c "sed -n '/^cache:/,/^[a-z]/p' '$TMP/pc.out' | grep -q '^  enabled: false$'"
CAPV_SERVER_THREADS=6 "$DAEMON" --config-dir "$CFG/good" --set server.threads=7 --print-config \
    --check-config >"$TMP/pc.out" 2>&1
check "--set overrides the environment" grep -q '^  threads: 7$' "$TMP/pc.out"
CAPV_SERVER_FOO=1 "$DAEMON" --config-dir "$CFG/good" --check-config >"$TMP/cc.out" 2>&1
RC=$?
assert_ne "unknown CAPV_SERVER_FOO: exit non-zero" "$RC" 0
check "… naming CAPV_SERVER_FOO" grep -q 'CAPV_SERVER_FOO' "$TMP/cc.out"
CAPV_CACHE_SIZE=lots "$DAEMON" --config-dir "$CFG/good" --check-config >"$TMP/cc.out" 2>&1
RC=$?
assert_ne "CAPV_CACHE_SIZE=lots: exit non-zero" "$RC" 0
check "… naming the variable and the key" grep -q 'CAPV_CACHE_SIZE.*cache.size' "$TMP/cc.out"
CAPV_UNRELATED_THING=1 "$DAEMON" --config-dir "$CFG/good" --check-config >"$TMP/cc.out" 2>&1
assert_eq "a CAPV_ variable of no section is not ours: exit 0" "$?" 0

# ---- zero configuration: no files, no flags ------------------------------------------------
# Only the listen addresses (loopback, free ports) and a zero grace come from the
# environment; everything else is the built-in default. The working directory is a temp dir
# (the default registry path is relative).
if [ -e /etc/cap-verifier ]; then
    # not a missing tool: the built-in defaults would read the machine's own configuration
    skip "zero-config start" "/etc/cap-verifier exists on this machine"
else
    mkdir -p "$TMP/zero"
    for attempt in 1 2 3; do
        { read -r api && read -r admin; } < <(free_port 2)
        (cd "$TMP/zero" && exec env -i PATH="$PATH" CAPV_SERVER_LISTEN="127.0.0.1:$api" \
            CAPV_SERVER_ADMIN_LISTEN="127.0.0.1:$admin" CAPV_SHUTDOWN_GRACE_SECONDS=0 \
            "$DAEMON" >"$TMP/zero/stdout.log" 2>"$TMP/zero/stderr.log") &
        ZPID=$!
        t_track "$ZPID"
        wait_healthz "http://127.0.0.1:$admin" "$ZPID" && break
        kill -KILL "$ZPID" 2>/dev/null
        wait "$ZPID" 2>/dev/null
    done
    req GET "http://127.0.0.1:$api/healthz"
    assert_eq "zero-config: CAPV_SERVER_LISTEN is where the API answers" "$STATUS" 200
    req POST "http://127.0.0.1:$api/verify" -H 'Content-Type: application/zip' \
        --data-binary "@$SAMPLE/sample.zip"
    assert_eq "zero-config: an empty trust store fails the sample (200 fail)" \
        "$STATUS $(body_json .result)" "200 fail"
    check "zero-config: the auth-disabled warning is logged" \
        jq -e -s 'any(.[]; .event == "auth_disabled" and .level == "WARN")' "$TMP/zero/stdout.log"
    check "zero-config: the empty-trust warning is logged" \
        jq -e -s 'any(.[]; .event == "trust_empty" and .level == "WARN")' "$TMP/zero/stdout.log"
    kill -TERM "$ZPID"
    daemon_wait_exit "$ZPID" 40
    assert_eq "zero-config: exit code 0 after SIGTERM" "$RC" 0
fi

# a key file that declares a kid not its key's is reported, at start and at every reload
mkdir -p "$TMP/liar-trust"
jq '.kid = "00000000000000000000000000000000"' "$SAMPLE/trust/sample-signer.json" \
    >"$TMP/liar-trust/liar.json"
daemon_start liar "${SAMPLE_ARGS[@]}" --set "trust.dir=$TMP/liar-trust" || t_done
mismatches() {
    jq -c -s '[.[] | select(.event == "trust_kid_mismatch" and .level == "WARN"
        and (.source | endswith("liar.json")) and .declared_kid == "00000000000000000000000000000000"
        and .kid == "'"$(jq -r .kid "$SAMPLE/trust/sample-signer.json")"'")] | length' "$D_LOG"
}
assert_eq "a key file declaring another kid: reported at start" "$(mismatches)" 1
req POST "$D_URL/verify" -H 'Content-Type: application/zip' --data-binary "@$SAMPLE/sample.zip"
assert_eq "... and its key trusted all the same (200 ok)" "$STATUS $(body_json .result)" "200 ok"
kill -HUP "$D_PID"
for i in $(seq 50); do
    [ "$(mismatches)" = 2 ] && break
    sleep 0.1
done
assert_eq "... and at a reload" "$(mismatches)" 2
daemon_stop liar
t_done
